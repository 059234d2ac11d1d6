// cowdb/diff.h — what changed between two versions of a pvec, at a cost proportional to the change.
//
// diff(a, b) walks both trees together and skips every pair of identical nodes, so two versions
// of a 10M-element dataset that differ in 10 elements are compared by reading ~10 chunks, not
// 10M elements. The result lists the changed index ranges (modified in place, appended, truncated)
// and yields the changes element by element, with old and new values, on demand.
//
//   auto d = cowdb::diff(v1, v2);
//   fmt::print("{}\n", d);                       // git-like: ranges, context, +/- lines, summary
//   for (const auto& c : d) use(c.index, c.old_value, c.new_value);
//   assert(cowdb::patch(v1, d) == v2);
//
// Costs: diff O(changed chunks x (depth + fanout + chunk size)) plus O(1) per appended or
// truncated element count (those are not read); O(1) when the versions are identical. Iterating
// the changes: O(depth) per range, O(1) per element. Versions that share nothing are still
// compared correctly (chunk by chunk, with T's operator==), in O(n).
//
// Thread-safety: diff() reads immutable versions and is thread-safe. A pvec_diff holds its two
// versions (O(1) copies), is immutable and thread-safe to share.
#ifndef COWDB_DIFF_H_
#define COWDB_DIFF_H_

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "cowdb/internal/tree_diff.h"
#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace cowdb {

enum class change_kind : std::uint8_t {
  kModified,   // indices present in both versions whose values differ
  kAppended,   // indices present only in the new version
  kTruncated,  // indices present only in the old version
};

// A run of changed indices [first, last).
struct diff_range {
  std::size_t first = 0;
  std::size_t last = 0;
  change_kind kind = change_kind::kModified;
  std::size_t size() const noexcept { return last - first; }
  friend bool operator==(const diff_range&, const diff_range&) = default;
};

// One changed element. old_value is null for an appended element, new_value for a truncated
// one. The pointers stay valid as long as the pvec_diff (which holds both versions) lives.
template <class T>
struct element_change {
  std::size_t index;
  change_kind kind;
  const T* old_value;
  const T* new_value;
};

using diff_stats = internal::walk_stats;

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
      return {index_, r.kind, r.kind == change_kind::kAppended ? nullptr : &*old_,
              r.kind == change_kind::kTruncated ? nullptr : &*new_};
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
      const auto at = static_cast<std::ptrdiff_t>(r.first);
      if (r.kind != change_kind::kAppended) old_ = d_->from_.begin() + at;
      if (r.kind != change_kind::kTruncated) new_ = d_->to_.begin() + at;
    }
    void advance_sides() {
      const change_kind k = d_->ranges_[range_].kind;
      if (k != change_kind::kAppended) ++old_;
      if (k != change_kind::kTruncated) ++new_;
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
    const std::size_t m = std::min(from_.size(), to_.size());
    internal::tree_diff<T, vec::chunk_capacity, F>::runs(
        internal::pvec_access::rep(from_), internal::pvec_access::rep(to_), 0, m, stats_,
        [this](std::size_t first, std::size_t last) {
          modified_ += last - first;
          if (!ranges_.empty() && ranges_.back().last == first) {
            ranges_.back().last = last;  // continues a run from the previous chunk
          } else {
            ranges_.push_back({first, last, change_kind::kModified});
          }
        });
    if (to_.size() > m) ranges_.push_back({m, to_.size(), change_kind::kAppended});
    if (from_.size() > m) ranges_.push_back({m, from_.size(), change_kind::kTruncated});
  }

  // The two versions compared. O(1).
  const vec& from() const noexcept { return from_; }
  const vec& to() const noexcept { return to_; }

  // The changed runs, in index order: maximal runs of modified indices, then at most one
  // appended or truncated run. O(1).
  const std::vector<diff_range>& ranges() const noexcept { return ranges_; }

  // Element counts. O(1).
  std::size_t modified_count() const noexcept { return modified_; }
  std::size_t appended_count() const noexcept {
    return to_.size() > from_.size() ? to_.size() - from_.size() : 0;
  }
  std::size_t truncated_count() const noexcept {
    return from_.size() > to_.size() ? from_.size() - to_.size() : 0;
  }
  std::size_t changed_count() const noexcept {
    return modified_ + appended_count() + truncated_count();
  }
  // True when from() and to() hold equal elements. O(1).
  bool empty() const noexcept { return ranges_.empty(); }

  // The changes element by element. begin() is O(depth).
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, ranges_.size()); }

  // What the comparison read: distinct node pairs visited and element comparisons made.
  const diff_stats& stats() const noexcept { return stats_; }

 private:
  vec from_;
  vec to_;
  std::vector<diff_range> ranges_;
  std::size_t modified_ = 0;
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
// otherwise O(changed elements x depth) and shares every chunk d did not touch. Throws
// std::invalid_argument if base.size() != d.from().size().
template <class T, std::size_t C, std::size_t F>
pvec<T, C, F> patch(const pvec<T, C, F>& base, const pvec_diff<T, C, F>& d) {
  if (base.identity() == d.from().identity()) return d.to();
  if (base.size() != d.from().size()) {
    throw std::invalid_argument(fmt::format(
        "cowdb::patch: the vector has {} elements, the diff was made from {}", base.size(),
        d.from().size()));
  }
  auto e = base.transient();
  for (const element_change<T>& c : d) {
    switch (c.kind) {
      case change_kind::kModified:
        e.set(c.index, *c.new_value);
        break;
      case change_kind::kAppended:
        e.push_back(*c.new_value);
        break;
      case change_kind::kTruncated:
        break;
    }
  }
  if (d.truncated_count() > 0) e.take(d.to().size());
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
  constexpr auto parse(format_parse_context& ctx) { return ctx.begin(); }

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
    for (std::size_t r = 0; r < ranges.size(); ++r) {
      const cowdb::diff_range& g = ranges[r];
      const char* what = g.kind == change_kind::kModified    ? "modified"
                         : g.kind == change_kind::kAppended ? "appended"
                                                             : "truncated";
      out = fmt::format_to(out, "@@ [{}, {}) {}: {} element{} @@\n", group_digits(g.first),
                           group_digits(g.last), what, group_digits(g.size()),
                           g.size() == 1 ? "" : "s");
      // Context before comes from the old version (unchanged there).
      const std::size_t ctx_first = g.first >= kContext ? g.first - kContext : 0;
      for (std::size_t i = std::max(ctx_first, printed_to); i < g.first && i < from.size(); ++i) {
        out = fmt::format_to(out, "  [{}] {}\n", group_digits(i), from[i]);
      }
      if (g.kind != change_kind::kAppended) out = lines(out, '-', from, g);
      if (g.kind != change_kind::kTruncated) out = lines(out, '+', to, g);
      const std::size_t next = r + 1 < ranges.size() ? ranges[r + 1].first : SIZE_MAX;
      const auto& after = g.kind == change_kind::kTruncated ? from : to;
      std::size_t i = g.last;
      for (; i < g.last + kContext && i < next && i < after.size(); ++i) {
        out = fmt::format_to(out, "  [{}] {}\n", group_digits(i), after[i]);
      }
      printed_to = i;
    }
    if (d.empty()) return fmt::format_to(out, "no changes");
    out = fmt::format_to(out, "{} range{}, {} element{} changed", ranges.size(),
                         ranges.size() == 1 ? "" : "s", group_digits(d.modified_count()),
                         d.modified_count() == 1 ? "" : "s");
    if (d.appended_count() > 0) {
      out = fmt::format_to(out, ", {} appended", group_digits(d.appended_count()));
    }
    if (d.truncated_count() > 0) {
      out = fmt::format_to(out, ", {} truncated", group_digits(d.truncated_count()));
    }
    return out;
  }

 private:
  template <class Out>
  static Out lines(Out out, char sign, const cowdb::pvec<T, C, F>& v, const cowdb::diff_range& g) {
    constexpr std::size_t kShow = 3;
    auto line = [&](std::size_t i) {
      out = fmt::format_to(out, "{} [{}] {}\n", sign, cowdb::internal::group_digits(i), v[i]);
    };
    if (g.size() <= 2 * kShow) {
      for (std::size_t i = g.first; i < g.last; ++i) line(i);
      return out;
    }
    for (std::size_t i = g.first; i < g.first + kShow; ++i) line(i);
    out = fmt::format_to(out, "{} ... {} more ...\n", sign,
                         cowdb::internal::group_digits(g.size() - 2 * kShow));
    for (std::size_t i = g.last - kShow; i < g.last; ++i) line(i);
    return out;
  }
};

#endif  // COWDB_DIFF_H_
