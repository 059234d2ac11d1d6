// cowdb_bench's console reporter, which keeps every repetition's times and counters for the
// RESULT lines, and the helpers that print figures. Included by cowdb_bench.cc only.
#ifndef COWDB_TESTS_BENCH_COLLECTING_REPORTER_H_
#define COWDB_TESTS_BENCH_COLLECTING_REPORTER_H_

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "fmt/format.h"

namespace cowdb_bench {

// The console reporter, showing only the median and cv of each benchmark (or the single run when
// there is one repetition), that also keeps every repetition's real and CPU time per iteration in
// ns and the user counters, keyed by the registered name.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  CollectingReporter(OutputOptions opts, bool use_cpu_time)
      : ConsoleReporter(opts), use_cpu_time_(use_cpu_time) {}

  bool use_cpu_time() const { return use_cpu_time_; }

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> shown;
    for (const Run& r : runs) {
      const std::string& name = r.run_name.function_name;
      if (r.error_occurred) {
        shown.push_back(r);
      } else if (r.run_type == Run::RT_Iteration) {
        const double to_ns = 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
        real_[name].push_back(r.GetAdjustedRealTime() * to_ns);
        cpu_[name].push_back(r.GetAdjustedCPUTime() * to_ns);
        for (const auto& [key, counter] : r.counters) counters_[name][key] = counter.value;
        real_seconds_ += r.real_accumulated_time;
        cpu_seconds_ += r.cpu_accumulated_time;
        if (r.repetitions <= 1) shown.push_back(r);
      } else if (r.aggregate_name == "median" || r.aggregate_name == "cv") {
        shown.push_back(r);
      }
    }
    if (!shown.empty()) ConsoleReporter::ReportRuns(shown);
  }

  // Median over the repetitions of the real (or, with --cpu-time, CPU) time per iteration, in
  // ns; always the real time with force_real.
  std::optional<double> median_ns(const std::string& name, bool force_real = false) const {
    return median(use_cpu_time_ && !force_real ? cpu_ : real_, name);
  }

  // The median CPU time over the median real time of a run with `threads` threads: the share
  // of its threads' time they were on a CPU (well below 1 when the machine was busy).
  std::optional<double> cpu_share(const std::string& name, int threads) const {
    const auto cpu = median(cpu_, name);
    const auto real = median(real_, name);
    if (!cpu || !real || *real <= 0) return std::nullopt;
    return *cpu / (*real * threads);
  }

  std::optional<double> counter(const std::string& name, const std::string& key) const {
    const auto it = counters_.find(name);
    if (it == counters_.end()) return std::nullopt;
    const auto c = it->second.find(key);
    if (c == it->second.end()) return std::nullopt;
    return c->second;
  }

  // CPU time / real time over all timed runs: well below 1 when other processes took the CPU,
  // which inflates the real-time medians.
  double cpu_share() const { return real_seconds_ > 0 ? cpu_seconds_ / real_seconds_ : 1.0; }

 private:
  using Samples = std::map<std::string, std::vector<double>>;
  static std::optional<double> median(const Samples& samples, const std::string& name) {
    const auto it = samples.find(name);
    if (it == samples.end() || it->second.empty()) return std::nullopt;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
  }

  bool use_cpu_time_;
  double real_seconds_ = 0;
  double cpu_seconds_ = 0;
  Samples real_;
  Samples cpu_;
  std::map<std::string, std::map<std::string, double>> counters_;
};

inline std::string human_ns(double ns) {
  if (ns < 1e3) return fmt::format("{:.1f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.2f} us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.2f} ms", ns / 1e6);
  return fmt::format("{:.2f} s", ns / 1e9);
}

inline std::string human_bytes(double b) {
  if (b < 1024) return fmt::format("{:.0f} B", b);
  if (b < 1024.0 * 1024) return fmt::format("{:.1f} KiB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
}

inline std::string machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::string model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
      break;
    }
  }
  return fmt::format("{}, {} hardware threads", model, std::thread::hardware_concurrency());
}

inline void print_cpu_share(const CollectingReporter& rep) {
  const double share = rep.cpu_share();
  fmt::print("cpu share: {:.0f}% of the timed wall time was on-CPU{}\n", share * 100,
             share >= 0.9 || rep.use_cpu_time()
                 ? ""
                 : " (the machine was busy: real-time medians are inflated; try --cpu-time)");
}

}  // namespace cowdb_bench

#endif  // COWDB_TESTS_BENCH_COLLECTING_REPORTER_H_
