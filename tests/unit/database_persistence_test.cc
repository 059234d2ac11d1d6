// Database::Open(dir): a persistent database keeps every version, branch and tag across close
// and reopen, with the versions sharing their chunks again; writes are incremental; bad
// directories, corrupt files, wrong element types and a second opener get clear errors.
// Expected contents are built by the test (plain vectors), never read back from the program.
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/database.h"
#include "cowdb/options.h"
#include "cowdb/transaction.h"
#include "db/database_factory.h"
#include "db/database_impl.h"
#include "db/storage/database_store.h"
#include "db/storage/fault_injection_env.h"
#include "testing/db_helpers.h"
#include "testing/storage_helpers.h"

namespace {

using Catch::Matchers::Contains;
using cowdb::Database;
using cowdb::Options;
using cowdb::pvec;
using cowdb::Snapshot;
using cowdb::Transaction;
using cowdb::VersionId;
using cowdb::testing::FlipByte;
using cowdb::testing::I64;
using cowdb::testing::Iota;
using cowdb::testing::IotaVec;
using cowdb::testing::Ok;
using cowdb::testing::Read;
using cowdb::testing::TempDir;

struct Point {
  std::int32_t x = 0;
  double y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

// Not storable: not trivially copyable, and its codec declares it in-memory only.
struct Boxed {
  std::vector<int> v;
  friend bool operator==(const Boxed&, const Boxed&) = default;
};

}  // namespace

template <>
struct cowdb::codec<Boxed> : cowdb::memory_only {};

namespace {

std::unique_ptr<Database> OpenAt(const TempDir& dir, Options options = {}) {
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(dir.path(), options);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  return *std::move(db);
}

// Everything a reader can see: branches and tags with their heads, and every retained version
// reachable from them with its metadata and datasets (int64, Point and string contents).
struct World {
  std::map<std::string, std::uint64_t> branches, tags;
  std::map<std::uint64_t, std::string> versions;
  friend bool operator==(const World&, const World&) = default;
};

World Capture(const Database& db) {
  World w;
  auto add_version = [&](VersionId id) {
    if (w.versions.contains(id.value)) return;
    const Snapshot s = Ok(db.OpenSnapshot(id));
    std::string text = fmt::format("{} parents", s.info().parents.size());
    for (const VersionId p : s.info().parents) text += fmt::format(" {}", p);
    text += fmt::format(" '{}' t={}", s.info().message, absl::ToUnixNanos(s.info().time));
    for (const cowdb::DatasetInfo& d : s.Datasets()) {
      text += fmt::format(" | {}:{}:", d.name, d.size);
      if (auto i = s.Get<I64>(d.name); i.ok()) {
        for (I64 x : *i) text += fmt::format(" {}", x);
      } else if (auto p = s.Get<Point>(d.name); p.ok()) {
        for (const Point& q : *p) text += fmt::format(" ({},{})", q.x, q.y);
      } else if (auto str = s.Get<std::string>(d.name); str.ok()) {
        for (const std::string& q : *str) text += fmt::format(" '{}'", q);
      } else {
        FAIL("dataset " << d.name << " of an unexpected type " << d.type);
      }
    }
    w.versions[id.value] = text;
  };
  for (const cowdb::BranchInfo& b : db.Branches()) {
    w.branches[b.name] = b.head.value;
    for (const cowdb::VersionInfo& v : Ok(db.Log(b.name))) add_version(v.id);
  }
  for (const cowdb::BranchInfo& t : db.Tags()) {
    w.tags[t.name] = t.head.value;
    add_version(t.head);
  }
  return w;
}

std::uint64_t DirBytes(const TempDir& dir) {
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

}  // namespace

TEST_CASE("persistence: a new directory is a new database; reopening finds everything",
          "[database][persistence]") {
  TempDir dir;
  const std::string path = dir.path() + "/db";  // missing: created
  World before;
  {
    auto db = Ok(Database::Open(path));
    CHECK(Ok(db->Head("main")) == VersionId{1});
    Transaction t = Ok(db->Begin("main"));
    Ok(t.Create<I64>("ints", IotaVec(5000)));
    Ok(t.Create<Point>("points", pvec<Point>{{1, 0.5}, {2, 1.5}}));
    Ok(t.Create<std::string>("names", pvec<std::string>{"ann", "bob"}));
    const VersionId v2 = Ok(t.Commit("load"));
    Ok(db->CreateTag("loaded", v2));
    Ok(db->CreateBranch("exp", "main"));
    {
      Transaction e = Ok(db->Begin("exp"));
      Ok(e.Edit<I64>("ints"))->erase_if([](I64 x) { return x % 7 == 0; });
      Ok(e.Edit<std::string>("names"))->push_back("cy");
      Ok(e.Commit("filter"));
    }
    {
      Transaction m = Ok(db->Begin("main"));
      Ok(m.Edit<I64>("ints"))->set(1, -1);
      Ok(m.Edit<Point>("points"))->set(0, Point{9, 9.5});
      Ok(m.Commit("fix"));
    }
    Ok(db->Merge("exp", "main", "merge exp"));
    Ok(db->CreateBranch("tmp", "exp"));
    Ok(db->RenameBranch("tmp", "renamed"));
    Ok(db->CreateBranch("gone", "main"));
    Ok(db->DeleteBranch("gone"));
    Ok(db->CreateTag("gone-tag", v2));
    Ok(db->DeleteTag("gone-tag"));
    before = Capture(*db);
    // The merge kept both sides' edits, by row identity.
    std::vector<I64> expected;
    for (I64 x : Iota<I64>(5000)) {
      if (x % 7 != 0) expected.push_back(x == 1 ? -1 : x);
    }
    CHECK(Read(*db, "main", "ints") == expected);
  }
  auto db = Ok(Database::Open(path));
  const World after = Capture(*db);
  CHECK(after.branches == before.branches);
  CHECK(after.tags == before.tags);
  CHECK(after.versions == before.versions);
  CHECK(after.branches ==
        std::map<std::string, std::uint64_t>{{"exp", before.branches.at("exp")},
                                             {"main", before.branches.at("main")},
                                             {"renamed", before.branches.at("exp")}});
  // Version ids go on where they stopped.
  const VersionId head = Ok(db->Head("main"));
  const VersionId next = cowdb::testing::SetElement(*db, "main", "ints", 0, 42);
  CHECK(next.value == head.value + 1);
  db.reset();
  auto again = Ok(Database::Open(path));
  CHECK(Read(*again, "main", "ints")[0] == 42);
}

TEST_CASE("persistence: reopening restores the sharing between versions",
          "[database][persistence]") {
  TempDir dir;
  cowdb::MemoryReport before;
  {
    auto db = OpenAt(dir);
    cowdb::testing::CreateDataset(*db, "main", "big", IotaVec(200'000));
    for (int b = 0; b < 5; ++b) {
      const std::string name = fmt::format("b{}", b);
      Ok(db->CreateBranch(name, "main"));
      cowdb::testing::SetElement(*db, name, "big", static_cast<std::size_t>(b) * 30'000, -b - 1);
    }
    before = db->GetMemoryReport();
  }
  auto db = OpenAt(dir);
  const cowdb::MemoryReport after = db->GetMemoryReport();
  CHECK(after.total_bytes == before.total_bytes);
  CHECK(after.versions == before.versions);
  REQUIRE(after.branches.size() == before.branches.size());
  for (std::size_t i = 0; i < after.branches.size(); ++i) {
    CHECK(after.branches[i].name == before.branches[i].name);
    CHECK(after.branches[i].shared_bytes == before.branches[i].shared_bytes);
    CHECK(after.branches[i].exclusive_bytes == before.branches[i].exclusive_bytes);
  }
  // An unchanged dataset is one object in both versions (O(1) equality, as in memory).
  const pvec<I64> m = Ok(Ok(db->OpenSnapshot("main")).Get<I64>("big"));
  const pvec<I64> b0 = Ok(Ok(db->OpenSnapshot("b0")).Get<I64>("big"));
  CHECK(cowdb::diff(m, b0).modified_count() == 1);
}

TEST_CASE("persistence: a commit writes only what it changed", "[database][persistence]") {
  TempDir dir;
  auto db = OpenAt(dir);
  cowdb::testing::CreateDataset(*db, "main", "big", IotaVec(1'000'000));
  const std::uint64_t loaded = DirBytes(dir);
  CHECK(loaded > 8'000'000);  // the 8 MB of elements are stored once
  cowdb::testing::SetElement(*db, "main", "big", 123'456, -1);
  const std::uint64_t one = DirBytes(dir) - loaded;
  CHECK(one <= 16 * 1024);  // one chunk (4 KiB), its path and two small records
  for (int b = 0; b < 10; ++b) {
    Ok(db->CreateBranch(fmt::format("b{}", b), "main"));
    cowdb::testing::SetElement(*db, fmt::format("b{}", b), "big", static_cast<std::size_t>(b), -b);
  }
  CHECK(DirBytes(dir) - loaded - one <= 10 * 16 * 1024);
}

TEST_CASE("persistence: row identity survives reopening", "[database][persistence]") {
  TempDir dir;
  VersionId loaded;
  {
    auto db = OpenAt(dir);
    loaded = cowdb::testing::CreateDataset(*db, "main", "t", IotaVec(3000));
  }
  auto db = OpenAt(dir);
  // Rows made after reopening get new ids: an insert here is one inserted row, not a match.
  Ok(db->CreateBranch("a", "main"));
  {
    Transaction t = Ok(db->Begin("a"));
    Ok(t.Edit<I64>("t"))->erase_if([](I64 x) { return x % 100 == 5; });
    Ok(t.Commit("filter"));
  }
  {
    Transaction t = Ok(db->Begin("main"));
    Ok(t.Edit<I64>("t"))->insert(10, 5);  // the value of an erased row, but a new row
    Ok(t.Commit("insert"));
  }
  const cowdb::DatabaseDiff d = Ok(db->Diff("main", "a"));
  REQUIRE(d.changed.size() == 1);
  CHECK(d.changed[0].erased == 31);  // 30 filtered + the inserted row, absent from a
  CHECK(d.changed[0].modified == 0);
  Ok(db->Merge("a", "main", "merge"));
  std::vector<I64> expected;
  for (I64 x : Iota<I64>(3000)) {
    if (x == 10) expected.push_back(5);
    if (x % 100 != 5) expected.push_back(x);
  }
  CHECK(Read(*db, "main", "t") == expected);
  CHECK(Read(*db, loaded, "t") == Iota<I64>(3000));
}

TEST_CASE("persistence: Prune is kept across reopening", "[database][persistence]") {
  TempDir dir;
  std::vector<VersionId> ids;
  {
    auto db = OpenAt(dir, Options{.keep_last_versions = 2});
    ids.push_back(cowdb::testing::CreateDataset(*db, "main", "t", IotaVec(10)));
    for (int i = 0; i < 5; ++i) {
      ids.push_back(cowdb::testing::SetElement(*db, "main", "t", 0, i + 100));
    }
    CHECK(db->Prune() == 4);  // v1..v4 go; v5..v7 stay (head and 2 ancestors)
  }
  auto db = OpenAt(dir, Options{.keep_last_versions = 2});
  CHECK(absl::IsNotFound(db->OpenSnapshot(ids[0]).status()));
  CHECK(absl::IsNotFound(db->OpenSnapshot(VersionId{1}).status()));
  CHECK(Read(*db, ids[4], "t")[0] == 103);
  CHECK(Read(*db, "main", "t")[0] == 104);
  CHECK(db->Prune() == 0);
  CHECK(Ok(db->Log("main")).size() == 3);
}

TEST_CASE("persistence: misuse and bad directories get clear errors, nothing changes",
          "[database][persistence][errors]") {
  TempDir dir;
  auto db = OpenAt(dir);
  const VersionId v2 = cowdb::testing::CreateDataset(*db, "main", "t", IotaVec(100));

  SECTION("a second opener of the same directory") {
    const absl::Status s = Database::Open(dir.path()).status();
    CHECK(absl::IsFailedPrecondition(s));
    CHECK_THAT(std::string(s.message()), Contains("LOCK"));
    CHECK(Read(*db, "main", "t") == Iota<I64>(100));
  }
  SECTION("a stored dataset read as another type") {
    db.reset();
    db = OpenAt(dir);
    const absl::Status s = Ok(db->OpenSnapshot("main")).Get<double>("t").status();
    CHECK(absl::IsInvalidArgument(s));
    CHECK_THAT(std::string(s.message()), Contains("long") && Contains("double"));
  }
  SECTION("an element type declared in-memory only") {
    {  // (a live Transaction keeps the database, and its directory lock, alive)
      Transaction t = Ok(db->Begin("main"));
      Ok(t.Create<Boxed>("boxed", pvec<Boxed>{Boxed{{1}}}));
      const absl::Status s = t.Commit("boxed").status();
      CHECK(absl::IsInvalidArgument(s));
      CHECK_THAT(std::string(s.message()), Contains("boxed") && Contains("Boxed") &&
                                               Contains("in-memory only") && Contains("codec"));
    }
    CHECK(Ok(db->Head("main")) == v2);
    // The database still works and the failure left nothing behind.
    cowdb::testing::SetElement(*db, "main", "t", 0, 7);
    db.reset();
    db = OpenAt(dir);
    CHECK(Read(*db, "main", "t")[0] == 7);
    CHECK_FALSE(Ok(db->OpenSnapshot("main")).Has("boxed"));
  }
  SECTION("a directory holding other files") {
    TempDir other;
    std::ofstream(other.file("notes.txt")) << "hello";
    const absl::Status s = Database::Open(other.path()).status();
    CHECK(absl::IsFailedPrecondition(s));
    CHECK_THAT(std::string(s.message()), Contains("notes.txt"));
  }
}

TEST_CASE("persistence: a type declared in-memory only works in memory as any other",
          "[database][persistence]") {
  auto db = Database::Open();
  const VersionId v1 =
      cowdb::testing::CreateDataset(*db, "main", "boxed", pvec<Boxed>{Boxed{{1}}, Boxed{{2, 3}}});
  Ok(db->CreateBranch("exp"));
  {
    Transaction t = Ok(db->Begin("exp"));
    Ok(t.Edit<Boxed>("boxed"))->set(1, Boxed{{4}});
    Ok(t.Commit("fix"));
  }
  CHECK(Ok(Ok(db->OpenSnapshot(v1)).Get<Boxed>("boxed")) == pvec<Boxed>{Boxed{{1}}, Boxed{{2, 3}}});
  CHECK(Ok(Ok(db->OpenSnapshot("exp")).Get<Boxed>("boxed")) == pvec<Boxed>{Boxed{{1}}, Boxed{{4}}});
  const cowdb::DatabaseDiff d = Ok(db->Diff("main", "exp"));
  REQUIRE(d.changed.size() == 1);
  CHECK(d.changed[0].modified == 1);
}

TEST_CASE("persistence: a torn tail is dropped, a flipped byte is kDataLoss naming the file",
          "[database][persistence]") {
  TempDir dir;
  {
    auto db = OpenAt(dir);
    cowdb::testing::CreateDataset(*db, "main", "t", IotaVec(1000));
    cowdb::testing::SetElement(*db, "main", "t", 0, -1);
  }
  const std::string log = dir.file("data-000001.log");
  const std::uint64_t size = std::filesystem::file_size(log);
  SECTION("the last commit's records cut short: the state before it") {
    std::filesystem::resize_file(log, size - 3);
    auto db = OpenAt(dir);
    CHECK(Read(*db, "main", "t") == Iota<I64>(1000));
    // And the database goes on from there.
    cowdb::testing::SetElement(*db, "main", "t", 1, -2);
    db.reset();
    db = OpenAt(dir);
    CHECK(Read(*db, "main", "t")[1] == -2);
    CHECK(Read(*db, "main", "t")[0] == 0);
  }
  SECTION("a flipped byte in the last history record (the branch move)") {
    FlipByte(log, size - 3, 0x20);
    const absl::Status s = Database::Open(dir.path()).status();
    CHECK(absl::IsDataLoss(s));
    CHECK_THAT(std::string(s.message()), Contains("data-000001.log"));
  }
  SECTION("a flipped byte in a node of the first commit") {
    FlipByte(log, size / 4, 0x20);
    const absl::Status s = Database::Open(dir.path()).status();
    CHECK(absl::IsDataLoss(s));
    CHECK_THAT(std::string(s.message()), Contains("data-000001.log"));
  }
  SECTION("CURRENT missing") {
    std::filesystem::remove(dir.file("CURRENT"));
    const absl::Status s = Database::Open(dir.path()).status();
    CHECK(absl::IsDataLoss(s));
    CHECK_THAT(std::string(s.message()), Contains("CURRENT"));
  }
}

// The store holds every node it wrote (so that an address is never mistaken for a stored node);
// after Prune it must let go of the nodes only pruned versions used: the nodes alive are those
// of the same history kept in memory.
TEST_CASE("persistence: Prune frees the pruned versions' nodes", "[database][persistence]") {
  auto run = [](Database& db) {
    const std::int64_t before = cowdb::internal::live_nodes();
    cowdb::testing::CreateDataset(db, "main", "t", IotaVec(50'000));
    for (std::size_t i = 0; i < 20; ++i) {
      cowdb::testing::SetElement(db, "main", "t", i * 2'000, -1);
    }
    const std::int64_t grown = cowdb::internal::live_nodes() - before;
    CHECK(db.Prune() == 20);  // v1 .. v20 go: the head and one ancestor stay
    return std::pair{grown, cowdb::internal::live_nodes() - before};
  };
  const Options keep_one{.keep_last_versions = 1};
  const auto in_memory = run(*Database::Open(keep_one));
  TempDir dir;
  auto db = OpenAt(dir, keep_one);
  const auto stored = run(*db);
  CHECK(stored.first == in_memory.first);
  CHECK(stored.second == in_memory.second);
  CHECK(stored.second < stored.first);
}

// A fast-forward whose branch moved meanwhile (Database::Merge racing a commit) changes nothing:
// in memory and on disk. (It once wrote the move to the version log anyway, so that a reopened
// database had the branch where memory never put it.)
TEST_CASE("persistence: a fast-forward that lost its race writes nothing",
          "[database][persistence]") {
  TempDir dir;
  {
    cowdb::storage::RecoveredState state;
    auto store = Ok(cowdb::storage::DatabaseStore::Open(cowdb::storage::Env::Default(), dir.path(),
                                                        cowdb::Sync::kEveryCommit, &state));
    cowdb::internal::DatabaseImpl impl(Options{}, std::move(store), std::move(state));
    auto v2 = std::make_shared<cowdb::internal::Version>();
    v2->info.parents = {VersionId{1}};
    v2->info.message = "v2";
    cowdb::internal::VersionPtr moved_to;
    REQUIRE(Ok(impl.Publish("main", VersionId{1}, v2, &moved_to)));
    REQUIRE(impl.AddRef(cowdb::internal::RefKind::kBranch, "other", VersionId{1}).ok());
    // "other" is at v1, not at v2 as the caller expects: no move.
    CHECK_FALSE(Ok(impl.MoveBranch("other", VersionId{2}, VersionId{2})));
    CHECK(Ok(impl.GetHead("other"))->info.id == VersionId{1});
  }
  auto db = OpenAt(dir);
  CHECK(Ok(db->Head("other")) == VersionId{1});
  CHECK(Ok(db->Head("main")) == VersionId{2});
}

// Compaction: Prune reclaims the disk space of pruned versions once they are most of the files
// (Options::compact_below), Compact() does it on demand; the history (with pruned versions'
// ids as parents), branches, tags, data and sharing are the same after it and after reopening,
// and the database goes on writing to the new files.
TEST_CASE("persistence: compaction reclaims pruned versions' disk space, nothing else changes",
          "[database][persistence]") {
  TempDir dir;
  const auto bytes = [&] {
    std::uint64_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      total += e.file_size();
    }
    return total;
  };
  const Options keep_one{.keep_last_versions = 1};
  World before;
  std::uint64_t before_bytes = 0;
  std::vector<I64> expect = Iota<I64>(200'000);
  {
    auto db = OpenAt(dir, keep_one);
    cowdb::testing::CreateDataset(*db, "main", "t", IotaVec(200'000));  // 1.6 MB
    Ok(db->CreateBranch("side", "main"));
    Ok(db->CreateTag("first", "main"));         // keeps the fork point of side and main
    for (I64 round = 1; round <= 6; ++round) {  // each rewrites every chunk: 1.6 MB
      Transaction t = Ok(db->Begin("main"));
      Ok(t.Put("t", Ok(t.Get<I64>("t")).transform([](I64 x) { return x + 1; })));
      Ok(t.Commit("add 1").status());
      for (I64& x : expect) ++x;
    }
    cowdb::testing::SetElement(*db, "side", "t", 7, -7);
    const cowdb::MemoryReport full = db->GetMemoryReport();
    CHECK(full.disk_bytes == bytes());
    CHECK(full.disk_bytes > 11'000'000);
    SECTION("Prune compacts on its own") { CHECK(db->Prune() > 0); }
    SECTION("Compact() on demand, with automatic compaction off") {
      db.reset();
      db = OpenAt(dir, Options{.keep_last_versions = 1, .compact_below = 0});
      CHECK(db->Prune() > 0);
      CHECK(bytes() >= full.disk_bytes);  // nothing reclaimed by Prune
      Ok(db->Compact());
    }
    const cowdb::MemoryReport compacted = db->GetMemoryReport();
    before = Capture(*db);
    before_bytes = bytes();
    CHECK(compacted.disk_bytes == before_bytes);
    // Left: main's head and its parent (all chunks differ), "first" and side's two versions
    // (sharing all but one chunk with "first"): about 3 x 1.6 MB.
    CHECK(before_bytes < 5'500'000);
    CHECK(compacted.disk_live_bytes <= compacted.disk_bytes);
    CHECK(compacted.disk_live_bytes > 4'700'000);
    CHECK(compacted.total_bytes < full.total_bytes);
    // The files are one generation: CURRENT, LOCK and the new data file(s).
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      const std::string name = e.path().filename().string();
      CHECK((name == "CURRENT" || name == "LOCK" || name.starts_with("data-")));
      CHECK(name != "data-000001.log");
    }
    CHECK(Read(*db, "main", "t") == expect);
    // Writes go on, to the new files.
    cowdb::testing::SetElement(*db, "main", "t", 0, -1);
    expect[0] = -1;
    before = Capture(*db);
  }
  auto db = OpenAt(dir, keep_one);
  CHECK(Capture(*db) == before);
  CHECK(Read(*db, "main", "t") == expect);
  CHECK(Read(*db, "first", "t") == Iota<I64>(200'000));
  // Merges still work (fork point: the tagged version): side's one change conflicts with main's
  // rewrite of every row, and kTheirs takes side's value for that row only.
  CHECK(absl::IsAborted(db->Merge("side", "main", "merge side").status()));
  Ok(db->Merge("side", "main", "merge side", cowdb::MergePolicy::kTheirs).status());
  CHECK(Read(*db, "main", "t")[7] == -7);
  CHECK(Read(*db, "main", "t")[8] == expect[8]);
  // Sharing survives compaction and reopening: "first" and side share all but one chunk.
  for (const cowdb::RefMemory& b : db->GetMemoryReport().branches) {
    if (b.name == "side") CHECK(b.exclusive_bytes < 64 * 1024);
  }
  CHECK(bytes() < before_bytes + 2'000'000);
  // An in-memory database has nothing to compact.
  Ok(Database::Open()->Compact());
}

// Group commit: commits from concurrent threads share fdatasyncs (a slow device, 20 ms a sync,
// makes the sharing certain: while one sync sleeps, the other threads' commits queue behind it,
// and every commit a sync covers returns when it ends: 20-23 syncs for the 48 commits, also with
// the machine loaded; 35-45 when covered commits queued one by one behind the next leader);
// every acknowledged commit is there after reopening. One
// thread alone syncs once per commit. A failed sync is reported by the commit waiting for it, and
// later writes are refused.
TEST_CASE("persistence: group commit shares syncs between concurrent commits",
          "[database][persistence]") {
  TempDir dir;
  cowdb::storage::FaultInjectionEnv env(cowdb::storage::Env::Default());
  const Options group{.sync = cowdb::Sync::kGroupCommit};
  constexpr int kThreads = 4, kCommits = 12;
  {
    auto db = Ok(cowdb::internal::DatabaseFactory::Open(&env, dir.path(), group));
    cowdb::testing::CreateDataset(*db, "main", "t", IotaVec(kThreads));
    for (int k = 0; k < kThreads; ++k) Ok(db->CreateBranch(fmt::format("b{}", k), "main"));
    // One thread: one sync per commit.
    std::uint64_t before = env.data_syncs();
    for (int i = 0; i < 3; ++i) cowdb::testing::SetElement(*db, "main", "t", 0, -i);
    CHECK(env.data_syncs() - before == 3);
    // Four threads, each committing to its own branch.
    env.set_sync_delay(absl::Milliseconds(20));
    before = env.data_syncs();
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int k = 0; k < kThreads; ++k) {
      threads.emplace_back([&, k] {
        for (int i = 1; i <= kCommits; ++i) {
          absl::StatusOr<Transaction> t = db->Begin(fmt::format("b{}", k));
          if (!t.ok() || !t->Edit<I64>("t").ok()) {
            ++failed;
            continue;
          }
          (*t->Edit<I64>("t"))->set(static_cast<std::size_t>(k), 1000 * k + i);
          if (!t->Commit("step").ok()) ++failed;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    env.set_sync_delay(absl::ZeroDuration());
    CHECK(failed.load() == 0);
    const std::uint64_t syncs = env.data_syncs() - before;
    INFO(syncs << " syncs for " << kThreads * kCommits << " commits");
    CHECK(syncs <= kThreads * kCommits * 2 / 3);  // one sync per commit would be 48
  }
  {
    auto db = OpenAt(dir, group);
    for (int k = 0; k < kThreads; ++k) {
      CHECK(Read(*db, fmt::format("b{}", k), "t")[static_cast<std::size_t>(k)] ==
            1000 * k + kCommits);
      CHECK(Ok(db->Log(fmt::format("b{}", k))).size() == 2 + kCommits);
    }
  }
  // A failed sync: the commit waiting for it reports it; the database refuses later writes.
  {
    auto db = Ok(cowdb::internal::DatabaseFactory::Open(&env, dir.path(), group));
    Transaction t = Ok(db->Begin("main"));
    Ok(t.Edit<I64>("t"))->set(1, -77);
    env.ArmFailAt(2);  // the write of the records, then the sync
    const absl::Status s = t.Commit("lost?").status();
    env.Disarm();
    CHECK(env.injected());
    CHECK_FALSE(s.ok());
    CHECK_THAT(std::string(s.message()), Contains("injected"));
    CHECK(absl::IsFailedPrecondition(db->CreateBranch("later", "main")));
  }
  // Reopening finds the state before the failed commit or after it (it was written, not synced).
  auto db = OpenAt(dir, group);
  const I64 got = Read(*db, "main", "t")[1];
  CHECK((got == 1 || got == -77));
}
