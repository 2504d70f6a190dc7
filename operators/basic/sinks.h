// Built-in sinks: `file_sink` (TSV with a header line, or JSON lines; written as
// <path>.inprogress and renamed into place on success, so a reader never sees half a
// file; with parallelism N > 1 subtask i writes <path>-<i>) and `console_sink`
// (TSV rows to stdout, optionally limited).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::StatusOr<std::unique_ptr<Operator>> MakeFileSink(const OperatorConfig& config);
absl::StatusOr<std::unique_ptr<Operator>> MakeConsoleSink(const OperatorConfig& config);

// Appends row `row` of `batch` as TSV (no trailing newline): strings escaped (\\ \t \n
// \r), null as \N, doubles as %.17g.
void AppendTsvRow(const RecordBatch& batch, size_t row, std::string* out);
// The TSV header: field names joined by tabs.
std::string TsvHeader(const Schema& schema);

}  // namespace sluice::operators
