// cowdb/transaction.h — an optimistic transaction on one branch of a Database.
//
//   COWDB_ASSIGN_OR_RETURN(cowdb::Transaction txn, db->Begin("exp-1"));
//   COWDB_ASSIGN_OR_RETURN(auto* prices, txn.Edit<double>("prices"));
//   prices->set(7, 101.5);                      // a patch over one chunk on its first write
//   COWDB_RETURN_IF_ERROR(txn.Create<int>("flags", cowdb::pvec<int>(n, 0)));
//   absl::StatusOr<cowdb::VersionId> v = txn.Commit("reprice");
//   if (absl::IsAborted(v.status())) for (auto& c : txn.conflicts()) report(c);
//
// A transaction starts from its branch's head (its base), reads its own writes and nothing
// committed after it began, and writes by path copying into chunks only it owns. Commit() is a
// pointer swap if the head has not moved; otherwise the transaction's changes ("ours") are
// merged three-way with the new head ("theirs") by row identity, as merge.h does with
// merge_mode::kWrites. Rows are matched by identity, not position: edits of different rows,
// even in one chunk, never conflict whatever the other side inserted, erased or moved around
// them (a write lands on its row wherever that row now is). The commit fails with kAborted only
// where both sides touched the same row -- wrote it both (even to equal values: first committer
// wins, so two read-modify-writes of one row never both succeed), wrote or moved it on one side
// and erased it on the other, erased it both, moved it both, or inserted rows before the same
// base row (their order is undetermined) -- or where a dataset was created, dropped or retyped
// on one side and changed on the other, or (ConflictMode::kDataset) written on both.
// conflicts() then says, per row, the kind, where the row is in base and on each side, what each
// side did and both values (see Conflict). Database::Merge follows the same rules with
// merge_mode::kValues (equal changes agree).
// A transaction that is destroyed or aborted leaves no trace.
//
// Errors: every operation on a finished (committed, failed or aborted) transaction returns
// kFailedPrecondition. Unknown dataset -> kNotFound; wrong element type -> kInvalidArgument;
// Create of an existing name -> kAlreadyExists; bad name -> kInvalidArgument. If the branch was
// deleted since Begin, Commit returns kNotFound and changes nothing.
//
// Thread-safety: thread-compatible. Use a transaction from one thread at a time; different
// transactions can run on different threads at once.
#ifndef COWDB_TRANSACTION_H_
#define COWDB_TRANSACTION_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cowdb/internal/db/dataset.h"
#include "cowdb/pvec.h"
#include "cowdb/snapshot.h"
#include "cowdb/status.h"

namespace cowdb {

// One reason a commit or merge failed: a row of a dataset, or the whole dataset.
//
// "ours" and "theirs": for Transaction::Commit, ours is the transaction's version and theirs the
// branch head it was merged with; for Database::Merge, ours is the target branch's head and
// theirs the source's. "base" is the merge base: the common ancestor for Database::Merge; for a
// commit, the transaction's base (or, if the commit already merged onto a newer head that then
// moved again, that head).
//
// A plain value; defaulted ==. Conflicts are listed sorted by dataset, then index, then kind
// (then ours_index, theirs_index).
struct Conflict {
  // `index` of a whole-dataset conflict.
  static constexpr std::size_t kWholeDataset = static_cast<std::size_t>(-1);
  // ours_index / theirs_index when the row is not on that side (erased there), and for
  // whole-dataset conflicts.
  static constexpr std::size_t kNoRow = static_cast<std::size_t>(-1);
  // ours_value / theirs_value when the element type has no fmt formatter.
  static constexpr std::string_view kUnformattable = internal::kUnformattableValue;

  // The dataset's name.
  std::string dataset;
  // The row's position in base (merge_conflict::base_index). For kInsertOrder, and for a kValue
  // conflict between rows both sides inserted (actions kInserted): the base row the inserted
  // rows precede (base's size for rows at the end). kWholeDataset for a whole-dataset conflict.
  std::size_t index = kWholeDataset;
  // Why it conflicts: the merge.h kinds (kValue, kModifyErase, kBothErased, kInsertOrder,
  // kMove), or kWholeDataset.
  conflict_kind kind = conflict_kind::kWholeDataset;
  // The row's position on each side (for kInsertOrder: the first row that side inserted there);
  // kNoRow where the side erased it.
  std::size_t ours_index = kNoRow;
  std::size_t theirs_index = kNoRow;
  // What each side did to the row: kModified, kMoved, kModifiedAndMoved, kErased or kInserted.
  // For a whole-dataset conflict, what each side did to the dataset: kModified (wrote it),
  // kErased (dropped it), kInserted (created it) or kRetyped (replaced it by another type).
  row_action ours_action = row_action::kUnchanged;
  row_action theirs_action = row_action::kUnchanged;
  // The row's value on each side as fmt formats it ("{}"); kUnformattable when the element type
  // has no formatter; empty where the side erased the row and for whole-dataset conflicts.
  std::string ours_value;
  std::string theirs_value;

  friend bool operator==(const Conflict&, const Conflict&) = default;
};

namespace internal {
class TransactionImpl;
}

class Transaction {
 public:
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // Aborts if still active: leaves no trace.
  ~Transaction();

  // True until Commit() or Abort(). O(1).
  bool active() const noexcept;
  // The branch and the version the transaction started from. O(1). On a moved-from
  // transaction: an empty name and VersionId{} (0, never a version's id).
  const std::string& branch() const noexcept;
  VersionId base() const noexcept;

  // The dataset as this transaction sees it (its own writes included). O(log datasets), no
  // copy of the data. Errors: kFailedPrecondition, kNotFound, kInvalidArgument (type).
  template <dataset_element T>
  [[nodiscard]] absl::StatusOr<pvec<T>> Get(std::string_view name) const {
    internal::require_declared_storage<T>();
    absl::StatusOr<internal::DatasetPtr> d = Current(name, typeid(T));
    if (!d.ok()) return d.status();
    return static_cast<const internal::TypedDataset<T>&>(**d).data();
  }

  // An editor on the dataset: its first write to a chunk copies that chunk (and the path above
  // it), later writes are plain stores. The pointer stays valid until the transaction finishes or
  // the dataset is replaced (Put, Drop). O(log datasets). Errors: as Get.
  template <dataset_element T>
  [[nodiscard]] absl::StatusOr<typename pvec<T>::editor*> Edit(std::string_view name) {
    internal::require_declared_storage<T>();
    absl::StatusOr<internal::DatasetEditor*> e = Editor(name, typeid(T), &MakeEditor<T>);
    if (!e.ok()) return e.status();
    return &static_cast<internal::TypedEditor<T>*>(*e)->editor();
  }

  // Replaces the dataset's contents with `data` (typically derived from Get: a transform, a
  // take, ...). O(log datasets). Errors: as Get.
  template <dataset_element T>
  [[nodiscard]] absl::Status Put(std::string_view name, pvec<T> data) {
    internal::require_declared_storage<T>();
    return Install(name, typeid(T), std::make_shared<internal::TypedDataset<T>>(std::move(data)),
                   /*create=*/false);
  }

  // Adds a dataset. O(log datasets). Errors: kFailedPrecondition, kAlreadyExists,
  // kInvalidArgument (bad name).
  //
  // Put and Create take the default shape, pvec<T> (4 KiB chunks, fan-out 32), by design: every
  // dataset of every version then shares chunks with the others, diffs and merges align them
  // node by node, and the stored format has one tree layout per element type. A pvec of another
  // shape (pvec<T, 512>, say) shares nothing with them and does not convert implicitly; copy it
  // in with pvec<T>(other.begin(), other.end()) (O(n), once) and keep working on the dataset.
  template <dataset_element T>
  [[nodiscard]] absl::Status Create(std::string_view name, pvec<T> data = {}) {
    internal::require_declared_storage<T>();
    return Install(name, typeid(T), std::make_shared<internal::TypedDataset<T>>(std::move(data)),
                   /*create=*/true);
  }

  // Removes a dataset. Errors: kFailedPrecondition, kNotFound.
  [[nodiscard]] absl::Status Drop(std::string_view name);

  // Names of the datasets as this transaction sees them, sorted.
  std::vector<std::string> Datasets() const;

  // Commits a new version on the branch and finishes the transaction, whatever the outcome.
  // Cost: O(datasets) plus, if another commit moved the head since Begin, a three-way merge
  // costing O(chunks changed on both sides); no lock is held during the merge.
  // Errors: kFailedPrecondition (finished), kNotFound (branch deleted), kAborted (conflict; see
  // conflicts()). On error nothing changes in the database.
  [[nodiscard]] absl::StatusOr<VersionId> Commit(std::string_view message);

  // The conflicts that made the last Commit() fail with kAborted, sorted (see Conflict); empty
  // otherwise (and on a moved-from transaction). O(1).
  const std::vector<Conflict>& conflicts() const noexcept;

  // Finishes the transaction without a trace. Idempotent.
  void Abort() noexcept;

 private:
  friend class Database;
  explicit Transaction(std::unique_ptr<internal::TransactionImpl> impl) noexcept;

  template <class T>
  static std::unique_ptr<internal::DatasetEditor> MakeEditor(const internal::Dataset& d) {
    return std::make_unique<internal::TypedEditor<T>>(
        static_cast<const internal::TypedDataset<T>&>(d).data());
  }
  using EditorFactory = std::unique_ptr<internal::DatasetEditor> (*)(const internal::Dataset&);

  absl::StatusOr<internal::DatasetPtr> Current(std::string_view name,
                                               const std::type_info& type) const;
  absl::StatusOr<internal::DatasetEditor*> Editor(std::string_view name, const std::type_info& type,
                                                  EditorFactory make);
  absl::Status Install(std::string_view name, const std::type_info& type, internal::DatasetPtr data,
                       bool create);

  std::unique_ptr<internal::TransactionImpl> impl_;
};

}  // namespace cowdb

#endif  // COWDB_TRANSACTION_H_
