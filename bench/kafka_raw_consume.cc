// The raw librdkafka consumer a Kafka job is measured against: reads every partition of
// a topic from the beginning to its end offsets with the same batch API sluice's
// kafka_source uses (rd_kafka_consume_batch_queue), touches each payload (a byte sum, so
// nothing is optimized away) and does nothing else.
//   kafka_raw_consume --bootstrap HOSTS --topic T
// Prints "messages=<N> bytes=<B> seconds=<S> messages_per_sec=<R>" to stderr.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Reads a whole Kafka topic with librdkafka as fast as it can (benchmark baseline)"};
  std::string bootstrap, topic;
  app.add_option("--bootstrap", bootstrap, "Bootstrap servers")->required();
  app.add_option("--topic", topic, "Topic")->required();
  std::vector<std::string> props;
  app.add_option("-X", props, "Extra librdkafka property key=value; repeatable");
  CLI11_PARSE(app, argc, argv);
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "raw-consume-bench", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  for (const auto& kv : props) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos ||
        rd_kafka_conf_set(conf, kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "bad property %s: %s\n", kv.c_str(), err);
      return 2;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::fprintf(stderr, "kafka: %s\n", err);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "kafka: no metadata\n");
    return 1;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(64);
  for (int t = 0; t < md->topic_cnt; ++t) {
    if (topic != md->topics[t].topic) continue;
    for (int p = 0; p < md->topics[t].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), md->topics[t].partitions[p].id)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  rd_kafka_metadata_destroy(md);
  int remaining = list->cnt;
  if (remaining == 0) {
    std::fprintf(stderr, "kafka: no topic %s\n", topic.c_str());
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);
  std::vector<rd_kafka_message_t*> msgs(2048);
  int64_t count = 0, bytes = 0;
  uint64_t sum = 0;
  while (remaining > 0) {
    ssize_t n = rd_kafka_consume_batch_queue(queue, 100, msgs.data(), msgs.size());
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs[i];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        --remaining;
      } else if (!m->err) {
        ++count;
        bytes += static_cast<int64_t>(m->len);
        const unsigned char* p = static_cast<const unsigned char*>(m->payload);
        for (size_t k = 0; k < m->len; k += 64) sum += p[k];
      }
      rd_kafka_message_destroy(m);
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "messages=%lld bytes=%lld seconds=%.3f messages_per_sec=%.0f (checksum %llu)\n",
               static_cast<long long>(count), static_cast<long long>(bytes), s, count / s,
               static_cast<unsigned long long>(sum));
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}
