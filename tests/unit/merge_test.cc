// Unit tests of merge(): element conflicts, sharing of the chunks only one side changed, the length
// rules of merge.h's header comment (appends, truncations, length and modify/delete conflicts) and
// every way of resolving conflicts.
#include "cowdb/merge.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/pvec_helpers.h"

namespace {

using cowdb::merge_side;
using cowdb::testing::Iota;
using cowdb::testing::ToVector;

// Chunks of 4 ints, fan-out 4.
using Small = cowdb::pvec<int, 4 * sizeof(int), 4>;
using Big = cowdb::pvec<std::int64_t>;
using Opt = std::optional<int>;

// A conflict record with plain values, comparable and printable.
struct Rec {
  std::size_t index;
  Opt base;
  Opt ours;
  Opt theirs;
  friend bool operator==(const Rec&, const Rec&) = default;
};

std::string Show(const Opt& x) { return x ? fmt::format("{}", *x) : std::string("none"); }

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << fmt::format("{{{}: base={} ours={} theirs={}}}", r.index, Show(r.base), Show(r.ours),
                           Show(r.theirs));
}

std::vector<Rec> Records(const cowdb::merge_result<int, 4 * sizeof(int), 4>& r) {
  std::vector<Rec> out;
  for (const auto& c : r.conflicts()) out.push_back({c.index, c.base, c.ours, c.theirs});
  return out;
}

bool AllStructural(const cowdb::merge_result<int, 4 * sizeof(int), 4>& r) {
  for (const auto& c : r.conflicts()) {
    if (!c.structural()) return false;
  }
  return !r.conflicts().empty();
}

// Checks resolve(kOurs) / resolve(kTheirs) and the policy form of merge() against the expected
// contents.
void CheckResolutions(const Small& base, const Small& ours, const Small& theirs,
                      const std::vector<int>& want_ours, const std::vector<int>& want_theirs) {
  const auto r = cowdb::merge(base, ours, theirs);
  CHECK(ToVector(r.resolve(merge_side::kOurs)) == want_ours);
  CHECK(ToVector(r.resolve(merge_side::kTheirs)) == want_theirs);
  CHECK(ToVector(cowdb::merge(base, ours, theirs, merge_side::kOurs)) == want_ours);
  CHECK(ToVector(cowdb::merge(base, ours, theirs, merge_side::kTheirs)) == want_theirs);
}

// Resolution function used by the tests: distinguishable from every input value.
int SumPlus1000(const cowdb::merge_conflict<int>& c) {
  return 1000 + c.base.value_or(0) + c.ours.value_or(0) + c.theirs.value_or(0);
}

}  // namespace

// ---- element merges -----------------------------------------------------------------------------

TEST_CASE("merge: disjoint edits are combined", "[merge]") {
  const Small base(Iota(64));
  const Small ours = base.set(3, -3).set(40, -40).set(4, -4);
  const Small theirs = base.set(10, -10).set(63, -63).set(5, -5);  // 4 and 5 share a chunk
  const auto r = cowdb::merge(base, ours, theirs);
  REQUIRE(r.ok());
  CHECK(r.conflicts().empty());
  std::vector<int> want = Iota(64);
  for (const int i : {3, 40, 4, 10, 63, 5}) want[static_cast<std::size_t>(i)] = -i;
  CHECK(ToVector(r.merged()) == want);
  CHECK(ToVector(cowdb::merge(base, theirs, ours).merged()) == want);
  CheckResolutions(base, ours, theirs, want, want);
  CHECK(ToVector(r.resolve(SumPlus1000)) == want);
  // The inputs are untouched.
  CHECK(ToVector(base) == Iota(64));
  CHECK(ours[10] == 10);
  CHECK(theirs[3] == 3);
}

TEST_CASE("merge: the same edit on both sides is not a conflict", "[merge]") {
  const Small base(Iota(32));
  // Made separately, so the changed chunks are distinct nodes with equal contents.
  const Small ours = base.set(5, 99).set(20, 7);
  const Small theirs = base.set(5, 99).set(30, 8);
  const auto r = cowdb::merge(base, ours, theirs);
  REQUIRE(r.ok());
  std::vector<int> want = Iota(32);
  want[5] = 99;
  want[20] = 7;
  want[30] = 8;
  CHECK(ToVector(r.merged()) == want);

  const auto twice = [](int x) { return 2 * x; };
  const auto t = cowdb::merge(base, base.transform(twice), base.transform(twice));
  REQUIRE(t.ok());
  CHECK(t.merged() == base.transform(twice));
}

TEST_CASE("merge: an element changed differently on both sides is a conflict", "[merge]") {
  const Small base(Iota(16));
  // 4, 5 and 6 are in one chunk: 4 only ours changed, 6 only theirs, 5 both.
  const Small ours = base.set(4, 44).set(5, 1);
  const Small theirs = base.set(5, 2).set(6, 66);
  const auto r = cowdb::merge(base, ours, theirs);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.conflicts().size() == 1);
  CHECK(Records(r) == std::vector<Rec>{{5, 5, 1, 2}});
  CHECK_FALSE(r.conflicts()[0].structural());

  std::vector<int> merged = Iota(16);
  merged[4] = 44;
  merged[6] = 66;
  std::vector<int> want_ours = merged;
  want_ours[5] = 1;
  std::vector<int> want_theirs = merged;
  want_theirs[5] = 2;
  CHECK(ToVector(r.merged()) == want_ours);  // the conflicting element is left as in ours
  CheckResolutions(base, ours, theirs, want_ours, want_theirs);
  std::vector<int> want_fn = merged;
  want_fn[5] = 1000 + 5 + 1 + 2;
  CHECK(ToVector(r.resolve(SumPlus1000)) == want_fn);

  // Swapping the sides swaps the record.
  CHECK(Records(cowdb::merge(base, theirs, ours)) == std::vector<Rec>{{5, 5, 2, 1}});
}

TEST_CASE("merge: several conflicts are listed in index order", "[merge]") {
  const Small base(Iota(40));
  const Small ours = base.set(30, -1).set(2, -1).set(17, -1).set(18, -1);
  const Small theirs = base.set(2, -2).set(18, -2).set(30, -2).set(39, -2);
  const auto r = cowdb::merge(base, ours, theirs);
  CHECK(Records(r) == std::vector<Rec>{{2, 2, -1, -2}, {18, 18, -1, -2}, {30, 30, -1, -2}});
  std::vector<int> calls;
  const Small fixed = r.resolve([&](const cowdb::merge_conflict<int>& c) {
    calls.push_back(static_cast<int>(c.index));
    return 0;
  });
  CHECK(calls == std::vector<int>{2, 18, 30});
  std::vector<int> want = Iota(40);
  want[2] = want[18] = want[30] = 0;
  want[17] = -1;
  want[39] = -2;
  CHECK(ToVector(fixed) == want);
}

TEST_CASE("merge: resolve(fn) that throws changes nothing", "[merge]") {
  const Small base(Iota(8));
  const auto r = cowdb::merge(base, base.set(1, 10), base.set(1, 20));
  REQUIRE(r.conflicts().size() == 1);
  const auto before = ToVector(r.merged());
  CHECK_THROWS_AS(
      r.resolve([](const cowdb::merge_conflict<int>&) -> int { throw std::runtime_error("no"); }),
      std::runtime_error);
  CHECK(ToVector(r.merged()) == before);
  CHECK(r.conflicts().size() == 1);
  CHECK(r.resolve(SumPlus1000)[1] == 1031);
}

// ---- sharing ------------------------------------------------------------------------------------

TEST_CASE("merge: a chunk only one side changed is shared, not copied", "[merge][sharing]") {
  const Small base(Iota(256));  // 64 chunks of 4
  REQUIRE(base.memory().leaves == 64);
  const Small ours = base.set(5, -5);        // chunk 1
  const Small theirs = base.set(100, -100);  // chunk 25
  const auto r = cowdb::merge(base, ours, theirs);
  REQUIRE(r.ok());
  const Small& m = r.merged();
  CHECK(m[5] == -5);
  CHECK(m[100] == -100);
  // Each side's write is a patch over base's chunk; the merge takes both patches as they are.
  CHECK(m.memory().leaves == 64);
  CHECK(m.memory().patches == 2);
  CHECK(m.shared_with(theirs).leaves == 64);  // every leaf: base's, and under the patches
  CHECK(m.shared_with(theirs).patches == 1);  // theirs' patch on chunk 25
  CHECK(m.shared_with(ours).patches == 1);    // ours' patch on chunk 1
  CHECK(m.shared_with(base).leaves == 64);
  CHECK(m.shared_with(base).patches == 0);
  CHECK(m.exclusive().leaves == 0);  // no chunk was copied
  CHECK(m.exclusive().patches == 0);
  // Theirs' changed chunk was taken as is. Each side's changed chunk was paired with base's
  // (one leaf pair per side) and its 4 rows compared to find the changed row.
  CHECK(r.stats().leaf_pairs == 2);
  CHECK(r.stats().elements_compared == 2 * Small::chunk_capacity);
}

TEST_CASE("merge: a chunk both sides changed is merged into one new chunk", "[merge][sharing]") {
  const Small base(Iota(256));
  const Small ours = base.set(4, -4);
  const Small theirs = base.set(6, -6);  // the same chunk [4, 8)
  const auto r = cowdb::merge(base, ours, theirs);
  REQUIRE(r.ok());
  const Small& m = r.merged();
  CHECK(m[4] == -4);
  CHECK(m[6] == -6);
  CHECK(m.shared_with(base).leaves == 63);
  CHECK(m.exclusive().leaves == 1);
  CHECK(r.stats().leaf_pairs == 2);  // the chunk against base's, on each side
  CHECK(r.stats().elements_compared == 2 * Small::chunk_capacity);
}

TEST_CASE("merge: every chunk neither side changed stays shared with base", "[merge][sharing]") {
  const Big base(100'000, 1);  // 196 chunks of 512
  const std::size_t leaves = base.memory().leaves;
  REQUIRE(leaves == 196);
  Big ours = base;
  for (const std::size_t i : {10, 50'000, 99'999}) ours = std::move(ours).set(i, -1);
  Big theirs = base;
  for (const std::size_t i : {600, 50'001, 70'000}) theirs = std::move(theirs).set(i, -2);
  // Chunks touched: ours 0, 97, 195; theirs 1, 97, 136: five distinct.
  const auto r = cowdb::merge(base, ours, theirs);
  REQUIRE(r.ok());
  const Big& m = r.merged();
  // Every write is a patch over base's chunk, and the merge keeps them: ours' on 0 and 195,
  // theirs' on 1 and 136, and on 97 one patch of both sides' writes. Every leaf is base's.
  CHECK(m.shared_with(base).leaves == leaves);
  CHECK(m.memory().leaves == leaves);
  CHECK(m.memory().patches == 5);
  CHECK(m.shared_with(base).patches == 0);
  CHECK(m.shared_with(ours).patches == 2);
  CHECK(m.shared_with(theirs).patches == 2);
  CHECK(r.stats().leaf_pairs == 6);  // three changed chunks on each side
  CHECK(m[50'000] == -1);
  CHECK(m[50'001] == -2);
  CHECK(m[70'000] == -2);
  CHECK(m[99'999] == -1);
  CHECK(m[99'998] == 1);
}

// ---- lengths ------------------------------------------------------------------------------------

TEST_CASE("merge: an append on one side is taken", "[merge][length]") {
  const Small base(Iota(10));
  const Small appended = base.push_back(10).push_back(11);
  const Small modified = base.set(2, -2);
  std::vector<int> want = Iota(12);
  want[2] = -2;
  for (const auto& r :
       {cowdb::merge(base, appended, modified), cowdb::merge(base, modified, appended)}) {
    REQUIRE(r.ok());
    CHECK(ToVector(r.merged()) == want);
  }
  CheckResolutions(base, appended, modified, want, want);
}

TEST_CASE("merge: appends on both sides", "[merge][length]") {
  const Small base(Iota(10));
  const Small ours = base.push_back(10).push_back(11);

  SECTION("equal appends merge cleanly") {
    const auto r = cowdb::merge(base, ours, base.push_back(10).push_back(11));
    REQUIRE(r.ok());
    CHECK(ToVector(r.merged()) == Iota(12));
  }
  SECTION("different rows appended: an insert-order conflict at the end") {
    // By identity the appended rows are different rows (even where values are equal), put at
    // the same place of base: their order is open. Both sides' rows are kept either way.
    const Small theirs = base.push_back(10).push_back(12);
    const auto r = cowdb::merge(base, ours, theirs);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.conflicts().size() == 1);
    const auto& c = r.conflicts()[0];
    CHECK(c.kind == cowdb::conflict_kind::kInsertOrder);
    CHECK(c.base_index == 10);                                          // before base's end
    CHECK(Records(r) == std::vector<Rec>{{10, std::nullopt, 10, 10}});  // first rows of each side
    CHECK(c.ours_index == 10);
    CHECK(c.theirs_index == 10);
    CHECK(AllStructural(r));
    const std::vector<int> want_ours = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 10, 12};
    const std::vector<int> want_theirs = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 10, 11};
    CHECK(ToVector(r.merged()) == want_ours);
    CheckResolutions(base, ours, theirs, want_ours, want_theirs);
    CHECK_THROWS_AS(r.resolve(SumPlus1000), std::logic_error);
  }
  SECTION("different counts, with a change on one side") {
    const Small theirs = base.set(0, -1).push_back(10).push_back(11).push_back(12).push_back(13);
    const auto r = cowdb::merge(base, ours, theirs);
    REQUIRE_FALSE(r.ok());
    CHECK(Records(r) == std::vector<Rec>{{10, std::nullopt, 10, 10}});
    CHECK(AllStructural(r));
    // theirs' change to row 0 is merged either way.
    const std::vector<int> want_ours = {-1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 10, 11, 12, 13};
    const std::vector<int> want_theirs = {-1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 10, 11};
    CHECK(ToVector(r.merged()) == want_ours);
    CheckResolutions(base, ours, theirs, want_ours, want_theirs);
  }
  SECTION("kWrites: even equal appends conflict") {
    const auto r =
        cowdb::merge(base, ours, base.push_back(10).push_back(11), cowdb::merge_mode::kWrites);
    REQUIRE(r.conflicts().size() == 1);
    CHECK(r.conflicts()[0].kind == cowdb::conflict_kind::kInsertOrder);
  }
}

TEST_CASE("merge: a truncation on one side is taken", "[merge][length]") {
  const Small base(Iota(10));
  const Small truncated = base.take(6);
  const Small modified = base.set(2, -2);
  const std::vector<int> want = {0, 1, -2, 3, 4, 5};
  for (const auto& r :
       {cowdb::merge(base, truncated, modified), cowdb::merge(base, modified, truncated)}) {
    REQUIRE(r.ok());
    CHECK(ToVector(r.merged()) == want);
  }
  CheckResolutions(base, truncated, modified, want, want);
  const auto to_empty = cowdb::merge(base, base, Small());
  REQUIRE(to_empty.ok());
  CHECK(to_empty.merged().empty());
}

TEST_CASE("merge: both sides truncating keep the shorter length", "[merge][length]") {
  const Small base(Iota(10));
  const Small ours = base.take(6);
  const Small theirs = base.take(8).set(1, -1);
  for (const auto& r : {cowdb::merge(base, ours, theirs), cowdb::merge(base, theirs, ours)}) {
    REQUIRE(r.ok());
    CHECK(ToVector(r.merged()) == std::vector<int>{0, -1, 2, 3, 4, 5});
  }
  const auto same = cowdb::merge(base, base.take(3), base.take(3).set(0, 9));
  REQUIRE(same.ok());
  CHECK(ToVector(same.merged()) == std::vector<int>{9, 1, 2});
}

TEST_CASE("merge: an append against a truncation touches different rows", "[merge][length]") {
  const Small base(Iota(10));
  const Small ours = base.push_back(10);         // a new row after 9
  const Small theirs = base.take(7).set(0, -1);  // rows 7, 8, 9 erased
  const std::vector<int> want = {-1, 1, 2, 3, 4, 5, 6, 10};
  for (const auto& r : {cowdb::merge(base, ours, theirs), cowdb::merge(base, theirs, ours)}) {
    REQUIRE(r.ok());
    CHECK(ToVector(r.merged()) == want);
  }
  CheckResolutions(base, ours, theirs, want, want);
}

TEST_CASE("merge: modifying an element the other side deleted is a conflict", "[merge][length]") {
  const Small base(Iota(10));
  using cowdb::conflict_kind;

  SECTION("ours truncated, theirs modified") {
    const Small ours = base.take(6);
    const Small theirs = base.set(1, -1).set(8, -8);
    const auto r = cowdb::merge(base, ours, theirs);
    REQUIRE_FALSE(r.ok());
    // Row 8 of base: erased by ours, changed by theirs; in merged() (ours decides) it would be
    // at 6.
    CHECK(Records(r) == std::vector<Rec>{{6, 8, std::nullopt, -8}});
    CHECK(r.conflicts()[0].kind == conflict_kind::kModifyErase);
    CHECK(r.conflicts()[0].base_index == 8);
    CHECK(r.conflicts()[0].theirs_index == 8);
    CHECK_FALSE(r.conflicts()[0].ours_index.has_value());
    CHECK(ToVector(r.merged()) == std::vector<int>{0, -1, 2, 3, 4, 5});
    // A side decides row 8 only: rows 6, 7, 9 stay erased (theirs did not touch them), theirs'
    // change to 1 is merged either way.
    CheckResolutions(base, ours, theirs, {0, -1, 2, 3, 4, 5}, {0, -1, 2, 3, 4, 5, -8});
    CHECK_THROWS_AS(r.resolve(SumPlus1000), std::logic_error);
    CHECK_THROWS_WITH(r.resolve(SumPlus1000),
                      Catch::StartsWith("cowdb::merge_result::resolve: a structural conflict") &&
                          Catch::Contains("merge_side::kOurs or kTheirs"));
  }
  SECTION("theirs truncated, ours modified") {
    const Small ours = base.set(8, -8).set(9, -9);
    const Small theirs = base.set(1, -1).take(6);
    const auto r = cowdb::merge(base, ours, theirs);
    REQUIRE_FALSE(r.ok());
    CHECK(Records(r) == std::vector<Rec>{{6, 8, -8, std::nullopt}, {7, 9, -9, std::nullopt}});
    CHECK(AllStructural(r));
    CheckResolutions(base, ours, theirs, {0, -1, 2, 3, 4, 5, -8, -9}, {0, -1, 2, 3, 4, 5});
    CHECK_THROWS_AS(r.resolve(SumPlus1000), std::logic_error);
  }
  SECTION("both truncated, the longer one modified what the shorter deleted") {
    const Small ours = base.take(5);
    const Small theirs = base.take(8).set(6, -6);
    const auto r = cowdb::merge(base, ours, theirs);
    REQUIRE_FALSE(r.ok());
    CHECK(Records(r) == std::vector<Rec>{{5, 6, std::nullopt, -6}});
    CHECK(AllStructural(r));
    CheckResolutions(base, ours, theirs, Iota(5), {0, 1, 2, 3, 4, -6});
  }
  SECTION("a deleted element modified back to its base value is no conflict") {
    const auto r = cowdb::merge(base, base.take(6), base.set(8, -8).set(8, 8));
    REQUIRE(r.ok());
    CHECK(ToVector(r.merged()) == Iota(6));
  }
  SECTION("kWrites: both erasing a row conflicts") {
    const auto r = cowdb::merge(base, base.take(8), base.take(9), cowdb::merge_mode::kWrites);
    REQUIRE(r.conflicts().size() == 1);
    CHECK(r.conflicts()[0].kind == conflict_kind::kBothErased);
    CHECK(r.conflicts()[0].base_index == 9);  // ours also erased 8, which theirs kept as is
    CHECK(cowdb::merge(base, base.take(8), base.take(9)).ok());  // kValues: they agree
  }
}

// ---- one side unchanged -------------------------------------------------------------------------

TEST_CASE("merge: with base on one side the result is the other side", "[merge]") {
  const Small base(Iota(50));
  const std::vector<Small> others = {
      base,
      base.set(0, -1),
      base.set(49, -1).push_back(1).push_back(2),
      base.take(3),
      base.take(17).set(16, 0),
      Small(),
      base.transform(10, 40, [](int x) { return x % 3; }),
      Small(Iota(50)),  // equal but shares nothing
      Small(Iota(200, 7)),
  };
  for (std::size_t k = 0; k < others.size(); ++k) {
    CAPTURE(k);
    const Small& x = others[k];
    const auto a = cowdb::merge(base, x, base);
    REQUIRE(a.ok());
    CHECK(a.merged() == x);
    CHECK(a.merged().shared_with(x).leaves == x.memory().leaves);  // merge starts from ours
    const auto b = cowdb::merge(base, base, x);
    REQUIRE(b.ok());
    CHECK(b.merged() == x);
    CHECK(cowdb::merge(base, x, x).merged() == x);
  }
  const auto e = cowdb::merge(Small(), Small(Iota(5)), Small());
  REQUIRE(e.ok());
  CHECK(ToVector(e.merged()) == Iota(5));
}
