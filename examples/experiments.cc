// experiments — the flagship: branch a 1M-row dataset for several experiments without deep
// copies, transform each branch, see exactly what is shared, diff and merge the results --
// in a persistent database, which is closed and reopened at the end with everything in it.
//
// Every claim printed is also checked; a failed check exits non-zero.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "cowdb/cowdb.h"
#include "examples/example_util.h"
#include "fmt/core.h"

using example::Check;
using example::HumanBytes;
using example::HumanTime;
using example::Must;
using example::TimeNs;

namespace {

// A record dataset next to the numbers: element types are any copyable, comparable struct.
struct Trade {
  std::int64_t id;
  double price;
  std::int32_t quantity;
  bool operator==(const Trade&) const = default;
};

using Numbers = cowdb::pvec<std::int64_t>;

void PrintMemory(const cowdb::Database& db, const char* when) {
  fmt::print("-- memory {} --\n{}\n\n", when, db.GetMemoryReport());
}

}  // namespace

int main() {
  constexpr std::size_t kRows = 1'000'000;
  // A persistent database in a scratch directory (created; removed at the end).
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / fmt::format("cowdb-experiments-{}", ::getpid());
  std::filesystem::remove_all(dir);
  auto db = Must(cowdb::Database::Open(dir));

  // 1. Load: one million numbers and one million trades.
  std::vector<std::int64_t> raw(kRows);
  std::iota(raw.begin(), raw.end(), 0);
  std::vector<Trade> trades(kRows);
  for (std::size_t i = 0; i < kRows; ++i) {
    trades[i] = {static_cast<std::int64_t>(i), 100.0 + static_cast<double>(i % 50), 10};
  }
  cowdb::VersionId load;
  {
    cowdb::Transaction txn = Must(db->Begin("main"));
    Must(txn.Create<std::int64_t>("numbers", Numbers(raw)));
    Must(txn.Create<Trade>("trades", cowdb::pvec<Trade>(trades)));
    load = Must(txn.Commit("load 1M numbers and 1M trades"));
  }

  // 2. Three experiment branches: O(1) each, against a deep copy of the rows.
  const double branch_ns = TimeNs([&] {
                             for (const char* name : {"double", "plus100", "filter"})
                               Must(db->CreateBranch(name, "main"));
                           }) /
                           3;
  std::vector<std::int64_t> deep;
  const double deep_ns = TimeNs([&] { deep = raw; });
  fmt::print("{:<34}{:>10}\n{:<34}{:>10}\n\n", "create a branch (O(1))", HumanTime(branch_ns),
             "deep copy of the 1M numbers", HumanTime(deep_ns));
  PrintMemory(*db, "after branching: everything shared");
  for (const cowdb::RefMemory& b : db->GetMemoryReport().branches) {
    Check(b.exclusive_bytes == 0, "fresh branches keep nothing alone");
  }

  // 3. A different transformation on each branch.
  {  // double: x * 2 on every number (rewrites every chunk)
    cowdb::Transaction txn = Must(db->Begin("double"));
    const Numbers n = Must(txn.Get<std::int64_t>("numbers"));
    Must(txn.Put("numbers", n.transform([](std::int64_t x) { return x * 2; })));
    Must(txn.Commit("numbers x 2").status());
  }
  {  // plus100: x + 100 on the first 1,000 rows only (two chunks)
    cowdb::Transaction txn = Must(db->Begin("plus100"));
    const Numbers n = Must(txn.Get<std::int64_t>("numbers"));
    Must(txn.Put("numbers", n.transform(0, 1000, [](std::int64_t x) { return x + 100; })));
    Must(txn.Commit("first 1000 numbers + 100").status());
  }
  {  // filter: drop the trades priced at 149 (1 in 50), in one pass that shares untouched chunks
    cowdb::Transaction txn = Must(db->Begin("filter"));
    auto* t = Must(txn.Edit<Trade>("trades"));
    const std::size_t removed = t->erase_if([](const Trade& x) { return x.price == 149.0; });
    Check(removed == kRows / 50, "erase_if removed every trade priced 149");
    Must(txn.Commit("drop the trades priced 149").status());
  }
  {  // meanwhile on main: fix the quantity of 5 trades the filter keeps
    cowdb::Transaction txn = Must(db->Begin("main"));
    auto* t = Must(txn.Edit<Trade>("trades"));
    for (std::size_t i = 1; i <= 5; ++i) {
      t->update(i * 1000, [](const Trade& x) { return Trade{x.id, x.price, 99}; });
    }
    Must(txn.Commit("fix 5 quantities").status());
  }
  PrintMemory(*db, "after the experiments");
  for (const cowdb::RefMemory& b : db->GetMemoryReport().branches) {
    if (b.name == "plus100") Check(b.exclusive_bytes < 16 * 1024, "x+100 on 1000 rows: ~2 chunks");
    if (b.name == "double") Check(b.exclusive_bytes >= 8 * kRows, "x*2 rewrote every number");
  }

  // 4. The cost of a write: the first write to a shared chunk makes a small patch over it (the
  //    chunk is not copied), later ones store into the transaction's own patch.
  {
    cowdb::Transaction txn = Must(db->Begin("plus100"));
    auto* n = Must(txn.Edit<std::int64_t>("numbers"));
    const double first = TimeNs([&] { n->set(500'000, -1); });
    const double later = TimeNs([&] { n->set(500'001, -1); });
    fmt::print("{:<34}{:>10}\n{:<34}{:>10}\n\n", "first write to a shared chunk", HumanTime(first),
               "second write, same chunk", HumanTime(later));
    Must(txn.Commit("two more writes").status());
  }

  // 5. Diff each experiment against the version it branched from: rows are followed by identity,
  // so the filter's diff names exactly the rows it removed, not the rows that shifted.
  for (const char* name : {"double", "plus100", "filter"}) {
    const cowdb::DatabaseDiff d = Must(db->Diff(load, Must(db->Head(name))));
    for (const cowdb::DatasetChange& c : d.changed) {
      fmt::print("{:<8} vs load: {:<8} {:>9} modified {:>6} erased {:>3} inserted\n", name, c.name,
                 c.modified, c.erased + c.truncated, c.inserted + c.appended);
    }
  }
  const cowdb::DatabaseDiff p = Must(db->Diff(load, Must(db->Head("plus100"))));
  Check(p.changed.size() == 1 && p.changed[0].modified == 1002, "plus100 changed 1002 numbers");
  const cowdb::DatabaseDiff f = Must(db->Diff(load, Must(db->Head("filter"))));
  Check(f.changed.size() == 1 && f.changed[0].erased + f.changed[0].truncated == kRows / 50 &&
            f.changed[0].modified == 0 && f.changed[0].inserted == 0,
        "the filter's diff names exactly the removed trades");

  // 6. Merge the compatible experiments back into main, then show the history. The filter and
  // main's fixes touched different rows: no conflict, every fix and every removal kept.
  Must(db->Merge("filter", "main", "adopt the filter").status());
  const cowdb::pvec<Trade> kept = Must(Must(db->OpenSnapshot("main")).Get<Trade>("trades"));
  Check(kept.size() == kRows - kRows / 50, "main lost exactly the filtered trades");
  std::size_t fixed = 0;
  for (std::span<const Trade> chunk : kept.chunks()) {  // a scan: one span per chunk
    for (const Trade& t : chunk) fixed += t.quantity == 99;
  }
  Check(fixed == 5, "main kept its 5 fixes through the filter's merge");
  fmt::print("\nmerge filter -> main: {} trades kept, {} fixes kept, no conflict\n", kept.size(),
             fixed);
  Must(db->Merge("plus100", "main", "adopt plus100").status());
  const Numbers merged = Must(Must(db->OpenSnapshot("main")).Get<std::int64_t>("numbers"));
  Check(merged[10] == 110 && merged[500'000] == -1 && merged[2000] == 2000,
        "main has plus100's changes");
  std::vector<cowdb::Conflict> conflicts;
  const absl::Status clash =
      db->Merge("double", "main", "adopt double", cowdb::MergePolicy::kFail, &conflicts).status();
  fmt::print("\nmerge double -> main: {} ({} conflicting elements)\n", clash.message(),
             conflicts.size());
  // Both changed rows 0..999 and 500,000..500,001; rows 0 and 100 agree (0*2 == 0, 100*2 == 200
  // == 100+100), so 998 + 2 elements conflict.
  Check(absl::IsAborted(clash) && conflicts.size() == 1000, "x*2 conflicts where plus100 wrote");

  fmt::print("\nhistory of main:\n");
  for (const cowdb::VersionInfo& v : Must(db->Log("main"))) {
    fmt::print("  {:<4} {}{}\n", fmt::format("{}", v.id), v.message,
               v.parents.size() == 2 ? "  (merge)" : "");
  }

  // 7. Everything is on disk: close the database, reopen it, and the history and data are back.
  const std::size_t versions = Must(db->Log("main")).size();
  const cowdb::Snapshot before = Must(db->OpenSnapshot("main"));
  const cowdb::pvec<Trade> trades_before = Must(before.Get<Trade>("trades"));
  const Numbers numbers_before = Must(before.Get<std::int64_t>("numbers"));
  db.reset();
  const double reopen_ns = TimeNs([&] { db = Must(cowdb::Database::Open(dir)); });
  const cowdb::Snapshot after = Must(db->OpenSnapshot("main"));
  Check(Must(db->Log("main")).size() == versions && after.id() == before.id() &&
            Must(after.Get<Trade>("trades")) == trades_before &&
            Must(after.Get<std::int64_t>("numbers")) == numbers_before,
        "the reopened database holds the same history and data");
  fmt::print("\nreopened in {}: {} versions of main, the same trades and numbers\n",
             HumanTime(reopen_ns), versions);
  db.reset();
  std::filesystem::remove_all(dir);
  fmt::print("\nall checks passed\n");
  return 0;
}
