// hive_partitions: a bounded source reading chosen partitions of a Hive table in
// partition order (dt=2026-11-20..2026-11-24), decoding Hive's default text format into
// the table's columns plus its partition columns (strings, as Hive shows them). The
// schema comes from the table's _ddl/schema.tsv (written by hive_sink) or from `fields`.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::hive {

absl::StatusOr<std::unique_ptr<Source>> MakeHivePartitionsSource(const OperatorConfig& config);

}  // namespace sluice::hive
