// `sluice kafka-dev`: a development Kafka cluster in the foreground (operators/kafka/
// dev_broker.h) until Ctrl-C.
#pragma once

#include <string>
#include <vector>

namespace sluice::cli {

struct KafkaDevFlags {
  int brokers = 3;
  int port = 0;                     // 0: no fixed bootstrap port
  std::vector<std::string> topics;  // name[:partitions]
  std::string bootstrap_file;       // write the bootstrap servers here once up
};

int KafkaDev(const KafkaDevFlags& flags);

}  // namespace sluice::cli
