#include "operators/hive/register.h"

#include "common/status_macros.h"
#include "operators/hive/hive_partitions_source.h"
#include "operators/hive/hive_sink.h"

namespace sluice::hive {

absl::Status RegisterHiveOperators(OperatorRegistry& r) {
  RETURN_IF_ERROR(r.RegisterSink("hive_sink", MakeHiveSink,
                                 "Hive table partitioned by day (text format, atomic files, _SUCCESS, DDL)"));
  RETURN_IF_ERROR(r.RegisterSource("hive_partitions", MakeHivePartitionsSource,
                                   "replay chosen partitions of a Hive table, in partition order (batch)"));
  return absl::OkStatus();
}

}  // namespace sluice::hive
