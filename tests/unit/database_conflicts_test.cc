// What a failed Database::Merge or Transaction::Commit reports: each Conflict names the row in
// base terms, where it is on each side, what each side did and both values. Every expected
// Conflict below is worked out by hand from the scenario (positions after each side's inserts
// and erasures), and every failure is checked to leave every existing version as it was.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/database.h"
#include "cowdb/options.h"
#include "cowdb/transaction.h"
#include "fmt/format.h"
#include "testing/db_helpers.h"

namespace {

using cowdb::Conflict;
using cowdb::conflict_kind;
using cowdb::Database;
using cowdb::MergePolicy;
using cowdb::pvec;
using cowdb::row_action;
using cowdb::Transaction;
using cowdb::testing::CreateDataset;
using cowdb::testing::I64;
using cowdb::testing::Ok;

constexpr std::size_t kNoRow = Conflict::kNoRow;

// An element type with no fmt formatter.
struct NoFmt {
  int x = 0;
  friend bool operator==(const NoFmt&, const NoFmt&) = default;
};

// Everything a failed operation must leave alone: the branches with their heads, and every
// version in their histories with its datasets (int64 and NoFmt contents; other types by size).
struct World {
  std::vector<std::pair<std::string, std::uint64_t>> heads;
  std::map<std::uint64_t, std::map<std::string, std::string>> versions;
  friend bool operator==(const World&, const World&) = default;
};

World Capture(const Database& db) {
  World w;
  for (const cowdb::BranchInfo& b : db.Branches()) {
    w.heads.emplace_back(b.name, b.head.value);
    for (const cowdb::VersionInfo& v : Ok(db.Log(b.name))) {
      const cowdb::Snapshot s = Ok(db.OpenSnapshot(v.id));
      auto& datasets = w.versions[v.id.value];
      for (const cowdb::DatasetInfo& d : s.Datasets()) {
        std::string text = d.type + ":";
        if (auto i = s.Get<I64>(d.name); i.ok()) {
          for (I64 x : *i) text += fmt::format(" {}", x);
        } else if (auto n = s.Get<NoFmt>(d.name); n.ok()) {
          for (const NoFmt& x : *n) text += fmt::format(" {}", x.x);
        } else {
          text += fmt::format(" {} rows", d.size);
        }
        datasets[d.name] = text;
      }
    }
  }
  return w;
}

// "main" with int64 dataset "t" = `rows`, and branch "exp" at the same version.
std::unique_ptr<Database> TwoBranches(std::vector<I64> rows, cowdb::Options options = {}) {
  auto db = Database::Open(options);
  CreateDataset(*db, "main", "t", pvec<I64>(rows.begin(), rows.end()));
  Ok(db->CreateBranch("exp", "main"));
  return db;
}

// Runs `edit` on dataset "t" of `branch` in one committed transaction.
template <class T = I64, class Fn>
void Change(Database& db, const std::string& branch, Fn edit) {
  Transaction t = Ok(db.Begin(branch));
  edit(*Ok(t.Edit<T>("t")));
  Ok(t.Commit("change t on " + branch));
}

// Merges "exp" (theirs) into "main" (ours), expecting kAborted and no change anywhere; returns
// the conflicts.
std::vector<Conflict> FailedMerge(Database& db) {
  const World before = Capture(db);
  std::vector<Conflict> conflicts;
  const absl::Status s =
      db.Merge("exp", "main", "merge exp", MergePolicy::kFail, &conflicts).status();
  CHECK(absl::IsAborted(s));
  CHECK(Capture(db) == before);
  return conflicts;
}

// A row conflict, spelled out.
Conflict Row(std::size_t base, conflict_kind kind, std::size_t ours, std::size_t theirs,
             row_action ours_did, row_action theirs_did, std::string ours_value,
             std::string theirs_value, std::string dataset = "t") {
  return {.dataset = std::move(dataset),
          .index = base,
          .kind = kind,
          .ours_index = ours,
          .theirs_index = theirs,
          .ours_action = ours_did,
          .theirs_action = theirs_did,
          .ours_value = std::move(ours_value),
          .theirs_value = std::move(theirs_value)};
}

Conflict Whole(std::string dataset, row_action ours_did, row_action theirs_did) {
  return {.dataset = std::move(dataset),
          .index = Conflict::kWholeDataset,
          .kind = conflict_kind::kWholeDataset,
          .ours_index = kNoRow,
          .theirs_index = kNoRow,
          .ours_action = ours_did,
          .theirs_action = theirs_did,
          .ours_value = "",
          .theirs_value = ""};
}

}  // namespace

TEST_CASE("conflicts: the same row set differently on two branches, duplicates elsewhere",
          "[database][conflicts]") {
  // Values repeat, so only identity can tell the rows apart.
  auto db = TwoBranches({5, 7, 5, 7, 5, 7});
  Change(*db, "main", [](auto& t) {
    t.set(0, 9);            // the same change as exp's: agreement, no conflict
    t.set(2, 50);           // base row 2
    t.insert(0, I64{100});  // base row 2 is now at 3
  });
  Change(*db, "exp", [](auto& t) {
    t.set(0, 9);
    t.set(2, 60);  // base row 2, differently: the conflict
    t.set(4, 50);  // another row gets ours' value for row 2: no conflict
    t.erase(1);    // base row 2 is now at 1
  });
  CHECK(FailedMerge(*db) ==
        std::vector<Conflict>{Row(2, conflict_kind::kValue, 3, 1, row_action::kModified,
                                  row_action::kModified, "50", "60")});
}

TEST_CASE("conflicts: modified on one side, erased on the other (both ways round)",
          "[database][conflicts]") {
  SECTION("ours modifies, theirs erases") {
    auto db = TwoBranches({10, 11, 12, 13, 14});
    Change(*db, "main", [](auto& t) { t.set(3, 33); });
    Change(*db, "exp", [](auto& t) { t.erase(3); });
    CHECK(FailedMerge(*db) ==
          std::vector<Conflict>{Row(3, conflict_kind::kModifyErase, 3, kNoRow,
                                    row_action::kModified, row_action::kErased, "33", "")});
  }
  SECTION("ours erases, theirs modifies") {
    auto db = TwoBranches({10, 11, 12, 13, 14});
    Change(*db, "main", [](auto& t) { t.erase(1); });
    Change(*db, "exp", [](auto& t) {
      t.set(1, -11);
      t.insert(0, I64{99});  // base row 1 is now at 2
    });
    CHECK(FailedMerge(*db) ==
          std::vector<Conflict>{Row(1, conflict_kind::kModifyErase, kNoRow, 2, row_action::kErased,
                                    row_action::kModified, "", "-11")});
  }
}

TEST_CASE("conflicts: rows inserted at the same gap on both branches", "[database][conflicts]") {
  auto db = TwoBranches({1, 2, 3});
  SECTION("inserts only") {
    Change(*db, "main", [](auto& t) {
      t.insert(1, I64{100});  // before base row 1
      t.push_back(4);         // at the end: before base row 3 (base's size)
    });
    Change(*db, "exp", [](auto& t) {
      t.insert(1, I64{200});
      t.push_back(5);
    });
    // ours: 1 100 2 3 4; theirs: 1 200 2 3 5.
    CHECK(FailedMerge(*db) ==
          std::vector<Conflict>{Row(1, conflict_kind::kInsertOrder, 1, 1, row_action::kInserted,
                                    row_action::kInserted, "100", "200"),
                                Row(3, conflict_kind::kInsertOrder, 4, 4, row_action::kInserted,
                                    row_action::kInserted, "4", "5")});
  }
  SECTION("inserts before a row both set: two conflicts at one base row, value first") {
    Change(*db, "main", [](auto& t) {
      t.set(1, 10);
      t.insert(1, I64{100});
    });
    Change(*db, "exp", [](auto& t) {
      t.set(1, 20);
      t.insert(1, I64{200});
    });
    // ours: 1 100 10 3; theirs: 1 200 20 3.
    CHECK(FailedMerge(*db) ==
          std::vector<Conflict>{Row(1, conflict_kind::kValue, 2, 2, row_action::kModified,
                                    row_action::kModified, "10", "20"),
                                Row(1, conflict_kind::kInsertOrder, 1, 1, row_action::kInserted,
                                    row_action::kInserted, "100", "200")});
  }
}

TEST_CASE("conflicts: a commit against a moved head", "[database][conflicts]") {
  auto db = TwoBranches({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Transaction ours = Ok(db->Begin("main"));
  Transaction theirs = Ok(db->Begin("main"));
  auto* o = Ok(ours.Edit<I64>("t"));
  o->set(7, 77);
  o->set(9, 90);
  o->set(2, 20);          // only ours writes row 2: no conflict
  o->insert(5, I64{-1});  // base rows 7 and 9 are now at 8 and 10
  auto* t = Ok(theirs.Edit<I64>("t"));
  t->set(7, 70);
  t->set(9, 90);   // the same value as ours: still a conflict for a commit (first one wins)
  t->erase(0, 2);  // base rows 7 and 9 are now at 5 and 7
  Ok(theirs.Commit("theirs"));

  const World before = Capture(*db);
  const absl::Status s = ours.Commit("ours").status();
  CHECK(absl::IsAborted(s));
  CHECK(Capture(*db) == before);
  CHECK(ours.conflicts() ==
        std::vector<Conflict>{Row(7, conflict_kind::kValue, 8, 5, row_action::kModified,
                                  row_action::kModified, "77", "70"),
                              Row(9, conflict_kind::kValue, 10, 7, row_action::kModified,
                                  row_action::kModified, "90", "90")});
}

TEST_CASE("conflicts: whole datasets", "[database][conflicts]") {
  SECTION("commit: dropped by ours, written by theirs") {
    auto db = TwoBranches({1, 2, 3});
    Transaction ours = Ok(db->Begin("main"));
    Ok(ours.Drop("t"));
    Change(*db, "main", [](auto& t) { t.set(0, 10); });
    const World before = Capture(*db);
    CHECK(absl::IsAborted(ours.Commit("drop t").status()));
    CHECK(Capture(*db) == before);
    CHECK(ours.conflicts() ==
          std::vector<Conflict>{Whole("t", row_action::kErased, row_action::kModified)});
  }
  SECTION("merge: created on both, retyped on one side and written on the other") {
    auto db = TwoBranches({1, 2, 3});
    {
      Transaction m = Ok(db->Begin("main"));
      Ok(m.Drop("t"));
      Ok(m.Create<double>("t", pvec<double>{1.5}));
      Ok(m.Create<I64>("n", pvec<I64>{1}));
      Ok(m.Commit("retype t, create n"));
    }
    {
      Transaction e = Ok(db->Begin("exp"));
      Ok(e.Edit<I64>("t"))->set(0, 10);
      Ok(e.Create<I64>("n", pvec<I64>{1}));  // equal contents, but made separately
      Ok(e.Commit("write t, create n"));
    }
    CHECK(FailedMerge(*db) ==
          std::vector<Conflict>{Whole("n", row_action::kInserted, row_action::kInserted),
                                Whole("t", row_action::kRetyped, row_action::kModified)});
  }
  SECTION("ConflictMode::kDataset: written on both sides, at different rows") {
    auto db = TwoBranches({1, 2, 3}, {.conflict_mode = cowdb::ConflictMode::kDataset});
    Transaction ours = Ok(db->Begin("main"));
    Ok(ours.Edit<I64>("t"))->set(0, 10);
    Change(*db, "main", [](auto& t) { t.set(2, 30); });
    const World before = Capture(*db);
    CHECK(absl::IsAborted(ours.Commit("write row 0").status()));
    CHECK(Capture(*db) == before);
    CHECK(ours.conflicts() ==
          std::vector<Conflict>{Whole("t", row_action::kModified, row_action::kModified)});
  }
}

TEST_CASE("conflicts: an element type without a formatter gets placeholder values",
          "[database][conflicts]") {
  STATIC_REQUIRE_FALSE(fmt::is_formattable<NoFmt>::value);
  CHECK(Conflict::kUnformattable == "<unformattable>");
  auto db = Database::Open();
  CreateDataset(*db, "main", "t", pvec<NoFmt>{{1}, {2}, {3}, {4}});
  Ok(db->CreateBranch("exp", "main"));
  Change<NoFmt>(*db, "main", [](auto& t) {
    t.set(1, NoFmt{20});
    t.set(3, NoFmt{40});
  });
  Change<NoFmt>(*db, "exp", [](auto& t) {
    t.set(1, NoFmt{21});
    t.erase(3);
  });
  const std::string u(Conflict::kUnformattable);
  CHECK(FailedMerge(*db) ==
        std::vector<Conflict>{
            Row(1, conflict_kind::kValue, 1, 1, row_action::kModified, row_action::kModified, u, u),
            Row(3, conflict_kind::kModifyErase, 3, kNoRow, row_action::kModified,
                row_action::kErased, u, "")});
}

TEST_CASE("conflicts: fmt prints where, why, what each side did and both values",
          "[database][conflicts]") {
  // dataset, index, kind, then ours' and theirs' position, action and value.
  const auto make = [](std::string dataset, std::size_t index, conflict_kind kind,
                       std::size_t ours_index, row_action ours_action, std::string ours_value,
                       std::size_t theirs_index, row_action theirs_action,
                       std::string theirs_value) {
    Conflict c;
    c.dataset = std::move(dataset);
    c.index = index;
    c.kind = kind;
    c.ours_index = ours_index;
    c.ours_action = ours_action;
    c.ours_value = std::move(ours_value);
    c.theirs_index = theirs_index;
    c.theirs_action = theirs_action;
    c.theirs_value = std::move(theirs_value);
    return c;
  };
  CHECK(fmt::format("{}", make("qty", 42, conflict_kind::kValue, 42, row_action::kModified, "7", 40,
                               row_action::kModifiedAndMoved, "9")) ==
        "\"qty\"[42] value conflict: ours modified it to 7 (row 42), theirs modified it to 9 and "
        "moved it (row 40)");
  CHECK(fmt::format("{}", make("qty", 3, conflict_kind::kModifyErase, kNoRow, row_action::kErased,
                               "", 3, row_action::kMoved, "5")) ==
        "\"qty\"[3] modify/erase conflict: ours erased it, theirs moved it (row 3)");
  CHECK(fmt::format("{}", make("t", 10, conflict_kind::kInsertOrder, 10, row_action::kInserted, "1",
                               12, row_action::kInserted, "2")) ==
        "\"t\"[10] insert-order conflict: ours inserted 1 (row 10), theirs inserted 2 (row 12)");
  CHECK(fmt::format("{}", make("t", Conflict::kWholeDataset, conflict_kind::kWholeDataset, kNoRow,
                               row_action::kErased, "", kNoRow, row_action::kRetyped, "")) ==
        "dataset \"t\": ours dropped it, theirs replaced it by another element type");
  // A failed commit's status lists its conflicts in this form.
  const auto db = Database::Open();
  CreateDataset(*db, "main", "qty", pvec<I64>{0, 0, 0});
  Transaction a = Ok(db->Begin("main"));
  Transaction b = Ok(db->Begin("main"));
  Ok(a.Edit<I64>("qty"))->set(1, 7);
  Ok(b.Edit<I64>("qty"))->set(1, 9);
  Ok(a.Commit("a"));
  const absl::Status s = b.Commit("b").status();
  REQUIRE(absl::IsAborted(s));
  CHECK(s.message().find("\"qty\"[1] value conflict: ours modified it to 9 (row 1), theirs "
                         "modified it to 7 (row 1)") != std::string_view::npos);
}
