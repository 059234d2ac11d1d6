// cowdb_storage_bench: the durability targets of issue 15 (P1-P4), each against a baseline
// measured in the same run on the same file system, printed as RESULT lines:
//   RESULT P1 n=<N> write_fsync_ns=<median> cowdb_ns=<median> ratio=<cowdb/base> gbps=<cowdb>
//          bytes=<written by cowdb> spread=<min-max of cowdb, ns>
//   RESULT P2 n=<N> fsync4k_ns=<p50> cowdb_ns=<p50> over_ns=<cowdb-base> bytes_per_commit=<b>
//          cowdb_nosync_ns=<p50 of the same commits with Sync::kNone>
//   RESULT P3 n=<N> versions=<V> cowdb_ns=<median> gbps=<unique bytes / time>
//          memory_ratio=<held after reopen / before close>
//   RESULT P4 n=<N> branches=<B> disk_growth_bytes=<b>
//   RESULT P5 threads=4 every_commit_per_s=<c> group_commit_per_s=<c> speedup=<group/every>
// P1 saves a new N-element int64 dataset (a commit with Sync::kEveryCommit) against write() of
// the same N * 8 bytes plus fsync; P2 commits one changed element with sync on against a 4 KiB
// write plus fdatasync; P3 reopens a database of N elements with V versions (one element changed
// per version); P4 makes 100 branches of an N-element dataset with one write each; P5 runs 4
// threads committing one changed element each to their own branch, with Sync::kEveryCommit and
// with Sync::kGroupCommit (commits per second).
// Timing is wall clock (disk waits are the point); repeated, median and spread printed. Files
// go to $TMPDIR (default /tmp): the baseline and cowdb use the same file system.
//   cowdb_storage_bench [--quick] [--only=P<k>]   (--quick: small N, one repetition; a smoke
//   test. --only: run one row, e.g. under perf)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cowdb/cowdb.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using I64 = std::int64_t;

double Ns(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::uint64_t DirBytes(const fs::path& d) {
  std::uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(d)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

[[noreturn]] void Die(const std::string& what) {
  fmt::print(stderr, "cowdb_storage_bench: {}\n", what);
  std::exit(1);
}

template <class T>
T Must(absl::StatusOr<T> s, const char* what) {
  if (!s.ok()) Die(fmt::format("{}: {}", what, s.status().ToString()));
  return *std::move(s);
}

void Must(const absl::Status& s, const char* what) {
  if (!s.ok()) Die(fmt::format("{}: {}", what, s.ToString()));
}

// write() of `bytes` to a new file, then fsync: the baseline of P1.
double WriteFsync(const fs::path& path, const std::vector<I64>& data) {
  const auto t0 = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Die("open baseline file");
  const char* p = reinterpret_cast<const char*>(data.data());
  std::size_t left = data.size() * sizeof(I64);
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n <= 0) Die("write baseline file");
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) Die("fsync baseline file");
  ::close(fd);
  const double ns = Ns(t0);
  fs::remove(path);
  return ns;
}

struct Spread {
  double median, lo, hi;
};
Spread Summary(const std::vector<double>& v) {
  return {Median(v), *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end())};
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg.starts_with("--only=")) {
      only = arg.substr(7);
    } else {
      fmt::print(stderr, "usage: cowdb_storage_bench [--quick] [--only=P1|P2|P3|P4|P5]\n");
      return 2;
    }
  }
  const auto run = [&](const char* row) { return only.empty() || only == row; };
  const std::size_t n = quick ? 100'000 : 10'000'000;
  const int reps = quick ? 1 : 5;
  const char* tmp = std::getenv("TMPDIR");
  const fs::path root =
      fs::path(tmp != nullptr ? tmp : "/tmp") / fmt::format("cowdb-storage-bench-{}", ::getpid());
  fs::remove_all(root);
  fs::create_directories(root);
  std::vector<I64> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<I64>(i * 2654435761u);
  const cowdb::pvec<I64> big(data.begin(), data.end());
  int produced = 0;

  // ---- P1: save a new N-element dataset ------------------------------------------------------
  if (run("P1")) {
    std::vector<double> base, mine;
    std::uint64_t bytes = 0;
    for (int r = 0; r < reps; ++r) {
      base.push_back(WriteFsync(root / "baseline.bin", data));
      const fs::path dir = root / fmt::format("p1-{}", r);
      auto db = Must(cowdb::Database::Open(dir), "P1 open");
      cowdb::Transaction t = Must(db->Begin("main"), "P1 begin");
      Must(t.Create<I64>("x", big), "P1 create");
      const std::uint64_t before = DirBytes(dir);
      const auto t0 = Clock::now();
      Must(t.Commit("load").status(), "P1 commit");
      mine.push_back(Ns(t0));
      bytes = DirBytes(dir) - before;
      db.reset();
      fs::remove_all(dir);
    }
    const Spread b = Summary(base), c = Summary(mine);
    fmt::print(
        "RESULT P1 n={} write_fsync_ns={:.0f} cowdb_ns={:.0f} ratio={:.3f} gbps={:.2f} bytes={} "
        "spread={:.0f}-{:.0f} base_spread={:.0f}-{:.0f}\n",
        n, b.median, c.median, c.median / b.median, n * 8.0 / c.median, bytes, c.lo, c.hi, b.lo,
        b.hi);
    ++produced;
  }

  // ---- P2: commit one changed element, sync on ---------------------------------------------
  if (run("P2")) {
    const fs::path dir = root / "p2";
    auto db = Must(cowdb::Database::Open(dir), "P2 open");
    {
      cowdb::Transaction t = Must(db->Begin("main"), "P2 begin");
      Must(t.Create<I64>("x", big), "P2 create");
      Must(t.Commit("load").status(), "P2 load");
    }
    const int commits = quick ? 20 : 300;
    std::mt19937_64 rng(42);
    std::vector<double> mine, base;
    // Baseline: append 4 KiB to a file and fdatasync, interleaved with the commits so that both
    // see the same device state.
    const int fd = ::open((root / "p2-baseline.bin").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) Die("open P2 baseline");
    std::vector<char> page(4096, 'x');
    std::uint64_t written = 0;
    for (int k = 0; k < commits; ++k) {
      cowdb::Transaction t = Must(db->Begin("main"), "P2 begin");
      Must(t.Edit<I64>("x"), "P2 edit")->set(rng() % n, k);
      const std::uint64_t before = DirBytes(dir);
      auto t0 = Clock::now();
      Must(t.Commit("one").status(), "P2 commit");
      mine.push_back(Ns(t0));
      written += DirBytes(dir) - before;
      t0 = Clock::now();
      if (::write(fd, page.data(), page.size()) != 4096 || ::fdatasync(fd) != 0) {
        Die("P2 baseline write");
      }
      base.push_back(Ns(t0));
    }
    ::close(fd);
    const double per_commit = static_cast<double>(written) / commits;
    // The same commits without the sync: what the commit costs besides the fdatasync (the
    // in-memory commit, encoding, the write).
    std::vector<double> nosync;
    {
      auto unsynced = Must(cowdb::Database::Open(root / "p2-nosync", {.sync = cowdb::Sync::kNone}),
                           "P2 open nosync");
      {
        cowdb::Transaction t = Must(unsynced->Begin("main"), "P2 begin");
        Must(t.Create<I64>("x", big), "P2 create");
        Must(t.Commit("load").status(), "P2 load");
      }
      for (int k = 0; k < commits; ++k) {
        cowdb::Transaction t = Must(unsynced->Begin("main"), "P2 begin");
        Must(t.Edit<I64>("x"), "P2 edit")->set(rng() % n, k);
        const auto t0 = Clock::now();
        Must(t.Commit("one").status(), "P2 commit");
        nosync.push_back(Ns(t0));
      }
    }
    const double b = Median(base), c = Median(mine);
    fmt::print(
        "RESULT P2 n={} fsync4k_ns={:.0f} cowdb_ns={:.0f} over_ns={:.0f} "
        "bytes_per_commit={:.0f} cowdb_nosync_ns={:.0f}\n",
        n, b, c, c - b, per_commit, Median(nosync));
    ++produced;
  }

  // ---- P5: group commit -- 4 threads committing 1 changed element each, sync on -------------
  if (run("P5")) {
    constexpr int kThreads = 4;
    const int per_thread = quick ? 10 : 150;
    const auto throughput = [&](cowdb::Sync sync, const char* name) {
      const fs::path dir = root / fmt::format("p5-{}", name);
      auto db = Must(cowdb::Database::Open(dir, {.sync = sync}), "P5 open");
      {
        cowdb::Transaction t = Must(db->Begin("main"), "P5 begin");
        Must(t.Create<I64>("x", cowdb::pvec<I64>(std::vector<I64>(100'000, 1))), "P5 create");
        Must(t.Commit("load").status(), "P5 load");
      }
      for (int k = 0; k < kThreads; ++k) Must(db->CreateBranch(fmt::format("b{}", k)), "P5 branch");
      const auto t0 = Clock::now();
      std::vector<std::thread> threads;
      for (int k = 0; k < kThreads; ++k) {
        threads.emplace_back([&, k] {
          for (int i = 0; i < per_thread; ++i) {
            cowdb::Transaction t = Must(db->Begin(fmt::format("b{}", k)), "P5 begin");
            Must(t.Edit<I64>("x"), "P5 edit")->set(static_cast<std::size_t>(k * 1000 + i), i);
            Must(t.Commit("one").status(), "P5 commit");
          }
        });
      }
      for (std::thread& t : threads) t.join();
      return kThreads * per_thread / (Ns(t0) / 1e9);
    };
    const double every = throughput(cowdb::Sync::kEveryCommit, "every");
    const double group = throughput(cowdb::Sync::kGroupCommit, "group");
    fmt::print(
        "RESULT P5 threads={} every_commit_per_s={:.0f} group_commit_per_s={:.0f} "
        "speedup={:.2f}\n",
        kThreads, every, group, group / every);
    ++produced;
  }

  // ---- P3: reopen N elements with V versions -------------------------------------------------
  if (run("P3")) {
    const int versions = quick ? 10 : 100;
    const fs::path dir = root / "p3";
    std::size_t held_before = 0;
    {
      auto db = Must(cowdb::Database::Open(dir, {.sync = cowdb::Sync::kNone}), "P3 open");
      {
        cowdb::Transaction t = Must(db->Begin("main"), "P3 begin");
        Must(t.Create<I64>("x", big), "P3 create");
        Must(t.Commit("load").status(), "P3 load");
      }
      std::mt19937_64 rng(7);
      for (int k = 2; k < versions; ++k) {
        cowdb::Transaction t = Must(db->Begin("main"), "P3 begin");
        Must(t.Edit<I64>("x"), "P3 edit")->set(rng() % n, -k);
        Must(t.Commit("one").status(), "P3 commit");
      }
      held_before = db->GetMemoryReport().total_bytes;
    }
    std::vector<double> mine;
    std::size_t held_after = 0;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = Clock::now();
      auto db = Must(cowdb::Database::Open(dir), "P3 reopen");
      mine.push_back(Ns(t0));
      held_after = db->GetMemoryReport().total_bytes;
    }
    const Spread c = Summary(mine);
    fmt::print(
        "RESULT P3 n={} versions={} cowdb_ns={:.0f} gbps={:.2f} memory_ratio={:.4f} "
        "unique_bytes={} spread={:.0f}-{:.0f}\n",
        n, versions, c.median, static_cast<double>(held_before) / c.median,
        static_cast<double>(held_after) / static_cast<double>(held_before), held_before, c.lo,
        c.hi);
    ++produced;
  }

  // ---- P4: 100 branches x 1 write ------------------------------------------------------------
  if (run("P4")) {
    const fs::path dir = root / "p4";
    auto db = Must(cowdb::Database::Open(dir, {.sync = cowdb::Sync::kNone}), "P4 open");
    {
      cowdb::Transaction t = Must(db->Begin("main"), "P4 begin");
      Must(t.Create<I64>("x", big), "P4 create");
      Must(t.Commit("load").status(), "P4 load");
    }
    const std::uint64_t before = DirBytes(dir);
    std::mt19937_64 rng(9);
    for (int b = 0; b < 100; ++b) {
      const std::string name = fmt::format("b{}", b);
      Must(db->CreateBranch(name, "main"), "P4 branch");
      cowdb::Transaction t = Must(db->Begin(name), "P4 begin");
      Must(t.Edit<I64>("x"), "P4 edit")->set(rng() % n, -b);
      Must(t.Commit("one").status(), "P4 commit");
    }
    fmt::print("RESULT P4 n={} branches=100 disk_growth_bytes={}\n", n, DirBytes(dir) - before);
    ++produced;
  }
  fs::remove_all(root);
  return produced == (only.empty() ? 5 : 1) ? 0 : 1;
}
