#include "cli/submit_command.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/run_topology.h"
#include "common/content_hash.h"
#include "runtime/local/local_executor.h"
#include "runtime/plan/job_graph.h"

namespace sluice::cli {
namespace {

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

// Adds the plugin files to the request and their hashes to `refs`. Returns false, having
// said why, if one is unreadable.
bool AddPlugins(const std::vector<std::string>& plugins, v1::SubmitJobRequest* req, std::vector<v1::PluginRef>* refs) {
  for (const std::string& path : plugins) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: cannot read plugin %s\n", path.c_str());
      return false;
    }
    std::stringstream buf;
    buf << in.rdbuf();
    auto* a = req->add_plugins();
    a->set_name(std::filesystem::path(path).filename().string());
    a->set_content(buf.str());
    v1::PluginRef& ref = refs->emplace_back();
    ref.set_name(a->name());
    ref.set_hash(ContentHash(a->content()));
  }
  return true;
}

void AddSubmitFlags(CLI::App* cmd, SubmitFlags* submit) {
  cmd->add_flag("--wait", submit->wait, "Wait for the job to end, show progress and its summary");
  cmd->add_option("--restart-attempts", submit->restart_attempts,
                  "Restarts after a failure (fixed-delay strategy; default: the coordinator's, 3)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--restart-delay", submit->restart_delay_s, "Seconds before each restart (default 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timeout", submit->timeout_s, "With --wait: give up after this many seconds");
  cmd->add_option("--reconnect-timeout", submit->reconnect_timeout_s,
                  "With --wait: how long to wait for an unreachable coordinator (restarting) before exiting 1")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("-q,--quiet", submit->quiet, "With --wait: no state changes or progress, only the summary");
  cmd->add_option("--from-savepoint", submit->from_savepoint,
                  "Start from the savepoint in this directory (`sluice savepoint`), at any parallelism; state is "
                  "matched to the topology's nodes by id");
  cmd->add_flag("--allow-non-restored-state", submit->allow_non_restored_state,
                "With --from-savepoint: drop the savepoint's state of nodes the topology no longer has, rather "
                "than refuse");
}

// The state of the command's flags, alive as long as its callback.
struct SubmitCommand {
  RunFlags run;
  ClusterFlags cluster;
  SubmitFlags submit;
};

int LoadAndSubmit(SubmitCommand& c) {
  auto topology = LoadWithOverrides(c.run);
  if (!topology.ok()) {
    PrintError(topology.status());
    return kExitBadInput;
  }
  c.submit.plugins = c.run.plugins;
  return Submit(c.cluster, *topology, c.submit);
}

}  // namespace

int Submit(const ClusterFlags& cluster, const v1::Topology& topology, const SubmitFlags& flags) {
  // Compile the job graph here, with the planner `sluice run` uses and the plugins loaded
  // in this process: the coordinator schedules the graph and runs no user code.
  v1::SubmitJobRequest req;
  std::vector<v1::PluginRef> refs;
  if (!AddPlugins(flags.plugins, &req, &refs)) return kExitBadInput;
  OperatorRegistry registry;
  if (int code = RegisterOperators(flags.plugins, &registry); code != kExitOk) return code;
  auto graph = runtime::CompileJobGraph(topology, registry, std::move(refs));
  if (!graph.ok()) {
    PrintError(graph.status());
    return kExitBadInput;
  }
  *req.mutable_graph() = *std::move(graph);
  // What is not given is the coordinator's default.
  if (flags.restart_attempts >= 0) req.mutable_restart()->set_max_attempts(flags.restart_attempts);
  if (flags.restart_delay_s >= 0) {
    req.mutable_restart()->set_delay_ms(static_cast<int64_t>(flags.restart_delay_s * 1000));
  }
  req.set_from_savepoint(flags.from_savepoint);
  req.set_allow_non_restored_state(flags.allow_non_restored_state);
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

void AddSubmitCommand(CLI::App& app, int* exit_code) {
  auto c = std::make_shared<SubmitCommand>();
  CLI::App* cmd = app.add_subcommand("submit", "Submit a topology to a coordinator; prints the job id");
  AddTopologyFlags(cmd, &c->run);
  AddClusterFlags(cmd, &c->cluster);
  AddSubmitFlags(cmd, &c->submit);
  cmd->callback([c, exit_code] { *exit_code = LoadAndSubmit(*c); });
}

}  // namespace sluice::cli
