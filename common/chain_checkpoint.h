// The state of one task in a checkpoint, as stored: per node of its chain, the named
// blobs its operator wrote and the runtime's own (names starting "sluice."), with a hash
// so a damaged file is never half-used. Written by workers; read by workers to restore
// and by the coordinator to copy and check savepoints (docs/checkpoints.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkpoint_storage.h"

namespace sluice {

using BlobMap = std::map<std::string, std::string, std::less<>>;

struct ChainCheckpoint {
  int64_t id = 0;
  int parallelism = 0;  // of the vertex when it was taken
  // node id -> blob name -> bytes ("" -> the task's own blobs)
  std::map<std::string, BlobMap, std::less<>> blobs;
  // Blobs made later, off the task thread, before the state is encoded (keyed state read
  // from a RocksDB snapshot, or a RocksDB checkpoint's files uploaded to `storage`, each
  // added to `shared`). Not encoded themselves.
  struct Deferred {
    std::string node;
    std::string name;
    std::function<absl::StatusOr<std::string>(CheckpointStorage& storage, std::vector<SharedFile>* shared)> produce;
  };
  std::vector<Deferred> deferred;
};

// The runtime's per-node blob of event-time progress and timers: a node with nothing
// else kept no state of its own.
inline constexpr std::string_view kLinkStateBlob = "sluice.link";
// Names in a task's "" blobs (the task's own, beside its nodes'): whether its input had
// ended, and the job's max_parallelism (key groups) when it was taken.
inline constexpr std::string_view kTaskEndedBlob = "sluice.task";
inline constexpr std::string_view kMaxParallelismBlob = "sluice.max_parallelism";
bool NodeHasState(const BlobMap& blobs);

std::string EncodeChainCheckpoint(const ChainCheckpoint& checkpoint);
// DATA_LOSS naming `name` (the file) if the bytes are not a whole checkpoint.
absl::StatusOr<ChainCheckpoint> DecodeChainCheckpoint(std::string_view bytes, std::string_view name);

}  // namespace sluice
