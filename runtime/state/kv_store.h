// The storage under keyed state: a task's ordered key-value tables, one per (operator,
// state). Two backends implement it (docs/state.md): in memory (an ordered map per table)
// and RocksDB (one instance per task, a column family per table, a write-back cache in
// front, memory shared by every task of the process). The typed states of
// sluice/state.h (keyed_states.h) sit on top and encode their keys so that a key group
// is one contiguous key range.
//
// Errors: a backend that fails (a RocksDB write error) records it; status() returns the
// first one and the task fails on it. Reads after a failure see what the backend has.
//
// Threading: a store belongs to one task and is used from its thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/native_state.h"

namespace sluice::runtime {

// A read-only view of a store as of when it was taken, read on another thread while the
// store keeps changing, or after it was destroyed.
class KvSnapshot {
 public:
  virtual ~KvSnapshot() = default;
  // As KvStore::Scan.
  virtual absl::Status Scan(int table, std::string_view begin, std::string_view end,
                            const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  // "memory" or "rocksdb".
  virtual std::string_view backend() const = 0;
  // The table `name`, created empty if new. Ids are small and stable for the store's life.
  virtual absl::StatusOr<int> Table(std::string_view name) = 0;
  virtual bool Get(int table, std::string_view key, std::string* value) = 0;
  virtual void Put(int table, std::string_view key, std::string_view value) = 0;
  virtual void Delete(int table, std::string_view key) = 0;
  // Entries with begin <= key < end ("" end: to the last), in byte order, until `fn`
  // returns false.
  virtual void Scan(int table, std::string_view begin, std::string_view end,
                    const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
  // Deletes the entries with begin <= key < end.
  virtual void DeleteRange(int table, std::string_view begin, std::string_view end) = 0;
  // Writes what a cache holds to the backend (before a checkpoint).
  virtual void Flush() = 0;
  // After Flush: a consistent view as of now that costs nothing to take (RocksDB: a
  // snapshot), so a checkpoint is read off the task thread; null when the backend has
  // none (memory: the checkpoint reads the store on the task thread).
  virtual std::shared_ptr<const KvSnapshot> TakeSnapshot() { return nullptr; }

  // Incremental checkpoints (RocksDB, unless turned off): the store checkpoints itself
  // whole, as its own files, rather than each state as a blob of entries.
  virtual bool native_checkpoints() const { return false; }
  // Uploads what `CheckpointNative`'s files lack in storage, and returns the instance's
  // blob (common/native_state.h); run on the checkpoint writer's thread.
  using NativeProducer = std::function<absl::StatusOr<std::string>(CheckpointStorage&, std::vector<SharedFile>*)>;
  // On the task thread: writes the cache, flushes, and hard-links the instance's files
  // as of now. Shared files are named "<id>-<file_prefix><file>". `header` gives the
  // key-group range the instance's entries are in.
  virtual absl::StatusOr<NativeProducer> CheckpointNative(int64_t id, std::string file_prefix,
                                                          const NativeInstance& header) {
    return absl::UnimplementedError("this state backend has no native checkpoints");
  }
  // Checkpoint `id` completed: the files it uploaded are in storage for good, and later
  // checkpoints reference them rather than upload them again.
  virtual void CheckpointComplete(int64_t id) {}

  virtual absl::Status status() const = 0;
};

// The in-memory backend.
std::unique_ptr<KvStore> NewInMemoryKvStore();

// Process-wide settings of the RocksDB backend, set once at start-up (the worker's and
// `sluice run`'s flags) before any task opens a store.
struct RocksDbStateOptions {
  // Where task instances are created (one subdirectory each, deleted when the task
  // ends). "": $TMPDIR (or /tmp) + "/sluice-state".
  std::string local_dir;
  // Block cache shared by every instance of the process; memtables are charged to it
  // (a WriteBufferManager of half of it), so this bounds RocksDB's memory.
  int64_t memory_bytes = int64_t{256} << 20;
  // Each task's write-back cache in front of RocksDB: dirty entries wait here so the hot
  // path pays no RocksDB write per record.
  int64_t write_cache_bytes = int64_t{16} << 20;
  // Incremental checkpoints: each checkpoint uploads only the SST files the last
  // completed one lacks. Off: every checkpoint writes every entry (canonical blobs).
  // Read by each store when it opens.
  bool incremental = true;
};
void SetRocksDbStateOptions(const RocksDbStateOptions& options);
const RocksDbStateOptions& GetRocksDbStateOptions();
// "256MiB", "1g", "300000000" -> bytes; INVALID_ARGUMENT otherwise.
absl::StatusOr<int64_t> ParseByteSize(std::string_view text);

// Opens a fresh RocksDB instance for one task in local_dir/`name` (`name` is unique per
// task and attempt, e.g. "job-3-a2-v1-s0"). A leftover directory of that name is wiped
// first; another live instance there (its LOCK held) is an error naming the directory.
// The directory is deleted when the store is destroyed.
absl::StatusOr<std::unique_ptr<KvStore>> OpenRocksDbKvStore(std::string_view name);

// The same, starting from a checkpointed instance (fetched from `storage`, which must
// outlive nothing: files are copied) rather than empty. Entries outside
// [keep_begin, keep_end) ("" end: no bound) are deleted with range deletions, so an
// instance of an old subtask becomes one of a subtask with fewer key groups. Its shared
// files are what the next checkpoint references rather than uploads.
struct NativeBase {
  const NativeInstance* instance = nullptr;
  const CheckpointStorage* storage = nullptr;
  std::string keep_begin;
  std::string keep_end;
};
absl::StatusOr<std::unique_ptr<KvStore>> OpenRocksDbKvStore(std::string_view name, const NativeBase& base);

}  // namespace sluice::runtime
