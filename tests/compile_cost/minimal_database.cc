// The minimal database program of issue 16 (tests/compile_cost/measure.sh): include cowdb, open a
// database, create one int64 dataset and commit.
#include <cstdint>

#include "cowdb/cowdb.h"

int main() {
  std::unique_ptr<cowdb::Database> db = cowdb::Database::Open();
  cowdb::Transaction t = *db->Begin("main");
  (void)t.Create<std::int64_t>("x", cowdb::pvec<std::int64_t>{1, 2, 3});
  return t.Commit("load").ok() ? 0 : 1;
}
