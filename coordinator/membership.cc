#include "coordinator/membership.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"

namespace sluice::coordinator {

absl::StatusOr<WorkerEntry*> Membership::Register(const v1::RegisterWorkerRequest& req, Clock::time_point now) {
  auto existing = workers_.find(req.worker_id());
  if (existing != workers_.end() && existing->second.alive && existing->second.address != req.address()) {
    return absl::AlreadyExistsError(absl::StrCat("worker id ", req.worker_id(), " is already registered from ",
                                                 existing->second.address, "; give each worker its own --id"));
  }
  WorkerEntry& w = workers_[req.worker_id()];
  w.id = req.worker_id();
  w.address = req.address();
  w.hostname = req.hostname();
  w.pid = req.pid();
  w.slots = req.slots();
  w.alive = true;
  w.last_heartbeat = now;
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  w.stub = v1::Worker::NewStub(grpc::CreateCustomChannel(w.address, grpc::InsecureChannelCredentials(), args));
  return &w;
}

WorkerEntry* Membership::Heartbeat(const std::string& id, Clock::time_point now) {
  auto it = workers_.find(id);
  if (it == workers_.end() || !it->second.alive) return nullptr;
  it->second.last_heartbeat = now;
  return &it->second;
}

std::vector<std::string> Membership::ExpireSilent(Clock::time_point now, int64_t timeout_ms) {
  std::vector<std::string> lost;
  for (auto& [id, w] : workers_) {
    if (!w.alive || now - w.last_heartbeat <= std::chrono::milliseconds(timeout_ms)) continue;
    w.alive = false;
    lost.push_back(id);
  }
  return lost;
}

bool Membership::MarkLost(const std::string& id) {
  auto it = workers_.find(id);
  if (it == workers_.end() || !it->second.alive) return false;
  it->second.alive = false;
  return true;
}

const WorkerEntry* Membership::Find(const std::string& id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

bool Membership::Alive(const std::string& id) const {
  const WorkerEntry* w = Find(id);
  return w != nullptr && w->alive;
}

std::vector<FreeSlots> Membership::Free(const std::map<std::string, int>& used) const {
  std::vector<FreeSlots> free;
  for (const auto& [id, w] : workers_) {
    if (!w.alive) continue;
    auto u = used.find(id);
    free.push_back({id, w.address, std::max(0, w.slots - (u == used.end() ? 0 : u->second))});
  }
  return free;
}

}  // namespace sluice::coordinator
