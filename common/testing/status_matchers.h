// gtest helpers for absl::Status: ASSERT_OK, EXPECT_OK, ASSERT_OK_AND_ASSIGN.
#pragma once

#include <gtest/gtest.h>

#include "common/status_macros.h"

// The expression's value is held first, so a temporary StatusOr outlives the check.
#define ASSERT_OK(expr)                                          \
  do {                                                           \
    auto&& _held = (expr);                                       \
    const auto& _st = ::sluice::internal::GetStatus(_held);      \
    ASSERT_TRUE(_st.ok()) << _st.ToString();                     \
  } while (0)
#define EXPECT_OK(expr)                                          \
  do {                                                           \
    auto&& _held = (expr);                                       \
    const auto& _st = ::sluice::internal::GetStatus(_held);      \
    EXPECT_TRUE(_st.ok()) << _st.ToString();                     \
  } while (0)

#define SLUICE_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                     \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();       \
  lhs = std::move(tmp).value()
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  SLUICE_ASSERT_OK_AND_ASSIGN_IMPL(SLUICE_CONCAT(_sluice_t_, __COUNTER__), lhs, rexpr)
