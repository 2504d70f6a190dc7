// JobPlan: what a topology becomes before it runs. Resolves every node's operator type,
// input and output schemas, partitioning and key fields (names → indices), decides batch
// or streaming mode, and chains operators joined by forward edges of equal parallelism
// into one vertex (run by one thread per subtask, with no queue and no copy between
// them). Edges between vertices become channels: P_up × P_down for shuffle, key-by and
// broadcast; 1:1 for forward.
//
// Built once, then read-only; safe to share between threads.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/checkpoint_coordinator.h"
#include "sluice/operator.h"
#include "sluice/v1/topology.pb.h"

namespace sluice::runtime {

struct PlanInput {
  int from_node = -1;
  v1::Partitioning partitioning = v1::FORWARD;  // resolved: never UNSPECIFIED
  std::vector<std::string> key_fields;
  std::vector<int> key_indices;  // into the upstream node's output schema
};

struct PlanNode {
  int index = -1;
  std::string id;
  std::string type;
  OperatorRegistry::Kind kind = OperatorRegistry::Kind::kOperator;
  Param params;  // a map, located (file, line, "operators[i]")
  int parallelism = 1;
  std::vector<PlanInput> inputs;
  std::vector<std::string> key_fields;  // of the first key-by input, if any
  std::vector<int> consumers;  // node indices reading this node's output
  std::vector<SchemaPtr> input_schemas;
  SchemaPtr output_schema;  // null for sinks
  bool bounded = true;      // sources only
  // Event time assignment after this node (-1: none).
  int event_time_field = -1;
  int64_t max_out_of_orderness_ms = 0;
  int vertex = -1;
};

struct PlanEdge {
  int from_vertex = -1;
  int to_vertex = -1;
  int to_port = 0;  // input index of the receiving vertex's head node
  v1::Partitioning partitioning = v1::FORWARD;
  std::vector<int> key_indices;
};

struct Vertex {
  std::vector<int> chain;  // node indices, head first
  int parallelism = 1;
  bool is_source = false;
  std::vector<int> in_edges;
  std::vector<int> out_edges;
  std::string name;  // "parse -> views -> join"
};

struct JobPlan {
  std::string name;
  int max_parallelism = 128;
  int batch_size = 2048;
  bool batch_mode = true;
  std::string dead_letter_path;
  // Checkpoint storage ("" = off): see Topology.checkpoint_dir. The other settings are
  // the checkpoint coordinator's (common/checkpoint_coordinator.h).
  std::string checkpoint_dir;
  CheckpointConfig checkpoint;
  // Where keyed state lives: "memory" or "rocksdb" (docs/state.md).
  std::string state_backend = "memory";
  std::vector<PlanNode> nodes;
  std::vector<Vertex> vertices;
  std::vector<PlanEdge> edges;

  // Human-readable plan (vertices, chains, parallelism, edges, schemas).
  std::string Describe() const;
};

// Builds the plan. Creates one probe instance of each operator (subtask 0) to validate
// its params and learn its output schema; factories do not touch the job's files or
// services (Open does), so a client can plan a job whose files live on the workers.
// INVALID_ARGUMENT names the node, its line and the field for bad specs; NOT_FOUND for
// unknown operator types.
absl::StatusOr<JobPlan> BuildJobPlan(const v1::Topology& topology, const OperatorRegistry& registry);

// Input channels of a task of `vertex`: one per in-edge for a forward edge (from the
// subtask with the same index), one per upstream subtask otherwise, in in-edge order.
// Element i is the input port (head node input index) channel i feeds.
std::vector<int> InputChannelPorts(const JobPlan& plan, int vertex);

struct ChannelTarget {
  int subtask = 0;  // of the edge's receiving vertex
  int channel = 0;  // that task's input channel
};
// Where subtask `from_subtask` of edge `edge`'s upstream vertex sends, in routing order
// (target k receives key groups / round-robin turns for downstream subtask k).
std::vector<ChannelTarget> EdgeTargets(const JobPlan& plan, int edge, int from_subtask);

// The OperatorConfig for subtask `subtask` of `node`.
OperatorConfig MakeOperatorConfig(const PlanNode& node, int subtask);

}  // namespace sluice::runtime
