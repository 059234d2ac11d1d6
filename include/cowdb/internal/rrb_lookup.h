// Internal: addressing and lookup in a relaxed radix-balanced tree (a layer of rbtree.h):
// finding the child and the leaf holding an element, and in-order walks over leaves and ranges.
// Users never include this header.
//
// Other headers may use, through rbtree<T, Cap, F>:
//   locate                       the child of an inner node holding an element
//   leaf_for, leaf_at, get       the leaf (and element) holding index i
//   right_edge_regular           whether the radix hint (tree_rep::radix) may be set
//   for_each_leaf, for_each_leaf_in, for_each_chunk   in-order walks (leaves may be patches)
//
// Implementation details follow.
#ifndef COWDB_INTERNAL_RRB_LOOKUP_H_
#define COWDB_INTERNAL_RRB_LOOKUP_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cowdb/internal/rrb_nodes.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
struct rrb_lookup : rrb_nodes<T, Cap, F> {
  using base = rrb_nodes<T, Cap, F>;
  using base::as_inner;
  using base::as_leaf;
  using base::child_size;
  using base::fanout_bits;
  using base::leaf_bits;
  using base::low_mask;
  using base::shift;
  using typename base::inner;
  using typename base::leaf;

  // The slot of the child of `in` (a node of `level`) holding element i, where i counts from the
  // start of `in`; on return i counts from the start of that child.
  static std::size_t locate(const inner* in, unsigned level, std::size_t& i) noexcept {
    std::size_t k = i >> std::min(shift(level - 1), 63u);
    if (!in->relaxed) {
      i &= low_mask(level - 1);
      return k;
    }
    while (in->sizes()[k] <= i) ++k;
    if (k > 0) i -= in->sizes()[k - 1];
    return k;
  }

  // ---- reads ------------------------------------------------------------------------------------
  // The leaf holding element i of the subtree `root` (any subtree, with or without the radix
  // hint; leaf_at below uses the hint); on return i is its slot in that leaf.
  static const leaf* leaf_for(const node_base* root, unsigned depth, std::size_t& i) noexcept {
    // Through regular nodes i is not reduced: each level's radix digit is masked out of it. A
    // relaxed node first reduces i to its own range, then searches its size table. Below a
    // regular node's non-last child, every node is full (it holds capacity(level) elements), so
    // the rest of the path is pure radix and reads no node header.
    //
    // Above level kWide a child could hold 2^64 elements or more (only very deep relaxed trees of
    // a tiny fan-out get there), so a regular node there holds all in its first child; at kWide
    // and below, shift(level - 1) < 64.
    constexpr unsigned kWide = (63 - leaf_bits) / fanout_bits + 1;
    const node_base* n = root;
    unsigned level = depth;
    for (; level > kWide; --level) {
      const inner* in = as_inner(n);
      if (!in->relaxed) {
        n = in->child[0];
      } else {
        i &= low_mask(level);
        n = in->child[locate(in, level, i)];
      }
    }
    while (level > 0) {
      const inner* in = as_inner(n);
      if (in->relaxed) {
        i &= low_mask(level);
        n = in->child[locate(in, level, i)];
        --level;
        continue;
      }
      const std::size_t k = (i >> shift(level - 1)) & (F - 1);
      n = in->child[k];
      --level;
      if (k + 1 < in->count) {
        for (; level > 0; --level) n = as_inner(n)->child[(i >> shift(level - 1)) & (F - 1)];
        break;
      }
    }
    i &= low_mask(0);
    return as_leaf(n);
  }
  // The leaf holding element i of r, using the radix hint; on return i is its slot in it.
  static const leaf* leaf_at(const tree_rep& r, std::size_t& i) noexcept {
    if (!r.radix) return leaf_for(r.root, r.depth, i);
    // Radix all the way down: one child slot per level, no node header, and the independent
    // loads of different lookups can overlap. A radix tree holds more than capacity(depth - 1)
    // elements, so shift(depth - 1) < 64.
    const node_base* n = r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      n = as_inner(n)->child[(i >> shift(level - 1)) & (F - 1)];
    }
    i &= low_mask(0);
    return as_leaf(n);
  }
  static const T& get(const tree_rep& r, std::size_t i) noexcept {
    const leaf* l = leaf_at(r, i);
    if (r.patch_free) return l->data()[i];  // asserts that l is not a patch
    return base::value_at(l, i);
  }
  // Whether every inner node on the right edge of r is regular (see tree_rep::radix). O(depth).
  static bool right_edge_regular(const tree_rep& r) noexcept {
    const node_base* n = r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      const inner* in = as_inner(n);
      if (in->relaxed) return false;
      n = in->child[in->count - 1];
    }
    return r.root != nullptr;
  }

  // Calls fn(const leaf*) for every leaf under n, in order.
  template <class Fn>
  static void for_each_leaf(const node_base* n, unsigned level, Fn& fn) {
    if (level == 0) return fn(as_leaf(n));
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) for_each_leaf(in->child[k], level - 1, fn);
  }

  // Calls fn(const leaf*, b, e) for each leaf overlapping [lo, hi) (relative to n, which holds
  // `size` elements), with [b, e) the leaf's slots inside the range, in order.
  template <class Fn>
  static void for_each_leaf_in(const node_base* n, unsigned level, std::size_t size, std::size_t lo,
                               std::size_t hi, Fn& fn) {
    if (level == 0) return fn(as_leaf(n), lo, std::min<std::size_t>(hi, n->count));
    const inner* in = as_inner(n);
    std::size_t rel = lo;
    std::size_t k = locate(in, level, rel);
    std::size_t start = lo - rel;
    for (; k < in->count && start < hi; ++k) {
      const std::size_t cs = child_size(in, level, k, size);
      for_each_leaf_in(in->child[k], level - 1, cs, lo > start ? lo - start : 0,
                       std::min(hi - start, cs), fn);
      start += cs;
    }
  }

  // Calls fn(first, last) for each contiguous run of the elements [lo, hi) (relative to n, which
  // holds `size` elements), in order: one per leaf overlapping the range, clipped to it, and a
  // few more for a patch (rrb_nodes.h: for_each_piece).
  template <class Fn>
  static void for_each_chunk(const node_base* n, unsigned level, std::size_t size, std::size_t lo,
                             std::size_t hi, Fn& fn) {
    auto chunk = [&fn](const leaf* l, std::size_t b, std::size_t e) {
      base::for_each_piece(l, b, e, fn);
    };
    for_each_leaf_in(n, level, size, lo, hi, chunk);
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RRB_LOOKUP_H_
