// Membership: the workers a coordinator knows — their address, slots and liveness by
// heartbeat. A worker is alive from its registration until it misses heartbeats for the
// timeout or a call to it finds it unreachable; then it must register again.
// Not thread-safe: the Coordinator holds its lock around every call.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/scheduler.h"
#include "sluice/v1/cluster.grpc.pb.h"

namespace sluice::coordinator {

using Clock = std::chrono::steady_clock;

struct WorkerEntry {
  std::string id;
  std::string address;
  std::string hostname;
  int64_t pid = 0;
  int slots = 0;
  bool alive = false;
  Clock::time_point last_heartbeat;
  std::shared_ptr<v1::Worker::Stub> stub;  // to deploy and cancel tasks
};

class Membership {
 public:
  // Registers `req`'s worker, or the same worker again. ALREADY_EXISTS when a live worker
  // of that id registered from another address.
  absl::StatusOr<WorkerEntry*> Register(const v1::RegisterWorkerRequest& req, Clock::time_point now);
  // Records a heartbeat. Null when the worker is unknown or was given up for dead (it must
  // register again).
  WorkerEntry* Heartbeat(const std::string& id, Clock::time_point now);
  // Gives up the live workers silent for longer than `timeout_ms`; returns their ids.
  std::vector<std::string> ExpireSilent(Clock::time_point now, int64_t timeout_ms);
  // Gives up a worker at once (a call to it found it unreachable). False if it was not alive.
  bool MarkLost(const std::string& id);
  // Null if unknown.
  const WorkerEntry* Find(const std::string& id) const;
  bool Alive(const std::string& id) const;
  // The live workers with the slots they have left, given the slots in use per worker.
  std::vector<FreeSlots> Free(const std::map<std::string, int>& used) const;
  const std::map<std::string, WorkerEntry>& workers() const { return workers_; }

 private:
  std::map<std::string, WorkerEntry> workers_;
};

}  // namespace sluice::coordinator
