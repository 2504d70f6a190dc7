#include "coordinator/scheduler.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace sluice::coordinator {

int SlotsNeeded(const std::vector<int>& vertex_parallelism) {
  int needed = 0;
  for (int p : vertex_parallelism) needed = std::max(needed, p);
  return needed;
}

absl::StatusOr<std::vector<Placement>> PlaceTasks(const std::vector<int>& vertex_parallelism,
                                                  const std::vector<FreeSlots>& workers) {
  for (size_t v = 0; v < vertex_parallelism.size(); ++v) {
    if (vertex_parallelism[v] < 1) {
      return absl::InvalidArgumentError(absl::StrCat("vertex ", v, " has parallelism ", vertex_parallelism[v]));
    }
  }
  const int needed = SlotsNeeded(vertex_parallelism);
  int total_free = 0;
  for (const FreeSlots& w : workers) total_free += std::max(0, w.free);
  if (total_free < needed) {
    return absl::ResourceExhaustedError(absl::StrCat("needs ", needed, " slot(s), ", total_free, " free on ",
                                                     workers.size(), " live worker(s)"));
  }
  // The job's slot s goes to a worker: round robin over workers with room left.
  std::vector<int> left;
  for (const FreeSlots& w : workers) left.push_back(std::max(0, w.free));
  std::vector<size_t> slot_worker;
  size_t next = 0;
  while (static_cast<int>(slot_worker.size()) < needed) {
    size_t w = next % workers.size();
    ++next;
    if (left[w] == 0) continue;
    --left[w];
    slot_worker.push_back(w);
  }
  std::vector<Placement> out;
  for (size_t v = 0; v < vertex_parallelism.size(); ++v) {
    for (int s = 0; s < vertex_parallelism[v]; ++s) {
      const FreeSlots& w = workers[slot_worker[s]];
      out.push_back({static_cast<int>(v), s, w.worker_id, w.address});
    }
  }
  return out;
}

int SlotsUsedOn(const std::vector<Placement>& placement, const std::string& worker_id) {
  std::set<int> slots;
  for (const Placement& p : placement) {
    if (p.worker_id == worker_id) slots.insert(p.subtask);
  }
  return static_cast<int>(slots.size());
}

}  // namespace sluice::coordinator
