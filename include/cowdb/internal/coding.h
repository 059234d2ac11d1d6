// Internal: fixed-width little-endian coding of on-disk integers. Users never include this
// header. Every stored integer is little-endian whatever the host, written and read byte by byte.
//
// Thread-safety: thread-safe (pure functions).
#ifndef COWDB_INTERNAL_CODING_H_
#define COWDB_INTERNAL_CODING_H_

#include <cstdint>
#include <string>

namespace cowdb::internal {

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

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_CODING_H_
