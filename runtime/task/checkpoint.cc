#include "runtime/task/checkpoint.h"

#include <xxhash.h>

#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice::runtime {
namespace {

constexpr std::string_view kMagic = "SLUICE-TASK-STATE-1\n";

void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof(v)); }
void PutBytes(std::string* out, std::string_view b) {
  PutU64(out, b.size());
  out->append(b);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U64(uint64_t* v) {
    if (data_.size() < sizeof(*v)) return false;
    std::memcpy(v, data_.data(), sizeof(*v));
    data_.remove_prefix(sizeof(*v));
    return true;
  }
  bool Bytes(std::string* s) {
    uint64_t n;
    if (!U64(&n) || data_.size() < n) return false;
    s->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};


}  // namespace

absl::StatusOr<ChainCheckpoint> DecodeChainCheckpoint(std::string_view data, std::string_view name) {
  ChainCheckpoint cp;
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint state ", Sv(name), " is damaged (", Sv(why), ")"));
  };
  if (data.size() < kMagic.size() + 8 || data.compare(0, kMagic.size(), kMagic) != 0) return damaged("bad header");
  uint64_t hash;
  std::memcpy(&hash, data.data() + data.size() - 8, 8);
  std::string_view body(data.data() + kMagic.size(), data.size() - kMagic.size() - 8);
  if (XXH3_64bits(body.data(), body.size()) != hash) return damaged("checksum mismatch");
  Reader r(body);
  uint64_t id, parallelism, nodes;
  if (!r.U64(&id) || !r.U64(&parallelism) || !r.U64(&nodes)) return damaged("truncated");
  cp.id = static_cast<int64_t>(id);
  cp.parallelism = static_cast<int>(parallelism);
  for (uint64_t i = 0; i < nodes; ++i) {
    std::string node;
    uint64_t entries;
    if (!r.Bytes(&node) || !r.U64(&entries)) return damaged("truncated");
    auto& blobs = cp.blobs[node];
    for (uint64_t e = 0; e < entries; ++e) {
      std::string blob_name, bytes;
      if (!r.Bytes(&blob_name) || !r.Bytes(&bytes)) return damaged("truncated");
      blobs[blob_name] = std::move(bytes);
    }
  }
  if (!r.done()) return damaged("trailing bytes");
  return cp;
}

std::string EncodeChainCheckpoint(const ChainCheckpoint& cp) {
  std::string data(kMagic);
  PutU64(&data, static_cast<uint64_t>(cp.id));
  PutU64(&data, static_cast<uint64_t>(cp.parallelism));
  PutU64(&data, cp.blobs.size());
  for (const auto& [node, blobs] : cp.blobs) {
    PutBytes(&data, node);
    PutU64(&data, blobs.size());
    for (const auto& [name, bytes] : blobs) {
      PutBytes(&data, name);
      PutBytes(&data, bytes);
    }
  }
  PutU64(&data, XXH3_64bits(data.data() + kMagic.size(), data.size() - kMagic.size()));
  return data;
}

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
    std::string bytes = EncodeChainCheckpoint(job.state);
    job.state.blobs.clear();
    auto handle = storage_->WriteTaskState(id, job.task.first, job.task.second, bytes);
    if (!handle.ok()) {
      on_decline_(id, job.task, handle.status());
      continue;
    }
    TaskAck ack;
    ack.state = std::move(*handle);
    ack.sync_ns = job.sync_ns;
    ack.align_ns = job.align_ns;
    ack.async_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
                       .count();
    on_ack_(id, job.task, std::move(ack));
  }
}

}  // namespace sluice::runtime
