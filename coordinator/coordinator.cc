#include "coordinator/coordinator.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"
#include "common/checkpoint_storage.h"
#include "common/log.h"
#include "common/content_hash.h"
#include "coordinator/job_graph_check.h"
#include "coordinator/savepoints.h"

namespace sluice::coordinator {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string AttemptKey(const std::string& job_id, int64_t attempt) { return absl::StrCat(job_id, "/", attempt); }

// Checkpoint storage on a cluster: a URI or an absolute path every worker and the
// coordinator reach (a relative one would name a different directory on each).
absl::Status CheckClusterCheckpointStorage(const v1::JobGraph& graph) {
  const std::string& dir = graph.topology().checkpoint_dir();
  if (dir.find("://") == std::string::npos && (dir.empty() || dir.front() != '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint.dir: '", dir, "' is relative; on a cluster it must be an absolute path or a file:/// URI of a "
        "directory every worker and the coordinator can reach (a shared volume)"));
  }
  auto storage = CheckpointStorage::Open(dir);
  if (!storage.ok()) return absl::InvalidArgumentError(absl::StrCat("checkpoint.dir: ", storage.status().message()));
  return absl::OkStatus();
}

bool AllEnded(const v1::WorkerJobStatus& s) {
  for (const auto& t : s.tasks()) {
    if (t.state() < v1::TASK_FINISHED) return false;
  }
  return true;
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) {
  if (options_.default_restart.max_attempts() == 0 && options_.default_restart.delay_ms() == 0) {
    options_.default_restart.set_max_attempts(3);
    options_.default_restart.set_delay_ms(1000);
  }
}

Coordinator::~Coordinator() {
  Shutdown();
  if (scheduler_.joinable()) scheduler_.join();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

absl::Status Coordinator::Start() {
  auto log = GetLogger("coordinator");
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", options_.data_dir, ": ", ec.message()));
  auto store = JobStore::Open((std::filesystem::path(options_.data_dir) / "jobs").string());
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  auto jobs = store_->LoadJobs();
  if (!jobs.ok()) return jobs.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    int recovering = 0;
    auto now = Clock::now();
    for (auto& rec : *jobs) {
      std::string id = rec.job_id();
      JobMaster& job = jobs_.try_emplace(id, std::move(rec), store_.get(), MasterOptions()).first->second;
      job.Recover(now);
      if (job.state() == v1::JOB_RUNNING) ++recovering;
    }
    SLUICE_LOG_INFO(log, "job store {}: {} job(s), {} running to re-adopt", options_.data_dir, jobs_.size(),
                    recovering);
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port);
  ConfigureServer(builder);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) return ListenError("coordinator", options_.listen);
  if (ListensBeyondLoopback(options_.listen)) {
    SLUICE_LOG_WARN(log, "WARNING: this coordinator listens on {}, beyond loopback, and sluice has no TLS or "
                    "authentication yet: anyone who can reach the port can submit jobs, which run code on the "
                    "workers. Keep it on a trusted network.", options_.listen);
  }
  address_ = absl::StrCat(options_.listen.substr(0, options_.listen.rfind(':')), ":", port);
  SLUICE_LOG_INFO(log, "coordinator serving on {} (heartbeat timeout {} ms, data dir {})", address_,
                  options_.heartbeat_timeout_ms, options_.data_dir);
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  return absl::OkStatus();
}

void Coordinator::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  wake_.notify_all();
}

void Coordinator::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait(lock, [&] { return shutdown_; });
}

JobMasterOptions Coordinator::MasterOptions() const {
  JobMasterOptions o;
  o.heartbeat_interval_ms = options_.heartbeat_interval_ms;
  o.heartbeat_timeout_ms = options_.heartbeat_timeout_ms;
  o.slot_timeout_ms = options_.slot_timeout_ms;
  return o;
}

std::map<std::string, int> Coordinator::UsedSlots() const {
  std::map<std::string, int> used;
  for (const auto& [id, job] : jobs_) job.AddUsedSlots(&used);
  return used;
}

void Coordinator::SchedulerLoop() {
  auto log = GetLogger("coordinator");
  while (true) {
    std::vector<WorkerCall> calls;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      if (shutdown_) return;
      auto now = Clock::now();
      for (const std::string& id : members_.ExpireSilent(now, options_.heartbeat_timeout_ms)) {
        SLUICE_LOG_WARN(log, "worker {} ({}) lost: no heartbeat for {} ms", id, members_.Find(id)->address,
                        options_.heartbeat_timeout_ms);
        const std::string reason =
            absl::StrCat("worker ", id, " lost: no heartbeat for ", options_.heartbeat_timeout_ms, " ms");
        for (auto& [jid, job] : jobs_) job.OnWorkerLost(id, reason, members_, &calls);
      }
      std::map<std::string, int> used = UsedSlots();
      for (auto& [jid, job] : jobs_) {
        const bool was_running = job.state() == v1::JOB_RUNNING;
        job.Tick(now, members_, used, &calls);
        // Placement later in this pass sees the slots this job just took.
        if (!was_running && job.state() == v1::JOB_RUNNING) job.AddUsedSlots(&used);
      }
    }
    Execute(std::move(calls));
  }
}

void Coordinator::Execute(std::vector<WorkerCall> calls) {
  auto log = GetLogger("coordinator");
  for (WorkerCall& c : calls) {
    grpc::ClientContext ctx;
    const bool deploy = c.kind == WorkerCall::Kind::kDeploy;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deploy ? 60 : 10));
    grpc::Status st;
    switch (c.kind) {
      case WorkerCall::Kind::kDeploy: {
        v1::DeployTasksResponse resp;
        st = c.stub->DeployTasks(&ctx, c.request, &resp);
        break;
      }
      case WorkerCall::Kind::kCancel: {
        v1::CancelTasksRequest req;
        req.set_job_id(c.job_id);
        req.set_attempt(c.attempt);
        v1::CancelTasksResponse resp;
        st = c.stub->CancelTasks(&ctx, req, &resp);
        break;
      }
      case WorkerCall::Kind::kTrigger:
      case WorkerCall::Kind::kNotify: {
        v1::CheckpointRequest req;
        req.set_job_id(c.job_id);
        req.set_attempt(c.attempt);
        req.set_checkpoint_id(c.checkpoint_id);
        v1::CheckpointResponse resp;
        st = c.kind == WorkerCall::Kind::kTrigger ? c.stub->TriggerCheckpoint(&ctx, req, &resp)
                                                  : c.stub->NotifyCheckpointComplete(&ctx, req, &resp);
        break;
      }
    }
    if (st.ok()) continue;
    std::vector<WorkerCall> more;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Unreachable: treat it as lost now rather than place a restart on it again.
      if (st.error_code() == grpc::StatusCode::UNAVAILABLE && members_.MarkLost(c.worker_id)) {
        SLUICE_LOG_WARN(log, "worker {} ({}) lost: unreachable ({})", c.worker_id, members_.Find(c.worker_id)->address,
                        st.error_message());
      }
      if (!deploy) {
        // A lost trigger or notification: the checkpoint times out, or a later one covers it.
        SLUICE_LOG_WARN(log, "{} job {} attempt {} on {}: {}",
                        c.kind == WorkerCall::Kind::kCancel    ? "cancelling"
                        : c.kind == WorkerCall::Kind::kTrigger ? absl::StrCat("triggering checkpoint ", c.checkpoint_id, " of")
                                                               : absl::StrCat("notifying checkpoint ", c.checkpoint_id, " of"),
                        c.job_id, c.attempt, c.worker_id, st.error_message());
        continue;
      }
      auto it = jobs_.find(c.job_id);
      if (it != jobs_.end()) it->second.OnDeployFailed(c.worker_id, c.attempt, st.error_message(), members_, &more);
    }
    Execute(std::move(more));
  }
}

grpc::Status Coordinator::RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest* req,
                                         v1::RegisterWorkerResponse* resp) {
  auto log = GetLogger("coordinator");
  if (req->protocol_version() != v1::PROTOCOL_VERSION_CURRENT) {
    std::string msg = absl::StrCat("worker ", req->worker_id(), " at ", req->address(), " speaks protocol version ",
                                   req->protocol_version(), " but this coordinator speaks version ",
                                   static_cast<int>(v1::PROTOCOL_VERSION_CURRENT),
                                   "; run a worker of the same sluice release");
    SLUICE_LOG_WARN(log, "refused registration: {}", msg);
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, msg);
  }
  if (req->worker_id().empty() || req->address().empty() || req->slots() <= 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a worker registers with an id, an address and slots > 0");
  }
  std::vector<WorkerCall> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    absl::StatusOr<WorkerEntry*> registered = members_.Register(*req, Clock::now());
    if (!registered.ok()) return ToGrpc(registered.status());
    const WorkerEntry& w = **registered;
    std::map<std::string, const v1::WorkerJobStatus*> reported;
    for (const auto& s : req->jobs()) {
      reported[AttemptKey(s.job_id(), s.attempt())] = &s;
      auto jit = jobs_.find(s.job_id());
      bool current = jit != jobs_.end() && jit->second.record().attempt() == s.attempt() &&
                     jit->second.state() == v1::JOB_RUNNING;
      if (!current && !AllEnded(s)) {
        SLUICE_LOG_WARN(log, "worker {} still runs job {} attempt {}, which is stale; telling it to stop",
                        req->worker_id(), s.job_id(), s.attempt());
        resp->add_cancel_job_attempts(AttemptKey(s.job_id(), s.attempt()));
      }
    }
    for (auto& [jid, job] : jobs_) {
      auto it = reported.find(AttemptKey(jid, job.record().attempt()));
      job.OnWorkerRegistered(w.id, it == reported.end() ? nullptr : it->second, members_, &calls);
    }
    SLUICE_LOG_INFO(log, "worker {} registered: {} (pid {}), {} slots, {} job attempt(s) running", w.id, w.address,
                    w.pid, w.slots, req->jobs_size());
    resp->set_worker_id(w.id);
    resp->set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
    wake_.notify_all();
  }
  Execute(std::move(calls));
  return grpc::Status::OK;
}

grpc::Status Coordinator::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                                    v1::HeartbeatResponse* resp) {
  std::vector<WorkerCall> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    if (members_.Heartbeat(req->worker_id(), now) == nullptr) {
      resp->set_unknown_worker(true);
      return grpc::Status::OK;
    }
    for (const auto& s : req->jobs()) {
      auto jit = jobs_.find(s.job_id());
      bool current = jit != jobs_.end() && jit->second.OnStatus(req->worker_id(), s, now, members_, &calls);
      if (!current && !AllEnded(s)) resp->add_cancel_job_attempts(AttemptKey(s.job_id(), s.attempt()));
    }
  }
  Execute(std::move(calls));
  return grpc::Status::OK;
}

absl::Status Coordinator::StorePlugins(const v1::SubmitJobRequest& req) {
  // Artifacts are stored by content hash and served to workers (FetchArtifact); they are
  // never loaded here. Each must be one the graph names, and each plugin the graph names
  // must be uploaded now or stored already.
  std::set<std::string> uploaded;
  for (const auto& artifact : req.plugins()) {
    const std::string hash = ContentHash(artifact.content());
    bool named = false;
    for (const auto& ref : req.graph().plugins()) named = named || ref.hash() == hash;
    if (!named) {
      return absl::InvalidArgumentError(absl::StrCat("plugin ", artifact.name(), ": its content hash ", hash,
                                                     " is not one of the job graph's plugins"));
    }
    auto stored = store_->PutArtifact(artifact.content());
    if (!stored.ok()) return stored.status();
    uploaded.insert(hash);
  }
  for (const auto& ref : req.graph().plugins()) {
    if (uploaded.count(ref.hash()) > 0) continue;
    if (!store_->GetArtifact(ref.hash()).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("plugin ", ref.name(), " (", ref.hash(), ") was neither uploaded nor stored before"));
    }
  }
  return absl::OkStatus();
}

grpc::Status Coordinator::SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* req, v1::SubmitJobResponse* resp) {
  auto log = GetLogger("coordinator");
  // The client compiled the graph; nothing here runs the planner or user code.
  const v1::JobGraph& graph = req->graph();
  absl::Status valid = ValidateJobGraph(graph);
  if (valid.ok() && !graph.topology().checkpoint_dir().empty()) valid = CheckClusterCheckpointStorage(graph);
  int64_t savepoint_id = 0;
  if (valid.ok() && !req->from_savepoint().empty()) {
    // Checked whole now, so a bad savepoint is refused to the user rather than failing the job.
    absl::StatusOr<Savepoint> sp = ReadSavepoint(req->from_savepoint());
    valid = sp.ok() ? CheckSavepointFits(*sp, req->from_savepoint(), graph, req->allow_non_restored_state())
                    : sp.status();
    if (sp.ok()) savepoint_id = sp->descriptor.checkpoint_id();
  }
  if (valid.ok()) valid = StorePlugins(*req);
  if (!valid.ok()) {
    SLUICE_LOG_WARN(log, "refused a job: {}", std::string(valid.message()));
    return ToGrpc(valid);
  }
  v1::JobRecord rec;
  auto number = store_->NextJobNumber();
  if (!number.ok()) return ToGrpc(number.status());
  std::string name = graph.name().empty() ? "job" : graph.name();
  rec.set_job_id(absl::StrCat(name, "-", *number));
  *rec.mutable_graph() = graph;
  *rec.mutable_restart() = options_.default_restart;
  if (req->restart().has_max_attempts()) rec.mutable_restart()->set_max_attempts(req->restart().max_attempts());
  if (req->restart().has_delay_ms()) rec.mutable_restart()->set_delay_ms(req->restart().delay_ms());
  rec.set_state(v1::JOB_SCHEDULING);
  rec.set_submitted_ms(NowMs());
  if (!req->from_savepoint().empty()) {
    rec.set_from_savepoint(req->from_savepoint());
    rec.set_allow_non_restored_state(req->allow_non_restored_state());
    // The job's own checkpoints come after the savepoint's: tasks restored from it ignore
    // barriers of ids up to it.
    rec.set_next_checkpoint_id(savepoint_id + 1);
  }
  int tasks = 0;
  for (const auto& v : graph.vertices()) tasks += v.parallelism();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs_.count(rec.job_id()) > 0) {  // ids are never given twice; refuse rather than lose a job
      return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("job id ", rec.job_id(), " is taken"));
    }
    SLUICE_LOG_INFO(log, "accepted job {} ({} task(s), restart strategy: {} attempt(s), {} ms delay)", rec.job_id(),
                    tasks, rec.restart().max_attempts(), rec.restart().delay_ms());
    resp->set_job_id(rec.job_id());
    std::string id = rec.job_id();
    absl::Status persisted = store_->PutJob(rec);
    if (!persisted.ok()) return ToGrpc(persisted);
    jobs_.try_emplace(id, std::move(rec), store_.get(), MasterOptions());
    wake_.notify_all();
  }
  return grpc::Status::OK;
}

grpc::Status Coordinator::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*, v1::ListJobsResponse* resp) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, job] : jobs_) *resp->add_jobs() = job.Summary();
  return grpc::Status::OK;
}

grpc::Status Coordinator::DescribeJob(grpc::ServerContext*, const v1::DescribeJobRequest* req,
                                      v1::DescribeJobResponse* resp) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(req->job_id());
  if (it == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", req->job_id()));
  it->second.Describe(resp);
  return grpc::Status::OK;
}

grpc::Status Coordinator::CancelJob(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                                    v1::CancelJobResponse*) {
  std::vector<WorkerCall> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(req->job_id());
    if (it == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", req->job_id()));
    std::string who = absl::StrCat(req->requested_by().empty() ? "a client" : req->requested_by(), " from ",
                                   ctx->peer());
    absl::Status st = it->second.Cancel(who, members_, &calls);
    if (!st.ok()) return ToGrpc(st);
  }
  Execute(std::move(calls));
  return grpc::Status::OK;
}

grpc::Status Coordinator::TriggerSavepoint(grpc::ServerContext* ctx, const v1::TriggerSavepointRequest* req,
                                           v1::TriggerSavepointResponse* resp) {
  auto log = GetLogger("coordinator");
  const std::string who =
      absl::StrCat(req->requested_by().empty() ? "a client" : req->requested_by(), " from ", ctx->peer());
  if (!req->dir().empty()) {
    // A directory that cannot take it is refused before the job checkpoints for nothing.
    absl::StatusOr<std::unique_ptr<CheckpointStorage>> to = CheckpointStorage::Open(req->dir());
    absl::StatusOr<bool> empty = to.ok() ? (*to)->Empty() : absl::StatusOr<bool>(to.status());
    if (!empty.ok()) return ToGrpc(empty.status());
    if (!*empty) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("savepoint directory ", req->dir(), " is not empty: a savepoint is never "
                                       "overwritten"));
    }
  }
  std::string checkpoint_dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(req->job_id());
    if (it == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", req->job_id()));
    absl::Status st = it->second.RequestSavepoint(req->dir(), req->cancel(), who);
    if (!st.ok()) return ToGrpc(st);
    checkpoint_dir = it->second.record().graph().topology().checkpoint_dir();
    wake_.notify_all();
  }
  SLUICE_LOG_INFO(log, "job {}: savepoint{} asked by {}", req->job_id(), req->cancel() ? " and cancel" : "", who);
  // Wait for its checkpoint (the job master's ticks trigger it and collect the reports).
  CheckpointMetadata m;
  v1::JobRecord rec;
  std::unique_ptr<CheckpointStorage> from;
  std::string failure;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the coordinator is shutting down");
    auto it = jobs_.find(req->job_id());
    if (it == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", req->job_id()));
    const auto& sp = it->second.savepoint();
    if (!sp) return grpc::Status(grpc::StatusCode::ABORTED, "the savepoint was abandoned");
    if (!sp->failure.empty()) {
      failure = sp->failure;
      std::vector<WorkerCall> none;
      it->second.SavepointWritten(absl::AbortedError(failure), "", members_, &none);
      break;
    }
    if (sp->ready) {
      m = sp->metadata;
      rec = it->second.record();
      auto opened = CheckpointStorage::Open(JoinStorageLocation(checkpoint_dir, req->job_id()));
      if (!opened.ok()) return ToGrpc(opened.status());
      from = std::move(*opened);
      break;
    }
  }
  if (!failure.empty()) {  // logged by SavepointWritten
    return grpc::Status(grpc::StatusCode::ABORTED, absl::StrCat("savepoint of job ", req->job_id(), " failed: ", failure));
  }
  // Copied without the lock: the job goes on meanwhile (or waits to be cancelled).
  const std::string dir =
      req->dir().empty() ? JoinStorageLocation(checkpoint_dir, absl::StrCat("savepoints/", req->job_id(), "-", m.id))
                         : req->dir();
  absl::StatusOr<v1::SavepointDescriptor> written = WriteSavepoint(*from, m, rec, dir);
  std::vector<WorkerCall> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(req->job_id());
    if (it != jobs_.end()) it->second.SavepointWritten(written.status(), dir, members_, &calls);
  }
  Execute(std::move(calls));
  if (!written.ok()) {
    return ToGrpc(absl::Status(written.status().code(), absl::StrCat("savepoint of job ", req->job_id(),
                                                                     " failed: ", written.status().message())));
  }
  resp->set_location(dir);
  resp->set_checkpoint_id(m.id);
  resp->set_size_bytes(m.TotalSize());
  return grpc::Status::OK;
}

grpc::Status Coordinator::ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                                      v1::ListWorkersResponse* resp) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int> used = UsedSlots();
  auto now = Clock::now();
  for (const auto& [id, w] : members_.workers()) {
    auto* wi = resp->add_workers();
    wi->set_worker_id(id);
    wi->set_address(w.address);
    wi->set_hostname(w.hostname);
    wi->set_pid(w.pid);
    wi->set_slots(w.slots);
    wi->set_used_slots(used[id]);
    wi->set_alive(w.alive);
    wi->set_last_heartbeat_ms(std::chrono::duration_cast<std::chrono::milliseconds>(now - w.last_heartbeat).count());
  }
  return grpc::Status::OK;
}

grpc::Status Coordinator::ReportCheckpoint(grpc::ServerContext*, const v1::ReportCheckpointRequest* req,
                                           v1::ReportCheckpointResponse*) {
  std::vector<WorkerCall> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(req->job_id());
    if (it == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such job: " + req->job_id());
    it->second.OnCheckpointReport(*req, Clock::now(), members_, &calls);
  }
  Execute(std::move(calls));
  return grpc::Status::OK;
}

grpc::Status Coordinator::FetchArtifact(grpc::ServerContext*, const v1::FetchArtifactRequest* req,
                                        v1::FetchArtifactResponse* resp) {
  auto content = store_->GetArtifact(req->hash());
  if (!content.ok()) return ToGrpc(content.status());
  resp->set_content(std::move(*content));
  return grpc::Status::OK;
}

}  // namespace sluice::coordinator
