// I/O-fault injection at the database level (SQLite's approach): for every k, the k-th mutating
// file operation of an operation on a persistent database fails (once, or from then on, like a
// dead disk). The operation must report an error or succeed, never crash; the database must
// then refuse writes or go on correctly; and a reopening with a working file system must find
// exactly the state before the operation or after it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cowdb/database.h"
#include "cowdb/options.h"
#include "cowdb/transaction.h"
#include "db/database_factory.h"
#include "db/storage/fault_injection_env.h"
#include "fmt/format.h"
#include "testing/db_helpers.h"
#include "testing/storage_helpers.h"

namespace {

using cowdb::Database;
using cowdb::testing::I64;
using cowdb::testing::Ok;
using cowdb::testing::TempDir;
namespace fs = std::filesystem;

const cowdb::Options kOptions{.keep_last_versions = 1};

// Everything but the times: branches, tags, and each version of their histories (id, parents,
// message, datasets and contents).
std::string Describe(const Database& db) {
  std::string out;
  auto version = [&](const cowdb::Snapshot& s) {
    out += fmt::format(" {}<", s.id());
    for (const cowdb::VersionId p : s.info().parents) out += fmt::format("{} ", p);
    out += fmt::format("> '{}'", s.info().message);
    for (const cowdb::DatasetInfo& d : s.Datasets()) {
      out += fmt::format(" {}:", d.name);
      for (I64 x : Ok(s.Get<I64>(d.name))) out += fmt::format("{},", x);
    }
  };
  for (const cowdb::BranchInfo& b : db.Branches()) {
    out += fmt::format("\nbranch {}:", b.name);
    for (const cowdb::VersionInfo& v : Ok(db.Log(b.name))) version(Ok(db.OpenSnapshot(v.id)));
  }
  for (const cowdb::BranchInfo& t : db.Tags()) {
    out += fmt::format("\ntag {}:", t.name);
    version(Ok(db.OpenSnapshot(t.head)));
  }
  return out;
}

std::string DescribeDir(const std::string& dir) {
  return Describe(*Ok(Database::Open(dir, kOptions)));
}

void CopyDir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
  fs::remove(fs::path(to) / "LOCK");  // a copied lock file is an ordinary file; recreated
}

// A base database: two datasets, a branch with its own commit, a tag, three versions on main.
void MakeBase(const std::string& dir) {
  auto db = Ok(Database::Open(dir, kOptions));
  cowdb::testing::CreateDataset(*db, "main", "a", cowdb::testing::IotaVec(3000));
  cowdb::testing::CreateDataset(*db, "main", "b", cowdb::testing::IotaVec(10, 100));
  Ok(db->CreateBranch("exp", "main"));
  cowdb::testing::SetElement(*db, "exp", "a", 2500, -7);
  Ok(db->CreateTag("t", "main"));
  cowdb::testing::SetElement(*db, "main", "a", 5, -5);
}

struct Operation {
  const char* name;
  std::function<absl::Status(Database&)> run;
};

absl::Status Commit(Database& db) {
  absl::StatusOr<cowdb::Transaction> t = db.Begin("main");
  if (!t.ok()) return t.status();
  Ok(t->Edit<I64>("a"))->erase(10);
  Ok(t->Edit<I64>("a"))->set(2000, 42);
  Ok(t->Create<I64>("c", cowdb::pvec<I64>{1, 2, 3}));
  return t->Commit("commit").status();
}

}  // namespace

TEST_CASE("faults: every failed file operation leaves the old or the new state",
          "[database][persistence][faults]") {
  TempDir scratch;
  const std::string base = scratch.file("base"), work = scratch.file("work"),
                    after = scratch.file("after");
  MakeBase(base);
  const std::vector<Operation> ops = {
      {"commit", Commit},
      {"merge", [](Database& db) { return db.Merge("exp", "main", "merge").status(); }},
      {"create branch", [](Database& db) { return db.CreateBranch("new", "exp"); }},
      {"rename branch", [](Database& db) { return db.RenameBranch("exp", "exp2"); }},
      {"delete tag", [](Database& db) { return db.DeleteTag("t"); }},
      {"prune",
       [](Database& db) {
         return db.Prune() > 0 ? absl::OkStatus() : absl::UnknownError("pruned nothing");
       }},
  };
  const std::string old_state = DescribeDir(base);
  for (const Operation& op : ops) {
    for (const bool sync : {true, false}) {
      const cowdb::Options options{.keep_last_versions = 1,
                                   .sync = sync ? cowdb::Sync::kEveryCommit : cowdb::Sync::kNone};
      // The state after the operation, without faults.
      CopyDir(base, after);
      std::string new_state;
      {
        auto db = Ok(Database::Open(after, options));
        REQUIRE(op.run(*db).ok());
        new_state = Describe(*db);
      }
      REQUIRE(new_state != old_state);
      CHECK(DescribeDir(after) == new_state);
      for (const bool sticky : {false, true}) {
        std::uint64_t k = 1;
        for (;; ++k) {
          INFO(op.name << (sync ? ", sync" : ", no sync") << (sticky ? ", dead disk" : "")
                       << ", failing mutating call " << k);
          CopyDir(base, work);
          cowdb::storage::FaultInjectionEnv env(cowdb::storage::Env::Default());
          bool injected = false;
          {
            auto db = Ok(cowdb::internal::DatabaseFactory::Open(&env, work, options));
            sticky ? env.ArmFailFrom(k) : env.ArmFailAt(k);
            const absl::Status s = op.run(*db);
            injected = env.injected();
            env.Disarm();
            if (!s.ok()) {
              REQUIRE(injected);
              // Memory shows the old state, and further writes are refused.
              CHECK(Describe(*db) == old_state);
              CHECK(absl::IsFailedPrecondition(db->CreateBranch("later", "main")));
            }
          }
          const std::string found = DescribeDir(work);
          CHECK((found == old_state || found == new_state));
          if (!injected) break;  // k passed the operation's last mutating call
        }
        CHECK(k >= 2);  // the operation made mutating calls, each one failed in turn
      }
    }
  }
}

// Compaction (Database::Compact) with the k-th mutating file operation failing, once or from
// then on: it reports the error and memory is unchanged; a failure before CURRENT is replaced
// leaves the database writable on its old files; reopening finds the same state, from one
// generation of data files.
TEST_CASE("faults: a failed compaction leaves the old files or the new ones in charge",
          "[database][persistence][faults]") {
  TempDir scratch;
  const std::string base = scratch.file("base"), work = scratch.file("work");
  MakeBase(base);
  {
    auto db = Ok(Database::Open(base, kOptions));
    for (int i = 0; i < 3; ++i) cowdb::testing::SetElement(*db, "main", "a", 7, i);
    REQUIRE(db->Prune() > 0);
  }
  const std::string state = DescribeDir(base);
  const auto one_generation = [&] {
    std::vector<std::string> data;
    for (const auto& e : fs::directory_iterator(work)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with("data-")) data.push_back(name);
    }
    std::sort(data.begin(), data.end());
    // Contiguous numbers: a leftover of the other generation would leave a gap or an extra file.
    for (std::size_t i = 1; i < data.size(); ++i) {
      if (std::stoi(data[i].substr(5, 6)) != std::stoi(data[i - 1].substr(5, 6)) + 1) return false;
    }
    return !data.empty();
  };
  for (const bool sticky : {false, true}) {
    std::uint64_t k = 1;
    for (;; ++k) {
      INFO((sticky ? "dead disk" : "one fault") << ", failing mutating call " << k);
      CopyDir(base, work);
      cowdb::storage::FaultInjectionEnv env(cowdb::storage::Env::Default());
      bool injected = false;
      {
        auto db = Ok(cowdb::internal::DatabaseFactory::Open(&env, work, kOptions));
        sticky ? env.ArmFailFrom(k) : env.ArmFailAt(k);
        const absl::Status s = db->Compact();
        injected = env.injected();
        env.Disarm();
        if (!s.ok()) REQUIRE(injected);
        CHECK(Describe(*db) == state);
        // Writable again (on whichever files are in charge), or refused after a failed switch.
        const absl::Status later = db->CreateBranch("later", "main");
        CHECK((later.ok() || absl::IsFailedPrecondition(later)));
        if (later.ok()) Ok(db->DeleteBranch("later"));
      }
      CHECK(DescribeDir(work) == state);
      CHECK(one_generation());
      if (!injected) break;
    }
    CHECK(k >= 4);
  }
}

TEST_CASE("faults: a failed Open (creating or recovering) loses nothing",
          "[database][persistence][faults]") {
  TempDir scratch;
  const std::string base = scratch.file("base"), work = scratch.file("work"),
                    expect = scratch.file("expect");
  MakeBase(base);
  // A torn tail to recover: the last record cut short.
  const fs::path log = fs::path(base) / "data-000001.log";
  fs::resize_file(log, fs::file_size(log) - 5);
  CopyDir(base, expect);
  const std::string recovered = DescribeDir(expect);
  for (const bool create : {true, false}) {
    std::uint64_t k = 1;
    for (;; ++k) {
      INFO((create ? "creating" : "recovering") << ", failing mutating call " << k);
      if (create) {
        fs::remove_all(work);
      } else {
        CopyDir(base, work);
      }
      cowdb::storage::FaultInjectionEnv env(cowdb::storage::Env::Default());
      env.ArmFailAt(k);
      absl::StatusOr<std::unique_ptr<Database>> db =
          cowdb::internal::DatabaseFactory::Open(&env, work, kOptions);
      const bool injected = env.injected();
      if (!db.ok()) REQUIRE(injected);
      db = absl::UnknownError("closed");
      // A clean open finds the new empty database, or the recovered state.
      const std::string found = DescribeDir(work);
      CHECK(found == (create ? "\nbranch main: v1<> 'initial empty version'" : recovered));
      if (!injected) break;
    }
    CHECK(k >= 2);
  }
}

// Every single-byte flip and every truncation of every file of a small database: Open reports
// an error (kDataLoss naming the file for a corrupt one) or finds a state the database really
// had -- the whole state for a flip (bytes no version reads may go unnoticed), the state after
// some prefix of the operations for a cut (a torn tail), never wrong data, never a crash.
// (A cut of the version log at a record boundary is indistinguishable from a crash before the
// next record: the state before it, by design.)
TEST_CASE("faults: every flipped byte and every truncation of every file",
          "[database][persistence][faults]") {
  TempDir scratch;
  const std::string base = scratch.file("base"), work = scratch.file("work");
  std::vector<std::string> states;  // after each operation
  {
    auto db = Ok(Database::Open(base, kOptions));
    states.push_back(Describe(*db));
    cowdb::testing::CreateDataset(*db, "main", "a", cowdb::testing::IotaVec(300));
    states.push_back(Describe(*db));
    Ok(db->CreateBranch("exp", "main"));
    states.push_back(Describe(*db));
    cowdb::testing::SetElement(*db, "exp", "a", 250, -7);
    states.push_back(Describe(*db));
    cowdb::testing::SetElement(*db, "main", "a", 5, -5);
    states.push_back(Describe(*db));
    Ok(db->CreateTag("t", "exp"));
    states.push_back(Describe(*db));
  }
  auto known = [&](const std::string& s) {
    return std::find(states.begin(), states.end(), s) != states.end();
  };
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(base)) {
    if (e.path().filename() != "LOCK") files.push_back(e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == 2);  // CURRENT, data-000001.log
  // Each case starts from the base's bytes, rewritten into the same files (copying the
  // directory anew each time makes the file system allocate and free inodes by the thousand,
  // which ext4 turns into seconds of system time).
  std::map<std::string, std::string> original;
  for (const std::string& name : files) {
    original[name] = cowdb::testing::ReadFileBytes((fs::path(base) / name).string());
  }
  CopyDir(base, work);
  const auto Restore = [&] {
    for (const auto& e : fs::directory_iterator(work)) {
      const std::string name = e.path().filename().string();
      if (name != "LOCK" && !original.contains(name)) fs::remove(e.path());
    }
    for (const auto& [name, bytes] : original) {
      cowdb::testing::WriteFileBytes((fs::path(work) / name).string(), bytes);
    }
  };
  std::size_t errors = 0, opened = 0;
  for (const std::string& name : files) {
    const std::uint64_t size = fs::file_size(fs::path(base) / name);
    const fs::path target = fs::path(work) / name;
    auto check = [&](const std::string& what, bool cut) {
      INFO(name << ": " << what);
      absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(work, kOptions);
      if (!db.ok()) {
        ++errors;
        // Corruption is kDataLoss naming the file (an error of another code would be a bug).
        CHECK(absl::IsDataLoss(db.status()));
        CHECK(db.status().message().find(name) != std::string_view::npos);
        return;
      }
      ++opened;
      const std::string found = Describe(**db);
      if (cut) {
        CHECK(known(found));
      } else {
        CHECK(found == states.back());
      }
    };
    for (std::uint64_t off = 0; off < size; ++off) {
      Restore();
      cowdb::testing::FlipByte(target.string(), off, 0x01);
      check(fmt::format("bit 0 of byte {} flipped", off), false);
    }
    for (std::uint64_t len = 0; len < size; ++len) {
      Restore();
      fs::resize_file(target, len);
      check(fmt::format("cut to {} bytes", len), true);
    }
  }
  CHECK(errors > 0);
  CHECK(opened > 0);
}
