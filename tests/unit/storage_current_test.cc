// The atomically replaced CURRENT file (db/storage/current.h): round trips, every truncation and
// single-byte corruption, and an I/O fault at every step of a replace.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "db/storage/current.h"
#include "db/storage/fault_injection_env.h"
#include "db/storage/file.h"
#include "testing/storage_helpers.h"

namespace cowdb::storage {
namespace {

using cowdb::testing::Ok;
using cowdb::testing::ReadFileBytes;
using cowdb::testing::TempDir;
using cowdb::testing::WriteFileBytes;

bool Mentions(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST_CASE("current: round trip, replace, binary and empty payloads", "[storage]") {
  TempDir dir;
  Env* env = Env::Default();
  Ok(WriteCurrentFile(env, dir.path(), "MANIFEST-000001"));
  CHECK(Ok(ReadCurrentFile(env, dir.path())) == "MANIFEST-000001");
  Ok(WriteCurrentFile(env, dir.path(), "MANIFEST-000002"));
  CHECK(Ok(ReadCurrentFile(env, dir.path())) == "MANIFEST-000002");
  const std::string binary("\0\x01\xff\0", 4);
  Ok(WriteCurrentFile(env, dir.path(), binary));
  CHECK(Ok(ReadCurrentFile(env, dir.path())) == binary);
  Ok(WriteCurrentFile(env, dir.path(), ""));
  CHECK(Ok(ReadCurrentFile(env, dir.path())).empty());
  // The temporary file is gone; a stale one (a crash before the rename) is simply overwritten.
  CHECK(Ok(env->ListDir(dir.path())) == std::vector<std::string>{kCurrentFileName});
  WriteFileBytes(dir.file(kCurrentTempFileName), "stale, half written");
  Ok(WriteCurrentFile(env, dir.path(), "MANIFEST-000003"));
  CHECK(Ok(ReadCurrentFile(env, dir.path())) == "MANIFEST-000003");

  static const char kByte = 0;  // never read: the size is checked first
  CHECK(absl::IsInvalidArgument(WriteCurrentFile(
      env, dir.path(), absl::string_view(&kByte, std::size_t{kMaxCurrentPayload} + 1))));
}

TEST_CASE("current: missing, truncated or corrupt at any byte is kDataLoss naming the file",
          "[storage]") {
  TempDir dir;
  Env* env = Env::Default();
  const std::string path = dir.file(kCurrentFileName);
  absl::Status missing = ReadCurrentFile(env, dir.path()).status();
  CHECK(absl::IsDataLoss(missing));
  CHECK(Mentions(missing, path));
  CHECK(Mentions(missing, "missing"));

  Ok(WriteCurrentFile(env, dir.path(), "MANIFEST-000007"));
  const std::string full = ReadFileBytes(path);
  for (std::size_t len = 0; len < full.size(); ++len) {
    CAPTURE(len);
    WriteFileBytes(path, full.substr(0, len));
    const absl::Status s = ReadCurrentFile(env, dir.path()).status();
    INFO(s.ToString());
    CHECK(absl::IsDataLoss(s));
    CHECK(Mentions(s, path));
  }
  for (std::size_t pos = 0; pos < full.size(); ++pos) {
    for (const unsigned mask : {0x01u, 0x80u, 0xffu}) {
      CAPTURE(pos, mask);
      std::string bytes = full;
      bytes[pos] = static_cast<char>(static_cast<unsigned char>(bytes[pos]) ^ mask);
      WriteFileBytes(path, bytes);
      const absl::Status s = ReadCurrentFile(env, dir.path()).status();
      INFO(s.ToString());
      CHECK(absl::IsDataLoss(s));
      CHECK(Mentions(s, path));
      CHECK(Mentions(s, "offset"));
    }
  }
  WriteFileBytes(path, full + "x");  // a byte too many
  CHECK(absl::IsDataLoss(ReadCurrentFile(env, dir.path()).status()));
}

TEST_CASE("current: an I/O fault at any step of a replace leaves the old or the new payload",
          "[storage]") {
  for (const bool sticky : {false, true}) {
    TempDir dir;
    Ok(WriteCurrentFile(Env::Default(), dir.path(), "old"));
    bool finished = false;
    for (std::uint64_t k = 1; !finished; ++k) {
      CAPTURE(sticky, k);
      REQUIRE(k < 100);
      Ok(WriteCurrentFile(Env::Default(), dir.path(), "old"));
      FaultInjectionEnv env(Env::Default());
      sticky ? env.ArmFailFrom(k) : env.ArmFailAt(k);
      const absl::Status s = WriteCurrentFile(&env, dir.path(), "new payload");
      env.Disarm();
      INFO(s.ToString());
      const std::string now = Ok(ReadCurrentFile(Env::Default(), dir.path()));
      if (!env.injected()) {
        REQUIRE(s.ok());
        CHECK(now == "new payload");
        finished = true;
      } else {
        CHECK_FALSE(s.ok());
        CHECK((now == "old" || now == "new payload"));
        // And the directory still works: the next replace succeeds.
        Ok(WriteCurrentFile(Env::Default(), dir.path(), "next"));
        CHECK(Ok(ReadCurrentFile(Env::Default(), dir.path())) == "next");
      }
    }
  }
}

}  // namespace
}  // namespace cowdb::storage
