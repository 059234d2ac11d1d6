// Model-based randomized test of pvec's structural operations (insert, erase, drop, slice,
// push_front, concat and their editor forms), mixed with the positional ones, against
// std::vector; plus diff() between the resulting versions.
//
// Eight live versions ("slots") are each paired with a std::vector model. Every step applies one
// random operation to a source slot and stores the result in a destination slot (often another
// one, so the versions that share chunks with the result must stay intact), as a persistent write
// (`v.op()`, `std::move(copy).op()` or in place `std::move(v).op()`) or as an editor session of
// 1..~250 editor operations that freezes the editor into other slots half way. After every
// operation: check_invariants() on the result (on the editor's tree after every editor
// operation), the result's full contents (operator[], for_each_chunk, iteration), a few elements
// and the size of every other slot, and operator== between two slots against model equality.
// Every 64 steps every slot gets the full check plus backward iteration, iterator jumps, at()
// out of range, sub-range for_each_chunk; every 128 steps the live node count must equal the
// nodes reachable from the slots (a leak or an early free shows at the step that causes it).
// Every 8 steps diff(a, b) of two random slots is checked against the row model of
// tests/testing/row_model.h, whose rows are the slots' model values with the versions' row ids:
// slots that share rows are compared by row identity (every range, count and the element-wise
// iteration, exactly), slots that share none by value; patch(a, d) gives b, also onto a copy of a
// built separately. Structural writes are checked to copy
// only O(1) leaves and O(depth) inner nodes (the rest is shared with their sources). One write in
// 40 runs under allocation-failure injection: it completes or throws std::bad_alloc and changes
// nothing. A run is 1'000'000 operations (persistent writes plus editor operations) over five
// shapes. Every check fails at once, with two exceptions that corrupt nothing and are counted,
// failing the test case at its end so that the run goes on past them: equal versions that
// compare unequal (see "false differences" below and tests/regress/pvec_structural_regress.cc),
// and diff mismatches of two classes (a wrong patch onto a copy of from(), and a wrong diff of
// versions that hold a row twice, which concat(v, v) and inserting a slot into itself make).
//
// A second test (the "focused" one) derives b from a by k single inserts or erases (or, in one
// trial in three, blocks) spaced apart and checks that diff(a, b) reports exactly those k changes
// as kInserted / kErased, nothing else, at their positions, reading O(k) chunks whatever the size.
//
// Tiny tree shapes (1-4 elements per chunk, fan-out 4 or 8) turn a few hundred elements into a
// deep relaxed tree. Sizes stay mostly within 0..300 and sometimes reach ~1200.
//
// Replay: the seed comes from Catch::rngSeed() and is printed; a failure prints seed, step and
// operation (and the editor operation). One shape: append its name, e.g. "*int_c2_f4".
//   cowdb_model_tests --rng-seed <seed> "pvec structural model*"
// `--rng-seed time` explores new sequences; COWDB_MODEL_VERBOSE=1 prints what each shape ran.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <new>
#include <random>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/internal/node.h"
#include "cowdb/internal/rbtree.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/pvec_model.h"
#include "testing/row_model.h"

namespace {

using cowdb::change_kind;
using cowdb::internal::live_nodes;
using cowdb::internal::pvec_access;
using cowdb::testing::alloc_failure_scope;
using cowdb::testing::g_editor_op;
using cowdb::testing::g_editor_op_index;
using cowdb::testing::g_model_checks;
using cowdb::testing::kConstRef;
using cowdb::testing::kMoveInPlace;
using cowdb::testing::mapper;
using cowdb::testing::values;
using cowdb::testing::write_ctx;

// ---- the test driver ----------------------------------------------------------------------------

enum class op_kind : unsigned {
  kCopy,
  kPushBack,
  kPopBack,
  kSet,
  kUpdate,
  kTake,
  kResize,
  kTransform,
  kInsert,
  kInsertRange,
  kPushFront,
  kErase,
  kEraseRange,
  kDrop,
  kSlice,
  kConcat,
  kEditor,
  kConstruct,
  kClear,
};

using op_info = cowdb::testing::op_info<op_kind>;

constexpr op_info kOps[] = {
    {op_kind::kCopy, 4, "copy"},
    {op_kind::kPushBack, 7, "push_back"},
    {op_kind::kPopBack, 5, "pop_back"},
    {op_kind::kSet, 6, "set"},
    {op_kind::kUpdate, 2, "update"},
    {op_kind::kTake, 3, "take"},
    {op_kind::kResize, 3, "resize"},
    {op_kind::kTransform, 3, "transform(first, last)"},
    {op_kind::kInsert, 10, "insert(i, v)"},
    {op_kind::kInsertRange, 6, "insert(i, range)"},
    {op_kind::kPushFront, 4, "push_front"},
    {op_kind::kErase, 9, "erase(i)"},
    {op_kind::kEraseRange, 6, "erase(first, last)"},
    {op_kind::kDrop, 4, "drop"},
    {op_kind::kSlice, 5, "slice"},
    {op_kind::kConcat, 7, "concat"},
    {op_kind::kEditor, 3, "editor session"},
    {op_kind::kConstruct, 2, "construct"},
    {op_kind::kClear, 1, "clear"},
};

struct run_stats : cowdb::testing::model_stats {
  // ops: persistent writes + editor operations; size_sum: of the destination's size.
  std::uint64_t structural_ops = 0;
  std::uint64_t diffs = 0;
  std::uint64_t shifted_diffs = 0;
  unsigned max_depth = 0;
  std::uint64_t exact_diffs = 0;        // checked range by range against the row model
  std::uint64_t moved_diffs = 0;        // ... with moved rows
  std::uint64_t repeated_diffs = 0;     // a version holding a row twice
  std::uint64_t false_differences = 0;  // equal versions that compared unequal
  std::string first_false_difference;
  // Diff mismatches that corrupt nothing, by class: how many, and the first.
  std::map<std::string, std::pair<std::uint64_t, std::string>> diff_mismatches;
};

template <class Vec>
class structural_runner
    : public cowdb::testing::slot_model<structural_runner<Vec>, Vec, run_stats> {
  using base = cowdb::testing::slot_model<structural_runner<Vec>, Vec, run_stats>;
  friend base;

 public:
  using base::kCap, base::kFanout, base::kSlots, typename base::editor, typename base::model,
      typename base::T, typename base::tree;
  static constexpr std::size_t kMaxSize = 1200;
  static_assert(kFanout >= 4, "the structural operations need a fan-out of at least 4");

  structural_runner(std::uint64_t seed, std::int64_t live_baseline)
      : base(seed, live_baseline, /*packed_leaves=*/false) {}

  // Runs steps until `ops` operations (persistent writes and editor operations) have been done.
  void run(std::uint64_t ops) {
    g_editor_op = nullptr;
    for (step_ = 0; stats_.ops < ops; ++step_) this->run_step(kOps);
    this->check_live_nodes();
  }

 private:
  using base::below, base::check_editor_full, base::check_editor_light, base::check_indexed,
      base::check_throws, base::depth_of, base::freeze, base::make_value, base::models_,
      base::one_in, base::slots_, base::stats_, base::step_, base::write, base::write_throws;

  // Mostly 0..300, sometimes up to ~1000.
  std::size_t random_size() {
    const std::size_t r = below(100);
    if (r < 45) return below(41);
    if (r < 75) return below(301);
    if (r < 93) return below(4 * kCap * kFanout + 2);
    if (r < 98) return below(301 / kCap) * kCap;
    return 300 + below(701);
  }

  // A small count, mostly within a few chunks.
  std::size_t small_count() {
    const std::size_t r = below(100);
    if (r < 50) return below(kCap + 2);
    if (r < 85) return below(2 * kCap * kFanout + 2);
    return below(120);
  }

  // REQUIRES: n > 0. An index in [0, n), often at an end.
  std::size_t random_index(std::size_t n) {
    switch (below(8)) {
      case 0:
        return 0;
      case 1:
        return n - 1;
      case 2:
        return std::min(n - 1, below(2 * kCap + 1));
      default:
        return below(n);
    }
  }
  // A position in [0, n] (an insertion point), often at an end.
  std::size_t random_pos(std::size_t n) {
    switch (below(8)) {
      case 0:
        return 0;
      case 1:
        return n;
      case 2:
        return n - std::min(n, below(2 * kCap + 1));
      default:
        return below(n + 1);
    }
  }

  // Allocations allowed before an injected failure, for a write or an edit reading `v`.
  template <class V>
  static std::size_t alloc_budget_bound(const V& v, std::size_t) {
    return 3 * depth_of(v) + 6;
  }

  // ---- one step ---------------------------------------------------------------------------------

  void apply(op_kind code, const write_ctx& c) {
    switch (code) {
      case op_kind::kCopy:
        slots_[c.dst] = slots_[c.src];
        models_[c.dst] = models_[c.src];
        ++stats_.ops;
        return;
      case op_kind::kPushBack:
        return op_push_back(c);
      case op_kind::kPopBack:
        return this->op_pop_back(c);
      case op_kind::kSet:
        return op_set(c);
      case op_kind::kUpdate:
        return op_update(c);
      case op_kind::kTake:
        return op_take(c);
      case op_kind::kResize:
        return op_resize(c);
      case op_kind::kTransform:
        return op_transform(c);
      case op_kind::kInsert:
        return op_insert(c, false);
      case op_kind::kPushFront:
        return op_insert(c, true);
      case op_kind::kInsertRange:
        return op_insert_range(c);
      case op_kind::kErase:
        return op_erase(c);
      case op_kind::kEraseRange:
        return op_erase_range(c);
      case op_kind::kDrop:
        return op_drop(c);
      case op_kind::kSlice:
        return op_slice(c);
      case op_kind::kConcat:
        return op_concat(c);
      case op_kind::kEditor:
        return op_editor(c);
      case op_kind::kConstruct:
        return op_construct(c.dst);
      case op_kind::kClear:
        slots_[c.dst] = c.form == kConstRef ? Vec() : slots_[c.src].slice(0, 0);
        models_[c.dst].clear();
        ++stats_.ops;
        return;
    }
  }

  // ---- persistent writes ------------------------------------------------------------------------

  // A structural write from src to dst (distinct slots) copied at most `max_leaves` leaves and
  // O(depth) inner nodes: everything else is shared with the source (or with `other`).
  void check_sharing(std::size_t src, std::size_t dst, const Vec* other, std::size_t max_leaves,
                     const char* what) {
    if (src == dst || !one_in(4)) return;
    const Vec& out = slots_[dst];
    if (out.empty()) return;
    typename tree::node_set old;
    for (const Vec* v : std::array<const Vec*, 2>{&slots_[src], other}) {
      if (v != nullptr && !v->empty()) {
        tree::collect(static_cast<const cowdb::internal::node_base*>(v->identity()), depth_of(*v),
                      old);
      }
    }
    std::size_t new_leaves = 0, new_inner = 0;
    count_new(static_cast<const cowdb::internal::node_base*>(out.identity()), depth_of(out), old,
              new_leaves, new_inner);
    const unsigned depth = std::max(depth_of(out), depth_of(slots_[src]));
    COWDB_MODEL_CHECK(new_leaves <= max_leaves,
                      "{} copied {} leaves (at most {} expected) for size {} -> {}", what,
                      new_leaves, max_leaves, models_[src].size(), models_[dst].size());
    const std::size_t max_inner = 6 * (depth + 1) + 2 * max_leaves;
    COWDB_MODEL_CHECK(new_inner <= max_inner,
                      "{} made {} new inner nodes (at most {} expected, depth {})", what, new_inner,
                      max_inner, depth);
  }
  static void count_new(const cowdb::internal::node_base* n, unsigned level,
                        const typename tree::node_set& old, std::size_t& leaves,
                        std::size_t& inner) {
    if (old.contains(n)) return;
    if (level == 0) {
      ++leaves;
      return;
    }
    ++inner;
    const auto* in = tree::as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k)
      count_new(in->child[k], level - 1, old, leaves, inner);
  }

  void op_push_back(const write_ctx& c) {
    const T x = make_value();
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).push_back(x); },
        [&](model& mod) { mod.push_back(x); });
  }

  void op_set(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    if (n == 0 || one_in(32)) {
      const std::size_t i = n + below(3);
      const T x = make_value();
      return write_throws(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).set(i, x); },
          "set() out of range");
    }
    const std::size_t i = random_index(n);
    const T x = make_value();
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).set(i, x); },
        [&](model& mod) { mod[i] = x; });
  }

  void op_update(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    if (n == 0) return op_push_back(c);
    const std::size_t i = random_index(n);
    const unsigned kind = static_cast<unsigned>(below(3));
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).update(i, mapper<T>{kind}); },
        [&](model& mod) { mod[i] = values<T>::map(kind, mod[i]); });
  }

  void op_take(const write_ctx& c) {
    const std::size_t n = one_in(3) ? random_size() : below(models_[c.src].size() + 2);
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).take(n); },
        [&](model& mod) { mod.resize(std::min(n, mod.size())); });
  }

  void op_resize(const write_ctx& c) {
    const std::size_t size = models_[c.src].size();
    const std::size_t n = one_in(2) ? random_size() : size - std::min(size, below(4)) + below(8);
    const T x = make_value();
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).resize(n, x); },
        [&](model& mod) { mod.resize(n, x); });
  }

  void op_transform(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    const unsigned kind = static_cast<unsigned>(below(3));
    std::size_t first = below(n + 2);
    std::size_t last = below(n + 2);
    if (first > last) std::swap(first, last);
    if (one_in(8)) last = std::numeric_limits<std::size_t>::max();
    const std::size_t hi = std::min(last, n);
    write(
        c, [&](auto&& vec) { return vec.transform(first, last, mapper<T>{kind}); },
        [&](model& mod) {
          for (std::size_t k = first; k < hi; ++k) mod[k] = values<T>::map(kind, mod[k]);
        });
  }

  // insert(i, v) or push_front(v).
  void op_insert(const write_ctx& c, bool front) {
    const std::size_t n = models_[c.src].size();
    const T x = make_value();
    if (!front && one_in(32)) {
      const std::size_t i = n + 1 + below(3);
      return write_throws(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, x); },
          "insert() past the end");
    }
    if (n >= kMaxSize) return op_erase(c);
    const std::size_t i = front ? 0 : random_pos(n);
    const bool done =
        front
            ? write(
                  c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).push_front(x); },
                  [&](model& mod) { mod.insert(mod.begin(), x); })
            : write(
                  c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, x); },
                  [&](model& mod) { mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), x); });
    ++stats_.structural_ops;
    if (done) check_sharing(c.src, c.dst, nullptr, 2, front ? "push_front" : "insert");
  }

  // insert(i, range) with a vector, a view yielding prvalues, or another slot's pvec (whose
  // chunks the result then shares).
  void op_insert_range(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    if (one_in(32)) {
      const std::size_t i = n + 1 + below(3);
      const model r(1 + below(3), make_value());
      return write_throws(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, r); },
          "insert(range) past the end");
    }
    if (n >= kMaxSize) return op_erase_range(c);
    const std::size_t i = random_pos(n);
    const std::size_t room = kMaxSize - n;
    const unsigned how = static_cast<unsigned>(below(3));
    ++stats_.structural_ops;
    if (how == 2) {  // another slot's version, or a slice of it
      const std::size_t o = below(kSlots);
      Vec piece = slots_[o];
      model pm = models_[o];
      if (pm.size() > room) {
        piece = piece.slice(0, room);
        pm.resize(room);
      }
      const bool done = write(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, piece); },
          [&](model& mod) {
            mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), pm.begin(), pm.end());
          });
      if (done) check_sharing(c.src, c.dst, &piece, 8, "insert(pvec)");
      return;
    }
    model r(std::min(room, small_count()));
    for (T& x : r) x = make_value();
    bool done;
    if (how == 0) {
      done = write(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, r); },
          [&](model& mod) {
            mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), r.begin(), r.end());
          });
    } else {
      auto view = std::views::iota(0) | std::views::take(static_cast<int>(r.size())) |
                  std::views::transform([&r](int k) { return T(r[static_cast<std::size_t>(k)]); });
      done = write(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, view); },
          [&](model& mod) {
            mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), r.begin(), r.end());
          });
    }
    if (done) check_sharing(c.src, c.dst, nullptr, 8 + r.size() / tree::min_leaf, "insert(range)");
  }

  void op_erase(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    if (n == 0 || one_in(32)) {
      const std::size_t i = n + below(3);
      return write_throws(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).erase(i); },
          "erase(i) out of range");
    }
    const std::size_t i = random_index(n);
    ++stats_.structural_ops;
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).erase(i); },
        [&](model& mod) { mod.erase(mod.begin() + static_cast<std::ptrdiff_t>(i)); });
    if (done) check_sharing(c.src, c.dst, nullptr, 3, "erase(i)");
  }

  void op_erase_range(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    if (one_in(24)) {  // last > size, or first > last
      std::size_t first = below(n + 2), last = n + 1 + below(2);
      if (n > 0 && one_in(2)) {
        last = below(n);
        first = last + 1 + below(n - last);
      }
      return write_throws(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).erase(first, last); },
          "erase(first, last) with a bad range");
    }
    std::size_t first, last;
    switch (below(4)) {
      case 0:  // a short range
        first = below(n + 1);
        last = first + std::min(n - first, small_count());
        break;
      case 1:  // a prefix or a suffix
        first = one_in(2) ? 0 : below(n + 1);
        last = first == 0 ? below(n + 1) : n;
        break;
      default:
        first = below(n + 1);
        last = first + below(n - first + 1);
        break;
    }
    ++stats_.structural_ops;
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).erase(first, last); },
        [&](model& mod) {
          mod.erase(mod.begin() + static_cast<std::ptrdiff_t>(first),
                    mod.begin() + static_cast<std::ptrdiff_t>(last));
        });
    if (done) check_sharing(c.src, c.dst, nullptr, 6, "erase(first, last)");
  }

  void op_drop(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    const std::size_t k = one_in(4) ? random_size() : one_in(2) ? small_count() : below(n + 2);
    ++stats_.structural_ops;
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).drop(k); },
        [&](model& mod) {
          mod.erase(mod.begin(),
                    mod.begin() + static_cast<std::ptrdiff_t>(std::min(k, mod.size())));
        });
    if (done) check_sharing(c.src, c.dst, nullptr, 4, "drop");
  }

  void op_slice(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    std::size_t first = below(n + 2), last = below(n + 3);
    if (!one_in(8) && first > last) std::swap(first, last);  // else an empty slice
    if (one_in(8)) last = std::numeric_limits<std::size_t>::max();
    ++stats_.structural_ops;
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).slice(first, last); },
        [&](model& mod) {
          const std::size_t hi = std::min(last, mod.size());
          mod = first < hi ? model(mod.begin() + static_cast<std::ptrdiff_t>(first),
                                   mod.begin() + static_cast<std::ptrdiff_t>(hi))
                           : model();
        });
    if (done) check_sharing(c.src, c.dst, nullptr, 8, "slice");
  }

  // concat(src, other), other + src, concat(src, src) ...; `other` is sliced to keep sizes in
  // bounds.
  void op_concat(const write_ctx& c) {
    ++stats_.ops;
    ++stats_.structural_ops;
    const std::size_t o = below(kSlots);
    Vec b = slots_[o];
    model mb = models_[o];
    const std::size_t na = models_[c.src].size();
    if (na + mb.size() > kMaxSize) {
      const std::size_t keep = kMaxSize > na ? below(kMaxSize - na + 1) : 0;
      const std::size_t from = below(mb.size() - std::min(keep, mb.size()) + 1);
      b = b.slice(from, from + keep);
      mb = model(mb.begin() + static_cast<std::ptrdiff_t>(std::min(from, mb.size())),
                 mb.begin() + static_cast<std::ptrdiff_t>(std::min(from + keep, mb.size())));
    }
    const bool b_first = one_in(3);
    model m = models_[c.src];
    m.insert(b_first ? m.begin() : m.end(), mb.begin(), mb.end());
    Vec out;
    bool failed = false;
    {
      const Vec& a = slots_[c.src];
      auto run = [&] {
        switch (below(3)) {
          case 0:
            return b_first ? concat(b, a) : concat(a, b);
          case 1:
            return b_first ? b + a : a + b;
          default: {  // editor append
            editor e = b_first ? b.transient() : a.transient();
            e.append(b_first ? a : b);
            return std::move(e).persistent();
          }
        }
      };
      if (c.fallible) {
        alloc_failure_scope scope(static_cast<int>(below(3 * depth_of(a) + 4)));
        try {
          out = run();
        } catch (const std::bad_alloc&) {
          failed = true;
        }
      } else {
        out = run();
      }
    }
    if (failed) {
      ++stats_.alloc_failures;
      return;
    }
    slots_[c.dst] = std::move(out);
    models_[c.dst] = std::move(m);
    check_sharing(c.src, c.dst, &b, 2, "concat");
  }

  void op_construct(std::size_t d) {
    ++stats_.ops;
    const std::size_t n = random_size();
    model m(n);
    for (T& x : m) x = make_value();
    switch (below(3)) {
      case 0:
        slots_[d] = Vec(m);
        break;
      case 1: {  // built from the front: a left-leaning relaxed tree
        editor e;
        for (std::size_t k = n; k-- > 0;) e.push_front(m[k]);
        slots_[d] = std::move(e).persistent();
        break;
      }
      default: {  // concatenated pieces
        Vec v;
        for (std::size_t k = 0; k < n;) {
          const std::size_t len = std::min(n - k, 1 + below(3 * kCap * kFanout));
          v = v + Vec(m.begin() + static_cast<std::ptrdiff_t>(k),
                      m.begin() + static_cast<std::ptrdiff_t>(k + len));
          k += len;
        }
        slots_[d] = std::move(v);
        break;
      }
    }
    models_[d] = std::move(m);
  }

  // ---- editor sessions -------------------------------------------------------------------------

  editor start_editor(const write_ctx& c, model& em) {
    em = models_[c.src];
    switch (below(4)) {
      case 0:
        return slots_[c.src].transient();
      case 1:
        return Vec(slots_[c.src]).transient();
      case 2:
        if (c.src == c.dst) return this->edit_in_place(c.dst);
        return editor(slots_[c.src]);
      default:
        return editor(slots_[c.src]);
    }
  }

  std::size_t batch_length() {
    const std::size_t r = below(100);
    if (r < 80) return 1 + below(16);
    if (r < 97) return 17 + below(40);
    return 57 + below(200);
  }

  void op_editor(const write_ctx& c) {
    model em;
    editor e = start_editor(c, em);
    std::vector<std::size_t> frozen;  // slots that received a mid-batch persistent()
    const std::size_t n_ops = batch_length();
    for (std::size_t k = 0; k < n_ops; ++k) {
      g_editor_op_index = k;
      editor_op(e, em, frozen, c.dst);
      ++stats_.editor_ops;
      ++stats_.ops;
      check_editor_tree(e);
      check_editor_light(e, em);
    }
    g_editor_op = "final check";
    check_editor_full(e, em);
    for (const std::size_t f : frozen) check_full(f);
    g_editor_op = nullptr;
    slots_[c.dst] = std::move(e).persistent();
    models_[c.dst] = std::move(em);
  }

  // An editor edit and its model edit, one in 40 under allocation-failure injection.
  template <class EdFn, class ModelFn>
  void edit(editor& e, model& em, EdFn&& ef, ModelFn&& mf) {
    base::edit(e, em, one_in(40), ef, mf);
  }

  template <class EdFn>
  void edit_throws(editor& e, const model& em, EdFn&& ef, const char* what) {
    // The message ends with editor_context(), which names the editor.
    this->template check_throws<std::out_of_range>([&] { ef(e); }, "{}", what);
    check_editor_full(e, em);
  }

  void editor_op(editor& e, model& em, std::vector<std::size_t>& frozen, std::size_t dst) {
    const std::size_t n = em.size();
    const std::size_t r = below(100);
    auto at = [](std::size_t i) { return static_cast<std::ptrdiff_t>(i); };
    if (r < 10) {
      g_editor_op = "push_back";
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.push_back(x); }, [&](model& mod) { mod.push_back(x); });
    } else if (r < 16) {
      g_editor_op = "pop_back";
      if (n == 0) {
        return edit_throws(
            e, em, [](editor& ed) { ed.pop_back(); }, "pop_back() on empty");
      }
      edit(
          e, em, [](editor& ed) { ed.pop_back(); }, [](model& mod) { mod.pop_back(); });
    } else if (r < 24) {
      g_editor_op = "set";
      if (n == 0) return;
      const std::size_t i = random_index(n);
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.set(i, x); }, [&](model& mod) { mod[i] = x; });
    } else if (r < 26) {
      g_editor_op = "update";
      if (n == 0) return;
      const std::size_t i = random_index(n);
      const unsigned kind = static_cast<unsigned>(below(3));
      edit(
          e, em, [&](editor& ed) { ed.update(i, mapper<T>{kind}); },
          [&](model& mod) { mod[i] = values<T>::map(kind, mod[i]); });
    } else if (r < 28) {
      g_editor_op = "take";
      const std::size_t k = below(n + 2);
      edit(
          e, em, [&](editor& ed) { ed.take(k); },
          [&](model& mod) { mod.resize(std::min(k, mod.size())); });
    } else if (r < 30) {
      g_editor_op = "resize";
      const std::size_t k = std::min(kMaxSize, n - std::min(n, below(2 * kCap)) + below(4 * kCap));
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.resize(k, x); }, [&](model& mod) { mod.resize(k, x); });
    } else if (r < 32) {
      g_editor_op = "transform";
      const unsigned kind = static_cast<unsigned>(below(3));
      edit(
          e, em, [&](editor& ed) { ed.transform(mapper<T>{kind}); },
          [&](model& mod) {
            for (T& x : mod) x = values<T>::map(kind, x);
          });
    } else if (r < 46) {
      g_editor_op = "insert(i, v)";
      if (one_in(24)) {
        const std::size_t i = n + 1 + below(2);
        return edit_throws(
            e, em, [&](editor& ed) { ed.insert(i, make_value()); }, "insert() past the end");
      }
      if (n >= kMaxSize) return;
      const std::size_t i = random_pos(n);
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.insert(i, x); },
          [&](model& mod) { mod.insert(mod.begin() + at(i), x); });
    } else if (r < 51) {
      g_editor_op = "insert(i, range)";
      if (n >= kMaxSize) return;
      const std::size_t i = random_pos(n);
      if (one_in(3)) {
        const std::size_t o = below(kSlots);
        const Vec piece = slots_[o].slice(0, kMaxSize - n);
        const model pm(models_[o].begin(),
                       models_[o].begin() + at(std::min(models_[o].size(), kMaxSize - n)));
        edit(
            e, em, [&](editor& ed) { ed.insert(i, piece); },
            [&](model& mod) { mod.insert(mod.begin() + at(i), pm.begin(), pm.end()); });
      } else {
        model ins(std::min(kMaxSize - n, small_count()));
        for (T& x : ins) x = make_value();
        edit(
            e, em, [&](editor& ed) { ed.insert(i, ins); },
            [&](model& mod) { mod.insert(mod.begin() + at(i), ins.begin(), ins.end()); });
      }
    } else if (r < 55) {
      g_editor_op = "push_front";
      if (n >= kMaxSize) return;
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.push_front(x); },
          [&](model& mod) { mod.insert(mod.begin(), x); });
    } else if (r < 67) {
      g_editor_op = "erase(i)";
      if (n == 0 || one_in(24)) {
        const std::size_t i = n + below(2);
        return edit_throws(
            e, em, [&](editor& ed) { ed.erase(i); }, "erase(i) out of range");
      }
      const std::size_t i = random_index(n);
      edit(
          e, em, [&](editor& ed) { ed.erase(i); },
          [&](model& mod) { mod.erase(mod.begin() + at(i)); });
    } else if (r < 73) {
      g_editor_op = "erase(first, last)";
      if (one_in(24)) {
        const std::size_t last = n + 1;
        return edit_throws(
            e, em, [&](editor& ed) { ed.erase(0, last); }, "erase(first, last) past the end");
      }
      const std::size_t first = below(n + 1);
      const std::size_t last =
          first + std::min(n - first, one_in(4) ? below(n + 1) : small_count());
      edit(
          e, em, [&](editor& ed) { ed.erase(first, last); },
          [&](model& mod) { mod.erase(mod.begin() + at(first), mod.begin() + at(last)); });
    } else if (r < 76) {
      g_editor_op = "drop";
      const std::size_t k = one_in(2) ? small_count() : below(n + 2);
      edit(
          e, em, [&](editor& ed) { ed.drop(k); },
          [&](model& mod) { mod.erase(mod.begin(), mod.begin() + at(std::min(k, mod.size()))); });
    } else if (r < 79) {
      g_editor_op = "slice";
      std::size_t first = below(n + 2), last = below(n + 3);
      if (first > last && !one_in(6)) std::swap(first, last);
      edit(
          e, em, [&](editor& ed) { ed.slice(first, last); },
          [&](model& mod) {
            const std::size_t hi = std::min(last, mod.size());
            mod = first < hi ? model(mod.begin() + at(first), mod.begin() + at(hi)) : model();
          });
    } else if (r < 83) {
      g_editor_op = "append(pvec)";
      const std::size_t o = below(kSlots);
      if (n + models_[o].size() > kMaxSize) return;
      const Vec piece = slots_[o];
      const model pm = models_[o];
      edit(
          e, em, [&](editor& ed) { ed.append(piece); },
          [&](model& mod) { mod.insert(mod.end(), pm.begin(), pm.end()); });
    } else if (r < 88) {
      g_editor_op = "persistent() const&";
      freeze(e, em, frozen, dst);
    } else if (r < 92) {
      g_editor_op = "reads";
      for (int t = 0; t < 4 && n > 0; ++t) {
        const std::size_t i = random_index(n);
        COWDB_MODEL_CHECK(e[i] == em[i] && e.at(i) == em[i], "editor[{}] = {} != model {}", i, e[i],
                          em[i]);
      }
      bool thrown = false;
      try {
        static_cast<void>(e.at(n + below(2)));
      } catch (const std::out_of_range&) {
        thrown = true;
      }
      COWDB_MODEL_CHECK(thrown, "editor at({}) did not throw", n);
    } else if (r < 96) {
      g_editor_op = "move the editor";
      editor tmp(std::move(e));
      e = std::move(tmp);
    } else {
      g_editor_op = "full check";
      check_editor_full(e, em);
    }
  }

  // ---- checks ----------------------------------------------------------------------------------

  void check_editor_tree(const editor& e) {
    const std::string why = tree::check(pvec_access::rep(e));
    COWDB_MODEL_CHECK(why.empty(), "the editor's tree violates an invariant: {} (size {})", why,
                      e.size());
  }

  void check_invariants(std::size_t slot) {
    try {
      slots_[slot].check_invariants();
      ++g_model_checks;
    } catch (const std::logic_error& e) {
      FAIL(fmt::format("slot {} (size {}, depth {}): {}", slot, slots_[slot].size(),
                       depth_of(slots_[slot]), e.what()));
    }
  }

  // Size and a few elements.
  void check_light(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    const std::size_t n = m.size();
    COWDB_MODEL_CHECK(v.size() == n, "slot {}: size {} != model size {}", slot, v.size(), n);
    if (n == 0) return;
    const std::size_t i = below(n);
    COWDB_MODEL_CHECK(v[i] == m[i] && v.back() == m[n - 1] && v.front() == m[0],
                      "slot {}: elements 0, {}, {} = {}, {}, {}; model {}, {}, {}", slot, i, n - 1,
                      v[0], v[i], v[n - 1], m[0], m[i], m[n - 1]);
  }

  // Every element by index, by chunk and by forward iteration; at() in and out of range.
  void check_full(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    const std::size_t n = m.size();
    const std::size_t chunks = check_indexed(v, m, "slot", slot);
    COWDB_MODEL_CHECK(v.memory().leaves == chunks, "slot {}: memory() counts {} leaves, {} chunks",
                      slot, v.memory().leaves, chunks);
    this->check_iteration(slot);
    this->template check_throws<std::out_of_range>([&] { static_cast<void>(v.at(n + below(3))); },
                                                   "slot {}: at({}) out of range", slot, n);
    if (n > 0) {
      const std::size_t i = below(n);
      COWDB_MODEL_CHECK(v.at(i) == m[i], "slot {}: at({}) = {}, model {}", slot, i, v.at(i), m[i]);
    }
  }

  // Backward iteration, iterator jumps, sub-range for_each_chunk, equality with a rebuilt copy.
  void check_deep(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    this->check_backward(slot);
    this->check_jumps(slot, 16, /*all_forms=*/false);
    this->check_chunk_range(slot);
    const Vec rebuilt(m);
    COWDB_MODEL_CHECK(rebuilt == v && v == rebuilt, "slot {}: != a rebuilt copy of its model",
                      slot);
    const auto ex = v.exclusive();
    const auto mem = v.memory();
    COWDB_MODEL_CHECK(ex.bytes <= mem.bytes, "slot {}: exclusive() {} > memory() {}", slot,
                      ex.bytes, mem.bytes);
  }

  // Versions with equal contents that compare unequal are counted, with the first step that saw
  // one, and the run goes on: the test case fails at its end. (A false "unequal" corrupts
  // nothing, and stopping at the first one would hide everything after it; see
  // tests/regress/pvec_structural_regress.cc.) Every other mismatch fails at once, but for the
  // diff mismatches of note_diff_mismatch.
  void note_false_difference(const char* what, std::size_t a, std::size_t b) {
    if (stats_.false_differences++ == 0) {
      stats_.first_false_difference = fmt::format("{} of slots {} and {} (size {}) at step {}",
                                                  what, a, b, models_[a].size(), step_);
    }
  }

  void check_equality(std::size_t a, std::size_t b) {
    const bool want = models_[a] == models_[b];
    const bool ab = slots_[a] == slots_[b];
    const bool ba = slots_[b] == slots_[a];
    const bool ne = slots_[a] != slots_[b];
    if (want && (!ab || !ba || ne)) return note_false_difference("operator==", a, b);
    COWDB_MODEL_CHECK(ab == want && ba == want && ne == !want,
                      "slots {} and {} (sizes {} and {}): operator== is not {}", a, b,
                      models_[a].size(), models_[b].size(), want);
  }

  // The rows of a slot: its model's values with the version's row ids.
  cowdb::testing::row_list<T> rows(std::size_t slot) const {
    cowdb::testing::row_list<T> out;
    out.reserve(models_[slot].size());
    for (std::size_t i = 0; i < models_[slot].size(); ++i) {
      out.push_back({slots_[slot].row_id(i), models_[slot][i]});
    }
    return out;
  }

  // A diff mismatch that corrupts nothing (see run_stats::diff_mismatches): counted, the first
  // kept, and the test case fails at its end.
  void note_diff_mismatch(const char* what, const std::string& why, std::size_t a, std::size_t b) {
    auto& c = stats_.diff_mismatches[what];
    if (why.empty()) return;
    if (c.first++ == 0) {
      c.second = fmt::format("diff(slot {}, slot {}) at step {}:{}", a, b, step_, why);
    }
  }

  // diff(a, b) against the row model (tests/testing/row_model.h): by row identity where the
  // versions share rows, by value where they share none; patch() onto a and onto a copy of a built
  // separately. Exact mismatches fail at once; a wrong patch onto the copy, and a wrong diff of
  // versions holding a row twice (concat of a version with itself), are counted.
  void check_diff(std::size_t a, std::size_t b) {
    const auto ma = rows(a), mb = rows(b);
    const auto d = cowdb::diff(slots_[a], slots_[b]);
    ++stats_.diffs;
    if (d.shifted()) ++stats_.shifted_diffs;
    cowdb::testing::diff_summary s;
    const std::string why = cowdb::testing::check_diff_result(d, ma, mb, &s, false);
    if (s.repeated) {
      ++stats_.repeated_diffs;
      note_diff_mismatch("diffs of versions holding a row twice", why, a, b);
    } else {
      COWDB_MODEL_CHECK(why.empty(), "diff(slot {}, slot {}):{}", a, b, why);
    }
    if (s.exact) ++stats_.exact_diffs;
    if (s.moved > 0) ++stats_.moved_diffs;
    if (one_in(2)) {
      note_diff_mismatch("patches onto a copy of from()",
                         cowdb::testing::check_patch_onto_copy(d, ma, mb), a, b);
    }
  }

  void check_after_step(std::size_t src, std::size_t dst) {
    check_invariants(dst);
    check_full(dst);
    stats_.max_size = std::max(stats_.max_size, models_[dst].size());
    stats_.max_depth = std::max(stats_.max_depth, depth_of(slots_[dst]));
    stats_.size_sum += models_[dst].size();
    if (step_ % 64 == 0) {
      for (std::size_t i = 0; i < kSlots; ++i) {
        check_invariants(i);
        check_full(i);
        check_deep(i);
      }
    } else {
      for (std::size_t i = 0; i < kSlots; ++i) check_light(i);
      if (one_in(8)) check_deep(dst);
    }
    check_equality(src, dst);
    check_equality(below(kSlots), below(kSlots));
    if (step_ % 8 == 0) check_diff(below(kSlots), one_in(3) ? dst : below(kSlots));
    if (step_ % 128 == 0) this->check_live_nodes();
  }
};
// ---- shapes ------------------------------------------------------------------------------------

// A tree shape and the number of operations to run on it. The operations sum to 1'000'000 per run.
template <class T, std::size_t ChunkBytes, std::size_t Fanout, std::uint64_t Ops>
struct shape {
  using vec = cowdb::pvec<T, ChunkBytes, Fanout>;
  static constexpr std::uint64_t ops = Ops;
};

using int_c1_f4 = shape<int, sizeof(int), 4, 220'000>;
using int_c2_f4 = shape<int, 2 * sizeof(int), 4, 220'000>;
using int_c4_f4 = shape<int, 4 * sizeof(int), 4, 220'000>;
using int_c4_f8 = shape<int, 4 * sizeof(int), 8, 190'000>;
using string_c2_f4 = shape<std::string, 2 * sizeof(std::string), 4, 150'000>;
static_assert(int_c1_f4::ops + int_c2_f4::ops + int_c4_f4::ops + int_c4_f8::ops +
                  string_c2_f4::ops >=
              1'000'000);

// ---- the focused diff test ---------------------------------------------------------------------

// One expected change of the focused test: `count` elements inserted before from()[from] (landing
// at to()[to]), or from()[from, from + count) erased (to() continuing at `to`).
struct expected_change {
  std::size_t from;
  std::size_t to;
  std::size_t count;
  bool insert;
  friend bool operator==(const expected_change&, const expected_change&) = default;
};

struct focused_stats {
  std::uint64_t trials = 0;
  std::uint64_t edits = 0;
  std::size_t max_leaf_pairs_per_edit = 0;
  std::size_t max_compared_per_edit = 0;
  std::size_t max_inner_pairs_per_edit = 0;
};

// b is derived from a by k inserts and erases of single elements (or, with `blocks`, of runs of
// up to 3 chunks) at positions spaced at least 4 chunks apart and away from the last chunks; the
// elements are distinct. diff(a, b) must report exactly those k changes as kInserted / kErased at
// their positions (nothing modified, appended or truncated), reading O(k) chunks; diff(b, a) the
// mirror image.
template <class Vec>
class focused_diff_runner {
 public:
  using tree = cowdb::internal::rbtree<int, Vec::chunk_capacity, Vec::fanout>;
  static constexpr std::size_t kCap = Vec::chunk_capacity;
  static constexpr std::size_t kGap = 4 * kCap + 2;  // between edits, and before the end
  static constexpr std::size_t kMaxBlock = 3 * kCap * Vec::fanout;  // largest inserted block

  explicit focused_diff_runner(std::uint64_t seed) : seed_(seed), rng_(seed) {}
  const focused_stats& stats() const { return stats_; }

  void run(std::uint64_t trials) {
    for (std::uint64_t trial = 0; trial < trials; ++trial) {
      const std::uint64_t seed = seed_;
      CAPTURE(seed, trial);
      one_trial(one_in(3));
      ++stats_.trials;
    }
  }

 private:
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }
  bool one_in(std::size_t n) { return below(n) == 0; }

  // A version of n distinct elements, built in one of several ways (regular or relaxed trees).
  Vec make_base(std::size_t n) {
    std::vector<int> m(n);
    for (int& x : m) x = next_id_++;
    switch (below(4)) {
      case 0:
        return Vec(m);
      case 1: {  // pieces concatenated
        Vec v;
        for (std::size_t k = 0; k < n;) {
          const std::size_t len = std::min(n - k, 1 + below(6 * kCap * Vec::fanout));
          v = v + Vec(m.begin() + static_cast<std::ptrdiff_t>(k),
                      m.begin() + static_cast<std::ptrdiff_t>(k + len));
          k += len;
        }
        return v;
      }
      case 2: {  // built from the front
        typename Vec::editor e;
        for (std::size_t k = n; k-- > 0;) e.push_front(m[k]);
        return std::move(e).persistent();
      }
      default: {  // a larger vector cut down by erases and a drop
        std::vector<int> big(n + n / 4 + 8);
        for (int& x : big) x = next_id_++;
        Vec v(big);
        while (v.size() > n + 4) {
          const std::size_t len = std::min(v.size() - n - 4, 1 + below(3 * kCap));
          const std::size_t i = below(v.size() - len + 1);
          v = v.erase(i, i + len);
        }
        return v.drop(4);
      }
    }
  }

  void one_trial(bool blocks) {
    const std::size_t n = 12 * kGap + below(1500);
    const Vec a = make_base(n);
    const std::vector<int> ma(a.begin(), a.end());
    // Blocks are kept further apart than their own size: a region holding a large inserted
    // block is only opened near its ends, so a second edit close to a block may share its
    // region and be reported as modified elements between the two.
    const std::size_t gap = blocks ? kGap + kMaxBlock : kGap;
    const std::size_t k = 1 + below(std::min<std::size_t>(8, n / gap / 2));
    // k positions of a, pairwise at least `gap` apart and at least kGap before the end.
    std::vector<std::size_t> at;
    while (at.size() < k) {
      const std::size_t p = below(n - kGap);
      bool ok = true;
      for (const std::size_t q : at) ok = ok && (p > q ? p - q : q - p) >= gap;
      if (ok) at.push_back(p);
    }
    std::sort(at.begin(), at.end());
    const unsigned mode = static_cast<unsigned>(below(3));  // inserts, erases, both
    std::vector<bool> is_insert(k);
    std::vector<std::size_t> count(k, 1);
    for (std::size_t j = 0; j < k; ++j) {
      is_insert[j] = mode == 0 || (mode == 2 && one_in(2));
      if (blocks) count[j] = 1 + below(is_insert[j] ? kMaxBlock : kGap - 2 * kCap);
    }
    // Apply the edits in random order, finding each position by element identity.
    std::vector<int> mb = ma;
    Vec b = a;
    std::vector<std::size_t> order(k);
    for (std::size_t j = 0; j < k; ++j) order[j] = j;
    std::shuffle(order.begin(), order.end(), rng_);
    std::vector<std::vector<int>> inserted(k);
    for (const std::size_t j : order) {
      const std::size_t i =
          static_cast<std::size_t>(std::find(mb.begin(), mb.end(), ma[at[j]]) - mb.begin());
      const auto pos = mb.begin() + static_cast<std::ptrdiff_t>(i);
      if (is_insert[j]) {
        std::vector<int>& ins = inserted[j];
        for (std::size_t c = 0; c < count[j]; ++c) ins.push_back(next_id_++);
        mb.insert(pos, ins.begin(), ins.end());
        b = insert(b, i, ins);
      } else {
        mb.erase(pos, pos + static_cast<std::ptrdiff_t>(count[j]));
        b = erase(b, i, count[j]);
      }
      stats_.edits += 1;
    }
    try {
      b.check_invariants();
    } catch (const std::logic_error& e) {
      FAIL(e.what());
    }
    REQUIRE(std::ranges::equal(b, mb));
    // The expected ranges, in order.
    std::vector<expected_change> want;
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t anchor = is_insert[j] ? static_cast<std::size_t>(inserted[j][0])
                                              : static_cast<std::size_t>(ma[at[j] + count[j]]);
      const auto to = static_cast<std::size_t>(
          std::find(mb.begin(), mb.end(), static_cast<int>(anchor)) - mb.begin());
      want.push_back({at[j], to, count[j], is_insert[j]});
    }
    check(a, b, want, "diff(a, b)");
    std::vector<expected_change> mirror;
    for (const expected_change& w : want) mirror.push_back({w.to, w.from, w.count, !w.insert});
    check(b, a, mirror, "diff(b, a)");
  }

  Vec insert(const Vec& v, std::size_t i, const std::vector<int>& ins) {
    if (ins.size() > 1) {
      switch (below(3)) {
        case 0:
          return v.insert(i, ins);
        case 1:
          return v.slice(0, i) + Vec(ins) + v.slice(i, v.size());
        default: {
          auto e = v.transient();
          e.insert(i, Vec(ins));
          return std::move(e).persistent();
        }
      }
    }
    switch (below(4)) {
      case 0:
        return i == 0 ? v.push_front(ins[0]) : v.insert(i, ins[0]);
      case 1:
        return Vec(v).insert(i, ins[0]);
      case 2:
        return v.insert(i, ins);
      default: {
        auto e = v.transient();
        e.insert(i, ins[0]);
        return std::move(e).persistent();
      }
    }
  }

  Vec erase(const Vec& v, std::size_t i, std::size_t len) {
    switch (below(4)) {
      case 0:
        return len == 1 ? v.erase(i) : v.erase(i, i + len);
      case 1:
        return Vec(v).erase(i, i + len);
      case 2:
        return i == 0 ? v.drop(len) : v.slice(0, i) + v.slice(i + len, v.size());
      default: {
        auto e = v.transient();
        if (len == 1) {
          e.erase(i);
        } else {
          e.erase(i, i + len);
        }
        return std::move(e).persistent();
      }
    }
  }

  void check(const Vec& from, const Vec& to, const std::vector<expected_change>& want,
             const char* what) {
    const auto d = cowdb::diff(from, to);
    std::vector<expected_change> got;
    for (const cowdb::diff_range& r : d.ranges()) {
      const bool ins = r.kind == change_kind::kInserted;
      const bool era = r.kind == change_kind::kErased;
      got.push_back({r.from_first(), r.to_first(), r.size(), ins});
      if (!ins && !era) {
        FAIL(
            fmt::format("{}: a range [{}, {}) of kind {} (sizes {} -> {}); every change was an "
                        "insert or an erase of {} edits:\n{}",
                        what, r.first, r.last, static_cast<int>(r.kind), from.size(), to.size(),
                        want.size(), describe(want)));
      }
    }
    if (got != want) {
      FAIL(fmt::format("{} (sizes {} -> {}): expected\n{}got\n{}", what, from.size(), to.size(),
                       describe(want), describe(got)));
    }
    std::size_t changed = 0;
    for (const expected_change& w : want) changed += w.count;
    CHECK(d.inserted_count() + d.erased_count() == changed);
    CHECK(d.modified_count() + d.appended_count() + d.truncated_count() == 0);
    CHECK(cowdb::patch(from, d) == to);
    // O(k) chunks read, whatever the size.
    const std::size_t k = want.size();
    const auto& st = d.stats();
    stats_.max_leaf_pairs_per_edit = std::max(stats_.max_leaf_pairs_per_edit, st.leaf_pairs / k);
    stats_.max_compared_per_edit = std::max(stats_.max_compared_per_edit, st.elements_compared / k);
    stats_.max_inner_pairs_per_edit = std::max(stats_.max_inner_pairs_per_edit, st.inner_pairs / k);
    const unsigned depth = std::max(pvec_access::rep(from).depth, pvec_access::rep(to).depth);
    // Leaves of an inserted or erased block count as examined (not read: see elements_compared).
    const std::size_t block_leaves = (changed - k) / tree::min_leaf;
    if (st.leaf_pairs > 8 * k + block_leaves || st.elements_compared > 8 * k * kCap + 2 * k ||
        st.inner_pairs > 4 * k * (depth + 1)) {
      FAIL(
          fmt::format("{}: read {} leaf pairs, {} inner pairs, compared {} elements for {} "
                      "edits (depth {}, sizes {} -> {})",
                      what, st.leaf_pairs, st.inner_pairs, st.elements_compared, k, depth,
                      from.size(), to.size()));
    }
  }

  static std::string describe(const std::vector<expected_change>& v) {
    std::string s;
    for (const expected_change& c : v) {
      s += fmt::format("  {} {} at from {}, to {}\n", c.insert ? "insert" : "erase", c.count,
                       c.from, c.to);
    }
    return s;
  }

  std::uint64_t seed_;
  std::mt19937_64 rng_;
  int next_id_ = 0;
  focused_stats stats_;
};

std::uint64_t announced_seed() {
  static const std::uint64_t seed = cowdb::testing::announce_seed("pvec structural model test");
  return seed;
}

bool verbose() { return std::getenv("COWDB_MODEL_VERBOSE") != nullptr; }

}  // namespace

TEMPLATE_TEST_CASE(
    "pvec structural model: insert/erase/drop/slice/concat on 8 live versions "
    "match std::vector",
    "[pvec][model][structural]", int_c1_f4, int_c2_f4, int_c4_f4, int_c4_f8, string_c2_f4) {
  using vec = typename TestType::vec;
  const std::uint64_t seed = announced_seed();
  const std::int64_t live0 = live_nodes();
  REQUIRE(live0 >= 0);  // COWDB_TRACK_NODES is on
  const std::uint64_t checks0 = g_model_checks;
  run_stats stats;
  {
    structural_runner<vec> runner(seed, live0);
    runner.run(TestType::ops);
    stats = runner.stats();
  }
  if (verbose()) {
    fmt::print(
        "  {}-byte elements, chunk {}, fanout {}: {} steps, {} ops ({} structural, {} in "
        "editors), {} injected allocation failures, {} diffs ({} shifted, {} by row identity, {} "
        "with moves, {} with a row twice), {} checks, max size "
        "{}, max depth {}, mean size {:.1f}\n",
        sizeof(typename vec::value_type), vec::chunk_capacity, vec::fanout, stats.steps, stats.ops,
        stats.structural_ops, stats.editor_ops, stats.alloc_failures, stats.diffs,
        stats.shifted_diffs, stats.exact_diffs, stats.moved_diffs, stats.repeated_diffs,
        g_model_checks - checks0, stats.max_size, stats.max_depth,
        static_cast<double>(stats.size_sum) / static_cast<double>(stats.steps));
  }
  CHECK(stats.ops >= TestType::ops);
  CHECK(g_model_checks - checks0 > 10 * TestType::ops);
  CHECK(stats.max_size >= 600);  // the trees did get deep
  CHECK(stats.alloc_failures > 0);
  CHECK(stats.shifted_diffs > 0);
  CHECK(stats.exact_diffs > 0);
  CHECK(stats.moved_diffs > 0);
  INFO("first: " << stats.first_false_difference);
  CHECK(stats.false_differences == 0);
  for (const auto& [what, c] : stats.diff_mismatches) {
    INFO(what << " unlike the row model: " << c.first << "; the first: " << c.second);
    CHECK(c.first == 0);
  }
  // Every slot, editor and temporary is gone: no node may be left.
  REQUIRE(live_nodes() == live0);
}

TEMPLATE_TEST_CASE(
    "pvec structural model: diff reports k spaced inserts/erases as exactly k "
    "inserted/erased elements, reading O(k) chunks",
    "[pvec][model][structural][diff]", int_c1_f4, int_c2_f4, int_c4_f4, int_c4_f8) {
  using vec = typename TestType::vec;
  const std::uint64_t seed = announced_seed();
  focused_stats stats;
  {
    focused_diff_runner<vec> runner(seed);
    runner.run(600);
    stats = runner.stats();
  }
  if (verbose()) {
    fmt::print(
        "  focused diff, chunk {}, fanout {}: {} trials, {} edits; per edit at most {} leaf "
        "pairs, {} inner pairs, {} elements compared\n",
        vec::chunk_capacity, vec::fanout, stats.trials, stats.edits, stats.max_leaf_pairs_per_edit,
        stats.max_inner_pairs_per_edit, stats.max_compared_per_edit);
  }
  CHECK(stats.trials == 600);
}
