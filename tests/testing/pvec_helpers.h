// Small helpers shared by the container tests (tests/unit/pvec_*.cc, diff_test.cc, merge_test.cc)
// and, through testing/db_helpers.h, by the database tests: a model vector of consecutive values,
// and a pvec read back as a std::vector.
#ifndef COWDB_TESTS_TESTING_PVEC_HELPERS_H_
#define COWDB_TESTS_TESTING_PVEC_HELPERS_H_

#include <cstddef>
#include <numeric>
#include <vector>

#include "cowdb/pvec.h"

namespace cowdb::testing {

// from, from + 1, ..., from + n - 1, as T: Iota(3) is {0, 1, 2} (int); Iota<std::int64_t>(3, 5)
// is {5, 6, 7}.
template <class T = int>
std::vector<T> Iota(std::size_t n, T from = T{0}) {
  std::vector<T> v(n);
  std::iota(v.begin(), v.end(), from);
  return v;
}

// The elements of a version, in order (through its iterator).
template <class T, std::size_t C, std::size_t F>
std::vector<T> ToVector(const pvec<T, C, F>& v) {
  return std::vector<T>(v.begin(), v.end());
}

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_PVEC_HELPERS_H_
