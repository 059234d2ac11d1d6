// Internal: storing the nodes of a pvec tree and loading them back with their sharing. Users
// never include this header; it is here because pvec<T> is a template.
//
// The storage layer gives each stored node a `node_ref` (an opaque, non-zero 64-bit address) and
// implements `node_io` (write bytes, read them back). A `node_table` remembers, for each node
// stored or loaded, both its address in memory and its ref, holding a reference to the node so
// that the address cannot be reused while the entry lives. `tree_codec<T, Cap, F>::save` writes
// only the nodes the table does not know, children before parents: a version that changed one
// element writes one leaf and its path. `load` reads a tree back, finding every node already in
// the table, so two versions that shared a node before share it again after loading.
//
// Record format (integers little-endian, cowdb/internal/coding.h):
//   leaf   'L' | u8 0 | u32 count | u32 runs | ids | elements
//          ids: runs == 0: u64 first id (slot k has id first + k); else `runs` u64 first ids,
//          then `runs` u32 starts (row_ids.h).
//          elements: trivially copyable T: count * sizeof(T) bytes; else cowdb::codec<T>.
//   inner  'I' | u8 level | u32 count | u8 relaxed | count u64 child refs
//          | relaxed: count u64 cumulative sizes
//   patch  'P' | u8 0 | u32 count | u64 leaf ref | u32 n | n u32 slots (ascending) | n elements
//          as in a leaf: a leaf's rows with n of them replaced (node.h), over the leaf record
//          it references (a leaf, never a patch; its ids are the patch's).
// The element type, chunk capacity and fan-out are not in the records: the dataset that names
// the root records them (type_tag()).
//
// Loading never trusts a record: counts, levels, ids, size tables and the tree invariants of
// rbtree.h (I1-I3) are checked, each node once (its fill is remembered in the table, so a
// subtree shared by many versions is not walked again), and a corrupt record is kDataLoss naming
// the node's place (node_io::Describe), never undefined behaviour. A trivially copyable T is taken
// as its bytes: a T with invalid bit patterns (bool, enums) relies on the storage layer's
// checksums.
//
// Thread-safety: thread-compatible: a node_table is used by one thread at a time. The nodes
// themselves are immutable once shared, as everywhere.
#ifndef COWDB_INTERNAL_NODE_CODEC_H_
#define COWDB_INTERNAL_NODE_CODEC_H_

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/codec.h"
#include "cowdb/internal/coding.h"
#include "cowdb/internal/rbtree.h"
#include "fmt/format.h"

namespace cowdb::internal {

static_assert(std::endian::native == std::endian::little,
              "cowdb stores trivially copyable elements as their bytes: little-endian hosts only");

using node_ref = std::uint64_t;  // 0: no node

// Where nodes are stored; implemented by the storage layer (and by tests in memory).
class node_io {
 public:
  virtual ~node_io() = default;
  // Stores one encoded node and returns its (non-zero) ref.
  virtual absl::StatusOr<node_ref> Write(std::string_view bytes) = 0;
  // The bytes stored at `ref`, or the error (kDataLoss naming the file and offset).
  virtual absl::StatusOr<std::string> Read(node_ref ref) = 0;
  // `ref` for error messages ("nodes.log at offset 4096").
  virtual std::string Describe(node_ref ref) const = 0;
};

// The nodes stored or loaded so far: memory address <-> ref. Each entry holds one reference to
// its node. Entries added by save() are pending until commit(): a failed save (or one whose
// records were never made durable) calls rollback(), which forgets them so that they are
// written again by the next save.
class node_table {
 public:
  using release_fn = void (*)(const node_base*, unsigned) noexcept;
  struct entry {
    node_base* node;
    unsigned level;
    std::size_t elements;  // in the subtree
    release_fn release;
    // Fill (rbtree.h, I2), for checking loaded trees without walking shared subtrees again:
    // every node of the subtree is at least half full (`dense`), or every node off the path to
    // its last element is (`edge_ok`: enough for a node on a tree's right edge).
    bool dense;
    bool edge_ok;
    bool patch_free = true;  // no level-0 node of the subtree is a patch (tree_rep::patch_free)
    std::uint32_t stored_bytes = 0;  // of its encoding (the payload of its record)
    // Which tree type (element type and shape) the node belongs to: tree_codec's kind(). A
    // stored ref reached again as another type is corruption, never a node to reuse.
    const void* kind = nullptr;
  };

  node_table() = default;
  node_table(const node_table&) = delete;
  node_table& operator=(const node_table&) = delete;
  ~node_table() { clear(); }

  // The ref of node n, or 0. O(1).
  node_ref find(const node_base* n) const noexcept {
    const auto it = by_node_.find(n);
    return it == by_node_.end() ? 0 : it->second;
  }
  // The entry stored at ref, or null. O(1).
  const entry* find(node_ref r) const noexcept {
    const auto it = by_ref_.find(r);
    return it == by_ref_.end() ? nullptr : &it->second;
  }
  // Records e.node as stored at r, taking a new reference to it. Returns false (and changes
  // nothing) when r is already recorded. May throw std::bad_alloc (then changes nothing).
  bool add(node_ref r, const entry& e, bool pending) {
    if (by_ref_.contains(r)) return false;
    // Room for the push_back below, grown geometrically (reserve(size() + 1) would reallocate
    // on every call: quadratic copying for a large save).
    if (pending && pending_.size() == pending_.capacity())
      pending_.reserve(2 * pending_.size() + 16);
    node_base* const n = e.node;
    by_ref_.emplace(r, e);
    try {
      by_node_.emplace(n, r);
    } catch (...) {
      by_ref_.erase(r);
      throw;
    }
    if (pending) pending_.push_back(r);
    inc_ref(n);
    stored_bytes_ += e.stored_bytes;
    return true;
  }
  // Makes the pending entries permanent (their records are durable). O(pending).
  void commit() noexcept { pending_.clear(); }
  // Forgets the pending entries. O(pending).
  void rollback() noexcept {
    for (const node_ref r : pending_) drop(r);
    pending_.clear();
  }
  // Forgets the entries whose node nothing but this table holds (no version or pvec uses it any
  // more), parents before children, so that a whole unused subtree goes in one call; returns
  // how many. REQUIRES: no pending entries. O(entries log entries). May throw std::bad_alloc
  // (then it forgot a subset of them).
  std::size_t release_unused() {
    std::vector<std::pair<unsigned, node_ref>> order;  // (level, ref), highest level first
    order.reserve(by_ref_.size());
    for (const auto& [r, e] : by_ref_) order.emplace_back(e.level, r);
    std::sort(order.begin(), order.end(), std::greater<>());
    std::size_t n = 0;
    for (const auto& [level, r] : order) {
      const entry& e = by_ref_.at(r);
      if (e.node->refs.load(std::memory_order_acquire) != 1) continue;
      drop(r);
      ++n;
    }
    return n;
  }
  // Forgets every entry. O(entries).
  void clear() noexcept {
    for (auto& [r, e] : by_ref_) e.release(e.node, e.level);
    by_ref_.clear();
    by_node_.clear();
    pending_.clear();
    stored_bytes_ = 0;
  }
  std::size_t size() const noexcept { return by_ref_.size(); }
  // The sum of the entries' stored_bytes. O(1).
  std::uint64_t stored_bytes() const noexcept { return stored_bytes_; }
  // Exchanges the contents of two tables. O(1).
  void swap(node_table& other) noexcept {
    by_node_.swap(other.by_node_);
    by_ref_.swap(other.by_ref_);
    pending_.swap(other.pending_);
    std::swap(stored_bytes_, other.stored_bytes_);
  }

 private:
  void drop(node_ref r) noexcept {
    const auto it = by_ref_.find(r);
    if (it == by_ref_.end()) return;
    const entry e = it->second;
    by_ref_.erase(it);
    by_node_.erase(e.node);
    stored_bytes_ -= e.stored_bytes;
    e.release(e.node, e.level);
  }

  // std, not absl: Abseil 20220623 corrupts its table when an allocation fails while it grows.
  std::unordered_map<const node_base*, node_ref> by_node_;
  std::unordered_map<node_ref, entry> by_ref_;
  std::vector<node_ref> pending_;
  std::uint64_t stored_bytes_ = 0;
};

template <class T, std::size_t Cap, std::size_t F>
class tree_codec {
  static_assert(storable<T>,
                "cowdb: this element type cannot be stored: make it trivially copyable or "
                "specialize cowdb::codec<T> (see cowdb/codec.h)");
  using tree = rbtree<T, Cap, F>;
  using leaf = typename tree::leaf;
  using inner = typename tree::inner;

  // A distinct address per tree_codec<T, Cap, F> (a writable variable: never folded with
  // another by the linker).
  static const void* kind() noexcept { return &kind_tag_; }
  static inline char kind_tag_ = 0;

 public:
  // Writes every node of r that `table` does not know (children before parents) and records
  // them as pending in `table`. Returns the root's ref (0 for an empty tree). Cost: O(new nodes)
  // encodes and writes plus one table lookup per node visited. On error some nodes may be
  // written and pending: the caller rolls the table back. May throw std::bad_alloc, or what a
  // codec throws.
  static absl::StatusOr<node_ref> save(const tree_rep& r, node_table& table, node_io& io) {
    if (r.root == nullptr) return node_ref{0};
    std::string buf;
    return save_node(r.root, r.depth, table, io, buf);
  }

  // The tree stored at `root` (depth and size as recorded with it), reusing every node already
  // in `table` and recording the nodes it reads there (not pending). Returns kDataLoss naming
  // the node when a record is malformed or the tree breaks an invariant, or io's error. The
  // tree_rep owns a reference to its root. Cost: O(nodes read + their bytes). May throw
  // std::bad_alloc.
  static absl::StatusOr<tree_rep> load(node_ref root, unsigned depth, std::size_t size,
                                       node_table& table, node_io& io) {
    if (root == 0) {
      if (size != 0 || depth != 0) {
        return absl::DataLossError(
            fmt::format("empty tree recorded with size {} and depth {}", size, depth));
      }
      return tree_rep{};
    }
    if (depth > tree::max_depth) {
      return absl::DataLossError(fmt::format("{}: tree depth {} is over the limit {}",
                                             io.Describe(root), depth, tree::max_depth));
    }
    absl::StatusOr<const node_table::entry*> e = load_node(root, depth, table, io);
    if (!e.ok()) return e.status();
    const node_table::entry& top = **e;
    if (top.elements != size) {
      return corrupt(io, root,
                     fmt::format("tree holds {} elements, recorded as {}", top.elements, size));
    }
    if (!top.edge_ok || (depth > 0 && top.node->count < 2)) {
      return corrupt(io, root, "tree nodes below half full (rbtree.h, I1/I2)");
    }
    tree_rep r{tree::share(top.node), size, depth, false, top.patch_free};
    r.radix = tree::right_edge_regular(r);
    return r;
  }

 private:
  static constexpr char kLeafTag = 'L';
  static constexpr char kInnerTag = 'I';
  static constexpr char kPatchTag = 'P';

  static absl::StatusOr<node_ref> save_node(const node_base* n, unsigned level, node_table& table,
                                            node_io& io, std::string& buf) {
    if (const node_ref known = table.find(n); known != 0) return known;
    node_ref children[F];
    if (level == 0 && tree::is_patch(n)) {
      absl::StatusOr<node_ref> b = save_node(tree::as_patch(n)->base, 0, table, io, buf);
      if (!b.ok()) return b.status();
      encode_patch(tree::as_patch(n), *b, buf);
    } else if (level == 0) {
      encode_leaf(tree::as_leaf(n), buf);
    } else {
      const inner* in = tree::as_inner(n);
      for (std::uint32_t k = 0; k < in->count; ++k) {
        absl::StatusOr<node_ref> c = save_node(in->child[k], level - 1, table, io, buf);
        if (!c.ok()) return c.status();
        children[k] = *c;
      }
      encode_inner(in, level, children, buf);
    }
    absl::StatusOr<node_ref> ref = io.Write(buf);
    if (!ref.ok()) return ref.status();
    node_table::entry e;
    if (*ref == 0 || !summarize(const_cast<node_base*>(n), level, table, &e) ||
        !table.add(*ref, with_size(e, buf.size()), /*pending=*/true)) {
      return absl::InternalError(fmt::format("node store returned a used ref {}", *ref));
    }
    return *ref;
  }

  static node_table::entry with_size(node_table::entry e, std::size_t bytes) {
    e.stored_bytes = static_cast<std::uint32_t>(bytes);
    return e;
  }

  // The table entry of n (a node of `level` whose children are all in the table). False when
  // its element count overflows (only a corrupt tree can).
  static bool summarize(node_base* n, unsigned level, const node_table& table,
                        node_table::entry* out) {
    node_table::entry e{n, level, 0, &tree::release, true, true};
    e.kind = kind();
    if (level == 0) {
      e.elements = n->count;
      e.dense = n->count >= tree::min_leaf;
      e.patch_free = !tree::is_patch(n);
    } else {
      const inner* in = tree::as_inner(n);
      e.dense = in->count >= tree::min_inner;
      for (std::uint32_t k = 0; k < in->count; ++k) {
        const node_table::entry* c = table.find(table.find(in->child[k]));
        if (c->elements > SIZE_MAX - e.elements) return false;
        e.elements += c->elements;
        e.dense = e.dense && c->dense;
        e.edge_ok = e.edge_ok && (k + 1 < in->count ? c->dense : c->edge_ok);
        e.patch_free = e.patch_free && c->patch_free;
      }
    }
    *out = e;
    return true;
  }

  static void encode_leaf(const leaf* l, std::string& buf) {
    buf.clear();
    buf.push_back(kLeafTag);
    buf.push_back(0);
    PutFixed32(&buf, l->count);
    if (const id_runs* r = l->ids.runs) {
      PutFixed32(&buf, r->n);
      for (std::uint32_t j = 0; j < r->n; ++j) PutFixed64(&buf, r->firsts()[j]);
      for (std::uint32_t j = 0; j < r->n; ++j) PutFixed32(&buf, r->starts()[j]);
    } else {
      PutFixed32(&buf, 0);
      PutFixed64(&buf, l->ids.id0);
    }
    encode_values(l->data(), l->data() + l->count, buf);
  }

  static void encode_values(const T* first, const T* last, std::string& buf) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      buf.append(reinterpret_cast<const char*>(first),
                 static_cast<std::size_t>(last - first) * sizeof(T));
    } else {
      for (; first != last; ++first) codec<T>::encode(*first, &buf);
    }
  }

  static void encode_patch(const typename tree::patch* p, node_ref base, std::string& buf) {
    buf.clear();
    buf.push_back(kPatchTag);
    buf.push_back(0);
    PutFixed32(&buf, p->count);
    PutFixed64(&buf, base);
    PutFixed32(&buf, p->n);
    for (std::uint32_t j = 0; j < p->n; ++j) PutFixed32(&buf, p->slot[j]);
    encode_values(p->vals(), p->vals() + p->n, buf);
  }

  static void encode_inner(const inner* in, unsigned level, const node_ref* children,
                           std::string& buf) {
    buf.clear();
    buf.push_back(kInnerTag);
    buf.push_back(static_cast<char>(level));
    PutFixed32(&buf, in->count);
    buf.push_back(in->relaxed ? 1 : 0);
    for (std::uint32_t k = 0; k < in->count; ++k) PutFixed64(&buf, children[k]);
    if (in->relaxed) {
      for (std::uint32_t k = 0; k < in->count; ++k) PutFixed64(&buf, in->sizes()[k]);
    }
  }

  static absl::Status corrupt(node_io& io, node_ref ref, std::string_view what) {
    return absl::DataLossError(fmt::format("{}: {}", io.Describe(ref), what));
  }

  // `leaf_only`: the node must be a leaf, not a patch (a patch's base).
  static absl::StatusOr<const node_table::entry*> load_node(node_ref ref, unsigned level,
                                                            node_table& table, node_io& io,
                                                            bool leaf_only = false) {
    if (const node_table::entry* e = table.find(ref)) {
      if (leaf_only && e->level == 0 && e->kind == kind() && tree::is_patch(e->node)) {
        return corrupt(io, ref, "a patch referenced as a patch's leaf");
      }
      if (e->kind != kind()) {
        return corrupt(io, ref, "a node of another element type or tree shape referenced here");
      }
      if (e->level != level) {
        return corrupt(io, ref,
                       fmt::format("a level-{} node referenced at level {}", e->level, level));
      }
      return e;
    }
    absl::StatusOr<std::string> bytes = io.Read(ref);
    if (!bytes.ok()) return bytes.status();
    const bool patch = level == 0 && !bytes->empty() && (*bytes)[0] == kPatchTag;
    if (patch && leaf_only) return corrupt(io, ref, "a patch referenced as a patch's leaf");
    absl::StatusOr<node_base*> n = patch        ? decode_patch(*bytes, ref, table, io)
                                   : level == 0 ? decode_leaf(*bytes, ref, io)
                                                : decode_inner(*bytes, ref, level, table, io);
    if (!n.ok()) return n.status();
    typename tree::holder hold(*n, level);  // the reference made by decoding
    node_table::entry e;
    if (!summarize(*n, level, table, &e)) return corrupt(io, ref, "element count overflows");
    if (!table.add(ref, with_size(e, bytes->size()), /*pending=*/false)) {
      return corrupt(io, ref, "node refers to itself");
    }
    return table.find(ref);
  }

  static absl::StatusOr<node_base*> decode_leaf(std::string_view bytes, node_ref ref, node_io& io) {
    byte_reader in(bytes);
    std::uint8_t tag = 0, level = 0;
    std::uint32_t count = 0, runs = 0;
    if (!in.u8(&tag) || !in.u8(&level) || !in.u32(&count) || !in.u32(&runs)) {
      return corrupt(io, ref, "leaf record too short");
    }
    if (tag != kLeafTag || level != 0) return corrupt(io, ref, "not a leaf record");
    if (count == 0 || count > Cap) {
      return corrupt(io, ref, fmt::format("leaf of {} elements (capacity {})", count, Cap));
    }
    ids_builder ids;
    if (runs == 0) {
      std::uint64_t id0 = 0;
      if (!in.u64(&id0)) return corrupt(io, ref, "leaf record too short");
      ids.add_run(id0, count);
    } else {
      if (runs < 2 || runs > count || in.rest().size() < std::size_t{runs} * 12) {
        return corrupt(io, ref, fmt::format("leaf with {} id runs for {} rows", runs, count));
      }
      const char* firsts = in.rest().data();
      const char* starts = firsts + std::size_t{runs} * 8;
      for (std::uint32_t j = 0; j < runs; ++j) {
        const std::uint32_t s = DecodeFixed32(starts + 4 * j);
        const std::uint32_t e = j + 1 < runs ? DecodeFixed32(starts + 4 * (j + 1)) : count;
        if ((j == 0 && s != 0) || s >= e || e > count) {
          return corrupt(io, ref, "leaf id runs out of order");
        }
        ids.add_run(DecodeFixed64(firsts + 8 * j), e - s);
      }
      in.rest().remove_prefix(std::size_t{runs} * 12);
    }
    std::string_view& rest = in.rest();
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (rest.size() != std::size_t{count} * sizeof(T)) {
        return corrupt(
            io, ref, fmt::format("leaf of {} elements holds {} bytes of them", count, rest.size()));
      }
      leaf* l = tree::make_leaf(
          count,
          [&rest](std::size_t k) {
            T v;
            std::memcpy(static_cast<void*>(&v), rest.data() + k * sizeof(T), sizeof(T));
            return v;
          },
          ids.build());
      return static_cast<node_base*>(l);
    } else {
      std::vector<T> values;
      values.reserve(count);
      for (std::uint32_t k = 0; k < count; ++k) {
        std::optional<T> v = codec<T>::decode(&rest);
        if (!v) return corrupt(io, ref, fmt::format("element {} does not decode", k));
        values.push_back(std::move(*v));
      }
      if (!rest.empty()) return corrupt(io, ref, "bytes after the last element");
      leaf* l = tree::make_leaf(
          count, [&values](std::size_t k) -> T&& { return std::move(values[k]); }, ids.build());
      return static_cast<node_base*>(l);
    }
  }

  static absl::StatusOr<node_base*> decode_patch(std::string_view bytes, node_ref ref,
                                                 node_table& table, node_io& io) {
    using patch = typename tree::patch;
    byte_reader in(bytes);
    std::uint8_t tag = 0, level = 0;
    std::uint32_t count = 0, n = 0;
    std::uint64_t base_ref = 0;
    if (!in.u8(&tag) || !in.u8(&level) || !in.u32(&count) || !in.u64(&base_ref) || !in.u32(&n)) {
      return corrupt(io, ref, "patch record too short");
    }
    if (!tree::patching || level != 0) return corrupt(io, ref, "a patch record out of place");
    if (n == 0 || n > tree::patch_cap || in.rest().size() < std::size_t{n} * 4) {
      return corrupt(io, ref, fmt::format("patch of {} rows (at most {})", n, tree::patch_cap));
    }
    std::uint32_t slots[tree::patch_cap] = {};
    for (std::uint32_t j = 0; j < n; ++j) {
      if (!in.u32(&slots[j]) || slots[j] >= count || (j > 0 && slots[j] <= slots[j - 1])) {
        return corrupt(io, ref, "patch rows out of order or past the leaf");
      }
    }
    absl::StatusOr<const node_table::entry*> b = load_node(base_ref, 0, table, io, true);
    if (!b.ok()) return b.status();
    const node_base* base = (*b)->node;
    if (base->count != count) {
      return corrupt(io, ref,
                     fmt::format("patch of {} rows over a leaf of {}", count, base->count));
    }
    std::vector<T> values;
    values.reserve(n);
    std::string_view& rest = in.rest();
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (rest.size() != std::size_t{n} * sizeof(T)) {
        return corrupt(io, ref, "patch record of the wrong size");
      }
      for (std::uint32_t j = 0; j < n; ++j) {
        T v;
        std::memcpy(static_cast<void*>(&v), rest.data() + j * sizeof(T), sizeof(T));
        values.push_back(v);
      }
    } else {
      for (std::uint32_t j = 0; j < n; ++j) {
        std::optional<T> v = codec<T>::decode(&rest);
        if (!v) return corrupt(io, ref, fmt::format("patch element {} does not decode", j));
        values.push_back(std::move(*v));
      }
      if (!rest.empty()) return corrupt(io, ref, "bytes after the last element");
    }
    patch* p = tree::new_patch();
    try {
      for (std::uint32_t j = 0; j < n; ++j) {
        ::new (static_cast<void*>(p->vals() + j)) T(std::move(values[j]));
        p->slot[j] = slots[j];
        p->n = j + 1;
      }
    } catch (...) {
      tree::free_patch(p);
      throw;
    }
    p->base = tree::as_leaf(tree::share(base));
    p->ids = share_ids(tree::as_leaf(base)->ids);
    p->count = count;
    return static_cast<node_base*>(static_cast<leaf_head*>(p));
  }

  static absl::StatusOr<node_base*> decode_inner(std::string_view bytes, node_ref ref,
                                                 unsigned level, node_table& table, node_io& io) {
    byte_reader in(bytes);
    std::uint8_t tag = 0, stored_level = 0, relaxed = 0;
    std::uint32_t count = 0;
    if (!in.u8(&tag) || !in.u8(&stored_level) || !in.u32(&count) || !in.u8(&relaxed)) {
      return corrupt(io, ref, "inner record too short");
    }
    if (tag != kInnerTag || stored_level != level) {
      return corrupt(io, ref, fmt::format("expected a level-{} inner node", level));
    }
    if (count == 0 || count > F || relaxed > 1) {
      return corrupt(io, ref, fmt::format("inner node of {} children (fan-out {})", count, F));
    }
    const std::size_t words = std::size_t{count} * (relaxed ? 2 : 1);
    if (in.rest().size() != words * 8) return corrupt(io, ref, "inner record of the wrong size");
    const char* p = in.rest().data();
    const node_table::entry* children[F];
    std::size_t total = 0;
    for (std::uint32_t k = 0; k < count; ++k) {
      absl::StatusOr<const node_table::entry*> c =
          load_node(DecodeFixed64(p + 8 * k), level - 1, table, io);
      if (!c.ok()) return c.status();
      children[k] = *c;
      const std::size_t sz = (*c)->elements;
      if (sz > SIZE_MAX - total) return corrupt(io, ref, "element count overflows");
      if (relaxed) {
        if (DecodeFixed64(p + 8 * (count + k)) != total + sz) {
          return corrupt(io, ref, "size table does not match the children");
        }
      } else if (sz > tree::capacity(level - 1) ||
                 (k + 1 < count && sz != tree::capacity(level - 1))) {
        return corrupt(io, ref, "regular node with a child of the wrong size");
      }
      total += sz;
    }
    inner* out = tree::new_inner(relaxed != 0);
    out->relaxed = relaxed != 0;
    total = 0;
    for (std::uint32_t k = 0; k < count; ++k) {
      out->child[k] = tree::share(children[k]->node);
      if (relaxed) out->sizes()[k] = total += children[k]->elements;
    }
    out->count = count;
    return static_cast<node_base*>(out);
  }
};

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_NODE_CODEC_H_
