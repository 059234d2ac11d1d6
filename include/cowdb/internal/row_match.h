// Internal: pairs the rows of two trees by identity (diff.h, merge.h). Users never include this
// header.
//
// Two versions related by edits share most of their nodes; tree_diff aligns them by those
// nodes and hands over the unmatched "regions" (changed chunks). Everything outside the regions
// is the same rows in the same order. Inside, rows are paired by their ids (row_ids.h): the id
// runs of every unmatched leaf of `a` are indexed by id, and each id run of `b` is looked up in
// that index, so the join costs O(runs log runs), not O(rows). A row of `b` whose id is not in
// `a`'s regions was inserted; a row of `a` not found in `b` was erased; paired rows are "kept"
// pieces, possibly at other positions (moved) and with other values (the caller compares them).
//
// Moves. The kept pieces, in b order, are "in place" when their a positions rise: the largest
// such set by rows (a weighted longest increasing subsequence, O(p log p) for p pieces, skipped
// when nothing moved) is kept in place and the other pieces are "moved", so a diff names the
// fewest moved rows that explain the new order.
//
// Gaps. Each inserted span and moved piece records the a position of the next in-place row
// after it in b (a.size() at the end): the place in `a` where it was put, which merge uses to
// carry an insert over to the other side. Each erased span records the b position where its
// rows were (the next in-place row after it in a, b.size() at the end).
//
// Unrelated versions. When the two versions have no row in common (built separately), the
// result says so (related = false): every row of `a` erased, every row of `b` inserted. diff
// then compares by value instead.
//
// A version holding the same rows twice (v + v): each row of `a` is paired at most once; the
// second occurrence in `b` counts as inserted.
//
// Cost: O(changed leaves + runs log runs) for related versions plus the tree_diff walk; no
// element is read here (values are compared by the caller through the piece pointers).
#ifndef COWDB_INTERNAL_ROW_MATCH_H_
#define COWDB_INTERNAL_ROW_MATCH_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cowdb/internal/rbtree.h"
#include "cowdb/internal/row_ids.h"
#include "cowdb/internal/tree_diff.h"

namespace cowdb::internal {

template <class T>
struct row_matching {
  // Rows a[a, a + len) are rows b[b, b + len). `shared`: both are in the same nodes (equal
  // values); otherwise pa/pb point at the values (contiguous: a piece never crosses a leaf).
  struct piece {
    std::size_t a, b, len;
    const T* pa = nullptr;
    const T* pb = nullptr;
    bool shared = false;
    bool moved = false;
    std::size_t gap = 0;  // moved pieces: a position of the next in-place row after it in b
  };
  // Inserted: b rows [first, first + len), put before a row `at` (a position).
  // Erased: a rows [first, first + len), which were before b row `at` (b position).
  struct span {
    std::size_t first, len, at;
  };

  bool related = true;
  std::vector<piece> kept;      // in b order
  std::vector<span> inserted;   // in b order
  std::vector<span> erased;     // in a order
  std::vector<std::size_t> in_place;  // indices into kept of the in-place pieces (a and b rising)
  std::vector<std::size_t> by_a;      // indices into kept of all pieces, by a (when rows moved)
  std::size_t moved_rows = 0;

  // The kept piece holding a row of `a`, or nullptr if the row was erased. O(log pieces).
  const piece* find_a(std::size_t a_pos) const noexcept {
    const std::vector<std::size_t>& idx = moved_rows == 0 ? in_place : by_a;
    auto it = std::upper_bound(idx.begin(), idx.end(), a_pos,
                               [this](std::size_t x, std::size_t k) { return x < kept[k].a; });
    if (it == idx.begin()) return nullptr;
    const piece& p = kept[*(it - 1)];
    return a_pos < p.a + p.len ? &p : nullptr;
  }
  // The b position of the first in-place row whose a position is >= a_pos (b size if none).
  std::size_t b_of_next_in_place(std::size_t a_pos, std::size_t b_size) const noexcept {
    auto it = std::upper_bound(in_place.begin(), in_place.end(), a_pos,
                               [this](std::size_t x, std::size_t k) { return x < kept[k].a + kept[k].len; });
    if (it == in_place.end()) return b_size;
    const piece& p = kept[*it];
    return a_pos <= p.a ? p.b : p.b + (a_pos - p.a);
  }
};

template <class T, std::size_t Cap, std::size_t F>
struct row_matcher {
  using tree = rbtree<T, Cap, F>;
  using walker = tree_diff<T, Cap, F>;
  using result = row_matching<T>;
  using piece = typename result::piece;
  using span = typename result::span;

  // Pairs the rows of a and b. See the header comment.
  static result match(const tree_rep& a, const tree_rep& b, walk_stats& st) {
    result out;
    if (a.size == 0 || b.size == 0 || (a.root == b.root && a.size == b.size)) {
      if (a.size > 0 && b.size > 0) out.kept.push_back({0, 0, a.size, nullptr, nullptr, true});
      if (a.size > 0 && b.size == 0) out.erased.push_back({0, a.size, 0});
      if (b.size > 0 && a.size == 0) out.inserted.push_back({0, b.size, 0});
      finish(out, a.size, b.size);
      return out;
    }
    std::vector<seg> as, bs;
    std::size_t pa = 0, pb = 0;  // end of the last region on each side
    walker::regions(a, b, st, [&](const typename walker::region& g) {
      if (g.a_lo > pa) out.kept.push_back({pa, pb, g.a_lo - pa, nullptr, nullptr, true});
      for (const auto& x : g.a) add_segs(x, as);
      for (const auto& y : g.b) add_segs(y, bs);
      pa = g.a_hi;
      pb = g.b_hi;
      return true;
    });
    if (pa < a.size) out.kept.push_back({pa, pb, a.size - pa, nullptr, nullptr, true});
    join(as, bs, out);
    if (out.kept.empty()) {  // no row in common: everything erased and inserted
      out = result{};
      out.related = false;
      out.erased.push_back({0, a.size, b.size});
      out.inserted.push_back({0, b.size, a.size});
      return out;
    }
    finish(out, a.size, b.size);
    return out;
  }

 private:
  // A run of rows with consecutive ids inside one leaf: rows [pos, pos + len) of the tree.
  struct seg {
    row_id_t id;
    std::size_t len, pos;
    const T* data;
  };

  static void add_segs(const typename walker::item& x, std::vector<seg>& out) {
    std::size_t pos = x.pos;
    auto visit = [&](const typename tree::leaf* l) {
      const T* d = l->data();
      l->ids.for_each_run(0, l->count, [&](std::size_t k, row_id_t id, std::size_t n) {
        out.push_back({id, n, pos + k, d + k});
      });
      pos += l->count;
    };
    tree::for_each_leaf(x.node, x.level, visit);
  }

  // Pairs the segments of b with those of a by id; fills out.kept (region pieces, appended and
  // then everything sorted by b), out.inserted and out.erased.
  static void join(const std::vector<seg>& as, const std::vector<seg>& bs, result& out) {
    std::vector<std::size_t> by_id(as.size());
    for (std::size_t k = 0; k < as.size(); ++k) by_id[k] = k;
    std::sort(by_id.begin(), by_id.end(),
              [&as](std::size_t x, std::size_t y) { return as[x].id < as[y].id; });
    std::vector<piece> found;
    auto insert_span = [&out](std::size_t b, std::size_t n) {
      if (!out.inserted.empty() && out.inserted.back().first + out.inserted.back().len == b) {
        out.inserted.back().len += n;
      } else {
        out.inserted.push_back({b, n, 0});
      }
    };
    for (const seg& s : bs) {
      for (std::size_t off = 0; off < s.len;) {
        const row_id_t x = s.id + off;
        auto it = std::upper_bound(by_id.begin(), by_id.end(), x,
                                   [&as](row_id_t v, std::size_t k) { return v < as[k].id; });
        if (it != by_id.begin()) {
          const seg& t = as[*(it - 1)];
          if (x - t.id < t.len) {
            const std::size_t m = std::min(s.len - off, t.len - (x - t.id));
            const std::size_t ta = x - t.id;
            found.push_back({t.pos + ta, s.pos + off, m, t.data + ta, s.data + off, false});
            off += m;
            continue;
          }
        }
        std::size_t m = s.len - off;
        if (it != by_id.end()) m = std::min<std::size_t>(m, as[*it].id - x);
        insert_span(s.pos + off, m);
        off += m;
      }
    }
    drop_duplicates(found, out);
    // Erased: the rows of a's segments that no piece took, in a order.
    std::vector<std::size_t> by_a(found.size());
    for (std::size_t k = 0; k < found.size(); ++k) by_a[k] = k;
    std::sort(by_a.begin(), by_a.end(),
              [&found](std::size_t x, std::size_t y) { return found[x].a < found[y].a; });
    std::size_t next = 0;  // into by_a
    for (const seg& t : as) {
      std::size_t at = t.pos;
      const std::size_t end = t.pos + t.len;
      while (at < end) {
        while (next < by_a.size() && found[by_a[next]].a + found[by_a[next]].len <= at) ++next;
        std::size_t stop = end;
        if (next < by_a.size() && found[by_a[next]].a < end) {
          const piece& p = found[by_a[next]];
          if (p.a <= at) {
            at = std::min(end, p.a + p.len);
            continue;
          }
          stop = p.a;
        }
        if (!out.erased.empty() && out.erased.back().first + out.erased.back().len == at) {
          out.erased.back().len += stop - at;
        } else {
          out.erased.push_back({at, stop - at, 0});
        }
        at = stop;
      }
    }
    out.kept.insert(out.kept.end(), found.begin(), found.end());
    std::sort(out.kept.begin(), out.kept.end(),
              [](const piece& x, const piece& y) { return x.b < y.b; });
  }

  // A row of a paired twice (b holds it twice): the later pairing, in b order, becomes inserted.
  static void drop_duplicates(std::vector<piece>& found, result& out) {
    bool disjoint = true;
    for (std::size_t k = 1; k < found.size() && disjoint; ++k) {
      disjoint = found[k - 1].a + found[k - 1].len <= found[k].a;
    }
    if (disjoint) return;  // in a order and not overlapping: each a row at most once
    std::vector<std::size_t> order(found.size());
    for (std::size_t k = 0; k < found.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&found](std::size_t x, std::size_t y) { return found[x].a < found[y].a; });
    std::size_t covered = 0;
    bool extra = false;
    for (std::size_t k : order) {
      piece& p = found[k];
      if (p.a >= covered) {
        covered = p.a + p.len;
        continue;
      }
      const std::size_t dup = std::min(covered, p.a + p.len) - p.a;
      out.inserted.push_back({p.b, dup, 0});
      extra = true;
      p.a += dup;
      p.b += dup;
      p.pa += dup;
      p.pb += dup;
      p.len -= dup;
      covered = std::max(covered, p.a + p.len);
    }
    std::erase_if(found, [](const piece& p) { return p.len == 0; });
    if (!extra) return;
    std::sort(out.inserted.begin(), out.inserted.end(),
              [](const span& x, const span& y) { return x.first < y.first; });
    std::vector<span> merged;
    for (const span& s : out.inserted) {
      if (!merged.empty() && merged.back().first + merged.back().len == s.first) {
        merged.back().len += s.len;
      } else {
        merged.push_back(s);
      }
    }
    out.inserted = std::move(merged);
  }

  // Marks moved pieces, lists the in-place ones, and sets the gaps.
  static void finish(result& out, std::size_t na, std::size_t nb) {
    std::vector<piece>& kept = out.kept;
    bool rising = true;
    for (std::size_t k = 1; k < kept.size() && rising; ++k) rising = kept[k - 1].a < kept[k].a;
    if (!rising) mark_moves(kept, out.moved_rows);
    for (std::size_t k = 0; k < kept.size(); ++k) {
      if (!kept[k].moved) out.in_place.push_back(k);
    }
    if (out.moved_rows > 0) {
      out.by_a.resize(kept.size());
      for (std::size_t k = 0; k < kept.size(); ++k) out.by_a[k] = k;
      std::sort(out.by_a.begin(), out.by_a.end(),
                [&kept](std::size_t x, std::size_t y) { return kept[x].a < kept[y].a; });
    }
    // Gaps of inserted spans and moved pieces: the next in-place row in b order.
    std::size_t ip = 0;
    auto gap_after = [&](std::size_t b_pos) {
      while (ip < out.in_place.size() && kept[out.in_place[ip]].b < b_pos) ++ip;
      return ip < out.in_place.size() ? kept[out.in_place[ip]].a : na;
    };
    std::size_t ki = 0;
    for (span& s : out.inserted) {
      for (; ki < kept.size() && kept[ki].b < s.first; ++ki) {
        if (kept[ki].moved) kept[ki].gap = gap_after(kept[ki].b);
      }
      s.at = gap_after(s.first);
    }
    for (; ki < kept.size(); ++ki) {
      if (kept[ki].moved) kept[ki].gap = gap_after(kept[ki].b);
    }
    for (span& s : out.erased) s.at = out.b_of_next_in_place(s.first + s.len, nb);
  }

  // The heaviest subsequence of pieces (by rows) whose a positions rise in b order stays in
  // place; the rest are moved. Fenwick tree over the ranks of a, O(p log p).
  static void mark_moves(std::vector<piece>& kept, std::size_t& moved_rows) {
    const std::size_t p = kept.size();
    std::vector<std::size_t> rank(p);
    {
      std::vector<std::size_t> order(p);
      for (std::size_t k = 0; k < p; ++k) order[k] = k;
      std::sort(order.begin(), order.end(),
                [&kept](std::size_t x, std::size_t y) { return kept[x].a < kept[y].a; });
      for (std::size_t r = 0; r < p; ++r) rank[order[r]] = r;
    }
    struct best {
      std::size_t rows = 0;
      std::size_t last = SIZE_MAX;  // piece index ending the best chain
    };
    std::vector<best> fen(p + 1);
    std::vector<std::size_t> prev(p, SIZE_MAX);
    auto better = [](const best& x, const best& y) { return y.rows > x.rows ? y : x; };
    for (std::size_t k = 0; k < p; ++k) {
      best b;
      for (std::size_t i = rank[k]; i > 0; i -= i & (~i + 1)) b = better(b, fen[i]);  // ranks < rank[k]
      prev[k] = b.last;
      const best mine{b.rows + kept[k].len, k};
      for (std::size_t i = rank[k] + 1; i <= p; i += i & (~i + 1)) fen[i] = better(fen[i], mine);
    }
    best top;
    for (std::size_t i = p; i > 0; i -= i & (~i + 1)) top = better(top, fen[i]);
    for (piece& q : kept) q.moved = true;
    for (std::size_t k = top.last; k != SIZE_MAX; k = prev[k]) kept[k].moved = false;
    moved_rows = 0;
    for (const piece& q : kept) moved_rows += q.moved ? q.len : 0;
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_ROW_MATCH_H_
