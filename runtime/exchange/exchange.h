// The data exchange between worker processes, on gRPC bidirectional streams.
//
// One stream per channel (an upstream subtask's output to one input channel of a
// downstream task). The sender (RemoteChannel, an OutputChannel) encodes each batch once
// (batch_codec.h) and writes it as one frame; watermarks and end-of-stream are frames on
// the same stream, so they stay ordered with the data. Flow control is credit based: the
// receiver grants a window of bytes when the stream opens and returns a frame's bytes
// once the receiving task's bounded mailbox has taken the frame in. A sender never has
// more than the window in flight (one oversized frame may go when nothing else is), so a
// slow task anywhere blocks its upstream across processes and memory stays bounded.
//
// Checkpoint barriers and the end of data are frames on the same streams, so they keep
// their place among the batches; a receiving task holding a channel for alignment
// stops taking its frames, its credit is not returned, and the sender blocks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "runtime/task/mailbox.h"
#include "sluice/v1/cluster.grpc.pb.h"

namespace sluice::runtime {

inline constexpr int64_t kDefaultCreditWindowBytes = 4 << 20;

// Byte counters of one job attempt's exchange on this worker.
struct ExchangeCounters {
  std::atomic<int64_t> bytes_out{0};
  std::atomic<int64_t> bytes_in{0};
};

// A task input that remote channels can deliver to.
struct Inbox {
  std::shared_ptr<Mailbox> mailbox;
  std::vector<SchemaPtr> channel_schemas;  // by input channel: the upstream output schema
  std::shared_ptr<ExchangeCounters> counters;
  // Called when a stream breaks before its end-of-stream (the sender died).
  std::function<void(absl::Status)> on_broken;
};

// The receiving side: the Exchange service of a worker.
class ExchangeService final : public v1::Exchange::Service {
 public:
  explicit ExchangeService(int64_t credit_window_bytes = kDefaultCreditWindowBytes)
      : window_(credit_window_bytes) {}

  // Makes a task's input reachable (before its job's tasks start).
  void Register(const std::string& job_id, int64_t attempt, int vertex, int subtask, Inbox inbox);
  // Forgets a job attempt's inboxes; streams that still wait for one of them give up.
  void Unregister(const std::string& job_id, int64_t attempt);

  grpc::Status Transfer(grpc::ServerContext* context,
                        grpc::ServerReaderWriter<v1::ExchangeCredit, v1::ExchangeFrame>* stream) override;

 private:
  static std::string Key(const std::string& job_id, int64_t attempt, int vertex, int subtask);
  static std::string JobKey(const std::string& job_id, int64_t attempt);

  const int64_t window_;
  std::mutex mu_;
  std::condition_variable registered_;
  std::map<std::string, Inbox> inboxes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> unregistered_ ABSL_GUARDED_BY(mu_);  // job keys given up
};

// The sending side of one channel. Connects on first use.
class RemoteChannel final : public OutputChannel {
 public:
  RemoteChannel(std::shared_ptr<grpc::Channel> channel, v1::ChannelHeader header,
                std::shared_ptr<ExchangeCounters> counters);
  ~RemoteChannel() override;

  // Sends one item; blocks while the credit window is used up. False once the stream
  // broke (the receiver went away or refused the channel) or Cancel() was called.
  bool Push(MailboxItem item, int64_t* blocked_ns = nullptr) override;
  // Unblocks a Push waiting for credit and breaks the stream (any thread).
  void Cancel();
  // Why the stream broke (OK while it works).
  absl::Status status() const;
  std::string FailureReason() const override { return std::string(status().message()); }

 private:
  bool Connect();
  void ReadCredits();
  // A write failed: records the receiver's reason if it gave one, else the stream's end.
  bool WriteFailed();
  bool Fail(absl::Status status);

  std::shared_ptr<grpc::Channel> channel_;
  v1::ChannelHeader header_;
  std::shared_ptr<ExchangeCounters> counters_;
  std::unique_ptr<v1::Exchange::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ExchangeFrame, v1::ExchangeCredit>> stream_;
  std::thread reader_;
  bool connected_ = false;
  bool ended_ = false;
  v1::ExchangeFrame frame_;  // reused

  mutable std::mutex mu_;
  std::condition_variable credit_cv_;
  int64_t window_ ABSL_GUARDED_BY(mu_) = -1;  // unknown until the first credit
  int64_t credit_ ABSL_GUARDED_BY(mu_) = 0;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::runtime
