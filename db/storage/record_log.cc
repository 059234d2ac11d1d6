#include "db/storage/record_log.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "cowdb/status.h"
#include "db/storage/checksum.h"
#include "fmt/format.h"

namespace cowdb::storage {
namespace {

constexpr absl::string_view kLogMagic("cowdbLOG", 8);

// The file header of a log of `database_id`: all 32 bytes are determined by it.
std::string LogFileHeader(std::uint64_t database_id) {
  std::string h(kLogMagic.data(), kLogMagic.size());
  PutFixed32(&h, kLogFormatVersion);
  PutFixed32(&h, 0);
  PutFixed64(&h, database_id);
  PutFixed64(&h, Checksum(h));
  assert(h.size() == kLogFileHeaderSize);
  return h;
}

// The check of a record header's first 8 bytes (length, type, zeros).
std::uint32_t HeaderCheck(absl::string_view first8) {
  return static_cast<std::uint32_t>(Checksum(first8));
}

}  // namespace

// ---- reader ----------------------------------------------------------------------------------

RecordLogReader::RecordLogReader(std::unique_ptr<RandomAccessFile> file, std::uint64_t size)
    : file_(std::move(file)), size_(size) {}

absl::Status RecordLogReader::Corrupt(std::uint64_t offset, absl::string_view what) const {
  return absl::DataLossError(fmt::format("log \"{}\": {} at offset {}", file_->path(),
                                         std::string(what.data(), what.size()), offset));
}

absl::StatusOr<std::unique_ptr<RecordLogReader>> RecordLogReader::Open(Env* env,
                                                                       const std::string& path,
                                                                       std::uint64_t database_id) {
  COWDB_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> file, env->NewRandomAccessFile(path));
  COWDB_ASSIGN_OR_RETURN(const std::uint64_t size, env->FileSize(path));
  std::string got;
  COWDB_RETURN_IF_ERROR(file->Read(0, kLogFileHeaderSize, &got));
  std::unique_ptr<RecordLogReader> r(new RecordLogReader(std::move(file), size));
  const std::string want = LogFileHeader(database_id);
  const char* h = got.data();
  if (got.size() < kLogFileHeaderSize) {  // a crash while the file was being created?
    const auto [w, g] = std::mismatch(want.begin(), want.begin() + got.size(), got.begin());
    if (g != got.end()) return r->Corrupt(g - got.begin(), "file header (torn) is not a log's");
    r->done_ = LogReadResult::kTornTail;
    return r;
  }
  if (got.compare(0, kLogMagic.size(), kLogMagic.data(), kLogMagic.size()) != 0) {
    return r->Corrupt(0, "not a cowdb log (bad magic)");
  }
  if (DecodeFixed64(h + 24) != Checksum(absl::string_view(h, 24))) {
    return r->Corrupt(24, "file header checksum mismatch");
  }
  if (const std::uint32_t v = DecodeFixed32(h + 8); v != kLogFormatVersion) {
    return r->Corrupt(8,
                      fmt::format("format version {} (this build reads {})", v, kLogFormatVersion));
  }
  if (DecodeFixed32(h + 12) != 0) return r->Corrupt(12, "reserved file header bytes not zero");
  if (const std::uint64_t id = DecodeFixed64(h + 16); id != database_id) {
    return r->Corrupt(16, fmt::format("log of database {:#x}, not {:#x}", id, database_id));
  }
  r->valid_end_ = kLogFileHeaderSize;
  return r;
}

absl::StatusOr<bool> RecordLogReader::ZerosToEnd(std::uint64_t offset) const {
  std::string chunk;
  while (offset < size_) {
    COWDB_RETURN_IF_ERROR(
        file_->Read(offset, std::min<std::uint64_t>(size_ - offset, 1 << 16), &chunk));
    if (chunk.empty()) break;
    if (chunk.find_first_not_of('\0') != std::string::npos) return false;
    offset += chunk.size();
  }
  return true;
}

absl::StatusOr<RecordLogReader::Frame> RecordLogReader::ReadFrame(std::uint64_t offset,
                                                                  std::uint64_t end,
                                                                  LogRecord* record,
                                                                  std::uint8_t skip_type) const {
  const std::uint64_t left = end - offset;
  std::string header;
  COWDB_RETURN_IF_ERROR(file_->Read(offset, kLogRecordHeaderSize, &header));
  if (header.size() < kLogRecordHeaderSize) return Frame::kShort;
  const char* h = header.data();
  const absl::string_view first8(h, 8);
  const std::uint32_t length = DecodeFixed32(h);
  const auto type = static_cast<std::uint8_t>(h[4]);
  const bool header_ok = h[5] == 0 && h[6] == 0 && h[7] == 0 && type != 0 &&
                         DecodeFixed32(h + 8) == HeaderCheck(first8) &&
                         length <= kMaxLogRecordPayload;
  if (!header_ok) return Frame::kBadHeader;
  if (length > left - kLogRecordHeaderSize) return Frame::kShort;
  if (type == skip_type) {
    record->type = type;
    record->payload.clear();
    record->offset = offset;
    record->length = length;
    return Frame::kRecord;
  }
  std::string payload;
  COWDB_RETURN_IF_ERROR(file_->Read(offset + kLogRecordHeaderSize, length, &payload));
  if (payload.size() < length) return Frame::kShort;  // truncated meanwhile
  if (DecodeFixed64(h + 12) != Checksum(first8, payload)) {
    return Corrupt(offset, fmt::format("checksum mismatch in record of {} bytes", length));
  }
  record->type = type;
  record->payload = std::move(payload);
  record->offset = offset;
  record->length = length;
  return Frame::kRecord;
}

absl::StatusOr<LogReadResult> RecordLogReader::Next(LogRecord* record, std::uint8_t skip_type) {
  if (!done_.ok() || *done_ != LogReadResult::kRecord) return done_;
  const std::uint64_t offset = valid_end_;
  if (offset == size_) return done_ = LogReadResult::kEnd;
  absl::StatusOr<Frame> f = ReadFrame(offset, size_, record, skip_type);
  if (!f.ok()) return done_ = f.status();
  switch (*f) {
    case Frame::kShort: return done_ = LogReadResult::kTornTail;
    case Frame::kBadHeader: {
      COWDB_ASSIGN_OR_RETURN(const bool zeros, ZerosToEnd(offset));
      if (zeros) return done_ = LogReadResult::kTornTail;  // grown but never written: a crash
      return done_ = Corrupt(offset, "bad record header");
    }
    case Frame::kRecord: break;
  }
  valid_end_ = offset + kLogRecordHeaderSize + record->length;
  return LogReadResult::kRecord;
}

absl::Status RecordLogReader::ReadAt(std::uint64_t offset, LogRecord* record) const {
  if (offset < kLogFileHeaderSize) return Corrupt(offset, "no record starts inside the header");
  COWDB_ASSIGN_OR_RETURN(const Frame f, ReadFrame(offset, UINT64_MAX, record, 0));
  switch (f) {
    case Frame::kShort: return Corrupt(offset, "record cut short by the end of the file");
    case Frame::kBadHeader: return Corrupt(offset, "bad record header");
    case Frame::kRecord: break;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::uint64_t> RecordLogReader::ChecksumRange(std::uint64_t begin,
                                                             std::uint64_t end) const {
  ChecksumStream sum;
  std::string piece;
  for (std::uint64_t at = begin; at < end; at += piece.size()) {
    COWDB_RETURN_IF_ERROR(
        file_->Read(at, std::min<std::uint64_t>(end - at, std::uint64_t{1} << 20), &piece));
    if (piece.empty()) return Corrupt(at, "file ends inside a checksummed range");
    sum.Update(piece);
  }
  return sum.Digest();
}

// ---- writer ----------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<RecordLogWriter>> RecordLogWriter::Open(Env* env,
                                                                       const std::string& path,
                                                                       std::uint64_t database_id,
                                                                       SyncMode mode) {
  COWDB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewAppendableFile(path));
  COWDB_ASSIGN_OR_RETURN(const std::uint64_t size, env->FileSize(path));
  if (size != 0 && size < kLogFileHeaderSize) {
    return absl::DataLossError(
        fmt::format("log \"{}\": {} bytes, shorter than a log header; recover it (truncate) first",
                    path, size));
  }
  std::unique_ptr<RecordLogWriter> w(new RecordLogWriter(env, std::move(file), mode, size));
  if (size == 0) {
    COWDB_RETURN_IF_ERROR(w->Write(LogFileHeader(database_id)));
    w->size_ = kLogFileHeaderSize;
    w->span_begin_ = kLogFileHeaderSize;
    if (mode == SyncMode::kEveryAppend) COWDB_RETURN_IF_ERROR(w->Sync());
  }
  return w;
}

absl::Status RecordLogWriter::Write(absl::string_view bytes) {
  if (!error_.ok()) return error_;
  error_ = file_->Append(bytes);
  return error_;
}

absl::Status RecordLogWriter::Append(std::uint8_t type, absl::string_view payload) {
  assert(type != 0 && "record type 0 is reserved");
  if (payload.size() > kMaxLogRecordPayload) {
    return absl::InvalidArgumentError(
        fmt::format("log \"{}\": record of {} bytes is larger than the limit of {} bytes",
                    file_->path(), payload.size(), kMaxLogRecordPayload));
  }
  if (!error_.ok()) return error_;
  if (pending_.capacity() < kLogWriteBufferBytes) pending_.reserve(kLogWriteBufferBytes + 4096);
  const std::size_t start = pending_.size();
  PutFixed32(&pending_, static_cast<std::uint32_t>(payload.size()));
  pending_.push_back(static_cast<char>(type));
  pending_.append(3, '\0');
  const absl::string_view first8(pending_.data() + start, 8);
  const std::uint32_t header_check = HeaderCheck(first8);
  const std::uint64_t checksum = Checksum(first8, payload);
  PutFixed32(&pending_, header_check);
  PutFixed64(&pending_, checksum);
  pending_.append(payload.data(), payload.size());
  span_.Update(absl::string_view(pending_.data() + start, pending_.size() - start));
  size_ += kLogRecordHeaderSize + payload.size();
  if (mode_ == SyncMode::kEveryAppend) return Sync();
  if (pending_.size() >= kLogWriteBufferBytes) return Flush();
  return absl::OkStatus();
}

absl::Status RecordLogWriter::Flush() {
  if (!error_.ok()) return error_;
  if (pending_.empty()) return absl::OkStatus();
  const absl::Status s = Write(pending_);
  pending_.clear();
  if (pending_.capacity() > 2 * kLogWriteBufferBytes) std::string().swap(pending_);
  return s;
}

void RecordLogWriter::StartSpan() {
  span_begin_ = size_;
  span_.Reset();
}

RecordLogWriter::Span RecordLogWriter::span() const { return {span_begin_, span_.Digest()}; }

absl::Status RecordLogWriter::Sync() {
  COWDB_RETURN_IF_ERROR(Flush());
  error_ = file_->DataSync();
  if (error_.ok() && !dir_synced_) {
    error_ = env_->SyncDir(ParentDir(file_->path()));
    dir_synced_ = error_.ok();
  }
  return error_;
}

absl::Status RecordLogWriter::SyncWritten() {
  COWDB_RETURN_IF_ERROR(file_->DataSync());
  if (!dir_synced_) {
    COWDB_RETURN_IF_ERROR(env_->SyncDir(ParentDir(file_->path())));
    dir_synced_ = true;
  }
  return absl::OkStatus();
}

absl::Status RecordLogWriter::Close() {
  const absl::Status flushed = Flush();
  const absl::Status closed = file_->Close();
  return flushed.ok() ? closed : flushed;
}

}  // namespace cowdb::storage
