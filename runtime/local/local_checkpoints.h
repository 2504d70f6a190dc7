// Checkpoints of a job that the LocalExecutor runs (`sluice run`, `sluice ingest` with a
// checkpoint dir): the same barrier snapshots and CheckpointCoordinator the cluster uses,
// with the coordinator on a thread of this process. Finds the checkpoint to restore
// (the newest completed one whose files are whole; a damaged one is named and skipped),
// triggers checkpoints on the source tasks, writes task state off their threads, and
// tells every task when a checkpoint completed.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkpoint_coordinator.h"
#include "runtime/plan/job_plan.h"
#include "runtime/task/checkpoint.h"
#include "runtime/task/task.h"
#include "runtime/task/task_restore.h"

namespace sluice::runtime {

// The state of each task in the checkpoint a job restores.
struct RestorePoint {
  int64_t id = 0;  // 0: nothing to restore
  std::map<TaskKey, TaskRestore> tasks;
  std::vector<CheckpointMetadata> completed;  // usable completed checkpoints, ascending
};

// Reads `storage` for a job of `plan`; state is matched by node id (MatchRestore), so the
// plan's parallelism may differ. FAILED_PRECONDITION when MatchRestore refuses, or when
// every completed checkpoint is damaged.
absl::StatusOr<RestorePoint> FindRestorePoint(const JobPlan& plan, CheckpointStorage& storage,
                                              bool allow_non_restored_state = false);

class LocalCheckpoints final : public CheckpointListener {
 public:
  LocalCheckpoints(const JobPlan& plan, std::unique_ptr<CheckpointStorage> storage,
                   std::vector<CheckpointMetadata> completed);
  ~LocalCheckpoints() override;

  // Starts triggering (tasks are created and about to start); `job` fails when too many
  // checkpoints fail in a row.
  void Start(JobShared* job, std::vector<Task*> tasks);
  // Stops triggering and waits for state still being written. After the tasks ended.
  void Stop();
  std::vector<CheckpointStats> history() const;

  // CheckpointListener.
  void Snapshotted(Task& task, ChainCheckpoint state, int64_t sync_ns, int64_t align_ns) override;
  void Declined(Task& task, int64_t id, const absl::Status& why) override;
  void SourceEnded(Task& task) override;
  void Finished(Task& task) override;

 private:
  void Loop();
  void Completed(const CheckpointMetadata& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static int64_t NowMs();

  const JobPlan& plan_;
  std::unique_ptr<CheckpointStorage> storage_;
  std::unique_ptr<AsyncCheckpointWriter> writer_;
  JobShared* job_ = nullptr;
  std::vector<Task*> tasks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  CheckpointCoordinator coordinator_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice::runtime
