// Savepoints (docs/state.md): a completed checkpoint copied whole into a directory the user
// owns, with a `_savepoint` descriptor (text format, v1::SavepointDescriptor) written last,
// so a directory with the descriptor is a whole savepoint. Layout:
//   DIR/chk-<id>/<vertex>-<subtask>.state   the task states (hash-checked, as in checkpoints)
//   DIR/chk-<id>/_metadata
//   DIR/_savepoint                          job name, node ids, parallelism, key groups
// Nothing in it refers to the job's checkpoint storage, so the job's checkpoints may be
// discarded, and the savepoint restores into either state backend (the blobs are canonical).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/checkpoint_storage.h"
#include "sluice/v1/cluster.pb.h"

namespace sluice::coordinator {

inline constexpr std::string_view kSavepointFile = "_savepoint";

// Copies checkpoint `m` of job `rec` from `from` into `dir`, which must be empty or absent
// (a savepoint is never overwritten). Checks every file's hash on the way.
absl::StatusOr<v1::SavepointDescriptor> WriteSavepoint(const CheckpointStorage& from, const CheckpointMetadata& m,
                                                       const v1::JobRecord& rec, std::string_view dir);

struct Savepoint {
  v1::SavepointDescriptor descriptor;
  CheckpointMetadata metadata;
};
// Reads and checks the savepoint in `dir` (descriptor, metadata, every state file's hash).
// NOT_FOUND when `dir` holds no savepoint, DATA_LOSS naming the damaged file.
absl::StatusOr<Savepoint> ReadSavepoint(std::string_view dir);

// FAILED_PRECONDITION, naming both sides, if `graph` cannot start from `sp`: another job
// name, another max_parallelism, or state of nodes the graph lacks (unless allowed).
absl::Status CheckSavepointFits(const Savepoint& sp, std::string_view dir, const v1::JobGraph& graph,
                                bool allow_non_restored_state);

}  // namespace sluice::coordinator
