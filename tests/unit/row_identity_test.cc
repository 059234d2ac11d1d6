// Scenario tests of diff() and merge() by row identity, with exact expected results: erasures
// reported as erasures (not as shifted modifications), a filter merged with row fixes (and the
// chunks it shares), dense disjoint edits of two branches, equal rows told apart by identity, a
// sort merged with fixes, and each conflict kind with its exact record and both resolutions.
// The small scenarios are also run through the row model (tests/testing/row_model.h).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/row_model.h"

namespace {

using cowdb::change_kind;
using cowdb::conflict_kind;
using cowdb::merge_mode;
using cowdb::merge_side;
using cowdb::row_id_t;
using cowdb::testing::model_row;
using cowdb::testing::row_list;
using cowdb::testing::rows_of;

template <class V>
std::vector<typename V::value_type> values(const V& v) {
  return {v.begin(), v.end()};
}

// The exact count of every kind of change, and no range of another kind.
struct counts {
  std::size_t modified = 0, appended = 0, truncated = 0, inserted = 0, erased = 0, moved = 0;
};
template <class D>
void check_counts(const D& d, const counts& c) {
  CHECK(d.modified_count() == c.modified);
  CHECK(d.appended_count() == c.appended);
  CHECK(d.truncated_count() == c.truncated);
  CHECK(d.inserted_count() == c.inserted);
  CHECK(d.erased_count() == c.erased);
  CHECK(d.moved_count() == c.moved);
}

// ---- (a), (b): erasures are erasures ------------------------------------------------------------

// `n` rows of values with many duplicates; the rows at `positions` (of the original) erased.
void erasures_scenario(std::size_t n, const std::vector<std::size_t>& positions) {
  std::vector<std::int64_t> xs(n);
  for (std::size_t i = 0; i < n; ++i) xs[i] = static_cast<std::int64_t>(i % 10);
  const cowdb::pvec<std::int64_t> a(xs);
  cowdb::pvec<std::int64_t> b = a;
  for (auto it = positions.rbegin(); it != positions.rend(); ++it) b = b.erase(*it);
  const auto d = cowdb::diff(a, b);
  check_counts(d, {.erased = positions.size()});
  REQUIRE(d.ranges().size() == positions.size());
  for (std::size_t k = 0; k < positions.size(); ++k) {
    const cowdb::diff_range& r = d.ranges()[k];
    CHECK(r.kind == change_kind::kErased);
    CHECK(r.first == positions[k]);
    CHECK(r.size() == 1);
    CHECK(r.to_first() == positions[k] - k);  // where the row was, in b
  }
  CHECK(cowdb::patch(a, d) == b);
  CHECK(cowdb::patch(cowdb::pvec<std::int64_t>(xs), d) == b);
  const std::string why = cowdb::testing::check_diff(a, b);
  INFO(why);
  CHECK(why.empty());
}

TEST_CASE("row identity: two erasures 10 rows apart in 100,000 rows are 2 erased rows, 0 modified",
          "[rows][diff]") {
  erasures_scenario(100'000, {50'000, 50'010});
}

TEST_CASE("row identity: 100 erasures 100 rows apart are 100 erased rows, 0 modified",
          "[rows][diff]") {
  std::vector<std::size_t> at;
  for (std::size_t k = 0; k < 100; ++k) at.push_back(1'000 + 100 * k);
  erasures_scenario(100'000, at);
}

// ---- (c): a 1% filter merged with 50 row fixes --------------------------------------------------

struct trade {
  std::int64_t key = 0;
  std::int64_t qty = 0;
  friend bool operator==(const trade&, const trade&) = default;
};

TEST_CASE(
    "row identity: a 1% filter of 200,000 rows merged with 50 fixes of other rows: no conflict, "
    "every fix and removal, and every chunk of the filter shared but the fixed ones",
    "[rows][merge][memory]") {
  using V = cowdb::pvec<trade>;
  constexpr std::int64_t kN = 200'000;
  std::vector<trade> rows(kN);
  for (std::int64_t i = 0; i < kN; ++i) rows[static_cast<std::size_t>(i)] = {i, i % 5};
  const V base(rows);
  auto removed = [](const trade& t) { return t.key % 100 == 7; };
  const V filtered = base.erase_if(removed);
  REQUIRE(filtered.size() == 198'000);
  // 50 fixes of rows the filter keeps, spread over the vector.
  std::set<std::int64_t> fixed;
  V fixes = base;
  for (std::int64_t k = 0; k < 50; ++k) {
    std::int64_t key = 1'234 + 3'989 * k;
    if (key % 100 == 7) ++key;
    fixed.insert(key);
    fixes = fixes.set(static_cast<std::size_t>(key), {key, -1});
  }
  // The expected merge: the filter's rows, with the fixes.
  std::vector<trade> want;
  for (const trade& t : rows) {
    if (!removed(t)) want.push_back(fixed.contains(t.key) ? trade{t.key, -1} : t);
  }
  // The filter's chunks holding a fixed row; and whether its last chunk is short.
  std::set<std::size_t> fixed_chunks;
  std::size_t last_chunk_rows = 0, chunks = 0;
  {
    std::size_t pos = 0;
    filtered.for_each_chunk([&](const trade* f, const trade* l) {
      for (const trade* p = f; p != l; ++p) {
        if (fixed.contains(p->key)) fixed_chunks.insert(chunks);
      }
      last_chunk_rows = static_cast<std::size_t>(l - f);
      pos += last_chunk_rows;
      ++chunks;
    });
    REQUIRE(pos == filtered.size());
  }
  REQUIRE(fixed_chunks.size() == 50);
  // A last chunk under half full is copied when the merge rebuilds the tree (tree_builder shares
  // only leaves of at least half a chunk), though it could be shared: it is the one chunk besides
  // the fixed ones that the merge may not share.
  const bool short_last =
      last_chunk_rows < V::chunk_capacity / 2 && !fixed_chunks.contains(chunks - 1);
  REQUIRE(short_last);  // 198,000 rows in chunks of 256
  for (const bool filter_first : {true, false}) {
    for (const merge_mode mode : {merge_mode::kValues, merge_mode::kWrites}) {
      CAPTURE(filter_first, mode == merge_mode::kWrites);
      const auto r = filter_first ? cowdb::merge(base, filtered, fixes, mode)
                                  : cowdb::merge(base, fixes, filtered, mode);
      REQUIRE(r.ok());
      const V& m = r.merged();
      REQUIRE(m.size() == want.size());
      CHECK(values(m) == want);
      // The same rows as the filter's, in its order.
      std::size_t other_rows = 0;
      for (std::size_t i = 0; i < m.size(); ++i) other_rows += m.row_id(i) != filtered.row_id(i);
      CHECK(other_rows == 0);
      // Memory: every leaf of the filter is shared but the fixed ones.
      const cowdb::memory_stats mem = m.memory(), fmem = filtered.memory();
      const cowdb::memory_stats shared = m.shared_with(filtered);
      INFO(
          fmt::format("merged: {} leaves, {} bytes; filter: {} leaves, {} bytes; shared {} "
                      "leaves, {} bytes; {} fixed chunks",
                      mem.leaves, mem.bytes, fmem.leaves, fmem.bytes, shared.leaves, shared.bytes,
                      fixed_chunks.size()));
      CHECK(mem.leaves == fmem.leaves);
      CHECK(shared.leaves == fmem.leaves - fixed_chunks.size() - (short_last ? 1 : 0));
      // What the merge holds alone: the fixed leaves (and their id lists) and inner nodes.
      const std::size_t leaf_bytes = V(1, trade{}).memory().bytes;
      const std::size_t inner_bytes =
          16 + 16 * cowdb::kDefaultFanout;  // at most, with a size table
      CHECK(mem.bytes - shared.bytes <=
            (fixed_chunks.size() + 1) * 2 * leaf_bytes + mem.inner_nodes * inner_bytes);
    }
  }
}

// ---- (d): dense disjoint edits of two branches -------------------------------------------------

// One branch's edits of base: it inserts before, erases and updates only "its own" base rows
// (original index of its parity): inserts go before rows with index % 4 == parity (never
// erased), erasures take rows with index % 4 == parity + 2, updates any row of its parity.
template <class V>
struct disjoint_branch {
  V v;
  row_list<std::int64_t> m;                            // the rows, ids read back for new rows
  std::unordered_map<row_id_t, std::int64_t> updated;  // base row -> its new value
  std::unordered_set<row_id_t> erased;
};

template <class V>
disjoint_branch<V> edit_disjoint(const V& base, const row_list<std::int64_t>& mb, unsigned parity,
                                 bool with_editor, std::mt19937_64& rng) {
  disjoint_branch<V> b{base, mb, {}, {}};
  auto e = base.transient();
  std::unordered_map<row_id_t, std::size_t> base_index;
  for (std::size_t k = 0; k < mb.size(); ++k) base_index[mb[k].id] = k;
  auto own = [&](row_id_t id, unsigned rest) {
    const auto f = base_index.find(id);
    return f != base_index.end() && f->second % 4 == parity + rest;
  };
  for (int op = 0; op < 400; ++op) {
    const unsigned what = static_cast<unsigned>(rng() % 3);
    // A random row of the kind the edit needs, found by identity in the model.
    std::size_t pos = 0;
    for (int tries = 0;; ++tries) {
      pos = static_cast<std::size_t>(rng() % b.m.size());
      const row_id_t id = b.m[pos].id;
      if (what == 0 ? own(id, 0) : what == 1 ? own(id, 2) : (own(id, 0) || own(id, 2))) break;
      REQUIRE(tries < 100'000);
    }
    const std::int64_t x = static_cast<std::int64_t>(rng() % 7);
    switch (what) {
      case 0:  // insert before an anchor row
        if (with_editor) {
          e.insert(pos, x);
          b.m.insert(b.m.begin() + static_cast<std::ptrdiff_t>(pos), {e.row_id(pos), x});
        } else {
          b.v = b.v.insert(pos, x);
          b.m.insert(b.m.begin() + static_cast<std::ptrdiff_t>(pos), {b.v.row_id(pos), x});
        }
        break;
      case 1:  // erase
        b.erased.insert(b.m[pos].id);
        b.updated.erase(b.m[pos].id);
        if (with_editor) {
          e.erase(pos);
        } else {
          b.v = b.v.erase(pos);
        }
        b.m.erase(b.m.begin() + static_cast<std::ptrdiff_t>(pos));
        break;
      default:  // update
        if (with_editor) {
          e.set(pos, x);
        } else {
          b.v = b.v.set(pos, x);
        }
        b.m[pos].value = x;
        if (!(mb[base_index.at(b.m[pos].id)].value == x)) {
          b.updated[b.m[pos].id] = x;
        } else {
          b.updated.erase(b.m[pos].id);
        }
        break;
    }
  }
  if (with_editor) b.v = std::move(e).persistent();
  REQUIRE(rows_of(b.v) == b.m);
  return b;
}

template <class V>
void dense_disjoint_scenario() {
  std::mt19937_64 rng(Catch::rngSeed() + 7);
  std::vector<std::int64_t> xs(5'000);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<std::int64_t>(i % 7);
  const V base(xs);
  const row_list<std::int64_t> mb = rows_of(base);
  const auto a = edit_disjoint(base, mb, 0, false, rng);
  const auto b = edit_disjoint(base, mb, 1, true, rng);
  // Expected: base order; each side's inserted rows before their anchor, in that side's order.
  std::unordered_set<row_id_t> in_base;
  for (const auto& r : mb) in_base.insert(r.id);
  std::unordered_map<row_id_t, row_list<std::int64_t>> before;  // anchor -> inserted rows
  for (const auto* side : {&a, &b}) {
    row_list<std::int64_t> pending;
    for (const auto& r : side->m) {
      if (in_base.contains(r.id)) {
        auto& dst = before[r.id];
        dst.insert(dst.end(), pending.begin(), pending.end());
        pending.clear();
      } else {
        pending.push_back(r);
      }
    }
    REQUIRE(pending.empty());  // every insert was before an anchor
  }
  row_list<std::int64_t> want;
  for (const auto& r : mb) {
    if (const auto f = before.find(r.id); f != before.end()) {
      want.insert(want.end(), f->second.begin(), f->second.end());
    }
    if (a.erased.contains(r.id) || b.erased.contains(r.id)) continue;
    std::int64_t x = r.value;
    if (const auto f = a.updated.find(r.id); f != a.updated.end()) x = f->second;
    if (const auto f = b.updated.find(r.id); f != b.updated.end()) x = f->second;
    want.push_back({r.id, x});
  }
  for (const bool swapped : {false, true}) {
    for (const merge_mode mode : {merge_mode::kValues, merge_mode::kWrites}) {
      CAPTURE(swapped, mode == merge_mode::kWrites);
      const auto r =
          swapped ? cowdb::merge(base, b.v, a.v, mode) : cowdb::merge(base, a.v, b.v, mode);
      CHECK(r.conflicts().size() == 0);
      const row_list<std::int64_t> got = rows_of(r.merged());
      CHECK(got.size() == want.size());
      CHECK(got == want);
      r.merged().check_invariants();
    }
  }
  const std::string why = cowdb::testing::check_merge(base, a.v, b.v);
  INFO(why);
  CHECK(why.empty());
}

TEST_CASE(
    "row identity: dense disjoint edits (400 inserts, erases and updates per branch on 5,000 "
    "rows, each branch on its own rows) merge without conflict to the exact result",
    "[rows][merge]") {
  SECTION("default chunks") { dense_disjoint_scenario<cowdb::pvec<std::int64_t>>(); }
  SECTION("8-row chunks, fan-out 4") {
    dense_disjoint_scenario<cowdb::pvec<std::int64_t, 64, 4>>();
  }
}

// ---- (e): equal rows told apart -----------------------------------------------------------------

TEST_CASE(
    "row identity: an update of one of two equal rows lands on that row, whatever the other "
    "side inserts before them",
    "[rows][merge]") {
  using V = cowdb::pvec<int, 16, 4>;
  const V base{5, 5, 7};
  SECTION("the second 5 updated; a 5 inserted in front") {
    const V ours = base.set(1, 6);
    const V theirs = base.push_front(5);
    for (const bool swapped : {false, true}) {
      for (const merge_mode mode : {merge_mode::kValues, merge_mode::kWrites}) {
        const auto r = swapped ? cowdb::merge(base, theirs, ours, mode)
                               : cowdb::merge(base, ours, theirs, mode);
        REQUIRE(r.ok());
        const V& m = r.merged();
        CHECK(values(m) == std::vector<int>{5, 5, 6, 7});
        REQUIRE(m.size() == 4);
        CHECK(m.row_id(0) == theirs.row_id(0));  // the new 5
        CHECK(m.row_id(1) == base.row_id(0));
        CHECK(m.row_id(2) == base.row_id(1));  // the updated row is base's second 5
        CHECK(m.row_id(3) == base.row_id(2));
      }
    }
    CHECK(cowdb::testing::check_merge(base, ours, theirs).empty());
    CHECK(cowdb::testing::check_merge(base, theirs, ours).empty());
  }
  SECTION("the first 5 updated; a 5 inserted between them") {
    const V ours = base.set(0, 6);
    const V theirs = base.insert(1, 5);
    for (const bool swapped : {false, true}) {
      const auto r = swapped ? cowdb::merge(base, theirs, ours) : cowdb::merge(base, ours, theirs);
      REQUIRE(r.ok());
      const V& m = r.merged();
      CHECK(values(m) == std::vector<int>{6, 5, 5, 7});
      REQUIRE(m.size() == 4);
      CHECK(m.row_id(0) == base.row_id(0));
      CHECK(m.row_id(1) == theirs.row_id(1));
      CHECK(m.row_id(2) == base.row_id(1));
    }
    CHECK(cowdb::testing::check_merge(base, ours, theirs).empty());
  }
  SECTION("diff: the updated row, not the first equal one, is modified") {
    const V ours = base.push_front(5).set(2, 6);  // [5 new, 5, 6, 7]
    const auto d = cowdb::diff(base, ours);
    check_counts(d, {.modified = 1, .inserted = 1});
    REQUIRE(d.ranges().size() == 2);
    CHECK(d.ranges()[0].kind == change_kind::kInserted);
    CHECK(d.ranges()[1].kind == change_kind::kModified);
    CHECK(d.ranges()[1].first == 2);
    CHECK(d.ranges()[1].from_first() == 1);
  }
}

// ---- (f): a sort merged with fixes --------------------------------------------------------------

struct item {
  int key = 0;
  int payload = 0;
  friend bool operator==(const item&, const item&) = default;
};

TEST_CASE(
    "row identity: a sort on one side and fixes on the other: the fixes land on their rows "
    "in the sorted order",
    "[rows][merge]") {
  using V = cowdb::pvec<item, 64, 4>;
  std::mt19937_64 rng(Catch::rngSeed() + 11);
  std::vector<item> xs(1'000);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    xs[i] = {static_cast<int>(rng() % 10), static_cast<int>(i)};
  }
  const V base(xs);
  V fixes = base;
  std::unordered_map<row_id_t, int> fixed;  // row -> new payload
  for (std::size_t i = 7; i < xs.size(); i += 49) {
    fixes = fixes.set(i, {xs[i].key, 100'000 + static_cast<int>(i)});
    fixed[base.row_id(i)] = 100'000 + static_cast<int>(i);
  }
  REQUIRE(fixed.size() == 21);
  for (const bool stable : {true, false}) {
    CAPTURE(stable);
    const V sorted = stable ? base.stable_sort(std::ranges::less{}, &item::key)
                            : base.sort([](const item& a, const item& b) { return a.key < b.key; });
    const auto dm = cowdb::diff(base, sorted);
    CHECK(dm.moved_count() > 0);
    CHECK(dm.modified_count() + dm.inserted_count() + dm.erased_count() == 0);
    // Expected: the sorted rows, the fixed ones with their fix.
    row_list<item> want = rows_of(sorted);
    for (auto& r : want) {
      if (const auto f = fixed.find(r.id); f != fixed.end()) r.value.payload = f->second;
    }
    for (const bool swapped : {false, true}) {
      for (const merge_mode mode : {merge_mode::kValues, merge_mode::kWrites}) {
        CAPTURE(swapped, mode == merge_mode::kWrites);
        const auto r = swapped ? cowdb::merge(base, fixes, sorted, mode)
                               : cowdb::merge(base, sorted, fixes, mode);
        CHECK(r.ok());
        CHECK(rows_of(r.merged()) == want);
      }
    }
  }
}

// ---- (g): each conflict kind --------------------------------------------------------------------

using small = cowdb::pvec<int, 16, 4>;

// One expected conflict record.
struct want_conflict {
  conflict_kind kind;
  std::size_t base_index;
  std::optional<int> base, ours, theirs;
  std::optional<std::size_t> ours_index, theirs_index;
  std::optional<std::size_t> index;  // checked when set
};

void check_conflict(const cowdb::merge_conflict<int>& c, const want_conflict& w) {
  CHECK(c.kind == w.kind);
  CHECK(c.base_index == w.base_index);
  CHECK(c.base == w.base);
  CHECK(c.ours == w.ours);
  CHECK(c.theirs == w.theirs);
  CHECK(c.ours_index == w.ours_index);
  CHECK(c.theirs_index == w.theirs_index);
  if (w.index) CHECK(c.index == *w.index);
}

// merge(base, ours, theirs, mode): exactly the conflicts `want` (in index order), merged() and
// resolve(kOurs) = `ours_result`, resolve(kTheirs) and merge(..., kTheirs) = `theirs_result`.
void check_conflicts(const small& base, const small& ours, const small& theirs, merge_mode mode,
                     const std::vector<want_conflict>& want, const std::vector<int>& ours_result,
                     const std::vector<int>& theirs_result) {
  const auto r = cowdb::merge(base, ours, theirs, mode);
  CHECK(r.ok() == want.empty());
  REQUIRE(r.conflicts().size() == want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    CAPTURE(k);
    check_conflict(r.conflicts()[k], want[k]);
  }
  CHECK(values(r.merged()) == ours_result);
  CHECK(values(r.resolve(merge_side::kOurs)) == ours_result);
  CHECK(values(r.resolve(merge_side::kTheirs)) == theirs_result);
  CHECK(values(cowdb::merge(base, ours, theirs, merge_side::kTheirs, mode)) == theirs_result);
  CHECK(values(cowdb::merge(base, ours, theirs, merge_side::kOurs, mode)) == ours_result);
  const std::string why = cowdb::testing::check_merge(base, ours, theirs);
  INFO(why);
  CHECK(why.empty());
}

TEST_CASE("row identity: each conflict kind, its record and both resolutions", "[rows][merge]") {
  const small base{10, 20, 30, 40, 50, 60};
  SECTION("kValue: the same row set to different values") {
    const small ours = base.set(1, 21), theirs = base.set(1, 22);
    const std::vector<want_conflict> c = {{conflict_kind::kValue, 1, 20, 21, 22, 1, 1, 1}};
    check_conflicts(base, ours, theirs, merge_mode::kValues, c, {10, 21, 30, 40, 50, 60},
                    {10, 22, 30, 40, 50, 60});
    check_conflicts(base, ours, theirs, merge_mode::kWrites, c, {10, 21, 30, 40, 50, 60},
                    {10, 22, 30, 40, 50, 60});
    const auto r = cowdb::merge(base, ours, theirs);
    CHECK(values(r.resolve([](const cowdb::merge_conflict<int>& x) {
            return *x.ours + *x.theirs;
          })) == std::vector<int>{10, 43, 30, 40, 50, 60});
  }
  SECTION("kValue (kWrites only): the same row set to the same value") {
    const small ours = base.set(1, 21), theirs = base.set(1, 21);
    check_conflicts(base, ours, theirs, merge_mode::kValues, {}, {10, 21, 30, 40, 50, 60},
                    {10, 21, 30, 40, 50, 60});
    check_conflicts(base, ours, theirs, merge_mode::kWrites,
                    {{conflict_kind::kValue, 1, 20, 21, 21, 1, 1, 1}}, {10, 21, 30, 40, 50, 60},
                    {10, 21, 30, 40, 50, 60});
  }
  SECTION("kModifyErase: a row set on one side, erased on the other") {
    const small ours = base.set(2, 31), theirs = base.erase(2);
    const std::vector<want_conflict> c = {
        {conflict_kind::kModifyErase, 2, 30, 31, std::nullopt, 2, std::nullopt, 2}};
    check_conflicts(base, ours, theirs, merge_mode::kValues, c, {10, 20, 31, 40, 50, 60},
                    {10, 20, 40, 50, 60});
    check_conflicts(base, ours, theirs, merge_mode::kWrites, c, {10, 20, 31, 40, 50, 60},
                    {10, 20, 40, 50, 60});
    const auto r = cowdb::merge(base, ours, theirs);
    CHECK_THROWS_AS(r.resolve([](const cowdb::merge_conflict<int>& x) { return *x.base; }),
                    std::logic_error);
  }
  SECTION("kModifyErase: a row moved on one side, erased on the other") {
    const small ours = base.erase(0).push_back(10);           // 10 moved to the end... as a new row
    const small moved = base.slice(1, 6) + base.slice(0, 1);  // 10 moved to the end, same row
    const small theirs = base.erase(0);
    check_conflicts(base, moved, theirs, merge_mode::kValues,
                    {{conflict_kind::kModifyErase, 0, 10, 10, std::nullopt, 5, std::nullopt, 5}},
                    {20, 30, 40, 50, 60, 10}, {20, 30, 40, 50, 60});
    // A new row of equal value is not the same row: no conflict, erased and appended.
    check_conflicts(base, ours, theirs, merge_mode::kValues, {}, {20, 30, 40, 50, 60, 10},
                    {20, 30, 40, 50, 60, 10});
  }
  SECTION("kBothErased (kWrites only): a row erased on both sides") {
    const small ours = base.erase(3), theirs = base.erase(3);
    check_conflicts(base, ours, theirs, merge_mode::kValues, {}, {10, 20, 30, 50, 60},
                    {10, 20, 30, 50, 60});
    check_conflicts(base, ours, theirs, merge_mode::kWrites,
                    {{conflict_kind::kBothErased, 3, 40, std::nullopt, std::nullopt, std::nullopt,
                      std::nullopt, std::nullopt}},
                    {10, 20, 30, 50, 60}, {10, 20, 30, 50, 60});
  }
  SECTION("kInsertOrder: rows inserted before the same row on both sides") {
    const small ours = base.insert(5, 55), theirs = base.insert(5, 56);
    const std::vector<want_conflict> c = {
        {conflict_kind::kInsertOrder, 5, std::nullopt, 55, 56, 5, 5, 5}};
    check_conflicts(base, ours, theirs, merge_mode::kValues, c, {10, 20, 30, 40, 50, 55, 56, 60},
                    {10, 20, 30, 40, 50, 56, 55, 60});
    check_conflicts(base, ours, theirs, merge_mode::kWrites, c, {10, 20, 30, 40, 50, 55, 56, 60},
                    {10, 20, 30, 40, 50, 56, 55, 60});
  }
  SECTION("kInsertOrder: appends on both sides; equal inserts agree under kValues") {
    const small ours = base.push_back(70).push_back(71), theirs = base.push_back(80);
    check_conflicts(base, ours, theirs, merge_mode::kValues,
                    {{conflict_kind::kInsertOrder, 6, std::nullopt, 70, 80, 6, 6, 6}},
                    {10, 20, 30, 40, 50, 60, 70, 71, 80}, {10, 20, 30, 40, 50, 60, 80, 70, 71});
    const small same1 = base.insert(2, std::vector<int>{1, 2}),
                same2 = base.insert(2, std::vector<int>{1, 2});
    check_conflicts(base, same1, same2, merge_mode::kValues, {}, {10, 20, 1, 2, 30, 40, 50, 60},
                    {10, 20, 1, 2, 30, 40, 50, 60});
    check_conflicts(base, same1, same2, merge_mode::kWrites,
                    {{conflict_kind::kInsertOrder, 2, std::nullopt, 1, 1, 2, 2, 2}},
                    {10, 20, 1, 2, 1, 2, 30, 40, 50, 60}, {10, 20, 1, 2, 1, 2, 30, 40, 50, 60});
  }
  SECTION("kMove: the same row moved on both sides") {
    const small ours = base.slice(1, 6) + base.slice(0, 1);                       // 10 last
    const small theirs = base.slice(1, 3) + base.slice(0, 1) + base.slice(3, 6);  // 10 after 30
    REQUIRE(values(theirs) == std::vector<int>{20, 30, 10, 40, 50, 60});
    const std::vector<want_conflict> c = {{conflict_kind::kMove, 0, 10, 10, 10, 5, 2, 5}};
    check_conflicts(base, ours, theirs, merge_mode::kValues, c, {20, 30, 40, 50, 60, 10},
                    {20, 30, 10, 40, 50, 60});
    check_conflicts(base, ours, theirs, merge_mode::kWrites, c, {20, 30, 40, 50, 60, 10},
                    {20, 30, 10, 40, 50, 60});
  }
  SECTION("no conflict: a move on one side and a value change on the other both apply") {
    const small ours = base.slice(1, 6) + base.slice(0, 1);  // 10 last
    const small theirs = base.set(0, 11);
    check_conflicts(base, ours, theirs, merge_mode::kValues, {}, {20, 30, 40, 50, 60, 11},
                    {20, 30, 40, 50, 60, 11});
    check_conflicts(base, ours, theirs, merge_mode::kWrites, {}, {20, 30, 40, 50, 60, 11},
                    {20, 30, 40, 50, 60, 11});
    check_conflicts(base, theirs, ours, merge_mode::kValues, {}, {20, 30, 40, 50, 60, 11},
                    {20, 30, 40, 50, 60, 11});
  }
  SECTION("every kind at once, in index order") {
    const small big{10, 20, 30, 40, 50, 60, 70, 80};
    // ours: 20 -> 21, 30 -> 31, 40 erased, 55 inserted before 60, 10 moved to the end.
    small ours = big.set(1, 21).set(2, 31).erase(3).insert(4, 55);
    ours = ours.slice(1, ours.size()) + ours.slice(0, 1);
    REQUIRE(values(ours) == std::vector<int>{21, 31, 50, 55, 60, 70, 80, 10});
    // theirs: 20 -> 22, 30 erased, 40 erased, 56 inserted before 60, 10 moved after 70.
    small theirs = big.set(1, 22).erase(2, 4).insert(3, 56);
    theirs = theirs.slice(1, 6) + theirs.slice(0, 1) + theirs.slice(6, theirs.size());
    REQUIRE(values(theirs) == std::vector<int>{22, 50, 56, 60, 70, 10, 80});
    check_conflicts(big, ours, theirs, merge_mode::kWrites,
                    {{conflict_kind::kValue, 1, 20, 21, 22, 0, 0, 0},
                     {conflict_kind::kModifyErase, 2, 30, 31, std::nullopt, 1, std::nullopt, 1},
                     {conflict_kind::kBothErased, 3, 40, std::nullopt, std::nullopt, std::nullopt,
                      std::nullopt, std::nullopt},
                     {conflict_kind::kInsertOrder, 5, std::nullopt, 55, 56, 3, 2, 3},
                     {conflict_kind::kMove, 0, 10, 10, 10, 7, 5, 8}},
                    {21, 31, 50, 55, 56, 60, 70, 80, 10}, {22, 50, 56, 55, 60, 70, 10, 80});
  }
}

}  // namespace
