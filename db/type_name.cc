// Demangled type names for error messages.
#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <typeinfo>

#include "cowdb/internal/db/dataset.h"

namespace cowdb::internal {

std::string TypeName(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name != nullptr ? std::string(name.get()) : std::string(t.name());
}

}  // namespace cowdb::internal
