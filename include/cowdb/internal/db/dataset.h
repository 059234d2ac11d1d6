// Internal: type erasure for the datasets of a Database. Users never include this header.
//
// It belongs to the database layer (cowdb::cowdb), not to the container: include/cowdb/internal/
// holds pvec's internals (header-only, cowdb::pvec), and internal/db/ the database's templates
// that the public database headers (snapshot.h, transaction.h) must see, since their templates
// are instantiated in the user's code. It includes diff.h and merge.h (a dataset diffs and merges
// its pvec); no container header includes it.
//
// A Dataset is an immutable, type-erased pvec<T>; a version's catalog maps names to
// shared_ptr<const Dataset>. TypedDataset<T> implements the operations the database needs
// without knowing T (merge, diff, memory walk). A DatasetEditor is the transaction-side
// counterpart: a pvec editor that freezes into a new Dataset at commit.
//
// Invariants: a Dataset never changes after construction; two Datasets with the same identity()
// hold the same version of the same elements.
#ifndef COWDB_INTERNAL_DB_DATASET_H_
#define COWDB_INTERNAL_DB_DATASET_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <typeinfo>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/codec.h"
#include "cowdb/diff.h"
#include "cowdb/internal/node_codec.h"
#include "cowdb/merge.h"
#include "cowdb/pvec.h"

namespace cowdb::internal {

// Demangled name of a type, for error messages ("std::string", "Trade").
std::string TypeName(const std::type_info& t);

class Dataset;
using DatasetPtr = std::shared_ptr<const Dataset>;

// One row conflict of a dataset merge: merge_conflict<T> without T (values rendered as text).
// Indices are SIZE_MAX where the row is not on that side; values are empty there.
struct RowConflict {
  conflict_kind kind = conflict_kind::kValue;
  std::size_t base_index = 0;
  std::size_t ours_index = SIZE_MAX;
  std::size_t theirs_index = SIZE_MAX;
  row_action ours_action = row_action::kUnchanged;
  row_action theirs_action = row_action::kUnchanged;
  std::string ours_value;
  std::string theirs_value;
};

// The text a RowConflict holds for a value that T cannot be formatted as.
inline constexpr const char kUnformattableValue[] = "<unformattable>";

struct DatasetMerge {
  DatasetPtr merged;                   // null when there are conflicts
  std::vector<RowConflict> conflicts;  // sorted by base_index, kind, ours_index, theirs_index
};

struct DatasetDiff {
  std::size_t modified = 0;
  std::size_t appended = 0;
  std::size_t truncated = 0;
  std::size_t ranges = 0;
  std::size_t inserted = 0;
  std::size_t erased = 0;
  std::string text;  // git-like rendering when asked for and T is formattable, else empty
  std::size_t moved = 0;
  std::vector<diff_range> range_list;  // when asked for
};

// A dataset's tree as a persistent database stores it (db/storage/database_store.h).
struct StoredTree {
  node_ref root = 0;
  unsigned depth = 0;
  std::size_t rows = 0;
};

// Persistent databases find the element type of a stored dataset by its tag (see StoredType):
// each storable T that a program uses as a dataset element registers a loader before main()
// (stored_type<T>::registered). Thread-safe.
using StoredTypeLoader = absl::StatusOr<DatasetPtr> (*)(const StoredTree& tree, node_table& table,
                                                        node_io& io);
bool RegisterStoredType(const std::string& tag, StoredTypeLoader load);
// The loader registered for `tag`, or null.
StoredTypeLoader FindStoredType(std::string_view tag);

// Visits each node once per call: fn(node identity, bytes) returns whether to descend.
using NodeVisitor = std::function<bool(const void* node, std::size_t bytes)>;

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual const std::type_info& type() const noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
  virtual const void* identity() const noexcept = 0;
  // Three-way merge with *this as base. `resolve`, when not null, settles every conflict by
  // taking that side; otherwise conflicts are reported. `mode`: see merge_mode.
  virtual DatasetMerge Merge3(const Dataset& ours, const Dataset& theirs, const merge_side* resolve,
                              merge_mode mode) const = 0;
  // text: render at most max_text_ranges ranges (a placeholder when T has no formatter).
  virtual DatasetDiff Diff(const Dataset& to, bool text, std::size_t max_text_ranges,
                           bool ranges) const = 0;
  virtual void VisitNodes(const NodeVisitor& fn) const = 0;
  virtual memory_stats Memory() const noexcept = 0;
  // The element type's storage tag (name, size, alignment, byte order, encoding, tree shape);
  // empty when the type cannot be stored (declared in-memory only, cowdb/codec.h).
  virtual std::string_view StoredType() const noexcept = 0;
  // Writes the nodes of the tree that `table` does not know (node_codec.h, tree_codec::save).
  // REQUIRES: !StoredType().empty().
  virtual absl::StatusOr<StoredTree> Save(node_table& table, node_io& io) const = 0;
};

template <class T>
class TypedDataset;

// The element types the library instantiates (db/datasets_*.cc; see the end of this file).
#define COWDB_FOR_EACH_INTEGER_ELEMENT_TYPE(X) \
  X(std::int32_t)                              \
  X(std::uint32_t)                             \
  X(std::int64_t)                              \
  X(std::uint64_t)
#define COWDB_FOR_EACH_OTHER_ELEMENT_TYPE(X) \
  X(float)                                   \
  X(double)                                  \
  X(std::string)
// What db/datasets_*.cc compile for each of them (two files, so that a parallel build splits
// the work).
#define COWDB_INSTANTIATE_DATASET(T) \
  template struct stored_type<T>;    \
  template class TypedDataset<T>;    \
  template class TypedEditor<T>;

// The storage identity of a dataset element type T, and its loader (registered before main()
// for every T whose TypedDataset is used: see RegisterStoredType).
template <class T>
struct stored_type {
  using vec = pvec<T>;
  using codec = tree_codec<T, vec::chunk_capacity, vec::fanout>;
  static const std::string& tag();
  static absl::StatusOr<DatasetPtr> load(const StoredTree& tree, node_table& table, node_io& io);
  // Not inline (defined below): for the types db/datasets_*.cc instantiate, the loader and its
  // registration are compiled there only.
  static const bool registered;
};

template <class T>
const std::string& stored_type<T>::tag() {
  static const std::string t = fmt::format(
      "{}|size {}|align {}|{}|little-endian|chunk {}|fanout {}", TypeName(typeid(T)), sizeof(T),
      alignof(T), has_codec<T> ? "codec" : "bytes", vec::chunk_capacity, vec::fanout);
  return t;
}

template <class T>
absl::StatusOr<DatasetPtr> stored_type<T>::load(const StoredTree& tree, node_table& table,
                                                node_io& io) {
  absl::StatusOr<tree_rep> r = codec::load(tree.root, tree.depth, tree.rows, table, io);
  if (!r.ok()) return r.status();
  return std::make_shared<TypedDataset<T>>(pvec_access::adopt<vec>(*std::move(r)));
}

template <class T>
const bool stored_type<T>::registered = RegisterStoredType(tag(), &load);

template <class T>
class TypedDataset final : public Dataset {
 public:
  explicit TypedDataset(pvec<T> data) noexcept : data_(std::move(data)) { Register(); }
  const pvec<T>& data() const noexcept {
    Register();
    return data_;
  }

  const std::type_info& type() const noexcept override { return typeid(T); }
  std::size_t size() const noexcept override { return data_.size(); }
  const void* identity() const noexcept override { return data_.identity(); }

  // Defined below the class, not inline: for the element types db/datasets_*.cc instantiate
  // (extern templates at the end of this file), a program's translation units do not compile
  // them again.
  DatasetMerge Merge3(const Dataset& ours, const Dataset& theirs, const merge_side* resolve,
                      merge_mode mode) const override;
  DatasetDiff Diff(const Dataset& to, bool text, std::size_t max_text_ranges,
                   bool ranges) const override;
  void VisitNodes(const NodeVisitor& fn) const override { pvec_access::visit_nodes(data_, fn); }
  memory_stats Memory() const noexcept override { return data_.memory(); }

  std::string_view StoredType() const noexcept override {
    if constexpr (storable<T>) {
      return stored_type<T>::tag();
    } else {
      return {};
    }
  }
  absl::StatusOr<StoredTree> Save(node_table& table, node_io& io) const override;

 private:
  // Makes T's loader known to persistent databases (odr-uses stored_type<T>::registered, whose
  // initializer runs before main()). No cost at run time.
  static void Register() noexcept {
    if constexpr (storable<T>) static_cast<void>(stored_type<T>::registered);
  }

  // fmt's "{}" of the value; empty when absent; kUnformattableValue when T has no formatter.
  static std::string Text(const std::optional<T>& v) {
    if (!v.has_value()) return {};
    if constexpr (fmt::is_formattable<T>::value) {
      return fmt::format("{}", *v);
    } else {
      return kUnformattableValue;
    }
  }

  pvec<T> data_;
};

template <class T>
DatasetMerge TypedDataset<T>::Merge3(const Dataset& ours, const Dataset& theirs,
                                     const merge_side* resolve, merge_mode mode) const {
  const auto& o = static_cast<const TypedDataset&>(ours).data_;
  const auto& t = static_cast<const TypedDataset&>(theirs).data_;
  DatasetMerge out;
  if (resolve != nullptr) {
    out.merged = std::make_shared<TypedDataset>(merge(data_, o, t, *resolve, mode));
    return out;
  }
  auto r = merge(data_, o, t, mode);
  if (r.ok()) {
    out.merged = std::make_shared<TypedDataset>(r.merged());
  } else {
    // Rows named in base terms (for inserts at one place: the base row they precede).
    out.conflicts.reserve(r.conflicts().size());
    for (const merge_conflict<T>& c : r.conflicts()) {
      out.conflicts.push_back({c.kind, c.base_index, c.ours_index.value_or(SIZE_MAX),
                               c.theirs_index.value_or(SIZE_MAX), c.ours_action, c.theirs_action,
                               Text(c.ours), Text(c.theirs)});
    }
    std::sort(out.conflicts.begin(), out.conflicts.end(),
              [](const RowConflict& a, const RowConflict& b) {
                return std::tie(a.base_index, a.kind, a.ours_index, a.theirs_index) <
                       std::tie(b.base_index, b.kind, b.ours_index, b.theirs_index);
              });
  }
  return out;
}

template <class T>
DatasetDiff TypedDataset<T>::Diff(const Dataset& to, bool text, std::size_t max_text_ranges,
                                  bool ranges) const {
  const auto d = diff(data_, static_cast<const TypedDataset&>(to).data_);
  DatasetDiff out{d.modified_count(),
                  d.appended_count(),
                  d.truncated_count(),
                  d.ranges().size(),
                  d.inserted_count(),
                  d.erased_count(),
                  {},
                  d.moved_count(),
                  {}};
  if (text) {
    if constexpr (fmt::is_formattable<T>::value) {
      out.text = max_text_ranges == SIZE_MAX
                     ? fmt::format("{}", d)
                     : fmt::format(fmt::runtime(fmt::format("{{:{}}}", max_text_ranges)), d);
    } else if (!d.empty()) {
      out.text =
          fmt::format("(no row text: element type {} has no fmt::formatter)", TypeName(typeid(T)));
    }
  }
  if (ranges) out.range_list = d.ranges();
  return out;
}

template <class T>
absl::StatusOr<StoredTree> TypedDataset<T>::Save(node_table& table, node_io& io) const {
  if constexpr (storable<T>) {
    const tree_rep& r = pvec_access::rep(data_);
    absl::StatusOr<node_ref> root = stored_type<T>::codec::save(r, table, io);
    if (!root.ok()) return root.status();
    return StoredTree{*root, r.depth, r.size};
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "element type {} is declared in-memory only (cowdb::memory_only): a persistent database "
        "cannot store it; give it a cowdb::codec<T> with encode/decode (cowdb/codec.h)",
        TypeName(typeid(T))));
  }
}

// The writable state of one dataset inside a transaction.
class DatasetEditor {
 public:
  virtual ~DatasetEditor() = default;
  // The current contents as an immutable Dataset. O(1); the editor's next write to any chunk
  // copies that chunk first.
  virtual DatasetPtr Freeze() const = 0;
};

template <class T>
class TypedEditor final : public DatasetEditor {
 public:
  explicit TypedEditor(const pvec<T>& from) : editor_(from.transient()) {}
  typename pvec<T>::editor& editor() noexcept { return editor_; }
  DatasetPtr Freeze() const override;

 private:
  typename pvec<T>::editor editor_;
};

template <class T>
DatasetPtr TypedEditor<T>::Freeze() const {
  return std::make_shared<TypedDataset<T>>(editor_.persistent());
}

// The element types most datasets hold: their TypedDataset and TypedEditor are compiled once,
// in the library (db/datasets_*.cc), not in every translation unit that uses them (the merge,
// diff and storage code is most of what a database user's file compiles).
#define COWDB_EXTERN_DATASET(T)          \
  extern template struct stored_type<T>; \
  extern template class TypedDataset<T>; \
  extern template class TypedEditor<T>;
COWDB_FOR_EACH_INTEGER_ELEMENT_TYPE(COWDB_EXTERN_DATASET)
COWDB_FOR_EACH_OTHER_ELEMENT_TYPE(COWDB_EXTERN_DATASET)
#undef COWDB_EXTERN_DATASET

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_DB_DATASET_H_
