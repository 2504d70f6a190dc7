// A development Kafka cluster inside this process: librdkafka's mock cluster, which
// speaks the real Kafka protocol over TCP on loopback, so any Kafka client (sluice,
// kcat, a Java app) can produce to it and consume from it. `sluice kafka-dev` runs one.
//
// Limits of the mock in librdkafka 2.0.2: topics with a chosen partition count must be
// created here (CreateTopics from a client times out; auto-created topics get 4
// partitions); each partition keeps only about 5 MB, older messages are dropped; offsets
// sent inside a transaction do not show up as the group's committed offsets.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace sluice::operators::kafka {

class DevBroker {
 public:
  // Starts `brokers` brokers on random loopback ports.
  static absl::StatusOr<std::unique_ptr<DevBroker>> Start(int brokers);
  ~DevBroker();

  absl::Status CreateTopic(const std::string& name, int partitions);
  // "127.0.0.1:PORT,127.0.0.1:PORT,...".
  std::string bootstrap_servers() const;
  // Forwards connections to 127.0.0.1:`port` to the first broker, so clients can
  // bootstrap from a fixed address (the brokers themselves keep their random ports,
  // which the cluster metadata advertises). Returns the bound port.
  absl::StatusOr<int> ServeBootstrapPort(int port);
  // Takes a broker down or brings it back (1-based ids), for outage tests.
  absl::Status SetBrokerUp(int broker, bool up);
  // Makes the next requests of Kafka protocol type `api_key` (e.g. 26, EndTxn) fail with
  // `errors` (rd_kafka_resp_err_t codes), one request each, in order: fault injection.
  void FailNextRequests(int api_key, const std::vector<int>& errors);
  int brokers() const { return brokers_; }

 private:
  DevBroker() = default;
  void ProxyLoop();

  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  int brokers_ = 0;
  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  std::thread proxy_;
};

}  // namespace sluice::operators::kafka
