// The keyed event-time window aggregate operator `window`: tumbling, sliding and
// session windows over the key groups one subtask owns, with Flink's firing, allowed
// lateness and late-record semantics (see README.md in this folder).
//
// Every live (key, window) pair gets a *slot*; aggregate state is stored column-wise by
// slot (aggregates.h). A batch is processed in two passes: the first maps each row to
// its key (one hash lookup, no allocation for an existing key) and to the slots of its
// windows, the second lets each aggregate fold the (row, slot) pairs in a tight loop.
// `count` without a field needs no second pass: the window counts its rows itself.
// Unfired windows wait in a queue ordered by window end, so a watermark touches only
// the windows it fires; fired windows wait in a second queue until their allowed
// lateness has passed.
//
// Keys that do not fit in memory: above `max_keys_in_memory` keys in memory, the least
// recently used keys move, with all their windows and aggregate state, to the job's keyed
// state (sluice/state.h: in memory or in RocksDB), and their windows' due times to timers
// kept in state; a record for such a key, or a watermark that makes one of its windows
// due, brings the key back (window_spill.cc). So a window holds more keys than memory
// when the job's state backend is RocksDB.
//
// Snapshot writes what is in memory as one
// blob, "window" (window_snapshot.cc: the format and what is in it): the watermark, the
// creation counter that orders ties, every live key and window with its queue state
// (pending, or fired and kept for allowed lateness), and the aggregates' per-window
// state. Restore reads it into a fresh instance, keeping key ids and slots, so the
// restored operator emits exactly what the snapshotted one would have. RestoreRescaled
// (another parallelism) reads every old subtask's blob and keeps the keys of this
// subtask's key groups; spilled keys move with the keyed state. The window registers no
// timers and has no side effects to commit.
//
// Threading: like every operator, an instance is used from its task thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/strings.h"
#include "operators/window/aggregates.h"
#include "sluice/operator.h"

namespace sluice::operators::window {

enum class WindowKind : uint8_t { kTumbling, kSliding, kSession };

struct AggregateSpec {
  AggFn fn = AggFn::kCount;
  int field = -1;  // input column; -1: count rows
  Type field_type = Type::kNull;
  int64_t k = 0;  // top_k
  std::string name;
};

struct OutputColumnSpec {
  enum class Source : uint8_t { kKey, kWindowStart, kWindowEnd, kAggregate };
  Source source = Source::kKey;
  int index = 0;  // into WindowSpec::key_fields or ::aggregates
};

/// The validated parameters of a `window` node, with field names resolved.
struct WindowSpec {
  SchemaPtr input_schema;
  std::vector<int> key_fields;  // input columns; empty: one global key
  WindowKind kind = WindowKind::kTumbling;
  int64_t size_ms = 0;   // tumbling and sliding
  int64_t slide_ms = 0;  // sliding (== size_ms for tumbling)
  int64_t offset_ms = 0;  // tumbling and sliding: windows start at offset + k * slide
  int64_t gap_ms = 0;    // session
  int64_t allowed_lateness_ms = 0;
  std::vector<AggregateSpec> aggregates;
  std::vector<OutputColumnSpec> output;
  SchemaPtr output_schema;
  // Above this many keys in memory, the least recently used keys move (each with all its
  // windows: the bound is on keys, not windows) to keyed
  // state (window_spill.cc); 0: never.
  int64_t max_keys_in_memory = 0;
};

inline constexpr int64_t kDefaultMaxKeysInMemory = 200000;

/// Validates `params` against `input`; errors are located ("job.yaml:14: ...").
absl::StatusOr<WindowSpec> ParseWindowSpec(const Param& params, const SchemaPtr& input);

/// The factory registered as `window`.
absl::StatusOr<std::unique_ptr<Operator>> CreateWindowOperator(const OperatorConfig& config);

class WindowOperator final : public Operator {
 public:
  /// `node_id` names the node in errors.
  explicit WindowOperator(WindowSpec spec, std::string node_id = "window");

  SchemaPtr output_schema() const override { return spec_.output_schema; }
  absl::Status Open(Context& ctx) override;
  absl::Status Process(int input, BatchPtr batch, Collector& out) override;
  absl::Status OnWatermark(int64_t watermark, Collector& out) override;
  absl::Status OnEndOfInput(Collector& out) override;
  /// Writes the blob "window" (never fails). REQUIRES: between two calls, not in one.
  absl::Status Snapshot(SnapshotWriter& writer) override;
  /// Reads the blob "window", if there is one (none: the operator stays empty). DATA_LOSS
  /// naming the node if it is truncated or malformed, INVALID_ARGUMENT if it was written
  /// with other window parameters; the operator is then empty. REQUIRES: before Open.
  absl::Status Restore(SnapshotReader& reader) override;
  /// Reads the blob "window" of every old subtask and keeps the keys of this subtask's key
  /// groups (the group the key-by exchange gives the key), with their windows; the
  /// watermark is the lowest of the old subtasks'. Spilled keys come with the keyed state
  /// (the runtime's part); Open counts them. Errors as for Restore, naming the old
  /// subtask; UNIMPLEMENTED if an old subtask held a key of another subtask's key group
  /// (the window's input is not partitioned by its key_by fields, so a key's windows may
  /// be spread over subtasks). REQUIRES: before Open.
  absl::Status RestoreRescaled(RescaledSnapshotReader& reader) override;

  /// Live (key, window) pairs and keys, for tests and metrics.
  size_t num_windows() const { return windows_.size() - free_windows_.size(); }
  size_t num_keys() const { return keys_.size() - free_keys_.size(); }
  /// Keys moved to keyed state (window_spill.cc).
  int64_t spilled_keys() const { return spilled_keys_; }

  static constexpr size_t kMaxOutputRows = 4096;

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};
  enum class KeyMode : uint8_t { kGlobal, kString, kInt, kMulti };
  enum class State : uint8_t { kFree, kPending, kFired };

  struct Key {
    std::string encoded;   // kString: the value; kMulti: the encoding (EncodeKey)
    int64_t int_key = 0;   // kInt
    bool is_null = false;  // kString/kInt null key, or the kGlobal key
    uint32_t num_windows = 0;
    uint64_t last_used = 0;  // the batch that last touched it (which keys spill first)
    // Tumbling: the key's most recently used window, to skip the window lookup.
    int64_t cached_start = 0;
    uint32_t cached_slot = kNone;
    std::vector<uint32_t> sessions;  // session windows of this key
  };
  struct Window {
    int64_t start = 0;
    int64_t end = 0;  // exclusive
    // kPending: the end under which fire_queue_ holds the window. Sessions that grow
    // keep their entry (queued_end <= end) and are re-queued when it comes up.
    int64_t queued_end = 0;
    uint64_t seq = 0;  // creation order: ties in firing order
    int64_t rows = 0;  // rows added: the value of `count` without a field
    uint32_t key = 0;
    State state = State::kFree;
    bool dirty = false;  // fired window updated by a late record: re-emit
  };
  // (window end or cleanup time, seq, slot).
  using QueueEntry = std::tuple<int64_t, uint64_t, uint32_t>;

  // Key lookup (may add a key).
  uint32_t GlobalKey();
  // The hit paths are inline: they run once a row.
  ABSL_ATTRIBUTE_ALWAYS_INLINE uint32_t StringKey(std::string_view value) {
    auto it = string_keys_.find(Sv(value));
    return it != string_keys_.end() ? it->second : AddStringKey(value);
  }
  ABSL_ATTRIBUTE_ALWAYS_INLINE uint32_t IntKey(int64_t value) {
    auto it = int_keys_.find(value);
    return it != int_keys_.end() ? it->second : AddIntKey(value);
  }
  uint32_t AddStringKey(std::string_view value);
  uint32_t AddIntKey(int64_t value);
  uint32_t NullKey();
  uint32_t MultiKey(const RecordBatch& batch, size_t row);
  uint32_t AllocKey();
  void FreeKey(uint32_t key);

  template <typename KeyOf>
  void Dispatch(const RecordBatch& batch, KeyOf&& key_of, Collector& out);
  template <typename KeyOf>
  void AssignTumbling(const RecordBatch& batch, KeyOf& key_of, Collector& out);
  template <typename KeyOf>
  void AssignSliding(const RecordBatch& batch, KeyOf& key_of, Collector& out);
  template <typename KeyOf>
  void AssignSession(const RecordBatch& batch, KeyOf& key_of, Collector& out);

  uint32_t FindOrAddWindow(uint32_t key, int64_t start, int64_t end);
  uint32_t NewWindow(uint32_t key, int64_t start, int64_t end);
  // A free slot (its aggregates empty), reused or new.
  uint32_t AllocWindow();
  void FreeWindow(uint32_t slot);
  void Enqueue(uint32_t slot);
  void Dequeue(uint32_t slot);
  void SetEnd(uint32_t slot, int64_t end);
  int64_t CleanupTime(int64_t end) const;
  // Records that row `row` goes to `slot`. The pair arrays are sized in Process for the
  // whole batch. A fired window is re-emitted after the batch: its state says so, not its
  // end against the watermark, since after a rescale a window may have fired at its old
  // subtask's watermark, above the one kept.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void AddPair(uint32_t row, uint32_t slot) {
    Window& w = windows_[slot];
    ++w.rows;
    if (record_pairs_) {
      pair_rows_[num_pairs_] = row;
      pair_slots_[num_pairs_] = slot;
      ++num_pairs_;
    }
    if (w.state == State::kFired && !w.dirty) MarkDirty(slot);
  }
  void MarkDirty(uint32_t slot);
  void ApplyPairs(const RecordBatch& batch);
  void Late(const RecordBatch& batch, size_t row, Collector& out);
  void NoTimestamp(const RecordBatch& batch, size_t row, Collector& out);

  void SetWatermark(int64_t watermark);
  void FireUpTo(int64_t watermark, Collector& out);
  void FireInMemory(Collector& out);
  void EmitDirty(Collector& out);
  void EmitRow(uint32_t slot, Collector& out);
  void AppendKey(const Key& key, int key_index, Column& col, Arena& arena, size_t row) const;
  void FlushOutput(Collector& out);

  // Spilling keys to keyed state (window_spill.cc).
  absl::Status OpenSpill(Context& ctx);
  // Moves the least recently used keys to state until 3/4 of the bound is in memory.
  // REQUIRES: between batches (no pending pairs, nothing dirty).
  void MaybeSpill();
  void SpillKey(uint32_t key, const std::vector<uint32_t>& slots);
  // The key spilled as `bytes`, back in memory; kNone if it is not in state.
  uint32_t LoadKey(std::string_view bytes);
  // A key's windows `slots` and their aggregate state, as a spilled key's value.
  void EncodeKeyWindows(const std::vector<uint32_t>& slots, std::string* out) const;
  // Adds the key `bytes` (KeyBytes) with the windows EncodeKeyWindows wrote, in their
  // queues, and returns its id; `*slots` are the windows added. If `encoded` is damaged,
  // sets `*error` to what and returns kNone, or the id if only the aggregates were.
  // REQUIRES: the key is not in memory.
  uint32_t AddKeyWithWindows(std::string_view bytes, std::string_view encoded,
                             std::vector<uint32_t>* slots, std::string_view* error);
  // Loads the spilled keys with a window due at the watermark (a bounded number per call);
  // false if there were none.
  bool LoadDueKeys();
  // A key's identity in state (tag byte 0: null, 1: value); the hash the key-by exchange
  // gives it (HashKeyField over the key fields); and its key group in this subtask.
  void KeyBytes(const Key& key, std::string* out) const;
  uint64_t KeyHashOfBytes(std::string_view bytes) const;
  uint32_t KeyGroupOfBytes(std::string_view bytes) const;
  // After a rescale: counts the spilled keys of this subtask's key groups (Open).
  absl::Status CountSpilledKeys();
  void TimerKey(const Window& w, std::string* out) const;
  // The hot path's miss: a spilled key comes back, a new key gets an id.
  uint32_t LoadOrAddKey(std::string_view bytes);

  // Checkpoints (window_snapshot.cc).
  // One live window, in checkpoints and spilled keys: u8 1 pending / 2 fired, i64 start,
  // i64 end, i64 queued end (pending only), u64 seq, i64 rows.
  static void PutWindow(std::string& out, const Window& w);
  // Reads the rest of what PutWindow wrote after its first byte `state`; false if short
  // or `state` is not a live window's.
  static bool GetWindowFields(SnapshotDecoder& in, uint8_t state, Window* w);
  void ResetState();
  absl::Status DecodeSnapshot(std::string_view blob);
  // Adds the keys of `from` (old subtask `old_subtask`'s blob, decoded into an instance of
  // its own) that are in the key groups `reader` gives this subtask.
  absl::Status AdoptKeys(const WindowOperator& from, int old_subtask,
                         const RescaledSnapshotReader& reader);
  template <typename Fn>
  void ForEachShapeField(Fn&& fn) const;
  bool ValidMultiKey(std::string_view encoded) const;

  WindowSpec spec_;
  std::string node_id_;
  KeyMode key_mode_ = KeyMode::kGlobal;
  // Aggregates other than `count` without a field (which reads Window::rows), and for
  // each of spec_.aggregates its index in aggs_ or -1.
  std::vector<std::unique_ptr<Aggregator>> aggs_;
  std::vector<int> agg_index_;
  bool record_pairs_ = false;  // !aggs_.empty()
  Counter* late_records_ = nullptr;
  Counter* keys_spilled_ = nullptr;  // keys moved to keyed state (window_spill.cc)
  Counter* keys_loaded_ = nullptr;   // and back

  // Event time. A window is due (fires) once end <= due_end_max_ (end - 1 <= wm), and
  // a record's window is late once end <= late_end_max_ (end - 1 + lateness <= wm).
  int64_t watermark_ = kNoTimestamp;
  int64_t due_end_max_ = kNoTimestamp;
  int64_t late_end_max_ = kNoTimestamp;

  // Keys: id -> Key; lookups by value. Freed ids are reused.
  std::vector<Key> keys_;
  std::vector<uint32_t> free_keys_;
  absl::flat_hash_map<std::string, uint32_t> string_keys_;  // kString and kMulti
  absl::flat_hash_map<int64_t, uint32_t> int_keys_;
  uint32_t null_key_ = kNone;
  std::string scratch_;  // kMulti encoding buffer

  // Windows: slot -> Window; (key, start) -> slot for tumbling and sliding windows.
  std::vector<Window> windows_;
  std::vector<uint32_t> free_windows_;
  absl::flat_hash_map<std::pair<uint32_t, int64_t>, uint32_t> window_index_;
  uint64_t next_seq_ = 0;
  std::set<QueueEntry> fire_queue_;     // kPending windows by queued_end
  std::set<QueueEntry> cleanup_queue_;  // kFired windows by end - 1 + lateness

  // Per-batch scratch.
  std::vector<uint32_t> pair_rows_;
  std::vector<uint32_t> pair_slots_;
  size_t num_pairs_ = 0;
  std::vector<uint32_t> dirty_;
  std::vector<uint32_t> merge_;

  BatchPtr out_batch_;

  // Spilled keys (window_spill.cc). spilled_: (key group, key) -> its windows and their
  // aggregate state; timers_: (key group, due time + seq, namespace: key) for each of
  // their windows, in time order per key group.
  ValueState* spilled_ = nullptr;
  ValueState* timers_ = nullptr;
  int64_t spilled_keys_ = 0;  // keys in spilled_ (none: misses skip the lookup)
  // Restored at another parallelism with keys spilled: spilled_keys_ is unknown until Open
  // counts what the runtime restored of this subtask's key groups.
  bool count_spilled_ = false;
  uint64_t batch_seq_ = 0;    // Process calls, for Key::last_used
  int max_parallelism_ = 1;
  uint32_t first_kg_ = 0;
  uint32_t last_kg_ = 0;
  std::vector<std::string> timer_resume_;  // per key group: the timers before this are consumed
  absl::Status spill_error_;           // a damaged spilled key, reported after the batch
  std::string spill_buf_;
  std::string key_buf_;
};

}  // namespace sluice::operators::window
