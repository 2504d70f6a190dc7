#include "operators/kafka/register.h"

#include "common/status_macros.h"
#include "operators/kafka/dead_letter_topic.h"
#include "operators/kafka/kafka_sink.h"
#include "operators/kafka/kafka_source.h"

namespace sluice::operators {

absl::Status RegisterKafkaOperators(OperatorRegistry& r) {
  RETURN_IF_ERROR(r.RegisterSource("kafka_source", kafka::MakeKafkaSource,
                                   "Kafka topics (librdkafka); partitions split across subtasks"));
  RETURN_IF_ERROR(r.RegisterSink("kafka_sink", kafka::MakeKafkaSink, "records to a Kafka topic (idempotent producer)"));
  RETURN_IF_ERROR(r.RegisterDeadLetterWriter("kafka", kafka::OpenDeadLetterTopic, "kafka://HOST:PORT[,HOST:PORT...]/TOPIC"));
  return absl::OkStatus();
}

}  // namespace sluice::operators
