#include "db/names.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "fmt/format.h"

namespace cowdb::internal {

absl::Status ValidateName(std::string_view kind, std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(fmt::format("{} name is empty", kind));
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(fmt::format("{} name \"{}...\" is longer than {} bytes", kind,
                                                  name.substr(0, 16), kMaxNameBytes));
  }
  const bool bad = std::any_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isspace(u) != 0 || std::iscntrl(u) != 0;
  });
  if (bad) {
    return absl::InvalidArgumentError(
        fmt::format("{} name {:?} contains whitespace or control characters", kind, name));
  }
  return absl::OkStatus();
}

}  // namespace cowdb::internal
