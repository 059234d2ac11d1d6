// The version graph (db/version_graph.h), tested directly as leveldb tests its VersionSet: small
// graphs given as parent lists -- linear, a branch, a merge, a criss-cross merge, two roots, a
// short cut -- some with pruned records (which keep only their parents), each with the answers
// worked out by hand from the drawing above it: ancestors and their distances (breadth-first
// order), what a Prune keeps below a head, the merge base, the retained history Log lists, the
// first-parent walk to a time, and the retained listing.
//
// Version i has time T(i) = 10 i seconds, so times grow with ids as they do in a Database.
#include "db/version_graph.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "db/version.h"

namespace cowdb::internal {
namespace {

// parents[i] lists the parents of version i + 1, first parent first.
using ParentLists = std::vector<std::vector<std::uint64_t>>;
using Ids = std::vector<std::uint64_t>;
using Distances = std::vector<std::pair<std::uint64_t, std::size_t>>;

absl::Time T(std::uint64_t id) { return absl::FromUnixSeconds(10 * static_cast<std::int64_t>(id)); }

// 1 - 2 - 3 - 4 - 5
const ParentLists kLinear = {{}, {1}, {2}, {3}, {4}};
// 1 - 2 - 3 - 5
//      \         4 branches off 2
//       4 - 6
const ParentLists kBranch = {{}, {1}, {2}, {2}, {3}, {4}};
// 1 - 2 - 4 - 5     4 merges 3 into 2 (first parent 2)
//  \     /
//   3 --+
//    \            6 branches off 3
//     6
const ParentLists kMerge = {{}, {1}, {1}, {2, 3}, {4}, {3}};
// 1 - 2 - 4 - 6     criss-cross: 4 merges 3 into 2, 5 merges 2 into 3 (the X: 4 = {2, 3},
//  \   X            5 = {3, 2}); 2 and 3 are both newest common ancestors of 6 and 7, and
//   3 - 5 - 7       3 has the larger id
const ParentLists kCrissCross = {{}, {1}, {1}, {2, 3}, {3, 2}, {4}, {5}};
// 1 - 3      two roots: nothing in common
// 2 - 4
const ParentLists kTwoRoots = {{}, {}, {1}, {2}};
// 1 - 2 - 3 - 4 - 5, and 5 -> 1 directly (second parent): 1 is one link below 5
const ParentLists kShortCut = {{}, {1}, {2}, {3}, {4, 1}};

struct Built {
  VersionGraph graph;
  std::vector<VersionPtr> all;      // version i at all[i - 1], pruned ones too (held here)
  std::vector<VersionPtr> dropped;  // what Drop handed back
};

// Appends the versions of `parents` in order, then drops those in `pruned`.
Built Build(const ParentLists& parents, const std::set<std::uint64_t>& pruned = {}) {
  Built b;
  for (const std::vector<std::uint64_t>& ps : parents) {
    auto v = std::make_shared<Version>();
    v->info.id = b.graph.next_id();
    for (const std::uint64_t p : ps) v->info.parents.push_back(VersionId{p});
    v->info.time = T(v->info.id.value);
    b.all.push_back(v);
    b.graph.Reserve();
    REQUIRE(b.graph.Append(v, ParentIds(v->info.parents)) == v->info.id);
  }
  b.dropped.reserve(b.graph.retained().size());
  b.graph.Drop([&pruned](std::uint64_t id) { return !pruned.contains(id); }, &b.dropped);
  return b;
}

Ids IdsOf(const std::vector<VersionPtr>& vs) {
  Ids out;
  for (const VersionPtr& v : vs) out.push_back(v->info.id.value);
  return out;
}

TEST_CASE("version graph: records, the retained listing and what Drop hands back", "[graph]") {
  struct Case {
    const char* name;
    ParentLists parents;
    std::set<std::uint64_t> pruned;
    Ids retained;
    Ids dropped;
  };
  // clang-format off
  const Case cases[] = {
      {"linear, nothing pruned", kLinear, {}, {1, 2, 3, 4, 5}, {}},
      {"linear, 2 and 3 pruned", kLinear, {2, 3}, {1, 4, 5}, {2, 3}},
      {"merge, 1 and 4 pruned", kMerge, {4, 1}, {2, 3, 5, 6}, {1, 4}},
      {"criss-cross, all but 7 pruned", kCrissCross, {1, 2, 3, 4, 5, 6}, {7}, {1, 2, 3, 4, 5, 6}},
  };
  // clang-format on
  for (const Case& c : cases) {
    INFO(c.name);
    const Built b = Build(c.parents, c.pruned);
    CHECK(b.graph.next_id() == VersionId{c.parents.size() + 1});
    CHECK(b.graph.retained() == c.retained);
    CHECK(IdsOf(b.dropped) == c.dropped);
    for (std::uint64_t id = 1; id <= c.parents.size(); ++id) {
      INFO("v" << id);
      // A pruned record keeps its parents, and only them.
      CHECK((b.graph.Find(VersionId{id}) == nullptr) == c.pruned.contains(id));
      const ParentIds* ps = b.graph.Parents(VersionId{id});
      REQUIRE(ps != nullptr);
      Ids parents;
      for (const VersionId p : *ps) parents.push_back(p.value);
      CHECK(parents == c.parents[id - 1]);
    }
    // Never published: neither a version nor parents.
    CHECK(b.graph.Find(VersionId{0}) == nullptr);
    CHECK(b.graph.Parents(VersionId{0}) == nullptr);
    CHECK(b.graph.Find(b.graph.next_id()) == nullptr);
    CHECK(b.graph.Parents(b.graph.next_id()) == nullptr);
  }
}

TEST_CASE("version graph: ancestors with their distances, breadth first", "[graph]") {
  struct Case {
    const char* name;
    ParentLists parents;
    std::set<std::uint64_t> pruned;
    std::uint64_t from;
    std::size_t max_dist;
    Distances expected;
  };
  // clang-format off
  const Case cases[] = {
      {"linear", kLinear, {}, 5, SIZE_MAX, {{5, 0}, {4, 1}, {3, 2}, {2, 3}, {1, 4}}},
      {"linear, from the middle", kLinear, {}, 3, SIZE_MAX, {{3, 0}, {2, 1}, {1, 2}}},
      {"linear, at most 2 links", kLinear, {}, 5, 2, {{5, 0}, {4, 1}, {3, 2}}},
      {"linear, at most 0 links", kLinear, {}, 5, 0, {{5, 0}}},
      {"linear, through pruned 2 and 3", kLinear, {2, 3}, 5, SIZE_MAX,
       {{5, 0}, {4, 1}, {3, 2}, {2, 3}, {1, 4}}},
      {"linear, a pruned start", kLinear, {1, 2, 3, 4, 5}, 4, SIZE_MAX,
       {{4, 0}, {3, 1}, {2, 2}, {1, 3}}},
      {"branch, one side", kBranch, {}, 6, SIZE_MAX, {{6, 0}, {4, 1}, {2, 2}, {1, 3}}},
      {"merge: both parents at distance 2, first parent first", kMerge, {}, 5, SIZE_MAX,
       {{5, 0}, {4, 1}, {2, 2}, {3, 2}, {1, 3}}},
      {"merge, at most 1 link", kMerge, {}, 5, 1, {{5, 0}, {4, 1}}},
      {"criss-cross from 6", kCrissCross, {}, 6, SIZE_MAX,
       {{6, 0}, {4, 1}, {2, 2}, {3, 2}, {1, 3}}},
      {"criss-cross from 7", kCrissCross, {}, 7, SIZE_MAX,
       {{7, 0}, {5, 1}, {3, 2}, {2, 2}, {1, 3}}},
      {"short cut: the fewest links, not the first path found", kShortCut, {}, 5, SIZE_MAX,
       {{5, 0}, {4, 1}, {1, 1}, {3, 2}, {2, 3}}},
      {"two roots", kTwoRoots, {}, 4, SIZE_MAX, {{4, 0}, {2, 1}}},
      {"never published: itself only", kLinear, {}, 9, SIZE_MAX, {{9, 0}}},
  };
  // clang-format on
  for (const Case& c : cases) {
    INFO(c.name);
    const Built b = Build(c.parents, c.pruned);
    Distances got;
    for (const auto& [id, dist] : b.graph.Ancestors(VersionId{c.from}, c.max_dist)) {
      got.emplace_back(id.value, dist);
    }
    CHECK(got == c.expected);
  }
}

TEST_CASE("version graph: what Prune keeps below a head", "[graph]") {
  // now = T(5) = 50 s; "younger than 25 s" is then a time after 25 s: versions 3 and up.
  struct Case {
    const char* name;
    ParentLists parents;
    std::set<std::uint64_t> pruned;
    std::uint64_t head;
    std::size_t window;
    std::optional<absl::Duration> newer_than;
    Ids kept;  // ascending
  };
  // clang-format off
  const Case cases[] = {
      {"linear, window 2", kLinear, {}, 5, 2, std::nullopt, {3, 4, 5}},
      {"linear, window 0", kLinear, {}, 5, 0, std::nullopt, {5}},
      {"linear, window 2 across pruned 4: walked through, not kept", kLinear, {4}, 5, 2,
       std::nullopt, {3, 5}},
      {"linear, everything", kLinear, {}, 5, SIZE_MAX, std::nullopt, {1, 2, 3, 4, 5}},
      {"merge, window 2: both parents of 4", kMerge, {}, 5, 2, std::nullopt, {2, 3, 4, 5}},
      {"merge, window 0, younger than 25 s", kMerge, {}, 5, 0, absl::Seconds(25), {3, 4, 5}},
      {"merge, window 0, younger than 20 s: 3 is 20 s old, not younger", kMerge, {}, 5, 0,
       absl::Seconds(20), {4, 5}},
      {"merge, window 0, younger than 25 s, 4 pruned: the age walk crosses it", kMerge, {4}, 5,
       0, absl::Seconds(25), {3, 5}},
      {"merge, window 1, younger than 5 s: the window wins", kMerge, {}, 5, 1, absl::Seconds(5),
       {4, 5}},
      {"branch, from 6, window 1", kBranch, {}, 6, 1, std::nullopt, {4, 6}},
  };
  // clang-format on
  for (const Case& c : cases) {
    INFO(c.name);
    const Built b = Build(c.parents, c.pruned);
    std::unordered_set<std::uint64_t> keep;
    b.graph.KeepBelow(VersionId{c.head}, c.window, c.newer_than, T(5), &keep);
    const std::set<std::uint64_t> sorted(keep.begin(), keep.end());
    CHECK(Ids(sorted.begin(), sorted.end()) == c.kept);
  }
}

TEST_CASE("version graph: the merge base of two heads", "[graph]") {
  using Kind = VersionGraph::MergeBase::Kind;
  struct Case {
    const char* name;
    ParentLists parents;
    std::set<std::uint64_t> pruned;
    std::uint64_t source, target;
    Kind kind;
    std::uint64_t base;  // 0 unless kThreeWay
    bool base_retained;
  };
  // clang-format off
  const Case cases[] = {
      {"linear: target behind", kLinear, {}, 5, 3, Kind::kFastForward, 0, false},
      {"linear: source behind", kLinear, {}, 3, 5, Kind::kAlreadyMerged, 0, false},
      {"the same version", kLinear, {}, 4, 4, Kind::kAlreadyMerged, 0, false},
      {"branch: the fork point", kBranch, {}, 5, 6, Kind::kThreeWay, 2, true},
      {"branch, the other way", kBranch, {}, 6, 5, Kind::kThreeWay, 2, true},
      {"branch, the fork point pruned", kBranch, {2}, 5, 6, Kind::kThreeWay, 2, false},
      {"branch, fork point and root pruned", kBranch, {1, 2, 3, 4}, 5, 6, Kind::kThreeWay, 2,
       false},
      {"merge: 6 against 5, which took 3 in", kMerge, {}, 6, 5, Kind::kThreeWay, 3, true},
      {"merge: 5 against 6", kMerge, {}, 5, 6, Kind::kThreeWay, 3, true},
      {"merge: 3 already merged into 5", kMerge, {}, 3, 5, Kind::kAlreadyMerged, 0, false},
      {"merge: 2 fast-forwards to 5", kMerge, {}, 5, 2, Kind::kFastForward, 0, false},
      {"merge, across pruned 4: 3 still merged into 5", kMerge, {4}, 3, 5, Kind::kAlreadyMerged, 0,
       false},
      {"criss-cross: the newest of 2 and 3", kCrissCross, {}, 6, 7, Kind::kThreeWay, 3, true},
      {"criss-cross, the other way", kCrissCross, {}, 7, 6, Kind::kThreeWay, 3, true},
      {"criss-cross: 4 and 5", kCrissCross, {}, 4, 5, Kind::kThreeWay, 3, true},
      {"two roots", kTwoRoots, {}, 3, 4, Kind::kUnrelated, 0, false},
  };
  // clang-format on
  for (const Case& c : cases) {
    INFO(c.name);
    const Built b = Build(c.parents, c.pruned);
    const VersionGraph::MergeBase m =
        b.graph.FindMergeBase(VersionId{c.source}, VersionId{c.target});
    CHECK(m.kind == c.kind);
    CHECK(m.base == VersionId{c.base});
    CHECK((m.version != nullptr) == c.base_retained);
    if (c.base_retained) CHECK(m.version == b.all[c.base - 1]);
  }
}

TEST_CASE("version graph: Log's retained history, newest first, stopping at pruned versions",
          "[graph]") {
  struct Case {
    const char* name;
    ParentLists parents;
    std::set<std::uint64_t> pruned;
    std::uint64_t head;
    Ids expected;
  };
  // clang-format off
  const Case cases[] = {
      {"linear", kLinear, {}, 5, {5, 4, 3, 2, 1}},
      {"linear, from the middle", kLinear, {}, 3, {3, 2, 1}},
      {"linear, 3 pruned: stops there", kLinear, {3}, 5, {5, 4}},
      {"linear, the head itself pruned (a snapshot holds it)", kLinear, {5}, 5, {5, 4, 3, 2, 1}},
      {"branch, one side", kBranch, {}, 5, {5, 3, 2, 1}},
      // Breadth first reaches 2 before 3; newest first lists 3 before 2.
      {"merge: all parents, by id", kMerge, {}, 5, {5, 4, 3, 2, 1}},
      {"merge, 2 pruned: 1 is still reached through 3", kMerge, {2}, 5, {5, 4, 3, 1}},
      {"merge, 3 pruned", kMerge, {3}, 5, {5, 4, 2, 1}},
      {"merge, 4 pruned: nothing below", kMerge, {4}, 5, {5}},
      {"merge, the other head", kMerge, {}, 6, {6, 3, 1}},
      {"criss-cross", kCrissCross, {}, 7, {7, 5, 3, 2, 1}},
      {"criss-cross, 1 pruned", kCrissCross, {1}, 6, {6, 4, 3, 2}},
      {"two roots", kTwoRoots, {}, 4, {4, 2}},
  };
  // clang-format on
  for (const Case& c : cases) {
    INFO(c.name);
    const Built b = Build(c.parents, c.pruned);
    CHECK(IdsOf(b.graph.RetainedAncestors(b.all[c.head - 1])) == c.expected);
    // With a limit: the newest `limit` of them, the walk stopping there.
    for (std::size_t limit = 0; limit <= c.expected.size() + 1; ++limit) {
      INFO("limit " << limit);
      const Ids want(c.expected.begin(), c.expected.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                  limit, c.expected.size())));
      CHECK(IdsOf(b.graph.RetainedAncestors(b.all[c.head - 1], limit)) == want);
    }
  }
}

TEST_CASE("version graph: down the first parents to a time", "[graph]") {
  struct Case {
    const char* name;
    ParentLists parents;
    std::set<std::uint64_t> pruned;
    std::uint64_t from;
    absl::Time as_of;
    std::uint64_t found;      // 0: none
    std::uint64_t pruned_at;  // when none: the pruned parent, or 0 (nothing that old)
  };
  // clang-format off
  const Case cases[] = {
      {"the head is old enough", kLinear, {}, 5, T(5), 5, 0},
      {"between two versions: the older", kLinear, {}, 5, T(3) + absl::Seconds(1), 3, 0},
      {"exactly a version's time", kLinear, {}, 5, T(2), 2, 0},
      {"older than everything", kLinear, {}, 5, T(1) - absl::Seconds(1), 0, 0},
      {"stops before a pruned version it does not need", kLinear, {3}, 5, T(4), 4, 0},
      {"reaches a pruned version", kLinear, {3}, 5, T(2), 0, 3},
      // 3 (time 30) is old enough but is 4's second parent: the walk goes 5, 4, 2.
      {"merge: first parents only", kMerge, {}, 5, T(3) + absl::Seconds(1), 2, 0},
      {"merge, 3 pruned: never on the first-parent path", kMerge, {3}, 5, T(1), 1, 0},
      {"merge, 2 pruned", kMerge, {2}, 5, T(3), 0, 2},
      {"criss-cross: 7, 5, 3", kCrissCross, {}, 7, T(4), 3, 0},
  };
  // clang-format on
  for (const Case& c : cases) {
    INFO(c.name);
    const Built b = Build(c.parents, c.pruned);
    const VersionGraph::AsOf r = b.graph.FirstParentAsOf(b.all[c.from - 1], c.as_of);
    if (c.found == 0) {
      CHECK(r.version == nullptr);
    } else {
      CHECK(r.version == b.all[c.found - 1]);
    }
    CHECK(r.pruned == VersionId{c.pruned_at});
  }
}

}  // namespace
}  // namespace cowdb::internal
