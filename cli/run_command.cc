// `sluice run JOB.yaml`: plans and runs a topology on this machine (cli/run_topology.h).
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/agent_lock.h"
#include "cli/commands.h"
#include "cli/run_topology.h"
#include "common/status_macros.h"

namespace sluice::cli {
namespace {

// A run with checkpoints owns its checkpoint directory while it lives: a second run of the
// job on the same directory refuses to start instead of restoring the first one's state and
// discarding its checkpoints in progress (cli/agent_lock.h).
absl::Status LockCheckpointDir(const RunFlags& run, const v1::Topology& t,
                               std::vector<std::unique_ptr<AgentLock>>* locks) {
  std::string dir = t.checkpoint_dir();
  if (dir.rfind("file://", 0) == 0) dir = dir.substr(7);
  if (dir.empty() || dir.find("://") != std::string::npos) return absl::OkStatus();  // refused later, named
  ASSIGN_OR_RETURN(auto lock, AgentLock::Acquire(dir, absl::StrCat("sluice run ", run.topology, " (job ", t.name(), ")")));
  locks->push_back(std::move(lock));
  return absl::OkStatus();
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto run = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "Run a topology on this machine");
  AddTopologyFlags(cmd, run.get());
  cli::AddStateFlags(cmd, &run->state);
  cmd->add_option("--progress-interval", run->progress_interval, "Seconds between progress lines on stderr (0: none)");
  cmd->add_flag("-q,--quiet", run->quiet, "No progress and no info logs");
  cmd->add_option("--log-level", run->log_level, "trace, debug, info, warn, error");
  cmd->callback([run, exit_code] {
    std::vector<std::unique_ptr<AgentLock>> locks;  // held until the run ends
    run->adjust = [&run, &locks](v1::Topology* t) { return LockCheckpointDir(*run, *t, &locks); };
    *exit_code = RunTopology(*run);
  });
}

}  // namespace sluice::cli
