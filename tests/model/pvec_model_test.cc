// Model-based randomized test of cowdb::pvec and its editor, against std::vector.
//
// Eight live versions ("slots") are each paired with a std::vector model. Every step picks a
// random operation, reads a source slot and writes the result into a destination slot (often a
// different one, so versions that share chunks with the result must stay intact), then checks
// EVERY slot against its model: size, operator[], iterators, for_each_chunk and at(); now and
// then also backward iteration, iterator jumps, std::ranges algorithms, operator== between slots,
// the memory introspection, and that the live node count equals the nodes reachable from the
// slots (a leak shows up at the step that causes it). Editor sessions edit a batch against a
// model of the editor and freeze it with persistent() in the middle of the batch; the frozen
// version must not change while the editor keeps writing.
//
// The row operations that build push_back-shaped trees (every chunk full but the last) run here
// too, so that the exact memory() check covers their results and the id lists sorts leave:
// sort (operator<, std::ranges::greater), stable_sort by a key projection and append(range), as
// persistent writes and in editors; sorts of a sorted vector must return it unchanged, and one
// sort in 12 gets a comparator that throws part way (nothing changes). Row ids are checked in
// testing/pvec_structural_model.h.
//
// Tiny tree shapes (1-4 elements per chunk, fan-out 2-4) turn a few hundred elements into a deep
// tree. Sizes stay mostly within 0..300, sometimes reach ~1000 and often drop to 0, 1 and the
// exact capacities of full leaves and full trees.
//
// Replay: the seed comes from Catch::rngSeed(); a failure prints seed, step and operation.
//   cowdb_model_tests --rng-seed <seed> "<test name>"
// `--rng-seed time` explores new sequences; COWDB_MODEL_VERBOSE=1 prints what each shape ran.
#include "testing/pvec_model.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cowdb/internal/node.h"
#include "cowdb/internal/rbtree.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace {

using cowdb::internal::live_nodes;
using cowdb::testing::g_editor_op;
using cowdb::testing::g_editor_op_index;
using cowdb::testing::g_model_checks;
using cowdb::testing::injected_error;
using cowdb::testing::kConstRef;
using cowdb::testing::kMoveCopy;
using cowdb::testing::kMoveInPlace;
using cowdb::testing::mapper;
using cowdb::testing::model_stats;
using cowdb::testing::mutator;
using cowdb::testing::throwing_mapper;
using cowdb::testing::throwing_mutator;
using cowdb::testing::values;
using cowdb::testing::write_ctx;

// A single-pass iterator over an array, so that construction takes its input-iterator path.
template <class T>
class input_only_iterator {
 public:
  using iterator_concept = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;

  input_only_iterator() = default;
  explicit input_only_iterator(const T* p) : p_(p) {}
  const T& operator*() const { return *p_; }
  input_only_iterator& operator++() {
    ++p_;
    return *this;
  }
  void operator++(int) { ++p_; }
  friend bool operator==(const input_only_iterator& a, const input_only_iterator& b) {
    return a.p_ == b.p_;
  }

 private:
  const T* p_ = nullptr;
};

// ---- sorts ------------------------------------------------------------------------------------

// A sort key with ties between unequal values: int x / 64, a string's length.
int sort_key(int x) { return x / 64; }
int sort_key(const std::string& x) { return static_cast<int>(x.size()); }

// The comparator of the sorts, with a call counter that throws injected_error at the call after
// `*calls_left` successful ones (when not null). order 0: operator<, 1: greater, 2: by key.
template <class T>
struct sort_order {
  unsigned order;
  int* calls_left = nullptr;
  bool operator()(const T& a, const T& b) const {
    if (calls_left != nullptr && (*calls_left)-- <= 0) throw injected_error();
    switch (order) {
      case 0: return a < b;
      case 1: return b < a;
      default: return sort_key(a) < sort_key(b);
    }
  }
};

// v.sort() (order 0), v.sort(std::ranges::greater{}) (1) or v.stable_sort(std::ranges::less{},
// key) (2), on a pvec or an editor; with calls_left, through a comparator that throws.
template <class V, class T>
auto sort_rows(V& v, unsigned order, int* calls_left) {
  if (calls_left != nullptr) {
    return order == 2 ? v.stable_sort(sort_order<T>{order, calls_left})
                      : v.sort(sort_order<T>{order, calls_left});
  }
  switch (order) {
    case 0: return v.sort();
    case 1: return v.sort(std::ranges::greater{});
    default: return v.stable_sort(std::ranges::less{}, [](const T& x) { return sort_key(x); });
  }
}

// ---- the test driver ----------------------------------------------------------------------------

using cowdb::testing::pvec_op;

// This driver's configuration: the operations it runs, in the order and with the weights a
// recorded seed replays (testing/pvec_ops.h).
// clang-format off
constexpr cowdb::testing::op_weight kOps[] = {
    {pvec_op::kCopy, 7},
    {pvec_op::kPushBack, 11},
    {pvec_op::kPopBack, 9},
    {pvec_op::kSet, 10},
    {pvec_op::kUpdate, 6},
    {pvec_op::kTake, 5},
    {pvec_op::kResize, 6},
    {pvec_op::kTransform, 4},
    {pvec_op::kTransformRange, 5},
    {pvec_op::kConstruct, 6},
    {pvec_op::kRebuild, 2},
    {pvec_op::kEditor, 22},
    {pvec_op::kDestroy, 3},
    {pvec_op::kClear, 2},
    {pvec_op::kSwap, 2},
    {pvec_op::kSort, 3},  // sort or stable_sort
    {pvec_op::kAppendRange, 3},
};
// clang-format on

template <class Vec>
class model_runner : public cowdb::testing::slot_model<model_runner<Vec>, Vec> {
  using base = cowdb::testing::slot_model<model_runner<Vec>, Vec>;
  friend base;

 public:
  using base::kCap, base::kFanout, base::kSlots, typename base::editor, typename base::model,
      typename base::T, typename base::tree;

  model_runner(std::uint64_t seed, std::int64_t live_baseline)
      : base(seed, live_baseline, /*packed_leaves=*/true) {
    // Sizes at which leaves and whole trees are exactly full, and one past them.
    boundaries_ = {0, 1, 2};
    for (std::size_t c = kCap; c <= 1024; c *= kFanout) {
      for (std::size_t s : {c - 1, c, c + 1}) {
        (s <= 300 ? boundaries_ : big_boundaries_).push_back(s);
      }
    }
  }

  void run(std::uint64_t steps) {
    g_editor_op = nullptr;
    for (step_ = 0; step_ < steps; ++step_) this->run_step(kOps);
  }

 private:
  using base::below, base::check_editor_full, base::check_editor_light, base::check_throws,
      base::edit, base::freeze, base::make_value, base::models_, base::one_in, base::rng_,
      base::slots_, base::stats_, base::step_, base::write, base::write_throws;

  // Mostly 0..300, often an exact leaf or tree capacity (+-1), sometimes up to ~1000.
  std::size_t random_size() {
    const std::size_t r = below(100);
    if (r < 45) return below(41);
    if (r < 66) return below(301);
    if (r < 84) return boundaries_[below(boundaries_.size())];
    if (r < 93) return below(4 * kCap + 2);
    if (r < 98) return below(301 / kCap) * kCap;
    if (r < 99 && !big_boundaries_.empty()) return big_boundaries_[below(big_boundaries_.size())];
    return 300 + below(701);
  }

  // REQUIRES: n > 0.
  std::size_t random_index(std::size_t n) {
    switch (below(8)) {
      case 0: return 0;
      case 1: return n - 1;
      case 2: {
        const std::size_t k = below(n);
        return k - k % kCap;  // first element of a leaf
      }
      default: return below(n);
    }
  }

  // Allocations allowed before an injected failure, for a write or an edit of `size` elements.
  template <class V>
  static std::size_t alloc_budget_bound(const V&, std::size_t size) {
    return 3 * tree::depth_for(size) + 4;
  }

  // ---- one step ---------------------------------------------------------------------------------

  void apply(pvec_op code, const write_ctx& c) {
    switch (code) {
      case pvec_op::kCopy: return op_copy(c);
      case pvec_op::kPushBack: return op_push_back(c);
      case pvec_op::kPopBack: return this->op_pop_back(c);
      case pvec_op::kSet: return op_set(c);
      case pvec_op::kUpdate: return op_update(c);
      case pvec_op::kTake: return op_take(c);
      case pvec_op::kResize: return op_resize(c);
      case pvec_op::kTransform: return op_transform(c, false);
      case pvec_op::kTransformRange: return op_transform(c, true);
      case pvec_op::kConstruct: return op_construct(c.dst);
      case pvec_op::kRebuild: return op_rebuild(c);
      case pvec_op::kEditor: return op_editor(c);
      case pvec_op::kDestroy: return op_destroy(c.dst);
      case pvec_op::kClear: return op_clear(c);
      case pvec_op::kSwap: return op_swap(c);
      case pvec_op::kSort: return op_sort(c);
      case pvec_op::kAppendRange: return op_append_range(c);
      default:
        COWDB_MODEL_CHECK(false, "{} is not in this test's table", cowdb::testing::op_name(code));
    }
  }

  // sort, or stable_sort by key (orders of sort_rows); the model is std::stable_sort, right for
  // sort too since sort's ties (orders 0 and 1) are equal values. A sorted source comes back as
  // itself.
  void op_sort(const write_ctx& c) {
    const model& ms = models_[c.src];
    const std::size_t n = ms.size();
    const unsigned order = static_cast<unsigned>(below(3));
    if (n > 1 && one_in(12)) {  // the comparator throws before its (n-1)-th call
      int calls_left = static_cast<int>(below(n - 1));
      return this->template write_throws<injected_error>(
          c, [&](auto&& vec) { return sort_rows<const Vec, T>(vec, order, &calls_left); },
          "a sort with a throwing comparator");
    }
    const sort_order<T> less{order};
    const bool sorted = std::is_sorted(ms.begin(), ms.end(), less);
    const void* src_id = slots_[c.src].identity();
    const bool done = write(
        c, [&](auto&& vec) { return sort_rows<const Vec, T>(vec, order, nullptr); },
        [&](model& mod) { std::stable_sort(mod.begin(), mod.end(), less); });
    if (done && sorted) {
      COWDB_MODEL_CHECK(slots_[c.dst].identity() == src_id,
                        "a sort (order {}) of a sorted version did not return it", order);
    }
  }

  // append(range): a vector, or a view yielding prvalues.
  void op_append_range(const write_ctx& c) {
    model r(below(3) == 0 ? below(4 * kCap + 2) : below(41));
    for (T& x : r) x = make_value();
    auto mf = [&](model& mod) { mod.insert(mod.end(), r.begin(), r.end()); };
    if (one_in(2)) {
      write(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).append(r); }, mf);
      return;
    }
    auto view = std::views::iota(0) | std::views::take(static_cast<int>(r.size())) |
                std::views::transform([&r](int k) { return T(r[static_cast<std::size_t>(k)]); });
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).append(view); }, mf);
  }

  void op_copy(const write_ctx& c) {
    switch (c.form) {
      case kConstRef: slots_[c.dst] = slots_[c.src]; break;
      case kMoveCopy: {
        Vec tmp(slots_[c.src]);
        slots_[c.dst] = std::move(tmp);
        break;
      }
      default: {
        const Vec& self = slots_[c.src];
        slots_[c.dst] = self;  // self-assignment
        break;
      }
    }
    models_[c.dst] = models_[c.src];
    COWDB_MODEL_CHECK(slots_[c.dst].identity() == slots_[c.src].identity(),
                      "a copy is not the same version");
    if (c.src != c.dst) {
      COWDB_MODEL_CHECK(slots_[c.src].exclusive().bytes == 0,
                        "after copying slot {} into slot {}, slot {} still has {} exclusive bytes",
                        c.src, c.dst, c.src, slots_[c.src].exclusive().bytes);
      COWDB_MODEL_CHECK(slots_[c.dst].exclusive() == cowdb::memory_stats{},
                        "a fresh copy has exclusive nodes");
    }
  }

  void op_push_back(const write_ctx& c) {
    const model& ms = models_[c.src];
    T x = !ms.empty() && one_in(8) ? ms[below(ms.size())] : make_value();
    write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).push_back(x); },
        [&](model& mod) { mod.push_back(x); });
  }

  void op_set(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    if (n == 0 || one_in(24)) {
      const std::size_t i = n + below(3);
      const T x = make_value();
      return this->template write_throws<std::out_of_range>(
          c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).set(i, x); },
          "set() out of range");
    }
    const std::size_t i = random_index(n);
    const T x = one_in(4) ? models_[c.src][i] : make_value();
    const bool unchanged = models_[c.src][i] == x;
    const void* src_id = slots_[c.src].identity();
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).set(i, x); },
        [&](model& mod) { mod[i] = x; });
    if (done && unchanged) {
      COWDB_MODEL_CHECK(slots_[c.dst].identity() == src_id,
                        "set({}) to an equal value did not return the same version", i);
    }
  }

  void op_update(const write_ctx& c) {
    const std::size_t n = models_[c.src].size();
    const unsigned kind = static_cast<unsigned>(below(3));
    if (n == 0 || one_in(24)) {
      const std::size_t i = n + below(3);
      return this->template write_throws<std::out_of_range>(
          c,
          [&](auto&& vec) { return std::forward<decltype(vec)>(vec).update(i, mapper<T>{kind}); },
          "update() out of range");
    }
    const std::size_t i = random_index(n);
    // Odd rows take the mutator form (fn(T&) -> void), even ones fn(const T&) -> T: the choice
    // comes from the index, so that the random stream (and every recorded seed) is unchanged.
    const bool in_place = (i & 1) != 0;
    if (one_in(12)) {
      int calls_left = 0;
      return this->template write_throws<injected_error>(
          c,
          [&](auto&& vec) {
            return in_place ? std::forward<decltype(vec)>(vec).update(
                                  i, throwing_mutator<T>{kind, &calls_left})
                            : std::forward<decltype(vec)>(vec).update(
                                  i, throwing_mapper<T>{kind, &calls_left});
          },
          "update() with a throwing functor");
    }
    const bool unchanged = values<T>::map(kind, models_[c.src][i]) == models_[c.src][i];
    const void* src_id = slots_[c.src].identity();
    const bool done = write(
        c,
        [&](auto&& vec) {
          return in_place ? std::forward<decltype(vec)>(vec).update(i, mutator<T>{kind})
                          : std::forward<decltype(vec)>(vec).update(i, mapper<T>{kind});
        },
        [&](model& mod) { mod[i] = values<T>::map(kind, mod[i]); });
    if (done && unchanged) {
      COWDB_MODEL_CHECK(slots_[c.dst].identity() == src_id,
                        "update({}) to an equal value did not return the same version", i);
    }
  }

  void op_take(const write_ctx& c) {
    const std::size_t size = models_[c.src].size();
    const std::size_t n = one_in(3) ? random_size() : below(size + 2);
    const bool done = write(
        c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).take(n); },
        [&](model& mod) { mod.resize(std::min(n, mod.size())); });
    // "Keeps the first min(n, size()) elements, sharing every chunk kept whole."
    if (done && c.src != c.dst && one_in(4)) {
      const std::size_t whole = std::min(n, size) / kCap;
      const auto shared = slots_[c.dst].shared_with(slots_[c.src]);
      COWDB_MODEL_CHECK(shared.leaves >= whole,
                        "take({}) of {} elements shares {} leaves, expected >= {}", n, size,
                        shared.leaves, whole);
    }
  }

  void op_resize(const write_ctx& c) {
    const std::size_t n = random_size();
    const model& ms = models_[c.src];
    switch (below(3)) {
      case 0:  // resize(n): grows with T()
        write(
            c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).resize(n); },
            [&](model& mod) { mod.resize(n, T()); });
        break;
      case 1: {
        const T x = make_value();
        write(
            c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).resize(n, x); },
            [&](model& mod) { mod.resize(n, x); });
        break;
      }
      default: {
        if (ms.empty()) return;
        // The fill value is an element of the source itself.
        const std::size_t i = below(ms.size());
        const T x = ms[i];
        const T& ref = slots_[c.src][i];
        write(
            c, [&](auto&& vec) { return std::forward<decltype(vec)>(vec).resize(n, ref); },
            [&](model& mod) { mod.resize(n, x); });
        break;
      }
    }
  }

  void op_transform(const write_ctx& c, bool sub_range) {
    const model& ms = models_[c.src];
    const std::size_t n = ms.size();
    const unsigned kind = static_cast<unsigned>(below(3));
    std::size_t first = 0;
    std::size_t last = std::numeric_limits<std::size_t>::max();
    if (sub_range) {
      first = below(n + 2);
      last = below(n + 2);
      if (!one_in(6) && first > last) std::swap(first, last);  // else an empty range
      if (one_in(8)) last = std::numeric_limits<std::size_t>::max();
    }
    const std::size_t hi = std::min(last, n);
    auto in_range = [&](std::size_t k) { return k >= first && k < hi; };
    auto mf = [&](model& mod) {
      for (std::size_t k = first; k < hi; ++k) mod[k] = values<T>::map(kind, mod[k]);
    };
    const Vec src = slots_[c.src];  // the source stays alive to check what is shared with it

    if (first < hi && one_in(12)) {
      // The functor throws part way: nothing changes and nothing leaks.
      int calls_left = static_cast<int>(below(hi - first));
      Vec out;
      bool thrown = false;
      try {
        out = sub_range ? src.transform(first, last, throwing_mapper<T>{kind, &calls_left})
                        : src.transform(throwing_mapper<T>{kind, &calls_left});
      } catch (const injected_error&) {
        thrown = true;
      }
      if (!thrown) {  // it may have called the functor fewer times; then it must be right
        model m = ms;
        mf(m);
        slots_[c.dst] = std::move(out);
        models_[c.dst] = std::move(m);
      }
      return;
    }

    const bool done = write(
        c,
        [&](auto&& vec) {
          return sub_range ? vec.transform(first, last, mapper<T>{kind})
                           : vec.transform(mapper<T>{kind});
        },
        [&](model& mod) { mf(mod); });
    if (done && one_in(4)) {
      // Chunks outside the range, and chunks whose contents come out equal, are shared.
      std::size_t expect = 0;
      for (std::size_t b = 0; b < n; b += kCap) {
        bool same = true;
        for (std::size_t k = b; k < std::min(b + kCap, n) && same; ++k) {
          same = !in_range(k) || values<T>::map(kind, src[k]) == src[k];
        }
        expect += same ? 1 : 0;
      }
      const auto shared = slots_[c.dst].shared_with(src);
      COWDB_MODEL_CHECK(
          shared.leaves >= expect,
          "transform({}, {}) kind {} shares {} leaves with its source, expected >= {}", first, last,
          kind, shared.leaves, expect);
    }
  }

  void op_construct(std::size_t d) {
    std::size_t n = random_size();
    const unsigned how = static_cast<unsigned>(below(6));
    if (how == 4) n = below(5);
    model m;
    if (how == 5) {
      m.assign(n, make_value());
    } else {
      m.reserve(n);
      for (std::size_t k = 0; k < n; ++k) m.push_back(make_value());
    }
    switch (how) {
      case 0:  // any input range
        slots_[d] = Vec(m);
        break;
      case 1:  // forward iterators
        slots_[d] = Vec(m.begin(), m.end());
        break;
      case 2:  // single-pass iterators
        slots_[d] = Vec(input_only_iterator<T>(m.data()), input_only_iterator<T>(m.data() + n));
        break;
      case 3: {  // a view whose end is a sentinel of another type, yielding prvalues
        // (An int iota: libstdc++ 12's ranges::uninitialized_copy_n, which pvec uses, does
        // not compile for the __int128 difference type of a size_t iota.)
        auto view =
            std::views::iota(0) | std::views::take(static_cast<int>(n)) |
            std::views::transform([&m](int k) { return T(m[static_cast<std::size_t>(k)]); });
        slots_[d] = Vec(view);
        break;
      }
      case 4:  // initializer lists (must not be taken for (n, value))
        switch (n) {
          case 0: slots_[d] = Vec(std::initializer_list<T>{}); break;
          case 1: slots_[d] = Vec{m[0]}; break;
          case 2: slots_[d] = Vec{m[0], m[1]}; break;
          case 3: slots_[d] = Vec{m[0], m[1], m[2]}; break;
          default: slots_[d] = Vec{m[0], m[1], m[2], m[3]}; break;
        }
        break;
      default:  // (n, value)
        slots_[d] = Vec(n, n > 0 ? m[0] : make_value());
        break;
    }
    models_[d] = std::move(m);
    COWDB_MODEL_CHECK(slots_[d].exclusive() == slots_[d].memory(),
                      "a freshly built version shares nodes ({} of {} bytes exclusive)",
                      slots_[d].exclusive().bytes, slots_[d].memory().bytes);
  }

  // Rebuilds the source's contents as an independent tree: equal contents, no shared node.
  void op_rebuild(const write_ctx& c) {
    Vec rebuilt(models_[c.src].begin(), models_[c.src].end());
    COWDB_MODEL_CHECK(rebuilt == slots_[c.src], "a rebuilt copy of slot {} compares unequal",
                      c.src);
    COWDB_MODEL_CHECK(rebuilt.empty() || rebuilt.identity() != slots_[c.src].identity(),
                      "a rebuilt tree has the same identity");
    slots_[c.dst] = std::move(rebuilt);
    models_[c.dst] = models_[c.src];
  }

  // Destroys a slot and checks that exactly its exclusive() nodes were freed, then rebuilds it.
  // Row-id lists are allocated like nodes (live_nodes() counts them) and exclusive() reports
  // them apart, as id_lists.
  void op_destroy(std::size_t d) {
    const auto ex = slots_[d].exclusive();
    const std::int64_t before = live_nodes();
    { Vec victim = std::move(slots_[d]); }
    const auto freed = static_cast<std::size_t>(before - live_nodes());
    COWDB_MODEL_CHECK(freed == ex.leaves + ex.patches + ex.inner_nodes + ex.id_lists,
                      "destroying slot {} freed {} nodes, exclusive() promised {} + {} patches + "
                      "{} + {} id lists",
                      d, freed, ex.leaves, ex.patches, ex.inner_nodes, ex.id_lists);
    slots_[d] = Vec(models_[d]);
  }

  void op_clear(const write_ctx& c) {
    if (c.form == kConstRef) {
      slots_[c.dst] = Vec();
    } else {
      slots_[c.dst] = slots_[c.src].take(0);
    }
    models_[c.dst].clear();
  }

  void op_swap(const write_ctx& c) {
    if (c.form == kConstRef) {
      slots_[c.src].swap(slots_[c.dst]);
    } else {
      swap(slots_[c.src], slots_[c.dst]);
    }
    std::swap(models_[c.src], models_[c.dst]);
  }

  // ---- editor sessions -------------------------------------------------------------------------

  // Starts an editor from the source in one of several ways; returns its model via `em`.
  editor start_editor(const write_ctx& c, model& em) {
    em = models_[c.src];
    switch (below(6)) {
      case 0: return slots_[c.src].transient();
      case 1: return Vec(slots_[c.src]).transient();
      case 2: return editor(slots_[c.src]);
      case 3:
        if (c.src == c.dst) return this->edit_in_place(c.dst);
        return editor(Vec(slots_[c.src]));
      case 4: em.clear(); return editor();
      default: em.clear(); return Vec().transient();
    }
  }

  void op_editor(const write_ctx& c) {
    model em;
    editor e = start_editor(c, em);
    std::vector<std::size_t> frozen;  // slots that received a mid-batch persistent()
    const std::size_t n_ops = this->batch_length(24, 50, 300);
    // Most sessions freeze the editor at least once in the middle of the batch.
    const std::size_t freeze_at = n_ops > 1 && !one_in(4) ? 1 + below(n_ops - 1) : n_ops;
    const bool grow = one_in(80);
    const std::size_t grow_at = below(n_ops);
    for (std::size_t k = 0; k < n_ops; ++k) {
      g_editor_op_index = k;
      if (k == freeze_at) {
        g_editor_op = "persistent() const&";
        freeze(e, em, frozen, c.dst);
      }
      if (grow && k == grow_at) {
        g_editor_op = "bulk push_back";
        const std::size_t target = 300 + below(701);
        while (em.size() < target) {
          const T x = make_value();
          e.push_back(x);
          em.push_back(x);
        }
      }
      editor_op(e, em, frozen, c.dst);
      ++stats_.editor_ops;
      check_editor_light(e, em);
      if (!frozen.empty() && one_in(16)) {
        const std::size_t f = frozen[below(frozen.size())];
        g_editor_op = "check a frozen version";
        check_basic(f);
      }
    }
    g_editor_op = "final check";
    if (one_in(2)) check_editor_full(e, em);
    g_editor_op = nullptr;

    slots_[c.dst] = std::move(e).persistent();
    models_[c.dst] = std::move(em);
    COWDB_MODEL_CHECK(e.size() == 0 && e.empty(), "persistent() && left {} elements behind",
                      e.size());
    if (one_in(8)) {  // the drained editor stays usable
      const T x = make_value();
      e.push_back(x);
      COWDB_MODEL_CHECK(e.size() == 1 && e[0] == x, "a drained editor does not accept a write");
    }
  }

  template <class E, class EdFn>
  void edit_throws(editor& e, const model& em, EdFn&& ef, const char* what) {
    // The message ends with editor_context(), which names the editor.
    this->template check_throws<E>([&] { ef(e); }, "{}", what);
    check_editor_light(e, em);
  }

  void editor_op(editor& e, model& em, std::vector<std::size_t>& frozen, std::size_t dst) {
    const bool fallible = one_in(32);
    const std::size_t n = em.size();
    const std::size_t r = below(106);
    if (r >= 103) {
      g_editor_op = "append(range)";
      model ins(below(2 * kCap + 3));
      for (T& x : ins) x = make_value();
      return edit(
          e, em, fallible, [&](editor& ed) { ed.append(ins); },
          [&](model& mod) { mod.insert(mod.end(), ins.begin(), ins.end()); });
    }
    if (r >= 100) {
      g_editor_op = "sort / stable_sort";
      const unsigned order = static_cast<unsigned>(below(3));
      if (n > 1 && one_in(12)) {
        int calls_left = static_cast<int>(below(n - 1));
        return edit_throws<injected_error>(
            e, em, [&](editor& ed) { sort_rows<editor, T>(ed, order, &calls_left); },
            "a sort with a throwing comparator");
      }
      const sort_order<T> less{order};
      return edit(
          e, em, fallible, [&](editor& ed) { sort_rows<editor, T>(ed, order, nullptr); },
          [&](model& mod) { std::stable_sort(mod.begin(), mod.end(), less); });
    }
    if (r < 14) {
      g_editor_op = "push_back(const T&)";
      const T x = make_value();
      edit(
          e, em, fallible, [&](editor& ed) { ed.push_back(x); },
          [&](model& mod) { mod.push_back(x); });
    } else if (r < 22) {
      g_editor_op = "push_back(T&&)";
      const T x = make_value();
      edit(
          e, em, fallible, [&](editor& ed) { ed.push_back(T(x)); },
          [&](model& mod) { mod.push_back(x); });
    } else if (r < 30) {
      g_editor_op = "emplace_back";
      T x{};
      edit(
          e, em, fallible, [&](editor& ed) { x = values<T>::emplace(ed, rng_()); },
          [&](model& mod) { mod.push_back(x); });
    } else if (r < 33) {
      g_editor_op = "push_back(own element)";
      if (n == 0) return;
      const std::size_t i = below(n);
      const T x = em[i];
      edit(
          e, em, fallible, [&](editor& ed) { ed.push_back(ed[i]); },
          [&](model& mod) { mod.push_back(x); });
    } else if (r < 50) {
      g_editor_op = "pop_back";
      if (n == 0) {
        return edit_throws<std::out_of_range>(
            e, em, [](editor& ed) { ed.pop_back(); }, "pop_back() on empty");
      }
      edit(
          e, em, fallible, [](editor& ed) { ed.pop_back(); }, [](model& mod) { mod.pop_back(); });
    } else if (r < 62) {
      g_editor_op = "set";
      if (n == 0 || one_in(24)) {
        const std::size_t i = n + below(3);
        return edit_throws<std::out_of_range>(
            e, em, [&](editor& ed) { ed.set(i, make_value()); }, "set() out of range");
      }
      const std::size_t i = random_index(n);
      const T x = one_in(4) ? em[i] : make_value();
      edit(
          e, em, fallible, [&](editor& ed) { ed.set(i, x); }, [&](model& mod) { mod[i] = x; });
    } else if (r < 68) {
      g_editor_op = "update";
      const unsigned kind = static_cast<unsigned>(below(3));
      if (n == 0 || one_in(24)) {
        const std::size_t i = n + below(3);
        return edit_throws<std::out_of_range>(
            e, em, [&](editor& ed) { ed.update(i, mapper<T>{kind}); }, "update() out of range");
      }
      const std::size_t i = random_index(n);
      const bool in_place = (i & 1) != 0;  // the mutator form on odd rows, as op_update
      if (one_in(10)) {
        int calls_left = 0;
        return edit_throws<injected_error>(
            e, em,
            [&](editor& ed) {
              if (in_place) {
                ed.update(i, throwing_mutator<T>{kind, &calls_left});
              } else {
                ed.update(i, throwing_mapper<T>{kind, &calls_left});
              }
            },
            "update() with a throwing functor");
      }
      edit(
          e, em, fallible,
          [&](editor& ed) {
            if (in_place) {
              ed.update(i, mutator<T>{kind});
            } else {
              ed.update(i, mapper<T>{kind});
            }
          },
          [&](model& mod) { mod[i] = values<T>::map(kind, mod[i]); });
    } else if (r < 72) {
      g_editor_op = "take";
      const std::size_t k = one_in(2) ? below(n + 2) : random_size();
      edit(
          e, em, fallible, [&](editor& ed) { ed.take(k); },
          [&](model& mod) { mod.resize(std::min(k, mod.size())); });
    } else if (r < 76) {
      g_editor_op = "resize";
      const std::size_t k = one_in(2) ? below(n + 2 * kCap + 2) : random_size();
      if (n > 0 && one_in(3)) {  // the fill value is an element of the editor itself
        const std::size_t i = below(n);
        const T x = em[i];
        edit(
            e, em, fallible, [&](editor& ed) { ed.resize(k, ed[i]); },
            [&](model& mod) { mod.resize(k, x); });
      } else if (one_in(2)) {
        edit(
            e, em, fallible, [&](editor& ed) { ed.resize(k); },
            [&](model& mod) { mod.resize(k, T()); });
      } else {
        const T x = make_value();
        edit(
            e, em, fallible, [&](editor& ed) { ed.resize(k, x); },
            [&](model& mod) { mod.resize(k, x); });
      }
    } else if (r < 79) {
      g_editor_op = "transform";
      const unsigned kind = static_cast<unsigned>(below(3));
      if (n > 0 && one_in(8)) {
        int calls_left = static_cast<int>(below(n));
        bool thrown = false;
        try {
          e.transform(throwing_mapper<T>{kind, &calls_left});
        } catch (const injected_error&) {
          thrown = true;
        }
        if (!thrown) {
          for (T& x : em) x = values<T>::map(kind, x);
        }
        return check_editor_light(e, em);
      }
      edit(
          e, em, fallible, [&](editor& ed) { ed.transform(mapper<T>{kind}); },
          [&](model& mod) {
            for (T& x : mod) x = values<T>::map(kind, x);
          });
    } else if (r < 87) {
      g_editor_op = "reads";
      COWDB_MODEL_CHECK(e.size() == n && e.empty() == (n == 0), "editor size {} != model {}",
                        e.size(), n);
      for (int t = 0; t < 4 && n > 0; ++t) {
        const std::size_t i = random_index(n);
        COWDB_MODEL_CHECK(e[i] == em[i], "editor[{}] = {} != model {}", i, e[i], em[i]);
        COWDB_MODEL_CHECK(e.at(i) == em[i], "editor.at({}) = {} != model {}", i, e.at(i), em[i]);
      }
      if (one_in(4)) {
        edit_throws<std::out_of_range>(
            e, em, [&](editor& ed) { static_cast<void>(ed.at(n + below(2))); },
            "at() out of range");
      }
    } else if (r < 92) {
      g_editor_op = "persistent() const&";
      freeze(e, em, frozen, dst);
    } else if (r < 96) {
      g_editor_op = "move the editor";
      if (one_in(2)) {
        editor tmp(std::move(e));
        e = std::move(tmp);
      } else {
        // Move-assign over an editor that holds other nodes, then back.
        editor other = slots_[below(kSlots)].transient();
        if (one_in(2)) other.push_back(make_value());
        other = std::move(e);
        e = std::move(other);
      }
    } else {
      g_editor_op = "full check";
      check_editor_full(e, em);
    }
  }

  // ---- checks ----------------------------------------------------------------------------------

  // The checks every slot gets after every step.
  void check_basic(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    const std::size_t n = m.size();
    this->check_indexed(v, m, "slot", slot);
    this->check_iteration(slot);
    if (n > 0) {
      const std::size_t i = below(n);
      COWDB_MODEL_CHECK(v.at(i) == m[i], "slot {}: at({}) = {} but the model has {}", slot, i,
                        v.at(i), m[i]);
      COWDB_MODEL_CHECK(v.at(n - 1) == m[n - 1], "slot {}: at(last) = {} but the model has {}",
                        slot, v.at(n - 1), m[n - 1]);
    }
  }

  // The occasional, more expensive checks of one slot.
  void check_deep(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    const std::size_t n = m.size();
    if (n > 0) {
      COWDB_MODEL_CHECK(v.front() == m.front() && v.back() == m.back(), "slot {}: front/back wrong",
                        slot);
    }
    this->check_backward(slot);
    this->check_jumps(slot, 24, /*all_forms=*/true);
    // std::ranges algorithms and views.
    COWDB_MODEL_CHECK(std::ranges::equal(v, m), "slot {}: ranges::equal is false", slot);
    COWDB_MODEL_CHECK(std::ranges::equal(v | std::views::reverse, m | std::views::reverse),
                      "slot {}: reversed view differs", slot);
    COWDB_MODEL_CHECK(std::ranges::distance(v) == static_cast<std::ptrdiff_t>(n),
                      "slot {}: ranges::distance wrong", slot);
    {
      const std::size_t a = below(n + 1);
      const std::size_t b = below(n + 1 - a);
      COWDB_MODEL_CHECK(std::ranges::equal(v | std::views::drop(a) | std::views::take(b),
                                           m | std::views::drop(a) | std::views::take(b)),
                        "slot {}: drop({}) | take({}) differs", slot, a, b);
      COWDB_MODEL_CHECK(model(v.begin(), v.end()) == m, "slot {}: vector(begin, end) differs",
                        slot);
    }
    if (n > 0) {
      const T& x = m[below(n)];
      const auto found = std::ranges::find(v, x);
      COWDB_MODEL_CHECK(found - v.begin() == std::ranges::find(m, x) - m.begin(),
                        "slot {}: ranges::find({}) at {}", slot, x, found - v.begin());
      COWDB_MODEL_CHECK(std::ranges::count(v, x) == std::ranges::count(m, x),
                        "slot {}: ranges::count({}) wrong", slot, x);
      COWDB_MODEL_CHECK(*std::ranges::max_element(v) == *std::ranges::max_element(m),
                        "slot {}: ranges::max_element wrong", slot);
      this->template check_throws<std::out_of_range>([&] { static_cast<void>(v.at(n + below(3))); },
                                                     "slot {}: at(out of range)", slot);
    }
    this->check_chunk_range(slot);
    check_memory(slot, true);
  }

  // What memory() must report for v (built by push_back-like operations): ceil(n / Cap)
  // full-size leaves, per inner level ceil(n / capacity(level)) inner nodes, and an id list for
  // each chunk whose rows' ids (row_id) are not one ascending run.
  static cowdb::memory_stats expected_memory(const Vec& v) {
    cowdb::memory_stats s;
    const std::size_t n = v.size();
    if (n == 0) return s;
    s.leaves = (n + kCap - 1) / kCap;
    for (std::size_t per = kCap; per < n;) {
      per *= kFanout;
      s.inner_nodes += (n + per - 1) / per;
    }
    s.bytes = s.leaves * sizeof(cowdb::internal::leaf_node<T, kCap>) +
              s.inner_nodes * sizeof(cowdb::internal::inner_node<kFanout>);
    for (std::size_t first = 0; first < n; first += kCap) {
      std::size_t runs = 1;
      for (std::size_t i = first + 1; i < std::min(n, first + kCap); ++i) {
        runs += v.row_id(i) != v.row_id(i - 1) + 1;
      }
      if (runs > 1) {
        ++s.id_lists;
        s.bytes += cowdb::internal::id_runs::bytes_for(runs);
      }
    }
    return s;
  }

  void check_memory(std::size_t slot, bool with_shared) {
    const Vec& v = slots_[slot];
    const auto mem = v.memory();
    auto want = expected_memory(v);
    // Patches (a write to a shared chunk) are counted on top of the leaves they read through,
    // one at most per leaf; how many there are depends on the history, not the contents.
    COWDB_MODEL_CHECK(mem.patches <= want.leaves, "slot {}: {} patches over {} leaves", slot,
                      mem.patches, want.leaves);
    want.patches = mem.patches;
    want.bytes += mem.patches * base::tree::patch_bytes;
    COWDB_MODEL_CHECK(
        mem == want,
        "slot {}: memory() = {} bytes, {} leaves, {} inner, {} id lists; expected {}, {}, {}, {}",
        slot, mem.bytes, mem.leaves, mem.inner_nodes, mem.id_lists, want.bytes, want.leaves,
        want.inner_nodes, want.id_lists);
    const auto ex = v.exclusive();
    COWDB_MODEL_CHECK(
        ex.bytes <= mem.bytes && ex.leaves <= mem.leaves && ex.inner_nodes <= mem.inner_nodes,
        "slot {}: exclusive() {} bytes > memory() {} bytes", slot, ex.bytes, mem.bytes);
    if (!with_shared) return;
    COWDB_MODEL_CHECK(v.shared_with(v) == mem, "slot {}: shared_with(itself) != memory()", slot);
    const std::size_t o = below(kSlots);
    const Vec& other = slots_[o];
    const auto sw = v.shared_with(other);
    COWDB_MODEL_CHECK(sw == other.shared_with(v), "slots {} and {}: shared_with not symmetric",
                      slot, o);
    COWDB_MODEL_CHECK(sw.bytes <= std::min(mem.bytes, other.memory().bytes),
                      "slots {} and {}: shared {} bytes exceed a version's memory", slot, o,
                      sw.bytes);
    if (o != slot) {  // nodes only this slot keeps alive are reachable from no other slot
      COWDB_MODEL_CHECK(ex.bytes + sw.bytes <= mem.bytes,
                        "slots {} and {}: exclusive {} + shared {} > memory {}", slot, o, ex.bytes,
                        sw.bytes, mem.bytes);
    }
    if (v.identity() == other.identity()) {
      COWDB_MODEL_CHECK(sw == mem, "slots {} and {}: the same version shares less than all", slot,
                        o);
    }
  }

  void check_equality(std::size_t a, std::size_t b) {
    const bool want = models_[a] == models_[b];
    COWDB_MODEL_CHECK((slots_[a] == slots_[b]) == want && (slots_[b] == slots_[a]) == want &&
                          (slots_[a] != slots_[b]) == !want,
                      "slots {} and {}: operator== is not {}", a, b, want);
  }

  void check_after_step(std::size_t src, std::size_t dst) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < kSlots; ++i) {
      check_basic(i);
      total += models_[i].size();
      stats_.max_size = std::max(stats_.max_size, models_[i].size());
    }
    stats_.size_sum += total;
    const bool all_deep = step_ % 256 == 0;
    if (all_deep) {
      for (std::size_t i = 0; i < kSlots; ++i) check_deep(i);
    } else if (one_in(8)) {
      check_deep(dst);
    }
    check_memory(dst, one_in(8));
    check_equality(src, dst);
    check_equality(below(kSlots), below(kSlots));
    // Slots that are the same version (one root) must have equal models.
    for (const std::size_t a : {src, dst}) {
      for (std::size_t b = 0; b < kSlots; ++b) {
        if (b != a && !slots_[a].empty() && slots_[a].identity() == slots_[b].identity()) {
          COWDB_MODEL_CHECK(models_[a] == models_[b],
                            "slots {} and {} are the same version but their models differ", a, b);
        }
      }
    }
    if (step_ % 128 == 0) this->check_live_nodes();
  }

  std::vector<std::size_t> boundaries_;      // full leaves and trees up to 300 elements
  std::vector<std::size_t> big_boundaries_;  // and beyond
};

// ---- shapes ------------------------------------------------------------------------------------

// The tree shapes and the number of steps to run on each. The steps sum to 1'020'000 per run.
using cowdb::testing::model_shape;
using int_c1_f2 = model_shape<int, sizeof(int), 2, 150'000>;
using int_c2_f2 = model_shape<int, 2 * sizeof(int), 2, 180'000>;
using int_c4_f2 = model_shape<int, 4 * sizeof(int), 2, 180'000>;
using int_c2_f4 = model_shape<int, 2 * sizeof(int), 4, 180'000>;
using int_c4_f4 = model_shape<int, 4 * sizeof(int), 4, 180'000>;
using string_c2_f2 = model_shape<std::string, 2 * sizeof(std::string), 2, 150'000>;
static_assert(int_c1_f2::budget + int_c2_f2::budget + int_c4_f2::budget + int_c2_f4::budget +
                  int_c4_f4::budget + string_c2_f2::budget >=
              1'000'000);

std::uint64_t announced_seed() {
  static const std::uint64_t seed = cowdb::testing::announce_seed("pvec model test");
  return seed;
}

}  // namespace

TEMPLATE_TEST_CASE("pvec model: random operations on 8 live versions match std::vector",
                   "[pvec][model]", int_c1_f2, int_c2_f2, int_c4_f2, int_c2_f4, int_c4_f4,
                   string_c2_f2) {
  using vec = typename TestType::vec;
  const std::uint64_t seed = announced_seed();
  const std::int64_t live0 = live_nodes();
  REQUIRE(live0 >= 0);  // node accounting is on (tests/testing/node_accounting.cc)
  const std::uint64_t checks0 = g_model_checks;
  model_stats stats;
  {
    model_runner<vec> runner(seed, live0);
    runner.run(TestType::budget);
    stats = runner.stats();
  }
  if (std::getenv("COWDB_MODEL_VERBOSE") != nullptr) {
    fmt::print(
        "  {}-byte elements, chunk {}, fanout {}: {} steps, {} editor ops, {} injected "
        "allocation failures, {} checks, max size {}, mean total slot size {:.1f}\n",
        sizeof(typename vec::value_type), vec::chunk_capacity, vec::fanout, stats.steps,
        stats.editor_ops, stats.alloc_failures, g_model_checks - checks0, stats.max_size,
        static_cast<double>(stats.size_sum) / static_cast<double>(stats.steps));
  }
  CHECK(stats.steps == TestType::budget);
  CHECK(g_model_checks - checks0 > 10 * TestType::budget);
  CHECK(stats.max_size >= 600);  // the trees did get deep
  CHECK(stats.alloc_failures > 0);
  // Every slot, editor and temporary is gone: no node may be left.
  REQUIRE(live_nodes() == live0);
}
