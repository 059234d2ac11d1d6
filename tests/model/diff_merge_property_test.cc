// Randomized tests of diff(), patch() and merge() against plain std::vector models.
//
// Each iteration builds a random (base, ours, theirs) triple: base comes from a small pool of live
// versions (so chunks are shared across many versions and iterations) or is built fresh; ours
// and theirs are derived from base by random edits (set, update, push_back, pop_back, take,
// resize, transform on a range, editor batches). Values come from a domain of 4, so equal edits on
// both sides happen often. Tiny chunks (2 and 4 elements, fan-out 2 and 4) make deep trees from a
// few dozen elements.
//
// The merge model is written from the rules in merge.h's header comment, element by element, with
// std::optional for an element beyond a version's length:
//   - per element: o == t -> o; o == b -> t; t == b -> o; otherwise a conflict, "structural" when
//     ours or theirs is absent (modify/delete);
//   - lengths: only one side changed its length -> that length; both appended the same count, or
//     equal lengths -> that length; both truncated -> the shorter; both appended different counts,
//     or one appended while the other truncated -> a length conflict, reported on every index that
//     only one side has, with the merged() result at ours' length;
//   - resolving by a side takes that side's value at element conflicts, and that side's length and
//     tail when there is a structural conflict.
// Every check failure prints the seed and iteration; rerun with --rng-seed to replay.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace {

using cowdb::change_kind;
using cowdb::merge_side;
using Model = std::vector<int>;
using Opt = std::optional<int>;

constexpr int kDomain = 4;

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}
  // Uniform in [0, n). REQUIRES: n > 0.
  std::size_t Below(std::size_t n) { return static_cast<std::size_t>(g_() % n); }
  // Uniform in [lo, hi].
  std::size_t Between(std::size_t lo, std::size_t hi) { return lo + Below(hi - lo + 1); }
  bool Percent(std::size_t p) { return Below(100) < p; }
  int Value() { return static_cast<int>(Below(kDomain)); }

 private:
  std::mt19937_64 g_;
};

Opt At(const Model& v, std::size_t i) { return i < v.size() ? Opt(v[i]) : std::nullopt; }

std::string Show(const Opt& x) { return x ? fmt::format("{}", *x) : std::string("-"); }

template <class V>
Model ToModel(const V& v) {
  return Model(v.begin(), v.end());
}

// ---- random edits, applied to a version and its model alike -------------------------------------

int Bump(int x) { return (x + 1) % kDomain; }
int Mirror(int x) { return kDomain - 1 - x; }

template <class V>
void EditorBatch(Rng& rng, V& v, Model& m) {
  auto e = v.transient();
  const std::size_t steps = rng.Between(1, 6);
  for (std::size_t s = 0; s < steps; ++s) {
    switch (rng.Below(6)) {
      case 0:
      case 1:
        if (!m.empty()) {
          const std::size_t i = rng.Below(m.size());
          const int x = rng.Value();
          e.set(i, x);
          m[i] = x;
        }
        break;
      case 2: {
        const int x = rng.Value();
        e.push_back(x);
        m.push_back(x);
        break;
      }
      case 3:
        if (!m.empty()) {
          e.pop_back();
          m.pop_back();
        }
        break;
      case 4:
        if (!m.empty()) {
          const std::size_t i = rng.Below(m.size());
          e.update(i, Bump);
          m[i] = Bump(m[i]);
        }
        break;
      default: {
        const std::size_t n = rng.Between(m.size() > 3 ? m.size() - 3 : 0, m.size() + 3);
        const int x = rng.Value();
        e.resize(n, x);
        m.resize(n, x);
        break;
      }
    }
  }
  v = std::move(e).persistent();
}

// One random edit. With `keep_length`, only edits that keep the length.
template <class V>
void RandomEdit(Rng& rng, V& v, Model& m, bool keep_length) {
  const std::size_t op = keep_length ? rng.Below(4) : rng.Below(11);
  const std::size_t n = m.size();
  switch (op) {
    case 0:  // set
      if (n > 0) {
        const std::size_t i = rng.Below(n);
        const int x = rng.Value();
        v = v.set(i, x);
        m[i] = x;
      }
      break;
    case 1:  // set on an rvalue (in place where v's nodes are private)
      if (n > 0) {
        const std::size_t i = rng.Below(n);
        const int x = rng.Value();
        v = std::move(v).set(i, x);
        m[i] = x;
      }
      break;
    case 2:  // update
      if (n > 0) {
        const std::size_t i = rng.Below(n);
        v = v.update(i, Bump);
        m[i] = Bump(m[i]);
      }
      break;
    case 3:  // transform on a short range
      if (n > 0) {
        const std::size_t first = rng.Below(n);
        const std::size_t last = std::min(n, first + rng.Between(1, 6));
        v = v.transform(first, last, Mirror);
        for (std::size_t i = first; i < last; ++i) m[i] = Mirror(m[i]);
      }
      break;
    case 4:  // push_back
    case 5: {
      const std::size_t k = rng.Between(1, 4);
      for (std::size_t j = 0; j < k; ++j) {
        const int x = rng.Value();
        v = rng.Percent(50) ? v.push_back(x) : std::move(v).push_back(x);
        m.push_back(x);
      }
      break;
    }
    case 6:  // pop_back
      if (n > 0) {
        v = v.pop_back();
        m.pop_back();
      }
      break;
    case 7: {  // take (sometimes beyond the size)
      const std::size_t k = rng.Between(n > 8 ? n - 8 : 0, n + 2);
      v = v.take(k);
      m.resize(std::min(k, n));
      break;
    }
    case 8: {  // resize
      const std::size_t k = rng.Between(n > 5 ? n - 5 : 0, n + 5);
      const int x = rng.Value();
      v = v.resize(k, x);
      m.resize(k, x);
      break;
    }
    default:
      EditorBatch(rng, v, m);
      break;
  }
}

// ---- diff checks --------------------------------------------------------------------------------

struct Change {
  std::size_t index;
  change_kind kind;
  Opt old_value;
  Opt new_value;
  friend bool operator==(const Change&, const Change&) = default;
};

std::ostream& operator<<(std::ostream& os, const Change& c) {
  return os << fmt::format("{{{} kind={} {}->{}}}", c.index, static_cast<int>(c.kind),
                           Show(c.old_value), Show(c.new_value));
}

struct ModelDiff {
  std::vector<Change> changes;
  std::vector<cowdb::diff_range> ranges;
  std::size_t modified = 0;
};

// The changes from a to b by plain comparison; ranges are maximal runs of modified indices, then
// the appended or truncated tail.
ModelDiff DiffOf(const Model& a, const Model& b) {
  ModelDiff d;
  const std::size_t m = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < m; ++i) {
    if (a[i] == b[i]) continue;
    d.changes.push_back({i, change_kind::kModified, a[i], b[i]});
    ++d.modified;
    if (!d.ranges.empty() && d.ranges.back().last == i) {
      ++d.ranges.back().last;
    } else {
      d.ranges.push_back({i, i + 1, change_kind::kModified});
    }
  }
  for (std::size_t i = m; i < b.size(); ++i) {
    d.changes.push_back({i, change_kind::kAppended, std::nullopt, b[i]});
  }
  for (std::size_t i = m; i < a.size(); ++i) {
    d.changes.push_back({i, change_kind::kTruncated, a[i], std::nullopt});
  }
  if (b.size() > m) d.ranges.push_back({m, b.size(), change_kind::kAppended});
  if (a.size() > m) d.ranges.push_back({m, a.size(), change_kind::kTruncated});
  return d;
}

template <class D>
std::vector<Change> ChangesOf(const D& d) {
  std::vector<Change> out;
  for (const auto& c : d) {
    out.push_back({c.index, c.kind, c.old_value ? Opt(*c.old_value) : std::nullopt,
                   c.new_value ? Opt(*c.new_value) : std::nullopt});
  }
  return out;
}

// diff(a, b) against the models, and patch() on a itself and on an equal copy built separately.
template <class V>
void CheckDiff(const V& a, const Model& ma, const V& b, const Model& mb, bool patch_twin) {
  const auto d = cowdb::diff(a, b);
  const ModelDiff want = DiffOf(ma, mb);
  CHECK(ChangesOf(d) == want.changes);
  CHECK(d.ranges() == want.ranges);
  CHECK(d.modified_count() == want.modified);
  CHECK(d.appended_count() == (mb.size() > ma.size() ? mb.size() - ma.size() : 0));
  CHECK(d.truncated_count() == (ma.size() > mb.size() ? ma.size() - mb.size() : 0));
  CHECK(d.changed_count() == want.changes.size());
  CHECK(d.empty() == want.changes.empty());
  CHECK(d.empty() == (ma == mb));
  // A diff reads at most the chunks of the common prefix.
  CHECK(d.stats().elements_compared <= std::min(ma.size(), mb.size()));

  const V p = cowdb::patch(a, d);
  CHECK(p == b);
  CHECK(ToModel(p) == mb);
  if (patch_twin) {
    const V twin(ma);
    CHECK(ToModel(cowdb::patch(twin, d)) == mb);
    CHECK(cowdb::diff(twin, b).ranges() == want.ranges);  // versions sharing nothing
  }
}

// ---- merge model --------------------------------------------------------------------------------

struct Rec {
  std::size_t index;
  Opt base;
  Opt ours;
  Opt theirs;
  bool structural() const { return !ours.has_value() || !theirs.has_value(); }
  friend bool operator==(const Rec&, const Rec&) = default;
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << fmt::format("{{{}: b={} o={} t={}}}", r.index, Show(r.base), Show(r.ours),
                           Show(r.theirs));
}

struct MergeModel {
  std::vector<Rec> conflicts;  // in index order
  bool length_conflict = false;
  bool structural = false;  // a length or modify/delete conflict
  Model merged;             // conflicts left as in ours; ours' length on a length conflict
  Model ours_wins;          // resolve(kOurs)
  Model theirs_wins;        // resolve(kTheirs)
  Model by_fn;              // resolve(FnValue), when !structural
  bool consistent = true;   // the element rule and the length rule agree (a self-check)
};

struct Elem {
  Opt value;
  bool conflict;
};

Elem MergeElement(const Opt& b, const Opt& o, const Opt& t) {
  if (o == t) return {o, false};
  if (o == b) return {t, false};
  if (t == b) return {o, false};
  return {std::nullopt, true};
}

int FnValue(const Opt& b, const Opt& o, const Opt& t) {
  return 100 + 16 * b.value_or(kDomain) + 4 * o.value_or(0) + t.value_or(0);
}

MergeModel MergeOf(const Model& b, const Model& o, const Model& t) {
  MergeModel mm;
  const std::size_t lb = b.size(), lo = o.size(), lt = t.size();
  const bool o_app = lo > lb, t_app = lt > lb, o_cut = lo < lb, t_cut = lt < lb;
  mm.length_conflict = (o_app && t_app && lo != lt) || (o_app && t_cut) || (o_cut && t_app);
  const std::size_t lmin = std::min(lo, lt), lmax = std::max(lo, lt);

  // Element by element over every index any version has (only the common part on a length
  // conflict: the rest is the length conflict itself).
  const std::size_t end = mm.length_conflict ? lmin : std::max({lb, lo, lt});
  std::vector<Elem> elems;
  for (std::size_t i = 0; i < end; ++i) {
    elems.push_back(MergeElement(At(b, i), At(o, i), At(t, i)));
    if (elems.back().conflict) mm.conflicts.push_back({i, At(b, i), At(o, i), At(t, i)});
  }
  if (mm.length_conflict) {
    for (std::size_t i = lmin; i < lmax; ++i) {
      mm.conflicts.push_back({i, At(b, i), At(o, i), At(t, i)});
    }
  }
  for (const Rec& r : mm.conflicts) mm.structural |= r.structural();

  // The merged length: ours' on a length conflict, otherwise by the length rules.
  std::size_t len;
  if (mm.length_conflict) {
    len = lo;
  } else if (lo == lb) {
    len = lt;
  } else if (lt == lb || lo == lt) {
    len = lo;
  } else {
    len = lmin;  // both truncated
  }
  if (!mm.length_conflict) {
    // Self-check: below the length every non-conflicting element exists, beyond it none does.
    for (std::size_t i = 0; i < end; ++i) {
      if (!elems[i].conflict && elems[i].value.has_value() != (i < len)) mm.consistent = false;
      if (elems[i].conflict && elems[i].value.has_value()) mm.consistent = false;
      if (elems[i].conflict && i < len && Rec{i, At(b, i), At(o, i), At(t, i)}.structural()) {
        mm.consistent = false;
      }
    }
  }

  // Element i of a result whose conflicts take `pick`.
  auto resolved = [&](std::size_t i, auto pick) -> int {
    if (!elems[i].conflict) return *elems[i].value;
    return pick(At(b, i), At(o, i), At(t, i));
  };
  auto take_ours = [](const Opt&, const Opt& x, const Opt&) { return *x; };
  auto take_theirs = [](const Opt&, const Opt&, const Opt& x) { return *x; };
  auto take_fn = [](const Opt& x, const Opt& y, const Opt& z) { return FnValue(x, y, z); };

  // merged(): ours at element conflicts, ours' tail beyond the common part on a length conflict.
  // On a modify/delete conflict it keeps the rule's length, so an element ours modified and
  // theirs deleted is absent from merged() (merge.h's comment on merged() says conflicting
  // elements are "left as in ours"; with holes possible, that cannot hold literally).
  const std::size_t common = mm.length_conflict ? lmin : len;  // <= len
  for (std::size_t i = 0; i < common; ++i) mm.merged.push_back(resolved(i, take_ours));
  for (std::size_t i = common; i < len; ++i) mm.merged.push_back(o[i]);

  if (mm.structural) {
    // A side's length and tail; the common part merged with that side's values.
    for (std::size_t i = 0; i < lmin; ++i) {
      mm.ours_wins.push_back(resolved(i, take_ours));
      mm.theirs_wins.push_back(resolved(i, take_theirs));
    }
    for (std::size_t i = lmin; i < lo; ++i) mm.ours_wins.push_back(o[i]);
    for (std::size_t i = lmin; i < lt; ++i) mm.theirs_wins.push_back(t[i]);
  } else {
    for (std::size_t i = 0; i < len; ++i) {
      mm.ours_wins.push_back(resolved(i, take_ours));
      mm.theirs_wins.push_back(resolved(i, take_theirs));
      mm.by_fn.push_back(resolved(i, take_fn));
    }
  }
  return mm;
}

template <class R>
std::vector<Rec> RecordsOf(const R& r) {
  std::vector<Rec> out;
  for (const auto& c : r.conflicts()) out.push_back({c.index, c.base, c.ours, c.theirs});
  return out;
}

// merge(b, o, t) and every resolution against the model.
template <class V>
void CheckMerge(const V& b, const Model& mb, const V& o, const Model& mo, const V& t,
                const Model& mt) {
  const MergeModel want = MergeOf(mb, mo, mt);
  REQUIRE(want.consistent);  // the model itself (a failure here is a test bug)
  const auto r = cowdb::merge(b, o, t);
  CHECK(r.ok() == want.conflicts.empty());

  // The conflicts, exactly, in index order (tests/regress/diff_merge_regress.cc has the case
  // where structural records used to come first).
  CHECK(RecordsOf(r) == want.conflicts);
  std::vector<bool> structural, want_structural;
  for (const auto& c : r.conflicts()) structural.push_back(c.structural());
  for (const Rec& c : want.conflicts) want_structural.push_back(c.structural());
  CHECK(structural == want_structural);

  CHECK(ToModel(r.merged()) == want.merged);
  CHECK(ToModel(r.resolve(merge_side::kOurs)) == want.ours_wins);
  CHECK(ToModel(r.resolve(merge_side::kTheirs)) == want.theirs_wins);
  CHECK(ToModel(cowdb::merge(b, o, t, merge_side::kOurs)) == want.ours_wins);
  CHECK(ToModel(cowdb::merge(b, o, t, merge_side::kTheirs)) == want.theirs_wins);
  if (want.structural) {
    CHECK_THROWS_AS(r.resolve([](const cowdb::merge_conflict<int>&) { return 0; }),
                    std::logic_error);
  } else {
    const V fixed = r.resolve(
        [](const cowdb::merge_conflict<int>& c) { return FnValue(c.base, c.ours, c.theirs); });
    CHECK(ToModel(fixed) == want.by_fn);
  }
}

// ---- the randomized run -------------------------------------------------------------------------

template <class V>
struct Slot {
  V v;
  Model m;
};

template <class V>
V Build(Rng& rng, const Model& m) {
  switch (rng.Below(3)) {
    case 0:
      return V(m);  // bottom-up, chunk by chunk
    case 1: {
      auto e = typename V::editor();
      for (const int x : m) e.push_back(x);
      return std::move(e).persistent();
    }
    default: {
      V v;
      for (const int x : m) v = std::move(v).push_back(x);
      return v;
    }
  }
}

template <class V>
Slot<V> FreshBase(Rng& rng) {
  const std::size_t n = rng.Percent(80) ? rng.Below(40) : rng.Below(300);
  Model m(n);
  for (int& x : m) x = rng.Value();
  return {Build<V>(rng, m), std::move(m)};
}

template <class V>
bool Matches(const Slot<V>& s) {
  return s.v.size() == s.m.size() && std::equal(s.v.begin(), s.v.end(), s.m.begin());
}

template <class V>
void RunTriples(std::uint64_t seed, std::size_t iterations) {
  const std::int64_t live_before = cowdb::internal::live_nodes();
  CAPTURE(seed);
  {
    Rng rng(seed);
    std::vector<Slot<V>> pool;
    for (int k = 0; k < 4; ++k) pool.push_back(FreshBase<V>(rng));

    for (std::size_t it = 0; it < iterations; ++it) {
      CAPTURE(it);
      // The base: a pool version (kept under 300 elements), possibly edited, or a fresh one.
      Slot<V> base;
      if (rng.Percent(20)) {
        base = FreshBase<V>(rng);
      } else {
        base = pool[rng.Below(pool.size())];
        if (base.m.size() > 300) {
          const std::size_t k = rng.Below(300);
          base.v = base.v.take(k);
          base.m.resize(k);
        }
        for (std::size_t e = rng.Below(3); e > 0; --e) RandomEdit(rng, base.v, base.m, false);
      }

      // Ours and theirs: the same edits on both sides (equal results built separately), disjoint
      // edits by construction, edits in one small window on both sides (element conflicts), or
      // independent random edits.
      Slot<V> ours = base, theirs = base;
      const std::size_t mode = rng.Below(10);
      bool disjoint = false;
      std::size_t split = 0;
      if (mode == 0) {  // the same edits on both sides
        const std::size_t edits = rng.Between(1, 4);
        Rng twin = rng;
        for (std::size_t e = 0; e < edits; ++e) RandomEdit(rng, ours.v, ours.m, false);
        for (std::size_t e = 0; e < edits; ++e) RandomEdit(twin, theirs.v, theirs.m, false);
        CHECK(ours.m == theirs.m);
      } else if (mode <= 2 && !base.m.empty()) {  // disjoint: ours below the split, theirs above
        disjoint = true;
        split = rng.Below(base.m.size() + 1);
        for (std::size_t e = rng.Between(1, 4); e > 0 && split > 0; --e) {
          const std::size_t i = rng.Below(split);
          const int x = rng.Value();
          if (rng.Percent(50)) {
            ours.v = ours.v.set(i, x);
            ours.m[i] = x;
          } else {
            ours.v = ours.v.update(i, Bump);
            ours.m[i] = Bump(ours.m[i]);
          }
        }
        for (std::size_t e = rng.Between(1, 4); e > 0 && split < base.m.size(); --e) {
          const std::size_t i = split + rng.Below(base.m.size() - split);
          const int x = rng.Value();
          theirs.v = theirs.v.set(i, x);
          theirs.m[i] = x;
        }
        if (rng.Percent(30)) {  // an append on theirs' side only
          const int x = rng.Value();
          theirs.v = theirs.v.push_back(x);
          theirs.m.push_back(x);
        }
      } else if (mode <= 4 && !base.m.empty()) {  // both sides edit the same small window
        const std::size_t w = rng.Below(base.m.size());
        const std::size_t wn = std::min<std::size_t>(8, base.m.size() - w);
        for (Slot<V>* side : {&ours, &theirs}) {
          for (std::size_t e = rng.Between(1, 3); e > 0; --e) {
            const std::size_t i = w + rng.Below(wn);
            const int x = rng.Value();
            side->v = side->v.set(i, x);
            side->m[i] = x;
          }
          if (rng.Percent(25)) RandomEdit(rng, side->v, side->m, false);
        }
      } else {
        const bool keep_length = rng.Percent(30);
        for (std::size_t e = rng.Below(5); e > 0; --e) RandomEdit(rng, ours.v, ours.m, keep_length);
        for (std::size_t e = rng.Below(5); e > 0; --e) {
          RandomEdit(rng, theirs.v, theirs.m, keep_length);
        }
      }
      REQUIRE(Matches(base));
      REQUIRE(Matches(ours));
      REQUIRE(Matches(theirs));

      // diff and patch.
      CheckDiff(base.v, base.m, ours.v, ours.m, true);
      CheckDiff(base.v, base.m, theirs.v, theirs.m, false);
      CheckDiff(ours.v, ours.m, theirs.v, theirs.m, false);
      CheckDiff(theirs.v, theirs.m, base.v, base.m, false);
      const auto same = cowdb::diff(ours.v, ours.v);
      CHECK(same.empty());
      CHECK(same.stats().inner_pairs + same.stats().leaf_pairs + same.stats().elements_compared ==
            0);

      // merge with one side unchanged.
      const auto left = cowdb::merge(base.v, ours.v, base.v);
      CHECK(left.ok());
      CHECK(ToModel(left.merged()) == ours.m);
      const auto right = cowdb::merge(base.v, base.v, theirs.v);
      CHECK(right.ok());
      CHECK(ToModel(right.merged()) == theirs.m);

      // Disjoint edits merge to their union.
      if (disjoint) {
        Model u = theirs.m;
        for (std::size_t i = 0; i < split; ++i) u[i] = ours.m[i];
        const auto r = cowdb::merge(base.v, ours.v, theirs.v);
        CHECK(r.ok());
        CHECK(ToModel(r.merged()) == u);
        CHECK(ToModel(cowdb::merge(base.v, theirs.v, ours.v).merged()) == u);
      }

      // The full merge model, both ways round.
      CheckMerge(base.v, base.m, ours.v, ours.m, theirs.v, theirs.m);
      CheckMerge(base.v, base.m, theirs.v, theirs.m, ours.v, ours.m);

      // Nothing above wrote into a shared chunk.
      REQUIRE(Matches(base));
      REQUIRE(Matches(ours));
      REQUIRE(Matches(theirs));
      for (const Slot<V>& s : pool) REQUIRE(Matches(s));

      // Keep one of the new versions for later iterations (a merge result, so merged chunks get
      // shared onward too).
      Slot<V>& dst = pool[rng.Below(pool.size())];
      switch (rng.Below(4)) {
        case 0:
          dst = ours;
          break;
        case 1:
          dst = theirs;
          break;
        default: {
          const MergeModel mm = MergeOf(base.m, ours.m, theirs.m);
          const merge_side side = rng.Percent(50) ? merge_side::kOurs : merge_side::kTheirs;
          dst = {cowdb::merge(base.v, ours.v, theirs.v, side),
                 side == merge_side::kOurs ? mm.ours_wins : mm.theirs_wins};
          REQUIRE(Matches(dst));
          break;
        }
      }
    }
  }
  CHECK(cowdb::internal::live_nodes() == live_before);
}

// 2 x 50,000 triples per run, each merge checked both ways round.
constexpr std::size_t kTriplesPerShape = 50'000;

std::uint64_t SeedFor(std::uint64_t shape) {
  return (static_cast<std::uint64_t>(Catch::rngSeed()) << 8) + shape;
}

}  // namespace

TEST_CASE("diff/merge agree with the vector model: chunks of 2, fan-out 2", "[diffmerge]") {
  RunTriples<cowdb::pvec<int, 2 * sizeof(int), 2>>(SeedFor(1), kTriplesPerShape);
}

TEST_CASE("diff/merge agree with the vector model: chunks of 4, fan-out 4", "[diffmerge]") {
  RunTriples<cowdb::pvec<int, 4 * sizeof(int), 4>>(SeedFor(2), kTriplesPerShape);
}
