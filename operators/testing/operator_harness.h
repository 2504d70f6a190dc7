// Test doubles for driving one operator outside the engine: a Context with in-memory
// keyed state and timers, a Collector that records everything emitted, helpers to
// build batches from rows, and checkpoints of several subtasks restored at another
// parallelism (as a key-by exchange and the runtime would). Single-threaded, like a task.
// For tests only.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/state/keyed_states.h"
#include "runtime/state/kv_store.h"
#include "sluice/operator.h"

namespace sluice::testing {

/// Key groups of every TestContext.
inline constexpr int kTestMaxParallelism = 128;

/// Subtask 0 of 1 (every key group) unless SetSubtask says otherwise.
class TestContext : public Context {
 public:
  explicit TestContext(bool batch_mode = false, std::string node_id = "test");
  ~TestContext() override;
  const std::string& node_id() const override { return node_id_; }
  int subtask_index() const override { return subtask_index_; }
  int parallelism() const override { return parallelism_; }
  int max_parallelism() const override { return kTestMaxParallelism; }
  /// The range the runtime gives the subtask (Flink's: the groups SubtaskForKeyGroup maps to it).
  int first_key_group() const override;
  int last_key_group() const override;
  /// Makes this subtask `subtask_index` of `parallelism`: its key groups, and keyed states
  /// that keep only those. REQUIRES: no state asked for or restored yet.
  void SetSubtask(int subtask_index, int parallelism);
  bool batch_mode() const override { return batch_mode_; }
  Counter* GetCounter(std::string_view name) override;
  KeyedState* GetKeyedState(std::string_view name) override;
  absl::StatusOr<ValueState*> GetValueState(std::string_view name) override { return states_->Value(name); }
  absl::StatusOr<MapState*> GetMapState(std::string_view name) override { return states_->Map(name); }
  absl::StatusOr<ListState*> GetListState(std::string_view name) override { return states_->List(name); }
  void RegisterEventTimeTimer(int64_t time) override { timers_.insert(time); }
  bool checkpointing() const override { return checkpointing_enabled; }
  const std::string& run_id() const override { return run; }
  const std::string& job_id() const override { return job; }
  int64_t attempt() const override { return attempt_number; }
  Clock& clock() const override { return *processing_clock; }

  /// The keyed-state backend: "memory" or "rocksdb" (set before the first state is asked
  /// for; RocksDB directories follow runtime::GetRocksDbStateOptions()).
  std::string state_backend = "memory";
  /// The operator's keyed states, for snapshots (Snapshot/Restore) in tests.
  runtime::OperatorStates& states() { return *states_; }
  /// What checkpointing() and run_id() answer.
  bool checkpointing_enabled = false;
  std::string run = "test-run";
  std::string job = "test-job";
  int64_t attempt_number = 1;
  /// What clock() answers: point it at a ManualClock to drive processing time by hand
  /// (sluice/clock.h). Not owned.
  Clock* processing_clock = &SystemClock();
  std::multiset<int64_t>& timers() { return timers_; }
  int64_t counter(const std::string& name) { return GetCounter(name)->value(); }

 private:
  std::string node_id_;
  bool batch_mode_;
  int subtask_index_ = 0;
  int parallelism_ = 1;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_;
  absl::StatusOr<runtime::KvStore*> store();
  std::unique_ptr<runtime::KvStore> store_;
  std::unique_ptr<runtime::OperatorStates> states_;
  std::multiset<int64_t> timers_;
};

struct DeadLetter {
  std::string reason;
  std::string record;
};

class TestCollector : public Collector {
 public:
  void Emit(BatchPtr batch) override { batches.push_back(std::move(batch)); }
  void EmitWatermark(int64_t watermark) override { watermarks.push_back(watermark); }
  void EmitDeadLetter(std::string_view reason, std::string_view record) override {
    dead_letters.push_back({std::string(reason), std::string(record)});
  }
  void CountFiltered(int64_t n) override { filtered += n; }
  BatchPtr NewBatch(const SchemaPtr& schema) override {
    return std::make_unique<RecordBatch>(schema);
  }

  /// Every emitted row as JSON (RecordBatch::RowToJson), in emission order.
  std::vector<std::string> RowsAsJson() const;
  size_t num_rows() const;
  /// Count of dead letters with `reason`.
  size_t DeadLetters(std::string_view reason) const;

  std::vector<BatchPtr> batches;
  std::vector<int64_t> watermarks;
  std::vector<DeadLetter> dead_letters;
  int64_t filtered = 0;
};

/// A SnapshotWriter that keeps the blobs in a map, for checkpoint tests.
class MapSnapshotWriter : public SnapshotWriter {
 public:
  explicit MapSnapshotWriter(int64_t id) : id_(id) {}
  int64_t checkpoint_id() const override { return id_; }
  void Write(std::string_view name, std::string_view bytes) override { blobs[std::string(name)] = bytes; }
  std::map<std::string, std::string> blobs;

 private:
  int64_t id_;
};

/// Reads what a MapSnapshotWriter kept.
class MapSnapshotReader : public SnapshotReader {
 public:
  explicit MapSnapshotReader(std::map<std::string, std::string> blobs) : blobs_(std::move(blobs)) {}
  bool Read(std::string_view name, std::string* bytes) override {
    auto it = blobs_.find(std::string(name));
    if (it == blobs_.end()) return false;
    *bytes = it->second;
    return true;
  }

 private:
  std::map<std::string, std::string> blobs_;
};

/// What the runtime keeps of one subtask of a node at a checkpoint: the blobs the operator
/// wrote (Snapshot) and its keyed states' (TestContext::states()), by name.
struct SubtaskSnapshot {
  std::map<std::string, std::string> blobs;
  std::map<std::string, std::string> states;
};

/// Takes a checkpoint of `op`, which runs with `ctx`.
absl::StatusOr<SubtaskSnapshot> SnapshotSubtask(Operator& op, TestContext& ctx,
                                                int64_t checkpoint_id = 1);

/// Reads the blobs of the old subtasks `old` (indexed by old subtask) for subtask
/// `ctx.subtask_index()` of `ctx.parallelism()`. Neither is owned; both must outlive it.
class MapRescaledSnapshotReader : public RescaledSnapshotReader {
 public:
  MapRescaledSnapshotReader(const std::vector<SubtaskSnapshot>& old, const Context& ctx)
      : old_(old), ctx_(ctx) {}
  int old_parallelism() const override { return static_cast<int>(old_.size()); }
  int subtask_index() const override { return ctx_.subtask_index(); }
  int parallelism() const override { return ctx_.parallelism(); }
  int max_parallelism() const override { return ctx_.max_parallelism(); }
  int first_key_group() const override { return ctx_.first_key_group(); }
  int last_key_group() const override { return ctx_.last_key_group(); }
  bool Read(int old_subtask, std::string_view name, std::string* bytes) override;

 private:
  const std::vector<SubtaskSnapshot>& old_;
  const Context& ctx_;
};

/// The same from bare blob maps (one per old subtask), for sources and sinks restored
/// without a Context; key groups as the runtime assigns them, of `max_parallelism`.
class BlobsRescaledReader : public RescaledSnapshotReader {
 public:
  BlobsRescaledReader(const std::vector<std::map<std::string, std::string>>& old, int subtask, int parallelism,
                      int max_parallelism = 128)
      : old_(old), subtask_(subtask), parallelism_(parallelism), max_parallelism_(max_parallelism) {}
  int old_parallelism() const override { return static_cast<int>(old_.size()); }
  int subtask_index() const override { return subtask_; }
  int parallelism() const override { return parallelism_; }
  int max_parallelism() const override { return max_parallelism_; }
  int first_key_group() const override { return (subtask_ * max_parallelism_ + parallelism_ - 1) / parallelism_; }
  int last_key_group() const override { return ((subtask_ + 1) * max_parallelism_ - 1) / parallelism_; }
  bool Read(int old_subtask, std::string_view name, std::string* bytes) override;

 private:
  const std::vector<std::map<std::string, std::string>>& old_;
  int subtask_, parallelism_, max_parallelism_;
};

/// Restores `op` (before its Open) as subtask `ctx.subtask_index()` of
/// `ctx.parallelism()` from the checkpoints of a run at parallelism `old.size()`, as the
/// runtime does: the keyed states of every old subtask (each keeping ctx's key groups),
/// then, if an old subtask wrote blobs, op.RestoreRescaled. Returns the first error.
absl::Status RestoreSubtaskRescaled(Operator& op, TestContext& ctx,
                                    const std::vector<SubtaskSnapshot>& old);

/// The subtask (of `parallelism`) the runtime's key-by exchange on columns `key_fields`
/// sends row `row` of `batch` to.
int KeyBySubtask(const RecordBatch& batch, size_t row, const std::vector<int>& key_fields,
                 int parallelism);
/// `batch` split as a key-by exchange on columns `key_fields` splits it over `parallelism`
/// subtasks: one batch per subtask (possibly empty), rows in their order.
std::vector<BatchPtr> SplitByKey(const RecordBatch& batch, const std::vector<int>& key_fields,
                                 int parallelism);

/// A value for BatchOf: null, bool, int64, double or string.
using Value = std::variant<std::monostate, bool, int64_t, double, std::string>;

/// Builds a batch of `schema` from rows of values (ints also fill timestamp columns).
/// `timestamps` gives each row's event time (default kNoTimestamp).
BatchPtr BatchOf(const SchemaPtr& schema, const std::vector<std::vector<Value>>& rows,
                 const std::vector<int64_t>& timestamps = {});

/// A batch with one string column "line".
BatchPtr LinesBatch(const std::vector<std::string>& lines);

/// Schema from "name:type" pairs.
SchemaPtr MakeSchema(const std::vector<std::pair<std::string, Type>>& fields);


}  // namespace sluice::testing
