// The row operations of pvec<T> and its editor (erase_if, filter, sort, stable_sort,
// append(range), append(pvec), emplace, editor insert(i, T&&)) and row identity (row_id): exact
// behaviour on small cases. erase_if and filter return the source version itself when they remove
// nothing, and share the chunks they remove nothing from; sorts of a sorted vector return the
// source version; stable_sort keeps rows with equal keys in order; rows keep their ids through
// every edit that moves them, and new rows get ids no other row has; every row operation leaves
// a valid tree, whichever way the source was built; emplace and insert past the end throw
// std::out_of_range naming the index and the size, and change nothing.
// (tests/testing/pvec_structural_model.h runs the same operations at random against a model;
// tests/unit/pvec_exception_test.cc checks their strong guarantee.)
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <ranges>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cowdb/pvec.h"
#include "testing/pvec_helpers.h"

namespace {

using cowdb::row_id_t;
using cowdb::internal::live_nodes;
using cowdb::testing::Iota;
using cowdb::testing::ToVector;

using Small = cowdb::pvec<int, 4 * sizeof(int), 4>;  // 4 ints per chunk, fan-out 4
using Wide = cowdb::pvec<int, 2 * sizeof(int), 8>;   // 2 ints per chunk, fan-out 8

// Declared first in a test, checks at its end that the test left as many live nodes as it found.
class NoLeak {
 public:
  ~NoLeak() { CHECK(live_nodes() == nodes_); }

 private:
  const std::int64_t nodes_ = live_nodes();
};

template <class V>
std::vector<row_id_t> IdsOf(const V& v) {
  std::vector<row_id_t> ids;
  for (std::size_t i = 0; i < v.size(); ++i) ids.push_back(v.row_id(i));
  return ids;
}

// Each of `ids` is unique and none is in `seen`; adds them to `seen`.
bool AllFresh(const std::vector<row_id_t>& ids, std::unordered_set<row_id_t>& seen) {
  for (const row_id_t id : ids) {
    if (!seen.insert(id).second) return false;
  }
  return true;
}

// v.check_invariants() does not throw; on failure names the tree's size.
template <class V>
void CheckTree(const V& v, const char* what) {
  INFO(what << " (size " << v.size() << ")");
  CHECK_NOTHROW(v.check_invariants());
}

// Whether `what` holds `n` in decimal as a whole number (not inside a longer one).
bool NamesNumber(const std::string& what, std::size_t n) {
  const std::string digits = std::to_string(n);
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t p = what.find(digits); p != std::string::npos; p = what.find(digits, p + 1)) {
    const bool starts = p == 0 || !is_digit(what[p - 1]);
    const bool ends = p + digits.size() == what.size() || !is_digit(what[p + digits.size()]);
    if (starts && ends) return true;
  }
  return false;
}

// f() throws std::out_of_range whose message starts with "cowdb::pvec::<op>: " and names the
// index and the size.
template <class F>
void CheckOutOfRange(F&& f, const std::string& op, std::size_t index, std::size_t size) {
  try {
    f();
    FAIL_CHECK("no exception; expected std::out_of_range from " << op);
  } catch (const std::out_of_range& e) {
    const std::string what = e.what();
    INFO("what(): " << what);
    CHECK(what.rfind("cowdb::pvec::" + op + ": ", 0) == 0);
    CHECK(NamesNumber(what, index));
    CHECK(NamesNumber(what, size));
  }
}

}  // namespace

// ---- erase_if and filter ------------------------------------------------------------------------

TEST_CASE("erase_if and filter return the same version when they remove nothing", "[pvec][rows]") {
  NoLeak no_leak;
  const Small v(Iota(50));
  const void* id = v.identity();
  const auto ids = IdsOf(v);
  auto never = [](int) { return false; };
  auto always = [](int) { return true; };

  CHECK(v.erase_if(never).identity() == id);
  CHECK(v.filter(always).identity() == id);
  Small shared = v;
  CHECK(std::move(shared).erase_if(never).identity() == id);  // && on a shared version
  Small unique(Iota(50));                                     // && on a unique one
  const void* uid = unique.identity();
  CHECK(std::move(unique).erase_if(never).identity() == uid);

  auto e = v.transient();
  CHECK(e.erase_if(never) == 0);
  CHECK(e.filter(always) == 0);
  CHECK(std::move(e).persistent().identity() == id);

  CHECK(Small().erase_if(always).empty());
  CHECK(v.erase_if(always).empty());
  CHECK(v.filter(never).empty());
  CHECK(ToVector(v) == Iota(50));
  CHECK(IdsOf(v) == ids);
}

TEST_CASE("erase_if removing 1 row in 1,000 shares every chunk it removes nothing from",
          "[pvec][rows]") {
  NoLeak no_leak;
  using V = cowdb::pvec<std::int64_t>;  // 512 rows per chunk
  const V v(Iota<std::int64_t>(100'000));
  const auto ids = IdsOf(v);
  auto removes = [](std::int64_t x) { return x % 1000 == 7; };
  const V r = v.erase_if(removes);

  std::vector<std::int64_t> want;
  std::vector<row_id_t> want_ids;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!removes(static_cast<std::int64_t>(i))) {
      want.push_back(static_cast<std::int64_t>(i));
      want_ids.push_back(ids[i]);
    }
  }
  REQUIRE(ToVector(r) == want);
  CHECK(IdsOf(r) == want_ids);
  CHECK_NOTHROW(r.check_invariants());

  // Chunks of v with no removed row, and those with some. The last chunk (160 rows) is below
  // half full: a result's leaf that small may only be last, so it is copied into the leaf before
  // it rather than shared.
  std::size_t untouched = 0, touched = 0, thin_last = 0;
  std::size_t start = 0;
  v.for_each_chunk([&](const std::int64_t* first, const std::int64_t* last) {
    const auto len = static_cast<std::size_t>(last - first);
    const bool t = std::any_of(first, last, removes);
    touched += t ? 1 : 0;
    untouched += t ? 0 : 1;
    if (!t && start + len == v.size() && len < V::chunk_capacity / 2) thin_last = 1;
    start += len;
  });
  REQUIRE(touched == 100);
  REQUIRE(untouched + touched == v.memory().leaves);
  REQUIRE(thin_last == 1);
  const cowdb::memory_stats shared = r.shared_with(v);
  CHECK(shared.leaves == untouched - thin_last);
  CHECK(shared.inner_nodes == 0);  // the inner levels are rebuilt
  // The result's other leaves are the repacked rows of the touched chunks (and the thin one).
  const cowdb::memory_stats mem = r.memory();
  CHECK(mem.leaves - shared.leaves <= touched + thin_last);
  // Everything r holds apart from the shared chunks is new.
  CHECK(r.exclusive().leaves == mem.leaves - shared.leaves);
}

// ---- sort and stable_sort -----------------------------------------------------------------------

TEST_CASE("sort and stable_sort of a sorted vector return the same version", "[pvec][rows]") {
  NoLeak no_leak;
  const Small up(Iota(50));
  const void* id = up.identity();
  CHECK(up.sort().identity() == id);
  CHECK(up.stable_sort().identity() == id);
  CHECK(up.sort(std::ranges::less{}, [](int x) { return x / 10; }).identity() == id);
  CHECK(up.stable_sort([](int a, int b) { return a / 7 < b / 7; }).identity() == id);
  auto e = up.transient();
  e.sort();
  e.stable_sort(std::ranges::less{}, std::negate<>{});  // descending: sorts
  e.sort(std::ranges::greater{});                       // already descending: no change
  const Small down = std::move(e).persistent();
  const std::vector<int> iota = Iota(50);
  CHECK(ToVector(down) == std::vector<int>(iota.rbegin(), iota.rend()));
  CHECK(down.sort(std::ranges::greater{}).identity() == down.identity());
  CHECK(down.stable_sort(std::ranges::less{}, std::negate<>{}).identity() == down.identity());

  // Not sorted (the last row, across a chunk boundary, or in the middle of a chunk): a new
  // version, sorted, which a second sort returns as is.
  for (const std::size_t at : {std::size_t{0}, std::size_t{4}, std::size_t{21}, std::size_t{49}}) {
    CAPTURE(at);
    const Small w = up.set(at, at == 0 ? 1000 : -1);
    const Small s = w.sort();
    CHECK(s.identity() != w.identity());
    CHECK(std::ranges::is_sorted(s));
    CHECK(s.sort().identity() == s.identity());
    CHECK(s.stable_sort().identity() == s.identity());
  }
  CHECK(Small().sort().empty());
  CHECK(Small{7}.sort().size() == 1);
}

TEST_CASE("stable_sort keeps rows with equal keys in their order; sort keeps the rows",
          "[pvec][rows]") {
  NoLeak no_leak;
  const std::uint32_t seed = Catch::rngSeed();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  using Row = std::pair<int, int>;  // (key, position in the source)
  using V = cowdb::pvec<Row, 2 * sizeof(Row), 4>;
  std::vector<Row> rows;
  for (int i = 0; i < 300; ++i) rows.push_back({static_cast<int>(rng() % 7), i});
  const V v(rows);
  const auto ids = IdsOf(v);

  SECTION("ascending by a projection") {
    const V s = v.stable_sort(std::ranges::less{}, &Row::first);
    std::vector<Row> want = rows;
    std::stable_sort(want.begin(), want.end(),
                     [](const Row& a, const Row& b) { return a.first < b.first; });
    CHECK(ToVector(s) == want);
    for (std::size_t i = 0; i < s.size(); ++i) {
      CHECK(s.row_id(i) == ids[static_cast<std::size_t>(s[i].second)]);
    }
    CHECK_NOTHROW(s.check_invariants());
  }
  SECTION("descending by a comparator, through the editor") {
    auto e = v.transient();
    e.stable_sort([](const Row& a, const Row& b) { return a.first > b.first; });
    const V s = std::move(e).persistent();
    for (std::size_t i = 1; i < s.size(); ++i) {
      CHECK(s[i - 1].first >= s[i].first);
      if (s[i - 1].first == s[i].first) CHECK(s[i - 1].second < s[i].second);
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
      CHECK(s.row_id(i) == ids[static_cast<std::size_t>(s[i].second)]);
    }
  }
  SECTION("sort: sorted by key, every row once with its id") {
    const V s = v.sort(std::ranges::less{}, &Row::first);
    std::vector<bool> seen(rows.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i > 0) CHECK(s[i - 1].first <= s[i].first);
      const auto pos = static_cast<std::size_t>(s[i].second);
      CHECK_FALSE(seen[pos]);
      seen[pos] = true;
      CHECK(s.row_id(i) == ids[pos]);
    }
    CHECK(std::count(seen.begin(), seen.end(), true) == 300);
  }
  CHECK(ToVector(v) == rows);  // the source is unchanged
  CHECK(IdsOf(v) == ids);
}

// ---- row identity ------------------------------------------------------------------------------

TEST_CASE(
    "row ids survive set, update, transform, insert, erase, slice, concat and the row "
    "operations; new rows get new ids",
    "[pvec][rows]") {
  NoLeak no_leak;
  const Small v(Iota(40));
  const auto ids = IdsOf(v);
  std::unordered_set<row_id_t> seen;
  REQUIRE(AllFresh(ids, seen));  // 40 distinct ids

  // Element-wise writes keep every id in place.
  CHECK(IdsOf(v.set(5, -1)) == ids);
  CHECK(IdsOf(v.update(39, [](int x) { return x + 1; })) == ids);
  CHECK(IdsOf(v.transform([](int x) { return x * 2; })) == ids);
  CHECK(IdsOf(v.transform(10, 20, [](int x) { return -x; })) == ids);
  {
    auto e = v.transient();
    e.set(0, 9);
    e.update(17, [](int x) { return x - 1; });
    CHECK(IdsOf(std::move(e).persistent()) == ids);
  }

  // Structural edits move ids with their rows.
  auto cut = [&](std::size_t first, std::size_t last) {
    return std::vector<row_id_t>(ids.begin() + static_cast<std::ptrdiff_t>(first),
                                 ids.begin() + static_cast<std::ptrdiff_t>(last));
  };
  {
    const Small w = v.insert(13, 100);
    auto want = ids;
    want.insert(want.begin() + 13, w.row_id(13));
    CHECK(IdsOf(w) == want);
    CHECK(AllFresh({w.row_id(13)}, seen));
  }
  {
    auto want = ids;
    want.erase(want.begin() + 21);
    CHECK(IdsOf(v.erase(21)) == want);
    want.erase(want.begin() + 3, want.begin() + 11);
    CHECK(IdsOf(v.erase(21).erase(3, 11)) == want);
  }
  CHECK(IdsOf(v.slice(7, 33)) == cut(7, 33));
  CHECK(IdsOf(v.drop(9)) == cut(9, 40));
  CHECK(IdsOf(v.take(22)) == cut(0, 22));
  {
    auto want = cut(30, 40);
    const auto head = cut(0, 10);
    want.insert(want.end(), head.begin(), head.end());
    CHECK(IdsOf(v.slice(30, 40) + v.take(10)) == want);
    const Small head10 = v.take(10);  // const: see tests/regress/pvec_rows_regress.cc
    CHECK(IdsOf(v.slice(30, 40).append(head10)) == want);
    auto twice = ids;
    twice.insert(twice.end(), ids.begin(), ids.end());
    CHECK(IdsOf(concat(v, v)) == twice);  // the same rows twice
  }
  {
    const Small w = v.insert(20, v.slice(0, 5));  // a version's rows keep their ids
    auto want = ids;
    const auto head = cut(0, 5);
    want.insert(want.begin() + 20, head.begin(), head.end());
    CHECK(IdsOf(w) == want);
  }
  {
    auto want = ids;
    std::erase_if(want, [&](row_id_t id) {
      const auto i = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
      return i % 3 == 0;
    });
    CHECK(IdsOf(v.erase_if([](int x) { return x % 3 == 0; })) == want);
    CHECK(IdsOf(v.filter([](int x) { return x % 3 != 0; })) == want);
  }
  {
    const Small r = v.sort(std::ranges::greater{});
    CHECK(IdsOf(r) == std::vector<row_id_t>(ids.rbegin(), ids.rend()));
  }

  // New rows: fresh ids, never seen before.
  {
    const Small w = v.push_back(1).push_back(2);
    CHECK(IdsOf(w.take(40)) == ids);
    CHECK(AllFresh({w.row_id(40), w.row_id(41)}, seen));
  }
  {
    const Small w = v.emplace(0, 5).emplace(41, 6);
    CHECK(AllFresh({w.row_id(0), w.row_id(41)}, seen));
    CHECK(IdsOf(w.slice(1, 41)) == ids);
  }
  {
    const Small w = v.append(std::vector<int>{1, 2, 3}).resize(45, 7);
    const auto all = IdsOf(w);
    CHECK(std::vector<row_id_t>(all.begin(), all.begin() + 40) == ids);
    CHECK(AllFresh(std::vector<row_id_t>(all.begin() + 40, all.end()), seen));
  }
  {
    const Small w = v.insert(10, std::vector<int>{1, 2, 3});
    const auto all = IdsOf(w);
    CHECK(AllFresh(std::vector<row_id_t>(all.begin() + 10, all.begin() + 13), seen));
  }
  {
    auto e = v.transient();
    e.insert(40, 1);
    int x = 2;
    e.insert(0, std::move(x));
    e.emplace(20, 3);
    e.push_back(4);
    e.append(std::vector<int>{5, 6});
    const Small w = std::move(e).persistent();
    CHECK(AllFresh(
        {w.row_id(0), w.row_id(20), w.row_id(42), w.row_id(43), w.row_id(44), w.row_id(45)}, seen));
    CHECK(w.row_id(1) == ids[0]);
    CHECK(w.row_id(41) == ids[39]);
  }
  // A copy built from the same values is other rows.
  CHECK(AllFresh(IdsOf(Small(Iota(40))), seen));
  CHECK(IdsOf(v) == ids);
}

// ---- invariants ---------------------------------------------------------------------------------

namespace {

// Versions of `m` built in different ways: from a range, by push_back, by push_front, relaxed by
// inserts into a smaller one, concatenated from pieces, cut from a larger one by erases.
template <class V>
std::vector<std::pair<const char*, V>> BuiltManyWays(const std::vector<int>& m, std::mt19937& rng) {
  auto below = [&rng](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  std::vector<std::pair<const char*, V>> out;
  out.emplace_back("from a range", V(m));
  {
    auto e = V().transient();
    for (const int x : m) e.push_back(x);
    out.emplace_back("push_back", std::move(e).persistent());
  }
  {
    auto e = V().transient();
    for (std::size_t k = m.size(); k-- > 0;) e.push_front(m[k]);
    out.emplace_back("push_front", std::move(e).persistent());
  }
  {  // every third element inserted at its place afterwards
    std::vector<int> base;
    for (std::size_t k = 0; k < m.size(); ++k) {
      if (k % 3 != 0) base.push_back(m[k]);
    }
    V v(base);
    for (std::size_t k = 0; k < m.size(); k += 3) v = v.insert(k, m[k]);
    out.emplace_back("relaxed by inserts", std::move(v));
  }
  {
    V v;
    for (std::size_t k = 0; k < m.size();) {
      const std::size_t len = std::min(m.size() - k, 1 + below(3 * V::chunk_capacity * V::fanout));
      v = v + V(std::vector<int>(m.begin() + static_cast<std::ptrdiff_t>(k),
                                 m.begin() + static_cast<std::ptrdiff_t>(k + len)));
      k += len;
    }
    out.emplace_back("concatenated pieces", std::move(v));
  }
  {  // m with runs of -1 interleaved, then erased
    std::vector<int> big;
    std::vector<std::size_t> holes;
    for (std::size_t k = 0; k < m.size(); ++k) {
      if (k % 17 == 5) {
        holes.push_back(big.size());
        big.insert(big.end(), 1 + below(6), -1);
      }
      big.push_back(m[k]);
    }
    V v(big);
    for (std::size_t h = holes.size(); h-- > 0;) {
      std::size_t end = holes[h];
      while (end < big.size() && big[end] == -1) ++end;
      v = v.erase(holes[h], end);
    }
    out.emplace_back("cut by erases", std::move(v));
  }
  for (const auto& [how, v] : out) {
    INFO(how);
    REQUIRE(ToVector(v) == m);
  }
  return out;
}

template <class V>
void CheckRowOpsKeepInvariants() {
  NoLeak no_leak;
  const std::uint32_t seed = Catch::rngSeed();
  CAPTURE(seed);
  std::mt19937 rng(seed);
  for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{64},
                              std::size_t{257}, std::size_t{600}}) {
    CAPTURE(n);
    std::vector<int> m(n);
    for (int& x : m) x = static_cast<int>(rng() % 1000);
    for (const auto& [how, v] : BuiltManyWays<V>(m, rng)) {
      CAPTURE(how);
      // Predicates removing nothing, all, a run of neighbours (leaves chunks below half
      // full), scattered rows.
      const int lo = n > 0 ? m[n / 3] : 0;
      const std::vector<std::function<bool(int)>> preds = {
          [](int) { return false; }, [](int) { return true; },
          [lo](int x) { return x >= lo && x < lo + 100; }, [](int x) { return x % 5 == 1; }};
      for (std::size_t p = 0; p < preds.size(); ++p) {
        CAPTURE(p);
        std::vector<int> kept = m;
        std::erase_if(kept, preds[p]);
        const V r = v.erase_if(preds[p]);
        CheckTree(r, "erase_if");
        CHECK(ToVector(r) == kept);
        const V f = v.filter(preds[p]);
        CheckTree(f, "filter");
        CHECK(f.size() == n - kept.size());
        auto e = v.transient();
        CHECK(e.erase_if(preds[p]) == n - kept.size());
        CheckTree(std::move(e).persistent(), "editor erase_if");
      }
      std::vector<int> sorted = m;
      std::sort(sorted.begin(), sorted.end());
      const V s = v.sort();
      CheckTree(s, "sort");
      CHECK(ToVector(s) == sorted);
      CheckTree(v.sort(std::ranges::greater{}), "sort, descending");
      CheckTree(v.stable_sort(std::ranges::less{}, [](int x) { return x / 100; }),
                "stable_sort by key");
      {
        auto e = v.transient();
        e.stable_sort(std::ranges::greater{});
        CheckTree(std::move(e).persistent(), "editor stable_sort");
      }
      CheckTree(v.append(std::vector<int>(9, 4)), "append(range)");
      CheckTree(v.append(std::as_const(v)), "append(pvec)");
      CheckTree(v.append(s.slice(0, 5)), "append(pvec) of a slice");
      for (const std::size_t at : {std::size_t{0}, n / 2, n}) {
        CAPTURE(at);
        const V w = v.emplace(at, 77);
        CheckTree(w, "emplace");
        CHECK(w[at] == 77);
        auto e = v.transient();
        e.insert(at, int{78});
        e.emplace(at, 79);
        const V x = std::move(e).persistent();
        CheckTree(x, "editor insert(T&&) and emplace");
        CHECK(x.size() == n + 2);
      }
      CHECK(ToVector(v) == m);
    }
  }
}

}  // namespace

TEST_CASE("check_invariants holds after every row operation, on trees built many ways",
          "[pvec][rows]") {
  SECTION("4 per chunk, fan-out 4") { CheckRowOpsKeepInvariants<Small>(); }
  SECTION("2 per chunk, fan-out 8") { CheckRowOpsKeepInvariants<Wide>(); }
}

// ---- bad input ----------------------------------------------------------------------------------

TEST_CASE("emplace and insert past the end throw std::out_of_range naming the index and the size",
          "[pvec][rows]") {
  NoLeak no_leak;
  const Small v(Iota(50));
  const void* id = v.identity();
  const auto ids = IdsOf(v);
  for (const std::size_t i : {std::size_t{51}, std::size_t{1000}, SIZE_MAX}) {
    CAPTURE(i);
    CheckOutOfRange([&] { (void)v.emplace(i, 1); }, "emplace", i, 50);
    CheckOutOfRange([&] { (void)v.emplace(i); }, "emplace", i, 50);
    CheckOutOfRange([&] { (void)v.insert(i, 1); }, "insert", i, 50);
    Small moved = v;
    CheckOutOfRange([&] { (void)std::move(moved).insert(i, 1); }, "insert", i, 50);
    CHECK(moved.identity() == id);

    auto e = v.transient();
    e.set(0, -5);  // the editor holds a private chunk
    CheckOutOfRange([&] { e.emplace(i, 1); }, "emplace", i, 50);
    CheckOutOfRange([&] { e.insert(i, int{1}); }, "insert", i, 50);
    int x = 2;
    CheckOutOfRange([&] { e.insert(i, std::move(x)); }, "insert", i, 50);
    CHECK(e.size() == 50);
    CHECK(e[0] == -5);
    const Small out = std::move(e).persistent();
    CHECK(ToVector(out.drop(1)) == ToVector(v.drop(1)));
    CHECK(IdsOf(out) == ids);
  }
  // i == size() appends.
  CHECK(v.emplace(50, 9).back() == 9);
  CHECK(v.identity() == id);
  CHECK(ToVector(v) == Iota(50));
  CHECK(IdsOf(v) == ids);
}
