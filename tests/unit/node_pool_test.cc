// The node allocator (include/cowdb/internal/node_pool.h): blocks are distinct, aligned and
// writable, freed blocks are reused first, a size class spans several slabs, empty slabs are
// kept (up to kKeepEmpty) or unmapped, release_empty() unmaps the kept ones, and pvec routes its
// leaves and inner nodes through it (unless the build or COWDB_NODE_POOL turned it off).
//
// The sizes used here (12,000 and 9,008 bytes) are no tree node's size, so no other object of
// the test binary shares their slabs; the counts of mapped and empty slabs are process-wide, so
// the checks on them are relative to a reading taken just before.
#include "cowdb/internal/node_pool.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "cowdb/internal/alloc.h"
#include "cowdb/pvec.h"

namespace {

namespace pool = cowdb::internal::node_pool;

constexpr std::size_t kBig = 12000;  // 174 blocks per slab
constexpr std::size_t kOdd = 9008;

std::size_t blocks_per_slab(std::size_t bytes) {
  const std::size_t block = (pool::class_of(bytes) + 1) * pool::kGranule;
  return (pool::kSlabBytes - pool::kHeaderBytes) / block;
}

}  // namespace

TEST_CASE("node pool: blocks are distinct, 16-aligned, in their slab, and keep what is written",
          "[node_pool]") {
  REQUIRE(pool::kSupported);  // Linux, as every machine this project builds on
  std::vector<void*> blocks;
  for (int k = 0; k < 500; ++k) {
    void* p = pool::allocate(kOdd);
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 16 == 0);
    const pool::slab* s = pool::slab_of(p);
    CHECK(s->block == (pool::class_of(kOdd) + 1) * pool::kGranule);
    CHECK(s->block >= kOdd);
    std::memset(p, k & 0xff, kOdd);
    blocks.push_back(p);
  }
  // No two blocks overlap: sorted, each ends before the next starts.
  std::vector<char*> sorted;
  for (void* p : blocks) sorted.push_back(static_cast<char*>(p));
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t k = 1; k < sorted.size(); ++k) CHECK(sorted[k - 1] + kOdd <= sorted[k]);
  for (int k = 0; k < 500; ++k) {
    const auto* b = static_cast<const unsigned char*>(blocks[static_cast<std::size_t>(k)]);
    CHECK(std::all_of(b, b + kOdd, [k](unsigned char c) { return c == (k & 0xff); }));
  }
  for (void* p : blocks) pool::deallocate(p, kOdd);
}

TEST_CASE("node pool: a freed block is the next one handed out", "[node_pool]") {
  REQUIRE(pool::kSupported);  // Linux, as every machine this project builds on
  void* a = pool::allocate(kOdd);
  void* b = pool::allocate(kOdd);
  pool::deallocate(a, kOdd);
  void* c = pool::allocate(kOdd);
  CHECK(c == a);
  pool::deallocate(b, kOdd);
  pool::deallocate(c, kOdd);
}

TEST_CASE("node pool: a class spans slabs; empty slabs are kept, then unmapped", "[node_pool]") {
  REQUIRE(pool::kSupported);  // Linux, as every machine this project builds on
  pool::release_empty();
  const pool::pool_stats before = pool::stats();
  CHECK(before.empty_slabs == 0);
  const std::size_t per_slab = blocks_per_slab(kBig);
  REQUIRE(per_slab == 174);
  std::vector<void*> blocks;
  for (std::size_t k = 0; k < 3 * per_slab + 1; ++k) blocks.push_back(pool::allocate(kBig));
  std::set<const pool::slab*> slabs;
  for (void* p : blocks) slabs.insert(pool::slab_of(p));
  CHECK(slabs.size() == 4);
  CHECK(pool::stats().mapped_slabs == before.mapped_slabs + 4);
  for (void* p : blocks) pool::deallocate(p, kBig);
  // Three slabs emptied while another had room: kept for reuse (kKeepEmpty = 4); the last one
  // stays with its class.
  const pool::pool_stats freed = pool::stats();
  CHECK(freed.empty_slabs == 3);
  CHECK(freed.mapped_slabs == before.mapped_slabs + 4);
  // A kept slab serves another size.
  void* other = pool::allocate(kOdd + 16 * 7);
  CHECK(pool::stats().empty_slabs <= 3);
  pool::deallocate(other, kOdd + 16 * 7);
  CHECK(pool::release_empty() >= 2);
  const pool::pool_stats after = pool::stats();
  CHECK(after.empty_slabs == 0);
  CHECK(after.mapped_slabs <= before.mapped_slabs + 2);
}

TEST_CASE("node pool: more empty slabs than kKeepEmpty are unmapped at once", "[node_pool]") {
  REQUIRE(pool::kSupported);  // Linux, as every machine this project builds on
  pool::release_empty();
  const pool::pool_stats before = pool::stats();
  const std::size_t per_slab = blocks_per_slab(kBig);
  const std::size_t slabs = pool::kKeepEmpty + 3;
  std::vector<void*> blocks;
  for (std::size_t k = 0; k < slabs * per_slab; ++k) blocks.push_back(pool::allocate(kBig));
  CHECK(pool::stats().mapped_slabs >= before.mapped_slabs + slabs - 1);
  for (void* p : blocks) pool::deallocate(p, kBig);
  const pool::pool_stats freed = pool::stats();
  CHECK(freed.empty_slabs == pool::kKeepEmpty);
  CHECK(freed.mapped_slabs <= before.mapped_slabs + pool::kKeepEmpty + 1);
  pool::release_empty();
  CHECK(pool::stats().mapped_slabs <= before.mapped_slabs + 1);
}

TEST_CASE("node pool: pvec leaves and inner nodes come from it when it is on", "[node_pool]") {
  using V = cowdb::pvec<std::int64_t>;
  const bool on = pool::pooled(4096, 16);
  V v;
  for (std::int64_t k = 0; k < 100000; ++k) v = std::move(v).push_back(k);
  const V w = v.set(50000, -1);  // a path copy: a new leaf and new inner nodes
  CHECK(w[50000] == -1);
  CHECK(v[50000] == 50000);
  v.check_invariants();
  w.check_invariants();
#if defined(__SANITIZE_ADDRESS__)
  CHECK_FALSE(on);  // under ASan nodes are heap memory, checked as such
#else
  if (pool::kSupported && COWDB_NODE_POOL_DEFAULT) {
    // On unless COWDB_NODE_POOL=0 in the environment.
    const char* env = std::getenv("COWDB_NODE_POOL");
    CHECK(on == !(env != nullptr && std::strcmp(env, "0") == 0));
  }
#endif
}

// alloc.h changes reference counts without a locked instruction while single_threaded() holds:
// that is only sound if glibc clears the flag when the process starts its first thread.
TEST_CASE("single_threaded() is false once the process has started a thread", "[node_pool]") {
  std::thread([] {}).join();
  CHECK_FALSE(cowdb::internal::single_threaded());
  // Counts taken and dropped from two threads at once still balance.
  using V = cowdb::pvec<std::int64_t, 4 * sizeof(std::int64_t), 4>;
  const V v(std::vector<std::int64_t>(1000, 7));
  const std::int64_t nodes = cowdb::internal::live_nodes();
  auto copy_and_drop = [&v] {
    for (int k = 0; k < 2000; ++k) {
      V w = v.set(static_cast<std::size_t>(k % 1000), k);
      V x = w;
      (void)x;
    }
  };
  std::thread a(copy_and_drop), b(copy_and_drop);
  a.join();
  b.join();
  CHECK(cowdb::internal::live_nodes() == nodes);
  CHECK(v == V(std::vector<std::int64_t>(1000, 7)));
}
