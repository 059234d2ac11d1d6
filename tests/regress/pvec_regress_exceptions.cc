// Frozen failures of the exception-safety tests (tests/unit/pvec_exception_test.cc): each case is
// the smallest program that showed the bug. All three were fixed in commit 5ddaa0c (pvec::transform
// builds the new root before handing it to `out`; edit_move copies a shared source and moves a
// unique one back out of the editor when the edit throws); these cases keep them fixed.
#include <catch2/catch.hpp>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cowdb/pvec.h"

namespace {

using cowdb::memory_stats;
using Vec = cowdb::pvec<int, 2 * sizeof(int), 2>;  // 2 ints per chunk, fan-out 2

struct Boom {};

int throw_boom(int /*x*/) { throw Boom{}; }

// After a reference count was found too low, keeps one extra reference to v's root forever, so
// that destroying the other owners does not free the root twice and the remaining test cases
// still run. Reached only while the bug is present.
void keep_forever(const Vec& v) {
  static auto* const kept = new std::vector<Vec>();  // never destroyed, on purpose
  kept->push_back(v);
}

// Fails the k-th node allocation from now on.
int g_allocs_left = 0;
void fail_kth_alloc() {
  if (g_allocs_left > 0 && --g_allocs_left == 0) throw std::bad_alloc();
}
struct AllocFailure {
  explicit AllocFailure(int k) {
    g_allocs_left = k;
    cowdb::internal::g_before_node_alloc = &fail_kth_alloc;
  }
  ~AllocFailure() {
    cowdb::internal::g_before_node_alloc = nullptr;
    g_allocs_left = 0;
  }
  AllocFailure(const AllocFailure&) = delete;
  AllocFailure& operator=(const AllocFailure&) = delete;
};

}  // namespace

// pvec::transform(first, last, fn) copies rep_ (root pointer included) into the result `out`
// BEFORE tree::transform has returned a new reference. When fn, a copy constructor or an
// allocation throws, `out`'s destructor releases the source's root: the source loses a reference
// it never gave away. With a single owner the root is freed under the source (use after free);
// with two owners, destroying both frees it twice.
TEST_CASE("bug: pvec::transform that throws releases the source's root", "[regress][exception]") {
  const Vec v{1, 2, 3, 4, 5, 6, 7};
  const Vec copy = v;  // the root has two owners, so neither may see it as exclusive
  REQUIRE(v.exclusive() == memory_stats{});
  CHECK_THROWS_AS(v.transform(throw_boom), Boom);
  const bool still_shared = v.exclusive() == memory_stats{};
  CHECK(still_shared);  // before the fix: the count dropped from 2 to 1
  if (!still_shared) keep_forever(v);
  CHECK(copy == v);
}

// pvec_editor::transform is persistent().transform(fn): same bug, the editor's root loses a
// reference (the temporary from persistent() and `out` both release it).
TEST_CASE("bug: pvec_editor::transform that throws releases the editor's root",
          "[regress][exception]") {
  const Vec v{1, 2, 3, 4, 5, 6, 7};
  auto e = v.transient();  // the root has two owners: v and e
  CHECK_THROWS_AS(e.transform(throw_boom), Boom);
  const bool still_shared = v.exclusive() == memory_stats{};
  CHECK(still_shared);  // before the fix: false
  if (!still_shared) keep_forever(v);
  CHECK(e.size() == 7);
}

// The rvalue overloads (edit_move) move *this into an editor before editing. When the edit
// throws, the editor dies with the nodes and the source is left empty: `v` is lost although the
// header promises that "the source version ... is unchanged" on failure.
TEST_CASE("bug: rvalue overloads empty their source when they throw", "[regress][exception]") {
  SECTION("set out of range") {
    Vec v{1, 2, 3};
    CHECK_THROWS_AS(std::move(v).set(7, 0), std::out_of_range);
    CHECK(v.size() == 3);  // before the fix: 0
  }
  SECTION("update whose functor throws") {
    Vec v{1, 2, 3};
    CHECK_THROWS_AS(std::move(v).update(0, throw_boom), Boom);
    CHECK(v.size() == 3);  // before the fix: 0
  }
  SECTION("push_back whose node allocation fails") {
    Vec v{1, 2, 3, 4};  // full: push_back must allocate
    {
      AllocFailure fail(1);
      CHECK_THROWS_AS(std::move(v).push_back(5), std::bad_alloc);
    }
    CHECK(v.size() == 4);  // before the fix: 0
  }
}
