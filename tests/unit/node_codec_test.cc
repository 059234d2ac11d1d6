// The node codec (include/cowdb/internal/node_codec.h): trees saved and loaded back equal, with
// their row ids and their sharing; saves write only new nodes; every single-byte corruption and
// every truncation of every record is kDataLoss or a valid tree, never undefined behaviour; a
// failed write leaves nothing half-recorded.
#include "cowdb/internal/node_codec.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/diff.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace cowdb::internal {
namespace {

// Records in memory: ref k is records[k - 1]. Write fails on call number fail_at (1-based).
class MemoryIo final : public node_io {
 public:
  absl::StatusOr<node_ref> Write(std::string_view bytes) override {
    if (++writes == fail_at) return absl::UnavailableError("injected write failure");
    records.emplace_back(bytes);
    return node_ref{records.size()};
  }
  absl::StatusOr<std::string> Read(node_ref ref) override {
    ++reads;
    if (ref == 0 || ref > records.size()) {
      return absl::DataLossError(fmt::format("record {} does not exist", ref));
    }
    return records[ref - 1];
  }
  std::string Describe(node_ref ref) const override { return fmt::format("record {}", ref); }

  std::vector<std::string> records;
  int writes = 0;
  int fail_at = -1;
  int reads = 0;
};

// Tiny chunks and fan-out 4, so that a few hundred rows make a deep, relaxed tree.
using Vec = pvec<std::int64_t, 16, 4>;  // 2 rows per chunk
using Codec = tree_codec<std::int64_t, 2, 4>;
using StrVec = pvec<std::string, 2 * sizeof(std::string), 4>;
using StrCodec = tree_codec<std::string, 2, 4>;

template <class V>
struct Stored {
  node_ref root;
  unsigned depth;
  std::size_t size;
};

template <class C, class V>
Stored<V> Save(const V& v, node_table& table, MemoryIo& io) {
  const tree_rep& r = pvec_access::rep(v);
  absl::StatusOr<node_ref> ref = C::save(r, table, io);
  REQUIRE(ref.ok());
  table.commit();
  return {*ref, r.depth, r.size};
}

template <class C, class V>
absl::StatusOr<V> Load(const Stored<V>& s, node_table& table, MemoryIo& io) {
  absl::StatusOr<tree_rep> r = C::load(s.root, s.depth, s.size, table, io);
  if (!r.ok()) return r.status();
  return pvec_access::adopt<V>(*r);
}

template <class V>
void RequireSameRows(const V& a, const V& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i] == b[i]);
    REQUIRE(a.row_id(i) == b.row_id(i));
  }
}

template <class V>
std::unordered_set<const void*> Nodes(const V& v) {
  std::unordered_set<const void*> out;
  pvec_access::visit_nodes(v, [&out](const void* n, std::size_t) { return out.insert(n).second; });
  return out;
}

template <class V>
std::size_t CommonNodes(const V& a, const V& b) {
  const auto na = Nodes(a);
  std::size_t common = 0;
  for (const void* n : Nodes(b)) common += na.contains(n) ? 1 : 0;
  return common;
}

// A few versions of a history made of the row operations: rows loaded, some erased, one set,
// rows inserted, a sort: relaxed nodes, id lists and shared subtrees.
std::vector<Vec> History() {
  std::vector<Vec> vs;
  std::vector<std::int64_t> rows(300);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i * 7 % 101);
  vs.emplace_back(rows.begin(), rows.end());
  vs.push_back(vs.back().erase_if([](std::int64_t x) { return x % 5 == 0; }));
  vs.push_back(vs.back().set(17, -1));
  vs.push_back(vs.back().insert(40, std::int64_t{1000}));
  vs.push_back(vs.back().sort());
  vs.push_back(vs[0] + vs[2]);
  return vs;
}

// Saves every version of vs (one table), loads them back (another table, so the loads share what
// the saves shared) and checks each: invariants, rows and ids, and which nodes each pair of
// versions shares. Returns the loaded versions.
template <class C, class V>
std::vector<V> RoundTrip(const std::vector<V>& vs, MemoryIo& io) {
  std::vector<Stored<V>> stored;
  {
    node_table table;
    for (const V& v : vs) stored.push_back(Save<C>(v, table, io));
  }
  node_table loaded_table;
  std::vector<V> loaded;
  for (const auto& s : stored) {
    absl::StatusOr<V> v = Load<C>(s, loaded_table, io);
    REQUIRE(v.ok());
    v->check_invariants();
    loaded.push_back(*v);
  }
  for (std::size_t k = 0; k < vs.size(); ++k) {
    INFO("version " << k);
    RequireSameRows(vs[k], loaded[k]);
    for (std::size_t j = 0; j < vs.size(); ++j) {
      INFO("and version " << j);
      REQUIRE(CommonNodes(vs[k], vs[j]) == CommonNodes(loaded[k], loaded[j]));
    }
  }
  return loaded;
}

TEST_CASE("node codec: versions round trip with their rows, ids and sharing", "[storage]") {
  const std::int64_t live_before = live_nodes();
  {
    const std::vector<Vec> vs = History();
    MemoryIo io;
    const std::vector<Vec> loaded = RoundTrip<Codec>(vs, io);
    // Row identity survives: the diff of the filter names exactly the rows it removed.
    const auto d = cowdb::diff(loaded[0], loaded[1]);
    // i * 7 % 101 takes every residue once per 101 rows: 21 multiples of 5 in rows 0..100 and
    // 101..201; rows 202..299 miss residues 80, 87 and 94, so 20 there.
    REQUIRE(d.erased_count() == 62);
    REQUIRE(d.modified_count() == 0);
    REQUIRE(d.inserted_count() == 0);
  }
  REQUIRE(live_nodes() == live_before);
}

TEST_CASE("node codec: a save writes only the nodes no earlier save wrote", "[storage]") {
  std::vector<std::int64_t> rows(1000);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  const Vec a(rows.begin(), rows.end());
  const Vec b = a.set(500, -5);
  MemoryIo io;
  node_table table;
  Save<Codec>(a, table, io);
  const std::size_t after_a = io.records.size();
  REQUIRE(after_a == Nodes(a).size());
  Save<Codec>(b, table, io);
  // One leaf and the inner nodes above it: depth + 1 records.
  REQUIRE(io.records.size() - after_a == pvec_access::rep(b).depth + 1);
  Save<Codec>(b, table, io);
  REQUIRE(io.records.size() - after_a == pvec_access::rep(b).depth + 1);
}

TEST_CASE("node codec: elements with a codec (std::string) round trip", "[storage]") {
  const std::int64_t live_before = live_nodes();
  {
    std::vector<std::string> rows;
    for (int i = 0; i < 200; ++i)
      rows.push_back(std::string(static_cast<std::size_t>(i % 40), 'a' + i % 26));
    const StrVec a(rows.begin(), rows.end());
    const StrVec b = a.erase_if([](const std::string& s) { return s.size() % 3 == 0; });
    MemoryIo io;
    Stored<StrVec> sa, sb;
    {
      node_table table;
      sa = Save<StrCodec>(a, table, io);
      sb = Save<StrCodec>(b, table, io);
    }
    node_table table;
    absl::StatusOr<StrVec> la = Load<StrCodec>(sa, table, io);
    absl::StatusOr<StrVec> lb = Load<StrCodec>(sb, table, io);
    REQUIRE(la.ok());
    REQUIRE(lb.ok());
    RequireSameRows(a, *la);
    RequireSameRows(b, *lb);
    REQUIRE(CommonNodes(*la, *lb) == CommonNodes(a, b));
  }
  REQUIRE(live_nodes() == live_before);
}

// Loads `s` from copies of `clean` with each byte of record r flipped (four masks) and with the
// record cut at each length: each load is kDataLoss naming a record (counted in `errors`) or a
// valid tree of `size` rows (`valid`); each cut fails, since every record's length is exact.
template <class C, class V>
void CorruptEachWay(const MemoryIo& clean, std::size_t r, const Stored<V>& s, std::size_t size,
                    std::size_t& errors, std::size_t& valid) {
  auto try_load = [&](MemoryIo& io) {
    node_table table;
    absl::StatusOr<V> got = Load<C>(s, table, io);
    if (!got.ok()) {
      REQUIRE(got.status().code() == absl::StatusCode::kDataLoss);
      REQUIRE(got.status().message().find("record ") != std::string_view::npos);
      ++errors;
      return;
    }
    got->check_invariants();  // a flipped element byte, id or slot is still a valid tree
    REQUIRE(got->size() == size);
    ++valid;
  };
  for (std::size_t i = 0; i < clean.records[r].size(); ++i) {
    for (const unsigned char mask : {0x01, 0x02, 0x80, 0xff}) {
      MemoryIo io = clean;
      io.records[r][i] = static_cast<char>(io.records[r][i] ^ mask);
      try_load(io);
    }
  }
  for (std::size_t len = 0; len < clean.records[r].size(); ++len) {
    MemoryIo io = clean;
    io.records[r].resize(len);
    const std::size_t errors_before = errors;
    try_load(io);
    REQUIRE(errors == errors_before + 1);
  }
}

TEST_CASE("node codec: every byte flip and truncation is kDataLoss or a valid tree", "[storage]") {
  const std::int64_t live_before = live_nodes();
  {
    std::vector<std::int64_t> rows(40);
    for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
    const Vec base(rows.begin(), rows.end());
    const Vec v = base.erase(3, 7).insert(20, std::int64_t{77}).sort(std::greater<>());
    MemoryIo clean;
    Stored<Vec> s;
    {
      node_table table;
      s = Save<Codec>(v, table, clean);
    }
    std::size_t errors = 0, valid = 0;
    for (std::size_t r = 0; r < clean.records.size(); ++r) {
      CorruptEachWay<Codec>(clean, r, s, v.size(), errors, valid);
    }
    REQUIRE(errors > 0);
    REQUIRE(valid > 0);
  }
  REQUIRE(live_nodes() == live_before);
}

TEST_CASE("node codec: a failed write at any point leaves the table as it was", "[storage]") {
  const std::int64_t live_before = live_nodes();
  {
    const std::vector<Vec> vs = History();
    for (int k = 1;; ++k) {
      INFO("write " << k << " fails");
      MemoryIo io;
      node_table table;
      Save<Codec>(vs[0], table, io);
      const std::size_t entries = table.size();
      io.fail_at = io.writes + k;
      absl::StatusOr<node_ref> r = Codec::save(pvec_access::rep(vs[4]), table, io);
      if (r.ok()) {
        table.commit();
        break;
      }
      REQUIRE(r.status().code() == absl::StatusCode::kUnavailable);
      table.rollback();
      REQUIRE(table.size() == entries);
      // The next save writes what the failed one could not, and the result loads back whole.
      io.fail_at = -1;
      const Stored<Vec> s = Save<Codec>(vs[4], table, io);
      node_table fresh;
      absl::StatusOr<Vec> got = Load<Codec>(s, fresh, io);
      REQUIRE(got.ok());
      RequireSameRows(vs[4], *got);
    }
  }
  REQUIRE(live_nodes() == live_before);
}

TEST_CASE("node codec: a node referenced at two levels, or a missing one, is kDataLoss",
          "[storage]") {
  std::vector<std::int64_t> rows(64);
  const Vec v(rows.begin(), rows.end());
  MemoryIo io;
  Stored<Vec> s;
  {
    node_table table;
    s = Save<Codec>(v, table, io);
  }
  REQUIRE(s.depth >= 2);
  node_table table;
  // The root read as a tree one level shallower.
  absl::StatusOr<Vec> wrong_depth =
      Load<Codec>(Stored<Vec>{s.root, s.depth - 1, s.size}, table, io);
  REQUIRE(wrong_depth.status().code() == absl::StatusCode::kDataLoss);
  // A size that does not match.
  absl::StatusOr<Vec> wrong_size = Load<Codec>(Stored<Vec>{s.root, s.depth, s.size + 1}, table, io);
  REQUIRE(wrong_size.status().code() == absl::StatusCode::kDataLoss);
  REQUIRE(wrong_size.status().message().find("recorded as 65") != std::string_view::npos);
  // A ref past the store.
  absl::StatusOr<Vec> missing = Load<Codec>(Stored<Vec>{999, s.depth, s.size}, table, io);
  REQUIRE(missing.status().code() == absl::StatusCode::kDataLoss);
  // After the failures, the right description still loads (the table kept only sound nodes).
  absl::StatusOr<Vec> good = Load<Codec>(s, table, io);
  REQUIRE(good.ok());
  RequireSameRows(v, *good);
}

// ---- patches (node.h): stored as patches over the leaf record they share ------------------------

// 8 rows per chunk: a patch holds up to 2 replaced rows.
using PVec = pvec<std::int64_t, 64, 4>;
using PCodec = tree_codec<std::int64_t, 8, 4>;
using PStrVec = pvec<std::string, 8 * sizeof(std::string), 4>;
using PStrCodec = tree_codec<std::string, 8, 4>;
static_assert(rbtree<std::int64_t, 8, 4>::patching && rbtree<std::int64_t, 8, 4>::patch_cap == 2);

// A base and versions with one and two writes to one chunk (patches), three writes (a patch is
// full: a copied chunk), and a patch of a patch's version concatenated with the base.
template <class V, class Make>
std::vector<V> PatchedHistory(Make make) {
  std::vector<V> vs;
  V base;
  for (int i = 0; i < 100; ++i) base = std::move(base).push_back(make(i));
  vs.push_back(base);
  vs.push_back(base.set(10, make(-1)));
  vs.push_back(vs.back().set(13, make(-2)));
  vs.push_back(vs.back().set(12, make(-3)));
  vs.push_back(vs[1].set(50, make(-4)) + base);
  return vs;
}

template <class C, class V>
void RoundTripPatches(const std::vector<V>& vs) {
  REQUIRE(vs[1].memory().patches == 1);
  REQUIRE(vs[2].memory().patches == 1);
  REQUIRE(vs[3].memory().patches == 0);  // the third write to the chunk copied it
  REQUIRE(vs[4].memory().patches == 2);
  MemoryIo io;
  const std::vector<V> loaded = RoundTrip<C>(vs, io);
  // A patch is one small record over its leaf's: the write of version 1 added a patch record
  // and the inner nodes above it, not a leaf.
  std::size_t patch_records = 0;
  for (const std::string& r : io.records) patch_records += r[0] == 'P' ? 1 : 0;
  REQUIRE(patch_records == 3);  // v1's, v2's and v4's second (v4's first is v1's, saved once)
  for (std::size_t k = 0; k < vs.size(); ++k) REQUIRE(loaded[k].memory() == vs[k].memory());
  // Loading computes the hint that lets reads skip the patch check (tree_rep::patch_free) from
  // the nodes: v3 gets it back (in memory it was lost with v2's patch, which v3's write copied).
  const auto hint = [](const V& v) { return cowdb::internal::pvec_access::rep(v).patch_free; };
  REQUIRE(!cowdb::internal::pvec_access::rep(vs[3]).patch_free);
  const bool want[] = {true, false, false, true, false};
  for (std::size_t k = 0; k < vs.size(); ++k) {
    INFO("version " << k);
    REQUIRE(hint(loaded[k]) == want[k]);
    loaded[k].check_invariants();
  }
}

TEST_CASE("node codec: patches round trip as patches, sharing their leaf", "[storage]") {
  const std::int64_t live_before = live_nodes();
  RoundTripPatches<PCodec>(PatchedHistory<PVec>([](int i) { return std::int64_t{i}; }));
  RoundTripPatches<PStrCodec>(
      PatchedHistory<PStrVec>([](int i) { return fmt::format("row {:03}", i); }));
  REQUIRE(live_nodes() == live_before);
}

TEST_CASE("node codec: every byte flip and truncation of patches is kDataLoss or valid",
          "[storage]") {
  const std::int64_t live_before = live_nodes();
  {
    const std::vector<PVec> vs = PatchedHistory<PVec>([](int i) { return std::int64_t{i}; });
    const PVec& v = vs[4];
    MemoryIo clean;
    Stored<PVec> s;
    {
      node_table table;
      s = Save<PCodec>(v, table, clean);
    }
    std::size_t errors = 0, valid = 0, patches = 0;
    for (std::size_t r = 0; r < clean.records.size(); ++r) {
      if (clean.records[r][0] != 'P') continue;
      ++patches;
      CorruptEachWay<PCodec>(clean, r, s, v.size(), errors, valid);
      // The patch's leaf reference pointed at the patch itself, or at another patch.
      for (std::size_t other = 0; other < clean.records.size(); ++other) {
        if (clean.records[other][0] != 'P') continue;
        MemoryIo io = clean;
        std::string ref;
        PutFixed64(&ref, other + 1);
        io.records[r].replace(6, 8, ref);
        node_table table;
        absl::StatusOr<PVec> got = Load<PCodec>(s, table, io);
        REQUIRE(got.status().code() == absl::StatusCode::kDataLoss);
        REQUIRE(got.status().message().find("a patch referenced as a patch's leaf") !=
                std::string_view::npos);
      }
    }
    REQUIRE(patches == 2);
    REQUIRE(errors > 0);
    REQUIRE(valid > 0);
  }
  REQUIRE(live_nodes() == live_before);
}

}  // namespace
}  // namespace cowdb::internal
