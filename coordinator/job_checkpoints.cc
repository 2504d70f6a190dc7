// The job master's checkpoints: one CheckpointCoordinator per running attempt, its
// triggers and notifications as WorkerCalls, completed checkpoints in the job's record.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "coordinator/job_master.h"
#include "coordinator/savepoints.h"

namespace sluice::coordinator {
namespace {

int64_t Ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

TaskStateHandle FromProto(const v1::TaskStateHandleProto& p) {
  TaskStateHandle h;
  h.vertex = p.vertex();
  h.subtask = p.subtask();
  h.path = p.path();
  h.size = p.size();
  h.hash = p.hash();
  for (const auto& f : p.shared()) h.shared.push_back(SharedFile{f.path(), f.size(), f.hash()});
  return h;
}

v1::TaskStateHandleProto ToProto(const TaskStateHandle& h) {
  v1::TaskStateHandleProto p;
  p.set_vertex(h.vertex);
  p.set_subtask(h.subtask);
  p.set_path(h.path);
  p.set_size(h.size);
  p.set_hash(h.hash);
  for (const SharedFile& f : h.shared) {
    auto* sf = p.add_shared();
    sf->set_path(f.path);
    sf->set_size(f.size);
    sf->set_hash(f.hash);
  }
  return p;
}

CheckpointMetadata FromProto(const v1::CompletedCheckpointProto& p) {
  CheckpointMetadata m;
  m.id = p.id();
  m.timestamp_ms = p.timestamp_ms();
  for (const auto& t : p.tasks()) m.tasks.push_back(FromProto(t));
  return m;
}

v1::CompletedCheckpointProto ToProto(const CheckpointMetadata& m) {
  v1::CompletedCheckpointProto p;
  p.set_id(m.id);
  p.set_timestamp_ms(m.timestamp_ms);
  for (const auto& t : m.tasks) *p.add_tasks() = ToProto(t);
  return p;
}

}  // namespace

absl::Status JobMaster::OpenCheckpointStorage() {
  if (ckpt_storage_ != nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(ckpt_storage_, CheckpointStorage::Open(JoinStorageLocation(
                                      rec_.graph().topology().checkpoint_dir(), rec_.job_id())));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::CompletedCheckpointProto>> JobMaster::ChooseRestore() {
  auto log = GetLogger("coordinator");
  RETURN_IF_ERROR(OpenCheckpointStorage());
  std::string damaged;
  while (rec_.checkpoints_size() > 0) {
    const v1::CompletedCheckpointProto& cp = rec_.checkpoints(rec_.checkpoints_size() - 1);
    absl::Status whole;
    for (const auto& h : cp.tasks()) {
      whole = ckpt_storage_->ReadTaskState(FromProto(h)).status();
      if (!whole.ok()) break;
    }
    if (whole.ok()) return cp;
    SLUICE_LOG_WARN(log, "job {}: checkpoint {} cannot be restored: {}; trying the one before", rec_.job_id(), cp.id(),
                    std::string(whole.message()));
    absl::StrAppend(&damaged, damaged.empty() ? "" : "; ", "checkpoint ", cp.id(), ": ", whole.message());
    rec_.mutable_checkpoints()->RemoveLast();
  }
  if (!damaged.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no usable checkpoint to restore (", damaged, "); restarting from the beginning would repeat "
                     "output the sinks already committed"));
  }
  return std::nullopt;
}

absl::StatusOr<v1::CompletedCheckpointProto> JobMaster::SavepointToRestore() const {
  ASSIGN_OR_RETURN(Savepoint sp, ReadSavepoint(rec_.from_savepoint()));
  return ToProto(sp.metadata);
}

void JobMaster::StartCheckpoints(Clock::time_point now) {
  if (!checkpointing() || ckpt_ != nullptr) return;
  if (absl::Status st = OpenCheckpointStorage(); !st.ok()) {
    SLUICE_LOG_ERROR(GetLogger("coordinator"), "job {}: checkpoints are off: {}", rec_.job_id(),
                     std::string(st.message()));
    return;
  }
  const v1::Topology& t = rec_.graph().topology();
  CheckpointConfig config =
      MakeCheckpointConfig(t.checkpoint_interval_ms(), t.checkpoint_timeout_ms(), t.checkpoint_min_pause_ms(),
                           t.checkpoint_tolerable_failures(), t.checkpoint_retain());
  std::vector<TaskKey> tasks;
  for (int v = 0; v < rec_.graph().vertices_size(); ++v) {
    for (int s = 0; s < rec_.graph().vertices(v).parallelism(); ++s) tasks.emplace_back(v, s);
  }
  std::vector<CheckpointMetadata> retained;
  for (const auto& cp : rec_.checkpoints()) retained.push_back(FromProto(cp));
  ckpt_ = std::make_unique<CheckpointCoordinator>(config, ckpt_storage_.get(), std::move(tasks), std::move(retained),
                                                  Ms(now));
  ckpt_->SkipIdsBelow(rec_.next_checkpoint_id());
  ckpt_completed_seen_ = 0;
  ckpt_failed_seen_ = 0;
}

void JobMaster::StopCheckpoints(const std::string& reason) {
  if (savepoint_ && !savepoint_->ready && savepoint_->failure.empty()) {
    savepoint_->failure = absl::StrCat("the savepoint's checkpoint did not complete: ", reason);
  }
  if (ckpt_ == nullptr) return;
  ckpt_->AbortPending(reason, Ms(Clock::now()));
  SaveCheckpointStats();
  ckpt_.reset();
}

bool JobMaster::SaveCheckpointStats() {
  if (ckpt_ == nullptr) return false;
  bool changed = false;
  for (const CheckpointStats& s : ckpt_->history()) {
    v1::CheckpointStatsProto p;
    p.set_id(s.id);
    p.set_state(CheckpointStats::StateName(s.state));
    p.set_attempt(rec_.attempt());
    p.set_trigger_unix_ms(s.trigger_unix_ms);
    p.set_duration_ms(s.end_ms > 0 ? s.end_ms - s.trigger_ms : 0);
    p.set_size_bytes(s.size_bytes);
    p.set_max_sync_us(s.max_sync_ns / 1000);
    p.set_max_align_us(s.max_align_ns / 1000);
    p.set_max_async_us(s.max_async_ns / 1000);
    p.set_acknowledged(s.acknowledged);
    p.set_expected(s.expected);
    p.set_failure(s.failure);
    auto* history = rec_.mutable_checkpoint_history();
    auto it = std::find_if(history->begin(), history->end(), [&](const v1::CheckpointStatsProto& h) {
      return h.id() == s.id && h.attempt() == rec_.attempt();
    });
    if (it == history->end()) {
      *history->Add() = std::move(p);
      changed = true;
    } else if (it->SerializeAsString() != p.SerializeAsString()) {
      *it = std::move(p);
      changed = true;
    }
  }
  auto* history = rec_.mutable_checkpoint_history();
  if (history->size() > 10) history->DeleteSubrange(0, history->size() - 10);
  rec_.set_checkpoints_completed(rec_.checkpoints_completed() + ckpt_->num_completed() - ckpt_completed_seen_);
  rec_.set_checkpoints_failed(rec_.checkpoints_failed() + ckpt_->num_failed() - ckpt_failed_seen_);
  ckpt_completed_seen_ = ckpt_->num_completed();
  ckpt_failed_seen_ = ckpt_->num_failed();
  return changed;
}

void JobMaster::CheckpointTick(Clock::time_point now, const Membership& members, std::vector<WorkerCall>* calls) {
  if (!checkpointing() || rec_.state() != v1::JOB_RUNNING || recovering_) return;
  StartCheckpoints(now);  // after a coordinator restart re-adopted the attempt
  if (ckpt_ == nullptr) return;
  ckpt_->Tick(Ms(now));
  if (SaveCheckpointStats()) Persist();
  if (absl::Status health = ckpt_->health(); !health.ok()) {
    Failover(std::string(health.message()), members, calls);
    return;
  }
  if (savepoint_) {
    // Only the savepoint's checkpoint, and none while it is being copied.
    if (savepoint_->ready || !savepoint_->failure.empty()) return;
    if (savepoint_->id != 0) {
      if (ckpt_->pending_id() != savepoint_->id) {  // it failed (CheckpointCompleted marks success)
        savepoint_->failure = "its checkpoint failed";
        for (const CheckpointStats& st : ckpt_->history()) {
          if (st.id == savepoint_->id && !st.failure.empty()) {
            savepoint_->failure = absl::StrCat("its checkpoint ", st.id, " failed: ", st.failure);
          }
        }
      }
      return;
    }
  }
  const int64_t id = ckpt_->MaybeTrigger(Ms(now), /*now=*/savepoint_.has_value());
  if (id == 0) return;
  if (savepoint_) {
    savepoint_->id = id;
    SLUICE_LOG_INFO(GetLogger("coordinator"), "job {}: savepoint asked by {}: checkpoint {} triggered", rec_.job_id(),
                    savepoint_->who, id);
  }
  rec_.set_next_checkpoint_id(ckpt_->next_id());
  Persist();
  CallWorkers(WorkerCall::Kind::kTrigger, id, /*sources_only=*/true, members, calls);
}

void JobMaster::CheckpointCompleted(const CheckpointMetadata& m, const Membership& members,
                                    std::vector<WorkerCall>* calls) {
  // Durable in the job store before any task commits what it covers.
  rec_.clear_checkpoints();
  for (const CheckpointMetadata& kept : ckpt_->retained()) *rec_.add_checkpoints() = ToProto(kept);
  if (savepoint_ && savepoint_->id == m.id) {
    savepoint_->ready = true;
    savepoint_->metadata = m;
  }
  SaveCheckpointStats();
  Persist();
  const CheckpointStats& s = ckpt_->history().back();
  SLUICE_LOG_INFO(GetLogger("coordinator"),
                  "job {} checkpoint {} complete in {} ms: {} bytes ({} written), task pause max {:.2f} ms, "
                  "alignment max {:.2f} ms",
                  rec_.job_id(), m.id, s.end_ms - s.trigger_ms, m.TotalSize(), m.WrittenSize(), s.max_sync_ns / 1e6,
                  s.max_align_ns / 1e6);
  CallWorkers(WorkerCall::Kind::kNotify, m.id, /*sources_only=*/false, members, calls);
}

void JobMaster::TaskFinished(int vertex, int subtask, Clock::time_point now, const Membership& members,
                             std::vector<WorkerCall>* calls) {
  if (ckpt_ == nullptr) return;
  if (auto done = ckpt_->TaskFinished({vertex, subtask}, Ms(now))) CheckpointCompleted(*done, members, calls);
}

void JobMaster::OnCheckpointReport(const v1::ReportCheckpointRequest& req, Clock::time_point now,
                                   const Membership& members, std::vector<WorkerCall>* calls) {
  if (rec_.state() != v1::JOB_RUNNING || req.attempt() != rec_.attempt() || ckpt_ == nullptr) return;
  if (req.vertex() < 0 || req.vertex() >= rec_.graph().vertices_size() || req.subtask() < 0 ||
      req.subtask() >= rec_.graph().vertices(req.vertex()).parallelism()) {
    SLUICE_LOG_WARN(GetLogger("coordinator"), "job {}: a checkpoint report from {} names task {}#{}, which it lacks",
                    rec_.job_id(), req.worker_id(), req.vertex(), req.subtask());
    return;
  }
  const TaskKey key{req.vertex(), req.subtask()};
  switch (req.kind()) {
    case v1::ReportCheckpointRequest::ACK: {
      TaskAck ack;
      ack.state = FromProto(req.state());
      ack.sync_ns = req.sync_ns();
      ack.align_ns = req.align_ns();
      ack.async_ns = req.async_ns();
      if (auto done = ckpt_->Acknowledge(req.checkpoint_id(), key, std::move(ack), Ms(now))) {
        CheckpointCompleted(*done, members, calls);
      }
      break;
    }
    case v1::ReportCheckpointRequest::DECLINE:
      ckpt_->Decline(req.checkpoint_id(),
                     absl::StrCat("task ", VertexName(req.vertex()), "#", req.subtask(), ": ", req.reason()),
                     Ms(now));
      break;
    case v1::ReportCheckpointRequest::SOURCE_ENDED:
      ckpt_->SourceEnded(key);
      break;
    case v1::ReportCheckpointRequest::FINISHED:
      TaskFinished(req.vertex(), req.subtask(), now, members, calls);
      break;
    default:
      break;
  }
}

absl::Status JobMaster::RequestSavepoint(std::string dir, bool cancel, std::string who) {
  if (rec_.state() != v1::JOB_RUNNING || recovering_) {
    return absl::FailedPreconditionError(absl::StrCat("job ", rec_.job_id(), " is ",
                                                      v1::JobState_Name(rec_.state()),
                                                      recovering_ ? " (being re-adopted)" : "",
                                                      ": a savepoint needs a running job"));
  }
  if (!checkpointing()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", rec_.job_id(), " takes no checkpoints: a savepoint is a checkpoint copied out, so the topology needs "
        "`checkpoint: {dir: ...}`"));
  }
  if (savepoint_) {
    return absl::FailedPreconditionError(absl::StrCat("a savepoint of job ", rec_.job_id(), " asked by ",
                                                      savepoint_->who, " is underway"));
  }
  SavepointRequest r;
  r.dir = std::move(dir);
  r.cancel = cancel;
  r.who = std::move(who);
  savepoint_ = std::move(r);
  return absl::OkStatus();
}

void JobMaster::SavepointWritten(const absl::Status& written, const std::string& location,
                                 const Membership& members, std::vector<WorkerCall>* calls) {
  if (!savepoint_) return;
  SavepointRequest r = std::move(*savepoint_);
  savepoint_.reset();
  auto log = GetLogger("coordinator");
  if (!written.ok()) {
    SLUICE_LOG_WARN(log, "job {}: savepoint failed: {}", rec_.job_id(), std::string(written.message()));
    return;
  }
  rec_.add_savepoints(absl::StrCat(r.id, " ", location));
  if (rec_.savepoints_size() > 10) rec_.mutable_savepoints()->DeleteSubrange(0, rec_.savepoints_size() - 10);
  Persist();
  SLUICE_LOG_INFO(log, "job {}: savepoint of checkpoint {} written to {}", rec_.job_id(), r.id, location);
  if (r.cancel && !ended()) {
    absl::Status st = Cancel(absl::StrCat(r.who, ", after a savepoint to ", location), members, calls);
    if (!st.ok()) SLUICE_LOG_WARN(log, "job {}: {}", rec_.job_id(), std::string(st.message()));
  }
}

}  // namespace sluice::coordinator
