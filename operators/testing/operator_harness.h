// Test doubles for driving one operator outside the engine: a Context with in-memory
// keyed state and timers, a Collector that records everything emitted, and helpers to
// build batches from rows. Single-threaded, like a task. For tests only.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/state/keyed_states.h"
#include "runtime/state/kv_store.h"
#include "sluice/operator.h"

namespace sluice::testing {

class TestContext : public Context {
 public:
  explicit TestContext(bool batch_mode = false, std::string node_id = "test");
  ~TestContext() override;
  const std::string& node_id() const override { return node_id_; }
  int subtask_index() const override { return 0; }
  int parallelism() const override { return 1; }
  int max_parallelism() const override { return 128; }
  int first_key_group() const override { return 0; }
  int last_key_group() const override { return 127; }
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
