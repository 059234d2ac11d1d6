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
