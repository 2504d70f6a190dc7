// spooldir_source: Flume's spooling-directory source. Watches a directory, reads each
// completed file once (plain or .gz) as lines, and marks it done by renaming it with a
// suffix (or moving it to a done directory). With checkpoints on, progress (the file
// being read, the lines read, every file read but not yet marked, also those of earlier
// checkpoints whose notify never came) is part of the job's checkpoint, and files are
// marked done only once a checkpoint covering their last line is durable, or by a
// restore from a checkpoint naming them: a restart from any completed checkpoint
// neither re-reads nor skips a line. See README.md.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::StatusOr<std::unique_ptr<Source>> MakeSpoolDirSource(const OperatorConfig& config);
absl::Status RegisterSpoolOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
