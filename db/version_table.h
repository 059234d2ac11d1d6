// The version table of a Database: every version ever published, by id -- the version itself
// while it is retained, and its parents forever (merges find fork points across pruned history).
// The records only; the walks over them are VersionGraph's (db/version_graph.h), which owns the
// table.
//
// Ids are dense (1, 2, 3, ... in publication order), so the table is an array indexed by id,
// grown one fixed-size block at a time: lookup is O(1) with no hashing, and growing never
// rehashes or moves a record, so no commit pays for the history before it. A record costs 40
// bytes; a pruned one keeps only its parents (no data). The retained ids are also listed in
// ascending order so that Prune and AllVersions visit only those.
//
// Invariants: records 1 .. next_id() - 1 exist; a retained record's version is not null and is
// listed in retained(); Reserve() before Append() makes Append() noexcept.
//
// Thread-safety: thread-compatible; its VersionGraph is guarded by DatabaseImpl's mutex.
#ifndef COWDB_DB_VERSION_TABLE_H_
#define COWDB_DB_VERSION_TABLE_H_

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "db/version.h"

namespace cowdb::internal {

// The parents of a version: none (the initial version), one (a commit) or two (a merge).
class ParentIds {
 public:
  ParentIds() noexcept = default;
  // REQUIRES: at most two ids.
  explicit ParentIds(const std::vector<VersionId>& ids) noexcept
      : count_(static_cast<std::uint8_t>(ids.size())) {
    assert(ids.size() <= ids_.size() && "a version has at most two parents");
    std::copy_n(ids.begin(), count_, ids_.begin());
  }
  const VersionId* begin() const noexcept { return ids_.data(); }
  const VersionId* end() const noexcept { return ids_.data() + count_; }

 private:
  std::array<VersionId, 2> ids_{};
  std::uint8_t count_ = 0;
};

class VersionTable {
 public:
  // The id the next Append() gives. O(1).
  VersionId next_id() const noexcept { return VersionId{next_}; }

  // The retained version `id`, or null (pruned, or never published). O(1).
  const VersionPtr& Find(VersionId id) const noexcept {
    static const VersionPtr kNone;
    return Known(id) ? Record(id.value).version : kNone;
  }
  // The parents of version `id` (retained or pruned), or null if it was never published. O(1).
  const ParentIds* Parents(VersionId id) const noexcept {
    return Known(id) ? &Record(id.value).parents : nullptr;
  }

  // Makes room for one Append(): allocates (at most a block and the retained list's growth) and
  // may throw std::bad_alloc, changing nothing observable. Amortized O(1).
  void Reserve() {
    if (next_ / kBlockSize >= blocks_.size()) blocks_.push_back(std::make_unique<Block>());
    if (retained_.size() == retained_.capacity()) retained_.reserve(2 * retained_.size() + 16);
  }

  // Records `v` as version next_id() with `parents`; returns its id. REQUIRES: Reserve() since
  // the last Append(); v->info.id == next_id(). O(1), noexcept.
  VersionId Append(VersionPtr v, const ParentIds& parents) noexcept {
    assert(next_ / kBlockSize < blocks_.size() && retained_.size() < retained_.capacity());
    assert(v != nullptr && v->info.id.value == next_);
    const std::uint64_t id = next_++;
    Entry& e = Record(id);
    e.version = std::move(v);
    e.parents = parents;
    retained_.push_back(id);
    return VersionId{id};
  }

  // The retained ids, ascending.
  const std::vector<std::uint64_t>& retained() const noexcept { return retained_; }

  // Drops every retained version for which keep(id) is false, appending it to *dropped (the
  // caller releases them, outside its lock). O(retained). REQUIRES: dropped has room for
  // retained().size() more elements (so that this cannot throw).
  template <class Keep>
  void Drop(const Keep& keep, std::vector<VersionPtr>* dropped) noexcept {
    std::size_t kept = 0;
    for (const std::uint64_t id : retained_) {
      if (keep(id)) {
        retained_[kept++] = id;
      } else {
        dropped->push_back(std::move(Record(id).version));
      }
    }
    retained_.resize(kept);
  }

 private:
  static constexpr std::size_t kBlockSize = 1024;  // records per block: 40 KiB
  struct Entry {
    VersionPtr version;  // null once pruned
    ParentIds parents;
  };
  using Block = std::array<Entry, kBlockSize>;

  bool Known(VersionId id) const noexcept { return id.value != 0 && id.value < next_; }
  Entry& Record(std::uint64_t id) noexcept { return (*blocks_[id / kBlockSize])[id % kBlockSize]; }
  const Entry& Record(std::uint64_t id) const noexcept {
    return (*blocks_[id / kBlockSize])[id % kBlockSize];
  }

  std::vector<std::unique_ptr<Block>> blocks_;  // record id is blocks_[id / kBlockSize][id % ...]
  std::vector<std::uint64_t> retained_;
  std::uint64_t next_ = 1;
};

}  // namespace cowdb::internal

#endif  // COWDB_DB_VERSION_TABLE_H_
