// `sluice ingest JOB.yaml`: the Flume-like spool directory agent. Checkpoints on, so a
// restart resumes mid-file; Ctrl-C / SIGTERM are the normal stop (exit 0); one agent per
// spool and state directory (cli/agent_lock.h).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/agent_lock.h"
#include "cli/commands.h"
#include "cli/run_topology.h"
#include "common/status_macros.h"
#include "runtime/topology/yaml_loader.h"

namespace sluice::cli {
namespace {

struct IngestFlags {
  std::string spool_dir;
  bool once = false;
  std::string checkpoint_dir;
  double checkpoint_interval_s = 10;
};

absl::Status AdjustForIngest(const IngestFlags& g, v1::Topology* t) {
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

// One agent per spool directory and per state (checkpoint) directory. The locks are
// taken before anything is restored, recovered or read, and held until the process
// exits; a second agent fails here, naming the holder, having touched nothing.
absl::Status LockIngestState(const std::string& topology_path, v1::Topology* t,
                             std::vector<std::unique_ptr<AgentLock>>* locks) {
  const std::string spool = StringParam(*NodesOfType(t, "spooldir_source").at(0), "dir");
  std::error_code ec;
  // A missing spool directory fails the job when the source opens; don't create it here.
  if (spool.empty() || !std::filesystem::is_directory(spool, ec)) return absl::OkStatus();
  const std::string what = absl::StrCat("sluice ingest ", topology_path, " (job ", t->name(), ")");
  for (const std::string& dir : {absl::StrCat(spool, "/.sluice"), t->checkpoint_dir()}) {
    ASSIGN_OR_RETURN(auto lock, AgentLock::Acquire(dir, what));
    locks->push_back(std::move(lock));
  }
  return absl::OkStatus();
}

int RunIngest(RunFlags& run, const IngestFlags& ingest) {
  run.stop_on_signal = true;  // Ctrl-C is how an agent stops: exit 0
  std::vector<std::unique_ptr<AgentLock>> locks;  // held until the agent exits
  run.adjust = [&ingest, &run, &locks](v1::Topology* t) -> absl::Status {
    RETURN_IF_ERROR(AdjustForIngest(ingest, t));
    return LockIngestState(run.topology, t, &locks);
  };
  return RunTopology(run);
}

}  // namespace

void AddIngestCommand(CLI::App& app, int* exit_code) {
  auto run = std::make_shared<RunFlags>();
  auto ingest = std::make_shared<IngestFlags>();
  CLI::App* cmd = app.add_subcommand(
      "ingest", "Run a spool-directory agent (Flume-like): spooldir_source -> parse/clean -> sink, with checkpoints");
  AddTopologyFlags(cmd, run.get());
  cli::AddStateFlags(cmd, &run->state);
  cmd->add_option("--spool-dir", ingest->spool_dir, "Spool directory (overrides the spooldir_source's dir)");
  cmd->add_flag("--once", ingest->once, "Stop when the spool directory has no more files (default: keep watching)");
  cmd->add_option("--checkpoint-dir", ingest->checkpoint_dir,
                  "Where progress is kept (default: the topology's checkpoint.dir, else SPOOL/.sluice/NAME)");
  cmd->add_option("--checkpoint-interval", ingest->checkpoint_interval_s, "Seconds between checkpoints")
      ->capture_default_str();
  cmd->add_option("--progress-interval", run->progress_interval, "Seconds between progress lines (0: none)");
  cmd->add_flag("-q,--quiet", run->quiet, "No progress and no info logs");
  cmd->callback([run, ingest, exit_code] { *exit_code = RunIngest(*run, *ingest); });
}

}  // namespace sluice::cli
