// MergeCatalogs (db/catalog_merge.h), the three-way merge of catalogs that Commit and
// Database::Merge run, tested directly as a table: each row is (base, ours, theirs, options) ->
// the merged catalog or the conflicts, written by hand from the contract in catalog_merge.h and
// merge.h. A dataset taken whole from one side must be that side's object (no copy); a dataset
// merged row by row is checked by its rows.
#include "db/catalog_merge.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/database.h"
#include "cowdb/pvec.h"
#include "db/version.h"
#include "fmt/format.h"

namespace cowdb::internal {
namespace {

using Rows = std::vector<std::int64_t>;

template <class T>
DatasetPtr Make(pvec<T> v) {
  return std::make_shared<TypedDataset<T>>(std::move(v));
}

// The datasets the table names. Versions derived from one another share row identities (so they
// merge row by row); ones built separately share nothing, even with equal contents.
std::map<std::string, DatasetPtr> Pool() {
  const pvec<std::int64_t> a0{1, 2, 3};
  const pvec<std::int64_t> b0{5};
  std::map<std::string, DatasetPtr> p;
  p["A0"] = Make(a0);
  p["A1"] = Make(a0.set(0, 10));              // row 0 -> 10
  p["A1b"] = Make(a0.set(0, 10));             // the same write, made separately
  p["A2"] = Make(a0.set(2, 30));              // row 2 -> 30
  p["A3"] = Make(a0.set(0, 11));              // row 0 -> 11
  p["A4"] = Make(a0.set(1, 20));              // row 1 -> 20
  p["A13"] = Make(a0.set(0, 10).set(2, 31));  // rows 0 and 2
  p["A31"] = Make(a0.set(2, 32).set(0, 11));  // rows 0 and 2, other values
  p["Ae"] = Make(a0.erase(1));                // row 1 erased
  p["Ae2"] = Make(a0.erase(1));               // the same erase, made separately
  p["B0"] = Make(b0);
  p["B1"] = Make(b0.set(0, 6));
  p["B2"] = Make(b0.set(0, 7));
  p["N1"] = Make(pvec<std::int64_t>{7, 8});  // new datasets, built separately
  p["N2"] = Make(pvec<std::int64_t>{7, 8});
  p["E1"] = Make(pvec<std::int64_t>{});  // empty: no root, so no identity of their own
  p["E2"] = Make(pvec<std::int64_t>{});
  p["Es"] = Make(pvec<std::string>{});
  p["S1"] = Make(pvec<std::string>{"x"});  // another element type
  p["S2"] = Make(pvec<std::string>{"x"});
  return p;
}

// A catalog as dataset name -> pool name.
using Names = std::vector<std::pair<std::string, std::string>>;

// One expected dataset of the merged catalog: the very object `same` names in the pool, or (same
// empty) a new int64 dataset holding `rows`.
struct Want {
  std::string name;
  std::string same;
  Rows rows;
};
Want Same(std::string name, std::string pool_name) {
  return {std::move(name), std::move(pool_name), {}};
}
Want Merged(std::string name, Rows rows) { return {std::move(name), {}, std::move(rows)}; }

constexpr std::size_t kWhole = Conflict::kWholeDataset;
constexpr std::size_t kNoRow = Conflict::kNoRow;
constexpr auto kWholeKind = conflict_kind::kWholeDataset;
constexpr auto kValue = conflict_kind::kValue;
constexpr auto kModified = row_action::kModified;
constexpr auto kErased = row_action::kErased;
constexpr auto kInserted = row_action::kInserted;
constexpr auto kRetyped = row_action::kRetyped;

Conflict Whole(std::string dataset, row_action ours, row_action theirs) {
  return {std::move(dataset), kWhole, kWholeKind, kNoRow, kNoRow, ours, theirs, "", ""};
}

struct Row {
  const char* what;
  Names base, ours, theirs;
  ConflictMode mode = ConflictMode::kElement;
  merge_mode elements = merge_mode::kValues;
  std::optional<merge_side> side = std::nullopt;
  std::vector<Want> merged = {};         // checked when `conflicts` is empty
  std::vector<Conflict> conflicts = {};  // in the order MergeCatalogs reports them
};

const Row kRows[] = {
    // ---- a dataset in base, changed on neither, one or both sides --------------------------
    {.what = "unchanged on both sides: kept",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A0"}},
     .theirs = {{"a", "A0"}},
     .merged = {Same("a", "A0")}},
    {.what = "changed on ours only: ours' object",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A0"}},
     .merged = {Same("a", "A1")}},
    {.what = "changed on theirs only: theirs' object",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A0"}},
     .theirs = {{"a", "A2"}},
     .merged = {Same("a", "A2")}},
    {.what = "both sides hold the same new version: that object",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A1"}},
     .merged = {Same("a", "A1")}},
    {.what = "changed on both sides at different rows: merged row by row",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A2"}},
     .merged = {Merged("a", {10, 2, 30})}},
    {.what = "changed on both sides at different rows, kWrites: merged row by row",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A2"}},
     .elements = merge_mode::kWrites,
     .merged = {Merged("a", {10, 2, 30})}},
    {.what = "one row changed differently on both sides: a kValue conflict",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A3"}},
     .conflicts = {{"a", 0, kValue, 0, 0, kModified, kModified, "10", "11"}}},
    {.what = "one row changed to the same value on both sides, kValues: agreement",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A1b"}},
     .merged = {Merged("a", {10, 2, 3})}},
    {.what = "one row changed to the same value on both sides, kWrites: a kValue conflict",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A1b"}},
     .elements = merge_mode::kWrites,
     .conflicts = {{"a", 0, kValue, 0, 0, kModified, kModified, "10", "10"}}},
    {.what = "a row changed on ours and erased on theirs: kModifyErase",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A4"}},
     .theirs = {{"a", "Ae"}},
     .conflicts = {{"a", 1, conflict_kind::kModifyErase, 1, kNoRow, kModified, kErased, "20", ""}}},
    {.what = "one row erased on both sides, kValues: agreement",
     .base = {{"a", "A0"}},
     .ours = {{"a", "Ae"}},
     .theirs = {{"a", "Ae2"}},
     .merged = {Merged("a", {1, 3})}},
    {.what = "one row erased on both sides, kWrites: kBothErased",
     .base = {{"a", "A0"}},
     .ours = {{"a", "Ae"}},
     .theirs = {{"a", "Ae2"}},
     .elements = merge_mode::kWrites,
     .conflicts = {{"a", 1, conflict_kind::kBothErased, kNoRow, kNoRow, kErased, kErased, "", ""}}},
    {.what = "two row conflicts in one dataset: in base row order",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A13"}},
     .theirs = {{"a", "A31"}},
     .conflicts = {{"a", 0, kValue, 0, 0, kModified, kModified, "10", "11"},
                   {"a", 2, kValue, 2, 2, kModified, kModified, "31", "32"}}},
    {.what = "ConflictMode::kDataset, changed on both sides at different rows: whole conflict",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A2"}},
     .mode = ConflictMode::kDataset,
     .conflicts = {Whole("a", kModified, kModified)}},
    {.what = "ConflictMode::kDataset, changed on one side: that side's object",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A0"}},
     .theirs = {{"a", "A2"}},
     .mode = ConflictMode::kDataset,
     .merged = {Same("a", "A2")}},
    {.what = "ConflictMode::kDataset, the same new version on both sides: that object",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A1"}},
     .mode = ConflictMode::kDataset,
     .merged = {Same("a", "A1")}},

    // ---- created ---------------------------------------------------------------------------
    {.what = "created on ours only",
     .base = {},
     .ours = {{"n", "N1"}},
     .theirs = {},
     .merged = {Same("n", "N1")}},
    {.what = "created on theirs only",
     .base = {},
     .ours = {},
     .theirs = {{"n", "N2"}},
     .merged = {Same("n", "N2")}},
    {.what = "created on both sides as the same object: that object",
     .base = {},
     .ours = {{"n", "N1"}},
     .theirs = {{"n", "N1"}},
     .merged = {Same("n", "N1")}},
    {.what = "created on both sides with equal rows built separately: whole conflict",
     .base = {},
     .ours = {{"n", "N1"}},
     .theirs = {{"n", "N2"}},
     .conflicts = {Whole("n", kInserted, kInserted)}},
    {.what = "created on both sides with other element types: whole conflict",
     .base = {},
     .ours = {{"n", "N1"}},
     .theirs = {{"n", "S1"}},
     .conflicts = {Whole("n", kInserted, kInserted)}},
    {.what = "created empty on both sides, one type: the same dataset, ours kept",
     .base = {},
     .ours = {{"n", "E1"}},
     .theirs = {{"n", "E2"}},
     .merged = {Same("n", "E1")}},
    {.what = "created empty on both sides, two types: whole conflict",
     .base = {},
     .ours = {{"n", "E1"}},
     .theirs = {{"n", "Es"}},
     .conflicts = {Whole("n", kInserted, kInserted)}},

    // ---- dropped ---------------------------------------------------------------------------
    {.what = "dropped on ours, unchanged on theirs: dropped",
     .base = {{"a", "A0"}},
     .ours = {},
     .theirs = {{"a", "A0"}},
     .merged = {}},
    {.what = "unchanged on ours, dropped on theirs: dropped",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A0"}},
     .theirs = {},
     .merged = {}},
    {.what = "dropped on both sides: dropped",
     .base = {{"a", "A0"}},
     .ours = {},
     .theirs = {},
     .merged = {}},
    {.what = "dropped on ours, changed on theirs: whole conflict",
     .base = {{"a", "A0"}},
     .ours = {},
     .theirs = {{"a", "A2"}},
     .conflicts = {Whole("a", kErased, kModified)}},
    {.what = "changed on ours, dropped on theirs: whole conflict",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {},
     .conflicts = {Whole("a", kModified, kErased)}},

    // ---- retyped (replaced by a dataset of another element type) ---------------------------
    {.what = "retyped on ours, unchanged on theirs: ours' object",
     .base = {{"a", "A0"}},
     .ours = {{"a", "S1"}},
     .theirs = {{"a", "A0"}},
     .merged = {Same("a", "S1")}},
    {.what = "retyped on ours, changed on theirs: whole conflict",
     .base = {{"a", "A0"}},
     .ours = {{"a", "S1"}},
     .theirs = {{"a", "A2"}},
     .conflicts = {Whole("a", kRetyped, kModified)}},
    {.what = "retyped on both sides to equal rows built separately: whole conflict",
     .base = {{"a", "A0"}},
     .ours = {{"a", "S1"}},
     .theirs = {{"a", "S2"}},
     .conflicts = {Whole("a", kRetyped, kRetyped)}},
    {.what = "retyped on both sides to the same object: that object",
     .base = {{"a", "A0"}},
     .ours = {{"a", "S1"}},
     .theirs = {{"a", "S1"}},
     .merged = {Same("a", "S1")}},
    {.what = "retyped on ours, dropped on theirs: whole conflict",
     .base = {{"a", "A0"}},
     .ours = {{"a", "S1"}},
     .theirs = {},
     .conflicts = {Whole("a", kRetyped, kErased)}},

    // ---- several datasets ------------------------------------------------------------------
    {.what = "several datasets, each by its own rule",
     .base = {{"a", "A0"}, {"b", "B0"}, {"c", "B0"}},
     .ours = {{"a", "A1"}, {"b", "B0"}, {"c", "B1"}, {"n", "N1"}},
     .theirs = {{"a", "A2"}, {"c", "B1"}, {"m", "S1"}},
     .merged = {Merged("a", {10, 2, 30}), Same("c", "B1"), Same("m", "S1"), Same("n", "N1")}},
    {.what = "conflicts in several datasets: by dataset name, whole and row conflicts mixed",
     .base = {{"a", "A0"}, {"b", "B0"}, {"c", "B0"}},
     .ours = {{"b", "B1"}, {"c", "B1"}, {"z", "N1"}},
     .theirs = {{"a", "A2"}, {"b", "B2"}, {"c", "B0"}, {"z", "N2"}},
     .conflicts = {Whole("a", kErased, kModified),
                   {"b", 0, kValue, 0, 0, kModified, kModified, "6", "7"},
                   Whole("z", kInserted, kInserted)}},

    // ---- every conflict decided for a side -------------------------------------------------
    {.what = "kValue decided for ours",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A3"}},
     .side = merge_side::kOurs,
     .merged = {Merged("a", {10, 2, 3})}},
    {.what = "kValue decided for theirs",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A3"}},
     .side = merge_side::kTheirs,
     .merged = {Merged("a", {11, 2, 3})}},
    {.what = "kValue decided for theirs: ours' other row still merged",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A13"}},
     .theirs = {{"a", "A3"}},
     .side = merge_side::kTheirs,
     .merged = {Merged("a", {11, 2, 31})}},
    {.what = "kModifyErase decided for ours: the row kept with its change",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A4"}},
     .theirs = {{"a", "Ae"}},
     .side = merge_side::kOurs,
     .merged = {Merged("a", {1, 20, 3})}},
    {.what = "kModifyErase decided for theirs: the row erased",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A4"}},
     .theirs = {{"a", "Ae"}},
     .side = merge_side::kTheirs,
     .merged = {Merged("a", {1, 3})}},
    {.what = "dropped on ours, changed on theirs, decided for ours: dropped",
     .base = {{"a", "A0"}},
     .ours = {},
     .theirs = {{"a", "A2"}},
     .side = merge_side::kOurs,
     .merged = {}},
    {.what = "dropped on ours, changed on theirs, decided for theirs: theirs' object",
     .base = {{"a", "A0"}},
     .ours = {},
     .theirs = {{"a", "A2"}},
     .side = merge_side::kTheirs,
     .merged = {Same("a", "A2")}},
    {.what = "created on both sides, decided for theirs: theirs' object",
     .base = {},
     .ours = {{"n", "N1"}},
     .theirs = {{"n", "S1"}},
     .side = merge_side::kTheirs,
     .merged = {Same("n", "S1")}},
    {.what = "ConflictMode::kDataset decided for ours: ours' whole object, theirs' rows lost",
     .base = {{"a", "A0"}},
     .ours = {{"a", "A1"}},
     .theirs = {{"a", "A2"}},
     .mode = ConflictMode::kDataset,
     .side = merge_side::kOurs,
     .merged = {Same("a", "A1")}},
};

Catalog Build(const Names& names, const std::map<std::string, DatasetPtr>& pool) {
  Catalog c;
  for (const auto& [name, pool_name] : names) {
    const auto it = pool.find(pool_name);
    REQUIRE(it != pool.end());
    REQUIRE(c.emplace(name, it->second).second);
  }
  return c;
}

std::string Describe(const std::vector<Conflict>& conflicts) {
  std::string s;
  for (const Conflict& c : conflicts) {
    s += fmt::format("\n  {} (index {}, ours_index {}, theirs_index {})", c, c.index, c.ours_index,
                     c.theirs_index);
  }
  return s;
}

TEST_CASE("MergeCatalogs: the table", "[catalog_merge]") {
  const std::map<std::string, DatasetPtr> pool = Pool();
  for (const Row& row : kRows) {
    DYNAMIC_SECTION(row.what) {
      const CatalogMerge m =
          MergeCatalogs(Build(row.base, pool), Build(row.ours, pool), Build(row.theirs, pool),
                        row.mode, row.elements, row.side);
      REQUIRE(m.error.ok());
      INFO("conflicts:" << Describe(m.conflicts));
      INFO("expected:" << Describe(row.conflicts));
      CHECK(m.conflicts == row.conflicts);
      if (!row.conflicts.empty()) continue;
      REQUIRE(m.merged.size() == row.merged.size());
      for (const Want& want : row.merged) {
        CAPTURE(want.name, want.same);
        const auto it = m.merged.find(want.name);
        REQUIRE(it != m.merged.end());
        if (!want.same.empty()) {
          CHECK(it->second == pool.at(want.same));  // that side's object, not a copy
          continue;
        }
        const auto* d = dynamic_cast<const TypedDataset<std::int64_t>*>(it->second.get());
        REQUIRE(d != nullptr);
        CHECK(Rows(d->data().begin(), d->data().end()) == want.rows);
      }
    }
  }
}

// A dataset whose versions hold one row twice cannot be merged by row identity (merge.h throws
// std::logic_error); MergeCatalogs turns that into kFailedPrecondition naming the dataset. The
// versions are those of tests/regress/row_identity_regress.cc, with the default tree shape.
TEST_CASE("MergeCatalogs: a dataset holding a row twice -> kFailedPrecondition",
          "[catalog_merge]") {
  pvec<std::int64_t> base{100};
  base = base + base.slice(0, 1);
  pvec<std::int64_t> ours = base.set(1, 31);
  ours = ours + ours.slice(0, 2);
  ours = ours.sort(std::greater<>{});
  ours = ours.erase(0);
  pvec<std::int64_t> theirs = base.insert(2, base.slice(0, 2));
  theirs = theirs.insert(1, theirs.slice(1, 3));
  REQUIRE_THROWS_AS(cowdb::merge(base, ours, theirs), std::logic_error);  // the premise

  const Catalog b{{"a", Make(pvec<std::int64_t>{1})}, {"twice", Make(base)}};
  Catalog o = b;
  o["twice"] = Make(ours);
  Catalog t = b;
  t["twice"] = Make(theirs);
  const CatalogMerge m =
      MergeCatalogs(b, o, t, ConflictMode::kElement, merge_mode::kValues, std::nullopt);
  CHECK(m.error.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(m.error.message()), Catch::Contains("dataset \"twice\""));
}

}  // namespace
}  // namespace cowdb::internal
