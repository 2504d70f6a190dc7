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
// `rocksdb_state`: this process will keep RocksDB state (a worker may; `sluice run` of a
// topology with that backend will), so glibc's malloc arenas are capped at 2 unless
// MALLOC_ARENA_MAX says otherwise: memory freed in one arena is not reused by another, and
// with RocksDB's threads that kept the process above its memory bound.
absl::Status ApplyStateFlags(const StateFlags& flags, bool rocksdb_state);

}  // namespace sluice::cli
