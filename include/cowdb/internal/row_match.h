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
// Values. Rows paired outside shared nodes are compared as they are paired (while their leaves
// are in cache); the rows whose values differ are listed in `changed`.
//
// Cost: O(changed leaves + compared rows) for related versions when rows kept their order (a's
// segments are met in turn), O(runs log runs) more when rows moved or were inserted, plus the
// tree_diff walk.
#ifndef COWDB_INTERNAL_ROW_MATCH_H_
#define COWDB_INTERNAL_ROW_MATCH_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

#include "cowdb/internal/rbtree.h"
#include "cowdb/internal/row_ids.h"
#include "cowdb/internal/tree_diff.h"

namespace cowdb::internal {

template <class T>
struct row_matching {
  // Rows a[a, a + len) are rows b[b, b + len). `shared`: both are in the same nodes (equal
  // values); otherwise the values were compared (see `changed`). A piece of a region never
  // crosses a leaf on either side.
  struct piece {
    std::size_t a, b, len;
    bool shared = false;
    bool moved = false;
    std::size_t gap = 0;  // moved pieces: a position of the next in-place row after it in b
  };
  // Rows a[a, a + len) are rows b[b, b + len), with different values.
  struct run {
    std::size_t a, b, len;
  };
  // Inserted: b rows [first, first + len), put before a row `at` (a position).
  // Erased: a rows [first, first + len), which were before b row `at` (b position).
  struct span {
    std::size_t first, len, at;
  };

  bool related = true;
  std::vector<piece> kept;            // in b order
  std::vector<run> changed;           // in b order; each inside one piece that is not shared
  std::vector<span> inserted;         // in b order
  std::vector<span> erased;           // in a order
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
    auto it = std::upper_bound(
        in_place.begin(), in_place.end(), a_pos,
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
  using run = typename result::run;

  // Pairs the rows of a and b. See the header comment.
  static result match(const tree_rep& a, const tree_rep& b, walk_stats& st) {
    result out;
    if (a.size == 0 || b.size == 0 || (a.root == b.root && a.size == b.size)) {
      if (a.size > 0 && b.size > 0) out.kept.push_back({0, 0, a.size, true});
      if (a.size > 0 && b.size == 0) out.erased.push_back({0, a.size, 0});
      if (b.size > 0 && a.size == 0) out.inserted.push_back({0, b.size, 0});
      finish(out, a.size, b.size);
      return out;
    }
    // a's region rows as id segments; b's region subtrees, walked once all of a is known; the
    // shared stretches between regions, in b order, merged into kept as b is walked.
    std::vector<seg> as;
    std::vector<typename walker::item> bs;
    std::vector<piece> between;
    std::size_t pa = 0, pb = 0;  // end of the last region on each side
    walker::regions(a, b, st, [&](const typename walker::region& g) {
      if (g.a_lo > pa) between.push_back({pa, pb, g.a_lo - pa, true});
      for (const auto& x : g.a) add_segs(x, as);
      bs.insert(bs.end(), g.b.begin(), g.b.end());
      pa = g.a_hi;
      pb = g.b_hi;
      return true;
    });
    if (pa < a.size) between.push_back({pa, pb, a.size - pa, true});
    join(as, bs, between, st, out);
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
      tree::for_each_id_piece(l, [&](std::size_t k, row_id_t id, std::size_t n, const T* d) {
        out.push_back({id, n, pos + k, d});
      });
      pos += l->count;
    };
    tree::for_each_leaf(x.node, x.level, visit);
  }

  // Finds the segment of `a` holding row id x: first the segments just after the last one found
  // (edits keep most rows in order, so the walk over b usually meets a's segments in turn), then
  // an index of a's segments by id, built on first need. O(1) for rows in order, O(log) else.
  class seg_finder {
   public:
    explicit seg_finder(const std::vector<seg>& as) : as_(as) {}

    // The segment holding x, or nullptr; *next_id: the smallest id of `a` above x (or the max).
    const seg* find(row_id_t x, row_id_t* next_id) {
      for (std::size_t k = at_; k < as_.size() && k < at_ + kLookahead; ++k) {
        if (x - as_[k].id < as_[k].len) {  // unsigned: also false when x < id
          at_ = k;
          return &as_[k];
        }
      }
      if (by_id_.empty()) build();
      auto it = std::upper_bound(by_id_.begin(), by_id_.end(), x,
                                 [this](row_id_t v, std::size_t k) { return v < as_[k].id; });
      *next_id = it == by_id_.end() ? ~row_id_t{0} : as_[*it].id;
      if (it == by_id_.begin()) return nullptr;
      const seg& t = as_[*(it - 1)];
      if (x - t.id >= t.len) return nullptr;
      at_ = static_cast<std::size_t>(&t - as_.data());
      return &t;
    }

   private:
    static constexpr std::size_t kLookahead = 4;
    void build() {
      by_id_.resize(as_.size());
      for (std::size_t k = 0; k < as_.size(); ++k) by_id_[k] = k;
      std::sort(by_id_.begin(), by_id_.end(),
                [this](std::size_t x, std::size_t y) { return as_[x].id < as_[y].id; });
    }
    const std::vector<seg>& as_;
    std::vector<std::size_t> by_id_;
    std::size_t at_ = 0;
  };

  // Pairs the rows of b's region subtrees with a's segments by id; fills out.kept (in b order:
  // the region pieces found, with the `between` pieces merged in), out.inserted and out.erased.
  static void join(const std::vector<seg>& as, const std::vector<typename walker::item>& bs,
                   const std::vector<piece>& between, walk_stats& st, result& out) {
    seg_finder finder(as);
    std::size_t next_between = 0;
    auto insert_span = [&out](std::size_t b, std::size_t n) {
      if (!out.inserted.empty() && out.inserted.back().first + out.inserted.back().len == b) {
        out.inserted.back().len += n;
      } else {
        out.inserted.push_back({b, n, 0});
      }
    };
    // One run of b: rows [pos, pos + len) with ids id, id + 1, ..., values at data.
    auto pair_run = [&](row_id_t id, std::size_t len, std::size_t pos, const T* data) {
      for (std::size_t off = 0; off < len;) {
        const row_id_t x = id + off;
        row_id_t next_id = ~row_id_t{0};
        if (const seg* t = finder.find(x, &next_id)) {
          const std::size_t ta = x - t->id;
          const std::size_t m = std::min(len - off, t->len - ta);
          out.kept.push_back({t->pos + ta, pos + off, m});
          compare(t->data + ta, data + off, out.kept.back(), st, out.changed);
          off += m;
          continue;
        }
        const std::size_t m = std::min<row_id_t>(len - off, next_id - x);
        insert_span(pos + off, m);
        off += m;
      }
    };
    // b's leaves first, to size kept at once: pieces <= b's runs + a's segments + between.
    struct leaf_at {
      const typename tree::leaf* l;
      std::size_t pos;
    };
    std::vector<leaf_at> leaves;
    std::size_t runs = 0;
    for (const auto& y : bs) {
      std::size_t pos = y.pos;
      auto visit = [&](const typename tree::leaf* l) {
        leaves.push_back({l, pos});
        runs += l->ids.run_count();
        pos += l->count;
      };
      tree::for_each_leaf(y.node, y.level, visit);
    }
    out.kept.reserve(runs + as.size() + between.size());
    for (const leaf_at& x : leaves) {
      while (next_between < between.size() && between[next_between].b < x.pos) {
        out.kept.push_back(between[next_between++]);
      }
      tree::for_each_id_piece(x.l, [&](std::size_t k, row_id_t id, std::size_t n, const T* d) {
        pair_run(id, n, x.pos + k, d);
      });
    }
    out.kept.insert(out.kept.end(), between.begin() + static_cast<std::ptrdiff_t>(next_between),
                    between.end());
    drop_duplicates(out.kept, out);
    add_erased(as, out.kept, out);
  }

  // Erased: the rows of a's segments that no piece took, in a order. `found`: every kept piece
  // (those outside the segments are skipped).
  static void add_erased(const std::vector<seg>& as, const std::vector<piece>& found, result& out) {
    // The pieces by a: their own order when it rises (no row moved), else an index.
    bool rising = true;
    for (std::size_t k = 1; k < found.size() && rising; ++k) rising = found[k - 1].a < found[k].a;
    std::vector<std::size_t> order;
    if (!rising) {
      order.resize(found.size());
      for (std::size_t k = 0; k < found.size(); ++k) order[k] = k;
      std::sort(order.begin(), order.end(),
                [&found](std::size_t x, std::size_t y) { return found[x].a < found[y].a; });
    }
    auto by_a = [&](std::size_t k) -> const piece& { return found[rising ? k : order[k]]; };
    out.erased.reserve(found.size() + as.size());  // at most one span per segment and piece
    std::size_t next = 0;                          // the next piece by a
    for (const seg& t : as) {
      std::size_t at = t.pos;
      const std::size_t end = t.pos + t.len;
      while (at < end) {
        while (next < found.size() && by_a(next).a + by_a(next).len <= at) ++next;
        std::size_t stop = end;
        if (next < found.size() && by_a(next).a < end) {
          const piece& p = by_a(next);
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
  }

  // The runs of a piece whose values differ (pa: its rows in a, pb: in b): one comparison of the
  // whole piece first (memcmp for integers), then row by row only when something differs.
  static void compare(const T* pa, const T* pb, const piece& p, walk_stats& st,
                      std::vector<run>& out) {
    st.elements_compared += p.len;
    if (std::equal(pa, pa + p.len, pb)) return;
    for (std::size_t k = 0; k < p.len;) {
      if (pa[k] == pb[k]) {
        ++k;
        continue;
      }
      std::size_t e = k + 1;
      while (e < p.len && !(pa[e] == pb[e])) ++e;
      out.push_back({p.a + k, p.b + k, e - k});
      k = e;
    }
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
    // Rows that became inserted are no longer changed rows.
    std::vector<run> still;
    std::size_t ii = 0;
    for (const run& c : out.changed) {
      for (std::size_t r = c.b; r < c.b + c.len;) {
        while (ii < out.inserted.size() && out.inserted[ii].first + out.inserted[ii].len <= r) ++ii;
        const span* s = ii < out.inserted.size() ? &out.inserted[ii] : nullptr;
        if (s != nullptr && s->first <= r) {
          r = std::min(c.b + c.len, s->first + s->len);
          continue;
        }
        const std::size_t stop = s != nullptr ? std::min(c.b + c.len, s->first) : c.b + c.len;
        still.push_back({c.a + (r - c.b), r, stop - r});
        r = stop;
      }
    }
    out.changed = std::move(still);
  }

  // Marks moved pieces, lists the in-place ones, and sets the gaps.
  static void finish(result& out, std::size_t na, std::size_t nb) {
    std::vector<piece>& kept = out.kept;
    bool rising = true;
    for (std::size_t k = 1; k < kept.size() && rising; ++k) rising = kept[k - 1].a < kept[k].a;
    if (!rising) mark_moves(kept, out.moved_rows);
    out.in_place.reserve(kept.size());
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
    // Erased spans (a order) and in-place pieces both rise in a: one walk.
    std::size_t ep = 0;
    for (span& s : out.erased) {
      const std::size_t a_pos = s.first + s.len;
      while (ep < out.in_place.size() &&
             kept[out.in_place[ep]].a + kept[out.in_place[ep]].len <= a_pos)
        ++ep;
      if (ep == out.in_place.size()) {
        s.at = nb;
      } else {
        const piece& p = kept[out.in_place[ep]];
        s.at = a_pos <= p.a ? p.b : p.b + (a_pos - p.a);
      }
    }
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
      for (std::size_t i = rank[k]; i > 0; i -= i & (~i + 1))
        b = better(b, fen[i]);  // ranks < rank[k]
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
