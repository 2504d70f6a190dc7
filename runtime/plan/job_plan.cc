#include "runtime/plan/job_plan.h"

#include <deque>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "runtime/topology/topology.h"

namespace sluice::runtime {
namespace {

std::string NodeLocation(const v1::Topology& t, const v1::Node& n, int i) {
  std::string loc;
  if (!t.source_file().empty()) absl::StrAppend(&loc, t.source_file(), ":");
  if (n.line() > 0) absl::StrAppend(&loc, n.line(), ":");
  if (!loc.empty()) loc.push_back(' ');
  absl::StrAppend(&loc, "operators[", i, "] (", n.id(), ")");
  return loc;
}

absl::Status NodeError(const v1::Topology& t, const v1::Node& n, int i, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat(NodeLocation(t, n, i), ": ", Sv(msg)));
}

// Kahn's algorithm; ValidateTopology has already rejected cycles and unknown inputs.
absl::StatusOr<std::vector<int>> Order(const v1::Topology& t,
                                       const std::map<std::string, int>& by_id) {
  const int n = t.nodes_size();
  std::vector<int> indegree(n, 0);
  std::vector<std::vector<int>> out(n);
  for (int i = 0; i < n; ++i) {
    for (const auto& in : t.nodes(i).inputs()) {
      int from = by_id.at(in.from());
      out[from].push_back(i);
      ++indegree[i];
    }
  }
  std::deque<int> ready;
  for (int i = 0; i < n; ++i) {
    if (indegree[i] == 0) ready.push_back(i);
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int i = ready.front();
    ready.pop_front();
    order.push_back(i);
    for (int j : out[i]) {
      if (--indegree[j] == 0) ready.push_back(j);
    }
  }
  if (static_cast<int>(order.size()) != n) return absl::InvalidArgumentError("topology has a cycle");
  return order;
}

}  // namespace

OperatorConfig MakeOperatorConfig(const PlanNode& node, int subtask) {
  OperatorConfig config;
  config.node_id = node.id;
  config.params = &node.params;
  config.input_schemas = node.input_schemas;
  config.subtask_index = subtask;
  config.parallelism = node.parallelism;
  config.key_fields = node.key_fields;
  return config;
}

absl::StatusOr<JobPlan> BuildJobPlan(const v1::Topology& t, const OperatorRegistry& registry) {
  RETURN_IF_ERROR(topology::ValidateTopology(t));
  JobPlan plan;
  plan.name = t.name();
  plan.max_parallelism = t.max_parallelism() > 0 ? t.max_parallelism() : 128;
  plan.batch_size = t.batch_size() > 0 ? t.batch_size() : 2048;
  plan.dead_letter_path = t.dead_letter_path();
  const int default_parallelism = t.default_parallelism() > 0 ? t.default_parallelism() : 1;

  std::map<std::string, int> by_id;
  for (int i = 0; i < t.nodes_size(); ++i) by_id[t.nodes(i).id()] = i;
  ASSIGN_OR_RETURN(std::vector<int> order, Order(t, by_id));

  plan.nodes.resize(t.nodes_size());
  for (int i : order) {
    const v1::Node& n = t.nodes(i);
    PlanNode& pn = plan.nodes[i];
    pn.index = i;
    pn.id = n.id();
    pn.type = n.type();
    pn.parallelism = n.parallelism() > 0 ? n.parallelism() : default_parallelism;
    std::string path = absl::StrCat("operators[", i, "]");
    pn.params = topology::ParamFromProto(n.params(), t.source_file(), path);
    if (pn.params.is_null()) {
      pn.params = Param::Map();
      pn.params.SetLocation(t.source_file(), n.line(), path);
    }
    auto kind = registry.KindOf(n.type());
    if (!kind.ok()) return NodeError(t, n, i, StdSv(kind.status().message()));
    pn.kind = *kind;
    if (pn.kind == OperatorRegistry::Kind::kSource && n.inputs_size() > 0) {
      return NodeError(t, n, i, absl::StrCat("'", n.type(), "' is a source and takes no input"));
    }
    if (pn.kind != OperatorRegistry::Kind::kSource && n.inputs_size() == 0) {
      return NodeError(t, n, i, absl::StrCat("'", n.type(), "' needs an input"));
    }

    std::vector<std::string> node_key_fields;
    for (const auto& in : n.inputs()) {
      PlanInput pi;
      pi.from_node = by_id.at(in.from());
      PlanNode& up = plan.nodes[pi.from_node];
      if (up.output_schema == nullptr) {
        return NodeError(t, n, i, absl::StrCat("input '", in.from(), "' is a sink and has no output"));
      }
      pi.partitioning = in.partitioning();
      if (pi.partitioning == v1::PARTITIONING_UNSPECIFIED) {
        pi.partitioning = up.parallelism == pn.parallelism ? v1::FORWARD : v1::SHUFFLE;
      }
      if (pi.partitioning == v1::FORWARD && up.parallelism != pn.parallelism) {
        return NodeError(t, n, i,
                         absl::StrCat("forward input from '", in.from(), "' needs equal parallelism (",
                                      up.parallelism, " vs ", pn.parallelism, "); use shuffle or key_by"));
      }
      if (pi.partitioning == v1::KEY_BY) {
        for (const auto& f : in.key_fields()) {
          int idx = up.output_schema->IndexOf(f);
          if (idx < 0) {
            return NodeError(t, n, i,
                             absl::StrCat("key_by field '", f, "' is not an output of '", in.from(),
                                          "'; its fields are: ", up.output_schema->ToString()));
          }
          pi.key_fields.push_back(f);
          pi.key_indices.push_back(idx);
        }
        if (node_key_fields.empty()) node_key_fields = pi.key_fields;
      }
      pn.input_schemas.push_back(up.output_schema);
      up.consumers.push_back(i);
      pn.inputs.push_back(std::move(pi));
    }
    pn.key_fields = node_key_fields;

    // Probe instance: validates params, yields the output schema.
    OperatorConfig config = MakeOperatorConfig(pn, 0);
    config.batch_size = plan.batch_size;
    if (pn.kind == OperatorRegistry::Kind::kSource) {
      auto src = (*registry.FindSource(n.type()))(config);
      if (!src.ok()) return src.status();
      pn.output_schema = (*src)->output_schema();
      pn.bounded = (*src)->bounded();
    } else {
      auto op = (*registry.FindOperator(n.type()))(config);
      if (!op.ok()) return op.status();
      pn.output_schema = pn.kind == OperatorRegistry::Kind::kSink ? nullptr : (*op)->output_schema();
    }

    if (n.has_event_time() && !n.event_time().field().empty()) {
      if (pn.output_schema == nullptr) return NodeError(t, n, i, "event_time: a sink has no output");
      int idx = pn.output_schema->IndexOf(n.event_time().field());
      if (idx < 0) {
        return NodeError(t, n, i, absl::StrCat("event_time.field: '", n.event_time().field(),
                                               "' is not an output field; fields are: ",
                                               pn.output_schema->ToString()));
      }
      Type ty = pn.output_schema->field(idx).type;
      if (ty != Type::kTimestamp && ty != Type::kInt64) {
        return NodeError(t, n, i, absl::StrCat("event_time.field: '", n.event_time().field(),
                                               "' must be a timestamp or int64, not ", Sv(TypeName(ty))));
      }
      pn.event_time_field = idx;
      pn.max_out_of_orderness_ms = n.event_time().max_out_of_orderness_ms();
    }
  }

  // Two writers of one file would each publish half the rows over the other's: refuse
  // before anything runs (the dead-letter file counts as a writer too).
  {
    std::map<std::string, std::string> writers;  // normalized path -> who writes it
    auto claim = [&](const std::string& path, const std::string& who) -> absl::Status {
      std::error_code ec;
      std::string key = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec).string();
      if (key.empty()) key = std::filesystem::path(path).lexically_normal().string();
      auto [it, fresh] = writers.emplace(key, who);
      if (fresh) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat(who, " writes ", path, ", which ", it->second,
                                                     " writes too; give each its own path"));
    };
    if (!plan.dead_letter_path.empty() && plan.dead_letter_path.find("://") == std::string::npos) {
      RETURN_IF_ERROR(claim(plan.dead_letter_path, "dead_letter"));
    }
    for (int i = 0; i < t.nodes_size(); ++i) {
      const PlanNode& pn = plan.nodes[i];
      if (pn.type != "file_sink") continue;
      const Param* path = pn.params.Find("path");
      if (path == nullptr || !path->is_string()) continue;
      absl::Status st = claim(path->string_value(), absl::StrCat("operator '", pn.id, "'"));
      if (!st.ok()) return path->Error(std::string(st.message()));
    }
  }

  // Mode.
  bool all_bounded = true;
  for (const auto& pn : plan.nodes) {
    if (pn.kind == OperatorRegistry::Kind::kSource) all_bounded = all_bounded && pn.bounded;
  }
  const std::string& mode = t.mode();
  if (mode.empty() || mode == "auto") plan.batch_mode = all_bounded;
  else if (mode == "batch") {
    if (!all_bounded) return absl::InvalidArgumentError("mode: batch needs every source to be bounded");
    plan.batch_mode = true;
  } else if (mode == "streaming") plan.batch_mode = false;
  else return absl::InvalidArgumentError(absl::StrCat("mode: expected auto, batch or streaming, got '", mode, "'"));

  // Chaining, in topological order.
  for (int i : order) {
    PlanNode& pn = plan.nodes[i];
    bool chain = false;
    if (pn.inputs.size() == 1) {
      const PlanInput& in = pn.inputs[0];
      const PlanNode& up = plan.nodes[in.from_node];
      chain = in.partitioning == v1::FORWARD && up.parallelism == pn.parallelism &&
              up.consumers.size() == 1;
    }
    if (chain) {
      pn.vertex = plan.nodes[pn.inputs[0].from_node].vertex;
      plan.vertices[pn.vertex].chain.push_back(i);
    } else {
      Vertex v;
      v.chain.push_back(i);
      v.parallelism = pn.parallelism;
      v.is_source = pn.kind == OperatorRegistry::Kind::kSource;
      pn.vertex = static_cast<int>(plan.vertices.size());
      plan.vertices.push_back(std::move(v));
      for (size_t port = 0; port < pn.inputs.size(); ++port) {
        PlanEdge e;
        e.from_vertex = plan.nodes[pn.inputs[port].from_node].vertex;
        e.to_vertex = pn.vertex;
        e.to_port = static_cast<int>(port);
        e.partitioning = pn.inputs[port].partitioning;
        e.key_indices = pn.inputs[port].key_indices;
        int ei = static_cast<int>(plan.edges.size());
        plan.edges.push_back(std::move(e));
        plan.vertices[plan.edges[ei].from_vertex].out_edges.push_back(ei);
        plan.vertices[pn.vertex].in_edges.push_back(ei);
      }
    }
  }
  for (auto& v : plan.vertices) {
    std::vector<std::string> names;
    for (int n : v.chain) names.push_back(plan.nodes[n].id);
    v.name = absl::StrJoin(names, " -> ");
  }
  plan.checkpoint_dir = t.checkpoint_dir();
  plan.state_backend = t.state_backend().empty() ? "memory" : t.state_backend();
  plan.checkpoint = MakeCheckpointConfig(t.checkpoint_interval_ms(), t.checkpoint_timeout_ms(),
                                        t.checkpoint_min_pause_ms(), t.checkpoint_tolerable_failures(),
                                        t.checkpoint_retain());
  return plan;
}

namespace {
const char* PartitioningName(v1::Partitioning p) {
  switch (p) {
    case v1::FORWARD: return "forward";
    case v1::SHUFFLE: return "shuffle";
    case v1::KEY_BY: return "key_by";
    case v1::BROADCAST: return "broadcast";
    default: return "auto";
  }
}
}  // namespace

std::string JobPlan::Describe() const {
  std::string out = absl::StrCat("job '", name, "' (", batch_mode ? "batch" : "streaming",
                                 " mode, ", vertices.size(), " vertices, max parallelism ",
                                 max_parallelism, state_backend == "rocksdb" ? ", keyed state in RocksDB" : "",
                                 ")\n");
  for (size_t v = 0; v < vertices.size(); ++v) {
    absl::StrAppend(&out, "  vertex ", v, " [", vertices[v].name, "] x", vertices[v].parallelism, "\n");
  }
  for (const auto& e : edges) {
    absl::StrAppend(&out, "  edge ", vertices[e.from_vertex].name, " => ", vertices[e.to_vertex].name,
                    " (", PartitioningName(e.partitioning), ")\n");
  }
  return out;
}

std::vector<int> InputChannelPorts(const JobPlan& plan, int vertex) {
  std::vector<int> ports;
  for (int ei : plan.vertices[vertex].in_edges) {
    const PlanEdge& e = plan.edges[ei];
    int n = e.partitioning == v1::FORWARD ? 1 : plan.vertices[e.from_vertex].parallelism;
    for (int i = 0; i < n; ++i) ports.push_back(e.to_port);
  }
  return ports;
}

std::vector<ChannelTarget> EdgeTargets(const JobPlan& plan, int edge, int from_subtask) {
  const PlanEdge& e = plan.edges[edge];
  const Vertex& down = plan.vertices[e.to_vertex];
  int offset = 0;
  for (int ei : down.in_edges) {
    if (ei == edge) break;
    const PlanEdge& o = plan.edges[ei];
    offset += o.partitioning == v1::FORWARD ? 1 : plan.vertices[o.from_vertex].parallelism;
  }
  std::vector<ChannelTarget> targets;
  if (e.partitioning == v1::FORWARD) {
    targets.push_back({from_subtask, offset});
  } else {
    for (int s = 0; s < down.parallelism; ++s) targets.push_back({s, offset + from_subtask});
  }
  return targets;
}

}  // namespace sluice::runtime
