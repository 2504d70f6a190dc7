// The worker process: serves the Worker (deploy/cancel) and Exchange services on one
// address, registers with the coordinator, and reports its tasks and metrics in
// heartbeats. If the coordinator goes away it keeps running its tasks and registers
// again when it comes back, reporting them, so the new coordinator re-adopts them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "runtime/exchange/exchange.h"
#include "runtime/worker/worker_job.h"
#include "sluice/operator.h"
#include "sluice/v1/cluster.grpc.pb.h"

namespace sluice::runtime {

struct WorkerOptions {
  std::string coordinator = "127.0.0.1:7070";
  std::string listen = "127.0.0.1:0";  // port 0: any free port
  std::string id;                       // default: host-port
  int slots = 4;
  std::string work_dir;                 // plugin cache; default /tmp/sluice-worker-<id>
  int64_t credit_window_bytes = kDefaultCreditWindowBytes;
  int protocol_version = 0;             // 0: this build's; others only for tests
  // The operators every job may use (the built-ins), registered by the program's main
  // (cli/worker_main.cc), so the runtime links no operator library. Each deployment
  // copies it and loads the job's plugins into the copy. Null: plugins only.
  std::shared_ptr<const OperatorRegistry> operators;
};

class Worker final : public v1::Worker::Service {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker() override;

  // Starts the server and registers (retrying until the coordinator answers).
  // FAILED_PRECONDITION if the coordinator refuses this worker.
  absl::Status Start();
  // Heartbeats until Shutdown(). Returns why it stopped.
  absl::Status Run();
  void Shutdown();  // thread-safe; cancels every task
  const std::string& address() const { return address_; }

  grpc::Status DeployTasks(grpc::ServerContext* context, const v1::DeployTasksRequest* request,
                           v1::DeployTasksResponse* response) override;
  grpc::Status CancelTasks(grpc::ServerContext* context, const v1::CancelTasksRequest* request,
                           v1::CancelTasksResponse* response) override;
  grpc::Status TriggerCheckpoint(grpc::ServerContext* context, const v1::CheckpointRequest* request,
                                 v1::CheckpointResponse* response) override;
  grpc::Status NotifyCheckpointComplete(grpc::ServerContext* context, const v1::CheckpointRequest* request,
                                        v1::CheckpointResponse* response) override;

 private:
  absl::Status Register();
  void ReportCheckpoint(const v1::ReportCheckpointRequest& report);
  // Runs `action` with the checkpoint id on the attempt `request` names, if it runs here.
  grpc::Status ForCheckpoint(const v1::CheckpointRequest& request, void (WorkerJob::*action)(int64_t));
  absl::StatusOr<std::shared_ptr<const OperatorRegistry>> RegistryFor(const v1::DeployTasksRequest& request);
  std::vector<v1::WorkerJobStatus> Snapshot();
  // Cancels the job attempts named "job_id/attempt" that run here.
  void CancelStale(const google::protobuf::RepeatedPtrField<std::string>& keys);
  static std::string Key(const std::string& job_id, int64_t attempt);

  WorkerOptions options_;
  std::string address_;
  ExchangeService exchange_;
  PeerChannels peers_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Coordinator::Stub> coordinator_;
  int64_t heartbeat_interval_ms_ = 1000;

  std::mutex mu_;
  std::condition_variable wake_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  bool report_now_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<WorkerJob>> jobs_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> deploying_ ABSL_GUARDED_BY(mu_);  // attempts being built by DeployTasks
  std::mutex plugin_mu_;
};

}  // namespace sluice::runtime
