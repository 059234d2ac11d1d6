// Validation of user-chosen names (branches, tags, datasets).
#ifndef COWDB_DB_NAMES_H_
#define COWDB_DB_NAMES_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace cowdb::internal {

inline constexpr std::size_t kMaxNameBytes = 255;

// OK for 1..255 bytes without whitespace or control characters; otherwise kInvalidArgument
// naming `kind` ("branch", "tag", "dataset") and the name.
absl::Status ValidateName(std::string_view kind, std::string_view name);

}  // namespace cowdb::internal

#endif  // COWDB_DB_NAMES_H_
