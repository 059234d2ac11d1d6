// Fuzz target: the node loader (include/cowdb/internal/node_codec.h) on records it must not trust.
//
// The storage layer's checksums stop random corruption before the loader sees it; this target
// bypasses them, so that the loader's own checks are what stands between a bad record and
// undefined behaviour. One byte picks the element type (int64 rows, or std::string rows through
// cowdb::codec), the tree shape (2 rows per chunk, which makes deep relaxed trees, or 8, where a
// write to a shared chunk makes a patch record over it) and the mode:
// - mutate: a small history of versions (row operations: filter, set, insert, sort, concat) is
//   saved into in-memory records, then the fuzzer's bytes flip, overwrite, truncate, extend,
//   swap and duplicate records and change the recorded root, depth and size;
// - raw: every record and the root description come from the fuzzer's bytes.
// Then every version is loaded into one node table. Each load must return kDataLoss (naming the
// record) or a tree that passes check_invariants(), holds the recorded number of rows, and can be
// read end to end. With no mutation, every version must load equal to what was saved, rows and
// row ids. At the end every node must be freed.
//
// Builds: see tests/fuzz/CMakeLists.txt. A failed check prints what failed and aborts.
#include <FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/internal/node_codec.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "fuzz/fuzz_target.h"

namespace {

using cowdb::internal::node_ref;
using cowdb::internal::node_table;
using cowdb::internal::pvec_access;
using cowdb::internal::tree_rep;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "node_load_fuzz: %s\n", what.c_str());
  std::abort();
}

#define COWDB_FUZZ_CHECK(cond, ...)                                                     \
  do {                                                                                  \
    if (!(cond)) Fail(fmt::format("`{}` failed: {}", #cond, fmt::format(__VA_ARGS__))); \
  } while (false)

class MemoryIo final : public cowdb::internal::node_io {
 public:
  absl::StatusOr<node_ref> Write(std::string_view bytes) override {
    records.emplace_back(bytes);
    return node_ref{records.size()};
  }
  absl::StatusOr<std::string> Read(node_ref ref) override {
    if (ref == 0 || ref > records.size()) return absl::DataLossError(Describe(ref) + ": missing");
    return records[ref - 1];
  }
  std::string Describe(node_ref ref) const override { return fmt::format("record {}", ref); }
  std::vector<std::string> records;
};

struct Root {
  node_ref ref;
  unsigned depth;
  std::size_t size;
};

// Fan-out 4 and tiny chunks: at 2 rows, a few dozen rows make deep, relaxed trees; at 8 rows,
// writes to shared chunks make patches (of up to 2 rows) over them.
template <class T, std::size_t Cap>
using Vec = cowdb::pvec<T, Cap * sizeof(T), 4>;
template <class T, std::size_t Cap>
using Codec = cowdb::internal::tree_codec<T, Cap, 4>;

template <class T>
T Row(std::size_t i) {
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(i % 23, static_cast<char>('a' + i % 26));
  } else {
    return static_cast<T>(i * 37 % 101);
  }
}

template <class T, std::size_t Cap>
std::vector<Vec<T, Cap>> History(FuzzedDataProvider& in) {
  using V = Vec<T, Cap>;
  std::vector<T> rows;
  const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 80);
  for (std::size_t i = 0; i < n; ++i) rows.push_back(Row<T>(i));
  std::vector<V> vs{V(rows.begin(), rows.end())};
  const V v0 = vs[0];  // a copy (O(1)): push_back moves the elements of vs
  vs.push_back(v0.erase_if([](const T& x) { return x < Row<T>(40); }));
  if (!v0.empty()) {
    // Patches over v0's chunks (Cap 8): one row, then a second row of the same chunk, and a
    // write to a patched row; a third row of that chunk makes a plain copy.
    vs.push_back(v0.set(v0.size() / 2, Row<T>(7)));
    if (v0.size() >= 3) {
      vs.push_back(vs.back().set(v0.size() / 2 + 1, Row<T>(8)).set(v0.size() / 2, Row<T>(9)));
      vs.push_back(v0.set(0, Row<T>(10)).set(1, Row<T>(11)).set(2, Row<T>(12)));
    }
  }
  vs.push_back(vs.back().insert(vs.back().size() / 3, Row<T>(99)));
  vs.push_back(vs.back().sort());
  vs.push_back(vs[1] + vs[0]);
  if (vs.size() > 3) vs.push_back(vs[2] + vs[3]);  // patches of two versions in one tree
  return vs;
}

void Mutate(FuzzedDataProvider& in, std::vector<std::string>& records, std::vector<Root>& roots) {
  const int steps = in.ConsumeIntegralInRange(1, 8);
  for (int s = 0; s < steps && !records.empty() && in.remaining_bytes() > 0; ++s) {
    std::string& r = records[in.ConsumeIntegralInRange<std::size_t>(0, records.size() - 1)];
    switch (in.ConsumeIntegralInRange(0, 6)) {
      case 0:  // flip bits of one byte
        if (!r.empty())
          r[in.ConsumeIntegralInRange<std::size_t>(0, r.size() - 1)] ^= in.ConsumeIntegral<char>();
        break;
      case 1:  // overwrite a little-endian word
        if (r.size() >= 8) {
          const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, r.size() - 8);
          const std::uint64_t w = in.ConsumeIntegral<std::uint64_t>();
          for (int b = 0; b < 8; ++b) r[at + b] = static_cast<char>(w >> (8 * b));
        }
        break;
      case 2:  // truncate
        r.resize(in.ConsumeIntegralInRange<std::size_t>(0, r.size()));
        break;
      case 3:  // extend
        r += in.ConsumeBytesAsString(in.ConsumeIntegralInRange<std::size_t>(0, 16));
        break;
      case 4:  // replace with another record
        r = records[in.ConsumeIntegralInRange<std::size_t>(0, records.size() - 1)];
        break;
      case 5: {  // change a root
        Root& root = roots[in.ConsumeIntegralInRange<std::size_t>(0, roots.size() - 1)];
        root.ref = in.ConsumeIntegralInRange<node_ref>(0, records.size() + 1);
        root.depth = in.ConsumeIntegralInRange<unsigned>(0, 40);
        break;
      }
      default: {
        Root& root = roots[in.ConsumeIntegralInRange<std::size_t>(0, roots.size() - 1)];
        root.size = in.ConsumeIntegralInRange<std::size_t>(0, 1000);
        break;
      }
    }
  }
}

template <class T, std::size_t Cap>
void Run(FuzzedDataProvider& in, bool raw) {
  using V = Vec<T, Cap>;
  MemoryIo io;
  std::vector<V> saved;
  std::vector<Root> roots;
  if (raw) {
    const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, 32);
    for (std::size_t k = 0; k < n; ++k) io.records.push_back(in.ConsumeRandomLengthString(512));
    const std::size_t nroots = in.ConsumeIntegralInRange<std::size_t>(1, 4);
    for (std::size_t k = 0; k < nroots; ++k) {
      roots.push_back({in.ConsumeIntegralInRange<node_ref>(0, n + 1),
                       in.ConsumeIntegralInRange<unsigned>(0, 12),
                       in.ConsumeIntegralInRange<std::size_t>(0, 4096)});
    }
  } else {
    saved = History<T, Cap>(in);
    node_table table;
    for (const V& v : saved) {
      const tree_rep& r = pvec_access::rep(v);
      absl::StatusOr<node_ref> ref = Codec<T, Cap>::save(r, table, io);
      COWDB_FUZZ_CHECK(ref.ok(), "save: {}", ref.status().ToString());
      roots.push_back({*ref, r.depth, r.size});
    }
    table.commit();
  }
  const std::vector<std::string> clean = io.records;
  const std::vector<Root> clean_roots = roots;
  if (raw || in.ConsumeBool()) Mutate(in, io.records, roots);
  const bool untouched = !raw && io.records == clean && roots.size() == clean_roots.size() && [&] {
    for (std::size_t k = 0; k < roots.size(); ++k) {
      if (roots[k].ref != clean_roots[k].ref || roots[k].depth != clean_roots[k].depth ||
          roots[k].size != clean_roots[k].size) {
        return false;
      }
    }
    return true;
  }();

  node_table table;  // one table for all loads: shared nodes are found, not read again
  for (std::size_t k = 0; k < roots.size(); ++k) {
    const Root& root = roots[k];
    absl::StatusOr<tree_rep> r = Codec<T, Cap>::load(root.ref, root.depth, root.size, table, io);
    if (!r.ok()) {
      COWDB_FUZZ_CHECK(!untouched, "version {} of an untouched store: {}", k,
                       r.status().ToString());
      COWDB_FUZZ_CHECK(r.status().code() == absl::StatusCode::kDataLoss, "{}",
                       r.status().ToString());
      COWDB_FUZZ_CHECK(r.status().message().find("record") != std::string_view::npos ||
                           r.status().message().find("empty tree") != std::string_view::npos,
                       "{}", r.status().ToString());
      continue;
    }
    const V v = pvec_access::adopt<V>(*r);
    try {
      v.check_invariants();
    } catch (const std::exception& e) {
      Fail(fmt::format("version {} loaded with a broken tree: {}", k, e.what()));
    }
    COWDB_FUZZ_CHECK(v.size() == root.size, "version {}: {} rows, recorded {}", k, v.size(),
                     root.size);
    std::size_t seen = 0;
    v.for_each_chunk([&seen](const T* b, const T* e) { seen += static_cast<std::size_t>(e - b); });
    COWDB_FUZZ_CHECK(seen == v.size(), "version {}: chunks hold {} of {} rows", k, seen, v.size());
    if (untouched) {
      const V& want = saved[k];
      COWDB_FUZZ_CHECK(v.size() == want.size(), "version {} size", k);
      for (std::size_t i = 0; i < v.size(); ++i) {
        COWDB_FUZZ_CHECK(v[i] == want[i] && v.row_id(i) == want.row_id(i), "version {} row {}", k,
                         i);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::int64_t live_before = cowdb::internal::live_nodes();
  {
    FuzzedDataProvider in(data, size);
    const auto mode = in.ConsumeIntegral<std::uint8_t>();
    const bool raw = (mode & 1) != 0;
    const bool strings = (mode & 2) != 0, patches = (mode & 4) != 0;
    if (strings && patches) {
      Run<std::string, 8>(in, raw);
    } else if (strings) {
      Run<std::string, 2>(in, raw);
    } else if (patches) {
      Run<std::int64_t, 8>(in, raw);
    } else {
      Run<std::int64_t, 2>(in, raw);
    }
  }
  COWDB_FUZZ_CHECK(cowdb::internal::live_nodes() == live_before, "{} nodes leaked",
                   cowdb::internal::live_nodes() - live_before);
  return 0;
}
