#include "db/database_impl.h"

#include <algorithm>
#include <deque>
#include <unordered_set>
#include <utility>

#include "absl/time/clock.h"
#include "db/names.h"
#include "fmt/format.h"

// Hash sets and maps in db/ are std::unordered_*, not absl::flat_hash_*: Abseil 20220623 (Debian's)
// leaves a flat_hash_set/map corrupted when its growth fails to allocate (abseil-cpp#1581: the new
// capacity is stored before the allocation), so a std::bad_alloc inside an operation would crash
// the process or corrupt memory instead of propagating. See tests/regress/database_regress_oom.cc.

namespace cowdb::internal {
namespace {

const char* Kind(bool tag) { return tag ? "tag" : "branch"; }

}  // namespace

DatabaseImpl::DatabaseImpl(const Options& options) : options_(options) {
  auto v = std::make_shared<Version>();
  v->info.id = versions_.next_id();
  v->info.message = "initial empty version";
  v->info.time = last_time_ = absl::Now();
  branches_.emplace("main", v->info.id);
  versions_.Reserve();
  versions_.Append(std::move(v), {});
}

absl::StatusOr<VersionPtr> DatabaseImpl::GetVersion(VersionId id) const {
  absl::ReaderMutexLock lock(&mu_);
  VersionPtr v = Find(id);
  if (v == nullptr) return absl::NotFoundError(fmt::format("version {} not found", id));
  return v;
}

absl::StatusOr<VersionPtr> DatabaseImpl::GetHead(std::string_view branch) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto it = branches_.find(branch);
  if (it == branches_.end()) return absl::NotFoundError(fmt::format("branch \"{}\" not found", branch));
  return Find(it->second);
}

absl::StatusOr<VersionPtr> DatabaseImpl::Resolve(std::string_view name) const {
  absl::ReaderMutexLock lock(&mu_);
  if (const auto it = branches_.find(name); it != branches_.end()) return Find(it->second);
  if (const auto it = tags_.find(name); it != tags_.end()) return Find(it->second);
  return absl::NotFoundError(fmt::format("no branch or tag named \"{}\"", name));
}

absl::StatusOr<bool> DatabaseImpl::Publish(std::string_view branch, VersionId expected,
                                           const std::shared_ptr<Version>& v,
                                           VersionPtr* moved_to) {
  const ParentIds parents(v->info.parents);
  const absl::Time now = absl::Now();  // outside the critical section
  absl::MutexLock lock(&mu_);
  const auto it = branches_.find(branch);
  if (it == branches_.end()) return absl::NotFoundError(fmt::format("branch \"{}\" not found", branch));
  if (it->second != expected) {
    *moved_to = Find(it->second);
    return false;
  }
  versions_.Reserve();  // the only step that can throw; nothing below does
  v->info.id = versions_.next_id();
  v->info.time = last_time_ = std::max(now, last_time_);  // never older than an earlier version
  it->second = versions_.Append(v, parents);
  return true;
}

absl::StatusOr<bool> DatabaseImpl::MoveBranch(std::string_view branch, VersionId expected,
                                              VersionId to) {
  absl::MutexLock lock(&mu_);
  const auto it = branches_.find(branch);
  if (it == branches_.end()) return absl::NotFoundError(fmt::format("branch \"{}\" not found", branch));
  if (it->second != expected) return false;
  if (Find(to) == nullptr) return absl::NotFoundError(fmt::format("version {} not found", to));
  it->second = to;
  return true;
}

absl::Status DatabaseImpl::AddRef(bool tag, std::string_view name, VersionId at) {
  if (absl::Status s = ValidateName(Kind(tag), name); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  if (Find(at) == nullptr) return absl::NotFoundError(fmt::format("version {} not found", at));
  if (!Table(tag).emplace(std::string(name), at).second) {
    return absl::AlreadyExistsError(fmt::format("{} \"{}\" already exists", Kind(tag), name));
  }
  return absl::OkStatus();
}

absl::Status DatabaseImpl::RenameBranch(std::string_view from, std::string_view to) {
  if (absl::Status s = ValidateName("branch", to); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  const auto it = branches_.find(from);
  if (it == branches_.end()) return absl::NotFoundError(fmt::format("branch \"{}\" not found", from));
  if (branches_.contains(to)) {
    return absl::AlreadyExistsError(fmt::format("branch \"{}\" already exists", to));
  }
  // The new key is allocated before the old entry goes: a failed allocation loses nothing.
  std::string key(to);
  const VersionId head = it->second;
  branches_.erase(it);
  branches_.emplace(std::move(key), head);  // no allocation: erase left the capacity
  return absl::OkStatus();
}

absl::Status DatabaseImpl::DeleteRef(bool tag, std::string_view name) {
  absl::MutexLock lock(&mu_);
  RefTable& table = Table(tag);
  const auto it = table.find(name);
  if (it == table.end()) return absl::NotFoundError(fmt::format("{} \"{}\" not found", Kind(tag), name));
  if (!tag && table.size() == 1) {
    return absl::FailedPreconditionError(
        fmt::format("branch \"{}\" is the last branch and cannot be deleted", name));
  }
  table.erase(it);
  return absl::OkStatus();
}

std::vector<std::pair<std::string, VersionId>> DatabaseImpl::Refs(bool tag) const {
  absl::ReaderMutexLock lock(&mu_);
  const RefTable& table = tag ? tags_ : branches_;
  return {table.begin(), table.end()};
}

std::vector<std::pair<VersionId, std::size_t>> DatabaseImpl::AncestorsLocked(
    VersionId from, std::size_t max_dist) const {
  std::vector<std::pair<VersionId, std::size_t>> out;
  std::unordered_set<std::uint64_t> seen{from.value};
  std::deque<std::pair<VersionId, std::size_t>> queue{{from, 0}};
  while (!queue.empty()) {
    const auto [id, dist] = queue.front();
    queue.pop_front();
    out.emplace_back(id, dist);
    const ParentIds* parents = versions_.Parents(id);
    if (parents == nullptr || dist == max_dist) continue;
    for (VersionId p : *parents) {
      if (seen.insert(p.value).second) queue.emplace_back(p, dist + 1);
    }
  }
  return out;
}

std::vector<std::pair<VersionId, std::size_t>> DatabaseImpl::Ancestors(VersionId from) const {
  absl::ReaderMutexLock lock(&mu_);
  return AncestorsLocked(from);
}

std::vector<VersionPtr> DatabaseImpl::AllVersions() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<VersionPtr> out;
  out.reserve(versions_.retained().size());
  for (const std::uint64_t id : versions_.retained()) out.push_back(Find(VersionId{id}));
  return out;  // ascending ids
}

std::size_t DatabaseImpl::Prune() {
  std::vector<VersionPtr> dropped;  // released after the lock, outside the critical section
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    std::unordered_set<std::uint64_t> keep;
    for (const RefTable* table : {&branches_, &tags_}) {
      for (const auto& [name, head] : *table) {
        const std::size_t window = options_.keep_last_versions == 0 ||
                                           options_.keep_newer_than > absl::ZeroDuration()
                                       ? SIZE_MAX
                                       : options_.keep_last_versions;
        for (const auto& [id, dist] : AncestorsLocked(head, window)) {
          const VersionPtr& v = Find(id);
          if (v == nullptr) continue;
          const bool in_window =
              options_.keep_last_versions == 0 || dist <= options_.keep_last_versions;
          if (in_window || now - v->info.time < options_.keep_newer_than) keep.insert(id.value);
        }
      }
    }
    dropped.reserve(versions_.retained().size());  // Drop() must not throw halfway
    versions_.Drop([&keep](std::uint64_t id) { return keep.contains(id); }, &dropped);
  }
  return dropped.size();
}

}  // namespace cowdb::internal
