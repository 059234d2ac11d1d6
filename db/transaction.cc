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

absl::Status MovedFrom() {
  return absl::FailedPreconditionError("the transaction was moved from");
}

}  // namespace

TransactionImpl::TransactionImpl(std::shared_ptr<DatabaseImpl> database, std::string branch_name,
                                 VersionPtr base_version)
    : db(std::move(database)), branch(std::move(branch_name)), base(std::move(base_version)) {
  for (const auto& [name, d] : base->catalog) work.emplace(name, Entry{d, nullptr});
}

absl::Status TransactionImpl::CheckActive() const {
  if (active) return absl::OkStatus();
  return absl::FailedPreconditionError(
      fmt::format("the transaction on branch \"{}\" is finished", branch));
}

absl::StatusOr<TransactionImpl::Entry*> TransactionImpl::Lookup(std::string_view name,
                                                                const std::type_info& type) {
  COWDB_RETURN_IF_ERROR(CheckActive());
  const auto it = work.find(name);
  if (it == work.end()) {
    return absl::NotFoundError(
        fmt::format("dataset \"{}\" not found in the transaction on branch \"{}\"", name, branch));
  }
  if (it->second.data->type() != type) {
    return absl::InvalidArgumentError(fmt::format("dataset \"{}\" holds {}, not {}", name,
                                                  TypeName(it->second.data->type()),
                                                  TypeName(type)));
  }
  return &it->second;
}

absl::StatusOr<VersionId> TransactionImpl::Commit(std::string_view message) {
  COWDB_RETURN_IF_ERROR(CheckActive());
  active = false;  // finished whatever the outcome
  const auto v = std::make_shared<Version>();
  v->catalog.reserve(work.size());
  for (auto& [name, e] : work) v->catalog.emplace_hint(v->catalog.end(), name, e.Current());
  work.clear();
  v->info.parents.assign(1, base->info.id);
  v->info.message.assign(message.data(), message.size());

  const Version* against = base.get();  // the version v->catalog was last reconciled with
  VersionPtr moved;                     // owns `against` once it is not base
  for (;;) {
    VersionPtr head;
    COWDB_ASSIGN_OR_RETURN(const bool published,
                           db->Publish(branch, against->info.id, v, &head));
    if (published) {
      if (db->options().auto_prune) db->Prune();
      return v->info.id;
    }
    // Another commit moved the head: merge our changes into it, with no lock held.
    CatalogMerge m = MergeCatalogs(against->catalog, v->catalog, head->catalog,
                                   db->options().conflict_mode, merge_mode::kWrites,
                                   std::nullopt);
    if (!m.conflicts.empty()) {
      conflicts = std::move(m.conflicts);
      std::string list;
      for (std::size_t i = 0; i < conflicts.size() && i < 10; ++i) {
        list += fmt::format("{}{}", i ? ", " : "", conflicts[i]);
      }
      if (conflicts.size() > 10) list += fmt::format(", ... {} more", conflicts.size() - 10);
      return absl::AbortedError(fmt::format(
          "commit on branch \"{}\" conflicts with {} ({} conflict{}): {}", branch,
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
const std::string& Transaction::branch() const noexcept { return impl_->branch; }
VersionId Transaction::base() const noexcept { return impl_->base->info.id; }
const std::vector<Conflict>& Transaction::conflicts() const noexcept { return impl_->conflicts; }

void Transaction::Abort() noexcept {
  if (impl_ == nullptr) return;
  impl_->active = false;
  impl_->work.clear();
}

absl::StatusOr<internal::DatasetPtr> Transaction::Current(std::string_view name,
                                                          const std::type_info& type) const {
  if (impl_ == nullptr) return internal::MovedFrom();
  absl::StatusOr<internal::TransactionImpl::Entry*> e = impl_->Lookup(name, type);
  if (!e.ok()) return e.status();
  return (*e)->Current();
}

absl::StatusOr<internal::DatasetEditor*> Transaction::Editor(std::string_view name,
                                                             const std::type_info& type,
                                                             EditorFactory make) {
  if (impl_ == nullptr) return internal::MovedFrom();
  absl::StatusOr<internal::TransactionImpl::Entry*> e = impl_->Lookup(name, type);
  if (!e.ok()) return e.status();
  if ((*e)->editor == nullptr) (*e)->editor = make(*(*e)->data);
  return (*e)->editor.get();
}

absl::Status Transaction::Install(std::string_view name, const std::type_info& type,
                                  internal::DatasetPtr data, bool create) {
  if (impl_ == nullptr) return internal::MovedFrom();
  COWDB_RETURN_IF_ERROR(impl_->CheckActive());
  COWDB_RETURN_IF_ERROR(internal::ValidateName("dataset", name));
  auto it = impl_->work.find(name);
  if (create) {
    if (it != impl_->work.end()) {
      return absl::AlreadyExistsError(fmt::format("dataset \"{}\" already exists", name));
    }
    impl_->work.emplace(std::string(name), internal::TransactionImpl::Entry{std::move(data), nullptr});
    return absl::OkStatus();
  }
  COWDB_RETURN_IF_ERROR(impl_->Lookup(name, type).status());
  it->second = internal::TransactionImpl::Entry{std::move(data), nullptr};
  return absl::OkStatus();
}

absl::Status Transaction::Drop(std::string_view name) {
  if (impl_ == nullptr) return internal::MovedFrom();
  COWDB_RETURN_IF_ERROR(impl_->CheckActive());
  const auto it = impl_->work.find(name);
  if (it == impl_->work.end()) {
    return absl::NotFoundError(fmt::format("dataset \"{}\" not found", name));
  }
  impl_->work.erase(it);
  return absl::OkStatus();
}

std::vector<std::string> Transaction::Datasets() const {
  std::vector<std::string> out;
  if (impl_ == nullptr) return out;
  for (const auto& [name, e] : impl_->work) out.push_back(name);
  return out;
}

absl::StatusOr<VersionId> Transaction::Commit(std::string_view message) {
  if (impl_ == nullptr) return internal::MovedFrom();
  return impl_->Commit(message);
}

}  // namespace cowdb
