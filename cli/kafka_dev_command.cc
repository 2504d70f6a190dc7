// `sluice kafka-dev`: a development Kafka cluster (librdkafka's mock, the real Kafka
// protocol over TCP on loopback; operators/kafka/dev_broker.h) in the foreground until
// Ctrl-C.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/signals.h"
#include "common/strings.h"
#include "operators/kafka/dev_broker.h"

namespace sluice::cli {
namespace {

struct KafkaDevFlags {
  int brokers = 3;
  int port = 0;                     // 0: no fixed bootstrap port
  std::vector<std::string> topics;  // name[:partitions]
  std::string bootstrap_file;       // write the bootstrap servers here once up
};

int KafkaDev(const KafkaDevFlags& flags) {
  BlockTerminationSignals();
  std::vector<std::pair<std::string, int>> topics;
  for (const std::string& t : flags.topics) {
    size_t colon = t.rfind(':');
    int partitions = 1;
    std::string name = t.substr(0, colon);
    if (colon != std::string::npos && (!absl::SimpleAtoi(Sv(t.substr(colon + 1)), &partitions) || partitions < 1)) {
      std::fprintf(stderr, "error: --topic %s: expected NAME or NAME:PARTITIONS (a number >= 1)\n", t.c_str());
      return 2;
    }
    if (name.empty()) {
      std::fprintf(stderr, "error: --topic %s: empty topic name\n", t.c_str());
      return 2;
    }
    topics.emplace_back(name, partitions);
  }
  auto broker = operators::kafka::DevBroker::Start(flags.brokers);
  if (!broker.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(broker.status().message()).c_str());
    return 1;
  }
  for (const auto& [name, partitions] : topics) {
    absl::Status st = (*broker)->CreateTopic(name, partitions);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return 1;
    }
  }
  std::string bootstrap = (*broker)->bootstrap_servers();
  if (flags.port != 0) {
    auto port = (*broker)->ServeBootstrapPort(flags.port);
    if (!port.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(port.status().message()).c_str());
      return 1;
    }
    bootstrap = absl::StrCat("127.0.0.1:", *port, ",", bootstrap);
  }
  std::fprintf(stderr,
               "sluice kafka-dev: %d broker(s) speaking the Kafka protocol (librdkafka's mock cluster)\n"
               "  bootstrap servers: %s\n",
               flags.brokers, bootstrap.c_str());
  for (const auto& [name, partitions] : topics) {
    std::fprintf(stderr, "  topic %s: %d partition(s)\n", name.c_str(), partitions);
  }
  std::fprintf(stderr,
               "  limits: topics with a chosen partition count only via --topic (auto-created ones get 4);\n"
               "          each partition keeps only ~5 MB (older messages are dropped): consume while producing;\n"
               "          offsets committed inside a transaction do not show as the group's offsets.\n"
               "  for development and tests only; Ctrl-C stops it.\n");
  std::printf("%s\n", bootstrap.c_str());
  std::fflush(stdout);
  if (!flags.bootstrap_file.empty()) {
    std::string tmp = flags.bootstrap_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr || std::fprintf(f, "%s\n", bootstrap.c_str()) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), flags.bootstrap_file.c_str()) != 0) {
      std::fprintf(stderr, "error: cannot write %s\n", flags.bootstrap_file.c_str());
      return 1;
    }
  }
  int sig = WaitForTerminationSignal();
  std::fprintf(stderr, "sluice kafka-dev: signal %d, stopping\n", sig);
  return 0;
}

}  // namespace

void AddKafkaDevCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<KafkaDevFlags>();
  CLI::App* cmd = app.add_subcommand(
      "kafka-dev", "Run a development Kafka cluster (real Kafka protocol on loopback) until Ctrl-C");
  cmd->add_option("--brokers", f->brokers, "Number of brokers")->capture_default_str()->check(CLI::Range(1, 16));
  cmd->add_option("--port", f->port, "Also accept bootstrap connections on 127.0.0.1:PORT")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--topic", f->topics, "Create a topic: NAME or NAME:PARTITIONS; repeatable");
  cmd->add_option("--bootstrap-file", f->bootstrap_file, "Write the bootstrap servers to this file once up");
  cmd->callback([f, exit_code] { *exit_code = KafkaDev(*f); });
}

}  // namespace sluice::cli
