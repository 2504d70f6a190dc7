#include "operators/kafka/kafka_sink.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "operators/kafka/kafka_common.h"
#include "operators/kafka/kafka_headers.h"
#include "operators/kafka/kafka_transactions.h"

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
  bool exactly_once = false;
  std::string transactional_id_prefix;  // with exactly_once
  int producer_pool_size = 5;           // with exactly_once
  const Param* params = nullptr;
};

constexpr std::string_view kStateBlob = "kafka_sink";

// One subtask of kafka_sink. At least once (the default): one idempotent producer;
// Snapshot waits for every record before the barrier to be acknowledged, so a completed
// checkpoint never misses one (a restart may send some again). Exactly once: a
// TransactionPool (kafka_transactions.h); Snapshot prepares the current transaction for
// the checkpoint, NotifyCheckpointComplete commits it, Close aborts what is left.
class KafkaSink : public Operator {
 public:
  KafkaSink(SinkOptions o, std::string node, int subtask) : o_(std::move(o)), node_(std::move(node)), subtask_(subtask) {}
  ~KafkaSink() override {
    // Before the members the callbacks use (mu_, failure_) go. An open transaction is
    // left to the broker (aborted after transaction.timeout.ms, or by the next attempt).
    txns_.reset();
    if (producer_.rk != nullptr) rd_kafka_purge(producer_.rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    producer_ = TopicProducer();
  }
  SchemaPtr output_schema() const override { return nullptr; }

  absl::Status Restore(SnapshotReader& reader) override {
    std::string blob;
    if (!reader.Read(kStateBlob, &blob)) return absl::OkStatus();
    ASSIGN_OR_RETURN(restored_, TransactionState::Decode(blob));
    return absl::OkStatus();
  }

  absl::Status Open(Context& ctx) override {
    log_ = ctx.logger();  // a copy: the error callback below uses it too
    errors_ = ctx.GetCounter("kafka_errors");
    delivered_ = ctx.GetCounter("kafka_delivered");
    if (!o_.exactly_once) {
      RETURN_IF_ERROR(FenceRestoredIds({}));
      ASSIGN_OR_RETURN(producer_, MakeProducer(""));
      log_.Info("producing to %s on %s (at least once)", o_.topic, o_.props.at("bootstrap.servers"));
      return absl::OkStatus();
    }
    if (!ctx.checkpointing()) {
      return o_.params->Find("delivery")->Error(
          "delivery: exactly_once commits one Kafka transaction per checkpoint, and this job takes no checkpoints: "
          "add `checkpoint: {dir: ..., interval: ...}` to the topology, or use delivery: at_least_once");
    }
    TransactionPool::Counters counters{ctx.GetCounter("kafka_transactions_committed"),
                                       ctx.GetCounter("kafka_transactions_aborted")};
    txns_ = std::make_unique<TransactionPool>(
        o_.transactional_id_prefix, subtask_, o_.producer_pool_size, o_.flush_timeout_ms,
        [this](const std::string& id) { return MakeProducer(id); }, counters);
    std::vector<std::string> ids;
    for (int k = 0; k < txns_->size(); ++k) ids.push_back(txns_->id(k));
    if (restored_.has_value() && !restored_->pending.empty()) {
      // The checkpoint completed, so these should be committed; but librdkafka cannot
      // commit another producer's transaction, and init_transactions below aborts any of
      // them whose commit did not happen before the failure (see kafka_transactions.h).
      std::string which;
      for (const auto& [checkpoint, k] : restored_->pending) {
        absl::StrAppend(&which, which.empty() ? "" : ", ", TransactionalId(restored_->prefix, restored_->subtask, k),
                        " (checkpoint ", checkpoint, ")");
      }
      ctx.GetCounter("kafka_transactions_in_doubt")->Add(static_cast<int64_t>(restored_->pending.size()));
      log_.Warn("the restored checkpoint names transactions that may not have been committed before the failure: %s. "
                "Any of them still open is aborted now, and its records are lost (librdkafka cannot commit a "
                "transaction begun by another producer)",
                which);
    }
    RETURN_IF_ERROR(FenceRestoredIds(ids));
    RETURN_IF_ERROR(txns_->Open());
    log_.Info("producing to %s on %s (exactly once: a transaction per checkpoint, transactional.id %s..%s)", o_.topic,
              o_.props.at("bootstrap.servers"), ids.front(), ids.back());
    return absl::OkStatus();
  }

  absl::Status Process(int, BatchPtr batch, Collector& out) override {
    RETURN_IF_ERROR(Failure());
    if (batch->num_rows() == 0) return absl::OkStatus();
    TopicProducer* p = &producer_;
    if (txns_ != nullptr) {
      ASSIGN_OR_RETURN(p, txns_->Current());
    }
    rd_kafka_t* rk = p->rk.get();
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
          e = rd_kafka_produce(p->topic.get(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                               const_cast<char*>(value.data()), value.size(), key.empty() ? nullptr : key.data(),
                               key.size(), nullptr) == 0
                  ? RD_KAFKA_RESP_ERR_NO_ERROR
                  : rd_kafka_last_error();
        } else {
          e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(p->topic.get()), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
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
        rd_kafka_poll(rk, 50);  // queue full: wait for deliveries (backpressure)
        RETURN_IF_ERROR(Failure());
      }
    }
    rd_kafka_poll(rk, 0);
    return Failure();
  }

  absl::Status OnEndOfInput(Collector&) override {
    finished_ = true;
    if (txns_ == nullptr) return Flush(producer_);
    // The transaction is committed by the checkpoint the runtime takes after the end of
    // input; flushing now reports a delivery failure sooner.
    return txns_->current() != nullptr ? Flush(*txns_->current()) : absl::OkStatus();
  }

  absl::Status Snapshot(SnapshotWriter& writer) override {
    if (txns_ == nullptr) {
      // At least once: a completed checkpoint covers only acknowledged records.
      return producer_.rk != nullptr ? Flush(producer_) : absl::OkStatus();
    }
    RETURN_IF_ERROR(
        txns_->Prepare(writer.checkpoint_id(), !finished_, [this](TopicProducer& p) { return Flush(p); }));
    writer.Write(kStateBlob, txns_->state().Encode());
    return absl::OkStatus();
  }

  absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) override {
    if (txns_ == nullptr) return absl::OkStatus();
    RETURN_IF_ERROR(Failure());
    return txns_->Commit(checkpoint_id);
  }

  absl::Status Close() override {
    absl::Status st;
    if (txns_ != nullptr) {
      // Whatever is not committed now never will be by this attempt: abort it rather
      // than leave it open (open transactions hold back read_committed consumers until
      // transaction.timeout.ms). The current transaction's records come again after a
      // restart; a pending one's checkpoint either failed (its records come again too)
      // or completed without its notification reaching us (those records are lost).
      std::vector<int64_t> pending;
      st = txns_->AbortAll(&pending);
      if (!pending.empty()) {
        log_.Warn("closing before the checkpoint(s) %s completed here: their transactions are aborted",
                  absl::StrJoin(pending, ", "));
      }
      if (!st.ok()) log_.Warn("%s", st.message());
      txns_.reset();
      return st;
    }
    st = producer_.rk != nullptr ? Flush(producer_) : absl::OkStatus();
    producer_ = TopicProducer();
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

  absl::Status Flush(TopicProducer& p) {
    rd_kafka_resp_err_t e = rd_kafka_flush(p.rk.get(), static_cast<int>(o_.flush_timeout_ms));
    RETURN_IF_ERROR(Failure());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::DeadlineExceededError(absl::StrCat("kafka: ", rd_kafka_outq_len(p.rk.get()),
                                                      " record(s) still unacknowledged by ", o_.topic, " after ",
                                                      o_.flush_timeout_ms, " ms"));
    }
    return absl::OkStatus();
  }

  // A producer for the sink's topic, transactional when `transactional_id` is not empty.
  absl::StatusOr<TopicProducer> MakeProducer(const std::string& transactional_id) {
    ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(o_.props, *o_.params));
    char err[512];
    if (!transactional_id.empty() &&
        rd_kafka_conf_set(conf.get(), "transactional.id", transactional_id.c_str(), err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka transactional.id ", transactional_id, ": ", err));
    }
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<KafkaSink*>(opaque);
      if (m->err) {
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->failure_.ok()) {
          const bool purged = m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
          self->failure_ = absl::UnavailableError(absl::StrCat(
              "kafka: a record for topic ", self->o_.topic, " was not delivered: ", rd_kafka_err2str(m->err),
              purged && self->o_.exactly_once ? " (its transaction failed; librdkafka's TXNERR log line says why)"
                                               : ""));
        }
      } else {
        self->delivered_->Add(1);
      }
    });
    rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t* rk, int err, const char* reason, void* opaque) {
      auto* self = static_cast<KafkaSink*>(opaque);
      self->errors_->Add(1);
      self->log_.Warn("kafka %s: %s (%s)", rd_kafka_name(rk), reason,
                      rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
      if (err == RD_KAFKA_RESP_ERR__FATAL) {
        // E.g. a transactional producer fenced by a later one with its transactional.id.
        std::lock_guard<std::mutex> lock(self->mu_);
        if (self->failure_.ok()) self->failure_ = absl::InternalError(absl::StrCat("kafka producer: ", reason));
      }
    });
    TopicProducer p;
    p.rk.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.release(), err, sizeof(err)));
    if (p.rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
    p.topic.reset(rd_kafka_topic_new(p.rk.get(), o_.topic.c_str(), nullptr));
    return p;
  }

  // Fences the transactional ids of the restored checkpoint's pool that are not among
  // `ids` (the prefix or pool size changed, or exactly once was turned off), so that
  // transactions an earlier attempt left open there are aborted rather than holding back
  // read_committed consumers until they time out.
  absl::Status FenceRestoredIds(const std::vector<std::string>& ids) {
    if (!restored_.has_value()) return absl::OkStatus();
    for (const std::string& id : restored_->ids()) {
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
      log_.Info("fencing transactional.id %s, which the restored checkpoint used", id);
      RETURN_IF_ERROR(FenceTransactionalId([this](const std::string& i) { return MakeProducer(i); }, id,
                                           o_.flush_timeout_ms));
    }
    return absl::OkStatus();
  }

  SinkOptions o_;
  std::string node_;
  int subtask_;
  Logger log_;
  Counter* errors_ = nullptr;
  Counter* delivered_ = nullptr;
  TopicProducer producer_;                 // at least once
  std::unique_ptr<TransactionPool> txns_;  // exactly once
  std::optional<TransactionState> restored_;
  bool finished_ = false;
  std::string scratch_;
  std::string key_scratch_;
  std::string header_scratch_;
  HeadersJsonReader headers_reader_;
  std::mutex mu_;
  absl::Status failure_;
};

// Reads `delivery` and, for exactly_once, the transaction params into `o`, and the
// transaction timeout into the librdkafka `defaults`. INVALID_ARGUMENT (at the param)
// for an unknown delivery or a transaction param without exactly_once.
absl::Status ReadDelivery(const Param& p, const OperatorConfig& config, SinkOptions* o,
                          std::map<std::string, std::string>* defaults) {
  ASSIGN_OR_RETURN(std::string delivery, p.GetStringOr("delivery", "at_least_once"));
  if (delivery != "at_least_once" && delivery != "exactly_once") {
    return p.Find("delivery")->Error(absl::StrCat("expected at_least_once or exactly_once, got '", delivery, "'"));
  }
  o->exactly_once = delivery == "exactly_once";
  if (!o->exactly_once) {
    for (const char* name : {"transactional_id_prefix", "producer_pool_size", "transaction_timeout"}) {
      if (p.Find(name) != nullptr) return p.Find(name)->Error(absl::StrCat(name, " needs delivery: exactly_once"));
    }
    return absl::OkStatus();
  }
  // Stable across runs and attempts, so that the next one fences the ids of the last
  // (the job id changes with each `sluice run`). Two jobs writing to one Kafka cluster
  // through kafka_sink nodes of the same id must set different prefixes.
  ASSIGN_OR_RETURN(o->transactional_id_prefix,
                   p.GetStringOr("transactional_id_prefix", absl::StrCat("sluice-", config.node_id)));
  if (o->transactional_id_prefix.empty() ||
      o->transactional_id_prefix.find_first_of("\t\n\r") != std::string::npos) {
    return p.Find("transactional_id_prefix")->Error("expected a non-empty prefix without tabs or line breaks");
  }
  ASSIGN_OR_RETURN(int64_t pool, p.GetIntOr("producer_pool_size", 5));
  if (pool < 2 || pool > 64) {
    // One transaction takes the records while others wait for their checkpoints' completion.
    return p.Find("producer_pool_size")->Error(absl::StrCat("expected 2 to 64 producers, got ", pool));
  }
  o->producer_pool_size = static_cast<int>(pool);
  // librdkafka's and Kafka's default; the broker refuses more than its
  // transaction.max.timeout.ms (15 minutes by default).
  ASSIGN_OR_RETURN(int64_t timeout_ms, p.GetDurationMsOr("transaction_timeout", 60000));
  if (timeout_ms < 1000) return p.Find("transaction_timeout")->Error("expected at least 1s");
  (*defaults)["transaction.timeout.ms"] = std::to_string(timeout_ms);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> MakeKafkaSink(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"bootstrap_servers", "topic", "key", "format", "field", "compression", "partitioner",
                               "headers", "headers_field", "properties", "flush_timeout", "delivery",
                               "transactional_id_prefix", "producer_pool_size", "transaction_timeout"}));
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
  std::map<std::string, std::string> defaults = {{"enable.idempotence", "true"},    {"acks", "all"},
                                                 {"linger.ms", "5"},                {"compression.codec", compression},
                                                 {"partitioner", partitioner},      {"client.id", "sluice"}};
  RETURN_IF_ERROR(ReadDelivery(p, config, &o, &defaults));
  ASSIGN_OR_RETURN(o.props, ReadProperties(p, std::move(defaults)));
  if (o.props.count("transactional.id") != 0) {
    return p.Find("properties")
        ->Error("kafka_sink sets transactional.id itself: use delivery: exactly_once (and transactional_id_prefix)");
  }
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
