// pvec<T>::chunks(): the range of spans a scan reads, on tiny chunks so that trees are deep and
// relaxed (concat, insert and slice leave partly filled leaves) from a few hundred elements.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <ranges>
#include <span>
#include <vector>

#include "cowdb/pvec.h"
#include "testing/pvec_helpers.h"

namespace {

using cowdb::testing::Iota;
using Tiny = cowdb::pvec<int, 2 * sizeof(int), 2>;  // 2 elements per leaf, fan-out 2
using Small = cowdb::pvec<int, 4 * sizeof(int), 4>;

static_assert(std::ranges::forward_range<Tiny::chunk_range>);
static_assert(
    std::same_as<std::ranges::range_reference_t<Tiny::chunk_range>, std::span<const int>>);

// The spans of v.chunks(first, last), each checked to be non-empty and to lie inside one leaf
// (every element of a span at the address v's element has), concatenated.
template <class V>
std::vector<int> Concat(const V& v, std::size_t first, std::size_t last, std::size_t* spans) {
  std::vector<int> out;
  *spans = 0;
  std::size_t i = std::min(first, v.size());
  for (std::span<const int> chunk : v.chunks(first, last)) {
    REQUIRE(!chunk.empty());
    REQUIRE(chunk.size() <= V::chunk_capacity);
    for (std::size_t k = 0; k < chunk.size(); ++k) REQUIRE(&chunk[k] == &v[i + k]);
    i += chunk.size();
    out.insert(out.end(), chunk.begin(), chunk.end());
    ++*spans;
  }
  return out;
}

template <class V>
std::vector<int> All(const V& v) {
  std::vector<int> out;
  for (std::span<const int> chunk : v.chunks()) out.insert(out.end(), chunk.begin(), chunk.end());
  return out;
}

}  // namespace

TEST_CASE("chunks: the empty vector has no chunk", "[pvec][chunks]") {
  const Tiny v;
  REQUIRE(v.chunks().begin() == v.chunks().end());
  REQUIRE(std::ranges::distance(v.chunks()) == 0);
  REQUIRE(std::ranges::distance(v.chunks(0, 10)) == 0);
}

TEST_CASE("chunks: a packed vector yields one span per full leaf, in order", "[pvec][chunks]") {
  const Tiny v(Iota(7));  // leaves {0,1} {2,3} {4,5} {6}
  std::vector<std::vector<int>> got;
  for (std::span<const int> chunk : v.chunks()) got.emplace_back(chunk.begin(), chunk.end());
  REQUIRE(got == std::vector<std::vector<int>>{{0, 1}, {2, 3}, {4, 5}, {6}});
}

TEST_CASE("chunks: a sub-range is clipped at both ends and to size()", "[pvec][chunks]") {
  const Tiny v(Iota(7));
  std::vector<std::vector<int>> got;
  for (std::span<const int> chunk : v.chunks(1, 6)) got.emplace_back(chunk.begin(), chunk.end());
  REQUIRE(got == std::vector<std::vector<int>>{{1}, {2, 3}, {4, 5}});
  got.clear();
  for (std::span<const int> chunk : v.chunks(5, 100)) got.emplace_back(chunk.begin(), chunk.end());
  REQUIRE(got == std::vector<std::vector<int>>{{5}, {6}});
  REQUIRE(std::ranges::distance(v.chunks(3, 3)) == 0);
  REQUIRE(std::ranges::distance(v.chunks(5, 2)) == 0);
  REQUIRE(std::ranges::distance(v.chunks(7, 9)) == 0);
  REQUIRE(std::ranges::distance(v.chunks(100, 200)) == 0);
}

TEST_CASE("chunks: the range keeps its version alive", "[pvec][chunks]") {
  std::vector<int> seen;
  for (std::span<const int> chunk : Tiny(Iota(9)).push_back(9).chunks()) {
    seen.insert(seen.end(), chunk.begin(), chunk.end());
  }
  REQUIRE(seen == Iota(10));

  auto make_range = [] { return Small(Iota(20)).chunks(); };
  const auto range = make_range();  // the pvec it came from is gone
  std::vector<int> again;
  for (std::span<const int> chunk : range) again.insert(again.end(), chunk.begin(), chunk.end());
  REQUIRE(again == Iota(20));
}

TEST_CASE("chunks: iterators compare by position, and copies walk independently",
          "[pvec][chunks]") {
  const Small v(Iota(30));
  const auto range = v.chunks();
  auto a = range.begin();
  auto b = a++;
  REQUIRE(a != b);
  ++b;
  REQUIRE(a == b);
  REQUIRE((*a).data() == (*b).data());
  auto end_a = range.begin();
  while (end_a != range.end()) ++end_a;
  auto end_b = range.begin();
  std::ranges::advance(end_b, std::ranges::distance(range));
  REQUIRE(end_a == end_b);
}

// Random versions made by the operations that leave relaxed trees (insert, erase, concat, slice,
// push_back, set), each read through random sub-ranges; the concatenated spans must be exactly
// the model's elements in the range. Seed printed on failure; replay by fixing `seed`.
TEST_CASE("chunks: random relaxed trees and sub-ranges match the model", "[pvec][chunks]") {
  const std::uint64_t seed = std::random_device{}();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  auto pick = [&rng](std::size_t n) {  // uniform in [0, n]
    return std::uniform_int_distribution<std::size_t>(0, n)(rng);
  };
  std::vector<std::pair<Tiny, std::vector<int>>> live;
  live.emplace_back(Tiny(Iota(40)), Iota(40));
  int next_value = 1000;
  for (int step = 0; step < 600; ++step) {
    CAPTURE(step);
    const auto& [src, model] = live[pick(live.size() - 1)];
    Tiny v = src;
    std::vector<int> m = model;
    switch (pick(5)) {
      case 0: {
        const std::size_t at = pick(m.size());
        v = v.insert(at, next_value);
        m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), next_value++);
        break;
      }
      case 1:
        if (!m.empty()) {
          const std::size_t at = pick(m.size() - 1);
          v = v.erase(at);
          m.erase(m.begin() + static_cast<std::ptrdiff_t>(at));
        }
        break;
      case 2: {
        const auto& [other, other_model] = live[pick(live.size() - 1)];
        if (m.size() + other_model.size() < 2000) {
          v = v.append(other);
          m.insert(m.end(), other_model.begin(), other_model.end());
        }
        break;
      }
      case 3: {
        const std::size_t first = pick(m.size());
        const std::size_t last = first + pick(m.size() - first);
        v = v.slice(first, last);
        m = std::vector<int>(m.begin() + static_cast<std::ptrdiff_t>(first),
                             m.begin() + static_cast<std::ptrdiff_t>(last));
        break;
      }
      case 4:
        v = v.push_back(next_value);
        m.push_back(next_value++);
        break;
      default:
        if (!m.empty()) {
          const std::size_t at = pick(m.size() - 1);
          v = v.set(at, next_value);
          m[at] = next_value++;
        }
        break;
    }
    REQUIRE(All(v) == m);
    for (int r = 0; r < 4; ++r) {
      const std::size_t first = pick(m.size() + 2);
      const std::size_t last = pick(m.size() + 2);
      std::size_t spans = 0;
      const std::vector<int> got = Concat(v, first, last, &spans);
      const std::size_t lo = std::min(first, m.size());
      const std::size_t hi = std::max(lo, std::min(last, m.size()));
      REQUIRE(got == std::vector<int>(m.begin() + static_cast<std::ptrdiff_t>(lo),
                                      m.begin() + static_cast<std::ptrdiff_t>(hi)));
      // No more spans than leaves touched: at most one per element, and none when empty.
      REQUIRE(spans <= got.size());
    }
    if (live.size() < 12) {
      live.emplace_back(std::move(v), std::move(m));
    } else {
      live[pick(live.size() - 1)] = {std::move(v), std::move(m)};
    }
  }
  // Every version still reads as its model (no version was changed by another's edits).
  for (const auto& [v, m] : live) REQUIRE(All(v) == m);
}
