// Database::GetMemoryReport: which chunks each branch head shares and which it alone keeps alive.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cowdb/database.h"
#include "db/database_impl.h"
#include "fmt/format.h"

namespace cowdb {
namespace {

struct NodeUse {
  std::uint32_t owners = 0;               // distinct heads (branches and tags) reaching the node
  std::uint32_t last = UINT32_MAX;        // the last owner that visited it
  std::size_t bytes = 0;
};
using NodeTable = std::unordered_map<const void*, NodeUse>;  // not absl: see database_impl.cc

// Visits every node of v once for `owner` (skipping subtrees it already saw), calling
// fn(node use) on each first visit.
template <class Fn>
void VisitOnce(const internal::Version& v, std::uint32_t owner, NodeTable& nodes, const Fn& fn) {
  for (const auto& [name, d] : v.catalog) {
    d->VisitNodes([&](const void* node, std::size_t bytes) {
      NodeUse& u = nodes[node];
      if (u.last == owner) return false;
      u.last = owner;
      u.bytes = bytes;
      fn(u);
      return true;
    });
  }
}

std::string HumanBytes(std::size_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace

MemoryReport Database::GetMemoryReport() const {
  const auto branches = impl_->Refs(/*tag=*/false);
  const auto tags = impl_->Refs(/*tag=*/true);
  const std::vector<internal::VersionPtr> all = impl_->AllVersions();
  std::unordered_map<std::uint64_t, internal::VersionPtr> by_id;
  for (const auto& v : all) by_id.emplace(v->info.id.value, v);

  // Owners: every branch, then every tag. Pass 1 counts how many owners reach each node.
  std::vector<internal::VersionPtr> owners;
  for (const auto* refs : {&branches, &tags}) {
    for (const auto& [name, id] : *refs) {
      const auto it = by_id.find(id.value);
      owners.push_back(it == by_id.end() ? nullptr : it->second);
    }
  }
  NodeTable nodes;
  for (std::uint32_t o = 0; o < owners.size(); ++o) {
    if (owners[o]) VisitOnce(*owners[o], o, nodes, [](NodeUse& u) { ++u.owners; });
  }

  // Pass 2: per branch, split what it reaches into shared and exclusive.
  MemoryReport r;
  r.versions = all.size();
  const auto pass = static_cast<std::uint32_t>(owners.size());
  for (std::uint32_t b = 0; b < branches.size(); ++b) {
    BranchMemory m{branches[b].first, branches[b].second, 0, 0, 0};
    if (owners[b]) {
      VisitOnce(*owners[b], pass + b, nodes, [&m](NodeUse& u) {
        m.reachable_bytes += u.bytes;
        (u.owners > 1 ? m.shared_bytes : m.exclusive_bytes) += u.bytes;
      });
    }
    r.branches.push_back(std::move(m));
  }
  // Pass 3: every retained version, once: the total and the part no head or tag uses.
  const std::uint32_t total_pass = pass + static_cast<std::uint32_t>(branches.size());
  for (const auto& v : all) {
    VisitOnce(*v, total_pass, nodes, [&r](NodeUse& u) {
      r.total_bytes += u.bytes;
      if (u.owners == 0) r.history_bytes += u.bytes;
    });
  }
  const storage::DatabaseStore::DiskUsage disk = impl_->DiskUsage();
  r.disk_bytes = disk.file_bytes;
  r.disk_live_bytes = disk.live_bytes;
  return r;
}

}  // namespace cowdb

auto fmt::formatter<cowdb::MemoryReport>::format(const cowdb::MemoryReport& r,
                                                 format_context& ctx) const
    -> format_context::iterator {
  auto out = fmt::format_to(ctx.out(), "{:<20} {:>8} {:>12} {:>12} {:>12}\n", "branch", "head",
                            "reachable", "shared", "exclusive");
  for (const cowdb::BranchMemory& b : r.branches) {
    out = fmt::format_to(out, "{:<20} {:>8} {:>12} {:>12} {:>12}\n", b.name,
                         fmt::format("{}", b.head), cowdb::HumanBytes(b.reachable_bytes),
                         cowdb::HumanBytes(b.shared_bytes), cowdb::HumanBytes(b.exclusive_bytes));
  }
  out = fmt::format_to(out, "total {} in {} retained version{} ({} only in history)",
                       cowdb::HumanBytes(r.total_bytes), r.versions, r.versions == 1 ? "" : "s",
                       cowdb::HumanBytes(r.history_bytes));
  if (r.disk_bytes == 0) return out;
  return fmt::format_to(out, "; on disk {} ({} of it in use)", cowdb::HumanBytes(r.disk_bytes),
                        cowdb::HumanBytes(r.disk_live_bytes));
}
