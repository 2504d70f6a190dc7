// The job state machine, driven directly: no gRPC calls are sent (the JobMaster only
// decides them), and a lost worker is tried in every state.
#include "coordinator/job_master.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/chain_checkpoint.h"
#include "coordinator/savepoints.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice::coordinator {
namespace {

using ::testing::HasSubstr;

class JobMasterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddWorker("w1", 4);
    AddWorker("w2", 4);
  }

  void AddWorker(const std::string& id, int slots) {
    v1::RegisterWorkerRequest req;
    req.set_worker_id(id);
    req.set_address("127.0.0.1:1");  // never called: the test only looks at the decided calls
    req.set_slots(slots);
    ASSERT_TRUE(members_.Register(req, Clock::now()).ok());
  }

  // A job of two vertices, parallelism 1 and 2 (3 tasks, 2 slots).
  JobMaster Job(int max_restarts = 1, int64_t slot_timeout_ms = 300000) {
    v1::JobRecord rec;
    rec.set_job_id("job-1");
    auto* src = rec.mutable_graph()->add_vertices();
    src->set_name("src");
    src->set_parallelism(1);
    auto* sink = rec.mutable_graph()->add_vertices();
    sink->set_name("sink");
    sink->set_parallelism(2);
    rec.mutable_restart()->set_max_attempts(max_restarts);
    rec.mutable_restart()->set_delay_ms(0);
    rec.set_state(v1::JOB_SCHEDULING);
    JobMasterOptions o;
    o.slot_timeout_ms = slot_timeout_ms;
    return JobMaster(rec, /*store=*/nullptr, o);
  }

  std::map<std::string, int> Used(const JobMaster& job) {
    std::map<std::string, int> used;
    job.AddUsedSlots(&used);
    return used;
  }

  // What `worker` reports of the job's current attempt, every task in `state`.
  v1::WorkerJobStatus Report(const JobMaster& job, const std::string& worker, v1::TaskState state) {
    v1::WorkerJobStatus s;
    s.set_job_id(job.id());
    s.set_attempt(job.record().attempt());
    for (const auto& p : job.record().placement()) {
      if (p.worker_id() != worker) continue;
      auto* t = s.add_tasks();
      t->set_vertex(p.vertex());
      t->set_subtask(p.subtask());
      t->set_state(state);
      if (state == v1::TASK_FAILED) t->set_error("boom");
    }
    auto* n = s.add_nodes();
    n->set_node(0);
    n->set_records_out(100);
    return s;
  }

  std::set<std::string> Targets(const std::vector<WorkerCall>& calls, bool deploy) {
    std::set<std::string> out;
    for (const auto& c : calls) {
      if ((c.kind == WorkerCall::Kind::kDeploy) == deploy) out.insert(c.worker_id);
    }
    return out;
  }

  Membership members_;
  std::vector<WorkerCall> calls_;
};

TEST_F(JobMasterTest, SchedulingPlacesWithSharedSlotsAndDeploys) {
  JobMaster job = Job();
  job.Tick(Clock::now(), members_, {}, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);
  EXPECT_EQ(job.record().attempt(), 1);
  EXPECT_EQ(job.record().placement_size(), 3);
  EXPECT_EQ(Targets(calls_, true), (std::set<std::string>{"w1", "w2"}));
  EXPECT_EQ(Used(job), (std::map<std::string, int>{{"w1", 1}, {"w2", 1}}));
}

TEST_F(JobMasterTest, EveryTaskFinishedFinishesAndKeepsTheFinalStates) {
  JobMaster job = Job();
  job.Tick(Clock::now(), members_, {}, &calls_);
  EXPECT_TRUE(job.OnStatus("w1", Report(job, "w1", v1::TASK_FINISHED), Clock::now(), members_, &calls_));
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);
  EXPECT_TRUE(job.OnStatus("w2", Report(job, "w2", v1::TASK_FINISHED), Clock::now(), members_, &calls_));
  EXPECT_EQ(job.state(), v1::JOB_FINISHED);
  EXPECT_EQ(job.record().final_tasks_size(), 3);
  ASSERT_EQ(job.record().final_metrics_size(), 1);
  EXPECT_EQ(job.record().final_metrics(0).records_out(), 200);
  EXPECT_TRUE(Used(job).empty());
}

TEST_F(JobMasterTest, AWorkerLostWhileRunningFailsOverAndTheRestartUsesTheSurvivor) {
  JobMaster job = Job();
  job.Tick(Clock::now(), members_, {}, &calls_);
  calls_.clear();
  ASSERT_TRUE(members_.MarkLost("w2"));
  job.OnWorkerLost("w2", "worker w2 lost: no heartbeat for 10000 ms", members_, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_RESTARTING);
  EXPECT_EQ(job.record().restarts(), 1);
  EXPECT_THAT(job.record().error(), HasSubstr("worker w2 lost"));
  EXPECT_EQ(Targets(calls_, false), (std::set<std::string>{"w1"}));  // cancel where it still runs
  calls_.clear();
  job.Tick(Clock::now(), members_, {}, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);
  EXPECT_EQ(job.record().attempt(), 2);
  for (const auto& p : job.record().placement()) EXPECT_EQ(p.worker_id(), "w1");
  // The stale attempt's reports are refused (the caller tells the worker to stop).
  v1::WorkerJobStatus stale = Report(job, "w1", v1::TASK_RUNNING);
  stale.set_attempt(1);
  EXPECT_FALSE(job.OnStatus("w1", stale, Clock::now(), members_, &calls_));
}

TEST_F(JobMasterTest, AWorkerLostWhileSchedulingLeavesTheJobWaitingWithItsReason) {
  JobMaster job = Job();
  std::map<std::string, int> full = {{"w1", 4}, {"w2", 3}};  // one slot left: too few
  job.Tick(Clock::now(), members_, full, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_SCHEDULING);
  EXPECT_THAT(job.record().pending_reason(), HasSubstr("needs 2 slot(s), 1 free on 2 live worker(s)"));
  ASSERT_TRUE(members_.MarkLost("w2"));
  job.OnWorkerLost("w2", "lost", members_, &calls_);
  job.Tick(Clock::now(), members_, full, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_SCHEDULING);
  EXPECT_THAT(job.record().pending_reason(), HasSubstr("0 free on 1 live worker(s)"));
  EXPECT_TRUE(calls_.empty());
  job.Tick(Clock::now(), members_, {}, &calls_);  // w1's slots free up
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);
  EXPECT_TRUE(job.record().pending_reason().empty());
}

TEST_F(JobMasterTest, AWorkerLostWhileRestartingIsNotUsedByTheRestart) {
  JobMaster job = Job();
  job.Tick(Clock::now(), members_, {}, &calls_);
  job.OnStatus("w1", Report(job, "w1", v1::TASK_FAILED), Clock::now(), members_, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_RESTARTING);
  EXPECT_THAT(job.record().error(), HasSubstr("failed: boom"));
  ASSERT_TRUE(members_.MarkLost("w2"));
  job.OnWorkerLost("w2", "lost", members_, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_RESTARTING);
  EXPECT_EQ(job.record().restarts(), 1);  // not counted twice
  job.Tick(Clock::now(), members_, {}, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);
  for (const auto& p : job.record().placement()) EXPECT_EQ(p.worker_id(), "w1");
}

TEST_F(JobMasterTest, AWorkerLostAfterTheJobEndedChangesNothing) {
  JobMaster job = Job();
  job.Tick(Clock::now(), members_, {}, &calls_);
  job.OnStatus("w1", Report(job, "w1", v1::TASK_FINISHED), Clock::now(), members_, &calls_);
  job.OnStatus("w2", Report(job, "w2", v1::TASK_FINISHED), Clock::now(), members_, &calls_);
  ASSERT_EQ(job.state(), v1::JOB_FINISHED);
  job.OnWorkerLost("w2", "lost", members_, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_FINISHED);
}

TEST_F(JobMasterTest, WithoutRestartsLeftAFailureFailsTheJob) {
  JobMaster job = Job(/*max_restarts=*/0);
  job.Tick(Clock::now(), members_, {}, &calls_);
  job.OnDeployFailed("w2", 1, "connection refused", members_, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_FAILED);
  EXPECT_THAT(job.record().error(), HasSubstr("deploying to worker w2 failed: connection refused"));
  EXPECT_TRUE(Used(job).empty());
}

TEST_F(JobMasterTest, AJobThatGetsNoSlotsFailsAfterTheTimeoutWithTheReason) {
  JobMaster job = Job(1, /*slot_timeout_ms=*/1000);
  std::map<std::string, int> full = {{"w1", 4}, {"w2", 4}};
  auto t0 = Clock::now();
  job.Tick(t0, members_, full, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_SCHEDULING);
  job.Tick(t0 + std::chrono::milliseconds(900), members_, full, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_SCHEDULING);
  job.Tick(t0 + std::chrono::milliseconds(1100), members_, full, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_FAILED);
  EXPECT_THAT(job.record().error(), HasSubstr("no slots after 1 s (waiting for slots: needs 2 slot(s), 0 free"));
}

TEST_F(JobMasterTest, ACancelStopsEveryWorkerOnceAndSaysWho) {
  JobMaster job = Job();
  job.Tick(Clock::now(), members_, {}, &calls_);
  job.OnStatus("w1", Report(job, "w1", v1::TASK_RUNNING), Clock::now(), members_, &calls_);
  calls_.clear();
  ASSERT_TRUE(job.Cancel("alice", members_, &calls_).ok());
  EXPECT_EQ(job.state(), v1::JOB_CANCELLED);
  EXPECT_EQ(Targets(calls_, false), (std::set<std::string>{"w1", "w2"}));
  EXPECT_THAT(job.record().error(), HasSubstr("cancelled by alice"));
  for (const auto& t : job.record().final_tasks()) EXPECT_EQ(t.state(), v1::TASK_CANCELLED);
  EXPECT_EQ(job.Cancel("bob", members_, &calls_).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(JobMasterTest, AfterACoordinatorRestartUnreportedTasksFailOver) {
  JobMaster first = Job();
  first.Tick(Clock::now(), members_, {}, &calls_);
  JobMaster job(first.record(), nullptr, JobMasterOptions{1000, 0, 300000});  // as loaded from the store
  auto now = Clock::now();
  job.Recover(now);
  job.OnWorkerRegistered("w1", nullptr, members_, &calls_);  // w1 came back without the tasks
  EXPECT_EQ(job.state(), v1::JOB_RESTARTING);
  EXPECT_THAT(job.record().error(), HasSubstr("registered again without the job's tasks"));
}


// Checkpoints through the job master with real storage: triggers go to the source's
// worker, acknowledgements complete a checkpoint (recorded, then notified to every
// worker), and a restart restores the newest checkpoint whose files are whole.
TEST_F(JobMasterTest, CheckpointsCompleteAndARestartRestoresTheNewestWholeOne) {
  const std::string dir = ::testing::TempDir() + "/jm-ckpt-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  v1::JobRecord rec = Job(/*max_restarts=*/1).record();
  rec.mutable_graph()->mutable_vertices(0)->set_is_source(true);
  rec.mutable_graph()->mutable_topology()->set_checkpoint_dir(dir);
  rec.mutable_graph()->mutable_topology()->set_checkpoint_interval_ms(10);
  JobMaster job(rec, /*store=*/nullptr, JobMasterOptions{});
  job.Tick(Clock::now(), members_, {}, &calls_);
  ASSERT_EQ(job.state(), v1::JOB_RUNNING);
  ASSERT_EQ(calls_.size(), 2u);
  EXPECT_EQ(calls_[0].request.checkpoint_storage(), dir + "/job-1");
  EXPECT_EQ(calls_[0].request.restore_checkpoint_id(), 0);
  std::string src_worker;
  for (const auto& p : job.record().placement()) {
    if (p.vertex() == 0) src_worker = p.worker_id();
  }
  auto storage = CheckpointStorage::Open(dir + "/job-1");
  ASSERT_TRUE(storage.ok());
  auto take = [&](int64_t want_id) {
    calls_.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    job.Tick(Clock::now(), members_, {}, &calls_);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0].kind, WorkerCall::Kind::kTrigger);
    EXPECT_EQ(calls_[0].worker_id, src_worker);
    EXPECT_EQ(calls_[0].checkpoint_id, want_id);
    calls_.clear();
    for (const auto& p : job.record().placement()) {
      auto h = (*storage)->WriteTaskState(want_id, p.vertex(), p.subtask(), "state of " + p.worker_id());
      ASSERT_TRUE(h.ok());
      v1::ReportCheckpointRequest r;
      r.set_job_id("job-1");
      r.set_attempt(job.record().attempt());
      r.set_vertex(p.vertex());
      r.set_subtask(p.subtask());
      r.set_checkpoint_id(want_id);
      r.mutable_state()->set_path(h->path);
      r.mutable_state()->set_size(h->size);
      r.mutable_state()->set_hash(h->hash);
      // Malformed or stale reports change nothing.
      v1::ReportCheckpointRequest bad = r;
      bad.set_vertex(99);
      job.OnCheckpointReport(bad, Clock::now(), members_, &calls_);
      bad = r;
      bad.set_attempt(r.attempt() - 1);
      job.OnCheckpointReport(bad, Clock::now(), members_, &calls_);
      EXPECT_TRUE(calls_.empty());
      job.OnCheckpointReport(r, Clock::now(), members_, &calls_);
    }
    // Complete: recorded, then every worker is told.
    EXPECT_EQ(job.record().checkpoints(job.record().checkpoints_size() - 1).id(), want_id);
    EXPECT_EQ(Targets(calls_, false), (std::set<std::string>{"w1", "w2"}));
    for (const auto& c : calls_) {
      EXPECT_EQ(c.kind, WorkerCall::Kind::kNotify);
      EXPECT_EQ(c.checkpoint_id, want_id);
    }
  };
  take(1);
  take(2);
  EXPECT_EQ(job.record().checkpoints_completed(), 2);
  // Checkpoint 2's state of the sink's subtask 1 is damaged; then a task fails.
  {
    std::ofstream f(dir + "/job-1/chk-2/1-1.state", std::ios::trunc);
    f << "garbage";
  }
  calls_.clear();
  job.OnStatus(src_worker, Report(job, src_worker, v1::TASK_FAILED), Clock::now(), members_, &calls_);
  ASSERT_EQ(job.state(), v1::JOB_RESTARTING);
  calls_.clear();
  job.Tick(Clock::now(), members_, {}, &calls_);
  ASSERT_EQ(job.state(), v1::JOB_RUNNING);
  ASSERT_FALSE(calls_.empty());
  for (const auto& c : calls_) {
    if (c.kind != WorkerCall::Kind::kDeploy) continue;
    EXPECT_EQ(c.request.restore_checkpoint_id(), 1);
    EXPECT_EQ(c.request.restore_state_size(), 3);
  }
  EXPECT_EQ(job.record().restored_checkpoint(), 1);
  EXPECT_EQ(job.record().checkpoints_size(), 1);  // the damaged one is no longer offered
  // Ids continue after every id triggered, never reusing one.
  calls_.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(15));
  job.Tick(Clock::now(), members_, {}, &calls_);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].checkpoint_id, 3);
  std::filesystem::remove_all(dir);
}

TEST_F(JobMasterTest, ASavepointIsTriggeredAtOnceCopiedWholeAndThenCancelsTheJob) {
  const std::string dir = ::testing::TempDir() + "/jm-sp-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  {
    JobMaster scheduling = Job();
    EXPECT_THAT(scheduling.RequestSavepoint("", false, "t").message(), HasSubstr("a savepoint needs a running job"));
    JobMaster no_checkpoints = Job();
    no_checkpoints.Tick(Clock::now(), members_, {}, &calls_);
    ASSERT_EQ(no_checkpoints.state(), v1::JOB_RUNNING);
    EXPECT_THAT(no_checkpoints.RequestSavepoint("", false, "t").message(), HasSubstr("takes no checkpoints"));
  }
  v1::JobRecord rec = Job().record();
  rec.mutable_graph()->set_name("job");
  rec.mutable_graph()->set_max_parallelism(128);
  rec.mutable_graph()->mutable_vertices(0)->set_is_source(true);
  rec.mutable_graph()->mutable_topology()->set_checkpoint_dir(dir + "/ckpt");
  rec.mutable_graph()->mutable_topology()->set_checkpoint_interval_ms(3600 * 1000);  // only savepoints
  for (int n = 0; n < 2; ++n) {
    auto* node = rec.mutable_graph()->add_nodes();
    node->set_id(n == 0 ? "src" : "sink");
    node->set_type(n == 0 ? "seq" : "file_sink");
    node->set_vertex(n);
    node->set_parallelism(n + 1);
  }
  JobMaster job(rec, /*store=*/nullptr, JobMasterOptions{});
  calls_.clear();
  job.Tick(Clock::now(), members_, {}, &calls_);
  ASSERT_EQ(job.state(), v1::JOB_RUNNING);
  auto storage = CheckpointStorage::Open(dir + "/ckpt/job-1");
  ASSERT_TRUE(storage.ok());
  // Every task acknowledges checkpoint `id` (state: a node with a blob of its own), or the
  // sink's subtask 1 declines it.
  auto report = [&](int64_t id, bool decline) {
    for (const auto& p : job.record().placement()) {
      ChainCheckpoint cp;
      cp.id = id;
      cp.parallelism = p.vertex() + 1;
      cp.blobs[p.vertex() == 0 ? "src" : "sink"]["pos"] = "42";
      auto h = (*storage)->WriteTaskState(id, p.vertex(), p.subtask(), EncodeChainCheckpoint(cp));
      ASSERT_TRUE(h.ok());
      v1::ReportCheckpointRequest r;
      r.set_job_id("job-1");
      r.set_attempt(job.record().attempt());
      r.set_vertex(p.vertex());
      r.set_subtask(p.subtask());
      r.set_checkpoint_id(id);
      if (decline && p.vertex() == 1 && p.subtask() == 1) {
        r.set_kind(v1::ReportCheckpointRequest::DECLINE);
        r.set_reason("disk full");
      } else {
        r.mutable_state()->set_path(h->path);
        r.mutable_state()->set_size(h->size);
        r.mutable_state()->set_hash(h->hash);
      }
      job.OnCheckpointReport(r, Clock::now(), members_, &calls_);
    }
  };
  // A savepoint whose checkpoint is declined fails with the reason; the job goes on.
  ASSERT_TRUE(job.RequestSavepoint(dir + "/sp-bad", false, "t").ok());
  EXPECT_THAT(job.RequestSavepoint("", false, "t2").message(), HasSubstr("is underway"));
  calls_.clear();
  job.Tick(Clock::now(), members_, {}, &calls_);
  ASSERT_EQ(calls_.size(), 1u);  // at once, not an hour later
  EXPECT_EQ(calls_[0].kind, WorkerCall::Kind::kTrigger);
  EXPECT_EQ(calls_[0].checkpoint_id, 1);
  report(1, /*decline=*/true);
  job.Tick(Clock::now(), members_, {}, &calls_);
  ASSERT_TRUE(job.savepoint().has_value());
  EXPECT_THAT(job.savepoint()->failure, HasSubstr("disk full"));
  job.SavepointWritten(absl::AbortedError(job.savepoint()->failure), "", members_, &calls_);
  EXPECT_FALSE(job.savepoint().has_value());
  EXPECT_EQ(job.state(), v1::JOB_RUNNING);

  // Stop with a savepoint.
  ASSERT_TRUE(job.RequestSavepoint(dir + "/sp", /*cancel=*/true, "t").ok());
  calls_.clear();
  job.Tick(Clock::now(), members_, {}, &calls_);
  ASSERT_EQ(calls_.size(), 1u);
  EXPECT_EQ(calls_[0].checkpoint_id, 2);
  report(2, /*decline=*/false);
  ASSERT_TRUE(job.savepoint().has_value());
  ASSERT_TRUE(job.savepoint()->ready);
  // No checkpoint starts while it is copied.
  calls_.clear();
  job.Tick(Clock::now(), members_, {}, &calls_);
  EXPECT_TRUE(calls_.empty());
  auto written = WriteSavepoint(**storage, job.savepoint()->metadata, job.record(), dir + "/sp");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(WriteSavepoint(**storage, job.savepoint()->metadata, job.record(), dir + "/sp").status().message(),
              HasSubstr("is not empty"));
  job.SavepointWritten(absl::OkStatus(), dir + "/sp", members_, &calls_);
  EXPECT_EQ(job.state(), v1::JOB_CANCELLED);
  EXPECT_THAT(job.record().error(), HasSubstr("after a savepoint to " + dir + "/sp"));
  ASSERT_EQ(job.record().savepoints_size(), 1);
  EXPECT_EQ(job.record().savepoints(0), "2 " + dir + "/sp");

  // Self-contained: the job's checkpoints can go.
  std::filesystem::remove_all(dir + "/ckpt");
  auto sp = ReadSavepoint(dir + "/sp");
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_EQ(sp->descriptor.checkpoint_id(), 2);
  EXPECT_EQ(sp->descriptor.job_name(), "job");
  ASSERT_EQ(sp->descriptor.nodes_size(), 2);
  EXPECT_TRUE(sp->descriptor.nodes(1).has_state());
  EXPECT_EQ(sp->metadata.tasks.size(), 3u);
  v1::JobGraph other = job.record().graph();
  EXPECT_TRUE(CheckSavepointFits(*sp, dir + "/sp", other, false).ok());
  other.mutable_nodes(1)->set_id("sink2");
  EXPECT_THAT(CheckSavepointFits(*sp, dir + "/sp", other, false).message(),
              HasSubstr("holds state of node 'sink' (file_sink)"));
  EXPECT_TRUE(CheckSavepointFits(*sp, dir + "/sp", other, true).ok());
  other = job.record().graph();
  other.set_max_parallelism(256);
  EXPECT_THAT(CheckSavepointFits(*sp, dir + "/sp", other, false).message(),
              HasSubstr("max_parallelism 128 (key groups); this topology has 256"));
  other = job.record().graph();
  other.set_name("another");
  EXPECT_THAT(CheckSavepointFits(*sp, dir + "/sp", other, false).message(), HasSubstr("is of job 'job'"));
  // Damaged: a state file cut short, then the descriptor.
  std::filesystem::resize_file(dir + "/sp/chk-2/1-0.state", 10);
  EXPECT_THAT(ReadSavepoint(dir + "/sp").status().message(), HasSubstr("1-0.state is damaged"));
  {
    std::ofstream f(dir + "/sp/_savepoint", std::ios::trunc);
    f << "format: nine";
  }
  EXPECT_THAT(ReadSavepoint(dir + "/sp").status().message(), HasSubstr("_savepoint file is damaged"));
  EXPECT_TRUE(absl::IsNotFound(ReadSavepoint(dir + "/nothing").status()));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::coordinator
