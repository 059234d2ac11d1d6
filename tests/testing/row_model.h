// A plain model of versions as lists of rows (id, value), and checks of cowdb::diff, patch and
// cowdb::merge against it, by row identity (pvec::row_id). Shared by
// tests/model/row_model_test.cc, tests/testing/pvec_structural_model.h (the structural model tests)
// and tests/unit/row_identity_test.cc.
//
// Diff (check_diff). For versions with a row id in common ("related") and no id held twice:
//   - ranges are in to() order (at one to() position removed ranges first), none empty;
//   - kModified: rows of both versions (same id at from_first() + k and first + k), in place,
//     values differ; kMoved: the same pairing, rows whose order changed (values may differ);
//     kInserted/kAppended: rows only in to(), from_first() = the from() position of the next
//     in-place row after them in to() (from().size() if none: then kAppended); kErased/kTruncated:
//     rows only in from(), to_first() = the to() position of the next in-place row after them in
//     from() (to().size() if none), kTruncated when they end at from()'s end;
//   - every row only in to() is added exactly once, every row only in from() removed exactly once;
//   - the rows not moved ("in place") keep their relative order, and the moved rows are as few as
//     possible: (rows in common) - (longest increasing run of from() positions in to() order);
//     the engine picks one such set, the check accepts any;
//   - in-place rows are reported modified exactly when their values differ; unchanged rows are in
//     no range; every count (modified, inserted, appended, erased, truncated, moved), shifted()
//     and empty() follow;
//   - iterating the diff gives each range's rows with their old and new values;
//   - patch(from, d) gives to(), and so does patch() onto an equal version built separately
//     (check_patch_onto_copy, also callable on its own).
// For every pair: an empty diff means equal values, and from().size() + added rows == to().size()
// + removed rows. Versions with no id in common are compared by value (diff.h): beyond that only
// patch() and "empty() iff equal" are checked; a pair where a version holds an id twice (v + v)
// gets the checks for every pair and patch().
//
// Merge (check_merge). For base, ours and theirs without repeated ids, whose rows new to ours and
// new to theirs are distinct. Per base row, each side kept it in place unchanged, modified it,
// erased it, or moved it (the rows diff(base, side) reports as moved: check_diff validates that
// set first, and the model uses the same choice as the engine); rows new to a side are inserted
// at a gap, the base position of the next in-place row after them in that side (base.size() at
// the end). Conflicts, at most one per base row, in this order of precedence (the rules are
// merge_rules.h's, shared with db_model.h):
//   kBothErased (kWrites only)   both erased it;
//   kModifyErase                 one side erased it, the other modified or moved it;
//   kMove                        both moved it; deciding takes that side's row (place and value);
//   kValue                       both changed its value (kValues: to different values);
// and kInsertOrder per gap where both sides inserted rows (kValues: unless the two inserted value
// sequences are equal; then only ours' rows are kept, with ours' ids, whichever side the engine
// starts from). The merged rows, as the set of (id, value): every edit of both sides applied
// (values, erasures, inserts, moves), a conflicting row as the deciding side has it. The order:
//   - for each side S, the rows S holds in place (that the other side did not move either) keep
//     S's relative order among themselves, with the rows S inserted, and with the rows S moved
//     (where S's place stands); the order between S's inserted and S's moved rows in one gap is
//     not checked (when S loses the insert order there, the engine puts S's moved rows before
//     the other side's inserts and S's inserted rows after them);
//   - at a kInsertOrder gap the deciding side's inserted rows come before the other side's.
// (Rows placed by different sides in the same gap, e.g. an insert of ours and a move of theirs,
// may come in either order.) Each conflict names base_index, base/ours/theirs values (empty
// where a side erased the row; kInsertOrder: the first row each side inserted at the gap),
// ours_index/theirs_index, and index: the row in merged() (kInsertOrder: the deciding side's
// first inserted row) when it is there. merged() is the merge decided for ours, resolve(kTheirs)
// and merge(..., merge_side::kTheirs) for theirs.
//
// The checks return a description of every mismatch (empty when there is none), so that a test
// can fail at once or count mismatches and go on.
#ifndef COWDB_TESTS_TESTING_ROW_MODEL_H_
#define COWDB_TESTS_TESTING_ROW_MODEL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cowdb/diff.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"
#include "testing/merge_rules.h"

namespace cowdb::testing {

// ---- rows ---------------------------------------------------------------------------------------

template <class T>
struct model_row {
  row_id_t id;
  T value;
  friend bool operator==(const model_row&, const model_row&) = default;
};
template <class T>
using row_list = std::vector<model_row<T>>;

// The rows of a version or an editor: ids by row_id(i), values by index. O(n depth).
template <class V>
row_list<typename V::value_type> rows_of(const V& v) {
  row_list<typename V::value_type> out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back({v.row_id(i), v[i]});
  return out;
}

template <class T>
std::vector<T> values_of(const row_list<T>& r) {
  std::vector<T> out;
  out.reserve(r.size());
  for (const model_row<T>& x : r) out.push_back(x.value);
  return out;
}

// id -> position. With a repeated id, the last position.
template <class T>
std::unordered_map<row_id_t, std::size_t> positions_of(const row_list<T>& r) {
  std::unordered_map<row_id_t, std::size_t> out;
  out.reserve(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) out[r[i].id] = i;
  return out;
}

template <class T>
bool unique_ids(const row_list<T>& r) {
  return positions_of(r).size() == r.size();
}

// The length of the longest strictly increasing subsequence. O(n log n).
inline std::size_t longest_increasing(const std::vector<std::size_t>& s) {
  std::vector<std::size_t> tails;
  for (const std::size_t x : s) {
    auto it = std::lower_bound(tails.begin(), tails.end(), x);
    if (it == tails.end()) {
      tails.push_back(x);
    } else {
      *it = x;
    }
  }
  return tails.size();
}

// ---- messages -----------------------------------------------------------------------------------

template <class T>
std::string show(const T& x) {
  if constexpr (fmt::is_formattable<T>::value) {
    return fmt::format("{}", x);
  } else {
    return "<value>";
  }
}
template <class T>
std::string show(const std::optional<T>& x) {
  return x ? show(*x) : std::string("-");
}

template <class T>
row_id_t min_id(const row_list<T>& r) {
  row_id_t m = r.empty() ? 0 : r[0].id;
  for (const model_row<T>& x : r) m = std::min(m, x.id);
  return m;
}

// Rows as "id:value", ids relative to `id0` (the smallest id of a test triple, say), when short.
template <class T>
std::string show_rows(const row_list<T>& r, row_id_t id0 = 0) {
  if (r.size() > 64) return fmt::format("({} rows)", r.size());
  std::string s = "[";
  for (std::size_t i = 0; i < r.size(); ++i) {
    s += fmt::format("{}{}:{}", i == 0 ? "" : " ", r[i].id - id0, show(r[i].value));
  }
  return s + "]";
}

inline const char* kind_name(change_kind k) {
  static constexpr const char* kNames[] = {"modified", "appended", "truncated",
                                           "inserted", "erased",   "moved"};
  return kNames[static_cast<std::size_t>(k)];
}
inline const char* kind_name(conflict_kind k) {
  static constexpr const char* kNames[] = {"kValue", "kModifyErase", "kBothErased", "kInsertOrder",
                                           "kMove"};
  return kNames[static_cast<std::size_t>(k)];
}

// Collects mismatch descriptions (the first kMax in full).
class mismatches {
 public:
  template <class... Args>
  void add(fmt::format_string<Args...> f, Args&&... args) {
    if (n_++ < kMax) {
      text_ += "\n  ";
      text_ += fmt::format(f, std::forward<Args>(args)...);
    }
  }
  // Another check's mismatches, under a heading.
  void add_all(const std::string& what, const std::string& text) {
    if (text.empty()) return;
    n_ += 1;
    text_ += "\n" + what + ":" + text;
  }
  // Context for the mismatches (not one itself).
  void note(const std::string& text) { notes_ += "\n  " + text; }
  bool empty() const { return n_ == 0; }
  std::string str() const {
    if (n_ == 0) return {};
    return (n_ <= kMax ? text_ : text_ + fmt::format("\n  ... {} more", n_ - kMax)) + notes_;
  }

 private:
  static constexpr std::size_t kMax = 12;
  std::size_t n_ = 0;
  std::string text_;
  std::string notes_;
};

// ---- diff ---------------------------------------------------------------------------------------

// What a diff check covered.
struct diff_summary {
  bool related = false;
  bool exact = false;     // checked range by range (related, no repeated id)
  bool repeated = false;  // a version holds a row twice
  std::size_t modified = 0, inserted = 0, appended = 0, erased = 0, truncated = 0, moved = 0;
};

// The ids of the rows d reports moved.
template <class D>
std::unordered_set<row_id_t> moved_ids(const D& d) {
  std::unordered_set<row_id_t> out;
  for (const diff_range& r : d.ranges()) {
    if (r.kind != change_kind::kMoved) continue;
    for (std::size_t i = r.first; i < r.last; ++i) out.insert(d.to().row_id(i));
  }
  return out;
}

// patch(copy, d) for a copy of d.from() built separately (equal values, other rows) must give
// d.to()'s values (mb).
template <class D, class T = typename D::vec::value_type>
std::string check_patch_onto_copy(const D& d, const row_list<T>& ma, const row_list<T>& mb) {
  using V = typename D::vec;
  mismatches out;
  const V copy(values_of(ma));
  try {
    const V q = patch(copy, d);
    if (!std::ranges::equal(q, values_of(mb))) {
      const row_list<T> mq = rows_of(q);
      out.add("patch(a copy of from() built separately, d) gives {} rows, not to()'s {}{}",
              q.size(), mb.size(),
              mb.size() <= 24 ? fmt::format(": {} instead of {}", show_rows(mq, min_id(mq)),
                                            show_rows(mb, min_id(mb)))
                              : std::string());
      std::string ranges;
      for (const diff_range& r : d.ranges()) {
        ranges += fmt::format(" {}[{}, {}) shift {}", kind_name(r.kind), r.first, r.last, r.shift);
      }
      out.note(fmt::format("ranges:{}", ranges));
    }
    q.check_invariants();
  } catch (const std::exception& e) {
    out.add("patch(a copy of from() built separately, d) threw: {}", e.what());
  }
  return out.str();
}

// Checks d = diff(va, vb) against the rows ma and mb of va and vb (see the file comment).
// `rebuilt_patch`: also check_patch_onto_copy.
template <class D, class T = typename D::vec::value_type>
std::string check_diff_result(const D& d, const row_list<T>& ma, const row_list<T>& mb,
                              diff_summary* summary = nullptr, bool rebuilt_patch = true) {
  using V = typename D::vec;
  mismatches out;
  diff_summary sum;
  const V& va = d.from();
  const V& vb = d.to();
  const std::size_t na = ma.size(), nb = mb.size();
  const std::vector<T> wa = values_of(ma), wb = values_of(mb);
  if (va.size() != na || vb.size() != nb) {
    out.add("the versions have {} and {} rows, the models {} and {}", va.size(), vb.size(), na, nb);
    return out.str();
  }
  // patch: onto from() itself, and onto an equal version built separately.
  {
    const V p = patch(va, d);
    if (!(p == vb) || rows_of(p) != mb) out.add("patch(from, d) is not to()");
  }
  if (rebuilt_patch) out.add_all("patch", check_patch_onto_copy(d, ma, mb));
  // Whatever the pairing: an empty diff means equal versions, and the sizes add up.
  if (d.empty() && wa != wb)
    out.add("the diff is empty but the versions differ ({} -> {} rows)", na, nb);
  if (na + d.appended_count() + d.inserted_count() != nb + d.truncated_count() + d.erased_count()) {
    out.add("{} -> {} rows, but {} appended, {} inserted, {} truncated, {} erased", na, nb,
            d.appended_count(), d.inserted_count(), d.truncated_count(), d.erased_count());
  }
  const auto pa = positions_of(ma), pb = positions_of(mb);
  const bool dup = pa.size() != na || pb.size() != nb;
  sum.repeated = dup;
  for (const model_row<T>& r : mb) sum.related = sum.related || pa.contains(r.id);
  if (dup || !sum.related) {
    // By value (or with a repeated id): only patch, and empty() for equal versions.
    if (!sum.related && !d.empty() && wa == wb) {
      out.add("versions with no row in common and equal values have a diff that is not empty");
    }
    if (summary != nullptr) *summary = sum;
    return out.str();
  }
  sum.exact = true;
  enum mark : std::uint8_t { kNone, kMod, kMov, kAdd, kRem };
  std::vector<std::uint8_t> am(na, kNone), bm(nb, kNone);
  std::vector<const diff_range*> adds, removes;
  std::size_t counts[6] = {};
  std::size_t prev_to = 0;
  bool prev_removes = true;
  auto it = d.begin();
  for (const diff_range& r : d.ranges()) {
    const std::size_t ff = r.from_first(), tf = r.to_first(), len = r.size();
    const char* kn = kind_name(r.kind);
    if (r.first >= r.last) out.add("an empty {} range at {}", kn, r.first);
    if ((!r.adds() && ff + len > na) || (!r.removes() && tf + len > nb) || ff > na || tf > nb) {
      out.add("the {} range [{}, {}) (from {}, to {}) overruns {} -> {} rows", kn, r.first, r.last,
              ff, tf, na, nb);
      return out.str();
    }
    if (&r != &d.ranges().front() &&
        (tf < prev_to || (tf == prev_to && r.removes() && !prev_removes))) {
      out.add("the {} range [{}, {}) at to() position {} comes after one at {}{}", kn, r.first,
              r.last, tf, prev_to, tf == prev_to ? " that adds or modifies" : "");
    }
    prev_to = tf;
    prev_removes = r.removes();
    counts[static_cast<std::size_t>(r.kind)] += len;
    for (std::size_t k = 0; k < len; ++k) {
      switch (r.kind) {
        case change_kind::kModified:
        case change_kind::kMoved: {
          const model_row<T>& x = ma[ff + k];
          const model_row<T>& y = mb[tf + k];
          if (x.id != y.id) {
            out.add("{} range [{}, {}): from()[{}] and to()[{}] are different rows", kn, r.first,
                    r.last, ff + k, tf + k);
          }
          if (r.kind == change_kind::kModified && x.value == y.value) {
            out.add("to()[{}] is reported modified but its value {} did not change", tf + k,
                    show(y.value));
          }
          if (am[ff + k] != kNone || bm[tf + k] != kNone) {
            out.add("row to()[{}] / from()[{}] is in two ranges", tf + k, ff + k);
          }
          am[ff + k] = bm[tf + k] = r.kind == change_kind::kMoved ? kMov : kMod;
          break;
        }
        case change_kind::kInserted:
        case change_kind::kAppended:
          if (pa.contains(mb[tf + k].id)) {
            out.add("to()[{}] is reported {} but from() holds it at {}", tf + k, kn,
                    pa.at(mb[tf + k].id));
          }
          if (bm[tf + k] != kNone) out.add("row to()[{}] is in two ranges", tf + k);
          bm[tf + k] = kAdd;
          break;
        case change_kind::kErased:
        case change_kind::kTruncated:
          if (pb.contains(ma[ff + k].id)) {
            out.add("from()[{}] is reported {} but to() holds it at {}", ff + k, kn,
                    pb.at(ma[ff + k].id));
          }
          if (am[ff + k] != kNone) out.add("row from()[{}] is in two ranges", ff + k);
          am[ff + k] = kRem;
          break;
      }
      // The element-wise view.
      if (it == d.end()) {
        out.add("iterating the diff ends inside the {} range [{}, {})", kn, r.first, r.last);
        return out.str();
      }
      const auto ch = *it;
      const bool old_v = !r.adds(), new_v = !r.removes();
      if (ch.index != r.first + k || ch.kind != r.kind || (ch.old_value != nullptr) != old_v ||
          (ch.new_value != nullptr) != new_v ||
          (old_v && ch.old_value != nullptr && !(*ch.old_value == ma[ff + k].value)) ||
          (new_v && ch.new_value != nullptr && !(*ch.new_value == mb[tf + k].value))) {
        out.add("element {} of the {} range [{}, {}) iterates wrong (index {})", k, kn, r.first,
                r.last, ch.index);
      }
      ++it;
    }
    if (r.adds()) adds.push_back(&r);
    if (r.removes()) removes.push_back(&r);
  }
  if (it != d.end()) out.add("iterating the diff runs past its ranges");
  // Rows only on one side are added / removed.
  for (std::size_t j = 0; j < nb; ++j) {
    if (!pa.contains(mb[j].id) && bm[j] != kAdd)
      out.add("to()[{}] is new but not reported added", j);
  }
  for (std::size_t i = 0; i < na; ++i) {
    if (!pb.contains(ma[i].id) && am[i] != kRem)
      out.add("from()[{}] is gone but not reported removed", i);
  }
  // Rows in common: moved or in place.
  std::vector<std::size_t> common_a, in_place_a;
  std::vector<bool> in_place_b(nb, false), in_place_at_a(na, false);
  for (std::size_t j = 0; j < nb; ++j) {
    const auto f = pa.find(mb[j].id);
    if (f == pa.end()) continue;
    const std::size_t i = f->second;
    common_a.push_back(i);
    if ((bm[j] == kMov) != (am[i] == kMov))
      out.add("row to()[{}] = from()[{}] is moved on one side only", j, i);
    if (bm[j] == kMov) continue;
    in_place_b[j] = true;
    in_place_at_a[i] = true;
    if (!in_place_a.empty() && in_place_a.back() > i) {
      out.add("to()[{}] (from()[{}]) is not reported moved but comes after from()[{}]", j, i,
              in_place_a.back());
    }
    in_place_a.push_back(i);
    const bool differs = !(ma[i].value == mb[j].value);
    if (differs != (bm[j] == kMod)) {
      out.add("to()[{}] (from()[{}]) {}: {} -> {}", j, i,
              differs ? "changed value but is not reported modified" : "is reported but unchanged",
              show(ma[i].value), show(mb[j].value));
    }
  }
  const std::size_t lis = longest_increasing(common_a);
  sum.moved = common_a.size() - in_place_a.size();
  if (sum.moved != common_a.size() - lis) {
    out.add(
        "{} rows reported moved, but keeping {} of the {} rows in common in place moves only {}",
        sum.moved, lis, common_a.size(), common_a.size() - lis);
  }
  // Gaps: the next in-place row after a position, on the other side.
  std::vector<std::size_t> next_a(nb + 1, na), next_b(na + 1, nb);
  for (std::size_t j = nb; j-- > 0;) next_a[j] = in_place_b[j] ? pa.at(mb[j].id) : next_a[j + 1];
  for (std::size_t i = na; i-- > 0;) next_b[i] = in_place_at_a[i] ? pb.at(ma[i].id) : next_b[i + 1];
  for (const diff_range* r : adds) {
    const std::size_t want = next_a[r->last];
    if (r->from_first() != want || (r->kind == change_kind::kAppended) != (want == na)) {
      out.add(
          "{} range [{}, {}): from_first() {}, but the next in-place row after it is from()[{}]{}",
          kind_name(r->kind), r->first, r->last, r->from_first(), want,
          want == na ? " (none: appended)" : "");
    }
  }
  for (const diff_range* r : removes) {
    const std::size_t want = next_b[r->last];
    if (r->to_first() != want || (r->kind == change_kind::kTruncated) != (r->last == na)) {
      out.add("{} range [{}, {}): to_first() {}, but the next in-place row after it is to()[{}]{}",
              kind_name(r->kind), r->first, r->last, r->to_first(), want,
              r->last == na ? " (at the end: truncated)" : "");
    }
  }
  // Counts.
  for (std::size_t j = 0; j < nb; ++j) {
    if (in_place_b[j] && bm[j] == kMod) ++sum.modified;
    if (!pa.contains(mb[j].id)) ++(next_a[j + 1] == na ? sum.appended : sum.inserted);
  }
  for (std::size_t i = na; i-- > 0 && !pb.contains(ma[i].id);) ++sum.truncated;
  for (std::size_t i = 0; i < na; ++i) sum.erased += pb.contains(ma[i].id) ? 0 : 1;
  sum.erased -= sum.truncated;
  const std::size_t want[6] = {sum.modified, sum.appended, sum.truncated,
                               sum.inserted, sum.erased,   sum.moved};
  const std::size_t got[6] = {d.modified_count(), d.appended_count(), d.truncated_count(),
                              d.inserted_count(), d.erased_count(),   d.moved_count()};
  for (std::size_t k = 0; k < 6; ++k) {
    if (got[k] != want[k] || counts[k] != want[k]) {
      out.add("{} rows: the model has {}, the diff counts {} and its ranges hold {}",
              kind_name(static_cast<change_kind>(k)), want[k], got[k], counts[k]);
    }
  }
  const std::size_t total = want[0] + want[1] + want[2] + want[3] + want[4] + want[5];
  if (d.changed_count() != total) out.add("changed_count() {} != {}", d.changed_count(), total);
  if (d.shifted() != (want[3] + want[4] + want[5] > 0)) out.add("shifted() is {}", d.shifted());
  if (d.empty() != (total == 0)) out.add("empty() is {} with {} rows changed", d.empty(), total);
  if (!out.empty()) {
    row_id_t id0 = SIZE_MAX;
    for (const auto* r : {&ma, &mb}) {
      for (const model_row<T>& x : *r) id0 = std::min(id0, x.id);
    }
    out.note(fmt::format("from {}", show_rows(ma, id0)));
    out.note(fmt::format("to   {}", show_rows(mb, id0)));
  }
  if (summary != nullptr) *summary = sum;
  return out.str();
}

// diff(va, vb) checked against the rows ma, mb (see check_diff_result).
template <class V>
std::string check_diff(const V& va, const V& vb, const row_list<typename V::value_type>& ma,
                       const row_list<typename V::value_type>& mb, diff_summary* summary = nullptr,
                       bool rebuilt_patch = true) {
  return check_diff_result(cowdb::diff(va, vb), ma, mb, summary, rebuilt_patch);
}
// The same, with the rows read from the versions themselves.
template <class V>
std::string check_diff(const V& va, const V& vb, diff_summary* summary = nullptr,
                       bool rebuilt_patch = true) {
  return check_diff(va, vb, rows_of(va), rows_of(vb), summary, rebuilt_patch);
}

// ---- merge --------------------------------------------------------------------------------------

// What one side did to base, row by row.
template <class T>
struct side_model {
  const row_list<T>* rows = nullptr;
  std::unordered_map<row_id_t, std::size_t> pos;  // id -> position in this side
  std::vector<row_act> act;                       // per base row
  std::vector<bool> changed;                      // per base row: its value differs from base
  std::vector<std::size_t> at;                    // per base row: position here (if not erased)
  std::vector<bool> is_new;                       // per row here: not in base
  std::map<std::size_t, std::vector<std::size_t>> inserts;  // gap -> new rows there, in order
  std::size_t erased = 0, inserted = 0, moved = 0;
};

template <class T>
side_model<T> analyze_side(const row_list<T>& base,
                           const std::unordered_map<row_id_t, std::size_t>& base_pos,
                           const row_list<T>& s, const std::unordered_set<row_id_t>& moved) {
  side_model<T> m;
  m.rows = &s;
  m.pos = positions_of(s);
  const std::size_t nb = base.size();
  m.act.assign(nb, row_act::kErased);
  m.changed.assign(nb, false);
  m.at.assign(nb, SIZE_MAX);
  m.is_new.assign(s.size(), false);
  std::size_t next = nb;  // base position of the next in-place row
  std::vector<std::size_t> gap(s.size());
  for (std::size_t j = s.size(); j-- > 0;) {
    gap[j] = next;
    const auto f = base_pos.find(s[j].id);
    if (f == base_pos.end()) {
      m.is_new[j] = true;
      ++m.inserted;
      continue;
    }
    const std::size_t k = f->second;
    m.at[k] = j;
    m.changed[k] = !(s[j].value == base[k].value);
    if (moved.contains(s[j].id)) {
      m.act[k] = row_act::kMoved;
      ++m.moved;
    } else {
      m.act[k] = m.changed[k] ? row_act::kModified : row_act::kKept;
      next = k;
    }
  }
  for (std::size_t j = 0; j < s.size(); ++j) {
    if (m.is_new[j]) m.inserts[gap[j]].push_back(j);
  }
  for (std::size_t k = 0; k < nb; ++k) m.erased += m.act[k] == row_act::kErased ? 1 : 0;
  return m;
}

enum class placed_by : std::uint8_t { kBoth, kOurs, kTheirs };

template <class T>
struct expected_conflict {
  conflict_kind kind = conflict_kind::kValue;
  std::size_t base_index = 0;
  std::optional<T> base, ours, theirs;
  std::optional<std::size_t> ours_index, theirs_index;
  std::optional<row_id_t> row;  // the row merged()[index] must hold, when it is in merged()
};

template <class T>
struct expected_merge {
  std::vector<expected_conflict<T>> conflicts;  // by (base_index, kind)
  std::unordered_map<row_id_t, T> rows;         // the merged rows
  std::unordered_map<row_id_t, placed_by> owner;
  // Per kInsertOrder gap: the deciding side's inserted rows, then the other side's.
  std::vector<std::pair<std::vector<row_id_t>, std::vector<row_id_t>>> insert_order;
};

// The merge of ours and theirs (analyzed against base) decided for `side`; see the file comment.
template <class T>
expected_merge<T> expect_merge(const row_list<T>& base, const side_model<T>& o,
                               const side_model<T>& t, merge_mode mode, merge_side side) {
  expected_merge<T> e;
  const bool ours_win = side == merge_side::kOurs;
  auto value_in = [](const side_model<T>& s, std::size_t k) -> const T& {
    return (*s.rows)[s.at[k]].value;
  };
  for (std::size_t k = 0; k < base.size(); ++k) {
    const row_act a = o.act[k], b = t.act[k];
    const row_id_t id = base[k].id;
    expected_conflict<T> c;
    c.base_index = k;
    c.base = base[k].value;
    if (a != row_act::kErased) {
      c.ours = value_in(o, k);
      c.ours_index = o.at[k];
    }
    if (b != row_act::kErased) {
      c.theirs = value_in(t, k);
      c.theirs_index = t.at[k];
    }
    const row_outcome r = merge_row(
        a, b, o.changed[k], t.changed[k],
        a != row_act::kErased && b != row_act::kErased && value_in(o, k) == value_in(t, k), mode,
        side);
    const bool present = r.present;
    const T* value = r.from == row_from::kOurs     ? &value_in(o, k)
                     : r.from == row_from::kTheirs ? &value_in(t, k)
                                                   : &base[k].value;
    // Who places the row: for kModifyErase and kMove, the side whose row it is, if it moved it;
    // otherwise the side that moved it (never both: that is kMove); else both.
    placed_by owner = placed_by::kBoth;
    if (r.conflict == conflict_kind::kModifyErase || r.conflict == conflict_kind::kMove) {
      const bool ours_row = r.from == row_from::kOurs;
      if ((ours_row ? a : b) == row_act::kMoved) {
        owner = ours_row ? placed_by::kOurs : placed_by::kTheirs;
      }
    } else if (a == row_act::kMoved) {
      owner = placed_by::kOurs;
    } else if (b == row_act::kMoved) {
      owner = placed_by::kTheirs;
    }
    if (r.conflict) c.kind = *r.conflict;
    const bool conflict = r.conflict.has_value();
    if (present) {
      e.rows.emplace(id, *value);
      e.owner.emplace(id, owner);
      c.row = id;
    }
    if (conflict) e.conflicts.push_back(std::move(c));
  }
  // Inserts, gap by gap.
  auto add_rows = [&e](const side_model<T>& s, const std::vector<std::size_t>& js, placed_by who) {
    std::vector<row_id_t> ids;
    for (const std::size_t j : js) {
      e.rows.emplace((*s.rows)[j].id, (*s.rows)[j].value);
      e.owner.emplace((*s.rows)[j].id, who);
      ids.push_back((*s.rows)[j].id);
    }
    return ids;
  };
  auto same_values = [](const side_model<T>& x, const std::vector<std::size_t>& xs,
                        const side_model<T>& y, const std::vector<std::size_t>& ys) {
    if (xs.size() != ys.size()) return false;
    for (std::size_t k = 0; k < xs.size(); ++k) {
      if (!((*x.rows)[xs[k]].value == (*y.rows)[ys[k]].value)) return false;
    }
    return true;
  };
  for (const auto& [gap, js] : o.inserts) {
    const auto f = t.inserts.find(gap);
    if (f == t.inserts.end()) {
      add_rows(o, js, placed_by::kOurs);
      continue;
    }
    const std::vector<std::size_t>& ks = f->second;
    if (inserts_agree(mode, same_values(o, js, t, ks))) {  // ours' rows (ours' ids)
      add_rows(o, js, placed_by::kOurs);
      continue;
    }
    expected_conflict<T> c;
    c.kind = conflict_kind::kInsertOrder;
    c.base_index = gap;
    c.ours = (*o.rows)[js[0]].value;
    c.theirs = (*t.rows)[ks[0]].value;
    c.ours_index = js[0];
    c.theirs_index = ks[0];
    c.row = ours_win ? (*o.rows)[js[0]].id : (*t.rows)[ks[0]].id;
    e.conflicts.push_back(std::move(c));
    auto ours_ids = add_rows(o, js, placed_by::kOurs);
    auto theirs_ids = add_rows(t, ks, placed_by::kTheirs);
    if (ours_win) {
      e.insert_order.emplace_back(std::move(ours_ids), std::move(theirs_ids));
    } else {
      e.insert_order.emplace_back(std::move(theirs_ids), std::move(ours_ids));
    }
  }
  for (const auto& [gap, ks] : t.inserts) {
    if (!o.inserts.contains(gap)) add_rows(t, ks, placed_by::kTheirs);
  }
  std::stable_sort(e.conflicts.begin(), e.conflicts.end(),
                   [](const expected_conflict<T>& x, const expected_conflict<T>& y) {
                     return std::tie(x.base_index, x.kind) < std::tie(y.base_index, y.kind);
                   });
  return e;
}

// Checks a merged version against the expectation: its rows as a set of (id, value), the order
// rules, the tree's invariants.
template <class V, class T = typename V::value_type>
void check_merged_rows(const V& got, const expected_merge<T>& e, const side_model<T>& o,
                       const side_model<T>& t, mismatches& out) {
  try {
    got.check_invariants();
  } catch (const std::exception& x) {
    out.add("{}", x.what());
  }
  const row_list<T> g = rows_of(got);
  const auto gp = positions_of(g);
  if (gp.size() != g.size()) out.add("a row is there twice");
  if (g.size() != e.rows.size()) out.add("{} rows, the model has {}", g.size(), e.rows.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    const auto f = e.rows.find(g[i].id);
    if (f == e.rows.end()) {
      out.add("[{}] = {} is a row the model does not keep", i, show(g[i].value));
    } else if (!(f->second == g[i].value)) {
      out.add("[{}] = {}, the model has {}", i, show(g[i].value), show(f->second));
    }
  }
  for (const auto& [id, value] : e.rows) {
    if (!gp.contains(id)) {
      const auto in_o = o.pos.find(id), in_t = t.pos.find(id);
      out.add("a row with value {} is missing (ours[{}], theirs[{}])", show(value),
              in_o == o.pos.end() ? std::string("-") : fmt::format("{}", in_o->second),
              in_t == t.pos.end() ? std::string("-") : fmt::format("{}", in_t->second));
    }
  }
  // Each side's order: of the rows it holds in place (that no side moved) and the rows it
  // inserted; and of the rows it holds in place and the rows it moved (where its place stands).
  auto side_order = [&](const side_model<T>& s, placed_by who, const char* name, bool moved) {
    std::size_t last = 0, last_i = 0;
    bool any = false;
    for (std::size_t i = 0; i < g.size(); ++i) {
      const auto f = s.pos.find(g[i].id);
      const auto w = e.owner.find(g[i].id);
      if (f == s.pos.end() || w == e.owner.end()) continue;
      if (w->second != placed_by::kBoth && (w->second != who || s.is_new[f->second] == moved)) {
        continue;
      }
      if (any && f->second < last) {
        out.add("[{}] = {} is {}[{}] but comes after [{}] = {} which is {}[{}]", i,
                show(g[i].value), name, f->second, last_i, show(g[last_i].value), name, last);
        return;
      }
      any = true;
      last = f->second;
      last_i = i;
    }
  };
  for (const bool moved : {false, true}) {
    side_order(o, placed_by::kOurs, "ours", moved);
    side_order(t, placed_by::kTheirs, "theirs", moved);
  }
  for (const auto& [first, second] : e.insert_order) {
    std::size_t max_first = 0, min_second = SIZE_MAX;
    for (const row_id_t id : first) {
      if (gp.contains(id)) max_first = std::max(max_first, gp.at(id));
    }
    for (const row_id_t id : second) {
      if (gp.contains(id)) min_second = std::min(min_second, gp.at(id));
    }
    if (max_first > min_second) {
      out.add(
          "at an insert-order conflict, the other side's insert [{}] comes before the "
          "deciding side's [{}]",
          min_second, max_first);
    }
  }
}

template <class V, class T = typename V::value_type>
void check_conflicts(const std::vector<merge_conflict<T>>& got, const expected_merge<T>& e,
                     const V& merged, mismatches& out) {
  for (std::size_t k = 1; k < got.size(); ++k) {
    if (got[k].index < got[k - 1].index) out.add("conflicts are not in index order");
  }
  std::vector<const merge_conflict<T>*> sorted;
  for (const merge_conflict<T>& c : got) sorted.push_back(&c);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto* x, const auto* y) {
    return std::tie(x->base_index, x->kind) < std::tie(y->base_index, y->kind);
  });
  const auto show_list = [&] {
    std::string s;
    for (const auto* c : sorted) s += fmt::format(" {}@{}", kind_name(c->kind), c->base_index);
    s += " (model:";
    for (const auto& c : e.conflicts) s += fmt::format(" {}@{}", kind_name(c.kind), c.base_index);
    return s + ")";
  };
  if (sorted.size() != e.conflicts.size()) {
    out.add("{} conflicts, the model has {}:{}", sorted.size(), e.conflicts.size(), show_list());
    return;
  }
  for (std::size_t k = 0; k < sorted.size(); ++k) {
    const merge_conflict<T>& c = *sorted[k];
    const expected_conflict<T>& w = e.conflicts[k];
    if (c.kind != w.kind || c.base_index != w.base_index) {
      out.add("conflicts differ:{}", show_list());
      return;
    }
    const bool insert = w.kind == conflict_kind::kInsertOrder;
    if ((!insert && c.base != w.base) || (insert && c.base.has_value()) || c.ours != w.ours ||
        c.theirs != w.theirs || c.ours_index != w.ours_index || c.theirs_index != w.theirs_index) {
      out.add("{} at base {}: base/ours/theirs {}/{}/{} at {}/{}, the model has {}/{}/{} at {}/{}",
              kind_name(c.kind), c.base_index, show(c.base), show(c.ours), show(c.theirs),
              show(c.ours_index), show(c.theirs_index), show(w.base), show(w.ours), show(w.theirs),
              show(w.ours_index), show(w.theirs_index));
    }
    if (w.row && (c.index >= merged.size() || merged.row_id(c.index) != *w.row)) {
      out.add("{} at base {}: index {} does not hold its row{}", kind_name(c.kind), c.base_index,
              c.index,
              c.index < merged.size() ? fmt::format(" ({} there)", show(merged[c.index])) : "");
    }
  }
}

// What a merge check covered.
struct merge_summary {
  bool exact = false;
  std::size_t conflicts[5] = {};  // by conflict_kind, over both modes
  std::size_t moved_rows = 0;     // moved on either side
};

// Checks merge(base, ours, theirs) in both modes, merged(), resolve(kOurs), resolve(kTheirs) and
// merge(..., side), against the model (see the file comment). The rows are read from the versions
// (their values are assumed checked elsewhere). Returns the mismatches; a triple outside the
// model's preconditions (a repeated id, or the same new row on both sides) is only merged.
template <class V>
std::string check_merge(const V& base, const V& ours, const V& theirs,
                        merge_summary* summary = nullptr) {
  using T = typename V::value_type;
  mismatches out;
  merge_summary sum;
  const row_list<T> mb = rows_of(base), mo = rows_of(ours), mt = rows_of(theirs);
  const auto bp = positions_of(mb);
  bool ok = bp.size() == mb.size() && unique_ids(mo) && unique_ids(mt);
  if (ok) {
    const auto op = positions_of(mo);
    for (const model_row<T>& r : mt) ok = ok && (bp.contains(r.id) || !op.contains(r.id));
  }
  if (!ok) {
    for (const merge_mode mode : {merge_mode::kValues, merge_mode::kWrites}) {
      static_cast<void>(cowdb::merge(base, ours, theirs, mode));
    }
    if (summary != nullptr) *summary = sum;
    return {};
  }
  sum.exact = true;
  const auto d_o = cowdb::diff(base, ours);
  const auto d_t = cowdb::diff(base, theirs);
  out.add_all("diff(base, ours)", check_diff_result(d_o, mb, mo, nullptr, false));
  out.add_all("diff(base, theirs)", check_diff_result(d_t, mb, mt, nullptr, false));
  if (!out.empty()) return out.str();
  const side_model<T> so = analyze_side(mb, bp, mo, moved_ids(d_o));
  const side_model<T> st = analyze_side(mb, bp, mt, moved_ids(d_t));
  sum.moved_rows = so.moved + st.moved;
  for (const merge_mode mode : {merge_mode::kValues, merge_mode::kWrites}) {
    const char* mname = mode == merge_mode::kValues ? "kValues" : "kWrites";
    const auto r = cowdb::merge(base, ours, theirs, mode);
    const expected_merge<T> eo = expect_merge(mb, so, st, mode, merge_side::kOurs);
    const expected_merge<T> et = expect_merge(mb, so, st, mode, merge_side::kTheirs);
    for (const auto& c : eo.conflicts) ++sum.conflicts[static_cast<std::size_t>(c.kind)];
    if (r.ok() != eo.conflicts.empty()) out.add("{}: ok() is {}", mname, r.ok());
    {
      mismatches m;
      check_conflicts(r.conflicts(), eo, r.merged(), m);
      out.add_all(fmt::format("{}: conflicts", mname), m.str());
    }
    {
      mismatches m;
      check_merged_rows(r.merged(), eo, so, st, m);
      out.add_all(fmt::format("{}: merged()", mname), m.str());
    }
    if (r.resolve(merge_side::kOurs).identity() != r.merged().identity()) {
      out.add("{}: resolve(kOurs) is not merged()", mname);
    }
    const V rt = r.resolve(merge_side::kTheirs);
    {
      mismatches m;
      check_merged_rows(rt, et, so, st, m);
      out.add_all(fmt::format("{}: resolve(kTheirs)", mname), m.str());
    }
    const V st_side = cowdb::merge(base, ours, theirs, merge_side::kTheirs, mode);
    if (rows_of(st_side) != rows_of(rt))
      out.add("{}: merge(..., kTheirs) != resolve(kTheirs)", mname);
    // resolve(fn) when every conflict is a value conflict: fn's value at each conflicting row.
    bool values_only = !r.ok();
    for (const auto& c : r.conflicts()) values_only = values_only && !c.structural();
    if (values_only) {
      const V rf = r.resolve([](const merge_conflict<T>& c) { return *c.base; });
      expected_merge<T> ef = eo;
      for (const auto& c : eo.conflicts) ef.rows[mb[c.base_index].id] = mb[c.base_index].value;
      mismatches m;
      check_merged_rows(rf, ef, so, st, m);
      out.add_all(fmt::format("{}: resolve(fn)", mname), m.str());
    } else if (!r.ok()) {
      bool thrown = false;
      try {
        static_cast<void>(r.resolve([](const merge_conflict<T>& c) { return *c.base; }));
      } catch (const std::logic_error&) {
        thrown = true;
      }
      if (!thrown) out.add("{}: resolve(fn) with a structural conflict did not throw", mname);
    }
  }
  if (!out.empty()) {
    const row_id_t id0 =
        mb.empty() ? 0 : std::min_element(mb.begin(), mb.end(), [](const auto& x, const auto& y) {
                           return x.id < y.id;
                         })->id;
    out.note(fmt::format("base   {}", show_rows(mb, id0)));
    out.note(fmt::format("ours   {}", show_rows(mo, id0)));
    out.note(fmt::format("theirs {}", show_rows(mt, id0)));
  }
  if (summary != nullptr) *summary = sum;
  return out.str();
}

// ---- shrinking a failing merge ------------------------------------------------------------------

// The kind of a check_merge mismatch: which of a few key phrases comes first in it.
inline std::string mismatch_kind(const std::string& why) {
  static const char* const kKinds[] = {"does not hold its row",
                                       "conflicts, the model has",
                                       "conflicts differ",
                                       "comes after",
                                       "does not keep",
                                       "is missing",
                                       "base/ours/theirs",
                                       "ok() is",
                                       "resolve(fn)",
                                       "resolve(kOurs)",
                                       "merge(..., kTheirs)",
                                       "index order",
                                       "diff(base",
                                       "the model has",
                                       "is empty but the versions differ",
                                       "patch(a copy",
                                       "rows, but"};
  std::size_t first = std::string::npos;
  std::string kind = why.empty() ? std::string() : std::string("other");
  for (const char* k : kKinds) {
    const std::size_t at = why.find(k);
    if (at < first) {
      first = at;
      kind = k;
    }
  }
  return kind;
}

// A smaller triple that fails check_merge the same way (same mismatch_kind): erases rows, one id
// at a time from every version holding it, while the failure stays. Returns the three versions'
// rows and the mismatch. For failure messages; O(rows^2) merges at worst.
template <class V>
std::string shrink_merge_failure(V base, V ours, V theirs) {
  const std::string kind = mismatch_kind(check_merge(base, ours, theirs));
  if (kind.empty()) return {};
  auto without = [](const V& v, row_id_t id) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v.row_id(i) == id) return v.erase(i);
    }
    return v;
  };
  for (bool progress = true; progress;) {
    progress = false;
    std::vector<row_id_t> ids;
    for (const V* v : {&base, &ours, &theirs}) {
      for (std::size_t i = 0; i < v->size(); ++i) ids.push_back(v->row_id(i));
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const row_id_t id : ids) {
      V b = without(base, id), o = without(ours, id), t = without(theirs, id);
      if (mismatch_kind(check_merge(b, o, t)) != kind) continue;
      base = std::move(b);
      ours = std::move(o);
      theirs = std::move(t);
      progress = true;
    }
  }
  const auto mb = rows_of(base), mo = rows_of(ours), mt = rows_of(theirs);
  row_id_t id0 = SIZE_MAX;
  for (const auto* r : {&mb, &mo, &mt}) {
    for (const auto& x : *r) id0 = std::min(id0, x.id);
  }
  return fmt::format("\nshrunk to: base {} ours {} theirs {}:{}", show_rows(mb, id0),
                     show_rows(mo, id0), show_rows(mt, id0), check_merge(base, ours, theirs));
}

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_ROW_MODEL_H_
