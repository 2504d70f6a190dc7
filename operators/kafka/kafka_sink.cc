#include "operators/kafka/kafka_sink.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "operators/kafka/kafka_common.h"
#include "operators/kafka/kafka_headers.h"

namespace sluice::operators::kafka {
namespace {

struct SinkOptions {
  std::map<std::string, std::string> props;
  std::string topic;
  int key_field = -1;
  bool raw = false;
  int value_field = -1;
  std::vector<int> header_fields;  // written as headers named after the field
  int headers_field = -1;          // a JSON object of headers
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
    log_ = ctx.logger();  // a copy: the error callback below uses it too
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
      self->log_.Warn("kafka: %s (%s)", reason, rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
      if (err == RD_KAFKA_RESP_ERR__FATAL) {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->failure_.ok()) self->failure_ = absl::InternalError(absl::StrCat("kafka producer: ", reason));
      }
    });
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof(err)));
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
    topic_ = rd_kafka_topic_new(rk_.get(), o_.topic.c_str(), nullptr);
    log_.Info("producing to %s on %s", o_.topic, o_.props.at("bootstrap.servers"));
    return absl::OkStatus();
  }

  absl::Status Process(int, BatchPtr batch, Collector& out) override {
    RETURN_IF_ERROR(Failure());
    const bool with_headers = o_.headers_field >= 0 || !o_.header_fields.empty();
    for (size_t r = 0; r < batch->num_rows(); ++r) {
      KafkaHeaders hdrs;
      if (with_headers) {
        hdrs.reset(rd_kafka_headers_new(o_.header_fields.size() + 4));
        if (absl::Status st = AddHeaders(*batch, r, hdrs.get()); !st.ok()) {
          out.EmitDeadLetterRow("bad_headers", *batch, r);
          continue;
        }
      }
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
        rd_kafka_resp_err_t e;
        if (hdrs == nullptr) {
          e = rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
                               value.size(), key.empty() ? nullptr : key.data(), key.size(), nullptr) == 0
                  ? RD_KAFKA_RESP_ERR_NO_ERROR
                  : rd_kafka_last_error();
        } else {
          e = rd_kafka_producev(rk_.get(), RD_KAFKA_V_RKT(topic_), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
                                RD_KAFKA_V_HEADERS(hdrs.get()), RD_KAFKA_V_END);
          if (e == RD_KAFKA_RESP_ERR_NO_ERROR) (void)hdrs.release();  // the message owns them now
        }
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
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
  // Adds row `r`'s headers: those of the JSON object in `headers_field`, then one per
  // field of `header_fields` (a null field adds none). INVALID_ARGUMENT for a
  // `headers_field` that is not such an object.
  absl::Status AddHeaders(const RecordBatch& batch, size_t r, rd_kafka_headers_t* hdrs) {
    if (o_.headers_field >= 0 && !batch.column(o_.headers_field).IsNull(r)) {
      RETURN_IF_ERROR(headers_reader_.Add(batch.column(o_.headers_field).strings[r], hdrs));
    }
    for (int f : o_.header_fields) {
      const Column& c = batch.column(f);
      if (c.IsNull(r)) continue;
      const std::string& name = batch.schema()->field(f).name;
      std::string_view value;
      switch (batch.schema()->field(f).type) {
        case Type::kString: value = c.strings[r]; break;
        case Type::kBool: value = c.ints[r] ? "true" : "false"; break;
        case Type::kDouble: {
          char buf[32];
          int n = std::snprintf(buf, sizeof(buf), "%.17g", c.doubles[r]);
          header_scratch_.assign(buf, n);
          value = header_scratch_;
          break;
        }
        default:  // int64, timestamp
          header_scratch_ = std::to_string(c.ints[r]);
          value = header_scratch_;
      }
      rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    return absl::OkStatus();
  }

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
  Logger log_;
  Counter* errors_ = nullptr;
  Counter* delivered_ = nullptr;
  KafkaHandle rk_;
  rd_kafka_topic_t* topic_ = nullptr;
  std::string scratch_;
  std::string key_scratch_;
  std::string header_scratch_;
  HeadersJsonReader headers_reader_;
  std::mutex mu_;
  absl::Status failure_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> MakeKafkaSink(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"bootstrap_servers", "topic", "key", "format", "field", "compression", "partitioner",
                               "headers", "headers_field", "properties", "flush_timeout"}));
  if (config.input_schemas.size() != 1) return p.Error("kafka_sink takes one input");
  const Schema& in = *config.input_schemas[0];
  SinkOptions o;
  o.params = &p;
  // No compression by default: every Kafka client reads uncompressed batches, while lz4
  // (say) is unreadable to kafkajs without a codec plugin. It is also the default of the
  // Java producer, kafkajs and librdkafka. Users opt in to lz4/zstd/gzip/snappy.
  ASSIGN_OR_RETURN(std::string compression, p.GetStringOr("compression", "none"));
  if (compression != "none" && compression != "gzip" && compression != "snappy" && compression != "lz4" &&
      compression != "zstd") {
    return p.Find("compression")->Error(absl::StrCat("expected none, gzip, snappy, lz4 or zstd, got '", compression, "'"));
  }
  // Keyed records go to toPositive(murmur2(key)) % partitions, as with the Java producer
  // and kafkajs, so sluice co-partitions with them (librdkafka's own default,
  // consistent_random, hashes with CRC32); keyless records spread randomly.
  ASSIGN_OR_RETURN(std::string partitioner, p.GetStringOr("partitioner", "murmur2_random"));
  static const char* const kPartitioners[] = {"murmur2_random", "murmur2",     "consistent_random", "consistent",
                                              "fnv1a_random",   "fnv1a",       "random"};
  if (std::find(std::begin(kPartitioners), std::end(kPartitioners), partitioner) == std::end(kPartitioners)) {
    return p.Find("partitioner")
        ->Error(absl::StrCat("expected murmur2_random, murmur2, consistent_random, consistent, fnv1a_random, fnv1a "
                             "or random, got '",
                             partitioner, "'"));
  }
  ASSIGN_OR_RETURN(o.props, ReadProperties(p, {{"enable.idempotence", "true"},
                                               {"acks", "all"},
                                               {"linger.ms", "5"},
                                               {"compression.codec", compression},
                                               {"partitioner", partitioner},
                                               {"client.id", "sluice"}}));
  ASSIGN_OR_RETURN(o.topic, p.GetString("topic"));
  ASSIGN_OR_RETURN(std::string key, p.GetStringOr("key", ""));
  if (!key.empty()) {
    o.key_field = in.IndexOf(key);
    if (o.key_field < 0) return p.Find("key")->Error(absl::StrCat("no input field '", key, "'; fields are: ", in.ToString()));
    Type t = in.field(o.key_field).type;
    if (t == Type::kDouble || t == Type::kNull) return p.Find("key")->Error("the key must be a string or integer field");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> header_fields, p.GetStringListOr("headers"));
  for (const auto& name : header_fields) {
    int f = in.IndexOf(name);
    if (f < 0) return p.Find("headers")->Error(absl::StrCat("no input field '", name, "'; fields are: ", in.ToString()));
    o.header_fields.push_back(f);
  }
  ASSIGN_OR_RETURN(std::string headers_field, p.GetStringOr("headers_field", ""));
  if (!headers_field.empty()) {
    o.headers_field = in.IndexOf(headers_field);
    if (o.headers_field < 0 || in.field(o.headers_field).type != Type::kString) {
      return p.Find("headers_field")
          ->Error(absl::StrCat("headers_field needs a string field holding a JSON object; no string field '",
                               headers_field, "' in: ", in.ToString()));
    }
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
  // Catch bad librdkafka properties when the job is planned (MakeConf names the property).
  ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(o.props, p));
  return std::make_unique<KafkaSink>(std::move(o), config.node_id, config.subtask_index);
}

}  // namespace sluice::operators::kafka
