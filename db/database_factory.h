// Opening a persistent Database on a given Env (database.h opens on Env::Default()): the seam the
// I/O-fault tests use (storage/fault_injection_env.h).
#ifndef COWDB_DB_DATABASE_FACTORY_H_
#define COWDB_DB_DATABASE_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cowdb/database.h"
#include "cowdb/options.h"
#include "db/storage/file.h"

namespace cowdb::internal {

class DatabaseFactory {
 public:
  // Database::Open(dir, options) with every file operation through `env`, which must outlive
  // the Database and its transactions. Errors as Database::Open.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Database>> Open(storage::Env* env,
                                                                      const std::string& dir,
                                                                      const Options& options);
};

}  // namespace cowdb::internal

#endif  // COWDB_DB_DATABASE_FACTORY_H_
