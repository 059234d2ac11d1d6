// cowdb/status.h — error handling helpers for the database layer.
//
// Database, branch, snapshot and transaction operations that can fail return absl::Status or
// absl::StatusOr<T>. The codes mean:
//   kNotFound            unknown branch, tag, version or dataset
//   kAlreadyExists       a branch, tag or dataset with that name exists
//   kInvalidArgument     bad name (empty, whitespace, control characters, longer than 255 bytes)
//                        or wrong element type
//   kFailedPrecondition  finished transaction, unrelated histories, deleting the last branch
//   kAborted             write conflict: the same element written differently on both sides
// Messages name the thing: `branch "exp-1" not found`.
//
// Debian's Abseil (20220623) has no ABSL_RETURN_IF_ERROR; these macros fill that gap.
#ifndef COWDB_STATUS_H_
#define COWDB_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"

#if !defined(ABSL_USES_STD_STRING_VIEW)
// Debian's Abseil has its own absl::string_view (what Status::message() returns); let fmt print
// it like std::string_view: fmt::print("{}", status.message()).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <class Ctx>
  auto format(absl::string_view s, Ctx& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};
#endif

// fmt::print("{}", status): its ToString(), e.g. "NOT_FOUND: branch \"exp\" not found" or "OK".
template <>
struct fmt::formatter<absl::Status> : fmt::formatter<fmt::string_view> {
  template <class Ctx>
  auto format(const absl::Status& s, Ctx& ctx) const {
    const std::string text = s.ToString();
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(text), ctx);
  }
};

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define COWDB_RETURN_IF_ERROR(expr)                \
  do {                                             \
    const ::absl::Status cowdb_status_ = (expr);   \
    if (!cowdb_status_.ok()) return cowdb_status_; \
  } while (false)

#define COWDB_STATUS_CONCAT_INNER_(a, b) a##b
#define COWDB_STATUS_CONCAT_(a, b) COWDB_STATUS_CONCAT_INNER_(a, b)

// `lhs = *rexpr` if rexpr (an absl::StatusOr) is OK; otherwise returns its status.
#define COWDB_ASSIGN_OR_RETURN(lhs, rexpr) \
  COWDB_ASSIGN_OR_RETURN_IMPL_(COWDB_STATUS_CONCAT_(cowdb_statusor_, __LINE__), lhs, rexpr)
#define COWDB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = *std::move(tmp)

#endif  // COWDB_STATUS_H_
