// Unwrapping an absl::Status / StatusOr inside a Catch2 test: an error fails the test with
// REQUIRE and prints the status. Use only on the thread that runs the test.
#ifndef COWDB_TESTS_TESTING_STATUS_HELPERS_H_
#define COWDB_TESTS_TESTING_STATUS_HELPERS_H_

#include <catch2/catch.hpp>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cowdb::testing {

// Unwraps a StatusOr, failing the test (and printing the status) when it holds an error.
template <class T>
T Ok(absl::StatusOr<T> s) {
  INFO("status: " << s.status().ToString());
  REQUIRE(s.ok());
  return *std::move(s);
}

// Fails the test (printing the status) unless `s` is OK.
inline void Ok(const absl::Status& s) {
  INFO("status: " << s.ToString());
  REQUIRE(s.ok());
}

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_STATUS_HELPERS_H_
