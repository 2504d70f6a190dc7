#include "runtime/task/mailbox.h"

#include <chrono>

namespace sluice::runtime {

size_t& Mailbox::Count(int channel) {
  // Control items (channel < 0) are never counted: callers check.
  if (static_cast<size_t>(channel) >= counts_.size()) counts_.resize(channel + 1, 0);
  return counts_[channel];
}

bool Mailbox::Push(MailboxItem item, int64_t* blocked_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  const int channel = item.channel;
  if (channel >= 0 && Count(channel) >= capacity_ && !closed_) {
    auto start = std::chrono::steady_clock::now();
    not_full_.wait(lock, [&] { return Count(channel) < capacity_ || closed_; });
    if (blocked_ns != nullptr) {
      *blocked_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    }
  }
  if (closed_) return false;
  if (channel >= 0) ++Count(channel);
  items_.push_back(std::move(item));
  lock.unlock();
  not_empty_.notify_one();
  return true;
}

std::deque<MailboxItem>::iterator Mailbox::Next() {
  if (num_blocked_ == 0) return items_.begin();
  for (auto it = items_.begin(); it != items_.end(); ++it) {
    if (it->channel < 0 || static_cast<size_t>(it->channel) >= blocked_.size() || !blocked_[it->channel]) return it;
  }
  return items_.end();
}

bool Mailbox::Pop(MailboxItem* item) {
  std::unique_lock<std::mutex> lock(mu_);
  std::deque<MailboxItem>::iterator it;
  not_empty_.wait(lock, [&] {
    it = Next();
    return it != items_.end() || (closed_ && items_.empty()) || closed_;
  });
  if (it == items_.end()) return false;  // closed
  *item = std::move(*it);
  items_.erase(it);
  if (item->channel >= 0) --Count(item->channel);
  lock.unlock();
  // Several producers (one per channel) may wait: wake them all, the one with room goes.
  not_full_.notify_all();
  return true;
}

void Mailbox::Block(int channel) {
  std::lock_guard<std::mutex> lock(mu_);
  if (static_cast<size_t>(channel) >= blocked_.size()) blocked_.resize(channel + 1, false);
  if (!blocked_[channel]) {
    blocked_[channel] = true;
    ++num_blocked_;
  }
}

void Mailbox::UnblockAll() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (num_blocked_ == 0) return;
    blocked_.assign(blocked_.size(), false);
    num_blocked_ = 0;
  }
  not_empty_.notify_one();
}

void Mailbox::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  not_full_.notify_all();
  not_empty_.notify_all();
}

size_t Mailbox::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return items_.size();
}

}  // namespace sluice::runtime
