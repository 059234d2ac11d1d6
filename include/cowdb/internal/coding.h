// Internal: fixed-width little-endian coding of on-disk integers. Users never include this
// header. Every stored integer is little-endian whatever the host, written and read byte by byte.
//
// Thread-safety: thread-safe (pure functions).
#ifndef COWDB_INTERNAL_CODING_H_
#define COWDB_INTERNAL_CODING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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

// Reads fixed-width fields from the front of a byte string; each call returns false (reading
// nothing) when too few bytes are left.
class byte_reader {
 public:
  explicit byte_reader(std::string_view s) noexcept : s_(s) {}
  bool u8(std::uint8_t* v) noexcept {
    if (s_.empty()) return false;
    *v = static_cast<std::uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return true;
  }
  bool u32(std::uint32_t* v) noexcept {
    if (s_.size() < 4) return false;
    *v = DecodeFixed32(s_.data());
    s_.remove_prefix(4);
    return true;
  }
  bool u64(std::uint64_t* v) noexcept {
    if (s_.size() < 8) return false;
    *v = DecodeFixed64(s_.data());
    s_.remove_prefix(8);
    return true;
  }
  // A u32 length, then that many bytes.
  bool str(std::string* v) {
    std::uint32_t n = 0;
    if (s_.size() < 4 || s_.size() - 4 < (n = DecodeFixed32(s_.data()))) return false;
    v->assign(s_.data() + 4, n);
    s_.remove_prefix(4 + std::size_t{n});
    return true;
  }
  std::string_view& rest() noexcept { return s_; }

 private:
  std::string_view s_;
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_CODING_H_
