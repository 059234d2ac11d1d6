// cowdb/merge.h — three-way merge of pvec versions.
//
// merge(base, ours, theirs) combines two versions derived from a common base. It starts from
// `ours` and brings in what `theirs` changed relative to `base`, found with the same lock-step
// walk as diff(): a chunk that only theirs changed is taken from theirs as is (shared, not
// copied); a chunk both sides changed is merged element by element; an element both sides changed
// to different values is a conflict. Every chunk neither side changed stays shared with base.
//
//   auto r = cowdb::merge(base, ours, theirs);
//   if (r.ok()) use(r.merged());
//   else for (const auto& c : r.conflicts()) report(c.index, c.base, c.ours, c.theirs);
//   auto resolved = r.resolve(cowdb::merge_side::kTheirs);          // or a per-conflict function
//
// Lengths. Each side's length is merged like a value: if only one side changed it, that length
// is taken (an append on one side is taken; a truncation on one side is taken). Both sides
// appending conflicts unless they appended the same number of elements (then each appended
// element is merged like any other, with no base value). Both sides truncating keeps the shorter
// length (deleting the union of the deleted elements). One side appending while the other
// truncates is a length conflict. An element that one side deleted (by truncating) and the other
// side modified is a modify/delete conflict. Length and modify/delete conflicts are "structural":
// their conflict records have `ours` or `theirs` empty, and only a side (kOurs/kTheirs) resolves
// them, by taking that side's length and tail.
//
// merge_mode::kValues (the default) treats the same change on both sides as agreement;
// merge_mode::kWrites makes any element changed on both sides, and any length change on both
// sides, a conflict (what optimistic transactions need against lost updates).
//
// Costs: O(chunks changed by theirs x (depth + fanout + chunk size)) + O(elements appended by
// theirs or by both sides) + O(conflicts); independent of the size of the unchanged part.
//
// Thread-safety: merge() reads immutable versions and is thread-safe; a merge_result is an
// immutable value, thread-safe to share.
#ifndef COWDB_MERGE_H_
#define COWDB_MERGE_H_

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cowdb/internal/tree_diff.h"
#include "cowdb/pvec.h"

namespace cowdb {

enum class merge_side : std::uint8_t { kOurs, kTheirs };

// What counts as a conflict.
enum class merge_mode : std::uint8_t {
  // An element both sides changed to different values (the same change on both sides merges).
  kValues,
  // An element both sides changed at all, even to equal values, and any length change on both
  // sides: write-write conflicts, as optimistic transactions need (two increments of one counter
  // from 0 to 1 must not both succeed).
  kWrites,
};

// An element both sides changed differently. An empty optional means the element does not exist
// in that version (beyond its length): empty `base` for elements both sides appended; empty `ours`
// or `theirs` for structural conflicts (see the header comment).
template <class T>
struct merge_conflict {
  std::size_t index = 0;
  std::optional<T> base;
  std::optional<T> ours;
  std::optional<T> theirs;
  // True for a length or modify/delete conflict (only a merge_side resolves it).
  bool structural() const noexcept { return !ours.has_value() || !theirs.has_value(); }
};

template <class T, std::size_t C = kDefaultChunkBytes, std::size_t F = kDefaultFanout>
class merge_result;

namespace internal {

template <class T, std::size_t C, std::size_t F>
struct merger {
  using vec = pvec<T, C, F>;
  using tree = rbtree<T, vec::chunk_capacity, F>;
  using walker = tree_diff<T, vec::chunk_capacity, F>;

  const vec& base;
  const vec& ours;
  const vec& theirs;
  std::optional<merge_side> side;  // resolves every conflict when set
  merge_mode mode = merge_mode::kValues;
  std::vector<merge_conflict<T>> conflicts;
  walk_stats stats;

  static std::optional<T> at(const vec& v, std::size_t i) {
    return i < v.size() ? std::optional<T>(v[i]) : std::nullopt;
  }
  void conflict(std::size_t i) { conflicts.push_back({i, at(base, i), at(ours, i), at(theirs, i)}); }
  void structural(std::size_t i, bool ours_side_absent) {
    conflicts.push_back({i, at(base, i), ours_side_absent ? std::nullopt : at(ours, i),
                         ours_side_absent ? at(theirs, i) : std::nullopt});
  }

  // The merged length, recording structural conflicts (or resolving them by `side`).
  std::size_t length() {
    const std::size_t lb = base.size(), lo = ours.size(), lt = theirs.size();
    if (mode == merge_mode::kWrites && lo != lb && lt != lb) {  // both resized
      if (side) return *side == merge_side::kOurs ? lo : lt;
      const std::size_t first = std::min({lb, lo, lt});
      for (std::size_t i = first; i < std::max({lb, lo, lt}); ++i) {
        conflicts.push_back({i, at(base, i), at(ours, i), at(theirs, i)});
      }
      return lo;
    }
    if (lo == lt) return lo;
    if (lo == lb) return lt;
    if (lt == lb) return lo;
    if (lo < lb && lt < lb) return std::min(lo, lt);
    // Different appends, or an append against a truncation.
    if (side) return *side == merge_side::kOurs ? lo : lt;
    for (std::size_t i = std::min(lo, lt); i < std::max(lo, lt); ++i) structural(i, lo < lt);
    return lo;
  }

  // Elements of the longer side in [len, its length) that exist in base and were modified there
  // while the shorter side deleted them. Returns the length after resolution by `side`.
  std::size_t modify_delete(std::size_t len) {
    const bool ours_longer = ours.size() > theirs.size();
    const vec& longer = ours_longer ? ours : theirs;
    const std::size_t hi = std::min(longer.size(), base.size());
    if (len >= hi) return len;
    bool any = false;
    walker::runs(pvec_access::rep(base), pvec_access::rep(longer), len, hi, stats,
                 [&](std::size_t first, std::size_t last) {
                   any = true;
                   if (!side) {
                     for (std::size_t i = first; i < last; ++i) structural(i, !ours_longer);
                   }
                 });
    const bool longer_wins = side && (*side == merge_side::kOurs) == ours_longer;
    return any && longer_wins ? longer.size() : len;
  }

  vec run() {
    std::size_t len = length();
    const bool length_conflict = !conflicts.empty();
    if (!length_conflict && len < std::max(ours.size(), theirs.size())) len = modify_delete(len);

    // Start from ours, cut or extended to the merged length (a longer tail comes from theirs).
    auto out = ours.transient();
    if (len < ours.size()) out.take(len);
    for (auto it = theirs.begin() + static_cast<std::ptrdiff_t>(std::min(ours.size(), len));
         out.size() < len; ++it) {
      out.push_back(*it);
    }
    const std::size_t common = std::min({ours.size(), theirs.size(), len});

    // Bring in theirs' changes to base elements, chunk by chunk.
    tree_rep& r = pvec_access::mutable_rep(out);
    const tree_rep& ro = pvec_access::rep(ours);
    walker::walk(
        pvec_access::rep(base), pvec_access::rep(theirs), 0, std::min(common, base.size()), stats,
        [&](const typename tree::leaf* lb, const typename tree::leaf* lt, std::size_t at0,
            std::size_t k0, std::size_t k1) {
          const auto* lo = tree::leaf_for(ro.root, ro.depth, at0);
          if (lo == lb && tree::leaf_for(r.root, r.depth, at0)->count == lt->count) {
            tree::replace_leaf(r, at0, lt);  // only theirs touched this chunk: share it
            return;
          }
          stats.elements_compared += k1 - k0;
          for (std::size_t k = k0; k < k1; ++k) {
            const T& b = lb->data()[k];
            const T& t = lt->data()[k];
            const T& o = lo->data()[k];
            if (b == t || (o == t && (mode == merge_mode::kValues || &o == &t))) continue;
            if (o == b || side == merge_side::kTheirs) {
              set(r, at0 + k, t);
            } else if (!side) {
              conflict(at0 + k);
            }
          }
        });

    // Elements both sides appended: no base value.
    for (std::size_t i = base.size(); i < common; ++i) {
      if (mode == merge_mode::kValues && ours[i] == theirs[i]) continue;
      if (side == merge_side::kTheirs) {
        set(r, i, theirs[i]);
      } else if (!side) {
        conflict(i);
      }
    }
    // In index order, one record per index (a length conflict and an element conflict can
    // name the same index).
    std::stable_sort(conflicts.begin(), conflicts.end(),
                     [](const merge_conflict<T>& a, const merge_conflict<T>& b) {
                       return a.index < b.index;
                     });
    conflicts.erase(std::unique(conflicts.begin(), conflicts.end(),
                                [](const merge_conflict<T>& a, const merge_conflict<T>& b) {
                                  return a.index == b.index;
                                }),
                    conflicts.end());
    return std::move(out).persistent();
  }

  static void set(tree_rep& r, std::size_t i, const T& v) {
    tree::own_path(r, i)->data()[i & tree::leaf_mask] = v;
  }
};

}  // namespace internal

// The outcome of merge(): the merged version, or the conflicts and a way to resolve them.
template <class T, std::size_t C, std::size_t F>
class merge_result {
 public:
  using vec = pvec<T, C, F>;

  // True when the merge has no conflicts. O(1).
  bool ok() const noexcept { return conflicts_.empty(); }

  // Conflicts in index order. O(1).
  const std::vector<merge_conflict<T>>& conflicts() const noexcept { return conflicts_; }

  // The merged version when ok(). Otherwise the merge with every conflicting element left as in
  // ours (and ours' length on a length conflict): useful to inspect, not a finished merge. O(1).
  const vec& merged() const noexcept { return merged_; }

  // Finishes the merge taking `side`'s value at every conflict, and that side's length and tail
  // for structural conflicts. O(conflicts x (chunk + depth)); a structural conflict re-runs the
  // merge with the side as policy (same cost as merge()).
  vec resolve(merge_side side) const {
    if (ok()) return merged_;
    if (has_structural()) {
      internal::merger<T, C, F> m{base_, ours_, theirs_, side, mode_, {}, {}};
      return m.run();
    }
    if (side == merge_side::kOurs) return merged_;  // conflicts were left as in ours
    auto e = merged_.transient();
    for (const merge_conflict<T>& c : conflicts_) e.set(c.index, *c.theirs);
    return std::move(e).persistent();
  }

  // Finishes the merge with fn(const merge_conflict<T>&) -> T choosing the value of each
  // conflicting element. Throws std::logic_error if a structural conflict remains (resolve
  // those with a merge_side). If fn throws, nothing changes. O(conflicts x (chunk + depth)).
  template <class Fn>
  vec resolve(Fn&& fn) const
    requires std::invocable<Fn&, const merge_conflict<T>&>
  {
    if (has_structural()) {
      throw std::logic_error(
          "cowdb::merge_result::resolve: a length or modify/delete conflict can only be resolved "
          "by taking one side (merge_side::kOurs or kTheirs)");
    }
    auto e = merged_.transient();
    for (const merge_conflict<T>& c : conflicts_) e.set(c.index, static_cast<T>(fn(c)));
    return std::move(e).persistent();
  }

  // What the merge read (node pairs visited, elements compared).
  const internal::walk_stats& stats() const noexcept { return stats_; }

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
  internal::walk_stats stats_;
  merge_mode mode_ = merge_mode::kValues;
};

// Three-way merge of `ours` and `theirs`, both derived from `base`. See the header comment for the
// rules and costs. Strong guarantee: if T's copy or an allocation throws, nothing changes.
template <class T, std::size_t C, std::size_t F>
  requires std::equality_comparable<T>
merge_result<T, C, F> merge(const pvec<T, C, F>& base, const pvec<T, C, F>& ours,
                            const pvec<T, C, F>& theirs, merge_mode mode = merge_mode::kValues) {
  merge_result<T, C, F> r;
  internal::merger<T, C, F> m{base, ours, theirs, std::nullopt, mode, {}, {}};
  r.merged_ = m.run();
  r.conflicts_ = std::move(m.conflicts);
  r.stats_ = m.stats;
  r.base_ = base;
  r.ours_ = ours;
  r.theirs_ = theirs;
  r.mode_ = mode;
  return r;
}

// merge(base, ours, theirs) with every conflict resolved by `side` (structural ones included).
template <class T, std::size_t C, std::size_t F>
  requires std::equality_comparable<T>
pvec<T, C, F> merge(const pvec<T, C, F>& base, const pvec<T, C, F>& ours,
                    const pvec<T, C, F>& theirs, merge_side side,
                    merge_mode mode = merge_mode::kValues) {
  internal::merger<T, C, F> m{base, ours, theirs, side, mode, {}, {}};
  return m.run();
}

}  // namespace cowdb

#endif  // COWDB_MERGE_H_
