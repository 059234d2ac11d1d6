// The state behind a Database: the version graph and the branch and tag tables, under one
// mutex held only for short lookups and pointer swaps (never while user code or a merge runs).
//
// A persistent database (Database::Open(dir)) also has a DatabaseStore: every change of state
// (a version published, a branch or tag set, renamed or deleted, a prune) is written there
// first and applied in memory only once written, so memory never shows what the disk might
// lose. Its writers are serialized by write_mu_ (held across the write and the in-memory
// change; readers never take it); in-memory databases do not take it.
#ifndef COWDB_DB_DATABASE_IMPL_H_
#define COWDB_DB_DATABASE_IMPL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/container/flat_map.hpp"
#include "cowdb/options.h"
#include "db/storage/database_store.h"
#include "db/version.h"
#include "db/version_graph.h"

namespace cowdb::internal {

// The two tables of named versions: branches (movable) and tags (fixed).
enum class RefKind { kBranch, kTag };

class DatabaseImpl {
 public:
  explicit DatabaseImpl(const Options& options);
  // A persistent database in the state `store` recovered. May throw std::bad_alloc.
  DatabaseImpl(const Options& options, std::unique_ptr<storage::DatabaseStore> store,
               storage::RecoveredState state);
  ~DatabaseImpl();

  // The store of a persistent database, or null.
  const storage::DatabaseStore* store() const noexcept { return store_.get(); }

  const Options& options() const noexcept { return options_; }

  // A retained version by id. Errors: kNotFound.
  absl::StatusOr<VersionPtr> GetVersion(VersionId id) const ABSL_LOCKS_EXCLUDED(mu_);
  // The head version of a branch. Errors: kNotFound.
  absl::StatusOr<VersionPtr> GetHead(std::string_view branch) const ABSL_LOCKS_EXCLUDED(mu_);
  // The version a branch or (failing that) a tag names. Errors: kNotFound.
  absl::StatusOr<VersionPtr> Resolve(std::string_view branch_or_tag) const ABSL_LOCKS_EXCLUDED(mu_);

  // Publishes `v` (its parents, message and catalog filled in by the caller) as the new head of
  // `branch` if that head is still `expected`, setting v->info.id and v->info.time; returns true.
  // If the head moved, returns false, leaves `v` as it was (to be merged and published again) and
  // sets *moved_to to the current head. One short critical section; O(1) amortized, allocation
  // only when the version table grows a block. Strong guarantee: if it throws (std::bad_alloc),
  // nothing changed. Errors: kNotFound (branch deleted).
  absl::StatusOr<bool> Publish(std::string_view branch, VersionId expected,
                               const std::shared_ptr<Version>& v, VersionPtr* moved_to)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Moves `branch` from `expected` to the existing version `to` (fast-forward). Returns false if
  // the head moved. Errors: kNotFound.
  absl::StatusOr<bool> MoveBranch(std::string_view branch, VersionId expected, VersionId to)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Branch and tag tables. Errors as documented in database.h.
  absl::Status AddRef(RefKind kind, std::string_view name, VersionId at) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RenameBranch(std::string_view from, std::string_view to) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status DeleteRef(RefKind kind, std::string_view name) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::pair<std::string, VersionId>> Refs(RefKind kind) const ABSL_LOCKS_EXCLUDED(mu_);

  // Walks of the version graph, each in one shared critical section (VersionGraph has their
  // contracts): the merge base of two heads, across pruned history, O(ancestors of both); Log's
  // retained history from `head`, newest first, O(versions reached); the first-parent walk of
  // OpenSnapshot(name, time) from `from`, O(versions walked). No errors; may throw
  // std::bad_alloc, changing nothing.
  VersionGraph::MergeBase MergeBase(VersionId source, VersionId target) const
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<VersionPtr> RetainedAncestors(const VersionPtr& head, std::size_t max_count) const
      ABSL_LOCKS_EXCLUDED(mu_);
  VersionGraph::AsOf FirstParentAsOf(const VersionPtr& from, absl::Time as_of) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every retained version (for memory reports).
  std::vector<VersionPtr> AllVersions() const ABSL_LOCKS_EXCLUDED(mu_);
  // The pruned versions something (a snapshot, a transaction) still holds, as of now.
  std::vector<VersionPtr> PinnedVersions() const ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets the versions `policy` does not keep (see Retention); returns how many. A persistent
  // database then compacts its files when Options::compact_below says so (a failed compaction
  // changes nothing and is retried by the next Prune).
  std::size_t Prune(const Retention& policy) ABSL_LOCKS_EXCLUDED(mu_);
  std::size_t Prune() ABSL_LOCKS_EXCLUDED(mu_) { return Prune(options_.retention()); }

  // A persistent database rewrites its data files to hold only the retained history
  // (storage::DatabaseStore::Compact); in memory, nothing to do. Writers wait; readers do not.
  absl::Status Compact() ABSL_LOCKS_EXCLUDED(mu_);

  // A persistent database's disk usage ({0, 0} in memory). Waits for a writer in progress.
  storage::DatabaseStore::DiskUsage DiskUsage() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using RefTable = boost::container::flat_map<std::string, VersionId, std::less<>>;
  RefTable& Table(RefKind kind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return kind == RefKind::kTag ? tags_ : branches_;
  }
  const VersionPtr& Find(VersionId id) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return graph_.Find(id);
  }

  // A change of the branch or tag tables: check() validates it under mu_ (and prepares what
  // could fail later), returning an error, false (nothing to change: nothing is written), or
  // true; a persistent database then writes `record`; apply() (under mu_, no throw) makes it.
  // A persistent database's writers hold write_mu_ throughout.
  template <class Check, class Apply>
  absl::Status ChangeRefs(const Check& check, const storage::RefRecord& record, const Apply& apply)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Drops the versions `keep` rejects into *dropped, noting those something else still holds
  // in pinned_ (for memory reports). Throws only before it changes anything.
  template <class Keep>
  void DropVersions(const Keep& keep, std::size_t how_many, std::vector<VersionPtr>* dropped)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The whole history as the store restates it when compacting. REQUIRES: write_mu_ held.
  storage::RecoveredState History() const ABSL_LOCKS_EXCLUDED(mu_);
  // Locks write_mu_ for a persistent database's writers.
  absl::Mutex* WriteLock() const ABSL_LOCK_RETURNED(write_mu_) {
    return store_ != nullptr ? &write_mu_ : nullptr;
  }

  const Options options_;
  // Taken before mu_ by every writer of a persistent database, held while it writes the store.
  mutable absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  const std::unique_ptr<storage::DatabaseStore> store_;
  mutable absl::Mutex mu_;
  // Every version ever published (retained ones whole, pruned ones as their parents) and the
  // walks over them.
  VersionGraph graph_ ABSL_GUARDED_BY(mu_);
  RefTable branches_ ABSL_GUARDED_BY(mu_);
  RefTable tags_ ABSL_GUARDED_BY(mu_);
  absl::Time last_time_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // of the newest version
  // Pruned versions that were still held when they were pruned (expired entries are purged by
  // the next prune or report).
  mutable std::vector<std::weak_ptr<const Version>> pinned_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cowdb::internal

#endif  // COWDB_DB_DATABASE_IMPL_H_
