// The coordinator: the gRPC service adapter and scheduler loop around the control
// plane's rooms. Membership (membership.h) tracks workers by heartbeat; a JobMaster per
// job (job_master.h) runs the job's lifecycle (placement through the pure scheduler in
// scheduler.h, failover, restart strategy, post-mortems); the JobStore (RocksDB) keeps job
// records durable, so a restarted coordinator still knows its jobs and re-adopts the tasks
// of workers that register again. One mutex guards the rooms; calls to workers are decided
// under it and sent without it.
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
#include "coordinator/job_master.h"
#include "coordinator/job_store.h"
#include "coordinator/membership.h"
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
  // Answers once the savepoint is written or has failed (coordinator/savepoints.h).
  grpc::Status TriggerSavepoint(grpc::ServerContext*, const v1::TriggerSavepointRequest*,
                                v1::TriggerSavepointResponse*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*, v1::ListWorkersResponse*) override;
  grpc::Status FetchArtifact(grpc::ServerContext*, const v1::FetchArtifactRequest*, v1::FetchArtifactResponse*) override;
  grpc::Status ReportCheckpoint(grpc::ServerContext*, const v1::ReportCheckpointRequest*,
                                v1::ReportCheckpointResponse*) override;

 private:
  void SchedulerLoop();
  // Sends the calls decided under mu_ (without it); a failed deployment fails its job over.
  void Execute(std::vector<WorkerCall> calls);
  std::map<std::string, int> UsedSlots() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores the request's plugin artifacts by hash (never loads them); checks that they
  // are the graph's and that every plugin the graph names is stored.
  absl::Status StorePlugins(const v1::SubmitJobRequest& req);
  JobMasterOptions MasterOptions() const;

  CoordinatorOptions options_;
  std::string address_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<grpc::Server> server_;
  std::thread scheduler_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  Membership members_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, JobMaster> jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::coordinator
