#include "db/storage/checksum.h"

#include <xxhash.h>

namespace cowdb::storage {

std::uint64_t Checksum(absl::string_view data) { return XXH3_64bits(data.data(), data.size()); }

std::uint64_t Checksum(absl::string_view head, absl::string_view tail) {
  return XXH3_64bits_withSeed(tail.data(), tail.size(), Checksum(head));
}

}  // namespace cowdb::storage
