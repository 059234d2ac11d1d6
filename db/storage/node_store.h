// The data files of a persistent database: append-only record logs (record_log.h) named
// "data-NNNNNN.log" in the database directory, holding the trees' nodes (the node_io of the node
// codec, cowdb/internal/node_codec.h) and, between them, the history records that the database
// store appends (version_log.h).
//
// A node's ref is (file number << 40) | offset of its record: files of up to 1 TiB, numbers up
// to 2^24 - 1. Records are appended to one active file; Roll() starts the next one (when the
// active file is over `roll_bytes`, or after a failed write broke it: a log writer is not used
// again after an error, record_log.h). Appends are buffered: Flush() or Sync() writes them.
//
// Crash safety is the caller's (database_store.h): a history record vouches for the nodes
// before it; on reopening, the active file is cut back to the end of the last good history
// record (Open's `active_size`), dropping nodes no version uses.
//
// Errors: Read of a ref whose file is missing, or where no intact node record starts, is
// kDataLoss naming the file and offset; I/O errors as they come.
//
// Thread-safety: thread-compatible (one thread at a time), like node_table.
#ifndef COWDB_DB_STORAGE_NODE_STORE_H_
#define COWDB_DB_STORAGE_NODE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cowdb/internal/node_codec.h"
#include "db/storage/file.h"
#include "db/storage/record_log.h"

namespace cowdb::storage {

inline constexpr std::uint8_t kNodeRecordType = 1;
inline constexpr std::uint32_t kMaxNodeFileNumber = (1u << 24) - 1;
inline constexpr std::uint64_t kMaxNodeFileBytes = std::uint64_t{1} << 40;

// "data-000042.log".
std::string DataFileName(std::uint32_t number);

class NodeStore final : public internal::node_io {
 public:
  struct Options {
    SyncMode sync = SyncMode::kNone;      // kEveryAppend syncs every node (tests); else Sync()
    std::uint64_t roll_bytes = 64 << 20;  // Write rolls to a new file past this size
  };

  // Opens the store of `database_id` in `dir`, appending to file `active` cut back to
  // `active_size` bytes (0: a new file; it must not exist yet or be empty). Returns kDataLoss if
  // the active file is shorter than `active_size` or is not a node log of this database, or the
  // I/O error.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeStore>> Open(Env* env, std::string dir,
                                                                       std::uint64_t database_id,
                                                                       std::uint32_t active,
                                                                       std::uint64_t active_size,
                                                                       const Options& options);

  // node_io. Write appends one node record (rolling first when the active file is full) and
  // returns its ref; Read reads one back (two preads; a file's reader is opened once).
  absl::StatusOr<internal::node_ref> Write(std::string_view bytes) override;
  absl::StatusOr<std::string> Read(internal::node_ref ref) override;
  std::string Describe(internal::node_ref ref) const override;

  // Appends a record of another type (not kNodeRecordType) to the active file (buffered).
  [[nodiscard]] absl::Status AppendRecord(std::uint8_t type, std::string_view payload);

  // Starts a span in the active file (RecordLogWriter::StartSpan); span() is the bytes appended
  // to the active file since then, or since it was started if Write rolled meanwhile.
  void StartSpan();
  RecordLogWriter::Span span() const;

  // Writes every buffered record to the active file (a process crash keeps them).
  [[nodiscard]] absl::Status Flush();
  // Makes every record written so far durable (Write rolls to a new file only after syncing the
  // full one, so only the active file can hold unsynced records).
  [[nodiscard]] absl::Status Sync();
  // Group commit: RecordLogWriter::SyncWritten of the active file, holding the file lock so
  // that Roll and Recover (which take it) do not close the file meanwhile. Thread-safe against
  // one thread appending.
  [[nodiscard]] absl::Status SyncWritten() ABSL_LOCKS_EXCLUDED(file_mu_);

  // Compaction replaced these files: closes the active file (after a SyncWritten in progress),
  // after which SyncWritten returns OK at once (what it held is durable in the new files) and
  // nothing else may be called.
  void Retire() ABSL_LOCKS_EXCLUDED(file_mu_);

  // Syncs the active file, then starts the next one. On a sync error nothing changes.
  [[nodiscard]] absl::Status Roll();
  // After a failed Write or Sync: abandons the active file (the nodes written to it since the
  // last successful Sync must not be referenced: roll the node_table back) and starts the next.
  [[nodiscard]] absl::Status Recover();

  // Where the next node goes: what a version record names so that Open can cut back to it.
  std::uint32_t active_file() const { return active_; }
  std::uint64_t active_size() const { return writer_ == nullptr ? 0 : writer_->size(); }

 private:
  NodeStore(Env* env, std::string dir, std::uint64_t database_id, const Options& options)
      : env_(env), dir_(std::move(dir)), database_id_(database_id), options_(options) {}
  std::string PathOf(std::uint32_t number) const;
  absl::Status OpenWriter(std::uint32_t number);
  absl::Status NoWriter() const;
  absl::Status RecoverLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(file_mu_);

  Env* const env_;
  const std::string dir_;
  const std::uint64_t database_id_;
  const Options options_;
  std::uint32_t active_ = 0;
  // Replaced (Roll, Recover) only under file_mu_ by the appending thread; SyncWritten reads it
  // under file_mu_ from another.
  absl::Mutex file_mu_;
  std::unique_ptr<RecordLogWriter> writer_;
  bool retired_ = false;  // guarded by file_mu_ (Retire, SyncWritten)
  std::map<std::uint32_t, std::unique_ptr<RecordLogReader>> readers_;
};

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_NODE_STORE_H_
