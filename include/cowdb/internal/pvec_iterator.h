// Internal: the const random-access iterator of pvec<T>. Users name it as pvec<T>::iterator.
//
// An iterator keeps the path of inner nodes (and the slots taken) from the root to its current
// leaf, and the contiguous run of that leaf it is in: the whole leaf, or for a patch (node.h) a
// run of its base between replaced elements or one replaced element. Stepping inside a run is a
// pointer increment; stepping past the end of a leaf climbs only as many levels as the path
// wraps (amortized O(1) per leaf), never re-descending from the root. Jumps (`+=`, `-=`, `[]`)
// that leave the current run re-descend in O(log n).
//
// pvec_chunk_iterator walks the same path a chunk at a time: each step yields a std::span over
// the contiguous elements of one leaf (clipped to the range asked for), so the loop over a span
// is a plain array loop the compiler can vectorize -- segmented iteration, as in libc++'s
// segmented iterators. pvec<T>::chunks() returns a range of them.
//
// Validity: an iterator borrows the nodes of the version it came from. It stays valid as long as
// that pvec (or any copy of it, since they share the nodes) is alive; edits produce new versions
// and never invalidate it.
#ifndef COWDB_INTERNAL_PVEC_ITERATOR_H_
#define COWDB_INTERNAL_PVEC_ITERATOR_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>

#include "boost/container/static_vector.hpp"
#include "cowdb/internal/rbtree.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
class pvec_iterator {
  using tree = rbtree<T, Cap, F>;
  using inner = typename tree::inner;

 public:
  using iterator_concept = std::random_access_iterator_tag;
  using iterator_category = std::random_access_iterator_tag;
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using pointer = const T*;
  using reference = const T&;

  pvec_iterator() = default;

  // Positions at index i (0 <= i <= r.size). O(depth).
  pvec_iterator(const tree_rep& r, std::size_t i) : root_(r.root), size_(r.size), depth_(r.depth) {
    seek(i);
  }

  reference operator*() const noexcept { return *cur_; }
  pointer operator->() const noexcept { return cur_; }
  reference operator[](difference_type n) const { return *(*this + n); }

  pvec_iterator& operator++() noexcept {
    if (++cur_ == leaf_end_) next_leaf();
    return *this;
  }
  pvec_iterator operator++(int) noexcept {
    pvec_iterator t = *this;
    ++*this;
    return t;
  }
  pvec_iterator& operator--() noexcept {
    if (cur_ == leaf_begin_) prev_leaf();
    --cur_;
    return *this;
  }
  pvec_iterator operator--(int) noexcept {
    pvec_iterator t = *this;
    --*this;
    return t;
  }
  pvec_iterator& operator+=(difference_type n) noexcept {
    const std::size_t target = index() + static_cast<std::size_t>(n);
    const std::size_t in_leaf = target - leaf_base_;  // wraps for targets before the leaf
    if (in_leaf < static_cast<std::size_t>(leaf_end_ - leaf_begin_)) {
      cur_ = leaf_begin_ + in_leaf;
    } else {
      seek(target);
    }
    return *this;
  }
  pvec_iterator& operator-=(difference_type n) noexcept { return *this += -n; }
  friend pvec_iterator operator+(pvec_iterator it, difference_type n) noexcept { return it += n; }
  friend pvec_iterator operator+(difference_type n, pvec_iterator it) noexcept { return it += n; }
  friend pvec_iterator operator-(pvec_iterator it, difference_type n) noexcept { return it -= n; }
  friend difference_type operator-(const pvec_iterator& a, const pvec_iterator& b) noexcept {
    return static_cast<difference_type>(a.index()) - static_cast<difference_type>(b.index());
  }
  // Every position of one version has its own address (the end position is one past the last
  // element of the last leaf), so comparing addresses is comparing positions.
  friend bool operator==(const pvec_iterator& a, const pvec_iterator& b) noexcept {
    return a.cur_ == b.cur_;
  }
  friend std::strong_ordering operator<=>(const pvec_iterator& a, const pvec_iterator& b) noexcept {
    return a.index() <=> b.index();
  }

  // Index of the current position.
  std::size_t index() const noexcept {
    return leaf_base_ + static_cast<std::size_t>(cur_ - leaf_begin_);
  }

  // The elements from the current position to the end of its contiguous run (the rest of its
  // leaf, unless the leaf is a patch); empty at end(). O(1).
  std::span<const T> rest_of_chunk() const noexcept {
    return {cur_, static_cast<std::size_t>(leaf_end_ - cur_)};
  }
  // Moves to the first element of the next run, or to end() from the last one. Amortized O(1).
  void next_chunk() noexcept {
    cur_ = leaf_end_;
    next_leaf();
  }

 private:
  // Makes the run of leaf n holding slot k current; `base` is the index of the leaf's slot 0.
  void set_leaf(const node_base* n, std::size_t base, std::size_t k) noexcept {
    const typename tree::piece p = tree::piece_at(n, k);
    leaf_ = n;
    leaf_begin_ = p.first;
    leaf_end_ = p.last;
    leaf_base_ = base + p.slot;
    run_end_ = p.slot + static_cast<std::size_t>(p.last - p.first);
  }

  void seek(std::size_t i) noexcept {
    if (size_ == 0) {
      cur_ = leaf_begin_ = leaf_end_ = nullptr;
      leaf_base_ = run_end_ = 0;
      leaf_ = nullptr;
      return;
    }
    const std::size_t at = i < size_ ? i : size_ - 1;
    std::size_t rel = at;
    path_.clear();
    const node_base* n = root_;
    for (unsigned level = depth_; level > 0; --level) {
      const inner* in = tree::as_inner(n);
      const std::size_t k = tree::locate(in, level, rel);
      path_.push_back({in, static_cast<std::uint32_t>(k)});
      n = in->child[k];
    }
    set_leaf(n, at - rel, rel);
    cur_ = i < size_ ? leaf_begin_ + (at - leaf_base_) : leaf_end_;
  }

  // path_[j] is the inner node at level depth_ - j on the way to the current leaf, with the slot
  // taken there.
  void next_leaf() noexcept {
    const std::size_t next = leaf_base_ + static_cast<std::size_t>(leaf_end_ - leaf_begin_);
    if (next >= size_) return;      // stays at end()
    if (run_end_ < leaf_->count) {  // the next run of the same patch
      set_leaf(leaf_, next - run_end_, run_end_);
      cur_ = leaf_begin_;
      return;
    }
    std::size_t j = path_.size() - 1;
    while (path_[j].slot + 1 == path_[j].node->count) --j;
    ++path_[j].slot;
    const node_base* n = path_[j].node->child[path_[j].slot];
    for (++j; j < path_.size(); ++j) {
      path_[j] = {tree::as_inner(n), 0};
      n = path_[j].node->child[0];
    }
    set_leaf(n, next, 0);
    cur_ = leaf_begin_;
  }

  void prev_leaf() noexcept {
    const std::size_t first = run_end_ - static_cast<std::size_t>(leaf_end_ - leaf_begin_);
    if (first > 0) {  // the previous run of the same patch
      set_leaf(leaf_, leaf_base_ - first, first - 1);
      cur_ = leaf_end_;
      return;
    }
    std::size_t j = path_.size() - 1;
    while (path_[j].slot == 0) --j;
    --path_[j].slot;
    const node_base* n = path_[j].node->child[path_[j].slot];
    for (++j; j < path_.size(); ++j) {
      const inner* in = tree::as_inner(n);
      path_[j] = {in, in->count - 1};
      n = in->child[in->count - 1];
    }
    set_leaf(n, leaf_base_ - n->count, n->count - 1);
    cur_ = leaf_end_;
  }

  struct step {
    const inner* node;
    std::uint32_t slot;
  };

  const T* cur_ = nullptr;
  const T* leaf_end_ = nullptr;
  const T* leaf_begin_ = nullptr;
  std::size_t leaf_base_ = 0;        // the index of leaf_begin_
  const node_base* leaf_ = nullptr;  // the current leaf (or patch)
  std::size_t run_end_ = 0;          // the slot in leaf_ just past the current run
  const node_base* root_ = nullptr;
  std::size_t size_ = 0;
  unsigned depth_ = 0;
  boost::container::static_vector<step, tree::max_depth> path_;
};

// A forward iterator over the chunks of the elements [first, first + count) of one version: each
// position is a std::span over elements contiguous in one leaf, in order; equal to
// std::default_sentinel after the last. Every span is non-empty.
template <class T, std::size_t Cap, std::size_t F>
class pvec_chunk_iterator {
 public:
  using iterator_concept = std::forward_iterator_tag;
  using iterator_category = std::forward_iterator_tag;
  using value_type = std::span<const T>;
  using difference_type = std::ptrdiff_t;
  using reference = std::span<const T>;

  pvec_chunk_iterator() = default;
  // REQUIRES: first + count <= r.size. O(depth).
  pvec_chunk_iterator(const tree_rep& r, std::size_t first, std::size_t count)
      : at_(r, first), left_(count) {}

  std::span<const T> operator*() const noexcept {
    const std::span<const T> rest = at_.rest_of_chunk();
    return rest.size() <= left_ ? rest : rest.first(left_);
  }
  pvec_chunk_iterator& operator++() noexcept {
    const std::size_t took = (**this).size();
    left_ -= took;
    if (left_ != 0) at_.next_chunk();
    return *this;
  }
  pvec_chunk_iterator operator++(int) noexcept {
    pvec_chunk_iterator t = *this;
    ++*this;
    return t;
  }
  friend bool operator==(const pvec_chunk_iterator& a, const pvec_chunk_iterator& b) noexcept {
    return a.left_ == b.left_ && (a.left_ == 0 || a.at_ == b.at_);
  }
  friend bool operator==(const pvec_chunk_iterator& a, std::default_sentinel_t) noexcept {
    return a.left_ == 0;
  }

 private:
  pvec_iterator<T, Cap, F> at_;
  std::size_t left_ = 0;  // elements not yet yielded
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_PVEC_ITERATOR_H_
