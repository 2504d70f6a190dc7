// Checks a submitted JobGraph before the coordinator stores and schedules it. The client
// compiled it (runtime/plan/job_graph.h) and the coordinator runs none of the planner, so
// it trusts nothing in it: a graph whose vertices, chains, edges or plugin hashes do not
// hold together is refused here, naming what is wrong, instead of failing on workers.
#pragma once

#include "absl/status/status.h"
#include "sluice/v1/cluster.pb.h"

namespace sluice::coordinator {

// Most tasks one job may ask for (subtasks of all vertices).
inline constexpr int kMaxTasksPerJob = 100000;

// INVALID_ARGUMENT naming the first inconsistency.
absl::Status ValidateJobGraph(const v1::JobGraph& graph);

}  // namespace sluice::coordinator
