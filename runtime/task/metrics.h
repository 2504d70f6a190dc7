// Per-node metrics, shared by all subtasks of a node: written by task threads with
// relaxed atomics, read by the progress reporter and the summary. Named counters and
// dead-letter counts per reason are created under a mutex (rarely: on Open, or on a
// reason's first dead letter) and then bumped lock-free.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "sluice/operator.h"

namespace sluice::runtime {

class NodeMetrics {
 public:
  Counter records_in;
  Counter records_out;
  Counter filtered;
  Counter backpressure_ns;

  // The counter named `name` (created on first use). The pointer stays valid.
  Counter* GetCounter(std::string_view name);
  Counter* DeadLetterCounter(std::string_view reason);
  std::map<std::string, int64_t> Counters() const;
  std::map<std::string, int64_t> DeadLetters() const;
  int64_t TotalDeadLetters() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> counters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Counter>, std::less<>> dead_letters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::runtime
