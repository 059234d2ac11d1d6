// Small helpers shared by the database tests (tests/unit/database_*.cc, tests/regress/
// database_*.cc, ...): unwrapping a status inside a Catch2 test, building int64 datasets, reading a
// dataset back as a std::vector, and one-line transactions. Includes testing/pvec_helpers.h (Iota,
// ToVector) and testing/status_helpers.h (Ok).
//
// Every helper that meets an error status fails the current test with REQUIRE and prints the
// status; use them only on the thread that runs the test (Catch2 assertions are not thread-safe).
#ifndef COWDB_TESTS_TESTING_DB_HELPERS_H_
#define COWDB_TESTS_TESTING_DB_HELPERS_H_

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "cowdb/pvec.h"
#include "cowdb/snapshot.h"
#include "cowdb/transaction.h"
#include "fmt/format.h"
#include "testing/conflict_helpers.h"
#include "testing/pvec_helpers.h"
#include "testing/status_helpers.h"

namespace cowdb::testing {

using I64 = std::int64_t;

// An int64 dataset holding from, from + 1, ..., from + n - 1 (Iota<I64>(n, from) as a pvec).
inline pvec<I64> IotaVec(std::size_t n, I64 from = 0) {
  const std::vector<I64> v = Iota<I64>(n, from);
  return pvec<I64>(v.begin(), v.end());
}

// The contents of `dataset` in the version a branch or tag names, or in version `id`.
template <class T = I64>
std::vector<T> Read(const Database& db, std::string_view ref, std::string_view dataset) {
  const Snapshot s = Ok(db.OpenSnapshot(ref));
  return ToVector(Ok(s.Get<T>(dataset)));
}
template <class T = I64>
std::vector<T> Read(const Database& db, VersionId id, std::string_view dataset) {
  const Snapshot s = Ok(db.OpenSnapshot(id));
  return ToVector(Ok(s.Get<T>(dataset)));
}

// Commits a transaction on `branch` that creates dataset `name`; returns the new version.
template <class T>
VersionId CreateDataset(Database& db, std::string_view branch, std::string_view name,
                        pvec<T> data) {
  Transaction t = Ok(db.Begin(branch));
  Ok(t.Create<T>(name, std::move(data)));
  return Ok(t.Commit(fmt::format("create {}", name)));
}

// Commits a transaction on `branch` that sets one element of an int64 dataset.
inline VersionId SetElement(Database& db, std::string_view branch, std::string_view name,
                            std::size_t index, I64 value) {
  Transaction t = Ok(db.Begin(branch));
  Ok(t.Edit<I64>(name))->set(index, value);
  return Ok(t.Commit(fmt::format("set {}[{}] = {}", name, index, value)));
}

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_DB_HELPERS_H_
