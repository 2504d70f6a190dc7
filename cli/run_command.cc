// `sluice run JOB.yaml`: plans and runs a topology on this machine (cli/run_topology.h).
#include <memory>

#include "cli/commands.h"
#include "cli/run_topology.h"

namespace sluice::cli {

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto run = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "Run a topology on this machine");
  AddTopologyFlags(cmd, run.get());
  cmd->add_option("--progress-interval", run->progress_interval, "Seconds between progress lines on stderr (0: none)");
  cmd->add_flag("-q,--quiet", run->quiet, "No progress and no info logs");
  cmd->add_option("--log-level", run->log_level, "trace, debug, info, warn, error");
  cmd->callback([run, exit_code] { *exit_code = RunTopology(*run); });
}

}  // namespace sluice::cli
