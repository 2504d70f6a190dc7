// The coordinator's checks of a submitted job graph: a graph the client's planner
// compiled passes; each way a client (buggy, old or hostile) could break one is refused
// with a message naming what is wrong.
#include "coordinator/job_graph_check.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "operators/basic/register.h"
#include "runtime/plan/job_graph.h"
#include "runtime/topology/yaml_loader.h"

namespace sluice::coordinator {
namespace {

using ::testing::HasSubstr;

// generator x2 -> throttle x2 (chained) => key_by => file_sink x3.
v1::JobGraph Compiled() {
  auto t = topology::LoadTopologyString(R"(
name: graph_test
operators:
  - id: src
    type: generator
    parallelism: 2
    count: 100
  - id: keep
    type: throttle
    input: src
    records_per_second: 1000000
    parallelism: 2
  - id: out
    type: file_sink
    parallelism: 3
    inputs: [{from: keep, partition: key_by, key: [key]}]
    path: /nonexistent/dir/out.jsonl
)", "graph_test.yaml");
  EXPECT_TRUE(t.ok()) << t.status();
  OperatorRegistry registry;
  EXPECT_TRUE(operators::RegisterBasicOperators(registry).ok());
  auto g = runtime::CompileJobGraph(*t, registry, {});
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *g : v1::JobGraph();
}

TEST(JobGraphCheck, CompiledGraphPasses) {
  v1::JobGraph g = Compiled();
  ASSERT_EQ(g.vertices_size(), 2);  // src -> keep chained; out behind the key-by
  EXPECT_EQ(g.vertices(0).chain_size(), 2);
  EXPECT_EQ(g.edges(0).partitioning(), v1::KEY_BY);
  EXPECT_TRUE(ValidateJobGraph(g).ok()) << ValidateJobGraph(g);
}

TEST(JobGraphCheck, MalformedGraphsAreRefusedSayingWhy) {
  struct Case {
    std::string name;
    std::function<void(v1::JobGraph*)> mutate;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"empty", [](v1::JobGraph* g) { g->Clear(); }, "no vertices"},
      {"zero parallelism", [](v1::JobGraph* g) { g->mutable_vertices(1)->set_parallelism(0); }, "parallelism 0"},
      {"parallelism over max", [](v1::JobGraph* g) { g->mutable_vertices(1)->set_parallelism(100000); },
       "max parallelism"},
      {"chain names unknown node", [](v1::JobGraph* g) { g->mutable_vertices(0)->set_chain(0, 99); },
       "unknown operator 99"},
      {"node in two chains", [](v1::JobGraph* g) { g->mutable_vertices(1)->add_chain(0); }, "two vertices"},
      {"node parallelism disagrees", [](v1::JobGraph* g) { g->mutable_nodes(2)->set_parallelism(7); },
       "chained in vertex"},
      {"edge to itself", [](v1::JobGraph* g) { g->mutable_edges(0)->set_to_vertex(0); }, "joins vertices 0 and 0"},
      {"edge out of range", [](v1::JobGraph* g) { g->mutable_edges(0)->set_to_vertex(5); }, "joins vertices"},
      {"unresolved partitioning", [](v1::JobGraph* g) { g->mutable_edges(0)->set_partitioning(v1::PARTITIONING_UNSPECIFIED); },
       "no resolved partitioning"},
      {"forward between unequal", [](v1::JobGraph* g) { g->mutable_edges(0)->set_partitioning(v1::FORWARD); },
       "forward between parallelism 2 and 3"},
      {"key_by without keys", [](v1::JobGraph* g) { g->mutable_edges(0)->clear_key_indices(); }, "without keys"},
      {"cycle", [](v1::JobGraph* g) {
         auto* back = g->add_edges();
         back->set_from_vertex(1);
         back->set_to_vertex(0);
         back->set_partitioning(v1::SHUFFLE);
       }, "cycle"},
      {"source with input", [](v1::JobGraph* g) { g->mutable_vertices(1)->set_is_source(true); }, "source but has inputs"},
      {"topology disagrees", [](v1::JobGraph* g) { g->mutable_topology()->mutable_nodes(1)->set_id("other"); },
       "in the topology"},
      {"bad name", [](v1::JobGraph* g) { g->set_name("../../etc"); }, "job name"},
      {"bad plugin hash", [](v1::JobGraph* g) {
         auto* p = g->add_plugins();
         p->set_name("x.so");
         p->set_hash("../../x");
       }, "not a content hash"},
      {"too many tasks", [](v1::JobGraph* g) {
         g->set_max_parallelism(32768);
         for (int i = 0; i < 2; ++i) g->mutable_vertices(i)->set_parallelism(32768);
         for (int n = 0; n < 2; ++n) g->mutable_nodes(n)->set_parallelism(32768);
         g->mutable_nodes(2)->set_parallelism(32768);
         g->mutable_edges(0)->set_partitioning(v1::FORWARD);
         for (int k = 0; k < 2; ++k) {  // 32768 x 4 vertices > the limit
           auto* v = g->add_vertices();
           v->set_parallelism(32768);
           auto* n = g->add_nodes();
           n->set_id("n" + std::to_string(k));
           n->set_parallelism(32768);
           n->set_vertex(g->vertices_size() - 1);
           v->add_chain(g->nodes_size() - 1);
           g->mutable_topology()->add_nodes()->set_id(n->id());
           auto* e = g->add_edges();
           e->set_from_vertex(g->vertices_size() - 2);
           e->set_to_vertex(g->vertices_size() - 1);
           e->set_partitioning(v1::FORWARD);
         }
       }, "at most"},
  };
  for (const Case& c : cases) {
    v1::JobGraph g = Compiled();
    c.mutate(&g);
    absl::Status st = ValidateJobGraph(g);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(st.message()), HasSubstr(c.says)) << c.name;
  }
}

TEST(JobGraphCheck, WorkerDetectsAGraphItsPlannerWouldNotBuild) {
  v1::JobGraph g = Compiled();
  OperatorRegistry registry;
  ASSERT_TRUE(operators::RegisterBasicOperators(registry).ok());
  auto plan = runtime::BuildJobPlan(g.topology(), registry);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(runtime::CheckPlanMatchesGraph(*plan, g).ok());
  g.mutable_nodes(2)->mutable_output_schema()->Clear();
  g.mutable_vertices(1)->set_parallelism(4);
  absl::Status st = runtime::CheckPlanMatchesGraph(*plan, g);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("same sluice version"));
  g = Compiled();
  g.mutable_nodes(0)->mutable_output_schema(0)->set_type("double");
  st = runtime::CheckPlanMatchesGraph(*plan, g);
  EXPECT_THAT(std::string(st.message()), HasSubstr("output schema"));
}

}  // namespace
}  // namespace sluice::coordinator
