// kafka_source against a real librdkafka client talking TCP to the in-process mock
// cluster (DevBroker): partition ownership, bounded reads, per-partition watermarks with
// idle partitions, partition discovery, headers, and kafka_sink delivery, partitioning
// and headers.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "operators/kafka/dev_broker.h"
#include "operators/kafka/kafka_sink.h"
#include "operators/kafka/kafka_source.h"
#include "operators/testing/operator_harness.h"

namespace sluice::operators::kafka {
namespace {

using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;

// Produces `n` messages "p<partition>-<i>" (i from `first`) to one partition with explicit
// timestamps.
void Produce(const std::string& bootstrap, const std::string& topic, int partition, int n, int64_t first_ts,
             int64_t step_ms, int first = 0) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_NE(rk, nullptr) << err;
  for (int i = 0; i < n; ++i) {
    std::string v = "p" + std::to_string(partition) + "-" + std::to_string(first + i);
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

using Blobs = std::map<std::string, std::string>;

using RescaledReader = sluice::testing::BlobsRescaledReader;

// One run of a job's kafka_source node at `parallelism`, restored from the snapshots
// `old` of the previous run (none for a fresh start): through Restore at the same
// parallelism, through RestoreRescaled at another. Each subtask reads at least `limit`
// records and one of each of its partitions in `touch` (to the end of the bounded input
// if limit < 0), then takes checkpoint `id`, which completes. (The fetcher hands out one
// partition's records in a run, so reading a few records may leave a partition unread;
// `touch` makes sure the checkpoint has an offset for it.)
struct SourceRun {
  std::vector<Blobs> snapshots;                  // by subtask
  std::vector<std::multiset<std::string>> read;  // values, by subtask
};

SourceRun RunSubtasks(const Param& params, const std::vector<Blobs>& old, int parallelism, int limit, int64_t id,
                      const std::set<int>& touch = {}) {
  SourceRun run;
  for (int s = 0; s < parallelism; ++s) {
    SCOPED_TRACE(absl::StrCat("subtask ", s, " of ", parallelism));
    OperatorConfig config;
    config.node_id = "events";
    config.params = &params;
    config.subtask_index = s;
    config.parallelism = parallelism;
    auto src = MakeKafkaSource(config);
    EXPECT_TRUE(src.ok()) << src.status();
    if (!src.ok()) return run;
    if (static_cast<int>(old.size()) == parallelism) {
      ::sluice::testing::MapSnapshotReader reader(old[s]);
      EXPECT_TRUE((*src)->Restore(reader).ok());
    } else if (!old.empty()) {
      RescaledReader reader(old, s, parallelism);
      absl::Status st = (*src)->RestoreRescaled(reader);
      EXPECT_TRUE(st.ok()) << st;
    }
    TestContext ctx;
    TestCollector out;
    absl::Status st = (*src)->Open(ctx);
    EXPECT_TRUE(st.ok()) << st;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto enough = [&] {
      if (limit < 0 || out.num_rows() < static_cast<size_t>(limit)) return false;
      std::set<int> untouched;
      for (int p : touch) {
        if (p % parallelism == s) untouched.insert(p);
      }
      for (const auto& b : out.batches) {
        for (int64_t p : b->column(3).ints) untouched.erase(static_cast<int>(p));
      }
      return untouched.empty();
    };
    while (!enough() && std::chrono::steady_clock::now() < deadline) {
      auto more = (*src)->Poll(out);
      EXPECT_TRUE(more.ok()) << more.status();
      if (!more.ok() || !*more) break;
    }
    ::sluice::testing::MapSnapshotWriter w(id);
    EXPECT_TRUE((*src)->Snapshot(w).ok());
    EXPECT_TRUE((*src)->NotifyCheckpointComplete(id).ok());
    EXPECT_TRUE((*src)->Close().ok());
    run.snapshots.push_back(w.blobs);
    std::multiset<std::string> values;
    for (const auto& b : out.batches) {
      for (size_t r = 0; r < b->num_rows(); ++r) {
        std::string v(b->column(1).strings[r]);
        // "p<partition>-<i>": the subtask reads only its partitions (sorted, round robin).
        EXPECT_EQ((v[1] - '0') % parallelism, s) << v;
        EXPECT_EQ(b->column(3).ints[r], v[1] - '0') << v;
        values.insert(std::move(v));
      }
    }
    run.read.push_back(std::move(values));
  }
  return run;
}

// The partitions ("topic\tpartition") the run's checkpoint has offsets for.
std::set<std::string> Partitions(const SourceRun& run) {
  std::set<std::string> out;
  for (const Blobs& blobs : run.snapshots) {
    for (absl::string_view line : absl::StrSplit(blobs.at("offsets"), '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      EXPECT_EQ(f.size(), 3u) << line;
      if (f.size() == 3) {
        EXPECT_TRUE(out.insert(absl::StrCat(f[0], "\t", f[1])).second) << line;  // one owner
      }
    }
  }
  return out;
}

// Every value read by the runs, counted.
std::map<std::string, int> Tally(const std::vector<const SourceRun*>& runs) {
  std::map<std::string, int> n;
  for (const SourceRun* run : runs) {
    for (const auto& values : run->read) {
      for (const auto& v : values) ++n[v];
    }
  }
  return n;
}

// The values Produce wrote: `per_partition[p]` records to partition p.
std::map<std::string, int> Produced(const std::vector<int>& per_partition) {
  std::map<std::string, int> n;
  for (size_t p = 0; p < per_partition.size(); ++p) {
    for (int i = 0; i < per_partition[p]; ++i) n[absl::StrCat("p", p, "-", i)] = 1;
  }
  return n;
}

TEST_F(KafkaSourceTest, RestoredAtAnotherParallelismEveryRecordIsReadOnce) {
  ASSERT_TRUE(broker_->CreateTopic("r", 4).ok());
  // Partition 3 stays empty until the checkpoint: no subtask has an offset for it.
  for (int p = 0; p < 3; ++p) Produce(broker_->bootstrap_servers(), "r", p, 40, 1000, 1);
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("r")},
                         {"start", Param::String("earliest")},
                         {"bounded", Param::Bool(true)},
                         {"batch_size", Param::Number(5, "5")}});
  // Two subtasks (0: partitions 0 and 2; 1: partitions 1 and 3) read part of their
  // records, and checkpoint 1 completes.
  SourceRun at2 = RunSubtasks(params, {}, 2, 12, 1, {0, 1, 2});
  ASSERT_EQ(at2.read.size(), 2u);
  EXPECT_LT(Tally({&at2}).size(), 120u);  // stopped before the end
  // Offsets for partitions 0..2, which will move to other subtasks (2 from subtask 0 to
  // subtask 2 at parallelism 3; 1 and 2 to subtask 0 at parallelism 1).
  EXPECT_EQ(Partitions(at2), (std::set<std::string>{"r\t0", "r\t1", "r\t2"}));
  // More records arrive, partition 3's first ones among them; the bounded runs below
  // end at the end offsets they find at Open.
  for (int p = 0; p < 3; ++p) Produce(broker_->bootstrap_servers(), "r", p, 10, 1000, 1, 40);
  Produce(broker_->bootstrap_servers(), "r", 3, 10, 1000, 1);
  const std::map<std::string, int> expected = Produced({50, 50, 50, 10});
  // Restored at 3 subtasks (0: partitions 0 and 3; 1: 1; 2: 2) and at 1: each reads the
  // rest, and with what the 2 subtasks read before, every record is read exactly once.
  for (int parallelism : {3, 1}) {
    SCOPED_TRACE(absl::StrCat("restored at parallelism ", parallelism));
    SourceRun rest = RunSubtasks(params, at2.snapshots, parallelism, -1, 2);
    ASSERT_EQ(rest.read.size(), static_cast<size_t>(parallelism));
    EXPECT_EQ(Tally({&at2, &rest}), expected);
    // Partition 3, which no old subtask had read, starts as configured (earliest).
    EXPECT_EQ(Tally({&rest}).count("p3-9"), 1u);
  }
}

TEST_F(KafkaSourceTest, RescaledTwiceEveryRecordIsReadOnce) {
  ASSERT_TRUE(broker_->CreateTopic("rr", 4).ok());
  for (int p = 0; p < 4; ++p) Produce(broker_->bootstrap_servers(), "rr", p, 60, 1000, 1);
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topics", Param::String("rr")},
                         {"start", Param::String("earliest")},
                         {"bounded", Param::Bool(true)},
                         {"batch_size", Param::Number(5, "5")}});
  // 2 subtasks, then 3 (each restored from its checkpoint), then 3 again (the
  // checkpoints of a rescaled run restore at its own parallelism), then 1.
  SourceRun a = RunSubtasks(params, {}, 2, 20, 1, {0, 1, 2, 3});
  SourceRun b = RunSubtasks(params, a.snapshots, 3, 15, 2);
  SourceRun c = RunSubtasks(params, b.snapshots, 3, 10, 3, {0, 1, 2, 3});
  EXPECT_EQ(Partitions(a), (std::set<std::string>{"rr\t0", "rr\t1", "rr\t2", "rr\t3"}));
  EXPECT_EQ(Partitions(c), Partitions(a));
  EXPECT_LT(Tally({&a, &b, &c}).size(), 240u);
  SourceRun d = RunSubtasks(params, c.snapshots, 1, -1, 4);
  EXPECT_EQ(Tally({&a, &b, &c, &d}), Produced({60, 60, 60, 60}));
  // The last run's checkpoint holds every partition's end offset, as a run at 1 from
  // the start would.
  EXPECT_EQ(d.snapshots[0].at("offsets"), "rr\t0\t60\nrr\t1\t60\nrr\t2\t60\nrr\t3\t60\n");
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

// A record as a plain librdkafka consumer reads it.
struct Consumed {
  int32_t partition = 0;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// Reads `n` records from partitions [0, partitions) of `topic` with a plain librdkafka
// consumer (from the beginning, for at most 10 s).
std::vector<Consumed> ConsumeAll(const std::string& bootstrap, const std::string& topic, int partitions, size_t n) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "verify", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  std::vector<Consumed> out;
  if (rk == nullptr) return out;
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Consumed c;
      c.partition = m->partition;
      if (m->key != nullptr) c.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) c.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* v;
        size_t size;
        for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
          c.headers.emplace_back(name, v == nullptr ? std::nullopt
                                                    : std::optional<std::string>(
                                                          std::string(static_cast<const char*>(v), size)));
        }
      }
      out.push_back(std::move(c));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// Java's Utils.murmur2 (seed 0x9747b28c), written from the Java source, independently of
// librdkafka: the Java producer and kafkajs put a keyed record in partition
// toPositive(murmur2(key)) % partitions.
int32_t JavaMurmur2(std::string_view data) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t length = data.size();
  uint32_t h = 0x9747b28c ^ static_cast<uint32_t>(length);
  const auto* d = reinterpret_cast<const uint8_t*>(data.data());
  for (size_t i = 0; i + 4 <= length; i += 4) {
    uint32_t k = d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (static_cast<uint32_t>(d[i + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3: h ^= static_cast<uint32_t>(d[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(d[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= d[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int JavaPartition(std::string_view key, int partitions) {
  return static_cast<int>((static_cast<uint32_t>(JavaMurmur2(key)) & 0x7fffffff) % partitions);
}

TEST(JavaMurmur2Test, MatchesKnownJavaValues) {
  // From Kafka's UtilsTest.testMurmur2.
  EXPECT_EQ(JavaMurmur2("21"), -973932308);
  EXPECT_EQ(JavaMurmur2("foobar"), -790332482);
  EXPECT_EQ(JavaMurmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(JavaMurmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(JavaMurmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(JavaMurmur2(std::string_view("abc", 3)), 479470107);
}

OperatorConfig SinkConfig(const Param& params, SchemaPtr schema) {
  OperatorConfig config;
  config.node_id = "sink";
  config.params = &params;
  config.input_schemas = {std::move(schema)};
  return config;
}

TEST_F(KafkaSourceTest, SinkPartitionsKeysLikeTheJavaProducerByDefault) {
  // librdkafka's own default (consistent_random, CRC32) put most keys elsewhere.
  ASSERT_TRUE(broker_->CreateTopic("keyed", 7).ok());
  auto schema = ::sluice::testing::MakeSchema({{"k", Type::kString}});
  std::vector<std::vector<::sluice::testing::Value>> rows;
  for (int i = 0; i < 200; ++i) rows.push_back({std::string("user-") + std::to_string(i)});
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topic", Param::String("keyed")},
                         {"key", Param::String("k")}});
  auto sink = MakeKafkaSink(SinkConfig(params, schema));
  ASSERT_TRUE(sink.ok()) << sink.status();
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0, ::sluice::testing::BatchOf(schema, rows), out).ok());
  ASSERT_TRUE((*sink)->OnEndOfInput(out).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  auto records = ConsumeAll(broker_->bootstrap_servers(), "keyed", 7, 200);
  ASSERT_EQ(records.size(), 200u);
  int wrong = 0;
  for (const auto& c : records) wrong += c.partition != JavaPartition(c.key, 7);
  EXPECT_EQ(wrong, 0) << "of 200 keys, in another partition than the Java producer's";
}

TEST_F(KafkaSourceTest, SinkRefusesAnUnknownPartitioner) {
  auto schema = ::sluice::testing::MakeSchema({{"k", Type::kString}});
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topic", Param::String("t")},
                         {"partitioner", Param::String("crc")}});
  auto sink = MakeKafkaSink(SinkConfig(params, schema));
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("murmur2_random"), std::string::npos) << sink.status();
}

TEST_F(KafkaSourceTest, SourceOutputsHeadersAsJsonOnlyWhenAsked) {
  ASSERT_TRUE(broker_->CreateTopic("hd", 1).ok());
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", broker_->bootstrap_servers().c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  ASSERT_NE(rk, nullptr) << err;
  const std::string binary("\xff\xfe\x00z", 4);
  ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("hd"), RD_KAFKA_V_VALUE(const_cast<char*>("v1"), 2),
                              RD_KAFKA_V_HEADER("trace", "ab12", 4), RD_KAFKA_V_HEADER("hop", "a", 1),
                              RD_KAFKA_V_HEADER("hop", "b", 1), RD_KAFKA_V_HEADER("none", nullptr, 0),
                              RD_KAFKA_V_HEADER("bin", binary.data(), 4), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("hd"), RD_KAFKA_V_VALUE(const_cast<char*>("v2"), 2),
                              RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
  for (bool with_headers : {false, true}) {
    Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                           {"topics", Param::String("hd")},
                           {"start", Param::String("earliest")},
                           {"bounded", Param::Bool(true)},
                           {"headers", Param::Bool(with_headers)}});
    auto run = Open(params, 0, 1);
    ASSERT_NE(run, nullptr);
    EXPECT_EQ(run->source->output_schema()->num_fields(), with_headers ? 7 : 6);
    for (int i = 0; i < 200; ++i) {
      auto more = run->source->Poll(run->out);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
    }
    ASSERT_EQ(run->out.num_rows(), 2u);
    if (with_headers) {
      const RecordBatch& b = *run->out.batches[0];
      ASSERT_EQ(b.schema()->field(6).name, "headers");
      EXPECT_EQ(b.column(6).strings[0],
                R"({"trace":"ab12","hop":["a","b"],"none":null,"bin":"\u00ff\u00fe\u0000z"})");
      EXPECT_EQ(b.column(6).strings[1], "{}");
    }
    ASSERT_TRUE(run->source->Close().ok());
  }
}

TEST_F(KafkaSourceTest, SinkWritesHeadersFromFieldsAndFromAJsonField) {
  ASSERT_TRUE(broker_->CreateTopic("ho", 1).ok());
  auto schema = ::sluice::testing::MakeSchema(
      {{"trace", Type::kString}, {"n", Type::kInt64}, {"h", Type::kString}, {"v", Type::kString}});
  Param params = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                         {"topic", Param::String("ho")},
                         {"format", Param::String("raw")},
                         {"field", Param::String("v")},
                         {"headers", Param::List({Param::String("trace"), Param::String("n")})},
                         {"headers_field", Param::String("h")}});
  auto sink = MakeKafkaSink(SinkConfig(params, schema));
  ASSERT_TRUE(sink.ok()) << sink.status();
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0,
                               ::sluice::testing::BatchOf(
                                   schema, {{std::string("t1"), int64_t{7}, std::string(R"({"hop":["a","b"],"x":null})"),
                                             std::string("one")},
                                            {std::string("t2"), int64_t{8}, std::string("{not json"),
                                             std::string("bad")},
                                            {std::string("t3"), int64_t{9}, std::string("{}"), std::string("two")}}),
                               out)
                  .ok());
  ASSERT_TRUE((*sink)->OnEndOfInput(out).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  // The record whose headers are not a JSON object is a dead letter, not a failure.
  ASSERT_EQ(out.DeadLetters("bad_headers"), 1u);
  EXPECT_NE(out.dead_letters[0].record.find("\"bad\""), std::string::npos) << out.dead_letters[0].record;
  auto records = ConsumeAll(broker_->bootstrap_servers(), "ho", 1, 2);
  ASSERT_EQ(records.size(), 2u);
  using H = std::vector<std::pair<std::string, std::optional<std::string>>>;
  EXPECT_EQ(records[0].value, "one");
  EXPECT_EQ(records[0].headers, (H{{"hop", "a"}, {"hop", "b"}, {"x", std::nullopt}, {"trace", "t1"}, {"n", "7"}}));
  EXPECT_EQ(records[1].value, "two");
  EXPECT_EQ(records[1].headers, (H{{"trace", "t3"}, {"n", "9"}}));
}

TEST_F(KafkaSourceTest, SinkHeaderParamsNameInputFields) {
  auto schema = ::sluice::testing::MakeSchema({{"k", Type::kString}, {"n", Type::kInt64}});
  Param missing = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                          {"topic", Param::String("t")},
                          {"headers", Param::List({Param::String("nope")})}});
  auto sink = MakeKafkaSink(SinkConfig(missing, schema));
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("no input field 'nope'"), std::string::npos) << sink.status();
  Param not_string = Params({{"bootstrap_servers", Param::String(broker_->bootstrap_servers())},
                             {"topic", Param::String("t")},
                             {"headers_field", Param::String("n")}});
  sink = MakeKafkaSink(SinkConfig(not_string, schema));
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("string field"), std::string::npos) << sink.status();
}

}  // namespace
}  // namespace sluice::operators::kafka
