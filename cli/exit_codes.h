// The exit codes of the `sluice` command, shared by every subcommand (cli/README.md has
// the table): 0 success, also --help and --version; 1 the job failed while running, was
// cancelled, or the coordinator is unreachable; 2 bad usage, topology or parameters
// (nothing ran, or the coordinator refused the job).
#pragma once

namespace sluice::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadInput = 2;

}  // namespace sluice::cli
