// CURRENT: the small file that names the current state of a database directory (LevelDB's
// CURRENT, which points at the live MANIFEST), replaced atomically.
//
// Format (little-endian): magic "cowdbCUR" | u32 format version (1) | u32 payload length |
//                         payload | u64 Checksum(every byte before it)
// The payload is the caller's (the name of the live manifest, a root record, ...).
//
// Guarantees. WriteCurrentFile writes CURRENT.tmp, fsyncs it, renames it over CURRENT and fsyncs
// the directory: after a crash or an I/O error at any point, CURRENT holds either the old or the
// new payload, never a mix, and when it returns OK the new payload survives power loss.
// ReadCurrentFile returns the payload exactly as written, or kDataLoss naming the file (and,
// for a bad field, its byte offset) if the file is missing, truncated, from another format, or
// any byte of it is flipped. A missing CURRENT is data loss, not "new database": a caller that
// creates databases decides that a directory is new before reading it (e.g. it is empty).
//
// Cost: a write is two fsyncs and a rename (~1-10 ms on disks); a read is one small pread.
//
// Thread-safety: thread-compatible; the directory lock keeps two writers apart.
#ifndef COWDB_DB_STORAGE_CURRENT_H_
#define COWDB_DB_STORAGE_CURRENT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/storage/file.h"

namespace cowdb::storage {

inline constexpr char kCurrentFileName[] = "CURRENT";
inline constexpr char kCurrentTempFileName[] = "CURRENT.tmp";
inline constexpr std::uint32_t kCurrentFormatVersion = 1;
// Larger payloads are refused by the writer (kInvalidArgument) and are corruption to the reader.
inline constexpr std::uint32_t kMaxCurrentPayload = 1u << 20;

// Atomically replaces `dir`/CURRENT with one holding `payload`. Returns the I/O error of the
// step that failed (CURRENT then still holds its old payload, or, if only the final directory
// fsync failed, the new one, not yet durable), or kInvalidArgument if the payload is larger
// than kMaxCurrentPayload. A CURRENT.tmp left by a failure is overwritten by the next call.
[[nodiscard]] absl::Status WriteCurrentFile(Env* env, const std::string& dir,
                                            absl::string_view payload);

// The payload of `dir`/CURRENT; kDataLoss naming the file if it is missing or corrupt, or the
// I/O error.
[[nodiscard]] absl::StatusOr<std::string> ReadCurrentFile(Env* env, const std::string& dir);

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_CURRENT_H_
