// An append-only log of checksummed records (LevelDB/RocksDB's write-ahead log, without blocks).
//
// Format (all integers little-endian):
//   file header, 32 bytes: magic "cowdbLOG" | u32 format version (1) | u32 zero |
//                          u64 database id | u64 Checksum(the 24 bytes before it)
//   record:                u32 payload length | u8 type (1..255) | 3 zero bytes |
//                          u32 header check = low 32 bits of Checksum(the 8 bytes before it) |
//                          u64 Checksum(the first 8 bytes, payload) | payload
// Every byte of a file is covered by a check, so a flipped byte anywhere is found. The header
// check makes the length trustworthy before it is used: a corrupt length is reported as
// corruption, never taken for a torn tail.
//
// What reading guarantees. RecordLogReader::Next returns the records in order, each exactly as
// appended, or stops with one of:
//   kEnd       the file ends after a complete record (or after its header);
//   kTornTail  the file ends inside a record (or inside the file header), or everything from a
//              record's start to the end of the file is zero bytes (a file system that grew the
//              file but had not written its data before a crash). This is the normal result of
//              a crash during Append: the caller treats the log as ending at valid_end() and
//              truncates the file to it before appending again;
//   an error   kDataLoss naming the file and byte offset: a bad file header (another format,
//              another format version, another database), or a record whose header check or
//              checksum fails although the file goes on past it (bad length, flipped byte).
//              Never wrong data. kNotFound if the file is missing; I/O errors as they come.
//
// What writing guarantees. Append writes one record with one write call; with
// SyncMode::kEveryAppend it returns only after fdatasync (and, for a new file, an fsync of its
// directory), so an acknowledged record survives power loss; with kNone only a process crash.
// After any failed write or sync the writer is broken: every later call returns that error
// (the file's tail is unknown; fsync errors cannot be retried safely). Reopen and recover.
//
// Costs: Append O(payload) (it copies the payload once into a frame buffer) + one write + the
// sync; Next two preads per record, allocating the payload.
//
// Thread-safety: thread-compatible: one reader or writer per thread. Nothing stops a writer and
// a reader of the same file in one process; the database directory lock (file.h) stops two
// processes.
#ifndef COWDB_DB_STORAGE_RECORD_LOG_H_
#define COWDB_DB_STORAGE_RECORD_LOG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/storage/file.h"

namespace cowdb::storage {

inline constexpr std::size_t kLogFileHeaderSize = 32;
inline constexpr std::size_t kLogRecordHeaderSize = 20;
inline constexpr std::uint32_t kLogFormatVersion = 1;
// Larger payloads are refused by Append (kInvalidArgument) and are corruption to the reader.
inline constexpr std::uint32_t kMaxLogRecordPayload = 1u << 30;

struct LogRecord {
  std::uint8_t type = 0;  // 1..255, chosen by the caller
  std::string payload;
  std::uint64_t offset = 0;  // where the record starts in the file
};

enum class LogReadResult { kRecord, kEnd, kTornTail };

class RecordLogReader {
 public:
  // Opens the log at `path` and checks its header against `database_id`. Returns kNotFound if
  // the file is missing, kDataLoss if its header is not that of a log of this format version
  // and database. A file shorter than its header whose bytes match the header's beginning is
  // a torn tail at offset 0 (a crash while creating it).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RecordLogReader>> Open(
      Env* env, const std::string& path, std::uint64_t database_id);

  // Reads the next record into *record (kRecord), or says why there is none (see the file
  // comment). kEnd and kTornTail repeat on later calls; so does an error.
  [[nodiscard]] absl::StatusOr<LogReadResult> Next(LogRecord* record);

  // Reads the one record that starts at `offset` (a LogRecord::offset seen before, or the end
  // of the file when it was appended), without reading the records before it; it may lie past
  // the size the file had when the reader was opened. Returns kDataLoss naming the file and
  // offset when no intact record starts there, or the I/O error. Costs two preads.
  [[nodiscard]] absl::Status ReadAt(std::uint64_t offset, LogRecord* record) const;

  // The end of the last complete record read so far (0 while the file header is torn): after
  // kTornTail, the size to truncate the file to.
  std::uint64_t valid_end() const { return valid_end_; }

 private:
  RecordLogReader(std::unique_ptr<RandomAccessFile> file, std::uint64_t size);
  absl::Status Corrupt(std::uint64_t offset, absl::string_view what) const;
  // The record at `offset` in a file that ends at `end`: kShort when the file ends inside it,
  // kBadHeader when its header check fails; a checksum mismatch is kDataLoss.
  enum class Frame { kRecord, kShort, kBadHeader };
  absl::StatusOr<Frame> ReadFrame(std::uint64_t offset, std::uint64_t end,
                                  LogRecord* record) const;
  absl::StatusOr<bool> ZerosToEnd(std::uint64_t offset) const;

  const std::unique_ptr<RandomAccessFile> file_;
  const std::uint64_t size_;
  std::uint64_t valid_end_ = 0;
  absl::StatusOr<LogReadResult> done_ = LogReadResult::kRecord;  // kRecord: not done
};

enum class SyncMode {
  kNone,         // no sync by Append; Sync() on demand. Survives a process crash only.
  kEveryAppend,  // fdatasync before Append returns. Survives power loss.
};

class RecordLogWriter {
 public:
  // Opens the log at `path` for appending, creating it with its header if it is missing or
  // empty (synced with its directory under kEveryAppend, else by the first Sync()).
  // REQUIRES: a non-empty file is a log of `database_id` that RecordLogReader read to its end
  // and that was truncated to valid_end() (else appended records would follow a torn one).
  // Returns kDataLoss if a non-empty file is shorter than a log header, or the I/O error.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RecordLogWriter>> Open(
      Env* env, const std::string& path, std::uint64_t database_id, SyncMode mode);

  // Appends one record; synced under kEveryAppend. REQUIRES: type != 0. Returns
  // kInvalidArgument if the payload is longer than kMaxLogRecordPayload, the I/O error, or the
  // error that broke the writer earlier.
  [[nodiscard]] absl::Status Append(std::uint8_t type, absl::string_view payload);

  // Makes every appended record durable (fdatasync, and the directory entry of a new file).
  [[nodiscard]] absl::Status Sync();

  // Closes the file (no sync). Later calls are programmer errors.
  [[nodiscard]] absl::Status Close();

  // The size of the file: its valid end after the last successful Append.
  std::uint64_t size() const { return size_; }

 private:
  RecordLogWriter(Env* env, std::unique_ptr<WritableFile> file, SyncMode mode, std::uint64_t size)
      : env_(env), file_(std::move(file)), mode_(mode), size_(size) {}
  absl::Status Write(absl::string_view bytes);

  Env* const env_;
  const std::unique_ptr<WritableFile> file_;
  const SyncMode mode_;
  std::uint64_t size_;
  bool dir_synced_ = false;  // the file's directory entry is durable (synced once per Open)
  absl::Status error_;       // sticky: the first failed write or sync
  std::string frame_;        // reused frame buffer
};

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_RECORD_LOG_H_
