// Uses the installed cowdb package (cowdb::cowdb) the way an application would: a database, a
// branch, a commit, a diff. Exits non-zero on any mismatch.
#include <cstdint>
#include <cstdio>

#include "cowdb/cowdb.h"

int main() {
  std::unique_ptr<cowdb::Database> db = cowdb::Database::Open();
  {
    cowdb::Transaction t = *db->Begin("main");
    if (!t.Create<std::int64_t>("x", cowdb::pvec<std::int64_t>(10'000, 1)).ok()) return 1;
    if (!t.Commit("load").ok()) return 1;
  }
  if (!db->CreateBranch("exp", "main").ok()) return 1;
  cowdb::Transaction t = *db->Begin("exp");
  (*t.Edit<std::int64_t>("x"))->set(5'000, 42);
  if (!t.Commit("fix").ok()) return 1;
  const absl::StatusOr<cowdb::DatabaseDiff> d = db->Diff("main", "exp");
  const bool ok = d.ok() && d->changed.size() == 1 && d->changed[0].modified == 1 &&
                  (*db->OpenSnapshot("main")->Get<std::int64_t>("x"))[5'000] == 1;
  std::printf("consumer: %s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
