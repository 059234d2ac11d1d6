// Failures found by the randomized model test (tests/model/pvec_model_test.cc), frozen as
// minimal cases. Each names the model run that found it. Both bugs were present at c57188e and
// are fixed by 5ddaa0c; these cases fail (without crashing the binary) on the former and pass on
// the latter.
#include <catch2/catch.hpp>
#include <cstdint>
#include <new>
#include <stdexcept>

#include "cowdb/internal/node.h"
#include "cowdb/pvec.h"

namespace {

using vec = cowdb::pvec<int, 2 * sizeof(int), 2>;  // 2 elements per chunk, fan-out 2

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};

int throw_on_3(int x) {
  if (x == 3) throw boom();
  return x + 10;
}

const cowdb::internal::node_base* root_of(const vec& v) {
  return static_cast<const cowdb::internal::node_base*>(v.identity());
}

// `v` and another holder share v's root, so it must not be exclusive to v. If the bug dropped
// one reference, put it back: the test has failed already, and this keeps the destructors below
// from freeing the nodes twice, which would take the whole test binary down.
bool lost_reference(const vec& v) {
  const bool lost = v.exclusive().bytes != 0;
  if (lost) cowdb::internal::inc_ref(root_of(v));
  return lost;
}

// Makes the node allocation after `budget` successful ones throw std::bad_alloc.
int g_budget = 0;
void fail_node_alloc() {
  if (g_budget-- <= 0) throw std::bad_alloc();
}

}  // namespace

// pvec::transform(first, last, fn) sets `out.rep_ = rep_` (the source's root, without taking a
// reference) before calling tree::transform. When fn or a node allocation throws, `out` is
// destroyed and releases a reference that belongs to the source: the source's root is freed
// while versions still point at it (use-after-free, double free). pvec.h promises "If fn throws,
// nothing is changed and nothing leaks".
// Found by: cowdb_model_tests --rng-seed 0 "*int_c1_f2" (step 28: transform(first, last) with a
// throwing functor; a transform under an injected allocation failure hits it as well).
TEST_CASE("bug: pvec::transform that throws drops a reference to the source root",
          "[pvec][regress]") {
  const std::int64_t live0 = cowdb::internal::live_nodes();
  {
    const vec v{1, 2, 3, 4, 5};  // three leaves under two levels of inner nodes
    const vec keep = v;          // a second version holding the same root
    REQUIRE(v.exclusive().bytes == 0);

    SECTION("whole range") { CHECK_THROWS_AS(v.transform(throw_on_3), boom); }
    SECTION("sub-range") { CHECK_THROWS_AS(v.transform(1, 4, throw_on_3), boom); }

    CHECK_FALSE(lost_reference(v));
    CHECK(v == keep);
    CHECK(v.size() == 5);
    CHECK(v[2] == 3);
  }
  CHECK(cowdb::internal::live_nodes() == live0);
}

TEST_CASE("bug: pvec::transform under allocation failure drops a reference to the source root",
          "[pvec][regress]") {
  const std::int64_t live0 = cowdb::internal::live_nodes();
  {
    const vec v{1, 2, 3, 4, 5};
    const vec keep = v;
    REQUIRE(v.exclusive().bytes == 0);
    g_budget = 0;  // the first node allocation fails
    cowdb::internal::g_before_node_alloc = &fail_node_alloc;
    bool threw = false;
    try {
      static_cast<void>(v.transform([](int x) { return x + 1; }));
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    cowdb::internal::g_before_node_alloc = nullptr;
    CHECK(threw);
    CHECK_FALSE(lost_reference(v));
    CHECK(v == keep);
  }
  CHECK(cowdb::internal::live_nodes() == live0);
}

// pvec_editor::transform is `*this = pvec_editor(persistent().transform(fn))`, so it inherits the
// bug: when fn throws, the temporary from persistent() and the failed transform together release
// two references for the one taken; the editor's root is then held by the editor and by `v` with
// a count of one. (Without `v` the editor points at freed nodes.) The editor promises "Strong
// guarantee".
// Found by the same model runs (editor sessions with a throwing transform functor).
TEST_CASE("bug: pvec_editor::transform that throws drops a reference to its root",
          "[pvec][regress]") {
  const std::int64_t live0 = cowdb::internal::live_nodes();
  {
    const vec v{1, 2, 3, 4, 5};
    auto e = v.transient();  // shares v's root
    REQUIRE(v.exclusive().bytes == 0);
    CHECK_THROWS_AS(e.transform(throw_on_3), boom);
    CHECK_FALSE(lost_reference(v));
    CHECK(e.size() == 5);
    CHECK(e[2] == 3);
    CHECK(std::move(e).persistent() == v);
  }
  CHECK(cowdb::internal::live_nodes() == live0);
}

// pvec::edit_move (behind every `&&` write) moved *this into an editor before running the
// operation, so when the operation threw (an index out of range, a throwing functor, bad_alloc)
// the rvalue source was left empty. pvec.h: "every operation that produces a new version gives
// the strong guarantee: if [it] throws, the source version (and every other version) is
// unchanged".
// Found by: cowdb_model_tests --rng-seed 0 "*int_c1_f2" once transform was fixed (step 81:
// update on `std::move(slot)` with an out-of-range index).
TEST_CASE("bug: a && write that throws empties its source", "[pvec][regress]") {
  const std::int64_t live0 = cowdb::internal::live_nodes();
  {
    vec v{1, 2, 3, 4};  // a full tree: push_back must allocate a new root
    SECTION("set out of range") { CHECK_THROWS_AS(std::move(v).set(9, 0), std::out_of_range); }
    SECTION("update out of range") {
      CHECK_THROWS_AS(std::move(v).update(4, throw_on_3), std::out_of_range);
    }
    SECTION("update with a throwing functor") {
      CHECK_THROWS_AS(std::move(v).update(2, throw_on_3), boom);
    }
    SECTION("push_back under allocation failure") {
      g_budget = 0;
      cowdb::internal::g_before_node_alloc = &fail_node_alloc;
      bool threw = false;
      try {
        static_cast<void>(std::move(v).push_back(5));
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      cowdb::internal::g_before_node_alloc = nullptr;
      CHECK(threw);
    }
    CHECK(v.size() == 4);
    CHECK(v == vec{1, 2, 3, 4});
  }
  CHECK(cowdb::internal::live_nodes() == live0);
}
