// Task: one subtask of one vertex, run on its own thread. It owns the chain of operator
// instances of its vertex (ChainLink each), its mailbox (unless it is a source task) and
// the routing of its output to downstream mailboxes.
//
// A chained operator's output reaches the next operator by a direct call, without a
// queue or a copy; the tail's output is partitioned (forward, shuffle, key-by,
// broadcast) into batches pushed to downstream mailboxes, which block when full. Event
// time is assigned after a node with an `event_time` spec; watermarks flow in band; a
// task with several input channels advances to the minimum watermark of the channels
// that have not ended. Everything in a Task runs on its thread except Wire*() (before
// start), TriggerCheckpoint/CheckpointComplete and the JobShared hooks (any thread).
//
// Checkpoints (asynchronous barrier snapshots, docs/checkpoints.md): a source task, asked
// by TriggerCheckpoint(n), snapshots its chain between two polls and sends barrier n on
// every output channel; a task with several input channels holds each channel whose
// barrier n arrived (Mailbox::Block) until all have (a closed channel counts as
// arrived), then snapshots its chain and forwards the barrier. The task thread only
// captures state; the CheckpointListener writes it elsewhere. The end of a job is two
// steps: end of data (operators flush; kEndOfData downstream), then, with checkpoints,
// a checkpoint taken after it must complete (sinks commit in its notification) before
// the task closes its outputs (kEndOfInput) and ends.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "runtime/plan/job_plan.h"
#include "runtime/task/checkpoint.h"
#include "runtime/task/dead_letter_output.h"
#include "runtime/task/mailbox.h"
#include "runtime/state/keyed_states.h"
#include "runtime/state/keyed_timers.h"
#include "runtime/state/kv_store.h"
#include "runtime/task/metrics.h"
#include "sluice/operator.h"

namespace sluice::runtime {

class CheckpointListener;

// What all tasks of a job share: the plan, metrics, dead letters, and failure.
class JobShared {
 public:
  // `run_id`: see Context::run_id.
  // `run_id`, `job_id`, `attempt`: see Context.
  JobShared(const JobPlan* plan, std::string run_id, std::string job_id, int64_t attempt);
  const JobPlan& plan() const { return *plan_; }
  const std::string& run_id() const { return run_id_; }
  const std::string& job_id() const { return job_id_; }
  int64_t attempt() const { return attempt_; }
  NodeMetrics& metrics(int node) { return *metrics_[node]; }
  DeadLetterOutput& dead_letters() { return dead_letters_; }
  // Where operators' log lines go (default: the process log) and the clock they read
  // (default: SystemClock()). Set before tasks are created; `clock` outlives the job.
  void set_log_sink(std::shared_ptr<LogSink> sink) { log_sink_ = std::move(sink); }
  const std::shared_ptr<LogSink>& log_sink() const { return log_sink_; }
  void set_clock(Clock* clock) { clock_ = clock; }
  Clock& clock() const { return *clock_; }
  // Checkpoints are on when set (before tasks are created); not owned.
  void set_checkpoint_listener(CheckpointListener* listener) { checkpoints_ = listener; }
  CheckpointListener* checkpoint_listener() const { return checkpoints_; }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  // Records the first failure, cancels every task and closes every mailbox.
  void Fail(absl::Status status);
  // Cancels without an error (user interrupt).
  void Cancel();
  absl::Status status() const;
  void RegisterMailbox(Mailbox* mailbox) { mailboxes_.push_back(mailbox); }
  // Runs `hook` when the job is cancelled or fails (e.g. to break network channels a
  // task may be blocked on). Before tasks start.
  void OnCancel(std::function<void()> hook) { cancel_hooks_.push_back(std::move(hook)); }

 private:
  const JobPlan* plan_;
  std::string run_id_;
  std::string job_id_;
  int64_t attempt_;
  std::vector<std::unique_ptr<NodeMetrics>> metrics_;
  DeadLetterOutput dead_letters_;
  std::shared_ptr<LogSink> log_sink_ = ProcessLogSink();
  Clock* clock_ = &SystemClock();
  CheckpointListener* checkpoints_ = nullptr;
  std::atomic<bool> cancelled_{false};
  std::vector<Mailbox*> mailboxes_;  // set up before tasks start
  std::vector<std::function<void()>> cancel_hooks_;  // likewise
  mutable std::mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
};

class Task;

// Where tasks hand their checkpoint work (the local executor, a worker). Calls come from
// task threads.
class CheckpointListener {
 public:
  virtual ~CheckpointListener() = default;
  // The task captured its state for checkpoint `state.id` (sync_ns: its pause doing so;
  // align_ns: how long its inputs were held).
  virtual void Snapshotted(Task& task, ChainCheckpoint state, int64_t sync_ns, int64_t align_ns) = 0;
  // The task could not take its part of checkpoint `id`.
  virtual void Declined(Task& task, int64_t id, const absl::Status& why) = 0;
  // A source task read all its input and waits for a checkpoint to end with.
  virtual void SourceEnded(Task& task) = 0;
  // The task ended normally (its last state is in a completed checkpoint).
  virtual void Finished(Task& task) = 0;
};

// One operator instance inside a task's chain: its Context, and the Collector its
// output goes to.
class ChainLink : public Collector, public Context {
 public:
  ChainLink(Task* task, const PlanNode* node, int subtask);

  // Collector (this node's output).
  void Emit(BatchPtr batch) override;
  void EmitWatermark(int64_t watermark) override;
  void EmitDeadLetter(std::string_view reason, std::string_view record) override;
  void EmitDeadLetterRow(std::string_view reason, const RecordBatch& batch, size_t row) override;
  // Hands buffered dead letters to the job's output.
  void FlushDeadLetters();
  void CountFiltered(int64_t n) override;
  BatchPtr NewBatch(const SchemaPtr& schema) override;

  // Context.
  const std::string& node_id() const override;
  int subtask_index() const override { return subtask_; }
  int parallelism() const override;
  int max_parallelism() const override;
  int first_key_group() const override;
  int last_key_group() const override;
  bool batch_mode() const override;
  Counter* GetCounter(std::string_view name) override;
  KeyedState* GetKeyedState(std::string_view name) override;
  absl::StatusOr<ValueState*> GetValueState(std::string_view name) override { return states_.Value(name); }
  absl::StatusOr<MapState*> GetMapState(std::string_view name) override { return states_.Map(name); }
  absl::StatusOr<ListState*> GetListState(std::string_view name) override { return states_.List(name); }
  void RegisterEventTimeTimer(int64_t time) override { timers_.insert(time); }
  absl::StatusOr<TimerService*> GetTimerService() override;
  bool checkpointing() const override;
  const std::string& run_id() const override;
  const std::string& job_id() const override;
  int64_t attempt() const override;
  Logger logger() const override { return logger_; }
  Clock& clock() const override;

  // Input side, called by the task or the previous link.
  void Deliver(int port, BatchPtr batch);
  void AdvanceWatermark(int64_t watermark);
  // Fires all remaining timers, then OnEndOfInput.
  void EndOfInput();
  // The runtime's state of this link (timers, event-time progress) as one blob.
  std::string SnapshotRuntimeState() const;
  bool RestoreRuntimeState(std::string_view bytes);
  // Rescaling: folds in the runtime state of one more old subtask (the least advanced
  // event time and watermark, every timer once). False if malformed.
  bool MergeRuntimeState(std::string_view bytes, bool first);
  // The keyed states of the operator (checkpointed by the task).
  OperatorStates& keyed_states() { return states_; }

  const PlanNode& node() const { return *node_; }
  std::unique_ptr<Operator> op;  // null for a source head
  ChainLink* next = nullptr;     // null at the tail

 private:
  void ForwardWatermark(int64_t watermark);
  void FireTimers(int64_t watermark);
  void AssignEventTime(RecordBatch& batch);
  void CountDeadLetter(std::string_view reason);

  Task* task_;
  const PlanNode* node_;
  NodeMetrics* metrics_;
  int subtask_;
  Logger logger_;  // job, node and subtask in every line
  std::multiset<int64_t> timers_;
  std::unique_ptr<KeyedTimers> keyed_timers_;  // made on first use, or when restored
  OperatorStates states_;
  std::map<std::string, Counter*, std::less<>> dead_letter_counters_;
  int64_t max_timestamp_ = kNoTimestamp;
  int64_t last_watermark_ = kNoTimestamp;
  std::vector<uint32_t> keep_;  // scratch
  std::string dead_letter_buffer_;
};

struct OutTarget {
  OutputChannel* out = nullptr;
  int channel = 0;
};

class Task {
 public:
  Task(JobShared* job, int vertex, int subtask);
  ~Task();

  // Creates the operator instances. Before Start.
  absl::Status Init(const OperatorRegistry& registry);
  // Wiring, before Start.
  Mailbox* mailbox() { return mailbox_.get(); }
  // Shared with the network exchange, which may still hold it while the task unwinds.
  std::shared_ptr<Mailbox> shared_mailbox() { return mailbox_; }
  void SetInputChannels(std::vector<int> channel_ports);
  void AddOutEdge(const PlanEdge& edge, std::vector<OutTarget> targets);

  // Before Start: the state of the checkpoint the job restores.
  void SetRestoreState(TaskRestore state) { restore_ = std::move(state); }
  // Thread body.
  void Run();

  // Any thread. A source task takes checkpoint `id` between two polls.
  void TriggerCheckpoint(int64_t id);
  // Any thread. Checkpoint `id` completed: the task's operators commit what it covers.
  void CheckpointComplete(int64_t id);
  int vertex() const { return vertex_index_; }
  int subtask() const { return subtask_; }
  bool is_source() const { return source_ != nullptr; }

  JobShared& job() { return *job_; }
  // This task's own figures (the NodeMetrics sum over all subtasks of a node).
  struct Metrics {
    Counter records_in;   // into the head operator (from the mailbox)
    Counter records_out;  // out of the tail operator (to downstream tasks)
    Counter backpressure_ns;
    Counter checkpoints;  // snapshots taken
  };
  const Metrics& metrics() const { return metrics_; }
  const std::string& name() const { return name_; }
  bool failed() const { return job_->cancelled(); }
  void Fail(const PlanNode& node, const absl::Status& status);
  // The task's keyed-state store (the job's backend), opened on first use.
  absl::StatusOr<KvStore*> state_store();
  // After an operator call: fails the task if its state store failed.
  void CheckState(const PlanNode& node) {
    if (store_ != nullptr && !store_->status().ok()) Fail(node, store_->status());
  }

  // Called by the tail link.
  void EmitDownstream(BatchPtr batch, NodeMetrics* tail_metrics);
  void BroadcastWatermark(int64_t watermark);

 private:
  struct OutEdge {
    v1::Partitioning partitioning;
    std::vector<int> key_indices;
    std::vector<OutTarget> targets;
    size_t round_robin = 0;
    std::vector<std::vector<uint32_t>> target_rows;  // scratch
    // Key-by output being gathered per target, sent once it holds a full batch (or
    // before any watermark or end of input), so small splits of filtered batches do not
    // each cost a mailbox hand-off and a thread wake-up downstream.
    std::vector<BatchPtr> pending;
  };

  void RunSource();
  void RunMailbox();
  // Operators flush (once), then kEndOfData on every output channel.
  void EndOfData();
  // kEndOfInput on every output channel.
  void CloseOutputs();
  void SendToAll(MailboxItem::Kind kind, int64_t checkpoint_id);
  // Source tasks: takes a triggered checkpoint, delivers a completion.
  void PollCheckpointEvents();
  // Mailbox tasks: a barrier arrived on `channel`; or a channel closed during alignment.
  void OnBarrier(int channel, int64_t id);
  void MaybeAligned();
  // Captures the chain's state for `id`, sends barrier `id` downstream, hands the state over.
  void TakeSnapshot(int64_t id, int64_t align_ns);
  void NotifyComplete(int64_t id);
  void Push(const OutTarget& target, MailboxItem item, NodeMetrics* metrics);
  void RouteKeyBy(OutEdge& edge, BatchPtr batch, NodeMetrics* metrics);
  // Sends every pending key-by batch (before a watermark or end of input).
  void FlushPending(NodeMetrics* metrics);
  absl::Status OpenAll();
  void CloseAll();
  absl::Status RestoreAll();
  absl::Status RestoreRescaled(ChainLink& link, const NodeRestore& node);
  // Incremental checkpoints: opens the store from the old RocksDB instance that covers
  // most of this subtask's key groups (RocksDB backend), and readers of the others.
  absl::Status OpenNativeState(const TaskRestore& cp);
  // The reader of old subtask `old`'s instance; null if none, or if it is the store.
  const NativeInstanceReader* NativeReader(const NodeRestore& node, size_t old) const;
  std::string StoreName() const;

  JobShared* job_;
  const Vertex* vertex_;
  int vertex_index_;
  int subtask_;
  std::string name_;
  std::unique_ptr<Source> source_;
  std::vector<std::unique_ptr<ChainLink>> links_;
  std::shared_ptr<Mailbox> mailbox_;
  std::vector<int> channel_ports_;
  std::vector<OutEdge> out_edges_;
  bool opened_ = false;
  Metrics metrics_;
  std::unique_ptr<KvStore> store_;  // keyed state; null until an operator asks for some
  // During restore: old RocksDB instances read into the store, by their blob.
  std::map<const std::string*, std::unique_ptr<NativeInstanceReader>> native_readers_;

  // Checkpoints.
  CheckpointListener* checkpoints_;  // null: off
  std::optional<TaskRestore> restore_;
  std::atomic<int64_t> trigger_id_{0};   // source tasks: newest checkpoint asked for
  std::atomic<int64_t> complete_id_{0};  // source tasks: newest completed
  int64_t snapshot_id_ = 0;              // newest checkpoint this task took part in
  int64_t notified_id_ = 0;              // newest completion its operators were told of
  bool data_ended_ = false;              // EndOfData done (kept in checkpoints)
  // Alignment (mailbox tasks).
  int64_t aligning_id_ = 0;
  int64_t align_start_ns_ = 0;
  std::vector<bool> barrier_seen_;  // by channel
  std::vector<bool> closed_;        // by channel
};

}  // namespace sluice::runtime
