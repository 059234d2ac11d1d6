// Randomized model tests of merge() across shifts (inserts and erases on either side), following
// the "Shifts" paragraph of merge.h's header comment.
//
// Elements carry their logical identity: value = id * 8 + generation, with ids unique, so an
// element keeps its id when it is modified (set, transform) and inserted elements get fresh ids;
// no two elements of a triple are ever equal unless they are the same element with the same
// edits. Base versions are built in several ways (regular and relaxed trees); ours and theirs are
// derived from base by persistent and editor writes (set, transform, insert, insert of a range,
// push_front, erase, erase of a range, drop), so they share base's chunks as real versions do.
//
// Three tests:
//  1. Disjoint edits. Each side edits only inside its own stretch of base; the two stretches are
//     disjoint and not adjacent (at least one untouched element between them), and the last
//     chunks of base are left alone (a length change confined to the last chunk is positional,
//     see diff.h). The merge must succeed and equal base with both sides' stretches replaced by
//     their edited versions, in either argument order and with either merge_side, and under
//     merge_mode::kWrites too (inserts and erases at different places write different elements,
//     even when both sides change the length).
//  2. Overlapping edits. Each side makes one edit (set run, erase, insert) in a small stretch,
//     overlapping the other's by the header's rules, plus optionally one disjoint edit far away.
//     Both modifying: merged element by element, conflicts exactly where both changed an element
//     to different values. An insert or erase meeting the other side's change: one structural
//     conflict, at the stretch's position in merged(); resolve(kOurs) / resolve(kTheirs) take that
//     side's stretch (and both far edits). Identical changes agree. Inserts exactly at the start
//     or end of the other side's change do not overlap it.
//  3. Anywhere. Random edits anywhere on both sides; the expected merge is computed from the two
//     diffs' ranges by the header's rules, independently of merge()'s own bookkeeping: each side's
//     changes as hunks (base range -> new content), connected overlaps as clusters, a cluster of
//     one side applied, modifications on both merged element by element, anything else a
//     structural conflict unless identical. Checked: ok(), every conflict record, merged(),
//     resolve(kOurs), resolve(kTheirs), merge(..., side).
// Replay: the seed comes from Catch::rngSeed() and is printed; a failure prints seed and trial.
//   cowdb_model_tests --rng-seed <seed> "merge shift model*"
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace {

using cowdb::change_kind;
using cowdb::merge_mode;
using cowdb::merge_side;
using model = std::vector<int>;
using opt = std::optional<int>;

std::string show(const opt& x) { return x ? fmt::format("{}", *x) : std::string("-"); }

// A conflict record as merge() reports it.
struct record {
  std::size_t index;
  opt base, ours, theirs;
  friend bool operator==(const record&, const record&) = default;
};

std::string show(const std::vector<record>& v) {
  std::string s;
  for (const record& r : v) {
    s +=
        fmt::format("{{{}: b={} o={} t={}}} ", r.index, show(r.base), show(r.ours), show(r.theirs));
  }
  return s.empty() ? "none" : s;
}

template <class R>
std::vector<record> records_of(const R& r) {
  std::vector<record> out;
  for (const auto& c : r.conflicts()) out.push_back({c.index, c.base, c.ours, c.theirs});
  return out;
}

template <class V>
model to_model(const V& v) {
  return model(v.begin(), v.end());
}

opt at(const model& m, std::size_t i) { return i < m.size() ? opt(m[i]) : std::nullopt; }

// A replacement of base[bf, bl) by `content`, in base coordinates.
struct edit {
  std::size_t bf, bl;
  model content;
};

// base with non-overlapping edits applied (an insert at the start of another edit's range goes
// before it, at its end after it).
model apply_edits(const model& base, std::vector<edit> edits) {
  std::stable_sort(edits.begin(), edits.end(), [](const edit& a, const edit& b) {
    return a.bf < b.bf || (a.bf == b.bf && a.bl < b.bl);
  });
  model out;
  std::size_t pos = 0;
  for (const edit& e : edits) {
    out.insert(out.end(), base.begin() + static_cast<std::ptrdiff_t>(pos),
               base.begin() + static_cast<std::ptrdiff_t>(e.bf));
    out.insert(out.end(), e.content.begin(), e.content.end());
    pos = e.bl;
  }
  out.insert(out.end(), base.begin() + static_cast<std::ptrdiff_t>(pos), base.end());
  return out;
}

struct merge_stats {
  std::uint64_t trials = 0;
  std::uint64_t shifted = 0;     // trials where a side inserted or erased before its end
  std::uint64_t conflicts = 0;   // trials with conflicts
  std::uint64_t structural = 0;  // trials with a structural conflict
  std::uint64_t agreements = 0;  // identical changes on both sides
  std::uint64_t skipped = 0;  // test 3: neither side shifted (positional merge, tested elsewhere)
  std::uint64_t both_resized = 0;  // test 1: trials where both sides changed the length
};

template <class Vec>
class merge_runner {
 public:
  static constexpr std::size_t kCap = Vec::chunk_capacity;
  static constexpr std::size_t kFanout = Vec::fanout;
  // Untouched elements at the end of base in tests 1 and 2, and between far edits.
  static constexpr std::size_t kGuard = 4 * kCap + 2;
  // Far edits of test 2 keep this distance from the stretch and from each other: more than the
  // largest inserted block plus kGuard (a region holding a large inserted block is only opened
  // near its ends, so a nearby edit of the same side could join its hunk).
  static constexpr std::size_t kFar = kGuard + 2 * kCap * kFanout + 4;
  using diff_type = cowdb::pvec_diff<int, sizeof(int) * kCap, kFanout>;

  explicit merge_runner(std::uint64_t seed) : seed_(seed), rng_(seed) {}
  const merge_stats& stats() const { return stats_; }

  // ---- test 1
  // ------------------------------------------------------------------------------------
  void disjoint(std::uint64_t trials) {
    for (trial_ = 0; trial_ < trials; ++trial_) {
      const std::uint64_t seed = seed_;
      const std::uint64_t trial = trial_;
      CAPTURE(seed, trial);
      log_.clear();
      const std::size_t n = kGuard + 1 + (one_in(8) ? below(700) : below(200));
      model mb;
      const Vec base = make_base(n, mb);
      // Stretches [c0, c1) and [c2, c3), c1 < c2, ending before the guard.
      std::size_t c[4];
      do {
        for (std::size_t& x : c) x = below(n - kGuard + 1);
        std::sort(c, c + 4);
      } while (c[1] == c[2]);
      const bool first_is_ours = one_in(2);
      Vec s1 = base, s2 = base;
      model m1 = mb, m2 = mb;
      const model e1 = edit_stretch(s1, m1, c[0], c[1], below(5), first_is_ours ? 1 : 2);
      const model e2 = edit_stretch(s2, m2, c[2], c[3], below(5), first_is_ours ? 2 : 1);
      const model want = apply_edits(mb, {{c[0], c[1], e1}, {c[2], c[3], e2}});
      const Vec& ours = first_is_ours ? s1 : s2;
      const Vec& theirs = first_is_ours ? s2 : s1;
      const model& mo = first_is_ours ? m1 : m2;
      const model& mt = first_is_ours ? m2 : m1;
      const bool shifted = mo.size() != mb.size() || mt.size() != mb.size();
      if (shifted) ++stats_.shifted;
      auto context = [&] {
        return fmt::format(
            "base size {}, stretches [{}, {}) and [{}, {}) (the first is {}), edits:\n{}", n, c[0],
            c[1], c[2], c[3], first_is_ours ? "ours" : "theirs", log_);
      };
      for (const bool swap : {false, true}) {
        const Vec& o = swap ? theirs : ours;
        const Vec& t = swap ? ours : theirs;
        const auto r = cowdb::merge(base, o, t);
        if (!r.ok()) {
          FAIL(fmt::format("disjoint edits conflict{}: {}\n{}\n{}", swap ? " (swapped)" : "",
                           show(records_of(r)), context(), diffs(base, o, t)));
        }
        check_result(r.merged(), want, "merged()", context);
        check_result(r.resolve(merge_side::kTheirs), want, "resolve(kTheirs)", context);
        check_result(cowdb::merge(base, o, t, merge_side::kOurs), want, "merge(kOurs)", context);
        check_result(cowdb::merge(base, o, t, merge_side::kTheirs), want, "merge(kTheirs)",
                     context);
      }
      // kWrites: disjoint writes never conflict, whether or not both sides changed the length.
      const auto w = cowdb::merge(base, ours, theirs, merge_mode::kWrites);
      if (mo.size() != mb.size() && mt.size() != mb.size()) ++stats_.both_resized;
      if (!w.ok()) {
        FAIL(fmt::format("disjoint edits conflict under kWrites: {}\n{}\n{}",
                         show(records_of(w)), context(), diffs(base, ours, theirs)));
      }
      check_result(w.merged(), want, "kWrites merged()", context);
      ++stats_.trials;
    }
  }

  // ---- test 2
  // ------------------------------------------------------------------------------------ One edit
  // per side in a small stretch, as a base range and its replacement.
  struct op {
    unsigned kind;  // 0 set run, 1 erase, 2 insert
    std::size_t bf, bl;
    std::size_t count;  // inserted elements
  };
  static bool overlap(const op& x, const op& y) {
    const bool ex = x.bf == x.bl, ey = y.bf == y.bl;
    if (ex && ey) return x.bf == y.bf;
    if (ex) return y.bf < x.bf && x.bf < y.bl;
    if (ey) return x.bf < y.bf && y.bf < x.bl;
    return x.bf < y.bl && y.bf < x.bl;
  }

  void overlapping(std::uint64_t trials) {
    for (trial_ = 0; trial_ < trials; ++trial_) {
      const std::uint64_t seed = seed_;
      const std::uint64_t trial = trial_;
      CAPTURE(seed, trial);
      log_.clear();
      const std::size_t n = 2 * kFar + kGuard + 24 + below(one_in(8) ? 600 : 150);
      model mb;
      const Vec base = make_base(n, mb);
      // The stretch [lo, lo + w), with room for far edits before or after it.
      const std::size_t w = 1 + below(16);
      const std::size_t lo = below(n - kGuard - w + 1);
      const bool touching = one_in(5);  // an insert exactly at the start or end of the other's
      op po, pt;
      for (;;) {
        po = random_op(lo, w);
        pt = random_op(lo, w);
        if (touching) {
          // Make one side an insert at an end of the other side's (non-empty) range.
          if (pt.bf == pt.bl) continue;
          po = {2, one_in(2) ? pt.bf : pt.bl, 0, 1 + below(3)};
          po.bl = po.bf;
          if (one_in(2)) std::swap(po, pt);
          break;
        }
        if (overlap(po, pt)) break;
      }
      // An identical structural change on both sides: the same erase (often by chance in a small
      // stretch), or the same insert (the same elements at the same place).
      const bool same =
          !touching && po.kind != 0 &&
          ((po.kind == 1 && pt.kind == 1 && po.bf == pt.bf && po.bl == pt.bl) || one_in(6));
      if (same) pt = po;
      // Far edits: one per side (or none), kFar away from the stretch and from each other.
      std::vector<edit> far_o, far_t;
      Vec ours = base, theirs = base;
      model mo = mb, mt = mb;
      std::vector<std::pair<std::size_t, std::size_t>> used = {{lo, lo + w}};
      for (int side = 0; side < 2; ++side) {
        if (one_in(2)) continue;
        const std::size_t len = 1 + below(3);
        std::size_t p = 0;
        bool ok = false;
        for (int attempt = 0; attempt < 20 && !ok; ++attempt) {
          p = below(n - kGuard - len + 1);
          ok = true;
          for (const auto& [a, b] : used) ok = ok && (p + len + kFar <= a || b + kFar <= p);
        }
        if (!ok) continue;
        used.emplace_back(p, p + len);
        (side == 0 ? far_o : far_t).push_back({p, p + len, {}});
      }
      // Each side's edits in base coordinates, applied back to front.
      const model content_o = apply_side(ours, mo, po, far_o, 1, nullptr);
      const model content_t = apply_side(theirs, mt, pt, far_t, 2, same ? &content_o : nullptr);
      const bool shifted = mo.size() != mb.size() || mt.size() != mb.size();
      if (shifted) ++stats_.shifted;
      std::vector<edit> fars = far_o;
      fars.insert(fars.end(), far_t.begin(), far_t.end());
      const std::size_t cf = std::min(po.bf, pt.bf), cl = std::max(po.bl, pt.bl);
      auto context = [&] {
        return fmt::format(
            "base size {}, stretch [{}, {}), ours op kind {} [{}, {}) +{}, theirs "
            "op kind {} [{}, {}) +{}, edits:\n{}",
            n, lo, lo + w, po.kind, po.bf, po.bl, po.count, pt.kind, pt.bf, pt.bl, pt.count, log_);
      };
      // Where base position b lands in the merged result: after every far edit before it.
      auto merged_pos = [&](std::size_t b) {
        std::ptrdiff_t d = 0;
        for (const edit& e : fars) {
          if (e.bl <= b) {
            d += static_cast<std::ptrdiff_t>(e.content.size()) -
                 static_cast<std::ptrdiff_t>(e.bl - e.bf);
          }
        }
        return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(b) + d);
      };
      std::vector<edit> with_o = fars, with_t = fars;
      with_o.push_back({po.bf, po.bl, content_o});
      with_t.push_back({pt.bf, pt.bl, content_t});
      const model ours_wins = apply_edits(mb, with_o);
      const model theirs_wins = apply_edits(mb, with_t);

      const auto r = cowdb::merge(base, ours, theirs);
      std::vector<record> want_conflicts;
      model want_merged, want_ours, want_theirs;
      if (touching || same) {
        // No overlap (an insert at an end of the other's range) or an agreement.
        std::vector<edit> all = fars;
        all.push_back({po.bf, po.bl, content_o});
        if (!same) all.push_back({pt.bf, pt.bl, content_t});
        want_merged = want_ours = want_theirs = apply_edits(mb, all);
        if (same) ++stats_.agreements;
      } else if (po.kind == 0 && pt.kind == 0) {
        // Both modified: element by element over [cf, cl).
        model mid_o, mid_t;
        for (std::size_t b = cf; b < cl; ++b) {
          const bool in_o = b >= po.bf && b < po.bl, in_t = b >= pt.bf && b < pt.bl;
          const int vo = in_o ? content_o[b - po.bf] : mb[b];
          const int vt = in_t ? content_t[b - pt.bf] : mb[b];
          if (in_o && in_t && vo != vt) {
            want_conflicts.push_back({merged_pos(b), mb[b], vo, vt});
          }
          mid_o.push_back(in_o ? vo : vt);
          mid_t.push_back(in_t ? vt : vo);
        }
        std::vector<edit> eo = fars, et = fars;
        eo.push_back({cf, cl, mid_o});
        et.push_back({cf, cl, mid_t});
        want_merged = want_ours = apply_edits(mb, eo);
        want_theirs = apply_edits(mb, et);
      } else {
        // Structural: resolving by a side takes that side's version of the stretch (and both
        // far edits).
        want_conflicts.push_back({merged_pos(cf), mb[cf], std::nullopt, std::nullopt});
        want_merged = want_ours = ours_wins;
        want_theirs = theirs_wins;
      }
      if (!want_conflicts.empty()) ++stats_.conflicts;
      if (!want_conflicts.empty() && !want_conflicts[0].ours) ++stats_.structural;
      const std::vector<record> got = records_of(r);
      if (got != want_conflicts) {
        FAIL(fmt::format("conflicts: expected {}, got {}\n{}\n{}", show(want_conflicts), show(got),
                         context(), diffs(base, ours, theirs)));
      }
      CHECK(r.ok() == want_conflicts.empty());
      check_result(r.merged(), want_merged, "merged()", context);
      check_result(r.resolve(merge_side::kOurs), want_ours, "resolve(kOurs)", context);
      check_result(r.resolve(merge_side::kTheirs), want_theirs, "resolve(kTheirs)", context);
      check_result(cowdb::merge(base, ours, theirs, merge_side::kOurs), want_ours, "merge(kOurs)",
                   context);
      check_result(cowdb::merge(base, ours, theirs, merge_side::kTheirs), want_theirs,
                   "merge(kTheirs)", context);
      if (same) {
        // kWrites: identical structural changes still conflict.
        CHECK_FALSE(cowdb::merge(base, ours, theirs, merge_mode::kWrites).ok());
      }
      ++stats_.trials;
    }
  }

  // ---- test 3
  // ------------------------------------------------------------------------------------
  void anywhere(std::uint64_t trials) {
    for (trial_ = 0; trial_ < trials; ++trial_) {
      const std::uint64_t seed = seed_;
      const std::uint64_t trial = trial_;
      CAPTURE(seed, trial);
      log_.clear();
      const std::size_t n = one_in(10) ? below(4) : below(one_in(8) ? 700 : 120);
      model mb;
      const Vec base = make_base(n, mb);
      Vec ours = base, theirs = base;
      model mo = mb, mt = mb;
      log_ += "ours:\n";
      for (std::size_t k = 1 + below(6); k-- > 0;) random_edit(ours, mo, 1);
      log_ += "theirs:\n";
      for (std::size_t k = 1 + below(6); k-- > 0;) random_edit(theirs, mt, 2);
      if (one_in(10)) {  // sometimes a side copies an edit of the other: agreements
        theirs = ours;
        mt = mo;
        random_edit(theirs, mt, 2);
      }
      REQUIRE(to_model(ours) == mo);
      REQUIRE(to_model(theirs) == mt);
      const auto dours = cowdb::diff(base, ours);
      const auto dtheirs = cowdb::diff(base, theirs);
      if (!dours.shifted() && !dtheirs.shifted()) {
        ++stats_.skipped;
        continue;
      }
      ++stats_.shifted;
      const merge_mode mode = one_in(4) ? merge_mode::kWrites : merge_mode::kValues;
      const expected want = expect(mb, mo, mt, dours, dtheirs, mode);
      auto context = [&] {
        return fmt::format("mode {}, sizes base {}, ours {}, theirs {}; edits:\n{}{}",
                           mode == merge_mode::kWrites ? "kWrites" : "kValues", mb.size(),
                           mo.size(), mt.size(), log_, diffs(base, ours, theirs));
      };
      const auto r = cowdb::merge(base, ours, theirs, mode);
      const std::vector<record> got = records_of(r);
      if (got != want.conflicts) {
        FAIL(fmt::format("conflicts: expected {}, got {}\n{}", show(want.conflicts), show(got),
                         context()));
      }
      if (!want.conflicts.empty()) ++stats_.conflicts;
      if (want.structural) ++stats_.structural;
      CHECK(r.ok() == want.conflicts.empty());
      check_result(r.merged(), want.merged, "merged()", context);
      check_result(r.resolve(merge_side::kOurs), want.ours_wins, "resolve(kOurs)", context);
      check_result(r.resolve(merge_side::kTheirs), want.theirs_wins, "resolve(kTheirs)", context);
      check_result(cowdb::merge(base, ours, theirs, merge_side::kOurs, mode), want.ours_wins,
                   "merge(kOurs)", context);
      check_result(cowdb::merge(base, ours, theirs, merge_side::kTheirs, mode), want.theirs_wins,
                   "merge(kTheirs)", context);
      if (want.structural) {
        CHECK_THROWS_AS(r.resolve([](const cowdb::merge_conflict<int>&) { return 0; }),
                        std::logic_error);
      } else if (!want.conflicts.empty()) {
        // A per-conflict function: -1 - index at each conflict, the merge elsewhere.
        model by_fn = want.merged;
        for (const record& c : want.conflicts) by_fn[c.index] = -1 - static_cast<int>(c.index);
        check_result(r.resolve([](const cowdb::merge_conflict<int>& c) {
          return -1 - static_cast<int>(c.index);
        }),
                     by_fn, "resolve(fn)", context);
      }
      ++stats_.trials;
    }
  }

 private:
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }
  bool one_in(std::size_t n) { return below(n) == 0; }
  int fresh() { return 8 * next_id_++; }
  // Element x modified by side s (1 = ours, 2 = theirs): same id, another generation.
  static int bump(int x, int s) { return x / 8 * 8 + (x % 8 + s) % 8; }

  // A version of n fresh elements, built in one of several ways.
  Vec make_base(std::size_t n, model& m) {
    m.assign(n, 0);
    for (int& x : m) x = fresh();
    switch (below(4)) {
      case 0:
        return Vec(m);
      case 1: {
        Vec v;
        for (std::size_t k = 0; k < n;) {
          const std::size_t len = std::min(n - k, 1 + below(4 * kCap * kFanout));
          v = v + Vec(m.begin() + static_cast<std::ptrdiff_t>(k),
                      m.begin() + static_cast<std::ptrdiff_t>(k + len));
          k += len;
        }
        return v;
      }
      case 2: {
        typename Vec::editor e;
        for (std::size_t k = n; k-- > 0;) e.push_front(m[k]);
        return std::move(e).persistent();
      }
      default: {  // inserted into, then cut back to the elements of m
        Vec v(m);
        model vm = m;
        for (std::size_t k = below(6); k-- > 0;) {
          const std::size_t i = below(vm.size() + 1);
          const model ins(1 + below(3 * kCap), -8);  // placeholders, erased below
          v = v.insert(i, ins);
          vm.insert(vm.begin() + static_cast<std::ptrdiff_t>(i), ins.begin(), ins.end());
        }
        for (std::size_t i = vm.size(); i-- > 0;) {
          if (vm[i] == -8) {
            v = v.erase(i);
            vm.erase(vm.begin() + static_cast<std::ptrdiff_t>(i));
          }
        }
        return v;
      }
    }
  }

  void check_result(const Vec& got, const model& want, const char* what, const auto& context) {
    try {
      got.check_invariants();
    } catch (const std::logic_error& e) {
      FAIL(fmt::format("{}: {}\n{}", what, e.what(), context()));
    }
    const model g = to_model(got);
    if (g != want) {
      FAIL(fmt::format("{}:\n  expected {}\n  got      {}\n{}", what, want, g, context()));
    }
  }

  // Both sides' diffs from base, for failure messages.
  std::string diffs(const Vec& base, const Vec& ours, const Vec& theirs) {
    std::string s;
    for (const auto* side : {&ours, &theirs}) {
      s += side == &ours ? "diff(base, ours):" : "diff(base, theirs):";
      const auto d = cowdb::diff(base, *side);
      for (const cowdb::diff_range& r : d.ranges()) {
        s += fmt::format(" [{}, {}) kind {} shift {};", r.first, r.last, static_cast<int>(r.kind),
                         r.shift);
      }
      s += "\n";
    }
    return s;
  }

  // Applies to v (a version) and m (its model) one edit at index i of its current contents.
  void do_set_run(Vec& v, model& m, std::size_t i, std::size_t len, int s) {
    log_ += fmt::format("  set run [{}, {})\n", i, i + len);
    if (len == 1 && one_in(2)) {
      v = one_in(2) ? v.set(i, bump(m[i], s)) : std::move(v).set(i, bump(m[i], s));
    } else if (one_in(2)) {
      v = v.transform(i, i + len, [s](int x) { return bump(x, s); });
    } else {
      auto e = v.transient();
      for (std::size_t k = i; k < i + len; ++k) e.set(k, bump(m[k], s));
      v = std::move(e).persistent();
    }
    for (std::size_t k = i; k < i + len; ++k) m[k] = bump(m[k], s);
  }
  void do_insert(Vec& v, model& m, std::size_t i, const model& ins) {
    log_ += fmt::format("  insert {} at {}\n", ins.size(), i);
    if (ins.size() == 1 && one_in(2)) {
      if (i == 0 && one_in(2)) {
        v = v.push_front(ins[0]);
      } else if (one_in(2)) {
        v = std::move(v).insert(i, ins[0]);
      } else {
        auto e = v.transient();
        e.insert(i, ins[0]);
        v = std::move(e).persistent();
      }
    } else if (one_in(2)) {
      v = v.insert(i, ins);
    } else {
      auto e = v.transient();
      e.insert(i, Vec(ins));
      v = std::move(e).persistent();
    }
    m.insert(m.begin() + static_cast<std::ptrdiff_t>(i), ins.begin(), ins.end());
  }
  void do_erase(Vec& v, model& m, std::size_t i, std::size_t len) {
    log_ += fmt::format("  erase [{}, {})\n", i, i + len);
    switch (below(4)) {
      case 0:
        v = len == 1 ? v.erase(i) : v.erase(i, i + len);
        break;
      case 1:
        v = std::move(v).erase(i, i + len);
        break;
      case 2:
        v = i == 0 ? v.drop(len) : v.slice(0, i) + v.slice(i + len, v.size());
        break;
      default: {
        auto e = v.transient();
        e.erase(i, i + len);
        v = std::move(e).persistent();
        break;
      }
    }
    m.erase(m.begin() + static_cast<std::ptrdiff_t>(i),
            m.begin() + static_cast<std::ptrdiff_t>(i + len));
  }
  model fresh_block(std::size_t count) {
    model ins(count);
    for (int& x : ins) x = fresh();
    return ins;
  }

  // Test 1: 0..4 random edits confined to [lo, hi) of base (inserts at its two ends included);
  // returns the stretch's new contents.
  model edit_stretch(Vec& v, model& m, std::size_t lo, std::size_t hi, std::size_t edits, int s) {
    log_ += fmt::format("side {} on [{}, {}):\n", s == 1 ? "ours" : "theirs", lo, hi);
    std::size_t len = hi - lo;
    for (std::size_t k = 0; k < edits; ++k) {
      const std::size_t what = below(4);
      if (what == 0 && len > 0) {
        const std::size_t i = below(len);
        do_set_run(v, m, lo + i, 1 + below(std::min<std::size_t>(len - i, 4)), s);
      } else if (what == 1 && len > 0) {
        const std::size_t i = below(len);
        const std::size_t c = 1 + below(std::min<std::size_t>(len - i, 2 * kCap + 1));
        do_erase(v, m, lo + i, c);
        len -= c;
      } else {
        const model ins = fresh_block(one_in(3) ? 1 + below(3 * kCap * kFanout) : 1);
        do_insert(v, m, lo + below(len + 1), ins);
        len += ins.size();
      }
    }
    REQUIRE(to_model(v) == m);
    return model(m.begin() + static_cast<std::ptrdiff_t>(lo),
                 m.begin() + static_cast<std::ptrdiff_t>(lo + len));
  }

  // Test 2: an edit of the stretch [lo, lo + w).
  op random_op(std::size_t lo, std::size_t w) {
    op o{static_cast<unsigned>(below(3)), 0, 0, 0};
    if (o.kind == 2) {
      o.bf = o.bl = lo + below(w + 1);
      o.count = 1 + (one_in(3) ? below(2 * kCap * kFanout) : below(3));
    } else {
      o.bf = lo + below(w);
      o.bl = o.bf + 1 + below(lo + w - o.bf);
    }
    return o;
  }
  // Applies far edits (each: erase, set run, or insert of up to 3 at its start, chosen here and
  // recorded in its content).
  void apply_far(Vec& v, model& m, std::vector<edit>& far, int s) {
    for (edit& e : far) {
      const std::size_t len = e.bl - e.bf;
      switch (below(3)) {
        case 0:
          do_erase(v, m, e.bf, len);
          e.content.clear();
          break;
        case 1:
          do_set_run(v, m, e.bf, len, s);
          e.content.assign(m.begin() + static_cast<std::ptrdiff_t>(e.bf),
                           m.begin() + static_cast<std::ptrdiff_t>(e.bl));
          break;
        default: {
          const model ins = fresh_block(len);
          do_insert(v, m, e.bf, ins);
          e.bl = e.bf;
          e.content = ins;
          break;
        }
      }
    }
  }
  // Applies a side's stretch op and its far edit (if any), back to front so that each is made
  // at its base position; returns the op's new content (`replay`: an identical change, with
  // that content).
  model apply_side(Vec& v, model& m, const op& o, std::vector<edit>& far, int s,
                   const model* replay) {
    const bool far_after = !far.empty() && far[0].bf > o.bf;
    if (far_after) apply_far(v, m, far, s);
    model content;
    switch (o.kind) {
      case 0:
        do_set_run(v, m, o.bf, o.bl - o.bf, s);
        content.assign(m.begin() + static_cast<std::ptrdiff_t>(o.bf),
                       m.begin() + static_cast<std::ptrdiff_t>(o.bl));
        break;
      case 1:
        do_erase(v, m, o.bf, o.bl - o.bf);
        break;
      default:
        content = replay != nullptr ? *replay : fresh_block(o.count);
        do_insert(v, m, o.bf, content);
        break;
    }
    if (!far_after) apply_far(v, m, far, s);
    REQUIRE(to_model(v) == m);
    return content;
  }

  // Test 3: one random edit anywhere.
  void random_edit(Vec& v, model& m, int s) {
    const std::size_t n = m.size();
    switch (below(n == 0 ? 1 : 6)) {
      case 0: {
        const model ins = fresh_block(one_in(3) ? 1 + below(3 * kCap * kFanout) : 1 + below(2));
        do_insert(v, m, below(n + 1), ins);
        break;
      }
      case 1:
      case 2: {
        const std::size_t i = below(n);
        do_erase(v, m, i, 1 + below(std::min<std::size_t>(n - i, one_in(4) ? n : 2 * kCap)));
        break;
      }
      case 3:
      case 4: {
        const std::size_t i = below(n);
        do_set_run(v, m, i, 1 + below(std::min<std::size_t>(n - i, 4)), s);
        break;
      }
      default: {  // a tail edit: push_back or take
        if (one_in(2)) {
          const int x = fresh();
          log_ += "  push_back\n";
          v = v.push_back(x);
          m.push_back(x);
        } else {
          const std::size_t k = n - 1 - below(std::min<std::size_t>(n, 3));
          log_ += fmt::format("  take({})\n", k);
          v = v.take(k);
          m.resize(k);
        }
        break;
      }
    }
  }

  // ---- the reference merge of test 3, from the two diffs ----------------------------------------
  struct hunk {
    std::size_t bf, bl, sf, sl;
    bool mod;
    bool ours;
  };
  struct expected {
    std::vector<record> conflicts;
    bool structural = false;
    model merged, ours_wins, theirs_wins;
  };

  // Each side's diff as hunks (base range -> side range), touching hunks of a side joined.
  static void hunks_of(const diff_type& d, bool ours, std::vector<hunk>& out) {
    std::vector<hunk> hs;
    for (const cowdb::diff_range& r : d.ranges()) {
      hunk h;
      if (r.kind == change_kind::kModified) {
        h = {r.from_first(), r.from_first() + r.size(), r.first, r.last, true, ours};
      } else if (r.adds()) {
        h = {r.from_first(), r.from_first(), r.first, r.last, false, ours};
      } else {
        h = {r.first, r.last, r.to_first(), r.to_first(), false, ours};
      }
      if (!hs.empty() && hs.back().bl == h.bf && hs.back().sl == h.sf) {
        hs.back().bl = h.bl;
        hs.back().sl = h.sl;
        hs.back().mod = hs.back().mod && h.mod;
      } else {
        hs.push_back(h);
      }
    }
    out.insert(out.end(), hs.begin(), hs.end());
  }
  static bool overlap(const hunk& x, const hunk& y) {
    return overlap(op{0, x.bf, x.bl, 0}, op{0, y.bf, y.bl, 0});
  }

  // The header's rules: clusters are the connected components of "overlaps" between hunks of
  // the two sides.
  static expected expect(const model& mb, const model& mo, const model& mt, const diff_type& dours,
                         const diff_type& dtheirs, merge_mode mode) {
    std::vector<hunk> hs;
    hunks_of(dours, true, hs);
    hunks_of(dtheirs, false, hs);
    std::stable_sort(hs.begin(), hs.end(), [](const hunk& a, const hunk& b) {
      return a.bf < b.bf || (a.bf == b.bf && a.bl < b.bl);
    });
    // Union-find over overlapping pairs of opposite sides.
    std::vector<std::size_t> parent(hs.size());
    for (std::size_t i = 0; i < hs.size(); ++i) parent[i] = i;
    auto find = [&](std::size_t i) {
      while (parent[i] != i) i = parent[i] = parent[parent[i]];
      return i;
    };
    for (std::size_t i = 0; i < hs.size(); ++i) {
      for (std::size_t j = i + 1; j < hs.size(); ++j) {
        if (hs[i].ours != hs[j].ours && overlap(hs[i], hs[j])) parent[find(i)] = find(j);
      }
    }
    // Components in order of their first hunk.
    std::vector<std::vector<std::size_t>> comps;
    std::vector<std::size_t> comp_of(hs.size(), SIZE_MAX);
    for (std::size_t i = 0; i < hs.size(); ++i) {
      const std::size_t root = find(i);
      std::size_t c = SIZE_MAX;
      for (std::size_t j = 0; j < i; ++j) {
        if (find(j) == root) {
          c = comp_of[j];
          break;
        }
      }
      if (c == SIZE_MAX) {
        c = comps.size();
        comps.emplace_back();
      }
      comp_of[i] = c;
      comps[c].push_back(i);
    }
    expected x;
    std::size_t pos = 0;                      // next base element to copy
    std::ptrdiff_t d_ours = 0, d_theirs = 0;  // each side's length change before `pos`
    auto copy = [](model& out, const model& from, std::size_t f, std::size_t l) {
      out.insert(out.end(), from.begin() + static_cast<std::ptrdiff_t>(f),
                 from.begin() + static_cast<std::ptrdiff_t>(l));
    };
    auto side_pos = [](std::size_t b, std::ptrdiff_t d) {
      return static_cast<std::size_t>(static_cast<std::ptrdiff_t>(b) + d);
    };
    for (const auto& comp : comps) {
      std::size_t cf = SIZE_MAX, cl = 0;
      bool has_o = false, has_t = false, all_mod = true;
      std::ptrdiff_t c_ours = 0, c_theirs = 0;
      for (const std::size_t i : comp) {
        const hunk& h = hs[i];
        cf = std::min(cf, h.bf);
        cl = std::max(cl, h.bl);
        (h.ours ? has_o : has_t) = true;
        all_mod = all_mod && h.mod;
        (h.ours ? c_ours : c_theirs) +=
            static_cast<std::ptrdiff_t>(h.sl - h.sf) - static_cast<std::ptrdiff_t>(h.bl - h.bf);
      }
      REQUIRE(cf >= pos);  // components do not interleave
      for (model* out : {&x.merged, &x.ours_wins, &x.theirs_wins}) copy(*out, mb, pos, cf);
      const std::size_t of = side_pos(cf, d_ours), tf = side_pos(cf, d_theirs);
      const std::size_t ol = side_pos(cl, d_ours + c_ours), tl = side_pos(cl, d_theirs + c_theirs);
      if (!has_o || !has_t) {
        const model& side = has_o ? mo : mt;
        const std::size_t f = has_o ? of : tf, l = has_o ? ol : tl;
        for (model* out : {&x.merged, &x.ours_wins, &x.theirs_wins}) copy(*out, side, f, l);
      } else if (all_mod) {
        for (std::size_t b = cf; b < cl; ++b) {
          bool in_o = false, in_t = false;
          for (const std::size_t i : comp) {
            if (b >= hs[i].bf && b < hs[i].bl) (hs[i].ours ? in_o : in_t) = true;
          }
          const int vo = mo[side_pos(b, d_ours)], vt = mt[side_pos(b, d_theirs)];
          if (in_o && in_t && (mode == merge_mode::kWrites || vo != vt)) {
            x.conflicts.push_back({x.merged.size(), mb[b], vo, vt});
            x.merged.push_back(vo);
            x.ours_wins.push_back(vo);
            x.theirs_wins.push_back(vt);
          } else {
            const int v = in_t ? vt : vo;
            for (model* out : {&x.merged, &x.ours_wins, &x.theirs_wins}) out->push_back(v);
          }
        }
      } else {
        const bool same = mode == merge_mode::kValues && comp.size() == 2 &&
                          hs[comp[0]].bf == hs[comp[1]].bf && hs[comp[0]].bl == hs[comp[1]].bl &&
                          std::equal(mo.begin() + static_cast<std::ptrdiff_t>(of),
                                     mo.begin() + static_cast<std::ptrdiff_t>(ol),
                                     mt.begin() + static_cast<std::ptrdiff_t>(tf),
                                     mt.begin() + static_cast<std::ptrdiff_t>(tl));
        if (!same) {
          x.structural = true;
          x.conflicts.push_back({x.merged.size(), at(mb, cf), std::nullopt, std::nullopt});
        }
        copy(x.merged, mo, of, ol);
        copy(x.ours_wins, mo, of, ol);
        if (same) {
          copy(x.theirs_wins, mo, of, ol);
        } else {
          copy(x.theirs_wins, mt, tf, tl);
        }
      }
      d_ours += c_ours;
      d_theirs += c_theirs;
      pos = cl;
    }
    for (model* out : {&x.merged, &x.ours_wins, &x.theirs_wins}) copy(*out, mb, pos, mb.size());
    return x;
  }

  std::uint64_t seed_;
  std::mt19937_64 rng_;
  std::uint64_t trial_ = 0;
  int next_id_ = 1;
  std::string log_;
  merge_stats stats_;
};

template <class T, std::size_t ChunkBytes, std::size_t Fanout>
struct shape {
  using vec = cowdb::pvec<T, ChunkBytes, Fanout>;
};
using int_c1_f4 = shape<int, sizeof(int), 4>;
using int_c2_f4 = shape<int, 2 * sizeof(int), 4>;
using int_c4_f4 = shape<int, 4 * sizeof(int), 4>;
using int_c4_f8 = shape<int, 4 * sizeof(int), 8>;

std::uint64_t announced_seed() {
  static const std::uint64_t seed = [] {
    const std::uint64_t s = Catch::rngSeed();
    fmt::print("merge shift model test: seed {} (replay with --rng-seed {})\n", s, s);
    return s;
  }();
  return seed;
}

bool verbose() { return std::getenv("COWDB_MODEL_VERBOSE") != nullptr; }

template <class Vec>
void report(const char* what, const merge_stats& s) {
  if (!verbose()) return;
  fmt::print(
      "  {}, chunk {}, fanout {}: {} trials ({} shifted, {} with conflicts, {} structural, "
      "{} agreements, {} skipped)\n",
      what, Vec::chunk_capacity, Vec::fanout, s.trials, s.shifted, s.conflicts, s.structural,
      s.agreements, s.skipped);
}

}  // namespace

TEMPLATE_TEST_CASE("merge shift model: disjoint edits on both sides merge cleanly",
                   "[merge][model][structural]", int_c1_f4, int_c2_f4, int_c4_f4, int_c4_f8) {
  using vec = typename TestType::vec;
  merge_runner<vec> runner(announced_seed());
  runner.disjoint(3000);
  report<vec>("disjoint", runner.stats());
  CHECK(runner.stats().shifted > 1000);
  CHECK(runner.stats().both_resized > 500);  // kWrites merged disjoint inserts/erases on both
}

TEMPLATE_TEST_CASE("merge shift model: overlapping edits conflict and resolve to one side",
                   "[merge][model][structural]", int_c1_f4, int_c2_f4, int_c4_f4, int_c4_f8) {
  using vec = typename TestType::vec;
  merge_runner<vec> runner(announced_seed());
  runner.overlapping(3000);
  report<vec>("overlapping", runner.stats());
  CHECK(runner.stats().structural > 500);
  CHECK(runner.stats().agreements > 50);
}

TEMPLATE_TEST_CASE("merge shift model: random edits anywhere follow the hunk rules",
                   "[merge][model][structural]", int_c1_f4, int_c2_f4, int_c4_f4, int_c4_f8) {
  using vec = typename TestType::vec;
  merge_runner<vec> runner(announced_seed());
  runner.anywhere(3000);
  report<vec>("anywhere", runner.stats());
  CHECK(runner.stats().trials > 1000);
}
