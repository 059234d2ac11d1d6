// A database that outlives its process: run this program twice on the same directory.
//
//   reopen <dir>
//
// First run (no database in <dir> yet): loads 200,000 sensor readings, runs two experiments on
// branches ("clean" drops the negative readings, "calibrate" corrects three sensors), tags the
// load, and exits. Second run: reopens the directory, finds the branches, tag and history the
// first run left, diffs each experiment against the tagged load (rows are followed by identity:
// the "clean" diff names exactly the dropped readings), merges both into main and checks the
// result. A third run finds the merges and says so. Each run checks its own facts and exits
// non-zero if one fails (ctest runs it twice on a fresh directory).
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cowdb/cowdb.h"
#include "examples/example_util.h"
#include "fmt/core.h"

namespace {

using example::Check;
using example::Must;

struct Reading {
  std::int64_t sensor;
  std::int64_t time;
  double value;
  friend bool operator==(const Reading&, const Reading&) = default;
};

constexpr std::size_t kRows = 200'000;
constexpr std::size_t kNegative = kRows / 100;  // every 100th reading is a glitch (< 0)

void FirstRun(cowdb::Database& db) {
  std::vector<Reading> rows(kRows);
  for (std::size_t i = 0; i < kRows; ++i) {
    const auto sensor = static_cast<std::int64_t>(i % 1000);
    rows[i] = {sensor, static_cast<std::int64_t>(i / 1000), i % 100 == 99 ? -1.0 : 20.0 + i % 7};
  }
  {
    cowdb::Transaction txn = Must(db.Begin("main"));
    Must(txn.Create<Reading>("readings", cowdb::pvec<Reading>(rows)));
    Must(txn.Commit("load 200k readings").status());
  }
  Must(db.CreateTag("loaded", "main"));
  Must(db.CreateBranch("clean", "main"));
  Must(db.CreateBranch("calibrate", "main"));
  {  // clean: drop the glitches
    cowdb::Transaction txn = Must(db.Begin("clean"));
    auto* r = Must(txn.Edit<Reading>("readings"));
    const std::size_t dropped = r->erase_if([](const Reading& x) { return x.value < 0; });
    Check(dropped == kNegative, "clean dropped every negative reading");
    Must(txn.Commit("drop negative readings").status());
  }
  {  // calibrate: sensors 3, 5 and 7 read 0.5 too high in their first reading
    cowdb::Transaction txn = Must(db.Begin("calibrate"));
    auto* r = Must(txn.Edit<Reading>("readings"));
    for (const std::size_t row : {3, 5, 7}) {
      r->update(row, [](const Reading& x) { return Reading{x.sensor, x.time, x.value - 0.5}; });
    }
    Must(txn.Commit("calibrate sensors 3, 5, 7").status());
  }
  fmt::print(
      "first run: loaded {} readings, ran \"clean\" and \"calibrate\"; run again to "
      "reopen them\n",
      kRows);
}

void SecondRun(cowdb::Database& db) {
  fmt::print("second run: reopened; branches:");
  for (const cowdb::BranchInfo& b : db.Branches()) fmt::print(" {} (at {})", b.name, b.head);
  fmt::print("\n");
  Check(db.Branches().size() == 3, "the first run's three branches are back");

  // Diff each experiment against the tagged load: by row identity, not position.
  const cowdb::DatabaseDiff clean = Must(db.Diff("loaded", "clean"));
  Check(clean.changed.size() == 1 &&
            clean.changed[0].erased + clean.changed[0].truncated == kNegative &&
            clean.changed[0].modified == 0 && clean.changed[0].inserted == 0,
        "the clean diff names exactly the dropped readings");
  const cowdb::DatabaseDiff calibrate = Must(db.Diff("loaded", "calibrate"));
  Check(calibrate.changed.size() == 1 && calibrate.changed[0].modified == 3,
        "the calibrate diff names the three corrected readings");
  for (const char* name : {"clean", "calibrate"}) {
    const cowdb::DatabaseDiff d = Must(db.Diff("loaded", name));
    for (const cowdb::DatasetChange& c : d.changed) {
      fmt::print("  {:<10} vs loaded: {} modified, {} erased, {} inserted\n", name, c.modified,
                 c.erased + c.truncated, c.inserted + c.appended);
    }
  }

  // Both experiments touched different rows: they merge into main without a conflict.
  Must(db.Merge("clean", "main", "adopt clean").status());
  Must(db.Merge("calibrate", "main", "adopt calibrate").status());
  const cowdb::pvec<Reading> main = Must(Must(db.OpenSnapshot("main")).Get<Reading>("readings"));
  Check(main.size() == kRows - kNegative, "main lost exactly the negative readings");
  Check(main[3].value == 20.0 + 3 - 0.5 && main[5].value == 20.0 + 5 - 0.5,
        "main kept the calibration");
  fmt::print("  merged both into main: {} readings\n", main.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: reopen <directory>   (run it twice)\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  // Open creates the database when the directory is missing or empty, else reopens it.
  auto db = Must(cowdb::Database::Open(dir));
  const cowdb::History log = Must(db->Log("main"));
  if (log.size() == 1) {  // only the initial empty version: a new database
    FirstRun(*db);
  } else if (log.front().parents.size() < 2) {  // main's head is not a merge yet
    SecondRun(*db);
  } else {
    fmt::print("the experiments were merged by an earlier run: {}\n", log.front().message);
  }
  return 0;
}
