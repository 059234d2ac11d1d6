// Internal: the allocator of tree nodes (leaves and inner nodes). Users never include this header.
//
// Why not malloc: a commit that keeps history needs fresh memory for its new nodes, and glibc
// hands out fresh memory a 4 KiB page at a time, each first touch a page fault (about 1-20 us on
// the VMs here): a 3-element commit on 1M rows faulted 3.9 pages and took twice as long as the
// same commit on reused memory (cowdb_bench C3). Nodes come in few sizes (one leaf size and one
// inner size per tree shape), so they are carved from 2 MiB slabs, one size per slab, and a
// class's second and later slabs are advised to be transparent huge pages (MADV_HUGEPAGE): one
// fault per 2 MiB instead of one per 4 KiB. Freed nodes go back to their slab's free list and are
// reused first (warm memory), before never-used blocks.
//
// Interface (called by alloc.h; release_empty also by db/database.cc; single_threaded() is in
// namespace cowdb::internal, for alloc.h's reference counts):
//   pooled(bytes, align)   whether blocks of that size and alignment come from the pool
//   allocate(bytes)        a block; throws std::bad_alloc when no slab can be mapped
//   deallocate(p, bytes)   gives back a block of allocate(bytes)
//   release_empty()        unmaps the empty slabs kept for reuse (Options::release_memory)
//   stats()                slabs mapped, and of them kept empty (tests)
//
// Memory given back. A slab whose last block is freed is kept for reuse by any size (up to
// kKeepEmpty slabs, 8 MiB) or unmapped; release_empty() unmaps the kept ones. A slab with one
// live block stays mapped: like any size-class allocator, the pool can hold up to 2 MiB per
// size class more than its live blocks need (fragmentation after large prunes).
//
// Thread-safety: every function may be called from any thread. One mutex per size class, held
// for a few pointer operations and not taken while the process has one thread
// (single_threaded()); mapping and unmapping a slab happens under it too (once per 2 MiB).
//
// Off (every node from operator new) under AddressSanitizer, which then checks nodes as any heap
// memory (the functions below still work, for the pool's own tests), off Linux, and when the
// environment variable COWDB_NODE_POOL is "0" when the first node is allocated (to compare, or to
// run under valgrind's memcheck).
#ifndef COWDB_INTERNAL_NODE_POOL_H_
#define COWDB_INTERNAL_NODE_POOL_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>  // glibc >= 2.32
#define COWDB_HAVE_SINGLE_THREADED 1
#endif
#endif
#if !defined(COWDB_HAVE_SINGLE_THREADED)
#define COWDB_HAVE_SINGLE_THREADED 0
#endif

// Whether nodes come from the pool by default: not under AddressSanitizer.
#if defined(__SANITIZE_ADDRESS__)
#define COWDB_NODE_POOL_DEFAULT 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COWDB_NODE_POOL_DEFAULT 0
#endif
#endif
#if !defined(COWDB_NODE_POOL_DEFAULT)
#define COWDB_NODE_POOL_DEFAULT 1
#endif

namespace cowdb::internal {

// True while the process has one thread (glibc's __libc_single_threaded: false from the first
// pthread_create on, which orders everything before it with the new thread). Then no other
// thread can see the pool or a reference count, and one created later starts after every
// change: reference counts change by plain atomic loads and stores instead of locked
// read-modify-writes (as libstdc++'s shared_ptr does), and the pool takes no lock.
inline bool single_threaded() noexcept {
#if COWDB_HAVE_SINGLE_THREADED
  return __libc_single_threaded != 0;
#else
  return false;
#endif
}

}  // namespace cowdb::internal

namespace cowdb::internal::node_pool {

inline constexpr std::size_t kSlabBytes = std::size_t{2} << 20;  // one transparent huge page
inline constexpr std::size_t kGranule = 16;                      // block sizes: multiples of it
inline constexpr std::size_t kMaxBytes = std::size_t{16} << 10;  // larger blocks: operator new
inline constexpr std::size_t kClasses = kMaxBytes / kGranule;
inline constexpr std::size_t kKeepEmpty = 4;  // empty slabs kept mapped for reuse
#if defined(__linux__)
inline constexpr bool kSupported = true;
#else
inline constexpr bool kSupported = false;  // allocate() would throw: never pooled
#endif

// The head of every slab; blocks follow from kHeaderBytes on.
struct slab {
  slab* prev = nullptr;  // the size class's list of slabs with room
  slab* next = nullptr;
  void* free = nullptr;   // freed blocks, linked through their first word
  std::size_t bump = 0;   // offset of the first never-used block
  std::size_t block = 0;  // block bytes
  std::size_t live = 0;   // blocks handed out
  bool listed = false;    // on its class's list
};
inline constexpr std::size_t kHeaderBytes = 64;
static_assert(sizeof(slab) <= kHeaderBytes);

struct size_class {
  std::mutex mu;
  slab* room = nullptr;  // slabs with a free or never-used block
  std::size_t slabs = 0;
};

struct state {
  size_class classes[kClasses];
  std::mutex empty_mu;
  slab* empty = nullptr;  // empty slabs kept for reuse, linked through next
  std::size_t empty_count = 0;
  std::size_t mapped = 0;  // slabs mapped (under empty_mu)
  bool enabled = false;
};

// The pool. Never destroyed: nodes may be freed by other static destructors at exit.
inline state& the_pool() {
  static state* s = [] {
    auto* p = new state;
    const char* env = std::getenv("COWDB_NODE_POOL");
    p->enabled = kSupported && COWDB_NODE_POOL_DEFAULT != 0 &&
                 !(env != nullptr && std::strcmp(env, "0") == 0);
    return p;
  }();
  return *s;
}

inline bool pooled(std::size_t bytes, std::size_t align) {
  return align <= kGranule && bytes <= kMaxBytes && the_pool().enabled;
}

inline std::size_t class_of(std::size_t bytes) noexcept {
  return (bytes + kGranule - 1) / kGranule - 1;
}

inline slab* slab_of(void* p) noexcept {
  return reinterpret_cast<slab*>(reinterpret_cast<std::uintptr_t>(p) & ~(kSlabBytes - 1));
}

#if defined(__linux__)
// A new 2 MiB-aligned slab (mapped with twice the size, the rest unmapped), or nullptr.
inline void* map_slab() noexcept {
  void* m =
      mmap(nullptr, 2 * kSlabBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  const auto lo = reinterpret_cast<std::uintptr_t>(m);
  const std::uintptr_t at = (lo + kSlabBytes - 1) & ~(kSlabBytes - 1);
  if (at > lo) munmap(m, at - lo);
  const std::uintptr_t tail = at + kSlabBytes;
  if (lo + 2 * kSlabBytes > tail) munmap(reinterpret_cast<void*>(tail), lo + 2 * kSlabBytes - tail);
  return reinterpret_cast<void*>(at);
}
inline void unmap_slab(slab* s) noexcept { munmap(s, kSlabBytes); }
inline void advise_huge(slab* s) noexcept {
#if defined(MADV_HUGEPAGE)
  madvise(s, kSlabBytes, MADV_HUGEPAGE);
#else
  static_cast<void>(s);
#endif
}
#else
inline void* map_slab() noexcept { return nullptr; }
inline void unmap_slab(slab*) noexcept {}
inline void advise_huge(slab*) noexcept {}
#endif

// Holds a size class's mutex, unless the process has one thread.
class class_lock {
 public:
  explicit class_lock(std::mutex& mu) : mu_(single_threaded() ? nullptr : &mu) {
    if (mu_ != nullptr) mu_->lock();
  }
  ~class_lock() {
    if (mu_ != nullptr) mu_->unlock();
  }
  class_lock(const class_lock&) = delete;
  class_lock& operator=(const class_lock&) = delete;

 private:
  std::mutex* mu_;
};

inline void link(size_class& c, slab* s) noexcept {
  s->prev = nullptr;
  s->next = c.room;
  if (c.room != nullptr) c.room->prev = s;
  c.room = s;
  s->listed = true;
}
inline void unlink(size_class& c, slab* s) noexcept {
  if (s->prev != nullptr) s->prev->next = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  if (c.room == s) c.room = s->next;
  s->prev = s->next = nullptr;
  s->listed = false;
}

// A slab for blocks of `block` bytes: an empty one kept for reuse, or a new mapping. Called with
// the class's mutex held; `huge`: advise transparent huge pages (a class's second slab on).
inline slab* new_slab(std::size_t block, bool huge) {
  state& st = the_pool();
  void* m = nullptr;
  {
    std::lock_guard<std::mutex> g(st.empty_mu);
    if (st.empty != nullptr) {
      m = st.empty;
      st.empty = st.empty->next;
      --st.empty_count;
    }
  }
  if (m == nullptr) {
    m = map_slab();
    if (m == nullptr) throw std::bad_alloc();
    // Before the first touch: a page faulted in as 4 KiB keeps its 2 MiB range from being
    // backed by a huge page.
    if (huge) advise_huge(static_cast<slab*>(m));
    std::lock_guard<std::mutex> g(st.empty_mu);
    ++st.mapped;
  }
  auto* s = ::new (m) slab();
  s->block = block;
  s->bump = kHeaderBytes;
  return s;
}

// Keeps an empty slab for reuse, or unmaps it. Called with its class's mutex held.
inline void retire(slab* s) noexcept {
  state& st = the_pool();
  {
    std::lock_guard<std::mutex> g(st.empty_mu);
    if (st.empty_count < kKeepEmpty) {
      s->next = st.empty;
      st.empty = s;
      ++st.empty_count;
      return;
    }
    --st.mapped;
  }
  unmap_slab(s);
}

inline void* allocate(std::size_t bytes) {
  size_class& c = the_pool().classes[class_of(bytes)];
  const std::size_t block = (class_of(bytes) + 1) * kGranule;
  class_lock g(c.mu);
  slab* s = c.room;
  if (s == nullptr) {
    s = new_slab(block, c.slabs > 0);
    ++c.slabs;
    link(c, s);
  }
  void* p;
  if (s->free != nullptr) {
    p = s->free;
    std::memcpy(&s->free, p, sizeof(void*));
  } else {
    p = reinterpret_cast<char*>(s) + s->bump;
    s->bump += block;
  }
  ++s->live;
  if (s->free == nullptr && s->bump + block > kSlabBytes) unlink(c, s);
  return p;
}

inline void deallocate(void* p, std::size_t bytes) noexcept {
  size_class& c = the_pool().classes[class_of(bytes)];
  slab* s = slab_of(p);
  class_lock g(c.mu);
  std::memcpy(p, &s->free, sizeof(void*));
  s->free = p;
  --s->live;
  if (!s->listed) link(c, s);
  // An empty slab goes, unless it is the class's only one with room (no churn at the edge).
  if (s->live == 0 && (c.room != s || s->next != nullptr)) {
    unlink(c, s);
    --c.slabs;
    retire(s);
  }
}

// Unmaps the empty slabs kept for reuse; returns how many.
inline std::size_t release_empty() noexcept {
  state& st = the_pool();
  slab* list;
  std::size_t n;
  {
    std::lock_guard<std::mutex> g(st.empty_mu);
    list = st.empty;
    n = st.empty_count;
    st.empty = nullptr;
    st.empty_count = 0;
    st.mapped -= n;
  }
  while (list != nullptr) {
    slab* next = list->next;
    unmap_slab(list);
    list = next;
  }
  return n;
}

// Slabs mapped now (in use or kept empty), and of them kept empty.
struct pool_stats {
  std::size_t mapped_slabs = 0;
  std::size_t empty_slabs = 0;
};
inline pool_stats stats() {
  state& st = the_pool();
  std::lock_guard<std::mutex> g(st.empty_mu);
  return {st.mapped, st.empty_count};
}

}  // namespace cowdb::internal::node_pool

#endif  // COWDB_INTERNAL_NODE_POOL_H_
