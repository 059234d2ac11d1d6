// Checksums and fixed-width little-endian coding of the storage layer's on-disk formats.
//
// Checksum() is XXH3-64 (libxxhash): ~20 GB/s on one core, 64 bits, so a random corruption
// passes unnoticed with probability 2^-64. It is not a cryptographic hash: it protects against
// torn writes, bit rot and misdirected writes, not against an adversary. The two-argument form
// covers a header and a payload without copying them into one buffer.
//
// Every on-disk integer is little-endian regardless of the host (cowdb/internal/coding.h).
//
// Thread-safety: thread-safe (pure functions).
#ifndef COWDB_DB_STORAGE_CHECKSUM_H_
#define COWDB_DB_STORAGE_CHECKSUM_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "cowdb/internal/coding.h"

namespace cowdb::storage {

// XXH3-64 of `data`. O(n), no allocation.
std::uint64_t Checksum(absl::string_view data);

// A checksum of `head` followed by `tail`: XXH3-64 of `tail` seeded with Checksum(head). Changes
// when either changes, or when a byte moves from one to the other. O(n), no allocation.
std::uint64_t Checksum(absl::string_view head, absl::string_view tail);

// Checksum() of bytes given in pieces: after Reset(), Update(a), Update(b) ... Digest() equals
// Checksum(a + b + ...). Used for the bytes of a commit's nodes, which reach the log record by
// record. O(n) over the bytes; the state (about 600 bytes) is allocated once.
class ChecksumStream {
 public:
  ChecksumStream();
  ~ChecksumStream();
  ChecksumStream(const ChecksumStream&) = delete;
  ChecksumStream& operator=(const ChecksumStream&) = delete;

  void Reset();
  void Update(absl::string_view data);
  std::uint64_t Digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The little-endian coding (include/cowdb/internal/coding.h), shared with the node codec.
using internal::DecodeFixed32;
using internal::DecodeFixed64;
using internal::PutFixed32;
using internal::PutFixed64;

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_CHECKSUM_H_
