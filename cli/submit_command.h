// `sluice submit`: sends a topology (and its plugins) to a coordinator, prints the job
// id, and with --wait follows the job and prints its summary. `sluice local` submits
// through here too.
#pragma once

#include <string>
#include <vector>

#include "cli/cluster_client.h"
#include "sluice/v1/topology.pb.h"

namespace sluice::cli {

struct SubmitFlags {
  std::vector<std::string> plugins;
  bool wait = false;
  int restart_attempts = -1;   // -1: the coordinator's default
  double restart_delay_s = -1;
  double timeout_s = 0;        // --wait: give up after this long (0: never)
  double reconnect_timeout_s = kDefaultReconnectTimeoutS;  // --wait: coordinator unreachable this long: exit 1
  bool quiet = false;
  std::string from_savepoint;  // "" = start empty
  bool allow_non_restored_state = false;
};

// Returns the exit code: 0 submitted (with --wait: finished), 1 failed, cancelled or
// unreachable, 2 refused (the topology or a plugin) or a plugin file unreadable.
int Submit(const ClusterFlags& cluster, const v1::Topology& topology, const SubmitFlags& flags);

}  // namespace sluice::cli
