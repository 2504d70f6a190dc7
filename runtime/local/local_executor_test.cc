// Engine tests with real threads and mailboxes: chaining, key-by routing, backpressure,
// watermark propagation, end of input, and failure propagation.
#include "runtime/local/local_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/testing/status_matchers.h"
#include "operators/basic/register.h"
#include "runtime/plan/job_plan.h"
#include "runtime/topology/yaml_loader.h"
#include "sluice/clock.h"

namespace sluice::runtime {
namespace {

// Shared observations of the test operators (tests run one job at a time).
struct Observed {
  std::mutex mu;
  std::map<int, std::vector<std::string>> keys_by_subtask;
  std::map<int, std::vector<int64_t>> watermarks_by_subtask;
  std::map<int, std::pair<int, int>> key_group_range;
  std::atomic<int64_t> emitted{0};
  std::atomic<int64_t> received{0};
  std::atomic<int64_t> max_in_flight{0};
  std::atomic<int> end_of_input_calls{0};
  void Reset() {
    std::lock_guard<std::mutex> lock(mu);
    keys_by_subtask.clear();
    watermarks_by_subtask.clear();
    key_group_range.clear();
    emitted = 0;
    received = 0;
    max_in_flight = 0;
    end_of_input_calls = 0;
  }
};
Observed g;

// Emits `count` rows (key string, ts) in batches of 100, a watermark after each batch that
// advances `wm_step` per batch; counts what it emitted.
class CountingSource : public Source {
 public:
  CountingSource(int64_t count, int64_t wm_step, int subtask)
      : remaining_(count), wm_step_(wm_step), subtask_(subtask) {
    schema_ = std::make_shared<Schema>(std::vector<Field>{{"key", Type::kString}, {"n", Type::kInt64}});
  }
  SchemaPtr output_schema() const override { return schema_; }
  bool bounded() const override { return true; }
  absl::StatusOr<bool> Poll(Collector& out) override {
    if (remaining_ <= 0) return false;
    BatchPtr b = out.NewBatch(schema_);
    int n = static_cast<int>(std::min<int64_t>(100, remaining_));
    for (int i = 0; i < n; ++i) {
      b->column(0).strings.push_back(b->arena().Copy("k" + std::to_string((seq_ * 7) % 50)));
      b->column(1).ints.push_back(seq_);
      b->timestamps().push_back(seq_);
      ++seq_;
    }
    b->set_num_rows(n);
    remaining_ -= n;
    g.emitted += n;
    out.Emit(std::move(b));
    if (wm_step_ > 0) {
      wm_ += wm_step_;
      out.EmitWatermark(wm_);
    }
    return true;
  }

 private:
  int64_t remaining_, wm_step_;
  int subtask_;
  int64_t seq_ = 0, wm_ = 0;
  SchemaPtr schema_;
};

// Records keys, watermarks and key-group ranges per subtask; optionally slow; fails on
// a given n.
class RecordingSink : public Operator {
 public:
  RecordingSink(int sleep_us, int64_t fail_on) : sleep_us_(sleep_us), fail_on_(fail_on) {}
  SchemaPtr output_schema() const override { return nullptr; }
  absl::Status Open(Context& ctx) override {
    subtask_ = ctx.subtask_index();
    std::lock_guard<std::mutex> lock(g.mu);
    g.key_group_range[subtask_] = {ctx.first_key_group(), ctx.last_key_group()};
    return absl::OkStatus();
  }
  absl::Status Process(int, BatchPtr b, Collector&) override {
    if (sleep_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
    int64_t in_flight = g.emitted.load() - g.received.load();
    if (in_flight > g.max_in_flight.load()) g.max_in_flight = in_flight;
    g.received += static_cast<int64_t>(b->num_rows());
    std::lock_guard<std::mutex> lock(g.mu);
    for (size_t r = 0; r < b->num_rows(); ++r) {
      if (b->column(1).ints[r] == fail_on_) return absl::DataLossError("poisoned record");
      g.keys_by_subtask[subtask_].push_back(std::string(b->column(0).strings[r]));
    }
    return absl::OkStatus();
  }
  absl::Status OnWatermark(int64_t wm, Collector& out) override {
    std::lock_guard<std::mutex> lock(g.mu);
    g.watermarks_by_subtask[subtask_].push_back(wm);
    return absl::OkStatus();
  }
  absl::Status OnEndOfInput(Collector&) override {
    g.end_of_input_calls++;
    return absl::OkStatus();
  }

 private:
  int sleep_us_;
  int64_t fail_on_;
  int subtask_ = 0;
};

// Passes batches through unchanged.
class PassThrough : public Operator {
 public:
  explicit PassThrough(SchemaPtr s) : schema_(std::move(s)) {}
  SchemaPtr output_schema() const override { return schema_; }
  absl::Status Process(int, BatchPtr b, Collector& out) override {
    out.Emit(std::move(b));
    return absl::OkStatus();
  }

 private:
  SchemaPtr schema_;
};

OperatorRegistry TestRegistry() {
  OperatorRegistry r;
  EXPECT_OK(operators::RegisterBasicOperators(r));
  EXPECT_OK(r.RegisterSource("counting", [](const OperatorConfig& c) -> absl::StatusOr<std::unique_ptr<Source>> {
    auto count = c.params->GetIntOr("count", 1000);
    auto step = c.params->GetIntOr("wm_step", 0);
    if (!count.ok()) return count.status();
    if (!step.ok()) return step.status();
    // Subtask i advances its watermark (i+1) times slower, so the minimum is subtask's
    // last one.
    return std::make_unique<CountingSource>(*count, *step / (c.subtask_index + 1), c.subtask_index);
  }));
  EXPECT_OK(r.RegisterOperator("pass", [](const OperatorConfig& c) -> absl::StatusOr<std::unique_ptr<Operator>> {
    return std::make_unique<PassThrough>(c.input_schemas[0]);
  }));
  EXPECT_OK(r.RegisterSink("recording", [](const OperatorConfig& c) -> absl::StatusOr<std::unique_ptr<Operator>> {
    auto sleep = c.params->GetIntOr("sleep_us", 0);
    auto fail = c.params->GetIntOr("fail_on", -1);
    if (!sleep.ok()) return sleep.status();
    if (!fail.ok()) return fail.status();
    return std::make_unique<RecordingSink>(static_cast<int>(*sleep), *fail);
  }));
  return r;
}

absl::StatusOr<JobSummary> RunYaml(const std::string& yaml, const OperatorRegistry& registry,
                                   JobPlan* plan_out = nullptr) {
  g.Reset();
  auto topology = topology::LoadTopologyString(yaml, "test.yaml");
  if (!topology.ok()) return topology.status();
  auto plan = BuildJobPlan(*topology, registry);
  if (!plan.ok()) return plan.status();
  RunOptions options;
  options.progress_interval_s = 0;
  LocalExecutor executor(*plan, registry, options);
  auto result = executor.Run();
  if (plan_out != nullptr) *plan_out = *plan;
  return result;
}

TEST(LocalExecutorTest, ForwardEdgesOfEqualParallelismAreChained) {
  OperatorRegistry registry = TestRegistry();
  JobPlan plan;
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunYaml(R"(
name: chain
parallelism: 2
operators:
  - {id: src, type: counting, count: 1000}
  - {id: a, type: pass, input: src}
  - {id: b, type: pass, input: a}
  - {id: sink, type: recording, input: b}
)", registry, &plan));
  ASSERT_EQ(plan.vertices.size(), 1u);
  EXPECT_EQ(plan.vertices[0].name, "src -> a -> b -> sink");
  EXPECT_EQ(g.received.load(), 2000);  // each of 2 source subtasks emits 1000
  EXPECT_EQ(s.nodes[3].records_in, 2000);
  EXPECT_EQ(g.end_of_input_calls.load(), 2);
}

TEST(LocalExecutorTest, KeyByRoutesEachKeyToTheSubtaskOwningItsKeyGroup) {
  OperatorRegistry registry = TestRegistry();
  JobPlan plan;
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunYaml(R"(
name: keyed
operators:
  - {id: src, type: counting, count: 5000, parallelism: 2}
  - {id: sink, type: recording, input: src, key_by: [key], parallelism: 3}
)", registry, &plan));
  ASSERT_EQ(plan.vertices.size(), 2u);
  EXPECT_EQ(g.received.load(), 10000);
  std::map<std::string, std::set<int>> owners;
  size_t total = 0;
  for (const auto& [sub, keys] : g.keys_by_subtask) {
    total += keys.size();
    for (const auto& k : keys) owners[k].insert(sub);
  }
  EXPECT_EQ(total, 10000u);
  EXPECT_EQ(owners.size(), 50u);
  for (const auto& [k, subs] : owners) EXPECT_EQ(subs.size(), 1u) << k;
  // Key-group ranges are contiguous and cover 0..127.
  EXPECT_EQ(g.key_group_range[0].first, 0);
  EXPECT_EQ(g.key_group_range[2].second, 127);
  EXPECT_EQ(g.key_group_range[1].first, g.key_group_range[0].second + 1);
}

TEST(LocalExecutorTest, ShuffleAndBroadcast) {
  OperatorRegistry registry = TestRegistry();
  ASSERT_OK_AND_ASSIGN(JobSummary s1, RunYaml(R"(
name: shuffle
operators:
  - {id: src, type: counting, count: 3000}
  - {id: sink, type: recording, input: src, parallelism: 3}
)", registry));
  EXPECT_EQ(g.received.load(), 3000);
  EXPECT_EQ(g.keys_by_subtask.size(), 3u);  // round robin reached everyone
  ASSERT_OK_AND_ASSIGN(JobSummary s2, RunYaml(R"(
name: broadcast
operators:
  - {id: src, type: counting, count: 300}
  - {id: sink, type: recording, parallelism: 3, inputs: [{from: src, partition: broadcast}]}
)", registry));
  EXPECT_EQ(g.received.load(), 900);
}

TEST(LocalExecutorTest, SlowSinkBackpressuresTheSourceWithBoundedMemory) {
  OperatorRegistry registry = TestRegistry();
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunYaml(R"(
name: slow
operators:
  - {id: src, type: counting, count: 20000}
  - {id: sink, type: recording, input: src, parallelism: 1, partition: shuffle, sleep_us: 500}
)", registry));
  EXPECT_EQ(g.received.load(), 20000);
  // The mailbox holds 16 batches of 100; the source can be at most a batch or two ahead.
  EXPECT_LE(g.max_in_flight.load(), 18 * 100);
  EXPECT_GT(s.nodes[0].backpressure_s, 0.0);
}

TEST(LocalExecutorTest, WatermarkIsTheMinimumOverInputChannels) {
  OperatorRegistry registry = TestRegistry();
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunYaml(R"(
name: wm
mode: streaming
operators:
  - {id: src, type: counting, count: 1000, wm_step: 100, parallelism: 2}
  - {id: sink, type: recording, input: src, key_by: [key], parallelism: 1}
)", registry));
  auto wms = g.watermarks_by_subtask[0];
  ASSERT_FALSE(wms.empty());
  for (size_t i = 1; i < wms.size(); ++i) EXPECT_GT(wms[i], wms[i - 1]);
  // Subtask 0 steps 100 per batch (10 batches → 1000), subtask 1 steps 50 (→ 500).
  // While both run, the minimum never exceeds the slower one; after the slow one ends,
  // the faster one's watermarks may pass through.
  EXPECT_LE(wms.back(), 1000);
  EXPECT_GE(wms.back(), 500);
}

TEST(LocalExecutorTest, AFailingOperatorFailsTheJobWithoutHanging) {
  OperatorRegistry registry = TestRegistry();
  auto result = RunYaml(R"(
name: poison
operators:
  - {id: src, type: counting, count: 100000, parallelism: 2}
  - {id: sink, type: recording, input: src, parallelism: 2, partition: shuffle, fail_on: 777}
)", registry);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(result.status().message().find("operator 'sink'"), std::string::npos) << result.status();
  EXPECT_NE(result.status().message().find("poisoned record"), std::string::npos);
}

TEST(JobPlanTest, ErrorsNameTheNodeAndLine) {
  OperatorRegistry registry = TestRegistry();
  auto r1 = RunYaml("name: x\noperators:\n  - {id: src, type: counting}\n  - {id: s2, type: counting, input: src}\n",
                    registry);
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("test.yaml:4: operators[1] (s2): 'counting' is a source"),
            std::string::npos)
      << r1.status();
  auto r2 = RunYaml("name: x\noperators:\n  - {id: src, type: countnig}\n", registry);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("test.yaml:3: operators[0] (src): unknown operator type 'countnig'"),
            std::string::npos)
      << r2.status();
  auto r3 = RunYaml(R"(
name: x
operators:
  - {id: src, type: counting, parallelism: 2}
  - {id: sink, type: recording, input: src, key_by: [nokey]}
)", registry);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.status().message().find("key_by field 'nokey'"), std::string::npos) << r3.status();
  auto r4 = RunYaml(R"(
name: x
operators:
  - {id: src, type: counting, parallelism: 2}
  - {id: sink, type: recording, input: src, partition: forward, parallelism: 3}
)", registry);
  ASSERT_FALSE(r4.ok());
  EXPECT_NE(r4.status().message().find("needs equal parallelism"), std::string::npos) << r4.status();
}

// Logs through its Context in Open (with the time of the Context's clock), and sends one
// dead letter per batch.
class SpeakingSink : public Operator {
 public:
  SchemaPtr output_schema() const override { return nullptr; }
  absl::Status Open(Context& ctx) override {
    ctx.clock().SleepMs(60'000);  // a test clock advances instead of blocking
    ctx.logger().Info("opened at %d", ctx.clock().NowMs());
    return absl::OkStatus();
  }
  absl::Status Process(int, BatchPtr b, Collector& out) override {
    out.EmitDeadLetter("speak", "raw record");
    return absl::OkStatus();
  }
};

class KeepLines : public LogSink {
 public:
  bool Enabled(LogLevel) const override { return true; }
  void Write(LogLevel, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  }
  std::mutex mu;
  std::vector<std::string> lines;
};

// Dead letters kept in memory, by URI (tests run one job at a time).
std::map<std::string, std::string> g_dead_letters;
class MemoryDeadLetters : public DeadLetterWriter {
 public:
  explicit MemoryDeadLetters(std::string uri) : uri_(std::move(uri)) {}
  absl::Status Write(std::string_view lines) override {
    g_dead_letters[uri_].append(lines);
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  std::string uri_;
};

OperatorRegistry SpeakingRegistry() {
  OperatorRegistry r = TestRegistry();
  EXPECT_OK(r.RegisterSink("speaking", [](const OperatorConfig&) -> absl::StatusOr<std::unique_ptr<Operator>> {
    return std::make_unique<SpeakingSink>();
  }));
  EXPECT_OK(r.RegisterDeadLetterWriter("mem", [](std::string_view uri)
                                                  -> absl::StatusOr<std::unique_ptr<DeadLetterWriter>> {
    return std::make_unique<MemoryDeadLetters>(std::string(uri));
  }));
  return r;
}

absl::StatusOr<JobSummary> RunWith(const std::string& yaml, const OperatorRegistry& registry, RunOptions options) {
  auto topology = topology::LoadTopologyString(yaml, "test.yaml");
  if (!topology.ok()) return topology.status();
  auto plan = BuildJobPlan(*topology, registry);
  if (!plan.ok()) return plan.status();
  options.progress_interval_s = 0;
  LocalExecutor executor(*plan, registry, options);
  return executor.Run();
}

TEST(LocalExecutorTest, OperatorsLogWithJobNodeAndSubtaskAndReadTheJobsClock) {
  OperatorRegistry registry = SpeakingRegistry();
  auto lines = std::make_shared<KeepLines>();
  ManualClock clock(1'000'000);
  RunOptions options;
  options.log_sink = lines;
  options.clock = &clock;
  ASSERT_OK(RunWith(R"(
name: speak
parallelism: 2
operators:
  - {id: src, type: counting, count: 10}
  - {id: out, type: speaking, input: src}
)", registry, options).status());
  std::lock_guard<std::mutex> lock(lines->mu);
  ASSERT_EQ(lines->lines.size(), 2u);
  std::set<std::string> subtasks;
  for (const std::string& line : lines->lines) {
    // job=<the run's job id, which starts with the job's name> op=<node>#<subtask>: message
    EXPECT_EQ(line.rfind("job=speak-", 0), 0u) << line;
    const size_t op = line.find(" op=out#");
    ASSERT_NE(op, std::string::npos) << line;
    subtasks.insert(line.substr(op + 8, 1));
    // Both subtasks slept a minute on the shared test clock, without waiting for it.
    EXPECT_NE(line.find(": opened at "), std::string::npos) << line;
    int64_t at = std::stoll(line.substr(line.find(": opened at ") + 12));
    EXPECT_GE(at, 1'000'000 + 60'000);
    EXPECT_LE(at, 1'000'000 + 120'000);
  }
  EXPECT_EQ(subtasks, (std::set<std::string>{"0", "1"}));
  EXPECT_EQ(clock.NowMs(), 1'000'000 + 120'000);
}

TEST(LocalExecutorTest, DeadLettersGoToTheWriterRegisteredForTheirScheme) {
  OperatorRegistry registry = SpeakingRegistry();
  g_dead_letters.clear();
  ManualClock clock;  // SpeakingSink sleeps a minute in Open
  RunOptions options;
  options.clock = &clock;
  ASSERT_OK(RunWith(R"(
name: dl
dead_letter: mem://rejects
operators:
  - {id: src, type: counting, count: 10}
  - {id: out, type: speaking, input: src}
)", registry, options).status());
  EXPECT_NE(g_dead_letters["mem://rejects"].find(R"({"node":"out","reason":"speak","record":"raw record"})"),
            std::string::npos)
      << g_dead_letters["mem://rejects"];
  auto unknown = RunWith(R"(
name: dl
dead_letter: nope://rejects
operators:
  - {id: src, type: counting, count: 10}
  - {id: out, type: speaking, input: src}
)", registry, options);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("unknown scheme 'nope'"), std::string::npos) << unknown.status();
}

}  // namespace
}  // namespace sluice::runtime
