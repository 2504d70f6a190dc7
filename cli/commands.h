// The subcommands of `sluice`, one file each. Every Add*Command declares its subcommand
// of `app` (options, defaults, help) and a callback that runs it and stores the process
// exit code (cli/exit_codes.h) in `*exit_code`; `main` adds them in this order, which is
// the order of `sluice --help`, and parses. Nothing runs until `app.parse` succeeds.
// REQUIRES: `exit_code` outlives the parse.
#pragma once

#include "CLI/CLI.hpp"

namespace sluice::cli {

void AddRunCommand(CLI::App& app, int* exit_code);        // run_command.cc
void AddBatchCommand(CLI::App& app, int* exit_code);      // batch_command.cc
void AddIngestCommand(CLI::App& app, int* exit_code);     // ingest_command.cc
void AddExplainCommand(CLI::App& app, int* exit_code);    // explain_command.cc
void AddOperatorsCommand(CLI::App& app, int* exit_code);  // operators_command.cc
void AddSubmitCommand(CLI::App& app, int* exit_code);     // submit_command.cc
void AddListCommand(CLI::App& app, int* exit_code);       // status_command.cc
void AddStatusCommand(CLI::App& app, int* exit_code);     // status_command.cc
void AddCancelCommand(CLI::App& app, int* exit_code);     // status_command.cc
void AddSavepointCommand(CLI::App& app, int* exit_code);  // status_command.cc
void AddWorkersCommand(CLI::App& app, int* exit_code);    // status_command.cc
void AddLocalCommand(CLI::App& app, int* exit_code);      // local_command.cc
void AddKafkaDevCommand(CLI::App& app, int* exit_code);   // kafka_dev_command.cc
void AddGenCommand(CLI::App& app, int* exit_code);        // gen_command.cc (nginx, ysb, tracking)

}  // namespace sluice::cli
