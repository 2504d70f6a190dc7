// A worker's side of one job attempt's checkpoints: its tasks' captured state goes to
// checkpoint storage off their threads (AsyncCheckpointWriter), and every part a task
// takes in checkpointing (state written, declined, source ended, finished) is reported
// to the coordinator's job master, which decides. See docs/checkpoints.md.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/checkpoint_storage.h"
#include "runtime/task/checkpoint.h"
#include "runtime/task/task.h"
#include "sluice/v1/cluster.pb.h"

namespace sluice::runtime {

class WorkerCheckpoints final : public CheckpointListener {
 public:
  // `report` sends one report to the coordinator (any thread; it may block briefly).
  using ReportFn = std::function<void(const v1::ReportCheckpointRequest&)>;
  WorkerCheckpoints(std::unique_ptr<CheckpointStorage> storage, ReportFn report, std::string worker_id,
                    std::string job_id, int64_t attempt);
  ~WorkerCheckpoints() override;

  CheckpointStorage& storage() { return *storage_; }

  void Snapshotted(Task& task, ChainCheckpoint state, int64_t sync_ns, int64_t align_ns) override;
  void Declined(Task& task, int64_t id, const absl::Status& why) override;
  void SourceEnded(Task& task) override;
  void Finished(Task& task) override;

 private:
  v1::ReportCheckpointRequest Report(TaskKey task, v1::ReportCheckpointRequest::Kind kind, int64_t id) const;

  std::unique_ptr<CheckpointStorage> storage_;
  ReportFn report_;
  std::string worker_id_;
  std::string job_id_;
  int64_t attempt_;
  std::unique_ptr<AsyncCheckpointWriter> writer_;
};

}  // namespace sluice::runtime
