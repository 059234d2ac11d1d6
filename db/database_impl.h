// The state behind a Database: the version table and the branch and tag tables, under one
// mutex held only for short lookups and pointer swaps (never while user code or a merge runs).
#ifndef COWDB_DB_DATABASE_IMPL_H_
#define COWDB_DB_DATABASE_IMPL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "boost/container/flat_map.hpp"
#include "cowdb/options.h"
#include "db/version.h"

namespace cowdb::internal {

class DatabaseImpl {
 public:
  explicit DatabaseImpl(const Options& options);

  const Options& options() const noexcept { return options_; }

  // A retained version by id. Errors: kNotFound.
  absl::StatusOr<VersionPtr> GetVersion(VersionId id) const ABSL_LOCKS_EXCLUDED(mu_);
  // The head version of a branch. Errors: kNotFound.
  absl::StatusOr<VersionPtr> GetHead(std::string_view branch) const ABSL_LOCKS_EXCLUDED(mu_);
  // The version a branch or (failing that) a tag names. Errors: kNotFound.
  absl::StatusOr<VersionPtr> Resolve(std::string_view branch_or_tag) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Publishes a new version on `branch` if its head is still `expected`. Returns the new
  // version; or, if the head moved, nullptr and the current head in *moved_to.
  // Errors: kNotFound (branch deleted).
  absl::StatusOr<VersionPtr> Publish(std::string_view branch, VersionId expected,
                                     std::vector<VersionId> parents, std::string message,
                                     Catalog catalog, VersionPtr* moved_to)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Moves `branch` from `expected` to the existing version `to` (fast-forward). Returns false if
  // the head moved. Errors: kNotFound.
  absl::StatusOr<bool> MoveBranch(std::string_view branch, VersionId expected, VersionId to)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Branch and tag tables. Errors as documented in database.h.
  absl::Status AddRef(bool tag, std::string_view name, VersionId at) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status RenameBranch(std::string_view from, std::string_view to) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status DeleteRef(bool tag, std::string_view name) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::pair<std::string, VersionId>> Refs(bool tag) const ABSL_LOCKS_EXCLUDED(mu_);

  // Every ancestor of `from` (itself included, pruned ones too) with its distance from `from`,
  // breadth first. The ancestry of pruned versions is kept (ids only) so that merges still find
  // fork points across pruned history.
  std::vector<std::pair<VersionId, std::size_t>> Ancestors(VersionId from) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Every retained version (for memory reports).
  std::vector<VersionPtr> AllVersions() const ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets versions outside every branch's and tag's retention window; returns how many.
  std::size_t Prune() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using RefTable = boost::container::flat_map<std::string, VersionId, std::less<>>;
  RefTable& Table(bool tag) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return tag ? tags_ : branches_; }
  VersionPtr Find(VersionId id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Stops descending at max_dist steps (retention windows need no more).
  std::vector<std::pair<VersionId, std::size_t>> AncestorsLocked(
      VersionId from, std::size_t max_dist = SIZE_MAX) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::uint64_t, VersionPtr> versions_ ABSL_GUARDED_BY(mu_);
  // Parents of every version ever published, retained or not (a few bytes each).
  absl::flat_hash_map<std::uint64_t, std::vector<VersionId>> parents_ ABSL_GUARDED_BY(mu_);
  RefTable branches_ ABSL_GUARDED_BY(mu_);
  RefTable tags_ ABSL_GUARDED_BY(mu_);
  std::uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace cowdb::internal

#endif  // COWDB_DB_DATABASE_IMPL_H_
