// Built-in sources: `file_source` (paths and globs, plain or .gz, split across
// subtasks), `stdin_source`, and `generator` (synthetic keyed records for benchmarks).
// File and stdin sources emit one string field `line` per input line.
//
// With checkpoints, file_source and generator snapshot their position (file_source: the
// splits done and the offset, or for .gz the line count, in the current one; generator:
// the next record and its random engine) and resume exactly there after a restore.
// Restored at another parallelism, the new subtasks share out what the old ones had
// left (file_source: the rest of each old subtask's splits; generator: each old
// subtask's stream of records, which depend on the parallelism the job ran at), so
// every line is read, and every record of the old run generated, exactly once.
// stdin_source cannot be read again: it says so at Open, and what it read before a
// failure is lost.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::StatusOr<std::unique_ptr<Source>> MakeFileSource(const OperatorConfig& config);
absl::StatusOr<std::unique_ptr<Source>> MakeStdinSource(const OperatorConfig& config);
absl::StatusOr<std::unique_ptr<Source>> MakeGeneratorSource(const OperatorConfig& config);

}  // namespace sluice::operators
