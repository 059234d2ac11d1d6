// Every test binary counts live nodes and can inject node-allocation failures
// (cowdb/internal/alloc.h): this turns the accounting on before main(), before any node exists.
#include "cowdb/internal/alloc.h"

namespace {

const bool g_accounting_on = [] {
  cowdb::internal::enable_node_accounting();
  return true;
}();

}  // namespace
