// A task's part of a checkpoint: the named blobs each operator of its chain wrote in
// Snapshot (plus the runtime's own per-link state under names starting "sluice."),
// encoded with a hash so a damaged file is never half-used, and written to checkpoint
// storage off the task thread by the AsyncCheckpointWriter. See docs/checkpoints.md.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/checkpoint_coordinator.h"

namespace sluice::runtime {

struct ChainCheckpoint {
  int64_t id = 0;
  int parallelism = 0;  // of the vertex when it was taken
  // node id -> blob name -> bytes ("" -> the task's own blobs)
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> blobs;
};

std::string EncodeChainCheckpoint(const ChainCheckpoint& checkpoint);
// DATA_LOSS naming `name` (the file) if the bytes are not a whole checkpoint.
absl::StatusOr<ChainCheckpoint> DecodeChainCheckpoint(std::string_view bytes, std::string_view name);

// Writes tasks' captured state to checkpoint storage on its own thread, so records keep
// flowing while it does, and reports each write: `on_ack` with the state's handle, or
// `on_decline` with why it could not be written. Callbacks run on the writer's thread.
class AsyncCheckpointWriter {
 public:
  using AckFn = std::function<void(int64_t id, TaskKey task, TaskAck ack)>;
  using DeclineFn = std::function<void(int64_t id, TaskKey task, const absl::Status& why)>;
  AsyncCheckpointWriter(CheckpointStorage* storage, AckFn on_ack, DeclineFn on_decline);
  // Finishes what was submitted, then stops.
  ~AsyncCheckpointWriter();

  // Thread-safe.
  void Submit(TaskKey task, ChainCheckpoint state, int64_t sync_ns, int64_t align_ns);

 private:
  struct Job {
    TaskKey task;
    ChainCheckpoint state;
    int64_t sync_ns = 0;
    int64_t align_ns = 0;
  };
  void Loop();

  CheckpointStorage* storage_;
  AckFn on_ack_;
  DeclineFn on_decline_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice::runtime
