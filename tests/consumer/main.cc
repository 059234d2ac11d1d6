// Uses the installed cowdb package the way an application would; exits non-zero on any mismatch.
#include <cstdint>
#include <cstdio>

#include "cowdb/cowdb.h"

int main() {
  cowdb::pvec<std::int64_t> base(10'000, 1);
  cowdb::pvec<std::int64_t> branch = base.set(5'000, 42);
  std::int64_t sum = 0;
  for (std::int64_t x : branch) sum += x;
  const bool ok = base[5'000] == 1 && branch[5'000] == 42 && sum == 10'000 - 1 + 42 &&
                  branch.shared_with(base).leaves + 1 == branch.memory().leaves;
  std::printf("consumer: %s (sum %lld)\n", ok ? "ok" : "MISMATCH", static_cast<long long>(sum));
  return ok ? 0 : 1;
}
