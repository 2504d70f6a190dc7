// The typed keyed states of sluice/state.h (value, map, list) and the older KeyedState,
// over a task's KvStore, for one operator instance; and their checkpoint format.
//
// Keys in the store: [key group: 2 bytes big-endian][key, each 0x00 byte as 0x00 0xff]
// [0x00 0x01][varint namespace length][namespace], then, for a map, the user key. A key
// group is thus one contiguous range whose entries sort in byte order of the key; a
// (key, namespace) is a prefix for a map's entries. A list is one value: its items, each
// as a varint length and the bytes.
//
// Checkpoint format (canonical: the same bytes from either backend, so a checkpoint
// restores into either): one blob per state, "SKS1", the kind (1 byte), the number of key
// groups (u32 little-endian), then every entry as varint length + store key, varint
// length + value, in store-key order. Restore keeps the entries of the subtask's key
// groups, so a state restores at another parallelism.
//
// With incremental checkpoints (RocksDB), a state's blob is "SKR1", the kind and the
// number of key groups, and no entries: they are in the task's instance, checkpointed
// whole by the store (common/native_state.h).
//
// Threading: the task's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "runtime/state/kv_store.h"
#include "sluice/operator.h"
#include "sluice/state.h"

namespace sluice::runtime {

// The store keys of key groups first..last: [begin, end) ("" end: no bound).
std::string KeyGroupRangeBegin(uint32_t first_key_group);
std::string KeyGroupRangeEnd(uint32_t last_key_group);

class OperatorStates {
 public:
  // `store` opens the task's store on first use (tasks without state open none).
  // `node_id` prefixes table names and names the node in errors.
  OperatorStates(std::function<absl::StatusOr<KvStore*>()> store, std::string node_id, int max_parallelism,
                 int first_key_group, int last_key_group);
  ~OperatorStates();

  absl::StatusOr<ValueState*> Value(std::string_view name);
  absl::StatusOr<MapState*> Map(std::string_view name);
  absl::StatusOr<ListState*> List(std::string_view name);
  // Context::GetKeyedState: a value state without namespaces. Null if `name` holds
  // another kind (the older interface has no way to say why; the task fails on it).
  KeyedState* Legacy(std::string_view name);

  bool empty() const { return states_.empty(); }
  bool Has(std::string_view name) const { return states_.find(name) != states_.end(); }
  // Each state as one canonical blob, by state name. Flushes the store's cache first.
  absl::Status Snapshot(const std::function<void(const std::string& name, std::string blob)>& out);
  // The same, with each blob made later by `produce`, which may run on another thread
  // (the checkpoint writer's) while the task goes on: from a snapshot the store takes now
  // when it has one (RocksDB), else the blobs are made now and `produce` hands them over.
  // When the store checkpoints natively (incremental RocksDB), each blob is a reference
  // instead, and the task checkpoints the store itself (KvStore::CheckpointNative).
  using BlobProducer = std::function<absl::StatusOr<std::string>()>;
  absl::Status SnapshotDeferred(const std::function<void(const std::string& name, BlobProducer produce)>& out);
  // Loads state `name` from its blob, before the operator asks for it (which must then
  // ask for the same kind). DATA_LOSS if malformed, FAILED_PRECONDITION if written with
  // another number of key groups; both name the node and the state.
  // A native ("SKR1") blob takes its entries from `native`, keeping this subtask's key
  // groups; with no reader, they are already in the store (opened from the instance).
  absl::Status Restore(std::string_view name, std::string_view blob, const NativeInstanceReader* native = nullptr);

 private:
  struct Entry;
  absl::StatusOr<Entry*> Find(std::string_view name, StateKind kind);
  absl::Status SnapshotBlobs(bool native, const std::function<void(const std::string& name, BlobProducer produce)>& out);

  std::function<absl::StatusOr<KvStore*>()> open_store_;
  std::string node_id_;
  int max_parallelism_;
  uint32_t first_kg_;
  uint32_t last_kg_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> states_;
};

}  // namespace sluice::runtime
