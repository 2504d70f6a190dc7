// What the Kafka operators share: building a librdkafka configuration from a node's
// params (`bootstrap_servers` plus any librdkafka property under `properties`), and
// owning librdkafka handles.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sluice/params.h"

namespace sluice::operators::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaDeleter>;
using KafkaHeaders = std::unique_ptr<rd_kafka_headers_t, KafkaDeleter>;
using KafkaTopic = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;
using KafkaError = std::unique_ptr<rd_kafka_error_t, KafkaDeleter>;

// Reads `bootstrap_servers` (required) and `properties` (a map of librdkafka
// properties, values as text), on top of `defaults`. A property librdkafka refuses is an
// error located at its line.
absl::StatusOr<std::map<std::string, std::string>> ReadProperties(const Param& params,
                                                                   std::map<std::string, std::string> defaults);

// A librdkafka configuration holding `props`; errors name the property.
absl::StatusOr<KafkaConf> MakeConf(const std::map<std::string, std::string>& props, const Param& at);

}  // namespace sluice::operators::kafka
