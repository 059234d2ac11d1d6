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
// Shifts. When either side inserted or erased elements before its end (diff() reports kInserted
// or kErased), the merge works on "hunks" instead of positions: each side's diff from base is a
// list of base ranges replaced by new content. Hunks of one side that do not overlap a hunk of
// the other are applied at their shifted positions, so an edit on one side lands on the same
// logical element even though the other side inserted rows before it. Overlapping modifications
// (same length on both sides) are merged element by element as above. Any other overlap — an
// insert or erase on one side meeting a change of the same stretch on the other, or both sides
// inserting at the same point — is a structural conflict (record with `ours` and `theirs` empty,
// `index` where the stretch starts in merged()), unless both made the identical change
// (merge_mode::kValues); a merge_side resolves it by taking that side's version of the stretch.
// An insert exactly at the start or end of a range changed by the other side does not overlap
// it (the insert goes before or after it).
//
// merge_mode::kValues (the default) treats the same change on both sides as agreement;
// merge_mode::kWrites makes every write of both sides to the same place a conflict, even when
// both wrote the same thing (what optimistic transactions need against lost updates): an element
// both sides changed; the length changed at the end by both sides (appends or truncations on
// both); overlapping hunks of a merge across shifts, identical or not. Inserts and erases at
// different places write different elements and merge under both modes.
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

#include "cowdb/diff.h"
#include "cowdb/internal/tree_diff.h"
#include "cowdb/pvec.h"

namespace cowdb {

enum class merge_side : std::uint8_t { kOurs, kTheirs };

// What counts as a conflict.
enum class merge_mode : std::uint8_t {
  // An element both sides changed to different values (the same change on both sides merges).
  kValues,
  // Anything both sides wrote, even the same value: an element both changed, the end of the
  // vector both appended to or truncated, overlapping inserts/erases (see the header comment).
  // Write-write conflicts, as optimistic transactions need (two increments of one counter from 0
  // to 1 must not both succeed).
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
    walker::aligned_runs(pvec_access::rep(base), pvec_access::rep(longer), len, hi, stats,
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
    if (walker::shifted(pvec_access::rep(base), pvec_access::rep(ours)) ||
        walker::shifted(pvec_access::rep(base), pvec_access::rep(theirs))) {
      vec out = run_shifted();
      std::stable_sort(conflicts.begin(), conflicts.end(),
                       [](const merge_conflict<T>& a, const merge_conflict<T>& b) {
                         return a.index < b.index;
                       });
      return out;
    }
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
    const std::size_t lim = std::min(common, base.size());
    walker::regions(
        pvec_access::rep(base), pvec_access::rep(theirs), stats,
        [&](const typename walker::region& g) {
          if (g.a_lo >= lim) return false;
          if (g.a.empty() || g.b.empty()) return true;
          const std::size_t at0 = g.a_lo;
          std::size_t slot = at0;
          const auto* lo = tree::leaf_for(ro.root, ro.depth, slot);
          if (g.a.size() == 1 && g.b.size() == 1 && g.b[0].level == 0 && g.a_hi <= lim && slot == 0 &&
              lo == g.a[0].node && g.a[0].size == g.b[0].size) {
            std::size_t rslot = at0;
            if (tree::leaf_for(r.root, r.depth, rslot)->count == g.b[0].size && rslot == 0) {
              tree::replace_leaf(r, at0, g.b[0].node);  // only theirs touched this chunk: share it
              return true;
            }
          }
          const std::size_t n = std::min({g.a_hi, g.b_hi, lim}) - at0;
          typename walker::cursor cb(g.a), ct(g.b);
          stats.elements_compared += n;
          for (std::size_t k = 0; k < n; ++k) {
            const T& b = cb.at(k);
            const T& t = ct.at(k);
            const T& o = tree::get(ro, at0 + k);
            if (b == t || (o == t && (mode == merge_mode::kValues || &o == &t))) continue;
            if (o == b || side == merge_side::kTheirs) {
              set(r, at0 + k, t);
            } else if (!side) {
              conflict(at0 + k);
            }
          }
          return true;
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

  static void set(tree_rep& r, std::size_t i, const T& v) { *tree::own_slot(r, i) = v; }

  // ---- merging across shifts ----------------------------------------------------------------------
  // A base range [bf, bl) that one side replaced by its elements [sf, sl); `mod` when the lengths
  // are equal and every element in it is a modification.
  struct hunk {
    std::size_t bf, bl, sf, sl;
    bool mod;
    bool ours;
  };
  static void hunks_of(const pvec_diff<T, C, F>& d, bool is_ours, std::vector<hunk>& out) {
    for (const diff_range& r : d.ranges()) {
      hunk h;
      if (r.kind == change_kind::kModified) {
        h = {r.from_first(), r.from_first() + r.size(), r.first, r.last, true, is_ours};
      } else if (r.adds()) {
        h = {r.from_first(), r.from_first(), r.first, r.last, false, is_ours};
      } else {
        h = {r.first, r.last, r.to_first(), r.to_first(), false, is_ours};
      }
      if (!out.empty() && out.back().ours == is_ours && out.back().bl == h.bf &&
          out.back().sl == h.sf) {
        out.back().bl = h.bl;  // touching hunks of one side form one
        out.back().sl = h.sl;
        out.back().mod = out.back().mod && h.mod;
      } else {
        out.push_back(h);
      }
    }
  }
  static bool overlap(const hunk& x, const hunk& y) noexcept {
    const bool ex = x.bf == x.bl, ey = y.bf == y.bl;
    if (ex && ey) return x.bf == y.bf;
    if (ex) return y.bf < x.bf && x.bf < y.bl;
    if (ey) return x.bf < y.bf && y.bf < x.bl;
    return x.bf < y.bl && y.bf < x.bl;
  }

  // The merge when a side shifted elements: see "Shifts" in the header comment.
  vec run_shifted() {
    const pvec_diff<T, C, F> dours(base, ours), dtheirs(base, theirs);
    std::vector<hunk> hs;
    hunks_of(dours, true, hs);
    const std::size_t n_ours = hs.size();
    hunks_of(dtheirs, false, hs);
    std::inplace_merge(hs.begin(), hs.begin() + static_cast<std::ptrdiff_t>(n_ours), hs.end(),
                       [](const hunk& a, const hunk& b) {
                         return a.bf < b.bf || (a.bf == b.bf && a.bl < b.bl);
                       });
    // An edit of the working vector (which starts as ours), in ours' coordinates.
    struct action {
      std::size_t at, len;         // replace [at, at + len) of ours...
      std::size_t sf, sl;          // ...by theirs[sf, sl)
      bool elementwise;            // or set the listed elements
      std::vector<std::pair<std::size_t, std::size_t>> sets;  // (ours index, theirs index)
    };
    std::vector<action> actions;
    std::ptrdiff_t d_ours = 0, d_theirs = 0;  // length change of each side before the cursor
    std::ptrdiff_t applied = 0;               // length change of theirs' hunks applied so far
    auto ours_at = [&](std::size_t b) { return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(b) + d_ours); };
    for (std::size_t i = 0; i < hs.size();) {
      // A cluster: hunks linked by overlaps between the two sides.
      std::size_t j = i + 1;
      bool both = false;
      for (; j < hs.size(); ++j) {
        bool linked = false;
        for (std::size_t k = i; k < j && !linked; ++k) {
          linked = hs[k].ours != hs[j].ours && overlap(hs[k], hs[j]);
        }
        if (!linked) break;
        both = true;
      }
      std::size_t cf = hs[i].bf, cl = hs[i].bl;
      std::ptrdiff_t c_ours = 0, c_theirs = 0;
      bool all_mod = true;
      for (std::size_t k = i; k < j; ++k) {
        cf = std::min(cf, hs[k].bf);
        cl = std::max(cl, hs[k].bl);
        const std::ptrdiff_t delta = static_cast<std::ptrdiff_t>(hs[k].sl - hs[k].sf) -
                                     static_cast<std::ptrdiff_t>(hs[k].bl - hs[k].bf);
        (hs[k].ours ? c_ours : c_theirs) += delta;
        all_mod = all_mod && hs[k].mod;
      }
      const std::size_t o_first = ours_at(cf);
      const std::size_t merged_first = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(o_first) + applied);
      if (!both) {
        for (std::size_t k = i; k < j; ++k) {
          if (hs[k].ours) continue;
          const hunk& h = hs[k];
          action a{ours_at(h.bf), h.bl - h.bf, h.sf, h.sl, false, {}};
          actions.push_back(std::move(a));
        }
        applied += c_theirs;
      } else if (all_mod) {
        // Equal lengths on both sides: merge element by element over [cf, cl).
        action a{o_first, 0, 0, 0, true, {}};
        std::size_t ko = i, kt = i;
        for (std::size_t b = cf; b < cl; ++b) {
          auto in_side = [&](bool side_ours, std::size_t& k) -> const hunk* {
            for (; k < j; ++k) {
              if (hs[k].ours != side_ours) continue;
              if (hs[k].bl <= b) continue;
              return hs[k].bf <= b ? &hs[k] : nullptr;
            }
            return nullptr;
          };
          const hunk* ho = in_side(true, ko);
          const hunk* ht = in_side(false, kt);
          if (ht == nullptr) continue;  // ours' value (changed or not) stays
          const std::size_t ti = ht->sf + (b - ht->bf);
          const std::size_t oi = ours_at(b);
          if (ho == nullptr) {
            a.sets.emplace_back(oi, ti);
          } else if (mode == merge_mode::kValues && ours[oi] == theirs[ti]) {
            continue;
          } else if (side == merge_side::kTheirs) {
            a.sets.emplace_back(oi, ti);
          } else if (!side) {
            const std::size_t mi = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(oi) + applied);
            conflicts.push_back({mi, at(base, b), ours[oi], theirs[ti]});
          }
        }
        actions.push_back(std::move(a));
      } else {
        // Structural: identical changes agree (kValues); otherwise a side decides.
        bool same = false;
        if (mode == merge_mode::kValues && j - i == 2 && hs[i].bf == hs[i + 1].bf &&
            hs[i].bl == hs[i + 1].bl) {
          const hunk& x = hs[i];
          const hunk& y = hs[i + 1];
          const vec& vx = x.ours ? ours : theirs;
          const vec& vy = x.ours ? theirs : ours;
          same = x.sl - x.sf == y.sl - y.sf && vx.slice(x.sf, x.sl) == vy.slice(y.sf, y.sl);
        }
        if (!same) {
          if (side == merge_side::kTheirs) {
            const std::size_t o_len = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(cl - cf) + c_ours);
            const std::size_t t_first = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(cf) + d_theirs);
            const std::size_t t_len = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(cl - cf) + c_theirs);
            actions.push_back({o_first, o_len, t_first, t_first + t_len, false, {}});
            applied += c_theirs - c_ours;
          } else if (!side) {
            conflicts.push_back({merged_first, at(base, cf), std::nullopt, std::nullopt});
          }
        }
      }
      d_ours += c_ours;
      d_theirs += c_theirs;
      i = j;
    }
    // Apply back to front, so that each action's position in ours is still valid.
    auto out = ours.transient();
    for (auto it = actions.rbegin(); it != actions.rend(); ++it) {
      const action& a = *it;
      if (a.elementwise) {
        for (const auto& [oi, ti] : a.sets) out.set(oi, theirs[ti]);
        continue;
      }
      const std::size_t n_new = a.sl - a.sf;
      const std::size_t n_set = std::min(a.len, n_new);
      for (std::size_t k = 0; k < n_set; ++k) out.set(a.at + k, theirs[a.sf + k]);
      if (a.len > n_new) out.erase(a.at + n_set, a.at + a.len);
      if (n_new > a.len) out.insert(a.at + n_set, theirs.slice(a.sf + n_set, a.sl));
    }
    return std::move(out).persistent();
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
