// Internal: algorithms on relaxed radix-balanced trees of refcounted chunks (the body of pvec<T>).
// Users never include this header.
//
// Shape. A tree of `size` elements has a depth; level 0 nodes are leaves of 1..Cap elements,
// level L > 0 nodes are inner nodes of 1..F children of level L-1. An inner node is either
// - regular: every child but the last holds exactly capacity(L-1) = Cap * F^(L-1) elements (so it
//   is completely full), and the last holds at most that; element i of the node is in child
//   i >> shift(L-1), found by radix with no table; or
// - relaxed: its children may hold any number of elements; sizes[k] counts the elements of
//   child[0..k], and lookup searches that table starting from the radix guess.
// Trees built by construction, push_back, set, transform, take and pop_back stay regular (the
// classic radix-balanced vector: every leaf full but the last); insert, erase, drop, slice and
// concat create relaxed nodes along the paths they touch, O(depth) of them per operation.
//
// Invariants (check_invariants() verifies them; every operation maintains them):
// (I1) leaves hold 1..Cap elements, inner nodes 1..F children; the root, if inner, has >= 2.
// (I2) fill: every node that is not on the right edge of the tree (the path to the last element)
//      holds at least half its capacity: leaves >= ceil(Cap/2) elements, inner nodes >= F/2
//      children. Only the right edge may be thinner, as in a push_back-built vector.
// (I3) regular nodes satisfy the radix rule above; relaxed nodes have exact size tables.
// (I4) a tree_rep's `radix` hint, when set, means the radix rule holds at every node (each child
//      but the last of every node on the right edge is full), so lookups skip node headers.
// Hence (F >= 4) a tree of depth d holds more than (F/2)^(d-1) * ceil(Cap/2) elements: its height
// is at most 1 + log_{F/2}(size / ceil(Cap/2)), a single level more than a full tree for F = 32.
// The bound needs F >= 4: with F = 2 the structural operations (insert, erase, drop, concat) are
// still correct but the height is only bounded by the history of operations.
//
// Ownership: see node.h. Functions taking a `tree_rep&` write through nodes that are uniquely
// owned and copy the shared ones first ("path copying"); the others treat the tree as immutable
// and return new references.
//
// Exception safety: every function either completes or leaves the logical contents of its input
// unchanged and releases whatever it allocated (strong guarantee). In-place functions may have
// replaced shared nodes by equal private copies before throwing; that is not observable.
#ifndef COWDB_INTERNAL_RBTREE_H_
#define COWDB_INTERNAL_RBTREE_H_

#include <algorithm>
#include <bit>
#include <cassert>
#include <climits>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "boost/container/static_vector.hpp"
#include "cowdb/internal/node.h"
#include "cowdb/stats.h"

namespace cowdb::internal {

// What a version's nodes cost; see pvec::memory().
using tree_stats = cowdb::memory_stats;  // cowdb/stats.h

// The state of a tree as held by a pvec or an editor. Owning one reference to `root`.
struct tree_rep {
  node_base* root = nullptr;
  std::size_t size = 0;
  unsigned depth = 0;
  // A hint for lookups: true only when every inner node on the right edge is regular, so that
  // (by I3) every node of the tree follows the radix rule and an index is found from its digits
  // alone, without reading any node header. False is always safe. Trees built from a range or by
  // push_back keep it; structural edits recompute it from the right edge (O(depth)).
  bool radix = false;
};

template <class T, std::size_t Cap, std::size_t F>
struct rbtree {
  static_assert(Cap >= 1 && std::has_single_bit(Cap), "leaf capacity must be a power of two");
  static_assert(F >= 2 && std::has_single_bit(F), "fan-out must be a power of two >= 2");
  static_assert(Cap <= (std::size_t{1} << 31) && F <= 4096, "tree shape out of range");

  using leaf = leaf_node<T, Cap>;
  using inner = inner_node<F>;

  static constexpr std::size_t leaf_cap = Cap;
  static constexpr std::size_t fanout = F;
  static constexpr unsigned leaf_bits = static_cast<unsigned>(std::countr_zero(Cap));
  static constexpr unsigned fanout_bits = static_cast<unsigned>(std::countr_zero(F));
  static constexpr std::size_t leaf_mask = Cap - 1;
  static constexpr std::size_t fanout_mask = F - 1;
  // Fill minimums of (I2).
  static constexpr std::size_t min_leaf = (Cap + 1) / 2;
  static constexpr std::size_t min_inner = F / 2;
  // Whether insert/erase/drop/concat are available (they need min_inner >= 2 for the height bound).
  static constexpr bool structural = F >= 4;
  // Enough levels for any tree of up to SIZE_MAX elements: radix-dense ones need
  // ceil((64 - leaf_bits) / fanout_bits); relaxed ones (I2) at most 1 + that bound with base F/2.
  static constexpr unsigned max_depth =
      structural ? 2 + (64 - (leaf_bits > 0 ? leaf_bits - 1 : 0) + fanout_bits - 2) / (fanout_bits - 1)
                 : (64 - leaf_bits + fanout_bits - 1) / fanout_bits;
  static constexpr std::size_t leaf_bytes = sizeof(leaf);
  static constexpr std::size_t inner_bytes = sizeof(inner);

  static leaf* as_leaf(node_base* n) noexcept { return static_cast<leaf*>(n); }
  static const leaf* as_leaf(const node_base* n) noexcept { return static_cast<const leaf*>(n); }
  static inner* as_inner(node_base* n) noexcept { return static_cast<inner*>(n); }
  static const inner* as_inner(const node_base* n) noexcept {
    return static_cast<const inner*>(n);
  }

  // ---- shape arithmetic -------------------------------------------------------------------------
  static constexpr unsigned shift(unsigned level) noexcept { return leaf_bits + level * fanout_bits; }
  // Elements a subtree rooted at `level` can hold (saturates at SIZE_MAX).
  static constexpr std::size_t capacity(unsigned level) noexcept {
    const unsigned s = shift(level);
    return s >= 64 ? SIZE_MAX : (std::size_t{1} << s);
  }
  // capacity(level) - 1 as a mask (all ones when saturated).
  static constexpr std::size_t low_mask(unsigned level) noexcept {
    const unsigned s = shift(level);
    return s >= 64 ? SIZE_MAX : (std::size_t{1} << s) - 1;
  }
  static constexpr unsigned depth_for(std::size_t n) noexcept {
    unsigned d = 0;
    while (capacity(d) < n) ++d;
    return d;
  }

  // Elements under n, a node of `level`. O(1) for leaves and relaxed nodes; O(depth) for regular
  // ones (down their last-child path).
  static std::size_t size_of(const node_base* n, unsigned level) noexcept {
    std::size_t s = 0;
    for (; level > 0; --level) {
      const inner* in = as_inner(n);
      if (in->relaxed) return s + in->sizes[in->count - 1];
      s += (in->count - 1) * capacity(level - 1);
      n = in->child[in->count - 1];
    }
    return s + n->count;
  }
  // Where child k of `in` (a node of `level`) starts, relative to `in`.
  static std::size_t child_start(const inner* in, unsigned level, std::size_t k) noexcept {
    if (in->relaxed) return k == 0 ? 0 : in->sizes[k - 1];
    return k * capacity(level - 1);
  }
  // Elements in child k of `in`, a node of `level` holding `total` elements.
  static std::size_t child_size(const inner* in, unsigned level, std::size_t k,
                                std::size_t total) noexcept {
    if (in->relaxed) return in->sizes[k] - (k == 0 ? 0 : in->sizes[k - 1]);
    return k + 1 < in->count ? capacity(level - 1) : total - k * capacity(level - 1);
  }
  // The slot of the child of `in` (a node of `level`) holding element i, where i counts from the
  // start of `in`; on return i counts from the start of that child.
  static std::size_t locate(const inner* in, unsigned level, std::size_t& i) noexcept {
    std::size_t k = i >> std::min(shift(level - 1), 63u);
    if (!in->relaxed) {
      i &= low_mask(level - 1);
      return k;
    }
    while (in->sizes[k] <= i) ++k;
    if (k > 0) i -= in->sizes[k - 1];
    return k;
  }

  // ---- allocation and release -------------------------------------------------------------------
  static leaf* new_leaf() { return ::new (allocate_node_storage<alignof(leaf)>(sizeof(leaf))) leaf(); }
  static inner* new_inner() {
    return ::new (allocate_node_storage<alignof(inner)>(sizeof(inner))) inner();
  }
  static void free_leaf(leaf* l) noexcept {
    std::destroy_n(l->data(), l->count);
    internal::release(l->ids.runs);
    l->~leaf();
    free_node_storage<alignof(leaf)>(l, sizeof(leaf));
  }
  static void free_inner_shallow(inner* n) noexcept {
    n->~inner();
    free_node_storage<alignof(inner)>(n, sizeof(inner));
  }
  // Frees a node whose count reached zero, releasing its children.
  static void destroy(node_base* n, unsigned level) noexcept {
    if (level == 0) return free_leaf(as_leaf(n));
    inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) release(in->child[k], level - 1);
    free_inner_shallow(in);
  }
  static void release(const node_base* n, unsigned level) noexcept {
    if (n != nullptr && dec_ref(n)) destroy(const_cast<node_base*>(n), level);
  }
  static node_base* share(const node_base* n) noexcept {
    inc_ref(n);
    return const_cast<node_base*>(n);
  }

  // Owns one reference to a node under construction; releases it on scope exit unless dismissed.
  class holder {
   public:
    holder(node_base* n, unsigned level) noexcept : n_(n), level_(level) {}
    holder(const holder&) = delete;
    holder& operator=(const holder&) = delete;
    ~holder() { release(n_, level_); }
    node_base* dismiss() noexcept { return std::exchange(n_, nullptr); }

   private:
    node_base* n_;
    unsigned level_;
  };

  // Owns a tree under construction; releases it on scope exit unless dismissed.
  class rep_holder {
   public:
    explicit rep_holder(tree_rep r) noexcept : r_(r) {}
    rep_holder(const rep_holder&) = delete;
    rep_holder& operator=(const rep_holder&) = delete;
    ~rep_holder() { release(r_.root, r_.depth); }
    tree_rep& get() noexcept { return r_; }
    tree_rep dismiss() noexcept { return std::exchange(r_, {}); }

   private:
    tree_rep r_;
  };

  // A short run of nodes of one level with their element counts, owning one reference to each
  // (released on destruction unless handed on). The working list of the structural operations.
  struct kid {
    node_base* node;
    std::size_t size;
  };
  class kids {
   public:
    explicit kids(unsigned level) noexcept : level_(level) {}
    kids(const kids&) = delete;
    kids& operator=(const kids&) = delete;
    ~kids() {
      for (const kid& k : v_) release(k.node, level_);
    }
    unsigned level() const noexcept { return level_; }
    std::size_t size() const noexcept { return v_.size(); }
    kid& operator[](std::size_t j) noexcept { return v_[j]; }
    // Takes over a reference.
    void add(node_base* n, std::size_t s) noexcept { v_.push_back({n, s}); }
    // Adds a new reference to an existing node.
    void add_shared(const node_base* n, std::size_t s) noexcept { add(share(n), s); }
    // Adds new references to children [b, e) of `in` (a node of level level() + 1 holding
    // `total` elements).
    void add_children(const inner* in, std::size_t total, std::size_t b, std::size_t e) noexcept {
      for (std::size_t k = b; k < e; ++k) add_shared(in->child[k], child_size(in, level_ + 1, k, total));
    }
    void append(kids& o) noexcept {
      for (const kid& k : o.v_) v_.push_back(k);
      o.v_.clear();
    }
    // Replaces entries [j, j + n_old) by the entries of `o` (taking them over).
    void splice(std::size_t j, std::size_t n_old, kids& o) noexcept {
      for (std::size_t k = j; k < j + n_old; ++k) release(v_[k].node, level_);
      v_.erase(v_.begin() + static_cast<std::ptrdiff_t>(j),
               v_.begin() + static_cast<std::ptrdiff_t>(j + n_old));
      v_.insert(v_.begin() + static_cast<std::ptrdiff_t>(j), o.v_.begin(), o.v_.end());
      o.v_.clear();
    }
    std::size_t total(std::size_t b, std::size_t e) const noexcept {
      std::size_t s = 0;
      for (std::size_t k = b; k < e; ++k) s += v_[k].size;
      return s;
    }

   private:
    boost::container::static_vector<kid, 2 * F + 2> v_;
    unsigned level_;
  };

  // Constructs `n` elements at `out` by calling make(k) for k in [0, n). If one throws, the ones
  // already built are destroyed and the exception propagates.
  template <class Make>
  static void construct_n(T* out, std::size_t n, Make&& make) {
    if constexpr (std::is_trivially_destructible_v<T>) {
      for (std::size_t k = 0; k < n; ++k) ::new (static_cast<void*>(out + k)) T(make(k));
    } else {
      std::size_t k = 0;
      try {
        for (; k < n; ++k) ::new (static_cast<void*>(out + k)) T(make(k));
      } catch (...) {
        std::destroy_n(out, k);
        throw;
      }
    }
  }

  // A new leaf holding `n` elements made by make(k), with the ids `ids` (whose reference it
  // takes over, also when it throws).
  template <class Make>
  static leaf* make_leaf(std::size_t n, Make&& make, leaf_ids ids) {
    leaf* l;
    try {
      l = new_leaf();
    } catch (...) {
      internal::release(ids.runs);
      throw;
    }
    l->ids = ids;
    try {
      construct_n(l->data(), n, make);
    } catch (...) {
      free_leaf(l);  // count is still 0: frees storage only
      throw;
    }
    l->count = static_cast<std::uint32_t>(n);
    return l;
  }

  // The ids of slots [b, e) of a leaf, as a new reference (shared when that is all of it).
  static leaf_ids ids_of(const leaf* src, std::size_t b, std::size_t e) {
    if (b == 0 && (src->ids.runs == nullptr || e == src->count)) return share_ids(src->ids);
    if (src->ids.runs == nullptr) return {src->ids.id0 + b, nullptr};
    ids_builder ib;
    ib.add_from(src->ids, b, e);
    return ib.build();
  }

  // A new leaf holding src[b, e), with their ids.
  static leaf* copy_leaf(const leaf* src, std::size_t b, std::size_t e) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      const leaf_ids ids = ids_of(src, b, e);
      leaf* l;
      try {
        l = new_leaf();
      } catch (...) {
        internal::release(ids.runs);
        throw;
      }
      l->ids = ids;
      std::memcpy(static_cast<void*>(l->storage), src->data() + b, (e - b) * sizeof(T));
      l->count = static_cast<std::uint32_t>(e - b);
      return l;
    } else {
      const T* s = src->data() + b;
      return make_leaf(e - b, [s](std::size_t k) -> const T& { return s[k]; }, ids_of(src, b, e));
    }
  }
  static leaf* copy_leaf(const leaf* src, std::size_t n) { return copy_leaf(src, 0, n); }

  // A new inner node referencing the first n children of src, with the same shape.
  static inner* copy_inner(const inner* src, std::size_t n) {
    inner* c = new_inner();
    for (std::size_t k = 0; k < n; ++k) c->child[k] = share(src->child[k]);
    c->count = static_cast<std::uint32_t>(n);
    c->relaxed = src->relaxed;
    if (src->relaxed) std::copy_n(src->sizes, n, c->sizes);
    return c;
  }

  static node_base* copy_node(const node_base* n, unsigned level) {
    if (level == 0) return copy_leaf(as_leaf(n), n->count);
    return copy_inner(as_inner(n), n->count);
  }

  // Sets the regular/relaxed shape of `in` (a node of `level`) from its children's sizes.
  static void set_shape(inner* in, unsigned level, const std::size_t* kid_sizes) noexcept {
    const std::size_t cc = capacity(level - 1);
    bool regular = true;
    for (std::uint32_t k = 0; k + 1 < in->count; ++k) regular &= kid_sizes[k] == cc;
    in->relaxed = !regular;
    if (!regular) {
      std::size_t s = 0;
      for (std::uint32_t k = 0; k < in->count; ++k) in->sizes[k] = s += kid_sizes[k];
    }
  }
  // Recomputes the shape of `in` after its children changed. O(F * depth).
  static void reshape(inner* in, unsigned level) noexcept {
    std::size_t s[F];
    for (std::uint32_t k = 0; k < in->count; ++k) s[k] = size_of(in->child[k], level - 1);
    set_shape(in, level, s);
  }

  // A new inner node of `level` made of kids [b, e) (e - b <= F), whose references it takes over.
  static node_base* make_node(kids& ks, std::size_t b, std::size_t e, unsigned level) {
    inner* in = new_inner();
    std::size_t s[F];
    for (std::size_t k = b; k < e; ++k) {
      in->child[k - b] = std::exchange(ks[k].node, nullptr);
      s[k - b] = ks[k].size;
    }
    in->count = static_cast<std::uint32_t>(e - b);
    set_shape(in, level, s);
    return in;
  }
  // Packs kids (at most 2F of level `level - 1`) into one node of `level`, or two of at least
  // F/2 children each, appended to `out`.
  static void pack(kids& ks, unsigned level, kids& out) {
    const std::size_t n = ks.size();
    if (n <= F) {
      const std::size_t t = ks.total(0, n);
      out.add(make_node(ks, 0, n, level), t);
      return;
    }
    const std::size_t h = (n + 1) / 2;
    const std::size_t t0 = ks.total(0, h), t1 = ks.total(h, n);
    out.add(make_node(ks, 0, h, level), t0);
    out.add(make_node(ks, h, n, level), t1);
  }

  // ---- reads -------------------------------------------------------------------------------------
  // The leaf holding element i of the subtree `root` (any subtree, with or without the radix
  // hint; leaf_at below uses the hint); on return i is its slot in that leaf.
  static const leaf* leaf_for(const node_base* root, unsigned depth, std::size_t& i) noexcept {
    // Through regular nodes i is not reduced: each level's radix digit is masked out of it. A
    // relaxed node first reduces i to its own range, then searches its size table. Below a
    // regular node's non-last child, every node is full (it holds capacity(level) elements), so
    // the rest of the path is pure radix and reads no node header.
    //
    // Above level kWide a child could hold 2^64 elements or more (only very deep relaxed trees of
    // a tiny fan-out get there), so a regular node there holds all in its first child; at kWide
    // and below, shift(level - 1) < 64.
    constexpr unsigned kWide = (63 - leaf_bits) / fanout_bits + 1;
    const node_base* n = root;
    unsigned level = depth;
    for (; level > kWide; --level) {
      const inner* in = as_inner(n);
      if (!in->relaxed) {
        n = in->child[0];
      } else {
        i &= low_mask(level);
        n = in->child[locate(in, level, i)];
      }
    }
    while (level > 0) {
      const inner* in = as_inner(n);
      if (in->relaxed) {
        i &= low_mask(level);
        n = in->child[locate(in, level, i)];
        --level;
        continue;
      }
      const std::size_t k = (i >> shift(level - 1)) & (F - 1);
      n = in->child[k];
      --level;
      if (k + 1 < in->count) {
        for (; level > 0; --level) n = as_inner(n)->child[(i >> shift(level - 1)) & (F - 1)];
        break;
      }
    }
    i &= low_mask(0);
    return as_leaf(n);
  }
  // The leaf holding element i of r, using the radix hint; on return i is its slot in it.
  static const leaf* leaf_at(const tree_rep& r, std::size_t& i) noexcept {
    if (!r.radix) return leaf_for(r.root, r.depth, i);
    // Radix all the way down: one child slot per level, no node header, and the independent
    // loads of different lookups can overlap. A radix tree holds more than capacity(depth - 1)
    // elements, so shift(depth - 1) < 64.
    const node_base* n = r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      n = as_inner(n)->child[(i >> shift(level - 1)) & (F - 1)];
    }
    i &= low_mask(0);
    return as_leaf(n);
  }
  static const T& get(const tree_rep& r, std::size_t i) noexcept {
    const leaf* l = leaf_at(r, i);
    return l->data()[i];
  }
  // Whether every inner node on the right edge of r is regular (see tree_rep::radix). O(depth).
  static bool right_edge_regular(const tree_rep& r) noexcept {
    const node_base* n = r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      const inner* in = as_inner(n);
      if (in->relaxed) return false;
      n = in->child[in->count - 1];
    }
    return r.root != nullptr;
  }

  // Calls fn(const leaf*) for every leaf under n, in order.
  template <class Fn>
  static void for_each_leaf(const node_base* n, unsigned level, Fn& fn) {
    if (level == 0) return fn(as_leaf(n));
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) for_each_leaf(in->child[k], level - 1, fn);
  }

  // Calls fn(const leaf*, b, e) for each leaf overlapping [lo, hi) (relative to n, which holds
  // `size` elements), with [b, e) the leaf's slots inside the range, in order.
  template <class Fn>
  static void for_each_leaf_in(const node_base* n, unsigned level, std::size_t size,
                               std::size_t lo, std::size_t hi, Fn& fn) {
    if (level == 0) return fn(as_leaf(n), lo, std::min<std::size_t>(hi, n->count));
    const inner* in = as_inner(n);
    std::size_t rel = lo;
    std::size_t k = locate(in, level, rel);
    std::size_t start = lo - rel;
    for (; k < in->count && start < hi; ++k) {
      const std::size_t cs = child_size(in, level, k, size);
      for_each_leaf_in(in->child[k], level - 1, cs, lo > start ? lo - start : 0,
                       std::min(hi - start, cs), fn);
      start += cs;
    }
  }

  // Calls fn(first, last) for each leaf overlapping [lo, hi) (relative to n, which holds `size`
  // elements), clipped to it, in order.
  template <class Fn>
  static void for_each_chunk(const node_base* n, unsigned level, std::size_t size, std::size_t lo,
                             std::size_t hi, Fn& fn) {
    auto chunk = [&fn](const leaf* l, std::size_t b, std::size_t e) { fn(l->data() + b, l->data() + e); };
    for_each_leaf_in(n, level, size, lo, hi, chunk);
  }

  // ---- introspection -----------------------------------------------------------------------------
  // Adds a leaf and its id list (unless `exclusive` and the list is shared with another leaf).
  // Id lists seen by a walk: a list is counted once, however many of the walk's leaves hold it
  // (leaves of one version share a list when the version holds the same rows twice). Lists held
  // by one leaf only need no bookkeeping.
  struct list_counts {
    std::unordered_map<const id_runs*, std::uint32_t> shared;  // list -> leaves of the walk
    bool lost = false;  // out of memory: shared lists were counted per leaf
  };
  static void leaf_stats(const node_base* n, tree_stats& s, list_counts& lc) noexcept {
    s.bytes += leaf_bytes;
    ++s.leaves;
    const id_runs* r = as_leaf(n)->ids.runs;
    if (r == nullptr) return;
    if (r->refs.load(std::memory_order_acquire) > 1 && !lc.lost) {
      try {
        if (lc.shared[r]++ > 0) return;  // counted at its first leaf
      } catch (...) {
        lc.lost = true;
      }
    }
    s.bytes += r->bytes();
    ++s.id_lists;
  }
  static void stats_rec(const node_base* n, unsigned level, tree_stats& s, list_counts& lc) noexcept {
    if (level == 0) return leaf_stats(n, s, lc);
    s.bytes += inner_bytes;
    ++s.inner_nodes;
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) stats_rec(in->child[k], level - 1, s, lc);
  }
  static void stats(const node_base* n, unsigned level, tree_stats& s) noexcept {
    list_counts lc;
    stats_rec(n, level, s, lc);
  }
  static void exclusive_rec(const node_base* n, unsigned level, tree_stats& s, list_counts& lc) noexcept {
    if (!is_unique(n)) return;
    if (level == 0) return leaf_stats(n, s, lc);
    s.bytes += inner_bytes;
    ++s.inner_nodes;
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) exclusive_rec(in->child[k], level - 1, s, lc);
  }
  // Nodes reachable only through this reference: those with a count of one all the way down,
  // and the id lists all of whose holders are among them.
  static void exclusive_stats(const node_base* n, unsigned level, tree_stats& s) noexcept {
    list_counts lc;
    exclusive_rec(n, level, s, lc);
    for (const auto& [r, holders] : lc.shared) {  // counted once above: keep only the exclusive
      if (holders != r->refs.load(std::memory_order_acquire)) {
        s.bytes -= r->bytes();
        --s.id_lists;
      }
    }
  }
  // Calls fn(node, bytes) for n and, while fn returns true, for its children, depth first. A
  // leaf's id list, when it has one, is visited as a child of the leaf (lists are shared by
  // leaves holding the same rows).
  template <class Fn>
  static void visit(const node_base* n, unsigned level, const Fn& fn) {
    if (!fn(static_cast<const void*>(n), level == 0 ? leaf_bytes : inner_bytes)) return;
    if (level == 0) {
      if (const id_runs* r = as_leaf(n)->ids.runs) fn(static_cast<const void*>(r), r->bytes());
      return;
    }
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) visit(in->child[k], level - 1, fn);
  }

  // std, not absl: Abseil 20220623 corrupts its table when an allocation fails while it grows.
  using node_set = std::unordered_set<const node_base*>;
  static void collect(const node_base* n, unsigned level, node_set& out) {
    if (!out.insert(n).second || level == 0) return;
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) collect(in->child[k], level - 1, out);
  }
  // Stats of the nodes under n that are also in `other` (every node below a member is a member).
  static void shared_stats(const node_base* n, unsigned level, const node_set& other,
                           tree_stats& s) {
    if (other.contains(n)) return stats(n, level, s);
    if (level == 0) return;
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) shared_stats(in->child[k], level - 1, other, s);
  }

  // Verifies (I1)-(I4) and the recorded size and depth; returns a description of the first
  // violation, or an empty string. O(n / Cap).
  static std::string check(const tree_rep& r) {
    if (r.root == nullptr) return r.size == 0 && r.depth == 0 ? "" : "empty root with a size";
    if (r.depth > max_depth) return "depth above max_depth";
    if (r.depth > 0 && r.root->count < 2) return "inner root with fewer than 2 children";
    std::string why;
    const std::size_t n = check_node(r.root, r.depth, true, true, why);
    if (!why.empty()) return why;
    if (n != r.size) return "recorded size " + std::to_string(r.size) + " != " + std::to_string(n);
    if (r.radix) {
      // Radix indexing is right when, on the right edge, every child but the last is full (a
      // full subtree has every node full, so it is radix-indexable).
      const node_base* e = r.root;
      for (unsigned level = r.depth; level > 0; --level) {
        const inner* in = as_inner(e);
        for (std::uint32_t k = 0; k + 1 < in->count; ++k) {
          if (size_of(in->child[k], level - 1) != capacity(level - 1)) {
            return "radix hint set on a tree with a non-full child on the right edge";
          }
        }
        e = in->child[in->count - 1];
      }
    }
    if constexpr (structural) {
      // Height bound implied by (I2): size > (F/2)^(depth-1) * min_leaf.
      if (r.depth >= 2) {
        std::size_t least = min_leaf;
        for (unsigned d = 1; d < r.depth && least < SIZE_MAX / min_inner; ++d) least *= min_inner;
        if (r.size <= least) return "depth " + std::to_string(r.depth) + " too large for size";
      }
    }
    return "";
  }
  static std::size_t check_node(const node_base* n, unsigned level, bool root, bool right_edge,
                                std::string& why) {
    const std::size_t cnt = n->count;
    if (level == 0) {
      if (cnt < 1 || cnt > Cap) why = "leaf count out of range";
      if (const id_runs* r = as_leaf(n)->ids.runs) {
        if (r->n < 2 || r->starts()[0] != 0) why = "leaf id list malformed";
        for (std::uint32_t j = 1; j < r->n && why.empty(); ++j) {
          const std::uint32_t* st = r->starts();
          const row_id_t* f = r->firsts();
          if (st[j] <= st[j - 1] || st[j] >= cnt || f[j] == f[j - 1] + (st[j] - st[j - 1])) {
            why = "leaf id list malformed (runs out of order, past the rows, or not maximal)";
          }
        }
      }
      if (!root && !right_edge && cnt < min_leaf) why = "leaf below half full off the right edge";
      return cnt;
    }
    if (cnt < 1 || cnt > F) why = "inner count out of range";
    if (!root && !right_edge && cnt < min_inner) why = "inner node below half full off the right edge";
    const inner* in = as_inner(n);
    std::size_t total = 0;
    for (std::uint32_t k = 0; k < cnt && why.empty(); ++k) {
      const std::size_t s = check_node(in->child[k], level - 1, false, right_edge && k + 1 == cnt, why);
      total += s;
      if (in->relaxed && in->sizes[k] != total) why = "relaxed size table is wrong";
      if (!in->relaxed && s != capacity(level - 1) && k + 1 < cnt) why = "regular node with a non-full child";
      if (!in->relaxed && k + 1 == cnt && s > capacity(level - 1)) why = "regular node over capacity";
    }
    return total;
  }

  // ---- building ------------------------------------------------------------------------------------
  // Builds a subtree of `n` elements (1 <= n <= capacity(level)), filling the leaves in order
  // with fill(out, k): constructs the next k elements at out, or destroys what it built and
  // throws.
  // Leaves take consecutive ids from next_id.
  template <class Fill>
  static node_base* build(Fill& fill, unsigned level, std::size_t n, row_id_t& next_id) {
    if (level == 0) {
      leaf* l = new_leaf();
      l->ids = {next_id, nullptr};
      next_id += n;
      try {
        fill(l->data(), n);
      } catch (...) {
        free_leaf(l);
        throw;
      }
      l->count = static_cast<std::uint32_t>(n);
      return l;
    }
    inner* in = new_inner();
    holder h(in, level);
    const std::size_t cc = capacity(level - 1);
    while (n > 0) {
      const std::size_t k = std::min(n, cc);
      in->child[in->count] = build(fill, level - 1, k, next_id);
      ++in->count;
      n -= k;
    }
    return h.dismiss();
  }

  template <class Fill>
  static tree_rep build_rep(Fill& fill, std::size_t n) {
    if (n == 0) return {};
    const unsigned d = depth_for(n);
    row_id_t next_id = fresh_row_ids(n);
    return {build(fill, d, n, next_id), n, d, true};
  }

  // A tree of the n elements starting at `it`.
  template <class It>
  static tree_rep build_copy(It it, std::size_t n) {
    auto fill = [&it](T* out, std::size_t k) {
      for (std::size_t j = 0; j < k; ++j, ++it) {
        try {
          ::new (static_cast<void*>(out + j)) T(*it);
        } catch (...) {
          std::destroy_n(out, j);
          throw;
        }
      }
    };
    return build_rep(fill, n);
  }

  // A tree of n copies of value.
  static tree_rep build_fill(const T& value, std::size_t n) {
    auto fill = [&value](T* out, std::size_t k) { std::ranges::uninitialized_fill_n(out, static_cast<std::ptrdiff_t>(k), value); };
    return build_rep(fill, n);
  }

  // ---- bulk transform (persistent) ---------------------------------------------------------------
  // A new reference to a subtree equal to n (holding `size` elements) with fn applied to the
  // elements whose index (relative to n) is in [lo, hi). Subtrees outside the range, and chunks
  // whose contents come out unchanged, are shared rather than copied.
  template <class Fn>
  static node_base* transform(const node_base* n, unsigned level, std::size_t size, std::size_t lo,
                              std::size_t hi, Fn& fn) {
    if (hi <= lo || lo >= size) return share(n);
    if (level == 0) {
      const T* s = as_leaf(n)->data();
      const std::size_t cnt = n->count;
      const std::size_t b = lo;
      const std::size_t e = std::min<std::size_t>(hi, cnt);
      leaf* l;
      if (b == 0 && e == cnt) {
        l = make_leaf(cnt, [s, &fn](std::size_t k) -> T { return fn(s[k]); }, share_ids(as_leaf(n)->ids));
      } else {
        l = make_leaf(cnt, [s, &fn, b, e](std::size_t k) -> T {
          if (k >= b && k < e) return fn(s[k]);
          return s[k];
        }, share_ids(as_leaf(n)->ids));
      }
      if constexpr (std::equality_comparable<T>) {
        if (std::equal(s + b, s + e, l->data() + b)) {
          free_leaf(l);
          return share(n);
        }
      }
      return l;
    }
    const inner* src = as_inner(n);
    inner* out = new_inner();
    holder h(out, level);
    out->relaxed = src->relaxed;
    if (src->relaxed) std::copy_n(src->sizes, src->count, out->sizes);
    bool changed = false;
    std::size_t start = 0;
    for (std::uint32_t k = 0; k < src->count; ++k) {
      const std::size_t cs = child_size(src, level, k, size);
      const std::size_t clo = lo > start ? lo - start : 0;
      const std::size_t chi = hi > start ? std::min(hi - start, cs) : 0;
      out->child[k] = transform(src->child[k], level - 1, cs, clo, chi, fn);
      out->count = k + 1;
      changed |= out->child[k] != src->child[k];
      start += cs;
    }
    if (!changed) return share(n);  // h frees `out` and drops the extra child references
    return h.dismiss();
  }

  // ---- in-place edits through a uniquely owned root (editors, rvalue overloads) ------------------
  // Makes the node in *slot uniquely owned, copying it if it is shared.
  static node_base* own(node_base** slot, unsigned level) {
    node_base* n = *slot;
    if (is_unique(n)) return n;
    node_base* c = copy_node(n, level);
    *slot = c;
    release(n, level);
    return c;
  }

  // Makes every node on the path to element i uniquely owned; returns the element's slot.
  static T* own_slot(tree_rep& r, std::size_t i) {
    node_base** slot = &r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      inner* in = as_inner(own(slot, level));
      slot = &in->child[locate(in, level, i)];
    }
    return as_leaf(own(slot, 0))->data() + i;
  }

  // Replaces the leaf holding element i by `l` (taking a new reference to it), owning the path
  // above it. REQUIRES: l holds as many elements as the leaf it replaces.
  static void replace_leaf(tree_rep& r, std::size_t i, const node_base* l) {
    node_base** slot = &r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      inner* in = as_inner(own(slot, level));
      slot = &in->child[locate(in, level, i)];
    }
    assert((*slot)->count == l->count);
    release(std::exchange(*slot, share(l)), 0);
  }

  // A chain of new nodes from `level` down to a leaf holding one element built from args.
  template <class... Args>
  static node_base* new_path(unsigned level, leaf** out, row_id_t id, Args&&... args) {
    leaf* l = new_leaf();
    l->ids = {id, nullptr};
    try {
      ::new (static_cast<void*>(l->data())) T(std::forward<Args>(args)...);
    } catch (...) {
      free_leaf(l);
      throw;
    }
    l->count = 1;
    *out = l;
    node_base* n = l;
    for (unsigned k = 1; k <= level; ++k) {
      holder h(n, k - 1);
      inner* in = new_inner();
      in->child[0] = h.dismiss();
      in->count = 1;
      n = in;
    }
    return n;
  }

  // Whether a row with this id can be appended to l without touching its id list.
  static bool continues_ids(const leaf* l, row_id_t id) noexcept {
    return l->ids.runs == nullptr && (l->count == 0 || l->ids.id0 + l->count == id);
  }
  // Constructs one more element at the end of l (owned, not full) with the given id. Strong.
  template <class... Args>
  static void append_in_place(leaf* l, row_id_t id, Args&&... args) {
    if (continues_ids(l, id)) {
      ::new (static_cast<void*>(l->data() + l->count)) T(std::forward<Args>(args)...);
      if (l->count == 0) l->ids.id0 = id;
      ++l->count;
      return;
    }
    ids_builder bld;
    bld.add_from(l->ids, 0, l->count);
    bld.add(id);
    const leaf_ids ids = bld.build();
    try {
      ::new (static_cast<void*>(l->data() + l->count)) T(std::forward<Args>(args)...);
    } catch (...) {
      internal::release(ids.runs);
      throw;
    }
    internal::release(l->ids.runs);
    l->ids = ids;
    ++l->count;
  }

  // Appends one element at the deepest node of the right edge that has room. Returns the last
  // leaf when it and every node above it are owned and regular (so that the caller may append
  // to that leaf directly, without updating any size table), nullptr otherwise.
  template <class... Args>
  static leaf* push_back(tree_rep& r, row_id_t id, Args&&... args) {
    leaf* l = nullptr;
    if (r.root == nullptr) {
      r.root = new_path(0, &l, id, std::forward<Args>(args)...);
      r.size = 1;
      r.depth = 0;
      r.radix = true;
      return l;
    }
    // The deepest level of the right edge with room (UINT_MAX: none).
    unsigned room = UINT_MAX;
    {
      const node_base* n = r.root;
      for (unsigned level = r.depth;; --level) {
        if (n->count < (level == 0 ? Cap : F)) room = level;
        if (level == 0) break;
        n = as_inner(n)->child[n->count - 1];
      }
    }
    if (room == UINT_MAX) {  // full: grow a level
      inner* nr = new_inner();
      try {
        nr->child[1] = new_path(r.depth, &l, id, std::forward<Args>(args)...);
      } catch (...) {
        free_inner_shallow(nr);
        throw;
      }
      nr->child[0] = r.root;
      nr->count = 2;
      const std::size_t kid_sizes[2] = {r.size, 1};
      set_shape(nr, r.depth + 1, kid_sizes);
      r.root = nr;
      ++r.depth;
      ++r.size;
      return nr->relaxed ? nullptr : l;
    }
    // Own the right edge down to `room`.
    inner* path[max_depth + 1];
    node_base** slot = &r.root;
    bool regular = true;
    for (unsigned level = r.depth; level > room; --level) {
      inner* in = as_inner(own(slot, level));
      path[level] = in;
      regular &= !in->relaxed;
      slot = &in->child[in->count - 1];
    }
    node_base* target = own(slot, room);
    if (room == 0) {
      l = as_leaf(target);
      append_in_place(l, id, std::forward<Args>(args)...);
    } else {
      inner* in = as_inner(target);
      node_base* p = new_path(room - 1, &l, id, std::forward<Args>(args)...);
      in->child[in->count] = p;
      ++in->count;
      if (in->relaxed) {
        in->sizes[in->count - 1] = in->sizes[in->count - 2] + 1;
      } else if (size_of(in->child[in->count - 2], room - 1) != capacity(room - 1)) {
        reshape(in, room);  // the old last child is not full: the node turns relaxed
      }
      regular &= !in->relaxed;
    }
    for (unsigned level = r.depth; level > room; --level) {
      if (path[level]->relaxed) ++path[level]->sizes[path[level]->count - 1];
    }
    ++r.size;
    return regular ? l : nullptr;
  }

  // Removes the last element. REQUIRES: r.size > 0.
  static void pop_back(tree_rep& r) {
    if (r.size == 1) {
      release(r.root, r.depth);
      r = {};
      return;
    }
    inner* path[max_depth + 1];
    node_base** slot = &r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      inner* in = as_inner(own(slot, level));
      path[level] = in;
      slot = &in->child[in->count - 1];
    }
    leaf* l = as_leaf(own(slot, 0));  // may throw; nothing observable changed
    // The id list loses its last run when the last row was that run's only row.
    const id_runs* old_runs = l->ids.runs;
    const bool trim = old_runs != nullptr && old_runs->starts()[old_runs->n - 1] == l->count - 1;
    const leaf_ids trimmed = trim ? ids_of(l, 0, l->count - 1) : leaf_ids{};  // may throw
    for (unsigned level = r.depth; level > 0; --level) {
      if (path[level]->relaxed) --path[level]->sizes[path[level]->count - 1];
    }
    if (trim) {
      internal::release(old_runs);
      l->ids = trimmed;
    }
    std::destroy_at(l->data() + (l->count - 1));
    --l->count;
    if (l->count == 0) {
      free_leaf(l);
      for (unsigned level = 1; level <= r.depth; ++level) {
        inner* p = path[level];
        if (--p->count > 0) break;
        free_inner_shallow(p);
      }
    }
    --r.size;
    collapse(r);
  }

  // Drops root levels that have a single child.
  static void collapse(tree_rep& r) noexcept {
    while (r.depth > 0 && r.root->count == 1) {
      node_base* c = share(as_inner(r.root)->child[0]);
      release(r.root, r.depth);
      r.root = c;
      --r.depth;
    }
  }

  // A new reference to the first k elements (1 <= k <= size) of the subtree n (holding `size`),
  // sharing every child that is kept whole.
  static node_base* take(const node_base* n, unsigned level, std::size_t size, std::size_t k) {
    if (k == size) return share(n);
    if (level == 0) return copy_leaf(as_leaf(n), k);
    const inner* src = as_inner(n);
    std::size_t rel = k - 1;
    const std::size_t j = locate(src, level, rel);
    node_base* last = take(src->child[j], level - 1, child_size(src, level, j, size), rel + 1);
    holder h(last, level - 1);
    inner* out = copy_inner(src, j);
    out->child[j] = h.dismiss();
    out->count = static_cast<std::uint32_t>(j + 1);
    if (out->relaxed) out->sizes[j] = k;
    return out;
  }

  // Keeps the first k elements. Always strong: builds the new edge, then swaps.
  static void truncate(tree_rep& r, std::size_t k) {
    if (k >= r.size) return;
    if (k == 0) {
      release(r.root, r.depth);
      r = {};
      return;
    }
    // A prefix of a radix tree is one: its full children stay full.
    tree_rep t{take(r.root, r.depth, r.size, k), k, r.depth, r.radix};
    collapse(t);
    release(r.root, r.depth);
    r = t;
  }

  // ---- structural edits (F >= 4) -------------------------------------------------------------------
  // Each builds the new version's changed paths and swaps it in, so each is strong.

  // Whether node n (of `level`) is below the fill minimum (I2).
  static bool thin(const node_base* n, unsigned level) noexcept {
    return n->count < (level == 0 ? min_leaf : min_inner);
  }

  // Replaces ks[j], ks[j+1] (nodes of ks.level()) by one node holding both, or by two nodes of at
  // least half capacity each (the first one getting the larger half).
  static void rebalance(kids& ks, std::size_t j) {
    const unsigned level = ks.level();
    const node_base* a = ks[j].node;
    const node_base* b = ks[j + 1].node;
    const std::size_t ca = a->count, cb = b->count, total = ca + cb;
    kids out(level);
    if (level == 0) {
      const T* pa = as_leaf(a)->data();
      const T* pb = as_leaf(b)->data();
      auto elem = [pa, pb, ca](std::size_t k) -> const T& { return k < ca ? pa[k] : pb[k - ca]; };
      const leaf_ids& ia = as_leaf(a)->ids;
      const leaf_ids& ib = as_leaf(b)->ids;
      // The ids of elem(k) for k in [lo, hi).
      auto ids = [&](std::size_t lo, std::size_t hi) {
        ids_builder bld;
        if (lo < ca) bld.add_from(ia, lo, std::min(hi, ca));
        if (hi > ca) bld.add_from(ib, std::max(lo, ca) - ca, hi - ca);
        return bld.build();
      };
      if (total <= Cap) {
        out.add(make_leaf(total, elem, ids(0, total)), total);
      } else {
        const std::size_t h = (total + 1) / 2;
        out.add(make_leaf(h, elem, ids(0, h)), h);
        out.add(make_leaf(total - h, [&elem, h](std::size_t k) -> const T& { return elem(h + k); },
                          ids(h, total)),
                total - h);
      }
    } else {
      kids grand(level - 1);
      grand.add_children(as_inner(a), ks[j].size, 0, ca);
      grand.add_children(as_inner(b), ks[j + 1].size, 0, cb);
      pack(grand, level, out);
    }
    ks.splice(j, 2, out);
  }

  // Inserts copies of value at i (0 <= i <= size of n) into the subtree n; appends the result,
  // one node or two (after a split), to `out`.
  static void insert_rec(const node_base* n, unsigned level, std::size_t size, std::size_t i,
                         const T& value, row_id_t id, kids& out) {
    if (level == 0) {
      const T* s = as_leaf(n)->data();
      const leaf_ids& src = as_leaf(n)->ids;
      const std::size_t cnt = n->count;
      auto elem = [s, i, &value](std::size_t k) -> const T& {
        return k < i ? s[k] : k == i ? value : s[k - 1];
      };
      // The ids of elem(k) for k in [lo, hi).
      auto ids = [&](std::size_t lo, std::size_t hi) {
        ids_builder bld;
        if (lo < i) bld.add_from(src, lo, std::min(hi, i));
        if (lo <= i && i < hi) bld.add(id);
        if (hi > i + 1) bld.add_from(src, std::max(lo, i + 1) - 1, hi - 1);
        return bld.build();
      };
      if (cnt < Cap) {
        out.add(make_leaf(cnt + 1, elem, ids(0, cnt + 1)), cnt + 1);
      } else {
        const std::size_t h = (cnt + 2) / 2;
        out.add(make_leaf(h, elem, ids(0, h)), h);
        out.add(make_leaf(cnt + 1 - h, [&elem, h](std::size_t k) -> const T& { return elem(h + k); },
                          ids(h, cnt + 1)),
                cnt + 1 - h);
      }
      return;
    }
    const inner* in = as_inner(n);
    std::size_t rel = i;
    std::size_t k;
    if (i == size) {
      k = in->count - 1;
      rel = i - child_start(in, level, k);
    } else {
      k = locate(in, level, rel);
    }
    kids sub(level - 1);
    insert_rec(in->child[k], level - 1, child_size(in, level, k, size), rel, value, id, sub);
    kids ks(level - 1);
    ks.add_children(in, size, 0, k);
    ks.append(sub);
    ks.add_children(in, size, k + 1, in->count);
    pack(ks, level, out);
  }

  // A new reference to the subtree n (holding `size` elements) without element i, or nullptr if
  // nothing is left. `right_edge`: n is on the right edge of the tree (may stay thin).
  static node_base* erase_rec(const node_base* n, unsigned level, std::size_t size, std::size_t i,
                              bool right_edge) {
    if (level == 0) {
      if (n->count == 1) return nullptr;
      const T* s = as_leaf(n)->data();
      ids_builder bld;
      bld.add_from(as_leaf(n)->ids, 0, i);
      bld.add_from(as_leaf(n)->ids, i + 1, n->count);
      return make_leaf(n->count - 1u, [s, i](std::size_t k) -> const T& { return s[k < i ? k : k + 1]; },
                       bld.build());
    }
    const inner* in = as_inner(n);
    std::size_t rel = i;
    const std::size_t k = locate(in, level, rel);
    const std::size_t cs = child_size(in, level, k, size);
    const bool last = k + 1 == in->count;
    node_base* sub = erase_rec(in->child[k], level - 1, cs, rel, right_edge && last);
    kids ks(level - 1);
    ks.add_children(in, size, 0, k);
    if (sub != nullptr) ks.add(sub, cs - 1);
    ks.add_children(in, size, k + 1, in->count);
    if (ks.size() == 0) return nullptr;
    if (sub != nullptr && ks.size() > 1 && thin(sub, level - 1) && !(right_edge && last)) {
      rebalance(ks, k + 1 < ks.size() ? k : k - 1);
    }
    return make_node(ks, 0, ks.size(), level);
  }

  // A new reference to the subtree n (holding `size` elements) without its first k elements
  // (0 < k < size). The result's left edge may be thin; repair_left fixes that.
  static node_base* suffix(const node_base* n, unsigned level, std::size_t size, std::size_t k) {
    if (level == 0) return copy_leaf(as_leaf(n), k, n->count);
    const inner* in = as_inner(n);
    std::size_t rel = k;
    const std::size_t j = locate(in, level, rel);
    const std::size_t cs = child_size(in, level, j, size);
    kids ks(level - 1);
    ks.add(rel == 0 ? share(in->child[j]) : suffix(in->child[j], level - 1, cs, rel), cs - rel);
    ks.add_children(in, size, j + 1, in->count);
    return make_node(ks, 0, ks.size(), level);
  }

  // Restores (I2) along the left edge of r, top down: before descending into the first child of
  // a node, gives that child more than the minimum (merging it with, or borrowing from, its
  // right sibling) so that a merge below it cannot make it thin.
  static void repair_left(tree_rep& r) {
    collapse(r);
    node_base** slot = &r.root;
    unsigned level = r.depth;
    while (level > 0) {
      inner* p = as_inner(own(slot, level));
      const node_base* c0 = p->child[0];
      if (p->count >= 2 && (level == 1 ? c0->count < min_leaf : c0->count <= min_inner)) {
        kids ks(level - 1);
        const std::size_t psize = size_of(p, level);
        ks.add_children(p, psize, 0, 2);
        rebalance(ks, 0);
        // Splice the result into p.
        const std::uint32_t removed = 2 - static_cast<std::uint32_t>(ks.size());
        release(p->child[0], level - 1);
        release(p->child[1], level - 1);
        p->child[0] = std::exchange(ks[0].node, nullptr);
        if (ks.size() == 2) {
          p->child[1] = std::exchange(ks[1].node, nullptr);
        } else {
          std::move(p->child + 2, p->child + p->count, p->child + 1);
        }
        p->count -= removed;
        reshape(p, level);
        if (slot == &r.root && p->count == 1) {
          collapse(r);
          slot = &r.root;
          level = r.depth;
          continue;
        }
      }
      slot = &p->child[0];
      --level;
    }
  }

  // Concatenates the subtrees a (level la, sa elements) and b (level lb, sb elements) into one
  // or two nodes of level max(la, lb), appended to `out`. b must satisfy (I2) on its left edge.
  static void concat_rec(const node_base* a, unsigned la, std::size_t sa, const node_base* b,
                         unsigned lb, std::size_t sb, kids& out) {
    if (la == 0 && lb == 0) {
      // Both leaves are kept (shared) unless a, the old last leaf of the left tree, is thin: then
      // the two are merged into one leaf or split evenly into two.
      kids ks(0);
      ks.add_shared(a, a->count);
      ks.add_shared(b, b->count);
      if (a->count < min_leaf) rebalance(ks, 0);
      out.append(ks);
      return;
    }
    const unsigned level = std::max(la, lb);
    kids ks(level - 1);
    if (la > lb) {
      const inner* ia = as_inner(a);
      const std::size_t last = ia->count - 1;
      kids mid(level - 1);
      concat_rec(ia->child[last], la - 1, child_size(ia, la, last, sa), b, lb, sb, mid);
      ks.add_children(ia, sa, 0, last);
      ks.append(mid);
    } else if (la < lb) {
      const inner* ib = as_inner(b);
      kids mid(level - 1);
      concat_rec(a, la, sa, ib->child[0], lb - 1, child_size(ib, lb, 0, sb), mid);
      ks.append(mid);
      ks.add_children(ib, sb, 1, ib->count);
    } else {
      const inner* ia = as_inner(a);
      const inner* ib = as_inner(b);
      const std::size_t last = ia->count - 1;
      kids mid(level - 1);
      concat_rec(ia->child[last], la - 1, child_size(ia, la, last, sa), ib->child[0], lb - 1,
                 child_size(ib, lb, 0, sb), mid);
      ks.add_children(ia, sa, 0, last);
      ks.append(mid);
      ks.add_children(ib, sb, 1, ib->count);
    }
    pack(ks, level, out);
  }

  // Builds a tree from one or two nodes of `level`.
  static tree_rep from_kids(kids& ks, std::size_t size) {
    tree_rep t;
    if (ks.size() == 1) {
      t = {std::exchange(ks[0].node, nullptr), size, ks.level()};
    } else {
      t = {make_node(ks, 0, 2, ks.level() + 1), size, ks.level() + 1};
    }
    collapse(t);
    t.radix = right_edge_regular(t);
    return t;
  }

  // a followed by b, as a new tree (new references). O(F * depth + Cap).
  static tree_rep concat(const tree_rep& a, const tree_rep& b) {
    if (a.size == 0) {
      return b.size == 0 ? tree_rep{} : tree_rep{share(b.root), b.size, b.depth, b.radix};
    }
    if (b.size == 0) return {share(a.root), a.size, a.depth, a.radix};
    kids out(std::max(a.depth, b.depth));
    concat_rec(a.root, a.depth, a.size, b.root, b.depth, b.size, out);
    return from_kids(out, a.size + b.size);
  }

  // r without its first k elements.
  static void drop(tree_rep& r, std::size_t k) {
    if (k == 0) return;
    if (k >= r.size) {
      release(r.root, r.depth);
      r = {};
      return;
    }
    rep_holder t(tree_rep{suffix(r.root, r.depth, r.size, k), r.size - k, r.depth});
    repair_left(t.get());
    t.get().radix = right_edge_regular(t.get());
    release(r.root, r.depth);
    r = t.dismiss();
  }

  // Inserts value before element i (0 <= i <= r.size). O(F * depth + Cap).
  static void insert(tree_rep& r, std::size_t i, const T& value, row_id_t id) {
    if (r.root == nullptr) {
      leaf* l;
      r.root = new_path(0, &l, id, value);
      r.size = 1;
      r.radix = true;
      return;
    }
    kids out(r.depth);
    insert_rec(r.root, r.depth, r.size, i, value, id, out);
    tree_rep t = from_kids(out, r.size + 1);
    release(r.root, r.depth);
    r = t;
  }

  // Removes element i (i < r.size). O(F * depth + Cap).
  static void erase(tree_rep& r, std::size_t i) {
    node_base* n = erase_rec(r.root, r.depth, r.size, i, true);
    tree_rep t{n, r.size - 1, n == nullptr ? 0 : r.depth};
    collapse(t);
    t.radix = right_edge_regular(t);
    release(r.root, r.depth);
    r = t;
  }

  // Removes elements [first, last) (first < last <= r.size): concat(take(first), drop(last)).
  static void erase_range(tree_rep& r, std::size_t first, std::size_t last) {
    if (last - first == 1) return erase(r, first);
    rep_holder tail(tree_rep{share(r.root), r.size, r.depth});
    drop(tail.get(), last);
    rep_holder head(tree_rep{share(r.root), r.size, r.depth});
    truncate(head.get(), first);
    tree_rep t = concat(head.get(), tail.get());
    release(r.root, r.depth);
    r = t;
  }

  // Inserts the tree `mid` before element i: concat(concat(take(i), mid), drop(i)).
  static void insert_tree(tree_rep& r, std::size_t i, const tree_rep& mid) {
    if (mid.size == 0) return;
    rep_holder tail(tree_rep{r.root == nullptr ? nullptr : share(r.root), r.size, r.depth});
    drop(tail.get(), i);
    rep_holder head(tree_rep{r.root == nullptr ? nullptr : share(r.root), r.size, r.depth});
    truncate(head.get(), i);
    rep_holder left(concat(head.get(), mid));
    tree_rep t = concat(left.get(), tail.get());
    release(r.root, r.depth);
    r = t;
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RBTREE_H_
