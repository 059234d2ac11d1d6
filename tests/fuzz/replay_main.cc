// main() of the fuzz targets in builds without libFuzzer (g++, with or without sanitizers): runs
// LLVMFuzzerTestOneInput once on each file named on the command line, a directory standing for
// the regular files in it (in name order, so a run is reproducible). ctest runs it on the
// checked-in corpus; it also replays a crash file that libFuzzer wrote:
//   build/tests/fuzz/pvec_fuzz_replay tests/fuzz/corpus/pvec_fuzz crash-1234...
// A failing input aborts (the target's checks call abort()); the input's name is printed before
// it runs. Exits with 1 if an argument cannot be read or no input was found.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include "fmt/format.h"
#include "fuzz/fuzz_target.h"

namespace {

namespace fs = std::filesystem;

// The files `arg` names: itself, or the regular files of a directory, sorted. Empty on error.
std::vector<fs::path> Inputs(const fs::path& arg, std::error_code& ec) {
  std::vector<fs::path> files;
  if (!fs::is_directory(arg, ec)) {
    if (!ec && fs::is_regular_file(arg, ec)) files.push_back(arg);
    return files;
  }
  for (const fs::directory_entry& e : fs::directory_iterator(arg, ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool Replay(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in.is_open()) return false;
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>()};
  fmt::print("replaying {} ({} bytes)\n", file.string(), bytes.size());
  std::fflush(stdout);
  // An empty vector's data() may be null; libFuzzer never passes null.
  static const std::uint8_t kEmpty = 0;
  const auto* data = bytes.empty() ? &kEmpty : reinterpret_cast<const std::uint8_t*>(bytes.data());
  LLVMFuzzerTestOneInput(data, bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int k = 1; k < argc; ++k) {
    std::error_code ec;
    const std::vector<fs::path> files = Inputs(argv[k], ec);
    if (ec || files.empty()) {
      fmt::print(stderr, "{}: no input in {}{}\n", argv[0], argv[k],
                 ec ? fmt::format(" ({})", ec.message()) : "");
      return 1;
    }
    for (const fs::path& f : files) {
      if (!Replay(f)) {
        fmt::print(stderr, "{}: cannot read {}\n", argv[0], f.string());
        return 1;
      }
      ++replayed;
    }
  }
  if (replayed == 0) {
    fmt::print(stderr, "usage: {} FILE_OR_DIRECTORY...\n", argv[0]);
    return 1;
  }
  fmt::print("{} inputs replayed, no failure\n", replayed);
  return 0;
}
