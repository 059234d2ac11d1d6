// Unit tests of pvec<T>: each operation and its edge cases (empty, one element, exactly full
// leaves, multi-level growth and shrink), on tiny chunks so a few dozen elements make deep trees.
#include "cowdb/pvec.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <list>
#include <numeric>
#include <ranges>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "testing/pvec_helpers.h"

namespace {

using cowdb::testing::Iota;

// Chunks of 2 ints, fan-out 2: depth grows at 3, 5, 9, 17, ... elements.
using Tiny = cowdb::pvec<int, 2 * sizeof(int), 2>;
using Big = cowdb::pvec<std::int64_t>;

template <class V>
std::vector<typename V::value_type> ByIndex(const V& v) {
  std::vector<typename V::value_type> out;
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(v[i]);
  return out;
}

template <class V>
std::vector<typename V::value_type> ByChunks(const V& v) {
  std::vector<typename V::value_type> out;
  v.for_each_chunk([&](const auto* b, const auto* e) { out.insert(out.end(), b, e); });
  return out;
}

// Checks every read path of v against the model.
template <class V>
void CheckEq(const V& v, const std::vector<typename V::value_type>& model) {
  REQUIRE(v.size() == model.size());
  REQUIRE(v.empty() == model.empty());
  CHECK(ByIndex(v) == model);
  CHECK(ByChunks(v) == model);
  CHECK(std::vector<typename V::value_type>(v.begin(), v.end()) == model);
  if (!model.empty()) {
    CHECK(v.front() == model.front());
    CHECK(v.back() == model.back());
  }
}

}  // namespace

TEST_CASE("empty pvec", "[pvec]") {
  const Tiny v;
  CheckEq(v, {});
  CHECK(v.begin() == v.end());
  CHECK(v.identity() == nullptr);
  CHECK(v.memory() == cowdb::memory_stats{});
  CHECK(v == Tiny{});
  CHECK_THROWS_AS(v.at(0), std::out_of_range);
  CHECK(v.take(5).empty());
  CHECK(v.transform([](int x) { return x + 1; }).empty());
}

TEST_CASE("one element", "[pvec]") {
  const Tiny v = Tiny{}.push_back(7);
  CheckEq(v, {7});
  CHECK(v.memory().leaves == 1);
  CHECK(v.memory().inner_nodes == 0);
  CHECK(v.pop_back().empty());
  CHECK(v.set(0, 8)[0] == 8);
  CHECK(v[0] == 7);
}

TEST_CASE("push_back grows level by level, pop_back shrinks back", "[pvec]") {
  std::vector<Tiny> versions{Tiny{}};
  std::vector<int> model;
  for (int i = 0; i < 70; ++i) {
    versions.push_back(versions.back().push_back(i));
    model.push_back(i);
    CheckEq(versions.back(), model);
  }
  // Exactly full trees: 2 * 2^d elements have d inner levels and no partial leaf.
  CHECK(versions[32].memory().leaves == 16);
  CHECK(versions[32].memory().inner_nodes == 15);
  CHECK(versions[33].memory().inner_nodes == 15 + 5);  // a new root and a 4-level new path
  for (int i = 0; i <= 70; ++i) CheckEq(versions[static_cast<std::size_t>(i)], Iota(i));

  Tiny v = versions.back();
  for (int i = 70; i > 0; --i) {
    v = v.pop_back();
    CheckEq(v, Iota(i - 1));
    CHECK(v.memory() == versions[static_cast<std::size_t>(i - 1)].memory());
  }
  CHECK_THROWS_AS(v.pop_back(), std::out_of_range);
}

TEST_CASE("construction from ranges", "[pvec]") {
  for (int n : {0, 1, 2, 3, 4, 5, 16, 17, 100}) {
    const std::vector<int> model = Iota(n);
    CheckEq(Tiny(model), model);
    CheckEq(Tiny(model.begin(), model.end()), model);
    const std::list<int> l(model.begin(), model.end());  // bidirectional, not random access
    CheckEq(Tiny(l.begin(), l.end()), model);
    std::istringstream in([&] {
      std::string s;
      for (int x : model) s += std::to_string(x) + " ";
      return s;
    }());
    CheckEq(Tiny(std::istream_iterator<int>(in), std::istream_iterator<int>()), model);
    CheckEq(Tiny(static_cast<std::size_t>(n), 9), std::vector<int>(static_cast<std::size_t>(n), 9));
  }
  CheckEq(Tiny{1, 2, 3}, {1, 2, 3});
}

TEST_CASE("set and update leave the old version intact", "[pvec]") {
  const std::vector<int> model = Iota(40);
  const Tiny base(model);
  for (std::size_t i = 0; i < model.size(); ++i) {
    const Tiny s = base.set(i, -1);
    const Tiny u = base.update(i, [](int x) { return x * 10; });
    std::vector<int> ms = model, mu = model;
    ms[i] = -1;
    mu[i] *= 10;
    CheckEq(s, ms);
    CheckEq(u, mu);
    CheckEq(base, model);
    // One leaf and the path above it are new; everything else is shared.
    CHECK(s.exclusive().leaves == 1);
    CHECK(s.shared_with(base).leaves == base.memory().leaves - 1);
  }
  CHECK_THROWS_AS(base.set(40, 1), std::out_of_range);
  CHECK_THROWS_AS(base.update(99, [](int x) { return x; }), std::out_of_range);
}

TEST_CASE("update with a mutator changes a copy of the row in place", "[pvec]") {
  struct Row {
    int id;
    double amount;
    bool operator==(const Row&) const = default;
  };
  std::vector<Row> rows;
  for (int k = 0; k < 300; ++k) rows.push_back({k, k * 1.5});
  const cowdb::pvec<Row, 256> base(rows.begin(), rows.end());
  const cowdb::pvec<Row, 256> fixed = base.update(150, [](Row& r) { r.amount = -1; });
  CHECK(fixed[150] == Row{150, -1});
  CHECK(base[150] == Row{150, 225});             // the old version is intact
  CHECK(fixed.row_id(150) == base.row_id(150));  // the same row, changed
  CHECK(fixed.exclusive().patches == 1);         // a patch over base's chunk
  CHECK(fixed.exclusive().leaves == 0);
  // A mutator that changes nothing keeps the version; one that throws changes nothing.
  CHECK(base.update(3, [](Row&) {}).identity() == base.identity());
  CHECK_THROWS_AS(base.update(4,
                              [](Row& r) {
                                r.amount = 0;
                                throw std::runtime_error("no");
                              }),
                  std::runtime_error);
  CHECK(base[4] == Row{4, 6});
  CHECK_THROWS_AS(base.update(300, [](Row&) {}), std::out_of_range);
  // The editor takes both forms too.
  auto e = base.transient();
  e.update(7, [](Row& r) { r.id = -7; });
  e.update(8, [](const Row& r) { return Row{r.id, r.amount * 2}; });
  const cowdb::pvec<Row, 256> edited = e.persistent();
  CHECK(edited[7] == Row{-7, 10.5});
  CHECK(edited[8] == Row{8, 24});
  CHECK(base[7] == Row{7, 10.5});
}

TEST_CASE("writing an equal value keeps the version", "[pvec][sharing]") {
  const Tiny base(Iota(20));
  CHECK(base.set(7, 7).identity() == base.identity());
  CHECK(base.update(3, [](int x) { return x; }).identity() == base.identity());
  CHECK(base.transform([](int x) { return x; }).identity() == base.identity());
  // Only the chunk that changed is new.
  const Tiny t = base.transform([](int x) { return x == 5 ? 50 : x; });
  CHECK(t.exclusive().leaves == 1);
  CHECK(t[5] == 50);
}

TEST_CASE("take and resize", "[pvec]") {
  const std::vector<int> model = Iota(37);
  const Tiny base(model);
  for (std::size_t n = 0; n <= 40; ++n) {
    std::vector<int> m(model.begin(),
                       model.begin() + static_cast<std::ptrdiff_t>(std::min(n, model.size())));
    CheckEq(base.take(n), m);
    std::vector<int> r = model;
    r.resize(n, -3);
    CheckEq(base.resize(n, -3), r);
  }
  CheckEq(base, model);
  // take keeps whole chunks shared: 16 of the 19 leaves survive untouched in take(32).
  CHECK(base.take(32).shared_with(base).leaves == 16);
  CHECK(base.take(32).exclusive().bytes ==
        base.take(32).memory().bytes - base.take(32).shared_with(base).bytes);
}

TEST_CASE("transform on a range shares the chunks outside it", "[pvec]") {
  const std::vector<int> model = Iota(50);
  const Tiny base(model);
  const Tiny t = base.transform(10, 15, [](int x) { return -x; });
  std::vector<int> m = model;
  for (int i = 10; i < 15; ++i) m[static_cast<std::size_t>(i)] = -i;
  CheckEq(t, m);
  CheckEq(base, model);
  CHECK(t.exclusive().leaves == 3);  // leaves [10,12) [12,14) [14,16)
  CHECK(base.transform(40, 10, [](int) { return 0; }).identity() == base.identity());
  CheckEq(base.transform(45, 1000, [](int) { return 0; }), [&] {
    std::vector<int> z = model;
    std::fill(z.begin() + 45, z.end(), 0);
    return z;
  }());
}

TEST_CASE("rvalue overloads write in place when uniquely owned", "[pvec]") {
  Tiny v(Iota(30));
  const void* id = v.identity();
  v = std::move(v).set(4, 100);
  CHECK(v.identity() == id);  // no copy: the root was ours alone
  CHECK(v[4] == 100);
  const Tiny keep = v;
  v = std::move(v).set(5, 200);
  CHECK(v.identity() != keep.identity());  // shared: path-copied
  CHECK(keep[5] == 5);
  CHECK(v[5] == 200);
  for (int i = 0; i < 10; ++i) v = std::move(v).push_back(i);
  CHECK(v.size() == 40);
  CHECK(keep.size() == 30);
}

TEST_CASE("editor: copy a chunk once, then plain stores", "[pvec][editor]") {
  const Tiny base(Iota(64));
  auto e = base.transient();
  const std::int64_t n0 = cowdb::internal::live_nodes();
  e.set(0, -1);  // copies one leaf and the 5 inner nodes above it
  const std::int64_t n1 = cowdb::internal::live_nodes();
  CHECK(n1 - n0 == 6);
  e.set(1, -2);  // same chunk: a plain store
  CHECK(cowdb::internal::live_nodes() == n1);
  const Tiny frozen = e.persistent();
  CHECK(frozen.shared_with(base).leaves == base.memory().leaves - 1);
  e.set(2, -3);  // the editor's nodes are shared with `frozen` now: copies again
  CHECK(cowdb::internal::live_nodes() == n1 + 6);
  const Tiny after = std::move(e).persistent();
  CHECK(frozen[0] == -1);
  CHECK(frozen[1] == -2);
  CHECK(frozen[2] == 2);  // frozen before the third write
  CHECK(after[2] == -3);
  CHECK(base == Tiny(Iota(64)));
}

TEST_CASE("a write to a shared chunk is a patch over it, until the patch is full", "[pvec]") {
  using Tree = cowdb::internal::rbtree<std::int64_t, Big::chunk_capacity, Big::fanout>;
  static_assert(Big::chunk_capacity == 512 && Tree::patch_cap == 8);
  const Big base(Iota<std::int64_t>(100'000));  // 196 chunks, depth 2
  std::vector<std::int64_t> model = Iota<std::int64_t>(100'000);
  const std::int64_t n0 = cowdb::internal::live_nodes();
  Big v = base.set(1'000, -1);  // chunk 1, slot 488
  model[1'000] = -1;
  // One patch and the two inner nodes above it; the chunk stays shared with base.
  CHECK(cowdb::internal::live_nodes() - n0 == 3);
  CHECK(v.exclusive() == cowdb::memory_stats{.bytes = Tree::patch_bytes + 2 * Tree::inner_bytes,
                                             .leaves = 0,
                                             .inner_nodes = 2,
                                             .id_lists = 0,
                                             .patches = 1});
  CHECK(v.shared_with(base).leaves == base.memory().leaves);
  CHECK(v.row_id(1'000) == base.row_id(1'000));
  // The chunk reads as three contiguous runs: before the row, the row, after it.
  std::vector<std::size_t> lens;
  for (std::span<const std::int64_t> c : v.chunks(512, 1'024)) lens.push_back(c.size());
  CHECK(lens == std::vector<std::size_t>{488, 1, 23});
  CHECK(std::equal(v.begin(), v.end(), model.begin(), model.end()));
  CHECK(std::equal(v.rbegin(), v.rend(), model.rbegin(), model.rend()));
  CHECK(*(v.begin() + 1'000) == -1);
  CHECK(*(v.end() - 99'000) == -1);
  // Seven more rows of the chunk join the patch (each write copies it: v is shared by then).
  for (std::size_t i = 513; i < 520; ++i) {
    v = v.set(i, -static_cast<std::int64_t>(i));
    model[i] = -static_cast<std::int64_t>(i);
  }
  CHECK(v.memory().patches == 1);
  CHECK(v.exclusive().patches == 1);
  CHECK(std::equal(v.begin(), v.end(), model.begin(), model.end()));
  // Rewriting a patched row keeps the patch; a ninth row makes a plain copy of the chunk.
  v = v.set(513, 7);
  model[513] = 7;
  CHECK(v.memory().patches == 1);
  v = v.set(700, 8);
  model[700] = 8;
  CHECK(v.memory().patches == 0);
  CHECK(v.exclusive().leaves == 1);
  CHECK(std::equal(v.begin(), v.end(), model.begin(), model.end()));
  CHECK(base == Big(Iota<std::int64_t>(100'000)));
  v.check_invariants();
}

TEST_CASE("an editor writes a patch it owns in place", "[pvec][editor]") {
  const Big base(Iota<std::int64_t>(10'000));
  auto e = base.transient();
  e.set(5, -5);  // a patch over base's chunk 0 and a copy of the root
  const std::int64_t n1 = cowdb::internal::live_nodes();
  e.set(6, -6);  // the editor's own patch: written in place
  e.set(5, -7);
  CHECK(cowdb::internal::live_nodes() == n1);
  const Big v = std::move(e).persistent();
  CHECK(v.memory().patches == 1);
  CHECK(v[5] == -7);
  CHECK(v[6] == -6);
  CHECK(v[7] == 7);
  CHECK(base[5] == 5);
  v.check_invariants();
}

TEST_CASE("only relaxed inner nodes carry a size table", "[pvec][memory]") {
  using Small = cowdb::pvec<int, 4 * sizeof(int), 4>;
  using Tree = cowdb::internal::rbtree<int, Small::chunk_capacity, Small::fanout>;
  static_assert(Small::chunk_capacity == 4 && Small::fanout == 4);
  static_assert(Tree::sized_inner_bytes == Tree::inner_bytes + 4 * sizeof(std::size_t));
  const auto bytes = [](std::size_t leaves, std::size_t inner, std::size_t tables) {
    return leaves * Tree::leaf_bytes + (inner - tables) * Tree::inner_bytes +
           tables * Tree::sized_inner_bytes;
  };
  std::vector<int> model = Iota(48);  // 12 full leaves, 3 full level-1 nodes under the root
  const Small a(model);
  CHECK(a.memory() ==
        cowdb::memory_stats{.bytes = bytes(12, 4, 0), .leaves = 12, .inner_nodes = 4});
  // Erasing row 40 leaves the last level-1 node one short: it is relaxed (a table); the root
  // stays regular, since a regular node's last child may be short.
  const Small b = a.erase(40);
  model.erase(model.begin() + 40);
  CHECK(b.memory() ==
        cowdb::memory_stats{
            .bytes = bytes(12, 4, 1), .leaves = 12, .inner_nodes = 4, .size_tables = 1});
  // Appending past the full last leaf adds a child to the root, whose short child is no longer
  // its last: the root turns relaxed, and is reallocated with a table.
  const Small c = b.push_back(100);
  CHECK(c.memory() ==
        cowdb::memory_stats{
            .bytes = bytes(13, 5, 2), .leaves = 13, .inner_nodes = 5, .size_tables = 2});
  // The same through an editor that already owns the root (a write copied it): the owned root
  // is replaced by one with a table.
  auto e = b.transient();
  e.set(0, -1);
  e.push_back(100);
  const Small d = std::move(e).persistent();
  CHECK(d.memory().size_tables == 2);
  std::vector<int> with = model;
  with.push_back(100);
  CHECK(std::ranges::equal(c, with));
  with[0] = -1;
  CHECK(std::ranges::equal(d, with));
  CHECK(std::ranges::equal(b, model));
  CHECK(std::ranges::equal(a, Iota(48)));
  for (const Small* v : {&a, &b, &c, &d}) v->check_invariants();
  // A copy made by a write keeps a regular node small: one patch over leaf 0 and 2 inner nodes.
  const Small w = a.set(1, -1);
  CHECK(w.exclusive().bytes == Tree::patch_bytes + 2 * Tree::inner_bytes);
}

TEST_CASE("reads skip the patch check on trees known to hold no patch", "[pvec]") {
  const auto hint = [](const Big& v) { return cowdb::internal::pvec_access::rep(v).patch_free; };
  const Big base(Iota<std::int64_t>(100'000));
  CHECK(hint(base));
  CHECK(hint(base.push_back(1).erase(5).insert(7, 7).take(50'000).drop(10)));
  CHECK(hint(base.filter([](std::int64_t x) { return x % 3 != 0; })));
  // A write to a shared chunk makes a patch: the hint goes, and everything made from the
  // patched version keeps it off, while operations on the unpatched one keep it on.
  const Big patched = base.set(1'000, -1);
  CHECK(!hint(patched));
  CHECK(!hint(patched.push_back(1)));
  CHECK(!hint(patched.insert(3, 3)));
  CHECK(!hint(patched.erase(2'000, 3'000)));
  CHECK(!hint(base + patched));
  CHECK(hint(base + base));
  CHECK(!hint(patched.take(2'000)));
  CHECK(hint(patched.drop(2'000)) == false);  // safe, not exact: the patch is gone
  CHECK(!hint(patched.filter([](std::int64_t) { return true; })));
  // Writing through an editor that owns the chunk writes in place: no patch, hint kept.
  auto e = base.transient();
  e.push_back(5);
  CHECK(hint(std::move(e).persistent()));
  CHECK(patched[1'000] == -1);
  CHECK(patched[999] == 999);
  for (const Big* v : {&base, &patched}) v->check_invariants();  // checks the hint too
}

TEST_CASE("editor reads its own writes", "[pvec][editor]") {
  Tiny::editor e;
  std::vector<int> model;
  for (int i = 0; i < 100; ++i) {
    e.push_back(i);
    model.push_back(i);
    REQUIRE(e.size() == model.size());
    REQUIRE(e[static_cast<std::size_t>(i)] == i);
  }
  e.set(50, -50);
  e.update(51, [](int x) { return x + 1000; });
  e.pop_back();
  e.take(60);
  e.resize(64, 7);
  model[50] = -50;
  model[51] += 1000;
  model.resize(60);
  model.resize(64, 7);
  REQUIRE(e.size() == 64);
  for (std::size_t i = 0; i < model.size(); ++i) REQUIRE(e.at(i) == model[i]);
  CHECK_THROWS_AS(e.at(64), std::out_of_range);
  CHECK_THROWS_AS(e.set(64, 0), std::out_of_range);
  e.transform([](int x) { return x * 2; });
  for (int& x : model) x *= 2;
  CheckEq(std::move(e).persistent(), model);
  CHECK(e.empty());  // NOLINT(bugprone-use-after-move): documented to leave the editor empty
}

TEST_CASE("iterators are random access and walk leaf to leaf", "[pvec][iterator]") {
  static_assert(std::random_access_iterator<Tiny::iterator>);
  static_assert(std::ranges::random_access_range<Tiny>);
  static_assert(std::ranges::sized_range<Tiny>);
  const std::vector<int> model = Iota(77);
  const Tiny v(model);
  auto it = v.begin();
  for (std::size_t i = 0; i < model.size(); ++i, ++it) {
    REQUIRE(it.index() == i);
    REQUIRE(*it == model[i]);
    REQUIRE(v.begin()[static_cast<std::ptrdiff_t>(i)] == model[i]);
    REQUIRE((v.begin() + static_cast<std::ptrdiff_t>(i)) - v.begin() ==
            static_cast<std::ptrdiff_t>(i));
  }
  CHECK(it == v.end());
  std::vector<int> back;
  for (auto r = v.end(); r != v.begin();) back.push_back(*--r);
  CHECK(std::equal(back.rbegin(), back.rend(), model.begin(), model.end()));
  CHECK(v.end() - 5 < v.end());
  CHECK(*(v.end() - 1) == 76);
  CHECK(std::ranges::lower_bound(v, 40) - v.begin() == 40);
  CHECK(std::accumulate(v.begin(), v.end(), 0) == std::accumulate(model.begin(), model.end(), 0));
  auto evens = v | std::views::filter([](int x) { return x % 2 == 0; });
  CHECK(std::ranges::distance(evens) == 39);
  CHECK(std::ranges::equal(v | std::views::reverse, model | std::views::reverse));
}

TEST_CASE("equality skips shared chunks and sees every difference", "[pvec]") {
  const Tiny a(Iota(100));
  const Tiny b = a;
  CHECK(a == b);
  for (std::size_t i = 0; i < 100; i += 7) {
    CHECK(a != a.set(i, -1));
    CHECK(a == a.set(i, -1).set(i, static_cast<int>(i)));
  }
  CHECK(a != a.pop_back());
  CHECK(a == Tiny(Iota(100)));  // built separately: nothing shared, compared element-wise
}

TEST_CASE("memory accounting with the default shape", "[pvec][memory]") {
  const Big base(100'000, 1);
  const cowdb::memory_stats m = base.memory();
  CHECK(m.leaves == (100'000 + Big::chunk_capacity - 1) / Big::chunk_capacity);
  CHECK(base.exclusive() == m);
  const Big copy = base;
  CHECK(base.exclusive().bytes == 0);  // a copy keeps everything alive too
  const Big b = base.set(12'345, 2);
  CHECK(b.shared_with(base).leaves == m.leaves);  // the written chunk too, under a patch
  CHECK(b.exclusive().patches == 1);
  CHECK(b.exclusive().leaves == 0);
  CHECK(b.exclusive().inner_nodes == 2);  // the path: root and one level-1 node (depth 2)
  CHECK(b.memory().bytes == b.shared_with(base).bytes + b.exclusive().bytes);
}

TEST_CASE("non-trivial element types", "[pvec]") {
  using Strings = cowdb::pvec<std::string, 2 * sizeof(std::string), 2>;
  std::vector<std::string> model;
  Strings v;
  for (int i = 0; i < 40; ++i) {
    model.push_back(std::string(static_cast<std::size_t>(i), 'x'));
    v = v.push_back(model.back());
  }
  CheckEq(v, model);
  const Strings w = v.transform([](const std::string& s) { return s + "!"; });
  CHECK(w[3] == "xxx!");
  CHECK(v[3] == "xxx");
  CheckEq(v.take(3), {"", "x", "xx"});
}

TEST_CASE("live nodes return to zero", "[pvec][leak]") {
  const std::int64_t before = cowdb::internal::live_nodes();
  {
    Tiny a(Iota(200));
    Tiny b = a.set(3, 3).push_back(1).take(150);
    auto e = b.transient();
    e.set(100, 1);
    const Tiny c = e.persistent();
    e.push_back(5);
    CHECK(cowdb::internal::live_nodes() > before);
  }
  CHECK(cowdb::internal::live_nodes() == before);
}

TEST_CASE("radix lookup hint: kept by push_back-style edits, correct after structural ones",
          "[pvec][radix]") {
  // Chunks of 4 ints, fan-out 4 (structural edits need F >= 4): depth 3 at 65+ elements.
  using Small = cowdb::pvec<int, 4 * sizeof(int), 4>;
  using cowdb::internal::pvec_access;
  auto radix = [](const Small& v) { return pvec_access::rep(v).radix; };
  const std::vector<int> model = Iota(300);

  Small pushed;
  for (int x : model) pushed = pushed.push_back(x);
  Small::editor e;
  for (int x : model) e.push_back(x);
  const Small edited = std::move(e).persistent();
  const Small built(model);
  // Vectors built from a range or by push_back, and what set, transform, take and pop_back make
  // of them, keep the hint: their lookups are pure radix.
  for (const Small& v :
       {pushed, edited, built, built.set(150, -1), built.take(97), built.pop_back(),
        built.transform([](int x) { return x * 2; }), built.take(64).push_back(7)}) {
    CHECK(radix(v));
    CHECK_NOTHROW(v.check_invariants());
  }
  CheckEq(built.take(97), Iota(97));

  // An insert in the middle makes the right edge relaxed: the hint is off and lookups search the
  // size tables. Structural edits recompute it: erasing the last element rebuilds only regular
  // nodes, and a concat with an empty vector keeps the other side's tree.
  const Small ins = built.insert(10, -5);
  CHECK_FALSE(radix(ins));
  std::vector<int> m = model;
  m.insert(m.begin() + 10, -5);
  CheckEq(ins, m);
  CHECK(radix(built.erase(299)));
  CheckEq(built.erase(299), Iota(299));
  CHECK(radix(Small{} + built));
  CHECK_FALSE(radix(Small{} + ins));

  // check_invariants rejects a hint on a tree that radix indexing would misread.
  cowdb::internal::tree_rep forged = pvec_access::rep(ins);
  forged.radix = true;
  CHECK(cowdb::internal::rbtree<int, Small::chunk_capacity, Small::fanout>::check(forged) ==
        "radix hint set on a tree with a non-full child on the right edge");
}

// The forms a C++ user expects of a sequence: pvec and its editor are random-access ranges
// (reverse iteration included), and both can prepend.
static_assert(std::ranges::random_access_range<Tiny>);
static_assert(std::ranges::random_access_range<Tiny::editor>);
static_assert(std::ranges::sized_range<Tiny>);
static_assert(std::same_as<std::ranges::range_value_t<Tiny::editor>, int>);
static_assert(
    std::ranges::random_access_range<std::ranges::reverse_view<std::ranges::ref_view<const Tiny>>>);

TEST_CASE("pvec: reverse iteration, the editor as a range, prepend", "[pvec]") {
  const std::vector<int> rows = Iota<int>(37);
  const Tiny v(rows.begin(), rows.end());  // 2-element chunks: many leaves
  std::vector<int> backwards(v.rbegin(), v.rend());
  std::vector<int> want = Iota<int>(37);
  std::reverse(want.begin(), want.end());
  CHECK(backwards == want);
  CHECK(std::vector<int>(v.crbegin(), v.crend()) == want);
  CHECK(Tiny{}.rbegin() == Tiny{}.rend());

  Tiny::editor e = v.transient();
  e.set(3, 100);
  e.push_back(37);
  // std algorithms read the editor's current contents.
  CHECK(std::ranges::count(e, 100) == 1);
  CHECK(std::ranges::find(e, 37) == e.end() - 1);
  CHECK(std::vector<int>(e.rbegin(), e.rbegin() + 2) == std::vector<int>{37, 36});
  std::vector<int> seen;
  for (int x : e) seen.push_back(x);
  REQUIRE(seen.size() == 38);
  CHECK(seen[3] == 100);
  CHECK(seen.back() == 37);

  // prepend: a range makes new rows, a pvec brings its rows (and their identity) along.
  const Tiny front{-2, -1};
  const Tiny p = v.prepend(std::vector<int>{-2, -1});
  CHECK(std::vector<int>(p.begin(), p.begin() + 3) == std::vector<int>{-2, -1, 0});
  CHECK(p.size() == 39);
  CHECK(p.row_id(2) == v.row_id(0));
  CHECK(p.row_id(0) != front.row_id(0));
  const Tiny q = v.prepend(front);
  CHECK(q == p);
  CHECK(q.row_id(0) == front.row_id(0));
  CHECK(q.row_id(38) == v.row_id(36));
  q.check_invariants();
  e.prepend(front);
  e.prepend(std::list<int>{-4, -3});
  const Tiny edited = e.persistent();
  edited.check_invariants();
  REQUIRE(edited.size() == 42);
  CHECK(std::vector<int>(edited.begin(), edited.begin() + 5) ==
        std::vector<int>{-4, -3, -2, -1, 0});
  CHECK(edited.row_id(2) == front.row_id(0));
  CHECK(v.size() == 37);  // the source version is unchanged
  CHECK(v[3] == 3);
}
