// Model-based randomized test of cowdb::Database: branches, tags, snapshots, interleaved
// optimistic transactions, commits that race with other commits, branch merges and pruning,
// against a plain model. The model and the random operations are in tests/testing/db_model.h
// (shared with the fuzz target tests/fuzz/db_fuzz.cc); here they are driven by a seeded
// generator, with everything compared every 32 steps.
//
// Replay: the seed comes from Catch::rngSeed(); a failure prints seed, step and operation.
//   cowdb_model_tests --rng-seed <seed> "[dbmodel]"
// COWDB_MODEL_VERBOSE=1 prints the operation counts of each run.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>

#include "cowdb/internal/node.h"
#include "cowdb/options.h"
#include "fmt/format.h"
#include "testing/db_model.h"
#include "testing/storage_helpers.h"

namespace {

using cowdb::testing::DatabaseModel;
using cowdb::testing::ModelConfig;
using cowdb::testing::RunStats;

// The model's choices from a seeded generator.
class SeededChoices : public cowdb::testing::ModelChoices {
 public:
  explicit SeededChoices(std::uint64_t seed) : rng_(seed) {}
  std::size_t Below(std::size_t n) override { return static_cast<std::size_t>(rng_() % n); }

 private:
  std::mt19937_64 rng_;
};

void FailTest(const std::string& message) { FAIL(message); }

void RunModel(std::string_view config, const cowdb::Options& options, int steps, std::uint64_t salt,
              const std::string& persist_dir = "") {
  const std::uint64_t seed = (static_cast<std::uint64_t>(Catch::rngSeed()) << 8) + salt;
  const std::string name(config);
  CAPTURE(name, seed, Catch::rngSeed());
  const std::int64_t live0 = cowdb::internal::live_nodes();
  REQUIRE(live0 >= 0);  // node accounting is on (tests/testing/node_accounting.cc)
  RunStats st;
  {
    SeededChoices choices(seed);
    DatabaseModel model(
        choices, options,
        ModelConfig{.fail = &FailTest, .persist_dir = persist_dir, .reopen_one_in = 300});
    model.Run(steps);
    st = model.stats();
  }
  if (std::getenv("COWDB_MODEL_VERBOSE") != nullptr) {
    fmt::print(
        "{}: {} steps, {} txns, commits {} fast / {} merged / {} aborted ({} structural) / {} "
        "not found, merges {} ff / {} noop / {} 3-way / {} conflict / {} base pruned / {} "
        "skipped, {} with an open row order, {} pruned, {} full checks, {} snapshot checks, {} "
        "checks, "
        "{} reopens, {} compactions\n",
        config, st.steps, st.begun, st.commits_fast, st.commits_merged, st.commits_aborted,
        st.commits_structural, st.commits_not_found, st.merges_ff, st.merges_noop, st.merges_3way,
        st.merges_conflict, st.merges_base_pruned, st.merges_skipped, st.merges_unordered,
        st.pruned, st.full_checks, st.snapshots_checked, st.checks, st.reopens, st.compactions);
  }
  // Every node is freed once the database, the snapshots and the transactions are gone.
  CHECK(cowdb::internal::live_nodes() == live0);
  // The run exercised what it is meant to (a mix of racing commits that merge and that conflict).
  CHECK(st.steps == static_cast<std::uint64_t>(steps));
  CHECK(st.commits_fast > 0);
  CHECK(st.commits_merged > 0);
  CHECK(st.commits_aborted > 0);
  CHECK(st.merges_3way + st.merges_conflict > 0);
  // Merges whose row order the model leaves to the database (criss-cross histories; see
  // MergeRows) stay rare, so that nearly every merge is predicted exactly.
  CHECK(st.merges_unordered * 20 <=
        st.merges_3way + st.merges_conflict + st.commits_merged + st.commits_aborted);
  CHECK(st.snapshots_checked > st.full_checks);
  if (!persist_dir.empty()) CHECK(st.reopens >= 5);
  if (!persist_dir.empty()) CHECK(st.compactions >= 5);
}

}  // namespace

TEST_CASE("database model: element conflicts, explicit Prune keeping 5", "[dbmodel]") {
  RunModel("element/prune5", cowdb::Options{.keep_last_versions = 5}, 100'000, 1);
}

TEST_CASE("database model: auto_prune keeping 1", "[dbmodel]") {
  RunModel("element/auto1", cowdb::Options{.keep_last_versions = 1, .auto_prune = true}, 30'000, 2);
}

TEST_CASE("database model: dataset conflicts", "[dbmodel]") {
  RunModel("dataset/prune4",
           cowdb::Options{.conflict_mode = cowdb::ConflictMode::kDataset, .keep_last_versions = 4},
           30'000, 3);
}

// The same on persistent databases, closed and reopened at random points (about every 300
// steps): after each reopen every branch, tag and retained version equals the model.
TEST_CASE("database model: persistent, reopened at random points", "[dbmodel][persistence]") {
  cowdb::testing::TempDir dir;
  RunModel("persistent/prune5", cowdb::Options{.keep_last_versions = 5, .sync = cowdb::Sync::kNone},
           30'000, 4, dir.path());
}

TEST_CASE("database model: persistent with auto_prune and fsync on every commit",
          "[dbmodel][persistence]") {
  cowdb::testing::TempDir dir;
  RunModel("persistent/auto1-sync",
           cowdb::Options{
               .keep_last_versions = 1, .auto_prune = true, .sync = cowdb::Sync::kEveryCommit},
           10'000, 5, dir.path());
}
