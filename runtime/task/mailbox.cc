#include "runtime/task/mailbox.h"

#include <chrono>

namespace sluice::runtime {

bool Mailbox::Push(MailboxItem item, int64_t* blocked_ns) {
  std::unique_lock<std::mutex> lock(mu_);
  if (items_.size() >= capacity_ && !closed_) {
    auto start = std::chrono::steady_clock::now();
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    if (blocked_ns != nullptr) {
      *blocked_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    }
  }
  if (closed_) return false;
  items_.push_back(std::move(item));
  lock.unlock();
  not_empty_.notify_one();
  return true;
}

bool Mailbox::Pop(MailboxItem* item) {
  std::unique_lock<std::mutex> lock(mu_);
  not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
  if (items_.empty()) return false;
  *item = std::move(items_.front());
  items_.pop_front();
  lock.unlock();
  not_full_.notify_one();
  return true;
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
