// The version graph of a Database: every version ever published (its VersionTable) and every
// walk along parent links -- ancestors with their distances, the versions a Prune keeps below a
// head, the merge base of two heads, the retained history Log lists and the first-parent walk of
// OpenSnapshot(name, time). One home for the DAG, as leveldb's VersionSet is for its versions;
// DatabaseImpl owns one and calls into it under its mutex, Database only through DatabaseImpl.
//
//   VersionGraph g;
//   g.Reserve();
//   g.Append(v1, {});                          // v1->info.id == g.next_id()
//   ...
//   for (const auto& [id, dist] : g.Ancestors(head)) ...   // breadth first, pruned ones too
//   VersionGraph::MergeBase m = g.FindMergeBase(source, target);
//
// Records and their costs are VersionTable's (db/version_table.h): O(1) lookup by id; a version
// is held while retained, its parents forever, so walks cross pruned history (merges still find
// fork points there) while Log and the first-parent walk stop where a version was pruned.
//
// Invariants: those of VersionTable; a version's parents are older than it (smaller ids: a
// parent is published first), so the graph is a DAG and ids grow along every path -- the common
// ancestor with the largest id is a newest one (none descends from it).
//
// Thread-safety: thread-compatible. Const methods may run concurrently with each other; anything
// else needs exclusive access. DatabaseImpl guards its graph with its mutex (shared for walks).
// Walks allocate their results and visited sets and may throw std::bad_alloc, changing nothing.
#ifndef COWDB_DB_VERSION_GRAPH_H_
#define COWDB_DB_VERSION_GRAPH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "db/version.h"
#include "db/version_table.h"

namespace cowdb::internal {

class VersionGraph {
 public:
  // ---- records: see VersionTable, whose contracts these are --------------------------------
  // The id the next Append() gives. O(1).
  VersionId next_id() const noexcept { return table_.next_id(); }
  // The retained version `id`, or null (pruned, or never published). O(1).
  const VersionPtr& Find(VersionId id) const noexcept { return table_.Find(id); }
  // The parents of version `id` (retained or pruned), or null if it was never published. O(1).
  const ParentIds* Parents(VersionId id) const noexcept { return table_.Parents(id); }
  // Makes room for one Append(); may throw std::bad_alloc, changing nothing. Amortized O(1).
  void Reserve() { table_.Reserve(); }
  // Records `v` as version next_id() with `parents`; returns its id. REQUIRES: Reserve() since
  // the last Append(); v->info.id == next_id(); every parent < next_id(). O(1), noexcept.
  VersionId Append(VersionPtr v, const ParentIds& parents) noexcept;
  // The retained ids, ascending. O(1).
  const std::vector<std::uint64_t>& retained() const noexcept { return table_.retained(); }
  // Drops every retained version for which keep(id) is false into *dropped. O(retained).
  // REQUIRES: dropped has room for retained().size() more elements (so that this cannot throw).
  template <class Keep>
  void Drop(const Keep& keep, std::vector<VersionPtr>* dropped) noexcept {
    table_.Drop(keep, dropped);
  }

  // ---- walks --------------------------------------------------------------------------------
  // Every ancestor of `from` (itself included, pruned ones too) with its distance from `from`
  // (the fewest parent links), breadth first -- parents in the order they are recorded -- not
  // descending below max_dist. An unknown `from` gives just {from, 0}. O(ancestors visited).
  std::vector<std::pair<VersionId, std::size_t>> Ancestors(VersionId from,
                                                           std::size_t max_dist = SIZE_MAX) const;

  // Prune's walk from one head: adds to *keep every retained version at most `window` parent
  // links below `head` and, when `newer_than` is set, every retained ancestor younger than that
  // at `now` (now - time < newer_than). Pruned versions are walked through, never added.
  // O(ancestors within window), or O(ancestors) with newer_than.
  void KeepBelow(VersionId head, std::size_t window, std::optional<absl::Duration> newer_than,
                 absl::Time now, std::unordered_set<std::uint64_t>* keep) const;

  // How branch `target` takes in branch `source` (their heads).
  struct MergeBase {
    enum class Kind {
      kAlreadyMerged,  // source is target or one of its ancestors: nothing to do
      kFastForward,    // target is an ancestor of source: move target to source
      kThreeWay,       // merge both against `base`
      kUnrelated,      // no common ancestor (not reachable through Database: all descend from v1)
    };
    Kind kind = Kind::kUnrelated;
    VersionId base{0};   // kThreeWay: the newest common ancestor (the largest id), else 0
    VersionPtr version;  // kThreeWay: base's version, or null if it was pruned
  };
  // The merge base of `source` and `target`, across pruned history. O(ancestors of both).
  MergeBase FindMergeBase(VersionId source, VersionId target) const;

  // What Log lists from `head`: head and the retained versions reached from it through retained
  // versions only (history stops where it was pruned), newest (largest id) first, the first
  // max_count of them. REQUIRES: head is (or was) a version of this graph.
  // O(k log k) for the k versions returned: the walk stops there, however long the history.
  std::vector<VersionPtr> RetainedAncestors(const VersionPtr& head,
                                            std::size_t max_count = SIZE_MAX) const;

  // The first-parent walk (a merge's target side: the versions that were the head in turn) from
  // `from` down to the newest version whose time is at or before `as_of`.
  struct AsOf {
    VersionPtr version;   // that version, or null when the walk failed:
    VersionId pruned{0};  // the parent found pruned; 0: a parentless version, still too new
  };
  // REQUIRES: from is (or was) a version of this graph. O(versions walked).
  AsOf FirstParentAsOf(VersionPtr from, absl::Time as_of) const;

 private:
  VersionTable table_;
};

}  // namespace cowdb::internal

#endif  // COWDB_DB_VERSION_GRAPH_H_
