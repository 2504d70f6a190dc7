// Matching a checkpoint's (or savepoint's) task states to the tasks of a plan, by node id:
// the same graph at the same parallelism restores task for task; another parallelism or
// other chains redistribute (docs/state.md, "Rescaling").
#pragma once

#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/plan/job_plan.h"
#include "runtime/task/checkpoint.h"

namespace sluice::runtime {

// What each task of `plan` restores from the states of checkpoint `id`. Nodes the plan
// has and the checkpoint lacks start empty. FAILED_PRECONDITION, naming the nodes or
// values: state for nodes the plan lacks (unless `allow_non_restored_state`; a node that
// kept nothing but its watermark does not count), another max_parallelism, or a node's
// state from subtasks that do not add up to its parallelism.
// `storage` is where the states were read (each TaskRestore keeps it).
absl::StatusOr<std::map<TaskKey, TaskRestore>> MatchRestore(const JobPlan& plan, int64_t id,
                                                             const std::vector<OldTaskState>& old,
                                                             bool allow_non_restored_state,
                                                             std::shared_ptr<const CheckpointStorage> storage);

}  // namespace sluice::runtime
