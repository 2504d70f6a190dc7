#include "coordinator/job_master.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "coordinator/scheduler.h"

namespace sluice::coordinator {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Terminal(v1::JobState s) { return s == v1::JOB_FINISHED || s == v1::JOB_FAILED || s == v1::JOB_CANCELLED; }

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

JobMaster::JobMaster(v1::JobRecord rec, JobStore* store, JobMasterOptions options)
    : rec_(std::move(rec)), store_(store), options_(options) {}

bool JobMaster::ended() const { return Terminal(rec_.state()); }

void JobMaster::Persist() {
  if (store_ == nullptr) return;
  absl::Status st = store_->PutJob(rec_);
  if (!st.ok()) SLUICE_LOG_ERROR(GetLogger("coordinator"), "{}", std::string(st.message()));
}

void JobMaster::Recover(Clock::time_point now) {
  rec_.clear_pending_reason();  // waiting for slots starts anew
  if (!ended() && rec_.graph().vertices_size() == 0) {
    // Recorded by a coordinator that planned jobs itself (protocol 1): there is no graph
    // to deploy. Say so rather than schedule nothing.
    rec_.set_state(v1::JOB_FAILED);
    rec_.set_error("recorded by an older sluice coordinator, without a compiled job graph: submit it again");
    rec_.set_ended_ms(NowMs());
    Persist();
    return;
  }
  if (rec_.state() == v1::JOB_RUNNING) {
    recovering_ = true;
    recover_deadline_ = now + std::chrono::milliseconds(options_.heartbeat_timeout_ms);
  } else if (rec_.state() == v1::JOB_RESTARTING) {
    restart_at_ = now;
  }
}

void JobMaster::AddUsedSlots(std::map<std::string, int>* used) const {
  if (rec_.state() != v1::JOB_RUNNING) return;
  std::set<std::pair<std::string, int>> slots;
  for (const auto& p : rec_.placement()) {
    if (slots.insert({p.worker_id(), p.subtask()}).second) ++(*used)[p.worker_id()];
  }
}

void JobMaster::CallWorkers(WorkerCall::Kind kind, int64_t checkpoint_id, bool sources_only, const Membership& members,
                            std::vector<WorkerCall>* calls) const {
  std::set<std::string> seen;
  for (const auto& p : rec_.placement()) {
    if (sources_only &&
        (p.vertex() >= rec_.graph().vertices_size() || !rec_.graph().vertices(p.vertex()).is_source())) {
      continue;
    }
    if (!seen.insert(p.worker_id()).second) continue;
    const WorkerEntry* w = members.Find(p.worker_id());
    if (w == nullptr || !w->alive) continue;  // a lost worker fails the attempt over anyway
    WorkerCall c;
    c.kind = kind;
    c.stub = w->stub;
    c.worker_id = p.worker_id();
    c.job_id = rec_.job_id();
    c.attempt = rec_.attempt();
    c.checkpoint_id = checkpoint_id;
    calls->push_back(std::move(c));
  }
}

void JobMaster::QueueCancels(const Membership& members, std::vector<WorkerCall>* calls) const {
  CallWorkers(WorkerCall::Kind::kCancel, 0, /*sources_only=*/false, members, calls);
}

void JobMaster::Failover(const std::string& reason, const Membership& members, std::vector<WorkerCall>* calls) {
  auto log = GetLogger("coordinator");
  StopCheckpoints(absl::StrCat("the attempt failed: ", reason));
  QueueCancels(members, calls);
  RecordFinal();
  status_.clear();
  rates_.clear();
  recovering_ = false;
  rec_.set_error(reason);
  const v1::RestartStrategy& rs = rec_.restart();
  if (rec_.restarts() < rs.max_attempts()) {
    rec_.set_restarts(rec_.restarts() + 1);
    rec_.set_state(v1::JOB_RESTARTING);
    restart_at_ = Clock::now() + std::chrono::milliseconds(rs.delay_ms());
    SLUICE_LOG_WARN(log, "job {} attempt {} failed over: {}; restart {}/{} {} in {} ms", rec_.job_id(),
                    rec_.attempt(), reason, rec_.restarts(), rs.max_attempts(),
                    rec_.checkpoints_size() > 0
                        ? absl::StrCat("from checkpoint ", rec_.checkpoints(rec_.checkpoints_size() - 1).id())
                        : std::string("from the beginning"),
                    rs.delay_ms());
  } else {
    rec_.set_state(v1::JOB_FAILED);
    rec_.set_ended_ms(NowMs());
    SLUICE_LOG_ERROR(log, "job {} failed after {} restart(s): {}", rec_.job_id(), rec_.restarts(), reason);
  }
  Persist();
}

int64_t JobMaster::SourceRecords() const {
  std::set<int> heads;
  for (const auto& v : rec_.graph().vertices()) {
    if (v.is_source() && v.chain_size() > 0) heads.insert(v.chain(0));
  }
  int64_t n = 0;
  for (const auto& [wid, s] : status_) {
    for (const auto& m : s.nodes()) {
      if (heads.count(m.node()) > 0) n += m.records_out();
    }
  }
  return n;
}

void JobMaster::RecordFinal() {
  if (status_.empty()) return;  // nothing reported for this attempt: keep what was
  rec_.set_source_records_ended_attempts(rec_.source_records_ended_attempts() + SourceRecords());
  std::map<int, v1::NodeMetricsProto> sum;
  rec_.clear_final_tasks();
  rec_.clear_final_task_workers();
  for (const auto& [wid, s] : status_) {
    for (const auto& n : s.nodes()) {
      v1::NodeMetricsProto& m = sum[n.node()];
      m.set_node(n.node());
      AddMetrics(n, &m);
    }
    for (const auto& t : s.tasks()) {
      v1::TaskStatus* ft = rec_.add_final_tasks();
      *ft = t;
      // The coordinator ends the attempt: what still ran is being cancelled.
      if (ft->state() < v1::TASK_FINISHED) ft->set_state(v1::TASK_CANCELLED);
      rec_.add_final_task_workers(wid);
    }
  }
  rec_.clear_final_metrics();
  for (auto& [n, m] : sum) *rec_.add_final_metrics() = m;
}

std::string JobMaster::SilentWorkers(const Membership& members) const {
  std::set<std::string> seen;
  std::string out;
  auto now = Clock::now();
  for (const auto& p : rec_.placement()) {
    if (!seen.insert(p.worker_id()).second) continue;
    const WorkerEntry* w = members.Find(p.worker_id());
    if (w == nullptr) continue;
    auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(now - w->last_heartbeat).count();
    if (!w->alive || silent > 2 * options_.heartbeat_interval_ms) {
      absl::StrAppend(&out, out.empty() ? "" : "; ", "worker ", p.worker_id(), w->alive ? "" : " is lost and",
                      " has not sent a heartbeat for ", silent, " ms");
    }
  }
  return out;
}

void JobMaster::TryPlace(Clock::time_point now, const Membership& members, const std::map<std::string, int>& used,
                         std::vector<WorkerCall>* calls) {
  auto log = GetLogger("coordinator");
  std::vector<int> parallelism;
  for (const auto& v : rec_.graph().vertices()) parallelism.push_back(v.parallelism());
  absl::StatusOr<std::vector<Placement>> placement = PlaceTasks(parallelism, members.Free(used));
  if (!placement.ok()) {
    if (rec_.pending_reason().empty()) {
      waiting_since_ = now;
      SLUICE_LOG_INFO(log, "job {} waits for slots: {}", rec_.job_id(), std::string(placement.status().message()));
    }
    rec_.set_pending_reason(absl::StrCat("waiting for slots: ", placement.status().message()));
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - waiting_since_).count();
    if (placement.status().code() != absl::StatusCode::kResourceExhausted || waited > options_.slot_timeout_ms) {
      // Give up with the reason rather than wait forever.
      rec_.set_state(v1::JOB_FAILED);
      rec_.set_ended_ms(NowMs());
      rec_.set_error(absl::StrCat("no slots after ", waited / 1000, " s (", rec_.pending_reason(), ")"));
      rec_.clear_pending_reason();
      SLUICE_LOG_ERROR(log, "job {} failed: {}", rec_.job_id(), rec_.error());
      Persist();
    }
    return;
  }
  rec_.clear_pending_reason();
  std::optional<v1::CompletedCheckpointProto> restore;
  if (checkpointing()) {
    absl::StatusOr<std::optional<v1::CompletedCheckpointProto>> chosen = ChooseRestore();
    if (!chosen.ok()) {
      rec_.set_state(v1::JOB_FAILED);
      rec_.set_ended_ms(NowMs());
      rec_.set_error(std::string(chosen.status().message()));
      SLUICE_LOG_ERROR(log, "job {} failed: {}", rec_.job_id(), rec_.error());
      Persist();
      return;
    }
    restore = std::move(*chosen);
  }
  // Submitted from a savepoint and no checkpoint of its own yet: the savepoint, matched
  // by node id on the workers (its graph or parallelism may differ).
  const bool from_savepoint = !restore && !rec_.from_savepoint().empty();
  if (from_savepoint) {
    absl::StatusOr<v1::CompletedCheckpointProto> sp = SavepointToRestore();
    if (!sp.ok()) {
      rec_.set_state(v1::JOB_FAILED);
      rec_.set_ended_ms(NowMs());
      rec_.set_error(absl::StrCat("cannot restore savepoint: ", sp.status().message()));
      SLUICE_LOG_ERROR(log, "job {} failed: {}", rec_.job_id(), rec_.error());
      Persist();
      return;
    }
    restore = std::move(*sp);
  }
  rec_.set_restored_checkpoint(restore ? restore->id() : 0);
  rec_.clear_placement();
  for (const Placement& pl : *placement) {
    auto* p = rec_.add_placement();
    p->set_vertex(pl.vertex);
    p->set_subtask(pl.subtask);
    p->set_worker_id(pl.worker_id);
    p->set_address(pl.address);
  }
  rec_.set_attempt(rec_.attempt() + 1);
  rec_.set_state(v1::JOB_RUNNING);
  rec_.set_started_ms(NowMs());
  status_.clear();
  rates_.clear();
  Persist();
  std::set<std::string> targets;
  for (const auto& p : rec_.placement()) targets.insert(p.worker_id());
  SLUICE_LOG_INFO(log, "deploying job {} attempt {}: {} task(s) on {}{}", rec_.job_id(), rec_.attempt(),
                  NumTasks(), absl::StrJoin(targets, ", "),
                  restore ? absl::StrCat(", restoring ", from_savepoint ? "the savepoint in " : "checkpoint ",
                                         from_savepoint ? rec_.from_savepoint() : std::to_string(restore->id()))
                          : std::string());
  StartCheckpoints(now);
  for (const std::string& wid : targets) {
    WorkerCall c;
    c.kind = WorkerCall::Kind::kDeploy;
    c.stub = members.Find(wid)->stub;
    c.worker_id = wid;
    c.job_id = rec_.job_id();
    c.attempt = rec_.attempt();
    c.request.set_job_id(rec_.job_id());
    c.request.set_attempt(rec_.attempt());
    *c.request.mutable_graph() = rec_.graph();
    *c.request.mutable_placement() = rec_.placement();
    c.request.set_worker_id(wid);
    if (ckpt_storage_ != nullptr) c.request.set_checkpoint_storage(ckpt_storage_->location());
    if (restore) {
      c.request.set_restore_checkpoint_id(restore->id());
      *c.request.mutable_restore_state() = restore->tasks();
      if (from_savepoint) {
        c.request.set_restore_storage(rec_.from_savepoint());
        c.request.set_restore_by_node(true);
        c.request.set_allow_non_restored_state(rec_.allow_non_restored_state());
      }
    }
    calls->push_back(std::move(c));
  }
}

void JobMaster::Check(const Membership& members, std::vector<WorkerCall>* calls) {
  if (rec_.state() != v1::JOB_RUNNING) return;
  int finished = 0;
  for (const auto& [wid, s] : status_) {
    for (const auto& t : s.tasks()) {
      if (t.state() == v1::TASK_FAILED) {
        std::string reason = absl::StrCat("task ", VertexName(t.vertex()), "#", t.subtask(), " on ", wid,
                                          " failed: ", t.error());
        // A broken exchange is the symptom; a silent worker is the likely cause.
        std::string silent = SilentWorkers(members);
        if (!silent.empty()) reason = absl::StrCat(silent, " (likely the cause); ", reason);
        Failover(reason, members, calls);
        return;
      }
      if (t.state() == v1::TASK_FINISHED) ++finished;
    }
  }
  if (finished < NumTasks()) return;
  // Every task finished: keep the final states and metrics.
  StopCheckpoints("the job finished");
  RecordFinal();
  rec_.set_state(v1::JOB_FINISHED);
  rec_.set_ended_ms(NowMs());
  SLUICE_LOG_INFO(GetLogger("coordinator"), "job {} finished (attempt {}, {} ms after deploy)", rec_.job_id(),
                  rec_.attempt(), rec_.ended_ms() - rec_.started_ms());
  Persist();
}

void JobMaster::Tick(Clock::time_point now, const Membership& members, const std::map<std::string, int>& used,
                     std::vector<WorkerCall>* calls) {
  if (rec_.state() == v1::JOB_RUNNING && recovering_) {
    bool all_back = true;
    for (const auto& p : rec_.placement()) {
      all_back &= members.Alive(p.worker_id()) && status_.count(p.worker_id()) > 0;
    }
    if (all_back) {
      recovering_ = false;
      SLUICE_LOG_INFO(GetLogger("coordinator"), "job {} attempt {} re-adopted after the coordinator restart",
                      rec_.job_id(), rec_.attempt());
      Check(members, calls);
    } else if (now > recover_deadline_) {
      Failover("its workers did not report its tasks after the coordinator restarted", members, calls);
    }
  }
  if (rec_.state() == v1::JOB_RUNNING) CheckpointTick(now, members, calls);
  if (rec_.state() == v1::JOB_RESTARTING && now >= restart_at_) rec_.set_state(v1::JOB_SCHEDULING);
  if (rec_.state() == v1::JOB_SCHEDULING) TryPlace(now, members, used, calls);
}

void JobMaster::OnWorkerLost(const std::string& worker_id, const std::string& reason, const Membership& members,
                             std::vector<WorkerCall>* calls) {
  if (rec_.state() != v1::JOB_RUNNING) return;
  for (const auto& p : rec_.placement()) {
    if (p.worker_id() == worker_id) {
      Failover(reason, members, calls);
      return;
    }
  }
}

void JobMaster::OnWorkerRegistered(const std::string& worker_id, const v1::WorkerJobStatus* reported,
                                   const Membership& members, std::vector<WorkerCall>* calls) {
  if (rec_.state() != v1::JOB_RUNNING) return;
  bool placed_here = false;
  for (const auto& p : rec_.placement()) placed_here |= p.worker_id() == worker_id;
  if (!placed_here) return;
  if (reported == nullptr) {
    Failover(absl::StrCat("worker ", worker_id, " registered again without the job's tasks (it restarted)"), members,
             calls);
    return;
  }
  status_[worker_id] = *reported;
  Check(members, calls);
}

bool JobMaster::OnStatus(const std::string& worker_id, const v1::WorkerJobStatus& s, Clock::time_point now,
                         const Membership& members, std::vector<WorkerCall>* calls) {
  if (rec_.attempt() != s.attempt() || rec_.state() != v1::JOB_RUNNING) return false;
  status_[worker_id] = s;
  Rate& r = rates_[worker_id];
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
  for (const auto& t : s.tasks()) {
    if (t.state() == v1::TASK_FINISHED) TaskFinished(t.vertex(), t.subtask(), now, members, calls);
  }
  Check(members, calls);
  return true;
}

void JobMaster::OnDeployFailed(const std::string& worker_id, int64_t attempt, const std::string& error,
                               const Membership& members, std::vector<WorkerCall>* calls) {
  if (rec_.attempt() != attempt || rec_.state() != v1::JOB_RUNNING) return;
  Failover(absl::StrCat("deploying to worker ", worker_id, " failed: ", error), members, calls);
}

absl::Status JobMaster::Cancel(const std::string& who, const Membership& members, std::vector<WorkerCall>* calls) {
  if (ended()) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", rec_.job_id(), " already ended (", v1::JobState_Name(rec_.state()), ")"));
  }
  StopCheckpoints("the job was cancelled");
  QueueCancels(members, calls);
  RecordFinal();
  rec_.set_state(v1::JOB_CANCELLED);
  rec_.set_ended_ms(NowMs());
  rec_.set_error(absl::StrCat("cancelled by ", who, " (attempt ", rec_.attempt(), ")"));
  rec_.clear_pending_reason();
  status_.clear();
  Persist();
  SLUICE_LOG_INFO(GetLogger("coordinator"), "job {} {}", rec_.job_id(), rec_.error());
  return absl::OkStatus();
}

int JobMaster::NumTasks() const {
  int tasks = 0;
  for (const auto& v : rec_.graph().vertices()) tasks += v.parallelism();
  return tasks;
}

std::string JobMaster::VertexName(int vertex) const {
  if (vertex < 0 || vertex >= rec_.graph().vertices_size()) return absl::StrCat("vertex ", vertex);
  return rec_.graph().vertices(vertex).name();
}

v1::JobSummaryProto JobMaster::Summary() const {
  v1::JobSummaryProto s;
  s.set_job_id(rec_.job_id());
  s.set_name(rec_.graph().name());
  s.set_state(rec_.state());
  s.set_attempt(rec_.attempt());
  s.set_restarts(rec_.restarts());
  s.set_submitted_ms(rec_.submitted_ms());
  s.set_ended_ms(rec_.ended_ms());
  s.set_num_tasks(NumTasks());
  s.set_error(rec_.error());
  s.set_pending_reason(rec_.pending_reason());
  return s;
}

void JobMaster::Describe(v1::DescribeJobResponse* resp) const {
  *resp->mutable_job() = Summary();
  resp->set_plan(rec_.graph().description());
  // Tasks with their latest state (once the job ended, as the last attempt left them).
  std::map<std::pair<int, int>, const v1::TaskStatus*> states;
  const bool is_ended = ended();
  if (is_ended) {
    for (const auto& t : rec_.final_tasks()) states[{t.vertex(), t.subtask()}] = &t;
  } else {
    for (const auto& [wid, s] : status_) {
      for (const auto& t : s.tasks()) states[{t.vertex(), t.subtask()}] = &t;
    }
  }
  for (const auto& p : rec_.placement()) {
    auto* t = resp->add_tasks();
    t->set_vertex(p.vertex());
    t->set_subtask(p.subtask());
    t->set_name(absl::StrCat(VertexName(p.vertex()), "#", p.subtask()));
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
  if (is_ended) {
    for (const auto& m : rec_.final_metrics()) sum[m.node()] = m;
  }
  for (const auto& [wid, s] : status_) {
    elapsed = std::max(elapsed, s.elapsed_s());
    bytes += s.exchange_bytes_out();
    if (is_ended) continue;
    for (const auto& n : s.nodes()) AddMetrics(n, &sum[n.node()]);
  }
  for (const auto& [wid, r] : rates_) {
    for (const auto& [n, rr] : r.rates) {
      rates[n].first += rr.first;
      rates[n].second += rr.second;
    }
  }
  for (int i = 0; i < rec_.graph().nodes_size(); ++i) {
    const v1::GraphNode& node = rec_.graph().nodes(i);
    auto* ns = resp->add_nodes();
    ns->set_id(node.id());
    ns->set_type(node.type());
    ns->set_parallelism(node.parallelism());
    *ns->mutable_metrics() = sum[i];
    ns->mutable_metrics()->set_node(i);
    if (rec_.state() == v1::JOB_RUNNING) {
      ns->set_rate_in(rates[i].first);
      ns->set_rate_out(rates[i].second);
    }
  }
  if (rec_.state() == v1::JOB_FINISHED || rec_.state() == v1::JOB_RUNNING) resp->set_elapsed_s(elapsed);
  resp->set_exchange_bytes(bytes);
  *resp->mutable_checkpoints() = rec_.checkpoint_history();
  resp->set_restored_checkpoint(rec_.restored_checkpoint());
  *resp->mutable_savepoints() = rec_.savepoints();
  resp->set_from_savepoint(rec_.from_savepoint());
  resp->set_checkpoints_completed(rec_.checkpoints_completed());
  resp->set_checkpoints_failed(rec_.checkpoints_failed());
  resp->set_source_records_all_attempts(rec_.source_records_ended_attempts() + (is_ended ? 0 : SourceRecords()));
  if (checkpointing()) {
    resp->set_checkpoint_storage(JoinStorageLocation(rec_.graph().topology().checkpoint_dir(), rec_.job_id()));
  }
}

}  // namespace sluice::coordinator
