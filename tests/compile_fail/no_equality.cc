// An element type without operator== (diffs and merges compare rows): Create names the
// requirement at the user's call (tests/CMakeLists.txt checks the message).
#include <cstdint>

#include "cowdb/cowdb.h"

struct Row {
  std::int64_t id;
  double amount;
};

int main() {
  std::unique_ptr<cowdb::Database> db = cowdb::Database::Open();
  cowdb::Transaction t = *db->Begin("main");
  (void)t.Create<Row>("rows", cowdb::pvec<Row>(10, Row{1, 2.0}));
  return 0;
}
