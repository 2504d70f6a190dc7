#include "runtime/task/checkpoint.h"

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice::runtime {

AsyncCheckpointWriter::AsyncCheckpointWriter(CheckpointStorage* storage, AckFn on_ack, DeclineFn on_decline)
    : storage_(storage), on_ack_(std::move(on_ack)), on_decline_(std::move(on_decline)) {
  thread_ = std::thread([this] { Loop(); });
}

AsyncCheckpointWriter::~AsyncCheckpointWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AsyncCheckpointWriter::Submit(TaskKey task, ChainCheckpoint state, int64_t sync_ns, int64_t align_ns) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(Job{task, std::move(state), sync_ns, align_ns});
  }
  cv_.notify_one();
}

void AsyncCheckpointWriter::Loop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    auto start = std::chrono::steady_clock::now();
    const int64_t id = job.state.id;
    absl::Status produced;
    std::vector<SharedFile> shared;
    for (ChainCheckpoint::Deferred& d : job.state.deferred) {
      absl::StatusOr<std::string> blob = d.produce(*storage_, &shared);
      if (!blob.ok()) {
        produced = absl::Status(blob.status().code(), absl::StrCat("state '", d.name, "' of node '", d.node,
                                                                   "' could not be read: ", blob.status().message()));
        break;
      }
      job.state.blobs[d.node][d.name] = *std::move(blob);
    }
    job.state.deferred.clear();  // releases the snapshots
    if (!produced.ok()) {
      on_decline_(id, job.task, produced);
      continue;
    }
    std::string bytes = EncodeChainCheckpoint(job.state);
    job.state.blobs.clear();
    auto handle = storage_->WriteTaskState(id, job.task.first, job.task.second, bytes);
    if (!handle.ok()) {
      on_decline_(id, job.task, handle.status());
      continue;
    }
    TaskAck ack;
    ack.state = std::move(*handle);
    ack.state.shared = std::move(shared);
    ack.sync_ns = job.sync_ns;
    ack.align_ns = job.align_ns;
    ack.async_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
                       .count();
    on_ack_(id, job.task, std::move(ack));
  }
}

}  // namespace sluice::runtime
