// Internal: the hidden identities of rows (pvec elements). Users never include this header.
//
// Every element of a pvec is a row with a 64-bit id that no other row created in this process
// has. A row keeps its id through set, update, transform, and every structural edit that moves
// it (insert/erase of other rows, slice, concat, erase_if, sort): diff and merge pair rows by id,
// not by position. New rows (construction, push_back, insert of a value, resize) take fresh ids
// from one process-wide counter.
//
// Storage. Ids come in runs: a load numbers its rows n, n+1, ...; a filter leaves ascending runs
// with gaps; an insert adds one fresh run. A leaf stores its ids as `leaf_ids`: when its rows
// are one ascending run (the common case) only the first id, 8 bytes per chunk, with no extra
// allocation; otherwise a pointer to an immutable, reference-counted `id_runs` block listing
// where each run starts and its first id (12 bytes per run; after a sort, per row). A block is
// shared by every leaf that holds the same rows in the same order (a path copy for `set` copies
// the pointer, not the block).
//
// Invariants (checked by pvec::check_invariants): a block is never written after it is built;
// `id_runs::n >= 2`; starts are strictly increasing from start[0] == 0 and below the leaf's row
// count; runs are maximal (a run never continues the one before it).
#ifndef COWDB_INTERNAL_ROW_IDS_H_
#define COWDB_INTERNAL_ROW_IDS_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "boost/container/small_vector.hpp"
#include "cowdb/internal/alloc.h"

namespace cowdb::internal {

using row_id_t = std::uint64_t;

// `n` fresh ids, consecutive: returns the first. Thread-safe (one relaxed atomic add).
inline std::atomic<row_id_t> g_next_row_id{1};
inline row_id_t fresh_row_ids(std::size_t n) noexcept {
  return g_next_row_id.fetch_add(n, std::memory_order_relaxed);
}

// A list of runs: run j covers the slots [start[j], start[j+1]) with ids first[j], first[j]+1...
struct id_runs {
  std::atomic<std::uint32_t> refs;
  std::uint32_t n;
  row_id_t* firsts() noexcept { return reinterpret_cast<row_id_t*>(this + 1); }
  const row_id_t* firsts() const noexcept { return reinterpret_cast<const row_id_t*>(this + 1); }
  std::uint32_t* starts() noexcept { return reinterpret_cast<std::uint32_t*>(firsts() + n); }
  const std::uint32_t* starts() const noexcept {
    return reinterpret_cast<const std::uint32_t*>(firsts() + n);
  }
  static std::size_t bytes_for(std::size_t runs) noexcept {
    return sizeof(id_runs) + runs * (sizeof(row_id_t) + sizeof(std::uint32_t));
  }
  std::size_t bytes() const noexcept { return bytes_for(n); }
};
static_assert(sizeof(id_runs) % alignof(row_id_t) == 0);

// The ids of a leaf's rows: slot k has id0 + k when runs is null, else see id_runs. A leaf owns
// one reference to `runs`.
struct leaf_ids {
  row_id_t id0 = 0;
  const id_runs* runs = nullptr;

  // The id of slot k. O(1) for one run, O(log runs) otherwise.
  row_id_t at(std::size_t k) const noexcept {
    if (runs == nullptr) return id0 + k;
    const std::uint32_t* s = runs->starts();
    const std::size_t j = static_cast<std::size_t>(
                              std::upper_bound(s, s + runs->n, static_cast<std::uint32_t>(k)) - s) -
                          1;
    return runs->firsts()[j] + (k - s[j]);
  }
  // The number of runs (1 when runs is null). O(1).
  std::size_t run_count() const noexcept { return runs == nullptr ? 1 : runs->n; }
  // Calls fn(slot, first id, length) for each maximal ascending run within slots [b, e).
  template <class Fn>
  void for_each_run(std::size_t b, std::size_t e, Fn&& fn) const {
    if (b >= e) return;
    if (runs == nullptr) return fn(b, id0 + b, e - b);
    const std::uint32_t* s = runs->starts();
    const row_id_t* f = runs->firsts();
    std::size_t j = static_cast<std::size_t>(
                        std::upper_bound(s, s + runs->n, static_cast<std::uint32_t>(b)) - s) -
                    1;
    for (std::size_t k = b; k < e; ++j) {
      const std::size_t end = j + 1 < runs->n ? std::min<std::size_t>(s[j + 1], e) : e;
      fn(k, f[j] + (k - s[j]), end - k);
      k = end;
    }
  }
};

inline void retain(const id_runs* r) noexcept {
  if (r != nullptr) add_ref(const_cast<id_runs*>(r)->refs);
}
inline void release(const id_runs* r) noexcept {
  if (r != nullptr && drop_ref(const_cast<id_runs*>(r)->refs) == 1) {
    free_node_storage<alignof(id_runs), false>(const_cast<id_runs*>(r), r->bytes());
  }
}
// A new reference to the same ids.
inline leaf_ids share_ids(const leaf_ids& x) noexcept {
  retain(x.runs);
  return x;
}

// Collects the ids of a leaf being built, run by run, and makes its leaf_ids.
class ids_builder {
 public:
  // Appends `len` rows with ids first, first + 1, ...
  void add_run(row_id_t first, std::size_t len) {
    if (len == 0) return;
    if (!runs_.empty()) {
      const run& b = runs_.back();
      if (b.first + (count_ - b.start) == first) {
        count_ += len;
        return;
      }
    }
    runs_.push_back({count_, first});
    count_ += len;
  }
  void add(row_id_t id) { add_run(id, 1); }
  // Appends the ids of slots [b, e) of a leaf.
  void add_from(const leaf_ids& src, std::size_t b, std::size_t e) {
    src.for_each_run(b, e, [this](std::size_t, row_id_t f, std::size_t len) { add_run(f, len); });
  }
  std::size_t size() const noexcept { return count_; }
  void clear() noexcept {
    runs_.clear();
    count_ = 0;
  }
  // The leaf_ids of what was added (a new block, owned by the caller, when there are 2+ runs).
  // May throw std::bad_alloc (then nothing is allocated).
  leaf_ids build() const {
    if (runs_.size() <= 1) return {runs_.empty() ? 0 : runs_[0].first, nullptr};
    const std::size_t n = runs_.size();
    void* p = allocate_node_storage<alignof(id_runs), false>(id_runs::bytes_for(n));
    auto* r = ::new (p) id_runs{{1}, static_cast<std::uint32_t>(n)};
    for (std::size_t j = 0; j < n; ++j) {
      r->firsts()[j] = runs_[j].first;
      r->starts()[j] = static_cast<std::uint32_t>(runs_[j].start);
    }
    return {0, r};
  }

 private:
  struct run {
    std::size_t start;
    row_id_t first;
  };
  boost::container::small_vector<run, 8> runs_;
  std::size_t count_ = 0;
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_ROW_IDS_H_
