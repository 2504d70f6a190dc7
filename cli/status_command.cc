// `sluice list`, `status`, `cancel` and `workers`: questions to a coordinator. With
// --json, list, status and workers print the coordinator's answer as one line of JSON
// (cli/json_output.h); else a table on stdout.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cluster_client.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/json_output.h"

namespace sluice::cli {
namespace {

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
  if (!d.checkpoint_storage().empty()) {
    absl::StrAppendFormat(&out, "  checkpoints in %s: %d completed, %d failed; this attempt restored %s\n",
                          d.checkpoint_storage(), d.checkpoints_completed(), d.checkpoints_failed(),
                          d.restored_checkpoint() > 0 ? absl::StrCat("checkpoint ", d.restored_checkpoint())
                                                      : std::string("none (it started from the beginning)"));
    if (d.checkpoints_size() > 0) {
      absl::StrAppendFormat(&out, "  %8s %7s %-11s %9s %10s %11s %11s  %s\n", "id", "attempt", "state", "took(ms)",
                            "size", "pause(ms)", "align(ms)", "failure");
    }
    for (const auto& c : d.checkpoints()) {
      absl::StrAppendFormat(&out, "  %8d %7d %-11s %9d %10s %11.2f %11.2f  %s\n", c.id(), c.attempt(), c.state(),
                            c.duration_ms(), Human(static_cast<double>(c.size_bytes())), c.max_sync_us() / 1e3,
                            c.max_align_us() / 1e3, c.failure());
    }
  }
  if (!d.from_savepoint().empty()) absl::StrAppendFormat(&out, "  submitted from the savepoint in %s\n", d.from_savepoint());
  for (const auto& sp : d.savepoints()) {
    const size_t space = sp.find(' ');
    absl::StrAppendFormat(&out, "  savepoint of checkpoint %s in %s\n", sp.substr(0, space),
                          space == std::string::npos ? std::string() : sp.substr(space + 1));
  }
  return out;
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

// A savepoint, then (with `cancel`) the job cancelled; prints where it was written.
int Savepoint(const ClusterFlags& cluster, const std::string& job_id, const std::string& dir, bool cancel,
              double timeout_s) {
  auto stub = Connect(cluster);
  v1::TriggerSavepointRequest req;
  req.set_job_id(job_id);
  req.set_dir(dir);
  req.set_cancel(cancel);
  req.set_requested_by(absl::StrCat(cancel ? "`sluice cancel --savepoint`" : "`sluice savepoint`", " by ", Requester()));
  v1::TriggerSavepointResponse resp;
  std::fprintf(stderr, "taking a savepoint of job %s%s...\n", job_id.c_str(), cancel ? ", then cancelling it" : "");
  auto ctx = Ctx(timeout_s);
  grpc::Status st = stub->TriggerSavepoint(ctx.get(), req, &resp);
  if (!st.ok()) return Report(st, cluster);
  std::fprintf(stderr, "savepoint of checkpoint %lld written (%s bytes)%s\n",
               static_cast<long long>(resp.checkpoint_id()), Human(static_cast<double>(resp.size_bytes())).c_str(),
               cancel ? absl::StrCat("; job ", job_id, " cancelled").c_str() : "");
  std::printf("%s\n", resp.location().c_str());
  return kExitOk;
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

// The flags of these commands, alive as long as their callbacks.
struct QueryFlags {
  ClusterFlags cluster;
  std::string job_id;
  bool wait = false;
  bool json = false;
};

}  // namespace

void AddListCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<QueryFlags>();
  CLI::App* cmd = app.add_subcommand("list", "List the coordinator's jobs and their states");
  AddClusterFlags(cmd, &f->cluster);
  cmd->add_flag("--json", f->json, "Print the coordinator's answer as JSON (for scripts)");
  cmd->callback([f, exit_code] { *exit_code = ListJobs(f->cluster, f->json); });
}

void AddStatusCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<QueryFlags>();
  CLI::App* cmd = app.add_subcommand("status", "A job's tasks, workers, per-operator rates and backpressure");
  AddClusterFlags(cmd, &f->cluster);
  cmd->add_option("job", f->job_id, "Job id (see `sluice list`)")->required();
  cmd->add_flag("--wait", f->wait, "Wait until the job ends first");
  cmd->add_flag("--json", f->json, "Print the coordinator's answer as JSON (for scripts)");
  cmd->callback([f, exit_code] { *exit_code = Status(f->cluster, f->job_id, f->wait, f->json); });
}

// The flags of `savepoint` and `cancel`.
struct SavepointFlags {
  ClusterFlags cluster;
  std::string job_id;
  std::string dir;
  bool savepoint = false;
  double timeout_s = 600;
};

void AddCancelCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<SavepointFlags>();
  CLI::App* cmd = app.add_subcommand("cancel", "Cancel a job (with --savepoint: stop it with a savepoint)");
  AddClusterFlags(cmd, &f->cluster);
  cmd->add_option("job", f->job_id, "Job id")->required();
  auto* sp = cmd->add_option("--savepoint", f->dir,
                             "Take a savepoint first and cancel once it is written, into this directory (a path "
                             "or file:// URI every worker and the coordinator reach; empty or absent). Without a "
                             "value: under the job's checkpoint dir, in savepoints/. Prints where it went");
  sp->expected(0, 1);
  cmd->add_option("--timeout", f->timeout_s, "Seconds to wait for the savepoint")->capture_default_str();
  cmd->callback([f, sp, exit_code] {
    *exit_code = sp->count() > 0 ? Savepoint(f->cluster, f->job_id, f->dir, /*cancel=*/true, f->timeout_s)
                                 : Cancel(f->cluster, f->job_id);
  });
}

void AddSavepointCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<SavepointFlags>();
  CLI::App* cmd = app.add_subcommand(
      "savepoint", "Take a savepoint of a running job: its state, copied whole into a directory you own, to start "
                   "the job from later (`sluice submit --from-savepoint DIR`, at any parallelism)");
  AddClusterFlags(cmd, &f->cluster);
  cmd->add_option("job", f->job_id, "Job id")->required();
  cmd->add_option("--dir", f->dir,
                  "Where to write it (a path or file:// URI every worker and the coordinator reach; empty or "
                  "absent). Default: under the job's checkpoint dir, in savepoints/");
  cmd->add_option("--timeout", f->timeout_s, "Seconds to wait for the savepoint")->capture_default_str();
  cmd->callback([f, exit_code] {
    *exit_code = Savepoint(f->cluster, f->job_id, f->dir, /*cancel=*/false, f->timeout_s);
  });
}

void AddWorkersCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<QueryFlags>();
  CLI::App* cmd = app.add_subcommand("workers", "List the workers, their slots and heartbeats");
  AddClusterFlags(cmd, &f->cluster);
  cmd->add_flag("--json", f->json, "Print the coordinator's answer as JSON (for scripts)");
  cmd->callback([f, exit_code] { *exit_code = Workers(f->cluster, f->json); });
}

}  // namespace sluice::cli
