// The database rows of the bad-input table (README.md, "Bad input and errors"): each misuse
// returns the documented status code, a message that names the thing (branch, tag, version,
// dataset, types), and changes nothing — every branch head, tag, retained version and the
// contents of a snapshot taken before are compared with after. Also: exceptions from editors and
// user functors inside a transaction, and transactions dropped without commit.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/db_helpers.h"

namespace {

using cowdb::Conflict;
using cowdb::conflict_kind;
using cowdb::Database;
using cowdb::MergePolicy;
using cowdb::Options;
using cowdb::pvec;
using cowdb::row_action;
using cowdb::Snapshot;
using cowdb::Transaction;
using cowdb::VersionId;
using cowdb::internal::live_nodes;
using cowdb::testing::Iota;
using cowdb::testing::IotaVec;
using cowdb::testing::Ok;
using cowdb::testing::Read;
using cowdb::testing::SetElement;
using cowdb::testing::ToVector;
using I64 = std::int64_t;
using Catch::Matchers::Contains;

// Both sides wrote row `row` of int64 dataset `name`, which no edit moved: a kValue conflict at
// the same position in base, ours and theirs.
Conflict WrittenOnBoth(std::string name, std::size_t row, std::string ours, std::string theirs) {
  return {.dataset = std::move(name),
          .index = row,
          .kind = conflict_kind::kValue,
          .ours_index = row,
          .theirs_index = row,
          .ours_action = row_action::kModified,
          .theirs_action = row_action::kModified,
          .ours_value = std::move(ours),
          .theirs_value = std::move(theirs)};
}

// A user element type for the wrong-type rows.
struct Trade {
  std::string symbol;
  double price = 0;
  friend bool operator==(const Trade&, const Trade&) = default;
};

// One row of the table: `what` failed with `code` and a message containing every `mention`.
void CheckError(std::string_view what, const absl::Status& s, absl::StatusCode code,
                const std::vector<std::string>& mentions) {
  INFO(what << " -> " << s.ToString());
  CHECK(absl::StatusCodeToString(s.code()) == absl::StatusCodeToString(code));
  for (const std::string& m : mentions) CHECK_THAT(std::string(s.message()), Contains(m));
}

// Every dataset of a snapshot with its type, size and contents.
std::string DescribeSnapshot(const Snapshot& s) {
  std::string out = fmt::format("{} \"{}\" parents", s.id(), s.info().message);
  for (VersionId p : s.info().parents) out += fmt::format(" {}", p);
  out += "\n";
  for (const cowdb::DatasetInfo& d : s.Datasets()) {
    out += fmt::format("  {} {} {}:", d.name, d.type, d.size);
    if (const auto i = s.Get<I64>(d.name); i.ok()) {
      out += fmt::format(" {}", fmt::join(*i, ","));
    } else if (const auto f = s.Get<double>(d.name); f.ok()) {
      out += fmt::format(" {}", fmt::join(*f, ","));
    } else if (const auto t = s.Get<Trade>(d.name); t.ok()) {
      for (const Trade& x : *t) out += fmt::format(" {}@{}", x.symbol, x.price);
    } else {
      out += " (unreadable)";
    }
    out += "\n";
  }
  return out;
}

// All user-visible state: each branch with its head, history and contents, each tag with its
// contents, and the number of retained versions.
std::string Describe(const Database& db) {
  std::string out;
  for (const cowdb::BranchInfo& b : db.Branches()) {
    out += fmt::format("branch {} at {}\n", b.name, b.head);
    for (const cowdb::VersionInfo& v : Ok(db.Log(b.name))) {
      out += fmt::format("  log {} \"{}\"\n", v.id, v.message);
    }
    out += DescribeSnapshot(Ok(db.OpenSnapshot(b.head)));
  }
  for (const cowdb::BranchInfo& t : db.Tags()) {
    out += fmt::format("tag {} at {}\n", t.name, t.head);
    out += DescribeSnapshot(Ok(db.OpenSnapshot(t.head)));
  }
  out += fmt::format("retained versions: {}\n", db.GetMemoryReport().versions);
  return out;
}

// Records the state of a database (and a snapshot of "main") to compare with later.
class NoChange {
 public:
  explicit NoChange(const Database& db)
      : db_(db),
        text_(Describe(db)),
        snap_(Ok(db.OpenSnapshot("main"))),
        snap_text_(DescribeSnapshot(snap_)) {}
  void Check() const {
    CHECK(Describe(db_) == text_);
    CHECK(DescribeSnapshot(snap_) == snap_text_);
  }

 private:
  const Database& db_;
  const std::string text_;
  const Snapshot snap_;
  const std::string snap_text_;
};

// The database every row starts from:
//   v1 -- v2 "load" (prices: double x 50, qty: int64 x 50, trades: Trade x 2) <- tag release-1
//          |-- v3 qty[3] = -3          <- branch exp-1
//          `-- v4 prices[0] = 0.5      <- branch main
struct Fixture {
  Fixture() {
    Transaction t = Ok(db->Begin("main"));
    std::vector<double> prices(50);
    std::iota(prices.begin(), prices.end(), 1.0);
    Ok(t.Create<double>("prices", pvec<double>(prices.begin(), prices.end())));
    Ok(t.Create<I64>("qty", IotaVec(50)));
    Ok(t.Create<Trade>("trades", pvec<Trade>{{"ACME", 1.5}, {"INIT", 2.5}}));
    v2 = Ok(t.Commit("load"));
    Ok(db->CreateTag("release-1", "main"));
    Ok(db->CreateBranch("exp-1", "main"));
    Transaction e = Ok(db->Begin("exp-1"));
    Ok(e.Edit<I64>("qty"))->set(3, -3);
    v3 = Ok(e.Commit("exp qty"));
    Transaction m = Ok(db->Begin("main"));
    Ok(m.Edit<double>("prices"))->set(0, 0.5);
    v4 = Ok(m.Commit("main prices"));
  }

  std::unique_ptr<Database> db = Database::Open();
  VersionId v2, v3, v4;
};

// Every operation of a finished (or moved-from) transaction fails with kFailedPrecondition.
void CheckFinished(Transaction& t, const std::vector<std::string>& mentions) {
  CHECK_FALSE(t.active());
  const auto code = absl::StatusCode::kFailedPrecondition;
  CheckError("Get", t.Get<I64>("qty").status(), code, mentions);
  CheckError("Edit", t.Edit<I64>("qty").status(), code, mentions);
  CheckError("Put", t.Put<I64>("qty", IotaVec(3)), code, mentions);
  CheckError("Create", t.Create<I64>("new-dataset", IotaVec(3)), code, mentions);
  CheckError("Drop", t.Drop("qty"), code, mentions);
  CheckError("Commit", t.Commit("again").status(), code, mentions);
  t.Abort();  // idempotent, harmless
  CHECK_FALSE(t.active());
}

const auto kNotFound = absl::StatusCode::kNotFound;
const auto kAlreadyExists = absl::StatusCode::kAlreadyExists;
const auto kInvalidArgument = absl::StatusCode::kInvalidArgument;
const auto kFailedPrecondition = absl::StatusCode::kFailedPrecondition;
const auto kAborted = absl::StatusCode::kAborted;

}  // namespace

// Trade is not trivially copyable and has no encode/decode: in-memory databases only.
template <>
struct cowdb::codec<Trade> : cowdb::memory_only {};

// ---- kNotFound ---------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "unknown branch -> kNotFound naming it", "[errors]") {
  const NoChange unchanged(*db);
  CheckError("Begin", db->Begin("nope").status(), kNotFound, {"nope"});
  CheckError("Head", db->Head("nope").status(), kNotFound, {"nope"});
  CheckError("Log", db->Log("nope").status(), kNotFound, {"nope"});
  CheckError("OpenSnapshot", db->OpenSnapshot("nope").status(), kNotFound, {"nope"});
  CheckError("CreateBranch from", db->CreateBranch("new", "nope"), kNotFound, {"nope"});
  CheckError("CreateTag from", db->CreateTag("new", "nope"), kNotFound, {"nope"});
  CheckError("RenameBranch", db->RenameBranch("nope", "new"), kNotFound, {"nope"});
  CheckError("DeleteBranch", db->DeleteBranch("nope"), kNotFound, {"nope"});
  CheckError("Merge source", db->Merge("nope", "main", "m").status(), kNotFound, {"nope"});
  CheckError("Merge target", db->Merge("exp-1", "nope", "m").status(), kNotFound, {"nope"});
  unchanged.Check();
  CHECK_FALSE(db->Head("new").ok());
}

TEST_CASE_METHOD(Fixture, "unknown tag -> kNotFound naming it", "[errors]") {
  const NoChange unchanged(*db);
  CheckError("DeleteTag", db->DeleteTag("no-tag"), kNotFound, {"no-tag"});
  CheckError("DeleteTag of a branch name", db->DeleteTag("exp-1"), kNotFound, {"exp-1"});
  CheckError("DeleteBranch of a tag name", db->DeleteBranch("release-1"), kNotFound, {"release-1"});
  CheckError("OpenSnapshot", db->OpenSnapshot("no-tag").status(), kNotFound, {"no-tag"});
  CheckError("CreateTag from", db->CreateTag("t", "no-tag"), kNotFound, {"no-tag"});
  unchanged.Check();
}

TEST_CASE_METHOD(Fixture, "unknown version -> kNotFound naming it", "[errors]") {
  const NoChange unchanged(*db);
  const VersionId v99{99};
  CheckError("OpenSnapshot", db->OpenSnapshot(v99).status(), kNotFound, {"v99"});
  CheckError("OpenSnapshot v0", db->OpenSnapshot(VersionId{0}).status(), kNotFound, {"v0"});
  CheckError("CreateBranch at", db->CreateBranch("new", v99), kNotFound, {"v99"});
  CheckError("CreateTag at", db->CreateTag("new", v99), kNotFound, {"v99"});
  CheckError("Diff from", db->Diff(v99, v4).status(), kNotFound, {"v99"});
  CheckError("Diff to", db->Diff(v4, v99).status(), kNotFound, {"v99"});
  // The next id is not retained yet either.
  CheckError("OpenSnapshot v5", db->OpenSnapshot(VersionId{5}).status(), kNotFound, {"v5"});
  unchanged.Check();
}

TEST_CASE_METHOD(Fixture, "unknown dataset -> kNotFound naming it", "[errors]") {
  const NoChange unchanged(*db);
  const Snapshot s = Ok(db->OpenSnapshot("main"));
  CheckError("Snapshot::Get", s.Get<I64>("nope").status(), kNotFound, {"nope"});
  CHECK_FALSE(s.Has("nope"));

  Transaction t = Ok(db->Begin("main"));
  CheckError("Transaction::Get", t.Get<I64>("nope").status(), kNotFound, {"nope"});
  CheckError("Transaction::Edit", t.Edit<I64>("nope").status(), kNotFound, {"nope"});
  CheckError("Transaction::Put", t.Put<I64>("nope", IotaVec(3)), kNotFound, {"nope"});
  CheckError("Transaction::Drop", t.Drop("nope"), kNotFound, {"nope"});
  // A dataset dropped in the transaction is unknown to it afterwards.
  Ok(t.Drop("qty"));
  CheckError("Get after Drop", t.Get<I64>("qty").status(), kNotFound, {"qty"});
  CheckError("Drop after Drop", t.Drop("qty"), kNotFound, {"qty"});
  CHECK(t.active());  // errors do not finish the transaction
  t.Abort();
  unchanged.Check();
}

// ---- kAlreadyExists -----------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "existing branch, tag or dataset name -> kAlreadyExists", "[errors]") {
  const NoChange unchanged(*db);
  CheckError("CreateBranch from", db->CreateBranch("exp-1", "main"), kAlreadyExists, {"exp-1"});
  CheckError("CreateBranch at", db->CreateBranch("main", v2), kAlreadyExists, {"main"});
  CheckError("RenameBranch", db->RenameBranch("exp-1", "main"), kAlreadyExists, {"main"});
  CheckError("CreateTag from", db->CreateTag("release-1", "main"), kAlreadyExists, {"release-1"});
  CheckError("CreateTag at", db->CreateTag("release-1", v4), kAlreadyExists, {"release-1"});

  Transaction t = Ok(db->Begin("main"));
  CheckError("Create", t.Create<I64>("qty", IotaVec(3)), kAlreadyExists, {"qty"});
  CheckError("Create other type", t.Create<double>("qty"), kAlreadyExists, {"qty"});
  // The failed Create left the transaction's dataset alone.
  CHECK(ToVector(Ok(t.Get<I64>("qty"))) == Iota<I64>(50));
  Ok(t.Create<I64>("fresh", IotaVec(2)));
  CheckError("Create twice", t.Create<I64>("fresh", IotaVec(3)), kAlreadyExists, {"fresh"});
  CHECK(ToVector(Ok(t.Get<I64>("fresh"))) == Iota<I64>(2));
  t.Abort();
  unchanged.Check();
}

// ---- kInvalidArgument: names --------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "bad names -> kInvalidArgument", "[errors]") {
  struct BadName {
    std::string name;
    std::vector<std::string> shown;  // how the message may show it (any one of them)
  };
  const BadName bad = GENERATE(BadName{"", {}}, BadName{" x", {" x"}}, BadName{"x ", {"x "}},
                               BadName{"a b", {"a b"}}, BadName{"a\tb", {"a\tb", "a\\tb"}},
                               BadName{"a\nb", {"a\nb", "a\\nb"}},
                               BadName{std::string(256, 'n'), {std::string(16, 'n')}});
  CAPTURE(bad.name, bad.name.size());
  const NoChange unchanged(*db);

  const auto check = [&bad](std::string_view what, const absl::Status& s, const char* kind) {
    CheckError(what, s, kInvalidArgument, {kind});
    if (bad.shown.empty()) return;
    const std::string msg(s.message());
    bool named = false;
    for (const std::string& form : bad.shown) named = named || msg.find(form) != std::string::npos;
    INFO(what << ": " << msg);
    CHECK(named);
  };
  check("CreateBranch from", db->CreateBranch(bad.name, "main"), "branch");
  check("CreateBranch at", db->CreateBranch(bad.name, v2), "branch");
  check("RenameBranch", db->RenameBranch("exp-1", bad.name), "branch");
  check("CreateTag from", db->CreateTag(bad.name, "main"), "tag");
  check("CreateTag at", db->CreateTag(bad.name, v2), "tag");
  Transaction t = Ok(db->Begin("main"));
  check("Transaction::Create", t.Create<I64>(bad.name, IotaVec(3)), "dataset");
  CHECK(t.Datasets() == std::vector<std::string>{"prices", "qty", "trades"});
  CHECK(t.active());
  t.Abort();
  unchanged.Check();
}

TEST_CASE_METHOD(Fixture, "names of 255 bytes are accepted", "[errors]") {
  const std::string longest(255, 'n');
  Ok(db->CreateBranch(longest, "main"));
  Ok(db->CreateTag(longest, "main"));
  Transaction t = Ok(db->Begin(longest));
  Ok(t.Create<I64>(longest, IotaVec(3)));
  const VersionId v5 = Ok(t.Commit("long names"));
  CHECK(Ok(db->Head(longest)).value == v5.value);
  CHECK(ToVector(Ok(Ok(db->OpenSnapshot(longest)).Get<I64>(longest))) == Iota<I64>(3));
}

// ---- kInvalidArgument: element types ------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "wrong element type -> kInvalidArgument naming both types", "[errors]") {
  const NoChange unchanged(*db);
  const Snapshot s = Ok(db->OpenSnapshot("main"));
  CheckError("Snapshot::Get", s.Get<int>("prices").status(), kInvalidArgument,
             {"prices", "double", "int"});
  CheckError("Snapshot::Get struct", s.Get<double>("trades").status(), kInvalidArgument,
             {"trades", "Trade", "double"});
  CheckError("Snapshot::Get as struct", s.Get<Trade>("prices").status(), kInvalidArgument,
             {"prices", "Trade", "double"});

  Transaction t = Ok(db->Begin("main"));
  const std::vector<double> prices = ToVector(Ok(t.Get<double>("prices")));
  CheckError("Transaction::Get", t.Get<int>("prices").status(), kInvalidArgument,
             {"prices", "double", "int"});
  CheckError("Transaction::Edit", t.Edit<int>("prices").status(), kInvalidArgument,
             {"prices", "double", "int"});
  CheckError("Transaction::Edit struct", t.Edit<double>("trades").status(), kInvalidArgument,
             {"trades", "Trade", "double"});
  CheckError("Transaction::Put", t.Put<int>("prices", pvec<int>{1, 2}), kInvalidArgument,
             {"prices", "double", "int"});
  // The failed Put left the dataset as it was, with its type.
  CHECK(ToVector(Ok(t.Get<double>("prices"))) == prices);
  // An editor opened with the right type, then a wrong-type Edit: the editor's writes survive.
  Ok(t.Edit<double>("prices"))->set(1, -1.0);
  CheckError("Edit after Edit", t.Edit<I64>("prices").status(), kInvalidArgument,
             {"prices", "double"});
  CHECK(Ok(t.Get<double>("prices"))[1] == -1.0);
  CHECK(t.active());
  t.Abort();
  unchanged.Check();
}

// ---- kFailedPrecondition: finished and moved-from transactions ---------------------------------

TEST_CASE("operations on a finished transaction -> kFailedPrecondition", "[errors]") {
  const std::int64_t nodes0 = live_nodes();
  {
    Fixture f;
    Database& db = *f.db;

    SECTION("after a successful Commit") {
      Transaction t = Ok(db.Begin("main"));
      Ok(t.Edit<I64>("qty"))->set(0, 100);
      Ok(t.Commit("ok"));
      const NoChange unchanged(db);
      CheckFinished(t, {"main"});
      unchanged.Check();
    }
    SECTION("after a Commit that failed with kAborted") {
      Transaction t1 = Ok(db.Begin("main"));
      Transaction t2 = Ok(db.Begin("main"));
      Ok(t1.Edit<I64>("qty"))->set(0, 100);
      Ok(t2.Edit<I64>("qty"))->set(0, 200);
      Ok(t1.Commit("first"));
      const NoChange unchanged(db);
      CheckError("conflicting Commit", t2.Commit("second").status(), kAborted, {"qty"});
      CheckFinished(t2, {"main"});
      unchanged.Check();
    }
    SECTION("after a Commit that failed with kNotFound") {
      Transaction t = Ok(db.Begin("exp-1"));
      Ok(t.Edit<I64>("qty"))->set(0, 100);
      Ok(db.DeleteBranch("exp-1"));
      const NoChange unchanged(db);
      CheckError("Commit on deleted branch", t.Commit("x").status(), kNotFound, {"exp-1"});
      CheckFinished(t, {"exp-1"});
      unchanged.Check();
    }
    SECTION("after Abort") {
      const NoChange unchanged(db);
      const std::int64_t nodes_before = live_nodes();
      Transaction t = Ok(db.Begin("main"));
      Ok(t.Edit<I64>("qty"))->set(0, 100);
      Ok(t.Create<I64>("fresh", IotaVec(3)));
      CHECK(live_nodes() > nodes_before);
      t.Abort();
      CHECK(live_nodes() == nodes_before);  // no trace, even before the object goes away
      CheckFinished(t, {"main"});
      unchanged.Check();
    }
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE_METHOD(Fixture, "a moved-from transaction -> kFailedPrecondition", "[errors]") {
  const NoChange unchanged(*db);
  Transaction a = Ok(db->Begin("main"));
  Ok(a.Edit<I64>("qty"))->set(0, 100);

  SECTION("move construction") {
    Transaction b = std::move(a);
    CheckFinished(a, {"moved"});  // NOLINT(bugprone-use-after-move): the point of the test
    // The accessors answer without touching the moved state (they read a null pointer once).
    CHECK(a.branch().empty());       // NOLINT(bugprone-use-after-move)
    CHECK(a.base() == VersionId{});  // NOLINT(bugprone-use-after-move)
    CHECK(a.conflicts().empty());    // NOLINT(bugprone-use-after-move)
    CHECK(b.branch() == "main");
    unchanged.Check();
    CHECK(b.active());
    CHECK(Ok(b.Get<I64>("qty"))[0] == 100);  // the edit moved along
    const VersionId v5 = Ok(b.Commit("moved"));
    CHECK(Ok(Ok(db->OpenSnapshot(v5)).Get<I64>("qty"))[0] == 100);
  }
  SECTION("move assignment aborts the overwritten transaction") {
    Transaction c = Ok(db->Begin("exp-1"));
    Ok(c.Edit<I64>("qty"))->set(1, -1);
    c = std::move(a);
    CheckFinished(a, {"moved"});  // NOLINT(bugprone-use-after-move)
    unchanged.Check();            // exp-1's transaction left no trace
    CHECK(c.branch() == "main");
    Ok(c.Commit("assigned"));
    CHECK(Ok(db->Head("exp-1")).value == v3.value);
    CHECK(Ok(Ok(db->OpenSnapshot("main")).Get<I64>("qty"))[0] == 100);
  }
}

TEST_CASE_METHOD(Fixture, "deleting the branch of a live transaction -> its Commit is kNotFound",
                 "[errors]") {
  Transaction t = Ok(db->Begin("exp-1"));
  Ok(t.Edit<I64>("qty"))->set(0, 100);
  Ok(t.Create<I64>("fresh", IotaVec(3)));
  Ok(db->DeleteBranch("exp-1"));
  const NoChange unchanged(*db);
  const std::int64_t nodes_before = live_nodes();
  CheckError("Commit", t.Commit("lost").status(), kNotFound, {"exp-1"});
  unchanged.Check();
  CHECK_FALSE(db->Head("exp-1").ok());
  // The transaction's private chunks are gone with it; no version holds them.
  CHECK(live_nodes() < nodes_before);
  CHECK(Ok(db->OpenSnapshot(v3)).id().value == v3.value);  // the old head is still retained
}

TEST_CASE_METHOD(Fixture, "deleting the last branch -> kFailedPrecondition", "[errors]") {
  Ok(db->DeleteBranch("exp-1"));
  const NoChange unchanged(*db);
  CheckError("DeleteBranch", db->DeleteBranch("main"), kFailedPrecondition, {"main"});
  unchanged.Check();
  REQUIRE(db->Branches().size() == 1);
  CHECK(db->Branches()[0].name == "main");
}

// ---- Merge misuse -------------------------------------------------------------------------------

TEST_CASE_METHOD(Fixture, "merging a branch into itself -> kInvalidArgument", "[errors]") {
  const NoChange unchanged(*db);
  CheckError("Merge main", db->Merge("main", "main", "self").status(), kInvalidArgument, {"main"});
  CheckError("Merge exp-1", db->Merge("exp-1", "exp-1", "self", MergePolicy::kTheirs).status(),
             kInvalidArgument, {"exp-1"});
  unchanged.Check();
}

TEST_CASE("merging branches whose common ancestor was pruned -> kFailedPrecondition", "[errors]") {
  const std::int64_t nodes0 = live_nodes();
  {
    const auto db = Database::Open(Options{.keep_last_versions = 1});
    Transaction load = Ok(db->Begin("main"));
    Ok(load.Create<I64>("qty", IotaVec(50)));
    const VersionId v2 = Ok(load.Commit("load"));  // the common ancestor
    Ok(db->CreateBranch("exp-1", "main"));
    for (std::size_t i = 0; i < 3; ++i) {  // exp-1: v3, v5, v7; main: v4, v6, v8
      for (const char* branch : {"exp-1", "main"}) {
        Transaction t = Ok(db->Begin(branch));
        Ok(t.Edit<I64>("qty"))->set(i, branch[0] == 'm' ? -1 : -2);
        Ok(t.Commit(branch));
      }
    }
    REQUIRE(db->Prune() > 0);
    REQUIRE(absl::IsNotFound(db->OpenSnapshot(v2).status()));

    const NoChange unchanged(*db);
    std::vector<Conflict> conflicts;
    CheckError("Merge", db->Merge("exp-1", "main", "m", MergePolicy::kFail, &conflicts).status(),
               kFailedPrecondition, {"exp-1", "main"});
    CHECK(conflicts.empty());
    CheckError("Merge kTheirs", db->Merge("main", "exp-1", "m", MergePolicy::kTheirs).status(),
               kFailedPrecondition, {"exp-1", "main"});
    unchanged.Check();
  }
  CHECK(live_nodes() == nodes0);
}

// ---- pruned versions and stale transactions -----------------------------------------------------

TEST_CASE("a pruned version -> kNotFound naming it; a snapshot taken before still reads it",
          "[errors]") {
  const std::int64_t nodes0 = live_nodes();
  {
    const auto db = Database::Open(Options{.keep_last_versions = 1});
    const VersionId v2 = cowdb::testing::CreateDataset<I64>(*db, "main", "qty", IotaVec(50));
    const Snapshot pinned = Ok(db->OpenSnapshot(v2));
    SetElement(*db, "main", "qty", 1, 100);                       // v3
    const VersionId v4 = SetElement(*db, "main", "qty", 2, 200);  // v4
    REQUIRE(db->Prune() == 2);                                    // v1 and v2
    const NoChange unchanged(*db);
    CheckError("OpenSnapshot", db->OpenSnapshot(v2).status(), kNotFound, {"v2"});
    CheckError("CreateBranch at", db->CreateBranch("b", v2), kNotFound, {"v2"});
    CheckError("CreateTag at", db->CreateTag("t", v2), kNotFound, {"v2"});
    CheckError("Diff from", db->Diff(v2, v4).status(), kNotFound, {"v2"});
    CHECK(ToVector(Ok(pinned.Get<I64>("qty"))) == Iota<I64>(50));
    CHECK(pinned.id() == v2);
    unchanged.Check();
  }
  CHECK(live_nodes() == nodes0);
}

// A stale transaction began before other commits on its branch, here with its base version pruned
// meanwhile: its Commit merges its writes onto the moved head, or fails with kAborted on the
// elements a later commit also wrote; the pruning changes neither.
TEST_CASE("a stale transaction whose base was pruned commits, or conflicts -> kAborted",
          "[errors]") {
  const std::int64_t nodes0 = live_nodes();
  {
    const auto db = Database::Open(Options{.keep_last_versions = 1});
    const VersionId v2 = cowdb::testing::CreateDataset<I64>(*db, "main", "qty", IotaVec(50));
    Transaction clean = Ok(db->Begin("main"));
    Transaction conflicting = Ok(db->Begin("main"));
    Ok(clean.Edit<I64>("qty"))->set(0, -1);
    Ok(conflicting.Edit<I64>("qty"))->set(1, -1);
    SetElement(*db, "main", "qty", 1, 100);                       // v3
    const VersionId v4 = SetElement(*db, "main", "qty", 2, 200);  // v4
    REQUIRE(db->Prune() == 2);
    REQUIRE(absl::IsNotFound(db->OpenSnapshot(v2).status()));
    CHECK(clean.base() == v2);

    const VersionId v5 = Ok(clean.Commit("stale, no conflict"));
    std::vector<I64> want = Iota<I64>(50);
    want[0] = -1;
    want[1] = 100;
    want[2] = 200;
    CHECK(Read(*db, v5, "qty") == want);
    CHECK(Ok(db->OpenSnapshot(v5)).info().parents == std::vector<VersionId>{v4});

    const NoChange unchanged(*db);
    CheckError("stale Commit", conflicting.Commit("stale, conflict").status(), kAborted,
               {"qty", "1", "main"});
    // ours: the transaction (qty[1] = -1); theirs: the head, where v3 set qty[1] = 100.
    CHECK(conflicting.conflicts() == std::vector<Conflict>{WrittenOnBoth("qty", 1, "-1", "100")});
    unchanged.Check();
  }
  CHECK(live_nodes() == nodes0);
}

// Defined behavior: a transaction names its branch, not a version. When the branch is deleted and
// created again before Commit, the new head is just a moved head: Commit merges the
// transaction's writes onto it (with the transaction's base as the merge base), and fails with
// kAborted where the new head differs from that base at an element the transaction wrote.
TEST_CASE_METHOD(Fixture,
                 "a branch deleted and re-created under a live transaction: Commit merges "
                 "onto the new head, or conflicts -> kAborted",
                 "[errors]") {
  Transaction t = Ok(db->Begin("exp-1"));  // base v3: qty[3] = -3
  Transaction u = Ok(db->Begin("exp-1"));
  Ok(t.Edit<I64>("qty"))->set(0, 100);
  Ok(u.Edit<I64>("qty"))->set(3, 33);  // v4 has qty[3] = 3: differs from u's base
  Ok(db->DeleteBranch("exp-1"));
  Ok(db->CreateBranch("exp-1", "main"));  // at v4

  const VersionId v5 = Ok(t.Commit("onto the re-created branch"));
  CHECK(Ok(db->Head("exp-1")) == v5);
  CHECK(Ok(db->OpenSnapshot(v5)).info().parents == std::vector<VersionId>{v4});
  std::vector<I64> want = Iota<I64>(50);
  want[0] = 100;  // qty[3] is v4's 3: the old branch's -3 went with it
  CHECK(Read(*db, v5, "qty") == want);
  CHECK(Read<double>(*db, v5, "prices")[0] == 0.5);

  const NoChange unchanged(*db);
  CheckError("Commit", u.Commit("conflict").status(), kAborted, {"qty", "3", "exp-1"});
  // Base v3 has qty[3] = -3; ours (u) wrote 33; theirs, the new head v5, has main's 3.
  CHECK(u.conflicts() == std::vector<Conflict>{WrittenOnBoth("qty", 3, "33", "3")});
  unchanged.Check();
}

// ---- kAborted ----------------------------------------------------------------------------------

TEST_CASE("a conflicting commit -> kAborted naming the elements", "[errors]") {
  const std::int64_t nodes0 = live_nodes();
  {
    Fixture f;
    Transaction t1 = Ok(f.db->Begin("main"));
    Transaction t2 = Ok(f.db->Begin("main"));
    Ok(t1.Edit<I64>("qty"))->set(42, 1);
    Ok(t2.Edit<I64>("qty"))->set(42, 2);
    Ok(t2.Edit<double>("prices"))->set(7, 7.5);  // would merge cleanly on its own
    Ok(t1.Commit("first"));
    const NoChange unchanged(*f.db);
    CheckError("Commit", t2.Commit("second").status(), kAborted, {"qty", "42", "main"});
    CHECK(t2.conflicts() == std::vector<Conflict>{WrittenOnBoth("qty", 42, "2", "1")});
    unchanged.Check();
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE_METHOD(Fixture, "a conflicting merge -> kAborted naming the elements", "[errors]") {
  Transaction t = Ok(db->Begin("main"));
  Ok(t.Edit<I64>("qty"))->set(3, 33);  // exp-1 set qty[3] = -3
  Ok(t.Commit("main qty"));
  const NoChange unchanged(*db);
  std::vector<Conflict> conflicts;
  CheckError("Merge", db->Merge("exp-1", "main", "m", MergePolicy::kFail, &conflicts).status(),
             kAborted, {"qty", "3", "exp-1", "main"});
  // ours: the target, main (qty[3] = 33); theirs: the source, exp-1 (qty[3] = -3).
  CHECK(conflicts == std::vector<Conflict>{WrittenOnBoth("qty", 3, "33", "-3")});
  unchanged.Check();
}

// ---- exceptions inside a transaction -----------------------------------------------------------

TEST_CASE_METHOD(Fixture, "an out-of-range index through an editor throws; the transaction goes on",
                 "[errors]") {
  const NoChange unchanged(*db);
  Transaction t = Ok(db->Begin("main"));
  auto* ed = Ok(t.Edit<I64>("qty"));
  CHECK_THROWS_AS(ed->set(57, 1), std::out_of_range);
  CHECK_THROWS_WITH(ed->set(57, 1), Contains("57") && Contains("50"));
  CHECK_THROWS_AS(ed->at(50), std::out_of_range);
  CHECK_THROWS_AS(ed->update(50, [](I64 x) { return x + 1; }), std::out_of_range);
  Ok(t.Create<I64>("empty"));
  CHECK_THROWS_AS(Ok(t.Edit<I64>("empty"))->pop_back(), std::out_of_range);
  CHECK(t.active());
  CHECK(ToVector(Ok(t.Get<I64>("qty"))) == Iota<I64>(50));
  unchanged.Check();

  SECTION("and commits") {
    ed->set(0, 42);
    const VersionId v5 = Ok(t.Commit("after out_of_range"));
    std::vector<I64> want = Iota<I64>(50);
    want[0] = 42;
    const Snapshot s = Ok(db->OpenSnapshot(v5));
    CHECK(ToVector(Ok(s.Get<I64>("qty"))) == want);
    CHECK(Ok(s.Get<I64>("empty")).empty());
  }
  SECTION("or aborts") {
    t.Abort();
    unchanged.Check();
  }
}

TEST_CASE("a throwing user functor in an editor propagates; the transaction still works",
          "[errors]") {
  const std::int64_t nodes0 = live_nodes();
  {
    Fixture f;
    Database& db = *f.db;
    Transaction load = Ok(db.Begin("main"));
    Ok(load.Create<I64>("big", IotaVec(3000)));  // 6 chunks
    Ok(load.Commit("big"));
    const NoChange unchanged(db);

    Transaction t = Ok(db.Begin("main"));
    auto* ed = Ok(t.Edit<I64>("big"));
    ed->set(0, -100);
    const auto boom = [](I64) -> I64 { throw std::runtime_error("boom"); };
    CHECK_THROWS_AS(ed->update(1, boom), std::runtime_error);
    // transform throws in the fifth chunk, after rewriting four.
    CHECK_THROWS_WITH(ed->transform([](I64 x) {
      if (x == 2100) throw std::runtime_error("boom in transform");
      return x * 10;
    }),
                      "boom in transform");
    std::vector<I64> want = Iota<I64>(3000);
    want[0] = -100;
    CHECK(ToVector(Ok(t.Get<I64>("big"))) == want);
    CHECK(t.active());

    SECTION("commit publishes only the writes that completed") {
      const VersionId v = Ok(t.Commit("after throw"));
      CHECK(ToVector(Ok(Ok(db.OpenSnapshot(v)).Get<I64>("big"))) == want);
      CHECK(ToVector(Ok(Ok(db.OpenSnapshot("exp-1")).Get<I64>("qty")))[3] == -3);
    }
    SECTION("abort leaves the database unchanged") {
      t.Abort();
      unchanged.Check();
    }
  }
  CHECK(live_nodes() == nodes0);
}

TEST_CASE_METHOD(Fixture, "a transaction dropped without commit leaves no trace", "[errors]") {
  const NoChange unchanged(*db);
  const std::int64_t nodes_before = live_nodes();
  {
    Transaction t = Ok(db->Begin("main"));
    auto* ed = Ok(t.Edit<I64>("qty"));
    for (std::size_t i = 0; i < 50; i += 7) ed->set(i, -1);
    for (I64 x = 0; x < 2000; ++x) ed->push_back(x);
    Ok(t.Create<I64>("big", IotaVec(5000)));
    Ok(t.Put<double>("prices", pvec<double>(100, 1.0)));
    Ok(t.Drop("trades"));
    CHECK(live_nodes() > nodes_before);
  }
  CHECK(live_nodes() == nodes_before);
  unchanged.Check();
  CHECK(Ok(db->Head("main")).value == v4.value);
}
