// Fuzz target: cowdb::Database against the model of tests/testing/db_model.h (the one the
// database model test runs), with the fuzzer's bytes making every choice: which operation, on
// which branch, tag, version, dataset, index and value. Transactions race (up to three open on
// the same or different branches), commits conflict or merge, transactions are used after they
// finished, names are unknown or malformed, indices are out of range, branches are merged,
// renamed and deleted under open transactions, versions are pruned.
//
// Input: the last bytes pick the options (keep_last_versions 0..6 or unset, auto_prune, conflict
// mode), then the operations read their choices until the input is used up (FuzzedDataProvider
// reads integers from the end). Everything is compared with the model after EVERY operation
// (ModelConfig::full_check_every = 1): an operation that fails must leave every branch, tag,
// retained version, held snapshot and open transaction as the model has it. When the database
// is gone every pvec node must be freed. A failed check prints the step and operation and aborts.
//
// Builds: see tests/fuzz/CMakeLists.txt (a libFuzzer binary with clang, a corpus replay under
// ctest otherwise).
#include <FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cowdb/internal/node.h"
#include "cowdb/options.h"
#include "fmt/format.h"
#include "fuzz/fuzz_target.h"
#include "testing/db_model.h"

namespace {

// The most operations one input runs (inputs of a few KiB run out well before).
constexpr int kMaxSteps = 4000;

class FuzzerChoices : public cowdb::testing::ModelChoices {
 public:
  explicit FuzzerChoices(FuzzedDataProvider& in) : in_(in) {}
  std::size_t Below(std::size_t n) override {
    return in_.ConsumeIntegralInRange<std::size_t>(0, n - 1);
  }
  bool More() const override { return in_.remaining_bytes() > 0; }

 private:
  FuzzedDataProvider& in_;
};

void Abort(const std::string& message) {
  fmt::print(stderr, "db_fuzz: {}\n", message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  cowdb::Options options;
  const std::size_t keep = in.ConsumeIntegralInRange<std::size_t>(0, 7);  // 7: unset
  if (keep < 7) options.keep_last_versions = keep;
  options.auto_prune = in.ConsumeBool();
  options.conflict_mode =
      in.ConsumeBool() ? cowdb::ConflictMode::kDataset : cowdb::ConflictMode::kElement;
  const std::int64_t live0 = cowdb::internal::live_nodes();
  {
    FuzzerChoices choices(in);
    cowdb::testing::DatabaseModel model(
        choices, options, cowdb::testing::ModelConfig{.fail = &Abort, .full_check_every = 1});
    model.Run(kMaxSteps);
  }
  const std::int64_t live = cowdb::internal::live_nodes();
  if (live != live0) {
    Abort(fmt::format("{} pvec nodes alive after the database is gone, {} before it", live, live0));
  }
  return 0;
}
