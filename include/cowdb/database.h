// cowdb/database.h — a versioned in-memory database of named datasets.
//
//   auto db = cowdb::Database::Open();
//   {
//     COWDB_ASSIGN_OR_RETURN(cowdb::Transaction txn, db->Begin("main"));
//     COWDB_RETURN_IF_ERROR(txn.Create<double>("prices", cowdb::pvec<double>(rows)));
//     COWDB_RETURN_IF_ERROR(txn.Commit("load").status());
//   }
//   COWDB_RETURN_IF_ERROR(db->CreateBranch("exp-1", "main"));       // O(1): no data is copied
//   ... transactions on "exp-1" ...
//   COWDB_ASSIGN_OR_RETURN(cowdb::DatabaseDiff d, db->Diff("main", "exp-1"));
//   COWDB_RETURN_IF_ERROR(db->Merge("exp-1", "main", "adopt exp-1").status());
//
// Model. A database holds a DAG of immutable versions; each version has an id, its parents, a
// message, a time and a catalog of named datasets (a dataset is a pvec<T> of any copyable,
// equality-comparable T, checked when read). Branches are named, movable pointers to versions
// ("main" exists from the start, at the empty version v1); tags are named, fixed pointers.
//
// Names (branches, tags, datasets): 1 to 255 bytes, no whitespace or control characters;
// otherwise kInvalidArgument. Errors follow cowdb/status.h; every failing call changes nothing.
//
// Thread-safety: Database is thread-safe. Readers (snapshots, Log, Diff) never wait for writers
// beyond a short critical section that copies a pointer; commits on different branches only
// share that critical section; no lock is held while user code or a merge of data runs.
#ifndef COWDB_DATABASE_H_
#define COWDB_DATABASE_H_

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cowdb/options.h"
#include "cowdb/snapshot.h"
#include "cowdb/status.h"
#include "cowdb/transaction.h"
#include "fmt/format.h"

namespace cowdb {

namespace internal {
class DatabaseImpl;
class DatabaseFactory;
}  // namespace internal

struct BranchInfo {
  std::string name;
  VersionId head;
};

// What Database::Log lists: a range of VersionInfo, newest first.
struct History {
  std::vector<VersionInfo> versions;
  // True when the limit cut the list short: more retained versions are reachable.
  bool truncated = false;

  auto begin() const noexcept { return versions.begin(); }
  auto end() const noexcept { return versions.end(); }
  std::size_t size() const noexcept { return versions.size(); }
  bool empty() const noexcept { return versions.empty(); }
  const VersionInfo& operator[](std::size_t i) const { return versions[i]; }
  const VersionInfo& front() const { return versions.front(); }  // REQUIRES: !empty()
  const VersionInfo& back() const { return versions.back(); }    // REQUIRES: !empty()
};

// How Merge() settles conflicts (rows both branches changed differently, or erased on one side
// and changed on the other, ...; see Conflict and merge.h).
enum class MergePolicy {
  kFail,    // report the conflicts (kAborted), change nothing
  kOurs,    // keep the target branch's value
  kTheirs,  // take the source branch's value
};

// One dataset that differs between two versions. Rows are followed by identity (diff.h): the
// counts are rows, never positions that merely shifted.
struct DatasetChange {
  std::string name;
  std::size_t modified = 0;   // rows in both versions whose values changed
  std::size_t appended = 0;   // new rows at the end
  std::size_t truncated = 0;  // rows removed from the end
  std::string text;           // git-like row diff (DiffOptions::text, bounded by
                              // max_text_ranges); a placeholder when the element type has
                              // no fmt::formatter; empty without DiffOptions::text
  std::size_t inserted = 0;   // new rows before the end
  std::size_t erased = 0;     // rows removed before the end
  std::size_t moved = 0;      // rows whose place changed (a sort, a cut and paste)
  // The changed rows as ranges with their positions in both versions (diff_range::from_first(),
  // to_first()); read the values from the two versions' snapshots, or diff the two pvecs
  // (cowdb::diff) for typed old/new values.
  std::vector<diff_range> ranges;
};

// What Database::Diff builds besides the counts.
struct DiffOptions {
  // DatasetChange::text, at most max_text_ranges changed ranges per dataset (then a line saying
  // how many were left out; SIZE_MAX: all). Costs O(rows shown) formatting. Default: true, 20.
  bool text = true;
  std::size_t max_text_ranges = 20;
  bool ranges = true;  // DatasetChange::ranges. Default: true.
};

// The difference between two versions, dataset by dataset.
struct DatabaseDiff {
  std::vector<std::string> added;    // datasets only in the newer version
  std::vector<std::string> removed;  // datasets only in the older version
  std::vector<DatasetChange> changed;
  bool empty() const noexcept { return added.empty() && removed.empty() && changed.empty(); }
};

// Memory accounting (Database::GetMemoryReport). Every figure counts node storage, as
// cowdb::memory_stats does: chunks are counted whole, each shared chunk once; heap memory the
// elements own (a std::string's characters) and pvec copies a program holds outside snapshots
// are not counted.
//
// "Exclusive" answers "what would deleting this branch (or tag) and pruning free?": the chunks
// of its head that no other branch head or tag reaches. A branch whose head is also a tag's
// version (see RefMemory::same_version) therefore shows 0 B exclusive: deleting the branch alone
// frees nothing while the tag keeps the version. Chunks reached only through history (older
// retained versions) are counted in MemoryReport::history_bytes, not here.

// One dataset of a head version.
struct DatasetMemory {
  std::string name;
  std::size_t rows = 0;
  std::size_t reachable_bytes = 0;  // all chunks of the dataset (those another dataset of the
                                    // same head also uses count for the first, by name)
  std::size_t exclusive_bytes = 0;  // ... that no other branch head or tag uses
};

// A branch's (or tag's) head version, compared with every other branch head and tag.
struct RefMemory {
  std::string name;
  VersionId head;
  std::size_t reachable_bytes = 0;        // all chunks the head uses
  std::size_t shared_bytes = 0;           // ... that another branch head or tag also uses
  std::size_t exclusive_bytes = 0;        // ... that only this branch (tag) keeps alive
  std::vector<DatasetMemory> datasets;    // by name
  std::vector<std::string> same_version;  // other branches and tags at this version ("tag x")
};

struct MemoryReport {
  std::vector<RefMemory> branches;  // sorted by name
  std::vector<RefMemory> tags;      // sorted by name
  std::size_t total_bytes = 0;      // all chunks of every retained version
  std::size_t history_bytes = 0;    // ... used only by retained versions no head or tag names
  std::size_t versions = 0;         // retained versions
  // Versions Prune() forgot that live Snapshots (or transactions begun on them) still hold,
  // and the bytes of their chunks no retained version uses: what releasing those snapshots
  // would free. Not included in total_bytes.
  std::size_t pinned_versions = 0;
  std::size_t pinned_bytes = 0;
  // The whole process's resident set (RSS) when the report was made, from /proc/self/statm (0
  // where that cannot be read). Compare with total_bytes + pinned_bytes, what cowdb holds: the
  // difference is the program's other memory and freed memory the allocator keeps (see
  // Options::release_memory).
  std::size_t resident_bytes = 0;
  // Persistent databases (0 in memory): the bytes of the directory's files, and the bytes of the
  // node records the retained versions (and snapshots of pruned ones) use. Compact() brings
  // disk_bytes down to about disk_live_bytes plus the history records.
  std::uint64_t disk_bytes = 0;
  std::uint64_t disk_live_bytes = 0;
};

class Database {
 public:
  // A new empty database in memory, with branch "main" at version v1. O(1).
  static std::unique_ptr<Database> Open(const Options& options = {});

  // The persistent database in directory `dir`, created (with its directory, whose parent must
  // exist) when the directory is missing or empty. Every change is written there before it is
  // visible (Options::sync says when it is durable), and reopening finds every version, branch
  // and tag, with the versions sharing their chunks again. Everything else works as in memory.
  // Element types are stored as their bytes (trivially copyable types) or through a
  // cowdb::codec<T> (codec.h); committing a type declared in-memory only (cowdb::memory_only)
  // is kInvalidArgument, and any other type does not compile as an element. A stored dataset
  // is read back as the type whose name, size, alignment and encoding it was stored with: Get
  // with another type is kInvalidArgument naming both, as in memory.
  // Cost: reads the header of every record in the data files, the history records, and every
  // node of the retained versions once (each shared node once): O(records + bytes of unique
  // data). A commit writes its new nodes and two small records with one write call and, with
  // Sync::kEveryCommit, one fdatasync.
  // Errors: kFailedPrecondition if another Database (in any process) has `dir` open, if `dir`
  // holds other files and no database, or if a stored dataset's element type is not one this
  // program uses as a dataset element; kDataLoss naming the file and offset when a file is
  // missing, truncated (other than a crash's torn tail, which is dropped) or corrupt; I/O
  // errors (kNotFound, kPermissionDenied, ...) naming the path.
  // The directory stays locked until the Database and every Transaction begun on it are
  // destroyed (snapshots do not hold it).
  // Thread-safety: as in memory; writers of one persistent database are serialized while they
  // write (readers never wait for the disk).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Database>> Open(
      const std::filesystem::path& dir, const Options& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // ---- branches and tags (O(log branches) each unless stated) ------------------------------
  // Creates branch `name` at the head of branch `from` (or at tag `from`). O(1) in data.
  // Errors: kInvalidArgument (bad name), kAlreadyExists, kNotFound (from).
  [[nodiscard]] absl::Status CreateBranch(std::string_view name, std::string_view from = "main");
  // Creates branch `name` at version `at`. Errors: as above; kNotFound if `at` is not retained.
  [[nodiscard]] absl::Status CreateBranch(std::string_view name, VersionId at);
  // Errors: kNotFound (from), kAlreadyExists (to), kInvalidArgument (bad name).
  [[nodiscard]] absl::Status RenameBranch(std::string_view from, std::string_view to);
  // Removes the branch pointer (versions stay until pruned). A live transaction on the branch
  // fails to commit with kNotFound. Errors: kNotFound; kFailedPrecondition for the last branch.
  [[nodiscard]] absl::Status DeleteBranch(std::string_view name);
  // The head of a branch. Errors: kNotFound.
  [[nodiscard]] absl::StatusOr<VersionId> Head(std::string_view branch) const;
  // All branches, sorted by name. O(branches).
  std::vector<BranchInfo> Branches() const;

  // Creates tag `name` at the head of branch (or tag) `from`, or at version `at`.
  // Errors: kInvalidArgument, kAlreadyExists, kNotFound.
  [[nodiscard]] absl::Status CreateTag(std::string_view name, std::string_view from);
  [[nodiscard]] absl::Status CreateTag(std::string_view name, VersionId at);
  // Errors: kNotFound.
  [[nodiscard]] absl::Status DeleteTag(std::string_view name);
  // All tags with the version each names, sorted by name.
  std::vector<BranchInfo> Tags() const;

  // ---- reading -----------------------------------------------------------------------------
  // A snapshot of a branch head or a tag (branches are looked up first), or of a version.
  // O(log branches). Errors: kNotFound.
  [[nodiscard]] absl::StatusOr<Snapshot> OpenSnapshot(std::string_view branch_or_tag) const;
  [[nodiscard]] absl::StatusOr<Snapshot> OpenSnapshot(VersionId id) const;

  // The version a branch (or tag) pointed at, at time `as_of`, as far as the history tells: down
  // its first parents (a merge's target side) from the head, the newest version committed at
  // or before `as_of`. O(versions walked). Errors: kNotFound if the name is unknown, if no
  // version is that old, or if the walk reaches a pruned version (the message says which).
  // Like Log, it walks under the database's lock held shared.
  [[nodiscard]] absl::StatusOr<Snapshot> OpenSnapshot(std::string_view branch_or_tag,
                                                      absl::Time as_of) const;

  // History of a branch or tag from the version it names, newest first, following all parents,
  // at most `limit` versions (History::truncated says when more are retained); it stops at
  // pruned versions. O(k log k) for the k <= limit + 1 versions it reads, however long the
  // history, walked under the database's lock held shared: a commit that publishes meanwhile
  // waits for the walk. Errors: kNotFound.
  [[nodiscard]] absl::StatusOr<History> Log(std::string_view branch_or_tag,
                                            std::size_t limit = 1000) const;

  // What changed from version `from` to version `to`: datasets added, removed, and changed
  // with their row diffs (rows followed by identity). O(datasets + changed chunks), plus the
  // text when options.text (O(changed rows)). Errors: kNotFound.
  [[nodiscard]] absl::StatusOr<DatabaseDiff> Diff(VersionId from, VersionId to,
                                                  DiffOptions options = {}) const;
  // The same between the versions two branches or tags name now (branches are looked up first,
  // as by OpenSnapshot): db->Diff("main", "exp-1"). Errors: kNotFound naming the missing name.
  [[nodiscard]] absl::StatusOr<DatabaseDiff> Diff(std::string_view from, std::string_view to,
                                                  DiffOptions options = {}) const;

  // ---- writing -----------------------------------------------------------------------------
  // Starts a transaction at the branch's head. O(1). Errors: kNotFound.
  [[nodiscard]] absl::StatusOr<Transaction> Begin(std::string_view branch);

  // Merges branch `source` into branch `target`: fast-forward when target's head is an
  // ancestor of source's; nothing when source's head is already in target's history; otherwise
  // a three-way merge against their common ancestor, committed as a version with two parents
  // (target head first). Returns target's new head. O(datasets + chunks changed on both sides).
  // Errors: kNotFound (branch), kInvalidArgument (source == target), kFailedPrecondition (no
  // common ancestor is retained), kAborted (conflicts with kFail; they are stored in
  // *conflicts when it is not null, sorted: each names the row in base, its place in target
  // ("ours") and source ("theirs"), what each did and both values; see Conflict). Rows are
  // merged by identity (merge.h, merge_mode::kValues): edits of different rows never conflict,
  // nor do equal changes of one row. On error nothing changes.
  [[nodiscard]] absl::StatusOr<VersionId> Merge(std::string_view source, std::string_view target,
                                                std::string_view message,
                                                MergePolicy policy = MergePolicy::kFail,
                                                std::vector<Conflict>* conflicts = nullptr);

  // ---- retention and memory ----------------------------------------------------------------
  // Forgets the versions the retention rules of Options do not keep (see Retention: branch
  // heads and tagged versions always stay); their memory is freed once no snapshot pins them,
  // and given back to the system when Options::release_memory says so.
  // Returns how many were forgotten. O(retained versions), and walks each branch's and tag's
  // whole history when keep_newer_than is set. A persistent database then compacts its files
  // when Options::compact_below says so (as Compact(); if that fails nothing is lost and the
  // next Prune tries again -- call Compact() to see the error). Thread-safety: as a commit.
  std::size_t Prune();
  // The same with the rules of `policy` instead of the options' (a one-off clean-up); the
  // options stay as they are. Errors: none.
  std::size_t Prune(const Retention& policy);

  // A persistent database rewrites its data files to hold only the retained versions (with
  // their chunks shared as in memory), the ancestry of pruned ones, and the branches and tags,
  // then removes the old files: the disk space of pruned versions is reclaimed. Crash-safe: the
  // new files take over with one atomic replacement of CURRENT; until then the old ones are in
  // charge, and Open removes an unfinished compaction's files. In memory: nothing to do.
  // Cost: writes and syncs the retained versions' unique bytes, O(those bytes). Writers of this
  // database wait meanwhile; readers (snapshots, Get) do not.
  // Errors: I/O errors (nothing changed, the database stays writable); if replacing CURRENT
  // itself failed, later writes are kFailedPrecondition until the database is reopened.
  [[nodiscard]] absl::Status Compact();

  // Bytes each branch, tag and dataset shares and keeps alone, history and pinned versions, and
  // the process's resident set; see MemoryReport. O(nodes of retained and pinned versions) time
  // and a hash table of them; a persistent database also lists its directory, waiting for a
  // writer in progress. Thread-safety: any thread; a report made while others commit describes
  // the versions it saw (each version whole).
  MemoryReport GetMemoryReport() const;

 private:
  friend class internal::DatabaseFactory;
  explicit Database(const Options& options);
  explicit Database(std::shared_ptr<internal::DatabaseImpl> impl) noexcept;
  std::shared_ptr<internal::DatabaseImpl> impl_;  // shared with live transactions
};

}  // namespace cowdb

// A table: each branch, then each tag (name, head, reachable, shared, exclusive, and the
// versions it shares its head with), each followed by its datasets; then the totals, pinned
// versions and resident memory. Sizes in B/KiB/MiB/GiB.
template <>
struct fmt::formatter<cowdb::MemoryReport> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  format_context::iterator format(const cowdb::MemoryReport& r, format_context& ctx) const;
};

// One line saying where, why and what each side did, e.g.
//   "qty"[42] value conflict: ours modified it to 7 (row 42), theirs modified it to 9 (row 40)
//   "qty"[3] modify/erase conflict: ours erased it, theirs modified it to 5 (row 3)
//   dataset "qty": ours dropped it, theirs wrote it
// (the row's values as Conflict holds them; the positions are each side's).
template <>
struct fmt::formatter<cowdb::Conflict> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  format_context::iterator format(const cowdb::Conflict& c, format_context& ctx) const;
};

// "main -> v5" (a branch or tag and the version it names).
template <>
struct fmt::formatter<cowdb::BranchInfo> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  format_context::iterator format(const cowdb::BranchInfo& b, format_context& ctx) const;
};

// A headline such as `"prices": 3 modified, 2 inserted, 1 erased`, then the text when there is
// one (DiffOptions::text).
template <>
struct fmt::formatter<cowdb::DatasetChange> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  format_context::iterator format(const cowdb::DatasetChange& c, format_context& ctx) const;
};

// "no changes", or a line per dataset added or removed and each changed dataset as above.
template <>
struct fmt::formatter<cowdb::DatabaseDiff> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  format_context::iterator format(const cowdb::DatabaseDiff& d, format_context& ctx) const;
};

// One line per version (VersionInfo's format), newest first, then "(more not shown)" when the
// limit cut it.
template <>
struct fmt::formatter<cowdb::History> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  format_context::iterator format(const cowdb::History& h, format_context& ctx) const;
};

#endif  // COWDB_DATABASE_H_
