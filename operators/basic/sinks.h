// Built-in sinks: `file_sink` (TSV with a header line, or JSON lines) and `console_sink`
// (TSV rows to stdout, optionally limited).
//
// file_sink without checkpoints writes <path>.inprogress.<run id> and renames it onto
// <path> once the input has ended, so a reader never sees half a file; with parallelism
// N > 1 subtask i writes <path>-<i>. When the job takes checkpoints it writes part files
// instead, <path>.part-00000, <path>.part-00001, ... (<path>-<i>.part-NNNNN per subtask
// with N > 1), each published when the checkpoint covering it completes; concatenated in
// order they are what the sink writes into <path> without checkpoints (part_files.h).
// Restored at another parallelism, the new subtasks publish every old subtask's pending
// parts once, drop what the old ones wrote after the checkpoint, and number on after the
// parts already published, so no part is lost, doubled or overwritten; the output of
// a subtask that no longer exists stays where it is (part_files.h, "Rescaling").
//
// console_sink cannot take back what it printed: with checkpoints it prints at least
// once (the lines after the last checkpoint repeat after a restore), and says so at Open.
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
