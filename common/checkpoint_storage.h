// Checkpoint storage: where tasks write the state of each checkpoint and where the
// checkpoint coordinator writes its metadata (docs/checkpoints.md). Named by a URI:
// `file:///path` (or a plain path) is a directory every worker can reach: a shared volume
// on Kubernetes, NFS on hosts. Object storage (s3://, gs://) fits the same interface and
// is not built; an unknown scheme is refused, naming it.
//
// Layout of one job's storage:
//   chk-<id>/<vertex>-<subtask>.state   a task's state for checkpoint <id>
//   chk-<id>/_metadata                  written last: the checkpoint is complete
//   shared/<id>-<vertex>-<subtask>-<file>  a file of a task's RocksDB instance (an SST),
//                                       uploaded by checkpoint <id> and referenced by it
//                                       and by later ones (incremental checkpoints)
// A checkpoint's metadata names every task's state file with its size and hash, so a
// damaged or truncated file is found when it is read, named, and never half-used. A
// task that finished keeps the handle of its last state in later checkpoints, so a
// file may be referenced by several checkpoints; Discard keeps what a retained one
// references.
//
// Thread-safe: methods touch disjoint files or are idempotent; callers serialize
// metadata writes (one checkpoint coordinator per job).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

// A file under shared/: immutable once written, referenced by every checkpoint whose
// task state uses it, deleted when no retained checkpoint does.
struct SharedFile {
  std::string path;  // relative to the storage's root, e.g. "shared/7-2-0-000012.sst"
  int64_t size = 0;
  uint64_t hash = 0;  // XXH3-64 of the content
};

struct TaskStateHandle {
  int vertex = 0;
  int subtask = 0;
  std::string path;  // relative to the storage's root, e.g. "chk-4/2-0.state"
  int64_t size = 0;
  uint64_t hash = 0;  // XXH3-64 of the content
  std::vector<SharedFile> shared;  // the shared files its state uses
};

struct CheckpointMetadata {
  int64_t id = 0;
  int64_t timestamp_ms = 0;  // when it was triggered (wall clock)
  std::vector<TaskStateHandle> tasks;
  // The state of one task, or null.
  const TaskStateHandle* Find(int vertex, int subtask) const;
  // Bytes of its task state files and of the shared files they use (each once).
  int64_t TotalSize() const;
  // Bytes this checkpoint wrote itself (an incremental checkpoint's upload): its own
  // task state files and the shared files it uploaded.
  int64_t WrittenSize() const;
};

class CheckpointStorage {
 public:
  // `location`: "file:///abs/path", "/abs/path" or "relative/path". INVALID_ARGUMENT for
  // another scheme, naming it. The directory is created on first write.
  static absl::StatusOr<std::unique_ptr<CheckpointStorage>> Open(std::string_view location);
  virtual ~CheckpointStorage() = default;

  // As given to Open.
  virtual const std::string& location() const = 0;
  // Writes a task's state for checkpoint `id` (atomically: a reader sees all or nothing).
  virtual absl::StatusOr<TaskStateHandle> WriteTaskState(int64_t id, int vertex, int subtask,
                                                         std::string_view bytes) = 0;
  // Reads a state file and checks its size and hash: DATA_LOSS naming the file otherwise.
  virtual absl::StatusOr<std::string> ReadTaskState(const TaskStateHandle& handle) const = 0;
  // Makes checkpoint `metadata.id` complete (atomically).
  virtual absl::Status WriteMetadata(const CheckpointMetadata& metadata) = 0;
  // DATA_LOSS naming the file if damaged, NOT_FOUND if absent.
  virtual absl::StatusOr<CheckpointMetadata> ReadMetadata(int64_t id) const = 0;
  // Ids of the checkpoints whose metadata exists, ascending.
  virtual absl::StatusOr<std::vector<int64_t>> ListCompleted() const = 0;
  // Ids of every checkpoint directory, complete or not, ascending.
  virtual absl::StatusOr<std::vector<int64_t>> ListAll() const = 0;
  // Deletes checkpoint `id`: its metadata, its files that none of `keep` references, and
  // the shared files it references or uploaded (shared/<id>-*, also those of a checkpoint
  // that never completed) that none of `keep` references.
  virtual absl::Status Discard(int64_t id, const std::vector<CheckpointMetadata>& keep) = 0;
  // Copies the local file `local_path` to shared/<id>-<name> (atomically), hashing it on
  // the way. `name` is a file name unique within checkpoint `id`.
  virtual absl::StatusOr<SharedFile> WriteSharedFile(int64_t id, std::string_view name,
                                                     const std::string& local_path) = 0;
  // Copies a shared file to the local path `dest`, checking its size and hash: DATA_LOSS
  // naming the file if it is missing or damaged.
  virtual absl::Status CopySharedFile(const SharedFile& file, const std::string& dest) const = 0;
  // A file at the storage's root (a savepoint's `_savepoint`), written atomically; NOT_FOUND
  // when reading one that is absent.
  virtual absl::Status WriteRootFile(std::string_view name, std::string_view bytes) = 0;
  virtual absl::StatusOr<std::string> ReadRootFile(std::string_view name) const = 0;
  // True when the location holds nothing (or does not exist yet).
  virtual absl::StatusOr<bool> Empty() const = 0;
};

// `location` + "/" + `child` (a job's storage under the cluster's).
std::string JoinStorageLocation(std::string_view location, std::string_view child);

// The metadata file's encoding (a checked text format), for tests.
std::string EncodeCheckpointMetadata(const CheckpointMetadata& metadata);
absl::StatusOr<CheckpointMetadata> DecodeCheckpointMetadata(std::string_view data, std::string_view name);

}  // namespace sluice
