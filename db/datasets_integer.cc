// The datasets of the library's common element types (cowdb/internal/dataset.h, the end),
// compiled once here instead of in every translation unit that uses them.
#include "cowdb/internal/dataset.h"

namespace cowdb::internal {

#define COWDB_INSTANTIATE_DATASET(T) \
  template class TypedDataset<T>;    \
  template class TypedEditor<T>;
COWDB_FOR_EACH_INTEGER_ELEMENT_TYPE(COWDB_INSTANTIATE_DATASET)
#undef COWDB_INSTANTIATE_DATASET

}  // namespace cowdb::internal
