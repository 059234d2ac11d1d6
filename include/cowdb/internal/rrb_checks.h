// Internal: checks and statistics of a relaxed radix-balanced tree (a layer of rbtree.h):
// memory accounting of a version's nodes and id lists, node visits, and the verification of the
// invariants (I1)-(I4) stated in rrb_nodes.h. Users never include this header.
//
// Other headers may use, through rbtree<T, Cap, F>:
//   tree_stats                                   what a version's nodes cost (cowdb/stats.h)
//   stats, exclusive_stats, shared_stats         memory of a tree, of its unshared part, of its
//                                                part shared with another tree (see collect)
//   node_set, collect                            the set of nodes under a root
//   visit                                        depth-first visit of nodes and id lists
//   check                                        verifies (I1)-(I4); empty string when they hold
//
// Implementation details follow.
#ifndef COWDB_INTERNAL_RRB_CHECKS_H_
#define COWDB_INTERNAL_RRB_CHECKS_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "cowdb/internal/rrb_lookup.h"
#include "cowdb/stats.h"

namespace cowdb::internal {

// What a version's nodes cost; see pvec::memory().
using tree_stats = cowdb::memory_stats;  // cowdb/stats.h

template <class T, std::size_t Cap, std::size_t F>
struct rrb_checks : rrb_lookup<T, Cap, F> {
  using base = rrb_lookup<T, Cap, F>;
  using base::as_inner;
  using base::as_leaf;
  using base::as_patch;
  using base::bytes_of;
  using base::capacity;
  using base::is_patch;
  using base::leaf_bytes;
  using base::max_depth;
  using base::min_inner;
  using base::min_leaf;
  using base::patch_bytes;
  using base::patch_cap;
  using base::size_of;
  using base::structural;
  using typename base::inner;

  // ---- introspection ----------------------------------------------------------------------------
  // Adds a leaf and its id list (a list several leaves of the walk hold is counted once).
  // Id lists seen by a walk: a list is counted once, however many of the walk's leaves hold it
  // (leaves of one version share a list when the version holds the same rows twice). Lists held
  // by one leaf only need no bookkeeping.
  // Leaves under patches are treated alike: several patches of a version may share one leaf.
  struct list_counts {
    std::unordered_map<const id_runs*, std::uint32_t> shared;   // list -> leaves of the walk
    std::unordered_map<const node_base*, std::uint32_t> bases;  // shared leaf -> its patches
    bool lost = false;  // out of memory: shared lists and leaves were counted per holder
  };
  // Whether the walk meets the leaf b under a patch for the first time (always true for a leaf
  // nobody else holds); counts the patch as one of b's holders.
  static bool first_base(const node_base* b, list_counts& lc) noexcept {
    if (is_unique(b) || lc.lost) return true;
    try {
      return lc.bases[b]++ == 0;
    } catch (...) {
      lc.lost = true;
      return true;
    }
  }
  // The leaf under a patch, or nullptr for a leaf (a patch is a level-0 node with one child).
  static const node_base* patch_base(const node_base* n) noexcept {
    return is_patch(n) ? as_patch(n)->base : nullptr;
  }
  // Adds a level-0 node alone (not a patch's leaf) and its id list. A patch holds (a reference
  // to) the same list as its leaf: the list is counted once, as any list several holders share.
  static void leaf_stats(const node_base* n, tree_stats& s, list_counts& lc) noexcept {
    if (is_patch(n)) {
      s.bytes += patch_bytes;
      ++s.patches;
    } else {
      s.bytes += leaf_bytes;
      ++s.leaves;
    }
    const id_runs* r = as_leaf(n)->ids.runs;
    if (r == nullptr) return;
    if (r->refs.load(std::memory_order_acquire) > 1 && !lc.lost) {
      try {
        if (lc.shared[r]++ > 0) return;  // counted at its first leaf
      } catch (...) {
        lc.lost = true;
      }
    }
    s.bytes += r->bytes();
    ++s.id_lists;
  }
  static void inner_stats(const inner* in, tree_stats& s) noexcept {
    s.bytes += bytes_of(in);
    ++s.inner_nodes;
    s.size_tables += in->table ? 1 : 0;
  }
  static void stats_rec(const node_base* n, unsigned level, tree_stats& s,
                        list_counts& lc) noexcept {
    if (level == 0) {
      leaf_stats(n, s, lc);
      const node_base* b = patch_base(n);
      if (b != nullptr && first_base(b, lc)) leaf_stats(b, s, lc);
      return;
    }
    const inner* in = as_inner(n);
    inner_stats(in, s);
    for (std::uint32_t k = 0; k < in->count; ++k) stats_rec(in->child[k], level - 1, s, lc);
  }
  static void stats(const node_base* n, unsigned level, tree_stats& s) noexcept {
    list_counts lc;
    stats_rec(n, level, s, lc);
  }
  static void exclusive_rec(const node_base* n, unsigned level, tree_stats& s,
                            list_counts& lc) noexcept {
    if (!is_unique(n)) return;
    if (level == 0) {
      leaf_stats(n, s, lc);
      const node_base* b = patch_base(n);
      if (b != nullptr && is_unique(b)) {
        leaf_stats(b, s, lc);
      } else if (b != nullptr) {
        first_base(b, lc);  // exclusive if all its holders are among the walk's patches
      }
      return;
    }
    const inner* in = as_inner(n);
    inner_stats(in, s);
    for (std::uint32_t k = 0; k < in->count; ++k) exclusive_rec(in->child[k], level - 1, s, lc);
  }
  // Nodes reachable only through this reference: those with a count of one all the way down,
  // and the leaves under patches and id lists all of whose holders are among them.
  static void exclusive_stats(const node_base* n, unsigned level, tree_stats& s) noexcept {
    list_counts lc;
    exclusive_rec(n, level, s, lc);
    for (const auto& [b, holders] : lc.bases) {
      if (holders == b->refs.load(std::memory_order_acquire)) leaf_stats(b, s, lc);
    }
    for (const auto& [r, holders] : lc.shared) {  // counted once above: keep only the exclusive
      if (holders != r->refs.load(std::memory_order_acquire)) {
        s.bytes -= r->bytes();
        --s.id_lists;
      }
    }
  }
  // Calls fn(node, bytes) for n and, while fn returns true, for its children, depth first. A
  // leaf's id list, when it has one, is visited as a child of the leaf (lists are shared by
  // leaves holding the same rows); a patch's leaf as the child of the patch.
  template <class Fn>
  static void visit(const node_base* n, unsigned level, const Fn& fn) {
    const node_base* b = level == 0 ? patch_base(n) : nullptr;
    if (!fn(static_cast<const void*>(n), level > 0      ? bytes_of(as_inner(n))
                                         : b != nullptr ? patch_bytes
                                                        : leaf_bytes)) {
      return;
    }
    if (b != nullptr) return visit(b, 0, fn);
    if (level == 0) {
      if (const id_runs* r = as_leaf(n)->ids.runs) fn(static_cast<const void*>(r), r->bytes());
      return;
    }
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) visit(in->child[k], level - 1, fn);
  }

  // std, not absl: Abseil 20220623 corrupts its table when an allocation fails while it grows.
  using node_set = std::unordered_set<const node_base*>;
  static void collect(const node_base* n, unsigned level, node_set& out) {
    if (!out.insert(n).second) return;
    if (level == 0) {
      if (const node_base* b = patch_base(n)) collect(b, 0, out);
      return;
    }
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) collect(in->child[k], level - 1, out);
  }
  // Stats of the nodes under n that are also in `other` (every node below a member is a member).
  static void shared_stats(const node_base* n, unsigned level, const node_set& other,
                           tree_stats& s) {
    if (other.contains(n)) return stats(n, level, s);
    if (level == 0) {
      if (const node_base* b = patch_base(n)) shared_stats(b, 0, other, s);
      return;
    }
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) shared_stats(in->child[k], level - 1, other, s);
  }

  static bool has_patch(const node_base* n, unsigned level) noexcept {
    if (level == 0) return is_patch(n);
    const inner* in = as_inner(n);
    return std::any_of(in->child, in->child + in->count,
                       [level](const node_base* c) { return has_patch(c, level - 1); });
  }
  // Verifies (I1)-(I4) and the recorded size and depth; returns a description of the first
  // violation, or an empty string. O(n / Cap).
  static std::string check(const tree_rep& r) {
    if (r.root == nullptr) return r.size == 0 && r.depth == 0 ? "" : "empty root with a size";
    if (r.depth > max_depth) return "depth above max_depth";
    if (r.depth > 0 && r.root->count < 2) return "inner root with fewer than 2 children";
    std::string why;
    const std::size_t n = check_node(r.root, r.depth, true, true, why);
    if (!why.empty()) return why;
    if (n != r.size) return "recorded size " + std::to_string(r.size) + " != " + std::to_string(n);
    if (r.radix) {
      // Radix indexing is right when, on the right edge, every child but the last is full (a
      // full subtree has every node full, so it is radix-indexable).
      const node_base* e = r.root;
      for (unsigned level = r.depth; level > 0; --level) {
        const inner* in = as_inner(e);
        for (std::uint32_t k = 0; k + 1 < in->count; ++k) {
          if (size_of(in->child[k], level - 1) != capacity(level - 1)) {
            return "radix hint set on a tree with a non-full child on the right edge";
          }
        }
        e = in->child[in->count - 1];
      }
    }
    if (r.patch_free && has_patch(r.root, r.depth)) return "patch_free hint set on a patched tree";
    if constexpr (structural) {
      // Height bound implied by (I2): size > (F/2)^(depth-1) * min_leaf.
      if (r.depth >= 2) {
        std::size_t least = min_leaf;
        for (unsigned d = 1; d < r.depth && least < SIZE_MAX / min_inner; ++d) least *= min_inner;
        if (r.size <= least) return "depth " + std::to_string(r.depth) + " too large for size";
      }
    }
    return "";
  }
  static std::size_t check_node(const node_base* n, unsigned level, bool root, bool right_edge,
                                std::string& why) {
    const std::size_t cnt = n->count;
    if (level == 0) {
      if (cnt < 1 || cnt > Cap) why = "leaf count out of range";
      if (const node_base* b = patch_base(n)) {
        const auto* p = as_patch(n);
        if (is_patch(b) || b->count != cnt) why = "patch over a patch or a leaf of another size";
        if (p->ids.id0 != as_leaf(b)->ids.id0 || p->ids.runs != as_leaf(b)->ids.runs)
          why = "patch ids differ from its leaf's";
        if (p->n < 1 || p->n > patch_cap) why = "patch entry count out of range";
        for (std::uint32_t j = 0; j < p->n && why.empty(); ++j) {
          if (p->slot[j] >= cnt || (j > 0 && p->slot[j] <= p->slot[j - 1]))
            why = "patch slots out of order or past the rows";
        }
      }
      if (const id_runs* r = as_leaf(n)->ids.runs) {
        if (r->n < 2 || r->starts()[0] != 0) why = "leaf id list malformed";
        for (std::uint32_t j = 1; j < r->n && why.empty(); ++j) {
          const std::uint32_t* st = r->starts();
          const row_id_t* f = r->firsts();
          if (st[j] <= st[j - 1] || st[j] >= cnt || f[j] == f[j - 1] + (st[j] - st[j - 1])) {
            why = "leaf id list malformed (runs out of order, past the rows, or not maximal)";
          }
        }
      }
      if (!root && !right_edge && cnt < min_leaf) why = "leaf below half full off the right edge";
      return cnt;
    }
    if (cnt < 1 || cnt > F) why = "inner count out of range";
    if (!root && !right_edge && cnt < min_inner)
      why = "inner node below half full off the right edge";
    const inner* in = as_inner(n);
    if (in->relaxed && !in->table) why = "relaxed inner node without a size table";
    std::size_t total = 0;
    for (std::uint32_t k = 0; k < cnt && why.empty(); ++k) {
      const std::size_t s =
          check_node(in->child[k], level - 1, false, right_edge && k + 1 == cnt, why);
      total += s;
      if (in->relaxed && in->sizes()[k] != total) why = "relaxed size table is wrong";
      if (!in->relaxed && s != capacity(level - 1) && k + 1 < cnt)
        why = "regular node with a non-full child";
      if (!in->relaxed && k + 1 == cnt && s > capacity(level - 1))
        why = "regular node over capacity";
    }
    return total;
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RRB_CHECKS_H_
