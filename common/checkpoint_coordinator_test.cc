#include "common/checkpoint_coordinator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/testing/status_matchers.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-ckpt-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto s = CheckpointStorage::Open("file://" + dir_.string());
    ASSERT_OK(s.status());
    storage_ = std::move(*s);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TaskAck Ack(int64_t id, int v, int s, const std::string& bytes) {
    auto h = storage_->WriteTaskState(id, v, s, bytes);
    EXPECT_OK(h.status());
    TaskAck a;
    a.state = *h;
    return a;
  }

  fs::path dir_;
  std::unique_ptr<CheckpointStorage> storage_;
};

TEST_F(CheckpointTest, UnknownSchemeIsRefusedNamingIt) {
  auto s = CheckpointStorage::Open("s3://bucket/ckpt");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("unknown scheme 's3'"), std::string::npos) << s.status();
  EXPECT_FALSE(CheckpointStorage::Open("file://relative/x").ok());
  EXPECT_EQ(JoinStorageLocation("file:///a/", "job-1"), "file:///a/job-1");
}

TEST_F(CheckpointTest, CompletesWhenEveryTaskAcknowledgedAndKeepsTheLastN) {
  CheckpointConfig cfg;
  cfg.interval_ms = 100;
  cfg.retain = 2;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}, {1, 0}}, {}, /*start_ms=*/0);
  EXPECT_EQ(cc.MaybeTrigger(50), 0);  // the first comes an interval after the start
  for (int64_t n = 1; n <= 3; ++n) {
    int64_t now = 100 * n;
    ASSERT_EQ(cc.MaybeTrigger(now), n);
    EXPECT_EQ(cc.MaybeTrigger(now + 1), 0);  // one in flight
    auto none = cc.Acknowledge(n, {0, 0}, Ack(n, 0, 0, "a" + std::to_string(n)), now + 5);
    EXPECT_FALSE(none.has_value());
    auto done = cc.Acknowledge(n, {1, 0}, Ack(n, 1, 0, "b" + std::to_string(n)), now + 9);
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(done->id, n);
    EXPECT_EQ(done->tasks.size(), 2u);
  }
  ASSERT_OK_AND_ASSIGN(auto ids, storage_->ListCompleted());
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(fs::exists(dir_ / "chk-1"));
  ASSERT_OK_AND_ASSIGN(CheckpointMetadata m, storage_->ReadMetadata(3));
  ASSERT_OK_AND_ASSIGN(std::string bytes, storage_->ReadTaskState(*m.Find(1, 0)));
  EXPECT_EQ(bytes, "b3");
  EXPECT_OK(cc.health());
}

TEST_F(CheckpointTest, TimeoutsFailTheCheckpointAndTooManyFailTheJob) {
  CheckpointConfig cfg;
  cfg.interval_ms = 10;
  cfg.timeout_ms = 50;
  cfg.tolerable_failures = 1;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}, {1, 0}}, {}, /*start_ms=*/0);
  ASSERT_EQ(cc.MaybeTrigger(10), 1);
  EXPECT_FALSE(cc.Acknowledge(1, {0, 0}, Ack(1, 0, 0, "x"), 20).has_value());
  cc.Tick(59);
  EXPECT_EQ(cc.pending_id(), 1);
  cc.Tick(60);
  EXPECT_EQ(cc.pending_id(), 0);
  EXPECT_FALSE(fs::exists(dir_ / "chk-1"));  // its files are discarded
  EXPECT_OK(cc.health());
  // A late acknowledgement of a failed checkpoint is ignored.
  // (The handle of a real one is checked: see MalformedAcknowledgementsFailTheCheckpoint.)
  auto late = cc.Acknowledge(1, {1, 0}, TaskAck{}, 61);
  EXPECT_FALSE(late.has_value());
  ASSERT_EQ(cc.MaybeTrigger(70), 2);
  cc.Decline(2, "task 1-0 could not write", 71);
  EXPECT_FALSE(cc.health().ok());
  EXPECT_NE(cc.health().message().find("could not write"), std::string::npos);
  EXPECT_EQ(cc.history().back().state, CheckpointStats::State::kFailed);
}

TEST_F(CheckpointTest, AFinishedTaskKeepsItsLastStateInLaterCheckpoints) {
  CheckpointConfig cfg;
  cfg.interval_ms = 10;
  cfg.retain = 1;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}, {1, 0}}, {}, /*start_ms=*/0);
  ASSERT_EQ(cc.MaybeTrigger(10), 1);
  EXPECT_FALSE(cc.Acknowledge(1, {0, 0}, Ack(1, 0, 0, "src-final"), 11).has_value());
  EXPECT_TRUE(cc.Acknowledge(1, {1, 0}, Ack(1, 1, 0, "sink-1"), 12).has_value());
  // The source finishes while checkpoint 2 waits for it: 2 completes without it.
  ASSERT_EQ(cc.MaybeTrigger(30), 2);
  EXPECT_FALSE(cc.Acknowledge(2, {1, 0}, Ack(2, 1, 0, "sink-2"), 31).has_value());
  auto done = cc.TaskFinished({0, 0}, 32);
  ASSERT_TRUE(done.has_value());
  ASSERT_NE(done->Find(0, 0), nullptr);
  EXPECT_EQ(done->Find(0, 0)->path, "chk-1/0-0.state");
  // Checkpoint 1 is no longer retained, but its file that 2 references stays.
  ASSERT_OK_AND_ASSIGN(std::string bytes, storage_->ReadTaskState(*done->Find(0, 0)));
  EXPECT_EQ(bytes, "src-final");
  EXPECT_FALSE(fs::exists(dir_ / "chk-1" / "1-0.state"));
  EXPECT_FALSE(fs::exists(dir_ / "chk-1" / "_metadata"));
}

TEST_F(CheckpointTest, AnEndedSourceGetsItsCheckpointWithoutWaitingForTheInterval) {
  CheckpointConfig cfg;
  cfg.interval_ms = 1000;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}, {1, 0}}, {}, /*start_ms=*/0);
  EXPECT_EQ(cc.MaybeTrigger(10), 0);
  cc.SourceEnded({0, 0});
  ASSERT_EQ(cc.MaybeTrigger(11), 1);
  EXPECT_FALSE(cc.Acknowledge(1, {0, 0}, Ack(1, 0, 0, "s"), 12).has_value());
  EXPECT_TRUE(cc.Acknowledge(1, {1, 0}, Ack(1, 1, 0, "t"), 13).has_value());
  // Checkpoint 1 was triggered after the source ended: no second urgent one.
  EXPECT_EQ(cc.MaybeTrigger(14), 0);
  EXPECT_EQ(cc.MaybeTrigger(1010), 0);
  EXPECT_EQ(cc.MaybeTrigger(1011), 2);  // an interval after checkpoint 1 started
}

TEST_F(CheckpointTest, MalformedAcknowledgementsFailTheCheckpoint) {
  CheckpointConfig cfg;
  cfg.interval_ms = 10;
  cfg.tolerable_failures = 10;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}}, {}, /*start_ms=*/0);
  for (const char* path : {"../../etc/passwd", "chk-1/0-1.state", "/abs", ""}) {
    const int64_t id = cc.MaybeTrigger(1000 * cc.next_id());
    ASSERT_NE(id, 0);
    TaskAck ack;
    ack.state.path = path;
    EXPECT_FALSE(cc.Acknowledge(id, {0, 0}, ack, 1000 * id + 1).has_value()) << path;
    EXPECT_EQ(cc.pending_id(), 0) << path;
    EXPECT_NE(cc.history().back().failure.find("malformed state handle"), std::string::npos) << path;
  }
  EXPECT_TRUE(cc.retained().empty());
}

TEST_F(CheckpointTest, DamagedFilesAreNamed) {
  CheckpointConfig cfg;
  cfg.interval_ms = 10;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}}, {}, /*start_ms=*/0);
  ASSERT_EQ(cc.MaybeTrigger(10), 1);
  auto done = cc.Acknowledge(1, {0, 0}, Ack(1, 0, 0, "some state"), 11);
  ASSERT_TRUE(done.has_value());
  {
    std::ofstream f(dir_ / "chk-1" / "0-0.state", std::ios::binary | std::ios::trunc);
    f << "some stat";
  }
  auto read = storage_->ReadTaskState(*done->Find(0, 0));
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(absl::IsDataLoss(read.status()));
  EXPECT_NE(read.status().message().find("chk-1/0-0.state"), std::string::npos) << read.status();
  // Every truncation of the metadata is refused, never misread.
  std::string meta = EncodeCheckpointMetadata(*done);
  for (size_t n = 0; n < meta.size(); ++n) {
    EXPECT_FALSE(DecodeCheckpointMetadata(meta.substr(0, n), "m").ok()) << n;
  }
  std::string flipped = meta;
  flipped[flipped.find("task 0") + 5] = '7';
  EXPECT_FALSE(DecodeCheckpointMetadata(flipped, "m").ok());
  ASSERT_OK_AND_ASSIGN(CheckpointMetadata back, DecodeCheckpointMetadata(meta, "m"));
  EXPECT_EQ(back.tasks.size(), 1u);
}

TEST_F(CheckpointTest, IdsContinueAfterTheRestoredOnes) {
  CheckpointMetadata old;
  old.id = 7;
  CheckpointConfig cfg;
  cfg.interval_ms = 10;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}}, {old}, /*start_ms=*/0);
  EXPECT_EQ(cc.MaybeTrigger(10), 8);
  EXPECT_EQ(cc.last_completed_id(), 7);
  // An earlier attempt triggered up to 11: the next attempt starts at 12.
  CheckpointCoordinator next(cfg, storage_.get(), {{0, 0}}, {old}, /*start_ms=*/0);
  next.SkipIdsBelow(12);
  EXPECT_EQ(next.MaybeTrigger(10), 12);
}

}  // namespace
}  // namespace sluice
