// Frozen failures found by the allocation-failure test in cowdb_oom_tests
// (tests/unit/database_alloc_failure_test.cc with every allocation as an injection point). Each
// test makes the k-th allocation of one database call fail, for k = 1, 2, ... until the call
// completes, and checks that the call either threw std::bad_alloc and changed nothing, or
// completed; and that the database still works.
//
// These tests need the global operator new of tests/testing/oom/operator_new.cc, so they are
// compiled only into cowdb_oom_tests (COWDB_TEST_OPERATOR_NEW_FAULTS); in cowdb_regress_tests this
// file is empty.
#ifdef COWDB_TEST_OPERATOR_NEW_FAULTS

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "testing/db_helpers.h"
#include "testing/operator_new_hook.h"

namespace {

using cowdb::testing::Ok;
using I64 = std::int64_t;

int g_countdown = 0;  // the allocation that fails: 1 = the next one; 0 = none

void FailCountdown() {
  if (g_countdown > 0 && --g_countdown == 0) throw std::bad_alloc();
}

// Runs fn with the k-th allocation failing. Returns true if fn completed without meeting it.
template <class Fn>
bool CompletesWithKthAllocationFailing(int k, Fn&& fn) {
  g_countdown = k;
  cowdb::testing::g_before_operator_new = &FailCountdown;
  struct Unhook {
    ~Unhook() {
      cowdb::testing::g_before_operator_new = nullptr;
      g_countdown = 0;
    }
  } unhook;
  try {
    fn();
  } catch (const std::bad_alloc&) {
    return false;
  }
  return g_countdown > 0;
}

// Branches main and side with a common ancestor and one commit each: "a" = ten zeros, then
// main sets a[0] = 1, side sets a[9] = 9.
std::unique_ptr<cowdb::Database> TwoBranches() {
  auto db = cowdb::Database::Open();
  cowdb::testing::CreateDataset(*db, "main", "a", cowdb::pvec<I64>(10, 0));
  Ok(db->CreateBranch("side", "main"));
  cowdb::testing::SetElement(*db, "main", "a", 0, 1);
  cowdb::testing::SetElement(*db, "side", "a", 9, 9);
  return db;
}

}  // namespace

// Abseil 20220623 (Debian's) stores a flat_hash_set's new capacity before allocating the larger
// table (abseil-cpp#1581). Database::Merge collected the source's ancestors in an
// absl::flat_hash_set: when that set's growth failed to allocate, the std::bad_alloc propagated
// through a set that claimed capacity it did not have, and destroying it freed the static empty
// table ("free(): invalid pointer", SIGABRT) -- or read past the old table. The same held for Log,
// Prune, the ancestor walk and GetMemoryReport. Fixed by std::unordered_set / unordered_map in db/.
TEST_CASE("bug: a failed allocation while Merge or Log grows a hash set aborts the process",
          "[database][regress][oom]") {
  int attempts = 0;
  for (int k = 1;; ++k) {
    INFO("allocation " << k << " fails");
    REQUIRE(k < 10000);
    auto db = TwoBranches();
    const cowdb::VersionId main_head = Ok(db->Head("main"));
    const cowdb::VersionId side_head = Ok(db->Head("side"));
    ++attempts;
    absl::StatusOr<cowdb::VersionId> merged = absl::UnknownError("not run");
    const bool completed = CompletesWithKthAllocationFailing(
        k, [&] { merged = db->Merge("side", "main", "merge side"); });
    if (!completed) {
      CHECK(Ok(db->Head("main")) == main_head);
      CHECK(Ok(db->Head("side")) == side_head);
      CHECK(db->Branches().size() == 2);
      continue;
    }
    REQUIRE(merged.ok());
    std::vector<I64> want(10, 0);
    want[0] = 1;
    want[9] = 9;
    CHECK(cowdb::testing::Read(*db, "main", "a") == want);
    break;
  }
  CHECK(attempts > 1);

  for (int k = 1;; ++k) {
    INFO("allocation " << k << " fails");
    REQUIRE(k < 10000);
    auto db = TwoBranches();
    absl::StatusOr<cowdb::History> log = absl::UnknownError("not run");
    if (CompletesWithKthAllocationFailing(k, [&] { log = db->Log("main"); })) {
      REQUIRE(log.ok());
      CHECK(log->size() == 3);
      break;
    }
    CHECK(Ok(db->Log("main")).size() == 3);
  }
}

// RenameBranch erased the old entry, then allocated the new name: when that allocation failed,
// the branch was gone (neither name existed) although the call threw.
TEST_CASE("bug: RenameBranch loses the branch when allocating its new name fails",
          "[database][regress][oom]") {
  const std::string to = "a-new-name-longer-than-the-small-string-buffer";
  for (int k = 1;; ++k) {
    INFO("allocation " << k << " fails");
    REQUIRE(k < 1000);
    auto db = TwoBranches();
    const cowdb::VersionId head = Ok(db->Head("side"));
    absl::Status s = absl::UnknownError("not run");
    if (CompletesWithKthAllocationFailing(k, [&] { s = db->RenameBranch("side", to); })) {
      Ok(s);
      CHECK(Ok(db->Head(to)) == head);
      CHECK_FALSE(db->Head("side").ok());
      break;
    }
    CHECK(Ok(db->Head("side")) == head);
    CHECK_FALSE(db->Head(to).ok());
  }
}

#endif  // COWDB_TEST_OPERATOR_NEW_FAULTS
