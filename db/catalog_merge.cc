#include "db/catalog_merge.h"

#include <stdexcept>
#include <string>
#include <utility>

#include "fmt/format.h"

namespace cowdb::internal {
namespace {

DatasetPtr Lookup(const Catalog& c, const std::string& name) {
  const auto it = c.find(name);
  return it == c.end() ? nullptr : it->second;
}

// What a side did to a dataset it changed (never unchanged: see the caller).
row_action DatasetAction(const DatasetPtr& base, const DatasetPtr& side) {
  if (side == nullptr) return row_action::kErased;
  if (base == nullptr) return row_action::kInserted;
  return side->type() == base->type() ? row_action::kModified : row_action::kRetyped;
}

}  // namespace

CatalogMerge MergeCatalogs(const Catalog& base, const Catalog& ours, const Catalog& theirs,
                           ConflictMode mode, merge_mode elements, std::optional<merge_side> side) {
  CatalogMerge out;
  Catalog names = ours;  // the union of names, sorted
  for (const auto& [name, d] : theirs) names.emplace(name, d);
  for (const auto& [name, d] : base) names.emplace(name, d);

  for (const auto& entry : names) {
    const std::string& name = entry.first;
    const DatasetPtr b = Lookup(base, name);
    const DatasetPtr o = Lookup(ours, name);
    const DatasetPtr t = Lookup(theirs, name);
    DatasetPtr result;
    if (SameDataset(o, t) || SameDataset(t, b)) {
      result = o;
    } else if (SameDataset(o, b)) {
      result = t;
    } else if (side.has_value() && (mode == ConflictMode::kDataset || !b || !o || !t ||
                                    o->type() != t->type() || b->type() != o->type())) {
      result = *side == merge_side::kOurs ? o : t;
    } else if (mode == ConflictMode::kDataset || !b || !o || !t || o->type() != t->type() ||
               b->type() != o->type()) {
      Conflict c;
      c.dataset = name;
      c.ours_action = DatasetAction(b, o);
      c.theirs_action = DatasetAction(b, t);
      out.conflicts.push_back(std::move(c));
      continue;
    } else {
      DatasetMerge m;
      try {
        m = b->Merge3(*o, *t, side.has_value() ? &*side : nullptr, elements);
      } catch (const std::logic_error& e) {
        out.error =
            absl::FailedPreconditionError(fmt::format("dataset \"{}\": {}", name, e.what()));
        return out;
      }
      for (RowConflict& r : m.conflicts) {
        out.conflicts.push_back({name, r.base_index, r.kind, r.ours_index, r.theirs_index,
                                 r.ours_action, r.theirs_action, std::move(r.ours_value),
                                 std::move(r.theirs_value)});
      }
      if (!m.conflicts.empty()) continue;
      result = std::move(m.merged);
    }
    if (result != nullptr) out.merged.emplace(name, std::move(result));
  }
  return out;
}

}  // namespace cowdb::internal
