#include "cli/cluster_client.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/exit_codes.h"

namespace sluice::cli {
namespace {

// What WaitForJob has seen and said so far.
struct WaitState {
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  int64_t last_attempt = 0;
  std::chrono::steady_clock::time_point last_progress;
  bool away = false;                                   // the coordinator is unreachable ...
  std::chrono::steady_clock::time_point away_since;  // ... since then
};

// The coordinator did not answer: says so once, and waits a little. Returns false, having
// printed why and set `*exit_code`, once it has been away for more than `reconnect_s`.
bool RideOutOutage(const grpc::Status& st, const ClusterFlags& cluster, const std::string& job_id,
                   double reconnect_s, WaitState* w, int* exit_code) {
  const auto now = std::chrono::steady_clock::now();
  if (!w->away) {
    w->away = true;
    w->away_since = now;
    std::fprintf(stderr,
                 "job %s: cannot reach the coordinator at %s (%s); waiting for the coordinator to come back "
                 "(up to %.0f s, --reconnect-timeout); the job keeps running on the workers\n",
                 job_id.c_str(), cluster.coordinator.c_str(), st.error_message().c_str(), reconnect_s);
  }
  if (now - w->away_since > std::chrono::duration<double>(reconnect_s)) {
    std::fprintf(stderr, "job %s: the coordinator did not come back within %.0f s\n", job_id.c_str(), reconnect_s);
    *exit_code = Report(st, cluster);
    return false;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return true;
}

// Says when the coordinator is back after an outage, and (unless `quiet`) each change of
// the job's state or attempt.
void PrintStateChange(const v1::DescribeJobResponse& d, const ClusterFlags& cluster, const std::string& job_id,
                      bool quiet, WaitState* w) {
  if (w->away) {
    std::fprintf(stderr, "job %s: the coordinator at %s is back after %.1f s\n", job_id.c_str(),
                 cluster.coordinator.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - w->away_since).count());
    w->away = false;
  }
  const auto& j = d.job();
  if (j.state() != w->last || j.attempt() != w->last_attempt) {
    if (!quiet) {
      std::fprintf(stderr, "job %s: %s (attempt %lld)%s%s\n", job_id.c_str(), StateName(j.state()).c_str(),
                   static_cast<long long>(j.attempt()), j.error().empty() ? "" : ", last failure: ",
                   j.error().c_str());
    }
    w->last = j.state();
    w->last_attempt = j.attempt();
  }
}

// A progress line every 2 s while the job runs.
void PrintProgress(const v1::DescribeJobResponse& d, WaitState* w) {
  auto now = std::chrono::steady_clock::now();
  if (now - w->last_progress > std::chrono::seconds(2) && d.job().state() == v1::JOB_RUNNING) {
    w->last_progress = now;
    std::string line = absl::StrFormat("[progress %6.1fs]", d.elapsed_s());
    for (const auto& n : d.nodes()) {
      absl::StrAppendFormat(&line, " | %s in %s (%s/s) out %s", n.id(), Human(n.metrics().records_in()),
                            Human(n.rate_in()), Human(n.metrics().records_out()));
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

}  // namespace

void AddClusterFlags(CLI::App* cmd, ClusterFlags* flags) {
  cmd->add_option("--coordinator", flags->coordinator, "Coordinator address (host:port)")->capture_default_str();
}

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

std::unique_ptr<grpc::ClientContext> Ctx(double seconds) {
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

std::string Requester() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const char* user = std::getenv("USER");
  return absl::StrCat(user != nullptr && *user ? user : absl::StrCat("uid ", getuid()), "@", host, ", pid ",
                      getpid());
}

bool WaitForJob(v1::Coordinator::Stub* stub, const ClusterFlags& cluster, const std::string& job_id, double timeout_s,
                double reconnect_s, bool quiet, v1::DescribeJobResponse* out, int* exit_code) {
  auto start = std::chrono::steady_clock::now();
  WaitState w;
  w.last_progress = start;
  while (true) {
    v1::DescribeJobRequest req;
    req.set_job_id(job_id);
    out->Clear();
    auto ctx = Ctx(5);
    grpc::Status st = stub->DescribeJob(ctx.get(), req, out);
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE || st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      if (!RideOutOutage(st, cluster, job_id, reconnect_s, &w, exit_code)) return false;
      continue;
    }
    if (!st.ok()) {
      *exit_code = Report(st, cluster);
      return false;
    }
    PrintStateChange(*out, cluster, job_id, quiet, &w);
    if (Terminal(out->job().state())) return true;
    if (!quiet) PrintProgress(*out, &w);
    if (timeout_s > 0 && std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) {
      std::fprintf(stderr, "error: job %s did not end within %.0f s\n", job_id.c_str(), timeout_s);
      *exit_code = kExitFailed;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace sluice::cli
