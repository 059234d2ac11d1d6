// The state of a Transaction: its base version, the datasets it changed (replaced, created,
// dropped or is editing) on top of the base's catalog, and the outcome of its commit.
#ifndef COWDB_DB_TRANSACTION_IMPL_H_
#define COWDB_DB_TRANSACTION_IMPL_H_

#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "boost/container/flat_map.hpp"
#include "boost/container/small_vector.hpp"
#include "cowdb/transaction.h"
#include "db/database_impl.h"
#include "db/version.h"

namespace cowdb::internal {

class TransactionImpl {
 public:
  // O(1): the transaction records only what it changes, on top of `base`.
  TransactionImpl(std::shared_ptr<DatabaseImpl> db, std::string branch, VersionPtr base);

  // A dataset the transaction created, replaced, edited or dropped.
  struct Entry {
    DatasetPtr data;                        // null: dropped
    std::unique_ptr<DatasetEditor> editor;  // when set, it holds the current contents
    DatasetPtr Current() const { return editor ? editor->Freeze() : data; }
  };

  absl::Status CheckActive() const;
  // Where the transaction sees dataset `name`: in its entry, or (entry == nullptr) in base's
  // catalog. O(log datasets). Errors: kFailedPrecondition, kNotFound, kInvalidArgument (type).
  struct Seen {
    const DatasetPtr* data = nullptr;  // the dataset before the entry's editor, if any
    const Entry* entry = nullptr;
  };
  absl::StatusOr<Seen> See(std::string_view name, const std::type_info& type) const;
  // Whether the transaction sees a dataset `name`. O(log datasets).
  bool Exists(std::string_view name) const;
  // The dataset `name` as the transaction sees it (its editor frozen). O(log datasets).
  // Errors: as See.
  absl::StatusOr<DatasetPtr> Current(std::string_view name, const std::type_info& type) const;
  // The entry of `name` in `changes`, made from base's dataset on first use. O(changes) the
  // first time, else O(log datasets). Errors: as See.
  absl::StatusOr<Entry*> Writable(std::string_view name, const std::type_info& type);
  // The catalog of base with the changes applied (editors frozen). O(datasets).
  Catalog Changed() const;
  absl::StatusOr<VersionId> Commit(std::string_view message);

  std::shared_ptr<DatabaseImpl> db;
  std::string branch;
  VersionPtr base;
  // What the transaction changed, by name; every other dataset is base's. The first change is
  // stored inline: a transaction on one dataset allocates no array for it.
  boost::container::small_flat_map<std::string, Entry, 1, std::less<>> changes;
  std::vector<Conflict> conflicts;
  bool active = true;
};

}  // namespace cowdb::internal

#endif  // COWDB_DB_TRANSACTION_IMPL_H_
