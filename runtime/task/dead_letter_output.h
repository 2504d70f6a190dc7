// The job's dead-letter output: every record an operator rejects (malformed, filtered by
// a cleaning rule, too late) with the node and reason, as JSON lines
// {"node":"parse","reason":"malformed","record":"<raw input>"} or, for a parsed row,
// {"node":"clean","reason":"bot","row":{...}}. Every line is valid JSON whatever the bytes
// (AppendJsonString); a record that is not UTF-8 also gets "record_base64" (its exact
// bytes), a row "row_base64" ({field: base64} for its string fields that are not UTF-8).
// Tasks format lines into their own buffers
// (FormatLine / FormatRowLine) and hand them over in bulk, so the mutex is taken once per
// buffer, not per record. Without a path, records are only counted. A URI
// ("kafka://HOSTS/TOPIC") goes to the sluice::DeadLetterWriter registered for its
// scheme in the job's OperatorRegistry (sluice/dead_letter.h).
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/dead_letter.h"
#include "sluice/operator.h"
#include "sluice/record.h"

namespace sluice::runtime {

class DeadLetterOutput {
 public:
  DeadLetterOutput() = default;
  ~DeadLetterOutput();
  // Opens `path` for writing (truncating, or appending: a job restarted from a
  // checkpoint keeps the dead letters of its earlier runs). Empty path: count only.
  // A URI opens the writer `registry` has for its scheme; INVALID_ARGUMENT naming the
  // scheme if it has none.
  absl::Status Open(const std::string& path, const OperatorRegistry& registry, bool append = false);
  // Hands buffered lines of a file output to the OS (at checkpoints).
  void Flush();
  bool enabled() const { return !path_.empty(); }
  // Appends one formatted line to `buffer`.
  static void FormatLine(std::string_view node, std::string_view reason, std::string_view record,
                         std::string* buffer);
  static void FormatRowLine(std::string_view node, std::string_view reason, const RecordBatch& batch,
                            size_t row, std::string* buffer);
  // Writes whole lines (thread-safe).
  void WriteLines(std::string_view lines);
  absl::Status Close();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mu_;
  std::FILE* file_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<DeadLetterWriter> writer_ ABSL_GUARDED_BY(mu_);
  absl::Status write_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::runtime
