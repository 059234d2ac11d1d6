#include "db/database_impl.h"

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "absl/time/clock.h"
#include "cowdb/status.h"
#include "db/names.h"
#include "fmt/format.h"

// Hash sets and maps in db/ are std::unordered_*, not absl::flat_hash_*: Abseil 20220623 (Debian's)
// leaves a flat_hash_set/map corrupted when its growth fails to allocate (abseil-cpp#1581: the new
// capacity is stored before the allocation), so a std::bad_alloc inside an operation would crash
// the process or corrupt memory instead of propagating. See tests/regress/database_regress_oom.cc.

namespace cowdb::internal {
namespace {

const char* Kind(RefKind kind) { return kind == RefKind::kTag ? "tag" : "branch"; }

// Prune compacts only when at least this much disk space would be reclaimed.
constexpr std::uint64_t kMinCompactionGain = std::uint64_t{1} << 20;

}  // namespace

DatabaseImpl::DatabaseImpl(const Options& options) : options_(options) {
  auto v = std::make_shared<Version>();
  v->info.id = graph_.next_id();
  v->info.message = "initial empty version";
  v->info.time = last_time_ = absl::Now();
  branches_.emplace("main", v->info.id);
  graph_.Reserve();
  graph_.Append(std::move(v), {});
}

DatabaseImpl::DatabaseImpl(const Options& options, std::unique_ptr<storage::DatabaseStore> store,
                           storage::RecoveredState state)
    : options_(options), store_(std::move(store)) {
  absl::MutexLock lock(&mu_);
  std::unordered_set<std::uint64_t> pruned;
  for (storage::RecoveredState::Entry& e : state.versions) {
    graph_.Reserve();
    VersionPtr v = std::move(e.version);
    if (v == nullptr) {  // recorded, then pruned: only its parents are kept
      auto stub = std::make_shared<Version>();
      stub->info = e.info;
      v = std::move(stub);
      pruned.insert(e.info.id.value);
    } else {
      last_time_ = std::max(last_time_, v->info.time);
    }
    graph_.Append(std::move(v), ParentIds(e.info.parents));
  }
  std::vector<VersionPtr> dropped;
  dropped.reserve(pruned.size());
  graph_.Drop([&pruned](std::uint64_t id) { return !pruned.contains(id); }, &dropped);
  for (const auto& [name, id] : state.branches) branches_.emplace(name, VersionId{id});
  for (const auto& [name, id] : state.tags) tags_.emplace(name, VersionId{id});
}

DatabaseImpl::~DatabaseImpl() = default;

absl::StatusOr<VersionPtr> DatabaseImpl::GetVersion(VersionId id) const {
  absl::ReaderMutexLock lock(&mu_);
  VersionPtr v = Find(id);
  if (v == nullptr) return absl::NotFoundError(fmt::format("version {} not found", id));
  return v;
}

absl::StatusOr<VersionPtr> DatabaseImpl::GetHead(std::string_view branch) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto it = branches_.find(branch);
  if (it == branches_.end())
    return absl::NotFoundError(fmt::format("branch \"{}\" not found", branch));
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
  std::uint64_t written = 0;  // the store's sequence number of the version, when persistent
  {
    absl::MutexLockMaybe write(WriteLock());
    {
      absl::MutexLock lock(&mu_);
      const auto it = branches_.find(branch);
      if (it == branches_.end()) {
        return absl::NotFoundError(fmt::format("branch \"{}\" not found", branch));
      }
      if (it->second != expected) {
        *moved_to = Find(it->second);
        return false;
      }
      graph_.Reserve();  // the only step that can throw; nothing below does
      v->info.id = graph_.next_id();
      v->info.time = std::max(now, last_time_);  // never older than an earlier version
      if (store_ == nullptr) {
        last_time_ = v->info.time;
        it->second = graph_.Append(v, parents);
        return true;
      }
    }
    // Persistent: written first (holding write_mu_, so nothing changes meanwhile), then shown.
    if (absl::Status s = store_->AppendVersion(*v, branch); !s.ok()) return s;
    written = store_->last_written();
    absl::MutexLock lock(&mu_);
    last_time_ = v->info.time;
    branches_.find(branch)->second = graph_.Append(v, parents);
  }
  // Sync::kGroupCommit: durable once a sync covers it (shared with concurrent writers).
  COWDB_RETURN_IF_ERROR(store_->WaitDurable(written, &write_mu_));
  return true;
}

template <class Check, class Apply>
absl::Status DatabaseImpl::ChangeRefs(const Check& check, const storage::RefRecord& record,
                                      const Apply& apply) {
  std::uint64_t written = 0;
  {
    absl::MutexLockMaybe write(WriteLock());
    {
      absl::MutexLock lock(&mu_);
      absl::StatusOr<bool> change = check();
      if (!change.ok()) return change.status();
      if (!*change) return absl::OkStatus();  // nothing to do: nothing written
      if (store_ == nullptr) {
        apply();
        return absl::OkStatus();
      }
    }
    COWDB_RETURN_IF_ERROR(store_->AppendRef(record));
    written = store_->last_written();
    absl::MutexLock lock(&mu_);
    apply();
  }
  return store_->WaitDurable(written, &write_mu_);  // Sync::kGroupCommit
}

absl::StatusOr<bool> DatabaseImpl::MoveBranch(std::string_view branch, VersionId expected,
                                              VersionId to) {
  bool moved = false;
  storage::RefRecord rec;
  rec.name = std::string(branch);
  rec.version = to.value;
  COWDB_RETURN_IF_ERROR(ChangeRefs(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<bool> {
        const auto it = branches_.find(branch);
        if (it == branches_.end()) {
          return absl::NotFoundError(fmt::format("branch \"{}\" not found", branch));
        }
        if (it->second != expected) return false;  // the head moved: nothing changes
        if (Find(to) == nullptr)
          return absl::NotFoundError(fmt::format("version {} not found", to));
        moved = true;
        return true;
      },
      rec, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { branches_.find(branch)->second = to; }));
  return moved;
}

absl::Status DatabaseImpl::AddRef(RefKind kind, std::string_view name, VersionId at) {
  if (absl::Status s = ValidateName(Kind(kind), name); !s.ok()) return s;
  storage::RefRecord rec;
  rec.tag = kind == RefKind::kTag;
  rec.name = std::string(name);
  rec.version = at.value;
  std::string key(name);  // allocated before anything changes
  return ChangeRefs(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<bool> {
        if (Find(at) == nullptr)
          return absl::NotFoundError(fmt::format("version {} not found", at));
        if (Table(kind).contains(name)) {
          return absl::AlreadyExistsError(
              fmt::format("{} \"{}\" already exists", Kind(kind), name));
        }
        Table(kind).reserve(Table(kind).size() + 1);  // the emplace below cannot throw
        return true;
      },
      rec, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { Table(kind).emplace(std::move(key), at); });
}

absl::Status DatabaseImpl::RenameBranch(std::string_view from, std::string_view to) {
  if (absl::Status s = ValidateName("branch", to); !s.ok()) return s;
  storage::RefRecord rec;
  rec.name = std::string(from);
  rec.rename_to = std::string(to);
  std::string key(to);  // allocated before the old entry goes: a failed allocation loses nothing
  return ChangeRefs(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<bool> {
        if (!branches_.contains(from)) {
          return absl::NotFoundError(fmt::format("branch \"{}\" not found", from));
        }
        if (branches_.contains(to)) {
          return absl::AlreadyExistsError(fmt::format("branch \"{}\" already exists", to));
        }
        return true;
      },
      rec,
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        const auto it = branches_.find(from);
        const VersionId head = it->second;
        branches_.erase(it);
        branches_.emplace(std::move(key), head);  // no allocation: erase left the capacity
      });
}

absl::Status DatabaseImpl::DeleteRef(RefKind kind, std::string_view name) {
  storage::RefRecord rec;
  rec.tag = kind == RefKind::kTag;
  rec.erase = true;
  rec.name = std::string(name);
  return ChangeRefs(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<bool> {
        const RefTable& table = Table(kind);
        if (!table.contains(name)) {
          return absl::NotFoundError(fmt::format("{} \"{}\" not found", Kind(kind), name));
        }
        if (kind == RefKind::kBranch && table.size() == 1) {
          return absl::FailedPreconditionError(
              fmt::format("branch \"{}\" is the last branch and cannot be deleted", name));
        }
        return true;
      },
      rec, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { Table(kind).erase(Table(kind).find(name)); });
}

std::vector<std::pair<std::string, VersionId>> DatabaseImpl::Refs(RefKind kind) const {
  absl::ReaderMutexLock lock(&mu_);
  const RefTable& table = kind == RefKind::kTag ? tags_ : branches_;
  return {table.begin(), table.end()};
}

VersionGraph::MergeBase DatabaseImpl::MergeBase(VersionId source, VersionId target) const {
  absl::ReaderMutexLock lock(&mu_);
  return graph_.FindMergeBase(source, target);
}

std::vector<VersionPtr> DatabaseImpl::RetainedAncestors(const VersionPtr& head,
                                                        std::size_t max_count) const {
  absl::ReaderMutexLock lock(&mu_);
  return graph_.RetainedAncestors(head, max_count);
}

VersionGraph::AsOf DatabaseImpl::FirstParentAsOf(const VersionPtr& from, absl::Time as_of) const {
  absl::ReaderMutexLock lock(&mu_);
  return graph_.FirstParentAsOf(from, as_of);
}

std::vector<VersionPtr> DatabaseImpl::AllVersions() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<VersionPtr> out;
  out.reserve(graph_.retained().size());
  for (const std::uint64_t id : graph_.retained()) out.push_back(Find(VersionId{id}));
  return out;  // ascending ids
}

template <class Keep>
void DatabaseImpl::DropVersions(const Keep& keep, std::size_t how_many,
                                std::vector<VersionPtr>* dropped) {
  // Room first, so that nothing below throws once the table changes.
  std::erase_if(pinned_, [](const std::weak_ptr<const Version>& w) { return w.expired(); });
  if (pinned_.capacity() < pinned_.size() + how_many) {
    pinned_.reserve(std::max(2 * pinned_.capacity(), pinned_.size() + how_many));
  }
  dropped->reserve(dropped->size() + how_many);
  graph_.Drop(keep, dropped);
  for (const VersionPtr& v : *dropped) {
    if (v.use_count() > 1) pinned_.push_back(v);  // *dropped holds one reference
  }
}

std::size_t DatabaseImpl::Prune(const Retention& policy) {
  std::vector<VersionPtr> dropped;  // released after the locks, outside the critical sections
  absl::MutexLockMaybe write(WriteLock());
  std::unordered_set<std::uint64_t> keep;
  std::vector<std::uint64_t> doomed;
  {
    absl::MutexLock lock(&mu_);
    // With no rule set everything reachable stays; otherwise a branch keeps its count window,
    // a tag its version, and both the versions younger than the age limit.
    const absl::Time now = absl::Now();
    const bool keep_all = !policy.keep_last_versions && !policy.keep_newer_than;
    for (const RefTable* table : {&branches_, &tags_}) {
      const std::size_t window =
          keep_all ? SIZE_MAX : (table == &tags_ ? 0 : policy.keep_last_versions.value_or(0));
      for (const auto& [name, head] : *table) {
        graph_.KeepBelow(head, window, policy.keep_newer_than, now, &keep);
      }
    }
    for (const std::uint64_t id : graph_.retained()) {
      if (!keep.contains(id)) doomed.push_back(id);
    }
    if (store_ == nullptr) {  // in memory: decided and done in one critical section
      DropVersions([&keep](std::uint64_t id) { return keep.contains(id); }, doomed.size(),
                   &dropped);
      return dropped.size();
    }
  }
  // Persistent (writers are held off by write_mu_): the prune is written first; if that fails
  // nothing is dropped (the store then refuses writes until reopened).
  if (!store_->AppendPrune(doomed).ok()) return 0;
  {
    absl::MutexLock lock(&mu_);
    DropVersions([&keep](std::uint64_t id) { return keep.contains(id); }, doomed.size(), &dropped);
  }
  const std::size_t n = dropped.size();
  dropped.clear();          // the pruned versions go (unless a snapshot pins them) ...
  store_->ReleaseUnused();  // ... and the store lets go of their nodes (write_mu_ held)
  if (options_.compact_below > 0) {
    const storage::DatabaseStore::DiskUsage u = store_->Usage();
    const std::uint64_t dead = u.file_bytes > u.live_bytes ? u.file_bytes - u.live_bytes : 0;
    if (dead >= kMinCompactionGain &&
        static_cast<double>(u.live_bytes) <
            options_.compact_below * static_cast<double>(u.file_bytes)) {
      // Nothing is lost if it fails: the old files stay in charge, and the next Prune retries.
      (void)store_->Compact(History());
    }
  }
  return n;
}

std::vector<VersionPtr> DatabaseImpl::PinnedVersions() const {
  std::vector<VersionPtr> out;
  absl::MutexLock lock(&mu_);
  std::erase_if(pinned_, [](const std::weak_ptr<const Version>& w) { return w.expired(); });
  out.reserve(pinned_.size());
  for (const auto& w : pinned_) {
    if (VersionPtr v = w.lock()) out.push_back(std::move(v));
  }
  return out;
}

storage::RecoveredState DatabaseImpl::History() const {
  storage::RecoveredState state;
  absl::ReaderMutexLock lock(&mu_);
  state.versions.reserve(graph_.next_id().value - 1);
  for (std::uint64_t id = 1; id < graph_.next_id().value; ++id) {
    storage::RecoveredState::Entry e;
    if (const VersionPtr& v = Find(VersionId{id}); v != nullptr) {
      e.info = v->info;
      e.version = v;
    } else {
      e.info.id = VersionId{id};
      if (const ParentIds* parents = graph_.Parents(VersionId{id}); parents != nullptr) {
        e.info.parents.assign(parents->begin(), parents->end());
      }
    }
    state.versions.push_back(std::move(e));
  }
  for (const auto& [name, id] : branches_) state.branches.emplace(name, id.value);
  for (const auto& [name, id] : tags_) state.tags.emplace(name, id.value);
  return state;
}

absl::Status DatabaseImpl::Compact() {
  if (store_ == nullptr) return absl::OkStatus();
  absl::MutexLock write(&write_mu_);
  return store_->Compact(History());
}

storage::DatabaseStore::DiskUsage DatabaseImpl::DiskUsage() const {
  if (store_ == nullptr) return {};
  absl::MutexLock write(&write_mu_);
  return store_->Usage();
}

}  // namespace cowdb::internal
