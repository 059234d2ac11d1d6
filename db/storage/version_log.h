// The history records of a persistent database: versions, branch and tag moves, prunes. They
// live in the data files (record_log.h, node_store.h) between the node records, in commit order;
// replaying them in order rebuilds the database's history (database_store.h). Each version names
// the roots of its datasets (node refs into the data files) and vouches for the nodes its commit
// wrote (nodes_begin, nodes_checksum).
//
// Payloads (integers little-endian; str = u32 length + bytes):
//   kVersionRecord  u64 id | u8 parent count (0..2) | u64 parents | i64 time (ns since the Unix
//                   epoch) | str message | u64 nodes begin | u64 nodes checksum | u64 next row id
//                   | u32 dataset count | per dataset: str name | str type tag | u64 root ref |
//                   u32 depth | u64 rows
//   kRefRecord      u8 kind (0 branch, 1 tag) | u8 op (0 set, 1 delete, 2 rename) | str name |
//                   u64 version | rename only: str new name
//   kPruneRecord    u32 count | u64 version ids (ascending)
// Decode* reject a payload that is short, long or out of range with a message (the caller names
// the file and offset); VersionLogReplay checks that records make sense together (ids ascending,
// parents known, refs to retained versions).
//
// Thread-safety: thread-compatible.
#ifndef COWDB_DB_STORAGE_VERSION_LOG_H_
#define COWDB_DB_STORAGE_VERSION_LOG_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/storage/record_log.h"

namespace cowdb::storage {

// Record types in the data files; 1 is a node (node_store.h).
inline constexpr std::uint8_t kVersionRecord = 2;
inline constexpr std::uint8_t kRefRecord = 3;
inline constexpr std::uint8_t kPruneRecord = 4;
// The first record of a compacted log (empty payload): the history records after it restate
// the whole history (database_store.h, Compact). Met in any file but the first one CURRENT
// names, it marks the output of a compaction that never finished.
inline constexpr std::uint8_t kCheckpointRecord = 5;

struct DatasetRecord {
  std::string name;
  std::string type_tag;    // element type and tree shape, checked when the dataset is read
  std::uint64_t root = 0;  // node ref (0: empty)
  std::uint32_t depth = 0;
  std::uint64_t rows = 0;
  friend bool operator==(const DatasetRecord&, const DatasetRecord&) = default;
};

struct VersionRecord {
  std::uint64_t id = 0;
  std::vector<std::uint64_t> parents;  // 0..2
  std::int64_t time_ns = 0;
  std::string message;
  // The commit's nodes: the bytes of the record's data file from `nodes_begin` to the record
  // (the node records written for this version since the previous record or the file header;
  // any in earlier files were synced when the store rolled past them), and their Checksum().
  // Open checks them for the newest version: a crash during the commit's one sync may have
  // persisted the record without the nodes before it (database_store.h).
  std::uint64_t nodes_begin = 0;
  std::uint64_t nodes_checksum = 0;
  // Above every row id stored so far: reopening moves the process's row-id counter past it.
  std::uint64_t next_row_id = 0;
  std::vector<DatasetRecord> datasets;  // sorted by name, names unique
  friend bool operator==(const VersionRecord&, const VersionRecord&) = default;
};

struct RefRecord {
  bool tag = false;
  bool erase = false;
  std::string name;
  std::uint64_t version = 0;  // 0 when erase or rename
  std::string rename_to;      // non-empty: renames branch `name` (one record, atomic)
  friend bool operator==(const RefRecord&, const RefRecord&) = default;
};

struct PruneRecord {
  std::vector<std::uint64_t> ids;  // ascending
  friend bool operator==(const PruneRecord&, const PruneRecord&) = default;
};

std::string EncodeVersion(const VersionRecord& v);
std::string EncodeRef(const RefRecord& r);
std::string EncodePrune(const PruneRecord& p);
// kInvalidArgument describing what is wrong with the payload (no file or offset).
absl::StatusOr<VersionRecord> DecodeVersion(std::string_view payload);
absl::StatusOr<RefRecord> DecodeRef(std::string_view payload);
absl::StatusOr<PruneRecord> DecodePrune(std::string_view payload);

// The history rebuilt from the history records, one by one.
class VersionLogReplay {
 public:
  // Applies one record read from `path`; kDataLoss naming the file and the record's offset
  // when it cannot be decoded or contradicts what came before. After an error the replay must
  // not be used.
  absl::Status Apply(const std::string& path, const LogRecord& record);

  // Retained versions by id (pruned ones are dropped, their ids kept in `known`).
  const std::map<std::uint64_t, VersionRecord>& versions() const { return versions_; }
  const std::map<std::string, std::uint64_t>& branches() const { return branches_; }
  const std::map<std::string, std::uint64_t>& tags() const { return tags_; }
  // Parents of every version ever recorded, pruned ones too (merges find fork points).
  const std::map<std::uint64_t, std::vector<std::uint64_t>>& ancestry() const { return ancestry_; }
  // The newest version record's row-id bound (0 before any version).
  std::uint64_t next_row_id() const { return next_row_id_; }

 private:
  absl::Status ApplyVersion(VersionRecord v, std::uint64_t offset);
  absl::Status ApplyRef(const RefRecord& r);
  absl::Status ApplyPrune(const PruneRecord& p);

  std::map<std::uint64_t, VersionRecord> versions_;
  std::map<std::uint64_t, std::vector<std::uint64_t>> ancestry_;
  std::map<std::string, std::uint64_t> branches_;
  std::map<std::string, std::uint64_t> tags_;
  std::uint64_t last_id_ = 0;
  std::uint64_t next_row_id_ = 0;
};

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_VERSION_LOG_H_
