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

}  // namespace sluice::runtime
