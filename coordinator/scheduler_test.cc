#include "coordinator/scheduler.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice::coordinator {
namespace {

using ::testing::HasSubstr;

std::vector<FreeSlots> Workers(std::vector<int> free) {
  std::vector<FreeSlots> out;
  for (size_t i = 0; i < free.size(); ++i) {
    out.push_back({"w" + std::to_string(i + 1), "127.0.0.1:" + std::to_string(7000 + i), free[i]});
  }
  return out;
}

TEST(SchedulerTest, AJobNeedsAsManySlotsAsItsWidestVertex) {
  EXPECT_EQ(SlotsNeeded({1, 2, 2, 1}), 2);
  EXPECT_EQ(SlotsNeeded({3}), 3);
  EXPECT_EQ(SlotsNeeded({}), 0);
}

// YSB at -p 2 has 5 tasks: with slot sharing it fits in the 4 slots one worker has left.
TEST(SchedulerTest, YsbAtParallelismTwoFitsOnOneWorker) {
  auto placement = PlaceTasks({1, 2, 2}, Workers({4}));
  ASSERT_TRUE(placement.ok()) << placement.status();
  EXPECT_EQ(placement->size(), 5u);
  for (const Placement& p : *placement) EXPECT_EQ(p.worker_id, "w1");
  EXPECT_EQ(SlotsUsedOn(*placement, "w1"), 2);
}

TEST(SchedulerTest, SlotSHoldsSubtaskSOfEveryVertexAndSlotsSpreadOverWorkers) {
  auto placement = PlaceTasks({2, 2, 1}, Workers({4, 4}));
  ASSERT_TRUE(placement.ok());
  std::map<int, std::set<std::string>> worker_of_subtask;
  for (const Placement& p : *placement) worker_of_subtask[p.subtask].insert(p.worker_id);
  ASSERT_EQ(worker_of_subtask.size(), 2u);
  EXPECT_EQ(worker_of_subtask[0].size(), 1u);  // every vertex's subtask 0 together
  EXPECT_EQ(worker_of_subtask[1].size(), 1u);
  EXPECT_NE(*worker_of_subtask[0].begin(), *worker_of_subtask[1].begin());  // spread
  EXPECT_EQ(SlotsUsedOn(*placement, "w1"), 1);
  EXPECT_EQ(SlotsUsedOn(*placement, "w2"), 1);
}

TEST(SchedulerTest, FullWorkersAreSkipped) {
  auto placement = PlaceTasks({3}, Workers({0, 1, 5}));
  ASSERT_TRUE(placement.ok());
  EXPECT_EQ(SlotsUsedOn(*placement, "w1"), 0);
  EXPECT_EQ(SlotsUsedOn(*placement, "w2"), 1);
  EXPECT_EQ(SlotsUsedOn(*placement, "w3"), 2);
}

TEST(SchedulerTest, TooFewSlotsSaysWhatIsMissing) {
  auto placement = PlaceTasks({1, 4}, Workers({2, 1}));
  ASSERT_FALSE(placement.ok());
  EXPECT_EQ(placement.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(placement.status().message()), HasSubstr("needs 4 slot(s), 3 free on 2 live worker(s)"));
  EXPECT_FALSE(PlaceTasks({1}, {}).ok());
}

TEST(SchedulerTest, ABadParallelismIsRefused) {
  EXPECT_EQ(PlaceTasks({1, 0}, Workers({4})).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::coordinator
