// Built-in sources: `file_source` (paths and globs, plain or .gz, split across
// subtasks), `stdin_source`, and `generator` (synthetic keyed records for benchmarks).
// File and stdin sources emit one string field `line` per input line.
//
// With checkpoints, file_source and generator snapshot their position (file_source: the
// splits done and the offset, or for .gz the line count, in the current one; generator:
// the next record and its random engine) and resume exactly there after a restore.
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
