// The file-system interface of the storage layer (leveldb's Env, reduced to what a log-structured
// store needs), its POSIX implementation, and the directory lock.
//
// Everything that touches the disk goes through an Env, so tests can substitute one that fails
// the k-th call (fault_injection_env.h). Every call returns absl::Status; a failed system call
// maps its errno to a code with absl::ErrnoToStatus (ENOENT -> kNotFound, EACCES ->
// kPermissionDenied, ENOSPC -> kResourceExhausted, EIO -> kUnknown ...) and the message names
// the operation, the path and strerror:  open "/db/LOG-000001": No such file or directory.
//
// Durability: nothing is durable until synced. Append + DataSync (fdatasync) makes the data and
// the file size durable; a new or renamed directory entry is durable only after SyncDir on its
// directory. After a failed DataSync/Sync the state of the file's dirty pages is unknown (Linux
// may drop them and report the error once): callers must not retry the sync and trust it; they
// must treat the file as failed (RecordLogWriter does).
//
// Costs: each call is one or a few system calls; Append retries short writes and EINTR until
// all bytes are written, and never buffers (callers batch). No call allocates except for paths,
// messages and the returned objects.
//
// Thread-safety: Env::Default() is thread-safe. A WritableFile or RandomAccessFile is
// thread-compatible (RandomAccessFile::Read is const and uses pread, so concurrent reads of one
// file are safe).
#ifndef COWDB_DB_STORAGE_FILE_H_
#define COWDB_DB_STORAGE_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cowdb::storage {

// A file open for writing at its end. The destructor closes it, ignoring errors; call Close()
// to see them.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end of the file. On error a prefix of `data` may have been
  // written (a torn write): the file's tail is then unknown.
  [[nodiscard]] virtual absl::Status Append(absl::string_view data) = 0;
  // fdatasync: the data and the metadata needed to read it back (the size) are durable.
  [[nodiscard]] virtual absl::Status DataSync() = 0;
  // fsync: the data and all of the file's metadata are durable.
  [[nodiscard]] virtual absl::Status Sync() = 0;
  // Closes the file; later calls other than path() are programmer errors.
  [[nodiscard]] virtual absl::Status Close() = 0;
  virtual const std::string& path() const = 0;
};

// A file open for reading at any offset.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into *out (resized to what was read): fewer than `n` only
  // at the end of the file. Allocates `n` bytes.
  [[nodiscard]] virtual absl::Status Read(std::uint64_t offset, std::size_t n,
                                          std::string* out) const = 0;
  virtual const std::string& path() const = 0;
};

// An exclusive advisory lock (flock), released when the object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The POSIX file system. Never null, lives as long as the process.
  static Env* Default();

  // Opens `path` for appending, creating it (empty) if missing.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) = 0;
  // Creates `path`, or truncates it to 0 bytes if it exists, and opens it for writing.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // Opens an existing file for reading; kNotFound if it does not exist.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;

  // Creates the directory `dir`; OK if it already exists.
  [[nodiscard]] virtual absl::Status CreateDir(const std::string& dir) = 0;
  // fsync of the directory itself: makes the entries created, renamed or removed in it durable.
  [[nodiscard]] virtual absl::Status SyncDir(const std::string& dir) = 0;
  // rename(2): atomically replaces `to` if it exists. Durable after SyncDir of their directory.
  [[nodiscard]] virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Removes a file; kNotFound if it does not exist.
  [[nodiscard]] virtual absl::Status Remove(const std::string& path) = 0;
  // Cuts (or extends with zeros) the file to `size` bytes. Not synced.
  [[nodiscard]] virtual absl::Status Truncate(const std::string& path, std::uint64_t size) = 0;
  // The size of a file in bytes; kNotFound if it does not exist.
  [[nodiscard]] virtual absl::StatusOr<std::uint64_t> FileSize(const std::string& path) = 0;
  // The names (not paths) of the entries of `dir`, without "." and "..", sorted.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) = 0;
  // Creates `path` if missing and takes an exclusive flock(LOCK_EX | LOCK_NB) on it. Locks belong
  // to an open file description, so a second LockFile of the same path fails even within one
  // process: kFailedPrecondition, naming the path.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(
      const std::string& path) = 0;
};

// The name of the lock file of a database directory.
inline constexpr char kLockFileName[] = "LOCK";

// Locks the database directory `dir` (its file `dir`/LOCK) until the returned lock is destroyed.
// Returns kFailedPrecondition if another opener (another process, or this one) holds it, or the
// error of creating the lock file.
[[nodiscard]] absl::StatusOr<std::unique_ptr<FileLock>> LockDirectory(Env* env,
                                                                      const std::string& dir);

// `dir` + "/" + `name`.
std::string JoinPath(const std::string& dir, const std::string& name);

// The directory holding `path` ("." for a bare name).
std::string ParentDir(const std::string& path);

}  // namespace cowdb::storage

#endif  // COWDB_DB_STORAGE_FILE_H_
