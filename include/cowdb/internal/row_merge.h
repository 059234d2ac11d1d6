// Internal: the three-way merge engine of merge.h, by row identity. Users never include this
// header.
//
// 1. Each side is paired with base by row id (row_match.h) and summarized as "touches": runs of
//    base rows it modified, erased or moved (sorted by base position), plus its inserted spans,
//    each at a gap of base (the base row it was put before).
// 2. The two sides' touches are joined by base position; where both touched a row, the pair of
//    actions is either compatible (a move on one side and a value change on the other; the same
//    value or both erasing, under merge_mode::kValues) or a conflict (see conflict_kind). Two
//    inserted spans at the same gap conflict (their order is open) unless equal under kValues.
// 3. The result starts from one side, X (the one that changed more rows, so the big change is
//    shared rather than redone), and the other side's edits (Y) are turned into edits of X's
//    positions: set a row, erase rows, insert rows copied from a side with their ids. A
//    conflict is decided by `side` (ours when none is given: merged() of a conflicting merge is
//    the ours-decided one); the loser's action on that row is dropped, nothing else is.
// 4. The edits are applied back to front through an editor when they are few (each costs a path
//    copy), or by one pass over X's leaves with tree_builder, sharing every leaf they leave alone.
//
// Cost: the two matchings, O(touched rows) to join and plan, and O(edits x (B + F log n)) or
// O(n / B + rows of the changed leaves) to apply.
#ifndef COWDB_INTERNAL_ROW_MERGE_H_
#define COWDB_INTERNAL_ROW_MERGE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cowdb/internal/row_match.h"
#include "cowdb/internal/tree_builder.h"
#include "cowdb/pvec.h"

namespace cowdb {

enum class merge_side : std::uint8_t { kOurs, kTheirs };

// What counts as a conflict.
enum class merge_mode : std::uint8_t {
  // The same row changed to different values, changed on one side and erased or moved on the
  // other, moved on both, or rows inserted at the same place on both (unless the same rows).
  kValues,
  // Anything both sides wrote, even the same value: also a row changed or erased on both sides
  // and equal inserts at one place. Write-write conflicts, as optimistic transactions need (two
  // increments of one counter from 0 to 1 must not both succeed).
  kWrites,
};

// Why a row (or a place) is in conflict.
enum class conflict_kind : std::uint8_t {
  kValue,        // both sides changed the row's value, to different values (kWrites: at all)
  kModifyErase,  // one side changed or moved the row, the other erased it
  kBothErased,   // merge_mode::kWrites only: both sides erased the row
  kInsertOrder,  // both sides inserted rows before the same base row: their order is open
  kMove,         // both sides moved the row
  // Database conflicts only (cowdb::Conflict), never reported by merge(): a whole dataset was
  // created, dropped or retyped on one side and changed on the other, or (ConflictMode::kDataset)
  // written on both sides.
  kWholeDataset,
};

// What one side of a merge did to a conflicting row (merge_conflict::ours_action, theirs_action).
enum class row_action : std::uint8_t {
  kUnchanged,         // left it as in base (the default; no conflict has a side doing this)
  kModified,          // changed its value in place (merge_mode::kWrites: wrote it)
  kMoved,             // moved it, value unchanged
  kModifiedAndMoved,  // moved it and changed its value
  kErased,            // erased it
  kInserted,          // inserted it (the row is not in base)
  // Database conflicts only (conflict_kind::kWholeDataset), for what a side did to the dataset:
  // kModified = wrote it, kErased = dropped it, kInserted = created it (absent from base), and
  kRetyped,  // replaced it by a dataset of another element type
};

// One conflict. Values are empty where the row does not exist: `ours` or `theirs` for the side
// that erased it, `base` for kInsertOrder (then ours/theirs are the first rows each side
// inserted there).
template <class T>
struct merge_conflict {
  std::size_t index = 0;  // where the row (or the inserted rows) is in merged()
  std::optional<T> base;
  std::optional<T> ours;
  std::optional<T> theirs;
  conflict_kind kind = conflict_kind::kValue;
  std::size_t base_index = 0;  // the row in base; kInsertOrder: the base row the inserts precede
                               // (base.size() at the end)
  std::optional<std::size_t> ours_index;    // the row (first inserted row) in ours, if there
  std::optional<std::size_t> theirs_index;  // the same in theirs
  row_action ours_action = row_action::kUnchanged;    // what ours did to the row
  row_action theirs_action = row_action::kUnchanged;  // what theirs did to the row
  // True for every kind but kValue (only a merge_side resolves them).
  bool structural() const noexcept { return kind != conflict_kind::kValue; }
};

namespace internal {

template <class T, std::size_t C, std::size_t F>
class row_merge {
 public:
  using vec = pvec<T, C, F>;

  row_merge(const vec& base, const vec& ours, const vec& theirs, merge_mode mode,
            std::optional<merge_side> side)
      : base_(base), ours_(ours), theirs_(theirs), mode_(mode), side_(side) {}

  // The merged version; conflicts() lists what was decided by `side` (ours if none).
  vec run() {
    side_info o(ours_, true), t(theirs_, false);
    o.m = matcher::match(pvec_access::rep(base_), pvec_access::rep(ours_), stats_);
    t.m = matcher::match(pvec_access::rep(base_), pvec_access::rep(theirs_), stats_);
    summarize(o);
    summarize(t);
    // X: the side that reordered rows if only one did, else the one that changed more rows.
    const bool x_is_ours =
        (o.m.moved_rows > 0) != (t.m.moved_rows > 0) ? o.m.moved_rows > 0 : o.rows >= t.rows;
    side_info& x = x_is_ours ? o : t;
    side_info& y = x_is_ours ? t : o;
    plan(x, y);
    vec out = apply(x.v);
    place_conflicts(x);
    return out;
  }

  std::vector<merge_conflict<T>> conflicts;
  const walk_stats& stats() const noexcept { return stats_; }

 private:
  using tree = rbtree<T, vec::chunk_capacity, F>;
  using matcher = row_matcher<T, vec::chunk_capacity, F>;
  using matching = row_matching<T>;
  using leaf = typename tree::leaf;

  enum class act : std::uint8_t { kModified, kErased, kMoved };
  // Base rows [base, base + len) that a side modified, erased or moved; `pos`: where the first
  // is on that side (not for kErased); `changed`: the values differ from base (kMoved); `gap`:
  // the base row a moved run was put before.
  struct touch {
    std::size_t base, len, pos;
    act what;
    bool changed;
    std::size_t gap;
  };
  struct side_info {
    side_info(const vec& vv, bool ours) : v(vv), is_ours(ours) {}
    const vec& v;
    bool is_ours;
    matching m;
    std::vector<touch> touched;  // by base
    std::size_t rows = 0;        // rows erased, moved or inserted
  };
  // An edit of X: insert src[first, first + len) before X row `at`, erase X rows [at, at + len),
  // or set X row `at` to src[first].
  enum class op_kind : std::uint8_t { kInsert, kErase, kSet };
  struct edit {
    std::size_t at;
    op_kind kind;
    std::size_t seq;  // order of inserts at one place
    const vec* src;
    std::size_t first, len;
    std::size_t base_row = 0;  // kSet: the row in base
    std::size_t id = 0;        // creation order (ops_ is sorted later)
  };
  // A conflict waiting for its index in merged(): the X position it is at, and whether the
  // inserts planned at that position come before it.
  struct pending {
    std::size_t x_pos;
    bool after_inserts;
    std::size_t op = SIZE_MAX;  // the insert that puts the row in merged(), if one does
  };

  // ---- 1. what each side did --------------------------------------------------------------------
  void summarize(side_info& s) {
    // Pieces come in b order, which is base order when no row moved: erased spans (base order)
    // are then interleaved as they come; otherwise everything is sorted at the end.
    const bool in_order = s.m.moved_rows == 0;
    std::size_t ei = 0;
    auto erased_before = [&](std::size_t base) {
      for (; ei < s.m.erased.size() && s.m.erased[ei].first < base; ++ei) {
        s.touched.push_back({s.m.erased[ei].first, s.m.erased[ei].len, 0, act::kErased, false, 0});
      }
    };
    auto add = [&](const touch& t) {
      if (in_order) erased_before(t.base);
      s.touched.push_back(t);
    };
    std::size_t ci = 0;  // into s.m.changed: the runs of each piece, in b order like the pieces
    for (const auto& p : s.m.kept) {
      if (p.shared && p.moved) {  // a whole shared chunk put elsewhere: moved, values unchanged
        add({p.a, p.len, p.b, act::kMoved, false, p.gap});
        continue;
      }
      if (p.shared) continue;
      const act what = p.moved ? act::kMoved : act::kModified;
      std::size_t k = p.b;  // rows of p before k are done
      for (; ci < s.m.changed.size() && s.m.changed[ci].b < p.b + p.len; ++ci) {
        const auto& c = s.m.changed[ci];
        if (p.moved && c.b > k) add({p.a + (k - p.b), c.b - k, k, what, false, p.gap});
        add({c.a, c.len, c.b, what, true, p.gap});
        k = c.b + c.len;
      }
      if (p.moved && k < p.b + p.len)
        add({p.a + (k - p.b), p.b + p.len - k, k, what, false, p.gap});
    }
    erased_before(SIZE_MAX);
    if (!in_order) {
      std::sort(s.touched.begin(), s.touched.end(),
                [](const touch& x, const touch& y) { return x.base < y.base; });
    }
    for (const auto& e : s.m.erased) s.rows += e.len;
    for (const auto& e : s.m.inserted) s.rows += e.len;
    s.rows += s.m.moved_rows;
  }

  // ---- 2 and 3: join the sides, decide, plan X's edits ------------------------------------------
  void plan(const side_info& x, const side_info& y) {
    // Rows: walk y's touches; the parts x also touched go through decide().
    std::size_t xi = 0;
    for (const touch& ty : y.touched) {
      for (std::size_t r = ty.base; r < ty.base + ty.len;) {
        while (xi < x.touched.size() && x.touched[xi].base + x.touched[xi].len <= r) ++xi;
        const touch* tx =
            xi < x.touched.size() && x.touched[xi].base <= r ? &x.touched[xi] : nullptr;
        std::size_t end = ty.base + ty.len;
        if (tx != nullptr) {
          end = std::min(end, tx->base + tx->len);
        } else if (xi < x.touched.size()) {
          end = std::min(end, x.touched[xi].base);
        }
        if (tx == nullptr) {
          apply_clean(x, y, ty, r, end);
        } else {
          for (std::size_t k = r; k < end; ++k) decide(x, y, *tx, ty, k);
        }
        r = end;
      }
    }
    plan_inserts(x, y);
  }

  // y's action on base rows [r, end), which x left alone.
  void apply_clean(const side_info& x, const side_info& y, const touch& ty, std::size_t r,
                   std::size_t end) {
    switch (ty.what) {
      case act::kModified:
        for (std::size_t k = r; k < end; ++k) set_x(x, k, &y.v, ty.pos + (k - ty.base));
        break;
      case act::kErased:
        for (std::size_t k = r; k < end; ++k) erase_x(x, k);
        break;
      case act::kMoved:
        for (std::size_t k = r; k < end; ++k) {
          erase_x(x, k);
          insert_at_gap(x, ty.gap, &y.v, ty.pos + (k - ty.base), 1, ty.pos + (k - ty.base), true);
        }
        break;
    }
  }

  // Base row k, touched by both sides.
  void decide(const side_info& x, const side_info& y, const touch& tx, const touch& ty,
              std::size_t k) {
    const std::size_t px = tx.pos + (k - tx.base), py = ty.pos + (k - ty.base);
    const bool writes = mode_ == merge_mode::kWrites;
    auto values_differ = [&] { return !(x.v[px] == y.v[py]); };
    const act a = tx.what, b = ty.what;
    if (a == act::kErased && b == act::kErased) {
      if (writes) conflict(x, y, k, conflict_kind::kBothErased, tx, ty);
      return;  // erased either way
    }
    if (a == act::kErased || b == act::kErased) {
      if (!conflict(x, y, k, conflict_kind::kModifyErase, tx, ty)) return;  // x's action stands
      if (b == act::kErased) return erase_x(x, k);
      return placed_by(insert_at_gap(x, b == act::kMoved ? ty.gap : k, &y.v, py, 1, py, true));
    }
    if (a == act::kMoved && b == act::kMoved) {
      if (!conflict(x, y, k, conflict_kind::kMove, tx, ty)) return;
      erase_x(x, k);
      return placed_by(insert_at_gap(x, ty.gap, &y.v, py, 1, py, true));
    }
    // Both have the row: modified and/or moved. Values first, then the place.
    const bool x_changed = a == act::kModified || tx.changed;
    const bool y_changed = b == act::kModified || ty.changed;
    bool y_value = y_changed && !x_changed;
    bool in_conflict = false;
    if (x_changed && y_changed && (writes || values_differ())) {
      y_value = conflict(x, y, k, conflict_kind::kValue, tx, ty);
      in_conflict = true;
    }
    if (b == act::kMoved) {  // x modified it in place: move x's row (or y's value) to y's place
      erase_x(x, k);
      const std::size_t id = y_value ? insert_at_gap(x, ty.gap, &y.v, py, 1, py, true)
                                     : insert_at_gap(x, ty.gap, &x.v, px, 1, py, true);
      if (in_conflict) placed_by(id);
      return;
    }
    if (y_value) set_x(x, k, &y.v, py);
  }

  // Inserted spans: y's go to x at their gap; both at one gap is an order conflict.
  // Rows x also inserted (the same rows: both sides got them after base, e.g. from a branch
  // merged into both) are not inserted again; they stay where x has them. The rows a side put at
  // one gap may come in several spans (split by rows it moved there): they are compared and
  // placed together.
  void plan_inserts(const side_info& x, const side_info& y) {
    using spans = std::vector<typename matching::span>;
    const spans& xs = x.m.inserted;
    const spans& ys = y.m.inserted;
    std::unordered_map<row_id_t, std::size_t> x_new;  // id -> x position of x's inserted rows
    if (!ys.empty()) {
      for (const auto& t : xs) {
        for (std::size_t k = t.first; k < t.first + t.len; ++k) x_new.emplace(x.v.row_id(k), k);
      }
    }
    auto x_has = [&](std::size_t j) {
      return x_new.empty() ? x_new.end() : x_new.find(y.v.row_id(j));
    };
    // The spans [b, e) of one side at the gap of spans[b].
    auto group_end = [](const spans& v, std::size_t b) {
      std::size_t e = b + 1;
      while (e < v.size() && v[e].at == v[b].at) ++e;
      return e;
    };
    auto rows_of = [](const vec& v, const spans& ss, std::size_t b, std::size_t e) {
      std::vector<const T*> out;
      for (std::size_t k = b; k < e; ++k) {
        for (std::size_t j = ss[k].first; j < ss[k].first + ss[k].len; ++j) out.push_back(&v[j]);
      }
      return out;
    };
    std::size_t xb = 0;
    for (std::size_t yb = 0; yb < ys.size();) {
      const std::size_t ye = group_end(ys, yb), gap = ys[yb].at;
      while (xb < xs.size() && xs[xb].at < gap) ++xb;
      const std::size_t xe = xb < xs.size() && xs[xb].at == gap ? group_end(xs, xb) : xb;
      if (xe > xb && mode_ == merge_mode::kValues) {
        const auto rx = rows_of(x.v, xs, xb, xe), ry = rows_of(y.v, ys, yb, ye);
        const bool same =
            rx.size() == ry.size() && std::equal(rx.begin(), rx.end(), ry.begin(),
                                                 [](const T* a, const T* b) { return *a == *b; });
        if (same) {  // agreement: the rows are ours (with ours' ids), where x put them
          if (y.is_ours) replace_spans(xs, xb, xe, y, ys, yb);
          yb = ye;
          continue;
        }
      }
      bool decided = false, y_first = true;
      for (std::size_t k = yb; k < ye; ++k) {
        const std::size_t end = ys[k].first + ys[k].len;
        for (std::size_t j = ys[k].first; j < end;) {
          if (const auto it = x_has(j); it != x_new.end()) {
            same_row(x, y, gap, it->second, j);
            ++j;
            continue;
          }
          std::size_t e = j + 1;
          while (e < end && x_has(e) == x_new.end()) ++e;
          const bool first_run = xe > xb && !decided;
          if (first_run) {
            y_first = insert_conflict(x, y, gap, xs[xb].first, j);
            decided = true;
          }
          const std::size_t id = insert_at_gap(x, gap, &y.v, j, e - j, j, y_first);
          if (first_run && y_first) placed_by(id);  // the conflict's rows start with y's
          j = e;
        }
      }
      yb = ye;
    }
  }
  // Replaces x's spans [xb, xe) by y's rows from span yb on, run by run (equal total lengths).
  void replace_spans(const std::vector<typename matching::span>& xs, std::size_t xb, std::size_t xe,
                     const side_info& y, const std::vector<typename matching::span>& ys,
                     std::size_t yb) {
    std::size_t yk = yb, yoff = 0;
    for (std::size_t k = xb; k < xe; ++k) {
      add_op({xs[k].first, op_kind::kErase, 0, nullptr, 0, xs[k].len});
      for (std::size_t need = xs[k].len; need > 0;) {
        const std::size_t n = std::min(need, ys[yk].len - yoff);
        add_op({xs[k].first, op_kind::kInsert, ys[yk].first + yoff, &y.v, ys[yk].first + yoff, n});
        need -= n;
        yoff += n;
        if (yoff == ys[yk].len) {
          ++yk;
          yoff = 0;
        }
      }
    }
  }
  // A row both sides inserted (same id): a value conflict if its values differ (no base value).
  void same_row(const side_info& x, const side_info& y, std::size_t gap, std::size_t px,
                std::size_t py) {
    if (x.v[px] == y.v[py]) return;
    pending_.push_back({px, true});
    conflicts.push_back(inserted_rows_conflict(conflict_kind::kValue, gap, x, px, y, py));
    if (decided_for(y)) add_op({px, op_kind::kSet, 0, &y.v, py, 1, SIZE_MAX});
  }

  // Records a conflict on base row k; returns whether y's action wins it.
  bool conflict(const side_info& x, const side_info& y, std::size_t k, conflict_kind kind,
                const touch& tx, const touch& ty) {
    merge_conflict<T> c;
    c.kind = kind;
    c.base_index = k;
    c.base = base_[k];
    auto fill = [&](const side_info& s, const touch& t) {
      (s.is_ours ? c.ours_action : c.theirs_action) = t.what == act::kErased ? row_action::kErased
                                                      : t.what == act::kModified
                                                          ? row_action::kModified
                                                      : t.changed ? row_action::kModifiedAndMoved
                                                                  : row_action::kMoved;
      if (t.what == act::kErased) return;
      const std::size_t p = t.pos + (k - t.base);
      (s.is_ours ? c.ours : c.theirs) = s.v[p];
      (s.is_ours ? c.ours_index : c.theirs_index) = p;
    };
    fill(x, tx);
    fill(y, ty);
    const bool y_wins = decided_for(y);
    // Where it is in X: the row itself, or where y's row would go.
    const matching& m = x.m;
    const auto* p = tx.what == act::kErased ? nullptr : m.find_a(k);
    pending_.push_back(p != nullptr ? pending{p->b + (k - p->a), true}
                                    : pending{x_insert_pos(x, k, true), false});
    conflicts.push_back(std::move(c));
    return y_wins;
  }
  bool insert_conflict(const side_info& x, const side_info& y, std::size_t gap, std::size_t x_first,
                       std::size_t y_first) {
    pending_.push_back({x_first, true});  // x's first row there, unless y's go first
    conflicts.push_back(
        inserted_rows_conflict(conflict_kind::kInsertOrder, gap, x, x_first, y, y_first));
    return decided_for(y);
  }
  // A conflict between rows that both sides inserted before base row `gap` (no base value).
  static merge_conflict<T> inserted_rows_conflict(conflict_kind kind, std::size_t gap,
                                                  const side_info& x, std::size_t px,
                                                  const side_info& y, std::size_t py) {
    merge_conflict<T> c;
    c.kind = kind;
    c.base_index = gap;
    for (const auto& [s, p] : {std::pair{&x, px}, std::pair{&y, py}}) {
      (s->is_ours ? c.ours : c.theirs) = s->v[p];
      (s->is_ours ? c.ours_index : c.theirs_index) = p;
      (s->is_ours ? c.ours_action : c.theirs_action) = row_action::kInserted;
    }
    return c;
  }
  bool decided_for(const side_info& s) const noexcept {
    const merge_side winner = side_.value_or(merge_side::kOurs);
    return (winner == merge_side::kOurs) == s.is_ours;
  }

  // ---- edits in X's positions -------------------------------------------------------------------
  std::size_t add_op(edit o) {
    o.id = ops_.size();
    ops_.push_back(o);
    return o.id;
  }
  void set_x(const side_info& x, std::size_t k, const vec* src, std::size_t i) {
    const auto* p = x.m.find_a(k);
    add_op({p->b + (k - p->a), op_kind::kSet, 0, src, i, 1, k});
  }
  void erase_x(const side_info& x, std::size_t k) {
    const auto* p = x.m.find_a(k);
    add_op({p->b + (k - p->a), op_kind::kErase, 0, nullptr, 0, 1});
  }
  std::size_t insert_at_gap(const side_info& x, std::size_t gap, const vec* src, std::size_t first,
                            std::size_t len, std::size_t seq, bool before_x_inserts) {
    return add_op({x_insert_pos(x, gap, before_x_inserts), op_kind::kInsert, seq, src, first, len});
  }
  // The row of the conflict just recorded is put into merged() by insert `op`.
  void placed_by(std::size_t id) { pending_.back().op = id; }
  // The X position before which rows put before base row `gap` go: before the first X row that
  // is an in-place base row >= gap, or X's own inserts at gaps >= gap (> gap when
  // !before_x_inserts).
  static std::size_t x_insert_pos(const side_info& x, std::size_t gap, bool before_x_inserts) {
    const std::size_t p1 = x.m.b_of_next_in_place(gap, x.v.size());
    const auto& xs = x.m.inserted;
    auto it = before_x_inserts
                  ? std::lower_bound(xs.begin(), xs.end(), gap,
                                     [](const auto& s, std::size_t g) { return s.at < g; })
                  : std::upper_bound(xs.begin(), xs.end(), gap,
                                     [](std::size_t g, const auto& s) { return g < s.at; });
    return std::min(p1, it == xs.end() ? x.v.size() : it->first);
  }

  // ---- 4. apply ---------------------------------------------------------------------------------
  vec apply(const vec& x) {
    std::stable_sort(ops_.begin(), ops_.end(), [](const edit& a, const edit& b) {
      if (a.at != b.at) return a.at < b.at;
      if (a.kind != b.kind) return a.kind < b.kind;  // inserts go before the row at `at`
      return a.seq < b.seq;
    });
    // Erases of consecutive rows with nothing planned between them become one.
    std::size_t n = 0;
    for (const edit& o : ops_) {
      if (n > 0 && o.kind == op_kind::kErase && ops_[n - 1].kind == op_kind::kErase &&
          ops_[n - 1].at + ops_[n - 1].len == o.at) {
        ops_[n - 1].len += o.len;
      } else {
        ops_[n++] = o;
      }
    }
    ops_.resize(n);
    if (ops_.empty()) return x;
    check_plan(x);
    const std::size_t leaves = x.size() / vec::chunk_capacity + 1;
    return ops_.size() * 64 <= leaves ? apply_with_editor(x) : apply_with_builder(x);
  }

  // Refuses a plan whose edits overlap or fall outside X or their source (std::logic_error), so
  // that applying it can never read or write out of bounds. The one known way to get such a plan
  // is a version that holds one row more than once (v + v, inserting a slice of the same
  // version): pairing by identity is then ambiguous. O(edits).
  void check_plan(const vec& x) const {
    std::size_t free_from = 0;  // X rows before this are erased or set by an earlier edit
    for (const edit& o : ops_) {
      const bool consumes = o.kind != op_kind::kInsert;
      const std::size_t rows = o.kind == op_kind::kSet ? 1 : o.len;
      const bool ok = o.at >= free_from &&
                      (consumes ? o.at + rows <= x.size() : o.at <= x.size()) &&
                      (o.kind == op_kind::kErase || o.first + rows <= o.src->size());
      if (!ok) {
        throw std::logic_error(
            "cowdb::merge: the versions cannot be merged by row identity: their edits overlap "
            "(a version holding one row more than once, after v + v or inserting a slice of the "
            "same version, is not supported by merge yet)");
      }
      if (consumes) free_from = o.at + rows;
    }
  }

  // For the sets ops_[k, end) (k a set): when they all fall in one leaf of X that X took from
  // base unchanged, and come from one leaf of the source holding the same rows, that leaf is
  // base's leaf with exactly these changes: returns it (to be shared) and sets `end`.
  const leaf* whole_leaf(const vec& x, std::size_t k, std::size_t& end) const {
    const edit& o = ops_[k];
    end = k + 1;
    if (o.base_row >= base_.size()) return nullptr;
    std::size_t xs = o.at, bs = o.base_row, ss = o.first;
    const tree_rep& rx = pvec_access::rep(x);
    const tree_rep& rb = pvec_access::rep(base_);
    const tree_rep& rs = pvec_access::rep(*o.src);
    const leaf* lx = tree::leaf_for(rx.root, rx.depth, xs);
    const leaf* ls = tree::leaf_for(rs.root, rs.depth, ss);
    const std::size_t leaf_end = o.at - xs + lx->count;
    while (end < ops_.size() && ops_[end].at < leaf_end) {
      if (ops_[end].kind != op_kind::kSet || ops_[end].src != o.src) return nullptr;
      ++end;
    }
    if (lx != tree::leaf_for(rb.root, rb.depth, bs) || ls->count != lx->count || xs != ss ||
        ls->ids.id0 != lx->ids.id0 || ls->ids.runs != lx->ids.runs) {
      return nullptr;
    }
    return ls;
  }

  vec apply_with_editor(const vec& x) {
    auto e = x.transient();
    for (std::size_t k = 0; k < ops_.size(); ++k) {  // chunks only the other side changed: shared
      if (ops_[k].kind != op_kind::kSet) continue;
      std::size_t end;
      if (const leaf* l = whole_leaf(x, k, end)) {
        tree::replace_leaf(pvec_access::mutable_rep(e), ops_[k].at, l);
        for (; k < end; ++k) ops_[k].len = 0;  // done
        --k;
      }
    }
    for (auto it = ops_.rbegin(); it != ops_.rend(); ++it) {
      const edit& o = *it;
      switch (o.kind) {
        case op_kind::kSet:
          if (o.len > 0) e.set(o.at, (*o.src)[o.first]);
          break;
        case op_kind::kErase: e.erase(o.at, o.at + o.len); break;
        case op_kind::kInsert: e.insert(o.at, o.src->slice(o.first, o.first + o.len)); break;
      }
    }
    return std::move(e).persistent();
  }

  vec apply_with_builder(const vec& x) {
    tree_builder<T, vec::chunk_capacity, F> b;
    std::size_t next = 0;     // into ops_
    std::size_t skip_to = 0;  // X rows before this are erased
    std::size_t pos = 0;      // X position of the current leaf's first row
    auto copy_rows = [&b](const vec& v, std::size_t first, std::size_t last) {
      auto add = [&b](const leaf* l, std::size_t lo, std::size_t hi) {
        if (lo == 0 && hi == l->count) return b.add_leaf(l);
        b.add_rows(l, lo, hi);
      };
      const tree_rep& r = pvec_access::rep(v);
      if (first < last) tree::for_each_leaf_in(r.root, r.depth, r.size, first, last, add);
    };
    // Emits the ops at X position `at` that come before the row there (inserts), then applies
    // an erase or set of that row; returns whether the row was consumed.
    auto ops_at = [&](std::size_t at, const leaf* l, std::size_t slot) {
      for (; next < ops_.size() && ops_[next].at == at && ops_[next].kind == op_kind::kInsert;
           ++next) {
        copy_rows(*ops_[next].src, ops_[next].first, ops_[next].first + ops_[next].len);
      }
      if (next < ops_.size() && ops_[next].at == at) {
        const edit& o = ops_[next++];
        if (o.kind == op_kind::kErase) {
          skip_to = at + o.len;
        } else {
          b.add_row(l->ids.at(slot), (*o.src)[o.first]);
        }
        return true;
      }
      return false;
    };
    auto visit = [&](const leaf* l) {
      const std::size_t end = pos + l->count;
      if (skip_to <= pos && (next == ops_.size() || ops_[next].at >= end)) {
        b.add_leaf(l);
        pos = end;
        return;
      }
      std::size_t done;
      if (skip_to <= pos && ops_[next].kind == op_kind::kSet) {
        if (const leaf* ls = whole_leaf(x, next, done)) {  // only the other side changed it
          b.add_leaf(ls);
          next = done;
          pos = end;
          return;
        }
      }
      std::size_t j = pos;
      while (j < end) {
        if (next < ops_.size() && ops_[next].at == j) {
          // Inserts, then an erase (skip_to moves past j) or a set (the row is done).
          if (ops_at(j, l, j - pos) && skip_to <= j) ++j;
          continue;
        }
        const std::size_t next_at = next < ops_.size() ? ops_[next].at : SIZE_MAX;
        if (j < skip_to) {
          j = std::min({end, skip_to, next_at});
          continue;
        }
        const std::size_t stop = std::min(end, next_at);
        b.add_rows(l, j - pos, stop - pos);
        j = stop;
      }
      b.end_source_leaf();
      pos = end;
    };
    const tree_rep& r = pvec_access::rep(x);
    if (r.root != nullptr) tree::for_each_leaf(r.root, r.depth, visit);
    ops_at(x.size(), nullptr, 0);
    return pvec_access::adopt<vec>(b.finish());
  }

  // Each conflict's index in merged(): its X position moved by the ops before it.
  void place_conflicts(const side_info&) {
    std::size_t ids = 0;
    for (const edit& o : ops_) ids = std::max(ids, o.id + 1);
    std::vector<std::size_t> sorted_at(ids, SIZE_MAX);  // creation id -> index in ops_
    for (std::size_t k = 0; k < ops_.size(); ++k) sorted_at[ops_[k].id] = k;
    std::vector<std::ptrdiff_t> before(ops_.size() + 1, 0);  // net rows added by ops_[0, k)
    for (std::size_t k = 0; k < ops_.size(); ++k) {
      const edit& o = ops_[k];
      const auto n = static_cast<std::ptrdiff_t>(o.len);
      before[k + 1] = before[k] + (o.kind == op_kind::kInsert  ? n
                                   : o.kind == op_kind::kErase ? -n
                                                               : 0);
    }
    for (std::size_t c = 0; c < conflicts.size(); ++c) {
      const pending& p = pending_[c];
      if (p.op < sorted_at.size() && sorted_at[p.op] != SIZE_MAX) {
        const std::size_t k = sorted_at[p.op];  // the row is the first one its insert puts in
        conflicts[c].index =
            static_cast<std::size_t>(static_cast<std::ptrdiff_t>(ops_[k].at) + before[k]);
        continue;
      }
      // Ops strictly before x_pos, plus the inserts at x_pos when the row comes after them.
      auto it = std::lower_bound(ops_.begin(), ops_.end(), p.x_pos,
                                 [](const edit& o, std::size_t at) { return o.at < at; });
      if (p.after_inserts) {
        while (it != ops_.end() && it->at == p.x_pos && it->kind == op_kind::kInsert) ++it;
      }
      const auto k = static_cast<std::size_t>(it - ops_.begin());
      conflicts[c].index =
          static_cast<std::size_t>(static_cast<std::ptrdiff_t>(p.x_pos) + before[k]);
    }
    std::vector<std::size_t> order(conflicts.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
      return conflicts[a].index < conflicts[b].index;
    });
    std::vector<merge_conflict<T>> sorted;
    sorted.reserve(conflicts.size());
    for (std::size_t k : order) sorted.push_back(std::move(conflicts[k]));
    conflicts = std::move(sorted);
  }

  const vec& base_;
  const vec& ours_;
  const vec& theirs_;
  merge_mode mode_;
  std::optional<merge_side> side_;
  walk_stats stats_;
  std::vector<edit> ops_;
  std::vector<pending> pending_;
};

}  // namespace internal
}  // namespace cowdb

#endif  // COWDB_INTERNAL_ROW_MERGE_H_
