// Concurrency stress tests of cowdb::Database, run in CI normally and under ThreadSanitizer
// (.ci/run builds build-tsan and runs cowdb_stress_tests):
//   (a) bank transfers between accounts while readers check the total in every snapshot;
//   (b) counters incremented with retry: the final count equals the successful commits;
//   (c) threads writing disjoint chunks of one dataset (or their own datasets under
//       ConflictMode::kDataset) never conflict, and every write lands;
//   (d) threads copying and dropping the same Snapshot and pvec versions (reference-count races)
//       while a writer commits and prunes;
//   (e) commits to different branches from different threads, branch/tag churn, then concurrent
//       merges of every branch into main;
//   (f) a reader holding one snapshot through many commits, deletions and prunes sees it unchanged.
// Under TSan, tests/testing/tsan_mutex.h annotates absl::Mutex (Debian's Abseil is not
// instrumented); each test checks that the annotations are active.
// Thread counts (4-6) and iterations are modest so that the file runs in about a second in Release
// and well under two minutes under ThreadSanitizer on two cores. There are no timing assertions.
//
// Catch2 assertions are not thread-safe: worker threads record failures in a `Failures` object
// that the main thread checks after joining them.
//
// Read-modify-write. The bank and counter tests read elements and write values computed from
// them; they are exact only because a commit conflicts with any commit that changed the same
// element since it began, even to an equal value (first committer wins, transaction.h). Two
// increments of a counter from c to c + 1 that both committed would lose one: these tests caught
// that lost update, frozen in tests/regress/database_regress_model.cc.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "cowdb/internal/node.h"
#include "cowdb/options.h"
#include "cowdb/pvec.h"
#include "cowdb/snapshot.h"
#include "cowdb/status.h"
#include "cowdb/transaction.h"
#include "fmt/format.h"
#include "testing/status_helpers.h"
#include "testing/storage_helpers.h"
#include "testing/tsan_mutex.h"

namespace {

using cowdb::Database;
using cowdb::pvec;
using cowdb::Snapshot;
using cowdb::Transaction;
using I64 = std::int64_t;

constexpr int kWriters = 4;

// Failures seen by worker threads: counted, the first few kept for the report.
class Failures {
 public:
  void Add(std::string what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (messages_.size() < 5) messages_.push_back(std::move(what));
    ++count_;
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_;
  }
  std::string Report() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = fmt::format("{} failure(s) in worker threads", count_);
    for (const std::string& m : messages_) out += "\n  " + m;
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::size_t count_ = 0;
  std::vector<std::string> messages_;
};

// Records a failure (with a formatted message) when `cond` is false; evaluates to `cond`.
#define COWDB_STRESS_EXPECT(failures, cond, ...) \
  ((cond)                                        \
       ? true                                    \
       : ((failures).Add(fmt::format("`{}` failed: {}", #cond, fmt::format(__VA_ARGS__))), false))

std::uint64_t ThreadSeed(int thread) {
  return (static_cast<std::uint64_t>(Catch::rngSeed()) << 8) + static_cast<std::uint64_t>(thread);
}

bool Verbose() { return std::getenv("COWDB_STRESS_VERBOSE") != nullptr; }

// Creates `name` on branch `branch` with the given contents.
void CreateDataset(Database& db, std::string_view branch, std::string_view name,
                   const std::vector<I64>& contents) {
  absl::StatusOr<Transaction> t = db.Begin(branch);
  REQUIRE(t.ok());
  REQUIRE(t->Create<I64>(name, pvec<I64>(contents.begin(), contents.end())).ok());
  absl::StatusOr<cowdb::VersionId> v = t->Commit(fmt::format("create {}", name));
  REQUIRE(v.ok());
}

template <class T>
bool SameElements(const pvec<T>& v, const std::vector<T>& m) {
  if (v.size() != m.size()) return false;
  std::size_t i = 0;
  bool same = true;
  v.for_each_chunk([&](const T* first, const T* last) {
    if (same) same = std::equal(first, last, m.begin() + static_cast<std::ptrdiff_t>(i));
    i += static_cast<std::size_t>(last - first);
  });
  return same;
}

// Commit counts of a test, summed over its threads.
struct Counts {
  std::atomic<std::uint64_t> committed{0};
  std::atomic<std::uint64_t> aborted{0};
  std::atomic<std::uint64_t> reads{0};
};

void Report(std::string_view test, const Counts& c) {
  if (Verbose()) {
    fmt::print("stress {}: {} committed, {} aborted (retried), {} reads\n", test,
               c.committed.load(), c.aborted.load(), c.reads.load());
  }
}

// Runs `body(txn)` in a new transaction on `branch` and commits it, retrying on kAborted (up to
// `max_attempts` times). `body` returns false to give up on the transaction (not an error).
// With `may_vanish`, a branch deleted meanwhile (kNotFound) ends the attempt without an error.
// Returns whether a commit succeeded.
template <class Body>
bool CommitWithRetry(Database& db, std::string_view branch, std::string_view message,
                     Failures& failures, Counts& counts, Body&& body, int max_attempts = 100000,
                     bool may_vanish = false) {
  for (int attempt = 0; attempt < max_attempts; ++attempt) {
    absl::StatusOr<Transaction> t = db.Begin(branch);
    if (may_vanish && absl::IsNotFound(t.status())) return false;
    if (!COWDB_STRESS_EXPECT(failures, t.ok(), "Begin({}): {}", branch, t.status().ToString())) {
      return false;
    }
    if (!body(*t)) return false;
    absl::StatusOr<cowdb::VersionId> v = t->Commit(message);
    if (v.ok()) {
      ++counts.committed;
      return true;
    }
    if (may_vanish && absl::IsNotFound(v.status())) return false;
    if (!COWDB_STRESS_EXPECT(failures, absl::IsAborted(v.status()), "Commit on {}: {}", branch,
                             v.status().ToString())) {
      return false;
    }
    COWDB_STRESS_EXPECT(failures, !t->conflicts().empty(), "kAborted without conflicts");
    ++counts.aborted;
  }
  failures.Add(fmt::format("gave up after {} aborted attempts on {}", max_attempts, branch));
  return false;
}

}  // namespace

TEST_CASE("stress: bank transfers keep the total constant in every snapshot", "[stress]") {
  COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS();
  // In memory, and on a persistent database (its writers serialized while they write the
  // store), reopened at the end: without syncs, and with group commit (writers share syncs).
  const int mode = GENERATE(0, 1, 2);
  const bool persistent = mode != 0;
  CAPTURE(mode);
  cowdb::testing::TempDir dir;
  constexpr int kAccounts = 16;
  constexpr I64 kInitial = 1000;
  constexpr int kTransfersPerWriter = 2500;
  constexpr int kReaders = 2;
  const I64 total = kAccounts * kInitial;
  const std::int64_t live0 = cowdb::internal::live_nodes();
  Failures failures;
  Counts counts;
  {
    auto db = persistent
                  ? cowdb::testing::Ok(Database::Open(
                        dir.path(), cowdb::Options{.sync = mode == 1 ? cowdb::Sync::kNone
                                                                     : cowdb::Sync::kGroupCommit}))
                  : Database::Open();
    CreateDataset(*db, "main", "accounts", std::vector<I64>(kAccounts, kInitial));
    std::atomic<int> writers_left{kWriters};
    std::vector<std::thread> threads;
    for (int w = 1; w <= kWriters; ++w) {
      threads.emplace_back([&, w] {
        std::mt19937_64 rng(ThreadSeed(w));
        for (int k = 0; k < kTransfersPerWriter; ++k) {
          CommitWithRetry(*db, "main", "transfer", failures, counts, [&](Transaction& t) {
            absl::StatusOr<pvec<I64>> acc = t.Get<I64>("accounts");
            if (!COWDB_STRESS_EXPECT(failures, acc.ok() && acc->size() == kAccounts,
                                     "Get accounts")) {
              return false;
            }
            const auto from = static_cast<std::size_t>(rng() % kAccounts);
            const auto to =
                (from + 1 + static_cast<std::size_t>(rng() % (kAccounts - 1))) % kAccounts;
            const I64 balance = (*acc)[from];
            if (balance == 0) return true;  // an empty transaction
            const I64 amount =
                1 +
                static_cast<I64>(rng() % static_cast<std::uint64_t>(std::min<I64>(balance, 50)));
            if (rng() % 4 == 0) std::this_thread::yield();  // widen the race window
            absl::StatusOr<pvec<I64>::editor*> e = t.Edit<I64>("accounts");
            if (!COWDB_STRESS_EXPECT(failures, e.ok(), "Edit accounts")) return false;
            (*e)->set(from, balance - amount);
            (*e)->set(to, (*acc)[to] + amount);
            return true;
          });
        }
        --writers_left;
      });
    }
    for (int r = 0; r < kReaders; ++r) {
      threads.emplace_back([&, r] {
        cowdb::VersionId last{0};
        bool more = true;
        for (int round = 0; more; ++round) {
          more = writers_left.load() > 0;  // one last round after the writers finish
          pvec<I64> acc;
          if (round % 4 == 3) {
            // Through a transaction: it reads its base, also a consistent state.
            absl::StatusOr<Transaction> t = db->Begin("main");
            if (!COWDB_STRESS_EXPECT(failures, t.ok(), "reader Begin")) return;
            absl::StatusOr<pvec<I64>> a = t->Get<I64>("accounts");
            if (!COWDB_STRESS_EXPECT(failures, a.ok(), "reader txn Get")) return;
            acc = *a;
          } else {
            absl::StatusOr<Snapshot> s = db->OpenSnapshot("main");
            if (!COWDB_STRESS_EXPECT(failures, s.ok(), "reader {} OpenSnapshot", r)) return;
            COWDB_STRESS_EXPECT(failures, s->id() >= last, "head went back from {} to {}", last,
                                s->id());
            last = s->id();
            absl::StatusOr<pvec<I64>> a = s->Get<I64>("accounts");
            if (!COWDB_STRESS_EXPECT(failures, a.ok(), "reader Get")) return;
            acc = *a;
          }
          I64 sum = 0;
          for (I64 v : acc) sum += v;
          COWDB_STRESS_EXPECT(failures, sum == total, "total {} != {} (round {})", sum, total,
                              round);
          ++counts.reads;
          std::this_thread::yield();  // let the writers run on a machine with few cores
        }
      });
    }
    for (std::thread& t : threads) t.join();
    INFO(failures.Report());
    REQUIRE(failures.count() == 0);

    absl::StatusOr<Snapshot> s = db->OpenSnapshot("main");
    REQUIRE(s.ok());
    absl::StatusOr<pvec<I64>> acc = s->Get<I64>("accounts");
    REQUIRE(acc.ok());
    I64 sum = 0;
    for (I64 v : *acc) sum += v;
    CHECK(sum == total);
    CHECK(counts.committed.load() == static_cast<std::uint64_t>(kWriters * kTransfersPerWriter));
    CHECK(counts.reads.load() >= static_cast<std::uint64_t>(kReaders));
    // Every successful commit made exactly one version on main's history (no version lost):
    // v1, the creation of the accounts, then one per transfer.
    absl::StatusOr<cowdb::History> log = db->Log("main", 1'000'000);
    REQUIRE(log.ok());
    CHECK(log->size() == counts.committed.load() + 2);
    if (persistent) {  // all of it again after reopening
      db.reset();
      db = cowdb::testing::Ok(Database::Open(dir.path()));
      const Snapshot head = cowdb::testing::Ok(db->OpenSnapshot("main"));
      const pvec<I64> reread = cowdb::testing::Ok(head.Get<I64>("accounts"));
      CHECK(std::vector<I64>(reread.begin(), reread.end()) ==
            std::vector<I64>(acc->begin(), acc->end()));
      CHECK(cowdb::testing::Ok(db->Log("main", 1'000'000)).size() == log->size());
    }
  }
  CHECK(cowdb::internal::live_nodes() == live0);
  Report(mode == 0 ? "bank" : mode == 1 ? "bank (persistent)" : "bank (group commit)", counts);
}

TEST_CASE("stress: counters incremented with retry count every successful commit", "[stress]") {
  COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS();
  constexpr int kIncrements = 2500;
  const std::int64_t live0 = cowdb::internal::live_nodes();
  Failures failures;
  Counts counts;
  std::atomic<std::uint64_t> empty_commits{0};
  {
    auto db = Database::Open();
    // Element 0 is shared by every thread; element w belongs to writer w (1..kWriters).
    CreateDataset(*db, "main", "counters", std::vector<I64>(1 + kWriters, 0));
    std::vector<std::thread> threads;
    for (int w = 1; w <= kWriters; ++w) {
      threads.emplace_back([&, w] {
        std::mt19937_64 rng(ThreadSeed(w));
        for (int k = 0; k < kIncrements; ++k) {
          CommitWithRetry(*db, "main", "increment", failures, counts, [&](Transaction& t) {
            absl::StatusOr<pvec<I64>::editor*> e = t.Edit<I64>("counters");
            if (!COWDB_STRESS_EXPECT(failures, e.ok(), "Edit counters")) return false;
            pvec<I64>::editor& ed = **e;
            if (rng() % 4 == 0) std::this_thread::yield();  // widen the race window
            if (rng() % 2 == 0) {
              ed.set(0, ed[0] + 1);
            } else {
              ed.update(0, [](I64 x) { return x + 1; });
            }
            ed.update(static_cast<std::size_t>(w), [](I64 x) { return x + 1; });
            return true;
          });
          // Now and then an empty commit: it must not disturb anything.
          if (k % 97 == 0) {
            absl::StatusOr<Transaction> t = db->Begin("main");
            if (COWDB_STRESS_EXPECT(failures, t.ok(), "Begin") &&
                COWDB_STRESS_EXPECT(failures, t->Commit("empty").ok(), "an empty commit fails")) {
              ++empty_commits;
            }
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    INFO(failures.Report());
    REQUIRE(failures.count() == 0);
    absl::StatusOr<Snapshot> s = db->OpenSnapshot("main");
    REQUIRE(s.ok());
    absl::StatusOr<pvec<I64>> c = s->Get<I64>("counters");
    REQUIRE(c.ok());
    CHECK(counts.committed.load() == static_cast<std::uint64_t>(kWriters * kIncrements));
    CHECK((*c)[0] == static_cast<I64>(counts.committed.load()));
    for (int w = 1; w <= kWriters; ++w) CHECK((*c)[static_cast<std::size_t>(w)] == kIncrements);
    absl::StatusOr<cowdb::History> log = db->Log("main", 1'000'000);
    REQUIRE(log.ok());
    CHECK(log->size() == counts.committed.load() + empty_commits.load() + 2);
  }
  CHECK(cowdb::internal::live_nodes() == live0);
  Report("counters", counts);
}

TEST_CASE("stress: writers of disjoint chunks never conflict and every write lands", "[stress]") {
  COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS();
  constexpr std::size_t kCap = pvec<I64>::chunk_capacity;
  constexpr int kCommits = 1500;
  const std::int64_t live0 = cowdb::internal::live_nodes();
  Failures failures;
  Counts counts;
  const auto encode = [](int w, int k, int m) {
    return (static_cast<I64>(w) << 32) | (static_cast<I64>(k) << 4) | m;
  };

  SECTION("one dataset, each writer in its own chunk (ConflictMode::kElement)") {
    {
      auto db = Database::Open();
      // Writer w owns [w * kCap, (w + 1) * kCap): its own chunk, kCap elements from the next.
      CreateDataset(*db, "main", "grid", std::vector<I64>(kWriters * kCap + 7, -1));
      std::vector<std::vector<I64>> expected(kWriters);
      std::vector<std::thread> threads;
      for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
          std::mt19937_64 rng(ThreadSeed(w));
          std::vector<I64> mine(kCap, -1);
          for (int k = 0; k < kCommits; ++k) {
            // max_attempts 1: an abort is a failure here.
            const bool ok = CommitWithRetry(
                *db, "main", "chunk write", failures, counts,
                [&](Transaction& t) {
                  absl::StatusOr<pvec<I64>::editor*> e = t.Edit<I64>("grid");
                  if (!COWDB_STRESS_EXPECT(failures, e.ok(), "Edit grid")) return false;
                  for (int m = 0; m < 3; ++m) {
                    const std::size_t i = rng() % kCap;
                    (*e)->set(static_cast<std::size_t>(w) * kCap + i, encode(w, k, m));
                    mine[i] = encode(w, k, m);
                  }
                  return true;
                },
                /*max_attempts=*/1);
            if (!ok) break;
          }
          expected[static_cast<std::size_t>(w)] = std::move(mine);
        });
      }
      for (std::thread& t : threads) t.join();
      // An abort shows up as "gave up after 1 aborted attempts".
      INFO(failures.Report());
      CHECK(counts.aborted.load() == 0);
      REQUIRE(failures.count() == 0);
      CHECK(counts.committed.load() == static_cast<std::uint64_t>(kWriters * kCommits));
      absl::StatusOr<Snapshot> s = db->OpenSnapshot("main");
      REQUIRE(s.ok());
      absl::StatusOr<pvec<I64>> grid = s->Get<I64>("grid");
      REQUIRE(grid.ok());
      std::vector<I64> all;
      for (const std::vector<I64>& part : expected) all.insert(all.end(), part.begin(), part.end());
      all.resize(kWriters * kCap + 7, -1);
      CHECK(SameElements(*grid, all));
    }
    CHECK(cowdb::internal::live_nodes() == live0);
    Report("disjoint chunks", counts);
  }

  SECTION("a dataset per writer (ConflictMode::kDataset)") {
    {
      auto db = Database::Open(cowdb::Options{.conflict_mode = cowdb::ConflictMode::kDataset});
      for (int w = 0; w < kWriters; ++w) {
        CreateDataset(*db, "main", fmt::format("d{}", w), std::vector<I64>(kCap + 1, 0));
      }
      std::vector<std::thread> threads;
      for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
          const std::string name = fmt::format("d{}", w);
          for (int k = 0; k < kCommits; ++k) {
            const bool ok = CommitWithRetry(
                *db, "main", "dataset write", failures, counts,
                [&](Transaction& t) {
                  absl::StatusOr<pvec<I64>::editor*> e = t.Edit<I64>(name);
                  if (!COWDB_STRESS_EXPECT(failures, e.ok(), "Edit {}", name)) return false;
                  (*e)->set(static_cast<std::size_t>(k) % (kCap + 1), k + 1);
                  (*e)->push_back(k);
                  return true;
                },
                /*max_attempts=*/1);
            if (!ok) break;
          }
        });
      }
      for (std::thread& t : threads) t.join();
      INFO(failures.Report());
      CHECK(counts.aborted.load() == 0);
      REQUIRE(failures.count() == 0);
      CHECK(counts.committed.load() == static_cast<std::uint64_t>(kWriters * kCommits));
      absl::StatusOr<Snapshot> s = db->OpenSnapshot("main");
      REQUIRE(s.ok());
      for (int w = 0; w < kWriters; ++w) {
        absl::StatusOr<pvec<I64>> d = s->Get<I64>(fmt::format("d{}", w));
        REQUIRE(d.ok());
        std::vector<I64> model(kCap + 1, 0);
        for (int k = 0; k < kCommits; ++k) {
          model[static_cast<std::size_t>(k) % (kCap + 1)] = k + 1;
          model.push_back(k);
        }
        CHECK(SameElements(*d, model));
      }
    }
    CHECK(cowdb::internal::live_nodes() == live0);
    Report("dataset per writer", counts);
  }
}

TEST_CASE("stress: copying and dropping shared snapshots and pvecs while a writer commits",
          "[stress]") {
  COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS();
  constexpr std::size_t kSize = 3 * pvec<I64>::chunk_capacity + 5;  // four chunks
  constexpr int kCopiers = 4;
  constexpr int kIterations = 3000;
  constexpr int kWriterCommits = 1500;
  const std::int64_t live0 = cowdb::internal::live_nodes();
  Failures failures;
  Counts counts;
  {
    auto db = Database::Open(cowdb::Options{.keep_last_versions = 2});
    std::vector<I64> m0(kSize);
    for (std::size_t i = 0; i < kSize; ++i) m0[i] = static_cast<I64>(i);
    CreateDataset(*db, "main", "v", m0);
    absl::StatusOr<Snapshot> s0_or = db->OpenSnapshot("main");
    REQUIRE(s0_or.ok());
    const Snapshot s0 = *s0_or;              // shared by every thread
    const pvec<I64> p0 = *s0.Get<I64>("v");  // shared by every thread
    std::atomic<bool> writer_done{false};

    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      std::mt19937_64 rng(ThreadSeed(100));
      for (int k = 0; k < kWriterCommits; ++k) {
        CommitWithRetry(*db, "main", "write", failures, counts, [&](Transaction& t) {
          absl::StatusOr<pvec<I64>::editor*> e = t.Edit<I64>("v");
          if (!COWDB_STRESS_EXPECT(failures, e.ok(), "Edit v")) return false;
          (*e)->set(rng() % kSize, -static_cast<I64>(k) - 1);
          return true;
        });
        if (k % 10 == 0) db->Prune();  // releases old versions while copiers drop theirs
      }
      writer_done = true;
    });
    for (int c = 0; c < kCopiers; ++c) {
      threads.emplace_back([&, c] {
        std::mt19937_64 rng(ThreadSeed(c));
        std::vector<Snapshot> window;  // copies dropped at staggered times
        std::vector<pvec<I64>> vecs;
        for (int k = 0; k < kIterations || !writer_done.load(); ++k) {
          if (k > 20 * kIterations) break;  // bounded even if the writer is slow
          Snapshot copy = s0;
          absl::StatusOr<pvec<I64>> p = copy.Get<I64>("v");
          if (!COWDB_STRESS_EXPECT(failures, p.ok(), "Get v from a copied snapshot")) return;
          pvec<I64> q = p0;
          const std::size_t i = rng() % kSize;
          COWDB_STRESS_EXPECT(failures,
                              (*p)[i] == m0[i] && q[i] == m0[i] && p->identity() == p0.identity(),
                              "shared version changed at {}", i);
          if (k % 64 == 0) {
            COWDB_STRESS_EXPECT(failures, SameElements(q, m0), "shared pvec differs");
          }
          // Writing through an editor of a shared version copies; the shared one stays.
          auto e = q.transient();
          e.set(i, -7);
          const pvec<I64> r = std::move(e).persistent();
          COWDB_STRESS_EXPECT(failures, r[i] == -7 && p0[i] == m0[i] && q[i] == m0[i],
                              "editor wrote into a shared chunk at {}", i);
          // The moving head: snapshot, read, drop, while the writer commits and prunes.
          absl::StatusOr<Snapshot> head = db->OpenSnapshot("main");
          if (!COWDB_STRESS_EXPECT(failures, head.ok(), "OpenSnapshot(main)")) return;
          absl::StatusOr<pvec<I64>> hv = head->Get<I64>("v");
          if (!COWDB_STRESS_EXPECT(failures, hv.ok() && hv->size() == kSize, "head dataset size"))
            return;
          if (window.size() < 6) {
            window.push_back(k % 2 ? copy : *head);
            vecs.push_back(k % 3 ? r : *hv);
          } else {
            window[rng() % window.size()] = k % 2 ? std::move(copy) : *std::move(head);
            vecs[rng() % vecs.size()] = k % 3 ? r : *std::move(hv);
          }
          ++counts.reads;
        }
        // Whatever the copies are, they are still intact.
        for (const Snapshot& w : window) {
          absl::StatusOr<pvec<I64>> v = w.Get<I64>("v");
          COWDB_STRESS_EXPECT(failures, v.ok() && v->size() == kSize, "held snapshot {}", w.id());
        }
      });
    }
    for (std::thread& t : threads) t.join();
    INFO(failures.Report());
    REQUIRE(failures.count() == 0);
    CHECK(SameElements(p0, m0));
    CHECK(SameElements(*s0.Get<I64>("v"), m0));
    CHECK(counts.committed.load() == static_cast<std::uint64_t>(kWriterCommits));
    CHECK(counts.reads.load() >= static_cast<std::uint64_t>(kCopiers * kIterations));
  }
  CHECK(cowdb::internal::live_nodes() == live0);
  Report("refcount", counts);
}

TEST_CASE("stress: commits to different branches from different threads, then merges", "[stress]") {
  COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS();
  constexpr int kCommits = 1000;
  const std::int64_t live0 = cowdb::internal::live_nodes();
  Failures failures;
  Counts counts;
  std::atomic<std::uint64_t> churn_ops{0};
  std::atomic<std::uint64_t> merges{0};
  {
    auto db = Database::Open();
    CreateDataset(*db, "main", "shared", std::vector<I64>(kWriters, -1));
    for (int w = 0; w < kWriters; ++w) {
      REQUIRE(db->CreateBranch(fmt::format("br-{}", w), "main").ok());
    }
    std::atomic<int> writers_left{kWriters};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        const std::string branch = fmt::format("br-{}", w);
        const std::string own = fmt::format("own-{}", w);
        for (int k = 0; k < kCommits; ++k) {
          // The only writer of its branch: an abort is a failure.
          const bool ok = CommitWithRetry(
              *db, branch, "branch write", failures, counts,
              [&](Transaction& t) {
                if (k == 0) return t.Create<I64>(own, {}).ok();
                absl::StatusOr<pvec<I64>::editor*> e = t.Edit<I64>(own);
                absl::StatusOr<pvec<I64>::editor*> sh = t.Edit<I64>("shared");
                if (!COWDB_STRESS_EXPECT(failures, e.ok() && sh.ok(), "Edit on {}", branch)) {
                  return false;
                }
                (*e)->push_back(k);
                (*sh)->set(static_cast<std::size_t>(w), k);
                return true;
              },
              /*max_attempts=*/1);
          if (!ok) break;
        }
        --writers_left;
        // Merge the branch into main; the other writers do the same at the same time.
        absl::StatusOr<cowdb::VersionId> m = db->Merge(branch, "main", "merge " + branch);
        if (COWDB_STRESS_EXPECT(failures, m.ok(), "Merge {}: {}", branch, m.status().ToString())) {
          ++merges;
        }
      });
    }
    // Churn: tags, temporary branches and snapshots of the busy branches, each checked.
    threads.emplace_back([&] {
      std::mt19937_64 rng(ThreadSeed(200));
      for (int k = 0; writers_left.load() > 0 || k < 50; ++k) {
        if (k > 200000) break;
        const int w = static_cast<int>(rng() % kWriters);
        const std::string branch = fmt::format("br-{}", w);
        const std::string tag = fmt::format("tag-{}", k % 3);
        const std::string tmp = fmt::format("tmp-{}", k % 2);
        switch (rng() % 4) {
          case 0:
            (void)db->DeleteTag(tag);
            COWDB_STRESS_EXPECT(failures, db->CreateTag(tag, branch).ok(), "CreateTag {}", tag);
            break;
          case 1:
            if (db->CreateBranch(tmp, branch).ok()) {
              COWDB_STRESS_EXPECT(failures, db->DeleteBranch(tmp).ok(), "DeleteBranch {}", tmp);
            }
            break;
          default: {
            // Within one snapshot of br-w: own-w is [1 .. n) and shared[w] == n - 1.
            absl::StatusOr<Snapshot> s = db->OpenSnapshot(branch);
            if (!COWDB_STRESS_EXPECT(failures, s.ok(), "OpenSnapshot {}", branch)) break;
            absl::StatusOr<pvec<I64>> own = s->Get<I64>(fmt::format("own-{}", w));
            absl::StatusOr<pvec<I64>> sh = s->Get<I64>("shared");
            COWDB_STRESS_EXPECT(failures, sh.ok(), "shared on {}", branch);
            if (own.ok() && sh.ok()) {
              const std::size_t n = own->size();
              bool ok = (*sh)[static_cast<std::size_t>(w)] == (n == 0 ? -1 : static_cast<I64>(n));
              for (std::size_t i = 0; ok && i < n; ++i) ok = (*own)[i] == static_cast<I64>(i + 1);
              COWDB_STRESS_EXPECT(failures, ok, "inconsistent snapshot {} of {}", s->id(), branch);
            }
            ++counts.reads;
          }
        }
        ++churn_ops;
      }
    });
    for (std::thread& t : threads) t.join();
    INFO(failures.Report());
    REQUIRE(failures.count() == 0);
    CHECK(counts.aborted.load() == 0);
    CHECK(counts.committed.load() == static_cast<std::uint64_t>(kWriters * kCommits));
    CHECK(merges.load() == static_cast<std::uint64_t>(kWriters));
    std::vector<I64> own_model;
    for (int k = 1; k < kCommits; ++k) own_model.push_back(k);
    for (int w = 0; w < kWriters; ++w) {
      const std::string branch = fmt::format("br-{}", w);
      absl::StatusOr<cowdb::History> log = db->Log(branch, 1'000'000);
      REQUIRE(log.ok());
      CHECK(log->size() == static_cast<std::size_t>(kCommits) + 2);  // v1, "create shared"
      for (const std::string& b : {branch, std::string("main")}) {
        absl::StatusOr<Snapshot> s = db->OpenSnapshot(b);
        REQUIRE(s.ok());
        absl::StatusOr<pvec<I64>> own = s->Get<I64>(fmt::format("own-{}", w));
        REQUIRE(own.ok());
        CHECK(SameElements(*own, own_model));
        absl::StatusOr<pvec<I64>> sh = s->Get<I64>("shared");
        REQUIRE(sh.ok());
        CHECK((*sh)[static_cast<std::size_t>(w)] == kCommits - 1);
      }
    }
  }
  CHECK(cowdb::internal::live_nodes() == live0);
  Report("branches", counts);
  if (Verbose()) fmt::print("stress branches: {} churn operations\n", churn_ops.load());
}

TEST_CASE("stress: a snapshot held through many commits and prunes never changes", "[stress]") {
  COWDB_REQUIRE_TSAN_MUTEX_ANNOTATIONS();
  constexpr std::size_t kSize = 2000;  // four chunks
  constexpr int kWriterThreads = 3;
  constexpr int kCommits = 1000;
  const std::int64_t live0 = cowdb::internal::live_nodes();
  Failures failures;
  Counts counts;
  {
    auto db = Database::Open(cowdb::Options{.keep_last_versions = 1, .auto_prune = true});
    std::vector<I64> model(kSize);
    for (std::size_t i = 0; i < kSize; ++i) model[i] = static_cast<I64>(i * 3);
    CreateDataset(*db, "main", "data", model);
    CreateDataset(*db, "main", "tmp", {1, 2, 3});
    REQUIRE(db->CreateBranch("side", "main").ok());
    std::atomic<int> writers_left{kWriterThreads};
    std::vector<std::thread> threads;
    // The reader holds the only handle on a snapshot of "side" (which is deleted and pruned
    // meanwhile), taken before any writer starts.
    absl::StatusOr<Snapshot> side = db->OpenSnapshot("side");
    REQUIRE(side.ok());
    threads.emplace_back([&, snap = *std::move(side)] {
      const Snapshot* s = &snap;
      const cowdb::VersionId id = s->id();
      absl::StatusOr<pvec<I64>> held = s->Get<I64>("data");
      if (!COWDB_STRESS_EXPECT(failures, held.ok(), "Get data")) return;
      for (int k = 0; writers_left.load() > 0 || k < 3; ++k) {
        if (k > 20000) break;  // bounded however the threads are scheduled
        absl::StatusOr<pvec<I64>> d = s->Get<I64>("data");
        absl::StatusOr<pvec<I64>> t = s->Get<I64>("tmp");
        // Every element now and then (and in the last rounds); a few of them otherwise.
        const bool full = k % 16 == 0 || writers_left.load() == 0;
        bool same = d.ok() && d->size() == kSize && held->size() == kSize;
        for (std::size_t i = k % 97; same && !full && i < kSize; i += 97) {
          same = (*d)[i] == model[i] && (*held)[i] == model[i];
        }
        if (same && full) same = SameElements(*d, model) && SameElements(*held, model);
        COWDB_STRESS_EXPECT(
            failures,
            s->id() == id && same && t.ok() && t->size() == 3 && s->Datasets().size() == 2,
            "held snapshot {} changed in round {}", id, k);
        ++counts.reads;
        std::this_thread::yield();
      }
    });
    for (int w = 0; w < kWriterThreads; ++w) {
      threads.emplace_back([&, w] {
        std::mt19937_64 rng(ThreadSeed(300 + w));
        for (int k = 0; k < kCommits; ++k) {
          const std::string branch = k % 2 ? "main" : "side";
          CommitWithRetry(
              *db, branch, "overwrite", failures, counts,
              [&](Transaction& t) {
                absl::StatusOr<pvec<I64>::editor*> e = t.Edit<I64>("data");
                if (!COWDB_STRESS_EXPECT(failures, e.ok(), "Edit data")) return false;
                for (int m = 0; m < 4; ++m) (*e)->set(rng() % kSize, -1 - w);
                if (rng() % 8 == 0) (*e)->take(kSize - 1 - rng() % 3);
                if ((*e)->size() < kSize) (*e)->resize(kSize, 5);
                if (rng() % 16 == 0) return t.Drop("tmp").ok() && t.Create<I64>("tmp", {9}).ok();
                return true;
              },
              /*max_attempts=*/1000, /*may_vanish=*/true);
          if (w == 0 && k == kCommits / 2) {
            COWDB_STRESS_EXPECT(failures, db->DeleteBranch("side").ok(), "DeleteBranch(side)");
            db->Prune();
            (void)db->CreateBranch("side", "main");
          }
        }
        --writers_left;
      });
    }
    for (std::thread& t : threads) t.join();
    INFO(failures.Report());
    // A commit on "side" while it is deleted fails with kNotFound: expected, not counted.
    REQUIRE(failures.count() == 0);
    CHECK(counts.reads.load() >= 3);
    CHECK(counts.committed.load() > 0);
  }
  CHECK(cowdb::internal::live_nodes() == live0);
  Report("held snapshot", counts);
}
