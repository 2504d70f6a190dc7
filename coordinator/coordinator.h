// The coordinator: accepts jobs from clients, tracks workers by heartbeat, turns a job's
// topology into tasks placed on worker slots, deploys them, follows their state, and
// fails a job over (cancel everything, redeploy from the beginning after the restart
// delay) when a task fails or a worker is lost. Job specs and state live in RocksDB
// (JobStore), so a restarted coordinator still knows its jobs and re-adopts the tasks
// of workers that register again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "coordinator/job_store.h"
#include "grpcpp/grpcpp.h"
#include "sluice/v1/cluster.grpc.pb.h"

namespace sluice::coordinator {

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:7070";
  std::string data_dir = "sluice-coordinator-data";
  int64_t heartbeat_interval_ms = 1000;
  int64_t heartbeat_timeout_ms = 10000;
  int64_t slot_timeout_ms = 300000;  // a job that cannot get slots this long fails with the reason
  v1::RestartStrategy default_restart;  // set in the constructor: 3 attempts, 1 s
};

class Coordinator final : public v1::Coordinator::Service {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator() override;

  // Opens the job store, recovers jobs, starts serving and scheduling.
  absl::Status Start();
  void Shutdown();  // thread-safe
  void Wait();      // until Shutdown
  const std::string& address() const { return address_; }

  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest*, v1::RegisterWorkerResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*, v1::HeartbeatResponse*) override;
  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest*, v1::SubmitJobResponse*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*, v1::ListJobsResponse*) override;
  grpc::Status DescribeJob(grpc::ServerContext*, const v1::DescribeJobRequest*, v1::DescribeJobResponse*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest*, v1::CancelJobResponse*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*, v1::ListWorkersResponse*) override;
  grpc::Status FetchArtifact(grpc::ServerContext*, const v1::FetchArtifactRequest*, v1::FetchArtifactResponse*) override;

 private:
  using Clock = std::chrono::steady_clock;

  struct WorkerEntry {
    std::string id;
    std::string address;
    std::string hostname;
    int64_t pid = 0;
    int slots = 0;
    bool alive = false;
    Clock::time_point last_heartbeat;
    std::shared_ptr<v1::Worker::Stub> stub;
  };
  struct Rate {
    Clock::time_point at;
    std::map<int, std::pair<int64_t, int64_t>> totals;  // node -> (in, out)
    std::map<int, std::pair<double, double>> rates;
  };
  struct JobEntry {
    v1::JobRecord rec;
    std::map<std::string, v1::WorkerJobStatus> status;  // current attempt, by worker
    std::map<std::string, Rate> rates;                  // by worker
    Clock::time_point restart_at;
    bool recovering = false;  // loaded after a coordinator restart, not yet re-adopted
    Clock::time_point recover_deadline;
    Clock::time_point waiting_since;  // when it started waiting for slots
  };
  // RPCs to workers, decided under mu_ and sent without it.
  struct Action {
    bool deploy = false;
    std::shared_ptr<v1::Worker::Stub> stub;
    std::string worker_id;
    v1::DeployTasksRequest request;  // deploy
    std::string job_id;              // cancel
    int64_t attempt = 0;
  };

  void SchedulerLoop();
  void Persist(const JobEntry& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Failover(JobEntry& job, const std::string& reason, std::vector<Action>* actions)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueCancels(const JobEntry& job, std::vector<Action>* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TryPlace(JobEntry& job, std::vector<Action>* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CheckJob(JobEntry& job, std::vector<Action>* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps the current attempt's task states and summed metrics in the record, for
  // post-mortems once the job ended or failed over. Tasks still running count as
  // cancelled: the caller ends the attempt.
  void RecordFinal(JobEntry& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Workers of `job` that have missed heartbeats, as "worker X has not sent a heartbeat
  // for N ms" (empty if none): the likely cause when a task fails on a broken exchange.
  std::string SilentWorkers(const JobEntry& job) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Execute(std::vector<Action> actions);
  std::map<std::string, int> UsedSlots() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::JobSummaryProto Summary(const JobEntry& job) const;

  CoordinatorOptions options_;
  std::string address_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<grpc::Server> server_;
  std::thread scheduler_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, WorkerEntry> workers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, JobEntry> jobs_ ABSL_GUARDED_BY(mu_);
  std::mutex plugin_mu_;  // loading plugins for validation
};

}  // namespace sluice::coordinator
