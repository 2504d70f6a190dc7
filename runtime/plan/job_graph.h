// JobGraph: a JobPlan in the form the cluster carries (sluice.v1.JobGraph). The client
// compiles it (CompileJobGraph) with the planner `sluice run` uses, so parameters are
// checked and plugins run where the user is, never in the coordinator. Each worker
// rebuilds its executable plan from the graph's topology and checks, with
// CheckPlanMatchesGraph, that its planner arrived at the same graph (a client and a
// worker of different versions would otherwise wire channels differently).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/plan/job_plan.h"
#include "sluice/operator.h"
#include "sluice/v1/cluster.pb.h"

namespace sluice::runtime {

// The graph of `plan` (built from `topology`). `plugins` are the content hashes of the
// plugins loaded into the registry the plan was built with.
v1::JobGraph ToJobGraph(const JobPlan& plan, const v1::Topology& topology, std::vector<v1::PluginRef> plugins);

// Plans `topology` with `registry` and returns its graph; errors as BuildJobPlan's.
absl::StatusOr<v1::JobGraph> CompileJobGraph(const v1::Topology& topology, const OperatorRegistry& registry,
                                             std::vector<v1::PluginRef> plugins);

// FAILED_PRECONDITION naming the first difference between `plan` and `graph`
// (vertices, chains, parallelism, edges, partitioning, keys, output schemas).
absl::Status CheckPlanMatchesGraph(const JobPlan& plan, const v1::JobGraph& graph);

}  // namespace sluice::runtime
