// What the commands that talk to a coordinator share (`sluice submit`, `list`, `status`,
// `cancel`, `workers`, `local`): the --coordinator flag, the gRPC stub, turning an RPC
// failure into a message and an exit code (cli/exit_codes.h), state names, and following
// a job until it ends. Single-threaded; a stub may be used from any one thread.
#pragma once

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "grpcpp/grpcpp.h"
#include "sluice/v1/cluster.grpc.pb.h"

namespace sluice::cli {

// The port `sluice local` prefers for its coordinator, the default of --coordinator.
inline constexpr int kDefaultPort = 7070;

// How long `--wait` keeps trying a coordinator it cannot reach (it may be restarting).
inline constexpr double kDefaultReconnectTimeoutS = 60;

struct ClusterFlags {
  std::string coordinator = "127.0.0.1:7070";
};

// Declares --coordinator on `cmd`. REQUIRES: `flags` outlives `cmd`.
void AddClusterFlags(CLI::App* cmd, ClusterFlags* flags);

// A stub on a channel that reconnects quickly after a coordinator restart.
std::unique_ptr<v1::Coordinator::Stub> Connect(const ClusterFlags& cluster);

// Prints the RPC failure; returns the exit code it deserves (1 unreachable or failed,
// 2 refused: invalid argument, not found, failed precondition, already exists).
int Report(const grpc::Status& st, const ClusterFlags& cluster);

// A client context with a deadline `seconds` from now.
std::unique_ptr<grpc::ClientContext> Ctx(double seconds = 10);

// "running", "finished", ... (the enum names without prefix, in lower case).
std::string StateName(v1::JobState s);
std::string TaskStateName(v1::TaskState s);
bool Terminal(v1::JobState s);

// 1234 -> "1234", 12345 -> "12.3k", 1.5e6 -> "1.50M", ...
std::string Human(double v);

// "user@host, pid N": who asks, for the job's record.
std::string Requester();

// Polls until the job ends; prints state changes (and, unless `quiet`, progress). Returns
// true with the final description in `*out`; false, having printed why, with the exit code
// in `*exit_code` (RPC failure, or not ended within `timeout_s` > 0). While the coordinator
// is unreachable (it may be restarting: it re-adopts running jobs), keeps trying for
// `reconnect_s` seconds before giving up.
bool WaitForJob(v1::Coordinator::Stub* stub, const ClusterFlags& cluster, const std::string& job_id, double timeout_s,
                double reconnect_s, bool quiet, v1::DescribeJobResponse* out, int* exit_code);

}  // namespace sluice::cli
