// Exception-safety and leak tests of pvec<T> and its editor.
//
// Every operation that produces a new version is run again and again with one fault injected at
// its k-th opportunity, k = 1, 2, 3, ... until it completes without one:
//   - a copy (or, for ElemAll, also a move) of the element type throws InjectedError;
//   - the user functor given to update() / transform() / a range view, or the predicate,
//     comparator or projection given to erase_if() / filter() / sort() / stable_sort(), throws
//     InjectedError;
//   - the k-th node allocation throws std::bad_alloc (internal::g_before_node_alloc).
// Each attempt runs on a fresh "world" of live versions that share chunks in several ways (tiny
// chunks, deep trees), each paired with a std::vector model. After every attempt, failed or not,
// every live version must still equal its model (strong guarantee) and, once the world is dropped,
// internal::live_nodes() must be back where it started (no leak). Each operation must run into
// the faults it is expected to meet (and only those), so a test cannot pass by never throwing.
//
// Also here: out-of-range errors, and the live-node accounting itself (path copies allocate
// exactly one leaf plus one inner node per level; any order of destruction frees everything).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <new>
#include <optional>
#include <random>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace {

using cowdb::memory_stats;
using cowdb::internal::live_nodes;

// ---- fault injection ----------------------------------------------------------------------------

enum Fault : unsigned { kCopyFault = 1, kFnFault = 2, kAllocFault = 4 };

const char* fault_name(unsigned fault) {
  switch (fault) {
    case kCopyFault: return "element copy/move";
    case kFnFault: return "user functor";
    case kAllocFault: return "node allocation";
    default: return "?";
  }
}

// A countdown. Armed with k, the k-th fire() from then on returns true, once; 0 is disarmed.
class Fuse {
 public:
  void arm(int k) { remaining_ = k; }
  void disarm() { remaining_ = 0; }
  bool armed() const { return remaining_ > 0; }
  int remaining() const { return remaining_; }
  bool fire() {
    if (remaining_ == 0) return false;
    return --remaining_ == 0;
  }

 private:
  int remaining_ = 0;
};

Fuse g_copy_fuse;   // copies (and, for ElemAll, moves) of the element types below
Fuse g_fn_fuse;     // user functors
Fuse g_alloc_fuse;  // node allocations, through internal::g_before_node_alloc

Fuse& fuse_for(unsigned fault) {
  if (fault == kCopyFault) return g_copy_fuse;
  if (fault == kFnFault) return g_fn_fuse;
  return g_alloc_fuse;
}

void disarm_all() {
  g_copy_fuse.disarm();
  g_fn_fuse.disarm();
  g_alloc_fuse.disarm();
}

// What the element types and functors throw; `fault` names the fuse that fired.
struct InjectedError : std::runtime_error {
  InjectedError(unsigned f, const char* what) : std::runtime_error(what), fault(f) {}
  unsigned fault;
};

// Pauses every fuse for its lifetime: the test's own bookkeeping (models, checks) never fails.
class Quiet {
 public:
  Quiet()
      : copy_(g_copy_fuse.remaining()),
        fn_(g_fn_fuse.remaining()),
        alloc_(g_alloc_fuse.remaining()) {
    disarm_all();
  }
  ~Quiet() {
    g_copy_fuse.arm(copy_);
    g_fn_fuse.arm(fn_);
    g_alloc_fuse.arm(alloc_);
  }
  Quiet(const Quiet&) = delete;
  Quiet& operator=(const Quiet&) = delete;

 private:
  int copy_;
  int fn_;
  int alloc_;
};

void failing_alloc_hook() {
  if (g_alloc_fuse.fire()) throw std::bad_alloc();
}

// Installs the allocation hook for its lifetime; always uninstalls it.
class AllocHookGuard {
 public:
  AllocHookGuard() { cowdb::internal::g_before_node_alloc = &failing_alloc_hook; }
  ~AllocHookGuard() {
    g_alloc_fuse.disarm();
    cowdb::internal::g_before_node_alloc = nullptr;
  }
  AllocHookGuard(const AllocHookGuard&) = delete;
  AllocHookGuard& operator=(const AllocHookGuard&) = delete;
};

// ---- element types ------------------------------------------------------------------------------

// Copy construction and copy assignment throw when g_copy_fuse fires; moves never throw, so
// every operation, editor set/update included, must give the strong guarantee.
struct Elem {
  Elem() = default;
  explicit Elem(int x) noexcept : v(x) {}
  Elem(const Elem& o) : v(o.v) {
    if (g_copy_fuse.fire()) throw InjectedError(kCopyFault, "Elem copy constructor");
  }
  Elem(Elem&& o) noexcept : v(o.v) {}
  Elem& operator=(const Elem& o) {
    if (g_copy_fuse.fire()) throw InjectedError(kCopyFault, "Elem copy assignment");
    v = o.v;
    return *this;
  }
  Elem& operator=(Elem&& o) noexcept {
    v = o.v;
    return *this;
  }
  ~Elem() = default;
  friend bool operator==(const Elem& a, const Elem& b) noexcept { return a.v == b.v; }

  int v = 0;
};

// Copies and moves (construction and assignment) all throw when g_copy_fuse fires. Editor
// set/update are documented as only basic for such a type and are not tested for strong here.
struct ElemAll {
  ElemAll() = default;
  explicit ElemAll(int x) noexcept : v(x) {}
  ElemAll(const ElemAll& o) : v(o.v) {
    if (g_copy_fuse.fire()) throw InjectedError(kCopyFault, "ElemAll copy constructor");
  }
  ElemAll(ElemAll&& o) : v(o.v) {
    if (g_copy_fuse.fire()) throw InjectedError(kCopyFault, "ElemAll move constructor");
  }
  ElemAll& operator=(const ElemAll& o) {
    if (g_copy_fuse.fire()) throw InjectedError(kCopyFault, "ElemAll copy assignment");
    v = o.v;
    return *this;
  }
  ElemAll& operator=(ElemAll&& o) {
    if (g_copy_fuse.fire()) throw InjectedError(kCopyFault, "ElemAll move assignment");
    v = o.v;
    return *this;
  }
  ~ElemAll() = default;
  friend bool operator==(const ElemAll& a, const ElemAll& b) noexcept { return a.v == b.v; }

  int v = 0;
};

int value_of(int x) { return x; }
int value_of(const Elem& e) { return e.v; }
int value_of(const ElemAll& e) { return e.v; }

template <class T>
constexpr const char* kElemName = "int";
template <>
constexpr const char* kElemName<Elem> = "Elem";
template <>
constexpr const char* kElemName<ElemAll> = "ElemAll";

// Tiny shapes, so that a few hundred elements make trees 4 to 8 levels deep.
using VecE2 = cowdb::pvec<Elem, 2 * sizeof(Elem), 2>;        // 2 per chunk, fan-out 2
using VecE4 = cowdb::pvec<Elem, 4 * sizeof(Elem), 4>;        // 4 per chunk, fan-out 4
using VecM2 = cowdb::pvec<ElemAll, 2 * sizeof(ElemAll), 2>;  // throwing moves
using VecI2 = cowdb::pvec<int, 2 * sizeof(int), 2>;          // trivially copyable: memcpy path
using VecI4 = cowdb::pvec<int, 4 * sizeof(int), 4>;

template <class V>
std::string shape_name() {
  return fmt::format("pvec<{}, {} per chunk, fan-out {}>", kElemName<typename V::value_type>,
                     V::chunk_capacity, V::fanout);
}

template <class V>
using Model = std::vector<typename V::value_type>;

// The user functor: x + delta. Fires the functor fuse, then copies its argument (for the element
// types above, that copy may throw as well).
template <class T>
T bump(const T& x, int delta) {
  if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "user functor");
  const T copy = x;
  return T(value_of(copy) + delta);
}

// Changes only the elements whose value % 80 < 20 (two of every eight in the base version), so
// that most chunks come out unchanged and are shared instead of copied.
template <class T>
T bump_some(const T& x) {
  if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "user functor");
  T copy = x;
  if (value_of(copy) % 80 < 20) return T(value_of(copy) + 1);
  return copy;
}

// The user functors of the row operations: a predicate true for one row in eight of the base
// version (the second row of a chunk: every chunk keeps rows, which are copied), a comparator
// (descending) and a key projection (value / 100, many ties). Each fires the functor fuse first.
template <class T>
bool drops_some(const T& x) {
  if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "predicate");
  return value_of(x) % 80 == 10;
}
struct Greater {
  template <class T>
  bool operator()(const T& a, const T& b) const {
    if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "comparator");
    return value_of(a) > value_of(b);
  }
};
struct KeyOf {
  template <class T>
  int operator()(const T& x) const {
    if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "projection");
    return value_of(x) / 100;
  }
};
// The same orders on a model (no fuse).
template <class T>
void sort_model_descending(std::vector<T>& m) {
  std::stable_sort(m.begin(), m.end(),
                   [](const T& a, const T& b) { return value_of(a) > value_of(b); });
}
template <class T>
void sort_model_by_key(std::vector<T>& m) {
  std::stable_sort(m.begin(), m.end(),
                   [](const T& a, const T& b) { return value_of(a) / 100 < value_of(b) / 100; });
}
template <class T>
void erase_model_some(std::vector<T>& m) {
  std::erase_if(m, [](const T& x) { return value_of(x) % 80 == 10; });
}

template <class T>
void bump_model(std::vector<T>& m, std::size_t first, std::size_t last, int delta) {
  for (std::size_t i = first; i < last && i < m.size(); ++i) m[i] = T(value_of(m[i]) + delta);
}

// A single-pass view of a model, so that pvec's constructor takes its input-iterator path.
template <class T>
class InputIt {
 public:
  using iterator_concept = std::input_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;

  InputIt() = default;
  explicit InputIt(const T* p) : p_(p) {}
  const T& operator*() const { return *p_; }
  InputIt& operator++() {
    ++p_;
    return *this;
  }
  void operator++(int) { ++p_; }
  friend bool operator==(const InputIt& a, const InputIt& b) { return a.p_ == b.p_; }

 private:
  const T* p_ = nullptr;
};

// ---- checking versions against models -----------------------------------------------------------

template <class V>
std::string version_error(const V& v, const Model<V>& m) {
  if (v.size() != m.size()) return fmt::format("size {}, model size {}", v.size(), m.size());
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (!(v[i] == m[i])) {
      return fmt::format("v[{}] is {}, model {}", i, value_of(v[i]), value_of(m[i]));
    }
  }
  std::size_t i = 0;
  for (const auto& x : v) {
    if (i >= m.size() || !(x == m[i])) return fmt::format("iteration differs at {}", i);
    ++i;
  }
  if (i != m.size()) return fmt::format("iteration stops at {} of {}", i, m.size());
  return {};
}

template <class V>
std::string editor_error(const typename V::editor& e, const Model<V>& m) {
  if (e.size() != m.size()) return fmt::format("editor size {}, model size {}", e.size(), m.size());
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (!(e[i] == m[i])) {
      return fmt::format("editor[{}] is {}, model {}", i, value_of(e[i]), value_of(m[i]));
    }
  }
  std::size_t i = 0;
  bool ok = true;
  e.for_each_chunk([&](const auto* first, const auto* last) {
    for (; first != last; ++first, ++i) ok = ok && i < m.size() && *first == m[i];
  });
  if (!ok || i != m.size()) return "editor for_each_chunk differs from the model";
  return {};
}

// After a detected reference-count underflow, keeps one extra reference to v's root forever, so
// that the remaining checks report the failure instead of crashing on freed memory. Only reached
// on a failing run; the nodes are still freed by their other owners.
template <class V>
void quarantine(const V& v) {
  static auto* const kept = new std::vector<V>();  // never destroyed, on purpose
  kept->push_back(v);
}

// ---- the world of live versions -----------------------------------------------------------------

constexpr std::size_t kN = 301;        // base size: the last chunk is partly filled
constexpr std::size_t kUniqueN = 256;  // a full tree in every shape above: push_back adds a level

// Slots of make_world(); operations append their results after these.
enum Slot : std::size_t {
  kBase,        // kN elements, built from a range
  kSetPush,     // base with three elements set and two appended
  kTaken,       // base.take(kN / 3 + 1)
  kTransRange,  // base with a middle range transformed
  kEdited,      // base through an editor: pops, a set, pushes
  kCopyOfBase,  // the same version as kBase: shares its root
  kUnique,      // kUniqueN elements that no other version shares
  kNumSlots,
};
constexpr const char* kSlotNames[] = {"base",   "set+push",     "taken", "range-transformed",
                                      "edited", "copy of base", "unique"};

template <class V>
struct World {
  World() {
    v.reserve(32);
    m.reserve(32);
    live.reserve(32);
  }
  // Adds a version and its model. Moves only: never runs into an injected fault.
  void add(V x, Model<V> model) {
    v.push_back(std::move(x));
    m.push_back(std::move(model));
    live.push_back(true);
  }
  // A slot moved into a `&&` operation that succeeded: its contents are no longer checked.
  void consume(std::size_t slot) { live[slot] = false; }
  // A copy of a slot's model passed through f, computed with every fuse paused.
  template <class F>
  Model<V> derive(std::size_t slot, F f) const {
    Quiet q;
    Model<V> r = m[slot];
    f(r);
    return r;
  }

  // Records the first failure an operation detects itself (editor batches check the editor).
  void fail(std::string error) {
    if (op_error.empty()) op_error = std::move(error);
  }

  std::vector<V> v;
  std::vector<Model<V>> m;
  std::vector<bool> live;
  std::string op_error;
};

template <class V>
World<V> make_world() {
  using T = typename V::value_type;
  Quiet q;
  World<V> w;
  Model<V> base;
  for (std::size_t i = 0; i < kN; ++i) base.push_back(T(static_cast<int>(i) * 10));
  const V b(base.begin(), base.end());
  w.add(b, base);

  Model<V> sp = base;
  sp[5] = T(-1);
  sp[kN / 2] = T(-2);
  sp[kN - 1] = T(-3);
  sp.push_back(T(-4));
  sp.push_back(T(-5));
  w.add(b.set(5, T(-1)).set(kN / 2, T(-2)).set(kN - 1, T(-3)).push_back(T(-4)).push_back(T(-5)),
        sp);

  w.add(b.take(kN / 3 + 1), Model<V>(base.begin(), base.begin() + kN / 3 + 1));

  Model<V> tr = base;
  bump_model(tr, kN / 4, kN / 2, 1000);
  w.add(b.transform(kN / 4, kN / 2, [](const T& x) { return T(value_of(x) + 1000); }), tr);

  Model<V> ed = base;
  auto e = b.transient();
  for (int j = 0; j < 5; ++j) {
    e.pop_back();
    ed.pop_back();
  }
  e.set(10, T(-6));
  ed[10] = T(-6);
  for (int j = 0; j < 3; ++j) {
    e.push_back(T(-7 - j));
    ed.push_back(T(-7 - j));
  }
  w.add(std::move(e).persistent(), ed);

  w.add(b, base);

  Model<V> u;
  for (std::size_t i = 0; i < kUniqueN; ++i) u.push_back(T(5000 + static_cast<int>(i)));
  V uv(u.begin(), u.end());
  w.add(std::move(uv), u);
  return w;
}

struct WorldCheck {
  std::string error;
  bool refcount_low = false;
};

template <class V>
WorldCheck check_world(const World<V>& w) {
  WorldCheck r;
  if (!w.op_error.empty()) {
    r.error = w.op_error;
    return r;
  }
  // Reference counts first: kBase and kCopyOfBase hold the same root, so it cannot be exclusive
  // to either. If it is, some failed operation released a reference it did not own.
  if (w.live[kBase] && w.live[kCopyOfBase]) {
    if (w.v[kBase].identity() != w.v[kCopyOfBase].identity()) {
      r.error = "base and its copy no longer share a root";
      return r;
    }
    if (!(w.v[kBase].exclusive() == memory_stats{})) {
      r.refcount_low = true;
      r.error =
          "the root shared by base and its copy is reported exclusive: its reference count "
          "dropped below its number of owners";
      return r;
    }
  }
  if (w.live[kUnique] && !(w.v[kUnique].exclusive() == w.v[kUnique].memory())) {
    r.error = "the unique version is no longer exclusive";
    return r;
  }
  for (std::size_t s = 0; s < w.v.size(); ++s) {
    if (!w.live[s]) continue;
    std::string e = version_error(w.v[s], w.m[s]);
    if (!e.empty()) {
      r.error = fmt::format("slot {} ({}): {}", s, s < kNumSlots ? kSlotNames[s] : "result", e);
      return r;
    }
  }
  return r;
}

// ---- operations ---------------------------------------------------------------------------------

template <class V>
struct Op {
  std::string name;
  // The faults this operation runs into (at least once) and no others.
  unsigned faults;
  // Uses editor set/update (or their in-place && forms): documented as strong only when T's move
  // assignment cannot throw, so skipped for ElemAll.
  bool needs_nothrow_move_assign;
  std::function<void(World<V>&)> run;
};

// An editor and its model. Each step checks the editor's own strong guarantee: when the edit
// throws, the editor still holds its previous contents.
template <class V>
class TrackedEditor {
 public:
  using T = typename V::value_type;
  TrackedEditor(World<V>& w, typename V::editor e, Model<V> m)
      : w_(w), e_(std::move(e)), m_(std::move(m)) {}

  // Failures are recorded in the world (not INFO/CHECK here: Catch keeps the messages of a scope
  // left by an exception).
  template <class Edit, class Apply>
  void step(const char* what, Edit edit, Apply apply) {
    try {
      edit(e_);
    } catch (...) {
      Quiet q;
      check_after_failed_edit(what);
      throw;
    }
    Quiet q;
    apply(m_);
  }

  // Editor transform goes through persistent().transform(); a snapshot shares the editor's
  // root meanwhile, so a failed transform that releases a reference it does not own shows up as
  // the snapshot being exclusive, instead of as a use-after-free.
  void transform(int delta) {
    const V snapshot = e_.persistent();
    try {
      e_.transform([delta](const T& x) { return bump(x, delta); });
    } catch (...) {
      Quiet q;
      if (!(snapshot.exclusive() == memory_stats{})) {
        quarantine(snapshot);
        w_.fail(
            "after a failed editor transform, a snapshot of the editor is reported exclusive: "
            "the reference count of the editor's root dropped below its number of owners");
      }
      check_after_failed_edit("transform");
      throw;
    }
    Quiet q;
    bump_model(m_, 0, m_.size(), delta);
  }

  // Freezes the current contents into the world (the editor keeps going).
  void snapshot() {
    V p = e_.persistent();
    Quiet q;
    w_.add(std::move(p), m_);
  }
  // Freezes and ends.
  void finish() {
    V p = std::move(e_).persistent();
    w_.add(std::move(p), std::move(m_));
  }

 private:
  void check_after_failed_edit(const char* what) {
    const std::string error = editor_error<V>(e_, m_);
    if (!error.empty()) w_.fail(fmt::format("after a failed editor {}: {}", what, error));
  }

  World<V>& w_;
  typename V::editor e_;
  Model<V> m_;
};

// A batch of editor operations from slot `src` (moved in if it is kUnique), frozen half-way and at
// the end. With `assignments`, also set() and update(), which are only basic when T's move
// assignment may throw.
template <class V>
void editor_batch(World<V>& w, std::size_t src, bool assignments) {
  using T = typename V::value_type;
  using Ed = typename V::editor;
  Model<V> m0 = w.derive(src, [](Model<V>&) {});
  Ed e;
  if (src == kUnique) {
    e = std::move(w.v[kUnique]).transient();
    w.consume(kUnique);
  } else {
    e = w.v[src].transient();
  }
  TrackedEditor<V> t(w, std::move(e), std::move(m0));
  if (assignments) {
    t.step(
        "set", [](Ed& x) { x.set(7, T(-30)); }, [](Model<V>& x) { x[7] = T(-30); });
    t.step(
        "update", [](Ed& x) { x.update(150, [](const T& y) { return bump(y, 5); }); },
        [](Model<V>& x) { bump_model(x, 150, 151, 5); });
  }
  for (int j = 0; j < 5; ++j) {
    t.step(
        "push_back", [j](Ed& x) { x.push_back(T(-31 - j)); },
        [j](Model<V>& x) { x.push_back(T(-31 - j)); });
  }
  for (int j = 0; j < 9; ++j) {
    t.step(
        "pop_back", [](Ed& x) { x.pop_back(); }, [](Model<V>& x) { x.pop_back(); });
  }
  t.snapshot();
  if (assignments) {
    t.step(
        "set", [](Ed& x) { x.set(8, T(-40)); }, [](Model<V>& x) { x[8] = T(-40); });
  }
  t.step(
      "push_back", [](Ed& x) { x.push_back(T(-41)); }, [](Model<V>& x) { x.push_back(T(-41)); });
  t.step(
      "take", [](Ed& x) { x.take(201); }, [](Model<V>& x) { x.resize(201); });
  t.step(
      "resize", [](Ed& x) { x.resize(230, T(-42)); }, [](Model<V>& x) { x.resize(230, T(-42)); });
  t.transform(1);
  t.finish();
}

// A batch of the editor's row operations from slot `src` (moved in if it is kUnique), on its
// first 60 rows: erase_if, sort, append(range), emplace, insert(i, T&&), stable_sort by a
// projection, filter, frozen half-way and at the end.
template <class V>
void editor_row_batch(World<V>& w, std::size_t src) {
  using T = typename V::value_type;
  using Ed = typename V::editor;
  Model<V> m0 = w.derive(src, [](Model<V>&) {});
  Ed e;
  if (src == kUnique) {
    e = std::move(w.v[kUnique]).transient();
    w.consume(kUnique);
  } else {
    e = w.v[src].transient();
  }
  TrackedEditor<V> t(w, std::move(e), std::move(m0));
  // Sixty rows: the sorts' comparators are called O(n log n) times, each an injection point.
  t.step(
      "take", [](Ed& x) { x.take(60); }, [](Model<V>& x) { x.resize(60); });
  t.step(
      "erase_if", [](Ed& x) { x.erase_if([](const T& y) { return drops_some(y); }); },
      [](Model<V>& x) { erase_model_some(x); });
  t.step(
      "sort", [](Ed& x) { x.sort(Greater{}); }, [](Model<V>& x) { sort_model_descending(x); });
  t.snapshot();
  t.step(
      "append(range)",
      [](Ed& x) {
        const std::vector<T> r = {T(-90), T(-91), T(-92), T(-93), T(-94)};
        x.append(r);
      },
      [](Model<V>& x) {
        for (int j = 0; j < 5; ++j) x.push_back(T(-90 - j));
      });
  t.step(
      "emplace", [](Ed& x) { x.emplace(3, -95); },
      [](Model<V>& x) { x.insert(x.begin() + 3, T(-95)); });
  t.step(
      "insert(T&&)", [](Ed& x) { x.insert(40, T(-96)); },
      [](Model<V>& x) { x.insert(x.begin() + 40, T(-96)); });
  t.step(
      "stable_sort by a key", [](Ed& x) { x.stable_sort(std::ranges::less{}, KeyOf{}); },
      [](Model<V>& x) { sort_model_by_key(x); });
  t.step(
      "filter", [](Ed& x) { x.filter([](const T& y) { return !drops_some(y); }); },
      [](Model<V>& x) { erase_model_some(x); });
  t.finish();
}

template <class V>
std::vector<Op<V>> all_ops() {
  using T = typename V::value_type;
  using W = World<V>;
  // Moving T may throw: in-place appends meet the copy/move fuse too.
  constexpr unsigned kMoveFault = std::is_nothrow_move_constructible_v<T> ? 0u : kCopyFault;
  constexpr unsigned kCA = kCopyFault | kAllocFault;
  constexpr unsigned kAll = kCopyFault | kFnFault | kAllocFault;
  // set() on a shared chunk makes a patch over it and moves the value in; in trees whose chunks
  // are too small for patches (rbtree's `patching`) it copies the chunk.
  constexpr unsigned kSetFaults = V::chunk_capacity >= 4 ? kAllocFault | kMoveFault : kCA;
  std::vector<Op<V>> ops;
  auto add = [&ops](std::string name, unsigned faults, bool needs_nothrow_move_assign,
                    std::function<void(W&)> run) {
    ops.push_back(Op<V>{std::move(name), faults, needs_nothrow_move_assign, std::move(run)});
  };

  // ---- construction
  add("pvec(first, last), forward iterators", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>&) {});
    V out(m.begin(), m.end());
    w.add(std::move(out), std::move(m));
  });
  add("pvec(first, last), input iterators", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>&) {});
    V out(InputIt<T>(m.data()), InputIt<T>(m.data() + m.size()));
    w.add(std::move(out), std::move(m));
  });
  add("pvec(range), std::vector", kCA, false, [](W& w) {
    Model<V> m = w.derive(kSetPush, [](Model<V>&) {});
    V out(m);
    w.add(std::move(out), std::move(m));
  });
  add("pvec(range), transform view", kFnFault | kAllocFault, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) {
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = T(static_cast<int>(i) * 3);
    });
    V out(std::views::iota(0, static_cast<int>(kN)) | std::views::transform([](int i) {
            if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "range view functor");
            return T(i * 3);
          }));
    w.add(std::move(out), std::move(m));
  });
  add("pvec(n, value)", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { x.assign(kN, T(-60)); });
    V out(kN, T(-60));
    w.add(std::move(out), std::move(m));
  });
  add("pvec(initializer_list)", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) {
      x.clear();
      for (int i = 1; i <= 24; ++i) x.push_back(T(i));
    });
    V out{T(1),  T(2),  T(3),  T(4),  T(5),  T(6),  T(7),  T(8),  T(9),  T(10), T(11), T(12),
          T(13), T(14), T(15), T(16), T(17), T(18), T(19), T(20), T(21), T(22), T(23), T(24)};
    w.add(std::move(out), std::move(m));
  });

  // ---- persistent writes. "shared": an rvalue whose root another version holds (copy path);
  // "unique": an rvalue no other version shares (in-place path).
  add("push_back", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { x.push_back(T(-10)); });
    w.add(w.v[kBase].push_back(T(-10)), std::move(m));
  });
  add("push_back &&, shared", kCA, false, [](W& w) {
    Model<V> m = w.derive(kCopyOfBase, [](Model<V>& x) { x.push_back(T(-10)); });
    V out = std::move(w.v[kCopyOfBase]).push_back(T(-10));
    w.consume(kCopyOfBase);
    w.add(std::move(out), std::move(m));
  });
  add("push_back &&, unique (adds a level)", kAllocFault | kMoveFault, false, [](W& w) {
    Model<V> m = w.derive(kUnique, [](Model<V>& x) { x.push_back(T(-10)); });
    V out = std::move(w.v[kUnique]).push_back(T(-10));
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  // Two full level-1 nodes, the last one short of a row, under a regular root: the push_back
  // goes to the root, which turns relaxed and is reallocated with a size table (fan-out 4; at
  // fan-out 2 the root is full and a level is added).
  add("push_back past a short child (a regular node gets a size table)", kCA, false, [](W& w) {
    constexpr std::size_t m = 2 * V::chunk_capacity * V::fanout;
    static_assert(m <= kN);
    constexpr std::size_t gone = m - V::chunk_capacity - 1;  // in the next-to-last leaf
    Model<V> mm = w.derive(kBase, [](Model<V>& x) {
      x.erase(x.begin() + m, x.end());
      x.erase(x.begin() + gone);
      x.push_back(T(-12));
    });
    w.add(w.v[kBase].take(m).erase(gone).push_back(T(-12)), std::move(mm));
  });
  add("pop_back", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { x.pop_back(); });
    w.add(w.v[kBase].pop_back(), std::move(m));
  });
  add("pop_back &&, shared", kCA, false, [](W& w) {
    Model<V> m = w.derive(kCopyOfBase, [](Model<V>& x) { x.pop_back(); });
    V out = std::move(w.v[kCopyOfBase]).pop_back();
    w.consume(kCopyOfBase);
    w.add(std::move(out), std::move(m));
  });
  add("pop_back &&, unique (in place: no copy, no allocation)", 0, false, [](W& w) {
    Model<V> m = w.derive(kUnique, [](Model<V>& x) { x.pop_back(); });
    V out = std::move(w.v[kUnique]).pop_back();
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  add("set", kSetFaults, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { x[123] = T(-11); });
    w.add(w.v[kBase].set(123, T(-11)), std::move(m));
  });
  add("set &&, shared", kSetFaults, false, [](W& w) {
    Model<V> m = w.derive(kCopyOfBase, [](Model<V>& x) { x[0] = T(-11); });
    V out = std::move(w.v[kCopyOfBase]).set(0, T(-11));
    w.consume(kCopyOfBase);
    w.add(std::move(out), std::move(m));
  });
  add("set &&, unique (in place)", 0, true, [](W& w) {
    Model<V> m = w.derive(kUnique, [](Model<V>& x) { x[200] = T(-11); });
    V out = std::move(w.v[kUnique]).set(200, T(-11));
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  add("update", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { bump_model(x, 77, 78, 3); });
    w.add(w.v[kBase].update(77, [](const T& x) { return bump(x, 3); }), std::move(m));
  });
  add("update &&, shared", kAll, false, [](W& w) {
    Model<V> m = w.derive(kCopyOfBase, [](Model<V>& x) { bump_model(x, 300, 301, 3); });
    V out = std::move(w.v[kCopyOfBase]).update(300, [](const T& x) { return bump(x, 3); });
    w.consume(kCopyOfBase);
    w.add(std::move(out), std::move(m));
  });
  add("update &&, unique (in place)", kCopyFault | kFnFault, true, [](W& w) {
    Model<V> m = w.derive(kUnique, [](Model<V>& x) { bump_model(x, 9, 10, 3); });
    V out = std::move(w.v[kUnique]).update(9, [](const T& x) { return bump(x, 3); });
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  add("take", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { x.resize(kN / 2 + 1); });
    w.add(w.v[kBase].take(kN / 2 + 1), std::move(m));
  });
  add("take &&, shared", kCA, false, [](W& w) {
    Model<V> m = w.derive(kCopyOfBase, [](Model<V>& x) { x.resize(kN / 2 + 1); });
    V out = std::move(w.v[kCopyOfBase]).take(kN / 2 + 1);
    w.consume(kCopyOfBase);
    w.add(std::move(out), std::move(m));
  });
  add("take &&, unique", kCA, false, [](W& w) {
    Model<V> m = w.derive(kUnique, [](Model<V>& x) { x.resize(129); });
    V out = std::move(w.v[kUnique]).take(129);
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  add("resize (grow)", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { x.resize(kN + 40, T(-20)); });
    w.add(w.v[kBase].resize(kN + 40, T(-20)), std::move(m));
  });
  add("resize (grow) &&, unique", kCA, false, [](W& w) {
    Model<V> m = w.derive(kUnique, [](Model<V>& x) { x.resize(kUniqueN + 40, T(-20)); });
    V out = std::move(w.v[kUnique]).resize(kUniqueN + 40, T(-20));
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  add("resize (shrink)", kCA, false, [](W& w) {
    Model<V> m = w.derive(kSetPush, [](Model<V>& x) { x.resize(kN / 2 + 1); });
    w.add(w.v[kSetPush].resize(kN / 2 + 1, T(-20)), std::move(m));
  });
  add("transform (whole)", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { bump_model(x, 0, kN, 1); });
    w.add(w.v[kBase].transform([](const T& x) { return bump(x, 1); }), std::move(m));
  });
  add("transform (range)", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { bump_model(x, 37, 211, 2); });
    w.add(w.v[kBase].transform(37, 211, [](const T& x) { return bump(x, 2); }), std::move(m));
  });
  add("transform (most chunks unchanged)", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) {
      for (T& y : x) {
        if (value_of(y) % 80 < 20) y = T(value_of(y) + 1);
      }
    });
    w.add(w.v[kBase].transform([](const T& x) { return bump_some(x); }), std::move(m));
  });
  add("chained writes on temporaries", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) {
      x.push_back(T(-50));
      x[3] = T(-51);
      x.pop_back();
      bump_model(x, 100, 101, 4);
      x.resize(250);
      x.resize(260, T(-52));
    });
    V out = w.v[kBase]
                .push_back(T(-50))
                .set(3, T(-51))
                .pop_back()
                .update(100, [](const T& x) { return bump(x, 4); })
                .take(250)
                .resize(260, T(-52));
    w.add(std::move(out), std::move(m));
  });

  // ---- editor batches followed by persistent()
  add("editor batch from a shared version", kAll, true,
      [](W& w) { editor_batch(w, kBase, /*assignments=*/true); });
  add("editor batch without set/update", kAll, false,
      [](W& w) { editor_batch(w, kBase, /*assignments=*/false); });
  add("editor batch from a unique version (in place)", kAll, true,
      [](W& w) { editor_batch(w, kUnique, /*assignments=*/true); });
  add("editor batch from a unique version without set/update", kAll, false,
      [](W& w) { editor_batch(w, kUnique, /*assignments=*/false); });

  // ---- row operations. erase_if, filter and the sorts copy rows (of the chunks that lose rows;
  // all of them for a sort) and call a functor; appends and emplace copy the new rows. The sorts
  // get 40 rows sliced from a shared version: every comparison is an injection point.
  add("erase_if", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { erase_model_some(x); });
    w.add(w.v[kBase].erase_if([](const T& x) { return drops_some(x); }), std::move(m));
  });
  add("erase_if &&, shared", kAll, false, [](W& w) {
    Model<V> m = w.derive(kCopyOfBase, [](Model<V>& x) { erase_model_some(x); });
    V out = std::move(w.v[kCopyOfBase]).erase_if([](const T& x) { return drops_some(x); });
    w.consume(kCopyOfBase);
    w.add(std::move(out), std::move(m));
  });
  add("erase_if &&, unique", kAll, false, [](W& w) {
    Model<V> m = w.derive(kUnique, [](Model<V>& x) {
      std::erase_if(x, [](const T& y) { return value_of(y) % 3 == 0; });
    });
    V out = std::move(w.v[kUnique]).erase_if([](const T& x) {
      if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "predicate");
      return value_of(x) % 3 == 0;
    });
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  add("erase_if of one row (the other chunks shared)", kAll, false, [](W& w) {
    Model<V> m = w.derive(kTaken, [](Model<V>& x) { x.erase(x.begin() + 51); });
    w.add(w.v[kTaken].erase_if([](const T& x) {
      if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "predicate");
      return value_of(x) == 510;
    }),
          std::move(m));
  });
  add("filter", kAll, false, [](W& w) {
    Model<V> m = w.derive(kTaken, [](Model<V>& x) { erase_model_some(x); });
    w.add(w.v[kTaken].filter([](const T& x) { return !drops_some(x); }), std::move(m));
  });
  add("sort (descending)", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) {
      x = Model<V>(x.begin() + 37, x.begin() + 77);
      sort_model_descending(x);
    });
    w.add(w.v[kBase].slice(37, 77).sort(Greater{}), std::move(m));
  });
  add("sort by a projection", kAll, false, [](W& w) {
    // The last 40 rows of kEdited (299 rows), which end with three negative ones: not sorted by
    // key. sort is not stable: the model takes the result's order once it is checked to be the
    // source's rows sorted by key.
    V out = w.v[kEdited].slice(259, 299).sort(std::ranges::less{}, KeyOf{});
    Model<V> m;
    {
      Quiet q;
      m.assign(out.begin(), out.end());
      auto by_value = [](const T& a, const T& b) { return value_of(a) < value_of(b); };
      auto by_key = [](const T& a, const T& b) { return value_of(a) / 100 < value_of(b) / 100; };
      Model<V> got = m;
      Model<V> want(w.m[kEdited].end() - 40, w.m[kEdited].end());
      std::sort(got.begin(), got.end(), by_value);
      std::sort(want.begin(), want.end(), by_value);
      if (!std::is_sorted(m.begin(), m.end(), by_key) || !(got == want)) {
        w.fail("sort by a projection: not the source's rows sorted by key");
      }
    }
    w.add(std::move(out), std::move(m));
  });
  add("stable_sort by a projection", kAll, false, [](W& w) {
    Model<V> m = w.derive(kSetPush, [](Model<V>& x) {
      x = Model<V>(x.end() - 40, x.end());
      sort_model_by_key(x);
    });
    w.add(w.v[kSetPush].slice(kN + 2 - 40, kN + 2).stable_sort(std::ranges::less{}, KeyOf{}),
          std::move(m));
  });
  add("append(range), std::vector", kCA, false, [](W& w) {
    Model<V> r = w.derive(kTaken, [](Model<V>&) {});
    Model<V> m = w.derive(kBase, [&r](Model<V>& x) { x.insert(x.end(), r.begin(), r.end()); });
    w.add(w.v[kBase].append(r), std::move(m));
  });
  add("append(range) &&, unique", kCA, false, [](W& w) {
    Model<V> r = w.derive(kTaken, [](Model<V>&) {});
    Model<V> m = w.derive(kUnique, [&r](Model<V>& x) { x.insert(x.end(), r.begin(), r.end()); });
    V out = std::move(w.v[kUnique]).append(r);
    w.consume(kUnique);
    w.add(std::move(out), std::move(m));
  });
  // (The shared last chunk of base is copied before the new rows go in.)
  add("append(range), transform view", kAll, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) {
      for (int i = 0; i < 40; ++i) x.push_back(T(-i));
    });
    w.add(w.v[kBase].append(std::views::iota(0, 40) | std::views::transform([](int i) {
                              if (g_fn_fuse.fire()) throw InjectedError(kFnFault, "view functor");
                              return T(-i);
                            })),
          std::move(m));
  });
  add("append(const pvec&) &&, after a full tree (no element copied)", kAllocFault, false,
      [](W& w) {
        Model<V> b = w.derive(kBase, [](Model<V>&) {});
        Model<V> m =
            w.derive(kUnique, [&b](Model<V>& x) { x.insert(x.end(), b.begin(), b.end()); });
        V out = std::move(w.v[kUnique]).append(std::as_const(w.v[kBase]));
        w.consume(kUnique);  // (the result shares its nodes)
        w.add(std::move(out), std::move(m));
      });
  add("emplace", kCA, false, [](W& w) {
    Model<V> m = w.derive(kBase, [](Model<V>& x) { x.insert(x.begin() + 150, T(-70)); });
    w.add(w.v[kBase].emplace(150, -70), std::move(m));
  });
  add("editor row batch from a shared version", kAll, false,
      [](W& w) { editor_row_batch(w, kBase); });
  add("editor row batch from a unique version (in place)", kAll, false,
      [](W& w) { editor_row_batch(w, kUnique); });
  return ops;
}

struct Tally {
  int operations = 0;
  int injection_points = 0;  // attempts, the last (completing) one included
  int throws = 0;            // attempts that ended with the injected exception
};

constexpr int kMaxInjectionPoints = 20000;

// Runs op with `fault` injected at k = 1, 2, ... until it completes; checks every attempt.
template <class V>
Tally run_with_faults(const Op<V>& op, unsigned fault) {
  const bool expect_throws = (op.faults & fault) != 0;
  std::optional<AllocHookGuard> hook;
  if (fault == kAllocFault) hook.emplace();
  const std::int64_t start = live_nodes();
  Tally t;
  t.operations = 1;
  for (int k = 1;; ++k) {
    INFO(shape_name<V>() << ": " << op.name << ", " << fault_name(fault)
                         << " fails at injection point " << k);
    if (k > kMaxInjectionPoints) {
      FAIL_CHECK("the operation never completes");
      break;
    }
    ++t.injection_points;
    bool completed = false;
    bool fired = false;
    bool wrong_fault = false;
    WorldCheck check;
    {
      World<V> w = make_world<V>();
      fuse_for(fault).arm(k);
      try {
        op.run(w);
        completed = true;
      } catch (const InjectedError& e) {
        wrong_fault = e.fault != fault;
      } catch (const std::bad_alloc&) {
        wrong_fault = fault != kAllocFault;
      }
      fired = !fuse_for(fault).armed();
      disarm_all();
      check = check_world(w);
      if (check.refcount_low) quarantine(w.v[kBase]);
    }
    if (!completed) ++t.throws;
    const std::int64_t leaked = live_nodes() - start;
    CHECK_FALSE(wrong_fault);
    CHECK(check.error == "");
    CHECK(leaked == 0);
    if (completed) CHECK_FALSE(fired);  // a fault fired but the operation carried on
    if (wrong_fault || !check.error.empty() || leaked != 0 || completed) break;
  }
  INFO(shape_name<V>() << ": " << op.name << ", " << fault_name(fault) << " faults");
  if (expect_throws) {
    CHECK(t.throws > 0);
  } else {
    CHECK(t.throws == 0);
  }
  return t;
}

template <class V>
void check_strong_guarantee(unsigned fault) {
  using T = typename V::value_type;
  Tally total;
  for (const Op<V>& op : all_ops<V>()) {
    if (op.needs_nothrow_move_assign && !std::is_nothrow_move_assignable_v<T>) continue;
    const Tally t = run_with_faults(op, fault);
    total.operations += t.operations;
    total.injection_points += t.injection_points;
    total.throws += t.throws;
  }
  REQUIRE(total.throws > 0);
  WARN(fmt::format("{} faults on {}: {} operations, {} injection points, {} injected failures",
                   fault_name(fault), shape_name<V>(), total.operations, total.injection_points,
                   total.throws));
}

// ---- out of range -------------------------------------------------------------------------------

std::size_t occurrences(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

// f() must throw std::out_of_range whose message names both the index and the size.
template <class F>
void check_out_of_range(F f, std::size_t index, std::size_t size) {
  const std::string i = std::to_string(index);
  const std::string n = std::to_string(size);
  INFO("index " << i << ", size " << n);
  try {
    f();
    FAIL_CHECK("no exception; expected std::out_of_range");
  } catch (const std::out_of_range& e) {
    const std::string what = e.what();
    INFO("what(): " << what);
    CHECK(occurrences(what, i) >= 1);
    CHECK(occurrences(what, n) >= 1);
    if (i == n) CHECK(occurrences(what, i) >= 2);
  }
}

// ---- live nodes ---------------------------------------------------------------------------------

std::int64_t node_count(const memory_stats& s) {
  return static_cast<std::int64_t>(s.leaves + s.patches + s.inner_nodes + s.id_lists);
}

// Inner levels of a tree of n > 0 elements: the smallest d with B * F^d >= n.
template <class V>
std::size_t expected_depth(std::size_t n) {
  std::size_t d = 0;
  for (std::size_t cap = V::chunk_capacity; cap < n; cap *= V::fanout) ++d;
  return d;
}

}  // namespace

TEMPLATE_TEST_CASE("strong guarantee when copying or moving an element throws", "[pvec][exception]",
                   VecE2, VecE4, VecM2) {
  check_strong_guarantee<TestType>(kCopyFault);
}

TEMPLATE_TEST_CASE("strong guarantee when a user functor throws", "[pvec][exception]", VecE2, VecI2,
                   VecI4) {
  check_strong_guarantee<TestType>(kFnFault);
}

TEMPLATE_TEST_CASE("strong guarantee and no leak when a node allocation fails", "[pvec][exception]",
                   VecE2, VecE4, VecI2) {
  check_strong_guarantee<TestType>(kAllocFault);
  CHECK(cowdb::internal::g_before_node_alloc == nullptr);
}

TEMPLATE_TEST_CASE("out-of-range errors name the index and the size", "[pvec][exception]", VecI4,
                   VecE2) {
  using V = TestType;
  using T = typename V::value_type;
  Model<V> m;
  for (std::size_t i = 0; i < kN; ++i) m.push_back(T(static_cast<int>(i)));
  const V v(m.begin(), m.end());
  const void* const id = v.identity();
  const std::int64_t start = live_nodes();
  int calls = 0;
  auto fn = [&calls](const T& x) {
    ++calls;
    return x;
  };

  SECTION("pvec") {
    for (const std::size_t i : {kN, std::size_t{4321}, SIZE_MAX}) {
      check_out_of_range([&] { (void)v.at(i); }, i, kN);
      check_out_of_range([&] { (void)v.set(i, T(1)); }, i, kN);
      check_out_of_range([&] { (void)v.update(i, fn); }, i, kN);
      // The && overloads must leave their source intact as well.
      V w1 = v;
      check_out_of_range([&] { (void)std::move(w1).set(i, T(1)); }, i, kN);
      CHECK(version_error(w1, m) == "");
      CHECK(w1.identity() == id);
      V w2 = v;
      check_out_of_range([&] { (void)std::move(w2).update(i, fn); }, i, kN);
      CHECK(version_error(w2, m) == "");
      CHECK(w2.identity() == id);
    }
    CHECK(v.at(kN - 1) == m.back());
    V empty;
    check_out_of_range([&] { (void)empty.at(0); }, 0, 0);
    CHECK_THROWS_AS(empty.pop_back(), std::out_of_range);
    CHECK_THROWS_AS(std::move(empty).pop_back(), std::out_of_range);
    CHECK(empty.empty());
    const V one = V{T(5)}.pop_back();
    CHECK(one.empty());
    CHECK_THROWS_AS(one.pop_back(), std::out_of_range);
  }

  SECTION("editor") {
    auto e = v.transient();
    e.push_back(T(-1));
    Model<V> em = m;
    em.push_back(T(-1));
    for (const std::size_t i : {kN + 1, std::size_t{9876}, SIZE_MAX}) {
      check_out_of_range([&] { (void)e.at(i); }, i, kN + 1);
      check_out_of_range([&] { e.set(i, T(1)); }, i, kN + 1);
      check_out_of_range([&] { e.update(i, fn); }, i, kN + 1);
    }
    CHECK(editor_error<V>(e, em) == "");
    auto empty = V().transient();
    CHECK_THROWS_AS(empty.pop_back(), std::out_of_range);
    e.take(1);
    e.pop_back();
    CHECK_THROWS_AS(e.pop_back(), std::out_of_range);
    CHECK(e.empty());
    e.push_back(T(7));  // still usable
    const V out = std::move(e).persistent();
    CHECK(version_error(out, Model<V>{T(7)}) == "");
  }

  CHECK(calls == 0);
  CHECK(v.identity() == id);
  CHECK(version_error(v, m) == "");
  CHECK(live_nodes() == start);
}

TEMPLATE_TEST_CASE("live_nodes counts path copies and returns to its start", "[pvec][exception]",
                   VecI2, VecI4, VecE2) {
  using V = TestType;
  using T = typename V::value_type;
  const std::uint32_t seed = Catch::rngSeed();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  auto below = [&rng](std::size_t n) {  // uniform in [0, n)
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  const std::int64_t start = live_nodes();

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    std::vector<V> vs;
    std::vector<Model<V>> ms;
    {
      Model<V> base;
      for (std::size_t i = 0; i < kN; ++i) base.push_back(T(static_cast<int>(i) * 10));
      const std::int64_t before = live_nodes();
      V b(base.begin(), base.end());
      CHECK(live_nodes() - before == node_count(b.memory()));
      CHECK(b.exclusive() == b.memory());
      vs.push_back(std::move(b));
      ms.push_back(std::move(base));
    }

    // A single set() makes a patch over one leaf (copies the leaf, in trees of chunks too small
    // for patches) and copies the inner node above it on each level.
    const std::size_t depth = expected_depth<V>(kN);
    REQUIRE(depth >= 3);
    for (const std::size_t i : {std::size_t{0}, std::size_t{1}, kN / 2, kN - 1}) {
      CAPTURE(i);
      const std::int64_t before = live_nodes();
      V s = vs[0].set(i, T(-1 - static_cast<int>(i)));
      const std::int64_t grown = live_nodes() - before;
      const memory_stats ex = s.exclusive();
      CHECK(ex.leaves + ex.patches == 1);
      CHECK(ex.patches == (V::chunk_capacity >= 4 ? 1 : 0));
      CHECK(ex.inner_nodes == depth);
      CHECK(grown == node_count(ex));
      CHECK(grown == static_cast<std::int64_t>(1 + depth));
      Model<V> sm = ms[0];
      sm[i] = T(-1 - static_cast<int>(i));
      vs.push_back(std::move(s));
      ms.push_back(std::move(sm));
    }

    // Many versions sharing chunks in various ways. With its source alive, a new version's
    // exclusive nodes are exactly the nodes the operation left allocated.
    for (int step = 0; step < 150; ++step) {
      CAPTURE(step);
      const std::size_t src = below(vs.size());
      const V& a = vs[src];
      Model<V> m = ms[src];
      const int x = -1000 - step;
      const std::int64_t before = live_nodes();
      V out;
      switch (below(m.empty() ? 2 : 9)) {
        case 0:
          out = a;  // a plain copy: no node
          break;
        case 1:
          out = a.push_back(T(x));
          m.push_back(T(x));
          break;
        case 2:
          out = a.pop_back();
          m.pop_back();
          break;
        case 3: {
          const std::size_t i = below(m.size());
          out = a.set(i, T(x));
          m[i] = T(x);
          break;
        }
        case 4: {
          const std::size_t n = below(m.size() + 1);
          out = a.take(n);
          m.resize(n);
          break;
        }
        case 5: {
          const std::size_t lo = below(m.size());
          const std::size_t hi = lo + below(m.size() - lo + 1);
          out = a.transform(lo, hi, [](const T& y) { return T(value_of(y) + 1); });
          bump_model(m, lo, hi, 1);
          break;
        }
        case 6: {
          const std::size_t n = m.size() + below(20);
          out = a.resize(n, T(x));
          m.resize(n, T(x));
          break;
        }
        case 7: {
          const std::size_t i = below(m.size());
          out = a.update(i, [](const T& y) { return T(value_of(y) * 2 + 1); });
          m[i] = T(value_of(m[i]) * 2 + 1);
          break;
        }
        default: {
          auto e = a.transient();
          for (int j = 0; j < 6; ++j) {
            const std::size_t i = below(m.size());
            e.set(i, T(x - j));
            m[i] = T(x - j);
            e.push_back(T(x));
            m.push_back(T(x));
          }
          e.pop_back();
          m.pop_back();
          out = std::move(e).persistent();
          break;
        }
      }
      CHECK(live_nodes() - before == node_count(out.exclusive()));
      vs.push_back(std::move(out));
      ms.push_back(std::move(m));
    }
    for (std::size_t k = 0; k < vs.size(); ++k) {
      CAPTURE(k);
      CHECK(version_error(vs[k], ms[k]) == "");
    }

    // An editor that outlives every version it came from.
    const std::size_t from = below(vs.size());
    auto ed = vs[from].transient();
    Model<V> edm = ms[from];
    ed.push_back(T(-7));
    edm.push_back(T(-7));
    ed.set(0, T(-8));
    edm[0] = T(-8);

    // Destroy in a random order: each destruction frees exactly what exclusive() reported.
    std::vector<std::size_t> order(vs.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::shuffle(order.begin(), order.end(), rng);
    for (const std::size_t k : order) {
      CAPTURE(k);
      const std::int64_t frees = node_count(vs[k].exclusive());
      const std::int64_t before = live_nodes();
      vs[k] = V();
      ms[k].clear();  // the model of a dropped version: empty, like the moved-over slot
      CHECK(before - live_nodes() == frees);
      const std::size_t probe = below(vs.size());
      CHECK(version_error(vs[probe], ms[probe]) == "");
    }
    // Only the editor's private nodes are left.
    CHECK(editor_error<V>(ed, edm) == "");
    const V last = std::move(ed).persistent();
    CHECK(version_error(last, edm) == "");
    CHECK(live_nodes() - start == node_count(last.memory()));
    CHECK(last.exclusive() == last.memory());
  }
  CHECK(live_nodes() == start);
}
