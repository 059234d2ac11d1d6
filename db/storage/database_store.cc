#include "db/storage/database_store.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/time/time.h"
#include "cowdb/internal/coding.h"
#include "cowdb/internal/db/dataset.h"
#include "cowdb/internal/row_ids.h"
#include "cowdb/status.h"
#include "db/storage/current.h"
#include "fmt/format.h"

namespace cowdb::storage {
namespace {

// CURRENT's payload: u64 database id | u32 number of the first data file.
std::string EncodeCurrent(std::uint64_t database_id, std::uint32_t first_data_file) {
  std::string out;
  internal::PutFixed64(&out, database_id);
  internal::PutFixed32(&out, first_data_file);
  return out;
}

std::uint64_t NewDatabaseId() {
  std::random_device rd;
  std::uint64_t id = 0;
  while (id == 0) id = (std::uint64_t{rd()} << 32) ^ rd();
  return id;
}

// The number of a data file name ("data-000042.log" -> 42), or 0.
std::uint32_t DataFileNumber(const std::string& name) {
  if (name.size() != DataFileName(1).size() || !name.starts_with("data-") ||
      !name.ends_with(".log")) {
    return 0;
  }
  std::uint32_t n = 0;
  for (std::size_t i = 5; i < 11; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    n = n * 10 + static_cast<std::uint32_t>(name[i] - '0');
  }
  return n;
}

// A directory that is not a database yet: empty, or left by a creation that crashed before
// CURRENT was written (its first data file then holds at most the initial version and branch).
absl::StatusOr<bool> IsNewDirectory(Env* env, const std::string& dir) {
  absl::StatusOr<std::uint64_t> current = env->FileSize(JoinPath(dir, kCurrentFileName));
  if (current.ok()) return false;
  if (!absl::IsNotFound(current.status())) return current.status();
  COWDB_ASSIGN_OR_RETURN(const std::vector<std::string> names, env->ListDir(dir));
  const std::set<std::string> left_by_creation = {kLockFileName, kCurrentTempFileName,
                                                  DataFileName(1)};
  for (const std::string& name : names) {
    if (!left_by_creation.contains(name)) {
      return absl::FailedPreconditionError(
          fmt::format("\"{}\" is not a cowdb database (no {}) and is not empty: it holds \"{}\"",
                      dir, kCurrentFileName, name));
    }
  }
  if (std::find(names.begin(), names.end(), DataFileName(1)) == names.end()) return true;
  // A data file without CURRENT: it may hold only the initial records (well under 512 bytes),
  // else CURRENT was lost.
  COWDB_ASSIGN_OR_RETURN(const std::uint64_t size, env->FileSize(JoinPath(dir, DataFileName(1))));
  if (size > 512) {
    return absl::DataLossError(
        fmt::format("\"{}\" is missing in \"{}\", whose data file holds committed data",
                    kCurrentFileName, dir));
  }
  return true;
}

RefRecord SetBranch(std::string_view name, std::uint64_t version) {
  RefRecord r;
  r.name = std::string(name);
  r.version = version;
  return r;
}

}  // namespace

DatabaseStore::~DatabaseStore() = default;

absl::StatusOr<std::unique_ptr<DatabaseStore>> DatabaseStore::Open(Env* env, const std::string& dir,
                                                                   Sync sync,
                                                                   RecoveredState* state) {
  COWDB_RETURN_IF_ERROR(env->CreateDir(dir));
  std::unique_ptr<DatabaseStore> s(new DatabaseStore(env, dir, sync));
  COWDB_ASSIGN_OR_RETURN(s->lock_, LockDirectory(env, dir));
  COWDB_ASSIGN_OR_RETURN(const bool fresh, IsNewDirectory(env, dir));
  if (fresh) {
    // Version 1 (empty) on "main", durable, then CURRENT naming the first data file: a crash
    // before CURRENT is replaced leaves a directory IsNewDirectory recognizes.
    const std::string first = JoinPath(dir, DataFileName(1));
    const absl::Status removed = env->Remove(first);
    if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
    const std::uint64_t id = NewDatabaseId();
    COWDB_ASSIGN_OR_RETURN(auto log, RecordLogWriter::Open(env, first, id, SyncMode::kNone));
    VersionRecord v1;
    v1.id = 1;
    v1.time_ns = absl::ToUnixNanos(absl::Now());
    v1.message = "initial empty version";
    v1.nodes_begin = log->span().begin;
    v1.nodes_checksum = log->span().checksum;
    v1.next_row_id = internal::g_next_row_id.load(std::memory_order_relaxed);
    COWDB_RETURN_IF_ERROR(log->Append(kVersionRecord, EncodeVersion(v1)));
    COWDB_RETURN_IF_ERROR(log->Append(kRefRecord, EncodeRef(SetBranch("main", 1))));
    COWDB_RETURN_IF_ERROR(log->Sync());
    COWDB_RETURN_IF_ERROR(log->Close());
    COWDB_RETURN_IF_ERROR(WriteCurrentFile(env, dir, EncodeCurrent(id, 1)));
  }
  COWDB_RETURN_IF_ERROR(s->Recover(state));
  return s;
}

absl::StatusOr<DatabaseStore::Scan> DatabaseStore::ScanDataFiles(
    const std::vector<std::uint32_t>& files, std::uint64_t stop_at_file,
    std::uint64_t stop_at_offset, VersionLogReplay* replay) const {
  Scan scan;
  LogRecord record;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::uint32_t number = files[i];
    const std::string path = JoinPath(dir_, DataFileName(number));
    COWDB_ASSIGN_OR_RETURN(std::unique_ptr<RecordLogReader> reader,
                           RecordLogReader::Open(env_, path, database_id_));
    for (;;) {
      COWDB_ASSIGN_OR_RETURN(const LogReadResult r, reader->Next(&record, kNodeRecordType));
      if (r == LogReadResult::kEnd) break;
      if (r == LogReadResult::kTornTail) {
        // A crash during an append: only the newest file can end inside a record (Roll syncs a
        // file before the next one starts).
        if (i + 1 < files.size()) {
          return absl::DataLossError(fmt::format(
              "data file \"{}\" ends inside a record at offset {}, but later data files exist",
              path, reader->valid_end()));
        }
        break;
      }
      if (number == stop_at_file && record.offset == stop_at_offset) return scan;
      if (record.type == kNodeRecordType) continue;
      if (record.type == kCheckpointRecord) {
        if (record.offset != kLogFileHeaderSize) {
          return absl::DataLossError(fmt::format(
              "data file \"{}\": a checkpoint record at offset {}, not at the file's start", path,
              record.offset));
        }
        if (i > 0) {  // the output of a compaction that never switched CURRENT to it
          scan.unfinished_compaction = number;
          return scan;
        }
      }
      COWDB_RETURN_IF_ERROR(replay->Apply(path, record));
      scan.end_file = number;
      scan.end_offset = reader->valid_end();
      ++scan.records_after_last_version;
      if (record.type == kVersionRecord) {
        scan.records_after_last_version = 0;
        scan.last_version_file = number;
        scan.last_version_offset = record.offset;
        const VersionRecord& v = std::prev(replay->versions().end())->second;
        scan.last_nodes_begin = v.nodes_begin;
        scan.last_nodes_checksum = v.nodes_checksum;
      }
    }
  }
  return scan;
}

absl::Status DatabaseStore::Recover(RecoveredState* state) {
  COWDB_ASSIGN_OR_RETURN(const std::string current, ReadCurrentFile(env_, dir_));
  const std::string current_path = JoinPath(dir_, kCurrentFileName);
  internal::byte_reader in(current);
  std::uint64_t id = 0;
  std::uint32_t first = 0;
  if (!in.u64(&id) || !in.u32(&first) || !in.rest().empty() || id == 0 || first == 0 ||
      first > kMaxNodeFileNumber) {
    return absl::DataLossError(fmt::format("\"{}\": malformed payload", current_path));
  }
  database_id_ = id;
  first_file_ = first;
  // The data files from `first` on, which must be numbered without a gap; files before it are
  // what a finished compaction had not removed yet.
  COWDB_ASSIGN_OR_RETURN(const std::vector<std::string> names, env_->ListDir(dir_));
  std::vector<std::uint32_t> files;
  for (const std::string& name : names) {
    const std::uint32_t n = DataFileNumber(name);
    if (n >= first) {
      files.push_back(n);
    } else if (n != 0) {
      COWDB_RETURN_IF_ERROR(env_->Remove(JoinPath(dir_, name)));
    }
  }
  std::sort(files.begin(), files.end());
  for (std::size_t i = 0; i <= files.size(); ++i) {
    const std::uint32_t want = first + static_cast<std::uint32_t>(i);
    if (i == files.size() ? i == 0 : files[i] != want) {
      return absl::DataLossError(
          fmt::format("data file \"{}\" is missing (\"{}\" names data files from {} on{})",
                      JoinPath(dir_, DataFileName(want)), current_path, first,
                      i == files.size() ? "" : fmt::format("; {} exists", DataFileName(files[i]))));
    }
    if (i == files.size()) break;
  }
  VersionLogReplay replay;
  COWDB_ASSIGN_OR_RETURN(Scan scan, ScanDataFiles(files, 0, 0, &replay));
  // The newest version's nodes: a crash during its commit's sync may have persisted the record
  // and not all of the nodes before it. Then that commit never happened: scan again up to it.
  if (scan.last_version_file != 0) {
    const std::string path = JoinPath(dir_, DataFileName(scan.last_version_file));
    COWDB_ASSIGN_OR_RETURN(std::unique_ptr<RecordLogReader> reader,
                           RecordLogReader::Open(env_, path, database_id_));
    COWDB_ASSIGN_OR_RETURN(const std::uint64_t sum,
                           reader->ChecksumRange(scan.last_nodes_begin, scan.last_version_offset));
    if (sum != scan.last_nodes_checksum) {
      // Torn only if nothing but the commit's own branch record follows: a later record was
      // written after the commit was synced, so its nodes were durable and are now corrupt.
      if (scan.records_after_last_version > 1) {
        return absl::DataLossError(fmt::format(
            "data file \"{}\": the nodes of the version recorded at offset {} (bytes {} to {}) do "
            "not match its checksum",
            path, scan.last_version_offset, scan.last_nodes_begin, scan.last_version_offset));
      }
      replay = VersionLogReplay();
      COWDB_ASSIGN_OR_RETURN(
          scan, ScanDataFiles(files, scan.last_version_file, scan.last_version_offset, &replay));
    }
  }
  if (!replay.ancestry().contains(1) || replay.branches().empty()) {
    return absl::DataLossError(fmt::format("data file \"{}\" holds no initial version or no branch",
                                           JoinPath(dir_, DataFileName(first))));
  }
  // What follows the last good history record is nodes no version uses, a torn record, or an
  // unfinished compaction's output.
  for (const std::uint32_t n : files) {
    if (n > scan.end_file) COWDB_RETURN_IF_ERROR(env_->Remove(JoinPath(dir_, DataFileName(n))));
  }
  NodeStore::Options node_options;
  COWDB_ASSIGN_OR_RETURN(nodes_, NodeStore::Open(env_, dir_, database_id_, scan.end_file,
                                                 scan.end_offset, node_options));
  COWDB_RETURN_IF_ERROR(LoadVersions(replay, state));
  // Rows made by this process from now on get ids above every stored one.
  std::uint64_t next = internal::g_next_row_id.load(std::memory_order_relaxed);
  while (next < replay.next_row_id() &&
         !internal::g_next_row_id.compare_exchange_weak(next, replay.next_row_id())) {
  }
  return absl::OkStatus();
}

absl::Status DatabaseStore::LoadVersions(const VersionLogReplay& replay, RecoveredState* state) {
  // One Dataset object per stored tree: versions that shared a dataset share it again. The key
  // is everything a dataset record says about its tree, so that a record that names a loaded
  // root with another type, depth or row count is checked by load() (and found corrupt).
  using TreeKey = std::tuple<internal::node_ref, std::string, std::uint32_t, std::uint64_t>;
  std::map<TreeKey, internal::DatasetPtr> loaded;
  state->versions.clear();
  state->versions.reserve(replay.ancestry().size());
  for (const auto& [id, parents] : replay.ancestry()) {
    RecoveredState::Entry e;
    e.info.id = VersionId{id};
    for (const std::uint64_t p : parents) e.info.parents.push_back(VersionId{p});
    const auto it = replay.versions().find(id);
    if (it != replay.versions().end()) {
      const VersionRecord& rec = it->second;
      e.info.time = absl::FromUnixNanos(rec.time_ns);
      e.info.message = rec.message;
      auto v = std::make_shared<internal::Version>();
      v->info = e.info;
      for (const DatasetRecord& d : rec.datasets) {
        const TreeKey key{d.root, d.type_tag, d.depth, d.rows};
        auto found = loaded.find(key);
        if (found == loaded.end()) {
          const internal::StoredTypeLoader load = internal::FindStoredType(d.type_tag);
          if (load == nullptr) {
            return absl::FailedPreconditionError(fmt::format(
                "dataset \"{}\" of version v{} in \"{}\" holds elements stored as \"{}\", a type "
                "this program never uses as a dataset element (Get, Edit, Put or Create with it)",
                d.name, id, dir_, d.type_tag));
          }
          absl::StatusOr<internal::DatasetPtr> ds =
              load({d.root, d.depth, static_cast<std::size_t>(d.rows)}, table_, *nodes_);
          if (!ds.ok()) return ds.status();
          found = loaded.insert_or_assign(key, *std::move(ds)).first;
        }
        v->catalog.emplace(d.name, found->second);
      }
      e.version = std::move(v);
    }
    state->versions.push_back(std::move(e));
  }
  state->branches = replay.branches();
  state->tags = replay.tags();
  return absl::OkStatus();
}

absl::Status DatabaseStore::Broken() const {
  return absl::FailedPreconditionError(fmt::format(
      "database \"{}\" refuses writes after a failed write ({}); reopen it to recover the last "
      "durable state",
      dir_, error_.message()));
}

absl::Status DatabaseStore::AppendVersion(const internal::Version& v, std::string_view branch) {
  if (error_.ok() && sync_ == Sync::kGroupCommit) error_ = SyncError();
  if (!error_.ok()) return Broken();
  for (const auto& [name, d] : v.catalog) {
    if (d->StoredType().empty()) {
      absl::StatusOr<internal::StoredTree> refused = d->Save(table_, *nodes_);
      return absl::InvalidArgumentError(
          fmt::format("dataset \"{}\": {}", name, refused.status().message()));
    }
  }
  VersionRecord rec;
  rec.id = v.info.id.value;
  for (const VersionId p : v.info.parents) rec.parents.push_back(p.value);
  rec.time_ns = absl::ToUnixNanos(v.info.time);
  rec.message = v.info.message;
  nodes_->StartSpan();
  absl::Status s;
  for (const auto& [name, d] : v.catalog) {
    absl::StatusOr<internal::StoredTree> t = d->Save(table_, *nodes_);
    if (!t.ok()) {
      s = t.status();
      break;
    }
    rec.datasets.push_back({std::string(name), std::string(d->StoredType()), t->root,
                            static_cast<std::uint32_t>(t->depth), t->rows});
  }
  if (s.ok()) {
    const RecordLogWriter::Span nodes = nodes_->span();
    rec.nodes_begin = nodes.begin;
    rec.nodes_checksum = nodes.checksum;
    rec.next_row_id = internal::g_next_row_id.load(std::memory_order_relaxed);
    s = AppendRecords(
        {{kVersionRecord, EncodeVersion(rec)}, {kRefRecord, EncodeRef(SetBranch(branch, rec.id))}});
  }
  if (!s.ok()) {
    table_.rollback();
    error_ = s;
    return s;
  }
  table_.commit();
  return absl::OkStatus();
}

absl::Status DatabaseStore::AppendRef(const RefRecord& r) {
  if (error_.ok() && sync_ == Sync::kGroupCommit) error_ = SyncError();
  if (!error_.ok()) return Broken();
  return AppendRecords({{kRefRecord, EncodeRef(r)}});
}

absl::Status DatabaseStore::AppendPrune(std::vector<std::uint64_t> ids) {
  if (error_.ok() && sync_ == Sync::kGroupCommit) error_ = SyncError();
  if (!error_.ok()) return Broken();
  if (ids.empty()) return absl::OkStatus();
  std::sort(ids.begin(), ids.end());
  return AppendRecords({{kPruneRecord, EncodePrune({std::move(ids)})}});
}

absl::Status DatabaseStore::AppendRecords(
    const std::vector<std::pair<std::uint8_t, std::string>>& records) {
  absl::Status s;
  for (const auto& [type, payload] : records) {
    s = nodes_->AppendRecord(type, payload);
    if (!s.ok()) break;
  }
  if (s.ok()) s = sync_ == Sync::kEveryCommit ? nodes_->Sync() : nodes_->Flush();
  if (!s.ok()) {
    error_ = s;
    return s;
  }
  ++written_;
  return s;
}

absl::Status DatabaseStore::WaitDurable(std::uint64_t seq, absl::Mutex* write_lock) {
  if (sync_ != Sync::kGroupCommit) return absl::OkStatus();
  std::unique_lock group(group_mu_);
  // Covered by a finished sync, failed, or the next leader: while another caller syncs, wait
  // for it (appends made during a sync are covered by the next one). Every waiter a sync covers
  // wakes when it ends; one of the others leads the next.
  for (;;) {
    if (!sync_error_.ok()) return sync_error_;
    if (synced_ >= seq) return absl::OkStatus();
    if (!syncing_) break;
    group_cv_.wait(group);
  }
  syncing_ = true;
  group.unlock();
  std::uint64_t target = 0;
  bool synced = false;   // the sync succeeded: everything up to `target` is durable
  absl::Status failure;  // the sync failed with this (a copy: the returned status is moved)
  // However this ends (a broken store, a failed sync, an exception), the lead is handed on and
  // the waiters woken: a lead left taken would block every later commit.
  const absl::Cleanup hand_on = [&] {
    {
      std::lock_guard relock(group_mu_);
      syncing_ = false;
      if (synced) synced_ = std::max(synced_, target);
      if (!failure.ok() && sync_error_.ok()) sync_error_ = failure;  // later appends refused
    }
    group_cv_.notify_all();
  };
  NodeStore* nodes = nullptr;
  {
    // The writer lock gives a consistent count and file; it is let go before the slow part.
    // A Compact meanwhile retires `nodes` (kept alive; its sync then succeeds at once).
    absl::MutexLock writers(write_lock);
    if (!error_.ok()) return Broken();
    target = written_;
    nodes = nodes_.get();
  }
  absl::Status s = nodes->SyncWritten();
  if (s.ok()) {
    synced = true;
  } else {
    failure = s;
  }
  return s;
}

absl::Status DatabaseStore::SyncError() {
  std::lock_guard group(group_mu_);
  return sync_error_;
}

void DatabaseStore::ReleaseUnused() {
  try {
    table_.release_unused();
  } catch (const std::bad_alloc&) {
    // Nothing is lost: the unused nodes stay until the next call.
  }
}

DatabaseStore::DiskUsage DatabaseStore::Usage() const {
  DiskUsage u;
  const absl::StatusOr<std::vector<std::string>> names = env_->ListDir(dir_);
  if (names.ok()) {
    for (const std::string& name : *names) {
      const absl::StatusOr<std::uint64_t> size = env_->FileSize(JoinPath(dir_, name));
      if (size.ok()) u.file_bytes += *size;
    }
  }
  u.live_bytes = table_.stored_bytes() + kLogRecordHeaderSize * table_.size();
  return u;
}

absl::Status DatabaseStore::WriteCheckpoint(const RecoveredState& state,
                                            internal::node_table& table, NodeStore& store) const {
  COWDB_RETURN_IF_ERROR(store.AppendRecord(kCheckpointRecord, ""));
  PruneRecord pruned;
  for (const RecoveredState::Entry& e : state.versions) {
    VersionRecord rec;
    rec.id = e.info.id.value;
    for (const VersionId p : e.info.parents) rec.parents.push_back(p.value);
    store.StartSpan();
    if (e.version != nullptr) {
      rec.time_ns = absl::ToUnixNanos(e.info.time);
      rec.message = e.info.message;
      for (const auto& [name, d] : e.version->catalog) {
        COWDB_ASSIGN_OR_RETURN(const internal::StoredTree t, d->Save(table, store));
        rec.datasets.push_back({std::string(name), std::string(d->StoredType()), t.root,
                                static_cast<std::uint32_t>(t.depth), t.rows});
      }
    } else {
      pruned.ids.push_back(rec.id);  // kept for its parents (merge bases), then pruned again
    }
    const RecordLogWriter::Span nodes = store.span();
    rec.nodes_begin = nodes.begin;
    rec.nodes_checksum = nodes.checksum;
    rec.next_row_id = internal::g_next_row_id.load(std::memory_order_relaxed);
    COWDB_RETURN_IF_ERROR(store.AppendRecord(kVersionRecord, EncodeVersion(rec)));
  }
  if (!pruned.ids.empty()) {
    COWDB_RETURN_IF_ERROR(store.AppendRecord(kPruneRecord, EncodePrune(pruned)));
  }
  for (const bool tag : {false, true}) {
    for (const auto& [name, id] : tag ? state.tags : state.branches) {
      RefRecord r = SetBranch(name, id);
      r.tag = tag;
      COWDB_RETURN_IF_ERROR(store.AppendRecord(kRefRecord, EncodeRef(r)));
    }
  }
  return absl::OkStatus();
}

absl::Status DatabaseStore::Compact(const RecoveredState& state) {
  if (!error_.ok()) return Broken();
  const std::uint32_t old_first = first_file_;
  const std::uint32_t old_last = nodes_->active_file();
  if (old_last >= kMaxNodeFileNumber) {
    return absl::ResourceExhaustedError(
        fmt::format("database \"{}\": no data file numbers left to compact into", dir_));
  }
  const std::uint32_t new_first = old_last + 1;
  absl::Status s;
  {
    internal::node_table table;
    std::unique_ptr<NodeStore> store;
    {
      absl::StatusOr<std::unique_ptr<NodeStore>> opened =
          NodeStore::Open(env_, dir_, database_id_, new_first, 0, NodeStore::Options{});
      if (opened.ok()) store = *std::move(opened);
      s = opened.status();
    }
    if (s.ok()) s = WriteCheckpoint(state, table, *store);
    if (s.ok()) s = store->Sync();
    if (s.ok()) {
      s = WriteCurrentFile(env_, dir_, EncodeCurrent(database_id_, new_first));
      if (!s.ok()) {
        // The old CURRENT or the new one is in place, and which is durable is unknown: both
        // name a complete log of the same state, but nothing more may be written to either.
        error_ = s;
        return s;
      }
      table.commit();
      table_.swap(table);  // the old table's entries are released as `table` goes
      // A group-commit leader may be syncing the old files: they are retired (closed once that
      // sync is done, kept until the store goes), not destroyed. The new files hold everything
      // written so far, synced.
      nodes_->Retire();
      retired_.push_back(std::move(nodes_));
      nodes_ = std::move(store);
      {
        std::lock_guard group(group_mu_);
        synced_ = std::max(synced_, written_);
      }
      group_cv_.notify_all();
      first_file_ = new_first;
    } else {
      store.reset();
      const absl::StatusOr<std::vector<std::string>> names = env_->ListDir(dir_);
      if (names.ok()) {  // best effort: Open removes an unfinished compaction's files too
        for (const std::string& name : *names) {
          if (DataFileNumber(name) >= new_first) (void)env_->Remove(JoinPath(dir_, name));
        }
      }
      table.rollback();
      return s;
    }
  }
  for (std::uint32_t n = old_first; n <= old_last; ++n) {  // best effort: Open removes them too
    (void)env_->Remove(JoinPath(dir_, DataFileName(n)));
  }
  return absl::OkStatus();
}

}  // namespace cowdb::storage
