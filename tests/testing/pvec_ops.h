// The operations that the randomized drivers of pvec pick from: tests/model/pvec_model_test.cc,
// testing/pvec_structural_model.h and tests/fuzz/pvec_fuzz.cc. One vocabulary, one name per
// operation for failure messages, and the weighted table type of the model drivers.
//
// Each driver's table is its configuration: the operations it runs, in its order, with its weights
// (slot_model::run_step in testing/pvec_model.h draws one by weight) or as the array the fuzzer's
// input bytes index into. A draw or a byte selects by position in the table, never by the enum's
// value: the enum may grow anywhere, but reordering or reweighting a table changes the sequence a
// recorded seed or a corpus file replays. Each driver applies an operation its own way (its own
// distributions of indices and sizes, its own checks); an operation it has no table entry for is
// a programmer error.
//
// Thread-safe: constants only.
#ifndef COWDB_TESTS_TESTING_PVEC_OPS_H_
#define COWDB_TESTS_TESTING_PVEC_OPS_H_

namespace cowdb::testing {

enum class pvec_op : unsigned {
  // Writes a version or, inside an editor session, the editor.
  kSet,
  kUpdate,
  kPushBack,
  kPopBack,
  kPushFront,
  kInsert,         // insert(i, v); the fuzzer: also insert(i, T&&) and emplace
  kInsertRange,    // insert(i, range); the structural test: also of a version
  kInsertVersion,  // insert(i, another slot's version)
  kEmplace,
  kErase,
  kEraseRange,
  kTake,
  kDrop,
  kSlice,
  kResize,
  kTransform,       // the whole version; the fuzzer: also a range
  kTransformRange,  // transform(first, last)
  kConcat,          // append(version) on an editor
  kAppendRange,
  kEraseIf,
  kFilter,
  kSort,  // the model test and the fuzzer: also stable_sort
  kStableSort,
  kAt,
  // On versions only.
  kClear,
  kCopy,
  kConstruct,
  kRebuild,  // construct a version equal to the source, from its elements
  kSwap,
  kDestroy,  // destroy a version: it frees exactly its exclusive() nodes
  kEditor,   // an editor session
  kDiff,
  kMerge,
  // On editors only.
  kFreeze,      // persistent() const&
  kMoveEditor,  // move the editor
};

// The name of an operation, for failure messages.
constexpr const char* op_name(pvec_op op) {
  switch (op) {
    case pvec_op::kSet: return "set";
    case pvec_op::kUpdate: return "update";
    case pvec_op::kPushBack: return "push_back";
    case pvec_op::kPopBack: return "pop_back";
    case pvec_op::kPushFront: return "push_front";
    case pvec_op::kInsert: return "insert(i, v)";
    case pvec_op::kInsertRange: return "insert(i, range)";
    case pvec_op::kInsertVersion: return "insert(i, version)";
    case pvec_op::kEmplace: return "emplace";
    case pvec_op::kErase: return "erase(i)";
    case pvec_op::kEraseRange: return "erase(first, last)";
    case pvec_op::kTake: return "take";
    case pvec_op::kDrop: return "drop";
    case pvec_op::kSlice: return "slice";
    case pvec_op::kResize: return "resize";
    case pvec_op::kTransform: return "transform";
    case pvec_op::kTransformRange: return "transform(first, last)";
    case pvec_op::kConcat: return "concat";
    case pvec_op::kAppendRange: return "append(range)";
    case pvec_op::kEraseIf: return "erase_if";
    case pvec_op::kFilter: return "filter";
    case pvec_op::kSort: return "sort";
    case pvec_op::kStableSort: return "stable_sort";
    case pvec_op::kAt: return "at";
    case pvec_op::kClear: return "clear";
    case pvec_op::kCopy: return "copy";
    case pvec_op::kConstruct: return "construct";
    case pvec_op::kRebuild: return "rebuild equal";
    case pvec_op::kSwap: return "swap";
    case pvec_op::kDestroy: return "destroy (exclusive)";
    case pvec_op::kEditor: return "editor session";
    case pvec_op::kDiff: return "diff";
    case pvec_op::kMerge: return "merge";
    case pvec_op::kFreeze: return "persistent() const&";
    case pvec_op::kMoveEditor: return "move the editor";
  }
  return "?";
}

// An entry of a model driver's table: an operation and how often it is drawn (see above).
struct op_weight {
  pvec_op op;
  unsigned weight;
};

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_PVEC_OPS_H_
