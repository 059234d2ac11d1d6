// Internal: aligning two trees by their shared nodes (diff.h, merge.h, pvec::operator==).
//
// Versions derived from one another share most of their nodes, at the same positions (after
// set, push_back, take) or shifted (after insert, erase, drop, concat). The alignment walks both
// trees top down, one level at a time, as two sequences of subtrees: subtrees that are the same
// node on both sides are matched (in order) and skipped without being read; the unmatched ones
// between two matches form a "region" and are replaced by their children, until a region is
// made of leaves only, or is empty on one side. Each final region is reported, in order, with
// the element ranges it covers in both trees; everything outside the regions is shared.
// Subtrees that pair up by position (same index, size and child layout, as after edits in place)
// are walked child by child instead, with no lists built: the common case costs one pointer
// comparison per child of each changed node and no allocation beyond the reported regions.
//
// Cost: O((changed nodes) x fanout) node visits, plus the regions' elements if the caller reads
// them; O(1) for identical versions. Trees that share nothing give one region of all leaves.
#ifndef COWDB_INTERNAL_TREE_DIFF_H_
#define COWDB_INTERNAL_TREE_DIFF_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cowdb/internal/rbtree.h"
#include "cowdb/stats.h"

namespace cowdb::internal {

// What a walk looked at; lets tests prove that unchanged chunks were never read.
using walk_stats = cowdb::diff_stats;  // cowdb/stats.h

template <class T, std::size_t Cap, std::size_t F>
struct tree_diff {
  using tree = rbtree<T, Cap, F>;
  using leaf = typename tree::leaf;

  // A subtree of one side: node, level, first element index, element count.
  struct item {
    const node_base* node;
    unsigned level;
    std::size_t pos;
    std::size_t size;
  };
  // Unmatched stretches of both trees: a[a_lo, a_hi) against b[b_lo, b_hi).
  struct region {
    std::size_t a_lo = 0, a_hi = 0, b_lo = 0, b_hi = 0;
    std::vector<item> a, b;
    bool final = false;
  };

  // Calls on_region(const region&) -> bool for each final region in order, while it returns true.
  // A final region has at least one side non-empty; its items are mostly leaves (see lopsided).
  template <class OnRegion>
  static void regions(const tree_rep& a, const tree_rep& b, walk_stats& st, OnRegion&& on_region) {
    if (a.root == b.root && a.size == b.size) return;
    scratch sc(st);
    if (a.size > 0 && b.size > 0) {
      const item ra{a.root, a.depth, 0, a.size}, rb{b.root, b.depth, 0, b.size};
      if (aligned(ra, rb)) {  // the common case (edits in place): no region lists at all
        if (walk_aligned(ra, rb, sc, on_region)) flush(sc, on_region);
        return;
      }
    }
    region r0;
    r0.a_hi = a.size;
    r0.b_hi = b.size;
    if (a.size > 0) r0.a.push_back({a.root, a.depth, 0, a.size});
    if (b.size > 0) r0.b.push_back({b.root, b.depth, 0, b.size});
    align(std::move(r0), sc, on_region);
  }

 private:
  // Buffers reused across the steps of one alignment.
  struct scratch {
    explicit scratch(walk_stats& s) noexcept : st(s) {}
    walk_stats& st;
    std::vector<std::pair<std::size_t, std::size_t>> matches, banned;
    std::unordered_map<const node_base*, std::size_t> index;
    std::vector<region> subs;
    region run;  // the leaf pairs gathered by walk_aligned, not yet reported
  };

  // Two inner subtrees at the same index, of the same level and size, whose children cover the
  // same index ranges: their children pair up by position (as after set, push_back or take).
  static bool aligned(const item& x, const item& y) noexcept {
    if (x.level == 0 || x.level != y.level || x.pos != y.pos || x.size != y.size) return false;
    const auto* p = tree::as_inner(x.node);
    const auto* q = tree::as_inner(y.node);
    if (p->count != q->count) return false;
    if (!p->relaxed && !q->relaxed) return true;  // same size and count: the same radix layout
    for (std::uint32_t k = 0; k + 1 < p->count; ++k) {
      if (tree::child_size(p, x.level, k, x.size) != tree::child_size(q, y.level, k, y.size)) {
        return false;
      }
    }
    return true;
  }

  // Reports the gathered leaf pairs, if any, as one final region. False: on_region said stop.
  template <class OnRegion>
  static bool flush(scratch& sc, OnRegion& on_region) {
    region& g = sc.run;
    if (g.a.empty()) return true;
    g.final = true;
    sc.st.leaf_pairs += g.a.size();
    const bool go = on_region(std::as_const(g));
    g.a.clear();
    g.b.clear();
    return go;
  }

  // Aligns x and y (aligned(x, y)) child by child without building region lists: a child shared
  // by both is skipped, differing leaves at consecutive positions are gathered into one final
  // region, differing aligned inner children are walked the same way, and any other pair goes
  // through the general alignment. O(F) per differing inner pair and no allocation once the
  // buffers have grown. Children pair by position only, so for trees edited in place the regions
  // are those the general alignment finds; a node held at two positions is not looked for
  // elsewhere (either way the regions cover every difference).
  template <class OnRegion>
  static bool walk_aligned(const item& x, const item& y, scratch& sc, OnRegion& on_region) {
    ++sc.st.inner_pairs;
    const auto* p = tree::as_inner(x.node);
    const auto* q = tree::as_inner(y.node);
    std::size_t pos = x.pos;
    for (std::uint32_t k = 0; k < p->count; ++k) {
      const std::size_t cs = tree::child_size(p, x.level, k, x.size);
      const item cx{p->child[k], x.level - 1, pos, cs};
      const item cy{q->child[k], y.level - 1, pos, cs};
      pos += cs;
      if (cx.node == cy.node) {
        if (!flush(sc, on_region)) return false;
      } else if (cx.level == 0) {
        region& g = sc.run;
        if (g.a.empty()) g.a_lo = g.b_lo = cx.pos;
        g.a_hi = g.b_hi = cx.pos + cs;
        g.a.push_back(cx);
        g.b.push_back(cy);
      } else if (aligned(cx, cy)) {
        if (!walk_aligned(cx, cy, sc, on_region)) return false;
      } else {
        if (!flush(sc, on_region)) return false;
        region g;
        g.a_lo = g.b_lo = cx.pos;
        g.a_hi = g.b_hi = cx.pos + cs;
        g.a.push_back(cx);
        g.b.push_back(cy);
        if (!align(std::move(g), sc, on_region)) return false;
      }
    }
    return true;
  }

  // Aligns the two sides of r (not final), reporting its final regions in order. False:
  // on_region said stop.
  template <class OnRegion>
  static bool align(region r0, scratch& sc, OnRegion& on_region) {
    walk_stats& st = sc.st;
    auto& matches = sc.matches;
    auto& banned = sc.banned;
    auto& index = sc.index;
    auto& subs = sc.subs;
    std::vector<region> stack;
    stack.push_back(std::move(r0));
    while (!stack.empty()) {
      region r = std::move(stack.back());
      stack.pop_back();
      if (r.final) {
        if (!on_region(std::as_const(r))) return false;
        continue;
      }
      if (r.a.size() == 1 && r.b.size() == 1 && aligned(r.a[0], r.b[0])) {
        if (!walk_aligned(r.a[0], r.b[0], sc, on_region) || !flush(sc, on_region)) return false;
        continue;
      }
      match(r, matches, index, banned);
      // The stretches between matches, in order.
      subs.clear();
      std::size_t ia = 0, ib = 0;
      std::size_t pa = r.a_lo, pb = r.b_lo;
      auto cut = [&](std::size_t ea, std::size_t eb, std::size_t qa, std::size_t qb) {
        if (ea > ia || eb > ib) {
          region s;
          s.a_lo = pa;
          s.a_hi = qa;
          s.b_lo = pb;
          s.b_hi = qb;
          s.a.assign(r.a.begin() + static_cast<std::ptrdiff_t>(ia),
                     r.a.begin() + static_cast<std::ptrdiff_t>(ea));
          s.b.assign(r.b.begin() + static_cast<std::ptrdiff_t>(ib),
                     r.b.begin() + static_cast<std::ptrdiff_t>(eb));
          subs.push_back(std::move(s));
        }
      };
      for (const auto& [i, j] : matches) {
        cut(i, j, r.a[i].pos, r.b[j].pos);
        ia = i + 1;
        ib = j + 1;
        pa = r.a[i].pos + r.a[i].size;
        pb = r.b[j].pos + r.b[j].size;
      }
      cut(r.a.size(), r.b.size(), r.a_hi, r.b_hi);
      for (auto it = subs.rbegin(); it != subs.rend(); ++it) {
        region& s = *it;
        unsigned top = 0, top_a = 0, top_b = 0;
        for (const item& x : s.a) top_a = std::max(top_a, x.level);
        for (const item& x : s.b) top_b = std::max(top_b, x.level);
        top = std::max(top_a, top_b);
        const std::size_t na = s.a_hi - s.a_lo, nb = s.b_hi - s.b_lo;
        if (s.a.empty() || s.b.empty() || top == 0) {
          s.final = true;
          if (!s.a.empty() && !s.b.empty()) st.leaf_pairs += std::max(s.a.size(), s.b.size());
        } else if (nb > 2 * (na + 2 * Cap) || na > 2 * (nb + 2 * Cap)) {
          // Lopsided: one side much larger (a block appended, inserted, cut off). Opening all of
          // the large side would enumerate the whole block, so the small side is opened down to
          // leaves, and the large side only near its two ends, where the small side's nodes can
          // be found again (a shared prefix or suffix). What stays unopened is added or removed
          // content, reported without being read.
          const bool a_small = na < nb;
          std::vector<item>& small = a_small ? s.a : s.b;
          std::vector<item>& big = a_small ? s.b : s.a;
          const unsigned top_small = a_small ? top_a : top_b;
          ++st.inner_pairs;
          if (top_small > 0) {
            expand(small, top_small);
          } else {
            const std::size_t lo = a_small ? s.b_lo : s.a_lo, hi = a_small ? s.b_hi : s.a_hi;
            const std::size_t w = std::min(a_small ? na : nb, hi - lo) + 2 * Cap;
            if (!expand_ends(big, lo + w, hi - w)) {
              s.final = true;
              st.leaf_pairs += small.size();
            }
          }
        } else {
          ++st.inner_pairs;
          expand(s.a, top);
          expand(s.b, top);
        }
        stack.push_back(std::move(s));
      }
    }
    return true;
  }

 public:
  // Pairs of equal nodes, in order on both sides (greedy: each item of a takes the first equal
  // item of b after the previous match), then without "moved leaves" (see unmove).
  static void match(const region& r, std::vector<std::pair<std::size_t, std::size_t>>& out,
                    std::unordered_map<const node_base*, std::size_t>& index,
                    std::vector<std::pair<std::size_t, std::size_t>>& banned) {
    banned.clear();
    // Each round bans at least one pair; a few rounds settle every case seen in practice (a
    // version holding one chunk twice, or chunks in swapped order), and whatever pairing is
    // left after the last round is still a correct alignment, only not the shortest.
    for (int round = 0; round < 4; ++round) {
      greedy(r, out, index, banned);
      if (!unmove(r, out, banned)) return;
    }
    greedy(r, out, index, banned);
  }

  static bool is_banned(const std::vector<std::pair<std::size_t, std::size_t>>& banned,
                        std::size_t i, std::size_t j) noexcept {
    return std::find(banned.begin(), banned.end(), std::pair{i, j}) != banned.end();
  }

  static void greedy(const region& r, std::vector<std::pair<std::size_t, std::size_t>>& out,
                     std::unordered_map<const node_base*, std::size_t>& index,
                     const std::vector<std::pair<std::size_t, std::size_t>>& banned) {
    out.clear();
    if (r.a.empty() || r.b.empty()) return;
    std::size_t next = 0;
    auto same = [&](std::size_t i, std::size_t j) {
      return r.a[i].node == r.b[j].node && r.a[i].size == r.b[j].size &&
             (banned.empty() || !is_banned(banned, i, j));
    };
    if (r.a.size() <= 4 * F || r.b.size() <= 4 * F) {  // scans stay short: most items match nearby
      for (std::size_t i = 0; i < r.a.size() && next < r.b.size(); ++i) {
        for (std::size_t j = next; j < r.b.size(); ++j) {
          if (same(i, j)) {
            out.emplace_back(i, j);
            next = j + 1;
            break;
          }
        }
      }
      return;
    }
    index.clear();
    for (std::size_t j = r.b.size(); j-- > 0;) index[r.b[j].node] = j;
    for (std::size_t i = 0; i < r.a.size() && next < r.b.size(); ++i) {
      auto it = index.find(r.a[i].node);
      if (it == index.end()) continue;
      std::size_t j = std::max(it->second, next);
      // The same node again later in b (rare), or a banned pair: look on linearly.
      while (j < r.b.size() && !same(i, j)) ++j;
      if (j == r.b.size()) continue;
      out.emplace_back(i, j);
      next = j + 1;
    }
  }

  // A "moved leaf": a leaf matched at another offset with content only on one side before it and
  // only on the other side after it, the two of equal length (b = [X.., L, ..] against
  // a = [.., L, X..]: v + v against w + v where w holds v's elements, or two chunks swapped).
  // Such a pair reports the same elements as inserted on one side and erased on the other,
  // although an alignment without it may find them equal in place. Bans each such pair (the next
  // round pairs without it) and returns whether it banned any. Only leaves: dropping a pair of
  // inner nodes could open a large subtree, and a leaf costs at most Cap comparisons.
  static bool unmove(const region& r, const std::vector<std::pair<std::size_t, std::size_t>>& m,
                     std::vector<std::pair<std::size_t, std::size_t>>& banned) {
    bool any = false;
    for (std::size_t k = 0; k < m.size(); ++k) {
      const auto [i, j] = m[k];
      if (r.a[i].level != 0) continue;
      // Unmatched items and elements before and after the pair, up to the neighbouring pairs.
      const std::size_t ia0 = k == 0 ? 0 : m[k - 1].first + 1;
      const std::size_t ib0 = k == 0 ? 0 : m[k - 1].second + 1;
      const std::size_t ia1 = k + 1 == m.size() ? r.a.size() : m[k + 1].first;
      const std::size_t ib1 = k + 1 == m.size() ? r.b.size() : m[k + 1].second;
      const std::size_t pa0 = k == 0 ? r.a_lo : r.a[ia0 - 1].pos + r.a[ia0 - 1].size;
      const std::size_t pb0 = k == 0 ? r.b_lo : r.b[ib0 - 1].pos + r.b[ib0 - 1].size;
      const std::size_t pa1 = k + 1 == m.size() ? r.a_hi : r.a[ia1].pos;
      const std::size_t pb1 = k + 1 == m.size() ? r.b_hi : r.b[ib1].pos;
      const std::size_t a_before = r.a[i].pos - pa0, b_before = r.b[j].pos - pb0;
      const std::size_t a_after = pa1 - (r.a[i].pos + r.a[i].size);
      const std::size_t b_after = pb1 - (r.b[j].pos + r.b[j].size);
      const bool moved = (a_before == 0 && b_after == 0 && b_before > 0 && b_before == a_after) ||
                         (b_before == 0 && a_after == 0 && a_before > 0 && a_before == b_after);
      if (moved) {
        banned.emplace_back(i, j);
        any = true;
      }
    }
    return any;
  }

  // Replaces each item for which open(item) holds (an inner node) by its children, in order;
  // returns whether any was replaced.
  template <class Open>
  static bool open_items(std::vector<item>& v, Open&& open) {
    std::vector<item> out;
    out.reserve(v.size() * 2);
    bool any = false;
    for (const item& x : v) {
      if (!open(x)) {
        out.push_back(x);
        continue;
      }
      any = true;
      const auto* in = tree::as_inner(x.node);
      std::size_t pos = x.pos;
      for (std::uint32_t k = 0; k < in->count; ++k) {
        const std::size_t cs = tree::child_size(in, x.level, k, x.size);
        out.push_back({in->child[k], x.level - 1, pos, cs});
        pos += cs;
      }
    }
    v.swap(out);
    return any;
  }

  // Replaces each item of level `top` (> 0) by its children.
  static void expand(std::vector<item>& v, unsigned top) {
    open_items(v, [top](const item& x) { return x.level == top; });
  }

  // Opens the inner items that reach below `head_end` or above `tail_start` (the two ends of the
  // list); returns whether any was opened.
  static bool expand_ends(std::vector<item>& v, std::size_t head_end, std::size_t tail_start) {
    return open_items(v, [=](const item& x) {
      return x.level > 0 && (x.pos < head_end || x.pos + x.size > tail_start);
    });
  }

  // Reads the elements of a list of items in order, or backwards.
  class cursor {
   public:
    explicit cursor(const std::vector<item>& v) noexcept : v_(v) {}
    // Element at offset `off` from the start of the list; fastest for nearby offsets (leaves are
    // read directly, subtrees by a descent).
    const T& at(std::size_t off) noexcept {
      auto [l, i] = leaf_at(off);
      return tree::value_at(l, i);
    }
    // The elements stored contiguously from offset `off` to the end of its leaf (of its run,
    // in a patch): first, count.
    std::pair<const T*, std::size_t> run_from(std::size_t off) noexcept {
      auto [l, i] = leaf_at(off);
      const typename tree::piece p = tree::piece_at(l, i);
      return {p.first + (i - p.slot), static_cast<std::size_t>(p.last - p.first) - (i - p.slot)};
    }
    // The elements stored contiguously from the start of the leaf (of the run, in a patch)
    // holding offset `end - 1` up to `end`: first, count.
    std::pair<const T*, std::size_t> run_before(std::size_t end) noexcept {
      auto [l, i] = leaf_at(end - 1);
      const typename tree::piece p = tree::piece_at(l, i);
      return {p.first, i - p.slot + 1};
    }

   private:
    std::pair<const leaf*, std::size_t> leaf_at(std::size_t off) noexcept {
      while (off >= start_ + v_[k_].size) start_ += v_[k_++].size;
      while (off < start_) start_ -= v_[--k_].size;
      std::size_t i = off - start_;
      const item& x = v_[k_];
      if (x.level == 0) return {tree::as_leaf(x.node), i};
      const leaf* l = tree::leaf_for(x.node, x.level, i);
      return {l, i};
    }

    const std::vector<item>& v_;
    std::size_t k_ = 0;
    std::size_t start_ = 0;
  };

  // The first offset k in [lo, hi) where a[k] == b[k] is `!equal_runs` (the end of the run of
  // equal, or of unequal, elements starting at lo); hi if none. Compares leaf runs in bulk.
  static std::size_t scan(cursor& ca, cursor& cb, std::size_t lo, std::size_t hi, bool equal_runs) {
    std::size_t k = lo;
    while (k < hi) {
      const auto [pa, la] = ca.run_from(k);
      const auto [pb, lb] = cb.run_from(k);
      const std::size_t len = std::min({la, lb, hi - k});
      auto same = [](const T& x, const T& y) { return x == y; };
      auto differ = [](const T& x, const T& y) { return !(x == y); };
      const T* stop = equal_runs ? std::mismatch(pa, pa + len, pb, same).first
                                 : std::mismatch(pa, pa + len, pb, differ).first;
      k += static_cast<std::size_t>(stop - pa);
      if (stop != pa + len) break;
    }
    return k;
  }

  // The length of the common suffix of a[0, na) and b[0, nb), at most `max`.
  static std::size_t common_suffix(cursor& ca, std::size_t na, cursor& cb, std::size_t nb,
                                   std::size_t max) {
    std::size_t q = 0;
    while (q < max) {
      const auto [pa, la] = ca.run_before(na - q);
      const auto [pb, lb] = cb.run_before(nb - q);
      const std::size_t len = std::min({la, lb, max - q});
      const auto ra = std::make_reverse_iterator(pa + la);
      const auto rb = std::make_reverse_iterator(pb + lb);
      const auto stop =
          std::mismatch(ra, ra + static_cast<std::ptrdiff_t>(len), rb, [](const T& x, const T& y) {
            return x == y;
          }).first;
      q += static_cast<std::size_t>(stop - ra);
      if (stop != ra + static_cast<std::ptrdiff_t>(len)) break;
    }
    return q;
  }

  // Calls on_run(first, last) (offsets into both sides) for each maximal run of positions in
  // [lo, hi) where the two leaf lists differ.
  template <class OnRun>
  static void runs(const region& g, std::size_t lo, std::size_t hi, walk_stats& st,
                   OnRun&& on_run) {
    cursor ca(g.a), cb(g.b);
    st.elements_compared += hi - lo;
    std::size_t k = lo;
    while (k < hi) {
      k = scan(ca, cb, k, hi, true);
      if (k == hi) break;
      const std::size_t first = k;
      k = scan(ca, cb, k, hi, false);
      on_run(first, k);
    }
  }

  // True when b is not positionally aligned with a: some region changes length before the end of
  // both (something was inserted or erased). Reads no elements.
  static bool shifted(const tree_rep& a, const tree_rep& b) {
    walk_stats st;
    bool out = false;
    regions(a, b, st, [&](const region& g) {
      if (g.a_lo != g.b_lo) return !(out = true);
      if (g.a_hi - g.a_lo != g.b_hi - g.b_lo && !(g.a_hi == a.size && g.b_hi == b.size)) {
        return !(out = true);
      }
      return true;
    });
    return out;
  }

  // Calls on_run(first, last) for each maximal run of indices in [lo, hi) where a and b differ,
  // in order. REQUIRES: nothing shifted between a and b (every region starts at the same index on
  // both sides, as after set, push_back, take or transform); hi <= min(a.size, b.size).
  template <class OnRun>
  static void aligned_runs(const tree_rep& a, const tree_rep& b, std::size_t lo, std::size_t hi,
                           walk_stats& st, OnRun&& on_run) {
    if (lo >= hi) return;
    regions(a, b, st, [&](const region& g) {
      if (g.a_lo >= hi) return false;
      if (g.a.empty() || g.b.empty()) return true;
      const std::size_t f = std::max(lo, g.a_lo);
      const std::size_t l = std::min({hi, g.a_hi, g.b_hi});
      if (f < l) {
        runs(g, f - g.a_lo, l - g.a_lo, st,
             [&](std::size_t x, std::size_t y) { on_run(g.a_lo + x, g.a_lo + y); });
      }
      return true;
    });
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_TREE_DIFF_H_
