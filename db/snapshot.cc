#include "cowdb/snapshot.h"

#include <utility>

#include "db/version.h"
#include "fmt/format.h"

namespace cowdb {

Snapshot::Snapshot(std::shared_ptr<const internal::Version> v) noexcept : version_(std::move(v)) {}
Snapshot::~Snapshot() = default;

VersionId Snapshot::id() const noexcept { return info().id; }
const VersionInfo& Snapshot::info() const noexcept {
  static const VersionInfo kEmpty;
  return version_ == nullptr ? kEmpty : version_->info;
}

bool Snapshot::Has(std::string_view name) const noexcept {
  return version_ != nullptr && version_->catalog.find(name) != version_->catalog.end();
}

std::vector<DatasetInfo> Snapshot::Datasets() const {
  std::vector<DatasetInfo> out;
  if (version_ == nullptr) return out;
  out.reserve(version_->catalog.size());
  for (const auto& [name, d] : version_->catalog) {
    out.push_back({name, internal::TypeName(d->type()), d->size()});
  }
  return out;
}

absl::StatusOr<const internal::Dataset*> Snapshot::Find(std::string_view name,
                                                        const std::type_info& type) const {
  if (version_ == nullptr) {
    return absl::NotFoundError(
        fmt::format("dataset \"{}\" not found: the snapshot is empty (default-constructed or "
                    "moved from)",
                    name));
  }
  const auto it = version_->catalog.find(name);
  if (it == version_->catalog.end()) {
    return absl::NotFoundError(
        fmt::format("dataset \"{}\" not found in version {}", name, version_->info.id));
  }
  if (it->second->type() != type) {
    return absl::InvalidArgumentError(fmt::format("dataset \"{}\" holds {}, not {}", name,
                                                  internal::TypeName(it->second->type()),
                                                  internal::TypeName(type)));
  }
  return it->second.get();
}

}  // namespace cowdb

auto fmt::formatter<cowdb::VersionInfo>::format(const cowdb::VersionInfo& v,
                                                format_context& ctx) const
    -> format_context::iterator {
  auto out =
      fmt::format_to(ctx.out(), "{} {}", v.id,
                     absl::FormatTime("%Y-%m-%d %H:%M:%E3S UTC", v.time, absl::UTCTimeZone()));
  if (!v.parents.empty()) out = fmt::format_to(out, " (parents {})", fmt::join(v.parents, " "));
  return fmt::format_to(out, " {}", v.message);
}
