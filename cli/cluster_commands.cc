#include "cli/cluster_commands.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/json_output.h"
#include "grpcpp/grpcpp.h"
#include "runtime/local/local_executor.h"
#include "sluice/v1/cluster.grpc.pb.h"

namespace sluice::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

std::unique_ptr<v1::Coordinator::Stub> Connect(const ClusterFlags& cluster) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  // Reconnect quickly after a coordinator restart (gRPC's default backoff grows to 2 min).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return v1::Coordinator::NewStub(
      grpc::CreateCustomChannel(cluster.coordinator, grpc::InsecureChannelCredentials(), args));
}

// Prints the RPC failure; returns the exit code it deserves.
int Report(const grpc::Status& st, const ClusterFlags& cluster) {
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE || st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::fprintf(stderr, "error: cannot reach the coordinator at %s: %s\n(start one with `sluice local` or "
                 "`sluice-coordinator`, or pass --coordinator HOST:PORT)\n",
                 cluster.coordinator.c_str(), st.error_message().c_str());
    return kExitFailed;
  }
  std::fprintf(stderr, "error: %s\n", st.error_message().c_str());
  switch (st.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
      return kExitBadInput;
    default:
      return kExitFailed;
  }
}

std::unique_ptr<grpc::ClientContext> Ctx(double seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  return ctx;
}

std::string StateName(v1::JobState s) {
  std::string n = v1::JobState_Name(s);
  if (n.rfind("JOB_", 0) == 0) n = n.substr(4);
  for (char& c : n) c = static_cast<char>(tolower(c));
  return n;
}

std::string TaskStateName(v1::TaskState s) {
  std::string n = v1::TaskState_Name(s);
  if (n.rfind("TASK_", 0) == 0) n = n.substr(5);
  for (char& c : n) c = static_cast<char>(tolower(c));
  return n;
}

bool Terminal(v1::JobState s) { return s == v1::JOB_FINISHED || s == v1::JOB_FAILED || s == v1::JOB_CANCELLED; }

std::string Human(double v) {
  if (v >= 1e9) return absl::StrFormat("%.2fG", v / 1e9);
  if (v >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e4) return absl::StrFormat("%.1fk", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

runtime::JobSummary ToSummary(const v1::DescribeJobResponse& d) {
  runtime::JobSummary s;
  s.name = d.job().job_id();
  s.batch_mode = true;
  s.elapsed_s = d.elapsed_s();
  for (const auto& n : d.nodes()) {
    runtime::NodeSummary ns;
    ns.id = n.id();
    ns.type = n.type();
    ns.parallelism = n.parallelism();
    ns.records_in = n.metrics().records_in();
    ns.records_out = n.metrics().records_out();
    ns.filtered = n.metrics().filtered();
    ns.backpressure_s = n.metrics().backpressure_ns() / 1e9;
    for (const auto& [k, v] : n.metrics().dead_letters()) ns.dead_letters[k] = v;
    for (const auto& [k, v] : n.metrics().counters()) ns.counters[k] = v;
    if (n.type().find("source") != std::string::npos || n.type() == "generator") s.source_records += ns.records_out;
    s.nodes.push_back(std::move(ns));
  }
  return s;
}

std::string DescribeText(const v1::DescribeJobResponse& d) {
  const auto& j = d.job();
  std::string out = absl::StrFormat("job %s (%s): %s, attempt %d, %d restart(s), %d task(s)\n", j.job_id(), j.name(),
                                    StateName(j.state()), j.attempt(), j.restarts(), j.num_tasks());
  if (!j.pending_reason().empty()) absl::StrAppendFormat(&out, "  %s\n", j.pending_reason());
  if (!j.error().empty()) absl::StrAppendFormat(&out, "  last failure: %s\n", j.error());
  if (d.elapsed_s() > 0) absl::StrAppendFormat(&out, "  running for %.1f s on the workers\n", d.elapsed_s());
  absl::StrAppendFormat(&out, "  %-36s %-12s %-9s %10s %10s %8s %9s %9s\n", "task", "worker", "state", "in",
                        "out", "bp(s)", "bytes in", "bytes out");
  for (const auto& t : d.tasks()) {
    const auto& m = t.metrics();
    absl::StrAppendFormat(&out, "  %-36s %-12s %-9s %10s %10s %8.2f %9s %9s%s\n", t.name(), t.worker_id(),
                          TaskStateName(t.state()), Human(m.records_in()), Human(m.records_out()),
                          m.backpressure_ns() / 1e9, Human(m.bytes_in()), Human(m.bytes_out()),
                          t.error().empty() ? "" : absl::StrCat("  ", t.error()));
  }
  absl::StrAppendFormat(&out, "  %-16s %-16s %4s %12s %10s %12s %10s %9s %8s\n", "operator", "type", "par", "in",
                        "in/s", "out", "out/s", "dead", "bp(s)");
  for (const auto& n : d.nodes()) {
    int64_t dead = 0;
    for (const auto& [k, v] : n.metrics().dead_letters()) dead += v;
    absl::StrAppendFormat(&out, "  %-16s %-16s %4d %12d %10s %12d %10s %9d %8.2f\n", n.id(), n.type(),
                          n.parallelism(), n.metrics().records_in(), Human(n.rate_in()), n.metrics().records_out(),
                          Human(n.rate_out()), dead, n.metrics().backpressure_ns() / 1e9);
  }
  absl::StrAppendFormat(&out, "  exchange between workers: %s bytes\n", Human(static_cast<double>(d.exchange_bytes())));
  return out;
}

// Polls until the job ends; prints state changes. Returns the final description. While
// the coordinator is unreachable (it may be restarting: it re-adopts running jobs), keeps
// trying for `reconnect_s` seconds before giving up.
bool WaitForJob(v1::Coordinator::Stub* stub, const ClusterFlags& cluster, const std::string& job_id, double timeout_s,
                double reconnect_s, bool quiet, v1::DescribeJobResponse* out, int* exit_code) {
  auto start = std::chrono::steady_clock::now();
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  int64_t last_attempt = 0;
  auto last_progress = start;
  std::optional<std::chrono::steady_clock::time_point> outage;  // since when it is unreachable
  while (true) {
    v1::DescribeJobRequest req;
    req.set_job_id(job_id);
    out->Clear();
    auto ctx = Ctx(5);
    grpc::Status st = stub->DescribeJob(ctx.get(), req, out);
    const bool unreachable = st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (unreachable) {
      const auto now = std::chrono::steady_clock::now();
      if (!outage) {
        outage = now;
        std::fprintf(stderr,
                     "job %s: cannot reach the coordinator at %s (%s); waiting for the coordinator to come back "
                     "(up to %.0f s, --reconnect-timeout); the job keeps running on the workers\n",
                     job_id.c_str(), cluster.coordinator.c_str(), st.error_message().c_str(), reconnect_s);
      }
      if (now - *outage > std::chrono::duration<double>(reconnect_s)) {
        std::fprintf(stderr, "job %s: the coordinator did not come back within %.0f s\n", job_id.c_str(),
                     reconnect_s);
        *exit_code = Report(st, cluster);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (!st.ok()) {
      *exit_code = Report(st, cluster);
      return false;
    } else {
      if (outage) {
        std::fprintf(stderr, "job %s: the coordinator at %s is back after %.1f s\n", job_id.c_str(),
                     cluster.coordinator.c_str(),
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - *outage).count());
        outage.reset();
      }
      const auto& j = out->job();
      if (j.state() != last || j.attempt() != last_attempt) {
        if (!quiet) {
          std::fprintf(stderr, "job %s: %s (attempt %lld)%s%s\n", job_id.c_str(), StateName(j.state()).c_str(),
                       static_cast<long long>(j.attempt()), j.error().empty() ? "" : ", last failure: ",
                       j.error().c_str());
        }
        last = j.state();
        last_attempt = j.attempt();
      }
      if (Terminal(j.state())) return true;
      auto now = std::chrono::steady_clock::now();
      if (!quiet && now - last_progress > std::chrono::seconds(2) && j.state() == v1::JOB_RUNNING) {
        last_progress = now;
        std::string line = absl::StrFormat("[progress %6.1fs]", out->elapsed_s());
        for (const auto& n : out->nodes()) {
          absl::StrAppendFormat(&line, " | %s in %s (%s/s) out %s", n.id(), Human(n.metrics().records_in()),
                                Human(n.rate_in()), Human(n.metrics().records_out()));
        }
        std::fprintf(stderr, "%s\n", line.c_str());
      }
    }
    if (timeout_s > 0 && std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) {
      std::fprintf(stderr, "error: job %s did not end within %.0f s\n", job_id.c_str(), timeout_s);
      *exit_code = kExitFailed;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int PrintOutcome(const v1::DescribeJobResponse& d) {
  if (d.job().state() == v1::JOB_FINISHED) {
    std::fprintf(stderr, "%s", ToSummary(d).ToString().c_str());
    absl::FPrintF(stderr, "  exchange between workers: %s bytes; attempt %d, %d restart(s)\n",
                  Human(static_cast<double>(d.exchange_bytes())), d.job().attempt(), d.job().restarts());
    return kExitOk;
  }
  std::fprintf(stderr, "job %s %s: %s\n", d.job().job_id().c_str(), StateName(d.job().state()).c_str(),
               d.job().error().c_str());
  return kExitFailed;
}

}  // namespace

int Submit(const ClusterFlags& cluster, const v1::Topology& topology, const SubmitFlags& flags) {
  v1::SubmitJobRequest req;
  *req.mutable_topology() = topology;
  for (const std::string& path : flags.plugins) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: cannot read plugin %s\n", path.c_str());
      return kExitBadInput;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    auto* a = req.add_plugins();
    a->set_name(std::filesystem::path(path).filename().string());
    a->set_content(buf.str());
  }
  if (flags.restart_attempts >= 0 || flags.restart_delay_s >= 0) {
    req.mutable_restart()->set_max_attempts(std::max(0, flags.restart_attempts));
    req.mutable_restart()->set_delay_ms(static_cast<int64_t>(std::max(0.0, flags.restart_delay_s) * 1000));
  }
  auto stub = Connect(cluster);
  v1::SubmitJobResponse resp;
  auto ctx = Ctx(60);
  grpc::Status st = stub->SubmitJob(ctx.get(), req, &resp);
  if (!st.ok()) return Report(st, cluster);
  std::printf("%s\n", resp.job_id().c_str());
  std::fflush(stdout);
  if (!flags.wait) return kExitOk;
  v1::DescribeJobResponse d;
  int code = kExitOk;
  if (!WaitForJob(stub.get(), cluster, resp.job_id(), flags.timeout_s, flags.reconnect_timeout_s, flags.quiet, &d,
                  &code)) {
    return code;
  }
  return PrintOutcome(d);
}

int ListJobs(const ClusterFlags& cluster, bool json) {
  auto stub = Connect(cluster);
  v1::ListJobsResponse resp;
  auto ctx = Ctx();
  grpc::Status st = stub->ListJobs(ctx.get(), v1::ListJobsRequest(), &resp);
  if (!st.ok()) return Report(st, cluster);
  if (json) {
    std::printf("%s\n", ToJson(resp).c_str());
    return kExitOk;
  }
  std::printf("%-28s %-12s %7s %8s %6s  %s\n", "JOB", "STATE", "ATTEMPT", "RESTARTS", "TASKS", "LAST FAILURE");
  for (const auto& j : resp.jobs()) {
    std::printf("%-28s %-12s %7lld %8d %6d  %s\n", j.job_id().c_str(), StateName(j.state()).c_str(),
                static_cast<long long>(j.attempt()), j.restarts(), j.num_tasks(),
                (j.pending_reason().empty() ? j.error() : j.pending_reason()).c_str());
  }
  return kExitOk;
}

int Status(const ClusterFlags& cluster, const std::string& job_id, bool wait, bool json) {
  auto stub = Connect(cluster);
  v1::DescribeJobResponse d;
  if (wait) {
    int code = kExitOk;
    if (!WaitForJob(stub.get(), cluster, job_id, 0, kDefaultReconnectTimeoutS, true, &d, &code)) return code;
  } else {
    v1::DescribeJobRequest req;
    req.set_job_id(job_id);
    auto ctx = Ctx();
    grpc::Status st = stub->DescribeJob(ctx.get(), req, &d);
    if (!st.ok()) return Report(st, cluster);
  }
  if (json) {
    std::printf("%s\n", ToJson(d).c_str());
    return kExitOk;
  }
  std::printf("%s", DescribeText(d).c_str());
  return kExitOk;
}

// "user@host, pid N": who asks, for the job's record.
static std::string Requester() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const char* user = std::getenv("USER");
  return absl::StrCat(user != nullptr && *user ? user : absl::StrCat("uid ", getuid()), "@", host, ", pid ",
                      getpid());
}

int Cancel(const ClusterFlags& cluster, const std::string& job_id) {
  auto stub = Connect(cluster);
  v1::CancelJobRequest req;
  req.set_job_id(job_id);
  req.set_requested_by(absl::StrCat("`sluice cancel` by ", Requester()));
  v1::CancelJobResponse resp;
  auto ctx = Ctx();
  grpc::Status st = stub->CancelJob(ctx.get(), req, &resp);
  if (!st.ok()) return Report(st, cluster);
  std::fprintf(stderr, "job %s cancelled\n", job_id.c_str());
  return kExitOk;
}

int Workers(const ClusterFlags& cluster, bool json) {
  auto stub = Connect(cluster);
  v1::ListWorkersResponse resp;
  auto ctx = Ctx();
  grpc::Status st = stub->ListWorkers(ctx.get(), v1::ListWorkersRequest(), &resp);
  if (!st.ok()) return Report(st, cluster);
  if (json) {
    std::printf("%s\n", ToJson(resp).c_str());
    return kExitOk;
  }
  std::printf("%-24s %-22s %-8s %5s %5s %6s %s\n", "WORKER", "ADDRESS", "PID", "SLOTS", "USED", "ALIVE",
              "LAST HEARTBEAT");
  for (const auto& w : resp.workers()) {
    std::printf("%-24s %-22s %-8lld %5d %5d %6s %.1f s ago\n", w.worker_id().c_str(), w.address().c_str(),
                static_cast<long long>(w.pid()), w.slots(), w.used_slots(), w.alive() ? "yes" : "no",
                w.last_heartbeat_ms() / 1000.0);
  }
  return kExitOk;
}

namespace {

// The directory of this executable, where sluice-coordinator and sluice-worker live.
std::string SelfDir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : p.parent_path().string();
}

// Starts `args` (args[0] is the path) as a child that dies with this process: it gets
// SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so even a kill -9 of
// `sluice local` leaves no coordinator or worker behind. Call from the main thread, which
// lives as long as the process. Children get default signal handling and an empty
// signal mask (ours blocks SIGINT/SIGTERM). Returns -1 (and says why) on failure.
pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The exec's outcome comes back through a close-on-exec pipe: EOF means it worked.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "error: cannot start %s: pipe: %s\n", argv[0], strerror(errno));
    return -1;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "error: cannot start %s: fork: %s\n", argv[0], strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    // The child: async-signal-safe calls only until exec.
    close(fds[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);  // parent already gone
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // fails harmlessly for some
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    const int err = errno;
    (void)!write(fds[1], &err, sizeof(err));
    _exit(127);
  }
  close(fds[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(fds[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == static_cast<ssize_t>(sizeof(err))) {
    waitpid(pid, nullptr, 0);
    std::fprintf(stderr, "error: cannot start %s: %s\n", argv[0], strerror(err));
    return -1;
  }
  return pid;
}

// Whether nothing listens on (or holds) 127.0.0.1:`port`. Binds without SO_REUSEPORT,
// so a server that shares its port (gRPC servers set SO_REUSEPORT) counts as there.
bool PortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell; let the coordinator try
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // TIME_WAIT leftovers do not count
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 || errno != EADDRINUSE;
  close(fd);
  return free;
}

constexpr const char* kTempPrefix = "sluice-local-";
constexpr const char* kOwnerFile = "sluice-local.pid";

// Removes the temporary directories that earlier `sluice local` runs, now dead (kill -9),
// left behind: ours (same uid), with an owner pid that no longer exists.
void RemoveStaleTempDirs() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(ec), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kTempPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    struct stat st;
    if (stat(entry.path().c_str(), &st) != 0 || st.st_uid != getuid()) continue;
    std::ifstream in(entry.path() / kOwnerFile);
    long pid = 0;
    if (!(in >> pid) || pid <= 0) continue;  // not one of ours, or still being set up
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // its owner still runs
    std::filesystem::remove_all(entry.path(), ec);
  }
}

// A fresh temporary directory, removed when this goes out of scope.
class TempDir {
 public:
  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  // Creates it, with a file naming this process as its owner (see RemoveStaleTempDirs).
  bool Create() {
    std::error_code ec;
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / absl::StrCat(kTempPrefix, "XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) return false;
    path_ = tmpl;
    std::ofstream(std::filesystem::path(path_) / kOwnerFile) << getpid() << "\n";
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Stops the children: SIGTERM, then SIGKILL after a grace period.
void StopAll(std::vector<pid_t>& pids) {
  for (auto it = pids.rbegin(); it != pids.rend(); ++it) kill(*it, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (pid_t pid : pids) {
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  pids.clear();
}

}  // namespace

int Local(const LocalFlags& local, const v1::Topology* topology, const SubmitFlags& submit) {
  // Signals go to the signal thread started below, never to this one.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  std::string dir = SelfDir();
  // The coordinator's port: --port as given (refused if taken, rather than sharing it with
  // another cluster); by default kDefaultPort when free, else any free port.
  int port = local.port;
  if (port > 0 && !PortFree(port)) {
    std::fprintf(stderr, "error: port %d on 127.0.0.1 is in use (another sluice local or coordinator?); leave "
                 "out --port to let sluice local choose a free one\n", port);
    return kExitFailed;
  }
  const bool default_taken = port < 0 && !PortFree(kDefaultPort);
  if (port < 0) port = default_taken ? 0 : kDefaultPort;
  RemoveStaleTempDirs();
  TempDir temp;  // removed on every return below, after StopAll
  std::string data_dir = local.data_dir;
  if (data_dir.empty()) {
    if (!temp.Create()) {
      std::fprintf(stderr, "error: cannot create a temporary directory: %s\n", strerror(errno));
      return kExitFailed;
    }
    data_dir = temp.path();
  }
  std::filesystem::create_directories(data_dir);
  std::vector<pid_t> pids;
  if (local.kafka_dev) {
    std::string bfile = (std::filesystem::path(data_dir) / "kafka.bootstrap").string();
    std::filesystem::remove(bfile);
    std::vector<std::string> args = {dir + "/sluice", "kafka-dev", "--port", std::to_string(local.kafka_port),
                                     "--bootstrap-file", bfile};
    for (const auto& t : local.kafka_topics) {
      args.push_back("--topic");
      args.push_back(t);
    }
    pid_t k = Spawn(args);
    if (k < 0) return kExitFailed;
    pids.push_back(k);
    std::string bootstrap;
    for (int i = 0; i < 500 && bootstrap.empty(); ++i) {
      std::ifstream in(bfile);
      std::getline(in, bootstrap);
      if (bootstrap.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (bootstrap.empty()) {
      std::fprintf(stderr, "error: sluice kafka-dev did not start (is port %d taken? try --kafka-port)\n",
                   local.kafka_port);
      StopAll(pids);
      return kExitFailed;
    }
  }
  std::string address_file = (std::filesystem::path(data_dir) / "coordinator.address").string();
  // Starts the coordinator on `p` and waits for it to publish its address: the address,
  // or "" when it exited at start (`*exited`) or did not come up.
  pid_t coord = -1;
  auto start_coordinator = [&](int p, bool* exited) -> std::string {
    *exited = false;
    std::filesystem::remove(address_file);
    coord = Spawn({dir + "/sluice-coordinator", "--listen", absl::StrCat("127.0.0.1:", p), "--data-dir",
                         data_dir, "--address-file", address_file, "--heartbeat-timeout",
                         absl::StrCat(local.heartbeat_timeout_s), "--log-level", local.log_level});
    if (coord < 0) return "";
    std::string address;
    for (int i = 0; i < 500 && address.empty(); ++i) {
      std::ifstream in(address_file);
      std::getline(in, address);
      if (address.empty()) {
        int status = 0;
        if (waitpid(coord, &status, WNOHANG) == coord) {
          *exited = true;
          return "";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    pids.push_back(coord);
    return address;
  };
  bool exited = false;
  std::string address = start_coordinator(port, &exited);
  bool took_free_port = default_taken;
  if (address.empty() && exited && local.port < 0 && port == kDefaultPort) {
    // Another process took the default port between our check and the coordinator's bind.
    took_free_port = true;
    address = start_coordinator(0, &exited);
  }
  if (address.empty()) {
    if (exited) {
      std::fprintf(stderr, "error: sluice-coordinator exited at start (is port %d taken? leave out --port)\n", port);
    } else {
      std::fprintf(stderr, "error: sluice-coordinator did not start within 10 s\n");
    }
    StopAll(pids);
    return kExitFailed;
  }
  for (int i = 0; i < local.workers; ++i) {
    pid_t w = Spawn({dir + "/sluice-worker", "--coordinator", address, "--slots", std::to_string(local.slots), "--id",
                     absl::StrCat("worker-", i + 1), "--work-dir",
                     (std::filesystem::path(data_dir) / absl::StrCat("worker-", i + 1)).string(), "--log-level",
                     local.log_level});
    if (w < 0) {
      StopAll(pids);
      return kExitFailed;
    }
    pids.push_back(w);
  }
  ClusterFlags cluster;
  cluster.coordinator = address;
  auto stub = Connect(cluster);
  // Until every worker has registered.
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
    StopAll(pids);
    return kExitFailed;
  }
  std::fprintf(stderr, "sluice local: coordinator on %s, %d worker(s) x %d slots, data in %s%s\n", address.c_str(),
               local.workers, local.slots, data_dir.c_str(),
               temp.path().empty() ? "" : " (removed at exit)");
  if (took_free_port) {
    std::fprintf(stderr, "sluice local: port %d is in use, so the coordinator took a free one: pass --coordinator %s "
                 "to sluice submit, list, status, cancel and workers\n", kDefaultPort, address.c_str());
  }
  if (local.kafka_dev) {
    std::fprintf(stderr, "sluice local: Kafka (sluice kafka-dev) bootstrap servers 127.0.0.1:%d\n", local.kafka_port);
  }

  // Ctrl-C / SIGTERM: cancel running jobs (so a waiting submit sees it), then stop the
  // processes. Reaping stays on this thread.
  std::atomic<bool> stopping{false};
  std::thread signals([&, address] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);  // sent by this thread's owner when it is done
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGUSR2) return;
    std::fprintf(stderr, "\nsluice local: signal %d, stopping the cluster\n", sig);
    stopping = true;
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
  });

  int code = kExitOk;
  if (topology != nullptr) {
    code = Submit(cluster, *topology, submit);
  } else {
    std::fprintf(stderr, "sluice local: ready. Submit with `sluice submit TOPOLOGY.yaml --coordinator %s`; "
                 "Ctrl-C stops everything.\n", address.c_str());
    size_t alive = pids.size();
    while (alive > 0) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, 0);
      if (pid < 0) break;
      --alive;
      if (stopping) continue;
      std::fprintf(stderr, "sluice local: process %d exited on its own (%s %d)\n", pid,
                   WIFSIGNALED(status) ? "signal" : "status",
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      if (pid == coord) {
        std::fprintf(stderr, "sluice local: the coordinator is gone; stopping\n");
        code = kExitFailed;
        kill(getpid(), SIGTERM);
      }
    }
  }
  if (!stopping) pthread_kill(signals.native_handle(), SIGUSR2);
  signals.join();
  StopAll(pids);
  std::fprintf(stderr, "sluice local: stopped\n");
  return code;
}

}  // namespace sluice::cli
