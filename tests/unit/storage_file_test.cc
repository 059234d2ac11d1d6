// The POSIX Env, the directory lock and the fault-injecting Env (db/storage/file.h,
// fault_injection_env.h).
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "db/storage/fault_injection_env.h"
#include "db/storage/file.h"
#include "testing/storage_helpers.h"

namespace cowdb::storage {
namespace {

using cowdb::testing::Ok;
using cowdb::testing::ReadFileBytes;
using cowdb::testing::TempDir;

bool Mentions(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST_CASE("posix env: append, read, size, truncate, rename, list, remove", "[storage]") {
  TempDir dir;
  Env* env = Env::Default();
  const std::string a = dir.file("a");
  {
    std::unique_ptr<WritableFile> f = Ok(env->NewAppendableFile(a));
    Ok(f->Append("hello "));
    Ok(f->Append(std::string(100'000, 'x')));  // larger than one pipe/page: loops if short
    Ok(f->DataSync());
    Ok(f->Sync());
    Ok(f->Close());
  }
  CHECK(Ok(env->FileSize(a)) == 100'006);
  {  // appending to an existing file keeps its contents
    std::unique_ptr<WritableFile> f = Ok(env->NewAppendableFile(a));
    Ok(f->Append("!"));
    Ok(f->Close());
  }
  std::unique_ptr<RandomAccessFile> r = Ok(env->NewRandomAccessFile(a));
  std::string got;
  Ok(r->Read(0, 6, &got));
  CHECK(got == "hello ");
  Ok(r->Read(100'005, 10, &got));  // short only at the end of the file
  CHECK(got == "x!");
  Ok(r->Read(200'000, 10, &got));
  CHECK(got.empty());

  Ok(env->Truncate(a, 5));
  CHECK(ReadFileBytes(a) == "hello");
  {  // NewWritableFile truncates
    std::unique_ptr<WritableFile> f = Ok(env->NewWritableFile(a));
    Ok(f->Append("new"));
    Ok(f->Close());
  }
  CHECK(ReadFileBytes(a) == "new");

  Ok(env->CreateDir(dir.file("sub")));
  Ok(env->CreateDir(dir.file("sub")));  // exists: OK
  Ok(env->Rename(a, dir.file("b")));
  Ok(env->SyncDir(dir.path()));
  CHECK(Ok(env->ListDir(dir.path())) == std::vector<std::string>{"b", "sub"});
  Ok(env->Remove(dir.file("b")));
  CHECK(Ok(env->ListDir(dir.path())) == std::vector<std::string>{"sub"});
}

TEST_CASE("posix env: errors carry a code, the operation and the path", "[storage]") {
  TempDir dir;
  Env* env = Env::Default();
  const std::string missing = dir.file("missing");
  for (const absl::Status& s :
       {env->NewRandomAccessFile(missing).status(), env->FileSize(missing).status(),
        env->Remove(missing), env->Truncate(missing, 0), env->Rename(missing, dir.file("x")),
        env->ListDir(missing).status(), env->SyncDir(missing)}) {
    INFO(s.ToString());
    CHECK(absl::IsNotFound(s));
    CHECK(Mentions(s, missing));
    CHECK(Mentions(s, "No such file or directory"));
  }
  const absl::Status s = env->NewAppendableFile(dir.file("no/such/dir/f")).status();
  CHECK(absl::IsNotFound(s));
  CHECK(Mentions(s, "open \"" + dir.file("no/such/dir/f") + "\""));
}

TEST_CASE("lock: a second opener of the same directory gets kFailedPrecondition", "[storage]") {
  TempDir dir;
  Env* env = Env::Default();
  {
    std::unique_ptr<FileLock> first = Ok(LockDirectory(env, dir.path()));
    // flock locks belong to an open file description: a second open in this process conflicts.
    const absl::StatusOr<std::unique_ptr<FileLock>> second = LockDirectory(env, dir.path());
    INFO(second.status().ToString());
    CHECK(absl::IsFailedPrecondition(second.status()));
    CHECK(Mentions(second.status(), dir.file(kLockFileName)));
  }
  // Released with the first lock; a different directory never conflicts.
  std::unique_ptr<FileLock> again = Ok(LockDirectory(env, dir.path()));
  TempDir other;
  std::unique_ptr<FileLock> elsewhere = Ok(LockDirectory(env, other.path()));
}

TEST_CASE("fault injection: fails exactly the k-th mutating call, or every call from k",
          "[storage]") {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string a = dir.file("a");
  std::unique_ptr<WritableFile> f = Ok(env.NewAppendableFile(a));
  CHECK(env.mutating_calls() == 1);

  env.ArmFailAt(2);  // counting restarts: Append #1, Sync #2, Append #3
  Ok(f->Append("abcd"));
  const absl::Status sync = f->DataSync();
  CHECK(absl::IsUnknown(sync));
  CHECK(Mentions(sync, "injected"));
  CHECK(Mentions(sync, a));
  CHECK(env.injected());
  Ok(f->Append("ef"));
  CHECK(env.mutating_calls() == 3);

  env.ArmFailFrom(2);
  Ok(f->Append("gh"));
  const absl::Status torn = f->Append("ijkl");  // fails after writing half: "ij"
  CHECK_FALSE(torn.ok());
  CHECK_FALSE(f->Sync().ok());
  CHECK_FALSE(env.Rename(a, dir.file("b")).ok());
  CHECK_FALSE(env.SyncDir(dir.path()).ok());
  CHECK(ReadFileBytes(a) == "abcdefghij");
  CHECK(Ok(env.FileSize(a)) == 10);  // reads are never failed

  env.Disarm();
  Ok(env.Rename(a, dir.file("b")));
  Ok(f->Close());
}

}  // namespace
}  // namespace cowdb::storage
