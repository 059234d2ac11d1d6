#include "db/storage/fault_injection_env.h"

#include <cerrno>
#include <utility>

#include "absl/time/clock.h"
#include "cowdb/status.h"
#include "fmt/format.h"

namespace cowdb::storage {
namespace {

class FaultInjectionFile final : public WritableFile {
 public:
  FaultInjectionFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}

  absl::Status Append(absl::string_view data) override {
    if (absl::Status s = env_->MaybeFail("write", path()); !s.ok()) {
      (void)base_->Append(data.substr(0, data.size() / 2));  // torn: half of it reached the file
      return s;
    }
    return base_->Append(data);
  }
  absl::Status DataSync() override {
    COWDB_RETURN_IF_ERROR(env_->MaybeFail("fdatasync", path()));
    env_->CountDataSync();
    return base_->DataSync();
  }
  absl::Status Sync() override {
    COWDB_RETURN_IF_ERROR(env_->MaybeFail("fsync", path()));
    return base_->Sync();
  }
  absl::Status Close() override {
    const absl::Status injected = env_->MaybeFail("close", path());
    const absl::Status s = base_->Close();  // the descriptor is released either way, as close(2)
    return injected.ok() ? s : injected;
  }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionEnv* const env_;
  const std::unique_ptr<WritableFile> base_;
};

}  // namespace

void FaultInjectionEnv::CountDataSync() {
  data_syncs_.fetch_add(1);
  const absl::Duration delay = absl::Nanoseconds(sync_delay_ns_.load());
  if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
}

void FaultInjectionEnv::Arm(std::uint64_t k, bool sticky) {
  calls_.store(0);
  injected_.store(false);
  sticky_.store(sticky);
  fail_at_.store(k);
}

absl::Status FaultInjectionEnv::MaybeFail(const char* op, const std::string& path) {
  const std::uint64_t n = ++calls_;
  const std::uint64_t k = fail_at_.load();
  if (k == 0 || n < k || (n > k && !sticky_.load())) return absl::OkStatus();
  injected_.store(true);
  return absl::ErrnoToStatus(EIO,
                             fmt::format("{} \"{}\" (injected I/O error, call {})", op, path, n));
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  COWDB_RETURN_IF_ERROR(MaybeFail("open", path));
  COWDB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, base_->NewAppendableFile(path));
  return std::make_unique<FaultInjectionFile>(this, std::move(f));
}

absl::StatusOr<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(
    const std::string& path) {
  COWDB_RETURN_IF_ERROR(MaybeFail("open", path));
  COWDB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, base_->NewWritableFile(path));
  return std::make_unique<FaultInjectionFile>(this, std::move(f));
}

absl::Status FaultInjectionEnv::CreateDir(const std::string& dir) {
  COWDB_RETURN_IF_ERROR(MaybeFail("mkdir", dir));
  return base_->CreateDir(dir);
}

absl::Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  COWDB_RETURN_IF_ERROR(MaybeFail("fsync directory", dir));
  return base_->SyncDir(dir);
}

absl::Status FaultInjectionEnv::Rename(const std::string& from, const std::string& to) {
  COWDB_RETURN_IF_ERROR(MaybeFail("rename", from));
  return base_->Rename(from, to);
}

absl::Status FaultInjectionEnv::Remove(const std::string& path) {
  COWDB_RETURN_IF_ERROR(MaybeFail("unlink", path));
  return base_->Remove(path);
}

absl::Status FaultInjectionEnv::Truncate(const std::string& path, std::uint64_t size) {
  COWDB_RETURN_IF_ERROR(MaybeFail("truncate", path));
  return base_->Truncate(path, size);
}

absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(const std::string& path) {
  COWDB_RETURN_IF_ERROR(MaybeFail("lock", path));
  return base_->LockFile(path);
}

}  // namespace cowdb::storage
