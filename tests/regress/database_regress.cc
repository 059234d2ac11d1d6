// Frozen failures of the database layer found while writing tests/unit/database_test.cc and
// database_errors_test.cc. Each test states what cowdb/database.h promises and fails while the
// bug is there.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "testing/db_helpers.h"

namespace {

using I64 = std::int64_t;

using cowdb::testing::Ok;

// Commits "a" = ten zeros on main (v2).
void Load(cowdb::Database& db) {
  cowdb::testing::CreateDataset(db, "main", "a", cowdb::pvec<I64>(10, 0));
}

cowdb::VersionId Set(cowdb::Database& db, const char* branch, std::size_t i, I64 value) {
  return cowdb::testing::SetElement(db, branch, "a", i, value);
}

std::vector<I64> ReadA(const cowdb::Database& db, cowdb::VersionId id) {
  return cowdb::testing::Read(db, id, "a");
}

}  // namespace

// Database::Merge takes as merge base the first version of the target's history (breadth first,
// by distance from the target head) that is also in the source's history. That is a common
// ancestor, but not necessarily the best (lowest) one: when the target reaches an OLDER common
// ancestor through a merge parent in fewer steps than the newer one, the older one is used, and
// changes made between the two common ancestors look like changes on both sides. Here the real
// merge base is v3 (a[0] = 1); feat never touched a[0] and main set it to 2 after v3, so the
// merge must keep 2. With base v2 (a[0] = 0) a[0] becomes a conflict (1 vs 2): kFail aborts, and
// kTheirs silently reverts main's a[0] to 1.
TEST_CASE("bug: Merge uses an older common ancestor than the nearest one as its base",
          "[database][regress]") {
  auto db = cowdb::Database::Open();
  Load(*db);                                           // v2
  Ok(db->CreateBranch("side", "main"));                // side at v2
  const cowdb::VersionId v3 = Set(*db, "main", 0, 1);  // v3
  Set(*db, "main", 0, 2);                              // v4
  Set(*db, "main", 5, 5);                              // v5
  Set(*db, "side", 9, 9);                              // v6
  // v7 = merge(v5, v6): v2 is 2 steps away (via v6), v3 is 3 steps away (via v5, v4).
  Ok(db->Merge("side", "main", "merge side"));
  Ok(db->CreateBranch("feat", v3));
  Set(*db, "feat", 1, 11);  // v8

  SECTION("kFail: no conflict") {
    std::vector<cowdb::Conflict> conflicts;
    const absl::StatusOr<cowdb::VersionId> m =
        db->Merge("feat", "main", "merge feat", cowdb::MergePolicy::kFail, &conflicts);
    INFO(m.status().ToString());
    REQUIRE(m.ok());
    CHECK(ReadA(*db, *m) == std::vector<I64>{2, 11, 0, 0, 0, 5, 0, 0, 0, 9});
  }
  SECTION("kTheirs: main's a[0] is kept") {
    const cowdb::VersionId m =
        Ok(db->Merge("feat", "main", "merge feat", cowdb::MergePolicy::kTheirs));
    CHECK(ReadA(*db, m) == std::vector<I64>{2, 11, 0, 0, 0, 5, 0, 0, 0, 9});
  }
}

// Prune() keeps each branch's head and the last keep_last_versions versions of its history, and
// nothing in between. Once the versions linking a branch to its fork point are gone, Merge no
// longer finds the fork point although it is still retained (here it is even the target's head),
// and fails with kFailedPrecondition "no retained common ancestor" instead of fast-forwarding.
// database.h: "kFailedPrecondition (no common ancestor is retained)"; v2 is retained.
TEST_CASE("bug: Merge fails as unrelated when only the path to a retained ancestor was pruned",
          "[database][regress]") {
  auto db = cowdb::Database::Open(cowdb::Options{.keep_last_versions = 1});
  Load(*db);                            // v2
  Ok(db->CreateBranch("exp", "main"));  // exp at v2
  Set(*db, "exp", 1, 1);                // v3
  Set(*db, "exp", 2, 2);                // v4
  const cowdb::VersionId v5 = Set(*db, "exp", 3, 3);
  // main keeps v2 (head) and v1; exp keeps v5 and v4: only v3 goes.
  REQUIRE(db->Prune() == 1);
  REQUIRE(Ok(db->Head("main")).value == 2);
  REQUIRE(db->OpenSnapshot(cowdb::VersionId{2}).ok());

  // main's head v2 is an ancestor of exp's head v5: a fast-forward.
  const absl::StatusOr<cowdb::VersionId> m = db->Merge("exp", "main", "ff");
  INFO(m.status().ToString());
  REQUIRE(m.ok());
  CHECK(m->value == v5.value);
  CHECK(Ok(db->Head("main")).value == v5.value);
}

// options.h: "auto_prune: Run Prune() after every commit and merge." A fast-forward Merge moves
// the target's head (and so its retention window) but returns without pruning.
TEST_CASE("bug: a fast-forward Merge does not run auto_prune", "[database][regress]") {
  auto db = cowdb::Database::Open(cowdb::Options{.keep_last_versions = 2, .auto_prune = true});
  Load(*db);                            // v2
  Set(*db, "main", 0, 1);               // v3
  Ok(db->CreateBranch("exp", "main"));  // exp at v3
  Set(*db, "exp", 1, 1);                // v4
  Set(*db, "exp", 2, 2);                // v5
  Set(*db, "exp", 3, 3);                // v6
  // main keeps v3, v2, v1; exp keeps v6, v5, v4.
  REQUIRE(db->GetMemoryReport().versions == 6);

  REQUIRE(Ok(db->Merge("exp", "main", "ff")).value == 6);
  // Both branches are at v6 now: their windows are v6, v5, v4; v1..v3 should be gone.
  CHECK(db->GetMemoryReport().versions == 3);
  CHECK(absl::IsNotFound(db->OpenSnapshot(cowdb::VersionId{3}).status()));
  CHECK(db->Prune() == 0);
}
