// cowdb_bench: the DESIGN.md targets, each measured against std::vector<int64_t> in the same run.
//
//   cowdb_bench [--quick] [--sweep] [--cpu-time] [Google Benchmark flags, e.g.
//               --benchmark_filter=W3]
//
//   (default)  W1-W8, M1, M2, C1, C2, SNAP, MERGE, R1-R4 at N = 1M and 10M (W8, MERGE, R1-R4: 10M),
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
// relaxed vector (relaxed_fixture; no target, the figure documents the cost). For M1 and M2 the
// std_ns / cowdb_ns columns hold bytes: 100 deep copies vs. the extra bytes of 100 one-element
// branches (M1); a deep copy's bytes per written row vs. the bytes a version made by 1,000
// random writes holds alone, per written row (M2). C2 (C1's commits on two branches of one
// database, from one thread in turn vs. from two threads, one per branch) has its own line,
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
//
// Each workload is one row of kWorkloads below (its bodies, target and how it is reported);
// registration, the RESULT lines and the tables are generated from that table. The bodies and
// their fixtures are in workloads.h, the reporter that collects the medians in
// collecting_reporter.h.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "collecting_reporter.h"
#include "fmt/format.h"
#include "workloads.h"

namespace cowdb_bench {
namespace {

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

// ---- the workloads: one row each ----------------------------------------------------------------

using Body = void (*)(benchmark::State&, std::size_t);

// How a row's two bodies are measured and reported.
enum class Kind {
  kTime,   // median time per iteration of each: a `RESULT <id>` line and a row of the target table
  kBytes,  // M1, M2: the cowdb body's extra_bytes counter against its deep_bytes counter
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
    // The range interface issue 17 asks of W2 iter: a range-for over chunks()' spans, against the
    // range-for over the std::vector.
    {.id = "W2", .variant = "spans", .what = "sum by range-for over chunks()",
     .baseline = std_w2_iter, .cowdb = cowdb_w2_spans<Pvec>, .target = Ratio(1.2, "<= 1.2x")},
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
    {.id = "M2", .what = "bytes a 1,000-write version keeps per written row vs. a deep copy's",
     .baseline = nullptr, .cowdb = cowdb_m2<Pvec>, .kind = Kind::kBytes, .abs = true,
     .target = kNoTarget},
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

// ---- the RESULT lines and tables ----------------------------------------------------------------

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
        const auto deep = rep.counter(r.cowdb, "deep_bytes");
        if (!deep) break;
        rows.push_back({&r, *deep, *extra});
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
  // Rows without a target (kNoTarget) are reported but not counted.
  const auto with_target = std::count_if(rows.begin(), rows.end(), [](const Row& row) {
    return row.target().on != Target::On::kNothing;
  });
  fmt::print("{} of {} targets met\n", with_target - misses, with_target);
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

// The whole program; main() only calls it.
int Main(int argc, char** argv) {
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

}  // namespace
}  // namespace cowdb_bench

int main(int argc, char** argv) { return cowdb_bench::Main(argc, argv); }
