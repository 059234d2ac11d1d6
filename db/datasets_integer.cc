// The datasets of the library's common integer element types (cowdb/internal/db/dataset.h),
// compiled once here instead of in every translation unit that uses them.
#include "cowdb/internal/db/dataset.h"

namespace cowdb::internal {
COWDB_FOR_EACH_INTEGER_ELEMENT_TYPE(COWDB_INSTANTIATE_DATASET)
}  // namespace cowdb::internal
