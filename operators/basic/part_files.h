// PartFiles: what one file_sink subtask writes when the job takes checkpoints. The
// output is a sequence of part files BASE.part-00000, BASE.part-00001, ... (BASE is the
// subtask's path: PATH, or PATH-i with parallelism > 1), numbered in the order they were
// written, and their concatenation is exactly what the sink writes into BASE without
// checkpoints (the TSV header goes into the first part only). A two-phase commit, as
// Flink's FileSink does it:
//
//  - bytes go into the current part's in-progress file, hidden beside it and named for
//    this attempt: .NAME.part-00003.inprogress.RUN_ID (a stale attempt writing on
//    overwrites nothing);
//  - Snapshot(n) finishes it (durable) and makes it pending for checkpoint n; a
//    checkpoint taken with nothing written makes no part;
//  - Commit(n) renames every part pending for checkpoints <= n onto its name, in order,
//    under the OutputFence (a notify that never came is covered by the next one);
//  - Restore + Recover (at Open, after a restart) roll forward the parts the restored
//    checkpoint names as pending (idempotent: a part already renamed is left alone),
//    then remove this subtask's other in-progress files (written after that checkpoint,
//    or by an earlier attempt) and the published parts numbered from the checkpoint's
//    next part on (left by an earlier run). A run started without a checkpoint thus
//    removes every part an earlier run left under BASE (like the file it replaces
//    without checkpoints); the file BASE itself is never touched.
//
// Nothing is published outside Commit and Recover: Abandon (a failure, a cancel) drops
// the part in progress, and what is pending waits for a restart to roll it forward.
//
// Rescaling (RestoreRescaled: the job restored at another parallelism). A part's name is
// its base and number (its in-progress file also names the run, so the files of two
// attempts never collide). The unit that moves is therefore a base, not a subtask: each
// base has one numbering, and exactly one subtask answers for it, so no two subtasks
// can write or remove the same part. Every base the checkpoint knows (each old
// subtask's own, and those it had inherited) goes to
//  - the new subtask that writes it, if any (its own base: see SubtaskBase), which
//    numbers on after the checkpoint's next part;
//  - otherwise to new subtask j % parallelism, j being the old subtask that held it: a
//    retired base (PATH-j for j at or above the new parallelism, every PATH-j at
//    parallelism 1, PATH at more than 1).
// The holder of a retired base claims its fence, rolls its pending parts forward and
// drops its leftovers at Recover, exactly as for its own base, and keeps its next part
// number in its snapshots: should a later rescale make the base someone's own again,
// that subtask numbers on after it rather than removing the published parts as an
// earlier run's. A new subtask's base that no old subtask knew starts at part 0,
// removing what was left under it, as a run without a checkpoint does. Files under
// bases the checkpoint does not know at all (written at a parallelism used only after
// the checkpoint was taken) are left alone.
//
// Single-threaded: the sink's task thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/filesystem.h"
#include "sluice/logger.h"
#include "sluice/operator.h"
#include "sluice/output_fence.h"

namespace sluice::operators {

class PartFiles {
 public:
  // REQUIRES: `fs` outlives this object.
  PartFiles(FileSystem& fs, std::string base);
  PartFiles(const PartFiles&) = delete;
  PartFiles& operator=(const PartFiles&) = delete;

  // Before Recover, on a restart: the state a Snapshot returned. DATA_LOSS if it is
  // damaged or cut short, FAILED_PRECONDITION if it was taken for another path.
  absl::Status Restore(std::string_view state);
  // Instead of Restore, when the state was taken at another parallelism: `old_states`
  // holds every old subtask's (by old subtask); `path` is the sink's path, this
  // subtask's BASE being SubtaskBase(path, subtask, parallelism). Keeps the bases this
  // subtask now answers for (see above). DATA_LOSS if a state is damaged or two old
  // subtasks held one base, FAILED_PRECONDITION if a state was taken for another path.
  absl::Status RestoreRescaled(const std::string& path, const std::vector<std::string>& old_states, int subtask,
                               int parallelism);
  // At Open, after `fence` claimed BASE: rolls the restored checkpoint forward and drops
  // what came after it (see above), all under the fence; the same for each retired base,
  // under a fence claimed here. ABORTED if a later attempt holds a fence; DATA_LOSS if a
  // pending part of the checkpoint is neither in progress nor published (its files were
  // removed behind the job's back).
  absl::Status Recover(const Context& ctx, OutputFence& fence, const Logger& log);

  // Appends to the current part, starting a new one if none is open.
  absl::Status Append(std::string_view bytes);
  // Finishes the current part (if any) as pending for `checkpoint_id`; with `at_end` and
  // no part written by the job at all, an empty part 0, so a finished job always shows
  // one. Returns the state to keep in the checkpoint (every part not yet committed).
  absl::StatusOr<std::string> Snapshot(int64_t checkpoint_id, bool at_end);
  // Publishes every part pending for checkpoints <= `checkpoint_id`, in order. ABORTED
  // (nothing renamed) if a later attempt holds the fence.
  absl::Status Commit(int64_t checkpoint_id, OutputFence& fence);
  // Drops the part in progress (a failure or cancel: its rows are written again after the
  // restart). Pending parts stay for the restart to roll forward.
  void Abandon();

  // Parts started so far (the number the next part gets).
  int64_t next_part() const { return next_part_; }
  // BASE.part-NNNNN.
  std::string PartPath(int64_t part) const;
  // The bases this subtask answers for but no longer writes (after a rescale).
  std::vector<std::string> retired_bases() const;

 private:
  struct Pending {
    int64_t part = 0;
    std::string temp;  // file name (no directory) of its in-progress file
  };
  // A base no subtask writes any more, whose parts this subtask answers for.
  struct Retired {
    std::string base;
    int64_t next_part = 0;
    std::vector<Pending> pending;  // pending in the restored checkpoint, until Recover
  };
  // What one Snapshot kept.
  struct State {
    std::string base;
    int64_t next_part = 0;
    std::vector<Pending> pending;
    std::vector<Retired> retired;
  };
  absl::StatusOr<State> Parse(std::string_view state) const;
  std::string InDir(const std::string& name) const;
  absl::Status StartPart();
  absl::Status Publish(const Pending& p);
  // For the parts of `base` (in this directory).
  absl::Status RollForward(const std::string& base, const std::vector<Pending>& pending, const Logger& log);
  absl::Status DropLeftovers(const std::string& base, int64_t next_part, const Logger& log);

  FileSystem& fs_;
  const std::string base_;
  const std::string dir_;   // of base_ ("" for the working directory)
  const std::string name_;  // file name of base_
  std::string run_id_;      // from Recover
  int64_t next_part_ = 0;
  std::unique_ptr<AtomicFile> current_;  // the part in progress, if any
  std::string current_temp_;             // its in-progress file name
  std::map<int64_t, std::vector<Pending>> pending_;  // by checkpoint id, not committed yet
  std::vector<Pending> restored_;                    // pending in the restored checkpoint
  std::vector<Retired> retired_;                     // sorted by base
};

// The base subtask `subtask` of a file_sink writing `path` at `parallelism` writes:
// PATH, or PATH-i with parallelism > 1.
std::string SubtaskBase(const std::string& path, int subtask, int parallelism);

}  // namespace sluice::operators
