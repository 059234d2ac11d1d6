// Out-of-line error paths of the container layer: keeps fmt and exception construction out of
// the inlined fast paths of pvec<T>.
#include <cstddef>
#include <stdexcept>

#include "cowdb/pvec.h"
#include "fmt/format.h"

namespace cowdb::internal {

void throw_out_of_range(const char* op, std::size_t index, std::size_t size) {
  throw std::out_of_range(
      fmt::format("cowdb::pvec::{}: index {} is out of range for size {}", op, index, size));
}

void throw_bad_range(const char* op, std::size_t first, std::size_t last, std::size_t size) {
  throw std::out_of_range(fmt::format(
      "cowdb::pvec::{}: range [{}, {}) is not a range of a vector of size {} (needs first <= last "
      "<= size)",
      op, first, last, size));
}

void throw_empty(const char* op) {
  throw std::out_of_range(fmt::format("cowdb::pvec::{}: the vector is empty", op));
}

}  // namespace cowdb::internal
