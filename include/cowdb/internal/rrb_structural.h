// Internal: structural edits of a relaxed radix-balanced tree (a layer of rbtree.h; F >= 4):
// concatenation, slicing, insert and erase anywhere, and the rebalancing that keeps (I2). They
// create relaxed nodes along the paths they touch. Users never include this header.
//
// Other headers may use, through rbtree<T, Cap, F>:
//   concat                            a followed by b, as a new tree
//   drop                              without the first k elements (with truncate: slices)
//   insert, erase                     one element at any index
//   erase_range, insert_tree          a range / a whole tree at any index
//   rebalance, thin                   the fill repair of (I2), on a run of kids
//   join_leaves                       the leaf step of rebalance, from any offset
//
// Implementation details follow.
#ifndef COWDB_INTERNAL_RRB_STRUCTURAL_H_
#define COWDB_INTERNAL_RRB_STRUCTURAL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "cowdb/internal/rrb_edit.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
struct rrb_structural : rrb_edit<T, Cap, F> {
  using base = rrb_edit<T, Cap, F>;
  using base::as_inner;
  using base::as_leaf;
  using base::child_size;
  using base::child_start;
  using base::collapse;
  using base::copy_leaf;
  using base::join_leaf;
  using base::locate;
  using base::make_leaf;
  using base::make_node;
  using base::min_inner;
  using base::min_leaf;
  using base::new_path;
  using base::own;
  using base::pack;
  using base::release;
  using base::reshape;
  using base::right_edge_regular;
  using base::share;
  using base::size_of;
  using base::truncate;
  using typename base::flat_leaf;
  using typename base::inner;
  using typename base::kids;
  using typename base::leaf;
  using typename base::rep_holder;

  // ---- structural edits (F >= 4) ----------------------------------------------------------------
  // Each builds the new version's changed paths and swaps it in, so each is strong.

  // Whether node n (of `level`) is below the fill minimum (I2).
  static bool thin(const node_base* n, unsigned level) noexcept {
    return n->count < (level == 0 ? min_leaf : min_inner);
  }

  // Appends to `out` (of level 0) one leaf holding a[from, a->count) followed by all of b, or
  // two leaves of at least half capacity each (the first one getting the larger half).
  static void join_leaves(const leaf* a, std::size_t from, const leaf* b, kids& out) {
    const std::size_t ca = a->count - from, cb = b->count, total = ca + cb;
    const flat_leaf fa(a), fb(b);
    const std::span<const T> pa(fa.data() + from, ca), pb(fb.data(), cb);
    // A leaf of elements [lo, hi) of pa followed by pb, with their ids.
    auto part = [&](std::size_t lo, std::size_t hi) {
      ids_builder bld;
      if (lo < ca) bld.add_from(a->ids, from + lo, from + std::min(hi, ca));
      if (hi > ca) bld.add_from(b->ids, std::max(lo, ca) - ca, hi - ca);
      const std::size_t a_lo = std::min(lo, ca), a_hi = std::min(hi, ca);
      const std::size_t b_lo = std::max(lo, ca) - ca, b_hi = std::max(hi, ca) - ca;
      return join_leaf(pa.subspan(a_lo, a_hi - a_lo), nullptr, pb.subspan(b_lo, b_hi - b_lo),
                       bld.build());
    };
    if (total <= Cap) {
      out.add(part(0, total), total);
    } else {
      const std::size_t h = (total + 1) / 2;
      out.add(part(0, h), h);
      out.add(part(h, total), total - h);
    }
  }

  // Replaces ks[j], ks[j+1] (nodes of ks.level()) by one node holding both, or by two nodes of at
  // least half capacity each (the first one getting the larger half).
  static void rebalance(kids& ks, std::size_t j) {
    const unsigned level = ks.level();
    const node_base* a = ks[j].node;
    const node_base* b = ks[j + 1].node;
    const std::size_t ca = a->count, cb = b->count;
    kids out(level);
    if (level == 0) {
      join_leaves(as_leaf(a), 0, as_leaf(b), out);
    } else {
      kids grand(level - 1);
      grand.add_children(as_inner(a), ks[j].size, 0, ca);
      grand.add_children(as_inner(b), ks[j + 1].size, 0, cb);
      pack(grand, level, out);
    }
    ks.splice(j, 2, out);
  }

  // Inserts copies of value at i (0 <= i <= size of n) into the subtree n; appends the result,
  // one node or two (after a split), to `out`.
  static void insert_rec(const node_base* n, unsigned level, std::size_t size, std::size_t i,
                         const T& value, row_id_t id, kids& out) {
    if (level == 0) {
      const std::size_t cnt = n->count;
      const flat_leaf f(n);
      const std::span<const T> s(f.data(), cnt);
      const leaf_ids& src = as_leaf(n)->ids;
      // A leaf of elements [lo, hi) of s[0, i), value, s[i, cnt), with their ids.
      auto part = [&](std::size_t lo, std::size_t hi) {
        ids_builder bld;
        if (lo < i) bld.add_from(src, lo, std::min(hi, i));
        const bool mid = lo <= i && i < hi;
        if (mid) bld.add(id);
        if (hi > i + 1) bld.add_from(src, std::max(lo, i + 1) - 1, hi - 1);
        const std::size_t a_lo = std::min(lo, i), a_hi = std::min(hi, i);
        const std::size_t b_lo = std::max(lo, i + 1) - 1, b_hi = std::max(hi, i + 1) - 1;
        return join_leaf(s.subspan(a_lo, a_hi - a_lo), mid ? &value : nullptr,
                         s.subspan(b_lo, b_hi - b_lo), bld.build());
      };
      if (cnt < Cap) {
        out.add(part(0, cnt + 1), cnt + 1);
      } else {
        const std::size_t h = (cnt + 2) / 2;
        out.add(part(0, h), h);
        out.add(part(h, cnt + 1), cnt + 1 - h);
      }
      return;
    }
    const inner* in = as_inner(n);
    std::size_t rel = i;
    std::size_t k;
    if (i == size) {
      k = in->count - 1;
      rel = i - child_start(in, level, k);
    } else {
      k = locate(in, level, rel);
    }
    kids sub(level - 1);
    insert_rec(in->child[k], level - 1, child_size(in, level, k, size), rel, value, id, sub);
    kids ks(level - 1);
    ks.add_children(in, size, 0, k);
    ks.append(sub);
    ks.add_children(in, size, k + 1, in->count);
    pack(ks, level, out);
  }

  // A new reference to the subtree n (holding `size` elements) without element i, or nullptr if
  // nothing is left. `right_edge`: n is on the right edge of the tree (may stay thin).
  static node_base* erase_rec(const node_base* n, unsigned level, std::size_t size, std::size_t i,
                              bool right_edge) {
    if (level == 0) {
      if (n->count == 1) return nullptr;
      const flat_leaf f(n);
      const std::span<const T> s(f.data(), n->count);
      ids_builder bld;
      bld.add_from(as_leaf(n)->ids, 0, i);
      bld.add_from(as_leaf(n)->ids, i + 1, n->count);
      return join_leaf(s.first(i), nullptr, s.subspan(i + 1), bld.build());
    }
    const inner* in = as_inner(n);
    std::size_t rel = i;
    const std::size_t k = locate(in, level, rel);
    const std::size_t cs = child_size(in, level, k, size);
    const bool last = k + 1 == in->count;
    node_base* sub = erase_rec(in->child[k], level - 1, cs, rel, right_edge && last);
    kids ks(level - 1);
    ks.add_children(in, size, 0, k);
    if (sub != nullptr) ks.add(sub, cs - 1);
    ks.add_children(in, size, k + 1, in->count);
    if (ks.size() == 0) return nullptr;
    if (sub != nullptr && ks.size() > 1 && thin(sub, level - 1) && !(right_edge && last)) {
      rebalance(ks, k + 1 < ks.size() ? k : k - 1);
    }
    return make_node(ks, 0, ks.size(), level);
  }

  // A new reference to the subtree n (holding `size` elements) without its first k elements
  // (0 < k < size). Built bottom-up: a new left-edge node that would be thin and has a right
  // sibling is joined with it (or takes half of it) as it is built, so repair_left, which
  // finishes the job (the root, and edges without a sibling), rarely rebuilds anything.
  static node_base* suffix(const node_base* n, unsigned level, std::size_t size, std::size_t k) {
    if (level == 0) return copy_leaf(as_leaf(n), k, n->count);
    kids ks(level - 1);
    suffix_kids(n, level, size, k, ks);
    return make_node(ks, 0, ks.size(), level);
  }
  // Appends to `ks` (of level - 1) the children of suffix(n, level, size, k), level >= 1.
  static void suffix_kids(const node_base* n, unsigned level, std::size_t size, std::size_t k,
                          kids& ks) {
    const inner* in = as_inner(n);
    std::size_t rel = k;
    const std::size_t j = locate(in, level, rel);
    const std::size_t cs = child_size(in, level, j, size);
    const bool sibling = j + 1 < in->count;
    if (rel == 0) {
      ks.add_children(in, size, j, in->count);
      return;
    }
    if (level == 1) {
      const leaf* cut = as_leaf(in->child[j]);
      if (cs - rel < min_leaf && sibling) {
        join_leaves(cut, rel, as_leaf(in->child[j + 1]), ks);
        ks.add_children(in, size, j + 2, in->count);
        return;
      }
      ks.add(copy_leaf(cut, rel, cs), cs - rel);
      ks.add_children(in, size, j + 1, in->count);
      return;
    }
    kids sub(level - 2);
    suffix_kids(in->child[j], level - 1, cs, rel, sub);
    // repair_left's test for an inner node (top-down, it keeps one child to spare).
    if (sub.size() <= min_inner && sibling) {
      const node_base* next = in->child[j + 1];
      sub.add_children(as_inner(next), child_size(in, level, j + 1, size), 0, next->count);
      pack(sub, level - 1, ks);
      ks.add_children(in, size, j + 2, in->count);
      return;
    }
    ks.add(make_node(sub, 0, sub.size(), level - 1), cs - rel);
    ks.add_children(in, size, j + 1, in->count);
  }

  // Restores (I2) along the left edge of r, top down: before descending into the first child of
  // a node, gives that child more than the minimum (merging it with, or borrowing from, its
  // right sibling) so that a merge below it cannot make it thin.
  static void repair_left(tree_rep& r) {
    collapse(r);
    node_base** slot = &r.root;
    unsigned level = r.depth;
    while (level > 0) {
      inner* p = as_inner(own(slot, level));
      const node_base* c0 = p->child[0];
      if (p->count >= 2 && (level == 1 ? c0->count < min_leaf : c0->count <= min_inner)) {
        kids ks(level - 1);
        const std::size_t psize = size_of(p, level);
        ks.add_children(p, psize, 0, 2);
        rebalance(ks, 0);
        // Splice the result into p.
        const std::uint32_t removed = 2 - static_cast<std::uint32_t>(ks.size());
        release(p->child[0], level - 1);
        release(p->child[1], level - 1);
        p->child[0] = std::exchange(ks[0].node, nullptr);
        if (ks.size() == 2) {
          p->child[1] = std::exchange(ks[1].node, nullptr);
        } else {
          std::move(p->child + 2, p->child + p->count, p->child + 1);
        }
        p->count -= removed;
        reshape(p, level);
        if (slot == &r.root && p->count == 1) {
          collapse(r);
          slot = &r.root;
          level = r.depth;
          continue;
        }
      }
      slot = &p->child[0];
      --level;
    }
  }

  // Concatenates the subtrees a (level la, sa elements) and b (level lb, sb elements) into one
  // or two nodes of level max(la, lb), appended to `out`. b must satisfy (I2) on its left edge.
  static void concat_rec(const node_base* a, unsigned la, std::size_t sa, const node_base* b,
                         unsigned lb, std::size_t sb, kids& out) {
    if (la == 0 && lb == 0) {
      // Both leaves are kept (shared) unless a, the old last leaf of the left tree, is thin: then
      // the two are merged into one leaf or split evenly into two.
      kids ks(0);
      ks.add_shared(a, a->count);
      ks.add_shared(b, b->count);
      if (a->count < min_leaf) rebalance(ks, 0);
      out.append(ks);
      return;
    }
    const unsigned level = std::max(la, lb);
    kids ks(level - 1);
    if (la > lb) {
      const inner* ia = as_inner(a);
      const std::size_t last = ia->count - 1;
      kids mid(level - 1);
      concat_rec(ia->child[last], la - 1, child_size(ia, la, last, sa), b, lb, sb, mid);
      ks.add_children(ia, sa, 0, last);
      ks.append(mid);
    } else if (la < lb) {
      const inner* ib = as_inner(b);
      kids mid(level - 1);
      concat_rec(a, la, sa, ib->child[0], lb - 1, child_size(ib, lb, 0, sb), mid);
      ks.append(mid);
      ks.add_children(ib, sb, 1, ib->count);
    } else {
      const inner* ia = as_inner(a);
      const inner* ib = as_inner(b);
      const std::size_t last = ia->count - 1;
      kids mid(level - 1);
      concat_rec(ia->child[last], la - 1, child_size(ia, la, last, sa), ib->child[0], lb - 1,
                 child_size(ib, lb, 0, sb), mid);
      ks.add_children(ia, sa, 0, last);
      ks.append(mid);
      ks.add_children(ib, sb, 1, ib->count);
    }
    pack(ks, level, out);
  }

  // Builds a tree from one or two nodes of `level`.
  static tree_rep from_kids(kids& ks, std::size_t size) {
    tree_rep t;
    if (ks.size() == 1) {
      t = {std::exchange(ks[0].node, nullptr), size, ks.level()};
    } else {
      t = {make_node(ks, 0, 2, ks.level() + 1), size, ks.level() + 1};
    }
    collapse(t);
    t.radix = right_edge_regular(t);
    return t;
  }

  // a followed by b, as a new tree (new references). O(F * depth + Cap).
  static tree_rep concat(const tree_rep& a, const tree_rep& b) {
    if (a.size == 0) {
      return b.size == 0 ? tree_rep{}
                         : tree_rep{share(b.root), b.size, b.depth, b.radix, b.patch_free};
    }
    if (b.size == 0) return {share(a.root), a.size, a.depth, a.radix, a.patch_free};
    kids out(std::max(a.depth, b.depth));
    concat_rec(a.root, a.depth, a.size, b.root, b.depth, b.size, out);
    tree_rep t = from_kids(out, a.size + b.size);
    t.patch_free = a.patch_free && b.patch_free;
    return t;
  }

  // r without its first k elements.
  static void drop(tree_rep& r, std::size_t k) {
    if (k == 0) return;
    if (k >= r.size) {
      release(r.root, r.depth);
      r = {};
      return;
    }
    rep_holder t(tree_rep{suffix(r.root, r.depth, r.size, k), r.size - k, r.depth});
    repair_left(t.get());
    t.get().radix = right_edge_regular(t.get());
    t.get().patch_free = r.patch_free;
    release(r.root, r.depth);
    r = t.dismiss();
  }

  // Inserts value before element i (0 <= i <= r.size). O(F * depth + Cap).
  static void insert(tree_rep& r, std::size_t i, const T& value, row_id_t id) {
    if (r.root == nullptr) {
      leaf* l;
      r.root = new_path(0, &l, id, value);
      r.size = 1;
      r.radix = true;
      r.patch_free = true;
      return;
    }
    kids out(r.depth);
    insert_rec(r.root, r.depth, r.size, i, value, id, out);
    tree_rep t = from_kids(out, r.size + 1);
    t.patch_free = r.patch_free;
    release(r.root, r.depth);
    r = t;
  }

  // Removes element i (i < r.size). O(F * depth + Cap).
  static void erase(tree_rep& r, std::size_t i) {
    node_base* n = erase_rec(r.root, r.depth, r.size, i, true);
    tree_rep t{n, r.size - 1, n == nullptr ? 0 : r.depth};
    collapse(t);
    t.radix = right_edge_regular(t);
    t.patch_free = r.patch_free;
    release(r.root, r.depth);
    r = t;
  }

  // Removes elements [first, last) (first < last <= r.size): concat(take(first), drop(last)).
  static void erase_range(tree_rep& r, std::size_t first, std::size_t last) {
    if (last - first == 1) return erase(r, first);
    rep_holder tail(tree_rep{share(r.root), r.size, r.depth, false, r.patch_free});
    drop(tail.get(), last);
    rep_holder head(tree_rep{share(r.root), r.size, r.depth, false, r.patch_free});
    truncate(head.get(), first);
    tree_rep t = concat(head.get(), tail.get());
    release(r.root, r.depth);
    r = t;
  }

  // Inserts the tree `mid` before element i: concat(concat(take(i), mid), drop(i)).
  static void insert_tree(tree_rep& r, std::size_t i, const tree_rep& mid) {
    if (mid.size == 0) return;
    rep_holder tail(tree_rep{r.root == nullptr ? nullptr : share(r.root), r.size, r.depth, false,
                             r.patch_free});
    drop(tail.get(), i);
    rep_holder head(tree_rep{r.root == nullptr ? nullptr : share(r.root), r.size, r.depth, false,
                             r.patch_free});
    truncate(head.get(), i);
    rep_holder left(concat(head.get(), mid));
    tree_rep t = concat(left.get(), tail.get());
    release(r.root, r.depth);
    r = t;
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RRB_STRUCTURAL_H_
