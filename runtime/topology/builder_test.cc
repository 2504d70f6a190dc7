#include "runtime/topology/builder.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "runtime/topology/topology.h"
#include "runtime/topology/yaml_loader.h"

namespace sluice::topology {
namespace {

using sluice::v1::ParamValue;
using sluice::v1::Topology;

void StripLines(ParamValue* v) {
  v->clear_line();
  if (v->has_list_value()) {
    for (auto& item : *v->mutable_list_value()->mutable_items()) StripLines(&item);
  }
  if (v->has_map_value()) {
    for (auto& e : *v->mutable_map_value()->mutable_entries()) StripLines(e.mutable_value());
  }
}

// What the builder can't know: source file and lines.
Topology StripLocations(Topology t) {
  t.clear_source_file();
  for (auto& n : *t.mutable_nodes()) {
    n.clear_line();
    StripLines(n.mutable_params());
    for (auto& in : *n.mutable_inputs()) in.clear_line();
    if (n.has_event_time()) n.mutable_event_time()->clear_line();
  }
  return t;
}

constexpr char kYaml[] = R"(name: ysb
parallelism: 2
max_parallelism: 64
mode: streaming
batch_size: 512
dead_letter: out/dead.jsonl
operators:
  - id: events
    type: file_source
    parallelism: 1
    paths: [data/e.jsonl]
    rate: 1000
    ratio: 0.25
    follow: false
  - id: parse
    type: json_parse
    input: events
    fields: {ad_id: string, event_time: timestamp}
    event_time: {field: event_time, max_out_of_orderness: 50ms}
  - id: counts
    type: window
    key_by: [campaign_id]
    input: parse
    window: {type: tumbling, size: 10s}
  - id: both
    type: union
    inputs:
      - counts
      - {from: parse, partition: broadcast}
  - id: sink
    type: file_sink
    input: both
    path: out/counts.tsv
    columns: [a, b]
)";

TEST(TopologyBuilderTest, SameProtoAsYaml) {
  TopologyBuilder b("ysb");
  b.Parallelism(2).MaxParallelism(64).Mode("streaming").BatchSize(512).DeadLetter("out/dead.jsonl");
  auto events = b.Source("events", "file_source")
                    .Parallelism(1)
                    .Param("paths", {"data/e.jsonl"})
                    .Param("rate", 1000)
                    .Param("ratio", 0.25)
                    .Param("follow", false);
  auto parse = b.Node("parse", "json_parse")
                   .Input(events)
                   .Param("fields", Param::Map({{"ad_id", Param::String("string")},
                                                {"event_time", Param::String("timestamp")}}))
                   .EventTime("event_time", 50);
  auto counts =
      b.Node("counts", "window")
          .KeyBy(parse, {"campaign_id"})
          .Param("window",
                 Param::Map({{"type", Param::String("tumbling")}, {"size", Param::String("10s")}}));
  auto both = b.Node("both", "union").Input(counts).Input(parse, sluice::v1::BROADCAST);
  std::vector<std::string> columns = {"a", "b"};
  b.Node("sink", "file_sink").Input(both).Param("path", "out/counts.tsv").Param("columns", columns);

  ASSERT_OK_AND_ASSIGN(Topology built, b.Build());
  ASSERT_OK_AND_ASSIGN(Topology loaded, LoadTopologyString(kYaml, "ysb.yaml"));
  Topology stripped = StripLocations(loaded);
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(built, stripped)) << diff;
  EXPECT_EQ(built.nodes(2).index(), 2);
}

TEST(TopologyBuilderTest, ParamOverloads) {
  TopologyBuilder b("p");
  auto n = b.Source("n", "t")
               .Param("s", "text")  // a string literal is a string, not a bool
               .Param("str", std::string("x"))
               .Param("i", 7)
               .Param("big", int64_t{12345678901234567})
               .Param("d", 2.5)
               .Param("b", true)
               .Param("one", {"only"})
               .Param("list", std::vector<std::string>{"x", "y"})
               .Param("i", 8);  // replaces, keeps position
  ASSERT_OK_AND_ASSIGN(Topology t, b.Build());
  EXPECT_EQ(n.id(), "n");
  Param p = NodeParams(t, t.nodes(0));
  EXPECT_EQ(p.Find("s")->kind(), Param::Kind::kString);
  EXPECT_EQ(p.Find("str")->kind(), Param::Kind::kString);
  EXPECT_EQ(*p.GetInt("i"), 8);
  EXPECT_EQ(p.entries()[2].first, "i");
  EXPECT_EQ(*p.GetInt("big"), 12345678901234567);
  EXPECT_EQ(*p.GetDoubleOr("d", 0), 2.5);
  EXPECT_EQ(p.Find("b")->kind(), Param::Kind::kBool);
  EXPECT_TRUE(p.Find("one")->is_list());
  EXPECT_EQ(*p.GetStringList("list"), (std::vector<std::string>{"x", "y"}));
  // Builder params have no file or line: errors name the path only.
  EXPECT_EQ(p.GetDurationMs("s").status().message(),
            "operators[0].s: expected a duration like 10s, got 'text'");
}

TEST(TopologyBuilderTest, BuildValidates) {
  {
    TopologyBuilder b("dup");
    auto a = b.Source("a", "t");
    b.Node("a", "t").Input(a);
    EXPECT_EQ(b.Build().status().message(),
              "operators[1].id: duplicate id 'a' (first at operators[0])");
  }
  {
    TopologyBuilder b("cycle");
    auto a = b.Node("a", "t");
    auto c = b.Node("c", "t").Input(a);
    a.Input(c);
    EXPECT_EQ(b.Build().status().message(), "operators[0]: cycle in the topology: a -> c -> a");
  }
  {
    TopologyBuilder b("par");
    b.MaxParallelism(4);
    b.Source("a", "t").Parallelism(5);
    EXPECT_EQ(b.Build().status().message(),
              "operators[0].parallelism: must be between 1 and max_parallelism (4), got 5");
  }
  {
    TopologyBuilder b("keys");
    auto a = b.Source("a", "t");
    b.Node("b", "t").KeyBy(a, {});
    EXPECT_EQ(b.Build().status().message(),
              "operators[1].input: key_by needs at least one key field");
  }
  {
    TopologyBuilder b("reserved");
    b.Source("a", "t").Param("parallelism", 2);
    EXPECT_EQ(b.Build().status().message(),
              "operators[0].parallelism: 'parallelism' is a node-level key and can't be an "
              "operator parameter");
  }
  {
    TopologyBuilder b("");
    b.Source("a", "t");
    EXPECT_EQ(b.Build().status().message(), "name: required field is missing");
  }
  {
    TopologyBuilder b("other");
    TopologyBuilder elsewhere("elsewhere");
    auto x = elsewhere.Source("x", "t");
    b.Source("a", "t");
    b.Node("b", "t").Input(x);
    EXPECT_EQ(b.Build().status().message(), "operators[1].input: unknown node 'x'; known nodes: a");
  }
}

}  // namespace
}  // namespace sluice::topology
