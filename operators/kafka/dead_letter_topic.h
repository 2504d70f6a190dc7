// Makes `dead_letter: kafka://HOST:PORT[,HOST:PORT...]/TOPIC` send a job's dead letters
// to a Kafka topic (see dead_letter_topic.cc). Registered for the scheme "kafka" by
// RegisterKafkaOperators, through the SDK (sluice/dead_letter.h).
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/dead_letter.h"

namespace sluice::operators::kafka {

// The writer for `uri` (kafka://HOSTS/TOPIC): an idempotent producer, one message per
// dead letter. INVALID_ARGUMENT naming the URI if it is malformed.
absl::StatusOr<std::unique_ptr<DeadLetterWriter>> OpenDeadLetterTopic(std::string_view uri);

}  // namespace sluice::operators::kafka
