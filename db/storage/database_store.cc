#include "db/storage/database_store.h"

#include <algorithm>
#include <new>
#include <random>
#include <set>
#include <utility>

#include "absl/time/time.h"
#include "cowdb/internal/coding.h"
#include "cowdb/internal/dataset.h"
#include "cowdb/internal/row_ids.h"
#include "cowdb/status.h"
#include "db/storage/current.h"
#include "fmt/format.h"

namespace cowdb::storage {
namespace {

// CURRENT's payload: u64 database id | u32 length | version log name.
std::string EncodeCurrent(std::uint64_t database_id, std::string_view log_name) {
  std::string out;
  internal::PutFixed64(&out, database_id);
  internal::PutFixed32(&out, static_cast<std::uint32_t>(log_name.size()));
  out.append(log_name);
  return out;
}

std::uint64_t NewDatabaseId() {
  std::random_device rd;
  std::uint64_t id = 0;
  while (id == 0) id = (std::uint64_t{rd()} << 32) ^ rd();
  return id;
}

// The number of a node file name ("nodes-000042.log" -> 42), or 0.
std::uint32_t NodeFileNumber(const std::string& name) {
  if (name.size() != NodeFileName(1).size() || !name.starts_with("nodes-") ||
      !name.ends_with(".log")) {
    return 0;
  }
  std::uint32_t n = 0;
  for (std::size_t i = 6; i < 12; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    n = n * 10 + static_cast<std::uint32_t>(name[i] - '0');
  }
  return n;
}

// A directory that is not a database yet: empty, or left by a creation that crashed before
// CURRENT was written (its version log then holds at most the initial version and branch).
absl::StatusOr<bool> IsNewDirectory(Env* env, const std::string& dir) {
  absl::StatusOr<std::uint64_t> current = env->FileSize(JoinPath(dir, kCurrentFileName));
  if (current.ok()) return false;
  if (!absl::IsNotFound(current.status())) return current.status();
  COWDB_ASSIGN_OR_RETURN(const std::vector<std::string> names, env->ListDir(dir));
  const std::set<std::string> left_by_creation = {kLockFileName, kCurrentTempFileName,
                                                  kVersionLogName, NodeFileName(1)};
  for (const std::string& name : names) {
    if (!left_by_creation.contains(name)) {
      return absl::FailedPreconditionError(fmt::format(
          "\"{}\" is not a cowdb database (no {}) and is not empty: it holds \"{}\"", dir,
          kCurrentFileName, name));
    }
  }
  if (std::find(names.begin(), names.end(), kVersionLogName) == names.end()) return true;
  // A version log without CURRENT: it may hold only the initial records (well under 512 bytes),
  // else CURRENT was lost.
  COWDB_ASSIGN_OR_RETURN(const std::uint64_t size, env->FileSize(JoinPath(dir, kVersionLogName)));
  if (size > 512) {
    return absl::DataLossError(fmt::format(
        "\"{}\" is missing in \"{}\", whose version log holds committed data", kCurrentFileName,
        dir));
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

absl::StatusOr<std::unique_ptr<DatabaseStore>> DatabaseStore::Open(Env* env,
                                                                   const std::string& dir,
                                                                   bool sync,
                                                                   RecoveredState* state) {
  COWDB_RETURN_IF_ERROR(env->CreateDir(dir));
  std::unique_ptr<DatabaseStore> s(new DatabaseStore(env, dir, sync));
  COWDB_ASSIGN_OR_RETURN(s->lock_, LockDirectory(env, dir));
  COWDB_ASSIGN_OR_RETURN(const bool fresh, IsNewDirectory(env, dir));
  if (fresh) {
    // Version 1 (empty) on "main", durable, then CURRENT naming the log: a crash before CURRENT
    // is replaced leaves a directory IsNewDirectory recognizes.
    for (const std::string& name : {std::string(kVersionLogName), NodeFileName(1)}) {
      const absl::Status removed = env->Remove(JoinPath(dir, name));
      if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
    }
    const std::uint64_t id = NewDatabaseId();
    COWDB_ASSIGN_OR_RETURN(auto log, RecordLogWriter::Open(env, JoinPath(dir, kVersionLogName), id,
                                                           SyncMode::kNone));
    VersionRecord v1;
    v1.id = 1;
    v1.time_ns = absl::ToUnixNanos(absl::Now());
    v1.message = "initial empty version";
    v1.node_file = 1;
    v1.next_row_id = internal::g_next_row_id.load(std::memory_order_relaxed);
    COWDB_RETURN_IF_ERROR(log->Append(kVersionRecord, EncodeVersion(v1)));
    COWDB_RETURN_IF_ERROR(log->Append(kRefRecord, EncodeRef(SetBranch("main", 1))));
    COWDB_RETURN_IF_ERROR(log->Sync());
    COWDB_RETURN_IF_ERROR(log->Close());
    COWDB_RETURN_IF_ERROR(WriteCurrentFile(env, dir, EncodeCurrent(id, kVersionLogName)));
  }
  COWDB_RETURN_IF_ERROR(s->Recover(state));
  return s;
}

absl::Status DatabaseStore::Recover(RecoveredState* state) {
  COWDB_ASSIGN_OR_RETURN(const std::string current, ReadCurrentFile(env_, dir_));
  const std::string current_path = JoinPath(dir_, kCurrentFileName);
  internal::byte_reader in(current);
  std::uint64_t id = 0;
  std::string log_name;
  if (!in.u64(&id) || !in.str(&log_name) || !in.rest().empty() || id == 0 ||
      log_name != kVersionLogName) {
    return absl::DataLossError(fmt::format("\"{}\": malformed payload", current_path));
  }
  database_id_ = id;
  const std::string log_path = JoinPath(dir_, log_name);
  absl::StatusOr<std::unique_ptr<RecordLogReader>> reader =
      RecordLogReader::Open(env_, log_path, database_id_);
  if (absl::IsNotFound(reader.status())) {
    return absl::DataLossError(
        fmt::format("version log \"{}\" named by \"{}\" is missing", log_path, current_path));
  }
  if (!reader.ok()) return reader.status();
  VersionLogReplay replay;
  LogRecord record;
  for (;;) {
    COWDB_ASSIGN_OR_RETURN(const LogReadResult r, (*reader)->Next(&record));
    if (r == LogReadResult::kEnd) break;
    if (r == LogReadResult::kTornTail) {  // a crash during an append: that record never counted
      COWDB_RETURN_IF_ERROR(env_->Truncate(log_path, (*reader)->valid_end()));
      break;
    }
    COWDB_RETURN_IF_ERROR(replay.Apply(log_path, record));
  }
  if (!replay.ancestry().contains(1) || replay.branches().empty()) {
    return absl::DataLossError(
        fmt::format("version log \"{}\" holds no initial version or no branch", log_path));
  }
  reader->reset();
  // Node files past the one the newest version names hold only nodes no version uses.
  const std::uint32_t active = std::max<std::uint32_t>(replay.node_file(), 1);
  COWDB_ASSIGN_OR_RETURN(const std::vector<std::string> names, env_->ListDir(dir_));
  for (const std::string& name : names) {
    if (NodeFileNumber(name) > active) COWDB_RETURN_IF_ERROR(env_->Remove(JoinPath(dir_, name)));
  }
  NodeStore::Options node_options;
  COWDB_ASSIGN_OR_RETURN(nodes_, NodeStore::Open(env_, dir_, database_id_, active,
                                                 replay.node_size(), node_options));
  COWDB_RETURN_IF_ERROR(LoadVersions(replay, state));
  // Rows made by this process from now on get ids above every stored one.
  std::uint64_t next = internal::g_next_row_id.load(std::memory_order_relaxed);
  while (next < replay.next_row_id() &&
         !internal::g_next_row_id.compare_exchange_weak(next, replay.next_row_id())) {
  }
  COWDB_ASSIGN_OR_RETURN(log_, RecordLogWriter::Open(env_, log_path, database_id_, SyncMode::kNone));
  return absl::OkStatus();
}

absl::Status DatabaseStore::LoadVersions(const VersionLogReplay& replay, RecoveredState* state) {
  // One Dataset object per stored tree: versions that shared a dataset share it again.
  std::map<std::pair<internal::node_ref, std::string>, internal::DatasetPtr> loaded;
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
        const std::pair<internal::node_ref, std::string> key{d.root, d.type_tag};
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
      "durable state", dir_, error_.message()));
}

absl::Status DatabaseStore::AppendVersion(const internal::Version& v, std::string_view branch) {
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
  if (s.ok() && sync_) s = nodes_->Sync();
  if (!s.ok()) {
    table_.rollback();
    error_ = s;
    return s;
  }
  rec.node_file = nodes_->active_file();
  rec.node_size = nodes_->active_size();
  rec.next_row_id = internal::g_next_row_id.load(std::memory_order_relaxed);
  s = AppendRecords({{kVersionRecord, EncodeVersion(rec)},
                     {kRefRecord, EncodeRef(SetBranch(branch, rec.id))}});
  if (!s.ok()) {
    table_.rollback();
    return s;
  }
  table_.commit();
  return absl::OkStatus();
}

absl::Status DatabaseStore::AppendRef(const RefRecord& r) {
  if (!error_.ok()) return Broken();
  return AppendRecords({{kRefRecord, EncodeRef(r)}});
}

absl::Status DatabaseStore::AppendPrune(std::vector<std::uint64_t> ids) {
  if (!error_.ok()) return Broken();
  if (ids.empty()) return absl::OkStatus();
  std::sort(ids.begin(), ids.end());
  return AppendRecords({{kPruneRecord, EncodePrune({std::move(ids)})}});
}

absl::Status DatabaseStore::AppendRecords(
    const std::vector<std::pair<std::uint8_t, std::string>>& records) {
  absl::Status s;
  for (const auto& [type, payload] : records) {
    s = log_->Append(type, payload);
    if (!s.ok()) break;
  }
  if (s.ok() && sync_) s = log_->Sync();
  if (!s.ok()) error_ = s;
  return s;
}

void DatabaseStore::ReleaseUnused() {
  try {
    table_.release_unused();
  } catch (const std::bad_alloc&) {
    // Nothing is lost: the unused nodes stay until the next call.
  }
}

absl::StatusOr<std::uint64_t> DatabaseStore::BytesOnDisk() const {
  COWDB_ASSIGN_OR_RETURN(const std::vector<std::string> names, env_->ListDir(dir_));
  std::uint64_t total = 0;
  for (const std::string& name : names) {
    absl::StatusOr<std::uint64_t> size = env_->FileSize(JoinPath(dir_, name));
    if (size.ok()) total += *size;
  }
  return total;
}

}  // namespace cowdb::storage
