// What the commands that take a topology file share (`sluice run`, `batch`, `ingest`,
// `explain`, `submit`, `local`): the topology flags, loading with the overrides, and
// running the planned job on this machine. Single-threaded, except RunTopology's own
// signal thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/state_flags.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/operator.h"
#include "sluice/v1/topology.pb.h"

namespace sluice::cli {

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
  std::function<absl::Status(v1::Topology*)> adjust;
  // Ctrl-C / SIGTERM is the normal way to stop (sluice ingest): exit 0, not "cancelled".
  bool stop_on_signal = false;
  // --state-dir, --state-memory (commands that run tasks here).
  cli::StateFlags state;
};

// Declares the topology file (required), --set, -p, --mode and --plugin on `cmd`.
// REQUIRES: `flags` outlives `cmd`.
void AddTopologyFlags(CLI::App* cmd, RunFlags* flags);

// The topology file with --set, -p, --mode and `adjust` applied. Errors: the loader's,
// ApplyOverride's and `adjust`'s (all bad input).
absl::StatusOr<v1::Topology> LoadWithOverrides(const RunFlags& f);

// Plans the topology and runs it here (or, with explain_only, prints the plan); progress
// and the summary on stderr; Ctrl-C / SIGTERM cancel (or, with stop_on_signal, stop) it.
// Returns the exit code.
int RunTopology(const RunFlags& f);

// Registers the built-in operators and loads `plugins` (files) into `registry`. On
// failure prints why and returns the exit code; else kExitOk.
int RegisterOperators(const std::vector<std::string>& plugins, OperatorRegistry* registry);

// Prints "error: MESSAGE" on stderr.
void PrintError(const absl::Status& st);

// The nodes of `type`.
std::vector<v1::Node*> NodesOfType(v1::Topology* t, std::string_view type);

// A string parameter of a node, or "".
std::string StringParam(const v1::Node& n, std::string_view key);

}  // namespace sluice::cli
