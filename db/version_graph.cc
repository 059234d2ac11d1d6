#include "db/version_graph.h"

#include <cassert>
#include <deque>

// Hash sets here are std::unordered_set, not absl::flat_hash_set: see db/database_impl.cc.

namespace cowdb::internal {

VersionId VersionGraph::Append(VersionPtr v, const ParentIds& parents) noexcept {
  for ([[maybe_unused]] const VersionId p : parents) {
    assert(p.value != 0 && p < next_id() && "a parent is published before its child");
  }
  return table_.Append(std::move(v), parents);
}

std::vector<std::pair<VersionId, std::size_t>> VersionGraph::Ancestors(VersionId from,
                                                                       std::size_t max_dist) const {
  std::vector<std::pair<VersionId, std::size_t>> out;
  std::unordered_set<std::uint64_t> seen{from.value};
  std::deque<std::pair<VersionId, std::size_t>> queue{{from, 0}};
  while (!queue.empty()) {
    const auto [id, dist] = queue.front();
    queue.pop_front();
    out.emplace_back(id, dist);
    const ParentIds* parents = Parents(id);
    if (parents == nullptr || dist == max_dist) continue;
    for (VersionId p : *parents) {
      if (seen.insert(p.value).second) queue.emplace_back(p, dist + 1);
    }
  }
  return out;
}

void VersionGraph::KeepBelow(VersionId head, std::size_t window,
                             std::optional<absl::Duration> newer_than, absl::Time now,
                             std::unordered_set<std::uint64_t>* keep) const {
  // The age rule must look at the whole reachable history; the count rule only this far.
  const std::size_t walk = newer_than ? SIZE_MAX : window;
  for (const auto& [id, dist] : Ancestors(head, walk)) {
    const VersionPtr& v = Find(id);
    if (v == nullptr) continue;
    const bool young = newer_than && now - v->info.time < *newer_than;
    if (dist <= window || young) keep->insert(id.value);
  }
}

}  // namespace cowdb::internal
