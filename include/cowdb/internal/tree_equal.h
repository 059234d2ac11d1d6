// Internal: equality of two versions (pvec::operator==), walking both trees together and
// skipping the subtrees they share. Users never include this header.
//
// Kept apart from the diff engine (tree_diff.h) so that the container does not depend on it.
#ifndef COWDB_INTERNAL_TREE_EQUAL_H_
#define COWDB_INTERNAL_TREE_EQUAL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cowdb/internal/rbtree.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
struct tree_equal {
  using tree = rbtree<T, Cap, F>;
  // A subtree of one side: node, level, first element index, element count.
  struct item {
    const node_base* node;
    unsigned level;
    std::size_t pos;
    std::size_t size;
  };

  // Equal lengths and elements: one walk over both trees in index order, in which a subtree that
  // is the same node at the same index on both sides is skipped unread, and everything else is
  // opened down to leaves and compared element by element. O(1) for identical versions,
  // O(changed paths x fanout) node visits for versions that differ by edits in place; versions
  // whose shared chunks sit at other offsets (insert, erase) are compared element by element
  // from the first shift on.
  static bool equal(const tree_rep& a, const tree_rep& b) {
    if (a.size != b.size) return false;
    if (a.root == b.root || a.size == 0) return true;
    // Each side: a stack of subtrees, the top one holding index p; those below follow it.
    std::vector<item> sa, sb;
    sa.push_back({a.root, a.depth, 0, a.size});
    sb.push_back({b.root, b.depth, 0, b.size});
    std::size_t p = 0;
    auto open = [&p](std::vector<item>& s) {
      const item x = s.back();
      s.pop_back();
      const auto* in = tree::as_inner(x.node);
      std::size_t end = x.pos + x.size;
      for (std::uint32_t k = in->count; k-- > 0;) {
        const std::size_t cs = tree::child_size(in, x.level, k, x.size);
        end -= cs;
        if (end + cs > p) s.push_back({in->child[k], x.level - 1, end, cs});
      }
    };
    while (p < a.size) {
      const item& x = sa.back();
      const item& y = sb.back();
      if (x.node == y.node && x.pos == p && y.pos == p && x.size == y.size) {
        p += x.size;
        sa.pop_back();
        sb.pop_back();
      } else if (x.level > 0 && x.level >= y.level) {
        open(sa);
      } else if (y.level > 0) {
        open(sb);
      } else {
        const std::size_t xe = x.pos + x.size, ye = y.pos + y.size;
        const std::size_t end = std::min(xe, ye);
        if (!tree::is_patch(x.node) && !tree::is_patch(y.node)) {
          const T* da = tree::as_leaf(x.node)->data();
          const T* db = tree::as_leaf(y.node)->data();
          for (; p < end; ++p) {
            if (!(da[p - x.pos] == db[p - y.pos])) return false;
          }
        } else {
          for (; p < end; ++p) {
            if (!(tree::value_at(x.node, p - x.pos) == tree::value_at(y.node, p - y.pos)))
              return false;
          }
        }
        if (xe == p) sa.pop_back();
        if (ye == p) sb.pop_back();
      }
    }
    return true;
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_TREE_EQUAL_H_
