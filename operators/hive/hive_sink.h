// hive_sink: rows into a Hive table under a warehouse root,
// <root>/<db>.db/<table>/dt=YYYY-MM-DD[/hour=HH]/part-*, partitioned by each row's event
// time in a time zone, in Hive's default text format (hive_text.h), optionally gzip or
// zstd. Files are written hidden (.part-*.inprogress) and renamed into place when
// finished; a partition gets _SUCCESS once the watermark passes its end (every subtask
// done with it). Writes _ddl/create_table.sql, _ddl/partitions/*.sql (ALTER TABLE ADD
// PARTITION) and _ddl/schema.tsv next to the data.
//
// append (streaming default): files are added to partitions; with checkpoints they are
// committed when the checkpoint completes (or a later one: each checkpoint names all
// that is not committed yet, and a restore from it commits that). overwrite (batch
// default, refused with checkpoints): each partition the job wrote is replaced
// atomically at the end, so re-running a day is safe.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::hive {

absl::StatusOr<std::unique_ptr<Operator>> MakeHiveSink(const OperatorConfig& config);

}  // namespace sluice::hive
