// Registers the Kafka operators (kafka_source, kafka_sink) and the dead-letter writer
// for `kafka://HOSTS/TOPIC`.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::Status RegisterKafkaOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
