// Registers the Kafka operators: kafka_source, kafka_sink.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::Status RegisterKafkaOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
