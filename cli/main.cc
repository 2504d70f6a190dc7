// The `sluice` command: run a topology locally, validate or explain it, list operator
// types, generate sample data, and drive a cluster. Each subcommand lives in its own
// file (cli/commands.h lists them); every subcommand has --help.
#include <signal.h>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/exit_codes.h"

int main(int argc, char** argv) {
  // SIGUSR1 wakes the signal thread at exit; block it before any thread starts.
  sigset_t usr;
  sigemptyset(&usr);
  sigaddset(&usr, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr, nullptr);

  CLI::App app{"sluice: a stream processor for log and event pipelines"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");
  int exit_code = sluice::cli::kExitOk;
  for (auto add : {sluice::cli::AddRunCommand, sluice::cli::AddBatchCommand, sluice::cli::AddIngestCommand,
                   sluice::cli::AddExplainCommand, sluice::cli::AddOperatorsCommand, sluice::cli::AddSubmitCommand,
                   sluice::cli::AddListCommand, sluice::cli::AddStatusCommand, sluice::cli::AddCancelCommand,
                   sluice::cli::AddSavepointCommand, sluice::cli::AddWorkersCommand, sluice::cli::AddLocalCommand, sluice::cli::AddKafkaDevCommand,
                   sluice::cli::AddGenCommand}) {
    add(app, &exit_code);
  }
  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, like a bad topology.
    return app.exit(e) == 0 ? sluice::cli::kExitOk : sluice::cli::kExitBadInput;
  }
  return exit_code;
}
