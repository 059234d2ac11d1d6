// Helpers for comparing cowdb::Conflict lists with the plain models of the database tests, which
// predict only which rows conflict (dataset and base row), not the kind, sides or values.
#ifndef COWDB_TESTS_TESTING_CONFLICT_HELPERS_H_
#define COWDB_TESTS_TESTING_CONFLICT_HELPERS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "cowdb/transaction.h"

namespace cowdb::testing {

// A conflict with only the dataset and the base row (Conflict::kWholeDataset for the dataset)
// set; every other field keeps its default.
inline Conflict ConflictAt(std::string dataset, std::size_t index = Conflict::kWholeDataset) {
  Conflict c;
  c.dataset = std::move(dataset);
  c.index = index;
  return c;
}

// Each (dataset, index) of a sorted conflict list once, as ConflictAt: a row with two conflicts
// (say kValue and kInsertOrder at one base row) counts once, as the models list it.
inline std::vector<Conflict> ConflictRows(const std::vector<Conflict>& cs) {
  std::vector<Conflict> out;
  for (const Conflict& c : cs) {
    if (!out.empty() && out.back().dataset == c.dataset && out.back().index == c.index) continue;
    out.push_back(ConflictAt(c.dataset, c.index));
  }
  return out;
}

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_CONFLICT_HELPERS_H_
