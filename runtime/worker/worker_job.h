// WorkerJob: the part of one attempt of one job that runs on this worker — the tasks the
// coordinator placed here, wired to each other through mailboxes and to tasks on other
// workers through the network exchange. Built from the same JobPlan and Task code as the
// local engine, so a topology behaves the same in both.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/exchange/exchange.h"
#include "runtime/plan/job_plan.h"
#include "runtime/task/task.h"
#include "runtime/worker/worker_checkpoints.h"
#include "sluice/v1/cluster.pb.h"

namespace sluice::runtime {

// Shares one gRPC channel per peer address among all of a worker's remote channels.
class PeerChannels {
 public:
  std::shared_ptr<grpc::Channel> Get(const std::string& address);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

class WorkerJob {
 public:
  // Builds the plan from `request.topology()` with `registry`, creates this worker's
  // tasks (those placed on `request.worker_id()`), gives them their state when the
  // request restores a checkpoint, and registers their inputs with `exchange`. Does not
  // start them. With checkpoints, `report` sends the tasks' checkpoint reports to the
  // coordinator.
  static absl::StatusOr<std::unique_ptr<WorkerJob>> Create(const v1::DeployTasksRequest& request,
                                                           std::shared_ptr<const OperatorRegistry> registry,
                                                           ExchangeService* exchange, PeerChannels* peers,
                                                           WorkerCheckpoints::ReportFn report);
  ~WorkerJob();

  // Starts the task threads; `on_done` runs on the last one to end.
  void Start(std::function<void()> on_done);
  // Stops every task (any thread); they unwind, and done() becomes true.
  void Cancel();
  bool done() const { return running_.load() == 0 && started_; }
  const std::string& job_id() const { return job_id_; }
  int64_t attempt() const { return attempt_; }
  // Task states and metrics for a heartbeat.
  v1::WorkerJobStatus Status() const;
  // Any thread: source tasks here take checkpoint `id`; every task here commits it.
  void TriggerCheckpoint(int64_t id);
  void NotifyCheckpointComplete(int64_t id);

 private:
  WorkerJob() = default;

  struct LocalTask {
    std::unique_ptr<Task> task;
    int vertex = 0;
    int subtask = 0;
    std::atomic<int> state{v1::TASK_SCHEDULED};
    std::shared_ptr<ExchangeCounters> exchange = std::make_shared<ExchangeCounters>();
    std::thread thread;
  };

  // What each task restores: read from storage, matched by node id (MatchRestore).
  absl::StatusOr<std::map<TaskKey, TaskRestore>> ReadRestore(const v1::DeployTasksRequest& request);

  std::string job_id_;
  int64_t attempt_ = 0;
  ExchangeService* exchange_ = nullptr;
  std::shared_ptr<const OperatorRegistry> registry_;
  std::unique_ptr<JobPlan> plan_;
  std::unique_ptr<WorkerCheckpoints> checkpoints_;  // null: off
  std::unique_ptr<JobShared> shared_;
  std::vector<std::unique_ptr<LocalTask>> tasks_;
  std::vector<std::unique_ptr<RemoteChannel>> remote_;
  std::atomic<int> running_{0};
  bool started_ = false;
  std::chrono::steady_clock::time_point start_time_;
  std::atomic<int64_t> elapsed_ns_{-1};
  std::function<void()> on_done_;
};

// "dead.jsonl" with tag "w1" -> "dead.w1.jsonl": each worker writes its own file.
std::string PerWorkerPath(const std::string& path, const std::string& tag);

}  // namespace sluice::runtime
