// Internal: the nodes of a pvec tree, their reference counts and their allocation.
// Users never include this header; it is here because pvec<T> is a template.
//
// Layout. A tree has a `depth`: level 0 nodes are leaves (a header and up to `leaf_cap` elements
// stored inline), level k > 0 nodes are inner nodes (a header, up to `fanout` child pointers to
// level k-1 nodes and, for a "relaxed" node, a table of their cumulative element counts). A node
// does not know its own level; whoever holds a pointer to it does (the owning pvec stores the
// depth of its root), which keeps the header at 8 bytes. See rbtree.h for the shape invariants.
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

namespace cowdb::internal {

// Live-node accounting for tests: compiled in when COWDB_TRACK_NODES is defined (the test targets
// define it); otherwise live_nodes() always returns -1 and allocation pays nothing for it.
#ifdef COWDB_TRACK_NODES
inline std::atomic<std::int64_t> g_live_nodes{0};
inline void note_node_alloc() noexcept { g_live_nodes.fetch_add(1, std::memory_order_relaxed); }
inline void note_node_free() noexcept { g_live_nodes.fetch_sub(1, std::memory_order_relaxed); }
inline std::int64_t live_nodes() noexcept { return g_live_nodes.load(std::memory_order_relaxed); }
#else
inline void note_node_alloc() noexcept {}
inline void note_node_free() noexcept {}
inline std::int64_t live_nodes() noexcept { return -1; }
#endif

// Test hook: when set, called before every node allocation; it may throw std::bad_alloc to
// simulate allocation failure. Only consulted when COWDB_TRACK_NODES is defined.
#ifdef COWDB_TRACK_NODES
inline void (*g_before_node_alloc)() = nullptr;
#endif

struct node_base {
  explicit node_base(std::uint32_t initial_count) noexcept : refs(1), count(initial_count) {}
  std::atomic<std::uint32_t> refs;
  std::uint32_t count;
};

inline void inc_ref(const node_base* n) noexcept {
  // Relaxed is enough: a new reference is always made from an existing one.
  const_cast<node_base*>(n)->refs.fetch_add(1, std::memory_order_relaxed);
}

// True when the caller's reference is the only one. The acquire pairs with the release in
// dec_ref so that writes made through other references, now dropped, are visible.
inline bool is_unique(const node_base* n) noexcept {
  return n->refs.load(std::memory_order_acquire) == 1;
}

// Returns true when the caller dropped the last reference and must free the node.
inline bool dec_ref(const node_base* n) noexcept {
  return const_cast<node_base*>(n)->refs.fetch_sub(1, std::memory_order_acq_rel) == 1;
}

// Raw storage for nodes, honoring over-aligned element types.
template <std::size_t Align>
inline void* allocate_node_storage(std::size_t bytes) {
#ifdef COWDB_TRACK_NODES
  if (g_before_node_alloc != nullptr) g_before_node_alloc();
#endif
  void* p;
  if constexpr (Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    p = ::operator new(bytes, std::align_val_t{Align});
  } else {
    p = ::operator new(bytes);
  }
  note_node_alloc();
  return p;
}

template <std::size_t Align>
inline void free_node_storage(void* p) noexcept {
  note_node_free();
  if constexpr (Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(p, std::align_val_t{Align});
  } else {
    ::operator delete(p);
  }
}

// A leaf: header plus inline storage for Cap elements, of which the first `count` are alive.
template <class T, std::size_t Cap>
struct leaf_node : node_base {
  leaf_node() noexcept : node_base(0) {}
  T* data() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  const T* data() const noexcept { return std::launder(reinterpret_cast<const T*>(storage)); }
  alignas(T) unsigned char storage[Cap * sizeof(T)];
};

// An inner node: header plus up to F children, packed at the front. A regular node finds a child
// by radix (every child but the last is full); a relaxed one (after insert, erase, concat...)
// keeps sizes[k] = the number of elements in child[0..k] and searches it. The table lives in
// every inner node (F words, about 2% of the memory of the leaves below a node) so that a node
// can turn relaxed or regular in place.
template <std::size_t F>
struct inner_node : node_base {
  inner_node() noexcept : node_base(0) {}
  bool relaxed = false;
  node_base* child[F];
  std::size_t sizes[F];
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_NODE_H_
