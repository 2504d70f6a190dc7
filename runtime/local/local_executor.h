// LocalExecutor: runs a JobPlan inside this process — one thread per subtask, in-memory
// mailboxes between them — and reports progress and a summary. `sluice run` uses it;
// distributed workers will run the same Task code with a network exchange in place of
// some mailboxes.
//
// Run() blocks until the job ends, fails, or Cancel() is called from another thread
// (e.g. a signal handler thread). One Run per executor.
#pragma once

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkpoint_coordinator.h"
#include "runtime/plan/job_plan.h"
#include "sluice/operator.h"

namespace sluice::runtime {

struct RunOptions {
  // Seconds between progress lines on `progress_out` (0: none).
  double progress_interval_s = 2.0;
  std::FILE* progress_out = stderr;
  // Where operators' log lines go (Context::logger; null: the process log) and the
  // clock they read (Context::clock; null: SystemClock()), for tests. The clock must
  // outlive Run.
  std::shared_ptr<LogSink> log_sink;
  Clock* clock = nullptr;
  // Restoring a checkpoint that holds state of nodes the topology no longer has drops
  // that state instead of refusing (docs/state.md).
  bool allow_non_restored_state = false;
};

struct NodeSummary {
  std::string id;
  std::string type;
  int parallelism = 1;
  int64_t records_in = 0;
  int64_t records_out = 0;
  int64_t filtered = 0;
  double backpressure_s = 0;
  std::map<std::string, int64_t> dead_letters;  // by reason
  std::map<std::string, int64_t> counters;
};

struct JobSummary {
  std::string name;
  bool batch_mode = true;
  double elapsed_s = 0;
  int64_t source_records = 0;  // records emitted by all sources
  std::vector<NodeSummary> nodes;
  int64_t restored_checkpoint = 0;          // the checkpoint the run started from (0: none)
  std::vector<CheckpointStats> checkpoints;  // the last few
  int64_t TotalDeadLetters() const;
  // Multi-line human-readable summary.
  std::string ToString() const;
};

class LocalExecutor {
 public:
  LocalExecutor(const JobPlan& plan, const OperatorRegistry& registry, RunOptions options = {});
  // Runs the job to completion. Returns the summary, or the first task failure.
  absl::StatusOr<JobSummary> Run();
  // Asks a running job to stop (thread-safe). Run then returns CANCELLED.
  void Cancel();

 private:
  const JobPlan& plan_;
  const OperatorRegistry& registry_;
  RunOptions options_;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<void*> job_{nullptr};
};

}  // namespace sluice::runtime
