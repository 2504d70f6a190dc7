/// The operator SDK: what a user implements (Source, Operator, Sink), what the runtime
/// gives it (Context, Collector), and how it is registered (OperatorRegistry).
///
/// Threading contract (Flink's mailbox model): every method of one operator instance is
/// called from that instance's task thread only, one call at a time, so operator code
/// needs no locks. Call order: Open → (Process | OnWatermark | OnTimer)* →
/// OnEndOfInput → Close. Close is called even after a failure, once, if Open was called.
/// An operator never throws; a bad record goes to Collector::EmitDeadLetter with a
/// reason, and only a failure of the operator itself (an unwritable file) is a Status.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/clock.h"
#include "sluice/dead_letter.h"
#include "sluice/logger.h"
#include "sluice/params.h"
#include "sluice/record.h"
#include "sluice/state.h"

namespace sluice {

/// Where an operator's output goes. Implemented by the runtime: the next operator in a
/// chain (a direct call), or the exchange to downstream tasks.
class Collector {
 public:
  virtual ~Collector() = default;
  /// Passes `batch` downstream; ownership moves. Empty batches may be dropped.
  virtual void Emit(BatchPtr batch) = 0;
  /// Announces that no record with event time <= `watermark` will follow.
  virtual void EmitWatermark(int64_t watermark) = 0;
  /// Sends a record to the dead-letter output. `reason` is a short stable code
  /// ("malformed", "bot", "late"); `record` is the raw input or a JSON rendering.
  /// Counted per (operator, reason).
  virtual void EmitDeadLetter(std::string_view reason, std::string_view record) = 0;
  /// Sends row `row` of `batch` to the dead-letter output (rendered as a JSON object),
  /// counted like EmitDeadLetter. Cheaper than rendering it yourself.
  virtual void EmitDeadLetterRow(std::string_view reason, const RecordBatch& batch, size_t row) {
    EmitDeadLetter(reason, batch.RowToJson(row));
  }
  /// Counts records dropped on purpose by a rule that is not an error (a filter).
  virtual void CountFiltered(int64_t n) = 0;
  /// A fresh, empty batch of `schema` (possibly recycled).
  virtual BatchPtr NewBatch(const SchemaPtr& schema) = 0;
};

/// A monotonically increasing metric, cheap to bump from the task thread; read by the
/// progress reporter from another thread.
class Counter {
 public:
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

/// Key-value state partitioned by key group. Keys of one key group are stored together
/// (the RocksDB backend prefixes keys with the group), so a range of groups can move
/// when a job rescales. Owned by the runtime; used from the task thread only.
class KeyedState {
 public:
  virtual ~KeyedState() = default;
  /// Returns false if absent.
  virtual bool Get(uint32_t key_group, std::string_view key, std::string* value) const = 0;
  virtual void Put(uint32_t key_group, std::string_view key, std::string_view value) = 0;
  virtual void Delete(uint32_t key_group, std::string_view key) = 0;
  /// Calls `fn` for every entry of `key_group`, in key order.
  virtual void ForEach(uint32_t key_group,
                       const std::function<void(std::string_view, std::string_view)>& fn)
      const = 0;
  virtual size_t size() const = 0;
};

/// What the runtime tells an operator about where it runs, and the services it offers:
/// counters, keyed state, timers, a logger and a clock. Files go through
/// sluice/filesystem.h, output fencing through sluice/output_fence.h.
class Context {
 public:
  virtual ~Context() = default;
  virtual const std::string& node_id() const = 0;
  virtual int subtask_index() const = 0;
  virtual int parallelism() const = 0;
  /// Number of key groups (max parallelism); a key's group is KeyGroupOf(hash).
  virtual int max_parallelism() const = 0;
  /// The key groups [first, last] this subtask owns (meaningful behind a key-by edge).
  virtual int first_key_group() const = 0;
  virtual int last_key_group() const = 0;
  /// True when every source of the job is bounded: windows fire at end of input and
  /// nothing is late.
  virtual bool batch_mode() const = 0;
  /// A named counter of this operator instance, shown in progress and the summary.
  virtual Counter* GetCounter(std::string_view name) = 0;
  /// Named keyed state of this operator instance: a ValueState without namespaces,
  /// behind the older interface. Kept by the job's state backend and checkpointed.
  virtual KeyedState* GetKeyedState(std::string_view name) = 0;
  /// Named state of this operator instance in the job's state backend (sluice/state.h),
  /// checkpointed by the runtime. The same name gives the same object. FAILED_PRECONDITION
  /// naming the state if `name` holds another kind (also when the checkpoint being
  /// restored holds it as another kind: the state's type changed). The default (a
  /// context without a backend) is UNIMPLEMENTED.
  virtual absl::StatusOr<ValueState*> GetValueState(std::string_view name) {
    return absl::UnimplementedError("this context has no state backend");
  }
  virtual absl::StatusOr<MapState*> GetMapState(std::string_view name) {
    return absl::UnimplementedError("this context has no state backend");
  }
  virtual absl::StatusOr<ListState*> GetListState(std::string_view name) {
    return absl::UnimplementedError("this context has no state backend");
  }
  /// Asks for OnTimer(time) once the watermark reaches `time`.
  virtual void RegisterEventTimeTimer(int64_t time) = 0;
  /// Timers per key, in the state backend (sluice/state.h): they fire OnKeyedTimer.
  /// UNIMPLEMENTED for a context without a state backend.
  virtual absl::StatusOr<TimerService*> GetTimerService() {
    return absl::UnimplementedError("this context has no state backend");
  }
  /// True when the job takes checkpoints: an operator with external side effects
  /// (files made visible, input files marked done) then prepares them in Snapshot and
  /// commits them in NotifyCheckpointComplete, also at the end of input, so a restart
  /// from the last checkpoint neither repeats nor loses them.
  virtual bool checkpointing() const = 0;
  /// Identifies this run of the job, the same in every subtask on every worker and
  /// different for each run or restart attempt (e.g. "page_daily-1795750000000-4242"
  /// locally, "<job id>-<attempt>" on a cluster). Letters, digits, '-' and '_' only.
  virtual const std::string& run_id() const = 0;
  /// Identifies the job across its restart attempts: the cluster's job id ("ysb-3");
  /// with `sluice run` or `sluice ingest`, the run id (each run is a job of its own).
  virtual const std::string& job_id() const = 0;
  /// Orders the attempts of one job (same job_id): a later attempt has a larger number
  /// (on a cluster 1, 2, ...; locally always 1). Operators with external side effects fence
  /// them by it: an attempt that finds its output claimed by a later attempt of its job is
  /// stale (its worker was given up for dead), and must neither publish nor overwrite.
  virtual int64_t attempt() const = 0;
  /// This operator instance's logger: lines carry job_id(), node_id() and
  /// subtask_index() ("job=ysb-3 op=parse#1: ..."; see sluice/logger.h). Copy it to keep
  /// it (callbacks on other threads included). The default writes to the process log.
  virtual Logger logger() const { return Logger::ForOperator(nullptr, job_id(), node_id(), subtask_index()); }
  /// Processing time and waiting (see sluice/clock.h): use it instead of std::chrono, so
  /// tests can replace it. Lives until Close returns. The default is SystemClock().
  virtual Clock& clock() const { return SystemClock(); }
};

/// Key groups: the unit in which keyed state moves when parallelism changes.
inline uint32_t KeyGroupOf(uint64_t key_hash, int max_parallelism) {
  return static_cast<uint32_t>(key_hash % static_cast<uint64_t>(max_parallelism));
}
/// The subtask that owns `key_group` (Flink's formula: contiguous ranges).
inline int SubtaskForKeyGroup(uint32_t key_group, int max_parallelism, int parallelism) {
  return static_cast<int>(static_cast<int64_t>(key_group) * parallelism / max_parallelism);
}

/// Writes and reads an operator's snapshot: named byte blobs, stored with the checkpoint.
///
/// Checkpoint protocol (docs/checkpoints.md): the runtime calls Snapshot on every operator
/// of a task's chain between two batches, makes the blobs durable, then calls
/// NotifyCheckpointComplete(id) on each. A restarted job calls Restore with the blobs of
/// the last complete checkpoint before Open. A checkpoint taken but not made durable is
/// forgotten: Restore sees the one before it, so what Snapshot prepared for the lost one
/// must be rolled back (or forward, when the checkpoint named it) by Restore.
class SnapshotWriter {
 public:
  virtual ~SnapshotWriter() = default;
  /// Increases by one per checkpoint of a job, across restarts.
  virtual int64_t checkpoint_id() const = 0;
  virtual void Write(std::string_view name, std::string_view bytes) = 0;
};
class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  virtual bool Read(std::string_view name, std::string* bytes) = 0;
};

/// The blobs an operator wrote in Snapshot when its node ran at another parallelism: a
/// job restored from a checkpoint or savepoint at a new parallelism (docs/state.md,
/// "Rescaling"). Keyed state handed out by Context is redistributed by the runtime
/// (whole key groups); this is for what an operator keeps itself. Typical uses: keep the
/// entries of one's own key groups from every old subtask (keyed state of one's own), or
/// take each old subtask's list and keep what is now one's own (Kafka partitions).
class RescaledSnapshotReader {
 public:
  virtual ~RescaledSnapshotReader() = default;
  /// The node's parallelism when the state was taken.
  virtual int old_parallelism() const = 0;
  /// The new subtask's place (the Context is not open yet when restoring).
  virtual int subtask_index() const = 0;
  virtual int parallelism() const = 0;
  virtual int max_parallelism() const = 0;
  virtual int first_key_group() const = 0;
  virtual int last_key_group() const = 0;
  /// The blob `name` that old subtask `old_subtask` (0 .. old_parallelism()-1) wrote.
  virtual bool Read(int old_subtask, std::string_view name, std::string* bytes) = 0;
};

inline absl::Status CannotRescale() {
  return absl::UnimplementedError("this operator keeps state of its own and cannot be restored at another parallelism");
}

/// A transforming operator, or a sink (an operator that emits nothing).
class Operator {
 public:
  virtual ~Operator() = default;
  /// The schema of what this operator emits (null for sinks). Fixed after creation.
  virtual SchemaPtr output_schema() const = 0;
  virtual absl::Status Open(Context& ctx) { return absl::OkStatus(); }
  /// Handles one batch arriving on input port `input` (0 for single-input operators).
  /// May modify and re-emit `batch` itself.
  virtual absl::Status Process(int input, BatchPtr batch, Collector& out) = 0;
  /// The watermark advanced to `watermark` (the minimum over all inputs). The default
  /// forwards it. Timers due are fired (OnTimer) before this call.
  virtual absl::Status OnWatermark(int64_t watermark, Collector& out) {
    out.EmitWatermark(watermark);
    return absl::OkStatus();
  }
  virtual absl::Status OnTimer(int64_t time, Collector& out) { return absl::OkStatus(); }
  /// A timer of Context::GetTimerService is due (its key and namespace in `k`, which
  /// views memory valid during the call). Fired before OnWatermark.
  virtual absl::Status OnKeyedTimer(const StateKey& k, int64_t time, Collector& out) { return absl::OkStatus(); }
  /// All inputs ended: flush everything still held (windows fire here in batch mode).
  virtual absl::Status OnEndOfInput(Collector& out) { return absl::OkStatus(); }
  /// A checkpoint is being taken: write state, prepare side effects (see SnapshotWriter).
  virtual absl::Status Snapshot(SnapshotWriter& writer) { return absl::OkStatus(); }
  /// Before Open, on a restart: the state of the last complete checkpoint.
  virtual absl::Status Restore(SnapshotReader& reader) { return absl::OkStatus(); }
  /// Instead of Restore, when the node ran at another parallelism and wrote blobs of its
  /// own. The default refuses: the job then fails naming the node.
  virtual absl::Status RestoreRescaled(RescaledSnapshotReader& reader) { return CannotRescale(); }
  /// The checkpoint `checkpoint_id` is durable: commit what its Snapshot prepared.
  virtual absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) { return absl::OkStatus(); }
  /// Releases resources; sinks flush and close files here.
  virtual absl::Status Close() { return absl::OkStatus(); }
};

/// A source of records. Poll() is called in a loop on the task thread.
class Source {
 public:
  virtual ~Source() = default;
  virtual SchemaPtr output_schema() const = 0;
  /// True if the source ends by itself (files); false for unbounded ones (Kafka).
  virtual bool bounded() const = 0;
  virtual absl::Status Open(Context& ctx) { return absl::OkStatus(); }
  /// Emits zero or more batches. Returns false once the source is exhausted.
  virtual absl::StatusOr<bool> Poll(Collector& out) = 0;
  /// As for Operator: see SnapshotWriter for the checkpoint protocol.
  virtual absl::Status Snapshot(SnapshotWriter& writer) { return absl::OkStatus(); }
  virtual absl::Status Restore(SnapshotReader& reader) { return absl::OkStatus(); }
  virtual absl::Status RestoreRescaled(RescaledSnapshotReader& reader) { return CannotRescale(); }
  virtual absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) { return absl::OkStatus(); }
  virtual absl::Status Close() { return absl::OkStatus(); }
};

/// What a factory gets to build one instance (one subtask) of a node.
struct OperatorConfig {
  std::string node_id;
  /// The node's `params` map (never null: an empty map when absent).
  const Param* params = nullptr;
  /// Schemas of the inputs, in the order of the node's inputs (empty for sources).
  std::vector<SchemaPtr> input_schemas;
  int subtask_index = 0;
  int parallelism = 1;
  /// Records per batch the job asks sources to emit (the topology's batch_size).
  int batch_size = 2048;
  /// For a node behind a key-by edge: the key fields, in order (names in the input
  /// schema). Keyed operators use them unless their params name other keys.
  std::vector<std::string> key_fields;

  /// A logger for the factory, before any job runs (its lines name the operator and
  /// subtask; no job yet). Operators log through Context::logger() once open.
  Logger logger() const { return Logger::ForOperator(nullptr, "", node_id, subtask_index); }
};

/// Factories build an instance from its config: they check the params and give the
/// output schema, and must not depend on the machine they run on. The planner calls them
/// in the client that submits a job (`sluice submit`), which may not hold the job's files
/// or reach its services; open files, tables and connections in Open, on the machine that
/// runs the task, and fail there naming the file. (A factory may read a file only to learn
/// a schema it cannot get otherwise, and must then say which param declares it instead.)
using SourceFactory = std::function<absl::StatusOr<std::unique_ptr<Source>>(const OperatorConfig&)>;
using OperatorFactory =
    std::function<absl::StatusOr<std::unique_ptr<Operator>>(const OperatorConfig&)>;

/// Operator factories by type name ("file_source", "json_parse", "window"), and
/// dead-letter writers by URI scheme ("kafka"). Filled at start-up (built-ins, plugins),
/// read-only afterwards; reads are thread-safe.
class OperatorRegistry {
 public:
  enum class Kind { kSource, kOperator, kSink };

  /// Fails with ALREADY_EXISTS if `type` is taken.
  absl::Status RegisterSource(std::string type, SourceFactory factory, std::string doc = "");
  absl::Status RegisterOperator(std::string type, OperatorFactory factory, std::string doc = "");
  absl::Status RegisterSink(std::string type, OperatorFactory factory, std::string doc = "");

  /// NOT_FOUND (listing the known types) if `type` is not registered.
  absl::StatusOr<Kind> KindOf(std::string_view type) const;
  const SourceFactory* FindSource(std::string_view type) const;
  const OperatorFactory* FindOperator(std::string_view type) const;  // operators and sinks
  std::vector<std::string> Types() const;
  /// The one-line description `type` was registered with ("" if none or unknown).
  std::string_view Doc(std::string_view type) const;

  /// Sends the dead letters of jobs whose `dead_letter` is `scheme://...` to writers
  /// `factory` opens (see sluice/dead_letter.h). `scheme` is lower case, without "://".
  /// Fails with ALREADY_EXISTS if `scheme` is taken.
  absl::Status RegisterDeadLetterWriter(std::string scheme, DeadLetterWriterFactory factory, std::string doc = "");
  /// Opens the writer for `uri` ("kafka://h:9092/dead"). INVALID_ARGUMENT naming the
  /// scheme (and listing the known ones) if no writer is registered for it.
  absl::StatusOr<std::unique_ptr<DeadLetterWriter>> OpenDeadLetterWriter(std::string_view uri) const;
  /// Registered schemes, sorted, with their descriptions.
  std::vector<std::pair<std::string, std::string>> DeadLetterSchemes() const;

 private:
  struct Entry {
    Kind kind;
    SourceFactory source;
    OperatorFactory op;
    std::string doc;
  };
  std::map<std::string, Entry, std::less<>> entries_;
  struct DeadLetterScheme {
    DeadLetterWriterFactory factory;
    std::string doc;
  };
  std::map<std::string, DeadLetterScheme, std::less<>> dead_letter_schemes_;
};

}  // namespace sluice
