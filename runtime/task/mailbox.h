// A task's mailbox: the one bounded, blocking, multi-producer single-consumer queue
// through which everything reaches a task — input batches, watermarks and end-of-input
// from every upstream channel, in order per channel (Flink's mailbox model). A full
// mailbox blocks its producers (backpressure) on a condition variable, never spinning.
//
// Thread-safe. Close() wakes every waiter: Push then returns false and Pop returns
// false once the queue is drained, so a failing job can unwind without deadlock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "sluice/record.h"

namespace sluice::runtime {

struct MailboxItem {
  enum class Kind : uint8_t { kBatch, kWatermark, kEndOfInput };
  Kind kind = Kind::kBatch;
  int channel = 0;  // index into the receiving task's input channels
  int64_t watermark = 0;
  BatchPtr batch;
};

// Where a task sends one output channel's items: a local mailbox, or a network channel
// to a task in another process (runtime/exchange). Push blocks while the receiver has no
// room (backpressure) and returns false once the receiver is gone.
class OutputChannel {
 public:
  virtual ~OutputChannel() = default;
  // Adds the time spent blocked to *blocked_ns when given.
  virtual bool Push(MailboxItem item, int64_t* blocked_ns = nullptr) = 0;
  // Why Push returned false, when the channel knows more than "closed".
  virtual std::string FailureReason() const { return "the receiving task stopped"; }
};

class Mailbox : public OutputChannel {
 public:
  explicit Mailbox(size_t capacity) : capacity_(capacity) {}

  // Blocks while full. Returns false (dropping the item) if the mailbox is closed.
  // Adds the time spent blocked to *blocked_ns when given.
  bool Push(MailboxItem item, int64_t* blocked_ns = nullptr) override;
  // Blocks while empty. Returns false when closed and drained.
  bool Pop(MailboxItem* item);
  void Close();
  size_t size() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  // Protected by mu_.
  std::deque<MailboxItem> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::runtime
