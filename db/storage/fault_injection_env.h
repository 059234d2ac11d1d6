// An Env for tests that fails chosen mutating calls (SQLite's I/O-error tests: fail the k-th
// call, for every k along an operation, and check the operation reports it and leaves the old or
// the new state).
//
// Mutating calls are counted from 1 after each Arm*: NewAppendableFile, NewWritableFile,
// CreateDir, SyncDir, Rename, Remove, Truncate, LockFile, and on files opened through this Env
// Append, DataSync, Sync and Close. Reads (NewRandomAccessFile, Read, FileSize, ListDir) are
// never failed. An injected failure returns the same status a real EIO would (kUnknown,
// "... injected I/O error") naming the path; a failed Append first writes half of its data, as a
// write cut short by a full disk or a crash would, so callers see torn tails too. Every other
// call, and every call while disarmed, goes to the wrapped Env.
//
// Thread-safety: thread-safe (the counter and the plan are atomics); files opened through it
// must not outlive it.
#ifndef COWDB_DB_STORAGE_FAULT_INJECTION_ENV_H_
#define COWDB_DB_STORAGE_FAULT_INJECTION_ENV_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "db/storage/file.h"

namespace cowdb::storage {

class FaultInjectionEnv final : public Env {
 public:
  // REQUIRES: `base` outlives this Env.
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Fails the k-th mutating call from now (k >= 1) and no other.
  void ArmFailAt(std::uint64_t k) { Arm(k, false); }
  // Fails the k-th mutating call from now and every mutating call after it (a dead disk).
  void ArmFailFrom(std::uint64_t k) { Arm(k, true); }
  // Stops injecting; the count goes on.
  void Disarm() { fail_at_.store(0); }
  // Mutating calls since the last Arm* (or construction).
  std::uint64_t mutating_calls() const { return calls_.load(); }
  // Whether a failure was injected since the last Arm*.
  bool injected() const { return injected_.load(); }
  // DataSync calls that went through (not failed) since construction.
  std::uint64_t data_syncs() const { return data_syncs_.load(); }
  // Each DataSync that goes through first sleeps this long (a slow device; 0: none).
  void set_sync_delay(absl::Duration d) { sync_delay_ns_.store(absl::ToInt64Nanoseconds(d)); }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  absl::Status CreateDir(const std::string& dir) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status Truncate(const std::string& path, std::uint64_t size) override;
  absl::StatusOr<std::uint64_t> FileSize(const std::string& path) override {
    return base_->FileSize(path);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

  // Counts one mutating call; returns the injected error if this call is to fail, else OK.
  // Used by the files this Env opens.
  absl::Status MaybeFail(const char* op, const std::string& path);
  // Counts a DataSync that goes through, after the sync delay.
  void CountDataSync();

 private:
  void Arm(std::uint64_t k, bool sticky);

  Env* const base_;
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<std::uint64_t> fail_at_{0};  // 0: disarmed
  std::atomic<bool> sticky_{false};
  std::atomic<bool> injected_{false};
  std::atomic<std::uint64_t> data_syncs_{0};
  std::atomic<std::int64_t> sync_delay_ns_{0};
};

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_FAULT_INJECTION_ENV_H_
