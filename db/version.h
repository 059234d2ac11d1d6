// A version of the database: immutable once published. Owned through shared_ptr by the
// version table (while retained) and by every Snapshot that pins it.
#ifndef COWDB_DB_VERSION_H_
#define COWDB_DB_VERSION_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "boost/container/flat_map.hpp"
#include "boost/container/small_vector.hpp"
#include "cowdb/internal/db/dataset.h"
#include "cowdb/snapshot.h"

namespace cowdb::internal {

// Dataset name -> contents, sorted by name. Datasets are immutable and shared between versions.
// The first kInlineDatasets entries live inside the catalog (inside the Version): a commit on a
// database of a few datasets allocates no separate array for them.
inline constexpr std::size_t kInlineDatasets = 2;
using Catalog =
    boost::container::small_flat_map<std::string, DatasetPtr, kInlineDatasets, std::less<>>;

struct Version {
  VersionInfo info;
  Catalog catalog;
};
using VersionPtr = std::shared_ptr<const Version>;

// True when a and b hold the same version of the same dataset (or are both absent). O(1).
inline bool SameDataset(const DatasetPtr& a, const DatasetPtr& b) noexcept {
  if (a == nullptr || b == nullptr) return a == b;
  return a == b || (a->type() == b->type() && a->identity() == b->identity());
}

}  // namespace cowdb::internal

#endif  // COWDB_DB_VERSION_H_
