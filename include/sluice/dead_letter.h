/// Dead-letter writers: where a job's rejected records go when its `dead_letter` setting
/// is a URI ("kafka://HOST:PORT/TOPIC") rather than a file path.
///
/// Built-ins and plugins register a writer for a URI scheme in the OperatorRegistry
/// (OperatorRegistry::RegisterDeadLetterWriter, next to their operators); the runtime
/// opens one writer per job (per worker on a cluster) with the job's URI and hands it
/// every dead-letter line. A file path needs no writer: the runtime writes the file.
///
/// Contract of a DeadLetterWriter: Write gets whole JSON lines, each ending in '\n'
/// ({"node":"parse","reason":"malformed","record":"..."}), several per call, from any
/// task thread, one call at a time (the runtime serializes calls); it may buffer. Close
/// is called once, after the last Write: it delivers everything or says what was lost,
/// and that error fails the job.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

class DeadLetterWriter {
 public:
  virtual ~DeadLetterWriter() = default;
  /// Writes whole lines. A non-OK status fails the job.
  virtual absl::Status Write(std::string_view lines) = 0;
  virtual absl::Status Close() = 0;
};

/// Opens a writer for `uri` (the whole URI, scheme included). INVALID_ARGUMENT, naming
/// the URI, if the rest of it is malformed.
using DeadLetterWriterFactory =
    std::function<absl::StatusOr<std::unique_ptr<DeadLetterWriter>>(std::string_view uri)>;

}  // namespace sluice
