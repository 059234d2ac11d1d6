// Frozen failures of diff/merge found by tests/model/diff_merge_property_test.cc.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <vector>

#include "cowdb/merge.h"
#include "cowdb/pvec.h"

namespace {

using Tiny = cowdb::pvec<int, 2 * sizeof(int), 2>;

std::vector<std::size_t> ConflictIndices(const cowdb::merge_result<int, 2 * sizeof(int), 2>& r) {
  std::vector<std::size_t> out;
  for (const auto& c : r.conflicts()) out.push_back(c.index);
  return out;
}

}  // namespace

// merge_result::conflicts() is documented as being in index order. At commit c57188e, merger::run()
// recorded the structural conflicts first (length() and modify_delete() run before the element
// walk), so a merge with both kinds listed them out of index order, structural ones first, although
// the comment then said "structural ones last when there is a length conflict".
TEST_CASE("bug: merge lists structural conflicts before element conflicts", "[merge][regress]") {
  const Tiny base{0, 1, 2, 3, 4, 5};

  SECTION("length conflict") {
    // ours: [10 1 2 3 4 5 6] (modified 0, appended); theirs: [20 1 2 3] (modified 0, truncated).
    const auto r = cowdb::merge(base, base.set(0, 10).push_back(6), base.set(0, 20).take(4));
    // Expected [0, 4, 5, 6] (index order, structural 4..6 last); actual [4, 5, 6, 0].
    // Since merges pair rows by identity, ours' appended row and the rows theirs erased (4, 5)
    // are different rows, so no longer conflicts: only row 0, changed on both sides, is.
    const std::vector<std::size_t> got = ConflictIndices(r);
    CHECK(std::is_sorted(got.begin(), got.end()));
    CHECK(got == std::vector<std::size_t>{0});
  }
  SECTION("modify/delete conflict") {
    // ours: [10 1 2 3 4 50] (modified 0 and 5); theirs: [20 1 2 3] (modified 0, truncated).
    const auto r = cowdb::merge(base, base.set(5, 50).set(0, 10), base.take(4).set(0, 20));
    // Expected [0, 5]; actual [5, 0]. Indices are positions in merged() = [10 1 2 3 50] (ours
    // decides; theirs' erasure of the untouched row 4 is merged), so row 5 is at 4.
    const std::vector<std::size_t> got = ConflictIndices(r);
    CHECK(got == std::vector<std::size_t>{0, 4});
    REQUIRE(r.conflicts().size() == 2);
    CHECK(r.conflicts()[0].kind == cowdb::conflict_kind::kValue);
    CHECK(r.conflicts()[1].kind == cowdb::conflict_kind::kModifyErase);
    CHECK(r.conflicts()[1].base_index == 5);
  }
}

// Found by the database model test (element/prune5, seed 1) on 2026-12-05: after a criss-cross of
// merges, ours held a base row out of base order (moved) and theirs had replaced every row; the
// test's model merged the row as erased, but merge.h calls a row moved on one side and erased on
// the other a kModifyErase conflict, and with kOurs keeps it at ours' place. The engine was right
// and the model (tests/testing/db_model.h, MergeRows) was fixed; this pins the engine's rule.
TEST_CASE("regress: a row moved on one side and erased on the other is a kModifyErase conflict",
          "[merge][regress]") {
  const Tiny base{0, 1, 2, 3};
  // ours moves row 0 to the end (a sort by a key that puts 0 last); theirs erases it.
  const Tiny ours = base.stable_sort({}, [](int x) { return x == 0 ? 10 : x; });
  REQUIRE(ours == Tiny{1, 2, 3, 0});
  const Tiny theirs = base.erase(0);
  const auto r = cowdb::merge(base, ours, theirs);
  REQUIRE(r.conflicts().size() == 1);
  CHECK(r.conflicts()[0].kind == cowdb::conflict_kind::kModifyErase);
  CHECK(r.conflicts()[0].base_index == 0);
  const Tiny kept = r.resolve(cowdb::merge_side::kOurs);
  CHECK(kept == Tiny{1, 2, 3, 0});
  CHECK(kept.row_id(3) == base.row_id(0));
  CHECK(r.resolve(cowdb::merge_side::kTheirs) == Tiny{1, 2, 3});
}
