// The node allocator (include/cowdb/internal/node_pool.h) under threads, run normally and under
// ThreadSanitizer (.ci/run's TSan stage builds this binary): threads allocate blocks of a few
// sizes, fill each with a pattern of their own, free some of them and blocks other threads
// allocated (nodes are freed by whichever thread drops the last reference), and check that no
// block they hold was handed to anybody else meanwhile.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cowdb/internal/node_pool.h"

namespace {

namespace pool = cowdb::internal::node_pool;

struct held {
  void* p;
  std::size_t bytes;
  unsigned char mark;
};

bool intact(const held& h) {
  const auto* b = static_cast<const unsigned char*>(h.p);
  for (std::size_t k = 0; k < h.bytes; k += 61) {
    if (b[k] != h.mark) return false;
  }
  return b[h.bytes - 1] == h.mark;
}

}  // namespace

TEST_CASE("node pool: threads allocate and free across each other's blocks",
          "[node_pool][stress]") {
  REQUIRE(pool::kSupported);  // Linux, as every machine this project builds on
  constexpr int kThreads = 4;
  constexpr int kRounds = 4000;
  constexpr std::size_t kSizes[] = {528, 4128, 12000, 40};
  std::mutex handoff_mu;
  std::vector<held> handoff;  // blocks a thread leaves for another to free
  std::atomic<int> damaged{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) + 1);
      std::vector<held> mine;
      for (int r = 0; r < kRounds; ++r) {
        const std::size_t bytes = kSizes[rng() % 4];
        const auto mark = static_cast<unsigned char>(t * 64 + r % 64);
        held h{pool::allocate(bytes), bytes, mark};
        std::memset(h.p, mark, bytes);
        mine.push_back(h);
        if (rng() % 3 == 0 && !mine.empty()) {  // free one of ours, or pass it on
          const std::size_t k = rng() % mine.size();
          held x = mine[k];
          mine[k] = mine.back();
          mine.pop_back();
          if (!intact(x)) damaged.fetch_add(1);
          if (rng() % 2 == 0) {
            pool::deallocate(x.p, x.bytes);
          } else {
            std::lock_guard<std::mutex> g(handoff_mu);
            handoff.push_back(x);
          }
        }
        if (r % 50 == 0) {  // free what others passed on
          std::vector<held> theirs;
          {
            std::lock_guard<std::mutex> g(handoff_mu);
            theirs.swap(handoff);
          }
          for (const held& x : theirs) {
            if (!intact(x)) damaged.fetch_add(1);
            pool::deallocate(x.p, x.bytes);
          }
        }
      }
      for (const held& x : mine) {
        if (!intact(x)) damaged.fetch_add(1);
        pool::deallocate(x.p, x.bytes);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (const held& x : handoff) {
    if (!intact(x)) damaged.fetch_add(1);
    pool::deallocate(x.p, x.bytes);
  }
  CHECK(damaged.load() == 0);
  pool::release_empty();
  CHECK(pool::stats().empty_slabs == 0);
}
