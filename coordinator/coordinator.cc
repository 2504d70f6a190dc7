#include "coordinator/coordinator.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_util.h"
#include "common/log.h"
#include "coordinator/scheduler.h"
#include "operators/builtins.h"
#include "runtime/plan/job_plan.h"
#include "runtime/plugin/plugin_loader.h"

namespace sluice::coordinator {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Terminal(v1::JobState s) { return s == v1::JOB_FINISHED || s == v1::JOB_FAILED || s == v1::JOB_CANCELLED; }

std::string AttemptKey(const std::string& job_id, int64_t attempt) { return absl::StrCat(job_id, "/", attempt); }

bool AllEnded(const v1::WorkerJobStatus& s) {
  for (const auto& t : s.tasks()) {
    if (t.state() < v1::TASK_FINISHED) return false;
  }
  return true;
}

// Adds one worker's figures for an operator to a running sum.
void AddMetrics(const v1::NodeMetricsProto& n, v1::NodeMetricsProto* m) {
  m->set_records_in(m->records_in() + n.records_in());
  m->set_records_out(m->records_out() + n.records_out());
  m->set_filtered(m->filtered() + n.filtered());
  m->set_backpressure_ns(m->backpressure_ns() + n.backpressure_ns());
  for (const auto& [k, v] : n.dead_letters()) (*m->mutable_dead_letters())[k] += v;
  for (const auto& [k, v] : n.counters()) (*m->mutable_counters())[k] += v;
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
    for (auto& rec : *jobs) {
      JobEntry& job = jobs_[rec.job_id()];
      job.rec = std::move(rec);
      job.rec.clear_pending_reason();  // waiting for slots starts anew
      if (job.rec.state() == v1::JOB_RUNNING) {
        job.recovering = true;
        job.recover_deadline = Clock::now() + std::chrono::milliseconds(options_.heartbeat_timeout_ms);
        ++recovering;
      } else if (job.rec.state() == v1::JOB_RESTARTING) {
        job.restart_at = Clock::now();
      }
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

void Coordinator::Persist(const JobEntry& job) {
  absl::Status st = store_->PutJob(job.rec);
  if (!st.ok()) SLUICE_LOG_ERROR(GetLogger("coordinator"), "{}", std::string(st.message()));
}

std::map<std::string, int> Coordinator::UsedSlots() const {
  // Slot sharing: a job uses one slot per distinct subtask index on a worker.
  std::map<std::string, std::set<std::pair<std::string, int>>> slots;
  for (const auto& [id, job] : jobs_) {
    if (job.rec.state() != v1::JOB_RUNNING) continue;
    for (const auto& p : job.rec.placement()) slots[p.worker_id()].insert({id, p.subtask()});
  }
  std::map<std::string, int> used;
  for (const auto& [worker, s] : slots) used[worker] = static_cast<int>(s.size());
  return used;
}

void Coordinator::QueueCancels(const JobEntry& job, std::vector<Action>* actions) {
  std::set<std::string> seen;
  for (const auto& p : job.rec.placement()) {
    if (!seen.insert(p.worker_id()).second) continue;
    auto it = workers_.find(p.worker_id());
    if (it == workers_.end() || !it->second.alive) continue;
    Action a;
    a.stub = it->second.stub;
    a.worker_id = p.worker_id();
    a.job_id = job.rec.job_id();
    a.attempt = job.rec.attempt();
    actions->push_back(std::move(a));
  }
}

void Coordinator::Failover(JobEntry& job, const std::string& reason, std::vector<Action>* actions) {
  auto log = GetLogger("coordinator");
  QueueCancels(job, actions);
  RecordFinal(job);
  job.status.clear();
  job.rates.clear();
  job.recovering = false;
  job.rec.set_error(reason);
  const v1::RestartStrategy& rs = job.rec.restart();
  if (job.rec.restarts() < rs.max_attempts()) {
    job.rec.set_restarts(job.rec.restarts() + 1);
    job.rec.set_state(v1::JOB_RESTARTING);
    job.restart_at = Clock::now() + std::chrono::milliseconds(rs.delay_ms());
    SLUICE_LOG_WARN(log, "job {} attempt {} failed over: {}; restart {}/{} from the beginning in {} ms",
                    job.rec.job_id(), job.rec.attempt(), reason, job.rec.restarts(), rs.max_attempts(),
                    rs.delay_ms());
  } else {
    job.rec.set_state(v1::JOB_FAILED);
    job.rec.set_ended_ms(NowMs());
    SLUICE_LOG_ERROR(log, "job {} failed after {} restart(s): {}", job.rec.job_id(), job.rec.restarts(), reason);
  }
  Persist(job);
  wake_.notify_all();
}

void Coordinator::RecordFinal(JobEntry& job) {
  if (job.status.empty()) return;  // nothing reported for this attempt: keep what was
  std::map<int, v1::NodeMetricsProto> sum;
  job.rec.clear_final_tasks();
  job.rec.clear_final_task_workers();
  for (const auto& [wid, s] : job.status) {
    for (const auto& n : s.nodes()) {
      v1::NodeMetricsProto& m = sum[n.node()];
      m.set_node(n.node());
      AddMetrics(n, &m);
    }
    for (const auto& t : s.tasks()) {
      v1::TaskStatus* ft = job.rec.add_final_tasks();
      *ft = t;
      // The coordinator ends the attempt: what still ran is being cancelled.
      if (ft->state() < v1::TASK_FINISHED) ft->set_state(v1::TASK_CANCELLED);
      job.rec.add_final_task_workers(wid);
    }
  }
  job.rec.clear_final_metrics();
  for (auto& [n, m] : sum) *job.rec.add_final_metrics() = m;
}

std::string Coordinator::SilentWorkers(const JobEntry& job) const {
  std::set<std::string> seen;
  std::string out;
  auto now = Clock::now();
  for (const auto& p : job.rec.placement()) {
    if (!seen.insert(p.worker_id()).second) continue;
    auto it = workers_.find(p.worker_id());
    if (it == workers_.end()) continue;
    auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.last_heartbeat).count();
    if (!it->second.alive || silent > 2 * options_.heartbeat_interval_ms) {
      absl::StrAppend(&out, out.empty() ? "" : "; ", "worker ", p.worker_id(),
                      it->second.alive ? "" : " is lost and", " has not sent a heartbeat for ", silent, " ms");
    }
  }
  return out;
}

bool Coordinator::TryPlace(JobEntry& job, std::vector<Action>* actions) {
  auto log = GetLogger("coordinator");
  std::map<std::string, int> used = UsedSlots();
  std::vector<FreeSlots> free;
  for (auto& [id, w] : workers_) {
    if (w.alive) free.push_back({id, w.address, std::max(0, w.slots - used[id])});
  }
  std::vector<int> parallelism(job.rec.vertex_parallelism().begin(), job.rec.vertex_parallelism().end());
  absl::StatusOr<std::vector<Placement>> placement = PlaceTasks(parallelism, free);
  if (!placement.ok()) {
    auto now = Clock::now();
    if (job.rec.pending_reason().empty()) {
      job.waiting_since = now;
      SLUICE_LOG_INFO(log, "job {} waits for slots: {}", job.rec.job_id(), std::string(placement.status().message()));
    }
    job.rec.set_pending_reason(absl::StrCat("waiting for slots: ", placement.status().message()));
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - job.waiting_since).count();
    if (placement.status().code() != absl::StatusCode::kResourceExhausted || waited > options_.slot_timeout_ms) {
      // Give up with the reason rather than wait forever.
      job.rec.set_state(v1::JOB_FAILED);
      job.rec.set_ended_ms(NowMs());
      job.rec.set_error(absl::StrCat("no slots after ", waited / 1000, " s (", job.rec.pending_reason(), ")"));
      job.rec.clear_pending_reason();
      SLUICE_LOG_ERROR(log, "job {} failed: {}", job.rec.job_id(), job.rec.error());
      Persist(job);
    }
    return false;
  }
  job.rec.clear_pending_reason();
  job.rec.clear_placement();
  for (const Placement& pl : *placement) {
    auto* p = job.rec.add_placement();
    p->set_vertex(pl.vertex);
    p->set_subtask(pl.subtask);
    p->set_worker_id(pl.worker_id);
    p->set_address(pl.address);
  }
  job.rec.set_attempt(job.rec.attempt() + 1);
  job.rec.set_state(v1::JOB_RUNNING);
  job.rec.set_started_ms(NowMs());
  job.status.clear();
  job.rates.clear();
  Persist(job);
  std::set<std::string> targets;
  for (const auto& p : job.rec.placement()) targets.insert(p.worker_id());
  SLUICE_LOG_INFO(log, "deploying job {} attempt {}: {} task(s) on {}", job.rec.job_id(), job.rec.attempt(),
                  job.rec.num_tasks(), absl::StrJoin(targets, ", "));
  for (const std::string& wid : targets) {
    Action a;
    a.deploy = true;
    a.stub = workers_[wid].stub;
    a.worker_id = wid;
    a.job_id = job.rec.job_id();
    a.attempt = job.rec.attempt();
    a.request.set_job_id(job.rec.job_id());
    a.request.set_attempt(job.rec.attempt());
    *a.request.mutable_topology() = job.rec.topology();
    *a.request.mutable_plugins() = job.rec.plugins();
    *a.request.mutable_placement() = job.rec.placement();
    a.request.set_worker_id(wid);
    actions->push_back(std::move(a));
  }
  return true;
}

void Coordinator::CheckJob(JobEntry& job, std::vector<Action>* actions) {
  if (job.rec.state() != v1::JOB_RUNNING) return;
  int finished = 0;
  for (const auto& [wid, s] : job.status) {
    for (const auto& t : s.tasks()) {
      if (t.state() == v1::TASK_FAILED) {
        std::string reason = absl::StrCat("task ", job.rec.vertex_names(t.vertex()), "#", t.subtask(), " on ", wid,
                                          " failed: ", t.error());
        // A broken exchange is the symptom; a silent worker is the likely cause.
        std::string silent = SilentWorkers(job);
        if (!silent.empty()) reason = absl::StrCat(silent, " (likely the cause); ", reason);
        Failover(job, reason, actions);
        return;
      }
      if (t.state() == v1::TASK_FINISHED) ++finished;
    }
  }
  if (finished < job.rec.num_tasks()) return;
  // Every task finished: keep the final states and metrics.
  RecordFinal(job);
  job.rec.set_state(v1::JOB_FINISHED);
  job.rec.set_ended_ms(NowMs());
  SLUICE_LOG_INFO(GetLogger("coordinator"), "job {} finished (attempt {}, {} ms after deploy)", job.rec.job_id(),
                  job.rec.attempt(), job.rec.ended_ms() - job.rec.started_ms());
  Persist(job);
}

void Coordinator::SchedulerLoop() {
  auto log = GetLogger("coordinator");
  while (true) {
    std::vector<Action> actions;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      if (shutdown_) return;
      auto now = Clock::now();
      for (auto& [id, w] : workers_) {
        if (!w.alive || now - w.last_heartbeat <= std::chrono::milliseconds(options_.heartbeat_timeout_ms)) continue;
        w.alive = false;
        SLUICE_LOG_WARN(log, "worker {} ({}) lost: no heartbeat for {} ms", id, w.address,
                        options_.heartbeat_timeout_ms);
        for (auto& [jid, job] : jobs_) {
          if (job.rec.state() != v1::JOB_RUNNING) continue;
          for (const auto& p : job.rec.placement()) {
            if (p.worker_id() == id) {
              Failover(job, absl::StrCat("worker ", id, " lost: no heartbeat for ", options_.heartbeat_timeout_ms,
                                         " ms"),
                       &actions);
              break;
            }
          }
        }
      }
      for (auto& [jid, job] : jobs_) {
        if (job.rec.state() == v1::JOB_RUNNING && job.recovering) {
          bool all_back = true;
          for (const auto& p : job.rec.placement()) {
            auto it = workers_.find(p.worker_id());
            all_back &= it != workers_.end() && it->second.alive && job.status.count(p.worker_id()) > 0;
          }
          if (all_back) {
            job.recovering = false;
            SLUICE_LOG_INFO(log, "job {} attempt {} re-adopted after the coordinator restart", jid,
                            job.rec.attempt());
            CheckJob(job, &actions);
          } else if (now > job.recover_deadline) {
            Failover(job, "its workers did not report its tasks after the coordinator restarted", &actions);
          }
        }
        if (job.rec.state() == v1::JOB_RESTARTING && now >= job.restart_at) job.rec.set_state(v1::JOB_SCHEDULING);
        if (job.rec.state() == v1::JOB_SCHEDULING) TryPlace(job, &actions);
      }
    }
    Execute(std::move(actions));
  }
}

void Coordinator::Execute(std::vector<Action> actions) {
  auto log = GetLogger("coordinator");
  for (Action& a : actions) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(a.deploy ? 60 : 10));
    grpc::Status st;
    if (a.deploy) {
      v1::DeployTasksResponse resp;
      st = a.stub->DeployTasks(&ctx, a.request, &resp);
    } else {
      v1::CancelTasksRequest req;
      req.set_job_id(a.job_id);
      req.set_attempt(a.attempt);
      v1::CancelTasksResponse resp;
      st = a.stub->CancelTasks(&ctx, req, &resp);
    }
    if (st.ok()) continue;
    std::vector<Action> more;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (st.error_code() == grpc::StatusCode::UNAVAILABLE) {
        // Unreachable: treat it as lost now rather than place a restart on it again.
        auto w = workers_.find(a.worker_id);
        if (w != workers_.end() && w->second.alive) {
          w->second.alive = false;
          SLUICE_LOG_WARN(log, "worker {} ({}) lost: unreachable ({})", a.worker_id, w->second.address,
                          st.error_message());
        }
      }
      if (!a.deploy) {
        SLUICE_LOG_WARN(log, "cancelling job {} attempt {} on {}: {}", a.job_id, a.attempt, a.worker_id,
                        st.error_message());
        continue;
      }
      auto it = jobs_.find(a.job_id);
      if (it != jobs_.end() && it->second.rec.attempt() == a.attempt && it->second.rec.state() == v1::JOB_RUNNING) {
        Failover(it->second, absl::StrCat("deploying to worker ", a.worker_id, " failed: ", st.error_message()),
                 &more);
      }
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
  std::vector<Action> actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto existing = workers_.find(req->worker_id());
    if (existing != workers_.end() && existing->second.alive && existing->second.address != req->address()) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("worker id ", req->worker_id(), " is already registered from ",
                                       existing->second.address, "; give each worker its own --id"));
    }
    WorkerEntry& w = workers_[req->worker_id()];
    w.id = req->worker_id();
    w.address = req->address();
    w.hostname = req->hostname();
    w.pid = req->pid();
    w.slots = req->slots();
    w.alive = true;
    w.last_heartbeat = Clock::now();
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    w.stub = v1::Worker::NewStub(grpc::CreateCustomChannel(w.address, grpc::InsecureChannelCredentials(), args));
    std::map<std::string, const v1::WorkerJobStatus*> reported;
    for (const auto& s : req->jobs()) {
      reported[AttemptKey(s.job_id(), s.attempt())] = &s;
      auto jit = jobs_.find(s.job_id());
      bool current = jit != jobs_.end() && jit->second.rec.attempt() == s.attempt() &&
                     jit->second.rec.state() == v1::JOB_RUNNING;
      if (!current && !AllEnded(s)) {
        SLUICE_LOG_WARN(log, "worker {} still runs job {} attempt {}, which is stale; telling it to stop",
                        req->worker_id(), s.job_id(), s.attempt());
        resp->add_cancel_job_attempts(AttemptKey(s.job_id(), s.attempt()));
      }
    }
    for (auto& [jid, job] : jobs_) {
      if (job.rec.state() != v1::JOB_RUNNING) continue;
      bool placed_here = false;
      for (const auto& p : job.rec.placement()) placed_here |= p.worker_id() == w.id;
      if (!placed_here) continue;
      auto it = reported.find(AttemptKey(jid, job.rec.attempt()));
      if (it == reported.end()) {
        Failover(job, absl::StrCat("worker ", w.id, " registered again without the job's tasks (it restarted)"),
                 &actions);
      } else {
        job.status[w.id] = *it->second;
        CheckJob(job, &actions);
      }
    }
    SLUICE_LOG_INFO(log, "worker {} registered: {} (pid {}), {} slots, {} job attempt(s) running", w.id, w.address,
                    w.pid, w.slots, req->jobs_size());
    resp->set_worker_id(w.id);
    resp->set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
    wake_.notify_all();
  }
  Execute(std::move(actions));
  return grpc::Status::OK;
}

grpc::Status Coordinator::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                                    v1::HeartbeatResponse* resp) {
  std::vector<Action> actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto wit = workers_.find(req->worker_id());
    if (wit == workers_.end() || !wit->second.alive) {
      resp->set_unknown_worker(true);
      return grpc::Status::OK;
    }
    auto now = Clock::now();
    wit->second.last_heartbeat = now;
    for (const auto& s : req->jobs()) {
      auto jit = jobs_.find(s.job_id());
      if (jit == jobs_.end() || jit->second.rec.attempt() != s.attempt() ||
          jit->second.rec.state() != v1::JOB_RUNNING) {
        if (!AllEnded(s)) resp->add_cancel_job_attempts(AttemptKey(s.job_id(), s.attempt()));
        continue;
      }
      JobEntry& job = jit->second;
      job.status[req->worker_id()] = s;
      Rate& r = job.rates[req->worker_id()];
      double dt = std::chrono::duration<double>(now - r.at).count();
      for (const auto& n : s.nodes()) {
        auto prev = r.totals.find(n.node());
        if (prev != r.totals.end() && dt > 0.05) {
          r.rates[n.node()] = {(n.records_in() - prev->second.first) / dt, (n.records_out() - prev->second.second) / dt};
        }
      }
      if (dt > 0.05 || r.totals.empty()) {
        r.at = now;
        for (const auto& n : s.nodes()) r.totals[n.node()] = {n.records_in(), n.records_out()};
      }
      CheckJob(job, &actions);
    }
  }
  Execute(std::move(actions));
  return grpc::Status::OK;
}

grpc::Status Coordinator::SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest* req, v1::SubmitJobResponse* resp) {
  auto log = GetLogger("coordinator");
  JobEntry job;
  // Store the plugins and load them, so the plan is validated with their operators.
  OperatorRegistry registry;
  absl::Status st = operators::RegisterBuiltinOperators(registry);
  if (!st.ok()) return ToGrpc(st);
  {
    std::lock_guard<std::mutex> lock(plugin_mu_);
    for (const auto& artifact : req->plugins()) {
      auto hash = store_->PutArtifact(artifact.content());
      if (!hash.ok()) return ToGrpc(hash.status());
      std::filesystem::path dir = std::filesystem::path(options_.data_dir) / "plugins";
      std::filesystem::path path = dir / absl::StrCat(*hash, ".so");
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (!std::filesystem::exists(path, ec)) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(artifact.content().data(), static_cast<std::streamsize>(artifact.content().size()));
        if (!out) return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("cannot write ", path.string()));
      }
      absl::Status ls = runtime::LoadPlugin(path.string(), &registry);
      if (!ls.ok()) {
        std::string msg = absl::StrCat("plugin ", artifact.name(), ": ", ls.message());
        SLUICE_LOG_WARN(log, "refused a job: {}", msg);
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
      }
      auto* ref = job.rec.add_plugins();
      ref->set_name(artifact.name());
      ref->set_hash(*hash);
    }
  }
  if (!req->topology().checkpoint_dir().empty()) {
    // Each worker would checkpoint to its own disk, and a task failed over to another
    // worker would not find its checkpoint: refuse rather than half-work.
    const std::string msg =
        "checkpoint: local checkpoints run with `sluice run` or `sluice ingest` on one machine; checkpoints on "
        "a cluster are not built yet";
    SLUICE_LOG_WARN(log, "refused a job: {}", msg);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
  }
  auto plan = runtime::BuildJobPlan(req->topology(), registry, /*plan_only=*/true);
  if (!plan.ok()) {
    SLUICE_LOG_WARN(log, "refused a job: {}", std::string(plan.status().message()));
    return ToGrpc(plan.status());
  }
  auto number = store_->NextJobNumber();
  if (!number.ok()) return ToGrpc(number.status());
  std::string name = plan->name.empty() ? "job" : plan->name;
  job.rec.set_job_id(absl::StrCat(name, "-", *number));
  *job.rec.mutable_topology() = req->topology();
  *job.rec.mutable_restart() = req->has_restart() ? req->restart() : options_.default_restart;
  job.rec.set_state(v1::JOB_SCHEDULING);
  job.rec.set_submitted_ms(NowMs());
  int tasks = 0;
  for (const auto& v : plan->vertices) {
    job.rec.add_vertex_parallelism(v.parallelism);
    job.rec.add_vertex_names(v.name);
    tasks += v.parallelism;
  }
  job.rec.set_num_tasks(tasks);
  for (const auto& n : plan->nodes) {
    auto* ni = job.rec.add_nodes();
    ni->set_id(n.id);
    ni->set_type(n.type);
    ni->set_parallelism(n.parallelism);
  }
  job.rec.set_plan(plan->Describe());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs_.count(job.rec.job_id()) > 0) {  // ids are never given twice; refuse rather than lose a job
      return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("job id ", job.rec.job_id(), " is taken"));
    }
    Persist(job);
    SLUICE_LOG_INFO(log, "accepted job {} ({} task(s), restart strategy: {} attempt(s), {} ms delay)",
                    job.rec.job_id(), tasks, job.rec.restart().max_attempts(), job.rec.restart().delay_ms());
    resp->set_job_id(job.rec.job_id());
    jobs_.emplace(job.rec.job_id(), std::move(job));
    wake_.notify_all();
  }
  return grpc::Status::OK;
}

v1::JobSummaryProto Coordinator::Summary(const JobEntry& job) const {
  v1::JobSummaryProto s;
  s.set_job_id(job.rec.job_id());
  s.set_name(job.rec.topology().name());
  s.set_state(job.rec.state());
  s.set_attempt(job.rec.attempt());
  s.set_restarts(job.rec.restarts());
  s.set_submitted_ms(job.rec.submitted_ms());
  s.set_ended_ms(job.rec.ended_ms());
  s.set_num_tasks(job.rec.num_tasks());
  s.set_error(job.rec.error());
  s.set_pending_reason(job.rec.pending_reason());
  return s;
}

grpc::Status Coordinator::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*, v1::ListJobsResponse* resp) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, job] : jobs_) *resp->add_jobs() = Summary(job);
  return grpc::Status::OK;
}

grpc::Status Coordinator::DescribeJob(grpc::ServerContext*, const v1::DescribeJobRequest* req,
                                      v1::DescribeJobResponse* resp) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(req->job_id());
  if (it == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", req->job_id()));
  const JobEntry& job = it->second;
  *resp->mutable_job() = Summary(job);
  resp->set_plan(job.rec.plan());
  // Tasks with their latest state (once the job ended, as the last attempt left them).
  std::map<std::pair<int, int>, const v1::TaskStatus*> states;
  const bool ended = Terminal(job.rec.state());
  if (ended) {
    for (const auto& t : job.rec.final_tasks()) states[{t.vertex(), t.subtask()}] = &t;
  } else {
    for (const auto& [wid, s] : job.status) {
      for (const auto& t : s.tasks()) states[{t.vertex(), t.subtask()}] = &t;
    }
  }
  for (const auto& p : job.rec.placement()) {
    auto* t = resp->add_tasks();
    t->set_vertex(p.vertex());
    t->set_subtask(p.subtask());
    t->set_name(absl::StrCat(job.rec.vertex_names(p.vertex()), "#", p.subtask()));
    t->set_worker_id(p.worker_id());
    auto s = states.find({p.vertex(), p.subtask()});
    t->set_state(s != states.end() ? s->second->state() : v1::TASK_SCHEDULED);
    if (s != states.end()) {
      t->set_error(s->second->error());
      *t->mutable_metrics() = *s->second;
    }
  }
  // Per operator: summed over workers (final figures once the job ended).
  std::map<int, v1::NodeMetricsProto> sum;
  std::map<int, std::pair<double, double>> rates;
  double elapsed = 0;
  int64_t bytes = 0;
  if (ended) {
    for (const auto& m : job.rec.final_metrics()) sum[m.node()] = m;
  }
  for (const auto& [wid, s] : job.status) {
    elapsed = std::max(elapsed, s.elapsed_s());
    bytes += s.exchange_bytes_out();
    if (ended) continue;
    for (const auto& n : s.nodes()) {
      AddMetrics(n, &sum[n.node()]);
    }
  }
  for (const auto& [wid, r] : job.rates) {
    for (const auto& [n, rr] : r.rates) {
      rates[n].first += rr.first;
      rates[n].second += rr.second;
    }
  }
  for (int i = 0; i < job.rec.nodes_size(); ++i) {
    auto* ns = resp->add_nodes();
    ns->set_id(job.rec.nodes(i).id());
    ns->set_type(job.rec.nodes(i).type());
    ns->set_parallelism(job.rec.nodes(i).parallelism());
    *ns->mutable_metrics() = sum[i];
    ns->mutable_metrics()->set_node(i);
    if (job.rec.state() == v1::JOB_RUNNING) {
      ns->set_rate_in(rates[i].first);
      ns->set_rate_out(rates[i].second);
    }
  }
  if (job.rec.state() == v1::JOB_FINISHED || job.rec.state() == v1::JOB_RUNNING) {
    resp->set_elapsed_s(elapsed);
  }
  resp->set_exchange_bytes(bytes);
  return grpc::Status::OK;
}

grpc::Status Coordinator::CancelJob(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                                    v1::CancelJobResponse*) {
  std::vector<Action> actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(req->job_id());
    if (it == jobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job ", req->job_id()));
    JobEntry& job = it->second;
    if (Terminal(job.rec.state())) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("job ", req->job_id(), " already ended (", v1::JobState_Name(job.rec.state()),
                                       ")"));
    }
    QueueCancels(job, &actions);
    RecordFinal(job);
    std::string who = req->requested_by().empty() ? "a client" : req->requested_by();
    job.rec.set_state(v1::JOB_CANCELLED);
    job.rec.set_ended_ms(NowMs());
    job.rec.set_error(absl::StrCat("cancelled by ", who, " from ", ctx->peer(), " (attempt ", job.rec.attempt(),
                                   ")"));
    job.status.clear();
    Persist(job);
    SLUICE_LOG_INFO(GetLogger("coordinator"), "job {} {}", req->job_id(), job.rec.error());
  }
  Execute(std::move(actions));
  return grpc::Status::OK;
}

grpc::Status Coordinator::ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                                      v1::ListWorkersResponse* resp) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int> used = UsedSlots();
  auto now = Clock::now();
  for (const auto& [id, w] : workers_) {
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

grpc::Status Coordinator::FetchArtifact(grpc::ServerContext*, const v1::FetchArtifactRequest* req,
                                        v1::FetchArtifactResponse* resp) {
  auto content = store_->GetArtifact(req->hash());
  if (!content.ok()) return ToGrpc(content.status());
  resp->set_content(std::move(*content));
  return grpc::Status::OK;
}

}  // namespace sluice::coordinator
