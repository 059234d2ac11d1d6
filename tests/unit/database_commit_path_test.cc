// The commit path: a transaction records only what it changes on top of its base version's
// catalog (Begin copies nothing), and the version table is an array indexed by id, grown in
// blocks of 1024 records. These tests work on a base that already holds datasets, and publish
// several blocks' worth of versions with pruning in between.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/database.h"
#include "testing/db_helpers.h"

namespace {

using cowdb::Database;
using cowdb::Options;
using cowdb::pvec;
using cowdb::Snapshot;
using cowdb::Transaction;
using cowdb::VersionId;
using cowdb::testing::CreateDataset;
using cowdb::testing::I64;
using cowdb::testing::Iota;
using cowdb::testing::IotaVec;
using cowdb::testing::Ok;
using cowdb::testing::Read;
using cowdb::testing::SetElement;
using cowdb::testing::ToVector;

std::vector<std::string> Names(const Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& d : s.Datasets()) out.push_back(d.name);
  return out;
}

TEST_CASE("a transaction's changes layer over its base's datasets", "[database][commit]") {
  const auto db = Database::Open();
  // Names longer than the small-string buffer, and names that sort around each other.
  const std::string long_a = "a_dataset_name_longer_than_sixteen_bytes";
  CreateDataset<I64>(*db, "main", long_a, IotaVec(100));
  CreateDataset<I64>(*db, "main", "c", IotaVec(10));
  CreateDataset<double>(*db, "main", "e", pvec<double>{0.5});
  const VersionId base = Ok(db->Head("main"));

  Transaction t = Ok(db->Begin("main"));
  CHECK(t.Datasets() == std::vector<std::string>{long_a, "c", "e"});

  // Unchanged base datasets read through; a wrong type is still an error.
  CHECK(ToVector(Ok(t.Get<I64>("c"))) == Iota<I64>(10));
  CHECK(absl::IsInvalidArgument(t.Get<double>("c").status()));
  CHECK(absl::IsInvalidArgument(t.Edit<double>("c").status()));
  CHECK(absl::IsNotFound(t.Get<I64>("zz").status()));

  // Edit a base dataset, drop another and re-create it with another type, add new ones.
  Ok(t.Edit<I64>(long_a))->set(7, -7);
  Ok(t.Drop("c"));
  CHECK(absl::IsNotFound(t.Get<I64>("c").status()));
  CHECK(absl::IsNotFound(t.Put<I64>("c", IotaVec(1))));
  CHECK(absl::IsNotFound(t.Drop("c")));
  CHECK(absl::IsNotFound(t.Edit<I64>("c").status()));
  Ok(t.Create<double>("c", pvec<double>{1.0, 2.0}));
  CHECK(absl::IsAlreadyExists(t.Create<double>("c", {})));
  CHECK(absl::IsAlreadyExists(t.Create<double>("e", {})));
  Ok(t.Create<I64>("b", IotaVec(3)));
  Ok(t.Create<I64>("d", IotaVec(4)));
  Ok(t.Drop("d"));  // created and dropped: leaves no trace
  Ok(t.Put<double>("e", pvec<double>{9.0}));
  CHECK(t.Datasets() == std::vector<std::string>{long_a, "b", "c", "e"});

  // The base is untouched until Commit.
  CHECK(Names(Ok(db->OpenSnapshot("main"))) == std::vector<std::string>{long_a, "c", "e"});
  const VersionId v = Ok(t.Commit("layered"));
  CHECK(t.Datasets().empty());  // finished

  const Snapshot s = Ok(db->OpenSnapshot(v));
  CHECK(Names(s) == std::vector<std::string>{long_a, "b", "c", "e"});
  std::vector<I64> want = Iota<I64>(100);
  want[7] = -7;
  CHECK(ToVector(Ok(s.Get<I64>(long_a))) == want);
  CHECK(ToVector(Ok(s.Get<double>("c"))) == std::vector<double>{1.0, 2.0});
  CHECK(ToVector(Ok(s.Get<double>("e"))) == std::vector<double>{9.0});
  CHECK(ToVector(Ok(s.Get<I64>("b"))) == Iota<I64>(3));
  CHECK(Read(*db, base, "c") == Iota<I64>(10));

  // A transaction that changes nothing publishes its base's datasets, shared.
  Transaction idle = Ok(db->Begin("main"));
  const VersionId same = Ok(idle.Commit("nothing"));
  const cowdb::DatabaseDiff d = Ok(db->Diff(v, same));
  CHECK(d.empty());

  // Dropping every dataset leaves an empty catalog.
  Transaction drop_all = Ok(db->Begin("main"));
  for (const std::string& name : drop_all.Datasets()) Ok(drop_all.Drop(name));
  CHECK(drop_all.Datasets().empty());
  CHECK(Ok(db->OpenSnapshot(Ok(drop_all.Commit("empty")))).Datasets().empty());
}

TEST_CASE("a commit merged into a moved head keeps the datasets only one side changed",
          "[database][commit]") {
  const auto db = Database::Open();
  CreateDataset<I64>(*db, "main", "x", IotaVec(10));
  CreateDataset<I64>(*db, "main", "y", IotaVec(10));
  Transaction t = Ok(db->Begin("main"));
  Ok(t.Edit<I64>("x"))->set(1, -1);
  Ok(t.Create<I64>("z", IotaVec(2)));
  const VersionId other = SetElement(*db, "main", "y", 2, -2);  // moves the head
  const VersionId v = Ok(t.Commit("merged"));
  const Snapshot s = Ok(db->OpenSnapshot(v));
  CHECK(s.info().parents == std::vector<VersionId>{other});
  std::vector<I64> x = Iota<I64>(10), y = Iota<I64>(10);
  x[1] = -1;
  y[2] = -2;
  CHECK(ToVector(Ok(s.Get<I64>("x"))) == x);
  CHECK(ToVector(Ok(s.Get<I64>("y"))) == y);
  CHECK(ToVector(Ok(s.Get<I64>("z"))) == Iota<I64>(2));
}

TEST_CASE("thousands of versions with pruning: ids, parents, Log, snapshots and merges",
          "[database][commit]") {
  const auto db = Database::Open(Options{.keep_last_versions = 2});
  CreateDataset<I64>(*db, "main", "x", IotaVec(64));  // v2
  Ok(db->CreateBranch("side", "main"));
  Ok(db->CreateTag("start", VersionId{1}));  // keeps v1, not the fork point v2
  constexpr std::size_t kCommits = 2600;     // more than two blocks of the version table
  std::vector<VersionId> ids;
  for (std::size_t k = 0; k < kCommits; ++k) {
    const char* branch = k % 5 == 0 ? "side" : "main";
    const std::size_t index = k % 5 == 0 ? 1 : 0;
    ids.push_back(SetElement(*db, branch, "x", index, -static_cast<I64>(k) - 1));
    if (k % 300 == 299) db->Prune();
  }
  for (std::size_t k = 0; k < kCommits; ++k) CHECK(ids[k].value == k + 3);  // dense ids

  // Pruned versions are gone; the tag, the heads and their windows stay.
  CHECK(absl::IsNotFound(db->OpenSnapshot(ids[10]).status()));
  CHECK(Ok(db->OpenSnapshot("start")).Datasets().empty());
  const auto log = Ok(db->Log("main"));
  REQUIRE(log.size() >= 3);
  CHECK(log[0].id == ids.back());
  CHECK(log[1].id == log[0].parents.at(0));
  for (std::size_t i = 0; i + 1 < log.size(); ++i) {
    CHECK(log[i].id > log[i + 1].id);
    CHECK(log[i].time >= log[i + 1].time);
  }

  // The fork point of main and side (v2) is pruned, but the ancestry of pruned versions is
  // kept: the merge finds v2 (not the older, tagged v1) and reports that it was pruned.
  const absl::StatusOr<VersionId> merged = db->Merge("side", "main", "merge");
  CHECK(absl::IsFailedPrecondition(merged.status()));
  CHECK(std::string(merged.status().message()).find("pruned") != std::string::npos);

  // With the fork point tagged, the merge goes through and records two parents.
  const auto db2 = Database::Open(Options{.keep_last_versions = 1});
  const VersionId fork = CreateDataset<I64>(*db2, "main", "x", IotaVec(8));
  Ok(db2->CreateTag("fork", fork));
  Ok(db2->CreateBranch("side", "main"));
  for (std::size_t k = 0; k < 1500; ++k) {
    SetElement(*db2, k % 2 == 0 ? "main" : "side", "x", k % 2, -static_cast<I64>(k) - 1);
    if (k % 200 == 199) db2->Prune();
  }
  const VersionId main_head = Ok(db2->Head("main"));
  const VersionId side_head = Ok(db2->Head("side"));
  const VersionId m = Ok(db2->Merge("side", "main", "merge"));
  const Snapshot s = Ok(db2->OpenSnapshot(m));
  CHECK(s.info().parents == std::vector<VersionId>{main_head, side_head});
  std::vector<I64> want = Iota<I64>(8);
  want[0] = -1499;  // k = 1498 on main
  want[1] = -1500;  // k = 1499 on side
  CHECK(ToVector(Ok(s.Get<I64>("x"))) == want);
  db2->Prune();
  CHECK(db2->GetMemoryReport().versions >= 3);  // the tag, the two heads (the merge is main's)
}

}  // namespace
