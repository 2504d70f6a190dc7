// `sluice local`: starts `sluice-coordinator` and N `sluice-worker` processes (and, with
// --kafka-dev, a development Kafka broker) from this executable's directory. With a
// topology, submits it, waits for it, prints its summary and stops everything; without,
// runs until Ctrl-C. The children die with it, even on kill -9 (cli/child_processes.h);
// the default data dir is a temporary directory, removed at exit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/child_processes.h"
#include "cli/cluster_client.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/run_topology.h"
#include "cli/submit_command.h"

namespace sluice::cli {
namespace {

struct LocalFlags {
  int workers = 2;
  int slots = 4;
  int port = -1;  // -1: kDefaultPort if free, else any free port; 0: any free port; else this one or fail
  std::string data_dir;  // default: a fresh temporary directory
  double heartbeat_timeout_s = 10;
  std::string log_level = "info";
  // Also start `sluice kafka-dev` (bootstrap on 127.0.0.1:kafka_port) with these topics.
  bool kafka_dev = false;
  int kafka_port = 9092;
  std::vector<std::string> kafka_topics;
};

// The processes `sluice local` started, and where.
struct LocalCluster {
  std::string dir;       // of the executables
  std::string data_dir;
  std::vector<pid_t> pids;
  pid_t coord = -1;
  std::string address;   // the coordinator's
};

// Starts `sluice kafka-dev` and waits for its bootstrap servers. On failure says why,
// stops what runs and returns false.
bool StartKafkaDev(const LocalFlags& local, LocalCluster* c) {
  std::string bfile = (std::filesystem::path(c->data_dir) / "kafka.bootstrap").string();
  std::filesystem::remove(bfile);
  std::vector<std::string> args = {c->dir + "/sluice", "kafka-dev", "--port", std::to_string(local.kafka_port),
                                   "--bootstrap-file", bfile};
  for (const auto& t : local.kafka_topics) {
    args.push_back("--topic");
    args.push_back(t);
  }
  pid_t k = Spawn(args);
  if (k < 0) return false;
  c->pids.push_back(k);
  std::string bootstrap;
  for (int i = 0; i < 500 && bootstrap.empty(); ++i) {
    std::ifstream in(bfile);
    std::getline(in, bootstrap);
    if (bootstrap.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (bootstrap.empty()) {
    std::fprintf(stderr, "error: sluice kafka-dev did not start (is port %d taken? try --kafka-port)\n",
                 local.kafka_port);
    StopAll(c->pids);
    return false;
  }
  return true;
}

// Starts the coordinator on `port` and waits for it to publish its address: the address,
// or "" when it exited at start (`*exited`) or did not come up.
std::string SpawnCoordinator(const LocalFlags& local, int port, bool* exited, LocalCluster* c) {
  const std::string address_file = (std::filesystem::path(c->data_dir) / "coordinator.address").string();
  *exited = false;
  std::filesystem::remove(address_file);
  c->coord = Spawn({c->dir + "/sluice-coordinator", "--listen", absl::StrCat("127.0.0.1:", port), "--data-dir",
                    c->data_dir, "--address-file", address_file, "--heartbeat-timeout",
                    absl::StrCat(local.heartbeat_timeout_s), "--log-level", local.log_level});
  if (c->coord < 0) return "";
  std::string address;
  for (int i = 0; i < 500 && address.empty(); ++i) {
    std::ifstream in(address_file);
    std::getline(in, address);
    if (address.empty()) {
      int status = 0;
      if (waitpid(c->coord, &status, WNOHANG) == c->coord) {
        *exited = true;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  c->pids.push_back(c->coord);
  return address;
}

// Starts the coordinator on `port`, or on a free port if another process took the default
// one meanwhile (then sets `*took_free_port`). On failure says why, stops what runs and
// returns false.
bool StartCoordinator(const LocalFlags& local, int port, bool* took_free_port, LocalCluster* c) {
  bool exited = false;
  c->address = SpawnCoordinator(local, port, &exited, c);
  if (c->address.empty() && exited && local.port < 0 && port == kDefaultPort) {
    // Another process took the default port between our check and the coordinator's bind.
    *took_free_port = true;
    c->address = SpawnCoordinator(local, 0, &exited, c);
  }
  if (c->address.empty()) {
    if (exited) {
      std::fprintf(stderr, "error: sluice-coordinator exited at start (is port %d taken? leave out --port)\n", port);
    } else {
      std::fprintf(stderr, "error: sluice-coordinator did not start within 10 s\n");
    }
    StopAll(c->pids);
    return false;
  }
  return true;
}

// Starts the workers and waits until every one has registered. On failure says why,
// stops what runs and returns false.
bool StartWorkers(const LocalFlags& local, LocalCluster* c) {
  for (int i = 0; i < local.workers; ++i) {
    pid_t w = Spawn({c->dir + "/sluice-worker", "--coordinator", c->address, "--slots", std::to_string(local.slots),
                     "--id", absl::StrCat("worker-", i + 1), "--work-dir",
                     (std::filesystem::path(c->data_dir) / absl::StrCat("worker-", i + 1)).string(), "--log-level",
                     local.log_level});
    if (w < 0) {
      StopAll(c->pids);
      return false;
    }
    c->pids.push_back(w);
  }
  ClusterFlags cluster;
  cluster.coordinator = c->address;
  auto stub = Connect(cluster);
  bool ready = false;
  for (int i = 0; i < 1500 && !ready; ++i) {
    v1::ListWorkersResponse resp;
    auto ctx = Ctx(1);
    if (stub->ListWorkers(ctx.get(), v1::ListWorkersRequest(), &resp).ok()) {
      int alive = 0;
      for (const auto& w : resp.workers()) alive += w.alive();
      ready = alive >= local.workers;
    }
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!ready) {
    std::fprintf(stderr, "error: the workers did not register within 30 s\n");
    StopAll(c->pids);
    return false;
  }
  return true;
}

void PrintStarted(const LocalFlags& local, const LocalCluster& c, bool temporary, bool took_free_port) {
  std::fprintf(stderr, "sluice local: coordinator on %s, %d worker(s) x %d slots, data in %s%s\n", c.address.c_str(),
               local.workers, local.slots, c.data_dir.c_str(), temporary ? " (removed at exit)" : "");
  if (took_free_port) {
    std::fprintf(stderr, "sluice local: port %d is in use, so the coordinator took a free one: pass --coordinator %s "
                 "to sluice submit, list, status, cancel and workers\n", kDefaultPort, c.address.c_str());
  }
  if (local.kafka_dev) {
    std::fprintf(stderr, "sluice local: Kafka (sluice kafka-dev) bootstrap servers 127.0.0.1:%d\n", local.kafka_port);
  }
}

// The signal thread: on Ctrl-C / SIGTERM, cancels running jobs (so a waiting submit sees
// it), then stops the processes; returns on SIGUSR2 (sent when `Local` is done).
void StopOnSignal(const std::string& address, const std::vector<pid_t>& pids, std::atomic<bool>* stopping) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // sent by this thread's owner when it is done
  int sig = 0;
  sigwait(&set, &sig);
  if (sig == SIGUSR2) return;
  std::fprintf(stderr, "\nsluice local: signal %d, stopping the cluster\n", sig);
  *stopping = true;
  ClusterFlags c;
  c.coordinator = address;
  auto s2 = Connect(c);
  v1::ListJobsResponse jobs;
  auto ctx = Ctx(2);
  if (s2->ListJobs(ctx.get(), v1::ListJobsRequest(), &jobs).ok()) {
    for (const auto& j : jobs.jobs()) {
      if (Terminal(j.state())) continue;
      v1::CancelJobRequest req;
      req.set_job_id(j.job_id());
      req.set_requested_by(absl::StrCat("`sluice local` stopping (", Requester(), ")"));
      v1::CancelJobResponse resp;
      auto c2 = Ctx(2);
      s2->CancelJob(c2.get(), req, &resp);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (pid_t pid : pids) kill(pid, SIGTERM);
}

// Without a topology: reaps the children until all are gone; if the coordinator dies on
// its own, stops everything and returns 1.
int Supervise(const LocalCluster& c, const std::atomic<bool>& stopping) {
  std::fprintf(stderr, "sluice local: ready. Submit with `sluice submit TOPOLOGY.yaml --coordinator %s`; "
               "Ctrl-C stops everything.\n", c.address.c_str());
  int code = kExitOk;
  size_t alive = c.pids.size();
  while (alive > 0) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    --alive;
    if (stopping) continue;
    std::fprintf(stderr, "sluice local: process %d exited on its own (%s %d)\n", pid,
                 WIFSIGNALED(status) ? "signal" : "status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    if (pid == c.coord) {
      std::fprintf(stderr, "sluice local: the coordinator is gone; stopping\n");
      code = kExitFailed;
      kill(getpid(), SIGTERM);
    }
  }
  return code;
}

// The coordinator's port: --port as given (refused if taken, rather than sharing it with
// another cluster); by default kDefaultPort when free, else any free port (0). Returns -1,
// having said why, if --port is taken.
int ChoosePort(const LocalFlags& local, bool* default_taken) {
  int port = local.port;
  if (port > 0 && !PortFree(port)) {
    std::fprintf(stderr, "error: port %d on 127.0.0.1 is in use (another sluice local or coordinator?); leave "
                 "out --port to let sluice local choose a free one\n", port);
    return -1;
  }
  *default_taken = port < 0 && !PortFree(kDefaultPort);
  if (port < 0) port = *default_taken ? 0 : kDefaultPort;
  return port;
}

int Local(const LocalFlags& local, const v1::Topology* topology, const SubmitFlags& submit) {
  // Signals go to the signal thread started below, never to this one.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  LocalCluster c;
  c.dir = SelfDir();
  bool took_free_port = false;
  const int port = ChoosePort(local, &took_free_port);
  if (port < 0) return kExitFailed;
  RemoveStaleTempDirs();
  TempDir temp;  // removed on every return below, after StopAll
  c.data_dir = local.data_dir;
  if (c.data_dir.empty()) {
    if (!temp.Create()) {
      std::fprintf(stderr, "error: cannot create a temporary directory: %s\n", strerror(errno));
      return kExitFailed;
    }
    c.data_dir = temp.path();
  }
  std::filesystem::create_directories(c.data_dir);
  if (local.kafka_dev && !StartKafkaDev(local, &c)) return kExitFailed;
  if (!StartCoordinator(local, port, &took_free_port, &c)) return kExitFailed;
  if (!StartWorkers(local, &c)) return kExitFailed;
  PrintStarted(local, c, !temp.path().empty(), took_free_port);

  // Reaping stays on this thread.
  std::atomic<bool> stopping{false};
  std::thread signals([address = c.address, &c, &stopping] { StopOnSignal(address, c.pids, &stopping); });
  int code = kExitOk;
  if (topology != nullptr) {
    ClusterFlags cluster;
    cluster.coordinator = c.address;
    code = Submit(cluster, *topology, submit);
  } else {
    code = Supervise(c, stopping);
  }
  if (!stopping) pthread_kill(signals.native_handle(), SIGUSR2);
  signals.join();
  StopAll(c.pids);
  std::fprintf(stderr, "sluice local: stopped\n");
  return code;
}

// The state of the command's flags, alive as long as its callback.
struct LocalCommand {
  RunFlags run;  // the optional topology, --set, -p, --mode
  SubmitFlags submit;
  LocalFlags local;
};

int RunLocal(LocalCommand& l) {
  if (l.run.topology.empty()) return Local(l.local, nullptr, l.submit);
  auto topology = LoadWithOverrides(l.run);
  if (!topology.ok()) {
    PrintError(topology.status());
    return kExitBadInput;
  }
  l.submit.wait = true;
  return Local(l.local, &*topology, l.submit);
}

}  // namespace

void AddLocalCommand(CLI::App& app, int* exit_code) {
  auto l = std::make_shared<LocalCommand>();
  CLI::App* cmd = app.add_subcommand(
      "local", "Start a coordinator and worker processes on this machine; with a topology, run it and stop");
  cmd->add_option("topology", l->run.topology, "Topology to submit and wait for (optional)")->check(CLI::ExistingFile);
  cmd->add_option("--set", l->run.sets, "Override a parameter: NODE.PARAM=VALUE; repeatable");
  cmd->add_option("-p,--parallelism", l->run.parallelism, "Default parallelism of every node")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--mode", l->run.mode, "auto, batch or streaming")->check(CLI::IsMember({"auto", "batch", "streaming"}));
  cmd->add_option("--plugin", l->submit.plugins, "Operator plugin (.so) to ship with the job; repeatable")
      ->check(CLI::ExistingFile);
  LocalFlags& local = l->local;
  cmd->add_option("--workers", local.workers, "Worker processes")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--slots", local.slots, "Slots (tasks) per worker")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--port", local.port,
                  "Coordinator port; refused if in use (default: 7070 if free, else any free port; 0: any)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--data-dir", local.data_dir, "Coordinator job store (default: a fresh temporary directory)");
  cmd->add_option("--heartbeat-timeout", local.heartbeat_timeout_s, "Seconds before a silent worker is lost")
      ->capture_default_str();
  cmd->add_option("--log-level", local.log_level, "Log level of the coordinator and workers")->capture_default_str();
  cmd->add_option("--restart-attempts", l->submit.restart_attempts, "Restarts after a failure")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--kafka-dev", local.kafka_dev, "Also start a development Kafka broker (sluice kafka-dev)");
  cmd->add_option("--kafka-port", local.kafka_port, "Its bootstrap port on 127.0.0.1")->capture_default_str();
  cmd->add_option("--kafka-topic", local.kafka_topics, "A topic to create: NAME or NAME:PARTITIONS; repeatable");
  cmd->callback([l, exit_code] { *exit_code = RunLocal(*l); });
}

}  // namespace sluice::cli
