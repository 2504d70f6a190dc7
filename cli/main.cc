// The `sluice` command: run a topology locally, validate or explain it, list operator
// types, and generate sample data. Every subcommand has --help.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "examples/datagen/datagen.h"
#include "operators/builtins.h"
#include "cli/agent_lock.h"
#include "cli/cluster_commands.h"
#include "cli/gen_tracking.h"
#include "cli/kafka_dev.h"
#include "runtime/local/local_executor.h"
#include "runtime/plugin/plugin_loader.h"
#include "runtime/plan/job_plan.h"
#include "runtime/topology/topology.h"
#include "runtime/topology/yaml_loader.h"

namespace {

// Exit codes: 0 success; 1 the job failed while running (or was cancelled); 2 bad
// usage, topology or parameters (nothing ran).
constexpr int kExitOk = 0;
constexpr int kExitJobFailed = 1;
constexpr int kExitBadInput = 2;

struct RunFlags {
  std::string topology;
  std::vector<std::string> sets;
  int parallelism = 0;
  std::string mode;
  double progress_interval = 2.0;
  bool quiet = false;
  bool explain_only = false;
  std::string log_level = "info";
  std::vector<std::string> plugins;
  // Applied after loading and --set (sluice batch, sluice ingest).
  std::function<absl::Status(sluice::v1::Topology*)> adjust;
  // Ctrl-C / SIGTERM is the normal way to stop (sluice ingest): exit 0, not "cancelled".
  bool stop_on_signal = false;
};

// Offline commands.
struct BatchFlags {
  std::string table;
  std::vector<std::string> partitions;
  std::string warehouse;
};
struct IngestFlags {
  std::string spool_dir;
  bool once = false;
  std::string checkpoint_dir;
  double checkpoint_interval_s = 10;
};

// The ids of the nodes of `type`.
std::vector<sluice::v1::Node*> NodesOfType(sluice::v1::Topology* t, std::string_view type) {
  std::vector<sluice::v1::Node*> nodes;
  for (auto& n : *t->mutable_nodes()) {
    if (n.type() == type) nodes.push_back(&n);
  }
  return nodes;
}

// A string parameter of a node, or "".
std::string StringParam(const sluice::v1::Node& n, std::string_view key) {
  for (const auto& e : n.params().map_value().entries()) {
    if (e.key() == key && e.value().has_string_value()) return e.value().string_value();
  }
  return "";
}

// sluice batch: replays Hive partitions through the topology, in batch mode.
absl::Status AdjustForBatch(const BatchFlags& b, sluice::v1::Topology* t) {
  auto sources = NodesOfType(t, "hive_partitions");
  const bool overriding = !b.table.empty() || !b.partitions.empty() || !b.warehouse.empty();
  if (overriding && sources.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--table/--partitions/--warehouse set the topology's hive_partitions source, but it has ", sources.size(),
        " of them"));
  }
  if (sources.empty()) {
    return absl::InvalidArgumentError("sluice batch replays Hive partitions: the topology needs a source of type "
                                      "hive_partitions (or use sluice run)");
  }
  const std::string id = sources[0]->id();
  if (!b.table.empty()) RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".table=", b.table)));
  if (!b.warehouse.empty()) {
    RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".warehouse=", b.warehouse)));
  }
  if (!b.partitions.empty()) {
    std::string list = "[";
    for (size_t i = 0; i < b.partitions.size(); ++i) absl::StrAppend(&list, i ? ", " : "", "\"", b.partitions[i], "\"");
    list += "]";
    RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".partitions=", list)));
  }
  t->set_mode("batch");
  return absl::OkStatus();
}

// sluice ingest: the Flume-like agent. Checkpoints on, so a restart resumes mid-file.
absl::Status AdjustForIngest(const IngestFlags& g, sluice::v1::Topology* t) {
  auto spools = NodesOfType(t, "spooldir_source");
  if (spools.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sluice ingest runs a spool directory agent: the topology needs exactly one spooldir_source, it has ",
        spools.size()));
  }
  const std::string id = spools[0]->id();
  if (!g.spool_dir.empty()) RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".dir=", g.spool_dir)));
  if (g.once) RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".stop_when_empty=true")));
  std::string dir = g.checkpoint_dir;
  if (dir.empty()) dir = t->checkpoint_dir();
  if (dir.empty()) {
    const std::string spool = StringParam(*spools[0], "dir");
    if (spool.empty()) return absl::InvalidArgumentError("give the spool directory (--spool-dir or the source's dir)");
    dir = absl::StrCat(spool, "/.sluice/", t->name());  // hidden: the source ignores it
  }
  t->set_checkpoint_dir(dir);
  if (g.checkpoint_interval_s > 0) {
    t->set_checkpoint_interval_ms(static_cast<int64_t>(g.checkpoint_interval_s * 1000));
  } else if (t->checkpoint_interval_ms() <= 0) {
    t->set_checkpoint_interval_ms(10000);
  }
  return absl::OkStatus();
}

// sluice ingest: one agent per spool directory and per state (checkpoint) directory.
// The locks are taken before anything is restored, recovered or read, and held until
// the process exits; a second agent fails here, naming the holder, having touched nothing.
absl::Status LockIngestState(const std::string& topology_path, sluice::v1::Topology* t,
                             std::vector<std::unique_ptr<sluice::cli::AgentLock>>* locks) {
  const std::string spool = StringParam(*NodesOfType(t, "spooldir_source").at(0), "dir");
  std::error_code ec;
  // A missing spool directory fails the job when the source opens; don't create it here.
  if (spool.empty() || !std::filesystem::is_directory(spool, ec)) return absl::OkStatus();
  const std::string what = absl::StrCat("sluice ingest ", topology_path, " (job ", t->name(), ")");
  for (const std::string& dir : {absl::StrCat(spool, "/.sluice"), t->checkpoint_dir()}) {
    ASSIGN_OR_RETURN(auto lock, sluice::cli::AgentLock::Acquire(dir, what));
    locks->push_back(std::move(lock));
  }
  return absl::OkStatus();
}

// Creates the directory that will hold `path`, so `gen --out data/x/y.log` just works.
void EnsureParentDir(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
}

absl::StatusOr<sluice::v1::Topology> LoadWithOverrides(const RunFlags& f) {
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
  auto topology = LoadWithOverrides(f);
  if (!topology.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(topology.status().message()).c_str());
    return kExitBadInput;
  }
  sluice::OperatorRegistry registry;
  absl::Status st = sluice::operators::RegisterBuiltinOperators(registry);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
    return kExitJobFailed;
  }
  for (const std::string& plugin : f.plugins) {
    st = sluice::runtime::LoadPlugin(plugin, &registry);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return kExitBadInput;
    }
  }
  auto plan = sluice::runtime::BuildJobPlan(*topology, registry);
  if (!plan.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(plan.status().message()).c_str());
    return kExitBadInput;
  }
  if (f.explain_only) {
    std::printf("%s", plan->Describe().c_str());
    for (const auto& n : plan->nodes) {
      std::printf("  %s (%s): %s\n", n.id.c_str(), n.type.c_str(),
                  n.output_schema ? n.output_schema->ToString().c_str() : "(sink)");
    }
    return kExitOk;
  }

  sluice::runtime::RunOptions options;
  options.progress_interval_s = f.quiet ? 0 : f.progress_interval;
  sluice::runtime::LocalExecutor executor(*plan, registry, options);

  // Ctrl-C / SIGTERM: cancel the job cleanly from a dedicated signal thread.
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
      std::fprintf(stderr, "\nsluice: signal %d, %s\n", sig, f.stop_on_signal ? "stopping" : "cancelling the job");
      stop_signal = sig;
      executor.Cancel();
    }
  });
  auto summary = executor.Run();
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();

  if (f.stop_on_signal && stop_signal != 0 && absl::IsCancelled(summary.status())) {
    std::fprintf(stderr, "sluice: stopped by signal %d%s\n", stop_signal.load(),
                 plan->checkpoint_dir.empty()
                     ? ""
                     : absl::StrCat("; the next run resumes from the last checkpoint in ", plan->checkpoint_dir)
                           .c_str());
    return kExitOk;
  }
  if (!summary.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(summary.status().message()).c_str());
    return kExitJobFailed;
  }
  std::fprintf(stderr, "%s", summary->ToString().c_str());
  if (!plan->dead_letter_path.empty() && summary->TotalDeadLetters() > 0) {
    std::fprintf(stderr, "  dead letters written to %s\n", plan->dead_letter_path.c_str());
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGUSR1 wakes the signal thread at exit; block it before any thread starts.
  sigset_t usr;
  sigemptyset(&usr);
  sigaddset(&usr, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr, nullptr);

  CLI::App app{"sluice: a stream processor for log and event pipelines"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");

  RunFlags run;
  auto add_topology_flags = [&run](CLI::App* cmd) {
    cmd->add_option("topology", run.topology, "Topology YAML file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--set", run.sets,
                    "Override a parameter: NODE.PARAM=VALUE (e.g. events.paths=a.log, "
                    "counts.window.size=1m, sink.parallelism=1); repeatable");
    cmd->add_option("-p,--parallelism", run.parallelism, "Default parallelism of every node")
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--mode", run.mode, "auto (batch when every source is bounded), batch or streaming")
        ->check(CLI::IsMember({"auto", "batch", "streaming"}));
    cmd->add_option("--plugin", run.plugins, "Operator plugin (.so built with sluice/plugin.h); repeatable")
        ->check(CLI::ExistingFile);
  };
  sluice::cli::ClusterFlags cluster;
  auto add_cluster_flags = [&cluster](CLI::App* cmd) {
    cmd->add_option("--coordinator", cluster.coordinator, "Coordinator address (host:port)")->capture_default_str();
  };
  sluice::cli::SubmitFlags submit;
  auto add_submit_flags = [&submit](CLI::App* cmd) {
    cmd->add_flag("--wait", submit.wait, "Wait for the job to end, show progress and its summary");
    cmd->add_option("--restart-attempts", submit.restart_attempts,
                    "Restarts after a failure (fixed-delay strategy; default: the coordinator's, 3)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--restart-delay", submit.restart_delay_s, "Seconds before each restart (default 1)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--timeout", submit.timeout_s, "With --wait: give up after this many seconds");
    cmd->add_option("--reconnect-timeout", submit.reconnect_timeout_s,
                    "With --wait: how long to wait for an unreachable coordinator (restarting) before exiting 1")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("-q,--quiet", submit.quiet, "With --wait: no state changes or progress, only the summary");
  };

  CLI::App* run_cmd = app.add_subcommand("run", "Run a topology on this machine");
  add_topology_flags(run_cmd);
  run_cmd->add_option("--progress-interval", run.progress_interval,
                      "Seconds between progress lines on stderr (0: none)");
  run_cmd->add_flag("-q,--quiet", run.quiet, "No progress and no info logs");
  run_cmd->add_option("--log-level", run.log_level, "trace, debug, info, warn, error");

  BatchFlags batch;
  CLI::App* batch_cmd = app.add_subcommand(
      "batch", "Replay Hive partitions (dt=A..B) through a topology in batch mode; re-runs replace output partitions");
  add_topology_flags(batch_cmd);
  batch_cmd->add_option("--table", batch.table, "Table to read (db.table), for the hive_partitions source");
  batch_cmd->add_option("--partitions", batch.partitions, "Partitions to read: dt=2026-11-20..2026-11-24 or dt=DAY; repeatable");
  batch_cmd->add_option("--warehouse", batch.warehouse, "Warehouse root (path or file:///path) of that table");
  batch_cmd->add_option("--progress-interval", run.progress_interval, "Seconds between progress lines (0: none)");
  batch_cmd->add_flag("-q,--quiet", run.quiet, "No progress and no info logs");

  IngestFlags ingest;
  CLI::App* ingest_cmd = app.add_subcommand(
      "ingest", "Run a spool-directory agent (Flume-like): spooldir_source -> parse/clean -> sink, with checkpoints");
  add_topology_flags(ingest_cmd);
  ingest_cmd->add_option("--spool-dir", ingest.spool_dir, "Spool directory (overrides the spooldir_source's dir)");
  ingest_cmd->add_flag("--once", ingest.once, "Stop when the spool directory has no more files (default: keep watching)");
  ingest_cmd->add_option("--checkpoint-dir", ingest.checkpoint_dir,
                         "Where progress is kept (default: the topology's checkpoint.dir, else SPOOL/.sluice/NAME)");
  ingest_cmd->add_option("--checkpoint-interval", ingest.checkpoint_interval_s, "Seconds between checkpoints")
      ->capture_default_str();
  ingest_cmd->add_option("--progress-interval", run.progress_interval, "Seconds between progress lines (0: none)");
  ingest_cmd->add_flag("-q,--quiet", run.quiet, "No progress and no info logs");

  CLI::App* explain_cmd = app.add_subcommand("explain", "Validate a topology and print its plan");
  add_topology_flags(explain_cmd);

  std::vector<std::string> ops_plugins;
  CLI::App* ops_cmd = app.add_subcommand("operators", "List the operator types (built-in and from --plugin) and their docs");
  ops_cmd->add_option("--plugin", ops_plugins, "Also list the operators of this plugin (.so); repeatable")
      ->check(CLI::ExistingFile);

  CLI::App* submit_cmd = app.add_subcommand("submit", "Submit a topology to a coordinator; prints the job id");
  add_topology_flags(submit_cmd);
  add_cluster_flags(submit_cmd);
  add_submit_flags(submit_cmd);
  CLI::App* list_cmd = app.add_subcommand("list", "List the coordinator's jobs and their states");
  add_cluster_flags(list_cmd);
  bool list_json = false;
  list_cmd->add_flag("--json", list_json, "Print the coordinator's answer as JSON (for scripts)");
  std::string job_id;
  bool status_wait = false;
  CLI::App* status_cmd = app.add_subcommand("status", "A job's tasks, workers, per-operator rates and backpressure");
  add_cluster_flags(status_cmd);
  status_cmd->add_option("job", job_id, "Job id (see `sluice list`)")->required();
  status_cmd->add_flag("--wait", status_wait, "Wait until the job ends first");
  bool status_json = false;
  status_cmd->add_flag("--json", status_json, "Print the coordinator's answer as JSON (for scripts)");
  CLI::App* cancel_cmd = app.add_subcommand("cancel", "Cancel a job");
  add_cluster_flags(cancel_cmd);
  cancel_cmd->add_option("job", job_id, "Job id")->required();
  CLI::App* workers_cmd = app.add_subcommand("workers", "List the workers, their slots and heartbeats");
  add_cluster_flags(workers_cmd);
  bool workers_json = false;
  workers_cmd->add_flag("--json", workers_json, "Print the coordinator's answer as JSON (for scripts)");
  sluice::cli::LocalFlags local;
  CLI::App* local_cmd = app.add_subcommand(
      "local", "Start a coordinator and worker processes on this machine; with a topology, run it and stop");
  local_cmd->add_option("topology", run.topology, "Topology to submit and wait for (optional)")
      ->check(CLI::ExistingFile);
  local_cmd->add_option("--set", run.sets, "Override a parameter: NODE.PARAM=VALUE; repeatable");
  local_cmd->add_option("-p,--parallelism", run.parallelism, "Default parallelism of every node")
      ->check(CLI::Range(1, 1024));
  local_cmd->add_option("--mode", run.mode, "auto, batch or streaming")->check(CLI::IsMember({"auto", "batch", "streaming"}));
  local_cmd->add_option("--plugin", submit.plugins, "Operator plugin (.so) to ship with the job; repeatable")
      ->check(CLI::ExistingFile);
  local_cmd->add_option("--workers", local.workers, "Worker processes")->capture_default_str()->check(CLI::Range(1, 64));
  local_cmd->add_option("--slots", local.slots, "Slots (tasks) per worker")->capture_default_str()->check(CLI::Range(1, 1024));
  local_cmd->add_option("--port", local.port,
                        "Coordinator port; refused if in use (default: 7070 if free, else any free port; 0: any)")
      ->check(CLI::Range(0, 65535));
  local_cmd->add_option("--data-dir", local.data_dir, "Coordinator job store (default: a fresh temporary directory)");
  local_cmd->add_option("--heartbeat-timeout", local.heartbeat_timeout_s, "Seconds before a silent worker is lost")
      ->capture_default_str();
  local_cmd->add_option("--log-level", local.log_level, "Log level of the coordinator and workers")
      ->capture_default_str();
  local_cmd->add_option("--restart-attempts", submit.restart_attempts, "Restarts after a failure")
      ->check(CLI::NonNegativeNumber);
  local_cmd->add_flag("--kafka-dev", local.kafka_dev, "Also start a development Kafka broker (sluice kafka-dev)");
  local_cmd->add_option("--kafka-port", local.kafka_port, "Its bootstrap port on 127.0.0.1")->capture_default_str();
  local_cmd->add_option("--kafka-topic", local.kafka_topics, "A topic to create: NAME or NAME:PARTITIONS; repeatable");

  sluice::cli::KafkaDevFlags kafka_dev;
  CLI::App* kafka_dev_cmd = app.add_subcommand(
      "kafka-dev", "Run a development Kafka cluster (real Kafka protocol on loopback) until Ctrl-C");
  kafka_dev_cmd->add_option("--brokers", kafka_dev.brokers, "Number of brokers")->capture_default_str()
      ->check(CLI::Range(1, 16));
  kafka_dev_cmd->add_option("--port", kafka_dev.port, "Also accept bootstrap connections on 127.0.0.1:PORT")
      ->check(CLI::Range(0, 65535));
  kafka_dev_cmd->add_option("--topic", kafka_dev.topics, "Create a topic: NAME or NAME:PARTITIONS; repeatable");
  kafka_dev_cmd->add_option("--bootstrap-file", kafka_dev.bootstrap_file,
                            "Write the bootstrap servers to this file once up");

  CLI::App* gen_cmd = app.add_subcommand("gen", "Generate sample input data");
  gen_cmd->require_subcommand(1);
  sluice::datagen::NginxLogOptions nginx;
  CLI::App* gen_nginx = gen_cmd->add_subcommand("nginx", "nginx combined access log with dirty lines");
  gen_nginx->add_option("--out", nginx.output_path, "Output file (.gz to compress)")->required();
  gen_nginx->add_option("--lines", nginx.num_lines, "Number of lines");
  gen_nginx->add_option("--seed", nginx.seed, "Random seed");
  std::string nginx_date;
  gen_nginx->add_option("--date", nginx_date,
                        "Day the requests fall on, YYYY-MM-DD in the logs' +0800 (default 2026-11-20)");
  sluice::datagen::YsbOptions ysb;
  CLI::App* gen_ysb = gen_cmd->add_subcommand("ysb", "Yahoo Streaming Benchmark events and ads table");
  gen_ysb->add_option("--events-out", ysb.events_path, "Events file (JSON lines)")->required();
  gen_ysb->add_option("--ads-out", ysb.ads_path, "ad_id,campaign_id CSV")->required();
  gen_ysb->add_option("--events", ysb.num_events, "Number of events");
  gen_ysb->add_option("--seed", ysb.seed, "Random seed");

  sluice::cli::TrackingFlags tracking;
  CLI::App* gen_tracking = gen_cmd->add_subcommand(
      "tracking", "Shop tracking events (page views, clicks, carts, orders) to a file or a Kafka topic");
  gen_tracking->add_option("--out", tracking.out, "Write JSON lines to this file");
  gen_tracking->add_option("--bootstrap-servers", tracking.bootstrap, "Or produce to this Kafka cluster ...");
  gen_tracking->add_option("--topic", tracking.topic, "... into this topic (keyed by user)");
  gen_tracking->add_option("--events", tracking.events, "Number of events")->capture_default_str();
  gen_tracking->add_option("--rate", tracking.rate, "Events per second (0: as fast as possible)")->capture_default_str();
  gen_tracking->add_option("--users", tracking.users, "Distinct users")->capture_default_str();
  gen_tracking->add_option("--items", tracking.items, "Catalogue size")->capture_default_str();
  gen_tracking->add_option("--malformed", tracking.malformed, "Fraction of malformed events")->capture_default_str();
  gen_tracking->add_option("--seed", tracking.seed, "Random seed")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, like a bad topology.
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  }

  if (run_cmd->parsed()) return RunTopology(run);
  if (batch_cmd->parsed()) {
    run.adjust = [&batch](sluice::v1::Topology* t) { return AdjustForBatch(batch, t); };
    return RunTopology(run);
  }
  if (ingest_cmd->parsed()) {
    run.stop_on_signal = true;  // Ctrl-C is how an agent stops: exit 0
    std::vector<std::unique_ptr<sluice::cli::AgentLock>> locks;  // held until the agent exits
    run.adjust = [&ingest, &run, &locks](sluice::v1::Topology* t) -> absl::Status {
      RETURN_IF_ERROR(AdjustForIngest(ingest, t));
      return LockIngestState(run.topology, t, &locks);
    };
    return RunTopology(run);
  }
  if (submit_cmd->parsed() || (local_cmd->parsed() && !run.topology.empty())) {
    auto topology = LoadWithOverrides(run);
    if (!topology.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(topology.status().message()).c_str());
      return kExitBadInput;
    }
    if (submit_cmd->parsed()) {
      submit.plugins = run.plugins;
      return sluice::cli::Submit(cluster, *topology, submit);
    }
    submit.wait = true;
    return sluice::cli::Local(local, &*topology, submit);
  }
  if (local_cmd->parsed()) return sluice::cli::Local(local, nullptr, submit);
  if (kafka_dev_cmd->parsed()) return sluice::cli::KafkaDev(kafka_dev);
  if (list_cmd->parsed()) return sluice::cli::ListJobs(cluster, list_json);
  if (status_cmd->parsed()) return sluice::cli::Status(cluster, job_id, status_wait, status_json);
  if (cancel_cmd->parsed()) return sluice::cli::Cancel(cluster, job_id);
  if (workers_cmd->parsed()) return sluice::cli::Workers(cluster, workers_json);
  if (explain_cmd->parsed()) {
    run.explain_only = true;
    return RunTopology(run);
  }
  if (ops_cmd->parsed()) {
    sluice::OperatorRegistry registry;
    absl::Status st = sluice::operators::RegisterBuiltinOperators(registry);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return kExitJobFailed;
    }
    for (const std::string& plugin : ops_plugins) {
      st = sluice::runtime::LoadPlugin(plugin, &registry);
      if (!st.ok()) {
        std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
        return kExitBadInput;
      }
    }
    for (const auto& t : registry.Types()) {
      auto kind = registry.KindOf(t);
      const char* k = !kind.ok()                                       ? "?"
                      : *kind == sluice::OperatorRegistry::Kind::kSource ? "source"
                      : *kind == sluice::OperatorRegistry::Kind::kSink   ? "sink"
                                                                         : "operator";
      std::printf("%-18s %-9s %s\n", t.c_str(), k, std::string(registry.Doc(t)).c_str());
    }
    return kExitOk;
  }
  if (gen_nginx->parsed()) {
    if (!nginx_date.empty()) {
      absl::CivilDay day;
      if (!absl::ParseCivilTime(nginx_date, &day)) {
        std::fprintf(stderr, "error: --date: expected YYYY-MM-DD, got '%s'\n", nginx_date.c_str());
        return kExitBadInput;
      }
      nginx.start_time_ms = absl::ToUnixMillis(absl::FromCivil(day, absl::FixedTimeZone(8 * 3600)));
    }
    EnsureParentDir(nginx.output_path);
    nginx.gzip = nginx.output_path.ends_with(".gz");  // as --help says (it wrote plain text)
    absl::Status st = sluice::datagen::GenerateNginxLogs(nginx);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return kExitJobFailed;
    }
    std::fprintf(stderr, "wrote %lld lines to %s\n", static_cast<long long>(nginx.num_lines), nginx.output_path.c_str());
    return kExitOk;
  }
  if (gen_tracking->parsed()) return sluice::cli::GenTracking(tracking);
  if (gen_ysb->parsed()) {
    EnsureParentDir(ysb.events_path);
    EnsureParentDir(ysb.ads_path);
    absl::Status st = sluice::datagen::GenerateYsb(ysb);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return kExitJobFailed;
    }
    std::fprintf(stderr, "wrote %lld events to %s and the ads table to %s\n",
                 static_cast<long long>(ysb.num_events), ysb.events_path.c_str(), ysb.ads_path.c_str());
    return kExitOk;
  }
  return kExitOk;
}
