// cowdb/snapshot.h — a read-only view of one version of a Database.
//
//   COWDB_ASSIGN_OR_RETURN(cowdb::Snapshot snap, db->OpenSnapshot("main"));
//   COWDB_ASSIGN_OR_RETURN(cowdb::pvec<double> prices, snap.Get<double>("prices"));
//   fmt::print("{} rows at {}\n", prices.size(), snap.info().id);
//
// A Snapshot pins its version: the version and all its datasets stay alive, unchanged, for as
// long as any copy of the Snapshot exists, whatever is committed, deleted or pruned meanwhile.
// Reading never blocks and never sees a later commit.
//
// Thread-safety: a Snapshot is an immutable value: thread-safe to copy, share and read from any
// number of threads.
#ifndef COWDB_SNAPSHOT_H_
#define COWDB_SNAPSHOT_H_

#include <compare>
#include <concepts>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cowdb/internal/db/dataset.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace cowdb {

namespace internal {
struct Version;
}

// Identifies a version of a Database: 1 is the initial empty version; each commit or merge
// gets the next number.
struct VersionId {
  std::uint64_t value = 0;
  friend auto operator<=>(const VersionId&, const VersionId&) = default;
};

// The metadata of a version.
struct VersionInfo {
  VersionId id;
  std::vector<VersionId> parents;  // none for the initial version, two for a merge
  std::string message;
  absl::Time time;
};

// What the element type T of a database dataset needs: copies, and operator== (diffs and merges
// compare rows). Get, Edit, Put and Create refuse any other type at the call, naming this
// concept; for a struct, add `friend bool operator==(const T&, const T&) = default;`. T must
// also be storable (trivially copyable, or with a cowdb::codec<T>) or declared in-memory only
// (codec.h); otherwise those calls stop at a static_assert that says what to add.
template <class T>
concept dataset_element = std::copy_constructible<T> && std::equality_comparable<T>;

namespace internal {
// Stops the compilation at the user's Get, Edit, Put or Create when T cannot be stored and is not
// declared in-memory only (cowdb/codec.h). Compile time only.
template <class T>
constexpr void require_declared_storage() {
  static_assert(storable<T> || memory_only_element<T>,
                "cowdb: this dataset element type cannot be stored and is not declared "
                "in-memory only. Make it trivially copyable, or specialize cowdb::codec<T> "
                "(encode/decode, see cowdb/codec.h), or, for in-memory databases only, declare "
                "`template <> struct cowdb::codec<T> : cowdb::memory_only {};`");
}
}  // namespace internal

// A dataset as listed by Snapshot::Datasets().
struct DatasetInfo {
  std::string name;
  std::string type;  // demangled element type, e.g. "long" or "Trade"
  std::size_t size = 0;
};

class Snapshot {
 public:
  // An empty snapshot, pinning nothing: id() is VersionId{} (0, never a version's id), info()
  // empty, no datasets (Get is kNotFound). A moved-from snapshot is empty too. O(1).
  Snapshot() noexcept = default;
  Snapshot(const Snapshot&) = default;
  Snapshot(Snapshot&&) noexcept = default;
  Snapshot& operator=(const Snapshot&) = default;
  Snapshot& operator=(Snapshot&&) noexcept = default;
  ~Snapshot();

  // The pinned version's id and metadata. O(1).
  VersionId id() const noexcept;
  const VersionInfo& info() const noexcept;

  // The dataset `name` of this version. O(log datasets), no copy of the data: the pvec shares
  // every chunk with the version, so its exclusive() is 0 B while the version is held (what
  // deleting a branch or tag would free is RefMemory::exclusive_bytes of GetMemoryReport, per
  // dataset too). The pvec stays valid, holding its chunks, after the snapshot and the database
  // are gone.
  // Errors: kNotFound if there is no such dataset; kInvalidArgument if it holds another type.
  template <dataset_element T>
  [[nodiscard]] absl::StatusOr<pvec<T>> Get(std::string_view name) const {
    internal::require_declared_storage<T>();
    absl::StatusOr<const internal::Dataset*> d = Find(name, typeid(T));
    if (!d.ok()) return d.status();
    return static_cast<const internal::TypedDataset<T>&>(**d).data();
  }

  // True if the version has a dataset named `name`. O(log datasets).
  bool Has(std::string_view name) const noexcept;

  // Every dataset of the version, sorted by name. O(datasets).
  std::vector<DatasetInfo> Datasets() const;

 private:
  friend class Database;
  friend class Transaction;
  explicit Snapshot(std::shared_ptr<const internal::Version> v) noexcept;
  absl::StatusOr<const internal::Dataset*> Find(std::string_view name,
                                                const std::type_info& type) const;

  std::shared_ptr<const internal::Version> version_;
};

}  // namespace cowdb

template <>
struct fmt::formatter<cowdb::VersionId> : fmt::formatter<std::uint64_t> {
  template <class Ctx>
  auto format(cowdb::VersionId id, Ctx& ctx) const {
    ctx.advance_to(fmt::format_to(ctx.out(), "v"));
    return fmt::formatter<std::uint64_t>::format(id.value, ctx);
  }
};

// "v5 2026-12-05 21:45:03.120 UTC (parents v4 v3) merge exp": id, commit time, parents (when
// there are any) and message.
template <>
struct fmt::formatter<cowdb::VersionInfo> {
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }
  format_context::iterator format(const cowdb::VersionInfo& v, format_context& ctx) const;
};

#endif  // COWDB_SNAPSHOT_H_
