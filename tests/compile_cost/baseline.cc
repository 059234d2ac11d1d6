// The compile-cost baseline (tests/compile_cost/measure.sh): what any program using cowdb's
// dependencies pays -- fmt, Abseil's Status/StatusOr and Mutex -- without cowdb.
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

int main() {
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  const absl::StatusOr<int> answer = 42;
  fmt::print("{}\n", *answer);
  return 0;
}
