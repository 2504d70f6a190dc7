// CheckpointCoordinator: the decisions of one job's checkpoints (Flink's
// CheckpointCoordinator), shared by `sluice run` (runtime/local) and the cluster's job
// master (coordinator/): when to trigger the next checkpoint, which tasks must
// acknowledge it, when it completes or fails, which completed checkpoints are kept.
//
//   trigger n ──every task acknowledged (its state handle)──> metadata written ──> COMPLETED
//       │                                                    (the caller then records it
//       ├──a task declined (could not snapshot or write)──> FAILED     and notifies tasks)
//       └──timeout passed─────────────────────────────────> FAILED
//
// At most one checkpoint is in flight; the next is triggered `interval` after the last
// one started, and no sooner than `min_pause` after the last one ended. More than
// `tolerable_failures` failed checkpoints in a row fail the job (health()). A task that
// has finished (after its last state was part of a completed checkpoint) takes no part
// in later checkpoints: its last state handle is carried into their metadata. The last
// `retain` completed checkpoints are kept; older ones and failed ones are discarded
// from storage, except files a retained checkpoint still references.
//
// No threads and no clock of its own: callers pass the time and hold a lock around it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/checkpoint_storage.h"

namespace sluice {

struct CheckpointConfig {
  int64_t interval_ms = 10000;
  int64_t timeout_ms = 600000;
  int64_t min_pause_ms = 0;
  int tolerable_failures = 0;
  int retain = 3;
};

// The settings as a topology gives them (0: the default), with defaults applied.
CheckpointConfig MakeCheckpointConfig(int64_t interval_ms, int64_t timeout_ms, int64_t min_pause_ms,
                                      int tolerable_failures, int retain);

// One task's acknowledgement of a checkpoint.
struct TaskAck {
  TaskStateHandle state;
  int64_t sync_ns = 0;   // the task thread's pause to capture its state
  int64_t align_ns = 0;  // from the first barrier to the last (inputs held)
  int64_t async_ns = 0;  // writing to storage, off the task thread
};

struct CheckpointStats {
  enum class State { kInProgress, kCompleted, kFailed };
  int64_t id = 0;
  State state = State::kInProgress;
  int64_t trigger_ms = 0;
  int64_t end_ms = 0;
  int64_t trigger_unix_ms = 0;  // wall clock
  int64_t size_bytes = 0;  // written by this checkpoint (incremental: not what it references)
  int64_t max_sync_ns = 0;
  int64_t max_align_ns = 0;
  int64_t max_async_ns = 0;
  int acknowledged = 0;
  int expected = 0;
  std::string failure;
  static const char* StateName(State s);
};

using TaskKey = std::pair<int, int>;  // (vertex, subtask)

class CheckpointCoordinator {
 public:
  // `tasks`: every task of the job. `restored`: the completed checkpoints found in
  // storage (ascending; the last one is the one the job restores), so ids continue after
  // them and retention counts them. `storage` is not owned. Times are milliseconds on any
  // steady clock; the first checkpoint comes an interval after `start_ms`.
  CheckpointCoordinator(CheckpointConfig config, CheckpointStorage* storage, std::vector<TaskKey> tasks,
                        std::vector<CheckpointMetadata> restored, int64_t start_ms);

  // The id of a checkpoint to trigger now, or 0 (one is in flight, or it is too early).
  // While a source that ended waits for a checkpoint to end with and none was triggered
  // since it ended, the interval and the minimum pause do not apply.
  // `now`: regardless of the interval and pause (a savepoint; its failure does not count
  // towards `tolerable_failures`).
  int64_t MaybeTrigger(int64_t now_ms, bool now = false);
  // Ids below `id` are never used (they were triggered by an earlier attempt of the job,
  // whose tasks may still write under them).
  void SkipIdsBelow(int64_t id) { next_id_ = std::max(next_id_, id); }
  int64_t next_id() const { return next_id_; }
  // A source task read all its input: it ends after a checkpoint triggered from now on
  // completes.
  void SourceEnded(const TaskKey& task);
  // When MaybeTrigger may next return an id (for a caller that sleeps until then).
  int64_t NextTriggerMs() const;

  // A task's acknowledgement. When it is the last one: writes the metadata, discards
  // what is no longer retained, and returns the completed checkpoint (the caller then
  // tells every task). nullopt while others are missing or for an unknown/stale id.
  std::optional<CheckpointMetadata> Acknowledge(int64_t id, const TaskKey& task, TaskAck ack,
                                                                int64_t now_ms);
  // A task could not take its part: the checkpoint fails with `reason`.
  void Decline(int64_t id, const std::string& reason, int64_t now_ms);
  // A task finished: it no longer takes part (see the header comment). May complete the
  // pending checkpoint, which is then returned as by Acknowledge.
  std::optional<CheckpointMetadata> TaskFinished(const TaskKey& task, int64_t now_ms);
  // Fails the pending checkpoint if its timeout passed.
  void Tick(int64_t now_ms);
  // Forgets the pending checkpoint (the job is failing over).
  void AbortPending(const std::string& reason, int64_t now_ms);

  // FAILED_PRECONDITION once more than `tolerable_failures` checkpoints failed in a row.
  absl::Status health() const;
  int64_t pending_id() const { return pending_ ? pending_->stats.id : 0; }
  int64_t last_completed_id() const { return retained_.empty() ? 0 : retained_.back().id; }
  // Completed checkpoints kept, oldest first.
  const std::vector<CheckpointMetadata>& retained() const { return retained_; }
  // The last few checkpoints, oldest first (for status).
  const std::deque<CheckpointStats>& history() const { return history_; }
  // Since this coordinator started.
  int64_t num_completed() const { return num_completed_; }
  int64_t num_failed() const { return num_failed_; }

 private:
  struct Pending {
    CheckpointStats stats;
    bool forced = false;  // triggered `now` (a savepoint)
    std::set<TaskKey> waiting;
    std::vector<TaskStateHandle> handles;
  };
  std::optional<CheckpointMetadata> MaybeComplete(int64_t now_ms);
  void Fail(const std::string& reason, int64_t now_ms);
  void Record(const CheckpointStats& stats);
  void Prune();

  CheckpointConfig config_;
  CheckpointStorage* storage_;
  std::vector<TaskKey> tasks_;
  std::set<TaskKey> finished_;
  std::map<TaskKey, int64_t> sources_waiting_;  // -> the last id triggered when it ended
  int64_t last_triggered_ = 0;
  std::vector<CheckpointMetadata> retained_;
  std::optional<Pending> pending_;
  int64_t next_id_ = 1;
  int64_t last_trigger_ms_;
  int64_t last_end_ms_;
  int failures_in_a_row_ = 0;
  int64_t num_completed_ = 0;
  int64_t num_failed_ = 0;
  std::string last_failure_;
  std::deque<CheckpointStats> history_;
};

}  // namespace sluice
