// kafka_sink's delivery guarantees against a real librdkafka client talking TCP to the
// in-process mock cluster (DevBroker): at least once (Snapshot waits for the
// acknowledgements) and exactly once (a transaction per checkpoint from a pool of
// transactional producers, committed on completion, aborted on Close, in-doubt
// transactions reported on restore, checkpoints declined when the pool is taken).
//
// What the mock of librdkafka 2.0.2 cannot show (README.md): it accepts the transaction
// requests but keeps no transaction state. Aborted records stay readable, read_committed
// consumers see everything, and a second producer initialising the same
// transactional.id does not fence the first (MockDoesNotFence... pins that down). Faults
// injected into its replies show that the requests do reach it.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "operators/kafka/dev_broker.h"
#include "operators/kafka/kafka_sink.h"
#include "operators/kafka/kafka_transactions.h"
#include "operators/testing/operator_harness.h"

namespace sluice::operators::kafka {
namespace {

using ::sluice::testing::BatchOf;
using ::sluice::testing::MapSnapshotReader;
using ::sluice::testing::MapSnapshotWriter;
using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;
using ::sluice::testing::Value;

// Kafka protocol request types, for fault injection.
constexpr int kInitProducerId = 22;
constexpr int kAddPartitionsToTxn = 24;
constexpr int kEndTxn = 26;

class CapturedLog : public LogSink {
 public:
  bool Enabled(LogLevel) const override { return true; }
  void Write(LogLevel, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(line);
  }
  // True if a line contains `text`.
  bool Has(std::string_view text) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& l : lines_) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string All() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// A TestContext whose logger keeps the lines, with checkpoints on.
class SinkContext : public TestContext {
 public:
  SinkContext() : TestContext(false, "sink") { checkpointing_enabled = true; }
  Logger logger() const override { return Logger::ForOperator(log, job_id(), node_id(), subtask_index()); }
  std::shared_ptr<CapturedLog> log = std::make_shared<CapturedLog>();
};

Param Params(std::vector<std::pair<std::string, Param>> entries) {
  Param p = Param::Map(std::move(entries));
  p.SetLocation("k.yaml", 3, "operators[0]");
  return p;
}

SchemaPtr Schema() { return ::sluice::testing::MakeSchema({{"v", Type::kString}}); }

BatchPtr Rows(const std::vector<std::string>& values) {
  std::vector<std::vector<Value>> rows;
  for (const auto& v : values) rows.push_back({v});
  return BatchOf(Schema(), rows);
}

// Reads the values of partition 0 of `topic` with a read_committed consumer (from the
// beginning; until `n` arrived or 10 s passed).
std::vector<std::string> ReadCommitted(const std::string& bootstrap, const std::string& topic, size_t n) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "verify", err, sizeof(err));
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  std::vector<std::string> out;
  if (rk == nullptr) return out;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) out.emplace_back(static_cast<const char*>(m->payload), m->len);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

class KafkaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = DevBroker::Start(1);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->CreateTopic("out", 1).ok());
  }

  // kafka_sink params writing raw values of field `v` to topic "out", plus `extra`.
  Param SinkParams(std::vector<std::pair<std::string, Param>> extra) {
    std::vector<std::pair<std::string, Param>> entries = {
        {"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
        {"topic", Param::String("out")},
        {"format", Param::String("raw")},
        {"field", Param::String("v")}};
    for (auto& e : extra) entries.push_back(std::move(e));
    return Params(std::move(entries));
  }
  Param ExactlyOnce(std::vector<std::pair<std::string, Param>> extra = {}) {
    extra.emplace_back("delivery", Param::String("exactly_once"));
    return SinkParams(std::move(extra));
  }

  static absl::StatusOr<std::unique_ptr<Operator>> Make(const Param& params) {
    OperatorConfig config;
    config.node_id = "sink";
    config.params = &params;
    config.input_schemas = {Schema()};
    return MakeKafkaSink(config);
  }

  std::unique_ptr<DevBroker> broker_;
  TestCollector out_;
};

TEST_F(KafkaSinkTest, AtLeastOnceSnapshotWaitsForEveryAcknowledgement) {
  Param params = SinkParams({});
  auto sink = Make(params);
  ASSERT_TRUE(sink.ok()) << sink.status();
  SinkContext ctx;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0, Rows({"a", "b", "c"}), out_).ok());
  MapSnapshotWriter writer(1);
  ASSERT_TRUE((*sink)->Snapshot(writer).ok());
  // Acknowledged before the checkpoint could complete; nothing to restore.
  EXPECT_EQ(ctx.counter("kafka_delivered"), 3);
  EXPECT_TRUE(writer.blobs.empty());
  ASSERT_TRUE((*sink)->NotifyCheckpointComplete(1).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 0);
}

TEST_F(KafkaSinkTest, ExactlyOnceCommitsOneTransactionPerCheckpointWhenItCompletes) {
  Param params = ExactlyOnce();
  auto sink = Make(params);
  ASSERT_TRUE(sink.ok()) << sink.status();
  SinkContext ctx;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  EXPECT_TRUE(ctx.log->Has("transactional.id sluice-sink-0-0..sluice-sink-0-4")) << ctx.log->All();

  ASSERT_TRUE((*sink)->Process(0, Rows({"a", "b"}), out_).ok());
  MapSnapshotWriter cp1(1);
  ASSERT_TRUE((*sink)->Snapshot(cp1).ok());
  EXPECT_EQ(ctx.counter("kafka_delivered"), 2);  // flushed: prepared
  EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 0);
  EXPECT_EQ(cp1.blobs["kafka_sink"], "prefix\tsluice-sink\nsubtask\t0\npool\t5\npending\t1\t0\n");

  // Checkpoint 1 fails (no notification): its transaction stays pending, the records
  // after its barrier go into another producer's transaction, and checkpoint 2 names both.
  ASSERT_TRUE((*sink)->Process(0, Rows({"c"}), out_).ok());
  MapSnapshotWriter cp2(2);
  ASSERT_TRUE((*sink)->Snapshot(cp2).ok());
  EXPECT_EQ(cp2.blobs["kafka_sink"], "prefix\tsluice-sink\nsubtask\t0\npool\t5\npending\t1\t0\npending\t2\t1\n");
  ASSERT_TRUE((*sink)->NotifyCheckpointComplete(2).ok());
  EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 2);

  // A checkpoint without records has no transaction; the end of input's checkpoint
  // commits the last one.
  MapSnapshotWriter cp3(3);
  ASSERT_TRUE((*sink)->Snapshot(cp3).ok());
  EXPECT_EQ(cp3.blobs["kafka_sink"], "prefix\tsluice-sink\nsubtask\t0\npool\t5\n");
  ASSERT_TRUE((*sink)->NotifyCheckpointComplete(3).ok());
  ASSERT_TRUE((*sink)->Process(0, Rows({"d"}), out_).ok());
  ASSERT_TRUE((*sink)->OnEndOfInput(out_).ok());
  MapSnapshotWriter cp4(4);
  ASSERT_TRUE((*sink)->Snapshot(cp4).ok());
  EXPECT_EQ(cp4.blobs["kafka_sink"], "prefix\tsluice-sink\nsubtask\t0\npool\t5\npending\t4\t2\n");
  ASSERT_TRUE((*sink)->NotifyCheckpointComplete(4).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 3);
  EXPECT_EQ(ctx.counter("kafka_transactions_aborted"), 0);
  EXPECT_EQ(ReadCommitted(broker_->bootstrap_servers(), "out", 4), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(KafkaSinkTest, ExactlyOnceRequestsReachTheBroker) {
  // The mock keeps no transaction state, but it answers each request: an error injected
  // into its answer to InitProducerId, AddPartitionsToTxn or EndTxn shows the sink sent it.
  Param params = ExactlyOnce({{"transactional_id_prefix", Param::String("job7-out")}});
  {
    broker_->FailNextRequests(kInitProducerId, {RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED});
    auto sink = Make(params);
    ASSERT_TRUE(sink.ok()) << sink.status();
    SinkContext ctx;
    absl::Status st = (*sink)->Open(ctx);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("init_transactions for transactional.id job7-out-0-0"), std::string::npos) << st;
  }
  {
    // A record is produced inside a transaction: its partition is added to it first.
    broker_->FailNextRequests(kAddPartitionsToTxn, {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED});
    auto sink = Make(params);
    ASSERT_TRUE(sink.ok()) << sink.status();
    SinkContext ctx;
    ASSERT_TRUE((*sink)->Open(ctx).ok());
    ASSERT_TRUE((*sink)->Process(0, Rows({"x"}), out_).ok());
    MapSnapshotWriter cp(1);
    absl::Status st = (*sink)->Snapshot(cp);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("not delivered"), std::string::npos) << st;
    EXPECT_NE(st.message().find("its transaction failed"), std::string::npos) << st;
    (void)(*sink)->Close();
  }
  {
    // The commit is an EndTxn; a fenced producer cannot commit, and the checkpoint's
    // records are lost (what a zombie attempt meets on a real broker).
    broker_->FailNextRequests(kEndTxn, {RD_KAFKA_RESP_ERR_PRODUCER_FENCED});
    auto sink = Make(params);
    ASSERT_TRUE(sink.ok()) << sink.status();
    SinkContext ctx;
    ASSERT_TRUE((*sink)->Open(ctx).ok());
    ASSERT_TRUE((*sink)->Process(0, Rows({"y"}), out_).ok());
    MapSnapshotWriter cp(1);
    ASSERT_TRUE((*sink)->Snapshot(cp).ok());
    absl::Status st = (*sink)->NotifyCheckpointComplete(1);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
    EXPECT_NE(st.message().find("commit of transaction job7-out-0-0 for checkpoint 1"), std::string::npos) << st;
    EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 0);
    (void)(*sink)->Close();
  }
}

TEST_F(KafkaSinkTest, ExactlyOnceCloseWithoutNotificationAbortsTheTransactions) {
  Param params = ExactlyOnce();
  auto sink = Make(params);
  ASSERT_TRUE(sink.ok()) << sink.status();
  SinkContext ctx;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0, Rows({"a"}), out_).ok());
  MapSnapshotWriter cp(1);
  ASSERT_TRUE((*sink)->Snapshot(cp).ok());
  ASSERT_TRUE((*sink)->Process(0, Rows({"b"}), out_).ok());
  // Cancelled: checkpoint 1 pending, a transaction current.
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ctx.counter("kafka_transactions_aborted"), 2);
  EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 0);
  EXPECT_TRUE(ctx.log->Has("closing before the checkpoint(s) 1 completed here")) << ctx.log->All();
}

TEST_F(KafkaSinkTest, ExactlyOnceDeclinesACheckpointThatWouldTakeTheLastFreeProducer) {
  Param params = ExactlyOnce({{"producer_pool_size", Param::Number(2, "2")}});
  auto sink = Make(params);
  ASSERT_TRUE(sink.ok()) << sink.status();
  SinkContext ctx;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0, Rows({"a"}), out_).ok());
  MapSnapshotWriter cp1(1);
  ASSERT_TRUE((*sink)->Snapshot(cp1).ok());
  ASSERT_TRUE((*sink)->Process(0, Rows({"b"}), out_).ok());
  MapSnapshotWriter cp2(2);
  absl::Status st = (*sink)->Snapshot(cp2);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_NE(st.message().find("producer_pool_size"), std::string::npos) << st;
  // Declined: "b" stays in the current transaction, which the next checkpoint takes.
  ASSERT_TRUE((*sink)->Process(0, Rows({"c"}), out_).ok());
  ASSERT_TRUE((*sink)->NotifyCheckpointComplete(1).ok());
  MapSnapshotWriter cp3(3);
  ASSERT_TRUE((*sink)->Snapshot(cp3).ok());
  EXPECT_EQ(cp3.blobs["kafka_sink"], "prefix\tsluice-sink\nsubtask\t0\npool\t2\npending\t3\t1\n");
  // After the end of input no record follows: the last free producer may be taken.
  ASSERT_TRUE((*sink)->Process(0, Rows({"d"}), out_).ok());
  ASSERT_TRUE((*sink)->OnEndOfInput(out_).ok());
  MapSnapshotWriter cp4(4);
  ASSERT_TRUE((*sink)->Snapshot(cp4).ok());
  ASSERT_TRUE((*sink)->NotifyCheckpointComplete(4).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 3);
  EXPECT_EQ(ReadCommitted(broker_->bootstrap_servers(), "out", 4), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(KafkaSinkTest, ExactlyOnceRestoreReportsInDoubtTransactionsAndFencesRetiredIds) {
  std::map<std::string, std::string> blobs;
  {
    Param params = ExactlyOnce({{"transactional_id_prefix", Param::String("old")}});
    auto sink = Make(params);
    ASSERT_TRUE(sink.ok()) << sink.status();
    SinkContext ctx;
    ASSERT_TRUE((*sink)->Open(ctx).ok());
    ASSERT_TRUE((*sink)->Process(0, Rows({"a"}), out_).ok());
    MapSnapshotWriter cp(1);
    ASSERT_TRUE((*sink)->Snapshot(cp).ok());
    blobs = cp.blobs;
    // The process dies before checkpoint 1's notification: no Close.
  }
  Param params = ExactlyOnce({{"transactional_id_prefix", Param::String("new")}});
  auto sink = Make(params);
  ASSERT_TRUE(sink.ok()) << sink.status();
  SinkContext ctx;
  MapSnapshotReader reader(blobs);
  ASSERT_TRUE((*sink)->Restore(reader).ok());
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  EXPECT_EQ(ctx.counter("kafka_transactions_in_doubt"), 1);
  EXPECT_TRUE(ctx.log->Has("may not have been committed before the failure: old-0-0 (checkpoint 1)")) << ctx.log->All();
  // The old pool's ids are fenced (a real broker aborts what they left open).
  EXPECT_TRUE(ctx.log->Has("fencing transactional.id old-0-0,")) << ctx.log->All();
  EXPECT_TRUE(ctx.log->Has("fencing transactional.id old-0-4,")) << ctx.log->All();
  ASSERT_TRUE((*sink)->Process(0, Rows({"b"}), out_).ok());
  MapSnapshotWriter cp(2);
  ASSERT_TRUE((*sink)->Snapshot(cp).ok());
  EXPECT_EQ(cp.blobs["kafka_sink"], "prefix\tnew\nsubtask\t0\npool\t5\npending\t2\t0\n");
  ASSERT_TRUE((*sink)->NotifyCheckpointComplete(2).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ctx.counter("kafka_transactions_committed"), 1);
}

TEST_F(KafkaSinkTest, MockDoesNotFenceAnEarlierProducerWithTheSameTransactionalId) {
  // On a real broker, init_transactions by a second producer with the same
  // transactional.id bumps the epoch: the first producer's commit fails (fenced). The
  // mock of librdkafka 2.0.2 hands every producer a fresh producer id at epoch 0, so both
  // go on. If this starts failing after a librdkafka upgrade, the mock fences: turn this
  // into the fencing test (expect ABORTED/DATA_LOSS naming the id).
  Param params = ExactlyOnce();
  auto sink = Make(params);
  ASSERT_TRUE(sink.ok()) << sink.status();
  SinkContext ctx;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0, Rows({"a"}), out_).ok());
  MapSnapshotWriter cp(1);
  ASSERT_TRUE((*sink)->Snapshot(cp).ok());

  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker_->bootstrap_servers().c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "transactional.id", "sluice-sink-0-0", err, sizeof(err));
  KafkaHandle zombie_hunter(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)));
  ASSERT_NE(zombie_hunter, nullptr) << err;
  KafkaError e(rd_kafka_init_transactions(zombie_hunter.get(), 10000));
  ASSERT_EQ(e, nullptr) << rd_kafka_error_string(e.get());

  absl::Status st = (*sink)->NotifyCheckpointComplete(1);
  EXPECT_TRUE(st.ok()) << "the mock fences now: " << st;
  ASSERT_TRUE((*sink)->Close().ok());
}

TEST_F(KafkaSinkTest, ExactlyOnceNeedsCheckpoints) {
  Param params = ExactlyOnce();
  auto sink = Make(params);
  ASSERT_TRUE(sink.ok()) << sink.status();
  SinkContext ctx;
  ctx.checkpointing_enabled = false;
  absl::Status st = (*sink)->Open(ctx);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("this job takes no checkpoints"), std::string::npos) << st;
  EXPECT_NE(st.message().find("k.yaml:3"), std::string::npos) << st;
}

TEST_F(KafkaSinkTest, DeliveryParamsAreChecked) {
  auto error_of = [&](const Param& params) {
    auto sink = Make(params);
    return sink.ok() ? std::string("ok") : std::string(sink.status().message());
  };
  EXPECT_NE(error_of(SinkParams({{"delivery", Param::String("exactly-once")}})).find("expected at_least_once or"),
            std::string::npos);
  EXPECT_NE(error_of(SinkParams({{"transactional_id_prefix", Param::String("p")}}))
                .find("transactional_id_prefix needs delivery: exactly_once"),
            std::string::npos);
  EXPECT_NE(error_of(ExactlyOnce({{"producer_pool_size", Param::Number(1, "1")}})).find("expected 2 to 64"),
            std::string::npos);
  EXPECT_NE(error_of(ExactlyOnce({{"transactional_id_prefix", Param::String("")}})).find("non-empty prefix"),
            std::string::npos);
  EXPECT_NE(error_of(ExactlyOnce({{"properties", Params({{"transactional.id", Param::String("mine")}})}}))
                .find("sets transactional.id itself"),
            std::string::npos);
  EXPECT_EQ(error_of(ExactlyOnce({{"transaction_timeout", Param::String("5m")}})), "ok");
}

TEST(TransactionStateTest, EncodesAndDecodes) {
  TransactionState s;
  s.prefix = "job-out";
  s.subtask = 3;
  s.pool_size = 5;
  s.pending = {{7, 2}, {8, 3}};
  auto back = TransactionState::Decode(s.Encode());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->prefix, "job-out");
  EXPECT_EQ(back->subtask, 3);
  EXPECT_EQ(back->pool_size, 5);
  EXPECT_EQ(back->pending, s.pending);
  EXPECT_EQ(back->ids().back(), "job-out-3-4");
  EXPECT_EQ(TransactionState::Decode("prefix\tp\npool\t2\npending\t1\t5\n").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(TransactionState::Decode("garbage").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace sluice::operators::kafka
