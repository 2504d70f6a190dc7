// The scheduler: a pure function from a job's vertices and the cluster's free slots to
// a placement of every subtask. No state, no locks, no I/O: the coordinator calls it under
// its own lock and applies the result.
//
// Slot sharing (Flink's default slot-sharing group): a slot holds one subtask of every
// vertex, so a job whose widest vertex has parallelism p needs p slots, however many
// vertices it has. Slot s of the job holds subtask s of each vertex that has one; the
// slots are spread round robin over the workers with free slots, in worker order, so a
// job of parallelism 2 on two workers uses one slot on each.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::coordinator {

struct FreeSlots {
  std::string worker_id;
  std::string address;
  int free = 0;
};

struct Placement {
  int vertex = 0;
  int subtask = 0;
  std::string worker_id;
  std::string address;
};

// The slots a job with these vertex parallelisms needs: the largest one.
int SlotsNeeded(const std::vector<int>& vertex_parallelism);

// Places subtask s of every vertex in the job's slot s. RESOURCE_EXHAUSTED, with the
// figures ("needs 2 slots, 1 free on 1 live worker"), when the workers have too few free
// slots; INVALID_ARGUMENT for a parallelism below 1.
absl::StatusOr<std::vector<Placement>> PlaceTasks(const std::vector<int>& vertex_parallelism,
                                                  const std::vector<FreeSlots>& workers);

// Slots a job uses on each worker, given its placement (one per distinct subtask index
// there, as slot s holds subtask s of every vertex).
int SlotsUsedOn(const std::vector<Placement>& placement, const std::string& worker_id);

}  // namespace sluice::coordinator
