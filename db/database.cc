#include "cowdb/database.h"

#include <algorithm>
#include <cstdint>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <utility>

#include "cowdb/internal/node_pool.h"
#include "db/catalog_merge.h"
#include "db/database_factory.h"
#include "db/database_impl.h"
#include "db/names.h"
#include "db/transaction_impl.h"
#include "fmt/format.h"

namespace cowdb {

std::unique_ptr<Database> Database::Open(const Options& options) {
  return std::unique_ptr<Database>(new Database(options));
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::filesystem::path& dir,
                                                         const Options& options) {
  return internal::DatabaseFactory::Open(storage::Env::Default(), dir.string(), options);
}

namespace internal {

absl::StatusOr<std::unique_ptr<Database>> DatabaseFactory::Open(storage::Env* env,
                                                                const std::string& dir,
                                                                const Options& options) {
  storage::RecoveredState state;
  COWDB_ASSIGN_OR_RETURN(std::unique_ptr<storage::DatabaseStore> store,
                         storage::DatabaseStore::Open(env, dir, options.sync, &state));
  return std::unique_ptr<Database>(
      new Database(std::make_shared<DatabaseImpl>(options, std::move(store), std::move(state))));
}

}  // namespace internal

Database::Database(const Options& options)
    : impl_(std::make_shared<internal::DatabaseImpl>(options)) {}
Database::Database(std::shared_ptr<internal::DatabaseImpl> impl) noexcept
    : impl_(std::move(impl)) {}
namespace {

// Options::release_memory: asks the allocator to give its free pages back to the system, when
// it holds at least `min_free` bytes free (0: always). The check (mallinfo2) is cheap when few
// chunks are free, which is when a trim is not worth it: a program that prunes after every
// commit keeps reusing its free memory instead of faulting fresh pages in on every commit.
void ReleaseFreeMemory(std::size_t min_free) noexcept {
  internal::node_pool::release_empty();  // at most node_pool::kKeepEmpty slabs (8 MiB)
#if defined(__GLIBC__)
  if (min_free == 0 || mallinfo2().fordblks >= min_free) malloc_trim(0);
#else
  static_cast<void>(min_free);
#endif
}

// Prune gives memory back only when the allocator holds at least this much free.
constexpr std::size_t kMinFreeToRelease = std::size_t{32} << 20;

}  // namespace

Database::~Database() {
  const bool release = impl_ != nullptr && impl_->options().release_memory;
  impl_.reset();  // frees everything unless transactions or snapshots still hold it
  if (release) ReleaseFreeMemory(0);
}

absl::Status Database::CreateBranch(std::string_view name, std::string_view from) {
  COWDB_RETURN_IF_ERROR(internal::ValidateName("branch", name));
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr v, impl_->Resolve(from));
  return impl_->AddRef(internal::RefKind::kBranch, name, v->info.id);
}

absl::Status Database::CreateBranch(std::string_view name, VersionId at) {
  return impl_->AddRef(internal::RefKind::kBranch, name, at);
}

absl::Status Database::RenameBranch(std::string_view from, std::string_view to) {
  return impl_->RenameBranch(from, to);
}

absl::Status Database::DeleteBranch(std::string_view name) {
  return impl_->DeleteRef(internal::RefKind::kBranch, name);
}

absl::StatusOr<VersionId> Database::Head(std::string_view branch) const {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr v, impl_->GetHead(branch));
  return v->info.id;
}

std::vector<BranchInfo> Database::Branches() const {
  std::vector<BranchInfo> out;
  for (auto& [name, id] : impl_->Refs(internal::RefKind::kBranch))
    out.push_back({std::move(name), id});
  return out;
}

absl::Status Database::CreateTag(std::string_view name, std::string_view from) {
  COWDB_RETURN_IF_ERROR(internal::ValidateName("tag", name));
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr v, impl_->Resolve(from));
  return impl_->AddRef(internal::RefKind::kTag, name, v->info.id);
}

absl::Status Database::CreateTag(std::string_view name, VersionId at) {
  return impl_->AddRef(internal::RefKind::kTag, name, at);
}

absl::Status Database::DeleteTag(std::string_view name) {
  return impl_->DeleteRef(internal::RefKind::kTag, name);
}

std::vector<BranchInfo> Database::Tags() const {
  std::vector<BranchInfo> out;
  for (auto& [name, id] : impl_->Refs(internal::RefKind::kTag))
    out.push_back({std::move(name), id});
  return out;
}

absl::StatusOr<Snapshot> Database::OpenSnapshot(std::string_view branch_or_tag) const {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr v, impl_->Resolve(branch_or_tag));
  return Snapshot(std::move(v));
}

absl::StatusOr<Snapshot> Database::OpenSnapshot(VersionId id) const {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr v, impl_->GetVersion(id));
  return Snapshot(std::move(v));
}

absl::StatusOr<Snapshot> Database::OpenSnapshot(std::string_view branch_or_tag,
                                                absl::Time as_of) const {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr v, impl_->Resolve(branch_or_tag));
  // Down the first parents (a merge's target side): the versions that were the head in turn.
  internal::VersionGraph::AsOf found = impl_->FirstParentAsOf(v, as_of);
  if (found.version != nullptr) return Snapshot(std::move(found.version));
  if (found.pruned.value == 0) {
    return absl::NotFoundError(
        fmt::format("\"{}\" has no version as old as {}", branch_or_tag, absl::FormatTime(as_of)));
  }
  return absl::NotFoundError(fmt::format("the history of \"{}\" at {} was pruned ({} is gone)",
                                         branch_or_tag, absl::FormatTime(as_of), found.pruned));
}

absl::StatusOr<History> Database::Log(std::string_view branch_or_tag, std::size_t limit) const {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr head, impl_->Resolve(branch_or_tag));
  // Through retained versions only (history stops where it was pruned), newest first; one more
  // than the limit tells whether there are more.
  const std::vector<internal::VersionPtr> reached =
      impl_->RetainedAncestors(head, limit == SIZE_MAX ? limit : limit + 1);
  History h;
  h.truncated = reached.size() > limit;
  const std::size_t n = std::min(reached.size(), limit);
  h.versions.reserve(n);
  for (std::size_t i = 0; i < n; ++i) h.versions.push_back(reached[i]->info);
  return h;
}

namespace {

DatabaseDiff DiffVersions(const internal::VersionPtr& a, const internal::VersionPtr& b,
                          const DiffOptions& options) {
  DatabaseDiff out;
  for (const auto& [name, d] : a->catalog) {
    const auto it = b->catalog.find(name);
    if (it == b->catalog.end() || it->second->type() != d->type()) {
      out.removed.push_back(name);
      continue;
    }
    if (internal::SameDataset(d, it->second)) continue;
    internal::DatasetDiff dd =
        d->Diff(*it->second, options.text, options.max_text_ranges, options.ranges);
    if (dd.ranges == 0) continue;  // rewritten with the same rows and values
    out.changed.push_back({name, dd.modified, dd.appended, dd.truncated, std::move(dd.text),
                           dd.inserted, dd.erased, dd.moved, std::move(dd.range_list)});
  }
  for (const auto& [name, d] : b->catalog) {
    const auto it = a->catalog.find(name);
    if (it == a->catalog.end() || it->second->type() != d->type()) out.added.push_back(name);
  }
  return out;
}

}  // namespace

absl::StatusOr<DatabaseDiff> Database::Diff(VersionId from, VersionId to,
                                            DiffOptions options) const {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr a, impl_->GetVersion(from));
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr b, impl_->GetVersion(to));
  return DiffVersions(a, b, options);
}

absl::StatusOr<DatabaseDiff> Database::Diff(std::string_view from, std::string_view to,
                                            DiffOptions options) const {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr a, impl_->Resolve(from));
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr b, impl_->Resolve(to));
  return DiffVersions(a, b, options);
}

absl::StatusOr<Transaction> Database::Begin(std::string_view branch) {
  COWDB_ASSIGN_OR_RETURN(internal::VersionPtr head, impl_->GetHead(branch));
  return Transaction(
      std::make_unique<internal::TransactionImpl>(impl_, std::string(branch), std::move(head)));
}

absl::StatusOr<VersionId> Database::Merge(std::string_view source, std::string_view target,
                                          std::string_view message, MergePolicy policy,
                                          std::vector<Conflict>* conflicts) {
  if (source == target) {
    return absl::InvalidArgumentError(
        fmt::format("cannot merge branch \"{}\" into itself", source));
  }
  std::optional<merge_side> side;
  if (policy == MergePolicy::kOurs) side = merge_side::kOurs;
  if (policy == MergePolicy::kTheirs) side = merge_side::kTheirs;
  for (;;) {
    COWDB_ASSIGN_OR_RETURN(internal::VersionPtr src, impl_->GetHead(source));
    COWDB_ASSIGN_OR_RETURN(internal::VersionPtr dst, impl_->GetHead(target));
    if (src == dst) return dst->info.id;
    using Kind = internal::VersionGraph::MergeBase::Kind;
    const internal::VersionGraph::MergeBase mb = impl_->MergeBase(src->info.id, dst->info.id);
    if (mb.kind == Kind::kFastForward) {  // target is behind
      COWDB_ASSIGN_OR_RETURN(bool moved, impl_->MoveBranch(target, dst->info.id, src->info.id));
      if (!moved) continue;  // target moved meanwhile: start over
      if (impl_->options().auto_prune) impl_->Prune();
      return src->info.id;
    }
    if (mb.kind == Kind::kAlreadyMerged) return dst->info.id;
    if (mb.kind == Kind::kUnrelated) {
      return absl::FailedPreconditionError(
          fmt::format("branches \"{}\" and \"{}\" have no common ancestor", source, target));
    }
    if (mb.version == nullptr) {
      return absl::FailedPreconditionError(
          fmt::format("the common ancestor {} of branches \"{}\" and \"{}\" was pruned", mb.base,
                      source, target));
    }
    const internal::VersionPtr& base = mb.version;
    internal::CatalogMerge m =
        internal::MergeCatalogs(base->catalog, dst->catalog, src->catalog, ConflictMode::kElement,
                                merge_mode::kValues, side);
    COWDB_RETURN_IF_ERROR(m.error);
    if (!m.conflicts.empty()) {
      const std::size_t n = m.conflicts.size();
      const Conflict first = m.conflicts.front();
      if (conflicts != nullptr) *conflicts = std::move(m.conflicts);
      return absl::AbortedError(fmt::format("merging \"{}\" into \"{}\": {} conflict{}, first {}",
                                            source, target, n, n == 1 ? "" : "s", first));
    }
    const auto v = std::make_shared<internal::Version>();
    v->info.parents = {dst->info.id, src->info.id};
    v->info.message.assign(message.data(), message.size());
    v->catalog = std::move(m.merged);
    internal::VersionPtr moved_to;
    COWDB_ASSIGN_OR_RETURN(const bool published,
                           impl_->Publish(target, dst->info.id, v, &moved_to));
    if (published) {
      if (impl_->options().auto_prune) impl_->Prune();
      return v->info.id;
    }
  }
}

std::size_t Database::Prune() { return Prune(impl_->options().retention()); }
std::size_t Database::Prune(const Retention& policy) {
  const std::size_t forgotten = impl_->Prune(policy);
  if (forgotten > 0 && impl_->options().release_memory) ReleaseFreeMemory(kMinFreeToRelease);
  return forgotten;
}

absl::Status Database::Compact() { return impl_->Compact(); }

}  // namespace cowdb

namespace {

std::string_view KindText(cowdb::conflict_kind k) {
  switch (k) {
    case cowdb::conflict_kind::kValue: return "value";
    case cowdb::conflict_kind::kModifyErase: return "modify/erase";
    case cowdb::conflict_kind::kBothErased: return "both-erased";
    case cowdb::conflict_kind::kInsertOrder: return "insert-order";
    case cowdb::conflict_kind::kMove: return "move";
    case cowdb::conflict_kind::kWholeDataset: return "whole-dataset";
  }
  return "unknown";
}

// What one side did to a row: "modified it to 7 (row 42)", "erased it", ...
std::string RowActionText(cowdb::row_action a, const std::string& value, std::size_t index) {
  const std::string at =
      index == cowdb::Conflict::kNoRow ? std::string() : fmt::format(" (row {})", index);
  switch (a) {
    case cowdb::row_action::kUnchanged: return "left it unchanged" + at;
    case cowdb::row_action::kModified: return fmt::format("modified it to {}{}", value, at);
    case cowdb::row_action::kMoved: return "moved it" + at;
    case cowdb::row_action::kModifiedAndMoved:
      return fmt::format("modified it to {} and moved it{}", value, at);
    case cowdb::row_action::kErased: return "erased it";
    case cowdb::row_action::kInserted: return fmt::format("inserted {}{}", value, at);
    case cowdb::row_action::kRetyped: return "retyped it" + at;
  }
  return "did something unknown";
}

// What one side did to a whole dataset.
std::string_view DatasetActionText(cowdb::row_action a) {
  switch (a) {
    case cowdb::row_action::kModified: return "wrote it";
    case cowdb::row_action::kErased: return "dropped it";
    case cowdb::row_action::kInserted: return "created it";
    case cowdb::row_action::kRetyped: return "replaced it by another element type";
    default: return "left it unchanged";
  }
}

}  // namespace

auto fmt::formatter<cowdb::Conflict>::format(const cowdb::Conflict& c, format_context& ctx) const
    -> format_context::iterator {
  if (c.index == cowdb::Conflict::kWholeDataset) {
    return fmt::format_to(ctx.out(), "dataset \"{}\": ours {}, theirs {}", c.dataset,
                          DatasetActionText(c.ours_action), DatasetActionText(c.theirs_action));
  }
  return fmt::format_to(ctx.out(), "\"{}\"[{}] {} conflict: ours {}, theirs {}", c.dataset, c.index,
                        KindText(c.kind), RowActionText(c.ours_action, c.ours_value, c.ours_index),
                        RowActionText(c.theirs_action, c.theirs_value, c.theirs_index));
}

auto fmt::formatter<cowdb::BranchInfo>::format(const cowdb::BranchInfo& b,
                                               format_context& ctx) const
    -> format_context::iterator {
  return fmt::format_to(ctx.out(), "{} -> {}", b.name, b.head);
}

auto fmt::formatter<cowdb::DatasetChange>::format(const cowdb::DatasetChange& c,
                                                  format_context& ctx) const
    -> format_context::iterator {
  using cowdb::internal::group_digits;
  auto out = fmt::format_to(ctx.out(), "\"{}\":", c.name);
  const std::pair<std::size_t, const char*> counts[] = {
      {c.modified, "modified"}, {c.inserted, "inserted"}, {c.erased, "erased"},
      {c.moved, "moved"},       {c.appended, "appended"}, {c.truncated, "truncated"}};
  const char* sep = " ";
  for (const auto& [n, what] : counts) {
    if (n == 0) continue;
    out = fmt::format_to(out, "{}{} {}", sep, group_digits(n), what);
    sep = ", ";
  }
  if (c.text.empty()) return out;
  return fmt::format_to(out, "\n{}", c.text);
}

auto fmt::formatter<cowdb::DatabaseDiff>::format(const cowdb::DatabaseDiff& d,
                                                 format_context& ctx) const
    -> format_context::iterator {
  auto out = ctx.out();
  if (d.empty()) return fmt::format_to(out, "no changes");
  const char* sep = "";
  for (const std::string& name : d.added) {
    out = fmt::format_to(out, "{}dataset \"{}\" added", sep, name);
    sep = "\n";
  }
  for (const std::string& name : d.removed) {
    out = fmt::format_to(out, "{}dataset \"{}\" removed", sep, name);
    sep = "\n";
  }
  for (const cowdb::DatasetChange& c : d.changed) {
    out = fmt::format_to(out, "{}{}", sep, c);
    sep = "\n";
  }
  return out;
}

auto fmt::formatter<cowdb::History>::format(const cowdb::History& h, format_context& ctx) const
    -> format_context::iterator {
  auto out = ctx.out();
  const char* sep = "";
  for (const cowdb::VersionInfo& v : h) {
    out = fmt::format_to(out, "{}{}", sep, v);
    sep = "\n";
  }
  if (h.truncated) out = fmt::format_to(out, "{}(more not shown)", sep);
  return out;
}
