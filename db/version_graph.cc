#include "db/version_graph.h"

#include <algorithm>
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

VersionGraph::MergeBase VersionGraph::FindMergeBase(VersionId source, VersionId target) const {
  MergeBase out;
  if (source == target) {
    out.kind = MergeBase::Kind::kAlreadyMerged;
    return out;
  }
  std::unordered_set<std::uint64_t> in_source;
  for (const auto& [id, dist] : Ancestors(source)) in_source.insert(id.value);
  if (in_source.contains(target.value)) {  // target is behind
    out.kind = MergeBase::Kind::kFastForward;
    return out;
  }
  // The newest common ancestor: ids grow along every path, so no other common ancestor
  // descends from it.
  VersionId lca{0};
  for (const auto& [id, dist] : Ancestors(target)) {
    if (id == source) {
      out.kind = MergeBase::Kind::kAlreadyMerged;
      return out;
    }
    if (in_source.contains(id.value) && id > lca) lca = id;
  }
  if (lca.value == 0) return out;  // kUnrelated
  out.kind = MergeBase::Kind::kThreeWay;
  out.base = lca;
  out.version = Find(lca);
  return out;
}

std::vector<VersionPtr> VersionGraph::RetainedAncestors(const VersionPtr& head,
                                                        std::size_t max_count) const {
  // Through retained versions only: a pruned parent is neither listed nor crossed. The frontier
  // is a max-heap by id; since a parent's id is smaller than its child's, every version not yet
  // reached is older than some frontier version, so the pops come newest first and the walk
  // stops after max_count of them.
  const auto older = [](const VersionPtr& a, const VersionPtr& b) {
    return a->info.id < b->info.id;
  };
  std::vector<VersionPtr> out;
  std::vector<VersionPtr> frontier{head};
  std::unordered_set<std::uint64_t> seen{head->info.id.value};
  while (!frontier.empty() && out.size() < max_count) {
    std::pop_heap(frontier.begin(), frontier.end(), older);
    out.push_back(std::move(frontier.back()));
    frontier.pop_back();
    const ParentIds* parents = Parents(out.back()->info.id);
    if (parents == nullptr) continue;
    for (VersionId p : *parents) {
      if (!seen.insert(p.value).second) continue;
      if (const VersionPtr& v = Find(p); v != nullptr) {
        frontier.push_back(v);
        std::push_heap(frontier.begin(), frontier.end(), older);
      }
    }
  }
  return out;
}

VersionGraph::AsOf VersionGraph::FirstParentAsOf(VersionPtr from, absl::Time as_of) const {
  while (from->info.time > as_of) {
    const ParentIds* parents = Parents(from->info.id);
    if (parents == nullptr || parents->begin() == parents->end()) return {};
    const VersionId parent = *parents->begin();
    const VersionPtr& p = Find(parent);
    if (p == nullptr) return {nullptr, parent};
    from = p;
  }
  return {std::move(from), VersionId{0}};
}

}  // namespace cowdb::internal
