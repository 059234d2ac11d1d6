// Unit tests of the database layer (cowdb/database.h, snapshot.h, transaction.h): the initial
// state, transactions (own writes, isolation, pointer-swap commits, concurrent commits, conflicts,
// ConflictMode::kDataset), user element types, snapshots, branches, tags, Log, Diff, Merge,
// retention (Prune, auto_prune) and memory reports. Error paths live in database_errors_test.cc.
#include "cowdb/database.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/db_helpers.h"

namespace {

using cowdb::Conflict;
using cowdb::Database;
using cowdb::MergePolicy;
using cowdb::Options;
using cowdb::pvec;
using cowdb::Snapshot;
using cowdb::Transaction;
using cowdb::VersionId;
using cowdb::internal::live_nodes;
using cowdb::testing::CreateDataset;
using cowdb::testing::Iota;
using cowdb::testing::IotaVec;
using cowdb::testing::Ok;
using cowdb::testing::Read;
using cowdb::testing::SetElement;
using cowdb::testing::ToVector;
using I64 = std::int64_t;
// The tree behind a dataset of T rows (for node sizes).
template <class T>
using RowsTree = cowdb::internal::rbtree<T, cowdb::pvec<T>::chunk_capacity, cowdb::pvec<T>::fanout>;
using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;

// A user element type: copyable, equality-comparable, not formattable.
struct Trade {
  std::string symbol;
  double price = 0;
  int quantity = 0;
  friend bool operator==(const Trade&, const Trade&) = default;
};

std::vector<std::uint64_t> Ids(const std::vector<VersionId>& ids) {
  std::vector<std::uint64_t> out;
  for (VersionId id : ids) out.push_back(id.value);
  return out;
}

// "name[index]", or "name[*]" for a whole-dataset conflict.
std::vector<std::string> Names(const std::vector<Conflict>& conflicts) {
  std::vector<std::string> out;
  for (const Conflict& c : conflicts) {
    out.push_back(c.index == Conflict::kWholeDataset ? c.dataset + "[*]"
                                                     : fmt::format("{}[{}]", c.dataset, c.index));
  }
  return out;
}

std::uint64_t HeadOf(const Database& db, std::string_view branch) {
  return Ok(db.Head(branch)).value;
}

// Commits a transaction on `branch` that replaces a dataset's contents.
VersionId PutAll(Database& db, std::string_view branch, std::string_view name, pvec<I64> data) {
  Transaction t = Ok(db.Begin(branch));
  Ok(t.Put<I64>(name, std::move(data)));
  return Ok(t.Commit(fmt::format("replace {}", name)));
}

std::size_t RetainedVersions(const Database& db) { return db.GetMemoryReport().versions; }

// Node count of one freshly built version of `n` int64 elements.
std::int64_t NodesOf(const pvec<I64>& v) {
  const cowdb::memory_stats m = v.memory();
  return static_cast<std::int64_t>(m.leaves + m.inner_nodes);
}

}  // namespace

// Trade is not trivially copyable and has no encode/decode: in-memory databases only.
template <>
struct cowdb::codec<Trade> : cowdb::memory_only {};

TEST_CASE("a new database has branch \"main\" at the empty version v1", "[database]") {
  const auto db = Database::Open();
  const auto branches = db->Branches();
  REQUIRE(branches.size() == 1);
  CHECK(branches[0].name == "main");
  CHECK(branches[0].head.value == 1);
  CHECK(HeadOf(*db, "main") == 1);
  CHECK(db->Tags().empty());

  const Snapshot s = Ok(db->OpenSnapshot("main"));
  CHECK(s.id().value == 1);
  CHECK(s.info().id.value == 1);
  CHECK(s.info().parents.empty());
  CHECK(s.Datasets().empty());

  const auto log = Ok(db->Log("main"));
  REQUIRE(log.size() == 1);
  CHECK(log[0].id.value == 1);
  CHECK(log[0].parents.empty());
  CHECK(RetainedVersions(*db) == 1);
}

TEST_CASE("a transaction creates, reads, edits, replaces and drops datasets", "[database]") {
  const std::int64_t nodes0 = live_nodes();
  {
    const auto db = Database::Open();
    Transaction t = Ok(db->Begin("main"));
    CHECK(t.active());
    CHECK(t.branch() == "main");
    CHECK(t.base().value == 1);

    Ok(t.Create<I64>("a", IotaVec(1000)));
    Ok(t.Create<double>("b", pvec<double>{1.5, 2.5}));
    Ok(t.Create<I64>("c"));
    CHECK(t.Datasets() == std::vector<std::string>{"a", "b", "c"});
    CHECK(ToVector(Ok(t.Get<I64>("a"))) == Iota<I64>(1000));
    CHECK(Ok(t.Get<I64>("c")).empty());

    // Edit: later reads see the writes; a pvec read before the write keeps its contents.
    const pvec<I64> before_edit = Ok(t.Get<I64>("a"));
    auto* ed = Ok(t.Edit<I64>("a"));
    ed->set(5, -5);
    ed->push_back(1000);
    std::vector<I64> want = Iota<I64>(1000);
    want[5] = -5;
    want.push_back(1000);
    CHECK(ToVector(Ok(t.Get<I64>("a"))) == want);
    CHECK(ToVector(before_edit) == Iota<I64>(1000));
    auto* again = Ok(t.Edit<I64>("a"));  // a second Edit continues from the first one's writes
    CHECK((*again)[5] == -5);
    CHECK(again->size() == 1001);

    // Put: replace a dataset with a value derived from Get.
    const pvec<double> b = Ok(t.Get<double>("b"));
    Ok(t.Put<double>("b", b.transform([](double x) { return x * 2; })));
    CHECK(ToVector(Ok(t.Get<double>("b"))) == std::vector<double>{3.0, 5.0});
    CHECK(ToVector(b) == std::vector<double>{1.5, 2.5});

    // Drop.
    Ok(t.Drop("c"));
    CHECK(t.Datasets() == std::vector<std::string>{"a", "b"});
    CHECK(absl::IsNotFound(t.Get<I64>("c").status()));

    // Nothing is visible outside the transaction before Commit.
    CHECK(Ok(db->OpenSnapshot("main")).Datasets().empty());
    CHECK(HeadOf(*db, "main") == 1);

    const VersionId v2 = Ok(t.Commit("load"));
    CHECK(v2.value == 2);
    CHECK_FALSE(t.active());
    CHECK(HeadOf(*db, "main") == 2);

    const Snapshot s = Ok(db->OpenSnapshot("main"));
    CHECK(s.id().value == 2);
    CHECK(s.info().message == "load");
    CHECK(Ids(s.info().parents) == std::vector<std::uint64_t>{1});
    CHECK(s.Has("a"));
    CHECK(s.Has("b"));
    CHECK_FALSE(s.Has("c"));
    const auto infos = s.Datasets();
    REQUIRE(infos.size() == 2);
    CHECK(infos[0].name == "a");
    CHECK(infos[0].size == 1001);
    CHECK(infos[1].name == "b");
    CHECK(infos[1].type == "double");
    CHECK(infos[1].size == 2);
    CHECK(ToVector(Ok(s.Get<I64>("a"))) == want);
    CHECK(ToVector(Ok(s.Get<double>("b"))) == std::vector<double>{3.0, 5.0});
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE("a transaction does not see commits made after it began", "[database]") {
  const auto db = Database::Open();
  const VersionId v2 = CreateDataset(*db, "main", "a", IotaVec(100));
  Transaction reader = Ok(db->Begin("main"));
  const Snapshot snap = Ok(db->OpenSnapshot("main"));

  const VersionId v3 = SetElement(*db, "main", "a", 1, 111);
  const VersionId v4 = CreateDataset(*db, "main", "new", IotaVec(3));
  CHECK(v3.value == 3);
  CHECK(v4.value == 4);

  CHECK(reader.base().value == v2.value);
  CHECK(ToVector(Ok(reader.Get<I64>("a"))) == Iota<I64>(100));
  CHECK(absl::IsNotFound(reader.Get<I64>("new").status()));
  CHECK(reader.Datasets() == std::vector<std::string>{"a"});
  CHECK(snap.id().value == v2.value);
  CHECK(ToVector(Ok(snap.Get<I64>("a"))) == Iota<I64>(100));
  CHECK_FALSE(snap.Has("new"));

  // The reader writes another element; its commit merges with the moved head.
  auto* ed = Ok(reader.Edit<I64>("a"));
  ed->set(2, 222);
  const VersionId v5 = Ok(reader.Commit("reader"));
  CHECK(v5.value == 5);
  std::vector<I64> want = Iota<I64>(100);
  want[1] = 111;
  want[2] = 222;
  CHECK(Read(*db, "main", "a") == want);
  CHECK(Read(*db, "main", "new") == Iota<I64>(3));
  // The snapshot still shows v2.
  CHECK(ToVector(Ok(snap.Get<I64>("a"))) == Iota<I64>(100));
}

TEST_CASE("a commit on an unmoved head publishes the transaction's trees without copying",
          "[database]") {
  const auto db = Database::Open();
  Transaction load = Ok(db->Begin("main"));
  Ok(load.Create<I64>("a", IotaVec(5000)));
  Ok(load.Create<I64>("b", IotaVec(5000)));
  const VersionId v2 = Ok(load.Commit("load"));
  const Snapshot base = Ok(db->OpenSnapshot(v2));

  Transaction t = Ok(db->Begin("main"));
  auto* ed = Ok(t.Edit<I64>("a"));
  ed->set(4000, -1);
  const pvec<I64> staged = Ok(t.Get<I64>("a"));
  const VersionId v3 = Ok(t.Commit("edit"));
  CHECK(v3.value == 3);

  const Snapshot s = Ok(db->OpenSnapshot(v3));
  CHECK(Ids(s.info().parents) == std::vector<std::uint64_t>{2});
  const pvec<I64> a3 = Ok(s.Get<I64>("a"));
  const pvec<I64> a2 = Ok(base.Get<I64>("a"));
  // The committed dataset is the very tree the transaction built; the untouched one is shared.
  CHECK(a3.identity() == staged.identity());
  CHECK(Ok(s.Get<I64>("b")).identity() == Ok(base.Get<I64>("b")).identity());
  // 5000 elements in chunks of 512 are 10 leaves under one root: the write made a patch over one
  // leaf and copied the root; all 10 leaves are shared with v2 (one of them under the patch).
  const cowdb::memory_stats all = a3.memory();
  const cowdb::memory_stats shared = a3.shared_with(a2);
  CHECK(all.leaves == 10);
  CHECK(shared.leaves == 10);
  CHECK(all.patches == 1);
  CHECK(shared.patches == 0);
  CHECK(all.inner_nodes - shared.inner_nodes == 1);
  CHECK(ToVector(a2) == Iota<I64>(5000));
  CHECK(a3[4000] == -1);
}

TEST_CASE("concurrent commits on one branch that write different elements both succeed",
          "[database]") {
  const auto db = Database::Open();
  CreateDataset(*db, "main", "a", IotaVec(2000));
  std::vector<I64> want = Iota<I64>(2000);

  SECTION("different chunks, plus a new dataset") {
    Transaction t1 = Ok(db->Begin("main"));
    Transaction t2 = Ok(db->Begin("main"));
    Ok(t1.Edit<I64>("a"))->set(10, -10);
    Ok(t2.Edit<I64>("a"))->set(1500, -1500);
    Ok(t2.Create<I64>("t2-only", IotaVec(4)));
    const VersionId v3 = Ok(t1.Commit("t1"));
    const VersionId v4 = Ok(t2.Commit("t2"));
    CHECK(v3.value == 3);
    CHECK(v4.value == 4);
    want[10] = -10;
    want[1500] = -1500;
    CHECK(Read(*db, "main", "a") == want);
    CHECK(Read(*db, "main", "t2-only") == Iota<I64>(4));
    // The second commit is rebased onto the first: history stays linear.
    const Snapshot s = Ok(db->OpenSnapshot(v4));
    CHECK(Ids(s.info().parents) == std::vector<std::uint64_t>{3});
    std::vector<std::uint64_t> log_ids;
    for (const auto& v : Ok(db->Log("main"))) log_ids.push_back(v.id.value);
    CHECK(log_ids == std::vector<std::uint64_t>{4, 3, 2, 1});
  }
  SECTION("neighbouring elements of one chunk") {
    Transaction t1 = Ok(db->Begin("main"));
    Transaction t2 = Ok(db->Begin("main"));
    Ok(t1.Edit<I64>("a"))->set(20, -20);
    Ok(t2.Edit<I64>("a"))->set(21, -21);
    Ok(t1.Commit("t1"));
    Ok(t2.Commit("t2"));
    want[20] = -20;
    want[21] = -21;
    CHECK(Read(*db, "main", "a") == want);
  }
  SECTION("the same element written on both sides conflicts even with equal values") {
    // Write-write conflict (first committer wins): two read-modify-writes that happen to store
    // the same value must not both succeed, or one update is lost.
    Transaction t1 = Ok(db->Begin("main"));
    Transaction t2 = Ok(db->Begin("main"));
    Ok(t1.Edit<I64>("a"))->set(30, 7);
    Ok(t2.Edit<I64>("a"))->set(30, 7);
    Ok(t1.Commit("t1"));
    const absl::StatusOr<cowdb::VersionId> second = t2.Commit("t2");
    CHECK(absl::IsAborted(second.status()));
    REQUIRE(t2.conflicts().size() == 1);
    CHECK(t2.conflicts()[0].index == 30);
    want[30] = 7;
    CHECK(Read(*db, "main", "a") == want);
  }
}

TEST_CASE("commits from several threads on one branch all land", "[database]") {
  constexpr int kThreads = 4;
  constexpr int kCommits = 25;
  const auto db = Database::Open();
  CreateDataset(*db, "main", "a", pvec<I64>(kThreads * kCommits, 0));

  // Catch assertions are not thread-safe: threads count failures, the main thread checks.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&db, &failures, k] {
      for (int i = 0; i < kCommits; ++i) {
        absl::StatusOr<Transaction> t = db->Begin("main");
        if (!t.ok()) {
          ++failures;
          continue;
        }
        absl::StatusOr<pvec<I64>::editor*> ed = t->Edit<I64>("a");
        if (!ed.ok()) {
          ++failures;
          continue;
        }
        (*ed)->set(static_cast<std::size_t>(k * kCommits + i), k * 1000 + i + 1);
        if (!t->Commit(fmt::format("thread {} commit {}", k, i)).ok()) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();

  CHECK(failures.load() == 0);
  std::vector<I64> want(kThreads * kCommits);
  for (int k = 0; k < kThreads; ++k) {
    for (int i = 0; i < kCommits; ++i)
      want[static_cast<std::size_t>(k * kCommits + i)] = k * 1000 + i + 1;
  }
  CHECK(Read(*db, "main", "a") == want);
  CHECK(HeadOf(*db, "main") == 2 + kThreads * kCommits);
  CHECK(Ok(db->Log("main")).size() == 2 + kThreads * kCommits);
}

TEST_CASE("a commit that writes an element another commit wrote differently is aborted",
          "[database]") {
  const std::int64_t nodes0 = live_nodes();
  {
    const auto db = Database::Open();
    Transaction load = Ok(db->Begin("main"));
    Ok(load.Create<I64>("prices", IotaVec(1000)));
    Ok(load.Create<I64>("volumes", IotaVec(10)));
    Ok(load.Commit("load"));

    Transaction t1 = Ok(db->Begin("main"));
    Transaction t2 = Ok(db->Begin("main"));
    Ok(t1.Edit<I64>("prices"))->set(7, 70);
    Ok(t1.Edit<I64>("prices"))->set(600, 6000);
    Ok(t1.Edit<I64>("volumes"))->set(1, 11);
    Ok(t2.Edit<I64>("prices"))->set(600, 6001);
    Ok(t2.Edit<I64>("prices"))->set(7, 71);
    Ok(t2.Edit<I64>("prices"))->set(8, 80);   // no conflict on its own
    Ok(t2.Edit<I64>("volumes"))->set(2, 22);  // no conflict on its own
    const VersionId v3 = Ok(t1.Commit("t1"));

    const Snapshot before = Ok(db->OpenSnapshot("main"));
    const absl::StatusOr<VersionId> r = t2.Commit("t2");
    INFO(r.status().ToString());
    CHECK(absl::IsAborted(r.status()));
    CHECK(Names(t2.conflicts()) == std::vector<std::string>{"prices[7]", "prices[600]"});
    const std::string msg(r.status().message());
    CHECK_THAT(msg, Contains("prices") && Contains("7") && Contains("600") && Contains("main"));
    CHECK_FALSE(t2.active());

    // Nothing changed: same head, same retained versions, same contents.
    CHECK(HeadOf(*db, "main") == v3.value);
    CHECK(RetainedVersions(*db) == 3);
    std::vector<I64> want = Iota<I64>(1000);
    want[7] = 70;
    want[600] = 6000;
    CHECK(Read(*db, "main", "prices") == want);
    CHECK(Read(*db, "main", "volumes") == std::vector<I64>{0, 11, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(Ok(db->OpenSnapshot("main")).id().value == before.id().value);
    CHECK(ToVector(Ok(before.Get<I64>("prices"))) == want);
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE("ConflictMode::kDataset makes any concurrent write to a dataset a conflict",
          "[database]") {
  const auto db = Database::Open(Options{.conflict_mode = cowdb::ConflictMode::kDataset});
  Transaction load = Ok(db->Begin("main"));
  Ok(load.Create<I64>("prices", IotaVec(1000)));
  Ok(load.Create<I64>("volumes", IotaVec(1000)));
  Ok(load.Commit("load"));

  Transaction t1 = Ok(db->Begin("main"));
  Transaction t2 = Ok(db->Begin("main"));
  Transaction t3 = Ok(db->Begin("main"));
  Ok(t1.Edit<I64>("prices"))->set(1, -1);
  Ok(t2.Edit<I64>("prices"))->set(999, -999);  // another element, even another chunk
  Ok(t3.Edit<I64>("volumes"))->set(1, -1);     // another dataset
  const VersionId v3 = Ok(t1.Commit("t1"));

  const absl::StatusOr<VersionId> r = t2.Commit("t2");
  CHECK(absl::IsAborted(r.status()));
  CHECK(Names(t2.conflicts()) == std::vector<std::string>{"prices[*]"});
  CHECK_THAT(std::string(r.status().message()), Contains("prices"));
  CHECK(HeadOf(*db, "main") == v3.value);

  const VersionId v4 = Ok(t3.Commit("t3"));
  CHECK(v4.value == 4);
  std::vector<I64> prices = Iota<I64>(1000);
  prices[1] = -1;
  std::vector<I64> volumes = Iota<I64>(1000);
  volumes[1] = -1;
  CHECK(Read(*db, "main", "prices") == prices);
  CHECK(Read(*db, "main", "volumes") == volumes);
}

TEST_CASE("datasets of a user struct element type", "[database]") {
  const auto db = Database::Open();
  const std::vector<Trade> trades{{"ACME", 10.5, 100}, {"INIT", 1.25, 7}};
  const VersionId v2 =
      CreateDataset(*db, "main", "trades", pvec<Trade>(trades.begin(), trades.end()));

  const Snapshot s2 = Ok(db->OpenSnapshot("main"));
  CHECK(ToVector(Ok(s2.Get<Trade>("trades"))) == trades);
  const auto infos = s2.Datasets();
  REQUIRE(infos.size() == 1);
  CHECK_THAT(infos[0].type, Contains("Trade"));
  CHECK(infos[0].size == 2);

  Transaction t = Ok(db->Begin("main"));
  auto* ed = Ok(t.Edit<Trade>("trades"));
  ed->update(1, [](Trade x) {
    x.quantity += 1;
    return x;
  });
  ed->push_back(Trade{"NEW", 3.0, 3});
  const VersionId v3 = Ok(t.Commit("trade"));
  std::vector<Trade> want = trades;
  want[1].quantity = 8;
  want.push_back(Trade{"NEW", 3.0, 3});
  CHECK(Read<Trade>(*db, "main", "trades") == want);

  // Concurrent writes to different elements merge with T's operator==; the same one conflicts.
  Transaction t1 = Ok(db->Begin("main"));
  Transaction t2 = Ok(db->Begin("main"));
  Transaction t3 = Ok(db->Begin("main"));
  Ok(t1.Edit<Trade>("trades"))->update(0, [](Trade x) {
    x.price = 11.0;
    return x;
  });
  Ok(t2.Edit<Trade>("trades"))->update(1, [](Trade x) {
    x.symbol = "INIT2";
    return x;
  });
  Ok(t3.Edit<Trade>("trades"))->update(0, [](Trade x) {
    x.price = 12.0;
    return x;
  });
  Ok(t1.Commit("t1"));
  Ok(t2.Commit("t2"));
  CHECK(absl::IsAborted(t3.Commit("t3").status()));
  CHECK(Names(t3.conflicts()) == std::vector<std::string>{"trades[0]"});
  want[0].price = 11.0;
  want[1].symbol = "INIT2";
  CHECK(Read<Trade>(*db, "main", "trades") == want);

  // Diff counts work for any T; the text needs a formattable T.
  const cowdb::DatabaseDiff d = Ok(db->Diff(v2, v3));
  REQUIRE(d.changed.size() == 1);
  CHECK(d.changed[0].name == "trades");
  CHECK(d.changed[0].modified == 1);
  CHECK(d.changed[0].appended == 1);
  CHECK(d.changed[0].truncated == 0);
  CHECK_THAT(d.changed[0].text, Contains("no fmt::formatter"));  // Trade is not formattable
}

TEST_CASE("snapshots by branch, tag and version id", "[database]") {
  const auto db = Database::Open();
  const VersionId v2 = CreateDataset(*db, "main", "a", IotaVec(10));
  Ok(db->CreateTag("v2-tag", "main"));
  const VersionId v3 = SetElement(*db, "main", "a", 0, 100);
  std::vector<I64> at_v3 = Iota<I64>(10);
  at_v3[0] = 100;

  const Snapshot by_branch = Ok(db->OpenSnapshot("main"));
  const Snapshot by_tag = Ok(db->OpenSnapshot("v2-tag"));
  const Snapshot by_id = Ok(db->OpenSnapshot(v2));
  const Snapshot initial = Ok(db->OpenSnapshot(VersionId{1}));
  CHECK(by_branch.id().value == v3.value);
  CHECK(by_tag.id().value == v2.value);
  CHECK(by_id.id().value == v2.value);
  CHECK(initial.Datasets().empty());
  CHECK(ToVector(Ok(by_branch.Get<I64>("a"))) == at_v3);
  CHECK(ToVector(Ok(by_tag.Get<I64>("a"))) == Iota<I64>(10));
  CHECK(ToVector(Ok(by_id.Get<I64>("a"))) == Iota<I64>(10));

  // A snapshot is a value: a copy reads the same version, never a later commit.
  const Snapshot copy = by_branch;
  SetElement(*db, "main", "a", 1, 101);
  CHECK(copy.id().value == v3.value);
  CHECK(ToVector(Ok(copy.Get<I64>("a"))) == at_v3);
  CHECK(ToVector(Ok(by_branch.Get<I64>("a"))) == at_v3);

  // A branch and a tag with the same name: the branch is looked up first.
  Ok(db->CreateTag("same", v2));
  Ok(db->CreateBranch("same", v3));
  CHECK(Ok(db->OpenSnapshot("same")).id().value == v3.value);
  Ok(db->DeleteBranch("same"));
  CHECK(Ok(db->OpenSnapshot("same")).id().value == v2.value);
}

// An element type without operator== is refused at the call (the dataset_element concept), not
// deep inside the dataset's merge code.
namespace element_check {
struct NoEq {
  int x = 0;
};
template <class T>
concept can_create = requires(cowdb::Transaction& t) { t.Create<T>("x"); };
template <class T>
concept can_edit = requires(cowdb::Transaction& t) { t.Edit<T>("x"); };
template <class T>
concept can_get = requires(const cowdb::Snapshot& s) { s.Get<T>("x"); };
static_assert(cowdb::dataset_element<I64> && !cowdb::dataset_element<NoEq>);
static_assert(can_create<I64> && can_edit<I64> && can_get<I64>);
static_assert(!can_create<NoEq> && !can_edit<NoEq> && !can_get<NoEq>);
}  // namespace element_check

TEST_CASE("an empty snapshot (default-constructed or moved from) pins nothing", "[database]") {
  const auto db = Database::Open();
  CreateDataset(*db, "main", "a", IotaVec(10));
  Snapshot empty;
  CHECK(empty.id() == VersionId{});
  CHECK(empty.info().parents.empty());
  CHECK(empty.Datasets().empty());
  CHECK_FALSE(empty.Has("a"));
  const absl::Status missing = empty.Get<I64>("a").status();
  CHECK(absl::IsNotFound(missing));
  CHECK_THAT(std::string(missing.message()), Contains("\"a\"") && Contains("empty"));
  // Filled by assignment, emptied by a move.
  empty = Ok(db->OpenSnapshot("main"));
  CHECK(ToVector(Ok(empty.Get<I64>("a"))) == Iota<I64>(10));
  Snapshot taken = std::move(empty);
  CHECK(taken.Has("a"));
  CHECK(empty.id() == VersionId{});  // NOLINT(bugprone-use-after-move): the point of the test
  CHECK_FALSE(empty.Has("a"));       // NOLINT(bugprone-use-after-move)
  CHECK(absl::IsNotFound(empty.Get<I64>("a").status()));  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("a snapshot pins its version through commits, branch deletion and Prune", "[database]") {
  const std::int64_t nodes0 = live_nodes();
  {
    const auto db = Database::Open(Options{.keep_last_versions = 1});
    const VersionId v2 = CreateDataset(*db, "main", "a", IotaVec(3000));
    const Snapshot pinned = Ok(db->OpenSnapshot(v2));

    Ok(db->CreateBranch("exp", "main"));
    PutAll(*db, "exp", "a", IotaVec(3000, 1));                // v3
    const VersionId v4 = SetElement(*db, "exp", "a", 0, -1);  // v4
    const Snapshot exp_snap = Ok(db->OpenSnapshot("exp"));
    PutAll(*db, "main", "a", IotaVec(3000, 2));  // v5
    PutAll(*db, "main", "a", IotaVec(3000, 3));  // v6
    const VersionId v7 = PutAll(*db, "main", "a", IotaVec(3000, 4));
    CHECK(v7.value == 7);

    Ok(db->DeleteBranch("exp"));
    // main keeps v7 and v6; v1, v2, v5 are out of its window and v3, v4 belong to no branch.
    CHECK(db->Prune() == 5);
    CHECK(absl::IsNotFound(db->OpenSnapshot(v2).status()));
    CHECK(absl::IsNotFound(db->OpenSnapshot(v4).status()));

    CHECK(pinned.id().value == 2);
    CHECK(ToVector(Ok(pinned.Get<I64>("a"))) == Iota<I64>(3000));
    std::vector<I64> exp_want = Iota<I64>(3000, 1);
    exp_want[0] = -1;
    CHECK(exp_snap.id().value == v4.value);
    CHECK(ToVector(Ok(exp_snap.Get<I64>("a"))) == exp_want);
    CHECK(Read(*db, "main", "a") == Iota<I64>(3000, 4));
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE("branches are created from a branch, a tag or a version in O(1), renamed, deleted",
          "[database]") {
  const auto db = Database::Open();
  const VersionId v2 = CreateDataset(*db, "main", "a", IotaVec(1000));
  Ok(db->CreateTag("t2", "main"));
  const VersionId v3 = SetElement(*db, "main", "a", 1, -1);
  const Snapshot s2 = Ok(db->OpenSnapshot(v2));
  const Snapshot s3 = Ok(db->OpenSnapshot(v3));

  const std::int64_t nodes_before = live_nodes();
  Ok(db->CreateBranch("from-branch", "main"));
  Ok(db->CreateBranch("from-tag", "t2"));
  Ok(db->CreateBranch("from-version", v2));
  Ok(db->CreateBranch("default"));      // from "main"
  CHECK(live_nodes() == nodes_before);  // no data copied

  CHECK(HeadOf(*db, "from-branch") == v3.value);
  CHECK(HeadOf(*db, "from-tag") == v2.value);
  CHECK(HeadOf(*db, "from-version") == v2.value);
  CHECK(HeadOf(*db, "default") == v3.value);
  const auto identity = [&db](std::string_view branch) {
    return Ok(Ok(db->OpenSnapshot(branch)).Get<I64>("a")).identity();
  };
  CHECK(identity("from-branch") == Ok(s3.Get<I64>("a")).identity());
  CHECK(identity("default") == Ok(s3.Get<I64>("a")).identity());
  CHECK(identity("from-tag") == Ok(s2.Get<I64>("a")).identity());
  CHECK(identity("from-version") == Ok(s2.Get<I64>("a")).identity());

  const auto names = [&db] {
    std::vector<std::string> out;
    for (const auto& b : db->Branches()) out.push_back(b.name);
    return out;
  };
  CHECK(names() ==
        std::vector<std::string>{"default", "from-branch", "from-tag", "from-version", "main"});

  // Rename keeps the head; commits continue on the new name and leave main alone.
  Ok(db->RenameBranch("from-tag", "renamed"));
  CHECK(absl::IsNotFound(db->Head("from-tag").status()));
  CHECK(HeadOf(*db, "renamed") == v2.value);
  const VersionId v4 = SetElement(*db, "renamed", "a", 2, -2);
  std::vector<I64> renamed_want = Iota<I64>(1000);
  renamed_want[2] = -2;
  CHECK(Read(*db, "renamed", "a") == renamed_want);
  CHECK(HeadOf(*db, "main") == v3.value);
  CHECK(names() ==
        std::vector<std::string>{"default", "from-branch", "from-version", "main", "renamed"});

  // Delete removes the pointer; the versions stay until pruned.
  Ok(db->DeleteBranch("renamed"));
  Ok(db->DeleteBranch("from-branch"));
  CHECK(absl::IsNotFound(db->Head("renamed").status()));
  CHECK(names() == std::vector<std::string>{"default", "from-version", "main"});
  CHECK(Read(*db, v4, "a") == renamed_want);
  const auto info = db->Branches();
  REQUIRE(info.size() == 3);
  CHECK(info[0].head.value == v3.value);
  CHECK(info[1].head.value == v2.value);
  CHECK(info[2].head.value == v3.value);
}

TEST_CASE("tags name fixed versions and keep them through Prune", "[database]") {
  const auto db = Database::Open(Options{.keep_last_versions = 1});
  const VersionId v2 = CreateDataset(*db, "main", "a", IotaVec(10));
  Ok(db->CreateTag("release-1", "main"));
  Ok(db->CreateTag("release-1-copy", "release-1"));  // from a tag
  const VersionId v3 = SetElement(*db, "main", "a", 0, -1);
  Ok(db->CreateTag("by-id", v2));
  Ok(db->CreateTag("head", "main"));

  const auto tags = [&db] {
    std::vector<std::string> out;
    for (const auto& t : db->Tags()) out.push_back(fmt::format("{}@{}", t.name, t.head));
    return out;
  };
  CHECK(tags() ==
        std::vector<std::string>{"by-id@v2", "head@v3", "release-1@v2", "release-1-copy@v2"});

  // Tags do not move with the branch.
  for (int i = 0; i < 4; ++i) SetElement(*db, "main", "a", 1, 10 + i);  // v4..v7
  CHECK(tags() ==
        std::vector<std::string>{"by-id@v2", "head@v3", "release-1@v2", "release-1-copy@v2"});

  // Prune keeps main's window (v7, v6) and each tag's own version (v3, v2): v1, v4 and v5 go.
  CHECK(db->Prune() == 3);
  for (std::uint64_t gone : {1, 4, 5}) {
    CHECK(absl::IsNotFound(db->OpenSnapshot(VersionId{gone}).status()));
  }
  CHECK(Read(*db, "release-1", "a") == Iota<I64>(10));
  CHECK(Read(*db, v3, "a") == std::vector<I64>{-1, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  Ok(db->DeleteTag("release-1"));
  CHECK(tags() == std::vector<std::string>{"by-id@v2", "head@v3", "release-1-copy@v2"});
  CHECK(absl::IsNotFound(db->OpenSnapshot("release-1").status()));
  CHECK(Read(*db, v2, "a") == Iota<I64>(10));  // still tagged by the others
}

TEST_CASE("Log lists a branch's history newest first with its parents", "[database]") {
  const auto db = Database::Open();
  CreateDataset(*db, "main", "a", IotaVec(1000));  // v2
  SetElement(*db, "main", "a", 1, -1);             // v3
  Ok(db->CreateBranch("exp", "main"));
  SetElement(*db, "exp", "a", 900, -900);  // v4
  SetElement(*db, "main", "a", 2, -2);     // v5
  const VersionId v6 = Ok(db->Merge("exp", "main", "merge exp"));
  CHECK(v6.value == 6);

  const auto log = Ok(db->Log("main"));
  std::vector<std::uint64_t> ids;
  for (const auto& v : log) ids.push_back(v.id.value);
  CHECK(ids == std::vector<std::uint64_t>{6, 5, 4, 3, 2, 1});
  REQUIRE(log.size() == 6);
  CHECK(log[0].message == "merge exp");
  CHECK(Ids(log[0].parents) == std::vector<std::uint64_t>{5, 4});  // target head first
  CHECK(Ids(log[1].parents) == std::vector<std::uint64_t>{3});
  CHECK(Ids(log[2].parents) == std::vector<std::uint64_t>{3});
  CHECK(log[2].message == "set a[900] = -900");
  CHECK(Ids(log[4].parents) == std::vector<std::uint64_t>{1});
  CHECK(log[5].parents.empty());
  for (std::size_t i = 0; i + 1 < log.size(); ++i) CHECK(log[i].time >= log[i + 1].time);

  CHECK_FALSE(log.truncated);
  const auto limited = Ok(db->Log("main", 2));
  REQUIRE(limited.size() == 2);
  CHECK(limited.truncated);  // the limit, not the history, ended it
  CHECK(limited[0].id.value == 6);
  CHECK(limited[1].id.value == 5);
  CHECK_FALSE(Ok(db->Log("main", 6)).truncated);

  std::vector<std::uint64_t> exp_ids;
  for (const auto& v : Ok(db->Log("exp"))) exp_ids.push_back(v.id.value);
  CHECK(exp_ids == std::vector<std::uint64_t>{4, 3, 2, 1});

  // A tag's history, from the version it names.
  Ok(db->CreateTag("t", VersionId{4}));
  std::vector<std::uint64_t> tag_ids;
  for (const auto& v : Ok(db->Log("t"))) tag_ids.push_back(v.id.value);
  CHECK(tag_ids == exp_ids);
  CHECK(absl::IsNotFound(db->Log("nope").status()));
}

TEST_CASE("OpenSnapshot(name, time) finds the version a branch had then", "[database]") {
  const auto db = Database::Open(Options{.keep_last_versions = 3});
  const absl::Time before_all = absl::Now() - absl::Seconds(1);
  CreateDataset(*db, "main", "a", IotaVec(10));  // v2
  std::vector<absl::Time> times;                 // times[k]: just after v(3 + k)
  for (int k = 0; k < 4; ++k) {                  // v3..v6
    SetElement(*db, "main", "a", 0, 100 + k);
    absl::SleepFor(absl::Milliseconds(2));
    times.push_back(absl::Now());
    absl::SleepFor(absl::Milliseconds(2));
  }
  for (int k = 0; k < 4; ++k) {
    const cowdb::Snapshot s = Ok(db->OpenSnapshot("main", times[k]));
    CHECK(s.id().value == 3 + static_cast<std::uint64_t>(k));
    CHECK(Ok(s.Get<I64>("a"))[0] == 100 + k);
  }
  CHECK(Ok(db->OpenSnapshot("main", absl::InfiniteFuture())).id().value == 6);
  // Before the first version: none is that old.
  const absl::Status none = db->OpenSnapshot("main", before_all).status();
  CHECK(absl::IsNotFound(none));
  CHECK_THAT(std::string(none.message()), Contains("no version as old"));
  // Pruned: v2 and v1 are gone (main keeps v6 and 3 before it), so their time is not known.
  CHECK(db->Prune() == 2);
  const absl::Status pruned = db->OpenSnapshot("main", before_all).status();
  CHECK(absl::IsNotFound(pruned));
  CHECK_THAT(std::string(pruned.message()), Contains("pruned") && Contains("v2"));
  CHECK(Ok(db->OpenSnapshot("main", times[0])).id().value == 3);
  // A tag works as a branch does; an unknown name is kNotFound.
  Ok(db->CreateTag("t", VersionId{5}));
  CHECK(Ok(db->OpenSnapshot("t", times[3])).id().value == 5);
  CHECK(Ok(db->OpenSnapshot("t", times[0])).id().value == 3);
  CHECK(absl::IsNotFound(db->OpenSnapshot("nope", times[0]).status()));
}

namespace fmt_check {
struct Plain {  // no fmt::formatter
  int x = 0;
  friend bool operator==(const Plain&, const Plain&) = default;
};
}  // namespace fmt_check

TEST_CASE("fmt prints diffs, histories, branches and statuses; diff text is bounded",
          "[database]") {
  const auto db = Database::Open();
  Transaction load = Ok(db->Begin("main"));
  Ok(load.Create<I64>("a", IotaVec(1000)));
  Ok(load.Create<I64>("gone", IotaVec(3)));
  Ok(load.Create<fmt_check::Plain>("p", pvec<fmt_check::Plain>{{1}, {2}}));
  Ok(load.Commit("load"));  // v2
  Ok(db->CreateBranch("exp"));
  {
    Transaction t = Ok(db->Begin("exp"));
    auto* a = Ok(t.Edit<I64>("a"));
    for (std::size_t i = 0; i < 30; ++i) a->set(i * 30, -1);  // 30 ranges, far apart
    a->erase(999);
    Ok(t.Drop("gone"));
    Ok(t.Create<I64>("new", IotaVec(2)));
    Ok(t.Edit<fmt_check::Plain>("p"))->set(0, fmt_check::Plain{5});
    Ok(t.Commit("fix"));  // v3
  }
  const cowdb::DatabaseDiff d = Ok(db->Diff("main", "exp"));
  REQUIRE(d.changed.size() == 2);
  const cowdb::DatasetChange& a = d.changed[0];
  CHECK(a.name == "a");
  // 20 ranges rendered (DiffOptions::max_text_ranges), then what was left out, then the summary.
  CHECK(std::count(a.text.begin(), a.text.end(), '@') == 20 * 4);
  CHECK_THAT(a.text, Contains("... 11 more ranges not shown\n31 ranges, 30 elements changed, 1 "
                              "truncated"));
  const cowdb::DatabaseDiff all = Ok(db->Diff("main", "exp", {.max_text_ranges = SIZE_MAX}));
  CHECK(std::count(all.changed[0].text.begin(), all.changed[0].text.end(), '@') == 31 * 4);
  CHECK_THAT(all.changed[0].text, !Contains("not shown"));
  // A type without a formatter says so instead of leaving the text empty.
  CHECK(d.changed[1].name == "p");
  CHECK_THAT(d.changed[1].text,
             Contains("no row text") && Contains("Plain") && Contains("has no fmt::formatter"));
  CHECK(Ok(db->Diff("main", "exp", {.text = false})).changed[0].text.empty());

  const std::string printed = fmt::format("{}", d);
  CHECK_THAT(printed, StartsWith("dataset \"new\" added\ndataset \"gone\" removed\n"
                                 "\"a\": 30 modified, 1 truncated\n@@ [0, 1) modified"));
  CHECK_THAT(printed, Contains("\n\"p\": 1 modified\n(no row text"));
  CHECK(fmt::format("{}", cowdb::DatabaseDiff{}) == "no changes");

  CHECK(fmt::format("{}", db->Branches()[0]) == "exp -> v3");
  const cowdb::History h = Ok(db->Log("exp", 2));
  const std::string log = fmt::format("{}", h);
  CHECK_THAT(log, StartsWith("v3 ") && EndsWith(" (parents v1) load\n(more not shown)"));
  CHECK_THAT(log, Contains(" UTC (parents v2) fix\nv2 "));
  CHECK(fmt::format("{}", absl::NotFoundError("no \"x\"")) == "NOT_FOUND: no \"x\"");
  CHECK(fmt::format("{}", absl::OkStatus()) == "OK");
}

TEST_CASE("Diff reports datasets added, removed and changed", "[database]") {
  const auto db = Database::Open();
  Transaction load = Ok(db->Begin("main"));
  Ok(load.Create<I64>("a", IotaVec(1000)));
  Ok(load.Create<I64>("b", IotaVec(10)));
  Ok(load.Create<double>("c", pvec<double>{1.0, 2.0}));
  Ok(load.Create<I64>("e", IotaVec(100)));
  Ok(load.Create<I64>("retyped", IotaVec(3)));
  Ok(load.Create<I64>("same", IotaVec(5)));
  const VersionId v2 = Ok(load.Commit("load"));

  Transaction t = Ok(db->Begin("main"));
  auto* a = Ok(t.Edit<I64>("a"));
  a->set(5, -5);
  a->set(700, -700);
  for (I64 x : {1000, 1001, 1002}) a->push_back(x);
  Ok(t.Drop("b"));
  Ok(t.Create<I64>("d", IotaVec(2)));
  Ok(t.Edit<I64>("e"))->take(90);
  Ok(t.Drop("retyped"));
  Ok(t.Create<double>("retyped", pvec<double>{0.5}));
  Ok(t.Put<I64>("same", IotaVec(5)));  // a new tree with equal contents
  const VersionId v3 = Ok(t.Commit("change"));

  const auto find = [](const cowdb::DatabaseDiff& d, std::string_view name) {
    for (const cowdb::DatasetChange& c : d.changed) {
      if (c.name == name) return c;
    }
    FAIL("no change listed for dataset " << name);
    return cowdb::DatasetChange{};
  };
  const auto changed_names = [](const cowdb::DatabaseDiff& d) {
    std::vector<std::string> out;
    for (const cowdb::DatasetChange& c : d.changed) out.push_back(c.name);
    std::sort(out.begin(), out.end());
    return out;
  };

  const cowdb::DatabaseDiff fwd = Ok(db->Diff(v2, v3));
  CHECK(fwd.added == std::vector<std::string>{"d", "retyped"});
  CHECK(fwd.removed == std::vector<std::string>{"b", "retyped"});
  CHECK(changed_names(fwd) == std::vector<std::string>{"a", "e"});
  CHECK_FALSE(fwd.empty());
  const cowdb::DatasetChange fa = find(fwd, "a");
  CHECK(fa.modified == 2);
  CHECK(fa.appended == 3);
  CHECK(fa.truncated == 0);
  CHECK_THAT(fa.text, Contains("-5") && Contains("-700") && Contains("1002"));
  const cowdb::DatasetChange fe = find(fwd, "e");
  CHECK(fe.modified == 0);
  CHECK(fe.appended == 0);
  CHECK(fe.truncated == 10);

  const cowdb::DatabaseDiff back = Ok(db->Diff(v3, v2));
  CHECK(back.added == std::vector<std::string>{"b", "retyped"});
  CHECK(back.removed == std::vector<std::string>{"d", "retyped"});
  CHECK(changed_names(back) == std::vector<std::string>{"a", "e"});
  const cowdb::DatasetChange ba = find(back, "a");
  CHECK(ba.modified == 2);
  CHECK(ba.appended == 0);
  CHECK(ba.truncated == 3);
  CHECK(find(back, "e").appended == 10);

  CHECK(Ok(db->Diff(v2, v2)).empty());
  CHECK(Ok(db->Diff(v3, v3)).empty());

  // By branch and tag names: the versions they name now.
  REQUIRE(db->CreateTag("loaded", v2).ok());
  const cowdb::DatabaseDiff named = Ok(db->Diff("loaded", "main"));
  CHECK(named.added == fwd.added);
  CHECK(named.removed == fwd.removed);
  CHECK(changed_names(named) == changed_names(fwd));
  CHECK(find(named, "a").modified == 2);
  CHECK(find(named, "e").truncated == 10);
  CHECK(Ok(db->Diff("main", "loaded")).added == back.added);
  const absl::Status missing = db->Diff("loaded", "no-such-branch").status();
  CHECK(absl::IsNotFound(missing));
  CHECK_THAT(std::string(missing.message()), Contains("no-such-branch"));
}

TEST_CASE("Merge: fast-forward, up to date, three-way, conflicts and policies", "[database]") {
  const std::int64_t nodes0 = live_nodes();
  {
    const auto db = Database::Open();
    Transaction load = Ok(db->Begin("main"));
    Ok(load.Create<I64>("a", IotaVec(1000)));
    Ok(load.Create<I64>("b", IotaVec(10)));
    const VersionId v2 = Ok(load.Commit("load"));
    Ok(db->CreateBranch("exp", "main"));

    SECTION("fast-forward when the target is behind") {
      SetElement(*db, "exp", "a", 1, -1);                       // v3
      const VersionId v4 = SetElement(*db, "exp", "a", 2, -2);  // v4
      const VersionId r = Ok(db->Merge("exp", "main", "ff"));
      CHECK(r.value == v4.value);
      CHECK(HeadOf(*db, "main") == v4.value);
      CHECK(RetainedVersions(*db) == 4);  // no merge version
      CHECK(Ok(db->Log("main"))[0].id.value == v4.value);
    }
    SECTION("nothing to do when the source is already merged") {
      CHECK(Ok(db->Merge("exp", "main", "same head")).value == v2.value);
      const VersionId v3 = SetElement(*db, "main", "a", 1, -1);
      CHECK(Ok(db->Merge("exp", "main", "behind")).value == v3.value);
      CHECK(HeadOf(*db, "main") == v3.value);
      CHECK(HeadOf(*db, "exp") == v2.value);
      CHECK(RetainedVersions(*db) == 3);
    }
    SECTION("three-way merge with two parents") {
      const VersionId v3 = SetElement(*db, "main", "a", 1, -1);
      Transaction t = Ok(db->Begin("exp"));
      Ok(t.Edit<I64>("a"))->set(900, -900);
      Ok(t.Create<I64>("d", IotaVec(3)));
      const VersionId v4 = Ok(t.Commit("exp work"));

      const VersionId v5 = Ok(db->Merge("exp", "main", "merge exp"));
      CHECK(v5.value == 5);
      CHECK(HeadOf(*db, "main") == 5);
      CHECK(HeadOf(*db, "exp") == v4.value);
      const Snapshot s = Ok(db->OpenSnapshot(v5));
      CHECK(Ids(s.info().parents) == std::vector<std::uint64_t>{v3.value, v4.value});
      CHECK(s.info().message == "merge exp");
      std::vector<I64> want = Iota<I64>(1000);
      want[1] = -1;
      want[900] = -900;
      CHECK(ToVector(Ok(s.Get<I64>("a"))) == want);
      CHECK(ToVector(Ok(s.Get<I64>("d"))) == Iota<I64>(3));
      CHECK(ToVector(Ok(s.Get<I64>("b"))) == Iota<I64>(10));

      // Merging back fast-forwards exp to the merge version.
      CHECK(Ok(db->Merge("main", "exp", "back")).value == 5);
      CHECK(HeadOf(*db, "exp") == 5);
    }
    SECTION("element conflicts") {
      Transaction tm = Ok(db->Begin("main"));
      Ok(tm.Edit<I64>("a"))->set(7, 70);
      const VersionId v3 = Ok(tm.Commit("main 7"));
      Transaction te = Ok(db->Begin("exp"));
      Ok(te.Edit<I64>("a"))->set(7, 71);
      Ok(te.Edit<I64>("a"))->set(8, 81);
      const VersionId v4 = Ok(te.Commit("exp 7 8"));

      SECTION("kFail reports them and changes nothing") {
        std::vector<Conflict> conflicts;
        const absl::StatusOr<VersionId> r =
            db->Merge("exp", "main", "m", MergePolicy::kFail, &conflicts);
        INFO(r.status().ToString());
        CHECK(absl::IsAborted(r.status()));
        CHECK(Names(conflicts) == std::vector<std::string>{"a[7]"});
        CHECK_THAT(std::string(r.status().message()),
                   Contains("exp") && Contains("main") && Contains("7"));
        CHECK(HeadOf(*db, "main") == v3.value);
        CHECK(HeadOf(*db, "exp") == v4.value);
        CHECK(RetainedVersions(*db) == 4);
        CHECK(absl::IsAborted(db->Merge("exp", "main", "m").status()));  // no conflict list
        CHECK(HeadOf(*db, "main") == v3.value);
      }
      SECTION("kOurs keeps the target's value") {
        const VersionId v5 = Ok(db->Merge("exp", "main", "m", MergePolicy::kOurs));
        const Snapshot s = Ok(db->OpenSnapshot(v5));
        CHECK(Ids(s.info().parents) == std::vector<std::uint64_t>{v3.value, v4.value});
        const pvec<I64> a = Ok(s.Get<I64>("a"));
        CHECK(a[7] == 70);
        CHECK(a[8] == 81);
      }
      SECTION("kTheirs takes the source's value") {
        const VersionId v5 = Ok(db->Merge("exp", "main", "m", MergePolicy::kTheirs));
        const pvec<I64> a = Ok(Ok(db->OpenSnapshot(v5)).Get<I64>("a"));
        CHECK(a[7] == 71);
        CHECK(a[8] == 81);
        CHECK(HeadOf(*db, "main") == v5.value);
      }
    }
    SECTION("a dataset dropped on one side and written on the other") {
      Transaction tm = Ok(db->Begin("main"));
      Ok(tm.Drop("b"));
      Ok(tm.Commit("drop b"));
      SetElement(*db, "exp", "b", 1, -1);
      std::vector<Conflict> conflicts;
      CHECK(
          absl::IsAborted(db->Merge("exp", "main", "m", MergePolicy::kFail, &conflicts).status()));
      CHECK(Names(conflicts) == std::vector<std::string>{"b[*]"});
      SECTION("kOurs keeps it dropped") {
        const Snapshot s =
            Ok(db->OpenSnapshot(Ok(db->Merge("exp", "main", "m", MergePolicy::kOurs))));
        CHECK_FALSE(s.Has("b"));
      }
      SECTION("kTheirs keeps the written dataset") {
        const Snapshot s =
            Ok(db->OpenSnapshot(Ok(db->Merge("exp", "main", "m", MergePolicy::kTheirs))));
        CHECK(ToVector(Ok(s.Get<I64>("b"))) == std::vector<I64>{0, -1, 2, 3, 4, 5, 6, 7, 8, 9});
      }
    }
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE("Prune forgets versions outside the window; pinned ones stay readable until released",
          "[database]") {
  const std::int64_t nodes0 = live_nodes();
  {
    constexpr std::size_t kN = 5000;
    const std::int64_t per_version = NodesOf(IotaVec(kN));
    REQUIRE(per_version == 11);  // 10 leaves of 512 elements under one root
    const auto db = Database::Open(Options{.keep_last_versions = 2});
    const VersionId v2 = CreateDataset(*db, "main", "a", IotaVec(kN));
    std::optional<Snapshot> old = Ok(db->OpenSnapshot(v2));
    for (I64 k = 1; k <= 5; ++k) PutAll(*db, "main", "a", IotaVec(kN, k * 10000));  // v3..v7
    CHECK(HeadOf(*db, "main") == 7);
    CHECK(RetainedVersions(*db) == 7);
    CHECK(live_nodes() - nodes0 == 6 * per_version);  // v2..v7 each hold a distinct tree

    // The head and the last 2 versions of its history stay: v7, v6, v5.
    CHECK(db->Prune() == 4);
    CHECK(RetainedVersions(*db) == 3);
    for (std::uint64_t gone : {1, 2, 3, 4}) {
      CAPTURE(gone);
      CHECK(absl::IsNotFound(db->OpenSnapshot(VersionId{gone}).status()));
    }
    CHECK(Read(*db, VersionId{5}, "a") == Iota<I64>(kN, 30000));
    std::vector<std::uint64_t> ids;
    for (const auto& v : Ok(db->Log("main"))) ids.push_back(v.id.value);
    CHECK(ids == std::vector<std::uint64_t>{7, 6, 5});  // history stops at pruned versions

    // v3 and v4 are freed; v2 lives on in the snapshot, which still reads it.
    CHECK(live_nodes() - nodes0 == 4 * per_version);
    CHECK(ToVector(Ok(old->Get<I64>("a"))) == Iota<I64>(kN));
    old.reset();
    CHECK(live_nodes() - nodes0 == 3 * per_version);
    CHECK(db->Prune() == 0);
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE("Prune keeps young versions (keep_newer_than) and drops unreachable ones", "[database]") {
  SECTION("keep_newer_than keeps every reachable version younger than the limit") {
    const auto db =
        Database::Open(Options{.keep_last_versions = 1, .keep_newer_than = absl::Hours(1)});
    CreateDataset(*db, "main", "a", IotaVec(10));
    for (int i = 0; i < 4; ++i) SetElement(*db, "main", "a", 0, i + 1);  // v3..v6
    CHECK(db->Prune() == 0);
    CHECK(Read(*db, VersionId{2}, "a") == Iota<I64>(10));
  }
  SECTION("with no rule set only versions no branch or tag reaches go") {
    const auto db = Database::Open();
    CreateDataset(*db, "main", "a", IotaVec(10));  // v2
    Ok(db->CreateBranch("exp", "main"));
    const VersionId v3 = SetElement(*db, "exp", "a", 0, -1);   // v3
    const VersionId v4 = SetElement(*db, "main", "a", 1, -1);  // v4
    CHECK(db->Prune() == 0);
    Ok(db->DeleteBranch("exp"));
    CHECK(Read(*db, v3, "a")[0] == -1);  // still retained until the next Prune
    CHECK(db->Prune() == 1);
    CHECK(absl::IsNotFound(db->OpenSnapshot(v3).status()));
    for (std::uint64_t kept : {1, 2}) CHECK(db->OpenSnapshot(VersionId{kept}).ok());
    CHECK(Read(*db, v4, "a")[1] == -1);
  }
}

TEST_CASE("each retention rule works alone; a tag pins its version; Prune(policy) is a one-off",
          "[database]") {
  SECTION("keep_newer_than alone keeps the heads and the young versions") {
    const auto db = Database::Open();
    CreateDataset(*db, "main", "a", IotaVec(10));                        // v2
    for (int i = 0; i < 3; ++i) SetElement(*db, "main", "a", 0, i + 1);  // v3..v5: old
    absl::SleepFor(absl::Milliseconds(200));
    for (int i = 0; i < 3; ++i) SetElement(*db, "main", "a", 1, i + 1);  // v6..v8: young
    // The limit falls in the middle of the 200 ms gap.
    const absl::Time old_last = Ok(db->OpenSnapshot(VersionId{5})).info().time;
    const absl::Time young_first = Ok(db->OpenSnapshot(VersionId{6})).info().time;
    const absl::Duration limit = absl::Now() - (old_last + (young_first - old_last) / 2);
    CHECK(db->Prune(cowdb::Retention{.keep_newer_than = limit}) == 5);  // v1..v5
    for (std::uint64_t gone : {1, 2, 3, 4, 5}) {
      CHECK(absl::IsNotFound(db->OpenSnapshot(VersionId{gone}).status()));
    }
    for (std::uint64_t kept : {6, 7, 8}) CHECK(db->OpenSnapshot(VersionId{kept}).ok());
    // An age limit of zero keeps only the heads.
    CHECK(db->Prune(cowdb::Retention{.keep_newer_than = absl::ZeroDuration()}) == 2);
    CHECK(RetainedVersions(*db) == 1);
    CHECK(Read(*db, "main", "a")[1] == 3);
  }
  SECTION("keep_last_versions alone; a tag keeps its own version, not a window") {
    const auto db = Database::Open(Options{.keep_last_versions = 1});
    CreateDataset(*db, "main", "a", IotaVec(10));                        // v2
    for (int i = 0; i < 6; ++i) SetElement(*db, "main", "a", 0, i + 1);  // v3..v8
    Ok(db->CreateTag("t", VersionId{5}));
    CHECK(db->Prune() == 5);  // v1..v4 and v6
    for (std::uint64_t kept : {5, 7, 8}) CHECK(db->OpenSnapshot(VersionId{kept}).ok());
    CHECK(RetainedVersions(*db) == 3);
    CHECK(Read(*db, "t", "a")[0] == 3);
  }
  SECTION("Prune(policy) applies its rules once and leaves the options as they were") {
    const auto db = Database::Open();              // no rule: Prune() keeps everything reachable
    CreateDataset(*db, "main", "a", IotaVec(10));  // v2
    for (int i = 0; i < 4; ++i) SetElement(*db, "main", "a", 0, i + 1);  // v3..v6
    Ok(db->CreateBranch("exp", VersionId{4}));
    CHECK(db->Prune(cowdb::Retention{.keep_last_versions = 1}) == 2);  // v1 and v2
    for (std::uint64_t kept : {3, 4, 5, 6}) CHECK(db->OpenSnapshot(VersionId{kept}).ok());
    for (int i = 0; i < 3; ++i) SetElement(*db, "main", "a", 1, i + 1);  // v7..v9
    CHECK(db->Prune() == 0);
    CHECK(RetainedVersions(*db) == 7);
    CHECK(db->Prune(cowdb::Retention{.keep_last_versions = 0}) == 5);  // all but v9 and v4
    CHECK(RetainedVersions(*db) == 2);
  }
}

TEST_CASE("auto_prune prunes after every commit and merge", "[database]") {
  const auto db = Database::Open(Options{.keep_last_versions = 1, .auto_prune = true});
  CreateDataset(*db, "main", "a", IotaVec(1000));                      // v2
  for (int i = 0; i < 3; ++i) SetElement(*db, "main", "a", 0, i + 1);  // v3, v4, v5
  // Without any Prune() call only the head and one more version are left.
  CHECK(RetainedVersions(*db) == 2);
  CHECK(absl::IsNotFound(db->OpenSnapshot(VersionId{3}).status()));
  CHECK(db->OpenSnapshot(VersionId{4}).ok());

  Ok(db->CreateBranch("exp", "main"));  // at v5
  SetElement(*db, "exp", "a", 900, 9);  // v6
  SetElement(*db, "main", "a", 1, -1);  // v7
  SetElement(*db, "main", "a", 2, -2);  // v8
  // main keeps v8 and v7; exp keeps v6 and v5 (their common ancestor).
  CHECK(RetainedVersions(*db) == 4);
  CHECK(absl::IsNotFound(db->OpenSnapshot(VersionId{4}).status()));
  CHECK(db->OpenSnapshot(VersionId{7}).ok());

  const VersionId v9 = Ok(db->Merge("exp", "main", "merge"));
  CHECK(v9.value == 9);
  // main now keeps v9 and its parents v8 and v6; v7 is two steps away and goes.
  CHECK(absl::IsNotFound(db->OpenSnapshot(VersionId{7}).status()));
  CHECK(RetainedVersions(*db) == 4);  // v5, v6, v8, v9
  std::vector<I64> want = Iota<I64>(1000);
  want[0] = 3;
  want[1] = -1;
  want[2] = -2;
  want[900] = 9;
  CHECK(Read(*db, "main", "a") == want);
}

TEST_CASE("memory report: what branches share and what each keeps alone", "[database]") {
  const auto db = Database::Open();
  // 20000 int64 = 40 chunks of 512: two inner nodes under a root.
  CreateDataset(*db, "main", "a", IotaVec(20000));
  Ok(db->CreateBranch("exp", "main"));
  const std::size_t a_bytes = Ok(Ok(db->OpenSnapshot("main")).Get<I64>("a")).memory().bytes;
  REQUIRE(a_bytes > 40 * 4096);

  const cowdb::MemoryReport r1 = db->GetMemoryReport();
  REQUIRE(r1.branches.size() == 2);
  CHECK(r1.branches[0].name == "exp");
  CHECK(r1.branches[1].name == "main");
  for (const cowdb::RefMemory& b : r1.branches) {
    CAPTURE(b.name);
    CHECK(b.exclusive_bytes == 0);
    CHECK(b.shared_bytes == a_bytes);
    CHECK(b.reachable_bytes == a_bytes);
  }
  CHECK(r1.total_bytes == a_bytes);
  CHECK(r1.history_bytes == 0);
  CHECK(r1.versions == 2);

  // One changed element on exp: a patch over one chunk (which stays shared with main) plus the
  // inner nodes above it. Each branch keeps its own copy of that path of inner nodes alone; exp
  // keeps the patch too.
  SetElement(*db, "exp", "a", 7, -7);
  const cowdb::MemoryReport r2 = db->GetMemoryReport();
  REQUIRE(r2.branches.size() == 2);
  const std::size_t patch = RowsTree<I64>::patch_bytes;
  for (const cowdb::RefMemory& b : r2.branches) {
    CAPTURE(b.name);
    CHECK(b.exclusive_bytes > 0);
    CHECK(b.exclusive_bytes < 4096);
    CHECK(b.shared_bytes + b.exclusive_bytes == b.reachable_bytes);
  }
  CHECK(r2.branches[0].reachable_bytes == a_bytes + patch);  // exp
  CHECK(r2.branches[1].reachable_bytes == a_bytes);          // main
  CHECK(r2.branches[0].exclusive_bytes == r2.branches[1].exclusive_bytes + patch);
  CHECK(r2.total_bytes == a_bytes + r2.branches[0].exclusive_bytes);
  CHECK(r2.history_bytes == 0);
  CHECK(r2.versions == 3);
  const std::string text = fmt::format("{}", r2);
  CHECK_THAT(text, Contains("main") && Contains("exp"));

  // A tag on exp's head shares its chunks: exp keeps nothing alone any more.
  Ok(db->CreateTag("keep", "exp"));
  const cowdb::MemoryReport r3 = db->GetMemoryReport();
  CHECK(r3.branches[0].exclusive_bytes == 0);
  CHECK(r3.branches[1].exclusive_bytes == r2.branches[1].exclusive_bytes);

  // main moves on from v2: v2's copy of the changed chunk is now held only by history.
  SetElement(*db, "main", "a", 9, -9);
  const cowdb::MemoryReport r4 = db->GetMemoryReport();
  CHECK(r4.history_bytes == r2.branches[1].exclusive_bytes);
  CHECK(r4.versions == 4);
}

TEST_CASE("memory report: tags, datasets, pinned versions, resident memory", "[database]") {
  const auto db = Database::Open();
  CreateDataset(*db, "main", "a", IotaVec(20000));  // 40 chunks
  CreateDataset(*db, "main", "b", IotaVec(600));    // 2 chunks
  Ok(db->CreateTag("load", "main"));
  Snapshot load = Ok(db->OpenSnapshot("load"));
  const std::size_t a_bytes = Ok(load.Get<I64>("a")).memory().bytes;
  const std::size_t b_bytes = Ok(load.Get<I64>("b")).memory().bytes;
  // A pvec read from a version shares all its chunks with it (snapshot.h): nothing exclusive.
  CHECK(Ok(load.Get<I64>("a")).exclusive().bytes == 0);

  // The tag names main's head: both list the other, and neither keeps anything alone.
  const cowdb::MemoryReport r1 = db->GetMemoryReport();
  REQUIRE(r1.branches.size() == 1);
  REQUIRE(r1.tags.size() == 1);
  for (const cowdb::RefMemory* m : {&r1.branches[0], &r1.tags[0]}) {
    CAPTURE(m->name);
    CHECK(m->head == load.id());
    CHECK(m->reachable_bytes == a_bytes + b_bytes);
    CHECK(m->exclusive_bytes == 0);
    REQUIRE(m->datasets.size() == 2);
    CHECK(m->datasets[0].name == "a");
    CHECK(m->datasets[0].rows == 20000);
    CHECK(m->datasets[0].reachable_bytes == a_bytes);
    CHECK(m->datasets[1].name == "b");
    CHECK(m->datasets[1].rows == 600);
    CHECK(m->datasets[1].reachable_bytes == b_bytes);
  }
  CHECK(r1.branches[0].same_version == std::vector<std::string>{"tag load"});
  CHECK(r1.tags[0].same_version == std::vector<std::string>{"branch main"});
  CHECK(r1.pinned_versions == 0);
  CHECK(r1.pinned_bytes == 0);
#if defined(__linux__)
  CHECK(r1.resident_bytes > a_bytes);  // the process holds at least the data
#endif
  const std::string t1 = fmt::format("{}", r1);
  CHECK_THAT(t1, Contains("tag load") && Contains("(same version as tag load)") &&
                     Contains("\"a\"") && Contains("20000 rows") && Contains("600 rows"));

  // main moves on in "b" only: main's exclusive bytes are b's new chunk path, per dataset.
  SetElement(*db, "main", "b", 5, -5);
  const cowdb::MemoryReport r2 = db->GetMemoryReport();
  const cowdb::RefMemory& main2 = r2.branches[0];
  CHECK(main2.same_version.empty());
  CHECK(main2.datasets[0].exclusive_bytes == 0);
  CHECK(main2.datasets[1].exclusive_bytes > 0);
  CHECK(main2.exclusive_bytes == main2.datasets[1].exclusive_bytes);
  // The tag keeps the old path of b alone; the chunk below it is shared by main's patch.
  CHECK(r2.tags[0].exclusive_bytes + RowsTree<I64>::patch_bytes == main2.exclusive_bytes);

  // Deleting the tag and pruning forgets v3 (load); the snapshot still holds it: it is pinned,
  // with the bytes no retained version uses.
  const std::size_t before = RetainedVersions(*db);
  Ok(db->DeleteTag("load"));
  CHECK(db->Prune(cowdb::Retention{.keep_last_versions = 0}) == before - 1);
  const cowdb::MemoryReport r3 = db->GetMemoryReport();
  CHECK(r3.tags.empty());
  CHECK(r3.versions == 1);
  CHECK(r3.pinned_versions == 1);
  CHECK(r3.pinned_bytes == r2.tags[0].exclusive_bytes);
  CHECK(r3.total_bytes == a_bytes + Ok(Ok(db->OpenSnapshot("main")).Get<I64>("b")).memory().bytes);
  CHECK_THAT(fmt::format("{}", r3), Contains("more in 1 pruned version snapshots still hold"));
  {
    const Snapshot moved = std::move(load);  // still pinned, by another handle
    CHECK(db->GetMemoryReport().pinned_versions == 1);
  }
  const cowdb::MemoryReport r4 = db->GetMemoryReport();
  CHECK(r4.pinned_versions == 0);
  CHECK(r4.pinned_bytes == 0);
}

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Sanitizers bring their own allocator, which keeps freed memory in quarantine: glibc only.
TEST_CASE("memory report: Prune gives freed memory back to the system", "[database]") {
  const auto db = Database::Open();
  CreateDataset(*db, "main", "keep", IotaVec(1000));
  const std::size_t base = db->GetMemoryReport().resident_bytes;
  REQUIRE(base > 0);
  Ok(db->CreateBranch("big", "main"));
  CreateDataset(*db, "big", "data", IotaVec(8 << 20));  // 64 MiB of int64
  const std::size_t grown = db->GetMemoryReport().resident_bytes;
  REQUIRE(grown >= base + (48 << 20));
  Ok(db->DeleteBranch("big"));
  CHECK(db->Prune() >= 1);  // release_memory is on by default
  const cowdb::MemoryReport after = db->GetMemoryReport();
  CAPTURE(base, grown, after.resident_bytes);
  CHECK(after.resident_bytes + (32 << 20) <= grown);
  CHECK(after.total_bytes < (1 << 20));
}
#endif

TEST_CASE("datasets: a pvec of another shape is copied in, as transaction.h says", "[database]") {
  using Small = pvec<I64, 512>;
  static_assert(!std::is_convertible_v<Small, pvec<I64>>);
  const std::vector<I64> rows = Iota<I64>(5000);
  const Small small(rows.begin(), rows.end());
  const auto db = Database::Open();
  Transaction t = Ok(db->Begin("main"));
  Ok(t.Create<I64>("a", pvec<I64>(small.begin(), small.end())));
  Ok(t.Commit("copied"));
  CHECK(Read(*db, "main", "a") == rows);
}
