// cowdb/stats.h: the figures pvec and diff report about their own work.
//
//   cowdb::memory_stats  node storage of a version (pvec::memory, shared_with, exclusive)
//   cowdb::diff_stats    how much of two versions a diff or merge had to read (diff::stats)
//
// Plain values: copyable, comparable, no invariants beyond those stated per field.
#ifndef COWDB_STATS_H_
#define COWDB_STATS_H_

#include <cstddef>

namespace cowdb {

// Memory held by the nodes of a version, or by a part of them (see pvec::memory() and friends).
// Counts node storage only: node headers, the full capacity of each chunk (a chunk is allocated
// whole), inner nodes' child arrays and row-id lists. Excludes the pvec object itself and heap
// memory the elements own (a std::string's characters, say).
struct memory_stats {
  std::size_t bytes = 0;        // bytes of node storage
  std::size_t leaves = 0;       // leaf chunks
  std::size_t inner_nodes = 0;  // inner (branch) nodes
  std::size_t id_lists = 0;     // leaves whose row ids are not one consecutive run (pvec::row_id)
  // Patches: small nodes holding a few rewritten rows over a chunk they share (a write to a
  // shared chunk makes one instead of copying the chunk). The chunk is counted in `leaves`.
  std::size_t patches = 0;
  // Inner nodes carrying a table of their children's sizes: those made relaxed (by insert,
  // erase, concat, slicing...), 8 bytes more per fan-out slot than a regular one. Counted in
  // `inner_nodes`.
  std::size_t size_tables = 0;
  friend bool operator==(const memory_stats&, const memory_stats&) = default;
};

// The work a diff or merge did to align two versions (see cowdb::diff::stats). Chunks both
// versions share are skipped without being read, so these stay proportional to the change: they
// are the figures to look at when a diff is slower than expected.
struct diff_stats {
  // Stretches of unshared inner nodes opened: about one per tree level per changed path when
  // nothing shifted.
  std::size_t inner_pairs = 0;
  // Unshared leaf chunks read (the longer side of each changed region).
  std::size_t leaf_pairs = 0;
  // Element comparisons made (operator== of the element type).
  std::size_t elements_compared = 0;
  friend bool operator==(const diff_stats&, const diff_stats&) = default;
};

}  // namespace cowdb

#endif  // COWDB_STATS_H_
