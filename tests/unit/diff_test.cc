// Unit tests of diff() and patch(): the ranges and element changes reported, the cost guarantees
// (identical and unchanged chunks are never read), patching equal-but-distinct bases, and the
// git-like fmt output. Expected texts are derived from the formatting rules in diff.h's comment:
// 2 lines of context, "-" old / "+" new lines, runs of more than 6 elided to 3 + "... N more ..."
// + 3, digits grouped by thousands, and a summary line.
#include "cowdb/diff.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/pvec_helpers.h"

namespace {

using cowdb::change_kind;
using cowdb::diff_range;
using cowdb::testing::Iota;
using cowdb::testing::ToVector;

// Chunks of 2 ints, fan-out 2: a few dozen elements make a deep tree.
using Tiny = cowdb::pvec<int, 2 * sizeof(int), 2>;
// Chunks of 4 ints, fan-out 4.
using Small = cowdb::pvec<int, 4 * sizeof(int), 4>;
using Big = cowdb::pvec<std::int64_t>;
using Ints = cowdb::pvec<int>;

// One element change with the values copied out, comparable and printable.
struct Change {
  std::size_t index;
  change_kind kind;
  std::optional<std::int64_t> old_value;
  std::optional<std::int64_t> new_value;
  friend bool operator==(const Change&, const Change&) = default;
};

std::ostream& operator<<(std::ostream& os, const Change& c) {
  auto opt = [](const std::optional<std::int64_t>& x) {
    return x ? fmt::format("{}", *x) : std::string("none");
  };
  return os << fmt::format("{{{} kind={} old={} new={}}}", c.index, static_cast<int>(c.kind),
                           opt(c.old_value), opt(c.new_value));
}

template <class D>
std::vector<Change> Changes(const D& d) {
  std::vector<Change> out;
  for (const auto& c : d) {
    out.push_back({c.index, c.kind,
                   c.old_value ? std::optional<std::int64_t>(*c.old_value) : std::nullopt,
                   c.new_value ? std::optional<std::int64_t>(*c.new_value) : std::nullopt});
  }
  return out;
}

template <class D>
void CheckReadNothing(const D& d) {
  CHECK(d.stats().inner_pairs == 0);
  CHECK(d.stats().leaf_pairs == 0);
  CHECK(d.stats().elements_compared == 0);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::size_t CountLines(const std::vector<std::string>& lines, const std::string& line) {
  return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), line));
}

std::size_t CountPrefix(const std::vector<std::string>& lines, const std::string& prefix) {
  return static_cast<std::size_t>(std::count_if(
      lines.begin(), lines.end(), [&](const std::string& l) { return l.starts_with(prefix); }));
}

// True when `want` occurs in `lines` as a contiguous block.
bool HasBlock(const std::vector<std::string>& lines, const std::vector<std::string>& want) {
  return std::search(lines.begin(), lines.end(), want.begin(), want.end()) != lines.end();
}

// Depth of a tree of n elements: levels of inner nodes above the leaves.
template <class V>
unsigned DepthFor(std::size_t n) {
  unsigned d = 0;
  for (std::size_t cap = V::chunk_capacity; cap < n; cap *= V::fanout) ++d;
  return d;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<cowdb::diff_range> {
  static std::string convert(const cowdb::diff_range& r) {
    return fmt::format("[{}, {}) kind={}", r.first, r.last, static_cast<int>(r.kind));
  }
};
}  // namespace Catch

// ---- what diff reports --------------------------------------------------------------------------

TEST_CASE("diff of identical versions is empty and reads nothing", "[diff]") {
  const Big v(100'000, 3);
  const Big copy = v;
  for (const auto& d : {cowdb::diff(v, v), cowdb::diff(v, copy)}) {
    CHECK(d.empty());
    CHECK(d.ranges().empty());
    CHECK(d.modified_count() == 0);
    CHECK(d.appended_count() == 0);
    CHECK(d.truncated_count() == 0);
    CHECK(d.changed_count() == 0);
    CHECK(d.begin() == d.end());
    CheckReadNothing(d);
  }
  const auto e = cowdb::diff(Tiny(), Tiny());
  CHECK(e.empty());
  CHECK(e.begin() == e.end());
  CheckReadNothing(e);
}

TEST_CASE("diff reports modified elements as maximal runs with old and new values", "[diff]") {
  const Tiny a(Iota(40));
  // [3, 5) and [10, 11); then [15, 22) which crosses three chunk boundaries (chunks of 2).
  Tiny b = a.set(3, 100).set(4, 101).set(10, 102);
  for (int i = 15; i < 22; ++i) b = b.set(static_cast<std::size_t>(i), 1000 + i);
  const auto d = cowdb::diff(a, b);
  CHECK(d.ranges() == std::vector<diff_range>{{3, 5, change_kind::kModified},
                                              {10, 11, change_kind::kModified},
                                              {15, 22, change_kind::kModified}});
  CHECK(d.modified_count() == 10);
  CHECK(d.appended_count() == 0);
  CHECK(d.truncated_count() == 0);
  CHECK(d.changed_count() == 10);
  CHECK_FALSE(d.empty());
  std::vector<Change> want = {{3, change_kind::kModified, 3, 100},
                              {4, change_kind::kModified, 4, 101},
                              {10, change_kind::kModified, 10, 102}};
  for (int i = 15; i < 22; ++i) {
    want.push_back({static_cast<std::size_t>(i), change_kind::kModified, i, 1000 + i});
  }
  CHECK(Changes(d) == want);
  CHECK(&d.from() != &d.to());
  CHECK(d.from().identity() == a.identity());
  CHECK(d.to().identity() == b.identity());
}

TEST_CASE("diff reports appended and truncated tails", "[diff]") {
  const Tiny a(Iota(5));
  const Tiny b = a.push_back(50).push_back(51).set(1, 11);

  SECTION("appended") {
    const auto d = cowdb::diff(a, b);
    CHECK(d.ranges() ==
          std::vector<diff_range>{{1, 2, change_kind::kModified}, {5, 7, change_kind::kAppended}});
    CHECK(d.modified_count() == 1);
    CHECK(d.appended_count() == 2);
    CHECK(d.truncated_count() == 0);
    CHECK(d.changed_count() == 3);
    CHECK(Changes(d) == std::vector<Change>{{1, change_kind::kModified, 1, 11},
                                            {5, change_kind::kAppended, std::nullopt, 50},
                                            {6, change_kind::kAppended, std::nullopt, 51}});
    for (const auto& c : d) {
      CHECK((c.old_value == nullptr) == (c.kind == change_kind::kAppended));
      CHECK(c.new_value != nullptr);
    }
  }
  SECTION("truncated") {
    const auto d = cowdb::diff(b, a);
    CHECK(d.ranges() ==
          std::vector<diff_range>{{1, 2, change_kind::kModified}, {5, 7, change_kind::kTruncated}});
    CHECK(d.modified_count() == 1);
    CHECK(d.appended_count() == 0);
    CHECK(d.truncated_count() == 2);
    CHECK(d.changed_count() == 3);
    CHECK(Changes(d) == std::vector<Change>{{1, change_kind::kModified, 11, 1},
                                            {5, change_kind::kTruncated, 50, std::nullopt},
                                            {6, change_kind::kTruncated, 51, std::nullopt}});
  }
  SECTION("from and to empty") {
    const auto grow = cowdb::diff(Tiny(), a);
    CHECK(grow.ranges() == std::vector<diff_range>{{0, 5, change_kind::kAppended}});
    CHECK(grow.appended_count() == 5);
    CHECK(Changes(grow).size() == 5);
    const auto shrink = cowdb::diff(a, Tiny());
    CHECK(shrink.ranges() == std::vector<diff_range>{{0, 5, change_kind::kTruncated}});
    CHECK(shrink.truncated_count() == 5);
    CHECK(Changes(shrink).back() == Change{4, change_kind::kTruncated, 4, std::nullopt});
  }
}

TEST_CASE("diff compares trees of different depths", "[diff]") {
  // 3 elements fit in depth 1 (chunks of 2); 200 elements need depth 7.
  const Tiny a(Iota(3));
  Tiny b = a.set(0, -1);
  for (int i = 3; i < 200; ++i) b = std::move(b).push_back(i);
  b = b.set(2, -2);
  const auto d = cowdb::diff(a, b);
  CHECK(d.ranges() == std::vector<diff_range>{{0, 1, change_kind::kModified},
                                              {2, 3, change_kind::kModified},
                                              {3, 200, change_kind::kAppended}});
  CHECK(d.modified_count() == 2);
  CHECK(d.appended_count() == 197);
  const auto back = cowdb::diff(b, a);
  CHECK(back.ranges() == std::vector<diff_range>{{0, 1, change_kind::kModified},
                                                 {2, 3, change_kind::kModified},
                                                 {3, 200, change_kind::kTruncated}});
  CHECK(cowdb::patch(b, back) == a);
  CHECK(cowdb::patch(a, d) == b);
}

TEST_CASE("diff reads only the changed chunks of a 1M-element vector", "[diff]") {
  constexpr std::size_t kN = 1'000'000;
  const Big base(kN, 0);
  const unsigned depth = DepthFor<Big>(kN);
  REQUIRE(depth == 3);  // 512 per chunk, fan-out 32: 512 * 32^2 < 1M <= 512 * 32^3

  std::mt19937_64 rng(Catch::rngSeed());
  for (const std::size_t k : {1, 2, 10, 100}) {
    CAPTURE(k);
    std::set<std::size_t> indices;
    while (indices.size() < k) indices.insert(rng() % kN);
    Big v = base;
    for (const std::size_t i : indices) v = std::move(v).set(i, static_cast<std::int64_t>(i) + 1);
    std::set<std::size_t> leaves;
    for (const std::size_t i : indices) leaves.insert(i / Big::chunk_capacity);
    std::size_t leaf_elements = 0;  // elements in the touched chunks (the last one is partial)
    for (const std::size_t l : leaves) {
      leaf_elements += std::min(Big::chunk_capacity, kN - l * Big::chunk_capacity);
    }

    const auto d = cowdb::diff(base, v);
    CHECK(d.modified_count() == k);
    CHECK(d.stats().leaf_pairs == leaves.size());
    CHECK(d.stats().leaf_pairs <= k);
    CHECK(d.stats().elements_compared == leaf_elements);
    CHECK(d.stats().elements_compared <= k * Big::chunk_capacity);
    CHECK(d.stats().inner_pairs >= depth);  // at least the root path
    CHECK(d.stats().inner_pairs <= k * depth);
    std::vector<Change> want;
    for (const std::size_t i : indices) {
      want.push_back({i, change_kind::kModified, 0, static_cast<std::int64_t>(i) + 1});
    }
    CHECK(Changes(d) == want);
    if (k == 1) CHECK(d.stats().inner_pairs == depth);
  }
}

TEST_CASE("diff does not read appended or truncated elements", "[diff]") {
  const Big a(1000, 0);  // two chunks: 512 + 488
  Big b = a;
  for (int i = 0; i < 100'000; ++i) b = std::move(b).push_back(i);
  const auto d = cowdb::diff(a, b);
  CHECK(d.ranges() == std::vector<diff_range>{{1000, 101'000, change_kind::kAppended}});
  CHECK(d.appended_count() == 100'000);
  CHECK(d.stats().leaf_pairs <= 1);  // the partial last chunk of `a` was copied by push_back
  CHECK(d.stats().elements_compared <= Big::chunk_capacity);
  const auto back = cowdb::diff(b, a);
  CHECK(back.truncated_count() == 100'000);
  CHECK(back.stats().elements_compared <= Big::chunk_capacity);
}

TEST_CASE("diff compares versions that share nothing", "[diff]") {
  const std::vector<int> data = Iota(100);
  const Small a(data);
  const Small same(data);  // built separately: no shared chunk
  REQUIRE(a.identity() != same.identity());
  REQUIRE(a.shared_with(same).leaves == 0);

  const auto d = cowdb::diff(a, same);
  CHECK(d.empty());
  CHECK(d.changed_count() == 0);
  // Every chunk visited twice: once to pair rows by identity (none in common), once to compare
  // the unrelated versions by value.
  CHECK(d.stats().leaf_pairs == 2 * 25);
  CHECK(d.stats().elements_compared == 100);

  std::vector<int> other = data;
  other[0] = -1;
  other[37] = -2;
  other[38] = -3;
  other.resize(90);
  const auto e = cowdb::diff(a, Small(other));
  CHECK(e.ranges() == std::vector<diff_range>{{0, 1, change_kind::kModified},
                                              {37, 39, change_kind::kModified},
                                              {90, 100, change_kind::kTruncated}});
  CHECK(e.modified_count() == 3);
  CHECK(e.truncated_count() == 10);
  CHECK(Changes(e)[1] == Change{37, change_kind::kModified, 37, -2});
}

// ---- patch --------------------------------------------------------------------------------------

TEST_CASE("patch applies a diff to its own base in O(1)", "[diff]") {
  const Tiny a(Iota(30));
  const Tiny b = a.set(4, -4).push_back(99);
  const auto d = cowdb::diff(a, b);
  const Tiny p = cowdb::patch(a, d);
  CHECK(p == b);
  CHECK(p.identity() == b.identity());  // "O(1) when base is d.from() itself"
  CHECK(ToVector(a) == Iota(30));       // the base is untouched
}

TEST_CASE("patch applies a diff to an equal but distinct base", "[diff]") {
  const std::vector<int> data = Iota(64);
  const Small a(data);
  const Small twin(data);
  REQUIRE(twin.identity() != a.identity());

  SECTION("modified") {
    const Small b = a.set(1, -1).set(2, -2).set(50, -50);
    const Small p = cowdb::patch(twin, cowdb::diff(a, b));
    CHECK(p == b);
    std::vector<int> want = data;
    want[1] = -1;
    want[2] = -2;
    want[50] = -50;
    CHECK(ToVector(p) == want);
    // Every chunk the diff did not touch is shared with `twin` (2 of 16 chunks were touched).
    // Chunk 0 took two writes and was copied (a patch holds one at this chunk size); chunk 12
    // took one: a patch over twin's chunk, which stays shared.
    CHECK(p.shared_with(twin).leaves == twin.memory().leaves - 1);
    CHECK(p.memory().patches == 1);
    CHECK(p.shared_with(twin).patches == 0);
    CHECK(ToVector(twin) == data);
  }
  SECTION("appended") {
    const Small b = a.set(63, 0).push_back(7).push_back(8).push_back(9).push_back(10).push_back(11);
    const Small p = cowdb::patch(twin, cowdb::diff(a, b));
    CHECK(p == b);
    CHECK(p.size() == 69);
    CHECK(ToVector(twin) == data);
  }
  SECTION("truncated") {
    const Small b = a.set(0, 5).take(13);
    const Small p = cowdb::patch(twin, cowdb::diff(a, b));
    CHECK(p == b);
    CHECK(ToVector(p) == std::vector<int>{5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  }
  SECTION("to empty") {
    const Small p = cowdb::patch(twin, cowdb::diff(a, Small()));
    CHECK(p.empty());
  }
}

TEST_CASE("patch throws std::invalid_argument on a base of the wrong size", "[diff]") {
  const Tiny a(Iota(5));
  const auto d = cowdb::diff(a, a.set(0, 9));
  CHECK_THROWS_AS(cowdb::patch(Tiny(Iota(4)), d), std::invalid_argument);
  CHECK_THROWS_AS(cowdb::patch(Tiny(Iota(6)), d), std::invalid_argument);
  CHECK_THROWS_AS(cowdb::patch(Tiny(), d), std::invalid_argument);
  CHECK_THROWS_WITH(cowdb::patch(Tiny(Iota(4)), d),
                    Catch::Contains("4 elements") && Catch::Contains("5"));
  // An empty diff made from an empty vector still needs an empty base.
  CHECK_THROWS_AS(cowdb::patch(a, cowdb::diff(Tiny(), Tiny())), std::invalid_argument);
}

// ---- formatting ---------------------------------------------------------------------------------

TEST_CASE("format: an empty diff says no changes", "[diff][format]") {
  const Ints a(Iota(10));
  CHECK(fmt::format("{}", cowdb::diff(a, a)) == "no changes");
  CHECK(fmt::format("{}", cowdb::diff(a, Ints(Iota(10)))) == "no changes");
  CHECK(fmt::format("{}", cowdb::diff(Ints(), Ints())) == "no changes");
}

TEST_CASE("format: ranges, context, +/- lines, elision and summary", "[diff][format]") {
  // from: 0..199. to: [10, 12) negated, [100, 110) = 1000 + i, and 1,000 sevens appended.
  // 3 ranges; 2 + 10 = 12 modified elements; 1,000 appended.
  const Ints from(Iota(200));
  auto e = from.transient();
  e.set(10, -10);
  e.set(11, -11);
  for (int i = 100; i < 110; ++i) e.set(static_cast<std::size_t>(i), 1000 + i);
  for (int i = 0; i < 1000; ++i) e.push_back(7);
  const Ints to = std::move(e).persistent();
  const auto d = cowdb::diff(from, to);
  REQUIRE(d.ranges().size() == 3);
  const std::string text = fmt::format("{}", d);
  const std::vector<std::string> lines = Lines(text);
  CAPTURE(text);

  // The summary is the last line (no trailing newline).
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back() == "3 ranges, 12 elements changed, 1,000 appended");
  CHECK(text.back() != '\n');
  // One header per range.
  CHECK(CountPrefix(lines, "@@") == 3);

  // clang-format off
  // First range: 2 context lines before (from the old version), 2 "-" lines, 2 "+" lines and
  // 2 context lines after.
  CHECK(HasBlock(lines, {"@@ [10, 12) modified: 2 elements @@",
                         "  [8] 8",
                         "  [9] 9",
                         "- [10] 10",
                         "- [11] 11",
                         "+ [10] -10",
                         "+ [11] -11",
                         "  [12] 12",
                         "  [13] 13"}));
  // Second range: 10 elements > 6, so 3 lines, "... 4 more ...", 3 lines, on both sides.
  CHECK(HasBlock(lines, {"@@ [100, 110) modified: 10 elements @@",
                         "  [98] 98",
                         "  [99] 99",
                         "- [100] 100",
                         "- [101] 101",
                         "- [102] 102",
                         "- ... 4 more ...",
                         "- [107] 107",
                         "- [108] 108",
                         "- [109] 109",
                         "+ [100] 1100",
                         "+ [101] 1101",
                         "+ [102] 1102",
                         "+ ... 4 more ...",
                         "+ [107] 1107",
                         "+ [108] 1108",
                         "+ [109] 1109",
                         "  [110] 110",
                         "  [111] 111"}));
  // Appended range: only "+" lines, digits grouped, 1,000 - 6 = 994 elided; nothing after it.
  CHECK(HasBlock(lines, {"@@ [200, 1,200) appended: 1,000 elements @@",
                         "  [198] 198",
                         "  [199] 199",
                         "+ [200] 7",
                         "+ [201] 7",
                         "+ [202] 7",
                         "+ ... 994 more ...",
                         "+ [1,197] 7",
                         "+ [1,198] 7",
                         "+ [1,199] 7",
                         "3 ranges, 12 elements changed, 1,000 appended"}));
  // clang-format on
  // Nothing else: 3 headers + 9 + 19 + 10 lines + summary.
  CHECK(lines.size() == 3 + 8 + 18 + 9 + 1);
  CHECK(CountPrefix(lines, "- ") == 2 + 7);
  CHECK(CountPrefix(lines, "+ ") == 2 + 7 + 7);
}

TEST_CASE("format: elision starts above 6 elements", "[diff][format]") {
  const Ints a(Iota(20));
  SECTION("6 elements: all shown") {
    const Ints b = a.transform(5, 11, [](int x) { return -x; });
    const auto lines = Lines(fmt::format("{}", cowdb::diff(a, b)));
    CHECK(CountPrefix(lines, "- [") == 6);
    CHECK(CountPrefix(lines, "+ [") == 6);
    CHECK(CountPrefix(lines, "- ...") == 0);
    CHECK(CountLines(lines, "- [7] 7") == 1);
    CHECK(CountLines(lines, "+ [8] -8") == 1);
    CHECK(lines.back() == "1 range, 6 elements changed");
  }
  SECTION("7 elements: 1 elided") {
    const Ints b = a.transform(5, 12, [](int x) { return -x; });
    const auto lines = Lines(fmt::format("{}", cowdb::diff(a, b)));
    CHECK(HasBlock(lines, {"- [5] 5", "- [6] 6", "- [7] 7", "- ... 1 more ...", "- [9] 9",
                           "- [10] 10", "- [11] 11"}));
    CHECK(HasBlock(lines, {"+ [5] -5", "+ [6] -6", "+ [7] -7", "+ ... 1 more ...", "+ [9] -9",
                           "+ [10] -10", "+ [11] -11"}));
    CHECK(CountLines(lines, "- [8] 8") == 0);
    CHECK(lines.back() == "1 range, 7 elements changed");
  }
}

TEST_CASE("format: context is clipped and never printed twice", "[diff][format]") {
  const Ints a(Iota(20));
  // Ranges [0, 1), [3, 4) and [19, 20): no context before index 0; the context after [0, 1) is
  // [1] and [2], so [3, 4) gets none before; nothing after index 19.
  const Ints b = a.set(0, 100).set(3, 103).set(19, 119);
  const std::string text = fmt::format("{}", cowdb::diff(a, b));
  const auto lines = Lines(text);
  CAPTURE(text);
  CHECK(lines == std::vector<std::string>{
                     "@@ [0, 1) modified: 1 element @@", "- [0] 0", "+ [0] 100", "  [1] 1",
                     "  [2] 2", "@@ [3, 4) modified: 1 element @@", "- [3] 3", "+ [3] 103",
                     "  [4] 4", "  [5] 5", "@@ [19, 20) modified: 1 element @@", "  [17] 17",
                     "  [18] 18", "- [19] 19", "+ [19] 119", "3 ranges, 3 elements changed"});

  // A gap of two between ranges is printed once, as the context after the first range.
  const Ints c = a.set(2, -2).set(5, -5);
  const auto cl = Lines(fmt::format("{}", cowdb::diff(a, c)));
  CHECK(CountLines(cl, "  [3] 3") == 1);
  CHECK(CountLines(cl, "  [4] 4") == 1);
  CHECK(HasBlock(cl, {"  [4] 4", "@@ [5, 6) modified: 1 element @@", "- [5] 5"}));
}

TEST_CASE("format: truncation and the singular forms", "[diff][format]") {
  const Ints a(Iota(8));
  const std::string text = fmt::format("{}", cowdb::diff(a, a.take(5)));
  const auto lines = Lines(text);
  CAPTURE(text);
  CHECK(lines == std::vector<std::string>{"@@ [5, 8) truncated: 3 elements @@", "  [3] 3",
                                          "  [4] 4", "- [5] 5", "- [6] 6", "- [7] 7",
                                          "1 range, 0 elements changed, 3 truncated"});
  const auto one = Lines(fmt::format("{}", cowdb::diff(a, a.set(7, 0).push_back(8))));
  CHECK(CountLines(one, "@@ [8, 9) appended: 1 element @@") == 1);
  CHECK(one.back() == "2 ranges, 1 element changed, 1 appended");
}

TEST_CASE("format: indices and counts are grouped by thousands", "[diff][format]") {
  const Big a(1'300'000, 0);
  const Big b = a.set(1'234'567, 5);
  const auto lines = Lines(fmt::format("{}", cowdb::diff(a, b)));
  CHECK(lines == std::vector<std::string>{"@@ [1,234,567, 1,234,568) modified: 1 element @@",
                                          "  [1,234,565] 0", "  [1,234,566] 0", "- [1,234,567] 0",
                                          "+ [1,234,567] 5", "  [1,234,568] 0", "  [1,234,569] 0",
                                          "1 range, 1 element changed"});
  const auto big = Lines(fmt::format("{}", cowdb::diff(a, a.take(1'000))));
  CHECK(big.back() == "1 range, 0 elements changed, 1,299,000 truncated");
  CHECK(CountLines(big, "- ... 1,298,994 more ...") == 1);
}

TEST_CASE("a run of changes across chunk and subtree boundaries is one range", "[diff]") {
  // Tiny: chunks of 2, fan-out 2, so a level-1 subtree holds 4 elements and a level-2 one 8.
  // Changing 3..8 touches chunks [2,4), [4,6), [6,8), [8,10) under three different level-1
  // subtrees and two level-2 ones; the in-place walk must still report one modified range.
  const Tiny a(Iota(32));
  auto e = a.transient();
  for (std::size_t i = 3; i <= 8; ++i) e.set(i, -static_cast<int>(i));
  e.set(20, -20);
  const Tiny b = std::move(e).persistent();
  const auto d = cowdb::diff(a, b);
  CHECK(d.ranges() ==
        std::vector<diff_range>{{3, 9, change_kind::kModified}, {20, 21, change_kind::kModified}});
  CHECK(d.modified_count() == 7);
  // Four chunks for the run, one for index 20; the 27 other chunks are never read.
  CHECK(d.stats().leaf_pairs == 5);
  CHECK(d.stats().elements_compared == 10);
  CHECK(ToVector(cowdb::patch(a, d)) == ToVector(b));
}
