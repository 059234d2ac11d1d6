#include "db/storage/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <filesystem>
#include <utility>

#include "fmt/format.h"

namespace cowdb::storage {
namespace {

// A failed system call as a Status: `op "path": strerror(errno)`, the code from errno.
absl::Status PosixError(absl::string_view op, const std::string& path, int error_number) {
  return absl::ErrnoToStatus(error_number,
                             fmt::format("{} \"{}\"", std::string(op.data(), op.size()), path));
}

// Retries a system call interrupted by a signal.
template <class F>
auto RetryOnEintr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  absl::Status Append(absl::string_view data) override {
    assert(fd_ >= 0);
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {  // write(2) may write less than asked (signals, quotas, pipes)
      const ssize_t n = RetryOnEintr([&] { return ::write(fd_, p, left); });
      if (n < 0) return PosixError("write", path_, errno);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    return absl::OkStatus();
  }
  absl::Status DataSync() override {
    assert(fd_ >= 0);
    if (RetryOnEintr([&] { return ::fdatasync(fd_); }) != 0) {
      return PosixError("fdatasync", path_, errno);
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    assert(fd_ >= 0);
    if (RetryOnEintr([&] { return ::fsync(fd_); }) != 0) return PosixError("fsync", path_, errno);
    return absl::OkStatus();
  }
  absl::Status Close() override {
    assert(fd_ >= 0);
    const int r = ::close(std::exchange(fd_, -1));  // never retried: the fd is gone either way
    if (r != 0) return PosixError("close", path_, errno);
    return absl::OkStatus();
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }
  PosixRandomAccessFile(const PosixRandomAccessFile&) = delete;
  PosixRandomAccessFile& operator=(const PosixRandomAccessFile&) = delete;

  absl::Status Read(std::uint64_t offset, std::size_t n, std::string* out) const override {
    out->resize(n);
    std::size_t done = 0;
    while (done < n) {  // pread(2) may return less than asked before the end of the file
      const ssize_t r = RetryOnEintr([&] {
        return ::pread(fd_, out->data() + done, n - done, static_cast<off_t>(offset + done));
      });
      if (r < 0) return PosixError("pread", path_, errno);
      if (r == 0) break;  // end of file
      done += static_cast<std::size_t>(r);
    }
    out->resize(done);
    return absl::OkStatus();
  }
  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  const int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing the description releases the flock
  PosixFileLock(const PosixFileLock&) = delete;
  PosixFileLock& operator=(const PosixFileLock&) = delete;

 private:
  const int fd_;
};

class PosixEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewAppendableFile(
      const std::string& path) override {
    return OpenWritable(path, O_APPEND);
  }
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return OpenWritable(path, O_TRUNC);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    const int fd = RetryOnEintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
    if (fd < 0) return PosixError("open", path, errno);
    return std::make_unique<PosixRandomAccessFile>(path, fd);
  }

  absl::Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return PosixError("mkdir", dir, errno);
    return absl::OkStatus();
  }
  absl::Status SyncDir(const std::string& dir) override {
    const int fd =
        RetryOnEintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) return PosixError("open directory", dir, errno);
    const int r = RetryOnEintr([&] { return ::fsync(fd); });
    const int saved = errno;
    ::close(fd);
    if (r != 0) return PosixError("fsync directory", dir, saved);
    return absl::OkStatus();
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError("rename", fmt::format("{}\" to \"{}", from, to), errno);
    }
    return absl::OkStatus();
  }
  absl::Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
    return absl::OkStatus();
  }
  absl::Status Truncate(const std::string& path, std::uint64_t size) override {
    if (RetryOnEintr([&] { return ::truncate(path.c_str(), static_cast<off_t>(size)); }) != 0) {
      return PosixError("truncate", path, errno);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    return static_cast<std::uint64_t>(st.st_size);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("opendir", dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    const int saved = errno;  // readdir returns null with errno set on error, unchanged at the end
    ::closedir(d);
    if (saved != 0) return PosixError("readdir", dir, saved);
    std::sort(names.begin(), names.end());
    return names;
  }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    const int fd =
        RetryOnEintr([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644); });
    if (fd < 0) return PosixError("open", path, errno);
    if (RetryOnEintr([&] { return ::flock(fd, LOCK_EX | LOCK_NB); }) != 0) {
      const int saved = errno;
      ::close(fd);
      if (saved == EWOULDBLOCK) {
        return absl::FailedPreconditionError(fmt::format(
            "lock \"{}\": the database is open elsewhere (another process, or another Open in "
            "this one)",
            path));
      }
      return PosixError("flock", path, saved);
    }
    return std::make_unique<PosixFileLock>(fd);
  }

 private:
  static absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                                    int mode_flag) {
    const int fd = RetryOnEintr(
        [&] { return ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | mode_flag, 0644); });
    if (fd < 0) return PosixError("open", path, errno);
    return std::make_unique<PosixWritableFile>(path, fd);
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* const env = new PosixEnv;  // never destroyed: usable from static destructors
  return env;
}

absl::StatusOr<std::unique_ptr<FileLock>> LockDirectory(Env* env, const std::string& dir) {
  return env->LockFile(JoinPath(dir, kLockFileName));
}

std::string JoinPath(const std::string& dir, const std::string& name) { return dir + "/" + name; }

std::string ParentDir(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace cowdb::storage
