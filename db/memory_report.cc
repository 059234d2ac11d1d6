// Database::GetMemoryReport: which chunks each branch and tag head shares and which it alone
// keeps alive, dataset by dataset; history, pinned versions and the process's resident set.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "cowdb/database.h"
#include "db/database_impl.h"
#include "fmt/format.h"

namespace cowdb {
namespace {

struct NodeUse {
  std::uint32_t owners = 0;         // distinct heads (branches and tags) reaching the node
  std::uint32_t last = UINT32_MAX;  // the last pass that visited it
  std::size_t bytes = 0;
};
using NodeTable = std::unordered_map<const void*, NodeUse>;  // not absl: see database_impl.cc

// Visits every node of v once for pass `pass` (skipping subtrees that pass already saw),
// calling fn(k, node use) on each first visit, where k is the dataset's place in the catalog.
template <class Fn>
void VisitOnce(const internal::Version& v, std::uint32_t pass, NodeTable& nodes, const Fn& fn) {
  std::size_t k = 0;
  for (const auto& [name, d] : v.catalog) {
    d->VisitNodes([&](const void* node, std::size_t bytes) {
      NodeUse& u = nodes[node];
      if (u.last == pass) return false;
      u.last = pass;
      u.bytes = bytes;
      fn(k, u);
      return true;
    });
    ++k;
  }
}

// The process's resident set size, or 0 where /proc/self/statm cannot be read.
std::size_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;  // NOLINT(runtime/int): the file's format
  const bool ok = std::fscanf(f, "%lu %lu", &size, &resident) == 2;
  std::fclose(f);
  const long page = sysconf(_SC_PAGESIZE);  // NOLINT(runtime/int)
  return ok && page > 0 ? resident * static_cast<std::size_t>(page) : 0;
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
  const auto branches = impl_->Refs(internal::RefKind::kBranch);
  const auto tags = impl_->Refs(internal::RefKind::kTag);
  const std::vector<internal::VersionPtr> all = impl_->AllVersions();
  const std::vector<internal::VersionPtr> pinned = impl_->PinnedVersions();
  std::unordered_map<std::uint64_t, internal::VersionPtr> by_id;
  for (const auto& v : all) by_id.emplace(v->info.id.value, v);

  // Owners: every branch, then every tag, each with the version it names (a ref whose version
  // a concurrent prune took is listed with nothing reachable).
  struct Owner {
    std::string label;  // "branch x" or "tag x", for same_version
    internal::VersionPtr version;
  };
  std::vector<Owner> owners;
  owners.reserve(branches.size() + tags.size());
  for (const auto* refs : {&branches, &tags}) {
    for (const auto& [name, id] : *refs) {
      const auto it = by_id.find(id.value);
      owners.push_back({fmt::format("{} {}", refs == &tags ? "tag" : "branch", name),
                        it == by_id.end() ? nullptr : it->second});
    }
  }
  // Pass o (one per owner) counts how many owners reach each node.
  NodeTable nodes;
  const auto n_owners = static_cast<std::uint32_t>(owners.size());
  for (std::uint32_t o = 0; o < n_owners; ++o) {
    if (owners[o].version) {
      VisitOnce(*owners[o].version, o, nodes, [](std::size_t, NodeUse& u) { ++u.owners; });
    }
  }

  // Passes n_owners + o: per owner, split what it reaches into shared and exclusive, by dataset.
  MemoryReport r;
  std::map<std::uint64_t, std::vector<std::uint32_t>> at_version;  // version -> owners there
  for (std::uint32_t o = 0; o < n_owners; ++o) {
    if (owners[o].version) at_version[owners[o].version->info.id.value].push_back(o);
  }
  for (std::uint32_t o = 0; o < n_owners; ++o) {
    const bool tag = o >= branches.size();
    const auto& [name, head] = tag ? tags[o - branches.size()] : branches[o];
    RefMemory m{name, head, 0, 0, 0, {}, {}};
    if (const internal::VersionPtr& v = owners[o].version) {
      for (const auto& [ds_name, d] : v->catalog) {
        m.datasets.push_back({ds_name, d->size(), 0, 0});
      }
      VisitOnce(*v, n_owners + o, nodes, [&m](std::size_t k, NodeUse& u) {
        DatasetMemory& dm = m.datasets[k];
        dm.reachable_bytes += u.bytes;
        m.reachable_bytes += u.bytes;
        if (u.owners > 1) {
          m.shared_bytes += u.bytes;
        } else {
          m.exclusive_bytes += u.bytes;
          dm.exclusive_bytes += u.bytes;
        }
      });
      for (const std::uint32_t other : at_version[v->info.id.value]) {
        if (other != o) m.same_version.push_back(owners[other].label);
      }
    }
    (tag ? r.tags : r.branches).push_back(std::move(m));
  }

  // Pass 2 * n_owners: every retained version, once: the total and the part no head or tag
  // uses; then the pinned versions' chunks that no retained version uses.
  const std::uint32_t total_pass = 2 * n_owners;
  r.versions = all.size();
  for (const auto& v : all) {
    VisitOnce(*v, total_pass, nodes, [&r](std::size_t, NodeUse& u) {
      r.total_bytes += u.bytes;
      if (u.owners == 0) r.history_bytes += u.bytes;
    });
  }
  r.pinned_versions = pinned.size();
  for (const auto& v : pinned) {
    VisitOnce(*v, total_pass, nodes, [&r](std::size_t, NodeUse& u) { r.pinned_bytes += u.bytes; });
  }
  r.resident_bytes = ResidentBytes();
  const storage::DatabaseStore::DiskUsage disk = impl_->DiskUsage();
  r.disk_bytes = disk.file_bytes;
  r.disk_live_bytes = disk.live_bytes;
  return r;
}

}  // namespace cowdb

auto fmt::formatter<cowdb::MemoryReport>::format(const cowdb::MemoryReport& r,
                                                 format_context& ctx) const
    -> format_context::iterator {
  using cowdb::HumanBytes;
  auto out = fmt::format_to(ctx.out(), "{:<24} {:>8} {:>12} {:>12} {:>12}\n", "branch / tag",
                            "head", "reachable", "shared", "exclusive");
  for (const auto* refs : {&r.branches, &r.tags}) {
    for (const cowdb::RefMemory& b : *refs) {
      const std::string name = refs == &r.tags ? fmt::format("tag {}", b.name) : b.name;
      out = fmt::format_to(out, "{:<24} {:>8} {:>12} {:>12} {:>12}", name,
                           fmt::format("{}", b.head), HumanBytes(b.reachable_bytes),
                           HumanBytes(b.shared_bytes), HumanBytes(b.exclusive_bytes));
      if (!b.same_version.empty()) {
        out = fmt::format_to(out, "  (same version as {})", fmt::join(b.same_version, ", "));
      }
      *out++ = '\n';
      for (const cowdb::DatasetMemory& d : b.datasets) {
        out = fmt::format_to(out, "  {:<31} {:>12} {:>12} {:>12}  {} row{}\n",
                             fmt::format("\"{}\"", d.name), HumanBytes(d.reachable_bytes),
                             HumanBytes(d.reachable_bytes - d.exclusive_bytes),
                             HumanBytes(d.exclusive_bytes), d.rows, d.rows == 1 ? "" : "s");
      }
    }
  }
  out = fmt::format_to(out, "total {} in {} retained version{} ({} only in history)",
                       HumanBytes(r.total_bytes), r.versions, r.versions == 1 ? "" : "s",
                       HumanBytes(r.history_bytes));
  if (r.pinned_versions > 0) {
    out = fmt::format_to(out, "; {} more in {} pruned version{} snapshots still hold",
                         HumanBytes(r.pinned_bytes), r.pinned_versions,
                         r.pinned_versions == 1 ? "" : "s");
  }
  if (r.disk_bytes > 0) {
    out = fmt::format_to(out, "; on disk {} ({} of it in use)", HumanBytes(r.disk_bytes),
                         HumanBytes(r.disk_live_bytes));
  }
  if (r.resident_bytes > 0) {
    out = fmt::format_to(out, "; process resident {}", HumanBytes(r.resident_bytes));
  }
  return out;
}
