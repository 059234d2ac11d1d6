// Internal: the bottom layer of the relaxed radix-balanced tree behind pvec<T> (rbtree.h): the
// tree's shape, its state (tree_rep), the arithmetic of its levels, and the lifecycle of its
// nodes (allocation, copying, reference release). Users never include this header.
//
// Other headers may use, through rbtree<T, Cap, F> (which derives from rrb_nodes):
//   tree_rep                                  a tree as held by a pvec or an editor
//   leaf, inner, leaf_cap, fanout, max_depth, ...   node types and shape constants
//   as_leaf, as_inner                         downcasts of a node_base (its level is known)
//   shift, capacity, low_mask, depth_for      shape arithmetic of a level
//   size_of, child_start, child_size          element counts of a subtree and of a child
//   new_leaf, new_inner, free_leaf, ...       node allocation
//   release, share, destroy                   reference counting (see node.h)
//   holder, rep_holder, kids                  owners of nodes and trees under construction
//   make_leaf, copy_leaf, copy_inner, copy_node, ids_of   new leaves and copies
//   set_shape, reshape, make_node, pack       regular/relaxed shape of new and changed nodes
//   relaxed_shape, add_table, bytes_of        inner nodes with and without a size table
//
// Shape. A tree of `size` elements has a depth; level 0 nodes are leaves of 1..Cap elements,
// level L > 0 nodes are inner nodes of 1..F children of level L-1. An inner node is either
// - regular: every child but the last holds exactly capacity(L-1) = Cap * F^(L-1) elements (so it
//   is completely full), and the last holds at most that; element i of the node is in child
//   i >> shift(L-1), found by radix with no table; or
// - relaxed: its children may hold any number of elements; sizes[k] counts the elements of
//   child[0..k], and lookup searches that table starting from the radix guess.
// Trees built by construction, push_back, pvec::set, transform, take and pop_back stay regular (the
// classic radix-balanced vector: every leaf full but the last); insert, erase, drop, slice and
// concat create relaxed nodes along the paths they touch, O(depth) of them per operation.
//
// Invariants (check(), run by pvec::check_invariants(), verifies them; every operation keeps them):
// (I1) leaves hold 1..Cap elements, inner nodes 1..F children; the root, if inner, has >= 2.
// (I2) fill: every node that is not on the right edge of the tree (the path to the last element)
//      holds at least half its capacity: leaves >= ceil(Cap/2) elements, inner nodes >= F/2
//      children. Only the right edge may be thinner, as in a push_back-built vector.
// (I3) regular nodes satisfy the radix rule above; relaxed nodes have exact size tables.
// (I4) a tree_rep's `radix` hint, when set, means the radix rule holds at every node (each child
//      but the last of every node on the right edge is full), so lookups skip node headers; its
//      `patch_free` hint, when set, means no level-0 node is a patch.
// Hence (F >= 4) a tree of depth d holds more than (F/2)^(d-1) * ceil(Cap/2) elements: its height
// is at most 1 + log_{F/2}(size / ceil(Cap/2)), a single level more than a full tree for F = 32.
// The bound needs F >= 4: with F = 2 the structural operations (insert, erase, drop, concat) are
// still correct but the height is only bounded by the history of operations.
//
// Implementation details follow.
#ifndef COWDB_INTERNAL_RRB_NODES_H_
#define COWDB_INTERNAL_RRB_NODES_H_

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "boost/container/static_vector.hpp"
#include "cowdb/internal/node.h"

namespace cowdb::internal {

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
  // A hint for reads: true only when no level-0 node of the tree is a patch, so that a read
  // takes its element from the leaf's data without reading the leaf's header (a second cache
  // line on a random read). False is always safe. Trees built from rows start with it; writes
  // that make a patch clear it; operations that reshape a tree keep their sources' hints.
  bool patch_free = false;
};

template <class T, std::size_t Cap, std::size_t F>
struct rrb_nodes {
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
      structural
          ? 2 + (64 - (leaf_bits > 0 ? leaf_bits - 1 : 0) + fanout_bits - 2) / (fanout_bits - 1)
          : (64 - leaf_bits + fanout_bits - 1) / fanout_bits;
  // Patches (node.h): a write to one element of a shared leaf makes a patch over it holding up
  // to patch_cap replaced elements, instead of copying the leaf. Leaves of fewer than 4 elements
  // are copied instead (a patch would be no smaller).
  static constexpr bool patching = Cap >= 4;
  static constexpr std::size_t patch_cap = Cap >= 32 ? 8 : Cap >= 4 ? Cap / 4 : 1;
  using patch = patch_node<T, Cap, patch_cap>;
  static constexpr std::size_t leaf_bytes = sizeof(leaf);
  static constexpr std::size_t patch_bytes = sizeof(patch);
  using sized_inner = sized_inner_node<F>;
  // An inner node's bytes: without the size table (regular when made), with it (relaxed).
  static constexpr std::size_t inner_bytes = sizeof(inner);
  static constexpr std::size_t sized_inner_bytes = sizeof(sized_inner);
  static std::size_t bytes_of(const inner* in) noexcept {
    return in->table ? sized_inner_bytes : inner_bytes;
  }

  static leaf* as_leaf(node_base* n) noexcept { return static_cast<leaf*>(n); }
  static const leaf* as_leaf(const node_base* n) noexcept { return static_cast<const leaf*>(n); }
  static inner* as_inner(node_base* n) noexcept { return static_cast<inner*>(n); }
  static const inner* as_inner(const node_base* n) noexcept { return static_cast<const inner*>(n); }
  // Whether a level-0 node is a patch rather than a leaf. Reads the node's header.
  static bool is_patch(const node_base* n) noexcept {
    return static_cast<const leaf_head*>(n)->patch;
  }
  static patch* as_patch(node_base* n) noexcept {
    return static_cast<patch*>(static_cast<leaf_head*>(n));
  }
  static const patch* as_patch(const node_base* n) noexcept {
    return static_cast<const patch*>(static_cast<const leaf_head*>(n));
  }

  // ---- shape arithmetic -------------------------------------------------------------------------
  static constexpr unsigned shift(unsigned level) noexcept {
    return leaf_bits + level * fanout_bits;
  }
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
      if (in->relaxed) return s + in->sizes()[in->count - 1];
      s += (in->count - 1) * capacity(level - 1);
      n = in->child[in->count - 1];
    }
    return s + n->count;
  }
  // Where child k of `in` (a node of `level`) starts, relative to `in`.
  static std::size_t child_start(const inner* in, unsigned level, std::size_t k) noexcept {
    if (in->relaxed) return k == 0 ? 0 : in->sizes()[k - 1];
    return k * capacity(level - 1);
  }
  // Elements in child k of `in`, a node of `level` holding `total` elements.
  static std::size_t child_size(const inner* in, unsigned level, std::size_t k,
                                std::size_t total) noexcept {
    if (in->relaxed) return in->sizes()[k] - (k == 0 ? 0 : in->sizes()[k - 1]);
    return k + 1 < in->count ? capacity(level - 1) : total - k * capacity(level - 1);
  }

  // ---- allocation and release -------------------------------------------------------------------
  static leaf* new_leaf() {
    return ::new (allocate_node_storage<alignof(leaf)>(sizeof(leaf))) leaf();
  }
  // A new inner node, empty and regular; with a size table when `table` (a node that will be
  // relaxed, see node.h).
  static inner* new_inner(bool table = false) {
    if (table)
      return ::new (allocate_node_storage<alignof(sized_inner)>(sizeof(sized_inner))) sized_inner();
    return ::new (allocate_node_storage<alignof(inner)>(sizeof(inner))) inner();
  }
  static void free_leaf(leaf* l) noexcept {
    std::destroy_n(l->data(), l->count);
    internal::release(l->ids.runs);
    l->~leaf();
    free_node_storage<alignof(leaf)>(l, sizeof(leaf));
  }
  static patch* new_patch() {
    return ::new (allocate_node_storage<alignof(patch)>(sizeof(patch))) patch();
  }
  // Frees a patch: its values, its ids and its reference to the base leaf.
  static void free_patch(patch* p) noexcept {
    std::destroy_n(p->vals(), p->n);
    internal::release(p->ids.runs);
    if (p->base != nullptr && dec_ref(p->base)) free_leaf(const_cast<leaf*>(p->base));
    p->~patch();
    free_node_storage<alignof(patch)>(p, sizeof(patch));
  }
  // Frees a level-0 node of either kind.
  static void free_level0(node_base* n) noexcept {
    if (is_patch(n)) return free_patch(as_patch(n));
    free_leaf(as_leaf(n));
  }
  static void free_inner_shallow(inner* n) noexcept {
    if (n->table) {
      sized_inner* s = static_cast<sized_inner*>(n);
      s->~sized_inner();
      return free_node_storage<alignof(sized_inner)>(s, sizeof(sized_inner));
    }
    n->~inner();
    free_node_storage<alignof(inner)>(n, sizeof(inner));
  }
  // Frees a node whose count reached zero, releasing its children.
  static void destroy(node_base* n, unsigned level) noexcept {
    if (level == 0) return free_level0(n);
    inner* in = as_inner(n);
    // release() inlined: most children outlive their parent, and a call per child cost as much
    // as the decrement.
    for (std::uint32_t k = 0; k < in->count; ++k) {
      node_base* c = in->child[k];
      if (c != nullptr && dec_ref(c)) destroy(c, level - 1);
    }
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
      for (std::size_t k = b; k < e; ++k)
        add_shared(in->child[k], child_size(in, level_ + 1, k, total));
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

  // An empty leaf holding the ids `ids`, whose reference it takes over (released if the
  // allocation throws).
  static leaf* new_leaf_with(leaf_ids ids) {
    leaf* l;
    try {
      l = new_leaf();
    } catch (...) {
      internal::release(ids.runs);
      throw;
    }
    l->ids = ids;
    return l;
  }

  // A new leaf holding `n` elements made by make(k), with the ids `ids` (whose reference it
  // takes over, also when it throws).
  template <class Make>
  static leaf* make_leaf(std::size_t n, Make&& make, leaf_ids ids) {
    leaf* l = new_leaf_with(ids);
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

  // A new leaf holding src[b, e), with their ids. src may be a patch: the copy is a plain leaf.
  static leaf* copy_leaf(const leaf* src, std::size_t b, std::size_t e) {
    if (!is_patch(src)) {
      return join_leaf(std::span<const T>(src->data() + b, e - b), nullptr, {}, ids_of(src, b, e));
    }
    const patch* p = as_patch(src);
    if constexpr (std::is_trivially_copyable_v<T>) {
      leaf* l =
          join_leaf(std::span<const T>(p->base->data() + b, e - b), nullptr, {}, ids_of(src, b, e));
      for (std::uint32_t j = 0; j < p->n; ++j) {
        if (p->slot[j] >= b && p->slot[j] < e) l->data()[p->slot[j] - b] = p->vals()[j];
      }
      return l;
    } else {
      return make_leaf(
          e - b, [p, b](std::size_t k) -> const T& { return patch_value(p, b + k); },
          ids_of(src, b, e));
    }
  }
  static leaf* copy_leaf(const leaf* src, std::size_t n) { return copy_leaf(src, 0, n); }

  // ---- reading leaves of either kind ------------------------------------------------------------
  // Element k of a patch.
  static const T& patch_value(const patch* p, std::size_t k) noexcept {
    for (std::uint32_t j = 0; j < p->n; ++j) {
      if (p->slot[j] == k) return p->vals()[j];
    }
    return p->base->data()[k];
  }
  // Element k of a level-0 node of either kind. O(1) for a leaf, O(patch_cap) for a patch.
  static const T& value_at(const node_base* n, std::size_t k) noexcept {
    if (!is_patch(n)) [[likely]]
      return as_leaf(n)->data()[k];
    return patch_value(as_patch(n), k);
  }
  // Calls fn(first, last) for each run of slots [b, e) of a level-0 node that is contiguous in
  // memory, in order: one run for a leaf; for a patch, the base's runs between replaced slots
  // and one run per replaced slot (its value). REQUIRES: b < e <= n->count.
  template <class Fn>
  static void for_each_piece(const node_base* n, std::size_t b, std::size_t e, Fn&& fn) {
    if (!is_patch(n)) [[likely]] {
      const T* d = as_leaf(n)->data();
      fn(d + b, d + e);
      return;
    }
    const patch* p = as_patch(n);
    const T* d = p->base->data();
    for (std::uint32_t j = 0; j < p->n && b < e; ++j) {
      const std::size_t s = p->slot[j];
      if (s < b) continue;
      if (s >= e) break;
      if (s > b) fn(d + b, d + s);
      fn(p->vals() + j, p->vals() + j + 1);
      b = s + 1;
    }
    if (b < e) fn(d + b, d + e);
  }
  // Calls fn(k, id, len, values) for each stretch of slots [k, k + len) of a level-0 node whose
  // ids are id, id + 1, ... and whose values are contiguous at `values`, in order: the leaf's
  // id runs, cut further at a patch's replaced slots.
  template <class Fn>
  static void for_each_id_piece(const node_base* n, Fn&& fn) {
    const leaf* l = as_leaf(n);
    l->ids.for_each_run(0, l->count, [&](std::size_t k, row_id_t id, std::size_t len) {
      std::size_t at = k;
      for_each_piece(n, k, k + len, [&](const T* first, const T* last) {
        const std::size_t m = static_cast<std::size_t>(last - first);
        fn(at, id + (at - k), m, first);
        at += m;
      });
    });
  }
  // The contiguous run of a level-0 node holding slot k: [first, last) holds slots [slot,
  // slot + (last - first)). The whole leaf for a leaf. O(patch_cap).
  struct piece {
    const T* first;
    const T* last;
    std::size_t slot;
  };
  static piece piece_at(const node_base* n, std::size_t k) noexcept {
    if (!is_patch(n)) [[likely]] {
      const T* d = as_leaf(n)->data();
      return {d, d + n->count, 0};
    }
    const patch* p = as_patch(n);
    std::size_t lo = 0, hi = n->count;
    for (std::uint32_t j = 0; j < p->n; ++j) {
      const std::size_t s = p->slot[j];
      if (s == k) return {p->vals() + j, p->vals() + j + 1, k};
      if (s > k) {
        hi = s;
        break;
      }
      lo = s + 1;
    }
    const T* d = p->base->data();
    return {d + lo, d + hi, lo};
  }

  // The elements of a level-0 node as one contiguous array: the leaf itself or, for a patch, a
  // plain copy made for the purpose (freed with the view; may throw std::bad_alloc). For code
  // that reads whole leaves (structural edits, diff, merge, encoding, bulk rewrites); hot reads
  // use value_at, piece_at and for_each_piece instead.
  class flat_leaf {
   public:
    explicit flat_leaf(const node_base* n)
        : own_(is_patch(n) ? copy_leaf(as_leaf(n), 0, n->count) : nullptr),
          l_(own_ != nullptr ? own_ : as_leaf(n)) {}
    flat_leaf(const flat_leaf&) = delete;
    flat_leaf& operator=(const flat_leaf&) = delete;
    ~flat_leaf() {
      if (own_ != nullptr) free_leaf(own_);
    }
    const leaf* get() const noexcept { return l_; }
    const leaf* operator->() const noexcept { return l_; }
    const T* data() const noexcept { return l_->data(); }

   private:
    leaf* own_;
    const leaf* l_;
  };

  // ---- writing through patches ------------------------------------------------------------------
  // Whether a patch can take a value for slot k (k is replaced already, or there is room).
  static bool patch_room(const patch* p, std::size_t k) noexcept {
    return p->n < patch_cap || std::find(p->slot, p->slot + p->n, k) != p->slot + p->n;
  }
  // A new patch: the rows of n (a leaf, or a patch with patch_room for k) with slot k holding
  // `value`. Shares n's base leaf. REQUIRES: patching. Strong (value may be consumed).
  static patch* new_patch_of(const node_base* n, std::size_t k, T&& value) {
    const patch* src = is_patch(n) ? as_patch(n) : nullptr;
    const leaf* b = src != nullptr ? src->base : as_leaf(n);
    const std::uint32_t m = src != nullptr ? src->n : 0;
    patch* p = new_patch();
    try {
      auto put = [p](std::size_t s, auto&& v) {
        ::new (static_cast<void*>(p->vals() + p->n)) T(std::forward<decltype(v)>(v));
        p->slot[p->n++] = static_cast<std::uint32_t>(s);
      };
      std::uint32_t j = 0;
      for (; j < m && src->slot[j] < k; ++j) put(src->slot[j], src->vals()[j]);
      put(k, std::move(value));
      if (j < m && src->slot[j] == k) ++j;
      for (; j < m; ++j) put(src->slot[j], src->vals()[j]);
    } catch (...) {
      free_patch(p);
      throw;
    }
    p->base = as_leaf(share(b));
    p->ids = share_ids(b->ids);
    p->count = b->count;
    return p;
  }
  // Writes `value` at slot k of a patch nobody else holds, when that needs no allocation: k is
  // replaced already, or there is room and T is trivially copyable. False otherwise (nothing
  // changed).
  static bool patch_in_place(patch* p, std::size_t k, T& value) {
    std::uint32_t* end = p->slot + p->n;
    std::uint32_t* at = std::lower_bound(p->slot, end, static_cast<std::uint32_t>(k));
    const std::size_t j = static_cast<std::size_t>(at - p->slot);
    if (at != end && *at == k) {
      p->vals()[j] = std::move(value);
      return true;
    }
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (p->n == patch_cap) return false;
      std::memmove(static_cast<void*>(p->slot + j + 1), p->slot + j,
                   (p->n - j) * sizeof(std::uint32_t));
      std::memmove(static_cast<void*>(p->vals() + j + 1), p->vals() + j, (p->n - j) * sizeof(T));
      p->slot[j] = static_cast<std::uint32_t>(k);
      std::memcpy(static_cast<void*>(p->vals() + j), &value, sizeof(T));
      ++p->n;
      return true;
    } else {
      return false;
    }
  }

  // A new leaf holding the elements of `a`, then `value` if `mid` is non-null, then those of
  // `b`, with the ids `ids` (whose reference it takes over, also when it throws): the leaf
  // step of copying, rebalancing, inserting and erasing. A memcpy per piece when T is trivially
  // copyable.
  static leaf* join_leaf(std::span<const T> a, const T* mid, std::span<const T> b, leaf_ids ids) {
    const std::size_t na = a.size(), nm = mid != nullptr ? 1 : 0, n = na + nm + b.size();
    if constexpr (std::is_trivially_copyable_v<T>) {
      leaf* l = new_leaf_with(ids);
      unsigned char* out = l->storage;
      if (na != 0) std::memcpy(static_cast<void*>(out), a.data(), a.size_bytes());
      if (nm != 0) std::memcpy(static_cast<void*>(out + na * sizeof(T)), mid, sizeof(T));
      if (!b.empty()) {
        std::memcpy(static_cast<void*>(out + (na + nm) * sizeof(T)), b.data(), b.size_bytes());
      }
      l->count = static_cast<std::uint32_t>(n);
      return l;
    } else {
      return make_leaf(
          n,
          [a, mid, b, na, nm](std::size_t k) -> const T& {
            return k < na ? a[k] : k - na < nm ? *mid : b[k - na - nm];
          },
          ids);
    }
  }

  // A new inner node referencing the first n children of src, with the same shape.
  static inner* copy_inner(const inner* src, std::size_t n) {
    inner* c = new_inner(src->relaxed);
    for (std::size_t k = 0; k < n; ++k) c->child[k] = share(src->child[k]);
    c->count = static_cast<std::uint32_t>(n);
    c->relaxed = src->relaxed;
    if (src->relaxed) std::copy_n(src->sizes(), n, c->sizes());
    return c;
  }

  // A copy of n that its caller may write: a plain leaf (also for a patch) or an inner node.
  static node_base* copy_node(const node_base* n, unsigned level) {
    if (level == 0) return copy_leaf(as_leaf(n), n->count);
    return copy_inner(as_inner(n), n->count);
  }

  // Whether a node of `level` with n children of these sizes is relaxed (some child but the last
  // is not full).
  static bool relaxed_shape(unsigned level, const std::size_t* kid_sizes, std::size_t n) noexcept {
    const std::size_t cc = capacity(level - 1);
    // Stops at the first child short of capacity.
    return n > 1 && !std::all_of(kid_sizes, kid_sizes + (n - 1),
                                 [cc](std::size_t size) { return size == cc; });
  }
  // Sets the regular/relaxed shape of `in` (a node of `level`) from its children's sizes.
  // REQUIRES: in->table, if the shape is relaxed (new_inner(relaxed_shape(...))).
  static void set_shape(inner* in, unsigned level, const std::size_t* kid_sizes) noexcept {
    const bool regular = !relaxed_shape(level, kid_sizes, in->count);
    in->relaxed = !regular;
    if (!regular) {
      std::size_t s = 0;
      for (std::uint32_t k = 0; k < in->count; ++k) in->sizes()[k] = s += kid_sizes[k];
    }
  }
  // Recomputes the shape of `in` after its children changed. O(F * depth).
  // REQUIRES: in->table, if the new shape is relaxed.
  static void reshape(inner* in, unsigned level) noexcept {
    std::size_t s[F] = {};  // zeroed only for g++ 12's -Wmaybe-uninitialized (reads `count`)
    for (std::uint32_t k = 0; k < in->count; ++k) s[k] = size_of(in->child[k], level - 1);
    set_shape(in, level, s);
  }
  // Replaces *slot, an inner node its caller owns (count 1) that has no size table, by a copy
  // with one, moving its children. Strong (only the allocation can throw).
  static inner* add_table(node_base** slot) {
    inner* old = as_inner(*slot);
    inner* in = new_inner(true);
    std::copy_n(old->child, old->count, in->child);
    in->count = old->count;
    in->relaxed = old->relaxed;
    free_inner_shallow(old);
    *slot = in;
    return in;
  }

  // A new inner node of `level` made of kids [b, e) (e - b <= F), whose references it takes over.
  static node_base* make_node(kids& ks, std::size_t b, std::size_t e, unsigned level) {
    std::size_t s[F];
    for (std::size_t k = b; k < e; ++k) s[k - b] = ks[k].size;
    inner* in = new_inner(relaxed_shape(level, s, e - b));
    for (std::size_t k = b; k < e; ++k) in->child[k - b] = std::exchange(ks[k].node, nullptr);
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
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RRB_NODES_H_
