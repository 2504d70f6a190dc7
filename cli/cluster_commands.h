// The `sluice` subcommands that talk to a coordinator (submit, list, status, cancel,
// workers) and `sluice local`, which starts a coordinator and workers on this machine.
// Each returns a process exit code: 0 success, 1 the job or the cluster failed, 2 bad
// input (the coordinator refused the topology or a plugin, or bad flags).
#pragma once

#include <string>
#include <vector>

#include "sluice/v1/topology.pb.h"

namespace sluice::cli {

struct ClusterFlags {
  std::string coordinator = "127.0.0.1:7070";
};

// How long `--wait` keeps trying a coordinator it cannot reach (it may be restarting).
inline constexpr double kDefaultReconnectTimeoutS = 60;

struct SubmitFlags {
  std::vector<std::string> plugins;
  bool wait = false;
  int restart_attempts = -1;   // -1: the coordinator's default
  double restart_delay_s = -1;
  double timeout_s = 0;        // --wait: give up after this long (0: never)
  double reconnect_timeout_s = kDefaultReconnectTimeoutS;  // --wait: coordinator unreachable this long: exit 1
  bool quiet = false;
};

int Submit(const ClusterFlags& cluster, const v1::Topology& topology, const SubmitFlags& flags);
// With `json`, each prints the coordinator's answer as one line of JSON (cli/json_output.h).
int ListJobs(const ClusterFlags& cluster, bool json);
int Status(const ClusterFlags& cluster, const std::string& job_id, bool wait, bool json);
int Cancel(const ClusterFlags& cluster, const std::string& job_id);
int Workers(const ClusterFlags& cluster, bool json);

// The port `sluice local` prefers for its coordinator, the default of --coordinator.
inline constexpr int kDefaultPort = 7070;

struct LocalFlags {
  int workers = 2;
  int slots = 4;
  int port = -1;  // -1: kDefaultPort if free, else any free port; 0: any free port; else this one or fail
  std::string data_dir;  // default: a fresh temporary directory
  double heartbeat_timeout_s = 10;
  std::string log_level = "info";
  // Also start `sluice kafka-dev` (bootstrap on 127.0.0.1:kafka_port) with these topics.
  bool kafka_dev = false;
  int kafka_port = 9092;
  std::vector<std::string> kafka_topics;
};

// Starts a coordinator and `workers` worker processes, which die with this process (even
// by kill -9). With a topology, submits it, waits for it, prints its summary and stops
// everything; without, runs until Ctrl-C. The default data dir is a temporary directory,
// removed at exit (one left by a killed run is removed by the next run).
int Local(const LocalFlags& local, const v1::Topology* topology, const SubmitFlags& submit);

}  // namespace sluice::cli
