#include "sluice/clock.h"

#include <chrono>

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(ClockTest, TheSystemClockTellsTheTimeAndSleeps) {
  Clock& clock = SystemClock();
  const int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  EXPECT_LE(std::abs(clock.NowMs() - wall), 1000);
  const int64_t start = clock.MonotonicNs();
  clock.SleepMs(20);
  EXPECT_GE(clock.MonotonicNs() - start, 20 * 1000000);
}

TEST(ClockTest, AManualClockMovesOnlyWhenToldAndNeverBlocks) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.NowMs(), 1000);
  EXPECT_EQ(clock.NowMs(), 1000);
  const auto real_start = std::chrono::steady_clock::now();
  clock.SleepMs(3'600'000);  // an hour, at once
  EXPECT_LT(std::chrono::steady_clock::now() - real_start, std::chrono::seconds(1));
  EXPECT_EQ(clock.NowMs(), 1000 + 3'600'000);
  clock.AdvanceMs(5);
  EXPECT_EQ(clock.MonotonicMs(), 1000 + 3'600'000 + 5);
  clock.SleepNs(-7);  // nothing
  EXPECT_EQ(clock.NowMs(), 1000 + 3'600'000 + 5);
}

}  // namespace
}  // namespace sluice
