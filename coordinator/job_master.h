// JobMaster: the lifecycle of one job on the coordinator (Flink's JobMaster). It owns the
// job's durable record and what workers report of its current attempt, and decides every
// transition of the job's state machine:
//
//   SCHEDULING --slots found, attempt n+1 deployed----------------> RUNNING
//   SCHEDULING --no slots for slot_timeout (reason kept)----------> FAILED
//   RUNNING ----every task finished-------------------------------> FINISHED
//   RUNNING ----a task failed, a worker lost or restarted, a------> RESTARTING (restarts left)
//               deployment failed, not re-adopted after a            or FAILED (none left)
//               coordinator restart
//   RESTARTING -restart delay passed------------------------------> SCHEDULING
//   any state that has not ended --cancel-------------------------> CANCELLED
//
// With `checkpoint:` in the topology it also runs the job's checkpoint coordinator
// (common/checkpoint_coordinator.h) for the current attempt: it triggers checkpoints on
// the workers of source tasks, collects their reports, records each completed
// checkpoint in the job's record before telling the workers, and deploys a restarted
// attempt with the newest retained checkpoint whose files are whole.
//
// Its I/O is persisting its record in the JobStore and, with checkpoints, reading and
// writing checkpoint metadata in the checkpoint storage: the calls to workers it
// decides (deploy, cancel, trigger, notify) are returned as WorkerCalls for the
// coordinator to send without its lock. A lost worker matters only while RUNNING on it; in SCHEDULING it simply
// has no slots to offer, and in RESTARTING the next placement will not use it.
// Not thread-safe: the Coordinator holds its lock around every call.
#pragma once

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkpoint_coordinator.h"
#include "coordinator/job_store.h"
#include "coordinator/membership.h"
#include "sluice/v1/cluster.grpc.pb.h"

namespace sluice::coordinator {

// A call to a worker, decided under the coordinator's lock and sent without it.
struct WorkerCall {
  enum class Kind { kCancel, kDeploy, kTrigger, kNotify };
  Kind kind = Kind::kCancel;
  std::shared_ptr<v1::Worker::Stub> stub;
  std::string worker_id;
  v1::DeployTasksRequest request;  // deploy
  std::string job_id;              // the others
  int64_t attempt = 0;
  int64_t checkpoint_id = 0;       // trigger, notify
};

struct JobMasterOptions {
  int64_t heartbeat_interval_ms = 1000;
  int64_t heartbeat_timeout_ms = 10000;
  int64_t slot_timeout_ms = 300000;
};

class JobMaster {
 public:
  // `store` (not owned) outlives the JobMaster; null keeps the record in memory only.
  JobMaster(v1::JobRecord rec, JobStore* store, JobMasterOptions options);

  const v1::JobRecord& record() const { return rec_; }
  const std::string& id() const { return rec_.job_id(); }
  v1::JobState state() const { return rec_.state(); }
  bool ended() const;

  // Loaded from the store after a coordinator restart: a RUNNING job waits up to the
  // heartbeat timeout for its workers to report it, a RESTARTING one restarts now.
  void Recover(Clock::time_point now);

  // The scheduler's periodic step: re-adoption deadline, restart delay, placement.
  // `used` is the slots every RUNNING job holds, per worker.
  void Tick(Clock::time_point now, const Membership& members, const std::map<std::string, int>& used,
            std::vector<WorkerCall>* calls);

  // Slots this job holds per worker (slot sharing: one per distinct subtask index), if RUNNING.
  void AddUsedSlots(std::map<std::string, int>* used) const;

  // A worker was given up; fails the job over if its current attempt runs there.
  void OnWorkerLost(const std::string& worker_id, const std::string& reason, const Membership& members,
                    std::vector<WorkerCall>* calls);
  // A worker registered (again); `reported` is its status of this job's current attempt,
  // or null when it does not run it.
  void OnWorkerRegistered(const std::string& worker_id, const v1::WorkerJobStatus* reported,
                          const Membership& members, std::vector<WorkerCall>* calls);
  // A heartbeat's report of this job. False when it is not of the running current attempt
  // (the worker runs a stale attempt).
  bool OnStatus(const std::string& worker_id, const v1::WorkerJobStatus& status, Clock::time_point now,
                const Membership& members, std::vector<WorkerCall>* calls);
  // Deploying `attempt` to `worker_id` failed.
  void OnDeployFailed(const std::string& worker_id, int64_t attempt, const std::string& error,
                      const Membership& members, std::vector<WorkerCall>* calls);
  // FAILED_PRECONDITION if the job already ended.
  absl::Status Cancel(const std::string& who, const Membership& members, std::vector<WorkerCall>* calls);
  // A worker's report of a task's part in checkpointing (ignored unless of the running
  // current attempt).
  void OnCheckpointReport(const v1::ReportCheckpointRequest& req, Clock::time_point now, const Membership& members,
                          std::vector<WorkerCall>* calls);

  // Savepoints (job_checkpoints.cc, coordinator/savepoints.h). RequestSavepoint asks for
  // one; the next tick triggers it as a checkpoint (after one in flight). Once it
  // completes, the coordinator copies it out without its lock and calls SavepointWritten.
  // No other checkpoint starts meanwhile: retention cannot discard the one being copied,
  // and with `cancel` nothing is committed after it.
  struct SavepointRequest {
    std::string dir;  // "" = the default under the job's checkpoint dir
    bool cancel = false;
    std::string who;
    int64_t id = 0;            // the checkpoint, once triggered
    bool ready = false;        // it completed: copy `metadata`
    CheckpointMetadata metadata;
    std::string failure;       // it failed: why
  };
  // FAILED_PRECONDITION unless the job runs with checkpoints and no savepoint is underway.
  absl::Status RequestSavepoint(std::string dir, bool cancel, std::string who);
  const std::optional<SavepointRequest>& savepoint() const { return savepoint_; }
  const CheckpointStorage* checkpoint_storage() const { return ckpt_storage_.get(); }
  // The copy to `location` is written (ok) or failed: checkpoints resume, or the job is
  // cancelled when that was asked. Also clears a failed request.
  void SavepointWritten(const absl::Status& written, const std::string& location, const Membership& members,
                        std::vector<WorkerCall>* calls);

  v1::JobSummaryProto Summary() const;
  void Describe(v1::DescribeJobResponse* resp) const;

 private:
  struct Rate {
    Clock::time_point at;
    std::map<int, std::pair<int64_t, int64_t>> totals;  // node -> (in, out)
    std::map<int, std::pair<double, double>> rates;
  };

  void Persist();
  void Failover(const std::string& reason, const Membership& members, std::vector<WorkerCall>* calls);
  void QueueCancels(const Membership& members, std::vector<WorkerCall>* calls) const;
  // One call of `kind` to each live worker of the current placement (with a source task).
  void CallWorkers(WorkerCall::Kind kind, int64_t checkpoint_id, bool sources_only, const Membership& members,
                   std::vector<WorkerCall>* calls) const;
  void TryPlace(Clock::time_point now, const Membership& members, const std::map<std::string, int>& used,
                std::vector<WorkerCall>* calls);
  void Check(const Membership& members, std::vector<WorkerCall>* calls);
  // Keeps the attempt's task states and summed metrics in the record for post-mortems.
  // Tasks still running count as cancelled: the caller ends the attempt.
  void RecordFinal();
  // "worker X has not sent a heartbeat for N ms" for the job's silent workers (or "").
  std::string SilentWorkers(const Membership& members) const;
  // Tasks of the graph (subtasks of every vertex), and a vertex's name ("parse -> views").
  int NumTasks() const;
  // Records the current attempt's sources emitted, as last reported.
  int64_t SourceRecords() const;
  std::string VertexName(int vertex) const;

  // Checkpoints (job_checkpoints.cc).
  bool checkpointing() const { return !rec_.graph().topology().checkpoint_dir().empty(); }
  absl::Status OpenCheckpointStorage();
  // The newest retained checkpoint whose files are whole (damaged ones are dropped with
  // a warning naming the file), or nullopt when none was taken. FAILED_PRECONDITION
  // when there were checkpoints and none is usable.
  absl::StatusOr<std::optional<v1::CompletedCheckpointProto>> ChooseRestore();
  // The checkpoint inside the savepoint the job was submitted from (checked whole).
  absl::StatusOr<v1::CompletedCheckpointProto> SavepointToRestore() const;
  void StartCheckpoints(Clock::time_point now);
  void StopCheckpoints(const std::string& reason);
  void CheckpointTick(Clock::time_point now, const Membership& members, std::vector<WorkerCall>* calls);
  void CheckpointCompleted(const CheckpointMetadata& m, const Membership& members, std::vector<WorkerCall>* calls);
  void TaskFinished(int vertex, int subtask, Clock::time_point now, const Membership& members,
                    std::vector<WorkerCall>* calls);
  // Copies the coordinator's figures into the record; true if they changed.
  bool SaveCheckpointStats();

  v1::JobRecord rec_;
  std::optional<SavepointRequest> savepoint_;
  JobStore* store_;
  std::unique_ptr<CheckpointStorage> ckpt_storage_;
  std::unique_ptr<CheckpointCoordinator> ckpt_;  // the current attempt's, while RUNNING
  int64_t ckpt_completed_seen_ = 0;  // of ckpt_, already added to the record's totals
  int64_t ckpt_failed_seen_ = 0;
  JobMasterOptions options_;
  std::map<std::string, v1::WorkerJobStatus> status_;  // current attempt, by worker
  std::map<std::string, Rate> rates_;                  // by worker
  Clock::time_point restart_at_;
  bool recovering_ = false;
  Clock::time_point recover_deadline_;
  Clock::time_point waiting_since_;
};

}  // namespace sluice::coordinator
