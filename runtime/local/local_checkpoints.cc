#include "runtime/local/local_checkpoints.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace sluice::runtime {
namespace {

std::vector<TaskKey> AllTasks(const JobPlan& plan) {
  std::vector<TaskKey> out;
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    for (int s = 0; s < plan.vertices[v].parallelism; ++s) out.emplace_back(static_cast<int>(v), s);
  }
  return out;
}

}  // namespace

absl::StatusOr<RestorePoint> FindRestorePoint(const JobPlan& plan, CheckpointStorage& storage,
                                              bool allow_non_restored_state) {
  auto log = GetLogger("checkpoint");
  RestorePoint rp;
  ASSIGN_OR_RETURN(std::vector<int64_t> ids, storage.ListCompleted());
  std::vector<std::string> damaged;
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    auto meta = storage.ReadMetadata(*it);
    if (!meta.ok()) {
      SLUICE_LOG_WARN(log, "checkpoint {} cannot be used: {}", *it, std::string(meta.status().message()));
      damaged.emplace_back(meta.status().message());
      continue;
    }
    if (rp.id != 0) {
      rp.completed.insert(rp.completed.begin(), *meta);
      continue;
    }
    bool ok = true;
    std::vector<OldTaskState> states;
    for (const TaskStateHandle& h : meta->tasks) {
      absl::StatusOr<ChainCheckpoint> cp = [&]() -> absl::StatusOr<ChainCheckpoint> {
        ASSIGN_OR_RETURN(std::string bytes, storage.ReadTaskState(h));
        return DecodeChainCheckpoint(bytes, absl::StrCat(storage.location(), "/", h.path));
      }();
      if (!cp.ok()) {
        SLUICE_LOG_WARN(log, "checkpoint {} cannot be used: {}; trying the one before", *it,
                        std::string(cp.status().message()));
        damaged.emplace_back(cp.status().message());
        ok = false;
        break;
      }
      states.push_back({h.vertex, h.subtask, std::make_shared<const ChainCheckpoint>(std::move(*cp))});
    }
    if (!ok) continue;
    absl::StatusOr<std::map<TaskKey, TaskRestore>> matched =
        MatchRestore(plan, *it, states, allow_non_restored_state,
                     std::shared_ptr<const CheckpointStorage>(&storage, [](const CheckpointStorage*) {}));
    if (!matched.ok()) {
      return absl::Status(matched.status().code(),
                          absl::StrCat(matched.status().message(), " (in ", storage.location(), ")"));
    }
    rp.id = *it;
    rp.tasks = std::move(*matched);
    rp.completed.insert(rp.completed.begin(), *meta);
  }
  if (rp.id == 0 && !damaged.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no usable checkpoint in ", storage.location(), ": ", absl::StrJoin(damaged, "; "),
        ". Move the directory away to start the job from the beginning"));
  }
  return rp;
}

LocalCheckpoints::LocalCheckpoints(const JobPlan& plan, std::unique_ptr<CheckpointStorage> storage,
                                   std::vector<CheckpointMetadata> completed)
    : plan_(plan),
      storage_(std::move(storage)),
      coordinator_(plan.checkpoint, storage_.get(), AllTasks(plan), std::move(completed), NowMs()) {}

LocalCheckpoints::~LocalCheckpoints() { Stop(); }

int64_t LocalCheckpoints::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void LocalCheckpoints::Start(JobShared* job, std::vector<Task*> tasks) {
  job_ = job;
  tasks_ = std::move(tasks);
  writer_ = std::make_unique<AsyncCheckpointWriter>(
      storage_.get(),
      [this](int64_t id, TaskKey task, TaskAck ack) {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto done = coordinator_.Acknowledge(id, task, std::move(ack), NowMs())) Completed(*done);
      },
      [this](int64_t id, TaskKey task, const absl::Status& why) {
        std::lock_guard<std::mutex> lock(mu_);
        coordinator_.Decline(id, absl::StrCat("task ", task.first, "-", task.second, ": ", why.message()), NowMs());
        cv_.notify_all();
      });
  thread_ = std::thread([this] { Loop(); });
}

void LocalCheckpoints::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
    coordinator_.AbortPending("the job ended before it completed", NowMs());
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  writer_.reset();
}

std::vector<CheckpointStats> LocalCheckpoints::history() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {coordinator_.history().begin(), coordinator_.history().end()};
}

void LocalCheckpoints::Loop() {
  auto log = GetLogger("checkpoint");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const int64_t now = NowMs();
    coordinator_.Tick(now);
    if (absl::Status health = coordinator_.health(); !health.ok()) {
      lock.unlock();
      job_->Fail(health);
      return;
    }
    if (int64_t id = coordinator_.MaybeTrigger(now); id != 0) {
      SLUICE_LOG_DEBUG(log, "triggering checkpoint {}", id);
      for (Task* t : tasks_) {
        if (t->is_source()) t->TriggerCheckpoint(id);
      }
    }
    int64_t next = coordinator_.NextTriggerMs();
    int64_t wait = std::clamp<int64_t>(next - NowMs(), 1, 100);
    cv_.wait_for(lock, std::chrono::milliseconds(wait));
  }
}

void LocalCheckpoints::Completed(const CheckpointMetadata& m) {
  auto log = GetLogger("checkpoint");
  const CheckpointStats& s = coordinator_.history().back();
  SLUICE_LOG_INFO(log,
                  "checkpoint {} complete in {} ms: {} bytes ({} written), task pause max {:.2f} ms, alignment max "
                  "{:.2f} ms",
                  m.id, s.end_ms - s.trigger_ms, m.TotalSize(), m.WrittenSize(), s.max_sync_ns / 1e6,
                  s.max_align_ns / 1e6);
  for (Task* t : tasks_) t->CheckpointComplete(m.id);
  cv_.notify_all();
}

void LocalCheckpoints::Snapshotted(Task& task, ChainCheckpoint state, int64_t sync_ns, int64_t align_ns) {
  writer_->Submit({task.vertex(), task.subtask()}, std::move(state), sync_ns, align_ns);
}

void LocalCheckpoints::Declined(Task& task, int64_t id, const absl::Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  coordinator_.Decline(id, std::string(why.message()), NowMs());
  cv_.notify_all();
}

void LocalCheckpoints::SourceEnded(Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  coordinator_.SourceEnded({task.vertex(), task.subtask()});
  cv_.notify_all();
}

void LocalCheckpoints::Finished(Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto done = coordinator_.TaskFinished({task.vertex(), task.subtask()}, NowMs())) Completed(*done);
}

}  // namespace sluice::runtime
