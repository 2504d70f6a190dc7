// A task's mailbox: the one blocking, multi-producer single-consumer queue through which
// everything reaches a task — input batches, watermarks, checkpoint barriers and the end
// of data and of input from every upstream channel, in order per channel, and
// checkpoint completions from the job (Flink's mailbox model). Each channel may hold at
// most `capacity` items; a producer whose channel is full blocks (backpressure) on a
// condition variable, never spinning. Control items (channel < 0) are never bounded.
//
// For an aligned checkpoint the task blocks a channel whose barrier has arrived: Pop
// then skips that channel's items (they stay queued, and its producer blocks once the
// channel is full), while the other channels keep flowing. Bounds are per channel so a
// blocked channel can never starve the others of room.
//
// Thread-safe. Close() wakes every waiter: Push then returns false and Pop returns
// false once the queue is drained, so a failing job can unwind without deadlock.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "sluice/record.h"

namespace sluice::runtime {

struct MailboxItem {
  enum class Kind : uint8_t {
    kBatch,
    kWatermark,
    kEndOfData,   // the channel sends no more records (its sender flushed everything)
    kBarrier,     // checkpoint `checkpoint_id`: everything before it belongs to the checkpoint
    kEndOfInput,  // the channel is closed: nothing more, barriers included
    kCheckpointComplete,  // control (channel -1): checkpoint `checkpoint_id` completed
  };
  Kind kind = Kind::kBatch;
  int channel = 0;  // index into the receiving task's input channels; -1: control
  int64_t watermark = 0;
  int64_t checkpoint_id = 0;
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
  // `capacity`: items each channel may hold.
  explicit Mailbox(size_t capacity) : capacity_(capacity) {}

  // Blocks while the item's channel is full. Returns false (dropping the item) if the
  // mailbox is closed. Adds the time spent blocked to *blocked_ns when given.
  bool Push(MailboxItem item, int64_t* blocked_ns = nullptr) override;
  // Blocks while nothing can be taken. Returns false when closed and drained.
  bool Pop(MailboxItem* item);
  // Pop skips `channel`'s items until UnblockAll (the consumer's thread only).
  void Block(int channel);
  void UnblockAll();
  void Close();
  size_t size() const;

 private:
  // The first item Pop may take, or items_.end().
  std::deque<MailboxItem>::iterator Next() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t& Count(int channel) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<MailboxItem> items_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> counts_ ABSL_GUARDED_BY(mu_);    // queued items per channel
  std::vector<bool> blocked_ ABSL_GUARDED_BY(mu_);     // per channel
  size_t num_blocked_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::runtime
