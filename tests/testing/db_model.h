// A model of cowdb::Database and a driver that checks a database against it, one random
// operation at a time: the core of tests/model/database_model_test.cc (choices from a seeded
// generator, failures as Catch2 failures) and of tests/fuzz/db_fuzz.cc (choices from the fuzzer's
// bytes, failures abort).
//
// The model is a table of versions (id -> parents, message, catalog), the branch and tag tables,
// the set of retained versions, and for every live Snapshot and open Transaction the model
// version it must show. A catalog maps a dataset name to a std::vector (of int64_t, or of a small
// struct whose chunks hold 128 elements, so that some datasets span several chunks).
//
// Every step applies one random operation: begin a transaction on a random branch (up to three
// are open at once, on the same or different branches), edit one through Edit<T>() (set,
// insert, erase, erase_if, append(range), push_back, pop_back, update, take, resize: rows keep
// their order, new rows are inserted anywhere, and indices out of range, which must throw
// std::out_of_range and change nothing), Put (transform, take, fresh copy), Create or Drop
// datasets, commit or abort one, create / delete / rename branches, create / delete tags, merge a
// branch into another (kFail, kOurs, kTheirs), prune, open or drop snapshots (by branch, tag and
// version id), diff two versions, read a log. Each outcome (status code, new version id,
// conflicts, contents) is predicted from the model first:
// - a commit whose branch head did not move publishes the transaction's catalog;
// - otherwise the catalogs are merged three-way (cowdb/merge.h and db/catalog_merge.h): a
//   dataset changed on one side only is taken from that side; a dataset created, dropped or
//   retyped on one side and changed on the other is a whole-dataset conflict; otherwise the
//   elements are merged with merge_mode::kWrites, and the commit fails with kAborted iff some
//   element was changed on both sides (even to equal values: first committer wins), both sides
//   resized the dataset, or a modify/delete conflict arises (ConflictMode::kDataset: any dataset
//   changed on both sides). "Changed" for a dataset means "not the same version"
//   (pvec::identity(), public API); the model checks the documented invariant that datasets with
//   the same identity hold equal elements, so a write that kept the identity would be caught.
// - Database::Merge fast-forwards, does nothing (source already merged), or merges with
//   merge_mode::kValues against the newest common ancestor over the whole history (pruned
//   versions included), failing with kFailedPrecondition if that ancestor was pruned.
// - Prune keeps the retained versions within keep_last_versions steps of a branch head, counted
//   over the whole history, and each tag's version (with keep_last_versions unset: everything a
//   branch or tag reaches); Log lists retained ancestors and stops at pruned ones.
// Every ModelConfig::full_check_every steps, and at the end, EVERYTHING is compared: Branches(),
// Tags(), every branch head and tag, every held snapshot (id, parents, message, Datasets(),
// contents, type checks), every open transaction's view, the retained versions, the memory
// report's version count. With full_check_every = 1 this follows every operation, so an
// operation that fails (or succeeds) must leave every other version exactly as the model has it.
#ifndef COWDB_TESTS_TESTING_DB_MODEL_H_
#define COWDB_TESTS_TESTING_DB_MODEL_H_

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "cowdb/merge.h"
#include "cowdb/options.h"
#include "cowdb/pvec.h"
#include "cowdb/snapshot.h"
#include "cowdb/status.h"
#include "cowdb/transaction.h"
#include "fmt/format.h"
#include "testing/conflict_helpers.h"
#include "testing/merge_rules.h"

// A check that counts itself and, when it fails, reports the step and operation through
// ModelConfig::fail (which ends the run).
#define COWDB_DBM_CHECK(cond, ...)                                                 \
  do {                                                                             \
    ++stats_.checks;                                                               \
    if (!(cond)) {                                                                 \
      Fail(fmt::format("check `{}` failed at step {} [{}]: {}", #cond, step_, op_, \
                       fmt::format(__VA_ARGS__)));                                 \
    }                                                                              \
  } while (false)

namespace cowdb::testing {

// Where the model's random choices come from: a seeded generator (the model test) or the bytes
// of a fuzzer input (the fuzz target).
class ModelChoices {
 public:
  virtual ~ModelChoices() = default;
  // A number in [0, n). REQUIRES: n > 0.
  virtual std::size_t Below(std::size_t n) = 0;
  // False once the source has run out (a fuzzer input is used up): the run stops there.
  virtual bool More() const { return true; }
};

// How a run reports failures and how often it compares everything.
struct ModelConfig {
  // Called with a description of the first failed check; must not return (a Catch2 FAIL, which
  // throws, or a print and abort()).
  void (*fail)(const std::string& message) = nullptr;
  // Every this many steps everything is compared with the model. Default: 32.
  int full_check_every = 32;
  // Non-empty: the database is persistent, in this directory (Database::Open(dir)), and after a
  // step it is closed and reopened with probability 1 / reopen_one_in (the open transactions
  // are aborted first; snapshots stay), then compared with the model whole.
  std::string persist_dir = {};
  std::size_t reopen_one_in = 400;
};

// ---- element types ------------------------------------------------------------------------------

struct Point {
  std::int64_t x = 0;
  std::int64_t y = 0;
  std::int64_t z = 0;
  friend bool operator==(const Point&, const Point&) = default;
};
static_assert(cowdb::pvec<Point>::chunk_capacity == 128);
static_assert(cowdb::pvec<std::int64_t>::chunk_capacity == 512);

enum class Kind : std::uint8_t { kInt, kPoint };

template <class T>
constexpr Kind KindOf() {
  return std::is_same_v<T, Point> ? Kind::kPoint : Kind::kInt;
}

// Calls fn(T{}) with T the element type of `kind`.
template <class Fn>
decltype(auto) WithKind(Kind kind, Fn&& fn) {
  if (kind == Kind::kInt) return fn(std::int64_t{});
  return fn(Point{});
}

inline std::int64_t Bump(std::int64_t x) { return (x + 1) % 5; }
inline Point Bump(const Point& p) { return {(p.x + 1) % 5, p.y, p.z}; }

// ---- the model ----------------------------------------------------------------------------------

// A dataset: its rows' values and, in parallel, their identities (model ids: rows made by the
// model get fresh ones, rows that the database keeps keep theirs), so that merges and diffs are
// predicted by row identity as cowdb does them.
struct ModelDataset {
  Kind kind = Kind::kInt;
  std::vector<std::int64_t> ints;
  std::vector<Point> points;
  std::vector<std::uint64_t> ids;
  std::size_t size() const { return kind == Kind::kInt ? ints.size() : points.size(); }
  friend bool operator==(const ModelDataset&, const ModelDataset&) = default;
};

template <class T>
std::vector<T>& Elems(ModelDataset& d) {
  if constexpr (std::is_same_v<T, Point>) {
    return d.points;
  } else {
    return d.ints;
  }
}
template <class T>
const std::vector<T>& Elems(const ModelDataset& d) {
  if constexpr (std::is_same_v<T, Point>) {
    return d.points;
  } else {
    return d.ints;
  }
}

using Catalog = std::map<std::string, ModelDataset, std::less<>>;

struct ModelVersion {
  VersionId id;
  std::vector<VersionId> parents;
  std::string message;
  Catalog catalog;
};
using ModelVersionPtr = std::shared_ptr<const ModelVersion>;

// A snapshot the test holds, with the (immutable) model version it must keep showing.
struct HeldSnapshot {
  cowdb::Snapshot snap;
  ModelVersionPtr model;
  std::string how;
};

// An open transaction, its base (pinned by a snapshot, so its datasets' identities stay valid
// even after the base is pruned) and the model of its working catalog.
struct OpenTxn {
  cowdb::Transaction txn;
  std::string branch;
  ModelVersionPtr base;
  cowdb::Snapshot base_snap;
  Catalog work;
};

// Dataset name -> pvec identity, for the three sides of a merge (all alive at once).
using IdMap = std::map<std::string, const void*, std::less<>>;

struct Side {
  const Catalog* cat;
  IdMap ids;
  const ModelDataset* Find(const std::string& name) const {
    const auto it = cat->find(name);
    return it == cat->end() ? nullptr : &it->second;
  }
};

struct CatalogOutcome {
  Catalog merged;
  std::vector<Conflict> conflicts;
  bool unordered = false;  // some dataset's merge is only predicted as a set of rows
  // Rows of an unordered merge that the database may keep or erase (see MergeRows): ignored by
  // the row-set check.
  std::set<std::uint64_t> either;
};

// The three-way merge of merge.h by row identity, for histories in which no side reorders base
// rows (every edit of this model keeps them in order: set, update, insert, erase, erase_if,
// append, push_back, pop_back, take, resize, transform, fresh copies). Per base row, each side
// kept it (maybe with a new value) or erased it; rows a side inserted sit at a "gap": before the
// next base row that side kept (base.size() at the end). Conflicts: a row changed on both sides
// (kValues: to different values; kWrites: at all), changed or moved (a criss-cross of merges
// can leave a base row out of place) on one side and erased on the other, erased on both
// (kWrites), rows inserted at one gap on both sides (kValues: unless equal). The rules are
// merge_rules.h's, shared with row_model.h; this model does not predict kMove (see below).
// Appends the base rows in conflict (for inserts, the gap) to *conflicts when `side` is empty;
// the result decides conflicts for `side` (ours when empty): its value, its action, its inserted
// rows first.
// Which of `v` (distinct values) form a longest strictly rising subsequence: O(n log n)
// patience sorting; among equally long ones, the one patience sorting finds.
inline std::vector<bool> LongestRising(const std::vector<std::size_t>& v) {
  std::vector<std::size_t> tails;  // index into v of the last element of a rising run of length k+1
  std::vector<std::size_t> prev(v.size(), SIZE_MAX);
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto it = std::lower_bound(tails.begin(), tails.end(), v[i],
                                     [&v](std::size_t t, std::size_t x) { return v[t] < x; });
    if (it != tails.begin()) prev[i] = *(it - 1);
    if (it == tails.end()) {
      tails.push_back(i);
    } else {
      *it = i;
    }
  }
  std::vector<bool> out(v.size(), false);
  for (std::size_t i = tails.empty() ? SIZE_MAX : tails.back(); i != SIZE_MAX; i = prev[i])
    out[i] = true;
  return out;
}

// For each of `v` (distinct values): 0 if it is in no longest strictly rising subsequence, 2 if
// it is in every one, 1 if in some. O(n log n): the longest run ending at and starting at each.
inline std::vector<int> RisingMembership(const std::vector<std::size_t>& v) {
  const std::size_t n = v.size();
  auto ending = [n](const std::vector<std::size_t>& x) {  // longest rising run ending at each
    std::vector<std::size_t> tails, out(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto it = std::lower_bound(tails.begin(), tails.end(), x[i]);
      out[i] = static_cast<std::size_t>(it - tails.begin()) + 1;
      if (it == tails.end())
        tails.push_back(x[i]);
      else
        *it = x[i];
    }
    return out;
  };
  const std::vector<std::size_t> end_at = ending(v);
  std::vector<std::size_t> mirrored(n);  // reversed and negated: runs starting at each
  for (std::size_t i = 0; i < n; ++i) mirrored[i] = SIZE_MAX - v[n - 1 - i];
  const std::vector<std::size_t> start_rev = ending(mirrored);
  std::size_t longest = 0;
  for (std::size_t len : end_at) longest = std::max(longest, len);
  std::vector<int> out(n, 0);
  std::map<std::size_t, std::size_t> at_length;  // run position -> rows in some longest run there
  for (std::size_t i = 0; i < n; ++i) {
    if (end_at[i] + start_rev[n - 1 - i] - 1 == longest) {
      out[i] = 1;
      ++at_length[end_at[i]];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (out[i] == 1 && at_length[end_at[i]] == 1) out[i] = 2;
  }
  return out;
}

template <class T>
ModelDataset MergeRows(const ModelDataset& b, const ModelDataset& o, const ModelDataset& t,
                       std::optional<cowdb::merge_side> side, std::vector<std::size_t>* conflicts,
                       cowdb::merge_mode mode, bool* unordered, std::set<std::uint64_t>* either) {
  const bool ours_decide = side.value_or(cowdb::merge_side::kOurs) == cowdb::merge_side::kOurs;
  const std::vector<T>& bv = Elems<T>(b);
  const std::size_t nb = bv.size();
  std::map<std::uint64_t, std::size_t> base_pos;
  for (std::size_t r = 0; r < nb; ++r) base_pos.emplace(b.ids[r], r);
  struct SideRows {
    std::vector<std::ptrdiff_t> kept;                     // base row -> side position, or -1
    std::map<std::size_t, std::vector<std::size_t>> ins;  // gap -> side positions
    // Base row -> kept in no longest run of rows in base order: diff reports it moved. A row in
    // some such run but not all may or may not be reported moved (the engine picks among equally
    // long runs, weighing pieces of rows; this model does not follow its choice).
    std::vector<bool> moved, maybe_moved;
  };
  // A side's rows inserted are at the gap of the next base row it kept in place: rows of the
  // longest run of base rows it keeps in base order (as merge.h's engine; a row moved elsewhere
  // does not mark a gap). Rows out of that order make the merge `unordered` (below).
  auto analyze = [&](const ModelDataset& s) {
    SideRows out;
    out.kept.assign(nb, -1);
    std::vector<std::size_t> kept_b, kept_i;  // base position, side position of each kept row
    for (std::size_t i = 0; i < s.ids.size(); ++i) {
      const auto it = base_pos.find(s.ids[i]);
      if (it == base_pos.end()) continue;
      out.kept[it->second] = static_cast<std::ptrdiff_t>(i);
      kept_b.push_back(it->second);
      kept_i.push_back(i);
    }
    const std::vector<bool> in_place = LongestRising(kept_b);
    const std::vector<int> runs = RisingMembership(kept_b);
    std::vector<bool> marks_gap(s.ids.size(), false);
    out.moved.assign(nb, false);
    out.maybe_moved.assign(nb, false);
    for (std::size_t k = 0; k < kept_i.size(); ++k) {
      marks_gap[kept_i[k]] = in_place[k];
      out.moved[kept_b[k]] = runs[k] == 0;
      out.maybe_moved[kept_b[k]] = runs[k] == 1;
    }
    std::vector<std::size_t> pending;
    for (std::size_t i = 0; i < s.ids.size(); ++i) {
      const auto it = base_pos.find(s.ids[i]);
      if (it == base_pos.end()) {
        pending.push_back(i);
      } else if (marks_gap[i] && !pending.empty()) {
        out.ins[it->second] = std::exchange(pending, {});
      }
    }
    if (!pending.empty()) out.ins[nb] = std::move(pending);
    return out;
  };
  const SideRows so = analyze(o), st = analyze(t);
  // Rows both sides got after base (a criss-cross of merges), or base rows out of base order on
  // a side (a consequence of one), leave the order of some rows to choices this model does not
  // make: the caller then checks the rows as a set and takes the order from the database.
  {
    std::set<std::uint64_t> o_new;
    for (const auto& [gap, rows] : so.ins) {
      for (std::size_t i : rows) o_new.insert(o.ids[i]);
    }
    for (const auto& [gap, rows] : st.ins) {
      for (std::size_t i : rows) *unordered = *unordered || o_new.contains(t.ids[i]);
    }
    for (const SideRows* sr : {&so, &st}) {
      std::ptrdiff_t last = -1;
      for (std::ptrdiff_t p : sr->kept) {
        if (p < 0) continue;
        *unordered = *unordered || p < last;
        last = p;
      }
    }
  }
  const std::vector<T>& ov = Elems<T>(o);
  const std::vector<T>& tv = Elems<T>(t);
  ModelDataset out;
  out.kind = b.kind;
  std::vector<T>& mv = Elems<T>(out);
  std::vector<std::size_t> found;
  auto emit = [&](const ModelDataset& from, const std::vector<T>& vals, std::size_t i) {
    mv.push_back(vals[i]);
    out.ids.push_back(from.ids[i]);
  };
  // Inserted rows. The merge starts from X, the side that erased and inserted more rows (ours
  // on a tie), and brings in Y's rows at their gaps: before X's rows at the same gap, or after
  // them when both inserted new rows there and X wins the order conflict. Rows both inserted
  // (same id: both got them after base) stay where X has them, once.
  auto changed = [nb](const SideRows& sr, const ModelDataset& s) {
    std::size_t kept = 0;
    for (std::ptrdiff_t p : sr.kept) kept += p >= 0;
    return (nb - kept) + (s.ids.size() - kept);
  };
  const bool x_ours = changed(so, o) >= changed(st, t);
  const SideRows& sx = x_ours ? so : st;
  const SideRows& sy = x_ours ? st : so;
  const ModelDataset& dx = x_ours ? o : t;
  const ModelDataset& dy = x_ours ? t : o;
  const std::vector<T>& xv = x_ours ? ov : tv;
  const std::vector<T>& yv = x_ours ? tv : ov;
  const bool y_decides = ours_decide != x_ours;
  std::map<std::uint64_t, std::size_t> x_new;  // id -> x position
  for (const auto& [gap, rows] : sx.ins) {
    for (std::size_t i : rows) x_new.emplace(dx.ids[i], i);
  }
  std::map<std::size_t, T> x_override;  // x position -> y's value
  std::map<std::size_t, std::vector<std::size_t>> y_novel;
  std::map<std::size_t, bool> y_first;
  std::map<std::size_t, bool> ours_list;  // gap -> the sides agree: emit ours' rows
  for (const auto& [gap, rows] : sy.ins) {
    const auto xi = sx.ins.find(gap);
    if (xi != sx.ins.end() && xi->second.size() == rows.size()) {
      bool same = true;
      for (std::size_t k = 0; same && k < rows.size(); ++k) same = xv[xi->second[k]] == yv[rows[k]];
      if (inserts_agree(mode, same)) {
        ours_list[gap] = true;
        continue;
      }
    }
    bool decided = false;
    y_first[gap] = true;
    for (std::size_t i : rows) {
      const auto c = x_new.find(dy.ids[i]);
      if (c != x_new.end()) {
        if (!(xv[c->second] == yv[i])) {
          found.push_back(gap);
          if (y_decides) x_override[c->second] = yv[i];
        }
        continue;
      }
      y_novel[gap].push_back(i);
      if (xi != sx.ins.end() && !decided) {
        found.push_back(gap);
        y_first[gap] = y_decides;
        decided = true;
      }
    }
  }
  auto emit_x = [&](std::size_t i) {
    const auto ov_it = x_override.find(i);
    mv.push_back(ov_it == x_override.end() ? xv[i] : ov_it->second);
    out.ids.push_back(dx.ids[i]);
  };
  auto emit_gap = [&](std::size_t r) {
    const auto xi = sx.ins.find(r);
    if (ours_list.contains(r)) {
      for (std::size_t i : so.ins.at(r)) emit(o, ov, i);
      return;
    }
    const auto yn = y_novel.find(r);
    const bool yf = !y_first.contains(r) || y_first.at(r);
    if (yn != y_novel.end() && yf) {
      for (std::size_t i : yn->second) emit(dy, yv, i);
    }
    if (xi != sx.ins.end()) {
      for (std::size_t i : xi->second) emit_x(i);
    }
    if (yn != y_novel.end() && !yf) {
      for (std::size_t i : yn->second) emit(dy, yv, i);
    }
  };
  for (std::size_t r = 0; r <= nb; ++r) {
    emit_gap(r);
    if (r == nb) break;
    const std::ptrdiff_t po = so.kept[r], pt = st.kept[r];
    const T* vo = po >= 0 ? &ov[static_cast<std::size_t>(po)] : nullptr;
    const T* vt = pt >= 0 ? &tv[static_cast<std::size_t>(pt)] : nullptr;
    const bool mo = vo != nullptr && !(*vo == bv[r]);
    const bool mt = vt != nullptr && !(*vt == bv[r]);
    // The row's fate by merge_rules.h. A move is given to the rules only for a row the other side
    // erased (changed or moved against erased: kModifyErase): rows out of base order come only
    // with an unordered merge, whose conflicts are not compared, and a row that both sides kept
    // is merged by value here, moved or not (this model does not predict kMove).
    const bool one_erased = (vo == nullptr) != (vt == nullptr);
    auto act = [&](const SideRows& sr, const T* v, bool value_changed) {
      if (v == nullptr) return row_act::kErased;
      if (one_erased && sr.moved[r]) return row_act::kMoved;
      return value_changed ? row_act::kModified : row_act::kKept;
    };
    const row_act ao = act(so, vo, mo), at = act(st, vt, mt);
    // Kept unchanged on one side where it may or may not be moved (only in an unordered merge:
    // rows out of base order), erased on the other: the engine's choice.
    if (one_erased && (ao == row_act::kKept || at == row_act::kKept) &&
        (vo != nullptr ? so : st).maybe_moved[r]) {
      either->insert(b.ids[r]);
      continue;
    }
    const row_outcome m =
        merge_row(ao, at, mo, mt, vo != nullptr && vt != nullptr && *vo == *vt, mode,
                  ours_decide ? cowdb::merge_side::kOurs : cowdb::merge_side::kTheirs);
    if (m.conflict) found.push_back(r);
    if (!m.present) continue;
    mv.push_back(m.from == row_from::kOurs ? *vo : m.from == row_from::kTheirs ? *vt : bv[r]);
    out.ids.push_back(b.ids[r]);
  }
  if (!side) conflicts->insert(conflicts->end(), found.begin(), found.end());
  return out;
}

// What diff(x, y) counts (modified, appended, truncated, inserted, erased) for two versions of a
// dataset whose rows keep base order (see MergeRows): by row identity when they have a row in
// common; otherwise by position and value (the diff of unrelated versions, which share no node:
// one region, compared position by position, the longer end appended or truncated).
template <class T>
std::array<std::size_t, 5> DiffCounts(const ModelDataset& dx, const ModelDataset& dy) {
  const std::vector<T>& x = Elems<T>(dx);
  const std::vector<T>& y = Elems<T>(dy);
  std::map<std::uint64_t, std::size_t> in_x;
  for (std::size_t i = 0; i < x.size(); ++i) in_x.emplace(dx.ids[i], i);
  std::array<std::size_t, 5> c{};
  std::vector<bool> x_common(x.size(), false);
  bool related = false;
  for (std::size_t j = 0; j < y.size(); ++j) {
    const auto it = in_x.find(dy.ids[j]);
    if (it == in_x.end()) continue;
    related = true;
    x_common[it->second] = true;
    c[0] += !(x[it->second] == y[j]);
  }
  if (!related && !x.empty() && !y.empty()) {
    c = {};
    const std::size_t m = std::min(x.size(), y.size());
    for (std::size_t i = 0; i < m; ++i) c[0] += !(x[i] == y[i]);
    if (y.size() > m) c[1] = y.size() - m;
    if (x.size() > m) c[2] = x.size() - m;
    return c;
  }
  // Rows only in y: appended when no common row follows them in y; likewise for x.
  bool common_after = false;
  for (std::size_t j = y.size(); j-- > 0;) {
    if (in_x.contains(dy.ids[j])) {
      common_after = true;
    } else {
      ++c[common_after ? 3 : 1];
    }
  }
  common_after = false;
  for (std::size_t i = x.size(); i-- > 0;) {
    if (x_common[i]) {
      common_after = true;
    } else {
      ++c[common_after ? 4 : 2];
    }
  }
  return c;
}

template <class T>
bool SameElements(const cowdb::pvec<T>& v, const std::vector<T>& m);

// A version's datasets as the database has them (values and row ids).
inline Catalog ReadCatalog(const cowdb::Snapshot& s) {
  Catalog cat;
  for (const cowdb::DatasetInfo& info : s.Datasets()) {
    ModelDataset d;
    auto read = [&d](const auto& v) {
      using T = typename std::decay_t<decltype(v)>::value_type;
      Elems<T>(d).assign(v.begin(), v.end());
      for (std::size_t i = 0; i < v.size(); ++i) d.ids.push_back(v.row_id(i));
    };
    if (const auto v = s.Get<std::int64_t>(info.name); v.ok()) {
      d.kind = Kind::kInt;
      read(*v);
    } else if (const auto p = s.Get<Point>(info.name); p.ok()) {
      d.kind = Kind::kPoint;
      read(*p);
    }
    cat.emplace(info.name, std::move(d));
  }
  return cat;
}

// The same rows (ids with their values), in any order, ignoring the rows of `ignore`.
inline bool SameRowSet(const ModelDataset& a, const ModelDataset& b,
                       const std::set<std::uint64_t>& ignore = {}) {
  if (a.kind != b.kind) return false;
  return WithKind(a.kind, [&](auto tag) {
    using T = decltype(tag);
    std::map<std::uint64_t, T> x, y;
    std::size_t nx = 0, ny = 0;
    for (std::size_t i = 0; i < a.ids.size(); ++i) {
      if (!ignore.contains(a.ids[i])) x.emplace(a.ids[i], Elems<T>(a)[i]), ++nx;
    }
    for (std::size_t i = 0; i < b.ids.size(); ++i) {
      if (!ignore.contains(b.ids[i])) y.emplace(b.ids[i], Elems<T>(b)[i]), ++ny;
    }
    if (nx != ny) return false;
    return x == y;
  });
}

// The dataset holds the model's rows: the same values and the same row identities.
template <class T>
bool SameRows(const cowdb::pvec<T>& v, const ModelDataset& d) {
  if (!SameElements(v, Elems<T>(d))) return false;
  for (std::size_t i = 0; i < d.ids.size(); ++i) {
    if (v.row_id(i) != d.ids[i]) return false;
  }
  return true;
}

template <class T>
bool SameElements(const cowdb::pvec<T>& v, const std::vector<T>& m) {
  if (v.size() != m.size()) return false;
  std::size_t i = 0;
  bool same = true;
  v.for_each_chunk([&](const T* first, const T* last) {
    if (!same) return;
    same = std::equal(first, last, m.begin() + static_cast<std::ptrdiff_t>(i));
    i += static_cast<std::size_t>(last - first);
  });
  return same && i == m.size();
}

inline std::string ConflictList(const std::vector<Conflict>& cs) {
  std::string s;
  for (const Conflict& c : cs) s += fmt::format("{} ", c);
  return s;
}

inline std::string IdList(const std::vector<VersionId>& ids) {
  std::string s;
  for (VersionId id : ids) s += fmt::format("{} ", id);
  return s;
}

inline constexpr const char* kBranchPool[] = {"main", "dev", "exp-1", "exp-2", "hot"};
// "dev" is also a branch name: branches resolve first.
inline constexpr const char* kTagPool[] = {"t1", "t2", "t3", "dev"};
inline constexpr const char* kDatasetPool[] = {"a", "b", "c", "pts"};
inline constexpr const char* kBadNames[] = {"", "bad name", "tab\tname", "nl\n"};

struct RunStats {
  std::uint64_t steps = 0;
  std::uint64_t begun = 0;
  std::uint64_t commits_fast = 0;    // head had not moved
  std::uint64_t commits_merged = 0;  // head had moved, merged without conflict
  std::uint64_t commits_aborted = 0;
  std::uint64_t commits_structural = 0;  // ... with a length, modify/delete or dataset conflict
  std::uint64_t commits_not_found = 0;
  std::uint64_t merges_ff = 0;
  std::uint64_t merges_noop = 0;
  std::uint64_t merges_3way = 0;
  std::uint64_t merges_conflict = 0;
  std::uint64_t merges_base_pruned = 0;  // kFailedPrecondition: the merge base was pruned
  std::uint64_t merges_skipped = 0;      // the merge-base walk was too long to model
  std::uint64_t merges_unordered = 0;    // rows both sides got after the base: see MergeRows
  std::uint64_t pruned = 0;
  std::uint64_t full_checks = 0;
  std::uint64_t snapshots_checked = 0;
  std::uint64_t checks = 0;       // COWDB_DBM_CHECKs evaluated
  std::uint64_t reopens = 0;      // persistent databases closed and opened again
  std::uint64_t compactions = 0;  // Database::Compact calls
};

class DatabaseModel {
 public:
  // `choices` must outlive the model.
  DatabaseModel(ModelChoices& choices, const cowdb::Options& options, const ModelConfig& config)
      : choices_(choices), config_(config), options_(options), db_(OpenDatabase()) {
    auto v = std::make_shared<ModelVersion>();
    v->id = VersionId{1};
    v->message = "initial empty version";
    versions_.emplace(1, std::move(v));
    all_parents_[1] = {};
    branches_.emplace("main", 1);
  }

  // Runs up to `steps` random operations (fewer if the choices run out), comparing everything
  // every config.full_check_every steps and at the end; then commits the open transactions.
  void Run(int steps) {
    op_ = "initial";
    CheckAll();
    for (step_ = 1; step_ <= steps && choices_.More(); ++step_) {
      Step();
      if (!config_.persist_dir.empty() && Uniform(config_.reopen_one_in) == 0) Reopen();
      if (!config_.persist_dir.empty() && Uniform(config_.reopen_one_in) == 0) Compact();
      if (step_ % config_.full_check_every == 0) CheckAll();
      ++stats_.steps;
    }
    op_ = "final";
    CheckAll();
    // Finish the open transactions (each must predict correctly) and check again.
    while (!txns_.empty()) CommitTxn(0);
    CheckAll();
  }

  const RunStats& stats() const { return stats_; }

 private:
  [[noreturn]] void Fail(const std::string& message) const {
    config_.fail(message);
    std::abort();  // config_.fail must not return; in case it does
  }

  // ---- randomness -------------------------------------------------------------------------------
  std::size_t Uniform(std::size_t n) { return n == 0 ? 0 : choices_.Below(n); }
  bool Chance(int percent) { return Uniform(100) < static_cast<std::size_t>(percent); }
  // An index into a vector of `size` elements, often among the first few (conflict hot spot).
  std::size_t Index(std::size_t size) {
    if (size == 0) return 0;
    if (Chance(50)) return Uniform(std::min<std::size_t>(size, 6));
    if (Chance(30)) return size - 1 - Uniform(std::min<std::size_t>(size, 4));
    return Uniform(size);
  }
  template <class T>
  T Value() {
    const auto v = static_cast<std::int64_t>(Uniform(4));
    if constexpr (std::is_same_v<T, Point>) {
      return Point{v, v & 1, 7};
    } else {
      return v;
    }
  }
  template <class T>
  std::vector<T> RandomContents() {
    std::size_t n = Uniform(24);
    if (Chance(25)) n = Uniform(200);
    if (Chance(8)) n = KindOf<T>() == Kind::kInt ? 500 + Uniform(700) : 200 + Uniform(200);
    std::vector<T> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(Value<T>());
    return out;
  }
  std::string PickBranchName() {
    if (!branches_.empty() && Chance(85)) {
      auto it = branches_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(Uniform(branches_.size())));
      return it->first;
    }
    return kBranchPool[Uniform(std::size(kBranchPool))];
  }
  std::string PickTagName() {
    if (!tags_.empty() && Chance(60)) {
      auto it = tags_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(Uniform(tags_.size())));
      return it->first;
    }
    return kTagPool[Uniform(std::size(kTagPool))];
  }
  // A name for something new: mostly one of `pool`, else (odd_percent) one of kBadNames or
  // arbitrary bytes, which may be valid or not (NameIsValid).
  template <std::size_t N>
  std::string NewName(const char* const (&pool)[N], int odd_percent) {
    if (!Chance(odd_percent)) return pool[Uniform(N)];
    if (Chance(50)) return kBadNames[Uniform(std::size(kBadNames))];
    std::string s(Chance(90) ? Uniform(10) : 250 + Uniform(10), 'x');
    for (char& c : s) {
      c = static_cast<char>(Chance(80) ? 'a' + static_cast<int>(Uniform(26)) : Uniform(256));
    }
    return s;
  }
  // database.h: a name is 1..255 bytes, none of them whitespace or a control character.
  static bool NameIsValid(std::string_view s) {
    return !s.empty() && s.size() <= 255 && std::none_of(s.begin(), s.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return std::isspace(u) != 0 || std::iscntrl(u) != 0;
    });
  }
  // A version id: mostly recent ones, sometimes one never created.
  VersionId PickVersionId() {
    if (Chance(5)) return VersionId{next_id_ + Uniform(3)};
    if (Chance(60))
      return VersionId{next_id_ - 1 - Uniform(std::min<std::uint64_t>(next_id_ - 1, 8))};
    return VersionId{1 + Uniform(next_id_ - 1)};
  }

  // ---- model helpers ----------------------------------------------------------------------------
  void ExpectCode(const absl::Status& s, absl::StatusCode code, std::string_view what) {
    COWDB_DBM_CHECK(s.code() == code, "{}: expected {}, got {}", what,
                    absl::StatusCodeToString(code), s.ToString());
  }

  // The id the database gave a new row: it must never have been seen before.
  std::uint64_t NewRow(std::uint64_t id) {
    COWDB_DBM_CHECK(seen_rows_.insert(id).second, "a new row got the id {} of an earlier row", id);
    return id;
  }

  ModelVersionPtr AddVersion(std::vector<VersionId> parents, std::string message, Catalog catalog) {
    auto v = std::make_shared<ModelVersion>();
    v->id = VersionId{next_id_++};
    v->parents = std::move(parents);
    v->message = std::move(message);
    v->catalog = std::move(catalog);
    for (const auto& [name, d] : v->catalog) {  // the model's rows are distinct rows
      std::set<std::uint64_t> seen(d.ids.begin(), d.ids.end());
      COWDB_DBM_CHECK(seen.size() == d.ids.size() && d.ids.size() == d.size(),
                      "model bug: dataset {} of the new version repeats a row id", name);
    }
    versions_.emplace(v->id.value, v);
    std::vector<std::uint64_t>& ps = all_parents_[v->id.value];
    for (VersionId p : v->parents) ps.push_back(p.value);
    return v;
  }

  // The version a branch, or failing that a tag, names.
  ModelVersionPtr Resolve(const std::string& name) const {
    if (const auto it = branches_.find(name); it != branches_.end()) {
      return versions_.at(it->second);
    }
    if (const auto it = tags_.find(name); it != tags_.end()) return versions_.at(it->second);
    return nullptr;
  }

  // Retained ancestors of `from` (itself included) with their distance, breadth first; stops
  // at pruned versions (Log).
  std::vector<std::pair<std::uint64_t, std::size_t>> RetainedAncestors(std::uint64_t from) const {
    std::vector<std::pair<std::uint64_t, std::size_t>> out;
    std::set<std::uint64_t> seen{from};
    std::deque<std::pair<std::uint64_t, std::size_t>> queue{{from, 0}};
    while (!queue.empty()) {
      const auto [id, dist] = queue.front();
      queue.pop_front();
      const auto it = versions_.find(id);
      if (it == versions_.end()) continue;
      for (VersionId p : it->second->parents) {
        if (seen.insert(p.value).second) queue.emplace_back(p.value, dist + 1);
      }
      out.emplace_back(id, dist);
    }
    return out;
  }

  // Ancestors of `from` (itself included) at most `max_dist` steps away, pruned ones too, with
  // their distance: breadth first over the whole history.
  std::vector<std::pair<std::uint64_t, std::size_t>> HistoryAncestors(std::uint64_t from,
                                                                      std::size_t max_dist) const {
    std::vector<std::pair<std::uint64_t, std::size_t>> out;
    std::set<std::uint64_t> seen{from};
    std::deque<std::pair<std::uint64_t, std::size_t>> queue{{from, 0}};
    while (!queue.empty()) {
      const auto [id, dist] = queue.front();
      queue.pop_front();
      out.emplace_back(id, dist);
      if (dist == max_dist) continue;
      for (std::uint64_t p : all_parents_.at(id)) {
        if (seen.insert(p).second) queue.emplace_back(p, dist + 1);
      }
    }
    return out;
  }

  // Prune keeps every retained version within keep_last_versions steps of a branch head,
  // distances counted over the whole history (pruned versions included), and each tag's version;
  // with keep_last_versions unset, everything a branch or tag reaches. (The model's options
  // never set keep_newer_than: its outcome depends on the clock.)
  std::size_t ModelPrune() {
    std::set<std::uint64_t> keep;
    for (const auto* table : {&branches_, &tags_}) {
      const std::size_t window = !options_.keep_last_versions ? SIZE_MAX
                                 : table == &tags_            ? 0
                                                              : *options_.keep_last_versions;
      for (const auto& [name, head] : *table) {
        for (const auto& [id, dist] : HistoryAncestors(head, window)) keep.insert(id);
      }
    }
    std::size_t n = 0;
    for (auto it = versions_.begin(); it != versions_.end();) {
      if (keep.contains(it->first)) {
        ++it;
      } else {
        it = versions_.erase(it);
        ++n;
      }
    }
    return n;
  }

  IdMap SnapshotIds(const cowdb::Snapshot& s, const Catalog& c) {
    IdMap ids;
    for (const auto& entry : c) {
      const std::string& name = entry.first;  // lambdas do not capture structured bindings
      const ModelDataset& d = entry.second;   // before clang 16
      WithKind(d.kind, [&](auto tag) {
        using T = decltype(tag);
        absl::StatusOr<cowdb::pvec<T>> v = s.Get<T>(name);
        COWDB_DBM_CHECK(v.ok(), "snapshot {} dataset {}: {}", s.id(), name, v.status().ToString());
        ids[name] = v->identity();
      });
    }
    return ids;
  }

  // The identities of a transaction's datasets; also checks that it reads its own writes.
  IdMap TxnIds(OpenTxn& t) {
    IdMap ids;
    std::vector<std::string> names;
    for (const auto& entry : t.work) {
      const std::string& name = entry.first;
      const ModelDataset& d = entry.second;
      names.push_back(name);
      WithKind(d.kind, [&](auto tag) {
        using T = decltype(tag);
        absl::StatusOr<cowdb::pvec<T>> v = t.txn.Get<T>(name);
        COWDB_DBM_CHECK(v.ok(), "txn dataset {}: {}", name, v.status().ToString());
        COWDB_DBM_CHECK(SameRows(*v, d), "txn on {} reads dataset {} wrong", t.branch, name);
        ids[name] = v->identity();
      });
    }
    COWDB_DBM_CHECK(t.txn.Datasets() == names, "txn on {}: Datasets() differ", t.branch);
    return ids;
  }

  // Whether the implementation treats the dataset as unchanged between two sides (same version:
  // both absent, or same type and same identity). Checks that the same identity means equal
  // elements (pvec::identity's contract).
  bool Same(const std::string& name, const Side& x, const Side& y) {
    const ModelDataset* a = x.Find(name);
    const ModelDataset* b = y.Find(name);
    if (a == nullptr || b == nullptr) return a == b;
    if (a->kind != b->kind) return false;
    if (x.ids.at(name) != y.ids.at(name)) return false;
    COWDB_DBM_CHECK(*a == *b, "dataset {}: same identity but different elements", name);
    return true;
  }

  // db/catalog_merge.h on the model.
  CatalogOutcome MergeModel(const Side& b, const Side& o, const Side& t, cowdb::ConflictMode mode,
                            std::optional<cowdb::merge_side> side, cowdb::merge_mode elements) {
    std::set<std::string> names;
    for (const Side* s : {&b, &o, &t}) {
      for (const auto& [name, d] : *s->cat) names.insert(name);
    }
    CatalogOutcome out;
    for (const std::string& name : names) {
      const ModelDataset* db = b.Find(name);
      const ModelDataset* dox = o.Find(name);
      const ModelDataset* dt = t.Find(name);
      const ModelDataset* result = nullptr;
      ModelDataset merged;
      if (Same(name, o, t) || Same(name, t, b)) {
        result = dox;
      } else if (Same(name, o, b)) {
        result = dt;
      } else {
        const bool whole = mode == cowdb::ConflictMode::kDataset || db == nullptr ||
                           dox == nullptr || dt == nullptr || dox->kind != dt->kind ||
                           db->kind != dox->kind;
        if (whole && side) {
          result = *side == cowdb::merge_side::kOurs ? dox : dt;
        } else if (whole) {
          out.conflicts.push_back(ConflictAt(name));
          continue;
        } else {
          std::vector<std::size_t> idx;
          WithKind(db->kind, [&](auto tag) {
            using T = decltype(tag);
            merged =
                MergeRows<T>(*db, *dox, *dt, side, &idx, elements, &out.unordered, &out.either);
          });
          std::sort(idx.begin(), idx.end());
          idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
          if (!idx.empty()) {
            for (std::size_t i : idx) out.conflicts.push_back(ConflictAt(name, i));
            continue;
          }
          result = &merged;
        }
      }
      if (result != nullptr) out.merged.emplace(name, *result);
    }
    return out;
  }

  // ---- checks -----------------------------------------------------------------------------------
  void CheckSnapshot(const cowdb::Snapshot& s, const ModelVersion& m, std::string_view what) {
    ++stats_.snapshots_checked;
    COWDB_DBM_CHECK(s.id() == m.id, "{}: id {} != model {}", what, s.id(), m.id);
    COWDB_DBM_CHECK(s.info().id == m.id, "{}: info().id", what);
    COWDB_DBM_CHECK(s.info().parents == m.parents, "{}: parents [{}] != model [{}]", what,
                    IdList(s.info().parents), IdList(m.parents));
    COWDB_DBM_CHECK(s.info().message == m.message, "{}: message '{}' != '{}'", what,
                    s.info().message, m.message);
    const std::vector<cowdb::DatasetInfo> infos = s.Datasets();
    COWDB_DBM_CHECK(infos.size() == m.catalog.size(), "{}: {} datasets, model {}", what,
                    infos.size(), m.catalog.size());
    std::size_t k = 0;
    for (const auto& entry : m.catalog) {
      const std::string& name = entry.first;
      const ModelDataset& d = entry.second;
      COWDB_DBM_CHECK(infos[k].name == name && infos[k].size == d.size(),
                      "{}: dataset #{} is {} ({} elements), model {} ({})", what, k, infos[k].name,
                      infos[k].size, name, d.size());
      ++k;
      COWDB_DBM_CHECK(s.Has(name), "{}: Has({})", what, name);
      WithKind(d.kind, [&](auto tag) {
        using T = decltype(tag);
        using Other = std::conditional_t<std::is_same_v<T, Point>, std::int64_t, Point>;
        absl::StatusOr<cowdb::pvec<T>> v = s.Get<T>(name);
        COWDB_DBM_CHECK(v.ok(), "{}: Get({}): {}", what, name, v.status().ToString());
        COWDB_DBM_CHECK(SameRows(*v, d), "{}: dataset {} differs from the model", what, name);
        ExpectCode(s.Get<Other>(name).status(), absl::StatusCode::kInvalidArgument,
                   "Get with the wrong type");
      });
    }
    for (const char* name : kDatasetPool) {
      if (m.catalog.contains(name)) continue;
      COWDB_DBM_CHECK(!s.Has(name), "{}: Has({}) for an absent dataset", what, name);
      ExpectCode(s.Get<std::int64_t>(name).status(), absl::StatusCode::kNotFound,
                 "Get of an absent dataset");
    }
  }

  void CheckTables() {
    const std::vector<cowdb::BranchInfo> bs = db_->Branches();
    COWDB_DBM_CHECK(bs.size() == branches_.size(), "{} branches, model {}", bs.size(),
                    branches_.size());
    std::size_t k = 0;
    for (const auto& [name, id] : branches_) {
      COWDB_DBM_CHECK(bs[k].name == name && bs[k].head.value == id,
                      "branch #{}: {} at {}, model {} at v{}", k, bs[k].name, bs[k].head, name, id);
      ++k;
    }
    const std::vector<cowdb::BranchInfo> ts = db_->Tags();
    COWDB_DBM_CHECK(ts.size() == tags_.size(), "{} tags, model {}", ts.size(), tags_.size());
    k = 0;
    for (const auto& [name, id] : tags_) {
      COWDB_DBM_CHECK(ts[k].name == name && ts[k].head.value == id,
                      "tag #{}: {} at {}, model {} at v{}", k, ts[k].name, ts[k].head, name, id);
      ++k;
    }
  }

  void CheckAll() {
    ++stats_.full_checks;
    CheckTables();
    for (const auto& [name, id] : branches_) {
      absl::StatusOr<VersionId> h = db_->Head(name);
      COWDB_DBM_CHECK(h.ok() && h->value == id, "Head({})", name);
      absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(name);
      COWDB_DBM_CHECK(s.ok(), "OpenSnapshot({}): {}", name, s.status().ToString());
      CheckSnapshot(*s, *versions_.at(id), fmt::format("branch {}", name));
    }
    for (const auto& [name, id] : tags_) {
      absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(name);
      COWDB_DBM_CHECK(s.ok(), "OpenSnapshot({}): {}", name, s.status().ToString());
      CheckSnapshot(*s, *Resolve(name), fmt::format("tag {}", name));
      if (!branches_.contains(name)) {
        // A branch of the tag's name would win; otherwise the tag's version must be retained.
        absl::StatusOr<cowdb::Snapshot> byid = db_->OpenSnapshot(VersionId{id});
        COWDB_DBM_CHECK(byid.ok(), "tagged version v{} must be retained", id);
      }
    }
    for (const HeldSnapshot& h : snaps_) CheckSnapshot(h.snap, *h.model, h.how);
    for (OpenTxn& t : txns_) {
      COWDB_DBM_CHECK(t.txn.active() && t.txn.branch() == t.branch && t.txn.base() == t.base->id,
                      "open txn on {} lost its state", t.branch);
      TxnIds(t);
    }
    // Retained versions: exactly the model's (all of them, and every recent id).
    std::set<std::uint64_t> ids;
    for (const auto& [id, v] : versions_) ids.insert(id);
    for (std::uint64_t id = next_id_ > 64 ? next_id_ - 64 : 1; id < next_id_ + 2; ++id) {
      ids.insert(id);
    }
    for (std::uint64_t id : ids) {
      const bool ok = db_->OpenSnapshot(VersionId{id}).ok();
      COWDB_DBM_CHECK(ok == versions_.contains(id), "version v{} retained={} but model says {}", id,
                      ok, versions_.contains(id));
    }
    const cowdb::MemoryReport r = db_->GetMemoryReport();
    COWDB_DBM_CHECK(r.versions == versions_.size(), "memory report: {} versions, model {}",
                    r.versions, versions_.size());
    COWDB_DBM_CHECK(r.branches.size() == branches_.size(), "memory report branches");
    for (const cowdb::RefMemory& b : r.branches) {
      COWDB_DBM_CHECK(b.reachable_bytes == b.shared_bytes + b.exclusive_bytes &&
                          b.reachable_bytes <= r.total_bytes,
                      "memory report of {}", b.name);
    }
  }

  // The database of config_: in memory, or persistent in config_.persist_dir.
  std::unique_ptr<cowdb::Database> OpenDatabase() {
    if (config_.persist_dir.empty()) return cowdb::Database::Open(options_);
    absl::StatusOr<std::unique_ptr<cowdb::Database>> db =
        cowdb::Database::Open(config_.persist_dir, options_);
    COWDB_DBM_CHECK(db.ok(), "Open({}): {}", config_.persist_dir, db.status().ToString());
    return *std::move(db);
  }

  // Closes the persistent database (aborting the open transactions: a live transaction keeps
  // it open) and opens it again: everything must be as the model says.
  // Database::Compact with transactions open; everything must read the same after it (and after
  // the next reopen, which then reads the compacted files).
  void Compact() {
    op_ = "Compact";
    const absl::Status s = db_->Compact();
    COWDB_DBM_CHECK(s.ok(), "Compact: {}", s.ToString());
    ++stats_.compactions;
    CheckAll();
  }

  void Reopen() {
    op_ = "Reopen";
    txns_.clear();
    db_.reset();
    db_ = OpenDatabase();
    ++stats_.reopens;
    CheckAll();
  }

  // ---- operations -------------------------------------------------------------------------------
  void Step() {
    const std::size_t r = Uniform(100);
    if (r < 14) {
      BeginTxn();
    } else if (r < 50) {
      EditTxn();
    } else if (r < 63) {
      if (txns_.empty()) return BeginTxn();
      CommitTxn(Uniform(txns_.size()));
    } else if (r < 65) {
      AbortTxn();
    } else if (r < 69) {
      CreateBranch();
    } else if (r < 71) {
      DeleteBranch();
    } else if (r < 73) {
      RenameBranch();
    } else if (r < 76) {
      CreateTag();
    } else if (r < 77) {
      DeleteTag();
    } else if (r < 85) {
      MergeBranches();
    } else if (r < 88) {
      Prune();
    } else if (r < 94) {
      OpenSnapshot();
    } else if (r < 96) {
      DropSnapshot();
    } else if (r < 98) {
      CheckDiff();
    } else {
      CheckLog();
    }
  }

  void BeginTxn() {
    if (txns_.size() >= 3) return CommitTxn(Uniform(txns_.size()));
    const std::string name = PickBranchName();
    op_ = fmt::format("Begin({})", name);
    absl::StatusOr<cowdb::Transaction> t = db_->Begin(name);
    const auto it = branches_.find(name);
    if (it == branches_.end()) return ExpectCode(t.status(), absl::StatusCode::kNotFound, op_);
    COWDB_DBM_CHECK(t.ok(), "{}", t.status().ToString());
    ModelVersionPtr base = versions_.at(it->second);
    COWDB_DBM_CHECK(t->active() && t->branch() == name && t->base() == base->id, "fresh txn state");
    absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(t->base());
    COWDB_DBM_CHECK(s.ok(), "the base of a new txn must be retained");
    txns_.push_back(OpenTxn{std::move(*t), name, base, std::move(*s), base->catalog});
    ++stats_.begun;
  }

  void EditTxn() {
    if (txns_.empty()) return BeginTxn();
    OpenTxn& t = txns_[Uniform(txns_.size())];
    const std::size_t r = Uniform(100);
    if (r < 8 || t.work.empty()) return CreateDataset(t);
    if (r < 12) return DropDataset(t);
    if (r < 15) return WrongUse(t);
    auto it = t.work.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(Uniform(t.work.size())));
    const std::string name = it->first;
    WithKind(it->second.kind, [&](auto tag) {
      using T = decltype(tag);
      EditTyped<T>(t, name, it->second);
    });
  }

  template <class T>
  void EditTyped(OpenTxn& t, const std::string& name, ModelDataset& d) {
    std::vector<T>& m = Elems<T>(d);
    std::vector<std::uint64_t>& ids = d.ids;
    const std::size_t r = Uniform(100);
    if (r < 70) {
      op_ = fmt::format("Edit({}) on {}", name, t.branch);
      absl::StatusOr<typename cowdb::pvec<T>::editor*> e = t.txn.Edit<T>(name);
      COWDB_DBM_CHECK(e.ok(), "{}", e.status().ToString());
      auto* ed = *e;
      const std::size_t n = 1 + Uniform(4);
      for (std::size_t k = 0; k < n; ++k) {
        const std::size_t op = Uniform(100);
        if (op < 35 && !m.empty()) {
          const std::size_t i = Index(m.size());
          const T v = Value<T>();
          ed->set(i, v);
          m[i] = v;
        } else if (op < 38) {  // a new row before row i (i == size appends)
          const std::size_t i = Index(m.size() + 1);
          const T v = Value<T>();
          ed->insert(i, v);
          m.insert(m.begin() + static_cast<std::ptrdiff_t>(i), v);
          ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(i), NewRow(ed->row_id(i)));
        } else if (op < 41 && !m.empty()) {
          const std::size_t i = Index(m.size());
          ed->erase(i);
          m.erase(m.begin() + static_cast<std::ptrdiff_t>(i));
          ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(i));
        } else if (op < 43) {  // erase_if: the rows kept keep their identity
          const T v = Value<T>();
          const std::size_t removed = ed->erase_if([&v](const T& x) { return x == v; });
          std::size_t kept = 0;
          for (std::size_t i = 0; i < m.size(); ++i) {
            if (m[i] == v) continue;
            m[kept] = m[i];
            ids[kept] = ids[i];
            ++kept;
          }
          COWDB_DBM_CHECK(removed == m.size() - kept, "erase_if removed {} rows, the model {}",
                          removed, m.size() - kept);
          m.resize(kept);
          ids.resize(kept);
        } else if (op < 45) {  // append(range): new rows at the end
          std::vector<T> more(1 + Uniform(3));
          for (T& x : more) x = Value<T>();
          ed->append(more);
          for (const T& x : more) {
            m.push_back(x);
            ids.push_back(NewRow(ed->row_id(m.size() - 1)));
          }
        } else if (op < 62) {
          const T v = Value<T>();
          ed->push_back(v);
          m.push_back(v);
          ids.push_back(NewRow(ed->row_id(ed->size() - 1)));
        } else if (op < 68 && !m.empty()) {
          ed->pop_back();
          m.pop_back();
          ids.pop_back();
        } else if (op < 82 && !m.empty()) {
          const std::size_t i = Index(m.size());
          ed->update(i, [](const T& x) { return Bump(x); });
          m[i] = Bump(m[i]);
        } else if (op < 86) {
          const std::size_t len = m.size() + 2 - std::min(m.size() + 2, Uniform(6));
          ed->take(len);
          if (len < m.size()) m.resize(len);
          if (len < ids.size()) ids.resize(len);
        } else if (op < 89) {
          const std::size_t len = m.size() + Uniform(5);
          const T v = Value<T>();
          ed->resize(len, v);
          m.resize(len, v);
          while (ids.size() > len) ids.pop_back();
          while (ids.size() < len) ids.push_back(NewRow(ed->row_id(ids.size())));
        } else if (op < 95) {
          COWDB_DBM_CHECK(ed->size() == m.size(), "editor size {} != {}", ed->size(), m.size());
          if (!m.empty()) {
            const std::size_t i = Index(m.size());
            COWDB_DBM_CHECK(ed->at(i) == m[i], "editor element {}", i);
          }
          BadIndex(t, name, *ed, m);
        } else {
          // Freeze mid-edit (Get), keep editing: the frozen view must not change.
          absl::StatusOr<cowdb::pvec<T>> g = t.txn.Get<T>(name);
          COWDB_DBM_CHECK(g.ok() && SameElements(*g, m), "Get mid-edit");
          const std::vector<T> frozen = m;
          if (!m.empty()) {
            ed->set(0, Bump(m[0]));
            m[0] = Bump(m[0]);
          }
          COWDB_DBM_CHECK(SameElements(*g, frozen), "a frozen view changed after an edit");
        }
      }
    } else if (r < 80) {
      op_ = fmt::format("Put({}, transform) on {}", name, t.branch);
      absl::StatusOr<cowdb::pvec<T>> g = t.txn.Get<T>(name);
      COWDB_DBM_CHECK(g.ok(), "{}", g.status().ToString());
      const std::size_t first = Index(m.size() + 1);
      const std::size_t last = std::min(m.size(), first + Uniform(Chance(20) ? 600 : 8));
      const bool identity = Chance(25);
      auto fn = [identity](const T& x) { return identity ? x : Bump(x); };
      cowdb::pvec<T> out = g->transform(first, last, fn);
      for (std::size_t i = first; i < last; ++i) m[i] = fn(m[i]);
      ExpectCode(t.txn.Put<T>(name, std::move(out)), absl::StatusCode::kOk, op_);
    } else if (r < 86) {
      op_ = fmt::format("Put({}, take) on {}", name, t.branch);
      absl::StatusOr<cowdb::pvec<T>> g = t.txn.Get<T>(name);
      COWDB_DBM_CHECK(g.ok(), "{}", g.status().ToString());
      const std::size_t len = m.size() + 1 - std::min(m.size() + 1, Uniform(4));
      ExpectCode(t.txn.Put<T>(name, g->take(len)), absl::StatusCode::kOk, op_);
      if (len < m.size()) m.resize(len);
      if (len < ids.size()) ids.resize(len);
    } else if (r < 92) {
      // A fresh version (new identity), often with equal elements.
      op_ = fmt::format("Put({}, fresh) on {}", name, t.branch);
      if (Chance(50) && !m.empty()) m[Index(m.size())] = Value<T>();
      const cowdb::pvec<T> fresh(m.begin(), m.end());
      for (std::size_t k = 0; k < ids.size(); ++k) ids[k] = NewRow(fresh.row_id(k));
      ExpectCode(t.txn.Put<T>(name, fresh), absl::StatusCode::kOk, op_);
    } else {
      op_ = fmt::format("Get({}) on {}", name, t.branch);
      absl::StatusOr<cowdb::pvec<T>> g = t.txn.Get<T>(name);
      COWDB_DBM_CHECK(g.ok() && SameElements(*g, m), "Get reads its own writes");
    }
  }

  // An index out of range on a transaction's editor (or pop_back on an empty one) throws
  // std::out_of_range and changes nothing: the transaction still reads the model's elements.
  template <class T, class Editor>
  void BadIndex(OpenTxn& t, const std::string& name, Editor& ed, const std::vector<T>& m) {
    const std::size_t i = m.size() + Uniform(3);
    const std::size_t which = m.empty() ? Uniform(6) : Uniform(5);
    bool thrown = false;
    try {
      switch (which) {
        case 0: static_cast<void>(ed.at(i)); break;
        case 1: ed.set(i, Value<T>()); break;
        case 2: ed.update(i, [](const T& x) { return Bump(x); }); break;
        case 3: ed.erase(i); break;
        case 4: ed.insert(i + 1, Value<T>()); break;
        default: ed.pop_back(); break;
      }
    } catch (const std::out_of_range&) {
      thrown = true;
    }
    COWDB_DBM_CHECK(thrown, "editor call #{} at index {} (size {}) did not throw out_of_range",
                    which, i, m.size());
    absl::StatusOr<cowdb::pvec<T>> g = t.txn.Get<T>(name);
    COWDB_DBM_CHECK(g.ok() && SameElements(*g, m), "editor call #{} at index {} changed {}", which,
                    i, name);
  }

  void CreateDataset(OpenTxn& t) {
    const std::string name = NewName(kDatasetPool, 4);
    if (!NameIsValid(name)) {
      op_ = fmt::format("Create({:?}) on {}", name, t.branch);
      return ExpectCode(t.txn.Create<std::int64_t>(name, {}), absl::StatusCode::kInvalidArgument,
                        op_);
    }
    Kind kind = name == "pts" ? Kind::kPoint : Kind::kInt;
    if (Chance(15)) kind = kind == Kind::kInt ? Kind::kPoint : Kind::kInt;
    op_ = fmt::format("Create({}) on {}", name, t.branch);
    WithKind(kind, [&](auto tag) {
      using T = decltype(tag);
      std::vector<T> contents = RandomContents<T>();
      const cowdb::pvec<T> fresh(contents.begin(), contents.end());
      const absl::Status s = t.txn.Create<T>(name, fresh);
      if (t.work.contains(name)) return ExpectCode(s, absl::StatusCode::kAlreadyExists, op_);
      ExpectCode(s, absl::StatusCode::kOk, op_);
      ModelDataset d;
      d.kind = kind;
      for (std::size_t k = 0; k < contents.size(); ++k) d.ids.push_back(NewRow(fresh.row_id(k)));
      Elems<T>(d) = std::move(contents);
      t.work.emplace(name, std::move(d));
    });
  }

  void DropDataset(OpenTxn& t) {
    const std::string name = kDatasetPool[Uniform(std::size(kDatasetPool))];
    op_ = fmt::format("Drop({}) on {}", name, t.branch);
    const absl::Status s = t.txn.Drop(name);
    if (t.work.erase(name) == 0) return ExpectCode(s, absl::StatusCode::kNotFound, op_);
    ExpectCode(s, absl::StatusCode::kOk, op_);
  }

  // Wrong types and unknown names fail and change nothing.
  void WrongUse(OpenTxn& t) {
    const std::string name = kDatasetPool[Uniform(std::size(kDatasetPool))];
    op_ = fmt::format("wrong use of {} on {}", name, t.branch);
    const auto it = t.work.find(name);
    if (it == t.work.end()) {
      ExpectCode(t.txn.Get<std::int64_t>(name).status(), absl::StatusCode::kNotFound, op_);
      ExpectCode(t.txn.Edit<Point>(name).status(), absl::StatusCode::kNotFound, op_);
      ExpectCode(t.txn.Put<std::int64_t>(name, {}), absl::StatusCode::kNotFound, op_);
      return;
    }
    WithKind(it->second.kind, [&](auto tag) {
      using T = decltype(tag);
      using Other = std::conditional_t<std::is_same_v<T, Point>, std::int64_t, Point>;
      ExpectCode(t.txn.Get<Other>(name).status(), absl::StatusCode::kInvalidArgument, op_);
      ExpectCode(t.txn.Edit<Other>(name).status(), absl::StatusCode::kInvalidArgument, op_);
      ExpectCode(t.txn.Put<Other>(name, {}), absl::StatusCode::kInvalidArgument, op_);
    });
  }

  void CommitTxn(std::size_t k) {
    OpenTxn& t = txns_[k];
    const std::string message = fmt::format("commit at step {}", step_);
    op_ = fmt::format("Commit on {} (base {})", t.branch, t.base->id);
    const IdMap ours_ids = TxnIds(t);
    const auto it = branches_.find(t.branch);
    // What the commit must do, predicted before it runs.
    std::optional<CatalogOutcome> outcome;
    ModelVersionPtr head;
    std::optional<cowdb::Snapshot> head_snap;
    if (it != branches_.end()) {
      head = versions_.at(it->second);
      if (head->id != t.base->id) {
        absl::StatusOr<cowdb::Snapshot> hs = db_->OpenSnapshot(head->id);
        COWDB_DBM_CHECK(hs.ok(), "head snapshot");
        head_snap = *hs;
        const Side base{&t.base->catalog, SnapshotIds(t.base_snap, t.base->catalog)};
        const Side ours{&t.work, ours_ids};
        const Side theirs{&head->catalog, SnapshotIds(*head_snap, head->catalog)};
        outcome = MergeModel(base, ours, theirs, options_.conflict_mode, std::nullopt,
                             cowdb::merge_mode::kWrites);  // commits: write-write conflicts
      }
    }
    absl::StatusOr<VersionId> r = t.txn.Commit(message);
    COWDB_DBM_CHECK(!t.txn.active(), "a committed txn is finished");
    if (head == nullptr) {
      ExpectCode(r.status(), absl::StatusCode::kNotFound, op_);
      ++stats_.commits_not_found;
    } else if (outcome && outcome->unordered) {
      if (r.ok()) {
        AdoptMerge(*outcome, {head->id}, message, t.branch, *r);
      } else {
        ExpectCode(r.status(), absl::StatusCode::kAborted, op_);
      }
    } else if (outcome && !outcome->conflicts.empty()) {
      ExpectCode(r.status(), absl::StatusCode::kAborted, op_);
      COWDB_DBM_CHECK(ConflictRows(t.txn.conflicts()) == outcome->conflicts,
                      "conflicts [{}], model [{}]", ConflictList(t.txn.conflicts()),
                      ConflictList(outcome->conflicts));
      ++stats_.commits_aborted;
      const bool structural =
          std::any_of(outcome->conflicts.begin(), outcome->conflicts.end(), [&](const Conflict& c) {
            const ModelDataset* d = nullptr;
            if (const auto w = t.work.find(c.dataset); w != t.work.end()) d = &w->second;
            return c.index == Conflict::kWholeDataset || d == nullptr || c.index >= d->size() ||
                   c.index >= head->catalog.at(c.dataset).size() ||
                   c.index >= t.base->catalog.at(c.dataset).size();
          });
      if (structural) ++stats_.commits_structural;
    } else {
      COWDB_DBM_CHECK(r.ok(), "{}: expected success, got {}", op_, r.status().ToString());
      COWDB_DBM_CHECK(r->value == next_id_, "new version {} but model expects v{}", *r, next_id_);
      COWDB_DBM_CHECK(t.txn.conflicts().empty(), "conflicts after a successful commit");
      ModelVersionPtr v;
      if (outcome) {
        v = AddVersion({head->id}, message, std::move(outcome->merged));
        ++stats_.commits_merged;
      } else {
        v = AddVersion({t.base->id}, message, t.work);
        ++stats_.commits_fast;
      }
      branches_[t.branch] = v->id.value;
      if (options_.auto_prune) ModelPrune();
      absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(t.branch);
      COWDB_DBM_CHECK(s.ok(), "snapshot after commit");
      CheckSnapshot(*s, *v, "head after commit");
    }
    if (Chance(20)) {
      ExpectCode(t.txn.Commit("again").status(), absl::StatusCode::kFailedPrecondition,
                 "commit twice");
      ExpectCode(t.txn.Drop("a"), absl::StatusCode::kFailedPrecondition, "drop after commit");
    }
    txns_.erase(txns_.begin() + static_cast<std::ptrdiff_t>(k));
  }

  void AbortTxn() {
    if (txns_.empty()) return;
    const std::size_t k = Uniform(txns_.size());
    OpenTxn& t = txns_[k];
    op_ = fmt::format("Abort on {}", t.branch);
    if (Chance(50)) {
      t.txn.Abort();
      COWDB_DBM_CHECK(!t.txn.active(), "aborted txn is finished");
      t.txn.Abort();  // idempotent
      ExpectCode(t.txn.Commit("after abort").status(), absl::StatusCode::kFailedPrecondition, op_);
      ExpectCode(t.txn.Edit<std::int64_t>("a").status(), absl::StatusCode::kFailedPrecondition,
                 op_);
    } else if (Chance(50)) {
      // Moving keeps the transaction; the moved-from handle fails.
      cowdb::Transaction moved = std::move(t.txn);
      COWDB_DBM_CHECK(!t.txn.active() && moved.active(), "move");
      ExpectCode(t.txn.Commit("moved-from").status(), absl::StatusCode::kFailedPrecondition, op_);
      t.txn = std::move(moved);
      return;  // still open
    }
    txns_.erase(txns_.begin() + static_cast<std::ptrdiff_t>(k));  // destroyed: aborts
  }

  void CreateBranch() {
    const std::string name = NewName(kBranchPool, 5);
    CreateRef("CreateBranch", name, branches_, 70, 70,
              [&](const auto& from) { return db_->CreateBranch(name, from); });
  }

  // A branch or a tag (`refs`: branches_ or tags_) made by `create` (Database::CreateBranch or
  // CreateTag for `name`), from a branch or tag name (from_name_percent of the time; of those
  // from_branch_percent name a branch, the rest a tag) or from a version id; the status must
  // match the model's, in its order of precedence: bad name, unknown source, duplicate name.
  template <class Create>
  void CreateRef(const char* what, const std::string& name,
                 std::map<std::string, std::uint64_t, std::less<>>& refs, int from_name_percent,
                 int from_branch_percent, Create create) {
    std::uint64_t head = 0;
    absl::Status s;
    if (Chance(from_name_percent)) {
      const std::string from = Chance(from_branch_percent) ? PickBranchName() : PickTagName();
      op_ = fmt::format("{}({:?}, {})", what, name, from);
      s = create(from);
      const ModelVersionPtr v = Resolve(from);
      if (!NameIsValid(name)) return ExpectCode(s, absl::StatusCode::kInvalidArgument, op_);
      if (v == nullptr) return ExpectCode(s, absl::StatusCode::kNotFound, op_);
      head = v->id.value;
    } else {
      const VersionId at = PickVersionId();
      op_ = fmt::format("{}({:?}, {})", what, name, at);
      s = create(at);
      if (!NameIsValid(name)) return ExpectCode(s, absl::StatusCode::kInvalidArgument, op_);
      if (!versions_.contains(at.value)) return ExpectCode(s, absl::StatusCode::kNotFound, op_);
      head = at.value;
    }
    if (refs.contains(name)) return ExpectCode(s, absl::StatusCode::kAlreadyExists, op_);
    ExpectCode(s, absl::StatusCode::kOk, op_);
    refs.emplace(name, head);
  }

  void DeleteBranch() {
    const std::string name = PickBranchName();
    op_ = fmt::format("DeleteBranch({})", name);
    const absl::Status s = db_->DeleteBranch(name);
    if (!branches_.contains(name)) return ExpectCode(s, absl::StatusCode::kNotFound, op_);
    if (branches_.size() == 1) return ExpectCode(s, absl::StatusCode::kFailedPrecondition, op_);
    ExpectCode(s, absl::StatusCode::kOk, op_);
    branches_.erase(name);
  }

  void RenameBranch() {
    const std::string from = PickBranchName();
    const std::string to = NewName(kBranchPool, 6);
    op_ = fmt::format("RenameBranch({}, {:?})", from, to);
    const absl::Status s = db_->RenameBranch(from, to);
    if (!NameIsValid(to)) return ExpectCode(s, absl::StatusCode::kInvalidArgument, op_);
    const auto it = branches_.find(from);
    if (it == branches_.end()) return ExpectCode(s, absl::StatusCode::kNotFound, op_);
    if (branches_.contains(to)) return ExpectCode(s, absl::StatusCode::kAlreadyExists, op_);
    ExpectCode(s, absl::StatusCode::kOk, op_);
    const std::uint64_t head = it->second;
    branches_.erase(it);
    branches_.emplace(to, head);
  }

  void CreateTag() {
    const std::string name = NewName(kTagPool, 4);
    CreateRef("CreateTag", name, tags_, 60, 80,
              [&](const auto& from) { return db_->CreateTag(name, from); });
  }

  void DeleteTag() {
    const std::string name = PickTagName();
    op_ = fmt::format("DeleteTag({})", name);
    const absl::Status s = db_->DeleteTag(name);
    if (tags_.erase(name) == 0) return ExpectCode(s, absl::StatusCode::kNotFound, op_);
    ExpectCode(s, absl::StatusCode::kOk, op_);
  }

  // What Database::Merge does with two heads: nothing, a fast-forward, a three-way merge
  // against `base`, or kFailedPrecondition (the merge base was pruned).
  struct MergePlan {
    enum Kind { kNoop, kFastForward, kThreeWay, kBasePruned, kUnknown } kind = kUnknown;
    std::uint64_t base = 0;
  };

  // The merge base is the newest common ancestor of the two heads over the whole history (pruned
  // versions included). Found by painting both histories down in decreasing id order (parents
  // always have smaller ids), which stops at the fork point instead of walking all history: the
  // first version reached from both heads is the newest common ancestor. kUnknown if the walk
  // is unusually long.
  MergePlan PlanMerge(std::uint64_t sid, std::uint64_t did) const {
    if (sid == did) return {MergePlan::kNoop, 0};
    constexpr std::uint8_t kFromTarget = 1, kFromSource = 2;
    std::map<std::uint64_t, std::uint8_t> flags{{did, kFromTarget}, {sid, kFromSource}};
    std::set<std::uint64_t> queue{did, sid};
    for (int budget = 20000; !queue.empty(); --budget) {
      if (budget == 0) return {};
      const std::uint64_t id = *queue.rbegin();
      queue.erase(std::prev(queue.end()));
      const std::uint8_t f = flags[id];
      if (f == (kFromTarget | kFromSource)) {
        if (id == did) return {MergePlan::kFastForward, 0};  // target is behind source
        if (id == sid) return {MergePlan::kNoop, 0};         // source already merged
        return {versions_.contains(id) ? MergePlan::kThreeWay : MergePlan::kBasePruned, id};
      }
      for (std::uint64_t p : all_parents_.at(id)) {
        std::uint8_t& pf = flags[p];
        if ((pf | f) != pf) {
          pf |= f;
          queue.insert(p);
        }
      }
    }
    return {};  // not reached: v1 is an ancestor of every version
  }

  void MergeBranches() {
    const std::string src = PickBranchName();
    const std::string dst = Chance(10) ? src : PickBranchName();
    const std::size_t p = Uniform(10);
    const cowdb::MergePolicy policy = p < 5   ? cowdb::MergePolicy::kFail
                                      : p < 8 ? cowdb::MergePolicy::kOurs
                                              : cowdb::MergePolicy::kTheirs;
    std::optional<cowdb::merge_side> side;
    if (policy == cowdb::MergePolicy::kOurs) side = cowdb::merge_side::kOurs;
    if (policy == cowdb::MergePolicy::kTheirs) side = cowdb::merge_side::kTheirs;
    const std::string message = fmt::format("merge at step {}", step_);
    op_ = fmt::format("Merge({} -> {}, policy {})", src, dst,
                      p < 5   ? "fail"
                      : p < 8 ? "ours"
                              : "theirs");

    if (src == dst) {
      return ExpectCode(db_->Merge(src, dst, message, policy).status(),
                        absl::StatusCode::kInvalidArgument, op_);
    }
    if (!branches_.contains(src) || !branches_.contains(dst)) {
      return ExpectCode(db_->Merge(src, dst, message, policy).status(), absl::StatusCode::kNotFound,
                        op_);
    }
    const std::uint64_t sid = branches_.at(src);
    const std::uint64_t did = branches_.at(dst);
    const MergePlan plan = PlanMerge(sid, did);
    if (plan.kind == MergePlan::kUnknown) {
      ++stats_.merges_skipped;
      return;
    }
    std::vector<Conflict> conflicts;
    if (plan.kind == MergePlan::kNoop || plan.kind == MergePlan::kFastForward) {
      absl::StatusOr<VersionId> r = db_->Merge(src, dst, message, policy, &conflicts);
      const std::uint64_t head = plan.kind == MergePlan::kNoop ? did : sid;
      COWDB_DBM_CHECK(r.ok() && r->value == head, "{}: expected head v{}, got {}", op_, head,
                      r.ok() ? fmt::format("{}", *r) : r.status().ToString());
      branches_[dst] = head;
      if (plan.kind == MergePlan::kNoop) {
        ++stats_.merges_noop;
        return;
      }
      ++stats_.merges_ff;
      if (options_.auto_prune) ModelPrune();  // a fast-forward is a merge: auto_prune runs
      return;
    }
    if (plan.kind == MergePlan::kBasePruned) {
      ExpectCode(db_->Merge(src, dst, message, policy, &conflicts).status(),
                 absl::StatusCode::kFailedPrecondition, op_);
      ++stats_.merges_base_pruned;
      return;
    }
    const std::uint64_t base = plan.base;
    op_ += fmt::format(" base v{}", base);
    const ModelVersionPtr mb = versions_.at(base), md = versions_.at(did), ms = versions_.at(sid);
    absl::StatusOr<cowdb::Snapshot> sb = db_->OpenSnapshot(VersionId{base});
    absl::StatusOr<cowdb::Snapshot> sd = db_->OpenSnapshot(VersionId{did});
    absl::StatusOr<cowdb::Snapshot> ss = db_->OpenSnapshot(VersionId{sid});
    COWDB_DBM_CHECK(sb.ok() && sd.ok() && ss.ok(), "merge sides must be retained");
    const Side b{&mb->catalog, SnapshotIds(*sb, mb->catalog)};
    const Side o{&md->catalog, SnapshotIds(*sd, md->catalog)};
    const Side t{&ms->catalog, SnapshotIds(*ss, ms->catalog)};
    CatalogOutcome outcome =
        MergeModel(b, o, t, cowdb::ConflictMode::kElement, side, cowdb::merge_mode::kValues);
    absl::StatusOr<VersionId> r = db_->Merge(src, dst, message, policy, &conflicts);
    if (outcome.unordered) {
      if (r.ok()) {
        AdoptMerge(outcome, {VersionId{did}, VersionId{sid}}, message, dst, *r);
      } else {
        ExpectCode(r.status(), absl::StatusCode::kAborted, op_);
      }
      return;
    }
    if (!outcome.conflicts.empty()) {
      ExpectCode(r.status(), absl::StatusCode::kAborted, op_);
      COWDB_DBM_CHECK(ConflictRows(conflicts) == outcome.conflicts,
                      "merge conflicts [{}], model [{}]", ConflictList(conflicts),
                      ConflictList(outcome.conflicts));
      ++stats_.merges_conflict;
      return;
    }
    COWDB_DBM_CHECK(r.ok(), "{}: expected success, got {}", op_, r.status().ToString());
    COWDB_DBM_CHECK(r->value == next_id_, "merge made {} but model expects v{}", *r, next_id_);
    ModelVersionPtr v =
        AddVersion({VersionId{did}, VersionId{sid}}, message, std::move(outcome.merged));
    branches_[dst] = v->id.value;
    if (options_.auto_prune) ModelPrune();
    absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(dst);
    COWDB_DBM_CHECK(s.ok(), "snapshot after merge");
    CheckSnapshot(*s, *v, "head after merge");
    ++stats_.merges_3way;
  }

  // A merge whose row order the model leaves to the database (CatalogOutcome::unordered): every
  // dataset the model predicted must hold the predicted rows (exactly, or as a set where the
  // order is open); the new version is then taken from the database.
  void AdoptMerge(const CatalogOutcome& outcome, std::vector<VersionId> parents,
                  const std::string& message, const std::string& branch, VersionId made) {
    ++stats_.merges_unordered;
    COWDB_DBM_CHECK(made.value == next_id_, "merge made {} but model expects v{}", made, next_id_);
    absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(branch);
    COWDB_DBM_CHECK(s.ok() && s->id() == made, "snapshot after merge");
    Catalog got = ReadCatalog(*s);
    for (const auto& [name, d] : outcome.merged) {
      const auto it = got.find(name);
      COWDB_DBM_CHECK(it != got.end() && SameRowSet(it->second, d, outcome.either),
                      "{}: dataset {} does not hold the predicted rows", op_, name);
    }
    ModelVersionPtr v = AddVersion(std::move(parents), message, std::move(got));
    branches_[branch] = v->id.value;
    if (options_.auto_prune) ModelPrune();
    CheckSnapshot(*s, *v, "head after merge");
  }

  void Prune() {
    op_ = "Prune";
    const std::size_t n = db_->Prune();
    const std::size_t expected = ModelPrune();
    COWDB_DBM_CHECK(n == expected, "Prune forgot {} versions, model {}", n, expected);
    stats_.pruned += n;
  }

  void OpenSnapshot() {
    std::optional<HeldSnapshot> held;
    const std::size_t r = Uniform(100);
    if (r < 15 && !snaps_.empty()) {
      const HeldSnapshot& from = snaps_[Uniform(snaps_.size())];
      op_ = "copy snapshot";
      held = HeldSnapshot{from.snap, from.model, from.how + " (copy)"};
    } else if (r < 55) {
      const std::string name = r < 45 ? PickBranchName() : PickTagName();
      op_ = fmt::format("OpenSnapshot({})", name);
      absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(name);
      ModelVersionPtr v = Resolve(name);
      if (v == nullptr) return ExpectCode(s.status(), absl::StatusCode::kNotFound, op_);
      COWDB_DBM_CHECK(s.ok(), "{}", s.status().ToString());
      held = HeldSnapshot{*std::move(s), v, fmt::format("snapshot of {} at step {}", name, step_)};
    } else {
      const VersionId id = PickVersionId();
      op_ = fmt::format("OpenSnapshot({})", id);
      absl::StatusOr<cowdb::Snapshot> s = db_->OpenSnapshot(id);
      const auto it = versions_.find(id.value);
      if (it == versions_.end()) return ExpectCode(s.status(), absl::StatusCode::kNotFound, op_);
      COWDB_DBM_CHECK(s.ok(), "{}", s.status().ToString());
      held = HeldSnapshot{*std::move(s), it->second,
                          fmt::format("snapshot of {} at step {}", id, step_)};
    }
    CheckSnapshot(held->snap, *held->model, held->how);
    if (snaps_.size() < 8) {
      snaps_.push_back(*std::move(held));
    } else {
      snaps_[Uniform(snaps_.size())] = *std::move(held);
    }
  }

  void DropSnapshot() {
    if (snaps_.empty()) return;
    op_ = "drop snapshot";
    snaps_.erase(snaps_.begin() + static_cast<std::ptrdiff_t>(Uniform(snaps_.size())));
  }

  static constexpr std::size_t kReordered = SIZE_MAX;  // CheckDiff: see Reordered
  // True when rows of `a` that `b` also holds are not in the same order there.
  static bool Reordered(const ModelDataset& a, const ModelDataset& b) {
    std::map<std::uint64_t, std::size_t> pos;
    for (std::size_t i = 0; i < a.ids.size(); ++i) pos.emplace(a.ids[i], i);
    std::size_t last = 0;
    bool first = true;
    for (std::uint64_t id : b.ids) {
      const auto it = pos.find(id);
      if (it == pos.end()) continue;
      if (!first && it->second < last) return true;
      last = it->second;
      first = false;
    }
    return false;
  }

  void CheckDiff() {
    const VersionId a = PickVersionId(), b = PickVersionId();
    op_ = fmt::format("Diff({}, {})", a, b);
    absl::StatusOr<cowdb::DatabaseDiff> d = db_->Diff(a, b);
    const auto ia = versions_.find(a.value), ib = versions_.find(b.value);
    if (ia == versions_.end() || ib == versions_.end()) {
      return ExpectCode(d.status(), absl::StatusCode::kNotFound, op_);
    }
    COWDB_DBM_CHECK(d.ok(), "{}", d.status().ToString());
    const Catalog& ca = ia->second->catalog;
    const Catalog& cb = ib->second->catalog;
    std::vector<std::string> added, removed, changed;
    std::vector<std::size_t> counts;  // modified, appended, truncated per changed dataset
    for (const auto& entry : ca) {
      const std::string& name = entry.first;
      const ModelDataset& da = entry.second;
      const auto it = cb.find(name);
      if (it == cb.end() || it->second.kind != da.kind) {
        removed.push_back(name);
        continue;
      }
      if (it->second == da) continue;
      WithKind(da.kind, [&, &dbx = it->second](auto tag) {
        using T = decltype(tag);
        if (Reordered(da, dbx)) {  // DiffCounts assumes kept rows in order: totals, see below
          changed.push_back(name);
          std::set<std::uint64_t> in_a(da.ids.begin(), da.ids.end());
          std::set<std::uint64_t> in_b(dbx.ids.begin(), dbx.ids.end());
          std::size_t added_rows = 0, removed_rows = 0;
          for (std::uint64_t id : dbx.ids) added_rows += !in_a.contains(id);
          for (std::uint64_t id : da.ids) removed_rows += !in_b.contains(id);
          counts.insert(counts.end(), {kReordered, added_rows, removed_rows, 0, 0});
          return;
        }
        const auto c = DiffCounts<T>(da, dbx);
        if (c[0] + c[1] + c[2] + c[3] + c[4] == 0) return;  // the same rows: not changed
        changed.push_back(name);
        counts.insert(counts.end(), c.begin(), c.end());
      });
    }
    for (const auto& [name, dbx] : cb) {
      const auto it = ca.find(name);
      if (it == ca.end() || it->second.kind != dbx.kind) added.push_back(name);
    }
    COWDB_DBM_CHECK(d->added == added && d->removed == removed, "added/removed datasets");
    COWDB_DBM_CHECK(d->changed.size() == changed.size(), "{} changed datasets, model {}",
                    d->changed.size(), changed.size());
    for (std::size_t i = 0; i < changed.size(); ++i) {
      const cowdb::DatasetChange& c = d->changed[i];
      const std::size_t* w = &counts[5 * i];
      if (w[0] == kReordered) {
        // Rows of the older version came back in another order (the order of a merge the model
        // left to the database): the rows each side lacks, exactly, and some moved.
        COWDB_DBM_CHECK(c.name == changed[i] && c.appended + c.inserted == w[1] &&
                            c.truncated + c.erased == w[2] && c.moved > 0,
                        "reordered dataset {}: {} (+{} -{} moved {}), model {} (+{} -{})", i,
                        c.name, c.appended + c.inserted, c.truncated + c.erased, c.moved,
                        changed[i], w[1], w[2]);
        continue;
      }
      COWDB_DBM_CHECK(c.name == changed[i] && c.modified == w[0] && c.appended == w[1] &&
                          c.truncated == w[2] && c.inserted == w[3] && c.erased == w[4],
                      "changed dataset {}: {} ({}/{}/{}/{}/{}), model {} ({}/{}/{}/{}/{})", i,
                      c.name, c.modified, c.appended, c.truncated, c.inserted, c.erased, changed[i],
                      w[0], w[1], w[2], w[3], w[4]);
    }
    COWDB_DBM_CHECK(d->empty() == (added.empty() && removed.empty() && changed.empty()), "empty()");
  }

  void CheckLog() {
    const std::string name = PickBranchName();
    const std::size_t limit = Chance(50) ? 1000 : 1 + Uniform(4);
    op_ = fmt::format("Log({}, {})", name, limit);
    absl::StatusOr<cowdb::History> log = db_->Log(name, limit);
    std::optional<std::uint64_t> head;  // a branch, else a tag
    if (const auto b = branches_.find(name); b != branches_.end()) head = b->second;
    if (const auto t = tags_.find(name); !head && t != tags_.end()) head = t->second;
    if (!head) return ExpectCode(log.status(), absl::StatusCode::kNotFound, op_);
    COWDB_DBM_CHECK(log.ok(), "{}", log.status().ToString());
    std::vector<std::uint64_t> ids;
    for (const auto& [id, dist] : RetainedAncestors(*head)) ids.push_back(id);
    std::sort(ids.rbegin(), ids.rend());
    COWDB_DBM_CHECK(log->truncated == (ids.size() > limit), "log truncated {}, model has {}",
                    log->truncated, ids.size());
    if (ids.size() > limit) ids.resize(limit);
    COWDB_DBM_CHECK(log->size() == ids.size(), "log has {} versions, model {}", log->size(),
                    ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const ModelVersion& m = *versions_.at(ids[i]);
      const cowdb::VersionInfo& v = (*log)[i];
      COWDB_DBM_CHECK(v.id == m.id && v.parents == m.parents && v.message == m.message,
                      "log entry {}: {} '{}', model {} '{}'", i, v.id, v.message, m.id, m.message);
    }
  }

  ModelChoices& choices_;
  const ModelConfig config_;
  const cowdb::Options options_;
  std::unique_ptr<cowdb::Database> db_;
  std::map<std::uint64_t, ModelVersionPtr> versions_;                // retained versions
  std::map<std::uint64_t, std::vector<std::uint64_t>> all_parents_;  // every version ever made
  std::map<std::string, std::uint64_t, std::less<>> branches_;
  std::map<std::string, std::uint64_t, std::less<>> tags_;
  std::uint64_t next_id_ = 2;
  std::set<std::uint64_t> seen_rows_;  // every row id the database gave a new row
  std::vector<HeldSnapshot> snaps_;
  std::vector<OpenTxn> txns_;  // after snaps_ and db_: destroyed first
  int step_ = 0;
  std::string op_;
  RunStats stats_;
};

}  // namespace cowdb::testing

#undef COWDB_DBM_CHECK

#endif  // COWDB_TESTS_TESTING_DB_MODEL_H_
