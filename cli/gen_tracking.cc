#include "cli/gen_tracking.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "absl/strings/str_format.h"

namespace sluice::cli {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One event as a JSON line (no newline). Event time is the wall clock, moved back by up
// to 2 s (app events arrive late); a malformed event is one of: cut-off JSON, a missing
// user_id, an unknown event type.
std::string Event(std::mt19937_64& rng, const TrackingFlags& f, int64_t seq, std::string* user_key) {
  static const char* kTypes[] = {"page_view", "page_view", "page_view", "page_view", "page_view", "page_view",
                                 "click",     "click",     "click",     "add_to_cart", "add_to_cart", "order"};
  static const char* kDevices[] = {"ios", "android", "web", "miniprogram"};
  int user = static_cast<int>(rng() % f.users);
  // Popular items: a skewed pick (the square of a uniform draw favours low ids).
  double u = (rng() % 1000000) / 1e6;
  int item = static_cast<int>(u * u * f.items);
  int category = item % f.categories;
  const char* type = kTypes[rng() % 12];
  int64_t ts = NowMs() - static_cast<int64_t>(rng() % 2000);
  *user_key = absl::StrFormat("u%d", user);
  std::string line = absl::StrFormat(
      "{\"event_id\":%d,\"user_id\":\"u%d\",\"event_type\":\"%s\",\"item_id\":\"i%d\",\"category\":\"c%d\","
      "\"device\":\"%s\",\"ts\":%d}",
      seq, user, type, item, category, kDevices[rng() % 4], ts);
  if ((rng() % 1000000) / 1e6 < f.malformed) {
    switch (rng() % 3) {
      case 0:
        line.resize(line.size() / 2);  // cut off mid-object
        break;
      case 1:
        line = absl::StrFormat("{\"event_id\":%d,\"event_type\":\"%s\",\"item_id\":\"i%d\",\"ts\":%d}", seq, type,
                               item, ts);
        break;
      default:
        line = absl::StrFormat("{\"event_id\":%d,\"user_id\":\"u%d\",\"event_type\":\"teleport\",\"ts\":%d}", seq,
                               user, ts);
    }
  }
  return line;
}

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  if (m->err) ++*static_cast<int64_t*>(opaque);
}

}  // namespace

int GenTracking(const TrackingFlags& f) {
  if (f.out.empty() == f.topic.empty() || (!f.topic.empty() && f.bootstrap.empty())) {
    std::fprintf(stderr, "error: give either --out FILE or --bootstrap-servers HOSTS --topic TOPIC\n");
    return 2;
  }
  std::mt19937_64 rng(f.seed);
  std::FILE* file = nullptr;
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* topic = nullptr;
  int64_t failed = 0;
  if (!f.out.empty()) {
    file = std::fopen(f.out.c_str(), "w");
    if (file == nullptr) {
      std::fprintf(stderr, "error: cannot write %s\n", f.out.c_str());
      return 1;
    }
  } else {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f.bootstrap.c_str(), err, sizeof(err));
    rd_kafka_conf_set(conf, "linger.ms", "20", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
    rd_kafka_conf_set(conf, "client.id", "sluice-gen-tracking", err, sizeof(err));
    rd_kafka_conf_set_opaque(conf, &failed);
    rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == nullptr) {
      std::fprintf(stderr, "error: kafka producer: %s\n", err);
      return 1;
    }
    topic = rd_kafka_topic_new(rk, f.topic.c_str(), nullptr);
  }
  auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  std::string key;
  for (int64_t i = 0; i < f.events; ++i) {
    if (f.rate > 0 && i % 100 == 0) {
      std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                std::chrono::duration<double>(i / f.rate)));
    }
    std::string line = Event(rng, f, i, &key);
    if (file != nullptr) {
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), file);
      continue;
    }
    while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, line.data(), line.size(), key.data(),
                            key.size(), nullptr) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "error: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
        return 1;
      }
      rd_kafka_poll(rk, 50);
    }
    rd_kafka_poll(rk, 0);
    auto now = std::chrono::steady_clock::now();
    if (now - last_report > std::chrono::seconds(2)) {
      last_report = now;
      std::fprintf(stderr, "gen tracking: %lld events sent to %s\n", static_cast<long long>(i + 1), f.topic.c_str());
    }
  }
  if (file != nullptr) {
    bool ok = std::fclose(file) == 0;
    std::fprintf(stderr, "wrote %lld tracking events to %s\n", static_cast<long long>(f.events), f.out.c_str());
    return ok ? 0 : 1;
  }
  rd_kafka_resp_err_t e = rd_kafka_flush(rk, 60000);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  if (e || failed > 0) {
    std::fprintf(stderr, "error: %lld event(s) not delivered to %s\n", static_cast<long long>(failed), f.topic.c_str());
    return 1;
  }
  std::fprintf(stderr, "gen tracking: %lld events delivered to %s in %.1f s\n", static_cast<long long>(f.events),
               f.topic.c_str(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}

}  // namespace sluice::cli
