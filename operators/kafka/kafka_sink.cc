#include "operators/kafka/kafka_sink.h"

#include <atomic>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "operators/kafka/kafka_common.h"

namespace sluice::operators::kafka {
namespace {

struct SinkOptions {
  std::map<std::string, std::string> props;
  std::string topic;
  int key_field = -1;
  bool raw = false;
  int value_field = -1;
  int64_t flush_timeout_ms = 60000;
  const Param* params = nullptr;
};

class KafkaSink : public Operator {
 public:
  KafkaSink(SinkOptions o, std::string node, int subtask) : o_(std::move(o)), node_(std::move(node)), subtask_(subtask) {}
  ~KafkaSink() override {
    if (rk_ != nullptr) rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }
  SchemaPtr output_schema() const override { return nullptr; }

  absl::Status Open(Context& ctx) override {
    log_ = GetLogger("kafka");
    errors_ = ctx.GetCounter("kafka_errors");
    delivered_ = ctx.GetCounter("kafka_delivered");
    ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(o_.props, *o_.params));
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<KafkaSink*>(opaque);
      if (m->err) {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->failure_.ok()) {
          self->failure_ = absl::UnavailableError(absl::StrCat("kafka: a record for topic ", self->o_.topic,
                                                               " was not delivered: ", rd_kafka_err2str(m->err)));
        }
      } else {
        self->delivered_->Add(1);
      }
    });
    rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t*, int err, const char* reason, void* opaque) {
      auto* self = static_cast<KafkaSink*>(opaque);
      self->errors_->Add(1);
      SLUICE_LOG_WARN(self->log_, "{}#{}: kafka: {} ({})", self->node_, self->subtask_, reason,
                      rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
      if (err == RD_KAFKA_RESP_ERR__FATAL) {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->failure_.ok()) self->failure_ = absl::InternalError(absl::StrCat("kafka producer: ", reason));
      }
    });
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof(err)));
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
    topic_ = rd_kafka_topic_new(rk_.get(), o_.topic.c_str(), nullptr);
    SLUICE_LOG_INFO(log_, "{}#{}: producing to {} on {}", node_, subtask_, o_.topic, o_.props.at("bootstrap.servers"));
    return absl::OkStatus();
  }

  absl::Status Process(int, BatchPtr batch, Collector&) override {
    RETURN_IF_ERROR(Failure());
    for (size_t r = 0; r < batch->num_rows(); ++r) {
      std::string_view value;
      if (o_.raw) {
        value = batch->column(o_.value_field).IsNull(r) ? std::string_view() : batch->column(o_.value_field).strings[r];
      } else {
        scratch_.clear();
        batch->AppendRowJson(r, &scratch_);
        value = scratch_;
      }
      std::string_view key;
      if (o_.key_field >= 0 && !batch->column(o_.key_field).IsNull(r)) {
        const Column& kc = batch->column(o_.key_field);
        if (kc.type == Type::kString) {
          key = kc.strings[r];
        } else {
          key_scratch_ = std::to_string(kc.ints[r]);
          key = key_scratch_;
        }
      }
      while (true) {
        int rc = rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
                                  value.size(), key.empty() ? nullptr : key.data(), key.size(), nullptr);
        if (rc == 0) break;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          return absl::InternalError(absl::StrCat("kafka produce to ", o_.topic, ": ", rd_kafka_err2str(e)));
        }
        rd_kafka_poll(rk_.get(), 50);  // queue full: wait for deliveries (backpressure)
        RETURN_IF_ERROR(Failure());
      }
    }
    rd_kafka_poll(rk_.get(), 0);
    return Failure();
  }

  absl::Status OnEndOfInput(Collector&) override { return Flush(); }

  absl::Status Close() override {
    absl::Status st = rk_ != nullptr ? Flush() : absl::OkStatus();
    if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
    topic_ = nullptr;
    rk_.reset();
    return st;
  }

 private:
  absl::Status Failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }

  absl::Status Flush() {
    rd_kafka_resp_err_t e = rd_kafka_flush(rk_.get(), static_cast<int>(o_.flush_timeout_ms));
    RETURN_IF_ERROR(Failure());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::DeadlineExceededError(absl::StrCat("kafka: ", rd_kafka_outq_len(rk_.get()),
                                                      " record(s) still unacknowledged by ", o_.topic, " after ",
                                                      o_.flush_timeout_ms, " ms"));
    }
    return absl::OkStatus();
  }

  SinkOptions o_;
  std::string node_;
  int subtask_;
  std::shared_ptr<spdlog::logger> log_;
  Counter* errors_ = nullptr;
  Counter* delivered_ = nullptr;
  KafkaHandle rk_;
  rd_kafka_topic_t* topic_ = nullptr;
  std::string scratch_;
  std::string key_scratch_;
  std::mutex mu_;
  absl::Status failure_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> MakeKafkaSink(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"bootstrap_servers", "topic", "key", "format", "field", "compression", "properties",
                               "flush_timeout"}));
  if (config.input_schemas.size() != 1) return p.Error("kafka_sink takes one input");
  const Schema& in = *config.input_schemas[0];
  SinkOptions o;
  o.params = &p;
  ASSIGN_OR_RETURN(std::string compression, p.GetStringOr("compression", "lz4"));
  if (compression != "none" && compression != "gzip" && compression != "snappy" && compression != "lz4" &&
      compression != "zstd") {
    return p.Find("compression")->Error(absl::StrCat("expected none, gzip, snappy, lz4 or zstd, got '", compression, "'"));
  }
  ASSIGN_OR_RETURN(o.props, ReadProperties(p, {{"enable.idempotence", "true"},
                                               {"acks", "all"},
                                               {"linger.ms", "5"},
                                               {"compression.codec", compression},
                                               {"client.id", "sluice"}}));
  ASSIGN_OR_RETURN(o.topic, p.GetString("topic"));
  ASSIGN_OR_RETURN(std::string key, p.GetStringOr("key", ""));
  if (!key.empty()) {
    o.key_field = in.IndexOf(key);
    if (o.key_field < 0) return p.Find("key")->Error(absl::StrCat("no input field '", key, "'; fields are: ", in.ToString()));
    Type t = in.field(o.key_field).type;
    if (t == Type::kDouble || t == Type::kNull) return p.Find("key")->Error("the key must be a string or integer field");
  }
  ASSIGN_OR_RETURN(std::string format, p.GetStringOr("format", "json"));
  if (format == "raw") {
    o.raw = true;
    ASSIGN_OR_RETURN(std::string field, p.GetStringOr("field", "value"));
    o.value_field = in.IndexOf(field);
    if (o.value_field < 0 || in.field(o.value_field).type != Type::kString) {
      return p.Error(absl::StrCat("format raw needs a string field '", field, "'; fields are: ", in.ToString()));
    }
  } else if (format != "json") {
    return p.Find("format")->Error(absl::StrCat("expected json or raw, got '", format, "'"));
  }
  ASSIGN_OR_RETURN(o.flush_timeout_ms, p.GetDurationMsOr("flush_timeout", 60000));
  if (!config.plan_only) {
    ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(o.props, p));
  }
  return std::make_unique<KafkaSink>(std::move(o), config.node_id, config.subtask_index);
}

}  // namespace sluice::operators::kafka
