// Dead letters to a Kafka topic: `dead_letter: kafka://HOST:PORT[,HOST:PORT...]/TOPIC`.
// Each dead letter is one message (the JSON line, without its newline), keyed by the
// operator that rejected the record, from an idempotent producer; closing the job waits
// until all are acknowledged and fails it if any was not.
#include "operators/kafka/dead_letter_topic.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "operators/kafka/kafka_common.h"

namespace sluice::operators::kafka {
namespace {

class DeadLetterTopic : public DeadLetterWriter {
 public:
  static absl::StatusOr<std::unique_ptr<DeadLetterWriter>> Open(std::string_view uri) {
    std::string rest(uri.substr(uri.find("://") + 3));
    size_t slash = rest.rfind('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dead_letter ", std::string(uri), ": expected kafka://HOST:PORT[,HOST:PORT...]/TOPIC"));
    }
    auto w = std::make_unique<DeadLetterTopic>();
    w->topic_name_ = rest.substr(slash + 1);
    KafkaConf conf(rd_kafka_conf_new());
    char err[512];
    for (const auto& [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", rest.substr(0, slash)},
                                                                  {"enable.idempotence", "true"},
                                                                  {"linger.ms", "20"},
                                                                  {"client.id", "sluice-dead-letters"}}) {
      if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        return absl::InvalidArgumentError(absl::StrCat("dead_letter ", std::string(uri), ": ", err));
      }
    }
    rd_kafka_conf_set_opaque(conf.get(), w.get());
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<DeadLetterTopic*>(opaque);
      if (m->err) {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->failure_.ok()) {
          self->failure_ = absl::UnavailableError(absl::StrCat("a dead letter was not delivered to topic ",
                                                               self->topic_name_, ": ", rd_kafka_err2str(m->err)));
        }
      }
    });
    w->rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof(err)));
    if (w->rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("dead_letter ", std::string(uri), ": ", err));
    w->topic_ = rd_kafka_topic_new(w->rk_.get(), w->topic_name_.c_str(), nullptr);
    return std::unique_ptr<DeadLetterWriter>(std::move(w));
  }

  ~DeadLetterTopic() override {
    if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
  }

  absl::Status Write(std::string_view lines) override {
    size_t start = 0;
    while (start < lines.size()) {
      size_t end = lines.find('\n', start);
      if (end == std::string_view::npos) end = lines.size();
      std::string_view line = lines.substr(start, end - start);
      start = end + 1;
      if (line.empty()) continue;
      // Key: the operator ("node") that rejected it, so one operator's letters stay in order.
      std::string_view key;
      if (line.starts_with("{\"node\":\"")) {
        size_t q = line.find('"', 9);
        if (q != std::string_view::npos) key = line.substr(9, q - 9);
      }
      while (rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(line.data()),
                              line.size(), key.data(), key.size(), nullptr) != 0) {
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          return absl::InternalError(absl::StrCat("dead letters to ", topic_name_, ": ", rd_kafka_err2str(e)));
        }
        rd_kafka_poll(rk_.get(), 50);
      }
    }
    rd_kafka_poll(rk_.get(), 0);
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }

  absl::Status Close() override {
    rd_kafka_resp_err_t e = rd_kafka_flush(rk_.get(), 60000);
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) return failure_;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::DeadlineExceededError(absl::StrCat(rd_kafka_outq_len(rk_.get()), " dead letter(s) not acknowledged by ",
                                                      topic_name_, " within 60 s"));
    }
    return absl::OkStatus();
  }

 private:
  std::string topic_name_;
  KafkaHandle rk_;
  rd_kafka_topic_t* topic_ = nullptr;
  std::mutex mu_;
  absl::Status failure_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeadLetterWriter>> OpenDeadLetterTopic(std::string_view uri) {
  return DeadLetterTopic::Open(uri);
}

}  // namespace sluice::operators::kafka
