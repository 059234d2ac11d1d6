#include "db/storage/node_store.h"

#include <utility>

#include "cowdb/status.h"
#include "fmt/format.h"

namespace cowdb::storage {

std::string DataFileName(std::uint32_t number) { return fmt::format("data-{:06}.log", number); }

std::string NodeStore::PathOf(std::uint32_t number) const {
  return dir_ + "/" + DataFileName(number);
}

absl::StatusOr<std::unique_ptr<NodeStore>> NodeStore::Open(Env* env, std::string dir,
                                                           std::uint64_t database_id,
                                                           std::uint32_t active,
                                                           std::uint64_t active_size,
                                                           const Options& options) {
  if (active > kMaxNodeFileNumber) {
    return absl::DataLossError(fmt::format("data file number {} out of range", active));
  }
  std::unique_ptr<NodeStore> s(new NodeStore(env, std::move(dir), database_id, options));
  const std::string path = s->PathOf(active);
  absl::StatusOr<std::uint64_t> size = env->FileSize(path);
  if (!size.ok() && !absl::IsNotFound(size.status())) return size.status();
  const std::uint64_t have = size.ok() ? *size : 0;
  if (have < active_size) {
    return absl::DataLossError(
        fmt::format("data file \"{}\" has {} bytes, {} are committed", path, have, active_size));
  }
  if (have > active_size) COWDB_RETURN_IF_ERROR(env->Truncate(path, active_size));
  if (active_size > 0) {  // the header must be this database's
    COWDB_ASSIGN_OR_RETURN(auto reader, RecordLogReader::Open(env, path, database_id));
    (void)reader;
  }
  COWDB_RETURN_IF_ERROR(s->OpenWriter(active));
  return s;
}

absl::Status NodeStore::OpenWriter(std::uint32_t number) {
  COWDB_ASSIGN_OR_RETURN(writer_,
                         RecordLogWriter::Open(env_, PathOf(number), database_id_, options_.sync));
  active_ = number;
  return absl::OkStatus();
}

absl::Status NodeStore::NoWriter() const {
  return absl::FailedPreconditionError(
      fmt::format("data files in \"{}\": no active file after a failed Recover()", dir_));
}

absl::StatusOr<internal::node_ref> NodeStore::Write(std::string_view bytes) {
  if (writer_ == nullptr) return NoWriter();
  if (writer_->size() >= options_.roll_bytes ||
      writer_->size() + kLogRecordHeaderSize + bytes.size() >= kMaxNodeFileBytes) {
    COWDB_RETURN_IF_ERROR(Roll());
  }
  const std::uint64_t offset = writer_->size();
  COWDB_RETURN_IF_ERROR(
      writer_->Append(kNodeRecordType, absl::string_view(bytes.data(), bytes.size())));
  return (std::uint64_t{active_} << 40) | offset;
}

absl::StatusOr<std::string> NodeStore::Read(internal::node_ref ref) {
  const auto number = static_cast<std::uint32_t>(ref >> 40);
  const std::uint64_t offset = ref & (kMaxNodeFileBytes - 1);
  auto it = readers_.find(number);
  if (it == readers_.end()) {
    absl::StatusOr<std::unique_ptr<RecordLogReader>> r =
        RecordLogReader::Open(env_, PathOf(number), database_id_);
    if (absl::IsNotFound(r.status())) {
      return absl::DataLossError(
          fmt::format("data file \"{}\" is missing (node at offset {})", PathOf(number), offset));
    }
    if (!r.ok()) return r.status();
    it = readers_.emplace(number, *std::move(r)).first;
  }
  LogRecord rec;
  COWDB_RETURN_IF_ERROR(it->second->ReadAt(offset, &rec));
  if (rec.type != kNodeRecordType) {
    return absl::DataLossError(
        fmt::format("{}: record of type {} is not a node", Describe(ref), rec.type));
  }
  return std::move(rec.payload);
}

std::string NodeStore::Describe(internal::node_ref ref) const {
  return fmt::format("data file \"{}\" at offset {}", PathOf(static_cast<std::uint32_t>(ref >> 40)),
                     ref & (kMaxNodeFileBytes - 1));
}

absl::Status NodeStore::AppendRecord(std::uint8_t type, std::string_view payload) {
  if (writer_ == nullptr) return NoWriter();
  return writer_->Append(type, absl::string_view(payload.data(), payload.size()));
}

void NodeStore::StartSpan() {
  if (writer_ != nullptr) writer_->StartSpan();
}

RecordLogWriter::Span NodeStore::span() const {
  return writer_ == nullptr ? RecordLogWriter::Span{} : writer_->span();
}

absl::Status NodeStore::Flush() { return writer_ == nullptr ? NoWriter() : writer_->Flush(); }

absl::Status NodeStore::Sync() { return writer_ == nullptr ? NoWriter() : writer_->Sync(); }

absl::Status NodeStore::SyncWritten() {
  absl::MutexLock lock(&file_mu_);
  if (retired_) return absl::OkStatus();
  return writer_ == nullptr ? NoWriter() : writer_->SyncWritten();
}

void NodeStore::Retire() {
  absl::MutexLock lock(&file_mu_);
  retired_ = true;
  if (writer_ != nullptr) (void)writer_->Close();  // its records are in the compacted files
  writer_.reset();
  readers_.clear();
}

absl::Status NodeStore::Roll() {
  absl::MutexLock lock(&file_mu_);
  if (writer_ == nullptr) return NoWriter();
  COWDB_RETURN_IF_ERROR(writer_->Sync());
  return RecoverLocked();
}

absl::Status NodeStore::Recover() {
  absl::MutexLock lock(&file_mu_);
  return RecoverLocked();
}

absl::Status NodeStore::RecoverLocked() {
  if (active_ == kMaxNodeFileNumber) {
    return absl::ResourceExhaustedError("no data file numbers left");
  }
  if (writer_ != nullptr)
    (void)writer_->Close();  // after Roll's sync, or a broken writer whose tail is not used
  writer_.reset();
  // The next file starts empty: one left by a failed compaction (which numbers its output after
  // the active file) must not be appended to.
  const absl::Status removed = env_->Remove(PathOf(active_ + 1));
  if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
  return OpenWriter(active_ + 1);
}

}  // namespace cowdb::storage
