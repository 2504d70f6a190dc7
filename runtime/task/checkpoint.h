// Local checkpoints of one task's chain: the named blobs each operator wrote in
// Snapshot, stored in one file per subtask (`<dir>/<head node>.<subtask>.ckpt`),
// replaced atomically (sluice::AtomicFile: a temporary, fsync, rename, fsync of the
// directory) and checked with a hash when read back. See docs/checkpoints.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace sluice::runtime {

struct ChainCheckpoint {
  int64_t id = 0;        // 0: none taken yet
  int parallelism = 0;   // of the vertex when it was taken
  // node id -> blob name -> bytes
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> blobs;
};

class CheckpointFile {
 public:
  CheckpointFile(std::string dir, std::string head_node, int subtask);
  const std::string& path() const { return path_; }
  // The last checkpoint, or one with id 0 if none was taken. DATA_LOSS if the file is
  // damaged (it names the file).
  absl::StatusOr<ChainCheckpoint> Load() const;
  absl::Status Save(const ChainCheckpoint& checkpoint) const;

 private:
  std::string dir_;
  std::string path_;
};

}  // namespace sluice::runtime
