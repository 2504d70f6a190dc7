#include "runtime/worker/worker.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/content_hash.h"
#include "common/grpc_util.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "runtime/plugin/plugin_loader.h"

namespace sluice::runtime {
namespace {

std::string Hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

Worker::Worker(WorkerOptions options) : options_(std::move(options)), exchange_(options_.credit_window_bytes) {}

Worker::~Worker() {
  Shutdown();
  std::map<std::string, std::unique_ptr<WorkerJob>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs.swap(jobs_);
  }
  jobs.clear();  // joins task threads, which may take mu_ when they end
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

std::string Worker::Key(const std::string& job_id, int64_t attempt) { return absl::StrCat(job_id, "/", attempt); }

absl::Status Worker::Start() {
  auto log = GetLogger("worker");
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port);
  ConfigureServer(builder);
  builder.RegisterService(this);
  builder.RegisterService(&exchange_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) return ListenError("worker", options_.listen);
  if (ListensBeyondLoopback(options_.listen)) {
    SLUICE_LOG_WARN(log, "WARNING: this worker listens on {}, beyond loopback, and sluice has no TLS or "
                    "authentication yet: anyone who can reach the port can run tasks and read data. Keep it on a "
                    "trusted network.", options_.listen);
  }
  std::string host = options_.listen.substr(0, options_.listen.rfind(':'));
  if (host.empty() || host == "0.0.0.0" || host == "[::]") host = Hostname();
  address_ = absl::StrCat(host, ":", port);
  if (options_.id.empty()) options_.id = absl::StrCat(Hostname(), "-", port);
  if (options_.work_dir.empty()) options_.work_dir = absl::StrCat("/tmp/sluice-worker-", options_.id);
  SetLogProcessName(options_.id);  // several workers' logs interleave on one machine
  SLUICE_LOG_INFO(log, "worker {} serving on {} with {} slots; coordinator {}", options_.id, address_,
                  options_.slots, options_.coordinator);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  coordinator_ = v1::Coordinator::NewStub(
      grpc::CreateCustomChannel(options_.coordinator, grpc::InsecureChannelCredentials(), args));
  // Register, retrying while the coordinator is not up yet.
  for (int attempt = 0;; ++attempt) {
    absl::Status st = Register();
    if (st.ok()) return st;
    if (st.code() == absl::StatusCode::kFailedPrecondition || st.code() == absl::StatusCode::kInvalidArgument ||
        st.code() == absl::StatusCode::kAlreadyExists) {
      return st;
    }
    if (attempt % 10 == 0) {
      SLUICE_LOG_WARN(log, "cannot register with coordinator {} yet ({}); retrying", options_.coordinator,
                      std::string(st.message()));
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return shutdown_; })) {
      return absl::CancelledError("shut down before registering");
    }
  }
}

absl::Status Worker::Register() {
  v1::RegisterWorkerRequest req;
  req.set_protocol_version(options_.protocol_version != 0 ? options_.protocol_version
                                                          : v1::PROTOCOL_VERSION_CURRENT);
  req.set_address(address_);
  req.set_worker_id(options_.id);
  req.set_slots(options_.slots);
  req.set_hostname(Hostname());
  req.set_pid(getpid());
  for (auto& s : Snapshot()) *req.add_jobs() = std::move(s);
  v1::RegisterWorkerResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status st = coordinator_->RegisterWorker(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st, absl::StrCat("registering with coordinator ", options_.coordinator));
  if (resp.heartbeat_interval_ms() > 0) heartbeat_interval_ms_ = resp.heartbeat_interval_ms();
  CancelStale(resp.cancel_job_attempts());
  SLUICE_LOG_INFO(GetLogger("worker"), "registered with coordinator {} as {} ({} running job attempt(s) reported)",
                  options_.coordinator, options_.id, req.jobs_size());
  return absl::OkStatus();
}

std::vector<v1::WorkerJobStatus> Worker::Snapshot() {
  std::vector<v1::WorkerJobStatus> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, job] : jobs_) out.push_back(job->Status());
  return out;
}

absl::Status Worker::Run() {
  auto log = GetLogger("worker");
  bool coordinator_lost = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(heartbeat_interval_ms_),
                     [&] { return shutdown_ || report_now_; });
      if (shutdown_) break;
      report_now_ = false;
    }
    v1::HeartbeatRequest req;
    req.set_worker_id(options_.id);
    std::vector<v1::WorkerJobStatus> snap = Snapshot();
    for (const auto& s : snap) *req.add_jobs() = s;
    v1::HeartbeatResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status st = coordinator_->Heartbeat(&ctx, req, &resp);
    if (!st.ok()) {
      if (!coordinator_lost) {
        SLUICE_LOG_WARN(log, "heartbeat to coordinator {} failed ({}); tasks keep running, retrying",
                        options_.coordinator, st.error_message());
      }
      coordinator_lost = true;
      continue;
    }
    if (coordinator_lost) SLUICE_LOG_INFO(log, "coordinator {} reachable again", options_.coordinator);
    coordinator_lost = false;
    if (resp.unknown_worker()) {
      SLUICE_LOG_INFO(log, "coordinator does not know this worker (it restarted, or gave this worker up for dead); registering again");
      absl::Status rs = Register();
      if (!rs.ok()) {
        SLUICE_LOG_WARN(log, "{}", std::string(rs.message()));
        if (rs.code() == absl::StatusCode::kFailedPrecondition) return rs;
      }
      continue;
    }
    CancelStale(resp.cancel_job_attempts());
    std::vector<std::unique_ptr<WorkerJob>> ended;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Ended jobs whose final state the coordinator has now seen are dropped.
      for (const auto& s : snap) {
        auto it = jobs_.find(Key(s.job_id(), s.attempt()));
        if (it == jobs_.end()) continue;
        bool ended_here = true;
        for (const auto& t : s.tasks()) ended_here &= t.state() >= v1::TASK_FINISHED;
        if (ended_here && it->second->done()) {
          ended.push_back(std::move(it->second));
          jobs_.erase(it);
        }
      }
    }
    ended.clear();  // joins outside the lock
  }
  return absl::OkStatus();
}

void Worker::CancelStale(const google::protobuf::RepeatedPtrField<std::string>& keys) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& key : keys) {
    auto it = jobs_.find(key);
    if (it == jobs_.end()) continue;
    SLUICE_LOG_WARN(GetLogger("worker"), "job attempt {} is stale (the job moved on without this worker); "
                    "stopping its tasks", key);
    it->second->Cancel();
  }
}

void Worker::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!shutdown_) SLUICE_LOG_INFO(GetLogger("worker"), "worker {} shutting down", options_.id);
  shutdown_ = true;
  for (auto& [key, job] : jobs_) job->Cancel();
  wake_.notify_all();
}

absl::StatusOr<std::shared_ptr<const OperatorRegistry>> Worker::RegistryFor(const v1::DeployTasksRequest& request) {
  auto registry = options_.operators != nullptr ? std::make_shared<OperatorRegistry>(*options_.operators)
                                                : std::make_shared<OperatorRegistry>();
  std::lock_guard<std::mutex> lock(plugin_mu_);
  for (const auto& ref : request.graph().plugins()) {
    // The hash names the cached file: anything but the shape ContentHash gives
    // ("../../x", say) could point the loader outside the cache.
    if (!IsContentHash(ref.hash())) {
      return absl::InvalidArgumentError(absl::StrCat("plugin ", ref.name(), ": '", ref.hash(),
                                                     "' is not a content hash (32 lowercase hex digits)"));
    }
    std::filesystem::path dir = std::filesystem::path(options_.work_dir) / "plugins";
    std::filesystem::path path = dir / absl::StrCat(ref.hash(), ".so");
    // A cached copy is used only if its content still has its name's hash (a truncated
    // or replaced file is fetched again).
    std::string cached;
    bool have = false;
    {
      std::ifstream in(path, std::ios::binary);
      if (in) {
        cached.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        have = ContentHash(cached) == ref.hash();
        if (!have) {
          SLUICE_LOG_WARN(GetLogger("worker"), "cached plugin {} does not match its hash; fetching it again",
                          path.string());
        }
      }
    }
    if (!have) {
      v1::FetchArtifactRequest req;
      req.set_hash(ref.hash());
      v1::FetchArtifactResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      grpc::Status st = coordinator_->FetchArtifact(&ctx, req, &resp);
      if (!st.ok()) return FromGrpc(st, absl::StrCat("fetching plugin ", ref.name()));
      if (ContentHash(resp.content()) != ref.hash()) {
        return absl::DataLossError(absl::StrCat("plugin ", ref.name(), ": the coordinator sent content whose hash ",
                                                "is not ", ref.hash()));
      }
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);  // code we load: ours only
      std::filesystem::path tmp = path;
      tmp += absl::StrCat(".tmp.", getpid());
      {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out.write(resp.content().data(), static_cast<std::streamsize>(resp.content().size()));
        if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp.string()));
      }
      std::filesystem::rename(tmp, path, ec);
      if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp.string(), ": ", ec.message()));
      SLUICE_LOG_INFO(GetLogger("worker"), "fetched plugin {} ({} bytes) into {}", ref.name(),
                      resp.content().size(), path.string());
    }
    absl::Status st = LoadPlugin(path.string(), registry.get());
    if (!st.ok()) return absl::Status(st.code(), absl::StrCat("plugin ", ref.name(), ": ", st.message()));
  }
  return std::shared_ptr<const OperatorRegistry>(std::move(registry));
}

grpc::Status Worker::DeployTasks(grpc::ServerContext*, const v1::DeployTasksRequest* request,
                                 v1::DeployTasksResponse*) {
  auto log = GetLogger("worker");
  const std::string key = Key(request->job_id(), request->attempt());
  SLUICE_LOG_INFO(log, "deploying job {} attempt {}", request->job_id(), request->attempt());
  if (request->job_id().empty() || request->attempt() <= 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a deployment names a job id and an attempt >= 1");
  }
  if (request->worker_id() != options_.id) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("this deployment is for worker '", request->worker_id(), "', this is '",
                                     options_.id, "'"));
  }
  {
    // Claim the attempt before building it: a second deployment of a running attempt
    // must not touch the first one's exchange inputs.
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker is shutting down");
    if (jobs_.count(key) > 0 || !deploying_.insert(key).second) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("job ", request->job_id(), " attempt ", request->attempt(),
                                       " is already deployed here"));
    }
  }
  absl::StatusOr<std::unique_ptr<WorkerJob>> job = absl::UnknownError("not built");
  auto registry = RegistryFor(*request);
  if (registry.ok()) {
    job = WorkerJob::Create(*request, std::move(*registry), &exchange_, &peers_,
                            [this](const v1::ReportCheckpointRequest& r) { ReportCheckpoint(r); });
  } else {
    job = registry.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  deploying_.erase(key);
  if (!job.ok()) {
    SLUICE_LOG_ERROR(log, "cannot deploy job {} attempt {}: {}", request->job_id(), request->attempt(),
                     std::string(job.status().message()));
    return ToGrpc(job.status());
  }
  if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker is shutting down");
  auto& slot = jobs_[key];
  slot = std::move(*job);
  // Report promptly when the job's tasks here end.
  slot->Start([this] {
    std::lock_guard<std::mutex> lock(mu_);
    report_now_ = true;
    wake_.notify_all();
  });
  return grpc::Status::OK;
}

void Worker::ReportCheckpoint(const v1::ReportCheckpointRequest& report) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ReportCheckpointResponse resp;
  grpc::Status st = coordinator_->ReportCheckpoint(&ctx, report, &resp);
  if (!st.ok()) {
    // The checkpoint then times out (or a heartbeat tells of a finished task).
    SLUICE_LOG_WARN(GetLogger("worker"), "job {} attempt {}: reporting {} of task {}#{} (checkpoint {}): {}",
                    report.job_id(), report.attempt(), v1::ReportCheckpointRequest::Kind_Name(report.kind()),
                    report.vertex(), report.subtask(), report.checkpoint_id(), st.error_message());
  }
}

grpc::Status Worker::ForCheckpoint(const v1::CheckpointRequest& request, void (WorkerJob::*action)(int64_t)) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(Key(request.job_id(), request.attempt()));
  if (it == jobs_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("job ", request.job_id(), " attempt ", request.attempt(), " does not run here"));
  }
  ((*it->second).*action)(request.checkpoint_id());  // never blocks: atomics and control items
  return grpc::Status::OK;
}

grpc::Status Worker::TriggerCheckpoint(grpc::ServerContext*, const v1::CheckpointRequest* request,
                                       v1::CheckpointResponse*) {
  return ForCheckpoint(*request, &WorkerJob::TriggerCheckpoint);
}

grpc::Status Worker::NotifyCheckpointComplete(grpc::ServerContext*, const v1::CheckpointRequest* request,
                                              v1::CheckpointResponse*) {
  return ForCheckpoint(*request, &WorkerJob::NotifyCheckpointComplete);
}

grpc::Status Worker::CancelTasks(grpc::ServerContext*, const v1::CancelTasksRequest* request,
                                 v1::CancelTasksResponse*) {
  std::vector<std::unique_ptr<WorkerJob>> cancelled;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->second->job_id() == request->job_id() &&
          (request->attempt() == 0 || it->second->attempt() == request->attempt())) {
        SLUICE_LOG_INFO(GetLogger("worker"), "cancelling job {} attempt {}", it->second->job_id(),
                        it->second->attempt());
        it->second->Cancel();
        cancelled.push_back(std::move(it->second));
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  cancelled.clear();  // joins the tasks (outside mu_, which their end hook takes)
  return grpc::Status::OK;
}

}  // namespace sluice::runtime
