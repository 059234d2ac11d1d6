// What the model-based randomized tests of pvec (tests/model/pvec_model_test.cc and
// testing/pvec_structural_model.h) share: the COWDB_MODEL_CHECK macro and its counter, allocation
// failure injection, the element types' value generators, and slot_model, the base of their
// drivers (eight slots paired with std::vector models, the step loop, persistent writes and
// editor edits under allocation-failure injection, and the checks both run on every slot).
//
// Row identity (pvec::row_id): a driver built with `track_ids` also keeps, for every slot and for
// the editor of a session, the ids its rows must have (ids_model, parallel to the values). Each
// write states what it does to the rows of its source (an id function; new rows are kNewRow);
// after it, the ids the pvec gave the new rows are read back and must be fresh: issued during
// this run and never seen before in it (a bitmap over the ids issued since the driver started).
// Each test keeps its own table of operations (of the vocabulary of testing/pvec_ops.h), its own
// random distributions and the checks specific to it; the shared code draws from the driver's
// generator exactly where the two tests' own copies did, so a recorded seed replays the same
// sequence.
//
// Thread-compatible: the counters are process-wide, and the tests run one driver at a time.
#ifndef COWDB_TESTS_TESTING_PVEC_MODEL_H_
#define COWDB_TESTS_TESTING_PVEC_MODEL_H_

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <random>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cowdb/internal/node.h"
#include "cowdb/internal/rbtree.h"
#include "cowdb/internal/row_ids.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/pvec_ops.h"

// A check for the hot loops: one branch and a counter increment when it holds; a Catch2 failure
// (which ends the test case and prints the captured seed and step) when it does not. The
// message arguments are only evaluated on failure.
#define COWDB_MODEL_CHECK(cond, ...)                                                     \
  do {                                                                                   \
    ++::cowdb::testing::g_model_checks;                                                  \
    if (!(cond)) {                                                                       \
      FAIL(fmt::format("model check `{}` failed: {}{}", #cond, fmt::format(__VA_ARGS__), \
                       ::cowdb::testing::editor_context()));                             \
    }                                                                                    \
  } while (false)

namespace cowdb::testing {

// Checks evaluated so far: proves that the loops assert something.
inline std::uint64_t g_model_checks = 0;

// The editor operation being run, if any, for failure messages.
inline const char* g_editor_op = nullptr;
inline std::size_t g_editor_op_index = 0;

inline std::string editor_context() {
  if (g_editor_op == nullptr) return {};
  return fmt::format(" [in editor session, editor op #{} = {}]", g_editor_op_index, g_editor_op);
}

// Thrown by the functors that simulate a failing user function.
struct injected_error : std::runtime_error {
  injected_error() : std::runtime_error("injected failure") {}
};

// Allocation-failure injection: while an alloc_failure_scope is alive, the node allocation after
// `budget` successful ones throws std::bad_alloc.
inline int g_alloc_budget = 0;

inline void failing_node_alloc() {
  if (g_alloc_budget-- <= 0) throw std::bad_alloc();
}

class alloc_failure_scope {
 public:
  explicit alloc_failure_scope(int budget) {
    g_alloc_budget = budget;
    internal::g_before_node_alloc = &failing_node_alloc;
  }
  ~alloc_failure_scope() { internal::g_before_node_alloc = nullptr; }
  alloc_failure_scope(const alloc_failure_scope&) = delete;
  alloc_failure_scope& operator=(const alloc_failure_scope&) = delete;
};

// ---- element types ------------------------------------------------------------------------------

template <class T>
struct values;

template <>
struct values<int> {
  static int make(std::uint64_t r) { return static_cast<int>(r % 1000); }
  // kind 0 changes every element, kind 1 none, kind 2 about one in five.
  static int map(unsigned kind, int x) {
    switch (kind) {
      case 0: return (x + 7) % 1000;
      case 1: return x;
      default: return x % 5 == 0 ? (x + 1) % 1000 : x;
    }
  }
  // Emplaces a value built from constructor arguments and returns the same value.
  template <class Editor>
  static int emplace(Editor& e, std::uint64_t r) {
    if (r % 4 == 0) {
      e.emplace_back();
      return 0;
    }
    const int x = make(r >> 2);
    e.emplace_back(x);
    return x;
  }
};

template <>
struct values<std::string> {
  // Mostly short strings (inline storage), one in five long enough to live on the heap.
  static std::string make(std::uint64_t r) {
    if (r % 5 == 0) return fmt::format("a string long enough to need the heap #{}", r / 5 % 200);
    return fmt::format("s{}", r % 1000);
  }
  static std::string map(unsigned kind, const std::string& x) {
    switch (kind) {
      case 0: return x.size() < 48 ? x + "+" : x.substr(0, 2);
      case 1: return x;
      default: return x.size() % 3 == 0 ? x + "?" : x;
    }
  }
  template <class Editor>
  static std::string emplace(Editor& e, std::uint64_t r) {
    if (r % 8 == 0) {
      e.emplace_back();
      return {};
    }
    const std::size_t count = r / 8 % 24;  // crosses the small-string limit
    const char c = static_cast<char>('a' + r / 256 % 26);
    e.emplace_back(count, c);
    return std::string(count, c);
  }
};

// The element functors given to update() and transform().
template <class T>
struct mapper {
  unsigned kind;
  T operator()(const T& x) const { return values<T>::map(kind, x); }
};

// The same change as mapper, made in place (pvec::update's mutator form).
template <class T>
struct mutator {
  unsigned kind;
  void operator()(T& x) const { x = values<T>::map(kind, x); }
};

// Throws injected_error on the call after `*calls_left` successful ones.
template <class T>
struct throwing_mutator {
  unsigned kind;
  int* calls_left;
  void operator()(T& x) const {
    if ((*calls_left)-- <= 0) throw injected_error();
    x = values<T>::map(kind, x);
  }
};

// Throws injected_error on the call after `*calls_left` successful ones.
template <class T>
struct throwing_mapper {
  unsigned kind;
  int* calls_left;
  T operator()(const T& x) const {
    if ((*calls_left)-- <= 0) throw injected_error();
    return values<T>::map(kind, x);
  }
};

// ---- the driver ---------------------------------------------------------------------------------

// How a write reads its source: `v.op()` on the const source; `std::move(copy).op()` on a copy
// of the source (the && overload on shared nodes); `std::move(dst).op()` with source ==
// destination (the && overload writing in place where the nodes are uniquely owned).
enum write_form : unsigned { kConstRef = 0, kMoveCopy = 1, kMoveInPlace = 2 };

// The ids of a sequence of rows (pvec::row_id), parallel to a model of their values.
using ids_model = std::vector<row_id_t>;
// In an ids_model given by an id function: a row the operation makes (it must get a fresh id).
// The process-wide id counter starts at 1, so no row has id 0.
inline constexpr row_id_t kNewRow = 0;
// The id function of a write that states none: allowed only when the driver tracks no ids.
struct untracked_rows {};
// The id function of a write that keeps every row where it is (set, update, transform).
struct keep_rows {
  void operator()(ids_model&) const {}
};

struct write_ctx {
  std::size_t src;
  std::size_t dst;
  unsigned form;
  bool fallible;  // run under allocation-failure injection
};

// What every run counts; a test's stats may add to it.
struct model_stats {
  std::uint64_t steps = 0;
  std::uint64_t ops = 0;  // persistent writes (+ editor operations, where the test counts them)
  std::uint64_t editor_ops = 0;
  std::uint64_t alloc_failures = 0;
  std::size_t max_size = 0;
  std::uint64_t size_sum = 0;          // sum over steps of a test-defined size
  std::uint64_t new_rows_checked = 0;  // writes and edits whose new rows' ids were read back
};

// A tree shape of a model test and its budget: the steps (pvec model test) or operations
// (structural model test) to run on it.
template <class T, std::size_t ChunkBytes, std::size_t Fanout, std::uint64_t Budget>
struct model_shape {
  using vec = pvec<T, ChunkBytes, Fanout>;
  static constexpr std::uint64_t budget = Budget;
};

// The base of a model test's driver (CRTP): kSlots versions of Vec, each with its std::vector
// model, and one generator that every random choice draws from. Derived provides
//   void apply(pvec_op op, const write_ctx& c);               // runs one operation
//   void check_after_step(std::size_t src, std::size_t dst);  // the checks after each step
//   std::size_t alloc_budget_bound(const V& v, std::size_t size);  // V: Vec or its editor
// (the last: allocations allowed before an injected failure are drawn below this bound, for a
// write reading `v` of `size` elements), and lets slot_model call them (friend).
// `packed_leaves`: every chunk but the last is full (regular trees only; relaxed trees have
// partial chunks anywhere).
template <class Derived, class Vec, class Stats = model_stats>
class slot_model {
 public:
  using T = typename Vec::value_type;
  using editor = typename Vec::editor;
  using model = std::vector<T>;
  using tree = internal::rbtree<T, Vec::chunk_capacity, Vec::fanout>;
  static constexpr std::size_t kSlots = 8;
  static constexpr std::size_t kCap = Vec::chunk_capacity;
  static constexpr std::size_t kFanout = Vec::fanout;
  static constexpr std::size_t kPatchCap = tree::patch_cap;

  static_assert(std::ranges::random_access_range<Vec>);
  static_assert(std::ranges::common_range<Vec>);
  static_assert(std::ranges::sized_range<Vec>);

  const Stats& stats() const { return stats_; }

 protected:
  slot_model(std::uint64_t seed, std::int64_t live_baseline, bool packed_leaves,
             bool track_ids = false)
      : seed_(seed),
        rng_(seed),
        live0_(live_baseline),
        packed_leaves_(packed_leaves),
        track_ids_(track_ids),
        first_id_(internal::fresh_row_ids(0)) {}

  Derived& self() { return static_cast<Derived&>(*this); }

  // ---- randomness ----------------------------------------------------------------------------
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }
  bool one_in(std::size_t n) { return below(n) == 0; }
  T make_value() { return values<T>::make(rng_()); }

  // The number of operations of an editor session: 80% short (1..short_max), 17% medium (the
  // next `medium`), 3% long (the next `long_tail`).
  std::size_t batch_length(std::size_t short_max, std::size_t medium, std::size_t long_tail) {
    const std::size_t r = below(100);
    if (r < 80) return 1 + below(short_max);
    if (r < 97) return short_max + 1 + below(medium);
    return short_max + medium + 1 + below(long_tail);
  }

  // An operation of a driver's table, drawn by weight (testing/pvec_ops.h).
  template <std::size_t N>
  const op_weight& pick_op(const op_weight (&ops)[N]) {
    unsigned total = 0;
    for (const op_weight& o : ops) total += o.weight;
    std::size_t r = below(total);
    for (const op_weight& o : ops) {
      if (r < o.weight) return o;
      r -= o.weight;
    }
    return ops[0];
  }

  // The depth of a version's or an editor's tree.
  template <class V>
  static unsigned depth_of(const V& v) {
    return internal::pvec_access::rep(v).depth;
  }

  // ---- one step ---------------------------------------------------------------------------------

  // Picks an operation of `ops`, a source and a destination slot and a write form, runs it and
  // the checks after it, with all of that captured for a failure message.
  template <std::size_t N>
  void run_step(const op_weight (&ops)[N]) {
    const op_weight& o = pick_op(ops);
    const std::size_t src = below(kSlots);
    const unsigned form = static_cast<unsigned>(below(3));
    std::size_t dst = one_in(4) ? src : below(kSlots);
    if (form == kMoveInPlace) dst = src;
    const bool fallible = one_in(40);
    const std::uint64_t seed = seed_;
    const std::uint64_t step = step_;
    const char* op = op_name(o.op);
    CAPTURE(seed, step, op, form, fallible, src, dst);
    step_with_pinned_iterator(o.op, write_ctx{src, dst, form, fallible});
    self().check_after_step(src, dst);
    ++stats_.steps;
  }

  // Sometimes holds an iterator into the source across the operation: it must stay valid (and
  // keep its contents) while a copy of its version lives, whatever the operation writes, even
  // when the slot it was taken from is overwritten.
  void step_with_pinned_iterator(pvec_op code, const write_ctx& c) {
    if (!one_in(16)) return self().apply(code, c);
    const Vec keep = slots_[c.src];
    const model keep_model = models_[c.src];
    const std::size_t pos = below(keep_model.size() + 1);
    auto it = slots_[c.src].begin() + static_cast<std::ptrdiff_t>(pos);
    self().apply(code, c);
    for (std::size_t k = pos; k < keep_model.size(); ++k, ++it) {
      COWDB_MODEL_CHECK(it != keep.end(), "pinned iterator reached end at {} of {}", k,
                        keep_model.size());
      COWDB_MODEL_CHECK(*it == keep_model[k], "an iterator pinned at {} reads {} at {}, model {}",
                        pos, *it, k, keep_model[k]);
    }
    COWDB_MODEL_CHECK(it == keep.end(), "pinned iterator did not reach end ({} elements)",
                      keep_model.size());
  }

  // ---- persistent writes ------------------------------------------------------------------------

  // Runs a persistent write `vf` (called with the source in the form c.form) and the same edit
  // `mf` on a copy of the source model (and `idf` on a copy of its ids: see ids_model); stores
  // both into the destination. Returns false if an injected allocation failure stopped it (then
  // nothing changed).
  template <class VecFn, class ModelFn, class IdFn = untracked_rows>
  bool write(const write_ctx& c, VecFn&& vf, ModelFn&& mf, IdFn&& idf = {}) {
    ++stats_.ops;
    if (c.fallible) return write_fallible(c, vf, mf, idf);
    model m = models_[c.src];
    mf(m);
    ids_model ids = source_ids(c.src, idf);
    switch (c.form) {
      case kConstRef: slots_[c.dst] = vf(std::as_const(slots_[c.src])); break;
      case kMoveCopy: {
        Vec tmp = slots_[c.src];
        slots_[c.dst] = vf(std::move(tmp));
        break;
      }
      default:  // src == dst
        slots_[c.dst] = vf(std::move(slots_[c.dst]));
        break;
    }
    models_[c.dst] = std::move(m);
    store_ids(c.dst, std::move(ids));
    return true;
  }

  // The write under allocation-failure injection: it either completes or throws bad_alloc and
  // leaves every version unchanged, the rvalue source of an in-place write included (strong
  // guarantee; the checks after the step verify that).
  template <class VecFn, class ModelFn, class IdFn>
  bool write_fallible(const write_ctx& c, VecFn& vf, ModelFn& mf, IdFn& idf) {
    Vec out;
    bool failed = false;
    {
      const std::size_t bound = self().alloc_budget_bound(slots_[c.src], models_[c.src].size());
      alloc_failure_scope scope(static_cast<int>(below(bound)));
      try {
        switch (c.form) {
          case kConstRef: out = vf(std::as_const(slots_[c.src])); break;
          case kMoveCopy: out = vf(Vec(slots_[c.src])); break;
          default: out = vf(std::move(slots_[c.src])); break;
        }
      } catch (const std::bad_alloc&) {
        failed = true;
      }
    }
    if (failed) {
      ++stats_.alloc_failures;
      return false;
    }
    model m = models_[c.src];
    mf(m);
    ids_model ids = source_ids(c.src, idf);
    slots_[c.dst] = std::move(out);
    models_[c.dst] = std::move(m);
    store_ids(c.dst, std::move(ids));
    return true;
  }

  // A write that must throw E. The source must be unchanged afterwards (checked after the step),
  // even when it was passed as an rvalue: "the source version is unchanged".
  template <class E = std::out_of_range, class VecFn>
  void write_throws(const write_ctx& c, VecFn&& vf, const char* what) {
    ++stats_.ops;
    bool thrown = false;
    try {
      switch (c.form) {
        case kConstRef: static_cast<void>(vf(std::as_const(slots_[c.src]))); break;
        case kMoveCopy: static_cast<void>(vf(Vec(slots_[c.src]))); break;
        default: static_cast<void>(vf(std::move(slots_[c.src]))); break;
      }
    } catch (const E&) {
      thrown = true;
    }
    COWDB_MODEL_CHECK(thrown, "{} did not throw", what);
  }

  // pop_back(), or on an empty source, pop_back() throwing std::out_of_range.
  void op_pop_back(const write_ctx& c) {
    auto vf = [](auto&& vec) { return std::forward<decltype(vec)>(vec).pop_back(); };
    if (models_[c.src].empty()) return write_throws(c, vf, "pop_back() on an empty pvec");
    write(
        c, vf, [](model& mod) { mod.pop_back(); }, [](ids_model& ids) { ids.pop_back(); });
  }

  // ---- editor sessions --------------------------------------------------------------------------

  // An editor over slot d's own nodes (the && overload of transient()); the slot is left empty,
  // to be refilled at the end of the session.
  editor edit_in_place(std::size_t d) {
    editor e = std::move(slots_[d]).transient();
    slots_[d] = Vec();
    models_[d].clear();
    ids_[d].clear();
    return e;
  }

  // persistent() const& into a slot other than the destination; the editor keeps editing.
  // Returns that slot.
  std::size_t freeze(const editor& e, const model& em, std::vector<std::size_t>& frozen,
                     std::size_t dst) {
    std::size_t f = below(kSlots);
    if (f == dst) f = (f + 1) % kSlots;
    slots_[f] = e.persistent();
    models_[f] = em;
    if (std::find(frozen.begin(), frozen.end(), f) == frozen.end()) frozen.push_back(f);
    COWDB_MODEL_CHECK(slots_[f].size() == em.size(), "persistent() has size {}, editor model {}",
                      slots_[f].size(), em.size());
    COWDB_MODEL_CHECK(slots_[f].exclusive().bytes == 0,
                      "a version frozen from a live editor has {} exclusive bytes",
                      slots_[f].exclusive().bytes);
    return f;
  }
  // The same, with the editor's ids.
  void freeze(const editor& e, const model& em, const ids_model& eids,
              std::vector<std::size_t>& frozen, std::size_t dst) {
    ids_[freeze(e, em, frozen, dst)] = eids;
  }

  // Runs an editor edit `ef` and its model edit `mf`; when `fallible`, under allocation-failure
  // injection: a failed edit must leave the editor's contents unchanged.
  template <class EdFn, class ModelFn>
  void edit(editor& e, model& em, bool fallible, EdFn&& ef, ModelFn&& mf) {
    if (!fallible) {
      ef(e);
      mf(em);
      return;
    }
    bool failed = false;
    {
      alloc_failure_scope scope(static_cast<int>(below(self().alloc_budget_bound(e, em.size()))));
      try {
        ef(e);
      } catch (const std::bad_alloc&) {
        failed = true;
      }
    }
    if (failed) {
      ++stats_.alloc_failures;
      check_editor_full(e, em);
      return;
    }
    mf(em);
  }
  // The same with the editor's ids `eids`: `idf` is the edit's id function (see write()). A
  // failed edit must leave the editor's ids unchanged too. Returns false if an injected
  // allocation failure stopped the edit.
  template <class EdFn, class ModelFn, class IdFn>
  bool edit(editor& e, model& em, ids_model& eids, bool fallible, EdFn&& ef, ModelFn&& mf,
            IdFn&& idf) {
    bool failed = false;
    if (!fallible) {
      ef(e);
    } else {
      alloc_failure_scope scope(static_cast<int>(below(self().alloc_budget_bound(e, em.size()))));
      try {
        ef(e);
      } catch (const std::bad_alloc&) {
        failed = true;
      }
    }
    if (failed) {
      ++stats_.alloc_failures;
      check_editor_full(e, em);
      if (track_ids_) check_ids_of(e, eids, "editor after a failed edit", 0);
      return false;
    }
    mf(em);
    if (track_ids_) {
      idf(eids);
      take_new_ids(e, eids, "editor");
    }
    return true;
  }

  // `f()` throws E; else the check fails with the message fmt::format(what, args...) + " did not
  // throw".
  template <class E, class Fn, class... Args>
  static void check_throws(Fn&& f, fmt::format_string<Args...> what, Args&&... args) {
    bool thrown = false;
    try {
      f();
    } catch (const E&) {
      thrown = true;
    }
    COWDB_MODEL_CHECK(thrown, "{} did not throw", fmt::format(what, std::forward<Args>(args)...));
  }

  // ---- checks ----------------------------------------------------------------------------------

  // Size and the first, last and one random element of an editor.
  void check_editor_light(const editor& e, const model& em) {
    const std::size_t n = em.size();
    COWDB_MODEL_CHECK(e.size() == n, "editor size {} != model size {}", e.size(), n);
    COWDB_MODEL_CHECK(e.empty() == (n == 0), "editor empty() wrong at size {}", n);
    if (n == 0) return;
    COWDB_MODEL_CHECK(e[n - 1] == em[n - 1], "editor last element {} != model {}", e[n - 1],
                      em[n - 1]);
    COWDB_MODEL_CHECK(e[0] == em[0], "editor first element {} != model {}", e[0], em[0]);
    const std::size_t i = below(n);
    COWDB_MODEL_CHECK(e[i] == em[i], "editor[{}] = {} != model {}", i, e[i], em[i]);
  }

  void check_editor_full(const editor& e, const model& em) { check_indexed(e, em, "editor", 0); }

  // size, operator[] and for_each_chunk of a pvec or an editor; returns the number of chunks.
  template <class V>
  std::size_t check_indexed(const V& v, const model& m, const char* what, std::size_t slot) {
    const std::size_t n = m.size();
    COWDB_MODEL_CHECK(v.size() == n, "{} {}: size {} != model size {}", what, slot, v.size(), n);
    COWDB_MODEL_CHECK(v.empty() == (n == 0), "{} {}: empty() wrong at size {}", what, slot, n);
    for (std::size_t k = 0; k < n; ++k) {
      COWDB_MODEL_CHECK(v[k] == m[k], "{} {}: [{}] = {} but the model has {}", what, slot, k, v[k],
                        m[k]);
    }
    // Chunks come in order, each of 1..Cap elements; with packed leaves no chunk crosses a leaf
    // boundary (a leaf is one chunk, a patch a few: the runs between its replaced elements).
    std::size_t pos = 0, chunks = 0;
    std::vector<std::span<const T>> seen;
    v.for_each_chunk([&](const T* first, const T* last) {
      const auto len = static_cast<std::size_t>(last - first);
      COWDB_MODEL_CHECK(len > 0 && len <= kCap &&
                            (!packed_leaves_ || pos / kCap == (pos + len - 1) / kCap) &&
                            pos + len <= n,
                        "{} {}: bad chunk of {} elements at {} (size {})", what, slot, len, pos, n);
      seen.emplace_back(first, len);
      for (std::size_t k = 0; k < len; ++k) {
        COWDB_MODEL_CHECK(first[k] == m[pos + k], "{} {}: chunk element {} = {} but model has {}",
                          what, slot, pos + k, first[k], m[pos + k]);
      }
      pos += len;
      ++chunks;
    });
    COWDB_MODEL_CHECK(pos == n, "{} {}: for_each_chunk covered {} of {} elements", what, slot, pos,
                      n);
    if constexpr (requires { v.chunks(); }) {  // the same spans through the chunk iterator
      std::size_t j = 0;
      for (std::span<const T> c : v.chunks()) {
        COWDB_MODEL_CHECK(
            j < seen.size() && c.data() == seen[j].data() && c.size() == seen[j].size(),
            "{} {}: chunks() span {} differs from for_each_chunk's", what, slot, j);
        ++j;
      }
      COWDB_MODEL_CHECK(j == seen.size(), "{} {}: chunks() gave {} spans, for_each_chunk {}", what,
                        slot, j, seen.size());
    }
    return chunks;
  }

  // Forward iteration over a slot, and end() - begin().
  void check_iteration(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    const std::size_t n = m.size();
    std::size_t k = 0;
    for (auto it = v.begin(), end = v.end(); it != end; ++it, ++k) {
      COWDB_MODEL_CHECK(k < n, "slot {}: iteration runs past the size {}", slot, n);
      COWDB_MODEL_CHECK(*it == m[k], "slot {}: iterator at {} reads {} but the model has {}", slot,
                        k, *it, m[k]);
    }
    COWDB_MODEL_CHECK(k == n, "slot {}: iteration stopped at {} of {}", slot, k, n);
    COWDB_MODEL_CHECK(v.end() - v.begin() == static_cast<std::ptrdiff_t>(n),
                      "slot {}: end() - begin() = {} for size {}", slot, v.end() - v.begin(), n);
  }

  // Backward iteration over a slot, prefix and postfix.
  void check_backward(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    auto it = v.end();
    for (std::size_t k = m.size(); k-- > 0;) {
      if (k % 2 == 0) {
        --it;
      } else {
        it--;
      }
      COWDB_MODEL_CHECK(*it == m[k], "slot {}: backward iteration at {} reads {}, model {}", slot,
                        k, *it, m[k]);
    }
    COWDB_MODEL_CHECK(it == v.begin(), "slot {}: backward iteration did not end at begin()", slot);
  }

  // `jumps` random jumps of an iterator over a slot, each followed by reads, comparisons, ++ and
  // --. With `all_forms`, a jump is made by any of +=, -=, +, -, n + it or begin() + n (one more
  // draw per jump); otherwise by +=.
  void check_jumps(std::size_t slot, int jumps, bool all_forms) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    const std::size_t n = m.size();
    auto it = v.begin();
    std::size_t pos = 0;
    for (int t = 0; t < jumps; ++t) {
      const std::size_t target = below(n + 1);
      const auto delta = static_cast<std::ptrdiff_t>(target) - static_cast<std::ptrdiff_t>(pos);
      switch (all_forms ? below(6) : 0) {
        case 0: it += delta; break;
        case 1: it -= -delta; break;
        case 2: it = it + delta; break;
        case 3: it = delta + it; break;
        case 4: it = it - (-delta); break;
        default: it = v.begin() + static_cast<std::ptrdiff_t>(target); break;
      }
      pos = target;
      const auto spos = static_cast<std::ptrdiff_t>(pos);
      COWDB_MODEL_CHECK(
          it - v.begin() == spos && v.end() - it == static_cast<std::ptrdiff_t>(n) - spos,
          "slot {}: jump to {} landed at {}", slot, pos, it - v.begin());
      COWDB_MODEL_CHECK((it == v.end()) == (pos == n) && (it < v.end()) == (pos < n) &&
                            v.begin() <= it && it <= v.end(),
                        "slot {}: iterator comparisons wrong at {} of {}", slot, pos, n);
      if (pos < n) {
        COWDB_MODEL_CHECK(*it == m[pos] && it[0] == m[pos] && v.begin()[spos] == m[pos],
                          "slot {}: jump to {} reads {}, model {}", slot, pos, *it, m[pos]);
        auto next = it;
        next++;
        auto next2 = it;
        ++next2;
        COWDB_MODEL_CHECK(next == next2 && next - it == 1 && (pos + 1 == n) == (next == v.end()),
                          "slot {}: ++ after a jump to {} is wrong", slot, pos);
        if (pos + 1 < n) {
          COWDB_MODEL_CHECK(*next == m[pos + 1], "slot {}: ++ after jump to {} reads {}", slot, pos,
                            *next);
        }
      }
      if (pos > 0) {
        auto prev = it;
        --prev;
        COWDB_MODEL_CHECK(*prev == m[pos - 1] && it[-1] == m[pos - 1],
                          "slot {}: -- after a jump to {} reads {}, model {}", slot, pos, *prev,
                          m[pos - 1]);
      }
    }
  }

  // for_each_chunk over a random sub-range of a slot (clipped to the size).
  void check_chunk_range(std::size_t slot) {
    const Vec& v = slots_[slot];
    const model& m = models_[slot];
    const std::size_t n = m.size();
    const std::size_t first = below(n + 2);
    const std::size_t last = one_in(4) ? std::numeric_limits<std::size_t>::max() : below(n + 3);
    std::size_t pos = first;
    v.for_each_chunk(first, last, [&](const T* b, const T* e) {
      for (const T* p = b; p != e; ++p, ++pos) {
        COWDB_MODEL_CHECK(pos < n && *p == m[pos], "slot {}: for_each_chunk({}, {}) at {}", slot,
                          first, last, pos);
      }
    });
    const std::size_t want = first < std::min(last, n) ? std::min(last, n) : first;
    COWDB_MODEL_CHECK(pos == want, "slot {}: for_each_chunk({}, {}) ended at {}", slot, first, last,
                      pos);
  }

  // The live node count equals the nodes reachable from the slots: nothing leaked, nothing freed
  // early.
  // Row-id lists (row_ids.h) are allocated like nodes and visited as children of their leaves.
  void check_live_nodes() {
    std::unordered_set<const void*> all;
    all.reserve(static_cast<std::size_t>(internal::live_nodes() - live0_) + 1);
    for (const Vec& v : slots_) {
      internal::pvec_access::visit_nodes(
          v, [&all](const void* node, std::size_t) { return all.insert(node).second; });
    }
    const std::int64_t live = internal::live_nodes() - live0_;
    COWDB_MODEL_CHECK(live == static_cast<std::int64_t>(all.size()),
                      "{} nodes alive but {} reachable from the slots", live, all.size());
  }

  // ---- row identity ----------------------------------------------------------------------------

  // The ids the rows of slot `src` will have after an operation with id function `idf` (none
  // when the driver tracks no ids: then idf is not called).
  template <class IdFn>
  ids_model source_ids(std::size_t src, IdFn& idf) {
    if constexpr (std::is_same_v<std::remove_cvref_t<IdFn>, untracked_rows>) {
      COWDB_MODEL_CHECK(!track_ids_, "a write without an id function in a driver that tracks ids");
      return {};
    } else {
      if (!track_ids_) return {};
      ids_model ids = ids_[src];
      idf(ids);
      return ids;
    }
  }
  void store_ids(std::size_t dst, ids_model ids) {
    if (!track_ids_) return;
    take_new_ids(slots_[dst], ids, "slot");
    ids_[dst] = std::move(ids);
  }

  // Whether `id` may be the id of a new row: issued since this driver started, by the
  // process-wide counter, and not seen before. Records it as seen.
  bool note_fresh_id(row_id_t id) {
    if (id < first_id_ || id >= internal::fresh_row_ids(0)) return false;
    const auto k = static_cast<std::size_t>(id - first_id_);
    if (k >= seen_ids_.size()) seen_ids_.resize(std::max(2 * seen_ids_.size(), k + 1));
    if (seen_ids_[k]) return false;
    seen_ids_[k] = true;
    return true;
  }

  // Replaces every kNewRow of `ids` (the expected ids of v, a version or an editor) by the id v
  // gave that row, which must be fresh.
  template <class V>
  void take_new_ids(const V& v, ids_model& ids, const char* what) {
    COWDB_MODEL_CHECK(ids.size() == v.size(), "{}: the id model has {} rows, the pvec {}", what,
                      ids.size(), v.size());
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (ids[k] != kNewRow) continue;
      const row_id_t id = v.row_id(k);
      COWDB_MODEL_CHECK(note_fresh_id(id),
                        "{}: new row {} has id {}, which is not fresh (seen before in this run, or "
                        "not issued since it started at id {})",
                        what, k, id, first_id_);
      ids[k] = id;
    }
    ++stats_.new_rows_checked;
  }

  // row_id(i) of a version or an editor against the expected ids, for every row.
  template <class V>
  void check_ids_of(const V& v, const ids_model& ids, const char* what, std::size_t slot) {
    COWDB_MODEL_CHECK(v.size() == ids.size(), "{} {}: size {} but {} expected ids", what, slot,
                      v.size(), ids.size());
    for (std::size_t k = 0; k < ids.size(); ++k) {
      COWDB_MODEL_CHECK(v.row_id(k) == ids[k], "{} {}: row {} has id {}, expected {}", what, slot,
                        k, v.row_id(k), ids[k]);
    }
  }
  void check_ids(std::size_t slot) {
    if (track_ids_) check_ids_of(slots_[slot], ids_[slot], "slot", slot);
  }
  // The same for every row of a slot, read leaf by leaf from the tree (the runs of its leaves'
  // id lists) rather than by row_id(i): O(n / Cap + runs) instead of O(n * depth), for the check
  // of every slot after every step. row_id(i) itself is checked by check_ids.
  void check_ids_by_leaf(std::size_t slot) {
    if (!track_ids_) return;
    const ids_model& ids = ids_[slot];
    const internal::tree_rep& r = internal::pvec_access::rep(slots_[slot]);
    COWDB_MODEL_CHECK(r.size == ids.size(), "slot {}: size {} but {} expected ids", slot, r.size,
                      ids.size());
    std::size_t pos = 0;
    bool ok = true;
    auto leaf_fn = [&](const typename tree::leaf* l) {
      l->ids.for_each_run(0, l->count, [&](std::size_t, row_id_t first, std::size_t len) {
        for (std::size_t j = 0; j < len && ok; ++j, ++pos) {
          ok = pos < ids.size() && ids[pos] == first + j;
        }
      });
    };
    if (r.root != nullptr) tree::for_each_leaf(r.root, r.depth, leaf_fn);
    if (!ok || pos != ids.size()) check_ids(slot);  // finds and reports the first wrong row
    COWDB_MODEL_CHECK(ok && pos == ids.size(),
                      "slot {}: the leaves hold ids that row_id() does not report", slot);
  }

  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::int64_t live0_;
  bool packed_leaves_;
  bool track_ids_;
  row_id_t first_id_;           // the id counter when the driver started
  std::vector<bool> seen_ids_;  // [id - first_id_]: seen as the id of a new row
  std::uint64_t step_ = 0;
  std::array<Vec, kSlots> slots_;
  std::array<model, kSlots> models_;
  std::array<ids_model, kSlots> ids_;  // when track_ids_: the ids of each slot's rows
  Stats stats_;
};

// Catch::rngSeed(), printed for replay with the name of the test.
inline std::uint64_t announce_seed(const char* test) {
  const std::uint64_t s = Catch::rngSeed();
  fmt::print("{}: seed {} (replay with --rng-seed {})\n", test, s, s);
  return s;
}

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_PVEC_MODEL_H_
