// Uses the installed header-only container (cowdb::pvec) alone: no cowdb library is linked.
// Exits non-zero on any mismatch.
#include <cstdint>
#include <cstdio>
#include <stdexcept>

#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"

int main() {
  cowdb::pvec<std::int64_t> base(10'000, 1);
  cowdb::pvec<std::int64_t> branch = base.set(5'000, 42);
  std::int64_t sum = 0;
  for (std::int64_t x : branch) sum += x;
  bool threw = false;
  try {
    (void)base.at(10'000);  // the error path is header-only too
  } catch (const std::out_of_range&) {
    threw = true;
  }
  const auto d = cowdb::diff(base, branch);
  const auto m = cowdb::merge(base, branch, base.set(7, 7));
  const bool ok = base[5'000] == 1 && branch[5'000] == 42 && sum == 10'000 - 1 + 42 &&
                  branch.shared_with(base).leaves == branch.memory().leaves &&
                  branch.memory().patches == 1 && threw && d.stats().leaf_pairs == 1 && m.ok() &&
                  m.merged()[5'000] == 42 && m.merged()[7] == 7;
  std::printf("pvec consumer: %s (sum %lld)\n", ok ? "ok" : "MISMATCH",
              static_cast<long long>(sum));
  return ok ? 0 : 1;
}
