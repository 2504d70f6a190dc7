#include "coordinator/job_graph_check.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/content_hash.h"

namespace sluice::coordinator {
namespace {

absl::Status Bad(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("job graph: ", what));
}

absl::Status CheckVertices(const v1::JobGraph& g) {
  std::vector<int> vertex_of(g.nodes_size(), -1);
  int64_t tasks = 0;
  for (int v = 0; v < g.vertices_size(); ++v) {
    const v1::GraphVertex& vx = g.vertices(v);
    if (vx.parallelism() < 1 || vx.parallelism() > g.max_parallelism()) {
      return Bad(absl::StrCat("vertex ", v, " has parallelism ", vx.parallelism(), "; it must be 1 to ",
                              g.max_parallelism(), " (max parallelism)"));
    }
    tasks += vx.parallelism();
    if (vx.chain_size() == 0) return Bad(absl::StrCat("vertex ", v, " chains no operator"));
    for (int n : vx.chain()) {
      if (n < 0 || n >= g.nodes_size()) return Bad(absl::StrCat("vertex ", v, " chains unknown operator ", n));
      if (vertex_of[n] >= 0) return Bad(absl::StrCat("operator ", n, " is chained in two vertices"));
      vertex_of[n] = v;
      const v1::GraphNode& node = g.nodes(n);
      if (node.vertex() != v || node.parallelism() != vx.parallelism()) {
        return Bad(absl::StrCat("operator ", n, " '", node.id(), "' says vertex ", node.vertex(), " x",
                                node.parallelism(), " but is chained in vertex ", v, " x", vx.parallelism()));
      }
    }
  }
  for (int n = 0; n < g.nodes_size(); ++n) {
    if (vertex_of[n] < 0) return Bad(absl::StrCat("operator ", n, " '", g.nodes(n).id(), "' is in no vertex"));
  }
  if (tasks > kMaxTasksPerJob) {
    return Bad(absl::StrCat(tasks, " tasks; a job may have at most ", kMaxTasksPerJob));
  }
  return absl::OkStatus();
}

absl::Status CheckEdges(const v1::JobGraph& g) {
  std::vector<int> in_edges(g.vertices_size(), 0);
  for (int e = 0; e < g.edges_size(); ++e) {
    const v1::GraphEdge& edge = g.edges(e);
    const int from = edge.from_vertex(), to = edge.to_vertex();
    if (from < 0 || from >= g.vertices_size() || to < 0 || to >= g.vertices_size() || from == to) {
      return Bad(absl::StrCat("edge ", e, " joins vertices ", from, " and ", to));
    }
    if (edge.partitioning() == v1::PARTITIONING_UNSPECIFIED || !v1::Partitioning_IsValid(edge.partitioning())) {
      return Bad(absl::StrCat("edge ", e, " has no resolved partitioning"));
    }
    if (edge.partitioning() == v1::FORWARD &&
        g.vertices(from).parallelism() != g.vertices(to).parallelism()) {
      return Bad(absl::StrCat("edge ", e, " is forward between parallelism ", g.vertices(from).parallelism(),
                              " and ", g.vertices(to).parallelism()));
    }
    if (edge.partitioning() == v1::KEY_BY && edge.key_indices_size() == 0) {
      return Bad(absl::StrCat("edge ", e, " is key_by without keys"));
    }
    if (edge.to_port() < 0) return Bad(absl::StrCat("edge ", e, " has input port ", edge.to_port()));
    ++in_edges[to];
  }
  // Kahn's algorithm: every vertex is reached from the sources, so there is no cycle.
  std::vector<int> pending = in_edges, ready;
  for (int v = 0; v < g.vertices_size(); ++v) {
    if (pending[v] == 0) ready.push_back(v);
  }
  int reached = 0;
  while (!ready.empty()) {
    int v = ready.back();
    ready.pop_back();
    ++reached;
    for (const auto& edge : g.edges()) {
      if (edge.from_vertex() == v && --pending[edge.to_vertex()] == 0) ready.push_back(edge.to_vertex());
    }
  }
  if (reached != g.vertices_size()) return Bad("the edges form a cycle");
  for (int v = 0; v < g.vertices_size(); ++v) {
    if (g.vertices(v).is_source() != (in_edges[v] == 0)) {
      return Bad(absl::StrCat("vertex ", v, g.vertices(v).is_source() ? " is a source but has inputs"
                                                                      : " has no input and is not a source"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateJobGraph(const v1::JobGraph& g) {
  if (g.vertices_size() == 0 || g.nodes_size() == 0) {
    return Bad("no vertices (a client older than this coordinator sends a topology; this one needs the graph "
               "`sluice submit` compiles)");
  }
  if (g.name().size() > 200) return Bad("the job name is longer than 200 characters");
  for (char c : g.name()) {
    // Job ids ("NAME-N") appear in logs, paths and "job/attempt" keys.
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return Bad(absl::StrCat("the job name '", g.name(), "' has a character other than letters, digits, '-', '_' "
                              "and '.'"));
    }
  }
  if (g.max_parallelism() < 1 || g.max_parallelism() > 32768) {
    return Bad(absl::StrCat("max parallelism ", g.max_parallelism(), " is not 1 to 32768"));
  }
  if (g.topology().nodes_size() != g.nodes_size()) {
    return Bad(absl::StrCat("the topology has ", g.topology().nodes_size(), " operators, the graph ",
                            g.nodes_size()));
  }
  for (int n = 0; n < g.nodes_size(); ++n) {
    if (g.nodes(n).id() != g.topology().nodes(n).id()) {
      return Bad(absl::StrCat("operator ", n, " is '", g.nodes(n).id(), "' in the graph and '",
                              g.topology().nodes(n).id(), "' in the topology"));
    }
  }
  if (absl::Status st = CheckVertices(g); !st.ok()) return st;
  if (absl::Status st = CheckEdges(g); !st.ok()) return st;
  for (const auto& p : g.plugins()) {
    if (!IsContentHash(p.hash())) {
      return Bad(absl::StrCat("plugin ", p.name(), ": '", p.hash(), "' is not a content hash"));
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::coordinator
