// Internal: the lock-step walk that compares two radix-balanced trees (diff.h, merge.h).
//
// Two trees built by pvec are positionally aligned: the subtree at level L and slot path p covers
// the same index range in both, whatever their sizes (a shallower tree is the leftmost subtree of a
// deeper one). So the walk descends the deeper tree's leftmost spine until the depths match, then
// visits both trees together and skips every pair of identical node pointers: its cost is
// O(changed chunks x (depth + fanout + chunk)), independent of the size of the unchanged part.
#ifndef COWDB_INTERNAL_TREE_DIFF_H_
#define COWDB_INTERNAL_TREE_DIFF_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cowdb/internal/rbtree.h"

namespace cowdb::internal {

// What a walk looked at; lets tests prove that unchanged chunks were never read.
struct walk_stats {
  std::size_t inner_pairs = 0;        // pairs of distinct inner nodes visited
  std::size_t leaf_pairs = 0;         // pairs of distinct leaves compared
  std::size_t elements_compared = 0;  // element comparisons made
};

template <class T, std::size_t Cap, std::size_t F>
struct tree_diff {
  using tree = rbtree<T, Cap, F>;

  // Calls on_leaves(a_leaf, b_leaf, base_index, lo_k, hi_k) for each pair of distinct leaves
  // holding elements of [lo, hi), in index order; [base_index + lo_k, base_index + hi_k) is the
  // part of the pair inside [lo, hi). REQUIRES: hi <= min(a.size, b.size).
  template <class OnLeaves>
  static void walk(const tree_rep& a, const tree_rep& b, std::size_t lo, std::size_t hi,
                   walk_stats& st, OnLeaves&& on_leaves) {
    if (lo >= hi) return;
    const node_base* x = a.root;
    const node_base* y = b.root;
    unsigned level = std::min(a.depth, b.depth);
    for (unsigned l = a.depth; l > level; --l) x = tree::as_inner(x)->child[0];
    for (unsigned l = b.depth; l > level; --l) y = tree::as_inner(y)->child[0];
    walk_rec(x, y, level, 0, lo, hi, st, on_leaves);
  }

  template <class OnLeaves>
  static void walk_rec(const node_base* x, const node_base* y, unsigned level, std::size_t base,
                       std::size_t lo, std::size_t hi, walk_stats& st, OnLeaves& on_leaves) {
    if (x == y) return;
    if (level == 0) {
      ++st.leaf_pairs;
      const std::size_t b = lo > base ? lo - base : 0;
      const std::size_t e = std::min<std::size_t>({x->count, y->count, hi - base});
      on_leaves(tree::as_leaf(x), tree::as_leaf(y), base, b, e);
      return;
    }
    ++st.inner_pairs;
    const auto* ix = tree::as_inner(x);
    const auto* iy = tree::as_inner(y);
    const std::size_t cc = tree::capacity(level - 1);
    const std::size_t kids = std::min(ix->count, iy->count);
    for (std::size_t k = lo > base ? (lo - base) / cc : 0; k < kids && base + k * cc < hi; ++k) {
      walk_rec(ix->child[k], iy->child[k], level - 1, base + k * cc, lo, hi, st, on_leaves);
    }
  }

  // Calls on_run(first, last) for each maximal run of indices in [lo, hi) where a and b differ,
  // in order; adjacent runs from neighbouring leaves are reported separately.
  template <class OnRun>
  static void runs(const tree_rep& a, const tree_rep& b, std::size_t lo, std::size_t hi,
                   walk_stats& st, OnRun&& on_run) {
    walk(a, b, lo, hi, st,
         [&](const typename tree::leaf* la, const typename tree::leaf* lb, std::size_t base,
             std::size_t k, std::size_t n) {
           const T* pa = la->data();
           const T* pb = lb->data();
           st.elements_compared += n - k;
           while (k < n) {
             while (k < n && pa[k] == pb[k]) ++k;
             if (k == n) break;
             const std::size_t first = k;
             while (k < n && !(pa[k] == pb[k])) ++k;
             on_run(base + first, base + k);
           }
         });
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_TREE_DIFF_H_
