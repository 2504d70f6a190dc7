#include "runtime/task/task_restore.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace sluice::runtime {
namespace {

struct OldNode {
  int parallelism = 0;
  std::map<int, const BlobMap*> subtasks;
  std::map<int, const BlobMap*> task_blobs;
  std::map<int, bool> ended;  // the data_ended flag of the task that ran it, by subtask
  bool has_state = false;     // anything beyond the runtime's watermark and timers
};

}  // namespace

absl::StatusOr<std::map<TaskKey, TaskRestore>> MatchRestore(const JobPlan& plan, int64_t id,
                                                             const std::vector<OldTaskState>& old,
                                                             bool allow_non_restored_state,
                                                             std::shared_ptr<const CheckpointStorage> storage) {
  std::map<std::string, OldNode, std::less<>> nodes;
  std::vector<std::shared_ptr<const ChainCheckpoint>> keep;
  for (const OldTaskState& t : old) {
    keep.push_back(t.state);
    bool ended = false;
    const BlobMap* own_blobs = nullptr;
    if (auto own = t.state->blobs.find(""); own != t.state->blobs.end()) {
      own_blobs = &own->second;
      auto flag = own->second.find(kTaskEndedBlob);
      ended = flag != own->second.end() && flag->second == "1";
      if (auto m = own->second.find(kMaxParallelismBlob); m != own->second.end()) {
        int maxp = 0;
        if (!absl::SimpleAtoi(m->second, &maxp)) {
          return absl::DataLossError(absl::StrCat("checkpoint ", id, ": task ", t.vertex, "-", t.subtask,
                                                  " has a malformed max_parallelism '", m->second, "'"));
        }
        if (maxp != plan.max_parallelism) {
          return absl::FailedPreconditionError(absl::StrCat(
              "checkpoint ", id, " was taken with max_parallelism ", maxp, " (key groups); the job has ",
              plan.max_parallelism, ". The number of key groups is fixed for the life of a job's state: set "
              "max_parallelism back to ", maxp));
        }
      }
    }
    for (const auto& [node, blobs] : t.state->blobs) {
      if (node.empty()) continue;
      OldNode& n = nodes[node];
      if (n.parallelism != 0 && n.parallelism != t.state->parallelism) {
        return absl::DataLossError(absl::StrCat("checkpoint ", id, " has state of node '", node,
                                                "' taken at parallelism ", n.parallelism, " and at ",
                                                t.state->parallelism));
      }
      n.parallelism = t.state->parallelism;
      if (t.subtask < 0 || t.subtask >= n.parallelism || !n.subtasks.emplace(t.subtask, &blobs).second) {
        return absl::DataLossError(absl::StrCat("checkpoint ", id, " has state of node '", node, "' for subtask ",
                                                t.subtask, " twice or out of range (parallelism ", n.parallelism,
                                                ")"));
      }
      n.ended[t.subtask] = ended;
      n.task_blobs[t.subtask] = own_blobs;
      n.has_state = n.has_state || NodeHasState(blobs);
    }
  }
  std::set<std::string, std::less<>> in_plan;
  for (const PlanNode& n : plan.nodes) in_plan.insert(n.id);
  std::vector<std::string> dropped;
  for (const auto& [node, n] : nodes) {
    if (in_plan.count(node) == 0 && n.has_state) dropped.push_back(absl::StrCat("'", node, "'"));
  }
  if (!dropped.empty() && !allow_non_restored_state) {
    return absl::FailedPreconditionError(absl::StrCat(
        "checkpoint ", id, " holds state of node", dropped.size() > 1 ? "s " : " ", absl::StrJoin(dropped, ", "),
        " that this topology does not have; restore with --allow-non-restored-state to drop that state, or keep "
        "the node's id"));
  }
  std::map<TaskKey, TaskRestore> out;
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    const Vertex& vertex = plan.vertices[v];
    for (int s = 0; s < vertex.parallelism; ++s) {
      TaskRestore r;
      r.id = id;
      r.keep_alive = keep;
      r.storage = storage;
      bool all_ended = true, any = false;
      for (int node_index : vertex.chain) {
        const PlanNode& pn = plan.nodes[node_index];
        auto it = nodes.find(pn.id);
        if (it == nodes.end()) {
          all_ended = false;
          continue;
        }
        const OldNode& n = it->second;
        NodeRestore nr;
        nr.old_parallelism = n.parallelism;
        nr.subtasks.assign(n.parallelism, nullptr);
        nr.task_blobs.assign(n.parallelism, nullptr);
        for (const auto& [sub, blobs] : n.subtasks) {
          if (n.parallelism != vertex.parallelism || sub == s) {
            nr.subtasks[sub] = blobs;
            nr.task_blobs[sub] = n.task_blobs.at(sub);
          }
        }
        for (int sub = 0; sub < n.parallelism; ++sub) {
          if (n.parallelism == vertex.parallelism && sub != s) continue;
          auto e = n.ended.find(sub);
          if (e == n.ended.end() || !e->second) all_ended = false;
        }
        any = true;
        r.nodes.emplace(pn.id, std::move(nr));
      }
      r.data_ended = any && all_ended;
      out.emplace(TaskKey{static_cast<int>(v), s}, std::move(r));
    }
  }
  return out;
}

}  // namespace sluice::runtime
