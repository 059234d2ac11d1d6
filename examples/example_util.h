// Small helpers shared by the examples: fail-fast checks and human-readable sizes and times.
// (Examples are programs, so they exit on the first failed check; library code returns Status.)
#ifndef COWDB_EXAMPLES_EXAMPLE_UTIL_H_
#define COWDB_EXAMPLES_EXAMPLE_UTIL_H_

#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "cowdb/status.h"
#include "fmt/core.h"

namespace example {

// Exits with a message unless `ok`.
inline void Check(bool ok, const char* what) {
  if (!ok) {
    fmt::print(stderr, "CHECK FAILED: {}\n", what);
    std::exit(1);
  }
}

// Exits with the status message unless OK.
inline void Must(const absl::Status& s) {
  if (!s.ok()) {
    fmt::print(stderr, "error: {}\n", s.ToString());
    std::exit(1);
  }
}
template <class T>
T Must(absl::StatusOr<T> v) {
  Must(v.status());
  return *std::move(v);
}

inline std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) b /= 1024, ++u;
  return u == 0 ? fmt::format("{:.0f} {}", b, units[u]) : fmt::format("{:.1f} {}", b, units[u]);
}

inline std::string HumanTime(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.1f} µs", ns / 1e3);
  return fmt::format("{:.1f} ms", ns / 1e6);
}

// Wall time of f() in nanoseconds.
template <class F>
double TimeNs(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  std::forward<F>(f)();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace example

#endif  // COWDB_EXAMPLES_EXAMPLE_UTIL_H_
