// The record log (db/storage/record_log.h): round trips, recovery from a torn tail at every
// truncation length, every single-byte corruption, and an I/O fault at every step of an append.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cowdb/status.h"
#include "db/storage/checksum.h"
#include "db/storage/fault_injection_env.h"
#include "db/storage/file.h"
#include "db/storage/record_log.h"
#include "testing/storage_helpers.h"

namespace cowdb::storage {
namespace {

using cowdb::testing::Ok;
using cowdb::testing::ReadFileBytes;
using cowdb::testing::TempDir;
using cowdb::testing::WriteFileBytes;
using Records = std::vector<std::pair<std::uint8_t, std::string>>;

constexpr std::uint64_t kDb = 0x0123456789abcdefULL;

// Everything a reader finds in a log: the records, then how it ended (kEnd, kTornTail or an
// error, also one of Open), and the valid end.
struct Contents {
  Records records;
  absl::StatusOr<LogReadResult> end = LogReadResult::kRecord;
  std::uint64_t valid_end = 0;
};

Contents ReadLog(const std::string& path, std::uint64_t db = kDb) {
  Contents c;
  absl::StatusOr<std::unique_ptr<RecordLogReader>> reader =
      RecordLogReader::Open(Env::Default(), path, db);
  if (!reader.ok()) {
    c.end = reader.status();
    return c;
  }
  LogRecord rec;
  while ((c.end = (*reader)->Next(&rec)).ok() && *c.end == LogReadResult::kRecord) {
    c.records.emplace_back(rec.type, rec.payload);
  }
  c.valid_end = (*reader)->valid_end();
  return c;
}

void WriteLog(const std::string& path, const Records& records) {
  std::unique_ptr<RecordLogWriter> w =
      Ok(RecordLogWriter::Open(Env::Default(), path, kDb, SyncMode::kNone));
  for (const auto& [type, payload] : records) Ok(w->Append(type, payload));
  Ok(w->Sync());
  Ok(w->Close());
}

std::string Message(const absl::StatusOr<LogReadResult>& s) {
  return std::string(s.status().message());
}

// A small log with an empty payload, a 1-byte one, a longer one and the largest type.
const Records kSample = {{1, "a"}, {2, ""}, {3, std::string(100, 'p')}, {255, "last record"}};

// Where each record of kSample starts, and the end of the last one.
std::vector<std::uint64_t> SampleOffsets() {
  std::vector<std::uint64_t> offsets{kLogFileHeaderSize};
  for (const auto& r : kSample) {
    offsets.push_back(offsets.back() + kLogRecordHeaderSize + r.second.size());
  }
  return offsets;
}

TEST_CASE("record log: round trip, reopen and append, sizes", "[storage]") {
  TempDir dir;
  const std::string path = dir.file("LOG");
  WriteLog(path, kSample);
  const std::vector<std::uint64_t> offsets = SampleOffsets();
  CHECK(Ok(Env::Default()->FileSize(path)) == offsets.back());

  Contents c = ReadLog(path);
  CHECK(c.records == kSample);
  CHECK(c.end.ok());
  CHECK(*c.end == LogReadResult::kEnd);
  CHECK(c.valid_end == offsets.back());

  {  // reopening appends after the existing records
    std::unique_ptr<RecordLogWriter> w =
        Ok(RecordLogWriter::Open(Env::Default(), path, kDb, SyncMode::kEveryAppend));
    CHECK(w->size() == offsets.back());
    Ok(w->Append(7, std::string(5000, '\0')));  // binary payload
    CHECK(w->size() == offsets.back() + kLogRecordHeaderSize + 5000);
    Ok(w->Close());
  }
  Records want = kSample;
  want.emplace_back(7, std::string(5000, '\0'));
  c = ReadLog(path);
  CHECK(c.records == want);
  CHECK(*c.end == LogReadResult::kEnd);

  {  // record offsets are reported
    std::unique_ptr<RecordLogReader> r = Ok(RecordLogReader::Open(Env::Default(), path, kDb));
    LogRecord rec;
    for (std::size_t i = 0; i < kSample.size(); ++i) {
      REQUIRE(Ok(r->Next(&rec)) == LogReadResult::kRecord);
      CHECK(rec.offset == offsets[i]);
    }
  }
  // An empty log: just the header.
  WriteLog(dir.file("EMPTY"), {});
  c = ReadLog(dir.file("EMPTY"));
  CHECK(c.records.empty());
  CHECK(*c.end == LogReadResult::kEnd);
  CHECK(c.valid_end == kLogFileHeaderSize);
}

TEST_CASE("record log: a torn tail at every truncation length loses only the torn record",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("LOG");
  WriteLog(path, kSample);
  const std::string full = ReadFileBytes(path);
  const std::vector<std::uint64_t> offsets = SampleOffsets();
  for (std::size_t len = 0; len <= full.size(); ++len) {
    CAPTURE(len);
    WriteFileBytes(path, full.substr(0, len));
    const Contents c = ReadLog(path);
    INFO(c.end.status().ToString());
    REQUIRE(c.end.ok());
    // The complete records are exactly those that end within the first len bytes.
    std::size_t complete = 0;
    while (complete < kSample.size() && offsets[complete + 1] <= len) ++complete;
    CHECK(c.records == Records(kSample.begin(), kSample.begin() + complete));
    const bool at_boundary = len == offsets[complete];
    CHECK(*c.end == (at_boundary ? LogReadResult::kEnd : LogReadResult::kTornTail));
    CHECK(c.valid_end == (len < kLogFileHeaderSize ? 0 : offsets[complete]));

    // Recovery: cut the torn record, append, and the log reads as the prefix plus the new one.
    Ok(Env::Default()->Truncate(path, c.valid_end));
    std::unique_ptr<RecordLogWriter> w =
        Ok(RecordLogWriter::Open(Env::Default(), path, kDb, SyncMode::kNone));
    Ok(w->Append(9, "after recovery"));
    Ok(w->Close());
    Records want = c.records;
    want.emplace_back(9, "after recovery");
    const Contents after = ReadLog(path);
    CHECK(after.records == want);
    CHECK(after.end.ok());
    CHECK(*after.end == LogReadResult::kEnd);
  }
}

TEST_CASE("record log: every single-byte corruption is kDataLoss naming file and offset",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("LOG");
  WriteLog(path, kSample);
  const std::string full = ReadFileBytes(path);
  const std::vector<std::uint64_t> offsets = SampleOffsets();
  for (std::size_t pos = 0; pos < full.size(); ++pos) {
    for (const unsigned mask : {0x01u, 0x80u, 0xffu}) {
      CAPTURE(pos, mask);
      std::string bytes = full;
      bytes[pos] = static_cast<char>(static_cast<unsigned char>(bytes[pos]) ^ mask);
      WriteFileBytes(path, bytes);
      const Contents c = ReadLog(path);
      INFO(c.end.status().ToString());
      REQUIRE(absl::IsDataLoss(c.end.status()));
      CHECK(Message(c.end).find(path) != std::string::npos);
      // The error names the record holding the flipped byte (or the file header's field), and
      // every record before it was read intact.
      std::size_t i = 0;
      while (i < kSample.size() && offsets[i + 1] <= pos) ++i;
      const std::uint64_t named = pos < kLogFileHeaderSize ? (pos < 8 ? 0 : 24) : offsets[i];
      CHECK(Message(c.end).find(fmt::format("at offset {}", named)) != std::string::npos);
      CHECK(c.records ==
            Records(kSample.begin(), kSample.begin() + (pos < kLogFileHeaderSize ? 0 : i)));
    }
  }
}

TEST_CASE("record log: zero-filled tail is torn; garbage, other files and versions are data loss",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("LOG");
  WriteLog(path, kSample);
  const std::string full = ReadFileBytes(path);

  for (const std::size_t zeros : {1, 19, 20, 4096}) {  // a crash that grew the file only
    CAPTURE(zeros);
    WriteFileBytes(path, full + std::string(zeros, '\0'));
    const Contents c = ReadLog(path);
    REQUIRE(c.end.ok());
    CHECK(*c.end == LogReadResult::kTornTail);
    CHECK(c.records == kSample);
    CHECK(c.valid_end == full.size());
  }

  WriteFileBytes(path, full + std::string(40, 'g'));  // garbage where a record should start
  Contents c = ReadLog(path);
  CHECK(absl::IsDataLoss(c.end.status()));
  CHECK(Message(c.end).find(fmt::format("offset {}", full.size())) != std::string::npos);
  CHECK(c.records == kSample);

  WriteFileBytes(path, full);  // a log of another database
  c = ReadLog(path, kDb + 1);
  CHECK(absl::IsDataLoss(c.end.status()));
  CHECK(Message(c.end).find("log of database") != std::string::npos);

  std::string v2 = full;  // a later format version, with a valid header checksum
  v2[8] = 2;
  const std::string v2_sum = [&] {
    std::string s;
    PutFixed64(&s, Checksum(absl::string_view(v2.data(), 24)));
    return s;
  }();
  v2.replace(24, 8, v2_sum);
  WriteFileBytes(path, v2);
  c = ReadLog(path);
  CHECK(absl::IsDataLoss(c.end.status()));
  CHECK(Message(c.end).find("format version 2") != std::string::npos);

  WriteFileBytes(path, "not a log at all, but long enough to hold a header");
  c = ReadLog(path);
  CHECK(absl::IsDataLoss(c.end.status()));
  CHECK(Message(c.end).find("bad magic") != std::string::npos);

  CHECK(absl::IsNotFound(ReadLog(dir.file("missing")).end.status()));

  WriteFileBytes(path, full.substr(0, 10));  // a torn header is recovered, not appended to
  CHECK(
      absl::IsDataLoss(RecordLogWriter::Open(Env::Default(), path, kDb, SyncMode::kNone).status()));
}

TEST_CASE("record log: oversized records are refused; after a failed write the writer is broken",
          "[storage]") {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string path = dir.file("LOG");
  std::unique_ptr<RecordLogWriter> w = Ok(RecordLogWriter::Open(&env, path, kDb, SyncMode::kNone));
  static const char kByte = 0;  // never read: the size is checked first
  CHECK(absl::IsInvalidArgument(
      w->Append(1, absl::string_view(&kByte, std::size_t{kMaxLogRecordPayload} + 1))));
  Ok(w->Append(1, "kept"));
  Ok(w->Flush());
  Ok(w->Append(2, "torn"));  // buffered: the write happens at Flush
  env.ArmFailAt(1);
  const absl::Status failed = w->Flush();
  CHECK_FALSE(failed.ok());
  env.Disarm();
  CHECK(w->Append(3, "refused") == failed);  // sticky: the tail of the file is unknown
  CHECK(w->Sync() == failed);
  const Contents c = ReadLog(path);
  CHECK(c.records == Records{{1, "kept"}});
  CHECK(*c.end == LogReadResult::kTornTail);
}

// Runs `op` with the k-th mutating call failing (or every call from the k-th, if `sticky`), for
// k = 1, 2, ... until op succeeds; after each failure checks the log reads as `before` or
// `after` (a torn tail allowed: it is recovered), never anything else, and that it can be
// recovered and appended to. `reset` restores the starting files before each run.
template <class Reset, class Op>
void SweepFaults(const std::string& path, bool sticky, const Records& before, const Records& after,
                 Reset reset, Op op) {
  for (std::uint64_t k = 1;; ++k) {
    CAPTURE(k, sticky);
    REQUIRE(k < 100);
    reset();
    FaultInjectionEnv env(Env::Default());
    sticky ? env.ArmFailFrom(k) : env.ArmFailAt(k);
    const absl::Status s = op(&env);
    env.Disarm();
    INFO(s.ToString());
    Contents c = ReadLog(path);
    INFO(c.end.status().ToString());
    if (!env.injected()) {  // every step passed: done
      REQUIRE(s.ok());
      CHECK(c.records == after);
      CHECK(*c.end == LogReadResult::kEnd);
      return;
    }
    REQUIRE_FALSE(s.ok());
    if (absl::IsNotFound(c.end.status())) {  // the log was never created
      CHECK(before.empty());
      continue;
    }
    REQUIRE(c.end.ok());  // kEnd or kTornTail, never data loss
    CHECK((c.records == before || c.records == after));
    Ok(Env::Default()->Truncate(path, c.valid_end));
    std::unique_ptr<RecordLogWriter> w =
        Ok(RecordLogWriter::Open(Env::Default(), path, kDb, SyncMode::kEveryAppend));
    Ok(w->Append(42, "recovered"));
    Ok(w->Close());
    Records want = c.records;
    want.emplace_back(42, "recovered");
    c = ReadLog(path);
    CHECK(c.records == want);
    CHECK(*c.end == LogReadResult::kEnd);
  }
}

TEST_CASE("record log: an I/O fault at any step of append + sync leaves old or new records",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("LOG");
  const Records before = {{1, "one"}, {2, "two"}};
  Records after = before;
  after.emplace_back(3, std::string(300, 'n'));
  WriteLog(path, before);
  const std::string base = ReadFileBytes(path);
  const auto append = [&](Env* env) -> absl::Status {
    COWDB_ASSIGN_OR_RETURN(std::unique_ptr<RecordLogWriter> w,
                           RecordLogWriter::Open(env, path, kDb, SyncMode::kEveryAppend));
    COWDB_RETURN_IF_ERROR(w->Append(3, std::string(300, 'n')));
    return w->Close();
  };
  const auto reset = [&] { WriteFileBytes(path, base); };
  SECTION("existing log, one failing call") {
    SweepFaults(path, false, before, after, reset, append);
  }
  SECTION("existing log, every call from k on failing") {
    SweepFaults(path, true, before, after, reset, append);
  }
  SECTION("new log (created, header written, directory synced)") {
    const Records one = {{3, std::string(300, 'n')}};
    const auto remove = [&] { std::filesystem::remove(path); };
    SweepFaults(path, false, {}, one, remove, append);
    SweepFaults(path, true, {}, one, remove, append);
  }
}

TEST_CASE("record log: ReadAt reads one record by its offset, and nothing else", "[storage]") {
  TempDir dir;
  const std::string path = dir.file("LOG");
  WriteLog(path, kSample);
  const std::vector<std::uint64_t> offsets = SampleOffsets();
  std::unique_ptr<RecordLogReader> r = Ok(RecordLogReader::Open(Env::Default(), path, kDb));
  LogRecord rec;
  for (std::size_t i = kSample.size(); i-- > 0;) {  // any order
    Ok(r->ReadAt(offsets[i], &rec));
    CHECK(rec.type == kSample[i].first);
    CHECK(rec.payload == kSample[i].second);
    CHECK(rec.offset == offsets[i]);
  }
  // No record starts inside the header, inside a record or at the end of the file.
  for (const std::uint64_t bad :
       {std::uint64_t{0}, std::uint64_t{8}, offsets[2] + 1, offsets[3] - 3, offsets.back()}) {
    INFO("offset " << bad);
    const absl::Status s = r->ReadAt(bad, &rec);
    CHECK(s.code() == absl::StatusCode::kDataLoss);
    CHECK(s.message().find(path) != absl::string_view::npos);
    CHECK(s.message().find(fmt::format("offset {}", bad)) != absl::string_view::npos);
  }
  {  // a record appended after the reader opened the file is found
    std::unique_ptr<RecordLogWriter> w =
        Ok(RecordLogWriter::Open(Env::Default(), path, kDb, SyncMode::kNone));
    Ok(w->Append(9, "late"));
    Ok(w->Close());
  }
  Ok(r->ReadAt(offsets.back(), &rec));
  CHECK(rec.payload == "late");
  // Every flipped byte of a record makes ReadAt of that record kDataLoss; the others still read.
  const std::string clean = ReadFileBytes(path);
  for (std::uint64_t i = offsets[2]; i < offsets[3]; ++i) {
    std::string bytes = clean;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x20);
    WriteFileBytes(path, bytes);
    std::unique_ptr<RecordLogReader> f = Ok(RecordLogReader::Open(Env::Default(), path, kDb));
    INFO("byte " << i);
    CHECK(f->ReadAt(offsets[2], &rec).code() == absl::StatusCode::kDataLoss);
    Ok(f->ReadAt(offsets[3], &rec));
    CHECK(rec.payload == kSample[3].second);
  }
  // Truncated inside the last record.
  WriteFileBytes(path, clean.substr(0, clean.size() - 1));
  std::unique_ptr<RecordLogReader> t = Ok(RecordLogReader::Open(Env::Default(), path, kDb));
  CHECK(t->ReadAt(offsets.back(), &rec).code() == absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace cowdb::storage
