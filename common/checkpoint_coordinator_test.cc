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

// Incremental checkpoints: a shared file uploaded by one checkpoint and referenced by
// later ones stays while a retained checkpoint references it, and goes when none does;
// what a failed checkpoint uploaded goes with it. The metadata records each reference.
TEST_F(CheckpointTest, SharedFilesLiveAsLongAsARetainedCheckpointUsesThem) {
  const fs::path local = dir_.string() + "-local";
  fs::create_directories(local);
  auto local_file = [&](const std::string& name, const std::string& content) {
    std::ofstream(local / name) << content;
    return (local / name).string();
  };
  CheckpointConfig cfg;
  cfg.interval_ms = 10;
  cfg.retain = 1;
  CheckpointCoordinator cc(cfg, storage_.get(), {{0, 0}}, {}, /*start_ms=*/0);
  // 1 uploads a and b; 2 references a and uploads c; 3 fails after uploading d.
  ASSERT_EQ(cc.MaybeTrigger(10), 1);
  ASSERT_OK_AND_ASSIGN(SharedFile a, storage_->WriteSharedFile(1, "0-0-a.sst", local_file("a.sst", "aaaa")));
  ASSERT_OK_AND_ASSIGN(SharedFile b, storage_->WriteSharedFile(1, "0-0-b.sst", local_file("b.sst", "bb")));
  EXPECT_EQ(a.path, "shared/1-0-0-a.sst");
  EXPECT_EQ(a.size, 4);
  TaskAck ack1 = Ack(1, 0, 0, "one");
  ack1.state.shared = {a, b};
  ASSERT_TRUE(cc.Acknowledge(1, {0, 0}, ack1, 11).has_value());
  ASSERT_OK_AND_ASSIGN(CheckpointMetadata m1, storage_->ReadMetadata(1));
  ASSERT_EQ(m1.tasks.size(), 1u);
  ASSERT_EQ(m1.tasks[0].shared.size(), 2u);
  EXPECT_EQ(m1.tasks[0].shared[1].path, b.path);
  EXPECT_EQ(m1.tasks[0].shared[1].hash, b.hash);
  EXPECT_EQ(m1.TotalSize(), 3 + 4 + 2);
  EXPECT_EQ(m1.WrittenSize(), 3 + 4 + 2);

  ASSERT_EQ(cc.MaybeTrigger(30), 2);
  ASSERT_OK_AND_ASSIGN(SharedFile c, storage_->WriteSharedFile(2, "0-0-c.sst", local_file("c.sst", "cccccc")));
  TaskAck ack2 = Ack(2, 0, 0, "two");
  ack2.state.shared = {a, c};
  auto done2 = cc.Acknowledge(2, {0, 0}, ack2, 31);
  ASSERT_TRUE(done2.has_value());
  EXPECT_EQ(done2->TotalSize(), 3 + 4 + 6);
  EXPECT_EQ(done2->WrittenSize(), 3 + 6);  // a was uploaded by checkpoint 1
  EXPECT_TRUE(fs::exists(dir_ / a.path));   // 2 uses it
  EXPECT_FALSE(fs::exists(dir_ / b.path));  // only 1 did
  EXPECT_TRUE(fs::exists(dir_ / c.path));

  ASSERT_EQ(cc.MaybeTrigger(50), 3);
  ASSERT_OK_AND_ASSIGN(SharedFile d, storage_->WriteSharedFile(3, "0-0-d.sst", local_file("d.sst", "d")));
  cc.Decline(3, "the task failed", 51);
  EXPECT_FALSE(fs::exists(dir_ / d.path));
  EXPECT_TRUE(fs::exists(dir_ / a.path));

  // Fetched back with its size and hash checked; a damaged one is named.
  ASSERT_OK(storage_->CopySharedFile(c, (local / "c.copy").string()));
  std::ifstream in(local / "c.copy");
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, "cccccc");
  std::ofstream(dir_ / c.path) << "ccccxc";
  absl::Status st = storage_->CopySharedFile(c, (local / "c.copy").string());
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.message().find(c.path), std::string::npos) << st;
  fs::remove(dir_ / c.path);
  st = storage_->CopySharedFile(c, (local / "c.copy").string());
  EXPECT_NE(st.message().find("missing"), std::string::npos) << st;
  SharedFile outside = c;
  outside.path = "chk-2/../../x";
  EXPECT_EQ(storage_->CopySharedFile(outside, (local / "x").string()).code(), absl::StatusCode::kDataLoss);
  fs::remove_all(local);
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
  // A shared file outside shared/ (its discard would delete another file) is refused too.
  for (const char* path : {"chk-1/0-0.state", "shared/../chk-1/0-0.state", "/etc/passwd", ""}) {
    const int64_t id = cc.MaybeTrigger(1000 * cc.next_id());
    ASSERT_NE(id, 0);
    TaskAck ack = Ack(id, 0, 0, "state");
    ack.state.shared.push_back(SharedFile{path, 10, 1});
    EXPECT_FALSE(cc.Acknowledge(id, {0, 0}, ack, 1000 * id + 1).has_value()) << path;
    EXPECT_NE(cc.history().back().failure.find("malformed shared file"), std::string::npos) << path;
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
