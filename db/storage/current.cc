#include "db/storage/current.h"

#include <memory>

#include "cowdb/status.h"
#include "db/storage/checksum.h"
#include "fmt/format.h"

namespace cowdb::storage {
namespace {

constexpr absl::string_view kCurrentMagic("cowdbCUR", 8);
constexpr std::size_t kCurrentHeaderSize = 16;  // magic, version, length
constexpr std::size_t kCurrentOverhead = kCurrentHeaderSize + 8;

absl::Status Corrupt(const std::string& path, absl::string_view what) {
  return absl::DataLossError(
      fmt::format("CURRENT file \"{}\": {}", path, std::string(what.data(), what.size())));
}

absl::Status WriteAndSync(Env* env, const std::string& path, absl::string_view bytes) {
  COWDB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env->NewWritableFile(path));
  COWDB_RETURN_IF_ERROR(f->Append(bytes));
  COWDB_RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

}  // namespace

absl::Status WriteCurrentFile(Env* env, const std::string& dir, absl::string_view payload) {
  if (payload.size() > kMaxCurrentPayload) {
    return absl::InvalidArgumentError(
        fmt::format("CURRENT payload of {} bytes is larger than the limit of {} bytes",
                    payload.size(), kMaxCurrentPayload));
  }
  std::string bytes(kCurrentMagic.data(), kCurrentMagic.size());
  PutFixed32(&bytes, kCurrentFormatVersion);
  PutFixed32(&bytes, static_cast<std::uint32_t>(payload.size()));
  bytes.append(payload.data(), payload.size());
  PutFixed64(&bytes, Checksum(bytes));

  const std::string tmp = JoinPath(dir, kCurrentTempFileName);
  if (absl::Status s = WriteAndSync(env, tmp, bytes); !s.ok()) {
    (void)env->Remove(tmp);  // best effort; the next write truncates it anyway
    return s;
  }
  COWDB_RETURN_IF_ERROR(env->Rename(tmp, JoinPath(dir, kCurrentFileName)));
  return env->SyncDir(dir);
}

absl::StatusOr<std::string> ReadCurrentFile(Env* env, const std::string& dir) {
  const std::string path = JoinPath(dir, kCurrentFileName);
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> file = env->NewRandomAccessFile(path);
  if (absl::IsNotFound(file.status())) return Corrupt(path, "missing");
  COWDB_RETURN_IF_ERROR(file.status());
  COWDB_ASSIGN_OR_RETURN(const std::uint64_t size, env->FileSize(path));
  if (size > kCurrentOverhead + kMaxCurrentPayload) {
    return Corrupt(path, fmt::format("{} bytes, larger than any CURRENT", size));
  }
  std::string bytes;
  COWDB_RETURN_IF_ERROR((*file)->Read(0, size, &bytes));
  if (bytes.size() < kCurrentOverhead) {
    return Corrupt(path, fmt::format("{} bytes, shorter than any CURRENT", bytes.size()));
  }
  const char* p = bytes.data();
  if (bytes.compare(0, kCurrentMagic.size(), kCurrentMagic.data(), kCurrentMagic.size()) != 0) {
    return Corrupt(path, "not a cowdb CURRENT file (bad magic) at offset 0");
  }
  const std::size_t end = bytes.size() - 8;
  if (DecodeFixed64(p + end) != Checksum(absl::string_view(p, end))) {
    return Corrupt(path,
                   fmt::format("checksum at offset {} does not match bytes [0, {})", end, end));
  }
  if (const std::uint32_t v = DecodeFixed32(p + 8); v != kCurrentFormatVersion) {
    return Corrupt(path, fmt::format("format version {} (this build reads {}) at offset 8", v,
                                     kCurrentFormatVersion));
  }
  if (const std::uint32_t n = DecodeFixed32(p + 12); n != end - kCurrentHeaderSize) {
    return Corrupt(path, fmt::format("payload length {} at offset 12 does not fit the file "
                                     "size {}",
                                     n, bytes.size()));
  }
  return bytes.substr(kCurrentHeaderSize, end - kCurrentHeaderSize);
}

}  // namespace cowdb::storage
