#include "sluice/output_fence.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// Just what OutputFence asks of a Context.
class FenceContext : public Context {
 public:
  FenceContext(std::string job, int64_t attempt)
      : job_(std::move(job)), attempt_(attempt), run_(job_ + "-" + std::to_string(attempt)) {}
  const std::string& node_id() const override { return node_; }
  int subtask_index() const override { return 0; }
  int parallelism() const override { return 1; }
  int max_parallelism() const override { return 128; }
  int first_key_group() const override { return 0; }
  int last_key_group() const override { return 127; }
  bool batch_mode() const override { return true; }
  Counter* GetCounter(std::string_view) override { return nullptr; }
  KeyedState* GetKeyedState(std::string_view) override { return nullptr; }
  void RegisterEventTimeTimer(int64_t) override {}
  bool checkpointing() const override { return false; }
  const std::string& run_id() const override { return run_; }
  const std::string& job_id() const override { return job_; }
  int64_t attempt() const override { return attempt_; }

 private:
  std::string node_ = "sink", job_;
  int64_t attempt_;
  std::string run_;
};

class OutputFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fence_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "out.tsv").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  absl::Status Publish(OutputFence& f, const std::string& text) {
    return f.Publish([&] {
      std::ofstream(path_) << text;
      return absl::OkStatus();
    });
  }
  std::string Output() {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(OutputFenceTest, ALaterAttemptFencesTheEarlierOne) {
  FenceContext a1("job-1", 1), a2("job-1", 2);
  auto first = OutputFence::Claim(path_, a1);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = OutputFence::Claim(path_, a2);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(Publish(**second, "attempt 2").ok());
  absl::Status st = Publish(**first, "attempt 1");
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted) << st;
  EXPECT_EQ(Output(), "attempt 2");
  // A stale attempt cannot even claim again.
  EXPECT_EQ(OutputFence::Claim(path_, a1).status().code(), absl::StatusCode::kAborted);
}

TEST_F(OutputFenceTest, OtherJobsDoNotFenceEachOther) {
  FenceContext a("agent-a", 1), b("agent-b", 1), a2("agent-a", 2);
  auto fa = OutputFence::Claim(path_, a);
  auto fb = OutputFence::Claim(path_, b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_TRUE(Publish(**fa, "a").ok());
  EXPECT_TRUE(Publish(**fb, "b").ok());
  // agent-a's next attempt fences agent-a's first only.
  auto fa2 = OutputFence::Claim(path_, a2);
  ASSERT_TRUE(fa2.ok());
  EXPECT_EQ(Publish(**fa, "a again").code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(Publish(**fb, "b again").ok());
}

TEST_F(OutputFenceTest, ClaimRemovesWhatEarlierAttemptsLeftInProgress) {
  FenceContext a1("job-1", 1), a2("job-1", 2), other("job-9", 1);
  std::ofstream(OutputFence::InProgressPath(path_, a1)) << "half";
  std::ofstream(OutputFence::InProgressPath(path_, other)) << "someone else's";
  auto f = OutputFence::Claim(path_, a2);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(fs::exists(OutputFence::InProgressPath(path_, a1)));
  EXPECT_TRUE(fs::exists(OutputFence::InProgressPath(path_, other)));
}

TEST_F(OutputFenceTest, ADamagedFenceFileIsReadAsNoClaim) {
  std::ofstream(dir_ / ".out.tsv.fence") << "garbage\x01\nno-tab-here\njob-1\tnot-a-number\n";
  FenceContext a1("job-1", 1);
  auto f = OutputFence::Claim(path_, a1);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(Publish(**f, "ok").ok());
}

TEST_F(OutputFenceTest, AnUnwritableDirectoryNamesThePath) {
  FenceContext a1("job-1", 1);
  auto f = OutputFence::Claim("/proc/nope/out.tsv", a1);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(std::string(f.status().message()).find("/proc/nope/out.tsv"), std::string::npos) << f.status();
}

}  // namespace
}  // namespace sluice
