// Barrier checkpoints in one process (LocalExecutor): alignment across exchanges,
// exactly-once results across failures and restores, damaged files, timeouts, failing
// snapshots, backpressure, changed parallelism. Real threads, mailboxes and files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"
#include "common/testing/status_matchers.h"
#include "operators/basic/register.h"
#include "runtime/local/local_executor.h"
#include "runtime/plan/job_plan.h"
#include "runtime/state/kv_store.h"
#include "runtime/task/mailbox.h"
#include "sluice/state.h"
#include "runtime/topology/yaml_loader.h"

namespace sluice::runtime {
namespace {

namespace fs = std::filesystem;

// What the test operators share (one job at a time).
struct World {
  std::mutex mu;
  // Published by the committing sink on checkpoint completion: subtask -> key -> sum.
  std::map<int, std::map<std::string, int64_t>> committed;
  std::atomic<int64_t> rows_seen{0};     // by sinks, over all runs
  std::atomic<int64_t> fail_at{-1};      // a sink fails when rows_seen reaches it (once)
  std::atomic<int> slow_snapshot_ms{0};  // the sink's first Snapshot sleeps this long (once)
  std::atomic<bool> snapshot_fails{false};
  std::atomic<int> sink_sleep_us{0};  // per 50 rows
  std::atomic<int64_t> source_rows{0};  // emitted, over all runs
  // Checkpoints the keyed-state sink saw complete in the current run: it fails only after
  // one, so the next run has something to restore however fast this machine is.
  std::atomic<int64_t> completed_in_run{0};
  std::atomic<int64_t> timers_fired{0};  // by TimerSink, over all runs
};
World w;

// Emits rows (key "k<i % 17>", v = i) for i in [0, count * (subtask + 1)) in batches of 50:
// subtasks end at different times. Its position is its snapshot.
class SeqSource : public Source {
 public:
  SeqSource(int64_t count, int subtask) : end_(count * (subtask + 1)) {
    schema_ = std::make_shared<Schema>(std::vector<Field>{{"key", Type::kString}, {"v", Type::kInt64}});
  }
  SchemaPtr output_schema() const override { return schema_; }
  bool bounded() const override { return true; }
  absl::StatusOr<bool> Poll(Collector& out) override {
    if (next_ >= end_) return false;
    BatchPtr b = out.NewBatch(schema_);
    int64_t n = std::min<int64_t>(50, end_ - next_);
    for (int64_t i = 0; i < n; ++i, ++next_) {
      b->column(0).strings.push_back(b->arena().Copy("k" + std::to_string(next_ % 17)));
      b->column(1).ints.push_back(next_);
    }
    b->set_num_rows(n);
    w.source_rows += n;
    out.Emit(std::move(b));
    return true;
  }
  absl::Status Snapshot(SnapshotWriter& writer) override {
    writer.Write("next", std::to_string(next_));
    return absl::OkStatus();
  }
  absl::Status Restore(SnapshotReader& reader) override {
    std::string s;
    if (!reader.Read("next", &s) || !absl::SimpleAtoi(s, &next_)) return absl::DataLossError("no position");
    return absl::OkStatus();
  }

 private:
  int64_t end_;
  int64_t next_ = 0;
  SchemaPtr schema_;
};

std::string Encode(const std::map<std::string, int64_t>& m) {
  std::string out;
  for (const auto& [k, v] : m) absl::StrAppend(&out, k, "=", v, "\n");
  return out;
}

// Sums v per key; its sums are its state. Publishes the sums of checkpoint n to
// w.committed when n completes (a two-phase-commit sink in miniature).
class CommittingSink : public Operator {
 public:
  SchemaPtr output_schema() const override { return nullptr; }
  absl::Status Open(Context& ctx) override {
    subtask_ = ctx.subtask_index();
    return absl::OkStatus();
  }
  absl::Status Process(int, BatchPtr b, Collector&) override {
    if (int us = w.sink_sleep_us.load(); us > 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(us * static_cast<int64_t>(b->num_rows()) / 50));
    }
    for (size_t r = 0; r < b->num_rows(); ++r) {
      int64_t seen = ++w.rows_seen;
      int64_t fail_at = w.fail_at.load();
      if (fail_at >= 0 && seen >= fail_at && w.fail_at.compare_exchange_strong(fail_at, -1)) {
        return absl::InternalError("injected failure");
      }
      sums_[std::string(b->column(0).strings[r])] += b->column(1).ints[r];
    }
    return absl::OkStatus();
  }
  absl::Status Snapshot(SnapshotWriter& writer) override {
    if (w.snapshot_fails.load()) return absl::UnavailableError("snapshot refused on purpose");
    if (int ms = w.slow_snapshot_ms.exchange(0); ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    writer.Write("sums", Encode(sums_));
    prepared_[writer.checkpoint_id()] = sums_;
    return absl::OkStatus();
  }
  absl::Status Restore(SnapshotReader& reader) override {
    std::string s;
    if (!reader.Read("sums", &s)) return absl::DataLossError("no sums");
    for (absl::string_view line : absl::StrSplit(s, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
      int64_t v;
      if (!absl::SimpleAtoi(kv.second, &v)) return absl::DataLossError("bad sums");
      sums_[kv.first] = v;
    }
    return absl::OkStatus();
  }
  absl::Status NotifyCheckpointComplete(int64_t id) override {
    auto it = prepared_.upper_bound(id);
    if (it == prepared_.begin()) return absl::OkStatus();
    --it;
    std::lock_guard<std::mutex> lock(w.mu);
    w.committed[subtask_] = it->second;
    prepared_.erase(prepared_.begin(), ++it);
    return absl::OkStatus();
  }

 private:
  int subtask_ = 0;
  std::map<std::string, int64_t> sums_;
  std::map<int64_t, std::map<std::string, int64_t>> prepared_;
};

// The keyed sinks' pacing (w.sink_sleep_us per 50 rows) and injected failure: once, at
// row w.fail_at of all runs, after a checkpoint completed in this run.
void PaceSink(const RecordBatch& b) {
  if (int us = w.sink_sleep_us.load(); us > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(us * static_cast<int64_t>(b.num_rows()) / 50));
  }
}
bool InjectFailure() {
  int64_t seen = ++w.rows_seen;
  int64_t fail_at = w.fail_at.load();
  return fail_at >= 0 && seen >= fail_at && w.completed_in_run.load() > 0 &&
         w.fail_at.compare_exchange_strong(fail_at, -1);
}

// Sums v per key in the runtime's keyed state (Context::GetKeyedState), with no Snapshot
// of its own: the runtime must checkpoint that state. Publishes the sums at the end.
class KeyedStateSink : public Operator {
 public:
  SchemaPtr output_schema() const override { return nullptr; }
  absl::Status Open(Context& ctx) override {
    subtask_ = ctx.subtask_index();
    max_parallelism_ = ctx.max_parallelism();
    first_group_ = static_cast<uint32_t>(ctx.first_key_group());
    last_group_ = static_cast<uint32_t>(ctx.last_key_group());
    sums_ = ctx.GetKeyedState("sums");
    return absl::OkStatus();
  }
  absl::Status Process(int, BatchPtr b, Collector&) override {
    PaceSink(*b);
    for (size_t r = 0; r < b->num_rows(); ++r) {
      if (InjectFailure()) return absl::InternalError("injected failure");
      std::string_view key = b->column(0).strings[r];
      // The key's group as the key-by exchange computes it, so its sum moves with it.
      const uint32_t group = KeyGroupOf(HashKeyString(key, 0), max_parallelism_);
      if (group < first_group_ || group > last_group_) return absl::InternalError("a key of another subtask");
      std::string v;
      int64_t sum = 0;
      if (sums_->Get(group, key, &v) && !absl::SimpleAtoi(v, &sum)) return absl::DataLossError("bad sum");
      sums_->Put(group, key, std::to_string(sum + b->column(1).ints[r]));
    }
    return absl::OkStatus();
  }
  absl::Status NotifyCheckpointComplete(int64_t) override {
    ++w.completed_in_run;
    return absl::OkStatus();
  }
  absl::Status OnEndOfInput(Collector&) override {
    std::lock_guard<std::mutex> lock(w.mu);
    auto& out = w.committed[subtask_];
    for (uint32_t g = first_group_; g <= last_group_; ++g) {
      sums_->ForEach(g, [&](std::string_view k, std::string_view v) {
        int64_t sum = 0;
        if (absl::SimpleAtoi(absl::string_view(v.data(), v.size()), &sum)) out[std::string(k)] = sum;
      });
    }
    return absl::OkStatus();
  }

 private:
  int subtask_ = 0;
  int max_parallelism_ = 128;
  uint32_t first_group_ = 0;
  uint32_t last_group_ = 0;
  KeyedState* sums_ = nullptr;
};

// KeyedStateSink's sums, through keyed timers: each row's value waits in a bucket per
// (key, value / 100) with a timer at that bucket; the timer adds the bucket to the key's
// sum. The source emits no watermark, so every timer waits in state (through checkpoints,
// failures and rescales) until the end of input fires them all.
class TimerSink : public Operator {
 public:
  SchemaPtr output_schema() const override { return nullptr; }
  absl::Status Open(Context& ctx) override {
    subtask_ = ctx.subtask_index();
    max_parallelism_ = ctx.max_parallelism();
    first_group_ = static_cast<uint32_t>(ctx.first_key_group());
    last_group_ = static_cast<uint32_t>(ctx.last_key_group());
    auto timers = ctx.GetTimerService();
    auto pending = ctx.GetValueState("pending");
    auto sums = ctx.GetValueState("sums");
    if (!timers.ok()) return timers.status();
    if (!pending.ok()) return pending.status();
    if (!sums.ok()) return sums.status();
    timers_ = *timers;
    pending_ = *pending;
    sums_ = *sums;
    return absl::OkStatus();
  }
  absl::Status Process(int, BatchPtr b, Collector&) override {
    PaceSink(*b);
    for (size_t r = 0; r < b->num_rows(); ++r) {
      if (InjectFailure()) return absl::InternalError("injected failure");
      std::string_view key = b->column(0).strings[r];
      const uint32_t group = KeyGroupOf(HashKeyString(key, 0), max_parallelism_);
      const int64_t v = b->column(1).ints[r];
      const std::string bucket = std::to_string(v / 100);
      std::string held;
      int64_t sum = 0;
      if (pending_->Get({group, key, bucket}, &held) && !absl::SimpleAtoi(held, &sum)) {
        return absl::DataLossError("bad bucket");
      }
      pending_->Put({group, key, bucket}, std::to_string(sum + v));
      timers_->Register({group, key, ""}, v / 100);
    }
    return absl::OkStatus();
  }
  absl::Status OnKeyedTimer(const StateKey& k, int64_t time, Collector&) override {
    if (k.key_group < first_group_ || k.key_group > last_group_) return absl::InternalError("a timer of another subtask");
    const std::string bucket = std::to_string(time);
    std::string held, total;
    int64_t add = 0, sum = 0;
    if (!pending_->Get({k.key_group, k.key, bucket}, &held) || !absl::SimpleAtoi(held, &add)) {
      return absl::InternalError(absl::StrCat("timer ", time, " of key ", Sv(k.key), " fired without its bucket (twice?)"));
    }
    pending_->Delete({k.key_group, k.key, bucket});
    if (sums_->Get({k.key_group, k.key, ""}, &total) && !absl::SimpleAtoi(total, &sum)) return absl::DataLossError("sum");
    sums_->Put({k.key_group, k.key, ""}, std::to_string(sum + add));
    ++w.timers_fired;
    return absl::OkStatus();
  }
  absl::Status NotifyCheckpointComplete(int64_t) override {
    ++w.completed_in_run;
    return absl::OkStatus();
  }
  absl::Status OnEndOfInput(Collector&) override {
    // Every timer fired before this: no bucket is left.
    std::lock_guard<std::mutex> lock(w.mu);
    auto& out = w.committed[subtask_];
    for (uint32_t g = first_group_; g <= last_group_; ++g) {
      bool left = false;
      pending_->ForEachInKeyGroup(g, [&](std::string_view, std::string_view, std::string_view) {
        left = true;
        return false;
      });
      if (left) return absl::InternalError("a bucket whose timer never fired");
      sums_->ForEachInKeyGroup(g, [&](std::string_view k, std::string_view, std::string_view v) {
        int64_t sum = 0;
        if (absl::SimpleAtoi(absl::string_view(v.data(), v.size()), &sum)) out[std::string(k)] = sum;
        return true;
      });
    }
    return absl::OkStatus();
  }

 private:
  int subtask_ = 0;
  int max_parallelism_ = 128;
  uint32_t first_group_ = 0;
  uint32_t last_group_ = 0;
  TimerService* timers_ = nullptr;
  ValueState* pending_ = nullptr;
  ValueState* sums_ = nullptr;
};

// Asks for "sums" as a map state (KeyedStateSink keeps it as a value state).
class MapStateSink : public Operator {
 public:
  SchemaPtr output_schema() const override { return nullptr; }
  absl::Status Open(Context& ctx) override { return ctx.GetMapState("sums").status(); }
  absl::Status Process(int, BatchPtr, Collector&) override { return absl::OkStatus(); }
};

OperatorRegistry Registry() {
  OperatorRegistry r;
  EXPECT_OK(operators::RegisterBasicOperators(r));
  EXPECT_OK(r.RegisterSource("seq", [](const OperatorConfig& c) -> absl::StatusOr<std::unique_ptr<Source>> {
    auto count = c.params->GetIntOr("count", 1000);
    if (!count.ok()) return count.status();
    return std::make_unique<SeqSource>(*count, c.subtask_index);
  }));
  EXPECT_OK(r.RegisterOperator("committing", [](const OperatorConfig&) -> absl::StatusOr<std::unique_ptr<Operator>> {
    return std::make_unique<CommittingSink>();
  }));
  EXPECT_OK(r.RegisterOperator("map_state_sink", [](const OperatorConfig&) -> absl::StatusOr<std::unique_ptr<Operator>> {
    return std::make_unique<MapStateSink>();
  }));
  EXPECT_OK(r.RegisterOperator("timer_sink", [](const OperatorConfig&) -> absl::StatusOr<std::unique_ptr<Operator>> {
    return std::make_unique<TimerSink>();
  }));
  EXPECT_OK(r.RegisterOperator("keyed_state_sink",
                               [](const OperatorConfig&) -> absl::StatusOr<std::unique_ptr<Operator>> {
                                 return std::make_unique<KeyedStateSink>();
                               }));
  return r;
}

std::string Yaml(const std::string& dir, int64_t count, int parallelism = 2, const std::string& extra = "") {
  return absl::StrCat("name: ck\nparallelism: ", parallelism, "\nbatch_size: 50\ncheckpoint: {dir: ", dir,
                      ", interval: 5ms, tolerable_failures: 5", extra, "}\noperators:\n",
                      "  - {id: src, type: seq, count: ", count, "}\n",
                      "  - {id: sink, type: committing, input: src, key_by: [key]}\n");
}

absl::StatusOr<JobSummary> RunJob(const std::string& yaml) {
  {
    std::lock_guard<std::mutex> lock(w.mu);
    w.committed.clear();  // what a run published before it failed is not the job's output
  }
  w.completed_in_run = 0;
  OperatorRegistry registry = Registry();
  auto topology = topology::LoadTopologyString(yaml, "ck.yaml");
  if (!topology.ok()) return topology.status();
  auto plan = BuildJobPlan(*topology, registry);
  if (!plan.ok()) return plan.status();
  RunOptions options;
  options.progress_interval_s = 0;
  LocalExecutor executor(*plan, registry, options);
  return executor.Run();
}

// The sums an undisturbed run publishes: every row counted once.
std::map<std::string, int64_t> Expected(int64_t count, int parallelism) {
  std::map<std::string, int64_t> out;
  for (int s = 0; s < parallelism; ++s) {
    for (int64_t i = 0; i < count * (s + 1); ++i) out["k" + std::to_string(i % 17)] += i;
  }
  return out;
}

// The last published sums of every sink subtask, merged.
std::map<std::string, int64_t> Committed() {
  std::lock_guard<std::mutex> lock(w.mu);
  std::map<std::string, int64_t> out;
  for (const auto& [subtask, sums] : w.committed) {
    for (const auto& [k, v] : sums) {
      EXPECT_EQ(out.count(k), 0u) << "key " << k << " in two subtasks";
      out[k] += v;
    }
  }
  return out;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / absl::StrCat("sluice-ckpt-", ::getpid(), "-",
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    RocksDbStateOptions state;
    state.local_dir = dir_ + "-rocksdb";
    state.write_cache_bytes = 64 << 10;  // small: the write-back cache spills during the tests
    SetRocksDbStateOptions(state);
    w.rows_seen = 0;
    w.fail_at = -1;
    w.slow_snapshot_ms = 0;
    w.snapshot_fails = false;
    w.sink_sleep_us = 0;
    w.source_rows = 0;
  }
  void TearDown() override {
    fs::remove_all(dir_);
    // Every task removed its RocksDB instance when it ended.
    EXPECT_TRUE(!fs::exists(dir_ + "-rocksdb") || fs::is_empty(dir_ + "-rocksdb"));
    fs::remove_all(dir_ + "-rocksdb");
  }
  std::string dir_;
};

TEST_F(CheckpointTest, AnUndisturbedRunCommitsEverythingOnce) {
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(Yaml(dir_, 20000)));
  EXPECT_EQ(Committed(), Expected(20000, 2));
  EXPECT_TRUE(std::any_of(s.checkpoints.begin(), s.checkpoints.end(), [](const CheckpointStats& c) {
    return c.state == CheckpointStats::State::kCompleted;
  }));
  EXPECT_EQ(s.restored_checkpoint, 0);
}

TEST_F(CheckpointTest, FailuresAtManyPointsLoseNothingAndCountNothingTwice) {
  const int64_t count = 60000;  // 180k rows through a key-by exchange of 2 x 2 channels
  // A sink fails once at each of these rows seen (over all runs), then the job runs out.
  w.sink_sleep_us = 20;
  int restored = 0;
  for (int64_t at : {9000, 40000, 41000, 90000, 150000}) {
    w.fail_at = at;
    auto r = RunJob(Yaml(dir_, count));
    ASSERT_FALSE(r.ok()) << "the failure at " << at << " did not happen";
    EXPECT_NE(r.status().message().find("injected failure"), std::string::npos) << r.status();
  }
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(Yaml(dir_, count)));
  restored = static_cast<int>(s.restored_checkpoint);
  EXPECT_GT(restored, 0);
  EXPECT_EQ(Committed(), Expected(count, 2));
  // Restores resume near where each run stopped: far fewer rows than 6 full runs.
  std::printf("source rows over 6 runs: %lld for an input of %lld\n", static_cast<long long>(w.source_rows.load()),
              static_cast<long long>(3 * count));
  EXPECT_LT(w.source_rows.load(), 3 * count * 3);
}

TEST_F(CheckpointTest, TheRuntimeCheckpointsTheKeyedStateItHandsOut) {
  // A plugin that keeps its sums in Context::GetKeyedState and has no Snapshot of its own.
  const std::string yaml = absl::StrCat("name: ks\nparallelism: 2\nbatch_size: 50\ncheckpoint: {dir: ", dir_,
                                        ", interval: 5ms, tolerable_failures: 5}\noperators:\n",
                                        "  - {id: src, type: seq, count: 30000}\n",
                                        "  - {id: sink, type: keyed_state_sink, input: src, key_by: [key]}\n");
  w.sink_sleep_us = 20;  // 90k rows take at least 18 ms per sink: checkpoints every 5 ms complete first
  w.fail_at = 40000;
  ASSERT_FALSE(RunJob(yaml).ok());
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(yaml));
  EXPECT_GT(s.restored_checkpoint, 0);
  EXPECT_EQ(Committed(), Expected(30000, 2));
}

std::string KeyedStateYaml(const std::string& dir, std::string_view backend, std::string_view sink_type) {
  return absl::StrCat("name: ks\nparallelism: 2\nbatch_size: 50\nstate: {backend: ", Sv(backend),
                      "}\ncheckpoint: {dir: ", dir, ", interval: 5ms, tolerable_failures: 5}\noperators:\n",
                      "  - {id: src, type: seq, count: 30000}\n", "  - {id: sink, type: ", Sv(sink_type),
                      ", input: src, key_by: [key]}\n");
}

TEST_F(CheckpointTest, KeyedStateInRocksDbSurvivesAFailure) {
  const std::string yaml = KeyedStateYaml(dir_, "rocksdb", "keyed_state_sink");
  w.sink_sleep_us = 20;
  w.fail_at = 40000;
  ASSERT_FALSE(RunJob(yaml).ok());
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(yaml));
  EXPECT_GT(s.restored_checkpoint, 0);
  EXPECT_EQ(Committed(), Expected(30000, 2));
}

TEST_F(CheckpointTest, AMemoryBackendCheckpointRestoresIntoRocksDbAndBack) {
  // The checkpoint format of keyed state is the same from either backend.
  w.sink_sleep_us = 20;
  w.fail_at = 25000;
  ASSERT_FALSE(RunJob(KeyedStateYaml(dir_, "memory", "keyed_state_sink")).ok());
  w.fail_at = 45000;  // the second run fails too, after a checkpoint of its own
  ASSERT_FALSE(RunJob(KeyedStateYaml(dir_, "rocksdb", "keyed_state_sink")).ok());
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(KeyedStateYaml(dir_, "memory", "keyed_state_sink")));
  EXPECT_GT(s.restored_checkpoint, 0);
  EXPECT_EQ(Committed(), Expected(30000, 2));
}

TEST_F(CheckpointTest, AStateWhoseTypeChangedIsRefusedNamingIt) {
  w.sink_sleep_us = 20;
  w.fail_at = 40000;
  ASSERT_FALSE(RunJob(KeyedStateYaml(dir_, "rocksdb", "keyed_state_sink")).ok());
  // The same node now asks for "sums" as a map state.
  auto s = RunJob(KeyedStateYaml(dir_, "rocksdb", "map_state_sink"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_NE(s.status().message().find("state 'sums' of node 'sink' is a value state"), std::string::npos)
      << s.status();
}

TEST_F(CheckpointTest, ADamagedStateFileFallsBackToThePreviousCheckpointAndNamesIt) {
  w.fail_at = 50000;
  w.sink_sleep_us = 100;  // several checkpoints complete before the failure
  ASSERT_FALSE(RunJob(Yaml(dir_, 40000, 2, ", retain: 3")).ok());
  std::vector<int64_t> ids;
  for (const auto& e : fs::directory_iterator(dir_)) {
    int64_t id;
    std::string name = e.path().filename().string();
    if (name.rfind("chk-", 0) == 0 && absl::SimpleAtoi(name.substr(4), &id) && fs::exists(e.path() / "_metadata")) {
      ids.push_back(id);
    }
  }
  ASSERT_GE(ids.size(), 2u) << "the failed run kept fewer than two checkpoints";
  std::sort(ids.begin(), ids.end());
  const fs::path newest = fs::path(dir_) / absl::StrCat("chk-", ids.back());
  {
    std::ofstream f(newest / "1-1.state", std::ios::binary | std::ios::in | std::ios::out);
    ASSERT_TRUE(f.good());
    f.seekp(30);
    f << "garbage";
  }
  w.sink_sleep_us = 0;
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(Yaml(dir_, 40000)));
  EXPECT_EQ(s.restored_checkpoint, ids[ids.size() - 2]);
  EXPECT_EQ(Committed(), Expected(40000, 2));
}

TEST_F(CheckpointTest, ACheckpointThatTimesOutIsDroppedAndTheJobGoesOn) {
  w.slow_snapshot_ms = 400;
  w.sink_sleep_us = 200;
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(absl::StrCat("name: ck\nparallelism: 2\nbatch_size: 50\ncheckpoint: {dir: ",
                                                         dir_, ", interval: 100ms, timeout: 100ms, "
                                                         "tolerable_failures: 5}\noperators:\n",
                                                         "  - {id: src, type: seq, count: 30000}\n",
                                                         "  - {id: sink, type: committing, input: src, key_by: [key]}\n")));
  EXPECT_EQ(Committed(), Expected(30000, 2));
  int failed = 0, completed_after = 0;
  for (const CheckpointStats& c : s.checkpoints) {
    if (c.state == CheckpointStats::State::kFailed) {
      ++failed;
      EXPECT_NE(c.failure.find("timed out"), std::string::npos) << c.failure;
    } else if (failed > 0 && c.state == CheckpointStats::State::kCompleted) {
      ++completed_after;
    }
  }
  EXPECT_GE(failed, 1);
  EXPECT_GE(completed_after, 1);
}

TEST_F(CheckpointTest, TooManyFailedCheckpointsFailTheJob) {
  w.snapshot_fails = true;
  w.sink_sleep_us = 100;
  auto r = RunJob(absl::StrCat("name: ck\nparallelism: 2\ncheckpoint: {dir: ", dir_,
                            ", interval: 5ms, tolerable_failures: 2}\noperators:\n",
                            "  - {id: src, type: seq, count: 100000}\n",
                            "  - {id: sink, type: committing, input: src, key_by: [key]}\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("3 checkpoints failed in a row"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("snapshot refused on purpose"), std::string::npos) << r.status();
  EXPECT_TRUE(Committed().empty());
}

TEST_F(CheckpointTest, CheckpointsCompleteUnderFullBackpressure) {
  w.sink_sleep_us = 2000;  // 50 rows per 2 ms: the source waits on full mailboxes
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(Yaml(dir_, 3000)));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int completed = 0;
  int64_t longest = 0;
  for (const CheckpointStats& c : s.checkpoints) {
    if (c.state == CheckpointStats::State::kCompleted) {
      ++completed;
      longest = std::max(longest, c.end_ms - c.trigger_ms);
    }
  }
  std::printf("under backpressure: %d checkpoints completed in %.1f s, the longest took %lld ms\n", completed, secs,
              static_cast<long long>(longest));
  EXPECT_GE(completed, 3);
  EXPECT_EQ(Committed(), Expected(3000, 2));
}

TEST_F(CheckpointTest, AnOperatorThatCannotRescaleIsRefusedNamingIt) {
  w.fail_at = 20000;
  w.sink_sleep_us = 100;  // a checkpoint completes before the failure
  ASSERT_FALSE(RunJob(Yaml(dir_, 20000)).ok());
  // The seq source and the committing sink keep state of their own and have no
  // RestoreRescaled: whichever task restores first names its node.
  auto r = RunJob(Yaml(dir_, 20000, 3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  const std::string m(r.status().message());
  EXPECT_TRUE(m.find("node 'src' (seq) cannot be restored at parallelism 3 from checkpoint") != m.npos ||
              m.find("node 'sink' (committing) cannot be restored at parallelism 3 from checkpoint") != m.npos)
      << r.status();
  EXPECT_NE(m.find("taken at parallelism 2"), m.npos) << r.status();
}

// The source stays at 2 subtasks; the keyed sink runs at 2, fails, is restored at 3,
// fails again, and ends at 1: its keyed state moves with its key groups.
std::string RescaleYaml(const std::string& dir, std::string_view backend, int sink_parallelism,
                        std::string_view sink_id = "sink", int max_parallelism = 128) {
  return absl::StrCat("name: ks\nparallelism: 2\nmax_parallelism: ", max_parallelism,
                      "\nbatch_size: 50\nstate: {backend: ", Sv(backend), "}\ncheckpoint: {dir: ", dir,
                      ", interval: 5ms, tolerable_failures: 5}\noperators:\n",
                      "  - {id: src, type: seq, count: 30000}\n", "  - {id: ", Sv(sink_id),
                      ", type: keyed_state_sink, input: src, key_by: [key], parallelism: ", sink_parallelism, "}\n");
}

TEST_F(CheckpointTest, KeyedStateIsRedistributedOnRestoreAtAnotherParallelism) {
  for (std::string_view backend : {"memory", "rocksdb"}) {
    SCOPED_TRACE(backend);
    fs::remove_all(dir_);
    w.sink_sleep_us = 50;  // each run lasts long enough for checkpoints every 5 ms to complete
    w.fail_at = w.rows_seen + 25000;
    ASSERT_FALSE(RunJob(RescaleYaml(dir_, backend, 2)).ok());
    w.fail_at = w.rows_seen + 20000;  // after a checkpoint of the run at 3
    auto at3 = RunJob(RescaleYaml(dir_, backend, 3));
    ASSERT_FALSE(at3.ok());
    EXPECT_NE(at3.status().message().find("injected failure"), std::string::npos) << at3.status();
    ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(RescaleYaml(dir_, backend, 1)));
    EXPECT_GT(s.restored_checkpoint, 0);
    EXPECT_EQ(Committed(), Expected(30000, 2));
  }
}

// Keyed timers are state: they survive failures and move with their key group when the
// job is restored at another parallelism (2 -> 3 -> 1), each firing exactly once.
TEST_F(CheckpointTest, KeyedTimersSurviveFailuresAndRescaling) {
  for (std::string_view backend : {"memory", "rocksdb"}) {
    SCOPED_TRACE(backend);
    fs::remove_all(dir_);
    w.timers_fired = 0;
    auto yaml = [&](int p) {
      std::string y = RescaleYaml(dir_, backend, p);
      return absl::StrReplaceAll(y, {{"type: keyed_state_sink", "type: timer_sink"}});
    };
    w.sink_sleep_us = 50;
    w.fail_at = w.rows_seen + 25000;
    ASSERT_FALSE(RunJob(yaml(2)).ok());
    w.fail_at = w.rows_seen + 20000;
    auto at3 = RunJob(yaml(3));
    ASSERT_FALSE(at3.ok());
    EXPECT_NE(at3.status().message().find("injected failure"), std::string::npos) << at3.status();
    EXPECT_EQ(w.timers_fired.load(), 0) << "no watermark: no timer fires before the end";
    ASSERT_OK_AND_ASSIGN(JobSummary s, RunJob(yaml(1)));
    EXPECT_GT(s.restored_checkpoint, 0);
    EXPECT_EQ(Committed(), Expected(30000, 2));
    EXPECT_GT(w.timers_fired.load(), 17);
  }
}

TEST_F(CheckpointTest, StateOfANodeTheTopologyLacksIsRefusedUnlessAllowed) {
  w.sink_sleep_us = 20;
  w.fail_at = 25000;
  ASSERT_FALSE(RunJob(RescaleYaml(dir_, "memory", 2)).ok());
  auto r = RunJob(RescaleYaml(dir_, "memory", 2, "sums"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("holds state of node 'sink' that this topology does not have"),
            std::string::npos)
      << r.status();
  EXPECT_NE(r.status().message().find("--allow-non-restored-state"), std::string::npos) << r.status();
}

TEST_F(CheckpointTest, AChangedMaxParallelismIsRefusedWithBothValues) {
  w.sink_sleep_us = 20;
  w.fail_at = 25000;
  ASSERT_FALSE(RunJob(RescaleYaml(dir_, "memory", 2)).ok());
  auto r = RunJob(RescaleYaml(dir_, "memory", 2, "sink", 256));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("taken with max_parallelism 128 (key groups); the job has 256"),
            std::string::npos)
      << r.status();
}

TEST_F(CheckpointTest, AnUnknownStorageSchemeIsRefused) {
  auto r = RunJob(Yaml("s3://bucket/ckpt", 100));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown scheme 's3'"), std::string::npos) << r.status();
}

TEST(MailboxTest, ABlockedChannelIsSkippedAndHoldsOnlyItsOwnRoom) {
  Mailbox m(2);
  auto item = [](int channel, int64_t wm) {
    MailboxItem i;
    i.kind = MailboxItem::Kind::kWatermark;
    i.channel = channel;
    i.watermark = wm;
    return i;
  };
  ASSERT_TRUE(m.Push(item(0, 1)));
  ASSERT_TRUE(m.Push(item(0, 2)));
  m.Block(0);
  // Channel 0 is full and blocked; channel 1 still has its own room and flows.
  ASSERT_TRUE(m.Push(item(1, 10)));
  MailboxItem got;
  ASSERT_TRUE(m.Pop(&got));
  EXPECT_EQ(got.watermark, 10);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    m.Push(item(0, 3));
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(pushed.load());  // its channel is full
  MailboxItem control;
  control.kind = MailboxItem::Kind::kCheckpointComplete;
  control.channel = -1;
  ASSERT_TRUE(m.Push(std::move(control)));  // never bounded, never blocked
  ASSERT_TRUE(m.Pop(&got));
  EXPECT_EQ(got.kind, MailboxItem::Kind::kCheckpointComplete);
  m.UnblockAll();
  for (int64_t want : {1, 2, 3}) {
    ASSERT_TRUE(m.Pop(&got));
    EXPECT_EQ(got.watermark, want);
  }
  producer.join();
  EXPECT_TRUE(pushed.load());
}

}  // namespace
}  // namespace sluice::runtime
