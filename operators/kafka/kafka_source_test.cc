// kafka_source against a real librdkafka client talking TCP to the in-process mock
// cluster (DevBroker): partition ownership, bounded reads, per-partition watermarks with
// idle partitions, partition discovery, and kafka_sink delivery.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "operators/kafka/dev_broker.h"
#include "operators/kafka/kafka_sink.h"
#include "operators/kafka/kafka_source.h"
#include "operators/testing/operator_harness.h"

namespace sluice::operators::kafka {
namespace {

using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;

// Produces `n` messages "p<partition>-<i>" to one partition with explicit timestamps.
void Produce(const std::string& bootstrap, const std::string& topic, int partition, int n, int64_t first_ts,
             int64_t step_ms) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_NE(rk, nullptr) << err;
  for (int i = 0; i < n; ++i) {
    std::string v = "p" + std::to_string(partition) + "-" + std::to_string(i);
    ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE(v.data(), v.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_TIMESTAMP(first_ts + i * step_ms), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

// Produces `values` to one partition, all with Kafka timestamp `ts`.
void ProduceValues(const std::string& bootstrap, const std::string& topic, int partition,
                   const std::vector<std::string>& values, int64_t ts) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_NE(rk, nullptr) << err;
  for (const auto& v : values) {
    ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

Param Params(std::vector<std::pair<std::string, Param>> entries) {
  Param p = Param::Map(std::move(entries));
  p.SetLocation("k.yaml", 3, "operators[0]");
  return p;
}

struct Run {
  std::unique_ptr<Source> source;
  TestContext ctx;
  TestCollector out;
};

std::unique_ptr<Run> Open(const Param& p, int subtask, int parallelism) {
  OperatorConfig config;
  config.node_id = "events";
  config.params = &p;
  config.subtask_index = subtask;
  config.parallelism = parallelism;
  auto src = MakeKafkaSource(config);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return nullptr;
  auto run = std::make_unique<Run>();
  run->source = std::move(*src);
  absl::Status st = run->source->Open(run->ctx);
  EXPECT_TRUE(st.ok()) << st;
  return run;
}

std::set<std::string> Values(const TestCollector& out) {
  std::set<std::string> v;
  for (const auto& b : out.batches) {
    for (size_t r = 0; r < b->num_rows(); ++r) v.insert(std::string(b->column(1).strings[r]));
  }
  return v;
}

class KafkaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = DevBroker::Start(1);
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
  }
  std::unique_ptr<DevBroker> broker_;
};

TEST_F(KafkaSourceTest, BoundedSubtasksSplitThePartitionsAndReadEachRecordOnce) {
  ASSERT_TRUE(broker_->CreateTopic("t", 3).ok());
  for (int p = 0; p < 3; ++p) Produce(broker_->bootstrap_servers(), "t", p, 50, 1000, 1);
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("t")},
                         {"start", Param::String("earliest")},
                         {"bounded", Param::Bool(true)}});
  std::set<std::string> all;
  size_t total = 0;
  for (int s = 0; s < 2; ++s) {
    auto run = Open(params, s, 2);
    ASSERT_NE(run, nullptr);
    for (int i = 0; i < 200; ++i) {
      auto more = run->source->Poll(run->out);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
    }
    // Subtask 0 owns partitions 0 and 2, subtask 1 owns partition 1.
    std::set<std::string> mine = Values(run->out);
    EXPECT_EQ(mine.size(), s == 0 ? 100u : 50u);
    for (const auto& v : mine) EXPECT_EQ(v[1] == '1', s == 1) << v;
    total += run->out.num_rows();
    all.insert(mine.begin(), mine.end());
    ASSERT_TRUE(run->source->Close().ok());
  }
  EXPECT_EQ(total, 150u);
  EXPECT_EQ(all.size(), 150u);
}

TEST_F(KafkaSourceTest, PerPartitionWatermarksLeaveIdlePartitionsOut) {
  ASSERT_TRUE(broker_->CreateTopic("w", 2).ok());
  // Partition 0 is far ahead in event time; partition 1 lags.
  Produce(broker_->bootstrap_servers(), "w", 0, 20, 1'000'000, 1000);  // up to 1,019,000
  Produce(broker_->bootstrap_servers(), "w", 1, 20, 500'000, 1000);    // up to 519,000
  // The idle timeout must outlast reading both partitions, even on a loaded machine.
  Param wm = Params({{"max_out_of_orderness", Param::String("1s")}, {"idle_timeout", Param::String("3s")}});
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("w")},
                         {"start", Param::String("earliest")},
                         {"watermarks", wm}});
  auto run = Open(params, 0, 1);
  ASSERT_NE(run, nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (run->out.num_rows() < 40 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(run->source->Poll(run->out).ok());
  }
  ASSERT_EQ(run->out.num_rows(), 40u);
  // Event time is the Kafka timestamp.
  std::set<int64_t> ts;
  for (const auto& b : run->out.batches) ts.insert(b->timestamps().begin(), b->timestamps().end());
  EXPECT_EQ(*ts.begin(), 500'000);
  ASSERT_FALSE(run->out.watermarks.empty());
  // While both partitions are active the watermark is held by the lagging one.
  EXPECT_EQ(run->out.watermarks.back(), 519'000 - 1000);
  // Both go quiet: past the idle timeout the subtask follows the clock instead of
  // stalling at the lagging partition's time.
  std::this_thread::sleep_for(std::chrono::milliseconds(3200));
  ASSERT_TRUE(run->source->Poll(run->out).ok());
  EXPECT_GT(run->out.watermarks.back(), 1'019'000);
  // Watermarks never go back.
  for (size_t i = 1; i < run->out.watermarks.size(); ++i) {
    EXPECT_GT(run->out.watermarks[i], run->out.watermarks[i - 1]);
  }
  ASSERT_TRUE(run->source->Close().ok());
}

TEST_F(KafkaSourceTest, EventTimeFromAFieldDrivesPerPartitionWatermarks) {
  ASSERT_TRUE(broker_->CreateTopic("f", 2).ok());
  // Kafka timestamps say 5,000,000 everywhere; the events' own times differ per partition.
  ProduceValues(broker_->bootstrap_servers(), "f", 0,
                {R"({"ts": 1000000, "u": "a"})", R"({"u": "b", "ts": "1004000"})", R"({"u": "no time"})",
                 R"({"ts": 1002000.0})", "not json"},
                5'000'000);
  ProduceValues(broker_->bootstrap_servers(), "f", 1, {R"({"ts": 700000})", R"({"ts": 701000, "x": [1, 2]})"},
                5'000'000);
  Param wm = Params({{"field", Param::String("ts")},
                     {"max_out_of_orderness", Param::String("500ms")},
                     {"idle_timeout", Param::String("3s")}});
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("f")},
                         {"start", Param::String("earliest")},
                         {"watermarks", wm}});
  auto run = Open(params, 0, 1);
  ASSERT_NE(run, nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (run->out.num_rows() + run->out.dead_letters.size() < 7 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(run->source->Poll(run->out).ok());
  }
  ASSERT_EQ(run->out.num_rows(), 5u);
  std::multiset<int64_t> ts;
  for (const auto& b : run->out.batches) ts.insert(b->timestamps().begin(), b->timestamps().end());
  EXPECT_EQ(ts, (std::multiset<int64_t>{700'000, 701'000, 1'000'000, 1'002'000, 1'004'000}));
  // The value without the field and the one that is not JSON are dead letters.
  ASSERT_EQ(run->out.dead_letters.size(), 2u);
  EXPECT_EQ(run->out.DeadLetters("missing_event_time"), 2u);
  // The lagging partition 1 holds the watermark: 701,000 - 500.
  ASSERT_FALSE(run->out.watermarks.empty());
  EXPECT_EQ(run->out.watermarks.back(), 701'000 - 500);
  ASSERT_TRUE(run->source->Close().ok());
}

TEST_F(KafkaSourceTest, ARestoredSourceResumesAtTheCheckpointedOffsets) {
  ASSERT_TRUE(broker_->CreateTopic("c", 2).ok());
  for (int p = 0; p < 2; ++p) Produce(broker_->bootstrap_servers(), "c", p, 30, 1000, 1);
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("c")},
                         {"start", Param::String("earliest")},
                         {"bounded", Param::Bool(true)}});
  std::map<std::string, std::string> saved;
  std::set<std::string> first;
  {
    auto run = Open(params, 0, 1);
    ASSERT_NE(run, nullptr);
    for (int i = 0; i < 200; ++i) {
      auto more = run->source->Poll(run->out);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
    }
    first = Values(run->out);
    ASSERT_EQ(first.size(), 60u);
    ::sluice::testing::MapSnapshotWriter w(1);
    ASSERT_TRUE(run->source->Snapshot(w).ok());
    saved = w.blobs;
    ASSERT_TRUE(run->source->NotifyCheckpointComplete(1).ok());
    ASSERT_TRUE(run->source->Close().ok());
  }
  // More records arrive; a source restored from the checkpoint reads only those, though
  // `start: earliest` would read everything again.
  for (int p = 0; p < 2; ++p) Produce(broker_->bootstrap_servers(), "c", p, 5, 5000, 1);
  OperatorConfig config;
  config.node_id = "events";
  config.params = &params;
  auto src = MakeKafkaSource(config);
  ASSERT_TRUE(src.ok()) << src.status();
  ::sluice::testing::MapSnapshotReader reader(saved);
  ASSERT_TRUE((*src)->Restore(reader).ok());
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE((*src)->Open(ctx).ok());
  for (int i = 0; i < 200; ++i) {
    auto more = (*src)->Poll(out);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
  }
  std::set<std::string> second = Values(out);
  EXPECT_EQ(out.num_rows(), 10u);
  EXPECT_EQ(second, (std::set<std::string>{"p0-0", "p0-1", "p0-2", "p0-3", "p0-4", "p1-0", "p1-1", "p1-2", "p1-3",
                                           "p1-4"}));
  ASSERT_TRUE((*src)->Close().ok());
}

TEST_F(KafkaSourceTest, AnEmptyNewPartitionHoldsEventTimeUntilItCountsAsIdle) {
  ASSERT_TRUE(broker_->CreateTopic("h", 2).ok());
  Produce(broker_->bootstrap_servers(), "h", 0, 10, 1'000'000, 1000);  // partition 1 stays empty
  Param wm = Params({{"max_out_of_orderness", Param::String("0ms")}, {"idle_timeout", Param::String("3s")}});
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("h")},
                         {"start", Param::String("earliest")},
                         {"watermarks", wm}});
  auto run = Open(params, 0, 1);
  ASSERT_NE(run, nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) ASSERT_TRUE(run->source->Poll(run->out).ok());
  EXPECT_EQ(run->out.num_rows(), 10u);
  // Partition 1 might still deliver old records: no watermark yet, in particular not
  // the wall clock, which would make all of them late.
  EXPECT_TRUE(run->out.watermarks.empty()) << run->out.watermarks.front();
  ASSERT_TRUE(run->source->Close().ok());
}

TEST_F(KafkaSourceTest, DiscoversTopicsMatchingThePatternWhileRunning) {
  ASSERT_TRUE(broker_->CreateTopic("logs-a", 1).ok());
  Produce(broker_->bootstrap_servers(), "logs-a", 0, 5, 1000, 1);
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topic_pattern", Param::String("logs-.*")},
                         {"start", Param::String("earliest")},
                         {"discovery_interval", Param::String("200ms")}});
  auto run = Open(params, 0, 1);
  ASSERT_NE(run, nullptr);
  ASSERT_TRUE(broker_->CreateTopic("logs-b", 2).ok());
  Produce(broker_->bootstrap_servers(), "logs-b", 1, 7, 1000, 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (run->out.num_rows() < 12 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(run->source->Poll(run->out).ok());
  }
  EXPECT_EQ(run->out.num_rows(), 12u);
  EXPECT_EQ(Values(run->out).count("p1-6"), 1u);
  ASSERT_TRUE(run->source->Close().ok());
}

TEST_F(KafkaSourceTest, AMissingTopicNamesItAndItsLine) {
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("nope")}});
  params.SetLocation("k.yaml", 3, "operators[0]");
  OperatorConfig config;
  config.node_id = "events";
  config.params = &params;
  auto src = MakeKafkaSource(config);
  ASSERT_TRUE(src.ok());
  TestContext ctx;
  absl::Status st = (*src)->Open(ctx);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("topic 'nope' does not exist"), std::string::npos) << st;
  EXPECT_NE(st.message().find("k.yaml:3"), std::string::npos) << st;
}

TEST_F(KafkaSourceTest, SinkDeliversEveryRecordAndAFailureFailsTheTask) {
  ASSERT_TRUE(broker_->CreateTopic("out", 1).ok());
  auto schema = ::sluice::testing::MakeSchema({{"k", Type::kString}, {"n", Type::kInt64}});
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topic", Param::String("out")},
                         {"key", Param::String("k")},
                         {"flush_timeout", Param::String("3s")},
                         {"properties", Params({{"message.timeout.ms", Param::Number(1500, "1500")}})}});
  OperatorConfig config;
  config.node_id = "sink";
  config.params = &params;
  config.input_schemas = {schema};
  auto sink = MakeKafkaSink(config);
  ASSERT_TRUE(sink.ok()) << sink.status();
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0, ::sluice::testing::BatchOf(schema, {{std::string("a"), int64_t{1}},
                                                                    {std::string("b"), int64_t{2}}}),
                               out)
                  .ok());
  ASSERT_TRUE((*sink)->OnEndOfInput(out).ok());
  EXPECT_EQ(ctx.counter("kafka_delivered"), 2);
  // With the only broker down, records cannot be delivered within message.timeout.ms:
  // the sink reports it instead of dropping them.
  ASSERT_TRUE(broker_->SetBrokerUp(1, false).ok());
  ASSERT_TRUE((*sink)->Process(0, ::sluice::testing::BatchOf(schema, {{std::string("c"), int64_t{3}}}), out).ok());
  absl::Status st = (*sink)->OnEndOfInput(out);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not delivered"), std::string::npos) << st;
  (void)(*sink)->Close();
}

}  // namespace
}  // namespace sluice::operators::kafka
