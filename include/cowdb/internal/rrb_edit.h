// Internal: positional edits of a relaxed radix-balanced tree (a layer of rbtree.h): path copying
// (owning the nodes on a path before writing them in place), set, push_back, pop_back and
// prefixes. These keep a regular tree regular. Users never include this header.
//
// Other headers may use, through rbtree<T, Cap, F>:
//   own, replace_leaf                 path copying through a uniquely owned root
//   store                             set one element (through a patch when its leaf is shared)
//   new_path                          a chain of new nodes down to a one-element leaf
//   continues_ids, append_in_place    appending to an owned leaf
//   push_back, pop_back               at the right edge, in place
//   collapse                          drops single-child root levels
//   take, truncate                    prefixes (persistent / in place)
//
// Implementation details follow.
#ifndef COWDB_INTERNAL_RRB_EDIT_H_
#define COWDB_INTERNAL_RRB_EDIT_H_

#include <cassert>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

#include "cowdb/internal/rrb_build.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
struct rrb_edit : rrb_build<T, Cap, F> {
  using base = rrb_build<T, Cap, F>;
  using base::add_table;
  using base::as_inner;
  using base::as_leaf;
  using base::as_patch;
  using base::capacity;
  using base::child_size;
  using base::copy_inner;
  using base::copy_leaf;
  using base::copy_node;
  using base::free_inner_shallow;
  using base::free_leaf;
  using base::ids_of;
  using base::is_patch;
  using base::locate;
  using base::max_depth;
  using base::new_inner;
  using base::new_leaf;
  using base::new_patch_of;
  using base::patch_in_place;
  using base::patch_room;
  using base::relaxed_shape;
  using base::release;
  using base::reshape;
  using base::set_shape;
  using base::share;
  using base::size_of;
  using typename base::holder;
  using typename base::inner;
  using typename base::leaf;
  using typename base::patch;

  // ---- in-place edits through a uniquely owned root (editors, rvalue overloads) -----------------
  // Makes the node in *slot uniquely owned and writable, copying it if it is shared; a patch is
  // always replaced by a plain leaf.
  static node_base* own(node_base** slot, unsigned level) {
    node_base* n = *slot;
    if (is_unique(n) && (level > 0 || !is_patch(n))) return n;
    node_base* c = copy_node(n, level);
    *slot = c;
    release(n, level);
    return c;
  }

  // Sets element i to `value`. The path above its leaf is owned (copied where shared); then an
  // owned leaf is written in place, and a shared one is not copied: the write makes a patch over
  // it (or adds to a patch), and only a full patch turns into a plain leaf again. O(depth) plus,
  // per copied inner node, a reference per child. Strong guarantee, except that `value` may be
  // consumed.
  static void store(tree_rep& r, std::size_t i, T&& value) {
    node_base** slot = &r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      inner* in = as_inner(own(slot, level));
      slot = &in->child[locate(in, level, i)];
    }
    node_base* n = *slot;
    if constexpr (base::patching) {
      if (is_patch(n)) {
        patch* p = as_patch(n);
        if (is_unique(n) && patch_in_place(p, i, value)) return;
        if (patch_room(p, i)) return replace_level0(slot, new_patch_of(n, i, std::move(value)));
      } else if (!is_unique(n)) {
        replace_level0(slot, new_patch_of(n, i, std::move(value)));
        r.patch_free = false;
        return;
      }
    }
    as_leaf(own(slot, 0))->data()[i] = std::move(value);
  }
  static void replace_level0(node_base** slot, node_base* n) noexcept {
    release(std::exchange(*slot, n), 0);
  }

  // Replaces the leaf holding element i by `l` (taking a new reference to it), owning the path
  // above it. REQUIRES: l holds as many elements as the leaf it replaces.
  static void replace_leaf(tree_rep& r, std::size_t i, const node_base* l) {
    node_base** slot = &r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      inner* in = as_inner(own(slot, level));
      slot = &in->child[locate(in, level, i)];
    }
    assert((*slot)->count == l->count);
    release(std::exchange(*slot, share(l)), 0);
  }

  // A chain of new nodes from `level` down to a leaf holding one element built from args.
  template <class... Args>
  static node_base* new_path(unsigned level, leaf** out, row_id_t id, Args&&... args) {
    leaf* l = new_leaf();
    l->ids = {id, nullptr};
    try {
      ::new (static_cast<void*>(l->data())) T(std::forward<Args>(args)...);
    } catch (...) {
      free_leaf(l);
      throw;
    }
    l->count = 1;
    *out = l;
    node_base* n = l;
    for (unsigned k = 1; k <= level; ++k) {
      holder h(n, k - 1);
      inner* in = new_inner();
      in->child[0] = h.dismiss();
      in->count = 1;
      n = in;
    }
    return n;
  }

  // Whether a row with this id can be appended to l without touching its id list.
  static bool continues_ids(const leaf* l, row_id_t id) noexcept {
    return l->ids.runs == nullptr && (l->count == 0 || l->ids.id0 + l->count == id);
  }
  // Constructs one more element at the end of l (owned, not full) with the given id. Strong.
  template <class... Args>
  static void append_in_place(leaf* l, row_id_t id, Args&&... args) {
    if (continues_ids(l, id)) {
      ::new (static_cast<void*>(l->data() + l->count)) T(std::forward<Args>(args)...);
      if (l->count == 0) l->ids.id0 = id;
      ++l->count;
      return;
    }
    ids_builder bld;
    bld.add_from(l->ids, 0, l->count);
    bld.add(id);
    const leaf_ids ids = bld.build();
    try {
      ::new (static_cast<void*>(l->data() + l->count)) T(std::forward<Args>(args)...);
    } catch (...) {
      internal::release(ids.runs);
      throw;
    }
    internal::release(l->ids.runs);
    l->ids = ids;
    ++l->count;
  }

  // Appends one element at the deepest node of the right edge that has room. Returns the last
  // leaf when it and every node above it are owned and regular (so that the caller may append
  // to that leaf directly, without updating any size table), nullptr otherwise.
  template <class... Args>
  static leaf* push_back(tree_rep& r, row_id_t id, Args&&... args) {
    leaf* l = nullptr;
    if (r.root == nullptr) {
      r.root = new_path(0, &l, id, std::forward<Args>(args)...);
      r.size = 1;
      r.depth = 0;
      r.radix = true;
      r.patch_free = true;
      return l;
    }
    // The deepest level of the right edge with room (UINT_MAX: none).
    unsigned room = UINT_MAX;
    {
      const node_base* n = r.root;
      for (unsigned level = r.depth;; --level) {
        if (n->count < (level == 0 ? Cap : F)) room = level;
        if (level == 0) break;
        n = as_inner(n)->child[n->count - 1];
      }
    }
    if (room == UINT_MAX) {  // full: grow a level
      const std::size_t kid_sizes[2] = {r.size, 1};
      inner* nr = new_inner(relaxed_shape(r.depth + 1, kid_sizes, 2));
      try {
        nr->child[1] = new_path(r.depth, &l, id, std::forward<Args>(args)...);
      } catch (...) {
        free_inner_shallow(nr);
        throw;
      }
      nr->child[0] = r.root;
      nr->count = 2;
      set_shape(nr, r.depth + 1, kid_sizes);
      r.root = nr;
      ++r.depth;
      ++r.size;
      return nr->relaxed ? nullptr : l;
    }
    // Own the right edge down to `room`.
    inner* path[max_depth + 1];
    node_base** slot = &r.root;
    bool regular = true;
    for (unsigned level = r.depth; level > room; --level) {
      inner* in = as_inner(own(slot, level));
      path[level] = in;
      regular &= !in->relaxed;
      slot = &in->child[in->count - 1];
    }
    // The new row may be built from a row of the last leaf itself (`e.push_back(e.back())`); if
    // that leaf is a patch, own() replaces it by a copy and would free it first: keep it alive
    // until the row is built.
    const bool keep = room == 0 && is_patch(*slot);
    holder keeper(keep ? share(*slot) : nullptr, 0);
    node_base* target = own(slot, room);
    if (room == 0) {
      l = as_leaf(target);
      append_in_place(l, id, std::forward<Args>(args)...);
    } else {
      inner* in = as_inner(target);
      // A regular node whose last child is not full turns relaxed below: give it a size table
      // first (strong: the new row is not built yet).
      if (!in->table && size_of(in->child[in->count - 1], room - 1) != capacity(room - 1)) {
        in = add_table(slot);
      }
      node_base* p = new_path(room - 1, &l, id, std::forward<Args>(args)...);
      in->child[in->count] = p;
      ++in->count;
      if (in->relaxed) {
        in->sizes()[in->count - 1] = in->sizes()[in->count - 2] + 1;
      } else if (size_of(in->child[in->count - 2], room - 1) != capacity(room - 1)) {
        reshape(in, room);  // the old last child is not full: the node turns relaxed
      }
      regular &= !in->relaxed;
    }
    for (unsigned level = r.depth; level > room; --level) {
      if (path[level]->relaxed) ++path[level]->sizes()[path[level]->count - 1];
    }
    ++r.size;
    return regular ? l : nullptr;
  }

  // Removes the last element. REQUIRES: r.size > 0.
  static void pop_back(tree_rep& r) {
    if (r.size == 1) {
      release(r.root, r.depth);
      r = {};
      return;
    }
    inner* path[max_depth + 1];
    node_base** slot = &r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      inner* in = as_inner(own(slot, level));
      path[level] = in;
      slot = &in->child[in->count - 1];
    }
    leaf* l = as_leaf(own(slot, 0));  // may throw; nothing observable changed
    // The id list loses its last run when the last row was that run's only row.
    const id_runs* old_runs = l->ids.runs;
    const bool trim = old_runs != nullptr && old_runs->starts()[old_runs->n - 1] == l->count - 1;
    const leaf_ids trimmed = trim ? ids_of(l, 0, l->count - 1) : leaf_ids{};  // may throw
    for (unsigned level = r.depth; level > 0; --level) {
      if (path[level]->relaxed) --path[level]->sizes()[path[level]->count - 1];
    }
    if (trim) {
      internal::release(old_runs);
      l->ids = trimmed;
    }
    std::destroy_at(l->data() + (l->count - 1));
    --l->count;
    if (l->count == 0) {
      free_leaf(l);
      for (unsigned level = 1; level <= r.depth; ++level) {
        inner* p = path[level];
        if (--p->count > 0) break;
        free_inner_shallow(p);
      }
    }
    --r.size;
    collapse(r);
  }

  // Drops root levels that have a single child.
  static void collapse(tree_rep& r) noexcept {
    while (r.depth > 0 && r.root->count == 1) {
      node_base* c = share(as_inner(r.root)->child[0]);
      release(r.root, r.depth);
      r.root = c;
      --r.depth;
    }
  }

  // A new reference to the first k elements (1 <= k <= size) of the subtree n (holding `size`),
  // sharing every child that is kept whole.
  static node_base* take(const node_base* n, unsigned level, std::size_t size, std::size_t k) {
    if (k == size) return share(n);
    if (level == 0) return copy_leaf(as_leaf(n), k);
    const inner* src = as_inner(n);
    std::size_t rel = k - 1;
    const std::size_t j = locate(src, level, rel);
    node_base* last = take(src->child[j], level - 1, child_size(src, level, j, size), rel + 1);
    holder h(last, level - 1);
    inner* out = copy_inner(src, j);
    out->child[j] = h.dismiss();
    out->count = static_cast<std::uint32_t>(j + 1);
    if (out->relaxed) out->sizes()[j] = k;
    return out;
  }

  // Keeps the first k elements. Always strong: builds the new edge, then swaps.
  static void truncate(tree_rep& r, std::size_t k) {
    if (k >= r.size) return;
    if (k == 0) {
      release(r.root, r.depth);
      r = {};
      return;
    }
    // A prefix of a radix tree is one: its full children stay full.
    tree_rep t{take(r.root, r.depth, r.size, k), k, r.depth, r.radix, r.patch_free};
    collapse(t);
    release(r.root, r.depth);
    r = t;
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RRB_EDIT_H_
