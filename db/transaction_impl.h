// The state of a Transaction: its base version, its working catalog (datasets it replaced or is
// editing), and the outcome of its commit.
#ifndef COWDB_DB_TRANSACTION_IMPL_H_
#define COWDB_DB_TRANSACTION_IMPL_H_

#include <memory>
#include <string>
#include <vector>

#include "boost/container/flat_map.hpp"
#include "cowdb/transaction.h"
#include "db/database_impl.h"
#include "db/version.h"

namespace cowdb::internal {

class TransactionImpl {
 public:
  TransactionImpl(std::shared_ptr<DatabaseImpl> db, std::string branch, VersionPtr base);

  // One dataset as the transaction sees it: committed contents, or an editor over them.
  struct Entry {
    DatasetPtr data;
    std::unique_ptr<DatasetEditor> editor;  // when set, it holds the current contents
    DatasetPtr Current() const { return editor ? editor->Freeze() : data; }
  };

  absl::Status CheckActive() const;
  absl::StatusOr<Entry*> Lookup(std::string_view name, const std::type_info& type);
  absl::StatusOr<VersionId> Commit(std::string_view message);

  std::shared_ptr<DatabaseImpl> db;
  std::string branch;
  VersionPtr base;
  boost::container::flat_map<std::string, Entry, std::less<>> work;
  std::vector<Conflict> conflicts;
  bool active = true;
};

}  // namespace cowdb::internal

#endif  // COWDB_DB_TRANSACTION_IMPL_H_
