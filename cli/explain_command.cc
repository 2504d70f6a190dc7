// `sluice explain JOB.yaml`: everything `run` does before reading data, then the plan
// and each node's schema on stdout.
#include <memory>

#include "cli/commands.h"
#include "cli/run_topology.h"

namespace sluice::cli {

void AddExplainCommand(CLI::App& app, int* exit_code) {
  auto run = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("explain", "Validate a topology and print its plan");
  AddTopologyFlags(cmd, run.get());
  cmd->callback([run, exit_code] {
    run->explain_only = true;
    *exit_code = RunTopology(*run);
  });
}

}  // namespace sluice::cli
