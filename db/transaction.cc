#include "cowdb/transaction.h"

#include <algorithm>
#include <utility>

#include "cowdb/database.h"
#include "db/catalog_merge.h"
#include "db/names.h"
#include "db/transaction_impl.h"
#include "fmt/format.h"

namespace cowdb {
namespace internal {
namespace {

absl::Status MovedFrom() { return absl::FailedPreconditionError("the transaction was moved from"); }

}  // namespace

TransactionImpl::TransactionImpl(std::shared_ptr<DatabaseImpl> database, std::string branch_name,
                                 VersionPtr base_version)
    : db(std::move(database)), branch(std::move(branch_name)), base(std::move(base_version)) {}

absl::Status TransactionImpl::CheckActive() const {
  if (active) return absl::OkStatus();
  return absl::FailedPreconditionError(
      fmt::format("the transaction on branch \"{}\" is finished", branch));
}

bool TransactionImpl::Exists(std::string_view name) const {
  if (const auto it = changes.find(name); it != changes.end()) return it->second.data != nullptr;
  return base->catalog.find(name) != base->catalog.end();
}

absl::StatusOr<TransactionImpl::Seen> TransactionImpl::See(std::string_view name,
                                                           const std::type_info& type) const {
  COWDB_RETURN_IF_ERROR(CheckActive());
  Seen seen;
  if (const auto it = changes.find(name); it != changes.end()) {
    if (it->second.data != nullptr) seen = {&it->second.data, &it->second};
  } else if (const auto b = base->catalog.find(name); b != base->catalog.end()) {
    seen = {&b->second, nullptr};
  }
  if (seen.data == nullptr) {
    return absl::NotFoundError(
        fmt::format("dataset \"{}\" not found in the transaction on branch \"{}\"", name, branch));
  }
  if ((*seen.data)->type() != type) {
    return absl::InvalidArgumentError(fmt::format("dataset \"{}\" holds {}, not {}", name,
                                                  TypeName((*seen.data)->type()), TypeName(type)));
  }
  return seen;
}

absl::StatusOr<DatasetPtr> TransactionImpl::Current(std::string_view name,
                                                    const std::type_info& type) const {
  COWDB_ASSIGN_OR_RETURN(const Seen seen, See(name, type));
  return seen.entry != nullptr ? seen.entry->Current() : *seen.data;
}

absl::StatusOr<TransactionImpl::Entry*> TransactionImpl::Writable(std::string_view name,
                                                                  const std::type_info& type) {
  COWDB_ASSIGN_OR_RETURN(const Seen seen, See(name, type));
  if (seen.entry != nullptr) return &changes.find(name)->second;
  const auto b = base->catalog.find(name);  // See() found it there
  return &changes.emplace(b->first, Entry{b->second, nullptr}).first->second;
}

Catalog TransactionImpl::Changed() const {
  Catalog out;
  out.reserve(base->catalog.size() + changes.size());
  // Both are sorted by name: merge them, a change replacing (or, dropped, hiding) base's entry.
  auto b = base->catalog.begin();
  auto c = changes.begin();
  while (b != base->catalog.end() || c != changes.end()) {
    if (c == changes.end() || (b != base->catalog.end() && b->first < c->first)) {
      out.emplace_hint(out.end(), b->first, b->second);
      ++b;
      continue;
    }
    if (b != base->catalog.end() && b->first == c->first) ++b;
    if (c->second.data != nullptr) out.emplace_hint(out.end(), c->first, c->second.Current());
    ++c;
  }
  return out;
}

absl::StatusOr<VersionId> TransactionImpl::Commit(std::string_view message) {
  COWDB_RETURN_IF_ERROR(CheckActive());
  active = false;  // finished whatever the outcome
  const auto v = std::make_shared<Version>();
  v->catalog = Changed();
  changes.clear();
  v->info.parents.assign(1, base->info.id);
  v->info.message.assign(message.data(), message.size());

  const Version* against = base.get();  // the version v->catalog was last reconciled with
  VersionPtr moved;                     // owns `against` once it is not base
  for (;;) {
    VersionPtr head;
    COWDB_ASSIGN_OR_RETURN(const bool published, db->Publish(branch, against->info.id, v, &head));
    if (published) {
      if (db->options().auto_prune) db->Prune();
      return v->info.id;
    }
    // Another commit moved the head: merge our changes into it, with no lock held.
    CatalogMerge m = MergeCatalogs(against->catalog, v->catalog, head->catalog,
                                   db->options().conflict_mode, merge_mode::kWrites, std::nullopt);
    COWDB_RETURN_IF_ERROR(m.error);
    if (!m.conflicts.empty()) {
      conflicts = std::move(m.conflicts);
      std::string list;
      for (std::size_t i = 0; i < conflicts.size() && i < 3; ++i) {
        list += fmt::format("{}{}", i ? "; " : "", conflicts[i]);
      }
      if (conflicts.size() > 3) list += fmt::format("; ... {} more", conflicts.size() - 3);
      return absl::AbortedError(
          fmt::format("commit on branch \"{}\" conflicts with {} ({} conflict{}): {}", branch,
                      head->info.id, conflicts.size(), conflicts.size() == 1 ? "" : "s", list));
    }
    v->catalog = std::move(m.merged);
    v->info.parents.front() = head->info.id;
    moved = std::move(head);
    against = moved.get();
  }
}

}  // namespace internal

Transaction::Transaction(std::unique_ptr<internal::TransactionImpl> impl) noexcept
    : impl_(std::move(impl)) {}
Transaction::Transaction(Transaction&&) noexcept = default;
Transaction& Transaction::operator=(Transaction&&) noexcept = default;
Transaction::~Transaction() = default;

bool Transaction::active() const noexcept { return impl_ != nullptr && impl_->active; }
const std::string& Transaction::branch() const noexcept {
  static const std::string kNone;
  return impl_ == nullptr ? kNone : impl_->branch;
}
VersionId Transaction::base() const noexcept {
  return impl_ == nullptr ? VersionId{} : impl_->base->info.id;
}
const std::vector<Conflict>& Transaction::conflicts() const noexcept {
  static const std::vector<Conflict> kNone;
  return impl_ == nullptr ? kNone : impl_->conflicts;
}

void Transaction::Abort() noexcept {
  if (impl_ == nullptr) return;
  impl_->active = false;
  impl_->changes.clear();
}

absl::StatusOr<internal::DatasetPtr> Transaction::Current(std::string_view name,
                                                          const std::type_info& type) const {
  if (impl_ == nullptr) return internal::MovedFrom();
  return impl_->Current(name, type);
}

absl::StatusOr<internal::DatasetEditor*> Transaction::Editor(std::string_view name,
                                                             const std::type_info& type,
                                                             EditorFactory make) {
  if (impl_ == nullptr) return internal::MovedFrom();
  COWDB_ASSIGN_OR_RETURN(internal::TransactionImpl::Entry * e, impl_->Writable(name, type));
  if (e->editor == nullptr) e->editor = make(*e->data);
  return e->editor.get();
}

absl::Status Transaction::Install(std::string_view name, const std::type_info& type,
                                  internal::DatasetPtr data, bool create) {
  if (impl_ == nullptr) return internal::MovedFrom();
  COWDB_RETURN_IF_ERROR(impl_->CheckActive());
  COWDB_RETURN_IF_ERROR(internal::ValidateName("dataset", name));
  if (create) {
    if (impl_->Exists(name)) {
      return absl::AlreadyExistsError(fmt::format("dataset \"{}\" already exists", name));
    }
    if (const auto it = impl_->changes.find(name); it != impl_->changes.end()) {
      it->second = internal::TransactionImpl::Entry{std::move(data), nullptr};  // was dropped
    } else {
      impl_->changes.emplace(std::string(name),
                             internal::TransactionImpl::Entry{std::move(data), nullptr});
    }
    return absl::OkStatus();
  }
  COWDB_ASSIGN_OR_RETURN(internal::TransactionImpl::Entry * e, impl_->Writable(name, type));
  *e = internal::TransactionImpl::Entry{std::move(data), nullptr};
  return absl::OkStatus();
}

absl::Status Transaction::Drop(std::string_view name) {
  if (impl_ == nullptr) return internal::MovedFrom();
  COWDB_RETURN_IF_ERROR(impl_->CheckActive());
  if (!impl_->Exists(name)) {
    return absl::NotFoundError(fmt::format("dataset \"{}\" not found", name));
  }
  if (const auto it = impl_->changes.find(name); it != impl_->changes.end()) {
    it->second = internal::TransactionImpl::Entry{};
  } else {
    impl_->changes.emplace(std::string(name), internal::TransactionImpl::Entry{});
  }
  return absl::OkStatus();
}

std::vector<std::string> Transaction::Datasets() const {
  std::vector<std::string> out;
  if (impl_ == nullptr || !impl_->active) return out;
  // Both are sorted by name: merge them (a change hides base's entry of the same name).
  const internal::Catalog& base = impl_->base->catalog;
  auto b = base.begin();
  for (const auto& [name, e] : impl_->changes) {
    for (; b != base.end() && b->first < name; ++b) out.push_back(b->first);
    if (b != base.end() && b->first == name) ++b;
    if (e.data != nullptr) out.push_back(name);
  }
  for (; b != base.end(); ++b) out.push_back(b->first);
  return out;
}

absl::StatusOr<VersionId> Transaction::Commit(std::string_view message) {
  if (impl_ == nullptr) return internal::MovedFrom();
  return impl_->Commit(message);
}

}  // namespace cowdb
