// Internal: algorithms on relaxed radix-balanced trees of refcounted chunks (the body of pvec<T>).
// Users never include this header.
//
// rbtree<T, Cap, F> is the one name other code uses. It is assembled from layers, each a class
// template deriving from the one below it (ordered by dependency; lower layers never call higher
// ones), all of whose static members it inherits:
//   rrb_nodes.h       shape, invariants (I1)-(I4), tree_rep, shape arithmetic, node lifecycle
//   rrb_lookup.h      locate, element and leaf lookup, in-order walks
//   rrb_checks.h      memory stats, node visits, check() of the invariants
//   rrb_build.h       building from a range or a value, bulk transform
//   rrb_edit.h        path copying and positional edits: own, push_back, pop_back, take, truncate
//   rrb_structural.h  concat, drop, insert, erase, rebalance (F >= 4)
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

#include <cstddef>

#include "cowdb/internal/rrb_structural.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
struct rbtree : rrb_structural<T, Cap, F> {};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_RBTREE_H_
