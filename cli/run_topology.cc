#include "cli/run_topology.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/exit_codes.h"
#include "common/log.h"
#include "operators/builtins.h"
#include "runtime/local/local_executor.h"
#include "runtime/plan/job_plan.h"
#include "runtime/plugin/plugin_loader.h"
#include "runtime/topology/topology.h"
#include "runtime/topology/yaml_loader.h"

namespace sluice::cli {
namespace {

// Loads the topology, registers the operators (built-in and plugins) in `registry` and
// plans the job into `plan`. On failure prints why and returns the exit code; else kExitOk.
int PlanJob(const RunFlags& f, OperatorRegistry* registry, std::optional<runtime::JobPlan>* plan) {
  auto topology = LoadWithOverrides(f);
  if (!topology.ok()) {
    PrintError(topology.status());
    return kExitBadInput;
  }
  if (int code = RegisterOperators(f.plugins, registry); code != kExitOk) return code;
  auto planned = sluice::runtime::BuildJobPlan(*topology, *registry);
  if (!planned.ok()) {
    PrintError(planned.status());
    return kExitBadInput;
  }
  plan->emplace(*std::move(planned));
  return kExitOk;
}

// `sluice explain`: the plan and each node's schema, on stdout.
void PrintPlan(const runtime::JobPlan& plan) {
  std::printf("%s", plan.Describe().c_str());
  for (const auto& n : plan.nodes) {
    std::printf("  %s (%s): %s\n", n.id.c_str(), n.type.c_str(),
                n.output_schema ? n.output_schema->ToString().c_str() : "(sink)");
  }
}

// Runs the executor; Ctrl-C / SIGTERM cancel the job cleanly from a dedicated signal
// thread. Returns the job's outcome and, in `*stop_signal`, the signal that stopped it (or 0).
absl::StatusOr<runtime::JobSummary> RunWithSignals(runtime::LocalExecutor& executor, bool stop_on_signal,
                                                   int* stop_signal_out) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  sigaddset(&set, SIGUSR1);  // blocked in main(); wakes this thread when the job ends
  std::atomic<int> stop_signal{0};
  std::thread signals([&] {
    int sig = 0;
    if (sigwait(&set, &sig) == 0 && sig != SIGUSR1) {
      std::fprintf(stderr, "\nsluice: signal %d, %s\n", sig, stop_on_signal ? "stopping" : "cancelling the job");
      stop_signal = sig;
      executor.Cancel();
    }
  });
  auto summary = executor.Run();
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  *stop_signal_out = stop_signal.load();
  return summary;
}

}  // namespace

int RegisterOperators(const std::vector<std::string>& plugins, OperatorRegistry* registry) {
  absl::Status st = sluice::operators::RegisterBuiltinOperators(*registry);
  if (!st.ok()) {
    PrintError(st);
    return kExitFailed;
  }
  for (const std::string& plugin : plugins) {
    st = sluice::runtime::LoadPlugin(plugin, registry);
    if (!st.ok()) {
      PrintError(st);
      return kExitBadInput;
    }
  }
  return kExitOk;
}

void AddTopologyFlags(CLI::App* cmd, RunFlags* flags) {
  cmd->add_option("topology", flags->topology, "Topology YAML file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", flags->sets,
                  "Override a parameter: NODE.PARAM=VALUE (e.g. events.paths=a.log, "
                  "counts.window.size=1m, sink.parallelism=1); repeatable");
  cmd->add_option("-p,--parallelism", flags->parallelism, "Default parallelism of every node")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--mode", flags->mode, "auto (batch when every source is bounded), batch or streaming")
      ->check(CLI::IsMember({"auto", "batch", "streaming"}));
  cmd->add_option("--plugin", flags->plugins, "Operator plugin (.so built with sluice/plugin.h); repeatable")
      ->check(CLI::ExistingFile);
}

absl::StatusOr<v1::Topology> LoadWithOverrides(const RunFlags& f) {
  auto t = sluice::topology::LoadTopologyFile(f.topology);
  if (!t.ok()) return t.status();
  for (const auto& s : f.sets) {
    absl::Status st = sluice::topology::ApplyOverride(&*t, s);
    if (!st.ok()) return st;
  }
  if (f.parallelism > 0) t->set_default_parallelism(f.parallelism);
  if (!f.mode.empty()) t->set_mode(f.mode);
  if (f.adjust) {
    absl::Status st = f.adjust(&*t);
    if (!st.ok()) return st;
  }
  return t;
}

int RunTopology(const RunFlags& f) {
  sluice::SetLogLevel(f.quiet ? "warn" : f.log_level);
  auto log = sluice::GetLogger("cli");
  OperatorRegistry registry;
  std::optional<runtime::JobPlan> plan;
  if (int code = PlanJob(f, &registry, &plan); code != kExitOk) return code;
  if (f.explain_only) {
    PrintPlan(*plan);
    return kExitOk;
  }

  if (absl::Status st = cli::ApplyStateFlags(f.state, plan->state_backend == "rocksdb"); !st.ok()) {
    PrintError(st);
    return kExitBadInput;
  }
  runtime::RunOptions options;
  options.progress_interval_s = f.quiet ? 0 : f.progress_interval;
  runtime::LocalExecutor executor(*plan, registry, options);
  int stop_signal = 0;
  auto summary = RunWithSignals(executor, f.stop_on_signal, &stop_signal);

  if (f.stop_on_signal && stop_signal != 0 && absl::IsCancelled(summary.status())) {
    std::fprintf(stderr, "sluice: stopped by signal %d%s\n", stop_signal,
                 plan->checkpoint_dir.empty()
                     ? ""
                     : absl::StrCat("; the next run resumes from the last checkpoint in ", plan->checkpoint_dir)
                           .c_str());
    return kExitOk;
  }
  if (!summary.ok()) {
    PrintError(summary.status());
    return kExitFailed;
  }
  std::fprintf(stderr, "%s", summary->ToString().c_str());
  if (!plan->dead_letter_path.empty() && summary->TotalDeadLetters() > 0) {
    std::fprintf(stderr, "  dead letters written to %s\n", plan->dead_letter_path.c_str());
  }
  return kExitOk;
}

void PrintError(const absl::Status& st) { std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str()); }

std::vector<v1::Node*> NodesOfType(v1::Topology* t, std::string_view type) {
  std::vector<v1::Node*> nodes;
  for (auto& n : *t->mutable_nodes()) {
    if (n.type() == type) nodes.push_back(&n);
  }
  return nodes;
}

std::string StringParam(const v1::Node& n, std::string_view key) {
  for (const auto& e : n.params().map_value().entries()) {
    if (e.key() == key && e.value().has_string_value()) return e.value().string_value();
  }
  return "";
}

}  // namespace sluice::cli
