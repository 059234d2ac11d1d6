// cowdb/pvec.h — the persistent chunked vector, cowdb's core container.
//
// A pvec<T> is a value: an immutable sequence of T stored as a tree of reference-counted chunks
// (leaves of up to `chunk_capacity` elements, inner nodes of up to `fanout` children). Copying a
// pvec copies one pointer and bumps one reference count, so a copy is an O(1) snapshot. Every
// "write" returns a new version that shares all chunks it did not touch with the old one; the
// old version never changes.
//
//   cowdb::pvec<int64_t> base(1'000'000, 0);        // 1M zeros, built chunk by chunk
//   cowdb::pvec<int64_t> branch = base;             // O(1): shares every chunk
//   branch = branch.set(42, 7);                     // a patch over one chunk + the path above
//   assert(base[42] == 0 && branch[42] == 7);
//   auto doubled = base.transform([](int64_t x) { return x * 2; });  // writes each chunk once
//
//   auto ed = base.transient();                     // batch edits: a chunk is copied on its
//   for (int i = 0; i < 100; ++i) ed.set(i, i);     // first write, later writes are plain stores
//   cowdb::pvec<int64_t> edited = std::move(ed).persistent();          // O(1)
//
// Costs (n = size, B = chunk_capacity, F = fanout, depth = log_F(n / B)):
//   copy, identity, size                      O(1), no allocation
//   operator[], at, front, back               O(depth), no allocation: a radix digit per level
//     on vectors built from a range or by push_back (and what set, take, pop_back and transform
//     make of them); a short size-table search per level once structural writes (insert,
//     erase, drop, slice, concat) have left relaxed nodes on the way
//   iteration                                 amortized O(1) per element, leaf to leaf
//   set, update                               O(F * depth): a patch over the chunk (up to 8
//     rewritten rows in a small node that shares the chunk) + one path copied; O(B) more when
//     the chunk's patch is full (a copy of the chunk). Reading a patched chunk costs a check
//     of at most 8 slots per element; chunks() yields it as up to 17 runs
//   push_back, pop_back                       O(B + F * depth): one chunk + one path copied
//     (on an editor, or an rvalue whose nodes are uniquely owned: O(depth), no copy)
//   take, resize(shrink)                      O(B + F * depth)
//   transform                                 O(n) for the touched range; untouched and
//                                             unchanged chunks are shared, not copied
//   operator==                                O(changed chunks * depth) when the versions
//                                             share chunks, O(n) in the worst case
//
// Errors: operator[] and front/back have the precondition that the index is in range (checked by
// assert in debug builds). at(), set() and update() throw std::out_of_range naming the index and
// the size; pop_back() on an empty vector throws std::out_of_range. std::bad_alloc propagates.
//
// Exception safety: every operation that produces a new version gives the strong guarantee: if an
// allocation, a copy constructor of T or a user functor throws, the source version (and every
// other version) is unchanged and nothing leaks. Editor operations are strong as well, except
// that set/update on a type whose move assignment may throw are only basic.
//
// Thread-safety: a pvec is thread-safe to copy, read and destroy from any number of threads at
// once, including copies of the same version (reference counts are atomic, nodes immutable). A
// pvec object itself is thread-compatible: assigning to one object while another thread reads
// that same object needs external synchronization, as for any value type. An editor is
// thread-compatible: one thread at a time.
#ifndef COWDB_PVEC_H_
#define COWDB_PVEC_H_

#include <algorithm>
#include <bit>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "boost/sort/pdqsort/pdqsort.hpp"
#include "cowdb/internal/pvec_errors.h"
#include "cowdb/internal/pvec_iterator.h"
#include "cowdb/internal/rbtree.h"
#include "cowdb/internal/tree_builder.h"
#include "cowdb/internal/tree_equal.h"
#include "cowdb/stats.h"

namespace cowdb {

// Default tree shape, chosen with the sweep recorded in README's design notes.
inline constexpr std::size_t kDefaultChunkBytes = 4096;
inline constexpr std::size_t kDefaultFanout = 32;

namespace internal {
// Gives the algorithms of diff.h / merge.h access to a pvec's tree. Not for users.
struct pvec_access {
  template <class V>
  static const tree_rep& rep(const V& v) noexcept {
    return v.rep_;
  }
  // The tree of an editor, for in-place structural edits; forgets the editor's tail cache.
  template <class E>
  static tree_rep& mutable_rep(E& e) noexcept {
    e.tail_ = nullptr;
    return e.rep_;
  }
  // Calls fn(node identity, bytes) for every node of v, descending while fn returns true.
  template <class V, class Fn>
  static void visit_nodes(const V& v, const Fn& fn) {
    if (!v.empty()) V::tree::visit(v.rep_.root, v.rep_.depth, fn);
  }
  // Adopts a tree (takes over its root reference) as a version.
  template <class V>
  static V adopt(tree_rep r) noexcept {
    V v;
    v.rep_ = r;
    return v;
  }
};
}  // namespace internal

// The identity of a row (an element of a pvec): see pvec::row_id().
using row_id_t = internal::row_id_t;

template <class T, std::size_t ChunkBytes = kDefaultChunkBytes, std::size_t Fanout = kDefaultFanout>
class pvec_editor;

// The persistent chunked vector. T must be copy-constructible and destructible without
// throwing. `ChunkBytes` sets the chunk capacity: the largest power of two number of elements
// that fits in ChunkBytes (at least 1). `Fanout` (a power of two >= 2) is the inner-node width.
template <class T, std::size_t ChunkBytes = kDefaultChunkBytes, std::size_t Fanout = kDefaultFanout>
class pvec {
  static_assert(std::is_copy_constructible_v<T>, "pvec<T> requires a copy-constructible T");
  static_assert(std::is_nothrow_destructible_v<T>, "pvec<T> requires a non-throwing destructor");

 public:
  static constexpr std::size_t chunk_capacity =
      std::bit_floor(ChunkBytes / sizeof(T) > 0 ? ChunkBytes / sizeof(T) : std::size_t{1});
  static constexpr std::size_t fanout = Fanout;

 private:
  using tree = internal::rbtree<T, chunk_capacity, Fanout>;

 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = const T&;
  using const_reference = const T&;
  using iterator = internal::pvec_iterator<T, chunk_capacity, Fanout>;
  using const_iterator = iterator;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = reverse_iterator;
  using editor = pvec_editor<T, ChunkBytes, Fanout>;

  // ---- construction ---------------------------------------------------------------------------

  // The empty vector. O(1), no allocation.
  pvec() noexcept = default;

  // `n` copies of `value`, built chunk by chunk. O(n).
  pvec(size_type n, const T& value) : rep_(tree::build_fill(value, n)) {}

  // The elements of [first, last), built bottom-up chunk by chunk. O(n).
  template <std::input_iterator It, std::sentinel_for<It> S>
  pvec(It first, S last) : rep_(build_from(std::move(first), std::move(last))) {}

  pvec(std::initializer_list<T> init) : pvec(init.begin(), init.end()) {}

  // The elements of any input range (a std::vector, a view, ...). O(n).
  template <std::ranges::input_range R>
    requires(!std::same_as<std::remove_cvref_t<R>, pvec> &&
             std::convertible_to<std::ranges::range_reference_t<R>, T>)
  explicit pvec(R&& r) : pvec(std::ranges::begin(r), std::ranges::end(r)) {}

  // O(1): shares the root.
  pvec(const pvec& o) noexcept : rep_(o.rep_) {
    if (rep_.root != nullptr) internal::inc_ref(rep_.root);
  }
  pvec(pvec&& o) noexcept : rep_(std::exchange(o.rep_, {})) {}
  pvec& operator=(pvec o) noexcept {
    swap(o);
    return *this;
  }
  // Drops this reference; frees the chunks no other version uses. O(freed nodes).
  ~pvec() { tree::release(rep_.root, rep_.depth); }

  void swap(pvec& o) noexcept { std::swap(rep_, o.rep_); }
  friend void swap(pvec& a, pvec& b) noexcept { a.swap(b); }

  // ---- reads (never allocate, never block) ------------------------------------------------------

  size_type size() const noexcept { return rep_.size; }
  bool empty() const noexcept { return rep_.size == 0; }

  // REQUIRES: i < size(). O(depth).
  const T& operator[](size_type i) const noexcept {
    assert(i < size() && "cowdb::pvec::operator[]: index out of range");
    return tree::get(rep_, i);
  }
  // Throws std::out_of_range if i >= size(). O(depth).
  const T& at(size_type i) const {
    if (i >= size()) internal::throw_out_of_range("at", i, size());
    return tree::get(rep_, i);
  }
  // The identity of row i. Every row gets an id no other row made in this process has, when it
  // is made (construction, push_back, insert of values, resize); it keeps that id through set,
  // update, transform and every edit that moves it (insert or erase of other rows, slice,
  // concat, erase_if, sort). diff() and merge() pair rows by it. A version holds each id once
  // unless it holds the same rows twice (v + v). REQUIRES: i < size(). O(depth), no allocation.
  row_id_t row_id(size_type i) const noexcept {
    assert(i < size() && "cowdb::pvec::row_id: index out of range");
    const auto* l = tree::leaf_at(rep_, i);
    return l->ids.at(i);
  }

  // REQUIRES: !empty().
  const T& front() const noexcept { return (*this)[0]; }
  const T& back() const noexcept { return (*this)[size() - 1]; }

  // O(depth) to create; then amortized O(1) per step. Valid while any copy of this version lives.
  iterator begin() const { return iterator(rep_, 0); }
  iterator end() const { return iterator(rep_, rep_.size); }
  iterator cbegin() const { return begin(); }
  iterator cend() const { return end(); }
  // Last to first, as the iterators above (std::reverse_iterator).
  reverse_iterator rbegin() const { return reverse_iterator(end()); }
  reverse_iterator rend() const { return reverse_iterator(begin()); }
  reverse_iterator crbegin() const { return rbegin(); }
  reverse_iterator crend() const { return rend(); }

  // Calls fn(first, last) once per chunk, in order, with [first, last) a contiguous run of
  // elements. With chunks() below, the fastest way to scan. O(n).
  template <class Fn>
  void for_each_chunk(Fn&& fn) const {
    if (!empty()) tree::for_each_chunk(rep_.root, rep_.depth, rep_.size, 0, rep_.size, fn);
  }
  // Same, restricted to the elements with index in [first, last), clipped to size().
  template <class Fn>
  void for_each_chunk(size_type first, size_type last, Fn&& fn) const {
    last = std::min(last, size());
    if (first < last) tree::for_each_chunk(rep_.root, rep_.depth, rep_.size, first, last, fn);
  }

  // The elements as a range of chunks: each is a non-empty std::span<const T> over elements
  // contiguous in memory, in order, together all of them. A loop over a span is a plain array
  // loop the compiler can vectorize, so this is the fast scan with a range-for:
  //
  //   for (std::span<const T> chunk : v.chunks())
  //     for (const T& x : chunk) sum += x;
  //
  // The range holds a copy of this version (O(1)), so it stays valid after `*this` is gone, and
  // the spans stay valid while the range or any copy of the version lives. O(depth) to start,
  // then amortized O(1) per chunk; no allocation. A forward range, sentinel
  // std::default_sentinel_t. Thread-safety: as a pvec (a range and its iterators are values; any
  // number of threads may each walk their own).
  class chunk_range {
   public:
    using iterator = internal::pvec_chunk_iterator<T, chunk_capacity, Fanout>;
    iterator begin() const { return iterator(v_.rep_, first_, count_); }
    std::default_sentinel_t end() const noexcept { return {}; }

   private:
    friend class pvec;
    chunk_range(pvec v, size_type first, size_type count) noexcept
        : v_(std::move(v)), first_(first), count_(count) {}
    pvec v_;
    size_type first_;
    size_type count_;
  };
  chunk_range chunks() const noexcept { return chunk_range(*this, 0, size()); }
  // Same, for the elements with index in [first, last), clipped to size() (empty if first >=
  // last).
  chunk_range chunks(size_type first, size_type last) const noexcept {
    last = std::min(last, size());
    return first < last ? chunk_range(*this, first, last - first) : chunk_range(*this, 0, 0);
  }

  // An opaque token naming this version's root node: two pvecs with the same identity are the
  // same version (equal contents, every chunk shared). O(1). nullptr for the empty vector.
  const void* identity() const noexcept { return rep_.root; }

  // Element-wise equality. O(1) for the same version; otherwise aligns the two trees by their
  // shared nodes (even shifted ones) and compares only what they do not share, so the cost grows
  // with the chunks that differ.
  friend bool operator==(const pvec& a, const pvec& b)
    requires std::equality_comparable<T>
  {
    return internal::tree_equal<T, chunk_capacity, Fanout>::equal(a.rep_, b.rep_);
  }

  // ---- persistent writes: each returns a new version; *this is unchanged -----------------------
  // The `&&` overloads reuse the nodes of an expiring vector and write in place where they are
  // uniquely owned (`v = std::move(v).set(i, x)` costs no copy when v's nodes are not shared).

  // Appends value. O(B + F * depth) (amortized O(depth) in the `&&` form).
  [[nodiscard]] pvec push_back(T value) const& {
    return edit_copy([&](editor& e) { e.push_back(std::move(value)); });
  }
  [[nodiscard]] pvec push_back(T value) && {
    return edit_move([&](editor& e) { e.push_back(std::move(value)); });
  }

  // Removes the last element. Throws std::out_of_range if empty.
  [[nodiscard]] pvec pop_back() const& {
    return edit_copy([](editor& e) { e.pop_back(); });
  }
  [[nodiscard]] pvec pop_back() && {
    return edit_move([](editor& e) { e.pop_back(); });
  }

  // Replaces element i. Throws std::out_of_range if i >= size(). When T is equality-comparable
  // and the element already equals value, returns this version unchanged (nothing is copied).
  // O(F * depth): the chunk is shared through a patch (see the costs above).
  [[nodiscard]] pvec set(size_type i, T value) const& {
    return edit_copy([&](editor& e) { e.set(i, std::move(value)); });
  }
  [[nodiscard]] pvec set(size_type i, T value) && {
    return edit_move([&](editor& e) { e.set(i, std::move(value)); });
  }

  // Replaces element i with fn(element i): fn takes const T& and returns the new T, or takes T&
  // and changes it in place (returning void: `v.update(i, [](Row& r) { r.amount = 0; })`; it
  // works on a copy of the element, so fn sees the old value and T needs a copy constructor).
  // Throws std::out_of_range if i >= size(); if fn throws, nothing changes. Shares like set().
  template <class Fn>
  [[nodiscard]] pvec update(size_type i, Fn&& fn) const& {
    return edit_copy([&](editor& e) { e.update(i, fn); });
  }
  template <class Fn>
  [[nodiscard]] pvec update(size_type i, Fn&& fn) && {
    return edit_move([&](editor& e) { e.update(i, fn); });
  }

  // Keeps the first min(n, size()) elements, sharing every chunk kept whole. O(B + F * depth).
  [[nodiscard]] pvec take(size_type n) const& {
    return edit_copy([n](editor& e) { e.take(n); });
  }
  [[nodiscard]] pvec take(size_type n) && {
    return edit_move([n](editor& e) { e.take(n); });
  }

  // Shrinks like take(n), or grows by appending copies of value. O(B + F * depth + growth).
  [[nodiscard]] pvec resize(size_type n, const T& value = T()) const& {
    return edit_copy([&](editor& e) { e.resize(n, value); });
  }
  [[nodiscard]] pvec resize(size_type n, const T& value = T()) && {
    return edit_move([&](editor& e) { e.resize(n, value); });
  }

  // ---- row operations: rows keep their identity -------------------------------------------------

  // This version without the rows for which pred(row) is true (pred takes const T&), in one pass
  // chunk by chunk: a chunk with no removed row is shared with this version, the others are
  // repacked; the result's inner nodes are new. O(n) calls of pred + O(rows of changed chunks).
  // If pred throws, nothing changes. Returns this version itself when nothing is removed.
  template <class Pred>
  [[nodiscard]] pvec erase_if(Pred&& pred) const& {
    return edit_copy([&](editor& e) { e.erase_if(pred); });
  }
  template <class Pred>
  [[nodiscard]] pvec erase_if(Pred&& pred) && {
    return edit_move([&](editor& e) { e.erase_if(pred); });
  }
  // The rows for which pred(row) is true: erase_if with the predicate negated. Same costs.
  template <class Pred>
  [[nodiscard]] pvec filter(Pred&& pred) const {
    return erase_if([&pred](const T& x) { return !static_cast<bool>(std::invoke(pred, x)); });
  }

  // The rows sorted by comp(proj(a), proj(b)) (a strict weak order; by default operator< on the
  // rows). Rows keep their identity, so diff(v, v.sort()) reports them as moved. Returns this
  // version itself when it is already sorted (one O(n) check). Otherwise O(n log n) comparisons
  // plus two copies of every row (into a scratch buffer of (row, id) pairs and into new chunks);
  // after a sort each chunk keeps a list of its rows' ids (12 bytes per row). If comp, proj or a
  // copy throws, nothing changes. sort is not stable (Boost.Sort's pdqsort; branchless for
  // arithmetic keys in the default or greater order); stable_sort is (std::stable_sort).
  template <class Comp = std::ranges::less, class Proj = std::identity>
  [[nodiscard]] pvec sort(Comp comp = {}, Proj proj = {}) const {
    return edit_copy([&](editor& e) { e.sort(comp, proj); });
  }
  template <class Comp = std::ranges::less, class Proj = std::identity>
  [[nodiscard]] pvec stable_sort(Comp comp = {}, Proj proj = {}) const {
    return edit_copy([&](editor& e) { e.stable_sort(comp, proj); });
  }

  // Appends the rows of a range (new rows, fresh ids). O(range size + B + F * depth).
  template <std::ranges::input_range R>
    requires(std::convertible_to<std::ranges::range_reference_t<R>, T> &&
             !std::same_as<std::remove_cvref_t<R>, pvec>)
  [[nodiscard]] pvec append(R&& r) const& {
    return edit_copy([&](editor& e) { e.append(std::forward<R>(r)); });
  }
  template <std::ranges::input_range R>
    requires(std::convertible_to<std::ranges::range_reference_t<R>, T> &&
             !std::same_as<std::remove_cvref_t<R>, pvec>)
  [[nodiscard]] pvec append(R&& r) && {
    return edit_move([&](editor& e) { e.append(std::forward<R>(r)); });
  }
  // Appends the rows of v, which keep their identity (same as concat(*this, v)).
  [[nodiscard]] pvec append(const pvec& v) const { return concat(*this, v); }
  // The rows of a range (new rows), then this vector's: insert(0, r). O(B + F * depth + range).
  template <std::ranges::input_range R>
    requires(std::convertible_to<std::ranges::range_reference_t<R>, T> &&
             !std::same_as<std::remove_cvref_t<R>, pvec>)
  [[nodiscard]] pvec prepend(R&& r) const {
    return insert(0, std::forward<R>(r));
  }
  // v's rows (they keep their identity), then this vector's: concat(v, *this).
  [[nodiscard]] pvec prepend(const pvec& v) const { return concat(v, *this); }

  // ---- structural writes
  // --------------------------------------------------------------------------- Each returns a new
  // version sharing every chunk it did not cut, in O(B + F * depth) (plus the inserted elements);
  // with Fanout >= 4 the tree stays within its height bound (see check_invariants()). On a vector
  // built by push_back they leave O(depth) relaxed nodes, which index by a short search; random
  // reads of a heavily relaxed vector cost several times more than of a push_back-built one
  // (README, "Benchmarks").

  // Inserts value before element i (i == size() appends). Throws std::out_of_range if i > size().
  [[nodiscard]] pvec insert(size_type i, T value) const& {
    return edit_copy([&](editor& e) { e.insert(i, std::move(value)); });
  }
  [[nodiscard]] pvec insert(size_type i, T value) && {
    return edit_move([&](editor& e) { e.insert(i, std::move(value)); });
  }
  // Inserts the elements of a range before element i. O(B + F * depth + range size).
  template <std::ranges::input_range R>
    requires std::convertible_to<std::ranges::range_reference_t<R>, T>
  [[nodiscard]] pvec insert(size_type i, R&& r) const& {
    return edit_copy([&](editor& e) { e.insert(i, std::forward<R>(r)); });
  }
  // Inserts T(args...) before element i. Throws std::out_of_range if i > size().
  template <class... Args>
  [[nodiscard]] pvec emplace(size_type i, Args&&... args) const& {
    return edit_copy([&](editor& e) { e.emplace(i, std::forward<Args>(args)...); });
  }
  // Inserts value at the front. Same as insert(0, value).
  [[nodiscard]] pvec push_front(T value) const& { return insert(0, std::move(value)); }
  [[nodiscard]] pvec push_front(T value) && { return std::move(*this).insert(0, std::move(value)); }
  // Removes element i. Throws std::out_of_range if i >= size().
  [[nodiscard]] pvec erase(size_type i) const& {
    return edit_copy([i](editor& e) { e.erase(i); });
  }
  [[nodiscard]] pvec erase(size_type i) && {
    return edit_move([i](editor& e) { e.erase(i); });
  }
  // Removes the elements [first, last). Throws std::out_of_range unless first <= last <= size().
  [[nodiscard]] pvec erase(size_type first, size_type last) const& {
    return edit_copy([=](editor& e) { e.erase(first, last); });
  }
  [[nodiscard]] pvec erase(size_type first, size_type last) && {
    return edit_move([=](editor& e) { e.erase(first, last); });
  }
  // Removes the first min(n, size()) elements.
  [[nodiscard]] pvec drop(size_type n) const& {
    return edit_copy([n](editor& e) { e.drop(n); });
  }
  [[nodiscard]] pvec drop(size_type n) && {
    return edit_move([n](editor& e) { e.drop(n); });
  }
  // The elements [first, last), clipped to size().
  [[nodiscard]] pvec slice(size_type first, size_type last) const& {
    return edit_copy([=](editor& e) { e.slice(first, last); });
  }
  [[nodiscard]] pvec slice(size_type first, size_type last) && {
    return edit_move([=](editor& e) { e.slice(first, last); });
  }

  // a followed by b. O(B + F * depth of the deeper one); shares every chunk of both except the
  // two that meet at the seam when the left one is less than half full. There is no && form:
  // concat copies no chunk and rebuilds only the seam path, which a moved-from `a` could not
  // spare (std::move(a) + b costs the same as a + b).
  [[nodiscard]] friend pvec concat(const pvec& a, const pvec& b) {
    pvec out;
    out.rep_ = tree::concat(a.rep_, b.rep_);
    return out;
  }
  [[nodiscard]] friend pvec operator+(const pvec& a, const pvec& b) { return concat(a, b); }

  // Verifies the tree's shape invariants (node fill, height bound, size tables) and throws
  // std::logic_error naming the first violation. O(n / B). For tests and debugging.
  void check_invariants() const {
    const std::string why = tree::check(rep_);
    if (!why.empty()) throw std::logic_error("cowdb::pvec invariant violated: " + why);
  }

  // A new version with every element x replaced by fn(x) (fn takes const T& and returns T).
  // Writes each output chunk once, building inner levels bottom-up; when T is
  // equality-comparable, a chunk whose contents come out unchanged is shared with this version.
  // O(n). If fn throws, nothing is changed and nothing leaks.
  template <class Fn>
  [[nodiscard]] pvec transform(Fn&& fn) const {
    return transform(0, size(), std::forward<Fn>(fn));
  }
  // The same for the elements with index in [first, last) (clipped to size()); chunks outside
  // the range are shared. O(last - first + B + F * depth).
  template <class Fn>
  [[nodiscard]] pvec transform(size_type first, size_type last, Fn&& fn) const {
    last = std::min(last, size());
    if (first >= last) return *this;
    internal::tree_rep r = rep_;
    r.root = tree::transform(rep_.root, rep_.depth, rep_.size, first, last, fn);  // a new reference
    pvec out;
    out.rep_ = r;
    return out;
  }

  // ---- batch editing ----------------------------------------------------------------------------

  // An editor starting from this version. O(1). The editor copies a chunk path the first time it
  // writes to it and writes in place afterwards; this version is never modified.
  [[nodiscard]] editor transient() const& { return editor(*this); }
  [[nodiscard]] editor transient() && { return editor(std::move(*this)); }

  // ---- memory introspection ---------------------------------------------------------------------
  // Figures count node storage (headers, full chunk capacity, child arrays); they exclude the
  // pvec object itself and heap memory owned by the elements.

  // Everything reachable from this version. O(nodes).
  memory_stats memory() const noexcept {
    memory_stats s;
    if (!empty()) tree::stats(rep_.root, rep_.depth, s);
    return s;
  }
  // The part of memory() also reachable from `other` (shared chunks). O(nodes of both); builds a
  // set of other's nodes, so it may throw std::bad_alloc (and then has no effect).
  memory_stats shared_with(const pvec& other) const {
    memory_stats s;
    if (empty() || other.empty()) return s;
    typename tree::node_set others;
    tree::collect(other.rep_.root, other.rep_.depth, others);
    tree::shared_stats(rep_.root, rep_.depth, others, s);
    return s;
  }
  // The part of memory() that only this pvec object keeps alive: what destroying it would free
  // right now. O(exclusive nodes). Under concurrent copying of the same version by other threads
  // the figure is a snapshot that may be out of date when it returns. A pvec read from a
  // database (Snapshot::Get) shares all of its chunks with the database's version, so this is 0
  // there; Database::GetMemoryReport says what each branch, tag and dataset keeps alone.
  memory_stats exclusive() const noexcept {
    memory_stats s;
    if (!empty()) tree::exclusive_stats(rep_.root, rep_.depth, s);
    return s;
  }

 private:
  friend class pvec_editor<T, ChunkBytes, Fanout>;
  friend struct internal::pvec_access;

  template <class It, class S>
  static internal::tree_rep build_from(It first, S last) {
    if constexpr (std::forward_iterator<It>) {
      const auto n = static_cast<size_type>(std::ranges::distance(first, last));
      return tree::build_copy(std::move(first), n);
    } else {
      editor e;
      for (; first != last; ++first) e.push_back(*first);
      return std::exchange(e.rep_, {});
    }
  }

  template <class Op>
  pvec edit_copy(Op&& op) const {
    editor e(*this);
    op(e);
    return std::move(e).persistent();
  }
  // Writes in place when this version's root is ours alone. Strong guarantee either way: a
  // shared version is edited through a copy; a unique one is moved into an editor and moved
  // back if the operation throws (editor operations leave their contents unchanged on throw).
  template <class Op>
  pvec edit_move(Op&& op) {
    if (rep_.root != nullptr && !internal::is_unique(rep_.root)) return edit_copy(op);
    editor e(std::move(*this));
    try {
      op(e);
    } catch (...) {
      rep_ = std::exchange(e.rep_, {});
      throw;
    }
    return std::move(e).persistent();
  }

  internal::tree_rep rep_;
};

// A batch editor ("transient") for a pvec. Obtained from pvec::transient(); reads its own writes;
// persistent() freezes the current contents into a pvec in O(1).
//
// The first write to a chunk that is shared with any other version copies that chunk and the
// inner nodes above it; later writes to the same chunk are plain stores. push_back appends into
// the last chunk with no tree walk at all while that chunk is private to the editor.
//
// Thread-safety: thread-compatible (one thread at a time). Versions obtained from persistent()
// are independent values.
template <class T, std::size_t ChunkBytes, std::size_t Fanout>
class pvec_editor {
  using vec = pvec<T, ChunkBytes, Fanout>;
  using tree = typename vec::tree;
  using leaf = typename tree::leaf;

 public:
  using value_type = T;
  using size_type = std::size_t;

  // An empty editor. O(1).
  pvec_editor() noexcept = default;
  // Starts from version v (shares its nodes). O(1).
  explicit pvec_editor(const vec& v) noexcept : rep_(v.rep_) {
    if (rep_.root != nullptr) internal::inc_ref(rep_.root);
  }
  explicit pvec_editor(vec&& v) noexcept : rep_(std::exchange(v.rep_, {})) {}

  pvec_editor(pvec_editor&& o) noexcept
      : rep_(std::exchange(o.rep_, {})),
        tail_(std::exchange(o.tail_, nullptr)),
        ids_(std::exchange(o.ids_, {})) {}
  pvec_editor& operator=(pvec_editor&& o) noexcept {
    if (this != &o) {
      tree::release(rep_.root, rep_.depth);
      rep_ = std::exchange(o.rep_, {});
      tail_ = std::exchange(o.tail_, nullptr);
      ids_ = std::exchange(o.ids_, {});
    }
    return *this;
  }
  pvec_editor(const pvec_editor&) = delete;
  pvec_editor& operator=(const pvec_editor&) = delete;
  // Drops the edits not frozen by persistent(). O(private nodes).
  ~pvec_editor() { tree::release(rep_.root, rep_.depth); }

  // The editor is a random-access range of its current elements (read-only: write through
  // set/update), for range-for and std algorithms. Iterators are valid until the next write
  // through the editor (any non-const call) or its destruction. O(depth) to create; then
  // amortized O(1) per step.
  using iterator = typename vec::iterator;
  using const_iterator = iterator;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = reverse_iterator;
  iterator begin() const { return iterator(rep_, 0); }
  iterator end() const { return iterator(rep_, rep_.size); }
  iterator cbegin() const { return begin(); }
  iterator cend() const { return end(); }
  reverse_iterator rbegin() const { return reverse_iterator(end()); }
  reverse_iterator rend() const { return reverse_iterator(begin()); }

  size_type size() const noexcept { return rep_.size; }
  bool empty() const noexcept { return rep_.size == 0; }
  // REQUIRES: i < size(). O(depth).
  const T& operator[](size_type i) const noexcept {
    assert(i < size() && "cowdb::pvec_editor::operator[]: index out of range");
    return tree::get(rep_, i);
  }
  // Throws std::out_of_range if i >= size(). O(depth).
  const T& at(size_type i) const {
    if (i >= size()) internal::throw_out_of_range("at", i, size());
    return tree::get(rep_, i);
  }
  // The identity of row i; see pvec::row_id. REQUIRES: i < size(). O(depth).
  row_id_t row_id(size_type i) const noexcept {
    assert(i < size() && "cowdb::pvec_editor::row_id: index out of range");
    return tree::leaf_at(rep_, i)->ids.at(i);
  }

  // Appends. Amortized O(1) while the last chunk is private to the editor; O(B + F * depth)
  // when it must first be copied.
  void push_back(const T& value) { emplace_back(value); }
  void push_back(T&& value) { emplace_back(std::move(value)); }
  template <class... Args>
  void emplace_back(Args&&... args) {
    const internal::row_id_t id = next_id();
    if (tail_ != nullptr && tail_->count < tree::leaf_cap && tree::continues_ids(tail_, id)) {
      ::new (static_cast<void*>(tail_->data() + tail_->count)) T(std::forward<Args>(args)...);
      ++tail_->count;
      ++rep_.size;
      return;
    }
    tail_ = tree::push_back(rep_, id, std::forward<Args>(args)...);
  }

  // Removes the last element. Throws std::out_of_range if empty. O(depth), plus a chunk copy
  // if the last chunk is shared.
  void pop_back() {
    if (empty()) internal::throw_empty("pop_back");
    tail_ = nullptr;
    tree::pop_back(rep_);
  }

  // Replaces element i. Throws std::out_of_range if i >= size(). A no-op (no copy) when T is
  // equality-comparable and the element already equals value.
  void set(size_type i, T value) {
    if (i >= size()) internal::throw_out_of_range("set", i, size());
    store(i, std::move(value));
  }

  // Replaces element i with fn(element i), or with a copy of it that fn(T&) changed in place
  // (see pvec::update). Throws std::out_of_range if i >= size(). If fn throws, nothing changes.
  template <class Fn>
  void update(size_type i, Fn&& fn) {
    if (i >= size()) internal::throw_out_of_range("update", i, size());
    if constexpr (requires { requires std::is_void_v<std::invoke_result_t<Fn&, T&>>; }) {
      T row(std::as_const(tree::get(rep_, i)));
      fn(row);
      store(i, std::move(row));
    } else {
      store(i, static_cast<T>(std::forward<Fn>(fn)(std::as_const(tree::get(rep_, i)))));
    }
  }

  // Keeps the first min(n, size()) elements.
  void take(size_type n) {
    tail_ = nullptr;
    tree::truncate(rep_, n);
  }

  // Inserts value before element i (i == size() appends). Throws std::out_of_range if i > size().
  // O(B + F * depth): unlike set, each insert copies the path it changes.
  void insert(size_type i, const T& value) {
    if (i > size()) internal::throw_out_of_range("insert", i, size());
    tail_ = nullptr;
    tree::insert(rep_, i, value, next_id());
  }
  // Inserts the elements of a range before element i. O(B + F * depth + range size).
  template <std::ranges::input_range R>
    requires std::convertible_to<std::ranges::range_reference_t<R>, T>
  void insert(size_type i, R&& r) {
    if (i > size()) internal::throw_out_of_range("insert", i, size());
    const vec mid(std::forward<R>(r));
    tail_ = nullptr;
    tree::insert_tree(rep_, i, mid.rep_);
  }
  void insert(size_type i, T&& value) {
    if (i > size()) internal::throw_out_of_range("insert", i, size());
    tail_ = nullptr;
    tree::insert(rep_, i, value, next_id());
  }
  // Inserts T(args...) before element i. Throws std::out_of_range if i > size().
  template <class... Args>
  void emplace(size_type i, Args&&... args) {
    if (i > size()) internal::throw_out_of_range("emplace", i, size());
    insert(i, T(std::forward<Args>(args)...));
  }
  void push_front(const T& value) { insert(0, value); }
  // Inserts the rows of a range (new rows) at the front: insert(0, r).
  template <std::ranges::input_range R>
    requires(std::convertible_to<std::ranges::range_reference_t<R>, T> &&
             !std::same_as<std::remove_cvref_t<R>, vec>)
  void prepend(R&& r) {
    insert(0, std::forward<R>(r));
  }
  // Puts v's rows (they keep their identity) before the editor's. O(B + F * depth).
  void prepend(const vec& v) {
    internal::tree_rep t = tree::concat(v.rep_, rep_);
    tree::release(rep_.root, rep_.depth);
    rep_ = t;
    tail_ = nullptr;
  }
  // Removes element i. Throws std::out_of_range if i >= size().
  void erase(size_type i) {
    if (i >= size()) internal::throw_out_of_range("erase", i, size());
    tail_ = nullptr;
    tree::erase(rep_, i);
  }
  // Removes [first, last). Throws std::out_of_range unless first <= last <= size().
  void erase(size_type first, size_type last) {
    if (first > last || last > size()) internal::throw_bad_range("erase", first, last, size());
    if (first == last) return;
    tail_ = nullptr;
    tree::erase_range(rep_, first, last);
  }
  // Removes the first min(n, size()) elements.
  void drop(size_type n) {
    tail_ = nullptr;
    tree::drop(rep_, n);
  }
  // Keeps the elements [first, last), clipped to size().
  void slice(size_type first, size_type last) {
    last = std::min(last, size());
    if (first >= last) return take(0);
    pvec_editor e(persistent());  // strong: only `e` is lost if a step throws
    e.take(last);
    e.drop(first);
    *this = std::move(e);
  }
  // Appends the elements of v. O(B + F * depth), sharing v's chunks.
  void append(const vec& v) {
    internal::tree_rep t = tree::concat(rep_, v.rep_);
    tree::release(rep_.root, rep_.depth);
    rep_ = t;
    tail_ = nullptr;
  }

  // Appends the rows of a range (new rows). Strong guarantee: if a copy throws, the editor keeps
  // its previous contents. O(range size), amortized O(1) per row.
  template <std::ranges::input_range R>
    requires(std::convertible_to<std::ranges::range_reference_t<R>, T> &&
             !std::same_as<std::remove_cvref_t<R>, vec>)
  void append(R&& r) {
    pvec_editor grown(persistent());  // on failure only `grown` is lost
    for (auto&& x : r) grown.emplace_back(std::forward<decltype(x)>(x));
    *this = std::move(grown);
  }

  // Removes the rows for which pred(row) is true; see pvec::erase_if. Returns how many were
  // removed. Strong guarantee: if pred or a copy throws, nothing changes.
  template <class Pred>
  size_type erase_if(Pred&& pred) {
    if (empty()) return 0;
    internal::tree_builder<T, tree::leaf_cap, Fanout> b;
    auto visit = [&](const leaf* l) {
      const typename tree::flat_leaf f(l);
      const T* d = f.data();
      const std::size_t cnt = l->count;
      std::size_t k = 0;
      while (k < cnt && !static_cast<bool>(std::invoke(pred, std::as_const(d[k])))) ++k;
      if (k == cnt) return b.add_leaf(l);  // nothing removed: share the chunk
      b.add_rows(l, 0, k);
      for (std::size_t start = ++k; k <= cnt; ++k) {
        if (k == cnt || static_cast<bool>(std::invoke(pred, std::as_const(d[k])))) {
          b.add_rows(l, start, k);
          start = k + 1;
        }
      }
      b.end_source_leaf();
    };
    tree::for_each_leaf(rep_.root, rep_.depth, visit);
    const size_type removed = size() - b.size();
    if (removed > 0) replace(b.finish());
    return removed;
  }
  // Keeps the rows for which pred(row) is true. Returns how many were removed.
  template <class Pred>
  size_type filter(Pred&& pred) {
    return erase_if([&pred](const T& x) { return !static_cast<bool>(std::invoke(pred, x)); });
  }

  // Sorts the rows; see pvec::sort. Strong guarantee.
  template <class Comp = std::ranges::less, class Proj = std::identity>
  void sort(Comp comp = {}, Proj proj = {}) {
    // Boost.Sort's pattern-defeating quicksort: the branchless partition when comparing keys is
    // cheap (arithmetic keys, the default order), the branchy one otherwise.
    using key = std::remove_cvref_t<std::invoke_result_t<Proj&, const T&>>;
    constexpr bool cheap =
        std::is_arithmetic_v<key> &&
        (std::is_same_v<Comp, std::ranges::less> || std::is_same_v<Comp, std::less<>> ||
         std::is_same_v<Comp, std::greater<>> || std::is_same_v<Comp, std::ranges::greater>);
    sort_rows(comp, proj, [](auto first, auto last, auto cmp) {
      if constexpr (cheap) {
        boost::sort::pdqsort_branchless(first, last, cmp);
      } else {
        boost::sort::pdqsort(first, last, cmp);
      }
    });
  }
  template <class Comp = std::ranges::less, class Proj = std::identity>
  void stable_sort(Comp comp = {}, Proj proj = {}) {
    sort_rows(comp, proj,
              [](auto first, auto last, auto cmp) { std::stable_sort(first, last, cmp); });
  }

  // Shrinks to n or grows by appending copies of value. Strong guarantee: if growing throws, the
  // editor keeps its previous contents.
  void resize(size_type n, const T& value = T()) {
    if (n <= size()) return take(n);
    pvec_editor grown(persistent());  // on failure only `grown` is lost
    while (grown.size() < n) grown.emplace_back(value);
    *this = std::move(grown);
  }

  // Replaces every element x with fn(x); see pvec::transform. Strong guarantee.
  template <class Fn>
  void transform(Fn&& fn) {
    *this = pvec_editor(persistent().transform(std::forward<Fn>(fn)));
  }

  // Calls fn(first, last) once per chunk of the current contents, in order.
  template <class Fn>
  void for_each_chunk(Fn&& fn) const {
    if (!empty()) tree::for_each_chunk(rep_.root, rep_.depth, rep_.size, 0, rep_.size, fn);
  }

  // Freezes the current contents into a version. O(1). The editor stays usable; its next write
  // to any chunk copies that chunk first, so the returned version never changes.
  [[nodiscard]] vec persistent() const& {
    tail_ = nullptr;
    vec v;
    v.rep_ = rep_;
    if (rep_.root != nullptr) internal::inc_ref(rep_.root);
    return v;
  }
  // Freezes and empties the editor. O(1).
  [[nodiscard]] vec persistent() && {
    tail_ = nullptr;
    vec v;
    v.rep_ = std::exchange(rep_, {});
    return v;
  }

 private:
  friend class pvec<T, ChunkBytes, Fanout>;
  friend struct internal::pvec_access;

  // Replaces the contents by the tree r (taking over its reference). O(1).
  void replace(internal::tree_rep r) noexcept {
    tree::release(rep_.root, rep_.depth);
    rep_ = r;
    tail_ = nullptr;
  }

  template <class Comp, class Proj, class Sort>
  void sort_rows(Comp& comp, Proj& proj, Sort&& sort) {
    auto less = [&](const T& a, const T& b) -> bool {
      return std::invoke(comp, std::invoke(proj, a), std::invoke(proj, b));
    };
    bool sorted = true;
    const T* prev = nullptr;
    for_each_chunk([&](const T* f, const T* l) {
      if (!sorted || f == l) return;
      if (prev != nullptr && less(*f, *prev)) sorted = false;
      sorted = sorted && std::is_sorted(f, l, less);
      prev = l - 1;
    });
    if (sorted) return;
    std::vector<std::pair<T, internal::row_id_t>> rows;
    rows.reserve(size());
    auto gather = [&rows](const leaf* l) {
      l->ids.for_each_run(0, l->count, [&](std::size_t k, internal::row_id_t id, std::size_t n) {
        for (std::size_t j = 0; j < n; ++j) rows.emplace_back(tree::value_at(l, k + j), id + j);
      });
    };
    tree::for_each_leaf(rep_.root, rep_.depth, gather);
    sort(rows.begin(), rows.end(),
         [&less](const auto& a, const auto& b) { return less(a.first, b.first); });
    internal::tree_builder<T, tree::leaf_cap, Fanout> b;
    for (auto& [value, id] : rows) b.add_row(id, std::move(value));
    replace(b.finish());
  }

  void store(size_type i, T&& value) {
    if constexpr (std::equality_comparable<T>) {
      if (tree::get(rep_, i) == value) return;
    }
    tree::store(rep_, i, std::move(value));
  }

  // A fresh row id for a new row. The editor reserves ids from the process-wide counter in
  // batches that double up to 4096, so that rows appended one by one get consecutive ids (one
  // run per chunk) without an atomic operation per row.
  internal::row_id_t next_id() noexcept {
    if (ids_.next == ids_.end) {
      ids_.batch = ids_.batch == 0 ? 1 : std::min<std::size_t>(ids_.batch * 2, 4096);
      ids_.next = internal::fresh_row_ids(ids_.batch);
      ids_.end = ids_.next + ids_.batch;
    }
    return ids_.next++;
  }

  internal::tree_rep rep_;
  // The last leaf when it and its whole path are known to be private to this editor (so
  // push_back can append without walking the tree); nullptr when unknown.
  mutable leaf* tail_ = nullptr;
  struct id_reserve {
    internal::row_id_t next = 0, end = 0;
    std::size_t batch = 0;
  } ids_;
};

}  // namespace cowdb

#endif  // COWDB_PVEC_H_
