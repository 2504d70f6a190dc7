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
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/chain_checkpoint.h"
#include "common/checkpoint_coordinator.h"

namespace sluice::runtime {

// What one task restores, matched by node id (so a checkpoint or savepoint restores into
// a plan whose chains or parallelism differ): per node of its chain, the blobs of the old
// subtasks that ran it. A node whose parallelism is unchanged gets only the blobs of the
// subtask with its own index; a rescaled one gets every old subtask's.
struct NodeRestore {
  int old_parallelism = 0;
  std::vector<const BlobMap*> subtasks;  // by old subtask; null where none
  std::vector<const BlobMap*> task_blobs;  // the "" blobs of the task that ran each of those
  bool rescaled(int parallelism) const { return old_parallelism != parallelism; }
};
struct TaskRestore {
  int64_t id = 0;
  bool data_ended = false;
  std::map<std::string, NodeRestore, std::less<>> nodes;
  std::vector<std::shared_ptr<const ChainCheckpoint>> keep_alive;  // owns what `nodes` points into
  // Where the state was read: a RocksDB instance's shared files are fetched from it.
  std::shared_ptr<const CheckpointStorage> storage;
};

// One task's state in a checkpoint, as read from storage.
struct OldTaskState {
  int vertex = 0;
  int subtask = 0;
  std::shared_ptr<const ChainCheckpoint> state;
};


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
