// The rules of cowdb::merge (cowdb/merge.h), once, for the plain models that predict merges:
// row_model.h (expect_merge: merges of pvecs, conflicts checked exactly) and db_model.h
// (MergeRows: the dataset merges of commits and branch merges). Each model works out, its own way,
// what each side did to every base row and which rows each side inserted at each gap (the base
// position of the next row it kept in place); these functions say what the merge makes of that.
// They hold no state and know nothing of how a model stores its rows.
//
// What stays in each model, because the two predict different things: row_model.h takes each
// side's moved rows from diff (validated first), so it predicts kMove, and checks the merged
// order only as constraints; it refuses rows both sides got after base. db_model.h finds moves
// itself (longest runs in base order), predicts the exact order (following the side the engine
// starts from), handles rows both sides got after base (criss-cross merges) at the gap level, and
// leaves merges with rows out of base order "unordered" (rows checked as a set, conflicts not
// compared): there it gives merge_row a move only against an erase, so it never predicts kMove.
#ifndef COWDB_TESTS_TESTING_MERGE_RULES_H_
#define COWDB_TESTS_TESTING_MERGE_RULES_H_

#include <cstdint>
#include <optional>

#include "cowdb/merge.h"

namespace cowdb::testing {

// What one side did to a base row.
enum class row_act : std::uint8_t {
  kKept,      // in place, value unchanged
  kModified,  // in place, value changed
  kErased,
  kMoved,  // out of base order (diff reports it moved), value changed or not
};

// Where a merged row's value (and, for a moved row, its place) comes from.
enum class row_from : std::uint8_t { kBase, kOurs, kTheirs };

// What the merge makes of one base row.
struct row_outcome {
  std::optional<conflict_kind> conflict;  // at most one per base row
  bool present = true;                    // in the merge decided for the deciding side
  row_from from = row_from::kBase;        // when present
};

// The merge of one base row that ours did `ours` to and theirs `theirs` to; `*_changed`: that
// side's value differs from base (false where it erased the row), `same_values`: both sides hold
// the row with equal values. `side` decides conflicts. In order of precedence:
//   erased on both sides        erased; kBothErased under kWrites;
//   erased on one side          erased if the other side kept it (in place, unchanged); else
//                               kModifyErase, the deciding side's action (kept with its change, or
//                               erased);
//   moved on both sides         kMove, the deciding side's row (place and value);
//   changed on both sides       kValue under kWrites, or under kValues to different values: the
//                               deciding side's value; otherwise the changed side's value.
constexpr row_outcome merge_row(row_act ours, row_act theirs, bool ours_changed,
                                bool theirs_changed, bool same_values, merge_mode mode,
                                merge_side side) {
  const bool writes = mode == merge_mode::kWrites;
  const row_from decider = side == merge_side::kOurs ? row_from::kOurs : row_from::kTheirs;
  row_outcome r;
  if (ours == row_act::kErased && theirs == row_act::kErased) {
    r.present = false;
    if (writes) r.conflict = conflict_kind::kBothErased;
  } else if (ours == row_act::kErased || theirs == row_act::kErased) {
    const bool ours_kept = theirs == row_act::kErased;
    if ((ours_kept ? ours : theirs) == row_act::kKept) {
      r.present = false;
    } else {
      r.conflict = conflict_kind::kModifyErase;
      r.present = ours_kept == (side == merge_side::kOurs);
      r.from = ours_kept ? row_from::kOurs : row_from::kTheirs;
    }
  } else if (ours == row_act::kMoved && theirs == row_act::kMoved) {
    r.conflict = conflict_kind::kMove;
    r.from = decider;
  } else if (ours_changed && theirs_changed && (writes || !same_values)) {
    r.conflict = conflict_kind::kValue;
    r.from = decider;
  } else if (ours_changed) {
    r.from = row_from::kOurs;
  } else if (theirs_changed) {
    r.from = row_from::kTheirs;
  }
  return r;
}

// Rows inserted on both sides at one gap: true when the sides agree (kValues, the same sequence
// of values: only ours' rows are kept, with ours' ids), false when they are a kInsertOrder
// conflict (the deciding side's rows first, then the other side's).
constexpr bool inserts_agree(merge_mode mode, bool same_value_sequences) {
  return mode == merge_mode::kValues && same_value_sequences;
}

}  // namespace cowdb::testing

#endif  // COWDB_TESTS_TESTING_MERGE_RULES_H_
