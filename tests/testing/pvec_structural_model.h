// Model-based randomized test of pvec's structural operations (insert, erase, drop, slice,
// push_front, concat and their editor forms) and row operations (erase_if, filter, sort and
// stable_sort with comparators and key projections, append of a range or a version, emplace,
// editor insert(i, T&&)), mixed with the positional ones, against std::vector; plus diff()
// between the resulting versions.
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
// 40 runs under allocation-failure injection (the row operations too): it completes or throws
// std::bad_alloc and changes nothing. A run is 1'000'000 operations (persistent writes plus
// editor operations) over five shapes. Every check fails at once, with two exceptions: equal
// versions that compare unequal are counted and fail the test case at its end, so that the run
// goes on past them (see "false differences" below and tests/regress/pvec_structural_regress.cc);
// and so are erase_if sharing shortfalls (below) and diff mismatches of two classes (a wrong
// patch onto a copy of from(), and a wrong diff of versions that hold a row twice, which
// concat(v, v) and inserting a slot into itself make).
//
// Row identity: next to its values, each slot (and the editor of a session) has a model of its
// rows' ids (testing/pvec_model.h). After every step the id of every row of every slot is
// checked (row_id(i) for the destination, and for all slots every 64 steps; the leaves' id runs
// for the others); after every editor operation those of the editor's first, last and one random
// row, all of them at the end of the session. Operations that keep rows move their ids like
// their values (erase_if/filter: the ids of the rows kept, in order; stable_sort: the stable
// order of (value, id); concat, append and insert of a version: its ids); sort is not stable, so
// its result must be sorted and hold the source's (value, id) pairs. New rows (push_back, insert
// of values, resize, emplace, append(range), construction) must get ids never seen before.
// erase_if/filter removing nothing and sorts of a sorted version must return the source version
// itself; erase_if/filter must share the source's chunks it removed nothing from (at most one
// per run of changed chunks may be copied to keep the leaves half full; see
// tests/regress/pvec_rows_regress.cc). One erase_if, filter or sort in 12 gets a predicate,
// comparator or projection that throws part way: nothing may change.
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
//
// This header is the test's one body; tests/model/pvec_structural_<shape>_test.cc instantiate it
// for one shape each (COWDB_PVEC_STRUCTURAL_MODEL_TEST, COWDB_PVEC_FOCUSED_DIFF_TEST), so that
// the shapes compile in parallel, each in a fifth of the time the single file took.
//
// Thread-compatible, like testing/pvec_model.h.
#ifndef COWDB_TESTS_TESTING_PVEC_STRUCTURAL_MODEL_H_
#define COWDB_TESTS_TESTING_PVEC_STRUCTURAL_MODEL_H_

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <new>
#include <numeric>
#include <random>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/internal/node.h"
#include "cowdb/internal/rbtree.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/pvec_model.h"
#include "testing/row_model.h"

namespace cowdb::testing::structural {

using cowdb::change_kind;
using cowdb::internal::live_nodes;
using cowdb::internal::pvec_access;
using cowdb::testing::alloc_failure_scope;
using cowdb::testing::g_editor_op;
using cowdb::testing::g_editor_op_index;
using cowdb::testing::g_model_checks;
using cowdb::testing::ids_model;
using cowdb::testing::injected_error;
using cowdb::testing::kConstRef;
using cowdb::testing::keep_rows;
using cowdb::testing::kMoveInPlace;
using cowdb::testing::kNewRow;
using cowdb::testing::mapper;
using cowdb::testing::values;
using cowdb::testing::write_ctx;

// ---- row operations: predicates, orders, constructor arguments ---------------------------------

// A sort key with many ties (sorts by it are not determined by the values): for int x / 64 (16
// keys over 0..999), for a string its length.
inline int sort_key(int x) { return x / 64; }
inline int sort_key(const std::string& x) { return static_cast<int>(x.size()); }

inline std::size_t hash_of(int x) {
  return static_cast<std::size_t>(x) * 0x9E3779B97F4A7C15ull >> 17;
}
inline std::size_t hash_of(const std::string& x) { return std::hash<std::string>{}(x); }

// With a counter, throws injected_error at the call after `*calls_left` successful ones.
inline void tick(int* calls_left) {
  if (calls_left != nullptr && (*calls_left)-- <= 0) throw injected_error();
}

// The predicates given to erase_if and filter, on a row's value; `negate` (for filter) turns
// "the rows to remove" into "the rows to keep".
template <class T>
struct row_pred {
  enum kind_t : unsigned { kNone, kAll, kValues, kHash };
  kind_t kind = kNone;
  std::vector<T> values;  // kValues: true for these (sorted)
  std::size_t mod = 1;    // kHash: true when hash % mod == rem
  std::size_t rem = 0;
  bool negate = false;
  int* calls_left = nullptr;
  bool operator()(const T& x) const {
    tick(calls_left);
    return test(x) != negate;
  }
  bool test(const T& x) const {
    switch (kind) {
      case kNone: return false;
      case kAll: return true;
      case kValues: return std::binary_search(values.begin(), values.end(), x);
      default: return hash_of(x) % mod == rem;
    }
  }
};

// The orders of sort and stable_sort: 0 sort() (the defaults: operator<), 1 std::ranges::greater,
// 2 std::ranges::less with the projection sort_key, 3 a comparator of rows by sort_key
// (descending), 4 std::ranges::greater with the projection sort_key. Orders 2-4 have ties between
// unequal values.
inline constexpr unsigned kOrders = 5;

template <class T>
bool ordered_before(unsigned order, const T& a, const T& b) {
  switch (order) {
    case 0: return a < b;
    case 1: return b < a;
    case 2: return sort_key(a) < sort_key(b);
    default: return sort_key(a) > sort_key(b);
  }
}

// A comparator that counts its calls (see tick).
template <class C>
struct counted {
  C comp;
  int* calls_left;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    tick(calls_left);
    return comp(a, b);
  }
};
struct key_proj {
  int* calls_left = nullptr;
  template <class T>
  int operator()(const T& x) const {
    tick(calls_left);
    return sort_key(x);
  }
};
struct key_greater {
  template <class T>
  bool operator()(const T& a, const T& b) const {
    return sort_key(a) > sort_key(b);
  }
};

// t.sort(...) or t.stable_sort(...) (t a pvec or an editor) in the order `order`; with
// `calls_left`, its comparator (orders 0, 1, 3) or projection (2, 4) counts calls and throws.
template <class Target>
auto sort_by(Target& t, bool stable, unsigned order, int* calls_left) {
  auto go = [&](auto comp, auto proj) {
    return stable ? t.stable_sort(comp, proj) : t.sort(comp, proj);
  };
  switch (order) {
    case 0:
      if (calls_left == nullptr) return stable ? t.stable_sort() : t.sort();
      return go(counted<std::ranges::less>{{}, calls_left}, std::identity{});
    case 1: return go(counted<std::ranges::greater>{{}, calls_left}, std::identity{});
    case 2: return go(std::ranges::less{}, key_proj{calls_left});
    case 3: return go(counted<key_greater>{{}, calls_left}, std::identity{});
    default: return go(std::ranges::greater{}, key_proj{calls_left});
  }
}

// emplace(i, args...) with constructor arguments drawn from r: value(r) is the row it makes,
// call(t, i, r) makes it in t (a pvec or an editor).
template <class T>
struct emplacer;

template <>
struct emplacer<int> {
  static int value(std::uint64_t r) { return r % 4 == 0 ? 0 : values<int>::make(r >> 2); }
  template <class Target>
  static auto call(Target& t, std::size_t i, std::uint64_t r) {
    if (r % 4 == 0) return t.emplace(i);
    return t.emplace(i, values<int>::make(r >> 2));
  }
};

template <>
struct emplacer<std::string> {
  static std::string value(std::uint64_t r) {
    switch (r % 8) {
      case 0: return {};
      case 1: return "emplaced";
      default: return std::string(r / 8 % 24, static_cast<char>('a' + r / 256 % 26));
    }
  }
  template <class Target>
  static auto call(Target& t, std::size_t i, std::uint64_t r) {
    switch (r % 8) {
      case 0: return t.emplace(i);
      case 1: return t.emplace(i, "emplaced");
      default:
        return t.emplace(i, r / 8 % 24, static_cast<char>('a' + r / 256 % 26));  // (count, c)
    }
  }
};

// ---- the test driver ----------------------------------------------------------------------------

// This driver's configuration: the operations it runs, in the order and with the weights a
// recorded seed replays (testing/pvec_ops.h).
// clang-format off
inline constexpr op_weight kOps[] = {
    {pvec_op::kCopy, 4},
    {pvec_op::kPushBack, 7},
    {pvec_op::kPopBack, 5},
    {pvec_op::kSet, 6},
    {pvec_op::kUpdate, 2},
    {pvec_op::kTake, 3},
    {pvec_op::kResize, 3},
    {pvec_op::kTransformRange, 3},
    {pvec_op::kInsert, 10},
    {pvec_op::kInsertRange, 6},
    {pvec_op::kPushFront, 4},
    {pvec_op::kErase, 9},
    {pvec_op::kEraseRange, 6},
    {pvec_op::kDrop, 4},
    {pvec_op::kSlice, 5},
    {pvec_op::kConcat, 7},
    {pvec_op::kEditor, 3},
    {pvec_op::kConstruct, 2},
    {pvec_op::kClear, 1},
    {pvec_op::kEraseIf, 3},
    {pvec_op::kFilter, 2},
    {pvec_op::kSort, 2},
    {pvec_op::kStableSort, 2},
    {pvec_op::kAppendRange, 3},
    {pvec_op::kEmplace, 3},
};
// clang-format on

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
  std::uint64_t row_ops = 0;  // erase_if, filter, sorts, append(range), emplace, insert(T&&)
  std::uint64_t throwing_functors = 0;  // of them, with a predicate or comparator that threw
  std::uint64_t same_version = 0;       // nothing to remove or already sorted: the source returned
  std::uint64_t sharing_checks = 0;     // erase_if/filter results checked for the chunks they share
  // erase_if/filter results that shared fewer chunks than their source's untouched ones allow
  // (counted, and the test case fails at its end, like false differences).
  std::uint64_t sharing_shortfalls = 0;
  std::string first_sharing_shortfall;
  // Diff mismatches that corrupt nothing, by class: how many, and the first.
  std::map<std::string, std::pair<std::uint64_t, std::string>> diff_mismatches;
};

template <class Vec>
class structural_runner
    : public cowdb::testing::slot_model<structural_runner<Vec>, Vec, run_stats> {
  using base = cowdb::testing::slot_model<structural_runner<Vec>, Vec, run_stats>;
  friend base;

 public:
  using base::kCap, base::kFanout, base::kPatchCap, base::kSlots, typename base::editor,
      typename base::model, typename base::T, typename base::tree;
  static constexpr std::size_t kMaxSize = 1200;
  static_assert(kFanout >= 4, "the structural operations need a fan-out of at least 4");

  structural_runner(std::uint64_t seed, std::int64_t live_baseline)
      : base(seed, live_baseline, /*packed_leaves=*/false, /*track_ids=*/true) {}

  // Runs steps until `ops` operations (persistent writes and editor operations) have been done.
  void run(std::uint64_t ops) {
    g_editor_op = nullptr;
    for (step_ = 0; stats_.ops < ops; ++step_) this->run_step(kOps);
    this->check_live_nodes();
  }

 private:
  using base::below, base::check_editor_full, base::check_editor_light, base::check_ids,
      base::check_ids_of, base::check_indexed, base::check_throws, base::depth_of, base::freeze,
      base::ids_, base::make_value, base::models_, base::one_in, base::rng_, base::slots_,
      base::stats_, base::step_, base::take_new_ids, base::write, base::write_throws;

  // Id functions (see testing/pvec_model.h): what an operation does to the rows' ids.
  // `count` new rows before row i.
  static auto new_rows_at(std::size_t i, std::size_t count) {
    return [i, count](ids_model& ids) {
      ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(i), count, kNewRow);
    };
  }

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
      case 0: return 0;
      case 1: return n - 1;
      case 2: return std::min(n - 1, below(2 * kCap + 1));
      default: return below(n);
    }
  }
  // A position in [0, n] (an insertion point), often at an end.
  std::size_t random_pos(std::size_t n) {
    switch (below(8)) {
      case 0: return 0;
      case 1: return n;
      case 2: return n - std::min(n, below(2 * kCap + 1));
      default: return below(n + 1);
    }
  }

  // Allocations allowed before an injected failure, for a write or an edit reading `v`.
  template <class V>
  static std::size_t alloc_budget_bound(const V& v, std::size_t) {
    return 3 * depth_of(v) + 6;
  }

  // ---- one step ---------------------------------------------------------------------------------

  void apply(pvec_op code, const write_ctx& c) {
    switch (code) {
      case pvec_op::kCopy:
        slots_[c.dst] = slots_[c.src];
        models_[c.dst] = models_[c.src];
        ids_[c.dst] = ids_[c.src];
        ++stats_.ops;
        return;
      case pvec_op::kPushBack: return op_push_back(c);
      case pvec_op::kPopBack: return this->op_pop_back(c);
      case pvec_op::kSet: return op_set(c);
      case pvec_op::kUpdate: return op_update(c);
      case pvec_op::kTake: return op_take(c);
      case pvec_op::kResize: return op_resize(c);
      case pvec_op::kTransformRange: return op_transform(c);
      case pvec_op::kInsert: return op_insert(c, false);
      case pvec_op::kPushFront: return op_insert(c, true);
      case pvec_op::kInsertRange: return op_insert_range(c);
      case pvec_op::kErase: return op_erase(c);
      case pvec_op::kEraseRange: return op_erase_range(c);
      case pvec_op::kDrop: return op_drop(c);
      case pvec_op::kSlice: return op_slice(c);
      case pvec_op::kConcat: return op_concat(c);
      case pvec_op::kEditor: return op_editor(c);
      case pvec_op::kConstruct: return op_construct(c.dst);
      case pvec_op::kClear:
        slots_[c.dst] = c.form == kConstRef ? Vec() : slots_[c.src].slice(0, 0);
        models_[c.dst].clear();
        ids_[c.dst].clear();
        ++stats_.ops;
        return;
      case pvec_op::kEraseIf: return op_erase_if(c, /*filter=*/false);
      case pvec_op::kFilter: return op_erase_if(c, /*filter=*/true);
      case pvec_op::kSort: return op_sort(c, /*stable=*/false);
      case pvec_op::kStableSort: return op_sort(c, /*stable=*/true);
      case pvec_op::kAppendRange: return op_append_range(c);
      case pvec_op::kEmplace: return op_emplace(c);
      default: COWDB_MODEL_CHECK(false, "{} is not in this test's table", op_name(code));
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
        [&](model& mod) { mod.push_back(x); }, [](ids_model& ids) { ids.push_back(kNewRow); });
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
        [&](model& mod) { mod[i] = x; }, keep_rows{});
  }

  void op_update(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    if (n == 0) return op_push_back(c);
    const std::size_t i = random_index(n);
    const unsigned kind = static_cast<unsigned>(below(3));
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).update(i, mapper<T>{kind}); },
        [&](model& mod) { mod[i] = values<T>::map(kind, mod[i]); }, keep_rows{});
  }

  void op_take(const write_ctx& c) {
    const std::size_t n = one_in(3) ? random_size() : below(models_[c.src].size() + 2);
    auto cut = [&](auto& mod) { mod.resize(std::min(n, mod.size())); };
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).take(n); }, cut, cut);
  }

  void op_resize(const write_ctx& c) {
    const std::size_t size = models_[c.src].size();
    const std::size_t n = one_in(2) ? random_size() : size - std::min(size, below(4)) + below(8);
    const T x = make_value();
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).resize(n, x); },
        [&](model& mod) { mod.resize(n, x); }, [&](ids_model& ids) { ids.resize(n, kNewRow); });
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
        },
        keep_rows{});
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
                  [&](model& mod) { mod.insert(mod.begin(), x); }, new_rows_at(0, 1))
            : write(
                  c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, x); },
                  [&](model& mod) { mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), x); },
                  new_rows_at(i, 1));
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
      ids_model pids = ids_[o];  // inserting a version keeps its rows
      if (pm.size() > room) {
        piece = piece.slice(0, room);
        pm.resize(room);
        pids.resize(room);
      }
      auto ins = [&](auto& mod, const auto& part) {
        mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), part.begin(), part.end());
      };
      const bool done = write(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, piece); },
          [&](model& mod) { ins(mod, pm); }, [&](ids_model& ids) { ins(ids, pids); });
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
          },
          new_rows_at(i, r.size()));
    } else {
      auto view = std::views::iota(0) | std::views::take(static_cast<int>(r.size())) |
                  std::views::transform([&r](int k) { return T(r[static_cast<std::size_t>(k)]); });
      done = write(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).insert(i, view); },
          [&](model& mod) {
            mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), r.begin(), r.end());
          },
          new_rows_at(i, r.size()));
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
    auto cut = [&](auto& mod) { mod.erase(mod.begin() + static_cast<std::ptrdiff_t>(i)); };
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).erase(i); }, cut, cut);
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
    auto cut = [&](auto& mod) {
      mod.erase(mod.begin() + static_cast<std::ptrdiff_t>(first),
                mod.begin() + static_cast<std::ptrdiff_t>(last));
    };
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).erase(first, last); }, cut,
        cut);
    if (done) check_sharing(c.src, c.dst, nullptr, 6, "erase(first, last)");
  }

  void op_drop(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    const std::size_t k = one_in(4) ? random_size() : one_in(2) ? small_count() : below(n + 2);
    ++stats_.structural_ops;
    auto cut = [&](auto& mod) {
      mod.erase(mod.begin(), mod.begin() + static_cast<std::ptrdiff_t>(std::min(k, mod.size())));
    };
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).drop(k); }, cut, cut);
    if (done) check_sharing(c.src, c.dst, nullptr, 4, "drop");
  }

  void op_slice(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    std::size_t first = below(n + 2), last = below(n + 3);
    if (!one_in(8) && first > last) std::swap(first, last);  // else an empty slice
    if (one_in(8)) last = std::numeric_limits<std::size_t>::max();
    ++stats_.structural_ops;
    auto cut = [&](auto& mod) {
      const std::size_t hi = std::min(last, mod.size());
      using M = std::remove_reference_t<decltype(mod)>;
      mod = first < hi ? M(mod.begin() + static_cast<std::ptrdiff_t>(first),
                           mod.begin() + static_cast<std::ptrdiff_t>(hi))
                       : M();
    };
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).slice(first, last); }, cut,
        cut);
    if (done) check_sharing(c.src, c.dst, nullptr, 8, "slice");
  }

  // concat(src, other), other + src, concat(src, src), append(pvec) ...; `other` is sliced to
  // keep sizes in bounds. Every row keeps its id.
  void op_concat(const write_ctx& c) {
    ++stats_.ops;
    ++stats_.structural_ops;
    const std::size_t o = below(kSlots);
    Vec b = slots_[o];
    model mb = models_[o];
    ids_model ib = ids_[o];
    const std::size_t na = models_[c.src].size();
    if (na + mb.size() > kMaxSize) {
      const std::size_t keep = kMaxSize > na ? below(kMaxSize - na + 1) : 0;
      const std::size_t from = below(mb.size() - std::min(keep, mb.size()) + 1);
      b = b.slice(from, from + keep);
      auto cut = [&](auto& mod) {
        using M = std::remove_reference_t<decltype(mod)>;
        mod = M(mod.begin() + static_cast<std::ptrdiff_t>(std::min(from, mod.size())),
                mod.begin() + static_cast<std::ptrdiff_t>(std::min(from + keep, mod.size())));
      };
      cut(mb);
      cut(ib);
    }
    const bool b_first = one_in(3);
    model m = models_[c.src];
    m.insert(b_first ? m.begin() : m.end(), mb.begin(), mb.end());
    ids_model ids = ids_[c.src];
    ids.insert(b_first ? ids.begin() : ids.end(), ib.begin(), ib.end());
    Vec out;
    bool failed = false;
    {
      const Vec& a = slots_[c.src];
      // (Both operands of append are const: see tests/regress/pvec_rows_regress.cc for the
      // non-const and rvalue arguments.)
      const Vec& cb = b;
      auto run = [&] {
        switch (below(4)) {
          case 0: return b_first ? concat(cb, a) : concat(a, cb);
          case 1: return b_first ? cb + a : a + cb;
          case 2:  // pvec::append(const pvec&)
            return b_first ? cb.append(a) : a.append(cb);
          default: {  // editor append
            editor e = b_first ? cb.transient() : a.transient();
            e.append(b_first ? a : cb);
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
    ids_[c.dst] = std::move(ids);
    check_sharing(c.src, c.dst, &b, 2, "concat");
  }

  void op_construct(std::size_t d) {
    ++stats_.ops;
    const std::size_t n = random_size();
    model m(n);
    for (T& x : m) x = make_value();
    switch (below(3)) {
      case 0: slots_[d] = Vec(m); break;
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
    ids_model ids(n, kNewRow);
    take_new_ids(slots_[d], ids, "constructed");
    ids_[d] = std::move(ids);
  }

  // ---- row operations ---------------------------------------------------------------------------

  // The rows to remove from m, as a predicate on their values: none, all, the values of a window
  // of rows (removes runs of neighbours, so chunks lose most of their rows), or a hash class
  // (scattered rows). For filter (`keep`), negated: the same rows are removed.
  row_pred<T> random_pred(const model& m, bool keep) {
    using P = row_pred<T>;
    P p;
    p.negate = keep;
    const std::size_t n = m.size();
    const std::size_t r = below(16);
    if (r < 2) {
      p.kind = P::kNone;
    } else if (r < 3) {
      p.kind = P::kAll;
    } else if (r < 10) {
      {
        p.kind = P::kValues;
        const std::size_t first = below(n + 1);
        const std::size_t len = one_in(4) ? below(n + 1) : 1 + below(3 * kCap);
        p.values.assign(m.begin() + static_cast<std::ptrdiff_t>(first),
                        m.begin() + static_cast<std::ptrdiff_t>(std::min(n, first + len)));
        std::sort(p.values.begin(), p.values.end());
        p.values.erase(std::unique(p.values.begin(), p.values.end()), p.values.end());
      }
    } else {
      p.kind = P::kHash;
      p.mod = 2 + below(9);
      p.rem = below(p.mod);
    }
    return p;
  }

  // Removes from `mod` (values or ids, parallel to `vals`) the rows whose value `removes`.
  template <class M, class Removes>
  static void remove_rows(M& mod, const model& vals, const Removes& removes) {
    std::size_t w = 0;
    for (std::size_t k = 0; k < vals.size(); ++k) {
      if (!removes(vals[k])) mod[w++] = mod[k];
    }
    mod.resize(w);
  }

  // erase_if(pred), or filter(pred) (which keeps the rows erase_if(pred) removes). The rows kept
  // keep their ids; with nothing removed the source version itself comes back; every chunk with
  // nothing removed is shared (check_erase_if_sharing). One in 12 with a predicate that throws
  // part way (before its n-th call; erase_if calls it once per row): nothing changes.
  void op_erase_if(const write_ctx& c, bool filter) {
    ++stats_.row_ops;
    const model ms = models_[c.src];
    const std::size_t n = ms.size();
    row_pred<T> pred = random_pred(ms, filter);
    auto removes = [&](const T& x) { return pred(x) != filter; };
    auto call = [filter](auto&& vec, const row_pred<T>& p) {
      return filter ? vec.filter(p) : std::forward<decltype(vec)>(vec).erase_if(p);
    };
    if (n > 0 && one_in(12)) {
      ++stats_.throwing_functors;
      int calls_left = static_cast<int>(below(n));
      row_pred<T> throwing = pred;
      throwing.calls_left = &calls_left;
      return this->template write_throws<injected_error>(
          c, [&](auto&& vec) { return call(std::forward<decltype(vec)>(vec), throwing); },
          filter ? "filter with a throwing predicate" : "erase_if with a throwing predicate");
    }
    const std::size_t removed =
        static_cast<std::size_t>(std::count_if(ms.begin(), ms.end(), removes));
    const void* src_id = slots_[c.src].identity();
    const bool done = write(
        c, [&](auto&& vec) { return call(std::forward<decltype(vec)>(vec), pred); },
        [&](model& mod) { remove_rows(mod, ms, removes); },
        [&](ids_model& ids) { remove_rows(ids, ms, removes); });
    if (!done) return;
    if (removed == 0) {
      ++stats_.same_version;
      COWDB_MODEL_CHECK(slots_[c.dst].identity() == src_id,
                        "{} removing nothing did not return the same version",
                        filter ? "filter" : "erase_if");
    }
    if (c.src != c.dst && removed > 0 && one_in(2)) check_erase_if_sharing(c.src, c.dst, removes);
  }

  // Every chunk of the source from which erase_if removed nothing should be shared with the
  // result, except that a run of chunks that lost rows may leave a leaf below half full, which
  // (I2) must take rows from a neighbour: at most one untouched chunk copied per such run. (The
  // source's thin last chunk is not counted.) A shortfall is counted, and fails the test case at
  // its end.
  template <class Removes>
  void check_erase_if_sharing(std::size_t src, std::size_t dst, const Removes& removes) {
    ++stats_.sharing_checks;
    const Vec& from = slots_[src];
    std::size_t untouched = 0, touched = 0, runs = 0;
    bool prev_touched = false;
    from.for_each_chunk([&](const T* first, const T* last) {
      const bool t = std::any_of(first, last, removes);
      if (t) {
        ++touched;
        if (!prev_touched) ++runs;
      } else if (static_cast<std::size_t>(last - first) >= tree::min_leaf) {
        ++untouched;
      }
      prev_touched = t;
    });
    const std::size_t shared = slots_[dst].shared_with(from).leaves;
    const std::size_t want = untouched - std::min(untouched, runs);
    if (shared >= want) return;
    if (stats_.sharing_shortfalls++ == 0) {
      stats_.first_sharing_shortfall = fmt::format(
          "step {}: slot {} (size {}, {} chunks untouched, {} touched in {} runs) -> slot {} "
          "(size {}) shares {} chunks, expected at least {}",
          step_, src, models_[src].size(), untouched, touched, runs, dst, models_[dst].size(),
          shared, want);
    }
  }

  // The version's rows as (value, id) pairs, sorted: equal for two versions holding the same
  // rows in any order.
  template <class V>
  static std::vector<std::pair<T, cowdb::row_id_t>> row_multiset(const V& v) {
    std::vector<std::pair<T, cowdb::row_id_t>> rows;
    rows.reserve(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) rows.emplace_back(v[k], v.row_id(k));
    std::sort(rows.begin(), rows.end());
    return rows;
  }
  static std::vector<std::pair<T, cowdb::row_id_t>> row_multiset(const model& m,
                                                                 const ids_model& ids) {
    std::vector<std::pair<T, cowdb::row_id_t>> rows;
    rows.reserve(m.size());
    for (std::size_t k = 0; k < m.size(); ++k) rows.emplace_back(m[k], ids[k]);
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  // The model of stable_sort: the rows (values and ids) in the stable order.
  static void stable_sorted(unsigned order, model& m, ids_model& ids) {
    std::vector<std::size_t> idx(m.size());
    std::iota(idx.begin(), idx.end(), std::size_t{0});
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
      return ordered_before(order, m[a], m[b]);
    });
    model sm;
    ids_model si;
    for (const std::size_t k : idx) {
      sm.push_back(m[k]);
      si.push_back(ids[k]);
    }
    m = std::move(sm);
    ids = std::move(si);
  }

  // sort(...) is not stable: its result `v` (a version or an editor) must be sorted and hold the
  // rows (value, id) the source held; the models take what it holds.
  template <class V>
  void take_sorted(const V& v, unsigned order, const model& m, const ids_model& ids, model& out,
                   ids_model& out_ids, const char* what) {
    model got(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) got[k] = v[k];
    COWDB_MODEL_CHECK(
        std::is_sorted(got.begin(), got.end(),
                       [order](const T& a, const T& b) { return ordered_before(order, a, b); }),
        "{}: sort in order {} of {} rows is not sorted", what, order, m.size());
    COWDB_MODEL_CHECK(row_multiset(v) == row_multiset(m, ids),
                      "{}: sort in order {} does not hold the source's rows (value, id)", what,
                      order);
    out = std::move(got);
    out_ids.resize(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) out_ids[k] = v.row_id(k);
  }

  // sort or stable_sort in one of the orders (comparators, projections). Every row keeps its id:
  // stable_sort's result is exactly the stable order of the source's (value, id) rows; sort's is
  // sorted and holds the same rows. An already sorted source comes back as itself. One in 12
  // with a comparator or projection that throws part way (before its (n-1)-th call: checking
  // the order alone takes n - 1 comparisons): nothing changes.
  void op_sort(const write_ctx& c, bool stable) {
    ++stats_.row_ops;
    const model ms = models_[c.src];
    const ids_model is = ids_[c.src];
    const std::size_t n = ms.size();
    const unsigned order = static_cast<unsigned>(below(kOrders));
    if (n > 1 && one_in(12)) {
      ++stats_.throwing_functors;
      int calls_left = static_cast<int>(below(n - 1));
      return this->template write_throws<injected_error>(
          c, [&](auto&& vec) { return sort_by(vec, stable, order, &calls_left); },
          stable ? "stable_sort with a throwing comparator" : "sort with a throwing comparator");
    }
    const bool sorted = std::is_sorted(ms.begin(), ms.end(), [order](const T& a, const T& b) {
      return ordered_before(order, a, b);
    });
    const void* src_id = slots_[c.src].identity();
    auto vf = [&](auto&& vec) { return sort_by(vec, stable, order, nullptr); };
    bool done;
    if (stable) {
      model sm = ms;
      ids_model si = is;
      stable_sorted(order, sm, si);
      done = write(
          c, vf, [&](model& mod) { mod = sm; }, [&](ids_model& ids) { ids = si; });
    } else {
      done = write(
          c, vf, [](model&) {}, keep_rows{});
      if (done) take_sorted(slots_[c.dst], order, ms, is, models_[c.dst], ids_[c.dst], "slot");
    }
    if (done && sorted) {
      ++stats_.same_version;
      COWDB_MODEL_CHECK(slots_[c.dst].identity() == src_id,
                        "{} of a sorted version (order {}) did not return the same version",
                        stable ? "stable_sort" : "sort", order);
    }
  }

  // append(range) of a vector or a view yielding prvalues: new rows, fresh ids.
  void op_append_range(const write_ctx& c) {
    ++stats_.row_ops;
    const std::size_t n = models_[c.src].size();
    if (n >= kMaxSize) return op_erase_if(c, false);
    model r(std::min(kMaxSize - n, small_count()));
    for (T& x : r) x = make_value();
    auto mf = [&](model& mod) { mod.insert(mod.end(), r.begin(), r.end()); };
    auto idf = [&](ids_model& ids) { ids.resize(ids.size() + r.size(), kNewRow); };
    if (one_in(2)) {
      write(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).append(r); }, mf, idf);
      return;
    }
    auto view = std::views::iota(0) | std::views::take(static_cast<int>(r.size())) |
                std::views::transform([&r](int k) { return T(r[static_cast<std::size_t>(k)]); });
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).append(view); }, mf, idf);
  }

  // emplace(i, args...): a new row made from constructor arguments, or past the end
  // std::out_of_range.
  void op_emplace(const write_ctx& c) {
    ++stats_.row_ops;
    const std::size_t n = models_[c.src].size();
    const std::uint64_t r = rng_();
    if (one_in(24)) {
      const std::size_t i = n + 1 + below(3);
      return write_throws(
          c, [&](auto&& vec) { return emplacer<T>::call(vec, i, r); }, "emplace() past the end");
    }
    if (n >= kMaxSize) return op_erase(c);
    const std::size_t i = random_pos(n);
    const T x = emplacer<T>::value(r);
    write(
        c, [&](auto&& vec) { return emplacer<T>::call(vec, i, r); },
        [&](model& mod) { mod.insert(mod.begin() + static_cast<std::ptrdiff_t>(i), x); },
        new_rows_at(i, 1));
  }

  // ---- editor sessions -------------------------------------------------------------------------

  editor start_editor(const write_ctx& c, model& em) {
    em = models_[c.src];
    eids_ = ids_[c.src];
    switch (below(4)) {
      case 0: return slots_[c.src].transient();
      case 1: return Vec(slots_[c.src]).transient();
      case 2:
        if (c.src == c.dst) return this->edit_in_place(c.dst);
        return editor(slots_[c.src]);
      default: return editor(slots_[c.src]);
    }
  }

  void op_editor(const write_ctx& c) {
    model em;
    editor e = start_editor(c, em);
    std::vector<std::size_t> frozen;  // slots that received a mid-batch persistent()
    const std::size_t n_ops = this->batch_length(16, 40, 200);
    for (std::size_t k = 0; k < n_ops; ++k) {
      g_editor_op_index = k;
      editor_op(e, em, frozen, c.dst);
      ++stats_.editor_ops;
      ++stats_.ops;
      check_editor_tree(e);
      check_editor_light(e, em);
      check_editor_ids_light(e);
    }
    g_editor_op = "final check";
    check_editor_full(e, em);
    check_ids_of(e, eids_, "editor", 0);
    for (const std::size_t f : frozen) {
      check_full(f);
      check_ids(f);
    }
    g_editor_op = nullptr;
    slots_[c.dst] = std::move(e).persistent();
    models_[c.dst] = std::move(em);
    ids_[c.dst] = std::move(eids_);
  }

  // An editor edit with its model edit and id function, one in 40 under allocation-failure
  // injection.
  template <class EdFn, class ModelFn, class IdFn>
  bool edit(editor& e, model& em, EdFn&& ef, ModelFn&& mf, IdFn&& idf) {
    return base::edit(e, em, eids_, one_in(40), ef, mf, idf);
  }

  // An editor edit that must throw E and leave the editor's contents and ids as they were.
  template <class E = std::out_of_range, class EdFn>
  void edit_throws(editor& e, const model& em, EdFn&& ef, const char* what) {
    // The message ends with editor_context(), which names the editor.
    this->template check_throws<E>([&] { ef(e); }, "{}", what);
    check_editor_full(e, em);
    check_ids_of(e, eids_, "editor after a throwing edit", 0);
  }

  // The ids of the editor's first, last and one random row.
  void check_editor_ids_light(const editor& e) {
    const std::size_t n = eids_.size();
    COWDB_MODEL_CHECK(e.size() == n, "editor size {} but {} expected ids", e.size(), n);
    if (n == 0) return;
    const std::size_t i = below(n);
    COWDB_MODEL_CHECK(
        e.row_id(0) == eids_[0] && e.row_id(n - 1) == eids_[n - 1] && e.row_id(i) == eids_[i],
        "editor: ids of rows 0, {}, {} are {}, {}, {}; expected {}, {}, {}", i, n - 1, e.row_id(0),
        e.row_id(i), e.row_id(n - 1), eids_[0], eids_[i], eids_[n - 1]);
  }

  void editor_op(editor& e, model& em, std::vector<std::size_t>& frozen, std::size_t dst) {
    const std::size_t n = em.size();
    const std::size_t r = below(116);
    if (r >= 100) return editor_row_op(e, em, r - 100);
    auto at = [](std::size_t i) { return static_cast<std::ptrdiff_t>(i); };
    if (r < 10) {
      g_editor_op = "push_back";
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.push_back(x); }, [&](model& mod) { mod.push_back(x); },
          [](ids_model& ids) { ids.push_back(kNewRow); });
    } else if (r < 16) {
      g_editor_op = "pop_back";
      if (n == 0) {
        return edit_throws(
            e, em, [](editor& ed) { ed.pop_back(); }, "pop_back() on empty");
      }
      edit(
          e, em, [](editor& ed) { ed.pop_back(); }, [](model& mod) { mod.pop_back(); },
          [](ids_model& ids) { ids.pop_back(); });
    } else if (r < 24) {
      g_editor_op = "set";
      if (n == 0) return;
      const std::size_t i = random_index(n);
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.set(i, x); }, [&](model& mod) { mod[i] = x; }, keep_rows{});
    } else if (r < 26) {
      g_editor_op = "update";
      if (n == 0) return;
      const std::size_t i = random_index(n);
      const unsigned kind = static_cast<unsigned>(below(3));
      edit(
          e, em, [&](editor& ed) { ed.update(i, mapper<T>{kind}); },
          [&](model& mod) { mod[i] = values<T>::map(kind, mod[i]); }, keep_rows{});
    } else if (r < 28) {
      g_editor_op = "take";
      const std::size_t k = below(n + 2);
      auto cut = [&](auto& mod) { mod.resize(std::min(k, mod.size())); };
      edit(
          e, em, [&](editor& ed) { ed.take(k); }, cut, cut);
    } else if (r < 30) {
      g_editor_op = "resize";
      const std::size_t k = std::min(kMaxSize, n - std::min(n, below(2 * kCap)) + below(4 * kCap));
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.resize(k, x); }, [&](model& mod) { mod.resize(k, x); },
          [&](ids_model& ids) { ids.resize(k, kNewRow); });
    } else if (r < 32) {
      g_editor_op = "transform";
      const unsigned kind = static_cast<unsigned>(below(3));
      edit(
          e, em, [&](editor& ed) { ed.transform(mapper<T>{kind}); },
          [&](model& mod) {
            for (T& x : mod) x = values<T>::map(kind, x);
          },
          keep_rows{});
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
          [&](model& mod) { mod.insert(mod.begin() + at(i), x); }, new_rows_at(i, 1));
    } else if (r < 51) {
      g_editor_op = "insert(i, range)";
      if (n >= kMaxSize) return;
      const std::size_t i = random_pos(n);
      if (one_in(3)) {
        const std::size_t o = below(kSlots);
        const Vec piece = slots_[o].slice(0, kMaxSize - n);
        const std::size_t len = std::min(models_[o].size(), kMaxSize - n);
        const model pm(models_[o].begin(), models_[o].begin() + at(len));
        const ids_model pids(ids_[o].begin(), ids_[o].begin() + at(len));  // rows kept
        edit(
            e, em, [&](editor& ed) { ed.insert(i, piece); },
            [&](model& mod) { mod.insert(mod.begin() + at(i), pm.begin(), pm.end()); },
            [&](ids_model& ids) { ids.insert(ids.begin() + at(i), pids.begin(), pids.end()); });
      } else {
        model ins(std::min(kMaxSize - n, small_count()));
        for (T& x : ins) x = make_value();
        edit(
            e, em, [&](editor& ed) { ed.insert(i, ins); },
            [&](model& mod) { mod.insert(mod.begin() + at(i), ins.begin(), ins.end()); },
            new_rows_at(i, ins.size()));
      }
    } else if (r < 55) {
      g_editor_op = "push_front";
      if (n >= kMaxSize) return;
      const T x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.push_front(x); },
          [&](model& mod) { mod.insert(mod.begin(), x); }, new_rows_at(0, 1));
    } else if (r < 67) {
      g_editor_op = "erase(i)";
      if (n == 0 || one_in(24)) {
        const std::size_t i = n + below(2);
        return edit_throws(
            e, em, [&](editor& ed) { ed.erase(i); }, "erase(i) out of range");
      }
      const std::size_t i = random_index(n);
      auto cut = [&](auto& mod) { mod.erase(mod.begin() + at(i)); };
      edit(
          e, em, [&](editor& ed) { ed.erase(i); }, cut, cut);
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
      auto cut = [&](auto& mod) { mod.erase(mod.begin() + at(first), mod.begin() + at(last)); };
      edit(
          e, em, [&](editor& ed) { ed.erase(first, last); }, cut, cut);
    } else if (r < 76) {
      g_editor_op = "drop";
      const std::size_t k = one_in(2) ? small_count() : below(n + 2);
      auto cut = [&](auto& mod) {
        mod.erase(mod.begin(), mod.begin() + at(std::min(k, mod.size())));
      };
      edit(
          e, em, [&](editor& ed) { ed.drop(k); }, cut, cut);
    } else if (r < 79) {
      g_editor_op = "slice";
      std::size_t first = below(n + 2), last = below(n + 3);
      if (first > last && !one_in(6)) std::swap(first, last);
      auto cut = [&](auto& mod) {
        const std::size_t hi = std::min(last, mod.size());
        using M = std::remove_reference_t<decltype(mod)>;
        mod = first < hi ? M(mod.begin() + at(first), mod.begin() + at(hi)) : M();
      };
      edit(
          e, em, [&](editor& ed) { ed.slice(first, last); }, cut, cut);
    } else if (r < 83) {
      g_editor_op = "append(pvec)";
      const std::size_t o = below(kSlots);
      if (n + models_[o].size() > kMaxSize) return;
      const Vec piece = slots_[o];
      const model pm = models_[o];
      const ids_model pids = ids_[o];  // appending a version keeps its rows
      auto join = [&](auto& mod, const auto& part) {
        mod.insert(mod.end(), part.begin(), part.end());
      };
      edit(
          e, em, [&](editor& ed) { ed.append(piece); }, [&](model& mod) { join(mod, pm); },
          [&](ids_model& ids) { join(ids, pids); });
    } else if (r < 88) {
      g_editor_op = "persistent() const&";
      freeze(e, em, eids_, frozen, dst);
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

  // The row operations of the editor (`r` < 16): erase_if, filter, sort, stable_sort,
  // append(range), emplace, insert(i, T&&); the predicates and orders of the persistent ones.
  void editor_row_op(editor& e, model& em, std::size_t r) {
    ++stats_.row_ops;
    const std::size_t n = em.size();
    auto at = [](std::size_t i) { return static_cast<std::ptrdiff_t>(i); };
    if (r < 6) {
      const bool filter = r >= 4;
      g_editor_op = filter ? "filter" : "erase_if";
      row_pred<T> pred = random_pred(em, filter);
      if (n > 0 && one_in(12)) {
        ++stats_.throwing_functors;
        int calls_left = static_cast<int>(below(n));
        pred.calls_left = &calls_left;
        return edit_throws<injected_error>(
            e, em, [&](editor& ed) { filter ? ed.filter(pred) : ed.erase_if(pred); },
            "erase_if/filter with a throwing predicate");
      }
      auto removes = [&](const T& x) { return pred(x) != filter; };
      const model before = em;
      const auto want = static_cast<std::size_t>(std::count_if(em.begin(), em.end(), removes));
      std::size_t removed = SIZE_MAX;
      const bool done = edit(
          e, em, [&](editor& ed) { removed = filter ? ed.filter(pred) : ed.erase_if(pred); },
          [&](model& mod) { remove_rows(mod, before, removes); },
          [&](ids_model& ids) { remove_rows(ids, before, removes); });
      if (done) {
        COWDB_MODEL_CHECK(removed == want, "editor {} returned {}, removed {}", g_editor_op,
                          removed, want);
      }
    } else if (r < 10) {
      const bool stable = r >= 8;
      g_editor_op = stable ? "stable_sort" : "sort";
      const unsigned order = static_cast<unsigned>(below(kOrders));
      if (n > 1 && one_in(12)) {
        ++stats_.throwing_functors;
        int calls_left = static_cast<int>(below(n - 1));
        return edit_throws<injected_error>(
            e, em, [&](editor& ed) { sort_by(ed, stable, order, &calls_left); },
            "sort with a throwing comparator");
      }
      const model before = em;
      const ids_model before_ids = eids_;
      auto ef = [&](editor& ed) { sort_by(ed, stable, order, nullptr); };
      if (stable) {
        model sm = em;
        ids_model si = eids_;
        stable_sorted(order, sm, si);
        edit(
            e, em, ef, [&](model& mod) { mod = sm; }, [&](ids_model& ids) { ids = si; });
      } else if (edit(
                     e, em, ef, [](model&) {}, keep_rows{})) {
        take_sorted(e, order, before, before_ids, em, eids_, "editor");
      }
    } else if (r < 12) {
      g_editor_op = "append(range)";
      model ins(std::min(kMaxSize - std::min(n, kMaxSize), small_count()));
      for (T& x : ins) x = make_value();
      edit(
          e, em, [&](editor& ed) { ed.append(ins); },
          [&](model& mod) { mod.insert(mod.end(), ins.begin(), ins.end()); },
          [&](ids_model& ids) { ids.resize(ids.size() + ins.size(), kNewRow); });
    } else if (r < 14) {
      g_editor_op = "emplace";
      const std::uint64_t a = rng_();
      if (one_in(24)) {
        const std::size_t i = n + 1 + below(2);
        return edit_throws(
            e, em, [&](editor& ed) { emplacer<T>::call(ed, i, a); }, "emplace() past the end");
      }
      if (n >= kMaxSize) return;
      const std::size_t i = random_pos(n);
      const T x = emplacer<T>::value(a);
      edit(
          e, em, [&](editor& ed) { emplacer<T>::call(ed, i, a); },
          [&](model& mod) { mod.insert(mod.begin() + at(i), x); }, new_rows_at(i, 1));
    } else {
      g_editor_op = "insert(i, T&&)";
      if (one_in(24)) {
        const std::size_t i = n + 1 + below(2);
        return edit_throws(
            e, em, [&](editor& ed) { ed.insert(i, make_value()); }, "insert(T&&) past the end");
      }
      if (n >= kMaxSize) return;
      const std::size_t i = random_pos(n);
      const T x = make_value();
      const bool temporary = one_in(2);
      edit(
          e, em,
          [&](editor& ed) {
            if (temporary) return ed.insert(i, T(x));
            T moved = x;
            ed.insert(i, std::move(moved));
          },
          [&](model& mod) { mod.insert(mod.begin() + at(i), x); }, new_rows_at(i, 1));
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
    // A leaf is one chunk; a patch with e replaced elements at least 1 and at most 2e + 1.
    // memory() counts a leaf under several patches of the version (v.set(i) + v.set(j)) once.
    const cowdb::memory_stats mem = v.memory();
    COWDB_MODEL_CHECK(mem.leaves <= chunks && mem.patches <= chunks &&
                          chunks <= mem.leaves + (2 * kPatchCap + 1) * mem.patches,
                      "slot {}: memory() counts {} leaves and {} patches, {} chunks", slot,
                      mem.leaves, mem.patches, chunks);
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
    // The id of every row of every slot (a write to one version must not change the rows of
    // another that shares its chunks); through row_id(i) for the destination and, every 64
    // steps, for every slot.
    for (std::size_t i = 0; i < kSlots; ++i) {
      if (i == dst || step_ % 64 == 0) {
        check_ids(i);
      } else {
        this->check_ids_by_leaf(i);
      }
    }
    check_equality(src, dst);
    check_equality(below(kSlots), below(kSlots));
    if (step_ % 8 == 0) check_diff(below(kSlots), one_in(3) ? dst : below(kSlots));
    if (step_ % 128 == 0) this->check_live_nodes();
  }

  ids_model eids_;  // the ids of the rows of the editor of the current session
};
// ---- shapes ------------------------------------------------------------------------------------

// The tree shapes and the number of operations to run on each. The operations sum to 1'000'000
// per run.
using int_c1_f4 = model_shape<int, sizeof(int), 4, 220'000>;
using int_c2_f4 = model_shape<int, 2 * sizeof(int), 4, 220'000>;
using int_c4_f4 = model_shape<int, 4 * sizeof(int), 4, 220'000>;
using int_c4_f8 = model_shape<int, 4 * sizeof(int), 8, 190'000>;
using string_c2_f4 = model_shape<std::string, 2 * sizeof(std::string), 4, 150'000>;
static_assert(int_c1_f4::budget + int_c2_f4::budget + int_c4_f4::budget + int_c4_f8::budget +
                  string_c2_f4::budget >=
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
      case 0: return Vec(m);
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
        case 0: return v.insert(i, ins);
        case 1: return v.slice(0, i) + Vec(ins) + v.slice(i, v.size());
        default: {
          auto e = v.transient();
          e.insert(i, Vec(ins));
          return std::move(e).persistent();
        }
      }
    }
    switch (below(4)) {
      case 0: return i == 0 ? v.push_front(ins[0]) : v.insert(i, ins[0]);
      case 1: return Vec(v).insert(i, ins[0]);
      case 2: return v.insert(i, ins);
      default: {
        auto e = v.transient();
        e.insert(i, ins[0]);
        return std::move(e).persistent();
      }
    }
  }

  Vec erase(const Vec& v, std::size_t i, std::size_t len) {
    switch (below(4)) {
      case 0: return len == 1 ? v.erase(i) : v.erase(i, i + len);
      case 1: return Vec(v).erase(i, i + len);
      case 2: return i == 0 ? v.drop(len) : v.slice(0, i) + v.slice(i + len, v.size());
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

inline std::uint64_t announced_seed() {
  static const std::uint64_t seed = cowdb::testing::announce_seed("pvec structural model test");
  return seed;
}

inline bool verbose() { return std::getenv("COWDB_MODEL_VERBOSE") != nullptr; }

// ---- the test cases ----------------------------------------------------------------------------

// The body of the main test case for one shape.
template <class Shape>
void run_model_test() {
  using vec = typename Shape::vec;
  const std::uint64_t seed = announced_seed();
  const std::int64_t live0 = live_nodes();
  REQUIRE(live0 >= 0);  // node accounting is on (tests/testing/node_accounting.cc)
  const std::uint64_t checks0 = g_model_checks;
  run_stats stats;
  {
    structural_runner<vec> runner(seed, live0);
    runner.run(Shape::budget);
    stats = runner.stats();
  }
  if (verbose()) {
    fmt::print(
        "  {}-byte elements, chunk {}, fanout {}: {} steps, {} ops ({} structural, {} row ops, {} "
        "in editors), {} injected allocation failures, {} throwing predicates or comparators, {} "
        "same versions, {} sharing checks ({} short), {} diffs ({} shifted, {} by row identity, {} "
        "with moves, {} with a row twice), {} checks, max size {}, max depth {}, mean size "
        "{:.1f}\n",
        sizeof(typename vec::value_type), vec::chunk_capacity, vec::fanout, stats.steps, stats.ops,
        stats.structural_ops, stats.row_ops, stats.editor_ops, stats.alloc_failures,
        stats.throwing_functors, stats.same_version, stats.sharing_checks, stats.sharing_shortfalls,
        stats.diffs, stats.shifted_diffs, stats.exact_diffs, stats.moved_diffs,
        stats.repeated_diffs, g_model_checks - checks0, stats.max_size, stats.max_depth,
        static_cast<double>(stats.size_sum) / static_cast<double>(stats.steps));
  }
  CHECK(stats.ops >= Shape::budget);
  CHECK(g_model_checks - checks0 > 10 * Shape::budget);
  CHECK(stats.max_size >= 600);  // the trees did get deep
  CHECK(stats.alloc_failures > 0);
  CHECK(stats.shifted_diffs > 0);
  CHECK(stats.row_ops > 0);
  CHECK(stats.throwing_functors > 0);
  CHECK(stats.same_version > 0);
  CHECK(stats.sharing_checks > 0);
  CHECK(stats.exact_diffs > 0);
  CHECK(stats.moved_diffs > 0);
  {
    INFO("first: " << stats.first_false_difference);
    CHECK(stats.false_differences == 0);
  }
  {
    INFO("first: " << stats.first_sharing_shortfall);
    CHECK(stats.sharing_shortfalls == 0);
  }
  for (const auto& [what, c] : stats.diff_mismatches) {
    INFO(what << " unlike the row model: " << c.first << "; the first: " << c.second);
    CHECK(c.first == 0);
  }
  // Every slot, editor and temporary is gone: no node may be left.
  REQUIRE(live_nodes() == live0);
}

// The body of the focused diff test case for one shape (int shapes only).
template <class Shape>
void run_focused_diff_test() {
  using vec = typename Shape::vec;
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

}  // namespace cowdb::testing::structural

// The two test cases for one shape of this header (e.g. int_c2_f4), named as TEMPLATE_TEST_CASE
// names them ("<name> - int_c2_f4"), so that a shape's name selects it on the command line.
#define COWDB_PVEC_STRUCTURAL_MODEL_TEST(shape)                                          \
  TEST_CASE(                                                                             \
      "pvec structural model: insert/erase/drop/slice/concat on 8 live versions "        \
      "match std::vector - " #shape,                                                     \
      "[pvec][model][structural]") {                                                     \
    ::cowdb::testing::structural::run_model_test<::cowdb::testing::structural::shape>(); \
  }
#define COWDB_PVEC_FOCUSED_DIFF_TEST(shape)                                                     \
  TEST_CASE(                                                                                    \
      "pvec structural model: diff reports k spaced inserts/erases as exactly k "               \
      "inserted/erased elements, reading O(k) chunks - " #shape,                                \
      "[pvec][model][structural][diff]") {                                                      \
    ::cowdb::testing::structural::run_focused_diff_test<::cowdb::testing::structural::shape>(); \
  }

#endif  // COWDB_TESTS_TESTING_PVEC_STRUCTURAL_MODEL_H_
