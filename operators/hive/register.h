// Registers hive_sink and hive_partitions.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::hive {

absl::Status RegisterHiveOperators(OperatorRegistry& registry);

}  // namespace sluice::hive
