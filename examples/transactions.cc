// transactions — concurrent transactional experiments from several threads.
//
// Four threads each run an experiment on its own slice of one shared dataset and commit to the
// same branch at the same time: their commits touch different elements, so all succeed (the
// later ones are merged three-way with the moved head). Then one deliberate conflict: two
// transactions write the same element differently; the second commit fails with kAborted and
// names the element; it is resolved by retrying on the new head.
#include <cstdint>
#include <thread>
#include <vector>

#include "cowdb/cowdb.h"
#include "examples/example_util.h"
#include "fmt/core.h"

using example::Check;
using example::Must;

int main() {
  constexpr std::size_t kRows = 400'000;
  constexpr int kThreads = 4;
  auto db = cowdb::Database::Open();
  {
    cowdb::Transaction txn = Must(db->Begin("main"));
    Must(txn.Create<double>("scores", cowdb::pvec<double>(kRows, 1.0)));
    Must(txn.Commit("load scores").status());
  }

  // Concurrent experiments on disjoint slices: each thread scales its quarter by (t + 2).
  std::vector<int> retries(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::size_t lo = kRows / kThreads * static_cast<std::size_t>(t);
      const std::size_t hi = lo + kRows / kThreads;
      for (;;) {
        cowdb::Transaction txn = Must(db->Begin("main"));
        const auto scores = Must(txn.Get<double>("scores"));
        Must(txn.Put("scores", scores.transform(lo, hi, [t](double x) { return x * (t + 2); })));
        const absl::StatusOr<cowdb::VersionId> v = txn.Commit(fmt::format("scale slice {}", t));
        if (v.ok()) return;
        Check(absl::IsAborted(v.status()), "only conflicts make a commit fail");
        ++retries[static_cast<std::size_t>(t)];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  const auto scores = Must(Must(db->OpenSnapshot("main")).Get<double>("scores"));
  for (int t = 0; t < kThreads; ++t) {
    const std::size_t first = kRows / kThreads * static_cast<std::size_t>(t);
    fmt::print("thread {}: slice [{}, {}) scaled by {}, {} retries\n", t, first,
               first + kRows / kThreads, t + 2, retries[static_cast<std::size_t>(t)]);
    Check(scores[first] == t + 2 && scores[first + kRows / kThreads - 1] == t + 2,
          "every experiment's commit landed");
    Check(retries[static_cast<std::size_t>(t)] == 0, "disjoint writes never conflict");
  }
  const auto log = Must(db->Log("main"));
  fmt::print("history: {} versions, newest \"{}\"\n\n", log.size(), log.front().message);

  // A deliberate conflict: both transactions start at the same head and write row 7.
  cowdb::Transaction a = Must(db->Begin("main"));
  cowdb::Transaction b = Must(db->Begin("main"));
  Must(a.Edit<double>("scores"))->set(7, 100.0);
  Must(b.Edit<double>("scores"))->set(7, -1.0);
  Must(b.Edit<double>("scores"))->set(8, 42.0);
  Must(a.Commit("a: set row 7 to 100").status());
  const absl::StatusOr<cowdb::VersionId> failed = b.Commit("b: set row 7 to -1, row 8 to 42");
  fmt::print("second commit: {}\n", failed.status().ToString());
  Check(absl::IsAborted(failed.status()), "the same element written twice is kAborted");
  Check(b.conflicts().size() == 1 && b.conflicts()[0].dataset == "scores" &&
            b.conflicts()[0].index == 7,
        "the conflict names dataset and index");
  const cowdb::Conflict& c = b.conflicts()[0];
  fmt::print("conflict on \"{}\" row {}: this transaction wrote {}, the head has {}\n", c.dataset,
             c.index, c.ours_value, c.theirs_value);
  Check(c.kind == cowdb::conflict_kind::kValue && c.ours_action == cowdb::row_action::kModified &&
            c.theirs_action == cowdb::row_action::kModified && c.ours_value == "-1" &&
            c.theirs_value == "100",
        "the conflict says what each side did and both values");
  Check(Must(Must(db->OpenSnapshot("main")).Get<double>("scores"))[8] == 2.0,
        "a failed commit changes nothing");

  // Resolution: retry on the new head, deciding with the committed value in view.
  cowdb::Transaction retry = Must(db->Begin("main"));
  auto* edit = Must(retry.Edit<double>("scores"));
  fmt::print("retry sees row 7 = {}; keeps it and writes row 8\n", (*edit)[7]);
  edit->set(8, 42.0);
  Must(retry.Commit("b (retried): set row 8 to 42").status());
  const auto final_scores = Must(Must(db->OpenSnapshot("main")).Get<double>("scores"));
  Check(final_scores[7] == 100.0 && final_scores[8] == 42.0, "the retry landed");
  fmt::print("all checks passed\n");
  return 0;
}
