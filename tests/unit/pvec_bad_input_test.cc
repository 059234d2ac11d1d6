// Bad input to the structural operations of pvec<T> and its editor (README, "Bad input and
// errors"): insert past the end, erase(i) out of range and erase(first, last) with last > size()
// or first > last throw std::out_of_range whose message names the operation and the values given;
// the source version (also one passed as an rvalue) and an editor keep their contents, and
// nothing leaks. drop, take and slice past the end are not errors: they clip to size().
// Also the messages of at, set, update and pop_back (pvec_exception_test.cc checks that at, set
// and update name the index and the size, and keep every version intact).
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cowdb/pvec.h"
#include "testing/pvec_helpers.h"

namespace {

using cowdb::internal::live_nodes;
using cowdb::testing::Iota;
using cowdb::testing::ToVector;

// Chunks of 4 ints, fan-out 4 (the smallest shape with the structural height bound): 50 elements
// make a tree of 13 leaves and two inner levels.
using Small = cowdb::pvec<int, 4 * sizeof(int), 4>;
using Ints = cowdb::pvec<int>;

constexpr std::size_t kN = 50;

// Declared first in a test, checks at its end that the test left as many live nodes as it found.
class NoLeak {
 public:
  ~NoLeak() { CHECK(live_nodes() == nodes_); }

 private:
  const std::int64_t nodes_ = live_nodes();
};

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

// f() must throw std::out_of_range whose message starts with "cowdb::pvec::<op>: " and names
// every one of `values`.
template <class F>
void CheckOutOfRange(F&& f, const std::string& op, const std::vector<std::size_t>& values) {
  try {
    f();
    FAIL_CHECK("no exception; expected std::out_of_range from " << op);
  } catch (const std::out_of_range& e) {
    const std::string what = e.what();
    INFO("what(): " << what);
    CHECK(what.rfind("cowdb::pvec::" + op + ": ", 0) == 0);
    for (const std::size_t v : values) {
      INFO("value " << v);
      CHECK(NamesNumber(what, v));
    }
  }
}

// `v` still holds `model`, with a valid tree and the root it had (`id`).
template <class V>
void CheckUnchanged(const V& v, const std::vector<int>& model, const void* id) {
  CHECK(v.identity() == id);
  CHECK(ToVector(v) == model);
  CHECK_NOTHROW(v.check_invariants());
}

// Runs `op` (a structural write that must throw) on a version of `model` three ways: on a const
// version, on an rvalue of a shared version, and on an rvalue of a version it alone owns (the
// path that writes in place); each source must be unchanged afterwards.
template <class V, class Op>
void CheckThrowsOnEveryForm(const std::vector<int>& model, const Op& op, const std::string& name,
                            const std::vector<std::size_t>& values) {
  const V v(model);
  const void* const id = v.identity();
  CheckOutOfRange([&] { (void)op(v); }, name, values);
  CheckUnchanged(v, model, id);

  V shared = v;
  CheckOutOfRange([&] { (void)op(std::move(shared)); }, name, values);
  CheckUnchanged(shared, model, id);  // NOLINT(bugprone-use-after-move): the point of the test

  V alone(model);
  const void* const alone_id = alone.identity();
  CheckOutOfRange([&] { (void)op(std::move(alone)); }, name, values);
  CheckUnchanged(alone, model, alone_id);  // NOLINT(bugprone-use-after-move)
  CheckUnchanged(v, model, id);
}

}  // namespace

TEMPLATE_TEST_CASE("insert past the end throws std::out_of_range naming the index and the size",
                   "[pvec][structural][errors]", Small, Ints) {
  using V = TestType;
  const NoLeak no_leak;
  const std::vector<int> model = Iota(kN);
  for (const std::size_t i : {kN + 1, kN + 7, std::size_t{4321}, SIZE_MAX}) {
    CAPTURE(i);
    CheckThrowsOnEveryForm<V>(model,
                              [i](auto&& v) { return std::forward<decltype(v)>(v).insert(i, -1); },
                              "insert", {i, kN});
    const std::vector<int> range{-1, -2, -3};
    CheckThrowsOnEveryForm<V>(model, [&](const auto& v) { return v.insert(i, range); }, "insert",
                              {i, kN});
  }
  // i == size() appends; on an empty vector only 0 is in range.
  CHECK(ToVector(V(model).insert(kN, -1)).back() == -1);
  CheckThrowsOnEveryForm<V>({}, [](auto&& v) { return std::forward<decltype(v)>(v).insert(1, -1); },
                            "insert", {1, 0});
  CHECK(ToVector(V().insert(0, 5)) == std::vector<int>{5});
}

TEMPLATE_TEST_CASE("erase(i) out of range throws std::out_of_range naming the index and the size",
                   "[pvec][structural][errors]", Small, Ints) {
  using V = TestType;
  const NoLeak no_leak;
  const std::vector<int> model = Iota(kN);
  for (const std::size_t i : {kN, kN + 7, std::size_t{4321}, SIZE_MAX}) {
    CAPTURE(i);
    CheckThrowsOnEveryForm<V>(
        model, [i](auto&& v) { return std::forward<decltype(v)>(v).erase(i); }, "erase", {i, kN});
  }
  CheckThrowsOnEveryForm<V>({}, [](auto&& v) { return std::forward<decltype(v)>(v).erase(0); },
                            "erase", {0});
  CHECK(ToVector(V(model).erase(kN - 1)) == Iota(kN - 1));
}

// With first > last the message must name both. Today it reads "cowdb::pvec::erase: index 37 is
// out of range for size 21", calling `last` the size; the test accepts any message that names the
// operation and both values, such as "cowdb::pvec::erase: first 37 is after last 21 (size 50)".
TEMPLATE_TEST_CASE("erase(first, last) out of range throws std::out_of_range naming the bounds",
                   "[pvec][structural][errors]", Small, Ints) {
  using V = TestType;
  struct Case {
    std::size_t first, last;
  };
  const NoLeak no_leak;
  const std::vector<int> model = Iota(kN);
  // The message names the range and the size.
  for (const Case& c :
       {// last > size()
        Case{3, kN + 1}, Case{0, 4321}, Case{kN, kN + 1}, Case{3, SIZE_MAX}, Case{70, 60},
        // first > last, both within the size
        Case{37, 21}, Case{kN, kN - 1}, Case{1, 0}, Case{SIZE_MAX, 12}}) {
    CAPTURE(c.first, c.last);
    CheckThrowsOnEveryForm<V>(
        model, [&c](auto&& v) { return std::forward<decltype(v)>(v).erase(c.first, c.last); },
        "erase", {c.first, c.last, kN});
  }
  // last == size() is in range; first == last erases nothing.
  CHECK(ToVector(V(model).erase(kN - 2, kN)) == Iota(kN - 2));
  CHECK(ToVector(V(model).erase(kN, kN)) == model);
}

TEMPLATE_TEST_CASE("drop, take and slice past the end are not errors: they clip to size()",
                   "[pvec][structural][errors]", Small, Ints) {
  using V = TestType;
  const NoLeak no_leak;
  const std::vector<int> model = Iota(kN);
  const V v(model);
  const void* const id = v.identity();
  for (const std::size_t n : {kN, kN + 1, std::size_t{4321}, SIZE_MAX}) {
    CAPTURE(n);
    CHECK(v.drop(n).empty());
    CHECK(v.take(n).identity() == id);  // the same version: every chunk kept
    CHECK(ToVector(v.slice(3, n)) == Iota(kN - 3, 3));
    CHECK(v.slice(n, n).empty());
    CHECK(v.slice(n, 3).empty());  // first > last: empty, unlike erase(first, last)
    V moved = v;
    CHECK(std::move(moved).drop(n).empty());
    CheckUnchanged(v, model, id);
  }
  CHECK(v.slice(20, 10).empty());
  CHECK(V().drop(3).empty());
  CHECK(V().take(3).empty());
  CHECK(V().slice(1, 2).empty());
  CheckUnchanged(v, model, id);
}

TEMPLATE_TEST_CASE("editor: out-of-range insert and erase throw and keep the editor's contents",
                   "[pvec][structural][errors]", Small, Ints) {
  using V = TestType;
  const NoLeak no_leak;
  const std::vector<int> model = Iota(kN);
  const V v(model);
  const void* const id = v.identity();
  auto e = v.transient();
  e.set(0, -1);  // a private path, written in place from now on
  e.push_back(1000);
  std::vector<int> em = model;
  em[0] = -1;
  em.push_back(1000);
  const std::size_t n = em.size();

  CheckOutOfRange([&] { e.insert(n + 1, 7); }, "insert", {n + 1, n});
  CheckOutOfRange([&] { e.insert(n + 1, std::vector<int>{7, 8}); }, "insert", {n + 1, n});
  CheckOutOfRange([&] { e.erase(n); }, "erase", {n, n});
  CheckOutOfRange([&] { e.erase(2, n + 1); }, "erase", {2, n + 1, n});
  CheckOutOfRange([&] { e.erase(9, 4); }, "erase", {9, 4, n});
  CHECK(e.size() == n);
  CHECK(ToVector(e.persistent()) == em);

  // Not errors: clipped.
  e.slice(0, SIZE_MAX);
  CHECK(ToVector(e.persistent()) == em);
  e.take(SIZE_MAX);
  CHECK(ToVector(e.persistent()) == em);

  // Still usable.
  e.insert(n, 99);
  e.erase(0, 1);
  em.push_back(99);
  em.erase(em.begin());
  CHECK(ToVector(e.persistent()) == em);
  e.drop(SIZE_MAX);
  CHECK(e.empty());
  CheckOutOfRange([&] { e.erase(0); }, "erase", {0});
  CheckUnchanged(v, model, id);
}

TEST_CASE("at, set and update out of range name the operation, the index and the size",
          "[pvec][errors]") {
  const Small v(Iota(kN));
  const auto same = [](int x) { return x; };
  CheckOutOfRange([&] { (void)v.at(kN); }, "at", {kN});
  CheckOutOfRange([&] { (void)v.set(kN + 7, 1); }, "set", {kN + 7, kN});
  CheckOutOfRange([&] { (void)v.update(kN + 7, same); }, "update", {kN + 7, kN});
  auto e = v.transient();
  CheckOutOfRange([&] { (void)e.at(kN + 7); }, "at", {kN + 7, kN});
  CheckOutOfRange([&] { e.set(kN + 7, 1); }, "set", {kN + 7, kN});
  CheckOutOfRange([&] { e.update(kN + 7, same); }, "update", {kN + 7, kN});
  CHECK(ToVector(e.persistent()) == Iota(kN));
}

TEST_CASE("pop_back on an empty vector throws std::out_of_range saying it is empty",
          "[pvec][errors]") {
  const auto check = [](auto&& f) {
    try {
      f();
      FAIL_CHECK("no exception; expected std::out_of_range");
    } catch (const std::out_of_range& e) {
      CHECK(std::string(e.what()) == "cowdb::pvec::pop_back: the vector is empty");
    }
  };
  check([] { (void)Small().pop_back(); });
  check([] { (void)Small{1}.pop_back().pop_back(); });
  auto e = Small{1}.transient();
  e.pop_back();
  check([&] { e.pop_back(); });
  CHECK(e.empty());
}
