// Model-based randomized test of diff(), patch() and merge() by row identity, against the row
// model of tests/testing/row_model.h (a version is a list of (id, value) rows).
//
// Eight live versions: slot 0 is the base, slots 1-4 branch A and slots 5-7 branch B. Each step
// applies a random edit to a version of one branch (or to the base) and stores the result in a
// slot of that branch: set, update, transform, insert (of a value, of a range), push_back,
// push_front, emplace, append (a range), erase (a row, a range), pop_back, take, drop, slice,
// erase_if, filter, sort, stable_sort (by value and by a projection), a move (a cut range put back
// elsewhere, by slice + concat, by insert of the cut piece, or in an editor), resize, a copy, or
// an editor session of several of these. Values come from a domain of five, so rows are told
// apart by their identity only. After every step the destination's values and row ids are
// checked against its model: rows the edit kept keep their ids, new rows get ids no row had
// before.
//
// Every step also checks diff(x, y) of two random slots against the model (check_diff; the slots
// always share rows with each other) and, every few steps, diff() against a copy built
// separately (no row in common: by value) or against a version holding rows twice (then: patch,
// the counts adding up to the sizes, and no empty diff of different versions).
// Every other step, merge(base, a, b) and merge(base, b, a) for a slot a of branch A and b of
// branch B (or the base itself) are checked in both modes, with merged(), resolve(kOurs),
// resolve(kTheirs), merge(..., side) and resolve(fn) (check_merge). From time to time the base
// becomes a merge result and every slot restarts from it, or a new base is built.
//
// Tiny chunks (2 or 4 rows, fan-out 4) make deep relaxed trees from ~100 rows.
//
// A mismatch in a version's rows or in a diff of versions that share rows fails at once. Three
// classes of mismatch that corrupt no version are counted instead, and fail the test case at its
// end with the first of each kind (a merge one with the triple shrunk by shrink_merge_failure),
// so that one engine bug does not hide the others: merges, patch() onto a copy of from(), and
// diffs of versions holding a row twice.
//
// Replay: the seed comes from Catch::rngSeed() and is printed; a failure prints seed and step.
//   cowdb_model_tests --rng-seed <seed> "row model*"
// COWDB_MODEL_VERBOSE=1 prints what each run covered.
#include "testing/row_model.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace {

using cowdb::merge_side;
using cowdb::row_id_t;
using cowdb::testing::model_row;
using cowdb::testing::row_list;

// ---- values: a domain of five -------------------------------------------------------------------

template <class T>
struct domain;

template <>
struct domain<int> {
  static constexpr std::size_t kSize = 5;
  static int make(std::size_t k) { return static_cast<int>(k % kSize); }
  static std::size_t key(int x) { return static_cast<std::size_t>(x); }
};

template <>
struct domain<std::string> {
  static constexpr std::size_t kSize = 5;
  static std::string make(std::size_t k) {
    static const char* const kNames[kSize] = {"", "a", "bb", "a string long enough for the heap",
                                              "c"};
    return kNames[k % kSize];
  }
  static std::size_t key(const std::string& x) {
    for (std::size_t k = 0; k < kSize; ++k) {
      if (make(k) == x) return k;
    }
    return 0;
  }
};

// The next value of the domain: what update() and transform() do.
template <class T>
struct bump {
  T operator()(const T& x) const { return domain<T>::make(domain<T>::key(x) + 1); }
};

enum class op_kind : unsigned {
  kSet,
  kUpdate,
  kTransform,
  kInsert,
  kInsertRange,
  kPushBack,
  kPushFront,
  kEmplace,
  kAppendRange,
  kErase,
  kEraseRange,
  kPopBack,
  kTake,
  kDrop,
  kSlice,
  kEraseIf,
  kFilter,
  kSort,
  kStableSort,
  kMove,
  kResize,
  kCopy,
  kEditor,
};

struct op_info {
  op_kind code;
  unsigned weight;
  const char* name;
};

constexpr op_info kOps[] = {
    {op_kind::kSet, 14, "set"},
    {op_kind::kUpdate, 4, "update"},
    {op_kind::kTransform, 2, "transform(first, last)"},
    {op_kind::kInsert, 8, "insert(i, x)"},
    {op_kind::kInsertRange, 4, "insert(i, range)"},
    {op_kind::kPushBack, 4, "push_back"},
    {op_kind::kPushFront, 2, "push_front"},
    {op_kind::kEmplace, 1, "emplace"},
    {op_kind::kAppendRange, 2, "append(range)"},
    {op_kind::kErase, 8, "erase(i)"},
    {op_kind::kEraseRange, 3, "erase(first, last)"},
    {op_kind::kPopBack, 3, "pop_back"},
    {op_kind::kTake, 1, "take"},
    {op_kind::kDrop, 1, "drop"},
    {op_kind::kSlice, 1, "slice"},
    {op_kind::kEraseIf, 2, "erase_if"},
    {op_kind::kFilter, 1, "filter"},
    {op_kind::kSort, 1, "sort"},
    {op_kind::kStableSort, 1, "stable_sort"},
    {op_kind::kMove, 8, "move"},
    {op_kind::kResize, 1, "resize"},
    {op_kind::kCopy, 2, "copy"},
    {op_kind::kEditor, 5, "editor session"},
};

struct run_stats {
  std::uint64_t steps = 0;
  std::uint64_t diffs_exact = 0, diffs_by_value = 0, diffs_repeated = 0;
  std::uint64_t diff_moved = 0, diff_modified = 0, diff_inserted = 0, diff_erased = 0;
  std::uint64_t merges = 0;
  std::uint64_t conflicts[5] = {};
  std::uint64_t merges_with_moves = 0;
  std::uint64_t rebases = 0;
  std::size_t max_size = 0;
  // Mismatches that corrupt nothing are counted by class, with the first of each kind, and fail
  // the test case at its end, so that one engine bug does not hide the others.
  struct counted {
    std::uint64_t checks = 0, failures = 0;
    std::set<std::string> kinds;
    std::string first;
  };
  std::map<std::string, counted> counted;
};

template <class Vec>
class row_runner {
 public:
  using T = typename Vec::value_type;
  using rows = row_list<T>;
  using editor = typename Vec::editor;
  static constexpr std::size_t kSlots = 8;  // 0: base; 1-4: branch A; 5-7: branch B
  static constexpr std::size_t kMaxSize = 140;

  explicit row_runner(std::uint64_t seed) : seed_(seed), rng_(seed) {}
  const run_stats& stats() const { return stats_; }

  void run(std::uint64_t steps) {
    new_base();
    for (step_ = 0; step_ < steps; ++step_) {
      const std::uint64_t seed = seed_, step = step_;
      CAPTURE(seed, step);
      one_step();
      ++stats_.steps;
    }
  }

 private:
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }
  bool one_in(std::size_t n) { return below(n) == 0; }
  T value() { return domain<T>::make(below(domain<T>::kSize)); }
  std::vector<T> values(std::size_t n) {
    std::vector<T> out(n);
    for (T& x : out) x = value();
    return out;
  }
  static auto at(std::size_t i) { return static_cast<std::ptrdiff_t>(i); }
  static model_row<T> fresh(T x) { return {0, std::move(x)}; }  // id 0: a new row, id not known yet

  const op_info& pick_op() {
    unsigned total = 0;
    for (const op_info& o : kOps) total += o.weight;
    std::size_t r = below(total);
    for (const op_info& o : kOps) {
      if (r < o.weight) return o;
      r -= o.weight;
    }
    return kOps[0];
  }

  // ---- the base -------------------------------------------------------------------------------

  void new_base() {
    const std::size_t n = below(4) == 0 ? below(12) : 20 + below(100);
    const std::vector<T> xs = values(n);
    Vec v;
    switch (below(4)) {
      case 0: v = Vec(xs); break;
      case 1: {
        editor e;
        for (const T& x : xs) e.push_back(x);
        v = std::move(e).persistent();
        break;
      }
      case 2: {  // built from the front: a relaxed tree
        editor e;
        for (std::size_t k = n; k-- > 0;) e.push_front(xs[k]);
        v = std::move(e).persistent();
        break;
      }
      default:  // concatenated pieces
        for (std::size_t k = 0; k < n;) {
          const std::size_t len = std::min(n - k, 1 + below(20));
          v = v + Vec(xs.begin() + at(k), xs.begin() + at(k + len));
          k += len;
        }
        break;
    }
    rows m;
    for (const T& x : xs) m.push_back(fresh(x));
    v_[0] = v;
    m_[0] = m;
    adopt(v_[0], m_[0], "new base");
    for (std::size_t s = 1; s < kSlots; ++s) {
      v_[s] = v_[0];
      m_[s] = m_[0];
    }
  }

  // Checks the version (or editor) v against its model m: values and ids; rows with id 0 are new
  // and take v's ids, which no row may have had before.
  template <class V>
  void adopt(const V& v, rows& m, const char* what) {
    if (v.size() != m.size()) {
      FAIL(fmt::format("{}: {} rows, the model has {}", what, v.size(), m.size()));
    }
    for (std::size_t i = 0; i < m.size(); ++i) {
      const row_id_t id = v.row_id(i);
      if (!(v[i] == m[i].value)) {
        FAIL(fmt::format("{}: [{}] = {}, the model has {}", what, i, cowdb::testing::show(v[i]),
                         cowdb::testing::show(m[i].value)));
      }
      if (m[i].id == 0) {
        if (!seen_.insert(id).second) {
          FAIL(fmt::format("{}: the new row [{}] has the id {} of an existing row", what, i, id));
        }
        m[i].id = id;
      } else if (id != m[i].id) {
        FAIL(fmt::format("{}: [{}] has id {}, the model {} (a kept row changed identity)", what, i,
                         id, m[i].id));
      }
    }
  }

  // ---- one step ---------------------------------------------------------------------------------

  void one_step() {
    const std::size_t d = 1 + below(kSlots - 1);
    const bool a = d <= 4;
    const std::size_t src = one_in(4) ? 0 : a ? 1 + below(4) : 5 + below(3);
    const op_info& o = pick_op();
    const char* op = o.name;
    CAPTURE(op, src, d);
    Vec out = v_[src];
    rows m = m_[src];
    apply(o.code, out, m);
    try {
      out.check_invariants();
    } catch (const std::exception& e) {
      FAIL(e.what());
    }
    adopt(out, m, op);
    v_[d] = std::move(out);
    m_[d] = std::move(m);
    stats_.max_size = std::max(stats_.max_size, m_[d].size());

    check_a_diff();
    if (step_ % 2 == 0) check_a_merge();
    if (one_in(150)) {
      new_base();
      ++stats_.rebases;
    }
  }

  void apply(op_kind code, Vec& v, rows& m) {
    const std::size_t n = m.size();
    const bool full = n >= kMaxSize;
    switch (code) {
      case op_kind::kSet: {
        if (n == 0) return;
        const std::size_t i = below(n);
        const T x = value();
        v = one_in(2) ? v.set(i, x) : std::move(v).set(i, x);
        m[i].value = x;
        return;
      }
      case op_kind::kUpdate: {
        if (n == 0) return;
        const std::size_t i = below(n);
        v = v.update(i, bump<T>{});
        m[i].value = bump<T>{}(m[i].value);
        return;
      }
      case op_kind::kTransform: {
        std::size_t f = below(n + 1), l = below(n + 1);
        if (f > l) std::swap(f, l);
        v = v.transform(f, l, bump<T>{});
        for (std::size_t k = f; k < l; ++k) m[k].value = bump<T>{}(m[k].value);
        return;
      }
      case op_kind::kInsert:
      case op_kind::kPushFront:
      case op_kind::kEmplace: {
        if (full) return apply(op_kind::kErase, v, m);
        const std::size_t i = code == op_kind::kPushFront ? 0 : below(n + 1);
        const T x = value();
        v = code == op_kind::kPushFront ? v.push_front(x)
            : code == op_kind::kEmplace ? v.emplace(i, x)
                                        : v.insert(i, x);
        m.insert(m.begin() + at(i), fresh(x));
        return;
      }
      case op_kind::kInsertRange: {
        if (full) return apply(op_kind::kEraseRange, v, m);
        const std::size_t i = below(n + 1);
        const std::vector<T> xs = values(1 + below(6));
        v = v.insert(i, xs);
        for (std::size_t k = 0; k < xs.size(); ++k) m.insert(m.begin() + at(i + k), fresh(xs[k]));
        return;
      }
      case op_kind::kPushBack: {
        if (full) return apply(op_kind::kPopBack, v, m);
        const T x = value();
        v = one_in(2) ? v.push_back(x) : std::move(v).push_back(x);
        m.push_back(fresh(x));
        return;
      }
      case op_kind::kAppendRange: {
        if (full) return apply(op_kind::kEraseRange, v, m);
        const std::vector<T> xs = values(1 + below(6));
        v = v.append(xs);
        for (const T& x : xs) m.push_back(fresh(x));
        return;
      }
      case op_kind::kErase: {
        if (n == 0) return;
        const std::size_t i = below(n);
        v = v.erase(i);
        m.erase(m.begin() + at(i));
        return;
      }
      case op_kind::kEraseRange: {
        const std::size_t f = below(n + 1);
        const std::size_t l = f + below(std::min<std::size_t>(n - f, 8) + 1);
        v = v.erase(f, l);
        m.erase(m.begin() + at(f), m.begin() + at(l));
        return;
      }
      case op_kind::kPopBack: {
        if (n == 0) return;
        v = v.pop_back();
        m.pop_back();
        return;
      }
      case op_kind::kTake: {
        const std::size_t k = n - std::min(n, below(6));
        v = v.take(k);
        m.resize(k, fresh(T()));
        return;
      }
      case op_kind::kDrop: {
        const std::size_t k = std::min(n, below(6));
        v = v.drop(k);
        m.erase(m.begin(), m.begin() + at(k));
        return;
      }
      case op_kind::kSlice: {
        const std::size_t f = std::min(n, below(4)), l = n - std::min(n - f, below(4));
        v = v.slice(f, l);
        m = rows(m.begin() + at(f), m.begin() + at(l));
        return;
      }
      case op_kind::kEraseIf:
      case op_kind::kFilter: {
        const std::size_t c = below(domain<T>::kSize);
        const bool keep_all_but = code == op_kind::kFilter;
        auto hit = [c](const T& x) { return domain<T>::key(x) == c; };
        if (keep_all_but) {
          v = v.filter([&](const T& x) { return !hit(x); });
        } else {
          v = v.erase_if(hit);
        }
        std::erase_if(m, [&](const model_row<T>& r) { return hit(r.value); });
        return;
      }
      case op_kind::kSort: return sort_rows(v, m, false);
      case op_kind::kStableSort: return sort_rows(v, m, true);
      case op_kind::kMove: return move_rows(v, m);
      case op_kind::kResize: {
        const std::size_t k =
            one_in(2) ? n - std::min(n, below(4)) : std::min(kMaxSize, n + below(4));
        const T x = value();
        v = v.resize(k, x);
        m.resize(std::min(k, n));
        while (m.size() < k) m.push_back(fresh(x));
        return;
      }
      case op_kind::kCopy: return;
      case op_kind::kEditor: return editor_session(v, m);
    }
  }

  // sort() by value (ascending or descending; equal rows in any order: the model takes the
  // version's order after checking it is sorted and holds the same rows), or stable_sort() by
  // value or by a projection (the model sorts the same way).
  void sort_rows(Vec& v, rows& m, bool stable) {
    const bool desc = one_in(2);
    auto less = [desc](const T& x, const T& y) {
      const std::size_t a = domain<T>::key(x), b = domain<T>::key(y);
      return desc ? b < a : a < b;
    };
    if (stable) {
      if (one_in(2)) {  // by a projection: the key's parity
        auto proj = [](const T& x) { return domain<T>::key(x) % 2; };
        v = v.stable_sort(std::ranges::less{}, proj);
        std::stable_sort(m.begin(), m.end(), [&](const auto& x, const auto& y) {
          return proj(x.value) < proj(y.value);
        });
      } else {
        v = v.stable_sort(less);
        std::stable_sort(m.begin(), m.end(),
                         [&](const auto& x, const auto& y) { return less(x.value, y.value); });
      }
      return;
    }
    adopt(v, m, "before sort");  // new rows get their ids first
    v = v.sort(less);
    take_sorted_order(v, m, less);
  }

  // After an unstable sort: v must hold m's rows, sorted; m takes v's order.
  template <class V, class Less>
  void take_sorted_order(const V& v, rows& m, Less less) {
    const rows got = cowdb::testing::rows_of(v);
    rows want = m;
    auto by_id = [](const auto& x, const auto& y) { return x.id < y.id; };
    rows a = got, b = want;
    std::sort(a.begin(), a.end(), by_id);
    std::sort(b.begin(), b.end(), by_id);
    if (a != b) FAIL("sort: the sorted version does not hold the same rows");
    for (std::size_t i = 1; i < got.size(); ++i) {
      if (less(got[i].value, got[i - 1].value)) FAIL(fmt::format("sort: [{}] is out of order", i));
    }
    m = got;
  }

  // Cuts rows [f, l) and puts them back before row k of the rest, in one of three ways.
  void move_rows(Vec& v, rows& m) {
    const std::size_t n = m.size();
    if (n < 2) return;
    const std::size_t f = below(n);
    const std::size_t l = f + 1 + below(std::min<std::size_t>(n - f - 1, one_in(3) ? 12 : 2) + 1);
    const std::size_t k = below(n - (l - f) + 1);
    const Vec piece = v.slice(f, l);
    switch (below(3)) {
      case 0: {
        const Vec rest = v.erase(f, l);
        v = rest.insert(k, piece);
        break;
      }
      case 1: {
        const Vec rest = v.slice(0, f) + v.slice(l, n);
        v = rest.slice(0, k) + piece + rest.slice(k, rest.size());
        break;
      }
      default: {
        editor e = v.transient();
        e.erase(f, l);
        e.insert(k, piece);
        v = std::move(e).persistent();
        break;
      }
    }
    rows cut(m.begin() + at(f), m.begin() + at(l));
    m.erase(m.begin() + at(f), m.begin() + at(l));
    m.insert(m.begin() + at(k), cut.begin(), cut.end());
  }

  // 1..8 edits through one editor.
  void editor_session(Vec& v, rows& m) {
    editor e = one_in(2) ? v.transient() : Vec(v).transient();
    const std::size_t ops = 1 + below(8);
    for (std::size_t t = 0; t < ops; ++t) {
      const std::size_t n = m.size();
      switch (below(9)) {
        case 0:
          if (n > 0) {
            const std::size_t i = below(n);
            const T x = value();
            e.set(i, x);
            m[i].value = x;
          }
          break;
        case 1:
          if (n > 0) {
            const std::size_t i = below(n);
            e.update(i, bump<T>{});
            m[i].value = bump<T>{}(m[i].value);
          }
          break;
        case 2:
          if (n < kMaxSize) {
            const std::size_t i = below(n + 1);
            const T x = value();
            e.insert(i, x);
            m.insert(m.begin() + at(i), fresh(x));
          }
          break;
        case 3:
          if (n > 0) {
            const std::size_t i = below(n);
            e.erase(i);
            m.erase(m.begin() + at(i));
          }
          break;
        case 4:
          if (n < kMaxSize) {
            const T x = value();
            e.push_back(x);
            m.push_back(fresh(x));
          }
          break;
        case 5:
          if (n >= 2) {  // a move within the editor
            const std::size_t f = below(n);
            const std::size_t l = f + 1 + below(std::min<std::size_t>(n - f - 1, 3) + 1);
            const std::size_t k = below(n - (l - f) + 1);
            const Vec piece = e.persistent().slice(f, l);
            e.erase(f, l);
            e.insert(k, piece);
            rows cut(m.begin() + at(f), m.begin() + at(l));
            m.erase(m.begin() + at(f), m.begin() + at(l));
            m.insert(m.begin() + at(k), cut.begin(), cut.end());
          }
          break;
        case 6: {
          const std::size_t c = below(domain<T>::kSize);
          auto hit = [c](const T& x) { return domain<T>::key(x) == c; };
          e.erase_if(hit);
          std::erase_if(m, [&](const model_row<T>& r) { return hit(r.value); });
          break;
        }
        case 7: {
          auto less = [](const T& x, const T& y) { return domain<T>::key(x) < domain<T>::key(y); };
          if (one_in(2)) {
            e.stable_sort(less);
            std::stable_sort(m.begin(), m.end(),
                             [&](const auto& x, const auto& y) { return less(x.value, y.value); });
          } else {
            adopt(e, m, "editor: before sort");
            e.sort(less);
            take_sorted_order(e, m, less);
          }
          break;
        }
        default:
          if (n > 0) {
            const std::size_t k = below(n + 1);
            e.take(k);
            m.resize(k, fresh(T()));
          }
          break;
      }
    }
    v = std::move(e).persistent();
  }

  // ---- diff and merge checks --------------------------------------------------------------------

  // diff(va, vb) against the models; a wrong patch onto a copy, or a wrong diff of a version
  // holding a row twice, is counted (note).
  void diff_check(const Vec& va, const Vec& vb, const rows& ma, const rows& mb,
                  const std::string& what, cowdb::testing::diff_summary* s) {
    const auto d = cowdb::diff(va, vb);
    const std::string why = cowdb::testing::check_diff_result(d, ma, mb, s, false);
    if (s->repeated) {
      note("diffs of versions holding a row twice", why, what, [] { return std::string(); });
    } else if (!why.empty()) {
      FAIL(fmt::format("{}:{}", what, why));
    }
    note("patches onto a copy of from()", cowdb::testing::check_patch_onto_copy(d, ma, mb), what,
         [] { return std::string(); });
  }

  void check_a_diff() {
    const std::size_t x = below(kSlots), y = below(kSlots);
    cowdb::testing::diff_summary s;
    diff_check(v_[x], v_[y], m_[x], m_[y], fmt::format("diff(slot {}, slot {})", x, y), &s);
    if (s.exact) {
      ++stats_.diffs_exact;
      stats_.diff_moved += s.moved;
      stats_.diff_modified += s.modified;
      stats_.diff_inserted += s.inserted + s.appended;
      stats_.diff_erased += s.erased + s.truncated;
    }
    if (one_in(8)) {  // against a copy built separately: no row in common, compared by value
      const Vec copy(cowdb::testing::values_of(m_[y]));
      diff_check(v_[x], copy, m_[x], cowdb::testing::rows_of(copy),
                 fmt::format("diff(slot {}, a copy of slot {})", x, y), &s);
      if (s.related) FAIL("a copy built separately shares rows");
      ++stats_.diffs_by_value;
    }
    if (one_in(16) && !m_[y].empty()) {  // against a version holding rows twice: patch only
      const std::size_t f = below(m_[y].size());
      const Vec twice = v_[y] + v_[y].slice(f, f + 1 + below(8));
      const rows mt = cowdb::testing::rows_of(twice);
      diff_check(v_[x], twice, m_[x], mt,
                 fmt::format("diff(slot {}, slot {} + a slice of it)", x, y), &s);
      diff_check(twice, v_[x], mt, m_[x],
                 fmt::format("diff(slot {} + a slice of it, slot {})", y, x), &s);
      ++stats_.diffs_repeated;
    }
  }

  void check_a_merge() {
    const std::size_t a = one_in(8) ? 0 : 1 + below(4);
    const std::size_t b = one_in(8) ? 0 : 5 + below(3);
    for (const bool swapped : {false, true}) {
      const std::size_t o = swapped ? b : a, t = swapped ? a : b;
      cowdb::testing::merge_summary s;
      const std::string why = cowdb::testing::check_merge(v_[0], v_[o], v_[t], &s);
      note("merges", why, fmt::format("merge(slot 0, slot {}, slot {})", o, t),
           [&] { return cowdb::testing::shrink_merge_failure(v_[0], v_[o], v_[t]); });
      if (!s.exact) FAIL("a merge triple outside the model's preconditions");
      ++stats_.merges;
      for (std::size_t k = 0; k < 5; ++k) stats_.conflicts[k] += s.conflicts[k];
      if (s.moved_rows > 0) ++stats_.merges_with_moves;
    }
    if (one_in(60)) {  // the merge becomes the new base of both branches
      const Vec merged =
          cowdb::merge(v_[0], v_[a], v_[b], one_in(2) ? merge_side::kOurs : merge_side::kTheirs);
      v_[0] = merged;
      m_[0] = cowdb::testing::rows_of(merged);  // its rows were checked by check_merge
      for (std::size_t s = 1; s < kSlots; ++s) {
        v_[s] = v_[0];
        m_[s] = m_[0];
      }
      ++stats_.rebases;
    }
  }

  // A mismatch of class `what` (see run_stats::counted); `kind` tells mismatches apart, `more`
  // is appended to the first of each kind (a shrunk merge).
  template <class More>
  void note(const char* what, const std::string& why, const std::string& where, More&& more) {
    auto& c = stats_.counted[what];
    ++c.checks;
    if (why.empty()) return;
    ++c.failures;
    const std::string kind = cowdb::testing::mismatch_kind(why);
    if (c.kinds.size() < 8 && c.kinds.insert(kind).second) {
      c.first +=
          fmt::format("\n[{}] seed {} step {}: {}:{}{}", kind, seed_, step_, where, why, more());
    }
  }

  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::uint64_t step_ = 0;
  std::array<Vec, kSlots> v_;
  std::array<rows, kSlots> m_;
  std::unordered_set<row_id_t> seen_;  // every id a row was seen with
  run_stats stats_;
};

std::uint64_t announced_seed() {
  static const std::uint64_t seed = [] {
    const std::uint64_t s = Catch::rngSeed();
    fmt::print("row model test: seed {} (replay with --rng-seed {})\n", s, s);
    return s;
  }();
  return seed;
}

template <class T, std::size_t ChunkBytes, std::size_t Fanout, std::uint64_t Steps>
struct shape {
  using vec = cowdb::pvec<T, ChunkBytes, Fanout>;
  static constexpr std::uint64_t steps = Steps;
};

using int_c2_f4 = shape<int, 2 * sizeof(int), 4, 10000>;
using int_c4_f4 = shape<int, 4 * sizeof(int), 4, 10000>;
using string_c2_f4 = shape<std::string, 2 * sizeof(std::string), 4, 6000>;

}  // namespace

TEMPLATE_TEST_CASE(
    "row model: diff and merge of 8 live versions on two branches follow row identity",
    "[model][diff][merge][rows]", int_c2_f4, int_c4_f4, string_c2_f4) {
  using vec = typename TestType::vec;
  const std::uint64_t seed = announced_seed();
  run_stats s;
  {
    row_runner<vec> runner(seed);
    runner.run(TestType::steps);
    s = runner.stats();
  }
  if (std::getenv("COWDB_MODEL_VERBOSE") != nullptr) {
    fmt::print(
        "  chunk {}: {} steps, max size {}, {} exact diffs ({} moved, {} modified, {} added, {} "
        "removed rows), {} by value, {} with repeated rows, {} merges ({} with moves), conflicts "
        "value {} modify/erase {} both-erased {} insert-order {} move {}, {} new bases\n",
        vec::chunk_capacity, s.steps, s.max_size, s.diffs_exact, s.diff_moved, s.diff_modified,
        s.diff_inserted, s.diff_erased, s.diffs_by_value, s.diffs_repeated, s.merges,
        s.merges_with_moves, s.conflicts[0], s.conflicts[1], s.conflicts[2], s.conflicts[3],
        s.conflicts[4], s.rebases);
  }
  CHECK(s.steps == TestType::steps);
  CHECK(s.diff_moved > 0);
  CHECK(s.diff_modified > 0);
  CHECK(s.diffs_by_value > 0);
  CHECK(s.merges_with_moves > 0);
  for (const std::uint64_t c : s.conflicts) CHECK(c > 0);
  for (const auto& [what, c] : s.counted) {
    INFO(what << " unlike the model: " << c.failures << " of " << c.checks
              << "; the first of each kind:" << c.first);
    CHECK(c.failures == 0);
  }
}
