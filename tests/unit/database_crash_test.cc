// Crash test of persistent databases: a child process commits in a loop and is killed with
// SIGKILL at a random moment, 200 times over one database directory; after each kill the parent
// reopens the directory and checks that it holds exactly the state after the commits the child
// acknowledged (through a pipe), or after one more (the commit in flight when it died), with
// every retained version readable and equal to what was committed. The child also compacts the
// files every 30 commits, so some kills land in a compaction.
//
// Replay: the kill delays come from Catch::rngSeed() (printed on failure):
//   cowdb_unit_tests --rng-seed <seed> "[crash]"
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/database.h"
#include "cowdb/options.h"
#include "cowdb/transaction.h"
#include "fmt/format.h"
#include "testing/db_helpers.h"
#include "testing/storage_helpers.h"

namespace {

using cowdb::Database;
using cowdb::testing::I64;

constexpr std::size_t kRows = 4096;

// Commit i's edits, applied to `rows` (the dataset "t") -- the child through a transaction, the
// parent on a plain vector (the model): the element at (i * 7919) % size becomes i; every third
// commit appends i; every seventh erases the first row.
template <class Rows>
void Apply(Rows& rows, std::uint64_t i) {
  const auto v = static_cast<I64>(i);
  rows.set((i * 7919) % rows.size(), v);
  if (i % 3 == 0) rows.push_back(v);
  if (i % 7 == 0) rows.erase(0);
}

struct VectorRows {
  std::vector<I64> v;
  std::size_t size() const { return v.size(); }
  void set(std::size_t k, I64 x) { v[k] = x; }
  void push_back(I64 x) { v.push_back(x); }
  void erase(std::size_t k) { v.erase(v.begin() + static_cast<std::ptrdiff_t>(k)); }
};

// The child: opens the database, then commits i = counter + 1, counter + 2, ... forever (until
// killed), writing i to `ack_fd` after each commit (and its branch and prune step) returned.
[[noreturn]] void Child(const std::string& dir, int ack_fd) {
  auto db =
      Database::Open(dir, cowdb::Options{.keep_last_versions = 3, .sync = cowdb::Sync::kNone});
  if (!db.ok()) _exit(10);
  auto snap = (*db)->OpenSnapshot("main");
  if (!snap.ok()) _exit(11);
  // After commit i (i % 10 == 0): branch b{i} at it, b{i - 30} deleted, a prune, and (i % 30 ==
  // 0) a compaction of the files. Idempotent: a child killed in the middle of it has it redone by
  // the next one before it goes on.
  auto branch_step = [&](std::uint64_t step) {
    const absl::Status s = (*db)->CreateBranch(fmt::format("b{}", step), "main");
    if (!s.ok() && !absl::IsAlreadyExists(s)) _exit(15);
    if (step > 30) (void)(*db)->DeleteBranch(fmt::format("b{}", step - 30));
    (*db)->Prune();
    if (step % 30 == 0 && !(*db)->Compact().ok()) _exit(17);
  };
  std::uint64_t i = 0;
  if (auto c = snap->Get<I64>("counter"); c.ok()) i = static_cast<std::uint64_t>((*c)[0]);
  if (i > 0 && i % 10 == 0) branch_step(i);
  for (;;) {
    ++i;
    {
      auto t = (*db)->Begin("main");
      if (!t.ok()) _exit(12);
      if (i == 1) {
        if (!t->Create<I64>("t", cowdb::testing::IotaVec(kRows)).ok()) _exit(13);
        if (!t->Create<I64>("counter", cowdb::pvec<I64>{0}).ok()) _exit(13);
      }
      auto* rows = *t->Edit<I64>("t");
      Apply(*rows, i);
      (*t->Edit<I64>("counter"))->set(0, static_cast<I64>(i));
      if (!t->Commit(fmt::format("commit {}", i)).ok()) _exit(14);
    }
    if (i % 10 == 0) branch_step(i);
    const std::string line = fmt::format("{}\n", i);
    if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(16);
  }
}

}  // namespace

TEST_CASE("crash: SIGKILL at random moments never loses an acknowledged commit",
          "[database][persistence][crash]") {
  cowdb::testing::TempDir dir;
  const std::uint64_t seed = Catch::rngSeed();
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  VectorRows model{cowdb::testing::Iota<I64>(kRows)};
  std::uint64_t applied = 0;  // commits applied to the model
  std::uint64_t in_flight = 0, total_acked = 0;
  constexpr int kKills = 200;
  for (int kill_no = 0; kill_no < kKills; ++kill_no) {
    CAPTURE(kill_no);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      Child(dir.path(), fds[1]);
    }
    close(fds[1]);
    // Let it run 0-30 ms (opening, then committing), then kill it wherever it is.
    const auto delay = static_cast<useconds_t>(rng() % 30'000);
    usleep(delay);
    REQUIRE(kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    // Killed by our signal (not exited with an error code before it).
    INFO("child status " << status);
    REQUIRE(WIFSIGNALED(status));
    std::string acks;
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
      acks.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    std::uint64_t last_ack = applied;
    for (std::size_t pos = 0, nl; (nl = acks.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      last_ack = std::stoull(acks.substr(pos, nl - pos));
      ++total_acked;
    }

    auto db =
        cowdb::testing::Ok(Database::Open(dir.path(), cowdb::Options{.keep_last_versions = 3}));
    std::uint64_t counter = 0;
    const cowdb::Snapshot head = cowdb::testing::Ok(db->OpenSnapshot("main"));
    if (head.Has("counter"))
      counter = static_cast<std::uint64_t>(cowdb::testing::Ok(head.Get<I64>("counter"))[0]);
    // Every acknowledged commit is there; at most the one in flight beyond them.
    INFO("acknowledged " << last_ack << ", found " << counter);
    REQUIRE(counter >= last_ack);
    REQUIRE(counter <= last_ack + 1);
    in_flight += counter - last_ack;
    for (; applied < counter;) Apply(model, ++applied);
    if (counter > 0) {
      REQUIRE(cowdb::testing::ToVector(cowdb::testing::Ok(head.Get<I64>("t"))) == model.v);
    }
    // The branches of the last steps, each at the commit it was made after.
    for (std::uint64_t j = 10; j + 1 < counter; j += 10) {
      const bool recent = j + 20 >= counter;
      auto b = db->OpenSnapshot(fmt::format("b{}", j));
      if (recent) {
        REQUIRE(b.ok());
        REQUIRE(cowdb::testing::Ok(b->Get<I64>("counter"))[0] == static_cast<I64>(j));
      } else if (j + 40 <= counter) {
        REQUIRE_FALSE(b.ok());
      }
    }
    // Every retained version of main's history reads back (loading checked every node).
    for (const cowdb::VersionInfo& v : cowdb::testing::Ok(db->Log("main"))) {
      const cowdb::Snapshot s = cowdb::testing::Ok(db->OpenSnapshot(v.id));
      if (s.Has("t")) REQUIRE(cowdb::testing::Ok(s.Get<I64>("t")).size() >= 1);
    }
  }
  // The test meant something: commits were acknowledged and lost to no kill.
  CHECK(total_acked > 50);
  CHECK(applied > 50);
  if (std::getenv("COWDB_CRASH_VERBOSE") != nullptr) {
    fmt::print("crash: {} kills, {} commits acknowledged, {} found beyond the acknowledged ones\n",
               kKills, total_acked, in_flight);
  }
}
