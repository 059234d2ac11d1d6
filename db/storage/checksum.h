// Checksums and fixed-width little-endian coding of the storage layer's on-disk formats.
//
// Checksum() is XXH3-64 (libxxhash): ~20 GB/s on one core, 64 bits, so a random corruption
// passes unnoticed with probability 2^-64. It is not a cryptographic hash: it protects against
// torn writes, bit rot and misdirected writes, not against an adversary. The two-argument form
// covers a header and a payload without copying them into one buffer.
//
// Every on-disk integer is little-endian regardless of the host, written and read byte by byte.
//
// Thread-safety: thread-safe (pure functions).
#ifndef COWDB_DB_STORAGE_CHECKSUM_H_
#define COWDB_DB_STORAGE_CHECKSUM_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace cowdb::storage {

// XXH3-64 of `data`. O(n), no allocation.
std::uint64_t Checksum(absl::string_view data);

// A checksum of `head` followed by `tail`: XXH3-64 of `tail` seeded with Checksum(head). Changes
// when either changes, or when a byte moves from one to the other. O(n), no allocation.
std::uint64_t Checksum(absl::string_view head, absl::string_view tail);

inline void PutFixed32(std::string* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline void PutFixed64(std::string* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// REQUIRES: p points to at least 4 (8) readable bytes.
inline std::uint32_t DecodeFixed32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

inline std::uint64_t DecodeFixed64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_CHECKSUM_H_
