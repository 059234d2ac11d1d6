// cowdb/options.h — options of a Database.
//
//   cowdb::Options opts{.keep_last_versions = 100, .auto_prune = true};
//   auto db = cowdb::Database::Open(opts);
//
// Thread-safety: a plain value; copied into the Database at Open.
#ifndef COWDB_OPTIONS_H_
#define COWDB_OPTIONS_H_

#include <cstddef>
#include <optional>

#include "absl/time/time.h"

namespace cowdb {

// What makes a commit fail when its branch moved since the transaction began.
enum class ConflictMode {
  // Only the same element written differently on both sides (three-way merge of the datasets).
  kElement,
  // Any dataset written on both sides, even at different elements (stricter).
  kDataset,
};

// Persistent databases (Database::Open(dir, options)): when a commit is durable.
enum class Sync {
  // Commit (and every change of branches, tags and retention) returns after its data is
  // fsynced, and becomes visible only then: it survives a crash of the process, of the OS and a
  // power loss. One fdatasync per commit (about 0.1-10 ms, depending on the device); writers of
  // one database wait for each other's syncs.
  kEveryCommit,
  // Group commit: Commit returns after its data is fsynced, as with kEveryCommit, but commits
  // from concurrent threads share one fdatasync (those that wrote while a sync was running are
  // synced together by the next one), so throughput grows with the number of committing threads.
  // A commit becomes visible to other threads when it is written, before it is durable: a crash
  // of the machine can lose a commit that was visible but not yet acknowledged (and every later
  // one: Open finds a prefix, never a torn commit). If a sync fails, the commits waiting for it
  // report the error although they stay visible in memory; the database then refuses writes
  // until it is reopened (which finds the durable state).
  kGroupCommit,
  // Nothing is fsynced: the data is in the OS's page cache when Commit returns, which survives
  // a crash of the process but not of the machine (Open then finds the state after some prefix
  // of the acknowledged commits, never a torn one).
  kNone,
};

// Which versions Database::Prune() keeps. Every branch head and every tagged version is always
// kept, and a version is kept when any rule keeps it:
// - keep_last_versions = N: the versions at most N steps behind a branch's head (steps follow
//   every parent, both sides of a merge; 0 = the head only). A tag pins its own version only.
// - keep_newer_than = D: every version a branch or tag reaches that was committed less than D
//   before the Prune.
// With neither rule set, nothing a branch or tag reaches is forgotten (tags keep their history
// too): Prune() then forgets only versions of deleted branches and tags.
struct Retention {
  std::optional<std::size_t> keep_last_versions = std::nullopt;
  std::optional<absl::Duration> keep_newer_than = std::nullopt;
};

struct Options {
  // Conflict detection for commits that race with other commits on the same branch.
  // Default: kElement.
  ConflictMode conflict_mode = ConflictMode::kElement;

  // Retention, the rules of Prune() (see Retention): each branch's last `keep_last_versions`
  // versions, and every version younger than `keep_newer_than`. Each works alone; unset, a rule
  // keeps nothing extra, and with both unset Prune() forgets only what no branch or tag reaches.
  // Default: both unset.
  std::optional<std::size_t> keep_last_versions = std::nullopt;
  std::optional<absl::Duration> keep_newer_than = std::nullopt;

  // Run Prune() after every commit and merge. Default: false.
  bool auto_prune = false;

  // Give freed memory back to the operating system (glibc's malloc_trim(0), and the empty 2 MiB
  // slabs the node allocator keeps for reuse, at most 8 MiB; see README "Node memory") when the
  // Database is destroyed, and after an explicit Database::Prune() that forgot at least
  // one version while the allocator holds 32 MiB or more free. Without it the allocator keeps
  // freed pages for reuse and the process's resident set does not shrink
  // (MemoryReport::resident_bytes). Costs O(the heap's free chunks) each time. The automatic
  // prunes of auto_prune never trim, and below 32 MiB free Prune does not either: the next
  // commits reuse that memory, where a trim would make them fault fresh pages in again.
  // Default: true.
  bool release_memory = true;

  // Persistent databases only: see Sync. Default: kEveryCommit.
  Sync sync = Sync::kEveryCommit;

  // Persistent databases only: Prune() compacts the data files (Database::Compact) when the
  // bytes the retained versions need fall below this fraction of the files' bytes and at least
  // 1 MiB would be reclaimed. 0 = never automatically. Default: 0.5.
  double compact_below = 0.5;

  // The retention rules above as one value.
  Retention retention() const { return {keep_last_versions, keep_newer_than}; }
};

}  // namespace cowdb

#endif  // COWDB_OPTIONS_H_
