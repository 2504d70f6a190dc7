#include "runtime/plan/job_graph.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace sluice::runtime {
namespace {

std::string Chain(const google::protobuf::RepeatedField<int32_t>& chain) { return absl::StrJoin(chain, ","); }

std::string Chain(const std::vector<int>& chain) { return absl::StrJoin(chain, ","); }

std::string SchemaText(const google::protobuf::RepeatedPtrField<v1::GraphField>& fields) {
  std::vector<std::string> parts;
  for (const auto& f : fields) parts.push_back(absl::StrCat(f.name(), ":", f.type()));
  return absl::StrJoin(parts, ", ");
}

std::string SchemaText(const SchemaPtr& schema) {
  std::vector<std::string> parts;
  if (schema == nullptr) return "";
  for (int i = 0; i < schema->num_fields(); ++i) {
    const Field& f = schema->field(i);
    parts.push_back(absl::StrCat(f.name, ":", std::string(TypeName(f.type))));
  }
  return absl::StrJoin(parts, ", ");
}

absl::Status Differs(const std::string& what, const std::string& worker, const std::string& client) {
  return absl::FailedPreconditionError(
      absl::StrCat("this worker plans the job differently from the client that compiled it (", what, ": ", worker,
                   " here, ", client,
                   " in the job graph); are the client and the workers the same sluice version, with the same "
                   "plugins?"));
}

}  // namespace

v1::JobGraph ToJobGraph(const JobPlan& plan, const v1::Topology& topology, std::vector<v1::PluginRef> plugins) {
  v1::JobGraph g;
  g.set_name(plan.name);
  *g.mutable_topology() = topology;
  g.set_batch_mode(plan.batch_mode);
  g.set_max_parallelism(plan.max_parallelism);
  g.set_batch_size(plan.batch_size);
  g.set_description(plan.Describe());
  for (const PlanNode& n : plan.nodes) {
    v1::GraphNode* gn = g.add_nodes();
    gn->set_id(n.id);
    gn->set_type(n.type);
    gn->set_parallelism(n.parallelism);
    gn->set_vertex(n.vertex);
    if (n.output_schema != nullptr) {
      for (int i = 0; i < n.output_schema->num_fields(); ++i) {
        const Field& f = n.output_schema->field(i);
        v1::GraphField* gf = gn->add_output_schema();
        gf->set_name(f.name);
        gf->set_type(std::string(TypeName(f.type)));
      }
    }
  }
  for (const Vertex& v : plan.vertices) {
    v1::GraphVertex* gv = g.add_vertices();
    gv->set_name(v.name);
    for (int c : v.chain) gv->add_chain(c);
    gv->set_parallelism(v.parallelism);
    gv->set_is_source(v.is_source);
  }
  for (const PlanEdge& e : plan.edges) {
    v1::GraphEdge* ge = g.add_edges();
    ge->set_from_vertex(e.from_vertex);
    ge->set_to_vertex(e.to_vertex);
    ge->set_to_port(e.to_port);
    ge->set_partitioning(e.partitioning);
    for (int k : e.key_indices) ge->add_key_indices(k);
  }
  for (v1::PluginRef& p : plugins) *g.add_plugins() = std::move(p);
  return g;
}

absl::StatusOr<v1::JobGraph> CompileJobGraph(const v1::Topology& topology, const OperatorRegistry& registry,
                                             std::vector<v1::PluginRef> plugins) {
  ASSIGN_OR_RETURN(JobPlan plan, BuildJobPlan(topology, registry));
  return ToJobGraph(plan, topology, std::move(plugins));
}

absl::Status CheckPlanMatchesGraph(const JobPlan& plan, const v1::JobGraph& graph) {
  if (static_cast<int>(plan.nodes.size()) != graph.nodes_size()) {
    return Differs("operators", absl::StrCat(plan.nodes.size()), absl::StrCat(graph.nodes_size()));
  }
  for (size_t i = 0; i < plan.nodes.size(); ++i) {
    const PlanNode& n = plan.nodes[i];
    const v1::GraphNode& gn = graph.nodes(static_cast<int>(i));
    const std::string at = absl::StrCat("operator ", i, " '", gn.id(), "'");
    if (n.id != gn.id() || n.type != gn.type()) {
      return Differs(absl::StrCat(at, " id and type"), absl::StrCat(n.id, " (", n.type, ")"),
                     absl::StrCat(gn.id(), " (", gn.type(), ")"));
    }
    if (n.parallelism != gn.parallelism()) {
      return Differs(absl::StrCat(at, " parallelism"), absl::StrCat(n.parallelism), absl::StrCat(gn.parallelism()));
    }
    if (n.vertex != gn.vertex()) {
      return Differs(absl::StrCat(at, " vertex"), absl::StrCat(n.vertex), absl::StrCat(gn.vertex()));
    }
    std::string mine = SchemaText(n.output_schema), theirs = SchemaText(gn.output_schema());
    if (mine != theirs) return Differs(absl::StrCat(at, " output schema"), mine, theirs);
  }
  if (static_cast<int>(plan.vertices.size()) != graph.vertices_size()) {
    return Differs("vertices", absl::StrCat(plan.vertices.size()), absl::StrCat(graph.vertices_size()));
  }
  for (size_t i = 0; i < plan.vertices.size(); ++i) {
    const Vertex& v = plan.vertices[i];
    const v1::GraphVertex& gv = graph.vertices(static_cast<int>(i));
    if (Chain(v.chain) != Chain(gv.chain()) || v.parallelism != gv.parallelism()) {
      return Differs(absl::StrCat("vertex ", i), absl::StrCat("[", Chain(v.chain), "] x", v.parallelism),
                     absl::StrCat("[", Chain(gv.chain()), "] x", gv.parallelism()));
    }
  }
  if (static_cast<int>(plan.edges.size()) != graph.edges_size()) {
    return Differs("edges", absl::StrCat(plan.edges.size()), absl::StrCat(graph.edges_size()));
  }
  for (size_t i = 0; i < plan.edges.size(); ++i) {
    const PlanEdge& e = plan.edges[i];
    const v1::GraphEdge& ge = graph.edges(static_cast<int>(i));
    auto text = [](int from, int to, int port, int part, const std::string& keys) {
      return absl::StrCat(from, "->", to, ":", port, " ", v1::Partitioning_Name(part), " [", keys, "]");
    };
    std::string mine = text(e.from_vertex, e.to_vertex, e.to_port, e.partitioning, Chain(e.key_indices));
    std::string theirs =
        text(ge.from_vertex(), ge.to_vertex(), ge.to_port(), ge.partitioning(), Chain(ge.key_indices()));
    if (mine != theirs) return Differs(absl::StrCat("edge ", i), mine, theirs);
  }
  return absl::OkStatus();
}

}  // namespace sluice::runtime
