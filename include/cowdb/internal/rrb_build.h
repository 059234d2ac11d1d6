// Internal: building relaxed radix-balanced trees (a layer of rbtree.h): whole trees from a
// range or a fill value (regular, with the radix hint), and persistent bulk transforms that share
// what they do not change. Users never include this header.
//
// Other headers may use, through rbtree<T, Cap, F>:
//   build, build_rep, build_copy, build_fill    new trees of n elements
//   transform                                   a new subtree with fn applied to a range
//
// Implementation details follow.
#ifndef COWDB_INTERNAL_RRB_BUILD_H_
#define COWDB_INTERNAL_RRB_BUILD_H_

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "cowdb/internal/rrb_checks.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
struct rrb_build : rrb_checks<T, Cap, F> {
  using base = rrb_checks<T, Cap, F>;
  using base::as_inner;
  using base::as_leaf;
  using base::capacity;
  using base::child_size;
  using base::depth_for;
  using base::free_leaf;
  using base::make_leaf;
  using base::new_inner;
  using base::new_leaf;
  using base::share;
  using typename base::flat_leaf;
  using typename base::holder;
  using typename base::inner;
  using typename base::leaf;

  // ---- building ---------------------------------------------------------------------------------
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
    return {build(fill, d, n, next_id), n, d, true, true};
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
    auto fill = [&value](T* out, std::size_t k) {
      std::ranges::uninitialized_fill_n(out, static_cast<std::ptrdiff_t>(k), value);
    };
    return build_rep(fill, n);
  }

  // ---- bulk transform (persistent) --------------------------------------------------------------
  // A new reference to a subtree equal to n (holding `size` elements) with fn applied to the
  // elements whose index (relative to n) is in [lo, hi). Subtrees outside the range, and chunks
  // whose contents come out unchanged, are shared rather than copied.
  template <class Fn>
  static node_base* transform(const node_base* n, unsigned level, std::size_t size, std::size_t lo,
                              std::size_t hi, Fn& fn) {
    if (hi <= lo || lo >= size) return share(n);
    if (level == 0) {
      const flat_leaf f(n);
      const T* s = f.data();
      const std::size_t cnt = n->count;
      const std::size_t b = lo;
      const std::size_t e = std::min<std::size_t>(hi, cnt);
      leaf* l;
      if (b == 0 && e == cnt) {
        l = make_leaf(
            cnt, [s, &fn](std::size_t k) -> T { return fn(s[k]); }, share_ids(as_leaf(n)->ids));
      } else {
        l = make_leaf(
            cnt,
            [s, &fn, b, e](std::size_t k) -> T {
              if (k >= b && k < e) return fn(s[k]);
              return s[k];
            },
            share_ids(as_leaf(n)->ids));
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
    inner* out = new_inner(src->relaxed);
    holder h(out, level);
    out->relaxed = src->relaxed;
    if (src->relaxed) std::copy_n(src->sizes(), src->count, out->sizes());
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
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RRB_BUILD_H_
