// Status propagation macros for absl::Status / absl::StatusOr, shaped like Arrow's.
//
// Abseil 20220623 has no RETURN_IF_ERROR or ASSIGN_OR_RETURN. These accept both Status
// and StatusOr expressions, evaluate the expression exactly once, and use a __COUNTER__
// temporary so they can appear several times in one scope. Thread-agnostic.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::internal {
inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace sluice::internal

#define SLUICE_CONCAT_IMPL(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_IMPL(a, b)

// Returns from the enclosing function if `expr` (a Status or StatusOr) is not OK.
#define RETURN_IF_ERROR(expr)                                                  \
  do {                                                                         \
    auto&& _sluice_st = (expr);                                                \
    if (!::sluice::internal::GetStatus(_sluice_st).ok())                       \
      return ::sluice::internal::GetStatus(_sluice_st);                        \
  } while (0)

#define SLUICE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

// `lhs` may be a declaration: ASSIGN_OR_RETURN(auto x, Foo());
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL(SLUICE_CONCAT(_sluice_so_, __COUNTER__), lhs, rexpr)
