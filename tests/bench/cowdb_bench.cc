// cowdb_bench: the DESIGN.md targets, each measured against std::vector<int64_t> in the same run.
//
//   cowdb_bench [--quick] [--sweep] [--cpu-time] [Google Benchmark flags, e.g.
//               --benchmark_filter=W3]
//
//   (default)  W1-W8, M1, C1, C2, SNAP, MERGE, R1-R4 at N = 1M and 10M (W8, MERGE, R1-R4: 10M),
//              C3 at 1M; 5 repetitions each.
//   --quick    N = 65536 and short repetitions (also COWDB_BENCH_QUICK=1); the ctest smoke test.
//   --sweep    W2/W3/W4/W6/W7/M1 at N = 10M for a grid of tree shapes (ChunkBytes x Fanout), one
//              `SWEEP ...` line per shape, to tune kDefaultChunkBytes / kDefaultFanout.
//   --sweep-n=N  the sweep at another N (implies --sweep).
//   --cpu-time   medians of the CPU time instead of the real time: steadier on a shared machine,
//                where the real time also counts the time other processes held the CPU. Not for
//                C2, which is always real time.
//
// After Google Benchmark's console output (one median and one cv line per benchmark) it prints
// one machine-readable line per workload and N,
//
//   RESULT <id> n=<N> std_ns=<median> cowdb_ns=<median> ratio=<cowdb/std> [abs=<x>] [variant=<v>]
//
// where the times are medians over the repetitions of the real (wall) time per iteration (CPU
// time with --cpu-time), `abs` is the absolute figure a target bounds (W1, W4: ns; M1: bytes) and
// `variant` names the W2 scan kind ("iter", "chunk"), or "*-relaxed" for W2/W3 on a heavily
// relaxed vector (relaxed_fixture; no target, the figure documents the cost). For M1 the
// std_ns / cowdb_ns columns hold bytes: 100 deep copies vs. the extra bytes of 100 one-element
// branches. C2 (C1's commits on two branches of one database, from one thread in turn vs. from
// two threads, one per branch) has its own line,
//
//   RESULT C2 n=<N> one_thread_ns=<median> two_threads_ns=<median> speedup=<1t/2t> time=real
//          one_thread_on_cpu=<share> two_threads_on_cpu=<share>
//
// with the wall-clock time per commit (all threads' commits together), real time even with
// --cpu-time: what two threads buy is wall time. The on_cpu shares (median CPU time over median
// real time, per thread) say how much of the machine the threads got: on a busy machine two
// threads may get no more CPU than one. C3 (3-element commits on 1M with every version kept,
// against the same loop with auto-prune keeping one version, whose memory is reused) times each
// of 20,000 commits per repetition and counts page faults (getrusage, minor + major) over them:
//
//   RESULT C3 n=<N> reuse_p50_ns=<median of the runs' p50> history_p50_ns=... ratio=<hist/reuse>
//          reuse_p99_ns=... history_p99_ns=... reuse_faults_per_commit=...
//          history_faults_per_commit=...
//
// A table with the targets follows, then one for C3 and one for C2. Misses are reported, never
// turned into a failure: the exit status is non-zero only when a workload produced no result.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "cowdb/database.h"
#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace {

using Vec = std::vector<std::int64_t>;
using Pvec = cowdb::pvec<std::int64_t>;

constexpr std::uint64_t kSeed = 0xC0DB'5EED'0000'0001ULL;
constexpr std::size_t kReads = 1'000'000;              // W3: random reads per iteration
constexpr std::size_t kWrites = std::size_t{1} << 16;  // W4, M1: precomputed write positions
constexpr std::size_t kWriteMask = kWrites - 1;
constexpr std::size_t kBranches = 100;  // M1
constexpr std::size_t kMillion = 1'000'000;

// ---- run configuration -------------------------------------------------------------------------

struct Config {
  bool quick = false;
  bool sweep = false;
  bool cpu_time = false;           // report CPU-time medians instead of real-time ones
  std::vector<std::size_t> sizes;  // N for the target workloads
  std::size_t sweep_n = 0;         // N for the shape sweep (0: the default)
  int repetitions = 0;
  double min_time = 0;  // seconds per repetition
};

// Removes --quick and --sweep from argv (Google Benchmark rejects unknown flags) and fills in the
// sizes and repetitions.
Config parse_own_flags(int& argc, char** argv) {
  Config c;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      c.quick = true;
    } else if (arg == "--cpu-time") {
      c.cpu_time = true;
    } else if (arg == "--sweep") {
      c.sweep = true;
    } else if (arg.rfind("--sweep-n=", 0) == 0) {
      c.sweep = true;
      c.sweep_n = std::strtoull(argv[i] + std::strlen("--sweep-n="), nullptr, 10);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  argv[argc] = nullptr;
  if (const char* env = std::getenv("COWDB_BENCH_QUICK");
      env != nullptr && std::string_view(env) != "" && std::string_view(env) != "0") {
    c.quick = true;
  }
  if (c.quick) {
    c.sizes = {std::size_t{1} << 16};
    if (c.sweep_n == 0) c.sweep_n = std::size_t{1} << 16;
    c.repetitions = 3;
    c.min_time = 0.005;
  } else {
    c.sizes = {kMillion, 10 * kMillion};
    if (c.sweep_n == 0) c.sweep_n = 10 * kMillion;
    c.repetitions = c.sweep ? 3 : 5;
    c.min_time = c.sweep ? 0.2 : 0.3;
  }
  return c;
}

// ---- fixtures (built outside the timed loops, cached across repetitions) -----------------------

struct StdFixture {
  std::size_t n = 0;
  Vec vec;                          // vec[i] == i, so every write of a negative value changes it
  std::vector<std::size_t> reads;   // kReads uniform indices in [0, n)   (W3)
  std::vector<std::size_t> writes;  // kWrites uniform indices in [0, n)  (W4, M1)
};

// The std fixture for n; rebuilding it (a new n) invalidates the previous one.
const StdFixture& std_fixture(std::size_t n) {
  static StdFixture f;
  if (f.n != n) {
    f = StdFixture{};  // free the old one before building the new one
    f.n = n;
    f.vec.resize(n);
    std::iota(f.vec.begin(), f.vec.end(), std::int64_t{0});
    std::mt19937_64 rng(kSeed + n);
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    f.reads.resize(kReads);
    for (std::size_t& i : f.reads) i = pick(rng);
    f.writes.resize(kWrites);
    for (std::size_t& i : f.writes) i = pick(rng);
  }
  return f;
}

// At most one pvec fixture is alive at a time: the sweep has a dozen shapes of 10M elements.
void (*g_drop_pvec_fixture)() = nullptr;

template <class V>
struct PvecFixture {
  static inline std::unique_ptr<V> v;
  static inline std::size_t n = 0;
};

// A pvec of type V equal to std_fixture(n).vec.
template <class V>
const V& pvec_fixture(std::size_t n) {
  using F = PvecFixture<V>;
  if (F::v == nullptr || F::n != n) {
    if (g_drop_pvec_fixture != nullptr) g_drop_pvec_fixture();
    const Vec& src = std_fixture(n).vec;
    F::v = std::make_unique<V>(src.begin(), src.end());
    F::n = n;
    g_drop_pvec_fixture = [] { PvecFixture<V>::v.reset(); };
  }
  return *F::v;
}

std::int64_t write_value(std::size_t k) { return -static_cast<std::int64_t>(k) - 1; }

// A heavily relaxed pvec equal to std_fixture(n).vec: a concatenation of n / 1000 slices of
// random lengths (mean 1000 elements) of the push_back-built fixture, so almost every leaf is
// partly filled and every inner node keeps a size table. W2 and W3 on it ("relaxed" variants)
// show what structural edits cost the scans and random reads that follow them.
const Pvec& relaxed_fixture(std::size_t n) {
  static std::size_t built_n = 0;
  static std::unique_ptr<Pvec> v;
  if (built_n != n) {
    v.reset();
    const Pvec& src = pvec_fixture<Pvec>(n);
    std::mt19937_64 rng(kSeed + 7);
    Pvec out;
    for (std::size_t at = 0; at < n;) {
      const std::size_t len = std::min<std::size_t>(n - at, 1 + rng() % 1999);
      out = out + src.slice(at, at + len);
      at += len;
    }
    v = std::make_unique<Pvec>(std::move(out));
    built_n = n;
  }
  return *v;
}

// ---- W1: branch / snapshot ---------------------------------------------------------------------

void std_w1(benchmark::State& st, std::size_t n) {
  const Vec& vec = std_fixture(n).vec;
  for (auto _ : st) {
    Vec copy = vec;
    benchmark::DoNotOptimize(copy.data());
    benchmark::ClobberMemory();
  }
}

template <class V>
void cowdb_w1(benchmark::State& st, std::size_t n) {
  const V& v = pvec_fixture<V>(n);
  for (auto _ : st) {
    V copy = v;
    benchmark::DoNotOptimize(copy);
  }
}

// ---- W2: full scan (sum) -----------------------------------------------------------------------

void std_w2_iter(benchmark::State& st, std::size_t n) {
  const Vec& vec = std_fixture(n).vec;
  for (auto _ : st) {
    std::int64_t sum = 0;
    for (std::int64_t x : vec) sum += x;
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

template <class V, const V& (*Fixture)(std::size_t) = pvec_fixture<V>>
void cowdb_w2_iter(benchmark::State& st, std::size_t n) {
  const V& v = Fixture(n);
  for (auto _ : st) {
    std::int64_t sum = 0;
    for (std::int64_t x : v) sum += x;
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

void std_w2_chunk(benchmark::State& st, std::size_t n) {
  const Vec& vec = std_fixture(n).vec;
  const std::int64_t* data = vec.data();
  const std::size_t size = vec.size();
  for (auto _ : st) {
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < size; ++i) sum += data[i];
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

template <class V, const V& (*Fixture)(std::size_t) = pvec_fixture<V>>
void cowdb_w2_chunk(benchmark::State& st, std::size_t n) {
  const V& v = Fixture(n);
  for (auto _ : st) {
    std::int64_t sum = 0;
    v.for_each_chunk([&sum](const std::int64_t* first, const std::int64_t* last) {
      std::int64_t part = 0;  // a local accumulator: `sum` may alias the chunk for the compiler
      for (; first != last; ++first) part += *first;
      sum += part;
    });
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

// ---- W3: 1M random reads -----------------------------------------------------------------------

void std_w3(benchmark::State& st, std::size_t n) {
  const StdFixture& f = std_fixture(n);
  const std::int64_t* data = f.vec.data();
  const std::size_t* idx = f.reads.data();
  for (auto _ : st) {
    std::int64_t sum = 0;
    for (std::size_t k = 0; k < kReads; ++k) sum += data[idx[k]];
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(kReads));
}

template <class V, const V& (*Fixture)(std::size_t) = pvec_fixture<V>>
void cowdb_w3(benchmark::State& st, std::size_t n) {
  const V& v = Fixture(n);
  const std::size_t* idx = std_fixture(n).reads.data();
  for (auto _ : st) {
    std::int64_t sum = 0;
    for (std::size_t k = 0; k < kReads; ++k) sum += v[idx[k]];
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(kReads));
}

// ---- W4: single-element write that makes a new version -----------------------------------------

void std_w4(benchmark::State& st, std::size_t n) {
  const StdFixture& f = std_fixture(n);
  Vec vec = f.vec;  // a private copy keeps the shared fixture pristine
  std::int64_t* data = vec.data();
  std::size_t k = 0;
  for (auto _ : st) {
    data[f.writes[k & kWriteMask]] = write_value(k);
    benchmark::DoNotOptimize(data);  // `data` escapes: the store must happen
    ++k;
  }
}

template <class V>
void cowdb_w4(benchmark::State& st, std::size_t n) {
  const V& v = pvec_fixture<V>(n);  // stays alive, so every set() must copy its path
  const std::size_t* idx = std_fixture(n).writes.data();
  V v2;
  std::size_t k = 0;
  for (auto _ : st) {
    v2 = v.set(idx[k & kWriteMask], write_value(k));
    benchmark::DoNotOptimize(v2);
    ++k;
  }
}

// ---- W6: bulk transform x*2 into a new version / vector -----------------------------------------

void std_w6(benchmark::State& st, std::size_t n) {
  const Vec& vec = std_fixture(n).vec;
  for (auto _ : st) {
    Vec out(vec.size());
    std::transform(vec.begin(), vec.end(), out.begin(), [](std::int64_t x) { return x * 2; });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

template <class V>
void cowdb_w6(benchmark::State& st, std::size_t n) {
  const V& v = pvec_fixture<V>(n);
  for (auto _ : st) {
    V out = v.transform([](std::int64_t x) { return x * 2; });
    benchmark::DoNotOptimize(out);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

// ---- W7: build N elements by push_back ---------------------------------------------------------

void std_w7(benchmark::State& st, std::size_t n) {
  for (auto _ : st) {
    Vec v;  // no reserve
    for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<std::int64_t>(i));
    benchmark::DoNotOptimize(v.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

template <class V>
void cowdb_w7(benchmark::State& st, std::size_t n) {
  for (auto _ : st) {
    auto e = V().transient();
    for (std::size_t i = 0; i < n; ++i) e.push_back(static_cast<std::int64_t>(i));
    V v = std::move(e).persistent();
    benchmark::DoNotOptimize(v);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

// ---- M1: memory of 100 one-element branches ----------------------------------------------------

struct M1Bytes {
  double extra = 0;        // sum over the branches of branch.exclusive().bytes
  double cross_check = 0;  // sum of memory() - shared_with(base): must be equal
};

// Times making (and dropping) the 100 branches; reports the memory they add as counters.
template <class V>
void cowdb_m1(benchmark::State& st, std::size_t n) {
  const V& base = pvec_fixture<V>(n);
  const std::size_t* idx = std_fixture(n).writes.data();
  auto make_branches = [&base, idx] {
    std::vector<V> branches;
    branches.reserve(kBranches);
    for (std::size_t b = 0; b < kBranches; ++b) {
      branches.push_back(base.set(idx[b], write_value(b)));
    }
    return branches;
  };
  for (auto _ : st) {
    std::vector<V> branches = make_branches();
    benchmark::DoNotOptimize(branches.data());
    benchmark::ClobberMemory();
  }
  static std::map<std::size_t, M1Bytes> cache;  // shared_with() is O(n): measure once per n
  auto it = cache.find(n);
  if (it == cache.end()) {
    const std::vector<V> branches = make_branches();
    M1Bytes m;
    for (const V& b : branches) {
      m.extra += static_cast<double>(b.exclusive().bytes);
      m.cross_check += static_cast<double>(b.memory().bytes - b.shared_with(base).bytes);
    }
    it = cache.emplace(n, m).first;
  }
  st.counters["extra_bytes"] = it->second.extra;
  st.counters["reach_minus_base"] = it->second.cross_check;
  st.counters["deep_bytes"] = static_cast<double>(n * sizeof(std::int64_t) * kBranches);
}

// ---- W8: diff of two versions differing in k elements --------------------------------------------

// The fixture's vector and a version of it with k random elements changed (cached per n and k).
struct DiffFixture {
  Vec changed;  // std: the second vector
  Pvec other;   // cowdb: the second version, sharing every unchanged chunk with the fixture
};
const DiffFixture& diff_fixture(std::size_t n, std::size_t k) {
  static std::map<std::pair<std::size_t, std::size_t>, DiffFixture> cache;
  auto it = cache.find({n, k});
  if (it == cache.end()) {
    DiffFixture f;
    f.changed = std_fixture(n).vec;
    auto e = pvec_fixture<Pvec>(n).transient();
    std::mt19937_64 rng(kSeed + k);
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t i = pick(rng);
      f.changed[i] = write_value(j);
      e.set(i, write_value(j));
    }
    f.other = std::move(e).persistent();
    it = cache.emplace(std::pair{n, k}, std::move(f)).first;
  }
  return it->second;
}

template <std::size_t K>
void std_w8(benchmark::State& st, std::size_t n) {
  const Vec& a = std_fixture(n).vec;
  const Vec& b = diff_fixture(n, K).changed;
  for (auto _ : st) {
    std::size_t differing = 0;
    for (std::size_t i = 0; i < n; ++i) differing += a[i] != b[i] ? 1 : 0;
    benchmark::DoNotOptimize(differing);
  }
}

template <std::size_t K>
void cowdb_w8(benchmark::State& st, std::size_t n) {
  const Pvec& a = pvec_fixture<Pvec>(n);
  const Pvec& b = diff_fixture(n, K).other;
  for (auto _ : st) {
    const auto d = cowdb::diff(a, b);
    benchmark::DoNotOptimize(d.modified_count());
  }
}

// ---- MERGE: three-way merge of two branches each changing 1% of the chunks ------------------------

// Branch `seed` of the fixture with one element changed in each of 1% of the chunks.
Pvec one_percent_branch(std::size_t n, std::uint64_t seed) {
  const std::size_t chunks = (n + Pvec::chunk_capacity - 1) / Pvec::chunk_capacity;
  auto e = pvec_fixture<Pvec>(n).transient();
  std::mt19937_64 rng(kSeed + seed);
  std::uniform_int_distribution<std::size_t> pick(0, chunks - 1);
  for (std::size_t j = 0; j < std::max<std::size_t>(1, chunks / 100); ++j) {
    const std::size_t i = std::min(n - 1, pick(rng) * Pvec::chunk_capacity + seed);
    e.set(i, write_value(j));
  }
  return std::move(e).persistent();
}

// Baseline: the element-wise three-way merge of the same data as std::vectors.
void std_merge(benchmark::State& st, std::size_t n) {
  const Vec& base = std_fixture(n).vec;
  const Pvec a = one_percent_branch(n, 1), b = one_percent_branch(n, 2);
  const Vec ours(a.begin(), a.end()), theirs(b.begin(), b.end());
  for (auto _ : st) {
    Vec out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = ours[i] == base[i] ? theirs[i] : ours[i];
    benchmark::DoNotOptimize(out.data());
  }
}

void cowdb_merge(benchmark::State& st, std::size_t n) {
  const Pvec& base = pvec_fixture<Pvec>(n);
  const Pvec ours = one_percent_branch(n, 1), theirs = one_percent_branch(n, 2);
  for (auto _ : st) {
    auto r = cowdb::merge(base, ours, theirs);
    if (!r.ok()) st.SkipWithError("unexpected conflict");
    benchmark::DoNotOptimize(r.merged().identity());
  }
}

// ---- R1..R4: row operations (a 1% filter, its diff, its merge with 50 fixes, a sort) ---------------

// Whether row x goes in the 1% filter: a hash of the value, so the removed rows are spread at
// random (about 1 in 100) and the same for std and cowdb.
bool filtered(std::int64_t x) {
  std::uint64_t z = static_cast<std::uint64_t>(x) + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) % 100 == 0;
}

// R1's result (filter of the fixture) and a branch with 50 rows fixed (R3), built once.
struct RowFixture {
  std::size_t n = 0;
  Pvec filter, fixes;
  Vec filter_vec;
};
const RowFixture& row_fixture(std::size_t n) {
  static RowFixture f;
  if (f.n != n) {
    f = RowFixture{};
    f.n = n;
    f.filter = pvec_fixture<Pvec>(n).erase_if(filtered);
    f.filter_vec.assign(f.filter.begin(), f.filter.end());
    auto e = pvec_fixture<Pvec>(n).transient();
    std::mt19937_64 rng(kSeed + 50);
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    for (std::size_t k = 0; k < 50;) {  // 50 fixes on rows the filter keeps
      const std::size_t i = pick(rng);
      if (filtered(e[i])) continue;
      e.set(i, write_value(k++));
    }
    f.fixes = std::move(e).persistent();
  }
  return f;
}

void std_r1(benchmark::State& st, std::size_t n) {  // std::erase_if on a copy (copy included)
  const Vec& src = std_fixture(n).vec;
  for (auto _ : st) {
    Vec v = src;
    std::erase_if(v, filtered);
    benchmark::DoNotOptimize(v.data());
  }
}
void cowdb_r1(benchmark::State& st, std::size_t n) {
  const Pvec& src = pvec_fixture<Pvec>(n);
  for (auto _ : st) {
    Pvec v = src.erase_if(filtered);
    benchmark::DoNotOptimize(v.identity());
  }
}

// Baseline of R2 and R3: what finding the removed rows costs without cowdb, a linear walk of the
// two std::vectors (the rows are in order; a row missing from the second was removed).
void std_r2(benchmark::State& st, std::size_t n) {
  const Vec& a = std_fixture(n).vec;
  const Vec& b = row_fixture(n).filter_vec;
  for (auto _ : st) {
    std::size_t removed = 0, j = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (j < b.size() && a[i] == b[j]) {
        ++j;
      } else {
        ++removed;
      }
    }
    benchmark::DoNotOptimize(removed);
  }
}
void cowdb_r2(benchmark::State& st, std::size_t n) {
  const Pvec& a = pvec_fixture<Pvec>(n);
  const Pvec& b = row_fixture(n).filter;
  for (auto _ : st) {
    auto d = cowdb::diff(a, b);
    if (d.erased_count() + d.truncated_count() != a.size() - b.size() || d.modified_count() != 0) {
      st.SkipWithError("the diff does not name exactly the removed rows");
    }
    benchmark::DoNotOptimize(d.ranges().data());
  }
}
void cowdb_r3(benchmark::State& st, std::size_t n) {
  const Pvec& base = pvec_fixture<Pvec>(n);
  const RowFixture& f = row_fixture(n);
  for (auto _ : st) {
    auto r = cowdb::merge(base, f.filter, f.fixes);
    if (!r.ok() || r.merged().size() != f.filter.size()) st.SkipWithError("unexpected merge");
    benchmark::DoNotOptimize(r.merged().identity());
  }
}

// R4: sorting random rows into a new version; baseline std::sort of a copy (copy included).
const Vec& random_rows(std::size_t n) {
  static Vec v;
  if (v.size() != n) {
    v.resize(n);
    std::mt19937_64 rng(kSeed + 4);
    for (std::int64_t& x : v) x = static_cast<std::int64_t>(rng() >> 1);
  }
  return v;
}
void std_r4(benchmark::State& st, std::size_t n) {
  const Vec& src = random_rows(n);
  for (auto _ : st) {
    Vec v = src;
    std::sort(v.begin(), v.end());
    benchmark::DoNotOptimize(v.data());
  }
}
void cowdb_r4(benchmark::State& st, std::size_t n) {
  const Pvec src(random_rows(n));
  for (auto _ : st) {
    Pvec v = src.sort();
    benchmark::DoNotOptimize(v.identity());
  }
}

// ---- F1..F5: structural edits (insert, erase, concat, slice) and a diff across shifts -----------

// Positions in the middle half, varied per iteration so that no two iterations hit the same chunk.
std::size_t middle(std::size_t n, std::size_t k) { return n / 4 + (k * 7919) % (n / 2); }

void std_f1(benchmark::State& st, std::size_t n) {
  Vec v = std_fixture(n).vec;
  std::size_t k = 0;
  for (auto _ : st) {
    const std::size_t i = middle(n, k++);
    v.insert(v.begin() + static_cast<std::ptrdiff_t>(i), write_value(k));
    benchmark::DoNotOptimize(v.data());
    st.PauseTiming();
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
    st.ResumeTiming();
  }
}
void cowdb_f1(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  std::size_t k = 0;
  for (auto _ : st) {
    const std::size_t i = middle(n, k++);
    Pvec w = v.insert(i, write_value(k));
    benchmark::DoNotOptimize(w.identity());
  }
}
void std_f2(benchmark::State& st, std::size_t n) {
  Vec v = std_fixture(n).vec;
  std::size_t k = 0;
  for (auto _ : st) {
    const std::size_t i = middle(n, k++);
    const std::int64_t x = v[i];
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
    benchmark::DoNotOptimize(v.data());
    st.PauseTiming();
    v.insert(v.begin() + static_cast<std::ptrdiff_t>(i), x);
    st.ResumeTiming();
  }
}
void cowdb_f2(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  std::size_t k = 0;
  for (auto _ : st) {
    Pvec w = v.erase(middle(n, k++));
    benchmark::DoNotOptimize(w.identity());
  }
}
void std_f3(benchmark::State& st, std::size_t n) {
  const Vec& v = std_fixture(n).vec;
  const Vec a(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n / 2));
  const Vec b(v.begin() + static_cast<std::ptrdiff_t>(n / 2), v.end());
  for (auto _ : st) {
    Vec c;
    c.reserve(n);
    c.insert(c.end(), a.begin(), a.end());
    c.insert(c.end(), b.begin(), b.end());
    benchmark::DoNotOptimize(c.data());
  }
}
void cowdb_f3(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  // Halves that do not split at a chunk boundary, so the seam is a real one.
  const Pvec a = v.take(n / 2 + 3), b = v.drop(n / 2 + 3);
  for (auto _ : st) {
    Pvec c = a + b;
    benchmark::DoNotOptimize(c.identity());
  }
}
void std_f4(benchmark::State& st, std::size_t n) {
  const Vec& v = std_fixture(n).vec;
  for (auto _ : st) {
    Vec c(v.begin() + static_cast<std::ptrdiff_t>(n / 4 + 1), v.begin() + static_cast<std::ptrdiff_t>(3 * n / 4 + 1));
    benchmark::DoNotOptimize(c.data());
  }
}
void cowdb_f4(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  for (auto _ : st) {
    Pvec c = v.slice(n / 4 + 1, 3 * n / 4 + 1);
    benchmark::DoNotOptimize(c.identity());
  }
}
// The fixture after 10 inserts and 10 erases at random positions.
const Pvec& shifted_fixture(std::size_t n) {
  static std::map<std::size_t, Pvec> cache;
  auto it = cache.find(n);
  if (it == cache.end()) {
    auto e = pvec_fixture<Pvec>(n).transient();
    std::mt19937_64 rng(kSeed + 5);
    for (int j = 0; j < 10; ++j) {
      e.insert(rng() % (e.size() + 1), write_value(static_cast<std::size_t>(j)));
      e.erase(rng() % e.size());
    }
    it = cache.emplace(n, std::move(e).persistent()).first;
  }
  return it->second;
}
void std_f5(benchmark::State& st, std::size_t n) {  // a linear scan for the first difference
  const Vec& a = std_fixture(n).vec;
  const Pvec& s = shifted_fixture(n);
  const Vec b(s.begin(), s.end());
  for (auto _ : st) {
    std::size_t differing = 0;
    for (std::size_t i = 0; i < n; ++i) differing += a[i] != b[i] ? 1 : 0;
    benchmark::DoNotOptimize(differing);
  }
}
void cowdb_f5(benchmark::State& st, std::size_t n) {
  const Pvec& a = pvec_fixture<Pvec>(n);
  const Pvec& b = shifted_fixture(n);
  for (auto _ : st) {
    const auto d = cowdb::diff(a, b);
    if (d.inserted_count() + d.erased_count() > 40) st.SkipWithError("diff is not local");
    benchmark::DoNotOptimize(d.changed_count());
  }
}

// ---- SNAP: open a snapshot of a branch and get its dataset ----------------------------------------

void cowdb_snap(benchmark::State& st, std::size_t n);

// ---- W5 and C1: transactions on the database ----------------------------------------------------

// A database whose "main" holds the fixture as dataset "x"; retention keeps one version per
// branch and the benchmark prunes every kPruneEvery commits (part of the measured cost).
constexpr std::size_t kPruneEvery = 1024;
std::unique_ptr<cowdb::Database> bench_database(std::size_t n) {
  auto db = cowdb::Database::Open(cowdb::Options{.keep_last_versions = 1});
  cowdb::Transaction t = *db->Begin("main");
  (void)t.Create<std::int64_t>("x", pvec_fixture<Pvec>(n));
  (void)t.Commit("load");
  return db;
}

// W5 baseline: the same 1,000 writes into a std::vector.
void std_w5(benchmark::State& st, std::size_t n) {
  const StdFixture& f = std_fixture(n);
  Vec vec = f.vec;
  std::size_t k = 0;
  for (auto _ : st) {
    for (std::size_t j = 0; j < 1000; ++j, ++k) vec[f.writes[k & kWriteMask]] = write_value(k);
    benchmark::DoNotOptimize(vec.data());
  }
}

void cowdb_w5(benchmark::State& st, std::size_t n) {
  auto db = bench_database(n);
  const StdFixture& f = std_fixture(n);
  std::size_t k = 0, commits = 0;
  for (auto _ : st) {
    cowdb::Transaction t = *db->Begin("main");
    auto* x = *t.Edit<std::int64_t>("x");
    for (std::size_t j = 0; j < 1000; ++j, ++k) x->set(f.writes[k & kWriteMask], write_value(k));
    if (!t.Commit("w5").ok()) st.SkipWithError("commit failed");
    if (++commits % 64 == 0) db->Prune();
  }
}

void cowdb_snap(benchmark::State& st, std::size_t n) {
  auto db = bench_database(n);
  for (auto _ : st) {
    absl::StatusOr<cowdb::Snapshot> s = db->OpenSnapshot("main");
    absl::StatusOr<Pvec> x = s->Get<std::int64_t>("x");
    benchmark::DoNotOptimize(x->identity());
  }
}

void cowdb_c1(benchmark::State& st, std::size_t n) {
  auto db = bench_database(n);
  const StdFixture& f = std_fixture(n);
  std::size_t k = 0;
  for (auto _ : st) {
    cowdb::Transaction t = *db->Begin("main");
    (*t.Edit<std::int64_t>("x"))->set(f.writes[k & kWriteMask], write_value(k));
    if (!t.Commit("c1").ok()) st.SkipWithError("commit failed");
    if (++k % kPruneEvery == 0) db->Prune();
  }
}

// ---- C2: C1's commits on two branches, from one thread vs. from two threads ----------------------

// bench_database(n) plus branch "b" at main's head: both branches start sharing every chunk.
constexpr const char* kC2Branches[2] = {"main", "b"};
std::unique_ptr<cowdb::Database> c2_database(std::size_t n) {
  auto db = bench_database(n);
  (void)db->CreateBranch(kC2Branches[1], kC2Branches[0]);
  return db;
}

// One 1-element transaction on `branch`, committed; `k` counts this caller's commits.
bool c2_commit(cowdb::Database& db, const char* branch, const std::size_t* writes,
               std::size_t k) {
  absl::StatusOr<cowdb::Transaction> t = db.Begin(branch);
  if (!t.ok()) return false;
  (*t->Edit<std::int64_t>("x"))->set(writes[k & kWriteMask], write_value(k));
  if (!t->Commit("c2").ok()) return false;
  if ((k + 1) % kPruneEvery == 0) db.Prune();
  return true;
}

// One thread commits on the two branches in turn.
void cowdb_c2_one_thread(benchmark::State& st, std::size_t n) {
  auto db = c2_database(n);
  const std::size_t* writes = std_fixture(n).writes.data();
  std::size_t k = 0;
  for (auto _ : st) {
    if (!c2_commit(*db, kC2Branches[k & 1], writes, k)) st.SkipWithError("commit failed");
    ++k;
  }
}

// Two threads (Threads(2)), each committing on its own branch. Thread 0 builds the database
// before the timed loop; Google Benchmark starts no thread's loop before every thread reached
// it, and lets none leave before all are done, so thread 1 reads g_c2_db only inside the loop
// and thread 0 destroys it after.
cowdb::Database* g_c2_db = nullptr;

void cowdb_c2_two_threads(benchmark::State& st, std::size_t n) {
  std::unique_ptr<cowdb::Database> owner;
  if (st.thread_index() == 0) {
    owner = c2_database(n);
    g_c2_db = owner.get();
    (void)std_fixture(n);  // built here, only read by both threads in the loop
  }
  const char* branch = kC2Branches[st.thread_index() & 1];
  cowdb::Database* db = nullptr;
  const std::size_t* writes = nullptr;
  std::size_t k = 0;
  for (auto _ : st) {
    if (db == nullptr) {
      db = g_c2_db;
      writes = std_fixture(n).writes.data();
    }
    if (!c2_commit(*db, branch, writes, k)) st.SkipWithError("commit failed");
    ++k;
  }
  if (st.thread_index() == 0) g_c2_db = nullptr;
}

// ---- C3: 3-element commits on 1M with history kept, against the same loop reusing memory ---------

// What one C3 run measured: the median commit (each commit timed on its own) and the page
// faults per commit (getrusage minor + major faults over the timed loop).
constexpr benchmark::IterationCount kC3Commits = 20000;  // per repetition
struct C3Sample {
  double p50_ns = 0;
  double p99_ns = 0;
  double faults_per_commit = 0;
};
// One sample per repetition, by (kHistory, n).
std::map<std::pair<bool, std::size_t>, std::vector<C3Sample>> g_c3;

long process_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt + u.ru_majflt;
}

// The median of each figure over the repetitions.
C3Sample median_c3(std::vector<C3Sample> v) {
  auto med = [&v](double C3Sample::*f) {
    std::vector<double> x;
    for (const C3Sample& s : v) x.push_back(s.*f);
    std::sort(x.begin(), x.end());
    return x[x.size() / 2];
  };
  return {med(&C3Sample::p50_ns), med(&C3Sample::p99_ns), med(&C3Sample::faults_per_commit)};
}

constexpr double kC3MaxFaultsPerCommit = 0.2;  // C3's second bound, beside its p50 target

// kHistory: every version kept (no retention), so each commit's new chunks stay allocated and
// its allocations need memory never used before. Else auto_prune keeps one version, and each
// commit's allocations reuse what the last prune freed: the same work on warm memory.
template <bool kHistory>
void cowdb_c3(benchmark::State& st, std::size_t n) {
  cowdb::Options opts;
  if (!kHistory) {
    opts.keep_last_versions = 1;
    opts.auto_prune = true;
  }
  auto db = cowdb::Database::Open(opts);
  {
    cowdb::Transaction t = *db->Begin("main");
    (void)t.Create<std::int64_t>("x", pvec_fixture<Pvec>(n));
    (void)t.Commit("load");
  }
  const std::size_t* writes = std_fixture(n).writes.data();
  std::vector<double> ns;
  ns.reserve(static_cast<std::size_t>(st.max_iterations));
  std::size_t k = 0;
  const long faults0 = process_faults();
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    cowdb::Transaction t = *db->Begin("main");
    auto* x = *t.Edit<std::int64_t>("x");
    for (int j = 0; j < 3; ++j, ++k) x->set(writes[k & kWriteMask], write_value(k));
    if (!t.Commit("c3").ok()) st.SkipWithError("commit failed");
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
  }
  const long faults = process_faults() - faults0;
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  C3Sample s;
  s.p50_ns = ns[ns.size() / 2];
  s.p99_ns = ns[ns.size() * 99 / 100];
  s.faults_per_commit = static_cast<double>(faults) / static_cast<double>(ns.size());
  g_c3[{kHistory, n}].push_back(s);
  st.counters["p50_ns"] = s.p50_ns;
  st.counters["faults_per_commit"] = s.faults_per_commit;
}

// ---- the workloads: one row each ----------------------------------------------------------------

using Body = void (*)(benchmark::State&, std::size_t);

// How a row's two bodies are measured and reported.
enum class Kind {
  kTime,   // median time per iteration of each: a `RESULT <id>` line and a row of the target table
  kBytes,  // M1: the cowdb body's extra_bytes counter against the bytes of kBranches deep copies
  kThreads,  // C2: the cowdb body from one thread (baseline) and from two; its own line and table
  kCommits,  // C3: per-commit p50/p99/faults of "reuse" (baseline) and "history"; ditto
};

// A DESIGN.md target: a bound on the ratio cowdb / std or on the cowdb figure (ns or bytes).
// No default constructor, so a row cannot leave it out: a row without one says kNoTarget.
struct Target {
  enum class On { kNothing, kRatio, kCowdb };
  constexpr Target(On bound, double max, const char* shown) : on(bound), limit(max), text(shown) {}
  bool met(double ratio, double cowdb) const {
    return on == On::kNothing || (on == On::kRatio ? ratio : cowdb) <= limit;
  }
  On on;
  double limit;
  const char* text;  // as the table prints it
};
constexpr Target kNoTarget{Target::On::kNothing, 0, "-"};
constexpr Target Ratio(double limit, const char* text) { return {Target::On::kRatio, limit, text}; }
constexpr Target Cowdb(double limit, const char* text) { return {Target::On::kCowdb, limit, text}; }

enum class Sizes { kEvery, kSmallest, kLargest };  // the configured N a row runs at

struct Workload {
  const char* id;
  const char* variant = "";  // a "key=value" variant (W8's k=) follows n= in the RESULT line,
                             // any other is printed as variant=<v>
  const char* what;          // what it measures
  Body baseline;             // std::vector<int64_t> (nullptr: none)
  Body cowdb;
  benchmark::TimeUnit baseline_unit = benchmark::kMicrosecond;  // of the console output
  benchmark::TimeUnit cowdb_unit = benchmark::kMicrosecond;
  Kind kind = Kind::kTime;
  bool abs = false;  // the RESULT line carries abs=<the cowdb figure>
  Sizes at = Sizes::kEvery;
  Target target;
  std::optional<Target> target_10m = std::nullopt;  // the target at N >= 10M, if another
};

constexpr auto kNs = benchmark::kNanosecond;

// In the order they run and are reported, at each N.
// clang-format off
const Workload kWorkloads[] = {
    {.id = "W1", .what = "branch: a version copy vs. a deep copy", .baseline = std_w1,
     .cowdb = cowdb_w1<Pvec>, .cowdb_unit = kNs, .abs = true, .target = Cowdb(100, "< 100 ns")},
    {.id = "W2", .variant = "iter", .what = "sum by iterator", .baseline = std_w2_iter,
     .cowdb = cowdb_w2_iter<Pvec>, .target = Ratio(1.2, "<= 1.2x")},
    {.id = "W2", .variant = "chunk", .what = "sum by for_each_chunk / raw pointer",
     .baseline = std_w2_chunk, .cowdb = cowdb_w2_chunk<Pvec>, .target = Ratio(1.05, "<= 1.05x")},
    {.id = "W3", .what = "1M random reads", .baseline = std_w3, .cowdb = cowdb_w3<Pvec>,
     .target = Ratio(5, "<= 5x"), .target_10m = Ratio(4, "<= 4x")},
    // On a heavily relaxed vector the targets do not apply: the figures document the cost.
    {.id = "W2", .variant = "iter-relaxed", .what = "W2 iter on relaxed_fixture",
     .baseline = std_w2_iter, .cowdb = cowdb_w2_iter<Pvec, relaxed_fixture>, .target = kNoTarget},
    {.id = "W2", .variant = "chunk-relaxed", .what = "W2 chunk on relaxed_fixture",
     .baseline = std_w2_chunk, .cowdb = cowdb_w2_chunk<Pvec, relaxed_fixture>, .target = kNoTarget},
    {.id = "W3", .variant = "relaxed", .what = "W3 on relaxed_fixture", .baseline = std_w3,
     .cowdb = cowdb_w3<Pvec, relaxed_fixture>, .target = kNoTarget},
    {.id = "W4", .what = "one write into a new version", .baseline = std_w4,
     .cowdb = cowdb_w4<Pvec>, .baseline_unit = kNs, .cowdb_unit = kNs, .abs = true,
     .target = Cowdb(1000, "<= 1 us")},
    {.id = "W6", .what = "transform x*2 into a new version", .baseline = std_w6,
     .cowdb = cowdb_w6<Pvec>, .target = Ratio(1.3, "<= 1.3x")},
    {.id = "W7", .what = "build N by push_back", .baseline = std_w7, .cowdb = cowdb_w7<Pvec>,
     .target = Ratio(1.0, "<= 1.0x")},
    {.id = "M1", .what = "bytes of 100 one-element branches vs. 100 deep copies",
     .baseline = nullptr, .cowdb = cowdb_m1<Pvec>, .kind = Kind::kBytes, .abs = true,
     .target = Cowdb(1e6, "<= 1 MB")},
    {.id = "W5", .what = "a 1,000-write transaction", .baseline = std_w5, .cowdb = cowdb_w5,
     .abs = true, .target = Cowdb(500'000, "<= 0.5 ms")},
    {.id = "C1", .what = "a 1-write commit (>= 500k commits/s)", .baseline = std_w4,
     .cowdb = cowdb_c1, .baseline_unit = kNs, .cowdb_unit = kNs, .abs = true,
     .target = Cowdb(2000, "<= 2 us")},
    {.id = "SNAP", .what = "open a snapshot and get its dataset", .baseline = std_w1,
     .cowdb = cowdb_snap, .cowdb_unit = kNs, .abs = true, .target = kNoTarget},
    {.id = "F1", .variant = "insert", .what = "insert one element in the middle",
     .baseline = std_f1, .cowdb = cowdb_f1, .cowdb_unit = kNs, .target = Cowdb(5000, "< 5 us")},
    {.id = "F2", .variant = "erase", .what = "erase one element in the middle", .baseline = std_f2,
     .cowdb = cowdb_f2, .cowdb_unit = kNs, .target = Cowdb(5000, "< 5 us")},
    {.id = "F3", .variant = "concat", .what = "concatenate two halves", .baseline = std_f3,
     .cowdb = cowdb_f3, .cowdb_unit = kNs, .target = Cowdb(5000, "< 5 us")},
    {.id = "F4", .variant = "slice", .what = "slice the middle half", .baseline = std_f4,
     .cowdb = cowdb_f4, .cowdb_unit = kNs, .target = Cowdb(5000, "< 5 us")},
    {.id = "F5", .variant = "diff", .what = "diff across 10 inserts and 10 erases",
     .baseline = std_f5, .cowdb = cowdb_f5, .target = Cowdb(50'000, "< 50 us")},
    {.id = "C2", .what = "C1 on two branches: one thread in turn vs. two threads",
     .baseline = cowdb_c2_one_thread, .cowdb = cowdb_c2_two_threads, .baseline_unit = kNs,
     .cowdb_unit = kNs, .kind = Kind::kThreads, .target = kNoTarget},
    {.id = "C3", .what = "3-write commits, memory reused vs. history kept",
     .baseline = cowdb_c3<false>, .cowdb = cowdb_c3<true>, .baseline_unit = kNs, .cowdb_unit = kNs,
     .kind = Kind::kCommits, .at = Sizes::kSmallest,
     .target = Cowdb(5000, "p50 <= 5 us, < 0.2 faults/commit")},
    {.id = "MERGE", .variant = "1%", .what = "three-way merge, 1% of the chunks on each side",
     .baseline = std_merge, .cowdb = cowdb_merge, .abs = true, .at = Sizes::kLargest,
     .target = kNoTarget},
    {.id = "R1", .variant = "erase_if", .what = "a 1% filter", .baseline = std_r1,
     .cowdb = cowdb_r1, .at = Sizes::kLargest, .target = Ratio(1.5, "<= 1.5x")},
    {.id = "R2", .variant = "diff", .what = "find the filtered rows", .baseline = std_r2,
     .cowdb = cowdb_r2, .at = Sizes::kLargest, .target = Ratio(1.0, "<= 1x")},
    {.id = "R3", .variant = "merge", .what = "merge the filter with 50 fixes", .baseline = std_r2,
     .cowdb = cowdb_r3, .at = Sizes::kLargest, .target = Ratio(2.0, "<= 2x")},
    {.id = "R4", .variant = "sort", .what = "sort random rows", .baseline = std_r4,
     .cowdb = cowdb_r4, .at = Sizes::kLargest, .target = Ratio(1.3, "<= 1.3x")},
    {.id = "W8", .variant = "k=1", .what = "diff of versions k elements apart",
     .baseline = std_w8<1>, .cowdb = cowdb_w8<1>, .abs = true, .at = Sizes::kLargest,
     .target = kNoTarget},
    {.id = "W8", .variant = "k=10", .what = "ditto", .baseline = std_w8<10>, .cowdb = cowdb_w8<10>,
     .abs = true, .at = Sizes::kLargest, .target = Cowdb(20'000, "<= 20 us")},
    {.id = "W8", .variant = "k=100", .what = "ditto", .baseline = std_w8<100>,
     .cowdb = cowdb_w8<100>, .abs = true, .at = Sizes::kLargest, .target = kNoTarget},
    {.id = "W8", .variant = "k=1000", .what = "ditto", .baseline = std_w8<1000>,
     .cowdb = cowdb_w8<1000>, .abs = true, .at = Sizes::kLargest, .target = kNoTarget},
    {.id = "W8", .variant = "k=10000", .what = "ditto", .baseline = std_w8<10000>,
     .cowdb = cowdb_w8<10000>, .abs = true, .at = Sizes::kLargest, .target = kNoTarget},
};
// clang-format on

// ---- registration -------------------------------------------------------------------------------

// Registers body(n) under `name`, run by `threads` threads at once, for `iterations` per
// repetition (0: as many as cfg.min_time takes); returns the name (the key of its results). With
// several threads the real time per iteration is the wall time divided by the iterations of all
// threads together.
std::string add_bench(const Config& cfg, const std::string& name, Body body, std::size_t n,
                      benchmark::TimeUnit unit, int threads = 1,
                      benchmark::IterationCount iterations = 0) {
  benchmark::internal::Benchmark* b =
      benchmark::RegisterBenchmark(name.c_str(), [body, n](benchmark::State& st) { body(st, n); })
          ->Repetitions(cfg.repetitions)
          ->UseRealTime()
          ->Unit(unit);
  if (iterations > 0) {
    b->Iterations(iterations);
  } else {
    b->MinTime(cfg.min_time);
  }
  if (threads > 1) b->Threads(threads);
  return name;
}

// A row registered at one N, with its two benchmarks' names (baseline empty when it has none).
struct Registered {
  const Workload* w;
  std::size_t n;
  std::string baseline, cowdb;
};

std::vector<Registered> register_targets(const Config& cfg) {
  std::vector<Registered> runs;
  for (const std::size_t n : cfg.sizes) {
    for (const Workload& w : kWorkloads) {
      if ((w.at == Sizes::kSmallest && n != cfg.sizes.front()) ||
          (w.at == Sizes::kLargest && n != cfg.sizes.back())) {
        continue;
      }
      const std::string stem = *w.variant != '\0' ? fmt::format("{}_{}", w.id, w.variant) : w.id;
      const auto [base_side, cowdb_side] =
          w.kind == Kind::kThreads   ? std::pair{"1thread", "2threads"}
          : w.kind == Kind::kCommits ? std::pair{"reuse", "history"}
                                     : std::pair{"std", "cowdb"};
      const benchmark::IterationCount iterations = w.kind != Kind::kCommits ? 0
                                                   : cfg.quick              ? 2000
                                                                            : kC3Commits;
      Registered r{&w, n, "", ""};
      if (w.baseline != nullptr) {
        r.baseline = add_bench(cfg, fmt::format("{}/n:{}/{}", stem, n, base_side), w.baseline, n,
                               w.baseline_unit, 1, iterations);
      }
      r.cowdb = add_bench(cfg, fmt::format("{}/n:{}/{}", stem, n, cowdb_side), w.cowdb, n,
                          w.cowdb_unit, w.kind == Kind::kThreads ? 2 : 1, iterations);
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

// The shape sweep: the same workloads for pvec<int64_t, ChunkBytes, Fanout>.
struct Shape {
  std::size_t chunk_bytes = 0;
  std::size_t fanout = 0;
  std::size_t chunk_elems = 0;
  std::string w2_iter, w2_chunk, w3, w4, w6, w7, m1;
};

struct SweepPlan {
  std::size_t n = 0;
  std::string w2_iter, w2_chunk, w3, w4, w6, w7;  // the std baselines
  std::vector<Shape> shapes;
};

template <std::size_t ChunkBytes, std::size_t Fanout>
void register_shape(const Config& cfg, SweepPlan& plan) {
  using V = cowdb::pvec<std::int64_t, ChunkBytes, Fanout>;
  using benchmark::kMicrosecond;
  using benchmark::kNanosecond;
  const std::string p = fmt::format("SWEEP/cb:{}/f:{}/", ChunkBytes, Fanout);
  const std::size_t n = plan.n;
  Shape s;
  s.chunk_bytes = ChunkBytes;
  s.fanout = Fanout;
  s.chunk_elems = V::chunk_capacity;
  s.w2_iter = add_bench(cfg, p + "W2_iter", cowdb_w2_iter<V>, n, kMicrosecond);
  s.w2_chunk = add_bench(cfg, p + "W2_chunk", cowdb_w2_chunk<V>, n, kMicrosecond);
  s.w3 = add_bench(cfg, p + "W3", cowdb_w3<V>, n, kMicrosecond);
  s.w4 = add_bench(cfg, p + "W4", cowdb_w4<V>, n, kNanosecond);
  s.w6 = add_bench(cfg, p + "W6", cowdb_w6<V>, n, kMicrosecond);
  s.w7 = add_bench(cfg, p + "W7", cowdb_w7<V>, n, kMicrosecond);
  s.m1 = add_bench(cfg, p + "M1", cowdb_m1<V>, n, kMicrosecond);
  plan.shapes.push_back(std::move(s));
}

template <std::size_t ChunkBytes, std::size_t... Fanouts>
void register_shape_row(const Config& cfg, SweepPlan& plan) {
  (register_shape<ChunkBytes, Fanouts>(cfg, plan), ...);
}

SweepPlan register_sweep(const Config& cfg) {
  using benchmark::kMicrosecond;
  using benchmark::kNanosecond;
  SweepPlan plan;
  plan.n = cfg.sweep_n;
  const std::size_t n = plan.n;
  plan.w2_iter = add_bench(cfg, "SWEEP/std/W2_iter", std_w2_iter, n, kMicrosecond);
  plan.w2_chunk = add_bench(cfg, "SWEEP/std/W2_chunk", std_w2_chunk, n, kMicrosecond);
  plan.w3 = add_bench(cfg, "SWEEP/std/W3", std_w3, n, kMicrosecond);
  plan.w4 = add_bench(cfg, "SWEEP/std/W4", std_w4, n, kNanosecond);
  plan.w6 = add_bench(cfg, "SWEEP/std/W6", std_w6, n, kMicrosecond);
  plan.w7 = add_bench(cfg, "SWEEP/std/W7", std_w7, n, kMicrosecond);
  register_shape_row<1024, 16, 32, 64>(cfg, plan);
  register_shape_row<2048, 16, 32, 64>(cfg, plan);
  register_shape_row<4096, 16, 32, 64>(cfg, plan);
  register_shape_row<8192, 16, 32, 64>(cfg, plan);
  return plan;
}

// ---- collecting the results ---------------------------------------------------------------------

// The console reporter, showing only the median and cv of each benchmark (or the single run when
// there is one repetition), that also keeps every repetition's real and CPU time per iteration in
// ns and the user counters, keyed by the registered name.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  CollectingReporter(OutputOptions opts, bool use_cpu_time)
      : ConsoleReporter(opts), use_cpu_time_(use_cpu_time) {}

  bool use_cpu_time() const { return use_cpu_time_; }

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> shown;
    for (const Run& r : runs) {
      const std::string& name = r.run_name.function_name;
      if (r.error_occurred) {
        shown.push_back(r);
      } else if (r.run_type == Run::RT_Iteration) {
        const double to_ns = 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
        real_[name].push_back(r.GetAdjustedRealTime() * to_ns);
        cpu_[name].push_back(r.GetAdjustedCPUTime() * to_ns);
        for (const auto& [key, counter] : r.counters) counters_[name][key] = counter.value;
        real_seconds_ += r.real_accumulated_time;
        cpu_seconds_ += r.cpu_accumulated_time;
        if (r.repetitions <= 1) shown.push_back(r);
      } else if (r.aggregate_name == "median" || r.aggregate_name == "cv") {
        shown.push_back(r);
      }
    }
    if (!shown.empty()) ConsoleReporter::ReportRuns(shown);
  }

  // Median over the repetitions of the real (or, with --cpu-time, CPU) time per iteration, in
  // ns; always the real time with force_real.
  std::optional<double> median_ns(const std::string& name, bool force_real = false) const {
    return median(use_cpu_time_ && !force_real ? cpu_ : real_, name);
  }

  // The median CPU time over the median real time of a run with `threads` threads: the share
  // of its threads' time they were on a CPU (well below 1 when the machine was busy).
  std::optional<double> cpu_share(const std::string& name, int threads) const {
    const auto cpu = median(cpu_, name);
    const auto real = median(real_, name);
    if (!cpu || !real || *real <= 0) return std::nullopt;
    return *cpu / (*real * threads);
  }

  std::optional<double> counter(const std::string& name, const std::string& key) const {
    const auto it = counters_.find(name);
    if (it == counters_.end()) return std::nullopt;
    const auto c = it->second.find(key);
    if (c == it->second.end()) return std::nullopt;
    return c->second;
  }

  // CPU time / real time over all timed runs: well below 1 when other processes took the CPU,
  // which inflates the real-time medians.
  double cpu_share() const { return real_seconds_ > 0 ? cpu_seconds_ / real_seconds_ : 1.0; }

 private:
  using Samples = std::map<std::string, std::vector<double>>;
  static std::optional<double> median(const Samples& samples, const std::string& name) {
    const auto it = samples.find(name);
    if (it == samples.end() || it->second.empty()) return std::nullopt;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  bool use_cpu_time_;
  double real_seconds_ = 0;
  double cpu_seconds_ = 0;
  Samples real_;
  Samples cpu_;
  std::map<std::string, std::map<std::string, double>> counters_;
};

// ---- printing
// ------------------------------------------------------------------------------------

std::string human_ns(double ns) {
  if (ns < 1e3) return fmt::format("{:.1f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.2f} us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.2f} ms", ns / 1e6);
  return fmt::format("{:.2f} s", ns / 1e9);
}

std::string human_bytes(double b) {
  if (b < 1024) return fmt::format("{:.0f} B", b);
  if (b < 1024.0 * 1024) return fmt::format("{:.1f} KiB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
}

std::string machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::string model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
      break;
    }
  }
  return fmt::format("{}, {} hardware threads", model, std::thread::hardware_concurrency());
}

// A kTime or kBytes row's figures at one N: ns, or for kBytes bytes.
struct Row {
  const Registered* r;
  double std_value = 0;
  double cowdb_value = 0;
  double ratio() const { return cowdb_value / std_value; }
  const Target& target() const {
    return r->n >= 10 * kMillion && r->w->target_10m ? *r->w->target_10m : r->w->target;
  }
};

void print_cpu_share(const CollectingReporter& rep) {
  const double share = rep.cpu_share();
  fmt::print("cpu share: {:.0f}% of the timed wall time was on-CPU{}\n", share * 100,
             share >= 0.9 || rep.use_cpu_time()
                 ? ""
                 : " (the machine was busy: real-time medians are inflated; try --cpu-time)");
}

// C2 at one N: wall-clock time per commit with one thread and with two.
struct ScalingRow {
  std::size_t n = 0;
  double one_thread_ns = 0;
  double two_threads_ns = 0;
  double one_thread_cpu_share = 0;   // of one thread's time, on a CPU
  double two_threads_cpu_share = 0;  // of two threads' time, on a CPU
  double speedup() const { return one_thread_ns / two_threads_ns; }
};

// Prints the RESULT lines and the tables; returns the number of workloads without a result.
int print_targets(const CollectingReporter& rep, const std::vector<Registered>& runs, bool quick) {
  std::vector<Row> rows;
  std::vector<ScalingRow> c2_rows;
  struct C3Row {
    const Registered* r;
    C3Sample reuse, history;
  };
  std::vector<C3Row> c3_rows;
  int missing = 0;
  for (const Registered& r : runs) {
    switch (r.w->kind) {
      case Kind::kThreads: {  // wall clock whatever --cpu-time says: the CPU time of a
                              // multi-threaded run counts only its main thread
        const auto one = rep.median_ns(r.baseline, /*force_real=*/true);
        const auto two = rep.median_ns(r.cowdb, /*force_real=*/true);
        if (!one || !two) break;
        c2_rows.push_back({r.n, *one, *two, rep.cpu_share(r.baseline, 1).value_or(0),
                           rep.cpu_share(r.cowdb, 2).value_or(0)});
        continue;
      }
      case Kind::kCommits: {
        const auto reuse = g_c3.find({false, r.n});
        const auto hist = g_c3.find({true, r.n});
        if (reuse == g_c3.end() || hist == g_c3.end()) break;
        c3_rows.push_back({&r, median_c3(reuse->second), median_c3(hist->second)});
        continue;
      }
      case Kind::kBytes: {
        const auto extra = rep.counter(r.cowdb, "extra_bytes");
        const auto cross = rep.counter(r.cowdb, "reach_minus_base");
        if (!extra) break;
        if (cross && *cross != *extra) {
          fmt::print(stderr,
                     "warning: {} n={}: exclusive() says {} bytes, memory() - shared_with() {}\n",
                     r.w->id, r.n, *extra, *cross);
        }
        rows.push_back({&r, static_cast<double>(r.n * sizeof(std::int64_t) * kBranches), *extra});
        continue;
      }
      case Kind::kTime: {
        const auto s = rep.median_ns(r.baseline);
        const auto c = rep.median_ns(r.cowdb);
        if (!s || !c) break;
        rows.push_back({&r, *s, *c});
        continue;
      }
    }
    ++missing;  // a `break` above: no result
  }

  fmt::print("\n");
  for (const Row& row : rows) {
    const Workload& w = *row.r->w;
    const int digits = w.kind == Kind::kBytes ? 0 : 1;
    const bool keyed = std::string_view(w.variant).find('=') != std::string_view::npos;
    fmt::print("RESULT {} n={}{}{} std_ns={:.{}f} cowdb_ns={:.{}f} ratio={:.4g}{}{}\n", w.id,
               row.r->n, keyed ? " " : "", keyed ? w.variant : "", row.std_value, digits,
               row.cowdb_value, digits, row.ratio(),
               w.abs ? fmt::format(" abs={:.{}f}", row.cowdb_value, digits) : "",
               keyed || *w.variant == '\0' ? "" : fmt::format(" variant={}", w.variant));
  }
  for (const ScalingRow& r : c2_rows) {
    fmt::print(
        "RESULT C2 n={} one_thread_ns={:.1f} two_threads_ns={:.1f} speedup={:.3f} time=real "
        "one_thread_on_cpu={:.2f} two_threads_on_cpu={:.2f}\n",
        r.n, r.one_thread_ns, r.two_threads_ns, r.speedup(), r.one_thread_cpu_share,
        r.two_threads_cpu_share);
  }
  for (const C3Row& r : c3_rows) {
    fmt::print(
        "RESULT C3 n={} reuse_p50_ns={:.1f} history_p50_ns={:.1f} ratio={:.3f} "
        "reuse_p99_ns={:.1f} history_p99_ns={:.1f} reuse_faults_per_commit={:.3f} "
        "history_faults_per_commit={:.3f}\n",
        r.r->n, r.reuse.p50_ns, r.history.p50_ns, r.history.p50_ns / r.reuse.p50_ns, r.reuse.p99_ns,
        r.history.p99_ns, r.reuse.faults_per_commit, r.history.faults_per_commit);
  }

  fmt::print("\ncowdb vs std::vector<int64_t> — medians of the {} time per iteration\n",
             rep.use_cpu_time() ? "CPU" : "real");
  fmt::print("machine: {}\n", machine());
  print_cpu_share(rep);
  if (quick) fmt::print("(--quick: small N, short runs; the targets are for N = 1M / 10M)\n");
  fmt::print("{:<5} {:<6} {:>9} {:>12} {:>12} {:>10} {:>11} {:>10} {}\n", "id", "var", "n", "std",
             "cowdb", "ratio", "abs", "target", "");
  int misses = 0;
  for (const Row& row : rows) {
    const Workload& w = *row.r->w;
    const auto show = [&w](double v) {
      return w.kind == Kind::kBytes ? human_bytes(v) : human_ns(v);
    };
    const bool ok = row.target().met(row.ratio(), row.cowdb_value);
    misses += ok ? 0 : 1;
    fmt::print("{:<5} {:<6} {:>9} {:>12} {:>12} {:>9.3g}x {:>11} {:>10} {}\n", w.id,
               *w.variant != '\0' ? w.variant : "-", row.r->n, show(row.std_value),
               show(row.cowdb_value), row.ratio(), w.abs ? show(row.cowdb_value) : "-",
               row.target().text, ok ? "ok" : "MISS");
  }
  fmt::print("{} of {} targets met\n", rows.size() - static_cast<std::size_t>(misses), rows.size());
  for (const C3Row& r : c3_rows) {
    const bool ok = r.r->w->target.met(0, r.history.p50_ns) &&
                    r.history.faults_per_commit < kC3MaxFaultsPerCommit;
    fmt::print(
        "\nC3: 3-element commits on n={}, history kept vs memory reused (auto-prune to 1 "
        "version); medians over repetitions of each run's p50\n"
        "{:>9} {:>10} {:>10} {:>14}\n{:>9} {:>10} {:>10} {:>14.3f}\n{:>9} {:>10} {:>10} "
        "{:>14.3f}   target: {} {}\n",
        r.r->n, "", "p50", "p99", "faults/commit", "reuse", human_ns(r.reuse.p50_ns),
        human_ns(r.reuse.p99_ns), r.reuse.faults_per_commit, "history", human_ns(r.history.p50_ns),
        human_ns(r.history.p99_ns), r.history.faults_per_commit, r.r->w->target.text,
        ok ? "ok" : "MISS");
  }
  if (!c2_rows.empty()) {
    fmt::print(
        "\nC2: 1-element commits on 2 branches, from 1 thread (in turn) vs 2 threads (one per "
        "branch)\n"
        "wall-clock (real) time per commit, even with --cpu-time; no target (2 threads on {} "
        "hardware threads: at most {}x)\n",
        std::thread::hardware_concurrency(), std::min(2U, std::thread::hardware_concurrency()));
    fmt::print(
        "on-CPU: the share of the threads' wall time they ran (CPU / real time); at equal CPU "
        "time per commit the speed-up is 2 x (2 threads' share) / (1 thread's share)\n");
    fmt::print("{:>9} {:>12} {:>12} {:>9} {:>10} {:>10}\n", "n", "1 thread", "2 threads",
               "speed-up", "on-CPU 1t", "on-CPU 2t");
    for (const ScalingRow& r : c2_rows) {
      fmt::print("{:>9} {:>12} {:>12} {:>8.2f}x {:>9.0f}% {:>9.0f}%\n", r.n,
                 human_ns(r.one_thread_ns), human_ns(r.two_threads_ns), r.speedup(),
                 100 * r.one_thread_cpu_share, 100 * r.two_threads_cpu_share);
    }
  }
  return missing;
}

// Prints one SWEEP line per shape; returns the number of shapes with a missing result.
int print_sweep(const CollectingReporter& rep, const SweepPlan& plan) {
  const auto ns = [&rep](const std::string& name) { return rep.median_ns(name).value_or(0); };
  const auto ratio = [&ns](const std::string& cowdb, const std::string& base) {
    const double s = ns(base);
    return s > 0 ? ns(cowdb) / s : 0.0;
  };
  fmt::print(
      "\nSWEEP std n={} W2_iter_ns={:.0f} W2_chunk_ns={:.0f} W3_ns={:.0f} W4_ns={:.1f} "
      "W6_ns={:.0f} W7_ns={:.0f}\n",
      plan.n, ns(plan.w2_iter), ns(plan.w2_chunk), ns(plan.w3), ns(plan.w4), ns(plan.w6),
      ns(plan.w7));
  print_cpu_share(rep);
  int missing = 0;
  for (const Shape& s : plan.shapes) {
    for (const std::string* name : {&s.w2_iter, &s.w2_chunk, &s.w3, &s.w4, &s.w6, &s.w7, &s.m1}) {
      if (!rep.median_ns(*name)) ++missing;
    }
    fmt::print(
        "SWEEP chunk_bytes={} fanout={} chunk_elems={} n={} W2_iter_ratio={:.3f} "
        "W2_chunk_ratio={:.3f} W3_ratio={:.3f} W3_ns={:.0f} W4_ns={:.1f} W6_ratio={:.3f} "
        "W7_ratio={:.3f} M1_bytes={:.0f}\n",
        s.chunk_bytes, s.fanout, s.chunk_elems, plan.n, ratio(s.w2_iter, plan.w2_iter),
        ratio(s.w2_chunk, plan.w2_chunk), ratio(s.w3, plan.w3), ns(s.w3), ns(s.w4),
        ratio(s.w6, plan.w6), ratio(s.w7, plan.w7), rep.counter(s.m1, "extra_bytes").value_or(0));
  }
  return missing;
}

bool filtered() {
  const std::string f = benchmark::GetBenchmarkFilter();
  return !(f.empty() || f == "." || f == "all");
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_own_flags(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#ifndef NDEBUG
  fmt::print(stderr, "warning: cowdb_bench built without NDEBUG: asserts are on, times are slow\n");
#endif

  std::vector<Registered> runs;
  SweepPlan plan;
  if (cfg.sweep) {
    plan = register_sweep(cfg);
  } else {
    runs = register_targets(cfg);
  }

  CollectingReporter reporter(isatty(STDOUT_FILENO) != 0
                                  ? benchmark::ConsoleReporter::OO_ColorTabular
                                  : benchmark::ConsoleReporter::OO_Tabular,
                              cfg.cpu_time);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  std::fflush(stdout);

  const int missing =
      cfg.sweep ? print_sweep(reporter, plan) : print_targets(reporter, runs, cfg.quick);
  std::fflush(stdout);
  if (missing > 0 && !filtered()) {
    fmt::print(stderr, "error: {} workload(s) produced no result\n", missing);
    return 1;
  }
  return 0;
}
