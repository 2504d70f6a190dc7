#include "common/checkpoint_coordinator.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace sluice {

CheckpointConfig MakeCheckpointConfig(int64_t interval_ms, int64_t timeout_ms, int64_t min_pause_ms,
                                      int tolerable_failures, int retain) {
  CheckpointConfig c;
  if (interval_ms > 0) c.interval_ms = interval_ms;
  if (timeout_ms > 0) c.timeout_ms = timeout_ms;
  c.min_pause_ms = std::max<int64_t>(0, min_pause_ms);
  c.tolerable_failures = std::max(0, tolerable_failures);
  if (retain > 0) c.retain = retain;
  return c;
}

const char* CheckpointStats::StateName(State s) {
  switch (s) {
    case State::kInProgress: return "in progress";
    case State::kCompleted: return "completed";
    case State::kFailed: return "failed";
  }
  return "?";
}

CheckpointCoordinator::CheckpointCoordinator(CheckpointConfig config, CheckpointStorage* storage,
                                             std::vector<TaskKey> tasks, std::vector<CheckpointMetadata> restored,
                                             int64_t start_ms)
    : config_(config),
      storage_(storage),
      tasks_(std::move(tasks)),
      retained_(std::move(restored)),
      last_trigger_ms_(start_ms),
      last_end_ms_(start_ms) {
  if (config_.retain < 1) config_.retain = 1;
  if (!retained_.empty()) next_id_ = retained_.back().id + 1;
}

int64_t CheckpointCoordinator::NextTriggerMs() const {
  if (pending_) return pending_->stats.trigger_ms + config_.timeout_ms;
  return std::max(last_trigger_ms_ + config_.interval_ms, last_end_ms_ + config_.min_pause_ms);
}

void CheckpointCoordinator::SourceEnded(const TaskKey& task) {
  if (finished_.count(task) == 0) sources_waiting_.emplace(task, last_triggered_);
}

int64_t CheckpointCoordinator::MaybeTrigger(int64_t now_ms, bool now) {
  if (pending_) return 0;
  bool urgent = now;
  for (const auto& [task, seen] : sources_waiting_) urgent = urgent || seen == last_triggered_;
  if (!urgent && now_ms < NextTriggerMs()) return 0;
  Pending p;
  p.stats.id = next_id_++;
  p.stats.trigger_ms = now_ms;
  p.stats.trigger_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  for (const TaskKey& t : tasks_) {
    if (finished_.count(t) == 0) p.waiting.insert(t);
  }
  p.stats.expected = static_cast<int>(p.waiting.size());
  last_trigger_ms_ = now_ms;
  last_triggered_ = p.stats.id;
  p.forced = now;
  pending_ = std::move(p);
  Record(pending_->stats);
  return pending_->stats.id;
}

std::optional<CheckpointMetadata> CheckpointCoordinator::Acknowledge(int64_t id, const TaskKey& task,
                                                                                    TaskAck ack, int64_t now_ms) {
  if (!pending_ || pending_->stats.id != id || pending_->waiting.count(task) == 0) return std::nullopt;
  // A task writes its state where WriteTaskState puts it; anything else is refused rather
  // than recorded (a handle is later read and its files deleted by this path).
  const std::string expected = absl::StrCat("chk-", id, "/", task.first, "-", task.second, ".state");
  if (ack.state.path != expected || ack.state.size < 0) {
    Fail(absl::StrCat("task ", task.first, "-", task.second, " acknowledged with a malformed state handle ('",
                      ack.state.path, "', ", ack.state.size, " bytes; expected '", expected, "')"),
         now_ms);
    return std::nullopt;
  }
  for (const SharedFile& f : ack.state.shared) {
    if (f.path.compare(0, 7, "shared/") != 0 || f.path.find("..") != std::string::npos || f.size < 0) {
      Fail(absl::StrCat("task ", task.first, "-", task.second, " acknowledged with a malformed shared file ('",
                        f.path, "', ", f.size, " bytes)"),
           now_ms);
      return std::nullopt;
    }
  }
  pending_->waiting.erase(task);
  CheckpointStats& s = pending_->stats;
  ++s.acknowledged;
  s.size_bytes += ack.state.size;
  // Shared files count where they were uploaded: what later checkpoints reference is not
  // written again.
  const std::string uploaded = absl::StrCat("shared/", id, "-");
  for (const SharedFile& f : ack.state.shared) {
    if (f.path.compare(0, uploaded.size(), uploaded) == 0) s.size_bytes += f.size;
  }
  s.max_sync_ns = std::max(s.max_sync_ns, ack.sync_ns);
  s.max_align_ns = std::max(s.max_align_ns, ack.align_ns);
  s.max_async_ns = std::max(s.max_async_ns, ack.async_ns);
  ack.state.vertex = task.first;
  ack.state.subtask = task.second;
  pending_->handles.push_back(std::move(ack.state));
  return MaybeComplete(now_ms);
}

std::optional<CheckpointMetadata> CheckpointCoordinator::TaskFinished(const TaskKey& task,
                                                                                     int64_t now_ms) {
  finished_.insert(task);
  sources_waiting_.erase(task);
  if (!pending_ || pending_->waiting.erase(task) == 0) return std::nullopt;
  --pending_->stats.expected;
  return MaybeComplete(now_ms);
}

std::optional<CheckpointMetadata> CheckpointCoordinator::MaybeComplete(int64_t now_ms) {
  if (!pending_->waiting.empty()) return std::nullopt;
  CheckpointMetadata m;
  m.id = pending_->stats.id;
  m.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  m.tasks = std::move(pending_->handles);
  // Finished tasks keep the state they finished with.
  const CheckpointMetadata* last = retained_.empty() ? nullptr : &retained_.back();
  for (const TaskKey& t : tasks_) {
    if (m.Find(t.first, t.second) != nullptr) continue;
    const TaskStateHandle* h = last != nullptr ? last->Find(t.first, t.second) : nullptr;
    if (h != nullptr) m.tasks.push_back(*h);
  }
  std::sort(m.tasks.begin(), m.tasks.end(), [](const TaskStateHandle& a, const TaskStateHandle& b) {
    return std::make_pair(a.vertex, a.subtask) < std::make_pair(b.vertex, b.subtask);
  });
  if (absl::Status st = storage_->WriteMetadata(m); !st.ok()) {
    Fail(absl::StrCat("writing its metadata: ", st.message()), now_ms);
    return std::nullopt;
  }
  pending_->stats.state = CheckpointStats::State::kCompleted;
  pending_->stats.end_ms = now_ms;
  Record(pending_->stats);
  pending_.reset();
  last_end_ms_ = now_ms;
  failures_in_a_row_ = 0;
  ++num_completed_;
  retained_.push_back(m);
  Prune();
  return m;
}

void CheckpointCoordinator::Decline(int64_t id, const std::string& reason, int64_t now_ms) {
  if (!pending_ || pending_->stats.id != id) return;
  Fail(reason, now_ms);
}

void CheckpointCoordinator::Tick(int64_t now_ms) {
  if (pending_ && now_ms - pending_->stats.trigger_ms >= config_.timeout_ms) {
    Fail(absl::StrCat("timed out after ", config_.timeout_ms, " ms with ", pending_->waiting.size(), " of ",
                      pending_->stats.expected, " tasks missing"),
         now_ms);
  }
}

void CheckpointCoordinator::AbortPending(const std::string& reason, int64_t now_ms) {
  if (!pending_) return;
  // Not the checkpoint's fault: does not count against tolerable failures.
  int before = failures_in_a_row_;
  Fail(reason, now_ms);
  failures_in_a_row_ = before;
}

void CheckpointCoordinator::Fail(const std::string& reason, int64_t now_ms) {
  auto log = GetLogger("checkpoint");
  pending_->stats.state = CheckpointStats::State::kFailed;
  pending_->stats.end_ms = now_ms;
  pending_->stats.failure = reason;
  Record(pending_->stats);
  const int64_t id = pending_->stats.id;
  SLUICE_LOG_WARN(log, "checkpoint {} failed: {}", id, reason);
  const bool forced = pending_->forced;
  pending_.reset();
  last_end_ms_ = now_ms;
  // A savepoint that fails is the user's to retry: it does not bring the job closer to
  // failing over (Flink counts only periodic checkpoints too).
  if (!forced) ++failures_in_a_row_;
  ++num_failed_;
  last_failure_ = absl::StrCat("checkpoint ", id, ": ", reason);
  if (absl::Status st = storage_->Discard(id, retained_); !st.ok()) {
    SLUICE_LOG_WARN(log, "discarding failed checkpoint {}: {}", id, std::string(st.message()));
  }
}

void CheckpointCoordinator::Prune() {
  while (static_cast<int>(retained_.size()) > config_.retain) {
    int64_t id = retained_.front().id;
    retained_.erase(retained_.begin());
    if (absl::Status st = storage_->Discard(id, retained_); !st.ok()) {
      auto log = GetLogger("checkpoint");
      SLUICE_LOG_WARN(log, "discarding checkpoint {}: {}", id, std::string(st.message()));
    }
  }
}

void CheckpointCoordinator::Record(const CheckpointStats& stats) {
  if (!history_.empty() && history_.back().id == stats.id) {
    history_.back() = stats;
  } else {
    history_.push_back(stats);
  }
  while (history_.size() > 10) history_.pop_front();
}

absl::Status CheckpointCoordinator::health() const {
  if (failures_in_a_row_ > config_.tolerable_failures) {
    return absl::FailedPreconditionError(absl::StrCat(failures_in_a_row_, " checkpoints failed in a row (",
                                                      config_.tolerable_failures, " tolerated); last: ",
                                                      last_failure_));
  }
  return absl::OkStatus();
}

}  // namespace sluice
