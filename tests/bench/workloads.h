// The workloads of cowdb_bench: their fixtures and, for each, a std::vector<int64_t> baseline
// body `std_<id>` and a cowdb body `cowdb_<id>`, each `void(benchmark::State&, std::size_t n)`.
// cowdb_bench.cc lists them, with their targets, in its table of workloads. Header-only (the
// cowdb bodies are templates over the pvec shape for the sweep); included by cowdb_bench.cc only.
#ifndef COWDB_TESTS_BENCH_WORKLOADS_H_
#define COWDB_TESTS_BENCH_WORKLOADS_H_

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "cowdb/database.h"
#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"

namespace cowdb_bench {

using Vec = std::vector<std::int64_t>;
using Pvec = cowdb::pvec<std::int64_t>;

constexpr std::uint64_t kSeed = 0xC0DB'5EED'0000'0001ULL;
constexpr std::size_t kReads = 1'000'000;              // W3: random reads per iteration
constexpr std::size_t kWrites = std::size_t{1} << 16;  // W4, M1: precomputed write positions
constexpr std::size_t kWriteMask = kWrites - 1;
constexpr std::size_t kBranches = 100;  // M1
constexpr std::size_t kMillion = 1'000'000;

// ---- fixtures (built outside the timed loops, cached across repetitions) -----------------------

struct StdFixture {
  std::size_t n = 0;
  Vec vec;                          // vec[i] == i, so every write of a negative value changes it
  std::vector<std::size_t> reads;   // kReads uniform indices in [0, n)   (W3)
  std::vector<std::size_t> writes;  // kWrites uniform indices in [0, n)  (W4, M1)
};

// The std fixture for n; rebuilding it (a new n) invalidates the previous one.
inline const StdFixture& std_fixture(std::size_t n) {
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
inline void (*g_drop_pvec_fixture)() = nullptr;

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

inline std::int64_t write_value(std::size_t k) { return -static_cast<std::int64_t>(k) - 1; }

// A heavily relaxed pvec equal to std_fixture(n).vec: a concatenation of n / 1000 slices of
// random lengths (mean 1000 elements) of the push_back-built fixture, so almost every leaf is
// partly filled and every inner node keeps a size table. W2 and W3 on it ("relaxed" variants)
// show what structural edits cost the scans and random reads that follow them.
inline const Pvec& relaxed_fixture(std::size_t n) {
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

inline void std_w1(benchmark::State& st, std::size_t n) {
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

inline void std_w2_iter(benchmark::State& st, std::size_t n) {
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

inline void std_w2_chunk(benchmark::State& st, std::size_t n) {
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

// The range-for over chunks(): one span per leaf, each a plain array loop.
template <class V, const V& (*Fixture)(std::size_t) = pvec_fixture<V>>
void cowdb_w2_spans(benchmark::State& st, std::size_t n) {
  const V& v = Fixture(n);
  for (auto _ : st) {
    std::int64_t sum = 0;
    for (std::span<const std::int64_t> chunk : v.chunks()) {
      for (std::int64_t x : chunk) sum += x;
    }
    benchmark::DoNotOptimize(sum);
  }
  st.SetItemsProcessed(st.iterations() * static_cast<std::int64_t>(n));
}

// ---- W3: 1M random reads -----------------------------------------------------------------------

inline void std_w3(benchmark::State& st, std::size_t n) {
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

inline void std_w4(benchmark::State& st, std::size_t n) {
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

inline void std_w6(benchmark::State& st, std::size_t n) {
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

inline void std_w7(benchmark::State& st, std::size_t n) {
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

// ---- M2: bytes a version keeps per written row --------------------------------------------------

constexpr std::size_t kM2Writes = 1000;

// Times making (and dropping) one version with kM2Writes random writes through an editor (W5's
// writes, without the database); reports the bytes it holds alone (exclusive()) per written row,
// against a deep copy's bytes per written row (the std::vector way to keep such a version).
template <class V>
void cowdb_m2(benchmark::State& st, std::size_t n) {
  const V& base = pvec_fixture<V>(n);
  const std::size_t* idx = std_fixture(n).writes.data();
  auto make = [&base, idx] {
    auto e = base.transient();
    for (std::size_t k = 0; k < kM2Writes; ++k) e.set(idx[k], write_value(k));
    return std::move(e).persistent();
  };
  for (auto _ : st) {
    V v = make();
    benchmark::DoNotOptimize(&v);
    benchmark::ClobberMemory();
  }
  static std::map<std::size_t, M1Bytes> cache;  // shared_with() is O(n): measure once per n
  auto it = cache.find(n);
  if (it == cache.end()) {
    const V v = make();
    M1Bytes m;
    m.extra = static_cast<double>(v.exclusive().bytes) / kM2Writes;
    m.cross_check = static_cast<double>(v.memory().bytes - v.shared_with(base).bytes) / kM2Writes;
    it = cache.emplace(n, m).first;
  }
  st.counters["extra_bytes"] = it->second.extra;
  st.counters["reach_minus_base"] = it->second.cross_check;
  st.counters["deep_bytes"] = static_cast<double>(n * sizeof(std::int64_t)) / kM2Writes;
}

// ---- W8: diff of two versions differing in k elements -------------------------------------------

// The fixture's vector and a version of it with k random elements changed (cached per n and k).
struct DiffFixture {
  Vec changed;  // std: the second vector
  Pvec other;   // cowdb: the second version, sharing every unchanged chunk with the fixture
};
inline const DiffFixture& diff_fixture(std::size_t n, std::size_t k) {
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

// ---- MERGE: three-way merge of two branches each changing 1% of the chunks ----------------------

// Branch `seed` of the fixture with one element changed in each of 1% of the chunks.
inline Pvec one_percent_branch(std::size_t n, std::uint64_t seed) {
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
inline void std_merge(benchmark::State& st, std::size_t n) {
  const Vec& base = std_fixture(n).vec;
  const Pvec a = one_percent_branch(n, 1), b = one_percent_branch(n, 2);
  const Vec ours(a.begin(), a.end()), theirs(b.begin(), b.end());
  for (auto _ : st) {
    Vec out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = ours[i] == base[i] ? theirs[i] : ours[i];
    benchmark::DoNotOptimize(out.data());
  }
}

inline void cowdb_merge(benchmark::State& st, std::size_t n) {
  const Pvec& base = pvec_fixture<Pvec>(n);
  const Pvec ours = one_percent_branch(n, 1), theirs = one_percent_branch(n, 2);
  for (auto _ : st) {
    auto r = cowdb::merge(base, ours, theirs);
    if (!r.ok()) st.SkipWithError("unexpected conflict");
    benchmark::DoNotOptimize(r.merged().identity());
  }
}

// ---- R1..R4: row operations (a 1% filter, its diff, its merge with 50 fixes, a sort) ------------

// Whether row x goes in the 1% filter: a hash of the value, so the removed rows are spread at
// random (about 1 in 100) and the same for std and cowdb.
inline bool filtered(std::int64_t x) {
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
inline const RowFixture& row_fixture(std::size_t n) {
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

inline void std_r1(benchmark::State& st,
                   std::size_t n) {  // std::erase_if on a copy (copy included)
  const Vec& src = std_fixture(n).vec;
  for (auto _ : st) {
    Vec v = src;
    std::erase_if(v, filtered);
    benchmark::DoNotOptimize(v.data());
  }
}
inline void cowdb_r1(benchmark::State& st, std::size_t n) {
  const Pvec& src = pvec_fixture<Pvec>(n);
  for (auto _ : st) {
    Pvec v = src.erase_if(filtered);
    benchmark::DoNotOptimize(v.identity());
  }
}

// Baseline of R2 and R3: what finding the removed rows costs without cowdb, a linear walk of the
// two std::vectors (the rows are in order; a row missing from the second was removed).
inline void std_r2(benchmark::State& st, std::size_t n) {
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
inline void cowdb_r2(benchmark::State& st, std::size_t n) {
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
inline void cowdb_r3(benchmark::State& st, std::size_t n) {
  const Pvec& base = pvec_fixture<Pvec>(n);
  const RowFixture& f = row_fixture(n);
  for (auto _ : st) {
    auto r = cowdb::merge(base, f.filter, f.fixes);
    if (!r.ok() || r.merged().size() != f.filter.size()) st.SkipWithError("unexpected merge");
    benchmark::DoNotOptimize(r.merged().identity());
  }
}

// R4: sorting random rows into a new version; baseline std::sort of a copy (copy included).
inline const Vec& random_rows(std::size_t n) {
  static Vec v;
  if (v.size() != n) {
    v.resize(n);
    std::mt19937_64 rng(kSeed + 4);
    for (std::int64_t& x : v) x = static_cast<std::int64_t>(rng() >> 1);
  }
  return v;
}
inline void std_r4(benchmark::State& st, std::size_t n) {
  const Vec& src = random_rows(n);
  for (auto _ : st) {
    Vec v = src;
    std::sort(v.begin(), v.end());
    benchmark::DoNotOptimize(v.data());
  }
}
inline void cowdb_r4(benchmark::State& st, std::size_t n) {
  const Pvec src(random_rows(n));
  for (auto _ : st) {
    Pvec v = src.sort();
    benchmark::DoNotOptimize(v.identity());
  }
}

// ---- F1..F5: structural edits (insert, erase, concat, slice) and a diff across shifts -----------

// Positions in the middle half, varied per iteration so that no two iterations hit the same chunk.
inline std::size_t middle(std::size_t n, std::size_t k) { return n / 4 + (k * 7919) % (n / 2); }

inline void std_f1(benchmark::State& st, std::size_t n) {
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
inline void cowdb_f1(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  std::size_t k = 0;
  for (auto _ : st) {
    const std::size_t i = middle(n, k++);
    Pvec w = v.insert(i, write_value(k));
    benchmark::DoNotOptimize(w.identity());
  }
}
inline void std_f2(benchmark::State& st, std::size_t n) {
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
inline void cowdb_f2(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  std::size_t k = 0;
  for (auto _ : st) {
    Pvec w = v.erase(middle(n, k++));
    benchmark::DoNotOptimize(w.identity());
  }
}
inline void std_f3(benchmark::State& st, std::size_t n) {
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
inline void cowdb_f3(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  // Halves that do not split at a chunk boundary, so the seam is a real one.
  const Pvec a = v.take(n / 2 + 3), b = v.drop(n / 2 + 3);
  for (auto _ : st) {
    Pvec c = a + b;
    benchmark::DoNotOptimize(c.identity());
  }
}
inline void std_f4(benchmark::State& st, std::size_t n) {
  const Vec& v = std_fixture(n).vec;
  for (auto _ : st) {
    Vec c(v.begin() + static_cast<std::ptrdiff_t>(n / 4 + 1),
          v.begin() + static_cast<std::ptrdiff_t>(3 * n / 4 + 1));
    benchmark::DoNotOptimize(c.data());
  }
}
inline void cowdb_f4(benchmark::State& st, std::size_t n) {
  const Pvec& v = pvec_fixture<Pvec>(n);
  for (auto _ : st) {
    Pvec c = v.slice(n / 4 + 1, 3 * n / 4 + 1);
    benchmark::DoNotOptimize(c.identity());
  }
}
// The fixture after 10 inserts and 10 erases at random positions.
inline const Pvec& shifted_fixture(std::size_t n) {
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
inline void std_f5(benchmark::State& st, std::size_t n) {  // a linear scan for the first difference
  const Vec& a = std_fixture(n).vec;
  const Pvec& s = shifted_fixture(n);
  const Vec b(s.begin(), s.end());
  for (auto _ : st) {
    std::size_t differing = 0;
    for (std::size_t i = 0; i < n; ++i) differing += a[i] != b[i] ? 1 : 0;
    benchmark::DoNotOptimize(differing);
  }
}
inline void cowdb_f5(benchmark::State& st, std::size_t n) {
  const Pvec& a = pvec_fixture<Pvec>(n);
  const Pvec& b = shifted_fixture(n);
  for (auto _ : st) {
    const auto d = cowdb::diff(a, b);
    if (d.inserted_count() + d.erased_count() > 40) st.SkipWithError("diff is not local");
    benchmark::DoNotOptimize(d.changed_count());
  }
}

// ---- SNAP: open a snapshot of a branch and get its dataset --------------------------------------

inline void cowdb_snap(benchmark::State& st, std::size_t n);

// ---- W5 and C1: transactions on the database ----------------------------------------------------

// A database whose "main" holds the fixture as dataset "x"; retention keeps one version per
// branch and the benchmark prunes every kPruneEvery commits (part of the measured cost).
constexpr std::size_t kPruneEvery = 1024;
inline std::unique_ptr<cowdb::Database> bench_database(std::size_t n) {
  auto db = cowdb::Database::Open(cowdb::Options{.keep_last_versions = 1});
  cowdb::Transaction t = *db->Begin("main");
  (void)t.Create<std::int64_t>("x", pvec_fixture<Pvec>(n));
  (void)t.Commit("load");
  return db;
}

// W5 baseline: the same 1,000 writes into a std::vector.
inline void std_w5(benchmark::State& st, std::size_t n) {
  const StdFixture& f = std_fixture(n);
  Vec vec = f.vec;
  std::size_t k = 0;
  for (auto _ : st) {
    for (std::size_t j = 0; j < 1000; ++j, ++k) vec[f.writes[k & kWriteMask]] = write_value(k);
    benchmark::DoNotOptimize(vec.data());
  }
}

inline void cowdb_w5(benchmark::State& st, std::size_t n) {
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

inline void cowdb_snap(benchmark::State& st, std::size_t n) {
  auto db = bench_database(n);
  for (auto _ : st) {
    absl::StatusOr<cowdb::Snapshot> s = db->OpenSnapshot("main");
    absl::StatusOr<Pvec> x = s->Get<std::int64_t>("x");
    benchmark::DoNotOptimize(x->identity());
  }
}

inline void cowdb_c1(benchmark::State& st, std::size_t n) {
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

// ---- C2: C1's commits on two branches, from one thread vs. from two threads ---------------------

// bench_database(n) plus branch "b" at main's head: both branches start sharing every chunk.
constexpr const char* kC2Branches[2] = {"main", "b"};
inline std::unique_ptr<cowdb::Database> c2_database(std::size_t n) {
  auto db = bench_database(n);
  (void)db->CreateBranch(kC2Branches[1], kC2Branches[0]);
  return db;
}

// One 1-element transaction on `branch`, committed; `k` counts this caller's commits.
inline bool c2_commit(cowdb::Database& db, const char* branch, const std::size_t* writes,
                      std::size_t k) {
  absl::StatusOr<cowdb::Transaction> t = db.Begin(branch);
  if (!t.ok()) return false;
  (*t->Edit<std::int64_t>("x"))->set(writes[k & kWriteMask], write_value(k));
  if (!t->Commit("c2").ok()) return false;
  if ((k + 1) % kPruneEvery == 0) db.Prune();
  return true;
}

// One thread commits on the two branches in turn.
inline void cowdb_c2_one_thread(benchmark::State& st, std::size_t n) {
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
inline cowdb::Database* g_c2_db = nullptr;

inline void cowdb_c2_two_threads(benchmark::State& st, std::size_t n) {
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

// ---- C3: 3-element commits on 1M with history kept, against the same loop reusing memory --------

// What one C3 run measured: the median commit (each commit timed on its own) and the page
// faults per commit (getrusage minor + major faults over the timed loop).
constexpr benchmark::IterationCount kC3Commits = 20000;  // per repetition
struct C3Sample {
  double p50_ns = 0;
  double p99_ns = 0;
  double faults_per_commit = 0;
};
// One sample per repetition, by (kHistory, n).
inline std::map<std::pair<bool, std::size_t>, std::vector<C3Sample>> g_c3;

inline long process_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt + u.ru_majflt;
}

// The median of each figure over the repetitions.
inline C3Sample median_c3(std::vector<C3Sample> v) {
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
    ns.push_back(
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
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

}  // namespace cowdb_bench

#endif  // COWDB_TESTS_BENCH_WORKLOADS_H_
