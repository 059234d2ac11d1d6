// cowdb/merge.h — three-way merge of pvec versions, by row identity.
//
// merge(base, ours, theirs) combines two versions derived from a common base. Rows are matched
// by identity (pvec::row_id), not by position: an edit on one side lands on the same row in the
// result whatever the other side inserted, erased, filtered or sorted around it, and edits of
// different rows never conflict. Both sides' edits are applied: changed values, erased rows,
// inserted rows (placed before the base row they were inserted before), moved rows.
//
//   auto r = cowdb::merge(base, ours, theirs);
//   if (r.ok()) use(r.merged());
//   else for (const auto& c : r.conflicts()) report(c.kind, c.base_index, c.ours, c.theirs);
//   auto resolved = r.resolve(cowdb::merge_side::kTheirs);          // or a per-conflict function
//
// Conflicts (conflict_kind), and what resolving by a side does:
//   kValue        the row's value changed differently on both sides   -> that side's value
//   kModifyErase  changed or moved on one side, erased on the other    -> that side's action
//                 (the row is kept, with its change, or erased)
//   kBothErased   (kWrites only) erased on both sides                  -> erased
//   kInsertOrder  rows inserted before the same base row on both sides  -> both sides' rows are
//                 kept, that side's first
//   kMove         moved on both sides                                 -> that side's place
// A side decides only its conflicting rows: every other edit of both sides is applied. A
// conflict names the row in base (base_index) and on each side (ours_index, theirs_index), what
// each side did to it (ours_action, theirs_action: row_action), its values (an empty optional
// where a side erased it), and where it is in merged().
//
// merge_mode::kValues (the default) treats the same change on both sides as agreement (the
// same new value, both erasing a row, the same rows inserted at one place); merge_mode::kWrites
// makes every write of both sides to the same row, or inserts at the same place, a conflict
// (what optimistic transactions need against lost updates).
//
// Sharing: the result starts from the side that changed more rows (so a filter or a sort on one
// side is kept, not redone) and shares every chunk of it that the other side's edits leave
// alone; with few edits they are applied by path copying, with many in one pass over the
// chunks. Memory after merging a 1% filter with row fixes ~ the filter's version + the fixed
// chunks.
//
// Versions with no row in common with base (built separately) are, by identity, everything
// erased and everything inserted: merging them conflicts (kInsertOrder at the end, kModifyErase
// for rows the other side changed) unless the other side left base alone.
//
// Costs: two diffs' matching (O(changed chunks + id runs log id runs), see diff.h) + O(rows the
// sides touched) + applying: O(edits x (B + F log n)) for few edits, O(n / B + rows of the
// changed chunks) otherwise.
//
// Thread-safety: merge() reads immutable versions and is thread-safe; a merge_result is an
// immutable value, thread-safe to share.
#ifndef COWDB_MERGE_H_
#define COWDB_MERGE_H_

#include <concepts>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/internal/row_merge.h"
#include "cowdb/pvec.h"

namespace cowdb {

// The outcome of merge(): the merged version, or the conflicts and a way to resolve them.
template <class T, std::size_t C, std::size_t F>
class merge_result {
 public:
  using vec = pvec<T, C, F>;

  // True when the merge has no conflicts. O(1).
  bool ok() const noexcept { return conflicts_.empty(); }

  // Conflicts in index order. O(1).
  const std::vector<merge_conflict<T>>& conflicts() const noexcept { return conflicts_; }

  // The merged version when ok(). Otherwise the merge with every conflict decided for ours
  // (resolve(merge_side::kOurs)): every non-conflicting edit of both sides is in it. O(1).
  const vec& merged() const noexcept { return merged_; }

  // Finishes the merge deciding every conflict for `side` (see the header comment for each
  // kind). O(1) for kOurs; kTheirs re-runs the merge (same cost as merge()).
  vec resolve(merge_side side) const {
    if (ok() || side == merge_side::kOurs) return merged_;
    internal::row_merge<T, C, F> m(base_, ours_, theirs_, mode_, side);
    return m.run();
  }

  // Finishes the merge with fn(const merge_conflict<T>&) -> T choosing the value of each
  // conflicting row. Throws std::logic_error if a structural conflict (any kind but kValue)
  // remains (resolve those with a merge_side). If fn throws, nothing changes.
  // O(conflicts x (chunk + depth)).
  template <class Fn>
  vec resolve(Fn&& fn) const
    requires std::invocable<Fn&, const merge_conflict<T>&>
  {
    if (has_structural()) {
      throw std::logic_error(
          "cowdb::merge_result::resolve: a structural conflict (modify/erase, insert order, move) "
          "can only be resolved by taking one side (merge_side::kOurs or kTheirs)");
    }
    auto e = merged_.transient();
    for (const merge_conflict<T>& c : conflicts_) e.set(c.index, static_cast<T>(fn(c)));
    return std::move(e).persistent();
  }

  // What the merge read (node pairs visited, elements compared), both sides' matching included.
  const diff_stats& stats() const noexcept { return stats_; }

 private:
  template <class U, std::size_t C2, std::size_t F2>
    requires std::equality_comparable<U>
  friend merge_result<U, C2, F2> merge(const pvec<U, C2, F2>&, const pvec<U, C2, F2>&,
                                       const pvec<U, C2, F2>&, merge_mode);

  bool has_structural() const noexcept {
    for (const merge_conflict<T>& c : conflicts_) {
      if (c.structural()) return true;
    }
    return false;
  }

  vec base_, ours_, theirs_, merged_;
  std::vector<merge_conflict<T>> conflicts_;
  diff_stats stats_;
  merge_mode mode_ = merge_mode::kValues;
};

// Three-way merge of `ours` and `theirs`, both derived from `base`. See the header comment for the
// rules and costs. Strong guarantee: if T's copy or an allocation throws, nothing changes.
// Throws std::logic_error (changing nothing) when the sides' edits cannot be placed without
// overlapping, which can happen when a version holds one row more than once (v + v, or a slice of
// a version inserted into it): merging such versions is not supported yet.
template <class T, std::size_t C, std::size_t F>
  requires std::equality_comparable<T>
merge_result<T, C, F> merge(const pvec<T, C, F>& base, const pvec<T, C, F>& ours,
                            const pvec<T, C, F>& theirs, merge_mode mode = merge_mode::kValues) {
  merge_result<T, C, F> r;
  internal::row_merge<T, C, F> m(base, ours, theirs, mode, std::nullopt);
  r.merged_ = m.run();
  r.conflicts_ = std::move(m.conflicts);
  r.stats_ = m.stats();
  r.base_ = base;
  r.ours_ = ours;
  r.theirs_ = theirs;
  r.mode_ = mode;
  return r;
}

// merge(base, ours, theirs) with every conflict resolved by `side` (structural ones included).
// Throws std::logic_error as merge() does.
template <class T, std::size_t C, std::size_t F>
  requires std::equality_comparable<T>
pvec<T, C, F> merge(const pvec<T, C, F>& base, const pvec<T, C, F>& ours,
                    const pvec<T, C, F>& theirs, merge_side side,
                    merge_mode mode = merge_mode::kValues) {
  internal::row_merge<T, C, F> m(base, ours, theirs, mode, side);
  return m.run();
}

}  // namespace cowdb

#endif  // COWDB_MERGE_H_
