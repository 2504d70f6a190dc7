#include "runtime/worker/worker_job.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "runtime/plan/job_graph.h"
#include "runtime/task/task_restore.h"

namespace sluice::runtime {

std::shared_ptr<grpc::Channel> PeerChannels::Get(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& ch = channels_[address];
  if (ch == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    ch = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return ch;
}

std::string PerWorkerPath(const std::string& path, const std::string& tag) {
  if (path.empty() || path.find("://") != std::string::npos) return path;  // a topic is shared
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return absl::StrCat(path, ".", tag);
  return absl::StrCat(path.substr(0, dot), ".", tag, path.substr(dot));
}

absl::StatusOr<std::unique_ptr<WorkerJob>> WorkerJob::Create(const v1::DeployTasksRequest& request,
                                                             std::shared_ptr<const OperatorRegistry> registry,
                                                             ExchangeService* exchange, PeerChannels* peers,
                                                             WorkerCheckpoints::ReportFn report) {
  std::unique_ptr<WorkerJob> job(new WorkerJob());
  job->job_id_ = request.job_id();
  job->attempt_ = request.attempt();
  job->exchange_ = exchange;
  job->registry_ = std::move(registry);
  ASSIGN_OR_RETURN(JobPlan plan, BuildJobPlan(request.graph().topology(), *job->registry_));
  RETURN_IF_ERROR(CheckPlanMatchesGraph(plan, request.graph()));
  job->plan_ = std::make_unique<JobPlan>(std::move(plan));
  const JobPlan& p = *job->plan_;
  std::string run_id = absl::StrCat(job->job_id_, "-", job->attempt_);
  for (char& c : run_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  job->shared_ = std::make_unique<JobShared>(job->plan_.get(), std::move(run_id), job->job_id_, job->attempt_);
  if (!request.checkpoint_storage().empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStorage> storage, CheckpointStorage::Open(request.checkpoint_storage()));
    job->checkpoints_ = std::make_unique<WorkerCheckpoints>(std::move(storage), std::move(report),
                                                            request.worker_id(), job->job_id_, job->attempt_);
    job->shared_->set_checkpoint_listener(job->checkpoints_.get());
  }
  std::string tag = request.worker_id();
  for (char& c : tag) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '-';
  }
  RETURN_IF_ERROR(job->shared_->dead_letters().Open(PerWorkerPath(p.dead_letter_path, tag), *job->registry_));

  // Where every task runs.
  std::vector<std::vector<const v1::TaskPlacement*>> where(p.vertices.size());
  for (size_t v = 0; v < p.vertices.size(); ++v) where[v].resize(p.vertices[v].parallelism, nullptr);
  for (const auto& pl : request.placement()) {
    if (pl.vertex() < 0 || pl.vertex() >= static_cast<int>(p.vertices.size()) || pl.subtask() < 0 ||
        pl.subtask() >= p.vertices[pl.vertex()].parallelism) {
      return absl::InvalidArgumentError(absl::StrCat("placement names task ", pl.vertex(), "#", pl.subtask(),
                                                     ", which the plan does not have"));
    }
    where[pl.vertex()][pl.subtask()] = &pl;
  }
  std::map<TaskKey, TaskRestore> restore;
  if (request.restore_checkpoint_id() > 0) {
    ASSIGN_OR_RETURN(restore, job->ReadRestore(request));
  }
  std::vector<std::vector<Task*>> local(p.vertices.size());
  std::map<Task*, LocalTask*> local_task;
  for (size_t v = 0; v < p.vertices.size(); ++v) {
    local[v].resize(p.vertices[v].parallelism, nullptr);
    for (int s = 0; s < p.vertices[v].parallelism; ++s) {
      if (where[v][s] == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("placement misses task ", v, "#", s));
      }
      if (where[v][s]->worker_id() != request.worker_id()) continue;
      auto lt = std::make_unique<LocalTask>();
      lt->vertex = static_cast<int>(v);
      lt->subtask = s;
      lt->task = std::make_unique<Task>(job->shared_.get(), static_cast<int>(v), s);
      RETURN_IF_ERROR(lt->task->Init(*job->registry_));
      if (request.restore_checkpoint_id() > 0) {
        auto r = restore.find({static_cast<int>(v), s});
        if (r == restore.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("checkpoint ", request.restore_checkpoint_id(), " has no state for task ", v, "#", s));
        }
        lt->task->SetRestoreState(std::move(r->second));
      }
      local[v][s] = lt->task.get();
      local_task[lt->task.get()] = lt.get();
      job->tasks_.push_back(std::move(lt));
    }
  }
  // Inputs: channel ports, and an inbox per task for remote senders.
  JobShared* shared = job->shared_.get();
  for (auto& lt : job->tasks_) {
    const Vertex& vx = p.vertices[lt->vertex];
    if (vx.is_source) continue;
    std::vector<int> ports = InputChannelPorts(p, lt->vertex);
    lt->task->SetInputChannels(ports);
    Inbox inbox;
    inbox.mailbox = lt->task->shared_mailbox();
    const PlanNode& head = p.nodes[vx.chain.front()];
    for (int port : ports) inbox.channel_schemas.push_back(p.nodes[head.inputs[port].from_node].output_schema);
    inbox.counters = lt->exchange;
    inbox.on_broken = [shared](absl::Status st) { shared->Fail(std::move(st)); };
    exchange->Register(job->job_id_, job->attempt_, lt->vertex, lt->subtask, std::move(inbox));
  }
  // Outputs: a mailbox when the receiver is here, a remote channel otherwise.
  for (size_t ei = 0; ei < p.edges.size(); ++ei) {
    const PlanEdge& e = p.edges[ei];
    for (int s = 0; s < p.vertices[e.from_vertex].parallelism; ++s) {
      Task* up = local[e.from_vertex][s];
      if (up == nullptr) continue;
      std::vector<OutTarget> targets;
      for (const ChannelTarget& ct : EdgeTargets(p, static_cast<int>(ei), s)) {
        if (Task* down = local[e.to_vertex][ct.subtask]) {
          targets.push_back({down->mailbox(), ct.channel});
          continue;
        }
        const v1::TaskPlacement* pl = where[e.to_vertex][ct.subtask];
        v1::ChannelHeader header;
        header.set_job_id(job->job_id_);
        header.set_attempt(job->attempt_);
        header.set_vertex(e.to_vertex);
        header.set_subtask(ct.subtask);
        header.set_channel(ct.channel);
        auto rc = std::make_unique<RemoteChannel>(peers->Get(pl->address()), std::move(header),
                                                  local_task[up]->exchange);
        targets.push_back({rc.get(), ct.channel});
        job->remote_.push_back(std::move(rc));
      }
      up->AddOutEdge(e, std::move(targets));
    }
  }
  for (auto& rc : job->remote_) {
    RemoteChannel* r = rc.get();
    shared->OnCancel([r] { r->Cancel(); });
  }
  return job;
}

absl::StatusOr<std::map<TaskKey, TaskRestore>> WorkerJob::ReadRestore(const v1::DeployTasksRequest& request) {
  // The job's own storage outlives its tasks; a savepoint's is kept by each TaskRestore.
  std::shared_ptr<const CheckpointStorage> storage;
  if (checkpoints_ != nullptr) storage.reset(&checkpoints_->storage(), [](const CheckpointStorage*) {});
  if (!request.restore_storage().empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStorage> other, CheckpointStorage::Open(request.restore_storage()));
    storage = std::move(other);
  }
  if (storage == nullptr) {
    return absl::InvalidArgumentError("a deployment restores a checkpoint but names no checkpoint storage");
  }
  // This worker's tasks; with restore_by_node, every task's state (it may hold any node).
  std::set<TaskKey> mine;
  for (const auto& pl : request.placement()) {
    if (pl.worker_id() == request.worker_id()) mine.insert({pl.vertex(), pl.subtask()});
  }
  std::vector<OldTaskState> old;
  for (const auto& h : request.restore_state()) {
    if (!request.restore_by_node() && mine.count({h.vertex(), h.subtask()}) == 0) continue;
    TaskStateHandle handle;
    handle.vertex = h.vertex();
    handle.subtask = h.subtask();
    handle.path = h.path();
    handle.size = h.size();
    handle.hash = h.hash();
    ASSIGN_OR_RETURN(std::string bytes, storage->ReadTaskState(handle));
    ASSIGN_OR_RETURN(ChainCheckpoint state,
                     DecodeChainCheckpoint(bytes, absl::StrCat(storage->location(), "/", h.path())));
    if (state.id > request.restore_checkpoint_id()) {
      return absl::DataLossError(absl::StrCat("checkpoint ", request.restore_checkpoint_id(), " names state ",
                                              h.path(), " of a later checkpoint ", state.id));
    }
    old.push_back({h.vertex(), h.subtask(), std::make_shared<const ChainCheckpoint>(std::move(state))});
  }
  return MatchRestore(*plan_, request.restore_checkpoint_id(), old, request.allow_non_restored_state(), storage);
}

void WorkerJob::TriggerCheckpoint(int64_t id) {
  for (auto& lt : tasks_) {
    if (lt->task->is_source()) lt->task->TriggerCheckpoint(id);
  }
}

void WorkerJob::NotifyCheckpointComplete(int64_t id) {
  for (auto& lt : tasks_) lt->task->CheckpointComplete(id);
}

WorkerJob::~WorkerJob() {
  Cancel();
  for (auto& lt : tasks_) {
    if (lt->thread.joinable()) lt->thread.join();
  }
  remote_.clear();
  if (exchange_ != nullptr) exchange_->Unregister(job_id_, attempt_);
  // Create may have failed before the shared part existed (e.g. the plan did not build).
  if (shared_ == nullptr) return;
  absl::Status st = shared_->dead_letters().Close();
  if (!st.ok()) SLUICE_LOG_WARN(GetLogger("worker"), "closing dead letters: {}", std::string(st.message()));
}

void WorkerJob::Start(std::function<void()> on_done) {
  on_done_ = std::move(on_done);
  auto log = GetLogger("worker");
  SLUICE_LOG_INFO(log, "job {} attempt {}: starting {} task(s)", job_id_, attempt_, tasks_.size());
  start_time_ = std::chrono::steady_clock::now();
  running_.store(static_cast<int>(tasks_.size()));
  started_ = true;
  if (tasks_.empty()) elapsed_ns_.store(0);
  for (auto& lt : tasks_) {
    lt->state.store(v1::TASK_RUNNING);
    LocalTask* t = lt.get();
    lt->thread = std::thread([this, t] {
      t->task->Run();
      int state = v1::TASK_FINISHED;
      if (shared_->cancelled()) state = shared_->status().ok() ? v1::TASK_CANCELLED : v1::TASK_FAILED;
      t->state.store(state);
      if (running_.fetch_sub(1) == 1) {
        elapsed_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - start_time_)
                              .count());
        absl::Status st = shared_->status();
        SLUICE_LOG_INFO(GetLogger("worker"), "job {} attempt {}: tasks ended{}{}", job_id_, attempt_,
                        st.ok() ? "" : ": ", std::string(st.message()));
        if (on_done_) on_done_();
      }
    });
  }
}

void WorkerJob::Cancel() {
  if (shared_) shared_->Cancel();
}

v1::WorkerJobStatus WorkerJob::Status() const {
  v1::WorkerJobStatus out;
  out.set_job_id(job_id_);
  out.set_attempt(attempt_);
  absl::Status st = shared_->status();
  int64_t bytes_in = 0, bytes_out = 0;
  for (const auto& lt : tasks_) {
    auto* ts = out.add_tasks();
    ts->set_vertex(lt->vertex);
    ts->set_subtask(lt->subtask);
    ts->set_state(static_cast<v1::TaskState>(lt->state.load()));
    if (ts->state() == v1::TASK_FAILED) ts->set_error(std::string(st.message()));
    const Task::Metrics& m = lt->task->metrics();
    ts->set_records_in(m.records_in.value());
    ts->set_records_out(m.records_out.value());
    ts->set_backpressure_ns(m.backpressure_ns.value());
    ts->set_bytes_in(lt->exchange->bytes_in.load());
    ts->set_bytes_out(lt->exchange->bytes_out.load());
    bytes_in += ts->bytes_in();
    bytes_out += ts->bytes_out();
  }
  // Metrics of the nodes this worker runs.
  std::vector<bool> here(plan_->nodes.size(), false);
  for (const auto& lt : tasks_) {
    for (int n : plan_->vertices[lt->vertex].chain) here[n] = true;
  }
  for (const PlanNode& n : plan_->nodes) {
    if (!here[n.index]) continue;
    NodeMetrics& m = shared_->metrics(n.index);
    auto* nm = out.add_nodes();
    nm->set_node(n.index);
    nm->set_records_in(m.records_in.value());
    nm->set_records_out(m.records_out.value());
    nm->set_filtered(m.filtered.value());
    nm->set_backpressure_ns(m.backpressure_ns.value());
    for (const auto& [k, v] : m.DeadLetters()) (*nm->mutable_dead_letters())[k] = v;
    for (const auto& [k, v] : m.Counters()) (*nm->mutable_counters())[k] = v;
  }
  out.set_exchange_bytes_out(bytes_out);
  out.set_exchange_bytes_in(bytes_in);
  int64_t ns = elapsed_ns_.load();
  if (ns < 0 && started_) {
    ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_time_).count();
  }
  out.set_elapsed_s(ns / 1e9);
  return out;
}

}  // namespace sluice::runtime
