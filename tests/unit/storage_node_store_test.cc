// The node store (db/storage/node_store.h) under the node codec: trees saved to node files and
// loaded back by a store opened again; every flipped byte and every truncation of a node file is
// kDataLoss naming the file; a missing file, another database's file, an uncommitted tail cut
// back on open; a write fault at every step of a save, then Recover().
#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/internal/node_codec.h"
#include "cowdb/pvec.h"
#include "db/storage/fault_injection_env.h"
#include "db/storage/file.h"
#include "db/storage/node_store.h"
#include "testing/storage_helpers.h"

namespace cowdb::storage {
namespace {

using cowdb::testing::Ok;
using cowdb::testing::ReadFileBytes;
using cowdb::testing::TempDir;
using cowdb::testing::WriteFileBytes;
using internal::node_ref;
using internal::node_table;
using internal::pvec_access;
using internal::tree_rep;

constexpr std::uint64_t kDb = 0x5eed;
using Vec = pvec<std::int64_t, 32, 4>;  // 4 rows per chunk
using Codec = internal::tree_codec<std::int64_t, 4, 4>;

Vec Rows(std::size_t n, std::int64_t salt) {
  std::vector<std::int64_t> rows(n);
  for (std::size_t i = 0; i < n; ++i) rows[i] = static_cast<std::int64_t>(i) * 3 + salt;
  return Vec(rows.begin(), rows.end());
}

struct Saved {
  node_ref root;
  unsigned depth;
  std::size_t size;
};

Saved Save(const Vec& v, node_table& table, NodeStore& store) {
  const tree_rep& r = pvec_access::rep(v);
  const node_ref root = Ok(Codec::save(r, table, store));
  Ok(store.Sync());
  table.commit();
  return {root, r.depth, r.size};
}

absl::StatusOr<Vec> Load(const Saved& s, NodeStore& store) {
  node_table table;
  absl::StatusOr<tree_rep> r = Codec::load(s.root, s.depth, s.size, table, store);
  if (!r.ok()) return r.status();
  return pvec_access::adopt<Vec>(*r);
}

void RequireEqual(const Vec& a, const Vec& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i] == b[i]);
    REQUIRE(a.row_id(i) == b.row_id(i));
  }
}

TEST_CASE("node store: trees saved, the store reopened, trees loaded back", "[storage]") {
  TempDir dir;
  const Vec a = Rows(500, 0);
  const Vec b = a.set(250, -1).erase(10, 20);
  std::uint64_t committed = 0;
  Saved sa, sb;
  {
    auto store = Ok(NodeStore::Open(Env::Default(), dir.path(), kDb, 1, 0, {}));
    node_table table;
    sa = Save(a, table, *store);
    const std::uint64_t after_a = store->active_size();
    sb = Save(b, table, *store);
    CHECK(store->active_size() - after_a < 2000);  // b wrote its changed path only
    committed = store->active_size();
    // Nodes written after the last commit: cut back when the store is opened again.
    Ok(Codec::save(pvec_access::rep(Rows(100, 7)), table, *store).status());
    table.rollback();
    Ok(store->Sync());
  }
  CHECK(Ok(Env::Default()->FileSize(dir.file(DataFileName(1)))) > committed);
  auto store = Ok(NodeStore::Open(Env::Default(), dir.path(), kDb, 1, committed, {}));
  CHECK(Ok(Env::Default()->FileSize(dir.file(DataFileName(1)))) == committed);
  RequireEqual(a, Ok(Load(sa, *store)));
  RequireEqual(b, Ok(Load(sb, *store)));
}

TEST_CASE("node store: a corrupt, truncated, missing or foreign node file is kDataLoss",
          "[storage]") {
  TempDir dir;
  const Vec a = Rows(40, 1);
  Saved s;
  {
    auto store = Ok(NodeStore::Open(Env::Default(), dir.path(), kDb, 3, 0, {}));
    node_table table;
    s = Save(a, table, *store);
  }
  const std::string path = dir.file(DataFileName(3));
  const std::string clean = ReadFileBytes(path);
  auto expect_loss = [&](const char* what) {
    INFO(what);
    // A reader that opens the file as it is (active_size would cut it: use a fresh file number).
    auto store = Ok(NodeStore::Open(Env::Default(), dir.path(), kDb, 9, 0, {}));
    absl::StatusOr<Vec> got = Load(s, *store);
    REQUIRE(got.status().code() == absl::StatusCode::kDataLoss);
    REQUIRE(got.status().message().find(path) != absl::string_view::npos);
  };
  for (std::size_t i = 0; i < clean.size(); ++i) {
    std::string bytes = clean;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x04);
    WriteFileBytes(path, bytes);
    expect_loss("flipped byte");
  }
  for (std::size_t len = 0; len < clean.size(); ++len) {
    WriteFileBytes(path, clean.substr(0, len));
    expect_loss("truncated");
  }
  WriteFileBytes(path, clean);
  {
    auto other = Ok(NodeStore::Open(Env::Default(), dir.path(), kDb + 1, 9, 0, {}));
    node_table table;
    absl::StatusOr<tree_rep> r = Codec::load(s.root, s.depth, s.size, table, *other);
    REQUIRE(r.status().code() == absl::StatusCode::kDataLoss);
    REQUIRE(r.status().message().find("not 0x5eee") != absl::string_view::npos);
  }
  Ok(Env::Default()->Remove(path));
  expect_loss("missing");
  // The active file shorter than committed.
  WriteFileBytes(path, clean.substr(0, clean.size() - 1));
  absl::StatusOr<std::unique_ptr<NodeStore>> short_file =
      NodeStore::Open(Env::Default(), dir.path(), kDb, 3, clean.size(), {});
  REQUIRE(short_file.status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("node store: a fault at every step of a save, then Recover, loses nothing committed",
          "[storage]") {
  const Vec a = Rows(200, 2);
  const Vec b = a.insert(100, std::int64_t{5}).set(3, 4);
  for (std::uint64_t k = 1;; ++k) {
    INFO("mutating call " << k << " fails");
    TempDir dir;
    FaultInjectionEnv env(Env::Default());
    auto store = Ok(NodeStore::Open(&env, dir.path(), kDb, 1, 0, {}));
    node_table table;
    const Saved sa = Save(a, table, *store);
    const std::uint64_t committed = store->active_size();
    env.ArmFailAt(k);
    absl::StatusOr<node_ref> root = Codec::save(pvec_access::rep(b), table, *store);
    absl::Status synced = root.ok() ? store->Sync() : root.status();
    const std::uint64_t calls = env.mutating_calls();
    env.Disarm();
    if (synced.ok()) {
      CHECK(calls < k);  // the fault point was past the save: every step was tried
      break;
    }
    REQUIRE(synced.code() != absl::StatusCode::kOk);
    table.rollback();
    Ok(store->Recover());
    const Saved sb = Save(b, table, *store);
    CHECK(store->active_file() == 2);
    RequireEqual(a, Ok(Load(sa, *store)));
    RequireEqual(b, Ok(Load(sb, *store)));
    // Reopened at the committed state of file 1: a still loads.
    store.reset();
    auto again = Ok(NodeStore::Open(Env::Default(), dir.path(), kDb, 1, committed, {}));
    RequireEqual(a, Ok(Load(sa, *again)));
  }
}

}  // namespace
}  // namespace cowdb::storage
