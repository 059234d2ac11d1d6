// Internal: algorithms on radix-balanced trees of refcounted chunks (the body of pvec<T>).
// Users never include this header.
//
// Shape invariants (a "radix-balanced" tree, like Clojure's and immer's vectors without a tail):
// - A tree of `size` elements has depth depth_for(size): the smallest d with Cap * F^d >= size.
//   The empty tree has no root.
// - Every leaf is full except the last one; every inner node is full except those on the
//   rightmost path. Hence element i is found by radix: at an inner node of level L the child is
//   (i >> shift(L-1)) & (F-1), and in the leaf the slot is i & (Cap-1).
// - A root inner node has at least two children (otherwise the depth would be smaller).
//
// Ownership: see node.h. Functions named `*_inplace` or taking a `rep&` write through nodes that
// are uniquely owned and copy the shared ones first ("path copying"); everything else treats the
// tree as immutable and returns new references.
//
// Exception safety: every function either completes or leaves the logical contents of its input
// unchanged and releases whatever it allocated (strong guarantee). In-place functions may have
// replaced shared nodes by equal private copies before throwing; that is not observable.
#ifndef COWDB_INTERNAL_RBTREE_H_
#define COWDB_INTERNAL_RBTREE_H_

#include <algorithm>
#include <bit>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "cowdb/internal/node.h"

namespace cowdb::internal {

// What a version's nodes cost; see pvec::memory().
struct tree_stats {
  std::size_t bytes = 0;        // bytes of node storage (headers, element slots, child arrays)
  std::size_t leaves = 0;       // number of leaf chunks
  std::size_t inner_nodes = 0;  // number of inner nodes
  friend bool operator==(const tree_stats&, const tree_stats&) = default;
};

// The state of a tree as held by a pvec or an editor. Owning one reference to `root`.
struct tree_rep {
  node_base* root = nullptr;
  std::size_t size = 0;
  unsigned depth = 0;
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
  // Enough inner levels to address any size_t index.
  static constexpr unsigned max_depth = (64 - leaf_bits + fanout_bits - 1) / fanout_bits;
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
  static constexpr unsigned depth_for(std::size_t n) noexcept {
    unsigned d = 0;
    while (capacity(d) < n) ++d;
    return d;
  }
  // Child slot of element i in an inner node of level `level` (>= 1).
  static constexpr std::size_t child_index(std::size_t i, unsigned level) noexcept {
    return (i >> shift(level - 1)) & fanout_mask;
  }

  // ---- allocation and release -------------------------------------------------------------------
  static leaf* new_leaf() { return ::new (allocate_node_storage<alignof(leaf)>(sizeof(leaf))) leaf(); }
  static inner* new_inner() {
    return ::new (allocate_node_storage<alignof(inner)>(sizeof(inner))) inner();
  }
  static void free_leaf(leaf* l) noexcept {
    std::destroy_n(l->data(), l->count);
    l->~leaf();
    free_node_storage<alignof(leaf)>(l);
  }
  static void free_inner_shallow(inner* n) noexcept {
    n->~inner();
    free_node_storage<alignof(inner)>(n);
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

  // A new leaf holding `n` elements made by make(k).
  template <class Make>
  static leaf* make_leaf(std::size_t n, Make&& make) {
    leaf* l = new_leaf();
    try {
      construct_n(l->data(), n, make);
    } catch (...) {
      free_leaf(l);  // count is still 0: frees storage only
      throw;
    }
    l->count = static_cast<std::uint32_t>(n);
    return l;
  }

  static leaf* copy_leaf(const leaf* src, std::size_t n) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      leaf* l = new_leaf();
      std::memcpy(static_cast<void*>(l->storage), src->storage, n * sizeof(T));
      l->count = static_cast<std::uint32_t>(n);
      return l;
    } else {
      const T* s = src->data();
      return make_leaf(n, [s](std::size_t k) -> const T& { return s[k]; });
    }
  }

  // A new inner node referencing the first n children of src.
  static inner* copy_inner(const inner* src, std::size_t n) {
    inner* c = new_inner();
    for (std::size_t k = 0; k < n; ++k) {
      c->child[k] = src->child[k];
      inc_ref(c->child[k]);
    }
    c->count = static_cast<std::uint32_t>(n);
    return c;
  }

  static node_base* copy_node(const node_base* n, unsigned level) {
    if (level == 0) return copy_leaf(as_leaf(n), n->count);
    return copy_inner(as_inner(n), n->count);
  }

  // ---- reads -------------------------------------------------------------------------------------
  static const leaf* leaf_for(const node_base* root, unsigned depth, std::size_t i) noexcept {
    const node_base* n = root;
    for (unsigned level = depth; level > 0; --level) n = as_inner(n)->child[child_index(i, level)];
    return as_leaf(n);
  }
  static const T& get(const tree_rep& r, std::size_t i) noexcept {
    return leaf_for(r.root, r.depth, i)->data()[i & leaf_mask];
  }

  // Calls fn(first, last) for each leaf overlapping [lo, hi), clipped to it, in order.
  template <class Fn>
  static void for_each_chunk(const node_base* n, unsigned level, std::size_t base, std::size_t lo,
                             std::size_t hi, Fn& fn) {
    if (level == 0) {
      const T* d = as_leaf(n)->data();
      const std::size_t b = lo > base ? lo - base : 0;
      const std::size_t e = std::min<std::size_t>(hi - base, n->count);
      fn(d + b, d + e);
      return;
    }
    const std::size_t cc = capacity(level - 1);
    const inner* in = as_inner(n);
    std::size_t k = lo > base ? (lo - base) / cc : 0;
    for (; k < in->count && base + k * cc < hi; ++k) {
      for_each_chunk(in->child[k], level - 1, base + k * cc, lo, hi, fn);
    }
  }

  // Trees of equal size have equal shapes, so they can be walked in lock step; identical subtrees
  // are skipped without reading them.
  static bool equal(const node_base* a, const node_base* b, unsigned level)
    requires std::equality_comparable<T>
  {
    if (a == b) return true;
    if (level == 0) {
      const leaf* la = as_leaf(a);
      return std::equal(la->data(), la->data() + la->count, as_leaf(b)->data());
    }
    const inner* ia = as_inner(a);
    const inner* ib = as_inner(b);
    for (std::uint32_t k = 0; k < ia->count; ++k) {
      if (!equal(ia->child[k], ib->child[k], level - 1)) return false;
    }
    return true;
  }

  // ---- introspection -----------------------------------------------------------------------------
  static void stats(const node_base* n, unsigned level, tree_stats& s) noexcept {
    if (level == 0) {
      s.bytes += leaf_bytes;
      ++s.leaves;
      return;
    }
    s.bytes += inner_bytes;
    ++s.inner_nodes;
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) stats(in->child[k], level - 1, s);
  }
  // Nodes reachable only through this reference: those with a count of one all the way down.
  static void exclusive_stats(const node_base* n, unsigned level, tree_stats& s) noexcept {
    if (!is_unique(n)) return;
    if (level == 0) {
      s.bytes += leaf_bytes;
      ++s.leaves;
      return;
    }
    s.bytes += inner_bytes;
    ++s.inner_nodes;
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) exclusive_stats(in->child[k], level - 1, s);
  }
  // Calls fn(node, bytes) for n and, while fn returns true, for its children, depth first.
  template <class Fn>
  static void visit(const node_base* n, unsigned level, const Fn& fn) {
    if (!fn(static_cast<const void*>(n), level == 0 ? leaf_bytes : inner_bytes) || level == 0) {
      return;
    }
    const inner* in = as_inner(n);
    for (std::uint32_t k = 0; k < in->count; ++k) visit(in->child[k], level - 1, fn);
  }

  using node_set = absl::flat_hash_set<const node_base*>;
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

  // ---- building ------------------------------------------------------------------------------------
  // Builds a subtree of `n` elements (1 <= n <= capacity(level)), filling the leaves in order
  // with fill(out, k): constructs the next k elements at out, or destroys what it built and
  // throws.
  template <class Fill>
  static node_base* build(Fill& fill, unsigned level, std::size_t n) {
    if (level == 0) {
      leaf* l = new_leaf();
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
      in->child[in->count] = build(fill, level - 1, k);
      ++in->count;
      n -= k;
    }
    return h.dismiss();
  }

  template <class Fill>
  static tree_rep build_rep(Fill& fill, std::size_t n) {
    if (n == 0) return {};
    const unsigned d = depth_for(n);
    return {build(fill, d, n), n, d};
  }

  // A tree of the n elements starting at `it`.
  template <class It>
  static tree_rep build_copy(It it, std::size_t n) {
    auto fill = [&it](T* out, std::size_t k) {
      it = std::ranges::uninitialized_copy_n(std::move(it), static_cast<std::iter_difference_t<It>>(k),
                                             out, out + k)
               .in;
    };
    return build_rep(fill, n);
  }

  // A tree of n copies of value.
  static tree_rep build_fill(const T& value, std::size_t n) {
    auto fill = [&value](T* out, std::size_t k) { std::ranges::uninitialized_fill_n(out, static_cast<std::ptrdiff_t>(k), value); };
    return build_rep(fill, n);
  }

  // ---- bulk transform (persistent) ---------------------------------------------------------------
  // A new reference to a subtree equal to n with fn applied to the elements whose index is in
  // [lo, hi). Subtrees outside the range, and chunks whose contents come out unchanged, are shared
  // rather than copied.
  template <class Fn>
  static node_base* transform(const node_base* n, unsigned level, std::size_t base, std::size_t lo,
                              std::size_t hi, Fn& fn) {
    const std::size_t cap = capacity(level);
    if (hi <= base || (cap != SIZE_MAX && lo >= base + cap)) {
      inc_ref(n);
      return const_cast<node_base*>(n);
    }
    if (level == 0) {
      const T* s = as_leaf(n)->data();
      const std::size_t cnt = n->count;
      const std::size_t b = lo > base ? lo - base : 0;
      const std::size_t e = std::min<std::size_t>(hi - base, cnt);
      leaf* l;
      if (b == 0 && e == cnt) {
        l = make_leaf(cnt, [s, &fn](std::size_t k) -> T { return fn(s[k]); });
      } else {
        l = make_leaf(cnt, [s, &fn, b, e](std::size_t k) -> T {
          if (k >= b && k < e) return fn(s[k]);
          return s[k];
        });
      }
      if constexpr (std::equality_comparable<T>) {
        if (std::equal(s + b, s + e, l->data() + b)) {
          free_leaf(l);
          inc_ref(n);
          return const_cast<node_base*>(n);
        }
      }
      return l;
    }
    const inner* src = as_inner(n);
    inner* out = new_inner();
    holder h(out, level);
    const std::size_t cc = capacity(level - 1);
    bool changed = false;
    for (std::uint32_t k = 0; k < src->count; ++k) {
      out->child[k] = transform(src->child[k], level - 1, base + k * cc, lo, hi, fn);
      out->count = k + 1;
      changed |= out->child[k] != src->child[k];
    }
    if (!changed) {
      inc_ref(n);
      return const_cast<node_base*>(n);  // h frees `out` and drops the extra child references
    }
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

  // Makes every node on the path to element i uniquely owned; returns the leaf.
  static leaf* own_path(tree_rep& r, std::size_t i) {
    node_base** slot = &r.root;
    for (unsigned level = r.depth;; --level) {
      node_base* n = own(slot, level);
      if (level == 0) return as_leaf(n);
      slot = &as_inner(n)->child[child_index(i, level)];
    }
  }

  // Replaces the leaf holding element i by `l` (taking a new reference to it), owning the path
  // above it. REQUIRES: l holds as many elements as the leaf it replaces.
  static void replace_leaf(tree_rep& r, std::size_t i, const node_base* l) {
    node_base** slot = &r.root;
    for (unsigned level = r.depth; level > 0; --level) {
      node_base* n = own(slot, level);
      slot = &as_inner(n)->child[child_index(i, level)];
    }
    assert((*slot)->count == l->count);
    inc_ref(l);
    release(std::exchange(*slot, const_cast<node_base*>(l)), 0);
  }

  // A chain of new nodes from `level` down to a leaf holding one element built from args.
  template <class... Args>
  static node_base* new_path(unsigned level, leaf** out, Args&&... args) {
    leaf* l = new_leaf();
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

  // Appends one element; returns the (uniquely owned) last leaf.
  template <class... Args>
  static leaf* push_back(tree_rep& r, Args&&... args) {
    leaf* l = nullptr;
    if (r.root == nullptr) {
      r.root = new_path(0, &l, std::forward<Args>(args)...);
      r.size = 1;
      r.depth = 0;
      return l;
    }
    if (r.size == capacity(r.depth)) {  // full: grow a level
      inner* nr = new_inner();
      try {
        nr->child[1] = new_path(r.depth, &l, std::forward<Args>(args)...);
      } catch (...) {
        free_inner_shallow(nr);
        throw;
      }
      nr->child[0] = r.root;
      nr->count = 2;
      r.root = nr;
      ++r.depth;
      ++r.size;
      return l;
    }
    const std::size_t i = r.size;
    node_base** slot = &r.root;
    for (unsigned level = r.depth;; --level) {
      node_base* n = own(slot, level);
      if (level == 0) {
        l = as_leaf(n);
        ::new (static_cast<void*>(l->data() + l->count)) T(std::forward<Args>(args)...);
        ++l->count;
        ++r.size;
        return l;
      }
      inner* in = as_inner(n);
      const std::size_t idx = child_index(i, level);
      if (idx == in->count) {
        in->child[idx] = new_path(level - 1, &l, std::forward<Args>(args)...);
        ++in->count;
        ++r.size;
        return l;
      }
      slot = &in->child[idx];
    }
  }

  // Removes the last element. REQUIRES: r.size > 0.
  static void pop_back(tree_rep& r) {
    if (r.size == 1) {
      release(r.root, r.depth);
      r = {};
      return;
    }
    const std::size_t i = r.size - 1;
    leaf* l = own_path(r, i);  // may throw; nothing observable changed
    inner* path[max_depth];
    {
      node_base* n = r.root;
      for (unsigned level = r.depth; level > 0; --level) {
        path[r.depth - level] = as_inner(n);
        n = as_inner(n)->child[child_index(i, level)];
      }
    }
    std::destroy_at(l->data() + (l->count - 1));
    --l->count;
    if (l->count == 0) {
      free_leaf(l);
      for (unsigned j = r.depth; j-- > 0;) {
        inner* p = path[j];
        if (--p->count > 0) break;
        free_inner_shallow(p);
      }
    }
    --r.size;
    collapse_root(r);
  }

  // Drops root levels that have a single child. REQUIRES: those roots are uniquely owned.
  static void collapse_root(tree_rep& r) noexcept {
    while (r.depth > 0 && r.root->count == 1) {
      inner* old = as_inner(r.root);
      r.root = old->child[0];
      free_inner_shallow(old);
      --r.depth;
    }
  }

  // A new reference to the first k elements (1 <= k <= elements under n) of the subtree n,
  // sharing every child that is kept whole.
  static node_base* take(const node_base* n, unsigned level, std::size_t k) {
    if (level == 0) {
      if (k == n->count) {
        inc_ref(n);
        return const_cast<node_base*>(n);
      }
      return copy_leaf(as_leaf(n), k);
    }
    const inner* src = as_inner(n);
    const std::size_t cc = capacity(level - 1);
    const std::size_t whole = k / cc;
    const std::size_t rem = k % cc;
    if (rem == 0 && whole == src->count) {
      inc_ref(n);
      return const_cast<node_base*>(n);
    }
    node_base* last = rem != 0 ? take(src->child[whole], level - 1, rem) : nullptr;
    holder h(last, level - 1);
    inner* out = copy_inner(src, whole);
    if (last != nullptr) out->child[out->count++] = h.dismiss();
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
    const unsigned d = depth_for(k);
    const node_base* sub = r.root;
    for (unsigned level = r.depth; level > d; --level) sub = as_inner(sub)->child[0];
    node_base* nr = take(sub, d, k);
    release(r.root, r.depth);
    r = {nr, k, d};
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RBTREE_H_
