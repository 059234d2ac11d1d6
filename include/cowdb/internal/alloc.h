// Internal: allocation of tree storage (nodes and row-id blocks) and its accounting for tests.
// Users never include this header.
#ifndef COWDB_INTERNAL_ALLOC_H_
#define COWDB_INTERNAL_ALLOC_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include "cowdb/internal/node_pool.h"

namespace cowdb::internal {

// Live-node accounting and allocation-failure injection, for tests. Off unless a program turns
// it on before it allocates its first node (the test binaries do, in
// tests/testing/node_accounting.cc); while off, an allocation or a free pays one relaxed load and
// a predictable branch, and live_nodes() returns -1. One library build serves both kinds of
// program.
inline std::atomic<bool> g_node_accounting{false};
inline std::atomic<std::int64_t> g_live_nodes{0};

// Test hook: when set (and accounting is on), called before every node allocation; it may throw
// std::bad_alloc to simulate allocation failure. Set and cleared by a single test thread while no
// other thread allocates.
inline void (*g_before_node_alloc)() = nullptr;

inline void enable_node_accounting() noexcept {
  g_node_accounting.store(true, std::memory_order_relaxed);
}
inline bool node_accounting() noexcept { return g_node_accounting.load(std::memory_order_relaxed); }
inline std::int64_t live_nodes() noexcept {
  return node_accounting() ? g_live_nodes.load(std::memory_order_relaxed) : -1;
}

struct node_base {
  explicit node_base(std::uint32_t initial_count) noexcept : refs(1), count(initial_count) {}
  std::atomic<std::uint32_t> refs;
  std::uint32_t count;
};

// refs + 1, or - 1 (then returns the old count). Atomic either way; a locked read-modify-write
// only once the process has threads (single_threaded(), node_pool.h), as libstdc++'s shared_ptr.
inline void add_ref(std::atomic<std::uint32_t>& refs) noexcept {
  // Relaxed is enough: a new reference is always made from an existing one.
  if (single_threaded()) {
    refs.store(refs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  } else {
    refs.fetch_add(1, std::memory_order_relaxed);
  }
}
inline std::uint32_t drop_ref(std::atomic<std::uint32_t>& refs) noexcept {
  if (single_threaded()) {
    const std::uint32_t old = refs.load(std::memory_order_relaxed);
    refs.store(old - 1, std::memory_order_relaxed);
    return old;
  }
  return refs.fetch_sub(1, std::memory_order_acq_rel);
}

inline void inc_ref(const node_base* n) noexcept { add_ref(const_cast<node_base*>(n)->refs); }

// True when the caller's reference is the only one. The acquire pairs with the release in
// dec_ref so that writes made through other references, now dropped, are visible.
inline bool is_unique(const node_base* n) noexcept {
  return n->refs.load(std::memory_order_acquire) == 1;
}

// Returns true when the caller dropped the last reference and must free the node.
inline bool dec_ref(const node_base* n) noexcept {
  return drop_ref(const_cast<node_base*>(n)->refs) == 1;
}

// Raw storage for nodes, honoring over-aligned element types: with kPool, from the node pool
// (node_pool.h) for the sizes it serves, else from operator new. `bytes` must be passed again,
// unchanged, to free_node_storage with the same kPool. Leaves and inner nodes are pooled (a few
// sizes, allocated on every write); row-id blocks are not (their sizes vary with the runs).
template <std::size_t Align, bool kPool = true>
inline void* allocate_node_storage(std::size_t bytes) {
  const bool counted = node_accounting();
  if (counted && g_before_node_alloc != nullptr) [[unlikely]] {
    g_before_node_alloc();
  }
  void* p;
  if (kPool && node_pool::pooled(bytes, Align)) {
    p = node_pool::allocate(bytes);
  } else if constexpr (Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    p = ::operator new(bytes, std::align_val_t{Align});
  } else {
    p = ::operator new(bytes);
  }
  if (counted) [[unlikely]] {
    g_live_nodes.fetch_add(1, std::memory_order_relaxed);
  }
  return p;
}

template <std::size_t Align, bool kPool = true>
inline void free_node_storage(void* p, std::size_t bytes) noexcept {
  if (node_accounting()) [[unlikely]] {
    g_live_nodes.fetch_sub(1, std::memory_order_relaxed);
  }
  if (kPool && node_pool::pooled(bytes, Align)) {
    node_pool::deallocate(p, bytes);
  } else if constexpr (Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(p, std::align_val_t{Align});
  } else {
    ::operator delete(p);
  }
}

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_ALLOC_H_
