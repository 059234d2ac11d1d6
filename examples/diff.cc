// diff — what changed between versions: an element diff printed git-like, a diff after inserts
// and erases, and the dataset-level diff between two database versions.
#include <cstdint>
#include <string>
#include <vector>

#include "cowdb/cowdb.h"
#include "examples/example_util.h"
#include "fmt/core.h"

using example::Check;
using example::Must;

int main() {
  // Element diff between two versions of a 1M-element vector: the cost follows the change.
  const cowdb::pvec<std::int64_t> v1(std::vector<std::int64_t>(1'000'000, 5));
  cowdb::pvec<std::int64_t> v2 = v1.set(10, 50).set(11, 51).set(500'000, -1);
  v2 = v2.take(999'990);
  for (std::int64_t i = 0; i < 3; ++i) v2 = std::move(v2).push_back(i);
  const auto d = cowdb::diff(v1, v2);
  fmt::print("{}\n", d);
  fmt::print("read {} chunk pairs, {} element comparisons (of {} elements)\n\n",
             d.stats().leaf_pairs, d.stats().elements_compared, v1.size());
  // Rows, not positions: 3 rows modified, the last 10 rows cut off, 3 new rows appended (even
  // where a new row sits at the position of a removed one).
  Check(d.modified_count() == 3 && d.truncated_count() == 10 && d.appended_count() == 3,
        "counts are exact");
  Check(d.stats().leaf_pairs <= 4, "unchanged chunks are skipped");
  Check(cowdb::patch(v1, d) == v2, "patch(v1, diff(v1, v2)) == v2");

  // Diff after inserts and erases: shared chunks are found again at their shifted positions, so
  // the diff names the inserted and erased rows instead of "everything after row 100 changed".
  cowdb::pvec<std::int64_t> v3 = v1.insert(100, std::vector<std::int64_t>{7, 8, 9});
  v3 = std::move(v3).erase(600'000, 600'002).insert(900'000, -9);
  const auto shifted = cowdb::diff(v1, v3);
  fmt::print("{}\n", shifted);
  fmt::print("read {} chunks, {} element comparisons (of {} elements)\n\n",
             shifted.stats().leaf_pairs, shifted.stats().elements_compared, v1.size());
  Check(
      shifted.inserted_count() == 4 && shifted.erased_count() == 2 && shifted.modified_count() == 0,
      "inserts and erases are reported as such");
  Check(shifted.stats().elements_compared < 8 * v1.chunk_capacity,
        "only the chunks around the edits are read");
  Check(cowdb::patch(v1, shifted) == v3, "patch(v1, diff(v1, v3)) == v3");

  // Dataset-level diff between two database versions.
  auto db = cowdb::Database::Open();
  {
    cowdb::Transaction txn = Must(db->Begin("main"));
    Must(txn.Create<std::int64_t>("prices", v1));
    Must(txn.Create<std::string>("notes", cowdb::pvec<std::string>{"a", "b", "c"}));
    Must(txn.Commit("load").status());
  }
  const cowdb::VersionId before = Must(db->Head("main"));
  {
    cowdb::Transaction txn = Must(db->Begin("main"));
    Must(txn.Edit<std::string>("notes"))->set(1, "B");
    Must(txn.Drop("prices"));
    Must(txn.Create<double>("weights", cowdb::pvec<double>(10, 0.5)));
    Must(txn.Commit("rework").status());
  }
  Must(db->CreateTag("before-rework", before));
  const cowdb::DatabaseDiff dd = Must(db->Diff("before-rework", "main"));  // by name or by id
  fmt::print("{}\n", dd);  // datasets added and removed, each change with its row text
  Check(dd.added == std::vector<std::string>{"weights"} &&
            dd.removed == std::vector<std::string>{"prices"} && dd.changed.size() == 1 &&
            dd.changed[0].name == "notes" && dd.changed[0].modified == 1,
        "the database diff lists what changed");
  fmt::print("all checks passed\n");
  return 0;
}
