// An operator's log lines say which job, operator and subtask speak.
#include "sluice/logger.h"

#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sluice/operator.h"

namespace sluice {
namespace {

// Keeps every line; drops those below `min_level`.
class KeepLines : public LogSink {
 public:
  explicit KeepLines(LogLevel min_level = LogLevel::kDebug) : min_level_(min_level) {}
  bool Enabled(LogLevel level) const override { return level >= min_level_; }
  void Write(LogLevel level, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(level, std::string(line));
  }
  std::vector<std::pair<LogLevel, std::string>> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  LogLevel min_level_;
  std::mutex mu_;
  std::vector<std::pair<LogLevel, std::string>> lines_;
};

TEST(LoggerTest, AnOperatorsLinesCarryJobOperatorAndSubtask) {
  auto sink = std::make_shared<KeepLines>();
  Logger log = Logger::ForOperator(sink, "ysb-3", "parse", 1);
  log.Info("reading %d partition(s) of %s", 4, std::string_view("events"));
  log.Warn("kafka: %s", "broker down");
  auto lines = sink->lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].first, LogLevel::kInfo);
  EXPECT_EQ(lines[0].second, "job=ysb-3 op=parse#1: reading 4 partition(s) of events");
  EXPECT_EQ(lines[1].first, LogLevel::kWarn);
  EXPECT_EQ(lines[1].second, "job=ysb-3 op=parse#1: kafka: broker down");
}

TEST(LoggerTest, AFactoryLoggerHasNoJobYet) {
  auto sink = std::make_shared<KeepLines>();
  Logger::ForOperator(sink, "", "src", 0).Error("bad %s", "thing");
  ASSERT_EQ(sink->lines().size(), 1u);
  EXPECT_EQ(sink->lines()[0].second, "op=src#0: bad thing");
}

TEST(LoggerTest, LinesBelowTheSinksLevelAreDropped) {
  auto sink = std::make_shared<KeepLines>(LogLevel::kWarn);
  Logger log(sink, "ctx");
  log.Debug("d");
  log.Info("i");
  log.Error("e");
  ASSERT_EQ(sink->lines().size(), 1u);
  EXPECT_EQ(sink->lines()[0].second, "ctx: e");
  EXPECT_FALSE(log.Enabled(LogLevel::kInfo));
}

TEST(LoggerTest, CopiesShareTheSinkAcrossThreads) {
  auto sink = std::make_shared<KeepLines>();
  Logger log = Logger::ForOperator(sink, "j", "n", 2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([copy = log, t] {
      for (int i = 0; i < 100; ++i) copy.Info("thread %d line %d", t, i);
    });
  }
  for (auto& t : threads) t.join();
  auto lines = sink->lines();
  ASSERT_EQ(lines.size(), 400u);
  for (const auto& [level, line] : lines) EXPECT_EQ(line.rfind("job=j op=n#2: thread ", 0), 0u) << line;
}

TEST(LoggerTest, TheDefaultWritesToTheProcessLog) {
  Logger log;
  EXPECT_EQ(log.context(), "");
  EXPECT_TRUE(log.Enabled(LogLevel::kError));
  log.Info("a line on stderr from logger_test");  // must not crash
}

// A Context built by anyone (a test's, a plugin host's) gives a logger with its job,
// node and subtask, unless it overrides logger().
class MinimalContext : public Context {
 public:
  const std::string& node_id() const override { return node_; }
  int subtask_index() const override { return 3; }
  int parallelism() const override { return 4; }
  int max_parallelism() const override { return 128; }
  int first_key_group() const override { return 0; }
  int last_key_group() const override { return 127; }
  bool batch_mode() const override { return true; }
  Counter* GetCounter(std::string_view) override { return nullptr; }
  KeyedState* GetKeyedState(std::string_view) override { return nullptr; }
  void RegisterEventTimeTimer(int64_t) override {}
  bool checkpointing() const override { return false; }
  const std::string& run_id() const override { return job_; }
  const std::string& job_id() const override { return job_; }
  int64_t attempt() const override { return 1; }

 private:
  std::string node_ = "window", job_ = "nginx-7";
};

TEST(LoggerTest, TheDefaultContextLoggerNamesJobNodeAndSubtask) {
  MinimalContext ctx;
  EXPECT_EQ(ctx.logger().context(), "job=nginx-7 op=window#3");
  OperatorConfig config;
  config.node_id = "window";
  config.subtask_index = 2;
  EXPECT_EQ(config.logger().context(), "op=window#2");
  EXPECT_EQ(&ctx.clock(), &SystemClock());
}

}  // namespace
}  // namespace sluice
