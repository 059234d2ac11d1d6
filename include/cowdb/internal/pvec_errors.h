// Internal: the error paths of pvec's checked operations (at, set, insert, erase, slice, ...).
// Users never include this header.
//
// Out of line (noinline, cold) so that fmt and the exception's construction stay out of the
// inlined fast paths; inline in the header so that pvec needs no compiled library.
#ifndef COWDB_INTERNAL_PVEC_ERRORS_H_
#define COWDB_INTERNAL_PVEC_ERRORS_H_

#include <cstddef>
#include <stdexcept>

#include "fmt/format.h"

namespace cowdb::internal {

// Throws std::out_of_range with a message naming the operation, the index and the size.
[[noreturn, gnu::noinline, gnu::cold]] inline void throw_out_of_range(const char* op,
                                                                      std::size_t index,
                                                                      std::size_t size) {
  throw std::out_of_range(
      fmt::format("cowdb::pvec::{}: index {} is out of range for size {}", op, index, size));
}

// Throws std::out_of_range with a message naming the operation, the range and the size, for a
// range [first, last) that is not within [0, size] or has first > last.
[[noreturn, gnu::noinline, gnu::cold]] inline void throw_bad_range(const char* op,
                                                                   std::size_t first,
                                                                   std::size_t last,
                                                                   std::size_t size) {
  throw std::out_of_range(fmt::format(
      "cowdb::pvec::{}: range [{}, {}) is not a range of a vector of size {} (needs first <= last "
      "<= size)",
      op, first, last, size));
}

// Throws std::out_of_range for an operation that needs a non-empty vector.
[[noreturn, gnu::noinline, gnu::cold]] inline void throw_empty(const char* op) {
  throw std::out_of_range(fmt::format("cowdb::pvec::{}: the vector is empty", op));
}

}  // namespace cowdb::internal

#endif  // COWDB_INTERNAL_PVEC_ERRORS_H_
