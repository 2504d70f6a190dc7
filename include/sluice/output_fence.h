/// Fencing of file outputs against stale attempts of a job.
///
/// On a cluster a worker can be paused (SIGSTOP, a long GC-like stall, a frozen VM),
/// given up for dead, and resumed after the job has moved on to a later attempt. Its
/// tasks run again for a moment before they learn they are stale. An operator that
/// makes files visible must then neither publish nor overwrite what the current attempt
/// writes. OutputFence gives it that guarantee, as Kafka does with producer epochs:
///
/// - Claim() records (job id, attempt) in a hidden file `.NAME.fence` beside the output
///   `NAME`, under an exclusive flock(2). It fails with ABORTED when a later attempt of
///   the same job already holds the claim.
/// - Publish(fn) runs `fn` (say, the rename of an in-progress file onto NAME) under the
///   same lock, unless a later attempt of the job has claimed the output since; then
///   ABORTED, and `fn` does not run. A later attempt's Claim thus fences every earlier one.
/// - Different jobs do not fence each other (two agents may append to one table): the
///   file keeps one claim per job, the 64 most recent.
///
/// Each attempt writes its own in-progress files (InProgressPath), so a stale attempt
/// writing on also overwrites nothing. Claim removes in-progress files that earlier
/// attempts of the same job left behind.
///
/// Thread-safety: one OutputFence per output, used by one task thread. Works across
/// processes on one machine and on shared file systems that honour flock.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice {

class OutputFence {
 public:
  /// Claims `path` for `ctx`'s job and attempt. Errors: ABORTED (a later attempt of the
  /// job holds it), UNAVAILABLE (the fence file cannot be opened or locked).
  static absl::StatusOr<std::unique_ptr<OutputFence>> Claim(const std::string& path, const Context& ctx);
  ~OutputFence();
  OutputFence(const OutputFence&) = delete;
  OutputFence& operator=(const OutputFence&) = delete;

  /// Runs `publish` while holding the fence's lock. ABORTED, without running it, when a
  /// later attempt of this job has claimed the path since; otherwise what `publish` returns.
  absl::Status Publish(const std::function<absl::Status()>& publish);

  /// Where this attempt writes `path` before publishing it: `PATH.inprogress.RUN_ID`.
  static std::string InProgressPath(const std::string& path, const Context& ctx);

 private:
  OutputFence(std::string path, std::string job, int64_t attempt, int fd)
      : path_(std::move(path)), job_(std::move(job)), attempt_(attempt), fd_(fd) {}
  std::string path_;
  std::string job_;
  int64_t attempt_;
  int fd_;
};

}  // namespace sluice
