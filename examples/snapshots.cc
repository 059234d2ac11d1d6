// snapshots — application code opening snapshots by branch, version id and tag.
//
// A reader thread holds a snapshot while a writer commits many versions: the reader's data never
// changes. Then time travel: open an old version by id and by tag. Checks every claim it prints.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <thread>

#include "cowdb/cowdb.h"
#include "examples/example_util.h"
#include "fmt/core.h"

namespace {

using example::Check;
using example::Must;

std::int64_t Sum(const cowdb::pvec<std::int64_t>& v) {
  std::int64_t s = 0;
  for (std::span<const std::int64_t> chunk : v.chunks()) {  // contiguous runs: vectorized
    for (std::int64_t x : chunk) s += x;
  }
  return s;
}

}  // namespace

int main() {
  auto db = cowdb::Database::Open();
  {
    cowdb::Transaction txn = Must(db->Begin("main"));
    Must(txn.Create<std::int64_t>("balances", cowdb::pvec<std::int64_t>(100'000, 10)));
    Must(txn.Commit("open 100,000 accounts with 10 each").status());
  }
  Must(db->CreateTag("opening", "main"));
  const cowdb::VersionId opening = Must(db->Head("main"));

  // A reader pins the current version and keeps reading it while a writer commits.
  const cowdb::Snapshot pinned = Must(db->OpenSnapshot("main"));
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<bool> changed{false};
  std::thread reader([&] {
    const auto balances = Must(pinned.Get<std::int64_t>("balances"));
    while (!done.load()) {
      if (Sum(balances) != 1'000'000) changed = true;
      ++reads;
    }
  });
  while (reads.load() == 0) std::this_thread::yield();  // the reader is running
  constexpr int kCommits = 200;
  for (int i = 0; i < kCommits; ++i) {
    cowdb::Transaction txn = Must(db->Begin("main"));
    auto* balances = Must(txn.Edit<std::int64_t>("balances"));
    balances->update(static_cast<std::size_t>(i) * 499, [](std::int64_t x) { return x + 1; });
    Must(txn.Commit(fmt::format("deposit #{}", i)).status());
  }
  const int before_last = reads.load();
  while (reads.load() < before_last + 2) std::this_thread::yield();  // scans after every commit
  done = true;
  reader.join();
  fmt::print("reader: {} full scans of its snapshot {} while {} commits landed; sum stayed {}\n",
             reads.load(), pinned.id(), kCommits, Sum(Must(pinned.Get<std::int64_t>("balances"))));
  Check(!changed.load(), "a pinned snapshot never changes");

  // Open by branch, by version id, by tag.
  const cowdb::Snapshot head = Must(db->OpenSnapshot("main"));
  const cowdb::Snapshot by_id = Must(db->OpenSnapshot(opening));
  const cowdb::Snapshot by_tag = Must(db->OpenSnapshot("opening"));
  const auto now = Sum(Must(head.Get<std::int64_t>("balances")));
  const auto then = Sum(Must(by_id.Get<std::int64_t>("balances")));
  fmt::print("{:<22}{:>8}{:>14}\n", "opened by", "version", "total");
  fmt::print("{:<22}{:>8}{:>14}\n", "branch \"main\"", fmt::format("{}", head.id()), now);
  fmt::print("{:<22}{:>8}{:>14}\n", "version id", fmt::format("{}", by_id.id()), then);
  fmt::print("{:<22}{:>8}{:>14}\n", "tag \"opening\"", fmt::format("{}", by_tag.id()),
             Sum(Must(by_tag.Get<std::int64_t>("balances"))));
  Check(now == 1'000'000 + kCommits, "head has every deposit");
  Check(then == 1'000'000 && by_tag.id() == by_id.id(), "time travel sees the opening state");

  // Datasets of a snapshot and a clear error for a wrong element type.
  for (const cowdb::DatasetInfo& d : head.Datasets()) {
    fmt::print("dataset {} : {} x {}\n", d.name, d.size, d.type);
  }
  const absl::Status wrong = head.Get<double>("balances").status();
  fmt::print("Get<double>(\"balances\") -> {}\n", wrong.ToString());
  Check(absl::IsInvalidArgument(wrong), "wrong element type is kInvalidArgument");
  Check(absl::IsNotFound(db->OpenSnapshot("nope").status()), "unknown branch is kNotFound");
  fmt::print("all checks passed\n");
  return 0;
}
