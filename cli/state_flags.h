// --state-dir and --state-memory: where and within how much memory the RocksDB state
// backend keeps the keyed state of the tasks this process runs (docs/state.md). Shared by
// `sluice run`, `batch`, `ingest` and `sluice-worker`.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace sluice::cli {

struct StateFlags {
  std::string dir;
  std::string memory = "256MiB";
  bool incremental = true;
};

// REQUIRES: `flags` outlives `cmd`.
void AddStateFlags(CLI::App* cmd, StateFlags* flags);
// Sets the process's RocksDB state options; INVALID_ARGUMENT for a bad size.
absl::Status ApplyStateFlags(const StateFlags& flags);

}  // namespace sluice::cli
