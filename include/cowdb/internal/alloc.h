// Internal: allocation of tree storage (nodes and row-id blocks) and its accounting for tests.
// Users never include this header.
#ifndef COWDB_INTERNAL_ALLOC_H_
#define COWDB_INTERNAL_ALLOC_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

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

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_ALLOC_H_
