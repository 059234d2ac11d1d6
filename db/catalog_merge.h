// Three-way merge of version catalogs: the heart of Commit (a transaction against a moved head)
// and Database::Merge (two branches against their common ancestor).
#ifndef COWDB_DB_CATALOG_MERGE_H_
#define COWDB_DB_CATALOG_MERGE_H_

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/merge.h"
#include "cowdb/options.h"
#include "cowdb/transaction.h"
#include "db/version.h"

namespace cowdb::internal {

struct CatalogMerge {
  // kFailedPrecondition naming the dataset when a dataset cannot be merged by row identity (a
  // version holding one row twice, merge.h); then nothing else is meaningful.
  absl::Status error;
  Catalog merged;                   // meaningful only when conflicts is empty
  std::vector<Conflict> conflicts;  // sorted by dataset, index, kind, ours_index, theirs_index
};

// Merges `ours` and `theirs`, both derived from `base`, dataset by dataset: a dataset changed
// (written, created, dropped) on one side only is taken from that side; one changed on both
// sides is merged element by element (pvec three-way merge) unless `mode` is kDataset, which
// makes it a whole-dataset conflict. Creating, dropping or retyping a dataset that the other
// side also changed is a whole-dataset conflict. `elements` says what is an element conflict
// (kWrites for commits: any element written on both sides; kValues for branch merges: written
// differently). With `side` set, every conflict is resolved by taking that side instead of
// being reported. Runs no lock; O(datasets + changed chunks).
CatalogMerge MergeCatalogs(const Catalog& base, const Catalog& ours, const Catalog& theirs,
                           ConflictMode mode, merge_mode elements, std::optional<merge_side> side);

}  // namespace cowdb::internal

#endif  // COWDB_DB_CATALOG_MERGE_H_
