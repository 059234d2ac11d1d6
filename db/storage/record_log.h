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
// What writing guarantees. Append frames one record into the writer's buffer; the buffer goes
// to the file with one write call when it holds kLogWriteBufferBytes, on Flush(), Sync() and
// Close(). Appended records are in the file (they survive a crash of the process) only after
// Flush; they are durable (survive power loss) only after Sync (fdatasync, and for a new file an
// fsync of its directory). With SyncMode::kEveryAppend, Append itself syncs. After any failed
// write or sync the writer is broken: every later call returns that error (the file's tail is
// unknown; fsync errors cannot be retried safely). Reopen and recover.
//
// A span is the bytes appended since StartSpan() (or since the writer was opened): span() gives
// where they start and their Checksum(), so that a later record can vouch for the records
// before it (a commit record for its nodes: database_store.h).
//
// Costs: Append O(payload) (it copies the payload once into the buffer and checksums it twice:
// record and span); Flush one write call; Next two preads per record, allocating the payload
// (one pread for a record whose payload it skips).
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
#include "db/storage/checksum.h"
#include "db/storage/file.h"

namespace cowdb::storage {

inline constexpr std::size_t kLogFileHeaderSize = 32;
inline constexpr std::size_t kLogRecordHeaderSize = 20;
inline constexpr std::uint32_t kLogFormatVersion = 1;
// Larger payloads are refused by Append (kInvalidArgument) and are corruption to the reader.
inline constexpr std::uint32_t kMaxLogRecordPayload = 1u << 30;
// RecordLogWriter writes its buffer once it holds this many bytes.
inline constexpr std::size_t kLogWriteBufferBytes = std::size_t{1} << 20;

struct LogRecord {
  std::uint8_t type = 0;     // 1..255, chosen by the caller
  std::string payload;       // empty when Next skipped it
  std::uint64_t offset = 0;  // where the record starts in the file
  std::uint32_t length = 0;  // of the payload
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
  // comment). kEnd and kTornTail repeat on later calls; so does an error. A record of type
  // `skip_type` (nonzero) is returned without its payload, which is neither read nor checked
  // (its header is): a scan that needs only the other records reads one header per skipped one.
  [[nodiscard]] absl::StatusOr<LogReadResult> Next(LogRecord* record, std::uint8_t skip_type = 0);

  // Reads the one record that starts at `offset` (a LogRecord::offset seen before, or the end
  // of the file when it was appended), without reading the records before it; it may lie past
  // the size the file had when the reader was opened. Returns kDataLoss naming the file and
  // offset when no intact record starts there, or the I/O error. Costs two preads.
  [[nodiscard]] absl::Status ReadAt(std::uint64_t offset, LogRecord* record) const;

  // Checksum() of the file's bytes [begin, end) (what RecordLogWriter::span() gave for them),
  // read in 1 MiB pieces. kDataLoss naming the file if it ends before `end`; I/O errors.
  [[nodiscard]] absl::StatusOr<std::uint64_t> ChecksumRange(std::uint64_t begin,
                                                            std::uint64_t end) const;

  // The end of the last complete record read so far (0 while the file header is torn): after
  // kTornTail, the size to truncate the file to.
  std::uint64_t valid_end() const { return valid_end_; }

 private:
  RecordLogReader(std::unique_ptr<RandomAccessFile> file, std::uint64_t size);
  absl::Status Corrupt(std::uint64_t offset, absl::string_view what) const;
  // The record at `offset` in a file that ends at `end`: kShort when the file ends inside it,
  // kBadHeader when its header check fails; a checksum mismatch is kDataLoss.
  enum class Frame { kRecord, kShort, kBadHeader };
  absl::StatusOr<Frame> ReadFrame(std::uint64_t offset, std::uint64_t end, LogRecord* record,
                                  std::uint8_t skip_type) const;
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

  // Appends one record to the buffer (writing the buffer when full); synced under kEveryAppend.
  // REQUIRES: type != 0. Returns kInvalidArgument if the payload is longer than
  // kMaxLogRecordPayload (nothing appended, the writer stays usable), the I/O error, or the
  // error that broke the writer earlier.
  [[nodiscard]] absl::Status Append(std::uint8_t type, absl::string_view payload);

  // Writes the buffered records to the file (one write call): they survive a process crash.
  [[nodiscard]] absl::Status Flush();

  // Flush, then makes every appended record durable (fdatasync, and the directory entry of a new
  // file).
  [[nodiscard]] absl::Status Sync();

  // Makes the records already written to the file (by Flush) durable, without touching the
  // buffer or the writer's state: it may run in one thread while another appends (the caller
  // keeps the writer alive and calls no other sync meanwhile). A failure is returned, not made
  // sticky: the caller reports it (group commit, database_store.h).
  [[nodiscard]] absl::Status SyncWritten();

  // Flush, then closes the file (no sync). Later calls are programmer errors.
  [[nodiscard]] absl::Status Close();

  // The size of the file once the buffer is written: the valid end after the last Append.
  std::uint64_t size() const { return size_; }

  // Starts a new span at size(). See the file comment.
  void StartSpan();
  struct Span {
    std::uint64_t begin = 0;     // offset of the span's first byte
    std::uint64_t checksum = 0;  // Checksum() of the bytes from `begin` to size()
  };
  Span span() const;

 private:
  RecordLogWriter(Env* env, std::unique_ptr<WritableFile> file, SyncMode mode, std::uint64_t size)
      : env_(env), file_(std::move(file)), mode_(mode), size_(size), span_begin_(size) {}
  absl::Status Write(absl::string_view bytes);

  Env* const env_;
  const std::unique_ptr<WritableFile> file_;
  const SyncMode mode_;
  std::uint64_t size_;
  bool dir_synced_ = false;  // the file's directory entry is durable (synced once per Open)
  absl::Status error_;       // sticky: the first failed write or sync
  std::string pending_;      // appended records not yet written
  std::uint64_t span_begin_ = 0;
  ChecksumStream span_;
};

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_RECORD_LOG_H_
