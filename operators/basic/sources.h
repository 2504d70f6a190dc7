// Built-in sources: `file_source` (paths and globs, plain or .gz, split across
// subtasks), `stdin_source`, and `generator` (synthetic keyed records for benchmarks).
// File and stdin sources emit one string field `line` per input line.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::StatusOr<std::unique_ptr<Source>> MakeFileSource(const OperatorConfig& config);
absl::StatusOr<std::unique_ptr<Source>> MakeStdinSource(const OperatorConfig& config);
absl::StatusOr<std::unique_ptr<Source>> MakeGeneratorSource(const OperatorConfig& config);

}  // namespace sluice::operators
