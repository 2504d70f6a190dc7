// The job's dead-letter output: every record an operator rejects (malformed, filtered by
// a cleaning rule, too late) with the node and reason, as JSON lines
// {"node":"parse","reason":"malformed","record":"..."}. Written by every task thread
// under one mutex (dead letters are the exception, not the flow). Without a path,
// records are only counted.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

namespace sluice::runtime {

class DeadLetterOutput {
 public:
  DeadLetterOutput() = default;
  ~DeadLetterOutput();
  // Opens `path` for writing (truncating). Empty path: count only.
  absl::Status Open(const std::string& path);
  void Write(std::string_view node, std::string_view reason, std::string_view record);
  absl::Status Close();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
  std::FILE* file_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string line_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::runtime
