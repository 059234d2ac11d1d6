// Internal: builds a tree left to right from whole leaves of other trees (shared, not copied),
// rows copied out of leaves (with their ids) and new rows. The bulk row operations (erase_if,
// sort, the merge of row edits) are made of it. Users never include this header.
//
// Shape. Leaves are gathered F at a time into level-1 nodes, those F at a time into level-2
// nodes, and so on; only the last node of each level may hold fewer, so every node off the
// right edge is full (I2 holds) and nodes get a size table only where their children are not
// full (I3). A shared leaf below half full (the last leaf of its tree) is copied into the
// pending leaf instead of being shared, and a pending leaf below half full takes the rows of
// the next leaf rather than being closed, so only the last leaf can be thin.
//
// Cost: O(1) per shared leaf, O(1) per copied row, plus O(leaves / F) inner nodes.
//
// Exception safety: if a copy of T or an allocation throws, the builder releases everything it
// holds when it is destroyed; the trees it read from are never modified.
#ifndef COWDB_INTERNAL_TREE_BUILDER_H_
#define COWDB_INTERNAL_TREE_BUILDER_H_

#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "cowdb/internal/rbtree.h"
#include "cowdb/internal/row_ids.h"

namespace cowdb::internal {

template <class T, std::size_t Cap, std::size_t F>
class tree_builder {
  using tree = rbtree<T, Cap, F>;
  using leaf = typename tree::leaf;
  using inner = typename tree::inner;

 public:
  tree_builder() = default;
  tree_builder(const tree_builder&) = delete;
  tree_builder& operator=(const tree_builder&) = delete;
  ~tree_builder() {
    if (cur_ != nullptr) tree::free_leaf(cur_);
    for (std::size_t l = 0; l < levels_.size(); ++l) {
      for (const slot& s : levels_[l]) tree::release(s.node, static_cast<unsigned>(l));
    }
  }

  std::size_t size() const noexcept { return size_; }

  // Appends every row of `l`, sharing the leaf when that keeps the shape. A pending leaf below
  // half full takes l's rows (all of them, or half of the two leaves' rows and l's rest goes
  // to a second leaf), so that at most one leaf is copied after each thin spot and the leaves
  // after it are shared again.
  void add_leaf(const leaf* l) {
    const std::size_t pending = cur_ == nullptr ? 0 : cur_->count;
    if (l->count >= tree::min_leaf && (pending == 0 || pending >= tree::min_leaf)) {
      close_leaf();
      push(0, tree::share(l), l->count);
      patch_free_ = patch_free_ && !tree::is_patch(l);
      size_ += l->count;
      return;
    }
    if (pending > 0 && pending < tree::min_leaf && l->count >= tree::min_leaf) {
      // One leaf if the rows fit, else two halves (each at least half full): either way
      // nothing is left pending, and the next leaf can be shared.
      const std::size_t total = pending + l->count;
      const std::size_t k = total <= Cap ? l->count : total / 2 - pending;
      add_rows(l, 0, k);
      close_leaf();
      add_rows(l, k, l->count);
      close_leaf();
      return;
    }
    add_rows(l, 0, l->count);
  }

  // Closes the pending leaf if it is at least half full, so that the next leaf starts fresh:
  // called at the end of each source leaf whose rows were copied, it keeps the output's leaves
  // aligned with the source's and leaves the next untouched source leaf free to be shared.
  void end_source_leaf() {
    if (cur_ != nullptr && cur_->count >= tree::min_leaf) close_leaf();
  }

  // Appends copies of rows [b, e) of `l` (a leaf or a patch), with their ids.
  void add_rows(const leaf* l, std::size_t b, std::size_t e) {
    while (b < e) {
      open_leaf();
      const std::size_t k = std::min(e - b, Cap - cur_->count);
      tree::for_each_piece(l, b, b + k, [this](const T* first, const T* last) {
        const std::size_t m = static_cast<std::size_t>(last - first);
        T* out = cur_->data() + cur_->count;
        if constexpr (std::is_trivially_copyable_v<T>) {
          std::memcpy(static_cast<void*>(out), first, m * sizeof(T));
        } else {
          tree::construct_n(out, m, [first](std::size_t j) -> const T& { return first[j]; });
        }
        cur_->count += static_cast<std::uint32_t>(m);
      });
      ids_.add_from(l->ids, b, b + k);
      size_ += k;
      b += k;
    }
  }

  // Appends a new row made from args, with the given id.
  template <class... Args>
  void add_row(row_id_t id, Args&&... args) {
    open_leaf();
    ::new (static_cast<void*>(cur_->data() + cur_->count)) T(std::forward<Args>(args)...);
    ++cur_->count;
    ids_.add(id);
    ++size_;
  }

  // The tree built so far (the builder is left empty).
  tree_rep finish() {
    close_leaf();
    tree_rep r;
    for (std::size_t l = 0; l < levels_.size(); ++l) {
      std::vector<slot>& v = levels_[l];
      if (l + 1 == levels_.size() && v.size() == 1) {
        r = {v[0].node, size_, static_cast<unsigned>(l)};
        v.clear();
        break;
      }
      if (!v.empty()) close_node(static_cast<unsigned>(l));
    }
    levels_.clear();
    r.radix = tree::right_edge_regular(r);
    r.patch_free = patch_free_ && r.root != nullptr;
    patch_free_ = true;
    return r;
  }

 private:
  struct slot {
    node_base* node;
    std::size_t size;
  };

  void open_leaf() {
    if (cur_ != nullptr && cur_->count == Cap) close_leaf();
    if (cur_ == nullptr) cur_ = tree::new_leaf();
  }
  // Closes the pending leaf unless it is empty.
  void close_leaf() {
    if (cur_ == nullptr) return;
    if (cur_->count == 0) {
      tree::free_leaf(cur_);
      cur_ = nullptr;
      return;
    }
    cur_->ids = ids_.build();  // may throw: cur_ is still ours and freed by the destructor
    ids_.clear();
    leaf* l = std::exchange(cur_, nullptr);
    push(0, l, l->count);
  }
  // Adds a node at `level`, taking over its reference (released if this throws); closes full
  // groups upward.
  void push(unsigned level, node_base* n, std::size_t size) {
    try {
      if (levels_.size() <= level) levels_.resize(level + 1);
      levels_[level].reserve(F);  // so that push_back below cannot throw
    } catch (...) {
      tree::release(n, level);
      throw;
    }
    levels_[level].push_back({n, size});
    if (levels_[level].size() == F) close_node(level);
  }
  // Makes one node of level + 1 from the gathered nodes of `level`.
  void close_node(unsigned level) {
    std::vector<slot>& v = levels_[level];
    // Zeroed only for g++ 12's -Wmaybe-uninitialized: set_shape reads the first `count` sizes.
    std::size_t sizes[F] = {};
    std::size_t total = 0;
    for (std::size_t k = 0; k < v.size(); ++k) {
      sizes[k] = v[k].size;
      total += v[k].size;
    }
    inner* in = tree::new_inner(tree::relaxed_shape(level + 1, sizes, v.size()));
    for (std::size_t k = 0; k < v.size(); ++k) in->child[k] = v[k].node;
    in->count = static_cast<std::uint32_t>(v.size());
    tree::set_shape(in, level + 1, sizes);
    v.clear();
    push(level + 1, in, total);
  }

  std::vector<std::vector<slot>> levels_;  // levels_[l]: nodes of level l not yet in a parent
  leaf* cur_ = nullptr;                    // the leaf being filled, owned
  ids_builder ids_;                        // the ids of cur_'s rows
  std::size_t size_ = 0;
  bool patch_free_ = true;  // no shared leaf added was a patch
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_TREE_BUILDER_H_
