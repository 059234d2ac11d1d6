// cowdb/diff.h — what changed between two versions of a pvec, at a cost proportional to the change.
//
// diff(a, b) aligns both trees by the nodes they share, even where inserts or erases shifted them,
// and skips everything shared, so two versions of a 10M-element dataset that differ in 10
// elements are compared by reading ~10 chunks, not 10M elements. The result lists the changed
// ranges (modified in place, inserted, erased, appended, truncated) and yields the changes
// element by element, with old and new values, on demand.
//
// How changes are described. Where the two versions line up position by position (nothing
// inserted or erased before), differing elements are "modified", and a longer or shorter end is
// "appended" or "truncated". Where a region of one version has a different length than the
// matching region of the other, the common prefix and suffix of that region are taken as
// unchanged, the rest as "inserted" (or "erased") after "modified" elements for the overlap —
// so an insert of 3 rows in the middle of 10M is reported as 3 inserted elements, not as
// everything after it changed. A length change confined to the last chunk with nothing shifted
// before it is reported the positional way (modified + appended/truncated).
//
//   auto d = cowdb::diff(v1, v2);
//   fmt::print("{}\n", d);                       // git-like: ranges, context, +/- lines, summary
//   for (const auto& c : d) use(c.index, c.old_value, c.new_value);
//   assert(cowdb::patch(v1, d) == v2);
//
// Costs: diff O(changed chunks x (depth + fanout + chunk size)) plus O(1) per appended, inserted,
// truncated or erased element count (those are not read); O(1) when the versions are identical.
// Iterating the changes: O(depth) per range, O(1) per element. Versions that share nothing are
// still compared correctly (chunk by chunk, with T's operator==), in O(n). One more case reads
// more: versions of equal length whose changed ranges hold equal elements index by index (chunks
// moved without changing any element, or inserts and erases that put back equal values) are
// compared element by element from the first shift on, to report them as equal (empty()) when they
// are.
//
// Thread-safety: diff() reads immutable versions and is thread-safe. A pvec_diff holds its two
// versions (O(1) copies), is immutable and thread-safe to share.
#ifndef COWDB_DIFF_H_
#define COWDB_DIFF_H_

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "cowdb/internal/row_match.h"
#include "cowdb/internal/tree_diff.h"
#include "cowdb/pvec.h"
#include "cowdb/stats.h"
#include "fmt/format.h"

namespace cowdb {

enum class change_kind : std::uint8_t {
  kModified,   // elements present in both versions whose values differ
  kAppended,   // elements only in the new version, after the end of the old one
  kTruncated,  // elements only in the old version, at its end
  kInserted,   // elements only in the new version, before an element of the old one
  kErased,     // elements only in the old version, before an element that remains
  kMoved,      // rows in both versions whose place changed relative to the others (a sort, a
               // cut and paste); [first, last) indexes to(), from_first() where they were; their
               // values may differ too (compare old_value and new_value)
};

// A run of changed elements. [first, last) indexes the new version (to()) for kModified,
// kAppended and kInserted, and the old version (from()) for kTruncated and kErased. `shift` is
// (index in to()) - (index in from()) at the start of the range: 0 until something was inserted
// or erased before it.
struct diff_range {
  std::size_t first = 0;
  std::size_t last = 0;
  change_kind kind = change_kind::kModified;
  std::ptrdiff_t shift = 0;
  std::size_t size() const noexcept { return last - first; }
  // Where the range starts in from() and in to().
  std::size_t from_first() const noexcept {
    return removes() ? first : static_cast<std::size_t>(static_cast<std::ptrdiff_t>(first) - shift);
  }
  std::size_t to_first() const noexcept {
    return removes() ? static_cast<std::size_t>(static_cast<std::ptrdiff_t>(first) + shift) : first;
  }
  // True for kTruncated and kErased (the range indexes from()). A kMoved range indexes to().
  bool removes() const noexcept {
    return kind == change_kind::kTruncated || kind == change_kind::kErased;
  }
  // True for kAppended and kInserted (no old values).
  bool adds() const noexcept {
    return kind == change_kind::kAppended || kind == change_kind::kInserted;
  }
  friend bool operator==(const diff_range&, const diff_range&) = default;
};

// One changed element. `index` is in to() (or in from() for removed elements, as in diff_range).
// old_value is null for an added element, new_value for a removed one. The pointers stay valid as
// long as the pvec_diff (which holds both versions) lives.
template <class T>
struct element_change {
  std::size_t index;
  change_kind kind;
  const T* old_value;
  const T* new_value;
};

// The changes from one version (from()) to another (to()).
template <class T, std::size_t C = kDefaultChunkBytes, std::size_t F = kDefaultFanout>
class pvec_diff {
 public:
  using vec = pvec<T, C, F>;

  // Forward iterator over element_change<T>, in index order (modified ranges, then the
  // appended or truncated tail).
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = element_change<T>;
    using difference_type = std::ptrdiff_t;
    using reference = element_change<T>;

    iterator() = default;
    reference operator*() const {
      const diff_range& r = d_->ranges_[range_];
      return {index_, r.kind, r.adds() ? nullptr : &*old_, r.removes() ? nullptr : &*new_};
    }
    iterator& operator++() {
      ++index_;
      if (index_ == d_->ranges_[range_].last) {
        ++range_;
        seek();
      } else {
        advance_sides();
      }
      return *this;
    }
    iterator operator++(int) {
      iterator t = *this;
      ++*this;
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept {
      return a.range_ == b.range_ && a.index_ == b.index_;
    }

   private:
    friend class pvec_diff;
    iterator(const pvec_diff* d, std::size_t range) : d_(d), range_(range) { seek(); }
    void seek() {
      if (range_ == d_->ranges_.size()) {
        index_ = 0;
        return;
      }
      const diff_range& r = d_->ranges_[range_];
      index_ = r.first;
      if (!r.adds()) old_ = d_->from_.begin() + static_cast<std::ptrdiff_t>(r.from_first());
      if (!r.removes()) new_ = d_->to_.begin() + static_cast<std::ptrdiff_t>(r.to_first());
    }
    void advance_sides() {
      const diff_range& r = d_->ranges_[range_];
      if (!r.adds()) ++old_;
      if (!r.removes()) ++new_;
    }

    const pvec_diff* d_ = nullptr;
    std::size_t range_ = 0;
    std::size_t index_ = 0;
    typename vec::iterator old_;
    typename vec::iterator new_;
  };

  // Compares two versions; same as diff(from, to).
  pvec_diff(vec from, vec to)
    requires std::equality_comparable<T>
      : from_(std::move(from)), to_(std::move(to)) {
    using matcher = internal::row_matcher<T, vec::chunk_capacity, F>;
    const auto m =
        matcher::match(internal::pvec_access::rep(from_), internal::pvec_access::rep(to_), stats_);
    if (m.related) {
      by_rows(m);
    } else {
      by_values();
    }
  }

  // The two versions compared. O(1).
  const vec& from() const noexcept { return from_; }
  const vec& to() const noexcept { return to_; }

  // The changed runs, in order (of both versions). O(1).
  const std::vector<diff_range>& ranges() const noexcept { return ranges_; }

  // Element counts. O(1).
  std::size_t modified_count() const noexcept { return counts_[0]; }
  std::size_t appended_count() const noexcept { return counts_[1]; }
  std::size_t truncated_count() const noexcept { return counts_[2]; }
  std::size_t inserted_count() const noexcept { return counts_[3]; }
  std::size_t erased_count() const noexcept { return counts_[4]; }
  std::size_t moved_count() const noexcept { return counts_[5]; }
  std::size_t changed_count() const noexcept {
    return counts_[0] + counts_[1] + counts_[2] + counts_[3] + counts_[4] + counts_[5];
  }
  // True when something was inserted, erased or moved before the end (positions shifted). O(1).
  bool shifted() const noexcept { return counts_[3] + counts_[4] + counts_[5] > 0; }
  // True when no row changed: the same rows with the same values in the same order (for
  // versions with no row in common: equal elements). O(1).
  bool empty() const noexcept { return ranges_.empty(); }

  // The changes element by element. begin() is O(depth).
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, ranges_.size()); }

  // What the comparison read: distinct node pairs visited and element comparisons made.
  const diff_stats& stats() const noexcept { return stats_; }

 private:
  // Appends a range, extending the previous one when it continues it.
  void add(const diff_range& r) {
    if (r.first == r.last) return;
    counts_[static_cast<std::size_t>(r.kind)] += r.size();
    if (!ranges_.empty()) {
      diff_range& b = ranges_.back();
      if (b.kind == r.kind && b.shift == r.shift && b.last == r.first) {
        b.last = r.last;
        return;
      }
    }
    ranges_.push_back(r);
  }

  // The changes row by row, for versions with rows in common (see row_match.h). Three lists,
  // each in to() order: kept pieces (moved or modified rows), inserted spans, erased spans
  // (their to() position rises with their from() order); merged so that at one place removed
  // rows come before added ones (patch relies on it).
  void by_rows(const internal::row_matching<T>& m) {
    const std::size_t na = from_.size(), nb = to_.size();
    auto delta = [](std::size_t x, std::size_t y) {
      return static_cast<std::ptrdiff_t>(x) - static_cast<std::ptrdiff_t>(y);
    };
    std::vector<diff_range> kept;  // moved pieces and modified runs outside them, in b order
    std::size_t ci = 0;
    for (const auto& p : m.kept) {
      for (; ci < m.changed.size() && m.changed[ci].b < p.b + p.len; ++ci) {
        const auto& c = m.changed[ci];
        if (!p.moved) kept.push_back({c.b, c.b + c.len, change_kind::kModified, delta(c.b, c.a)});
      }
      if (p.moved) kept.push_back({p.b, p.b + p.len, change_kind::kMoved, delta(p.b, p.a)});
    }
    ranges_.reserve(kept.size() + m.inserted.size() + m.erased.size());
    std::size_t ki = 0, ii = 0, ei = 0;
    auto inserted = [&](std::size_t k) {
      const auto& s = m.inserted[k];
      return diff_range{s.first, s.first + s.len,
                        s.at == na ? change_kind::kAppended : change_kind::kInserted,
                        delta(s.first, s.at)};
    };
    auto erased = [&](std::size_t k) {
      const auto& s = m.erased[k];
      const bool tail = s.first + s.len == na && s.at == nb;
      return diff_range{s.first, s.first + s.len,
                        tail ? change_kind::kTruncated : change_kind::kErased,
                        delta(s.at, s.first)};
    };
    constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    while (ki < kept.size() || ii < m.inserted.size() || ei < m.erased.size()) {
      // Erased first at equal positions; then kept and inserted rows by position (distinct).
      const std::size_t pe = ei < m.erased.size() ? m.erased[ei].at : kNone;
      const std::size_t pk = ki < kept.size() ? kept[ki].first : kNone;
      const std::size_t pi = ii < m.inserted.size() ? m.inserted[ii].first : kNone;
      if (pe != kNone && pe <= pk && pe <= pi) {
        add(erased(ei++));
      } else if (pk < pi) {
        add(kept[ki++]);
      } else {
        add(inserted(ii++));
      }
    }
  }

  // The changes by position and value, for versions with no row in common: the chunk alignment,
  // then per region the common prefix and suffix taken as unchanged, the rest as modified plus
  // inserted or erased.
  void by_values() {
    using walker = internal::tree_diff<T, vec::chunk_capacity, F>;
    const std::size_t na_total = from_.size(), nb_total = to_.size();
    walker::regions(internal::pvec_access::rep(from_), internal::pvec_access::rep(to_), stats_,
                    [&](const typename walker::region& g) {
                      const std::size_t na = g.a_hi - g.a_lo, nb = g.b_hi - g.b_lo;
                      const auto shift =
                          static_cast<std::ptrdiff_t>(g.b_lo) - static_cast<std::ptrdiff_t>(g.a_lo);
                      auto modified = [&](std::size_t lo,
                                          std::size_t hi) {  // offsets into both sides
                        walker::runs(g, lo, hi, stats_, [&](std::size_t f, std::size_t l) {
                          add({g.b_lo + f, g.b_lo + l, change_kind::kModified, shift});
                        });
                      };
                      // Elements only in to() at [b, e), before from()[a]; elements only in from().
                      auto added = [&](std::size_t b, std::size_t e, std::size_t a) {
                        add({b, e, a == na_total ? change_kind::kAppended : change_kind::kInserted,
                             static_cast<std::ptrdiff_t>(b) - static_cast<std::ptrdiff_t>(a)});
                      };
                      auto removed = [&](std::size_t b, std::size_t e, std::size_t at_to) {
                        add({b, e,
                             e == na_total && at_to == nb_total ? change_kind::kTruncated
                                                                : change_kind::kErased,
                             static_cast<std::ptrdiff_t>(at_to) - static_cast<std::ptrdiff_t>(b)});
                      };
                      if (na == 0) return added(g.b_lo, g.b_hi, g.a_lo), true;
                      if (nb == 0) return removed(g.a_lo, g.a_hi, g.b_lo), true;
                      if (na == nb) return modified(0, na), true;
                      const std::size_t m = std::min(na, nb);
                      std::size_t p = 0, q = 0;  // common prefix and suffix
                      if (!(shift == 0 && g.a_hi == na_total && g.b_hi == nb_total)) {
                        typename walker::cursor ca(g.a), cb(g.b);
                        p = walker::scan(ca, cb, 0, m, true);
                        typename walker::cursor ra(g.a), rb(g.b);
                        q = walker::common_suffix(ra, na, rb, nb, m - p);
                        stats_.elements_compared += p + q + 1;
                      }
                      const std::size_t x = na - p - q, y = nb - p - q, k = std::min(x, y);
                      modified(p, p + k);
                      if (y > x) added(g.b_lo + p + k, g.b_lo + p + y, g.a_lo + p + k);
                      if (x > y) removed(g.a_lo + p + k, g.a_lo + p + x, g.b_lo + p + k);
                      return true;
                    });
  }

  vec from_;
  vec to_;
  std::vector<diff_range> ranges_;
  std::size_t counts_[6] = {};
  diff_stats stats_;
};

// The changes that turn `from` into `to`. Cost: see the header comment. Allocates the range list.
template <class T, std::size_t C, std::size_t F>
  requires std::equality_comparable<T>
pvec_diff<T, C, F> diff(const pvec<T, C, F>& from, const pvec<T, C, F>& to) {
  return pvec_diff<T, C, F>(from, to);
}

// Applies d to `base`, which must hold the same elements as d.from() (typically it is d.from()
// or an equal version): returns a version equal to d.to(). O(1) when base is d.from() itself;
// otherwise O(changed elements x depth) plus O(B + F x depth) per inserted or erased range, and
// shares every chunk d did not touch. Throws std::invalid_argument if base.size() !=
// d.from().size().
template <class T, std::size_t C, std::size_t F>
pvec<T, C, F> patch(const pvec<T, C, F>& base, const pvec_diff<T, C, F>& d) {
  if (base.identity() == d.from().identity()) return d.to();
  if (base.size() != d.from().size()) {
    throw std::invalid_argument(
        fmt::format("cowdb::patch: the vector has {} elements, the diff was made from {}",
                    base.size(), d.from().size()));
  }
  // Moved rows first leave their old places (back to front). Then the ranges are in order, and
  // every range's to() position is final once the ranges before it are applied, so applying
  // them in order at their to() positions works; moved rows come back as inserts.
  auto e = base.transient();
  const auto& to = d.to();
  if (d.moved_count() > 0) {
    std::vector<std::pair<std::size_t, std::size_t>> away;
    for (const diff_range& r : d.ranges()) {
      if (r.kind == change_kind::kMoved) away.emplace_back(r.from_first(), r.size());
    }
    std::sort(away.begin(), away.end(), std::greater<>());
    for (const auto& [f, n] : away) e.erase(f, f + n);
  }
  for (const diff_range& r : d.ranges()) {
    switch (r.kind) {
      case change_kind::kModified:
        for (std::size_t i = r.first; i < r.last; ++i) e.set(i, to[i]);
        break;
      case change_kind::kAppended:  // at its to() position: removed rows may still follow
      case change_kind::kInserted:
      case change_kind::kMoved: e.insert(r.first, to.slice(r.first, r.last)); break;
      case change_kind::kTruncated:
      case change_kind::kErased: e.erase(r.to_first(), r.to_first() + r.size()); break;
    }
  }
  return std::move(e).persistent();
}

namespace internal {
// 1234567 -> "1,234,567".
inline std::string group_digits(std::size_t n) {
  std::string s = fmt::format("{}", n);
  for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(s.size()) - 3; i > 0; i -= 3) {
    s.insert(static_cast<std::size_t>(i), 1, ',');
  }
  return s;
}
}  // namespace internal

}  // namespace cowdb

// Formats a diff git-like: for each range a header, up to 2 elements of context on each side,
// "-" lines with the old values and "+" lines with the new ones (runs longer than 6 elided in the
// middle), and a summary line such as "3 ranges, 12 elements changed, 1,000 appended".
template <class T, std::size_t C, std::size_t F>
  requires fmt::is_formattable<T>::value
struct fmt::formatter<cowdb::pvec_diff<T, C, F>> {
  // "{}" renders every range; "{:N}" the first N, then a line saying how many were left out
  // (the summary line still counts them all).
  constexpr auto parse(format_parse_context& ctx) {
    auto it = ctx.begin();
    if (it != ctx.end() && *it >= '0' && *it <= '9') {
      max_ranges_ = 0;
      for (; it != ctx.end() && *it >= '0' && *it <= '9'; ++it) {
        max_ranges_ = max_ranges_ * 10 + static_cast<std::size_t>(*it - '0');
      }
    }
    if (it != ctx.end() && *it != '}') throw format_error("cowdb::pvec_diff: use {} or {:N}");
    return it;
  }

  template <class Ctx>
  auto format(const cowdb::pvec_diff<T, C, F>& d, Ctx& ctx) const {
    using cowdb::change_kind;
    using cowdb::internal::group_digits;
    constexpr std::size_t kContext = 2;
    auto out = ctx.out();
    const auto& from = d.from();
    const auto& to = d.to();
    std::size_t printed_to = 0;  // context already printed up to here
    const auto& ranges = d.ranges();
    const std::size_t shown = std::min(ranges.size(), max_ranges_);
    for (std::size_t r = 0; r < shown; ++r) {
      const cowdb::diff_range& g = ranges[r];
      static constexpr const char* kWhat[] = {"modified", "appended", "truncated",
                                              "inserted", "erased",   "moved"};
      const char* what = kWhat[static_cast<std::size_t>(g.kind)];
      out = fmt::format_to(out, "@@ [{}, {}) {}: {} element{} @@\n", group_digits(g.first),
                           group_digits(g.last), what, group_digits(g.size()),
                           g.size() == 1 ? "" : "s");
      // Context (unchanged elements) is shown from the new version, with its indices.
      const std::size_t at = g.to_first();
      const std::size_t ctx_first = at >= kContext ? at - kContext : 0;
      for (std::size_t i = std::max(ctx_first, printed_to); i < at && i < to.size(); ++i) {
        out = fmt::format_to(out, "  [{}] {}\n", group_digits(i), to[i]);
      }
      if (!g.adds()) out = lines(out, '-', from, g.from_first(), g.size());
      if (!g.removes()) out = lines(out, '+', to, g.to_first(), g.size());
      const std::size_t next = r + 1 < ranges.size() ? ranges[r + 1].to_first() : SIZE_MAX;
      const std::size_t end = g.removes() ? at : g.last;
      std::size_t i = end;
      for (; i < end + kContext && i < next && i < to.size(); ++i) {
        out = fmt::format_to(out, "  [{}] {}\n", group_digits(i), to[i]);
      }
      printed_to = i;
    }
    if (d.empty()) return fmt::format_to(out, "no changes");
    if (shown < ranges.size()) {
      out = fmt::format_to(out, "... {} more range{} not shown\n",
                           group_digits(ranges.size() - shown),
                           ranges.size() - shown == 1 ? "" : "s");
    }
    out = fmt::format_to(out, "{} range{}, {} element{} changed", ranges.size(),
                         ranges.size() == 1 ? "" : "s", group_digits(d.modified_count()),
                         d.modified_count() == 1 ? "" : "s");
    if (d.appended_count() > 0) {
      out = fmt::format_to(out, ", {} appended", group_digits(d.appended_count()));
    }
    if (d.truncated_count() > 0) {
      out = fmt::format_to(out, ", {} truncated", group_digits(d.truncated_count()));
    }
    if (d.inserted_count() > 0) {
      out = fmt::format_to(out, ", {} inserted", group_digits(d.inserted_count()));
    }
    if (d.erased_count() > 0) {
      out = fmt::format_to(out, ", {} erased", group_digits(d.erased_count()));
    }
    if (d.moved_count() > 0) {
      out = fmt::format_to(out, ", {} moved", group_digits(d.moved_count()));
    }
    return out;
  }

 private:
  std::size_t max_ranges_ = SIZE_MAX;

  template <class Out>
  static Out lines(Out out, char sign, const cowdb::pvec<T, C, F>& v, std::size_t first,
                   std::size_t n) {
    constexpr std::size_t kShow = 3;
    auto line = [&](std::size_t i) {
      out = fmt::format_to(out, "{} [{}] {}\n", sign, cowdb::internal::group_digits(i), v[i]);
    };
    const std::size_t last = first + n;
    if (n <= 2 * kShow) {
      for (std::size_t i = first; i < last; ++i) line(i);
      return out;
    }
    for (std::size_t i = first; i < first + kShow; ++i) line(i);
    out = fmt::format_to(out, "{} ... {} more ...\n", sign,
                         cowdb::internal::group_digits(n - 2 * kShow));
    for (std::size_t i = last - kShow; i < last; ++i) line(i);
    return out;
  }
};

#endif  // COWDB_DIFF_H_
