// Internal: the nodes of a pvec tree, their reference counts and their allocation.
// Users never include this header; it is here because pvec<T> is a template.
//
// Layout. A tree has a `depth`: level 0 nodes are leaves (a header and up to `leaf_cap` elements
// stored inline) or patches (a shared leaf with a few of its elements replaced), level k > 0 nodes
// are inner nodes (a header, up to `fanout` child pointers to level k-1 nodes and, for a "relaxed"
// node, a table of their cumulative element counts). A node does not know its own level; whoever
// holds a pointer to it does (the owning pvec stores the depth of its root), which keeps the header
// at 8 bytes. See rrb_nodes.h for the shape invariants.
//
// Invariants.
// - `refs` counts the pointers to a node held by pvecs, editors, iterators' owners and parent
//   nodes. A node is freed, and its children released, when the count drops to zero.
// - A node whose count is greater than one is immutable: nobody writes to it again.
// - A node whose count is exactly one, reached from a root that the writer owns exclusively (count
//   one all the way down), may be written in place: no other reference to it can exist, and none
//   can appear without the writer handing one out. Once one node on a path is shared, everything
//   below it is treated as shared too (copying a node adds a reference to each of its children).
// - `count` is the number of constructed elements (leaf) or non-null children (inner node); the
//   children of an inner node are packed at the front.
#ifndef COWDB_INTERNAL_NODE_H_
#define COWDB_INTERNAL_NODE_H_

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#include "cowdb/internal/alloc.h"
#include "cowdb/internal/row_ids.h"

namespace cowdb::internal {

// The header shared by the two kinds of level-0 node: a leaf (below) and a patch over one.
struct leaf_head : node_base {
  leaf_head() noexcept : node_base(0) {}
  leaf_ids ids;        // the rows' identities (row_ids.h); owns a reference to ids.runs
  bool patch = false;  // true for a patch_node
};

// A leaf: header plus inline storage for Cap elements, of which the first `count` are alive.
template <class T, std::size_t Cap>
struct leaf_node : leaf_head {
  T* data() noexcept {
    assert(!patch && "a patch has no contiguous data");
    return std::launder(reinterpret_cast<T*>(storage));
  }
  const T* data() const noexcept {
    assert(!patch && "a patch has no contiguous data");
    return std::launder(reinterpret_cast<const T*>(storage));
  }
  alignas(T) unsigned char storage[Cap * sizeof(T)];
};

// A patch: a leaf's rows with up to K of them replaced, stored as a reference to a shared leaf
// (`base`, never itself a patch) and the replaced slots with their new values. A write to one row
// of a shared leaf makes a patch of a few hundred bytes instead of copying the leaf. Same row
// count and ids as the base (a write keeps the row's identity); `count` and `ids` are those of
// the header, so code reading only them treats both kinds alike, and only element reads ask
// which kind they have (rrb_nodes.h: value_at, for_each_piece, flat_leaf).
template <class T, std::size_t Cap, std::size_t K>
struct patch_node : leaf_head {
  patch_node() noexcept { patch = true; }
  const leaf_node<T, Cap>* base = nullptr;  // owns a reference
  std::uint32_t n = 0;                      // entries in use
  std::uint32_t slot[K];                    // the replaced slots, ascending
  T* vals() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  const T* vals() const noexcept { return std::launder(reinterpret_cast<const T*>(storage)); }
  alignas(T) unsigned char storage[K * sizeof(T)];
};

// An inner node: header plus up to F children, packed at the front. A regular node finds a child
// by radix (every child but the last is full); a relaxed one (after insert, erase, concat...)
// keeps sizes()[k] = the number of elements in child[0..k] and searches it. The table (F words)
// is allocated only with nodes that need it: a node is allocated as a sized_inner_node when it
// is relaxed when made (`table` is then true), as a plain inner_node otherwise, which halves the
// bytes of the inner nodes a write copies (272 instead of 528 at F = 32). A node with a table may
// turn regular in place and keep it; a node without one that must turn relaxed is reallocated
// (rrb_edit.h: push_back). Invariant: relaxed implies table.
template <std::size_t F>
struct inner_node : node_base {
  inner_node() noexcept : node_base(0) {}
  bool relaxed = false;
  bool table = false;  // whether this is a sized_inner_node (allocated with the size table)
  node_base* child[F];
  // The size table. REQUIRES: table.
  std::size_t* sizes() noexcept;
  const std::size_t* sizes() const noexcept;
};

template <std::size_t F>
struct sized_inner_node : inner_node<F> {
  sized_inner_node() noexcept { this->table = true; }
  std::size_t sizes[F];
};

template <std::size_t F>
std::size_t* inner_node<F>::sizes() noexcept {
  assert(table && "a size table read from an inner node allocated without one");
  return static_cast<sized_inner_node<F>*>(this)->sizes;
}
template <std::size_t F>
const std::size_t* inner_node<F>::sizes() const noexcept {
  assert(table && "a size table read from an inner node allocated without one");
  return static_cast<const sized_inner_node<F>*>(this)->sizes;
}

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_NODE_H_
