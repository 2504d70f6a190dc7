// Faults a cluster must survive, with a real coordinator and a real worker talking gRPC
// over loopback (in one process, so each case is quick and a crash fails the test):
// malformed deployments sent straight to the worker, concurrent submits, a second server
// on a taken port or data directory, a stale worker registering again, post-mortems.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/content_hash.h"
#include "common/testing/status_matchers.h"
#include "coordinator/coordinator.h"
#include "operators/builtins.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "runtime/plan/job_graph.h"
#include "runtime/topology/yaml_loader.h"
#include "runtime/worker/worker.h"

namespace sluice {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / absl::StrCat("sluice-", name, "-", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// The graph `sluice submit` would send: planned here, as a client does.
v1::JobGraph Graph(const v1::Topology& topology, std::vector<v1::PluginRef> plugins = {}) {
  OperatorRegistry registry;
  EXPECT_TRUE(operators::RegisterBuiltinOperators(registry).ok());
  auto g = runtime::CompileJobGraph(topology, registry, std::move(plugins));
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : v1::JobGraph();
}

v1::Topology Topology(const std::string& yaml) {
  auto t = topology::LoadTopologyString(yaml, "test.yaml");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : v1::Topology();
}

// A coordinator and one worker ("w1"), serving until the test ends.
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    coordinator::CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.data_dir = dir_ + "/coordinator";
    co.heartbeat_interval_ms = 100;
    co.heartbeat_timeout_ms = 5000;
    coordinator_ = std::make_unique<coordinator::Coordinator>(co);
    ASSERT_OK(coordinator_->Start());
    runtime::WorkerOptions wo;
    wo.coordinator = coordinator_->address();
    wo.id = "w1";
    wo.slots = 4;
    wo.work_dir = dir_ + "/w1";
    auto builtins = std::make_shared<OperatorRegistry>();
    ASSERT_OK(operators::RegisterBuiltinOperators(*builtins));
    wo.operators = std::move(builtins);
    worker_ = std::make_unique<runtime::Worker>(wo);
    ASSERT_OK(worker_->Start());
    worker_thread_ = std::thread([this] { (void)worker_->Run(); });
    auto channel = grpc::CreateChannel(worker_->address(), grpc::InsecureChannelCredentials());
    worker_stub_ = v1::Worker::NewStub(channel);
    coord_stub_ = v1::Coordinator::NewStub(grpc::CreateChannel(coordinator_->address(), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (worker_) worker_->Shutdown();
    if (worker_thread_.joinable()) worker_thread_.join();
    worker_.reset();
    coordinator_.reset();
    fs::remove_all(dir_);
  }

  grpc::Status Deploy(const v1::DeployTasksRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::DeployTasksResponse resp;
    return worker_stub_->DeployTasks(&ctx, req, &resp);
  }

  absl::StatusOr<std::string> Submit(const std::string& yaml) {
    v1::SubmitJobRequest req;
    *req.mutable_graph() = Graph(Topology(yaml));
    return Submit(req);
  }

  absl::StatusOr<std::string> Submit(const v1::SubmitJobRequest& req) {
    grpc::ClientContext ctx;
    v1::SubmitJobResponse resp;
    grpc::Status st = coord_stub_->SubmitJob(&ctx, req, &resp);
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    return resp.job_id();
  }

  v1::DescribeJobResponse Describe(const std::string& job) {
    grpc::ClientContext ctx;
    v1::DescribeJobRequest req;
    req.set_job_id(job);
    v1::DescribeJobResponse resp;
    EXPECT_TRUE(coord_stub_->DescribeJob(&ctx, req, &resp).ok());
    return resp;
  }

  v1::JobState WaitEnded(const std::string& job) {
    for (int i = 0; i < 600; ++i) {
      v1::JobState s = Describe(job).job().state();
      if (s == v1::JOB_FINISHED || s == v1::JOB_FAILED || s == v1::JOB_CANCELLED) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return v1::JOB_RUNNING;
  }

  // A small job the worker runs to completion: proof it still serves.
  void ExpectAGoodJobRuns(const std::string& tag) {
    std::string out = absl::StrCat(dir_, "/good-", tag, ".tsv");
    auto job = Submit(absl::StrCat("name: good\noperators:\n  - id: gen\n    type: generator\n    count: 1000\n"
                                   "  - id: sink\n    type: file_sink\n    input: gen\n    path: ",
                                   out, "\n"));
    ASSERT_OK(job.status());
    EXPECT_EQ(WaitEnded(*job), v1::JOB_FINISHED) << Describe(*job).job().error();
    std::ifstream in(out);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) ++lines;
    EXPECT_EQ(lines, 1001) << out;  // header + rows
  }

  v1::DeployTasksRequest GoodDeployment(int64_t attempt) {
    v1::DeployTasksRequest req;
    req.set_job_id("direct-1");
    req.set_attempt(attempt);
    req.set_worker_id("w1");
    *req.mutable_graph() = Graph(Topology(absl::StrCat(
        "name: direct\noperators:\n  - id: gen\n    type: generator\n    count: 100000000\n"
        "  - id: sink\n    type: file_sink\n    input: gen\n    path: ", dir_, "/direct.tsv\n")));
    auto* p = req.add_placement();
    p->set_vertex(0);
    p->set_subtask(0);
    p->set_worker_id("w1");
    p->set_address(worker_->address());
    return req;
  }

  std::string dir_;
  std::unique_ptr<coordinator::Coordinator> coordinator_;
  std::unique_ptr<runtime::Worker> worker_;
  std::thread worker_thread_;
  std::unique_ptr<v1::Worker::Stub> worker_stub_;
  std::unique_ptr<v1::Coordinator::Stub> coord_stub_;
};

// Issue #10 item 1: a plan that fails on the worker (a glob matching nothing) crashed it
// (the destructor used state Create never made), and failover spread the crash.
TEST_F(ClusterTest, AJobWhosePlanFailsOnTheWorkerFailsWithItsReason) {
  auto job = Submit(absl::StrCat("name: typo\noperators:\n  - id: src\n    type: file_source\n    paths: [",
                                 dir_, "/nginx/acess-*.log]\n  - id: sink\n    type: file_sink\n    input: src\n"
                                 "    path: ", dir_, "/typo.tsv\n"));
  ASSERT_OK(job.status());
  EXPECT_EQ(WaitEnded(*job), v1::JOB_FAILED);
  EXPECT_THAT(Describe(*job).job().error(), HasSubstr("acess-*.log"));
  ExpectAGoodJobRuns("after-typo");
}

// Items 1 and 9: the worker answers every malformed deployment with an error and keeps
// serving; a plugin hash is never a path.
TEST_F(ClusterTest, MalformedDeploymentsAreRefusedAndTheWorkerKeepsServing) {
  struct Case {
    std::string name;
    v1::DeployTasksRequest req;
    grpc::StatusCode code;
    std::string says;
  };
  std::vector<Case> cases;
  cases.push_back({"empty request", v1::DeployTasksRequest(), grpc::StatusCode::INVALID_ARGUMENT, "job id"});
  {
    v1::DeployTasksRequest r = GoodDeployment(1);
    r.set_worker_id("someone-else");
    cases.push_back({"another worker's", r, grpc::StatusCode::INVALID_ARGUMENT, "someone-else"});
  }
  {
    v1::DeployTasksRequest r = GoodDeployment(1);
    r.clear_graph();
    cases.push_back({"no graph", r, grpc::StatusCode::INVALID_ARGUMENT, ""});
  }
  {
    v1::DeployTasksRequest r = GoodDeployment(1);
    r.mutable_placement(0)->set_vertex(7);
    cases.push_back({"placement out of range", r, grpc::StatusCode::INVALID_ARGUMENT, "does not have"});
  }
  {
    v1::DeployTasksRequest r = GoodDeployment(1);
    r.clear_placement();
    cases.push_back({"no placement", r, grpc::StatusCode::INVALID_ARGUMENT, "misses"});
  }
  {
    v1::DeployTasksRequest r = GoodDeployment(1);
    r.mutable_graph()->mutable_topology()->mutable_nodes(0)->set_type("no_such_operator");
    cases.push_back({"unknown operator", r, grpc::StatusCode::INVALID_ARGUMENT, "no_such_operator"});
  }
  {
    // A client of another version compiled the job differently from this worker's planner.
    v1::DeployTasksRequest r = GoodDeployment(1);
    r.mutable_graph()->mutable_nodes(1)->set_vertex(1);
    cases.push_back({"graph the worker would not build", r, grpc::StatusCode::FAILED_PRECONDITION,
                     "same sluice version"});
  }
  {
    v1::DeployTasksRequest r = GoodDeployment(1);
    auto* plugin = r.mutable_graph()->add_plugins();
    plugin->set_name("evil.so");
    plugin->set_hash("../../other_evil");
    cases.push_back({"plugin hash as a path", r, grpc::StatusCode::INVALID_ARGUMENT, "not a content hash"});
  }
  {
    v1::DeployTasksRequest r = GoodDeployment(1);
    auto* plugin = r.mutable_graph()->add_plugins();
    plugin->set_name("missing.so");
    plugin->set_hash("0123456789abcdef0123456789abcdef");
    cases.push_back({"plugin the coordinator does not have", r, grpc::StatusCode::NOT_FOUND, "no artifact"});
  }
  for (const Case& c : cases) {
    grpc::Status st = Deploy(c.req);
    EXPECT_EQ(st.error_code(), c.code) << c.name << ": " << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr(c.says)) << c.name;
  }
  // Nothing outside the plugin cache was touched.
  EXPECT_FALSE(fs::exists(dir_ + "/other_evil.so"));
  ExpectAGoodJobRuns("after-malformed");
}

// Item 1: a second deployment of a running attempt must not disturb the first.
TEST_F(ClusterTest, ADuplicateDeploymentIsRefusedWithoutHarmingTheRunningOne) {
  v1::DeployTasksRequest req = GoodDeployment(1);
  ASSERT_TRUE(Deploy(req).ok());
  grpc::Status again = Deploy(req);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS) << again.error_message();
  grpc::ClientContext ctx;
  v1::CancelTasksRequest cancel;
  cancel.set_job_id("direct-1");
  v1::CancelTasksResponse resp;
  EXPECT_TRUE(worker_stub_->CancelTasks(&ctx, cancel, &resp).ok());
  ExpectAGoodJobRuns("after-duplicate");
}

// Item 9: a cached plugin whose content no longer has its name's hash is not loaded.
TEST_F(ClusterTest, ACachedPluginThatDoesNotMatchItsHashIsNotLoaded) {
  fs::create_directories(dir_ + "/w1/plugins");
  const std::string hash = "0123456789abcdef0123456789abcdef";
  { std::ofstream(dir_ + "/w1/plugins/" + hash + ".so") << "not the plugin"; }
  v1::DeployTasksRequest r = GoodDeployment(1);
  auto* plugin = r.mutable_graph()->add_plugins();
  plugin->set_name("p.so");
  plugin->set_hash(hash);
  grpc::Status st = Deploy(r);
  // It is fetched again (the coordinator has no such artifact), never dlopen'ed.
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

// Item 2: concurrent submits each get their own job, and every job runs.
TEST_F(ClusterTest, ConcurrentSubmitsGetDistinctJobs) {
  constexpr int kClients = 12;
  std::vector<std::string> ids(kClients);
  std::vector<std::thread> threads;
  std::atomic<int> go{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      while (go.load() == 0) {
      }
      auto id = Submit(absl::StrCat("name: tiny\noperators:\n  - id: gen\n    type: generator\n    count: 100\n"
                                    "  - id: sink\n    type: file_sink\n    input: gen\n    path: ",
                                    dir_, "/tiny-", i, ".tsv\n"));
      if (id.ok()) ids[i] = *id;
    });
  }
  go.store(1);
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kClients));
  EXPECT_EQ(distinct.count(""), 0u);
  for (const std::string& id : ids) {
    if (!id.empty()) {
      EXPECT_EQ(WaitEnded(id), v1::JOB_FINISHED) << id;
    }
  }
  for (int i = 0; i < kClients; ++i) EXPECT_TRUE(fs::exists(absl::StrCat(dir_, "/tiny-", i, ".tsv"))) << i;
}

// Item 3: a second coordinator or worker on a taken port fails to start, naming it
// (gRPC's default SO_REUSEPORT let both serve and split the clients); a second
// coordinator on a data directory in use fails too.
TEST_F(ClusterTest, ASecondServerOnATakenPortOrDirectoryFailsToStart) {
  const std::string taken = coordinator_->address();
  coordinator::CoordinatorOptions co;
  co.listen = taken;
  co.data_dir = dir_ + "/coordinator2";
  coordinator::Coordinator second(co);
  absl::Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(taken));

  runtime::WorkerOptions wo;
  wo.coordinator = taken;
  wo.listen = worker_->address();
  wo.id = "w2";
  runtime::Worker w2(wo);
  st = w2.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr(worker_->address()));

  coordinator::CoordinatorOptions same_dir;
  same_dir.listen = "127.0.0.1:0";
  same_dir.data_dir = dir_ + "/coordinator";
  coordinator::Coordinator third(same_dir);
  st = third.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("coordinator"));
}

// Item 4 (the worker side of fencing): a worker that registers again with an attempt the
// job has moved on from is told to stop it at once.
TEST_F(ClusterTest, AWorkerRegisteringWithAStaleAttemptIsToldToStopIt) {
  auto job = Submit(absl::StrCat("name: long\noperators:\n  - id: gen\n    type: generator\n    count: 1000\n"
                                 "  - id: sink\n    type: file_sink\n    input: gen\n    path: ",
                                 dir_, "/long.tsv\n"));
  ASSERT_OK(job.status());
  ASSERT_EQ(WaitEnded(*job), v1::JOB_FINISHED);
  v1::RegisterWorkerRequest req;
  req.set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
  req.set_worker_id("paused");
  req.set_address("127.0.0.1:1");
  req.set_slots(1);
  auto* stale = req.add_jobs();
  stale->set_job_id(*job);
  stale->set_attempt(7);
  auto* t = stale->add_tasks();
  t->set_state(v1::TASK_RUNNING);
  grpc::ClientContext ctx;
  v1::RegisterWorkerResponse resp;
  ASSERT_TRUE(coord_stub_->RegisterWorker(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.cancel_job_attempts_size(), 1);
  EXPECT_EQ(resp.cancel_job_attempts(0), absl::StrCat(*job, "/7"));
}

// Item 10: after a cancel, status keeps the last attempt's tasks and figures, and says
// who cancelled.
TEST_F(ClusterTest, ACancelledJobKeepsItsTasksFiguresAndWhoCancelled) {
  auto job = Submit(absl::StrCat("name: endless\noperators:\n  - id: gen\n    type: generator\n"
                                 "    count: 1000000000\n  - id: sink\n    type: file_sink\n    input: gen\n"
                                 "    path: ", dir_, "/endless.tsv\n"));
  ASSERT_OK(job.status());
  int64_t seen = 0;
  for (int i = 0; i < 200 && seen == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    v1::DescribeJobResponse d = Describe(*job);
    for (const auto& n : d.nodes()) seen += n.metrics().records_out();
  }
  ASSERT_GT(seen, 0);
  grpc::ClientContext ctx;
  v1::CancelJobRequest cancel;
  cancel.set_job_id(*job);
  cancel.set_requested_by("alice@laptop, pid 42");
  v1::CancelJobResponse resp;
  ASSERT_TRUE(coord_stub_->CancelJob(&ctx, cancel, &resp).ok());
  v1::DescribeJobResponse d = Describe(*job);
  EXPECT_EQ(d.job().state(), v1::JOB_CANCELLED);
  EXPECT_THAT(d.job().error(), HasSubstr("cancelled by alice@laptop, pid 42"));
  ASSERT_GT(d.tasks_size(), 0);
  for (const auto& t : d.tasks()) EXPECT_NE(t.state(), v1::TASK_SCHEDULED) << t.name();
  int64_t node_out = 0;
  for (const auto& n : d.nodes()) node_out += n.metrics().records_out();
  EXPECT_GT(node_out, 0);
  // The workers' final word (cancelled) reaches the record.
  bool cancelled = false;
  for (int i = 0; i < 100 && !cancelled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    d = Describe(*job);
    cancelled = d.tasks_size() > 0;
    for (const auto& t : d.tasks()) cancelled &= t.state() == v1::TASK_CANCELLED;
  }
  EXPECT_TRUE(cancelled) << d.DebugString();
}

// Issue #11: the coordinator runs no user code. A plugin whose static initialiser aborts
// is stored by hash and never loaded (this test process would die if it were); a graph
// that does not hold together, or artifacts that are not the graph's, are refused.
TEST(CoordinatorAlone, StoresAPluginThatCrashesWhenLoadedAndRefusesBadGraphs) {
  std::string dir = TempDir("coordinator-alone");
  coordinator::CoordinatorOptions co;
  co.listen = "127.0.0.1:0";
  co.data_dir = dir + "/coordinator";
  coordinator::Coordinator coordinator(co);
  ASSERT_OK(coordinator.Start());
  auto stub = v1::Coordinator::NewStub(grpc::CreateChannel(coordinator.address(), grpc::InsecureChannelCredentials()));
  auto submit = [&](const v1::SubmitJobRequest& req) {
    grpc::ClientContext ctx;
    v1::SubmitJobResponse resp;
    return stub->SubmitJob(&ctx, req, &resp);
  };
  std::ifstream in(SLUICE_CRASH_PLUGIN, std::ios::binary);
  ASSERT_TRUE(in) << SLUICE_CRASH_PLUGIN;
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  v1::PluginRef ref;
  ref.set_name("crash_plugin.so");
  ref.set_hash(ContentHash(content));
  v1::SubmitJobRequest req;
  *req.mutable_graph() = Graph(Topology("name: crashy\noperators:\n  - id: gen\n    type: generator\n"
                                        "  - id: sink\n    type: file_sink\n    input: gen\n    path: /tmp/x\n"),
                               {ref});
  auto* artifact = req.add_plugins();
  artifact->set_name("crash_plugin.so");
  artifact->set_content(content);
  grpc::Status st = submit(req);
  ASSERT_TRUE(st.ok()) << st.error_message();  // stored, not loaded: we are still here

  v1::SubmitJobRequest stranger = req;  // an artifact the graph does not name
  stranger.mutable_plugins(0)->set_content("something else");
  st = submit(stranger);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("not one of the job graph's plugins"));

  v1::SubmitJobRequest missing = req;  // a plugin named but neither uploaded nor stored
  missing.clear_plugins();
  missing.mutable_graph()->mutable_plugins(0)->set_hash("0123456789abcdef0123456789abcdef");
  st = submit(missing);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("neither uploaded nor stored"));

  v1::SubmitJobRequest old_client;  // protocol 1 sent a topology, which is now an unknown field
  st = submit(old_client);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("compiles"));

  v1::SubmitJobRequest cyclic = req;
  auto* e = cyclic.mutable_graph()->add_edges();
  e->set_from_vertex(0);
  e->set_to_vertex(0);
  e->set_partitioning(v1::SHUFFLE);
  st = submit(cyclic);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext ctx;
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(stub->ListJobs(&ctx, v1::ListJobsRequest(), &jobs).ok());
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).state(), v1::JOB_SCHEDULING);  // no worker: it waits, with its reason
  coordinator.Shutdown();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice
