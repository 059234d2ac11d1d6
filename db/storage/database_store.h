// The durable state of a persistent Database (Database::Open(dir)): one directory holding
//   LOCK             the directory lock (file.h): one opener at a time
//   CURRENT          the database id and the number of the first data file (current.h)
//   data-NNNNNN.log  the data files (node_store.h): the trees' nodes, shared between versions as
//                    in memory, and the history records (version_log.h) in commit order
//
// Commit protocol (AppendVersion): the nodes of the new version's trees that no earlier version
// stored (tree_codec::save: one leaf and its path for a version that changed one element), then
// one version record and one branch record are appended to the active data file with one write
// call, and the file is synced once (Options::sync == Sync::kEveryCommit; with kNone nothing is
// synced and a process crash, not a power loss, is survived). Only then does the caller publish
// the version in memory. The version record carries the checksum of the commit's node bytes (the
// span since the previous record), so a crash during the sync that persisted the record but not
// every node before it is recognized. Branch and tag moves and prunes are one record each,
// written and synced the same way.
//
// Open (Recover) scans the data files in order, reading the history records and skipping the
// node records (one header read each). The last version record's node span is checked; if it
// does not match and nothing but its branch record follows, that commit never completed (its
// sync was cut short) and the scan stops before it, as SQLite's WAL does at a frame whose
// checksum fails; if later records follow, the nodes were durable and are corrupt: kDataLoss.
// Everything after the last good history record (a torn record, nodes of an unfinished commit) is
// cut: later files are removed and the last one truncated. A crash at any point therefore leaves
// either the old state or the new one; a version record whose branch record was lost is an
// unreachable version that Prune() drops. Then every retained version's datasets are loaded through
// one node table, so versions that shared a node in memory share it again. A dataset's element type
// is found by its tag among the types the program uses (internal/db/dataset.h, RegisterStoredType);
// a tag no type of the program has is kFailedPrecondition naming the dataset and the tag.
//
// Errors: kDataLoss naming the file and offset for anything corrupt (bad checksum, a torn record
// that is not the newest file's tail, a missing file, a file of another database); I/O errors as
// they come. After a failed write the store refuses every later write with that error
// (kFailedPrecondition wrapping it): the tail of the files is unknown until the database is
// reopened, which recovers the last durable state.
//
// Group commit (Sync::kGroupCommit): appends are written without a sync; the caller publishes
// them, lets go of its writer lock and calls WaitDurable, where one caller at a time syncs on
// behalf of every append written so far (options.h says what this means for visibility).
//
// Thread-safety: thread-compatible (DatabaseImpl serializes its writers), except WaitDurable,
// which is thread-safe.
#ifndef COWDB_DB_STORAGE_DATABASE_STORE_H_
#define COWDB_DB_STORAGE_DATABASE_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "cowdb/internal/node_codec.h"
#include "cowdb/options.h"
#include "db/storage/file.h"
#include "db/storage/node_store.h"
#include "db/storage/record_log.h"
#include "db/storage/version_log.h"
#include "db/version.h"

namespace cowdb::storage {

// What Open found: every version ever recorded (ids 1..n), the retained ones loaded.
struct RecoveredState {
  struct Entry {
    VersionInfo info;              // id, parents, time, message
    internal::VersionPtr version;  // null when pruned
  };
  std::vector<Entry> versions;  // ascending ids, from 1, none missing
  std::map<std::string, std::uint64_t> branches;
  std::map<std::string, std::uint64_t> tags;
};

class DatabaseStore {
 public:
  // Opens the database in `dir`, creating the directory and a new database (version 1, empty,
  // on branch "main") when it is missing or empty. `sync`: when appends are synced. Errors:
  // kFailedPrecondition if another opener holds the directory or it holds other files and no
  // database; kDataLoss naming the file for corruption; I/O errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<DatabaseStore>> Open(Env* env,
                                                                           const std::string& dir,
                                                                           Sync sync,
                                                                           RecoveredState* state);

  ~DatabaseStore();

  // Writes version `v` (id, parents, time, message and catalog set) and moves `branch` to it.
  // kInvalidArgument (nothing written) if a dataset's element type cannot be stored.
  [[nodiscard]] absl::Status AppendVersion(const internal::Version& v, std::string_view branch);
  // The sequence number of the last successful append (AppendVersion, AppendRef, AppendPrune).
  // REQUIRES: the caller's write lock, as for the appends.
  std::uint64_t last_written() const { return written_; }
  // Sync::kGroupCommit: returns once the append numbered `seq` is durable. A caller whose append
  // a finished sync covers returns at once; while another caller syncs, it waits for that sync
  // to end (all the callers it covers return together); else it leads: it takes `write_lock`
  // (the database's writer lock, which the caller must NOT hold) just long enough to read how
  // much is written, lets it go, and syncs that much (appends made during a sync are covered by
  // the next). Errors: the sync's (sticky: later calls return it too, and every later append is
  // refused). Other modes: returns OK at once. Thread-safe.
  [[nodiscard]] absl::Status WaitDurable(std::uint64_t seq, absl::Mutex* write_lock);

  // A branch or tag set, deleted or renamed.
  [[nodiscard]] absl::Status AppendRef(const RefRecord& r);
  // Versions dropped by Prune (ascending ids).
  [[nodiscard]] absl::Status AppendPrune(std::vector<std::uint64_t> ids);

  // Lets go of the nodes no retained version uses any more (after Prune and once the snapshots
  // of pruned versions are gone; the store holds each node it wrote or read so that a node's
  // address is never mistaken for a stored one). O(nodes stored or loaded).
  void ReleaseUnused();

  // Rewrites the data files to hold only `state` (the retained versions with their datasets, the
  // ancestry of every version, the branches and tags): new data files numbered after the active
  // one get a checkpoint record and the whole history restated, nodes shared as in memory; they
  // are synced, CURRENT is switched to them atomically, and the old files are removed. A crash
  // or an error before the switch leaves the old files in charge (Open removes the unfinished
  // output); after it, the new ones. On an error before the switch nothing changes and the
  // store stays usable; a failed switch breaks it (which CURRENT is durable is unknown).
  // Cost: O(bytes of the retained versions' unique nodes) written, one sync, plus the deletes.
  [[nodiscard]] absl::Status Compact(const RecoveredState& state);

  struct DiskUsage {
    std::uint64_t file_bytes = 0;  // every file in the directory
    std::uint64_t live_bytes = 0;  // the records the nodes in use need (history records not
                                   // counted: a few dozen bytes per version and ref)
  };
  // Lists the directory: O(files).
  [[nodiscard]] DiskUsage Usage() const;

 private:
  DatabaseStore(Env* env, std::string dir, Sync sync)
      : env_(env), dir_(std::move(dir)), sync_(sync) {}
  absl::Status Recover(RecoveredState* state);
  // Where ScanDataFiles ended: after the last history record, and the newest version record.
  struct Scan {
    std::uint32_t end_file = 0;
    std::uint64_t end_offset = 0;
    std::uint32_t last_version_file = 0;  // 0: none
    std::uint64_t last_version_offset = 0;
    std::uint64_t last_nodes_begin = 0;
    std::uint64_t last_nodes_checksum = 0;
    std::size_t records_after_last_version = 0;
    std::uint32_t unfinished_compaction = 0;  // first file of an unfinished compaction's output
  };
  // Replays the history records of `files` (ascending, no gap) into *replay, stopping before the
  // record at (stop_at_file, stop_at_offset) if given.
  absl::StatusOr<Scan> ScanDataFiles(const std::vector<std::uint32_t>& files,
                                     std::uint64_t stop_at_file, std::uint64_t stop_at_offset,
                                     VersionLogReplay* replay) const;
  absl::Status LoadVersions(const VersionLogReplay& replay, RecoveredState* state);
  // Appends history records to the active data file, written with one call and synced when
  // sync_ is kEveryCommit; all, or (on error) a sticky failure. Counts the appends (written_).
  absl::Status AppendRecords(const std::vector<std::pair<std::uint8_t, std::string>>& records);
  absl::Status Broken() const;
  absl::Status SyncError();  // takes group_mu_
  absl::Status WriteCheckpoint(const RecoveredState& state, internal::node_table& table,
                               NodeStore& store) const;

  Env* const env_;
  const std::string dir_;
  const Sync sync_;
  std::uint64_t written_ = 0;  // AppendRecords calls that succeeded (the group commit sequence)
  // Group commit (WaitDurable): group_mu_ guards whether a caller is syncing, the sequence
  // number synced so far and the error of a failed sync; the others wait on group_cv_ until a
  // sync covers them or none is running. It is never held while taking another lock. A std::
  // mutex and condition variable, not absl's: ThreadSanitizer sees std waits, while the test
  // shim for Debian's uninstrumented Abseil (tests/testing/tsan_mutex.h) annotates only
  // absl::Mutex's plain lock and unlock.
  std::mutex group_mu_;
  std::condition_variable group_cv_;
  bool syncing_ = false;      // guarded by group_mu_
  std::uint64_t synced_ = 0;  // guarded by group_mu_
  absl::Status sync_error_;   // guarded by group_mu_
  // Data files replaced by Compact while a group-commit leader may still be syncing them.
  std::vector<std::unique_ptr<NodeStore>> retired_;
  std::unique_ptr<FileLock> lock_;
  std::uint64_t database_id_ = 0;
  std::uint32_t first_file_ = 0;  // the first data file, as CURRENT names it
  std::unique_ptr<NodeStore> nodes_;
  internal::node_table table_;
  absl::Status error_;  // sticky: the first failed write
};

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_DATABASE_STORE_H_
