#include "runtime/topology/yaml_loader.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "runtime/topology/topology.h"

namespace sluice::topology {
namespace {

// ASSERT_OK/EXPECT_OK from status_matchers.h bind a reference to a temporary Status
// (g++ warns about the dangling pointer), so these tests use IsOk instead.
::testing::AssertionResult IsOk(const absl::Status& st) {
  if (st.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << st.ToString();
}

using sluice::v1::ParamValue;
using sluice::v1::Topology;

// Line numbers matter: keep the first line right after R"(.
constexpr char kYsb[] = R"(name: ysb
parallelism: 1
max_parallelism: 64
mode: batch
batch_size: 1024
dead_letter: out/ysb.dead.jsonl
operators:
  - id: events
    type: file_source
    parallelism: 2
    paths: [data/events.jsonl]
  - id: parse
    type: json_parse
    input: events
    fields: {ad_id: string, event_type: string, event_time: timestamp}
    event_time: {field: event_time, max_out_of_orderness: 50ms, idle_timeout: 1m}
  - id: counts
    type: window
    input: parse
    key_by: [campaign_id]
    window: {type: tumbling, size: ten}
  - id: both
    type: union
    partition: broadcast
    inputs:
      - counts
      - {from: parse, partition: shuffle}
      - {from: events, key: [ad_id, event_type]}
)";

std::string LoadError(std::string_view yaml, const std::string& file = "t.yaml") {
  auto t = LoadTopologyString(yaml, file);
  if (t.ok()) return "OK";
  return std::string(t.status().message());
}

TEST(YamlLoaderTest, LoadsTheExample) {
  ASSERT_OK_AND_ASSIGN(Topology t, LoadTopologyString(kYsb, "ysb.yaml"));
  EXPECT_EQ(t.name(), "ysb");
  EXPECT_EQ(t.source_file(), "ysb.yaml");
  EXPECT_EQ(t.default_parallelism(), 1);
  EXPECT_EQ(t.max_parallelism(), 64);
  EXPECT_EQ(t.mode(), "batch");
  EXPECT_EQ(t.batch_size(), 1024);
  EXPECT_EQ(t.dead_letter_path(), "out/ysb.dead.jsonl");
  ASSERT_EQ(t.nodes_size(), 4);

  const auto& events = t.nodes(0);
  EXPECT_EQ(events.id(), "events");
  EXPECT_EQ(events.type(), "file_source");
  EXPECT_EQ(events.parallelism(), 2);
  EXPECT_EQ(events.line(), 8);
  EXPECT_EQ(events.index(), 0);
  EXPECT_EQ(events.inputs_size(), 0);
  ASSERT_EQ(events.params().map_value().entries_size(), 1);  // only `paths`
  EXPECT_EQ(events.params().map_value().entries(0).key(), "paths");
  EXPECT_EQ(events.params().map_value().entries(0).value().line(), 11);

  const auto& parse = t.nodes(1);
  ASSERT_EQ(parse.inputs_size(), 1);
  EXPECT_EQ(parse.inputs(0).from(), "events");
  EXPECT_EQ(parse.inputs(0).partitioning(), sluice::v1::PARTITIONING_UNSPECIFIED);
  EXPECT_EQ(parse.inputs(0).line(), 14);
  ASSERT_TRUE(parse.has_event_time());
  EXPECT_EQ(parse.event_time().field(), "event_time");
  EXPECT_EQ(parse.event_time().max_out_of_orderness_ms(), 50);
  EXPECT_EQ(parse.event_time().idle_timeout_ms(), 60000);
  EXPECT_EQ(parse.event_time().line(), 16);
  ASSERT_EQ(parse.params().map_value().entries_size(), 1);  // `fields`; event_time is not a param
  EXPECT_FALSE(t.nodes(0).has_event_time());

  const auto& counts = t.nodes(2);
  ASSERT_EQ(counts.inputs_size(), 1);
  EXPECT_EQ(counts.inputs(0).partitioning(), sluice::v1::KEY_BY);
  EXPECT_EQ(std::vector<std::string>(counts.inputs(0).key_fields().begin(),
                                     counts.inputs(0).key_fields().end()),
            std::vector<std::string>{"campaign_id"});
  ASSERT_EQ(counts.params().map_value().entries_size(), 1);  // `window`; key_by is not a param
  EXPECT_EQ(counts.params().map_value().entries(0).key(), "window");

  const auto& both = t.nodes(3);
  ASSERT_EQ(both.inputs_size(), 3);
  EXPECT_EQ(both.inputs(0).from(), "counts");
  EXPECT_EQ(both.inputs(0).partitioning(), sluice::v1::BROADCAST);  // node-level partition
  EXPECT_EQ(both.inputs(0).line(), 26);
  EXPECT_EQ(both.inputs(1).from(), "parse");
  EXPECT_EQ(both.inputs(1).partitioning(), sluice::v1::SHUFFLE);  // per-input overrides
  EXPECT_EQ(both.inputs(1).line(), 27);
  EXPECT_EQ(both.inputs(2).partitioning(), sluice::v1::KEY_BY);  // `key` implies key_by
  EXPECT_EQ(both.inputs(2).key_fields_size(), 2);
  EXPECT_EQ(both.params().map_value().entries_size(), 0);
  EXPECT_EQ(both.params().kind_case(), ParamValue::kMapValue);

  ASSERT_OK_AND_ASSIGN(std::vector<int> order, TopologicalOrder(t));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(YamlLoaderTest, OperatorErrorOnConvertedParamNamesFileLineAndPath) {
  ASSERT_OK_AND_ASSIGN(Topology t, LoadTopologyString(kYsb, "ysb.yaml"));
  Param params = NodeParams(t, t.nodes(2));
  const Param* window = params.Find("window");
  ASSERT_NE(window, nullptr);
  auto size = window->GetDurationMs("size");
  ASSERT_FALSE(size.ok());
  EXPECT_EQ(size.status().message(),
            "ysb.yaml:21: operators[2].window.size: expected a duration like 10s, got 'ten'");
  // The same through ParamFromProto, as the plan calls it.
  Param direct = ParamFromProto(t.nodes(2).params(), t.source_file(), "operators[2]");
  EXPECT_EQ(direct.Find("window")->GetDurationMs("size").status().message(),
            size.status().message());
  auto missing = window->GetString("slide");
  EXPECT_EQ(missing.status().message(),
            "ysb.yaml:21: operators[2].window.slide: required parameter is missing");
}

constexpr char kDeep[] = R"(name: deep
operators:
  - id: src
    type: gen
    schema:
      fields:
        - name: a
          type: int64
        - {name: b, type: string, tags: [x, "y"]}
        -
          name: c
          type:
            kind: list
            of: [int64]
      rate: 1000
      big: 12345678901234567
      ratio: 0.5
      neg: -1.5e3
      flag: true
      off: False
      quoted: "10"
      single: 'true'
      plain_str: 10s
      version: 1.2.3
      nothing: null
      tilde: ~
      empty:
      block: |
        line one
        line two
)";

TEST(YamlLoaderTest, ParamsKeepLinesAtDepth) {
  ASSERT_OK_AND_ASSIGN(Topology t, LoadTopologyString(kDeep, "deep.yaml"));
  Param p = NodeParams(t, t.nodes(0));
  EXPECT_EQ(p.line(), 3);
  const Param* schema = p.Find("schema");
  ASSERT_NE(schema, nullptr);
  EXPECT_EQ(schema->line(), 5);
  EXPECT_EQ(schema->path(), "operators[0].schema");
  const Param* fields = schema->Find("fields");
  ASSERT_TRUE(fields != nullptr && fields->is_list());
  ASSERT_EQ(fields->items().size(), 3u);
  const Param& a = fields->items()[0];
  EXPECT_EQ(a.line(), 7);
  EXPECT_EQ(a.path(), "operators[0].schema.fields[0]");
  EXPECT_EQ(a.Find("type")->line(), 8);
  EXPECT_EQ(a.Find("type")->path(), "operators[0].schema.fields[0].type");
  const Param& b = fields->items()[1];
  EXPECT_EQ(b.line(), 9);
  const Param& tag_y = b.Find("tags")->items()[1];
  EXPECT_EQ(tag_y.string_value(), "y");
  EXPECT_EQ(tag_y.line(), 9);
  EXPECT_EQ(tag_y.path(), "operators[0].schema.fields[1].tags[1]");
  const Param& c = fields->items()[2];
  EXPECT_EQ(c.line(), 11);  // the map starts on the line after the bare "-"
  const Param* of = c.Find("type")->Find("of");
  ASSERT_NE(of, nullptr);
  EXPECT_EQ(of->line(), 14);
  EXPECT_EQ(of->items()[0].path(), "operators[0].schema.fields[2].type.of[0]");
  EXPECT_EQ(of->items()[0].file(), "deep.yaml");
  // An error deep down names it all.
  EXPECT_EQ(c.Find("type")->GetInt("kind").status().message(),
            "deep.yaml:13: operators[0].schema.fields[2].type.kind: expected an integer, got "
            "'list'");

  // Scalars: YAML 1.2 core types; quoted scalars are strings; numbers keep their text.
  EXPECT_EQ(schema->Find("rate")->kind(), Param::Kind::kNumber);
  EXPECT_EQ(*schema->GetInt("rate"), 1000);
  EXPECT_EQ(*schema->GetInt("big"), 12345678901234567);
  EXPECT_EQ(schema->Find("big")->string_value(), "12345678901234567");
  EXPECT_EQ(*schema->GetDoubleOr("ratio", 0), 0.5);
  EXPECT_EQ(schema->Find("neg")->number_value(), -1500);
  EXPECT_EQ(schema->Find("flag")->kind(), Param::Kind::kBool);
  EXPECT_TRUE(schema->Find("flag")->bool_value());
  EXPECT_EQ(schema->Find("off")->kind(), Param::Kind::kBool);
  EXPECT_FALSE(schema->Find("off")->bool_value());
  EXPECT_EQ(schema->Find("quoted")->kind(), Param::Kind::kString);
  EXPECT_EQ(schema->Find("single")->kind(), Param::Kind::kString);
  EXPECT_EQ(schema->Find("plain_str")->kind(), Param::Kind::kString);
  EXPECT_EQ(schema->Find("version")->kind(), Param::Kind::kString);
  EXPECT_TRUE(schema->Find("nothing")->is_null());
  EXPECT_TRUE(schema->Find("tilde")->is_null());
  EXPECT_TRUE(schema->Find("empty")->is_null());
  EXPECT_EQ(schema->Find("empty")->line(), 27);
  EXPECT_EQ(schema->Find("block")->string_value(), "line one\nline two\n");
}

TEST(YamlLoaderTest, SyntaxError) {
  EXPECT_EQ(LoadError("name: bad\noperators:\n  - id: a\n    type: [x, y\n", "bad.yaml"),
            "bad.yaml:5: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(LoadError("name: bad\noperators:\n  - id: a\n   type: x\n", "bad.yaml"),
            "bad.yaml:4: invalid YAML: end of sequence not found");
  EXPECT_EQ(LoadError(R"(name: bad
operators:
  - id: a
    type: t
  - id: b
    type: t
    path: a: b
    input: a
)",
                      "bad.yaml"),
            "bad.yaml:7: invalid YAML: illegal map value");
}

TEST(YamlLoaderTest, TopLevelErrors) {
  EXPECT_EQ(LoadError(""), "t.yaml: empty topology; expected a map with name and operators");
  EXPECT_EQ(LoadError("- a\n- b\n"),
            "t.yaml:1: expected a map with name and operators at the top level, got a list");
  EXPECT_EQ(LoadError("name: x\nnodez: []\n"),
            "t.yaml:2: unknown top-level key 'nodez'; expected one of: name, parallelism, "
            "max_parallelism, mode, batch_size, dead_letter, checkpoint, state, operators");
  EXPECT_EQ(LoadError("name: x\ncheckpoint: {interval: 5s}\noperators: []\n"),
            "t.yaml:2: checkpoint.dir: required field is missing");
  EXPECT_EQ(LoadError("name: x\nstate:\n  backend: leveldb\noperators: []\n"),
            "t.yaml:3: state.backend: expected memory or rocksdb, got 'leveldb'");
  EXPECT_EQ(LoadError("name: x\nstate: {backend: rocksdb, memory: 1g}\noperators: []\n"),
            "t.yaml:2: state.memory: unknown key; expected backend");
  EXPECT_EQ(LoadError("name: x\nstate: rocksdb\noperators: []\n"),
            "t.yaml:2: state: expected a map like {backend: rocksdb}, got a scalar");
  EXPECT_EQ(LoadError("name: x\ncheckpoint: {dir: /tmp/c, interval: soon}\noperators: []\n"),
            "t.yaml:2: checkpoint.interval: expected a duration like 10s, got 'soon'");
  EXPECT_EQ(LoadError("name: x\n"), "t.yaml:1: operators: required field is missing");
  EXPECT_EQ(LoadError("operators: [{id: a, type: t}]\n"),
            "t.yaml:1: name: required field is missing");
  EXPECT_EQ(LoadError("name: x\noperators: {id: a}\n"),
            "t.yaml:2: operators: expected a list of nodes, got a map");
  EXPECT_EQ(LoadError("name: x\noperators: []\n"),
            "t.yaml:2: operators: expected at least one node");
  EXPECT_EQ(LoadError("name: x\noperators:\n"),
            "t.yaml:2: operators: expected a list of nodes, got nothing (null)");
  EXPECT_EQ(LoadError("name: x\nmode: fast\noperators: [{id: a, type: t}]\n"),
            "t.yaml:2: mode: expected auto, batch or streaming, got 'fast'");
  EXPECT_EQ(LoadError("name: x\nparallelism: two\noperators: [{id: a, type: t}]\n"),
            "t.yaml:2: parallelism: expected an integer, got 'two'");
  EXPECT_EQ(LoadError("name: x\nparallelism: 0\noperators: [{id: a, type: t}]\n"),
            "t.yaml:2: parallelism: must be at least 1, got 0");
  EXPECT_EQ(LoadError("name: x\nmax_parallelism: 40000\noperators: [{id: a, type: t}]\n"),
            "t.yaml:2: max_parallelism: must be at most 32768 (key groups), got 40000");
  EXPECT_EQ(
      LoadError("name: x\nmax_parallelism: 4\nparallelism: 8\noperators: [{id: a, type: t}]\n"),
      "t.yaml:3: parallelism: must be at most max_parallelism (4), got 8");
  EXPECT_EQ(LoadError("name: x\nname: y\noperators: [{id: a, type: t}]\n"),
            "t.yaml:2: name: duplicate key (first at line 1)");
  EXPECT_EQ(LoadError("name: [x]\noperators: [{id: a, type: t}]\n"),
            "t.yaml:1: name: expected a string, got a list");
}

TEST(YamlLoaderTest, NodeErrors) {
  // Not a map.
  EXPECT_EQ(LoadError("name: x\noperators:\n  - id: a\n    type: t\n  - just_a_string\n"),
            "t.yaml:5: operators[1]: expected a map with id and type, got a scalar");
  // Missing id / type.
  EXPECT_EQ(LoadError("name: x\noperators:\n  - id: a\n    type: t\n  - type: t\n    input: a\n"),
            "t.yaml:5: operators[1].id: required field is missing");
  EXPECT_EQ(LoadError("name: x\noperators:\n  - id: a\n"),
            "t.yaml:3: operators[0].type: required field is missing");
  // Bad id.
  EXPECT_EQ(LoadError("name: x\noperators:\n  - id: a.b\n    type: t\n"),
            "t.yaml:3: operators[0].id: invalid id 'a.b': use only letters, digits, '_' and '-'");
  // Duplicate id.
  EXPECT_EQ(LoadError(R"(name: x
operators:
  - id: events
    type: file_source
  - id: parse
    type: json_parse
    input: events
  - id: counts
    type: window
    input: parse
  - id: parse
    type: t
    input: counts
)"),
            "t.yaml:11: operators[3].id: duplicate id 'parse' (first at line 5)");
  // Duplicate key within a node.
  EXPECT_EQ(LoadError("name: x\noperators:\n  - id: a\n    type: t\n    path: p\n    path: q\n"),
            "t.yaml:6: operators[0].path: duplicate key (first at line 5)");
}

TEST(YamlLoaderTest, UnknownInputAndCycle) {
  EXPECT_EQ(LoadError(R"(name: ysb
operators:
  - id: events
    type: file_source
  - id: parse
    type: json_parse
    input: events
  - id: counts
    type: window
    input: pasre
)",
                      "ysb.yaml"),
            "ysb.yaml:10: operators[2].input: unknown node 'pasre'; known nodes: events, parse");
  EXPECT_EQ(LoadError(R"(name: x
operators:
  - id: a
    type: t
  - id: b
    type: t
    inputs: [a, {from: c, partition: shuffle}]
)"),
            "t.yaml:7: operators[1].inputs[1]: unknown node 'c'; known nodes: a");
  EXPECT_EQ(LoadError(R"(name: x
operators:
  - id: src
    type: t
  - id: a
    type: t
    inputs: [src, c]
  - id: b
    type: t
    input: a
  - id: c
    type: t
    input: b
)"),
            "t.yaml:5: operators[1]: cycle in the topology: a -> b -> c -> a");
}

TEST(YamlLoaderTest, InputAndPartitionErrors) {
  const std::string head = "name: x\noperators:\n  - id: a\n    type: t\n  - id: b\n    type: t\n";
  EXPECT_EQ(LoadError(head + "    input: a\n    partition: hash\n"),
            "t.yaml:8: operators[1].partition: unknown partition kind 'hash'; expected one of: "
            "forward, shuffle, broadcast, key_by");
  EXPECT_EQ(LoadError(head + "    inputs:\n      - {from: a, partition: rebalance}\n"),
            "t.yaml:8: operators[1].inputs[0].partition: unknown partition kind 'rebalance'; "
            "expected one of: forward, shuffle, broadcast, key_by");
  EXPECT_EQ(LoadError(head + "    input: a\n    key_by: []\n"),
            "t.yaml:8: operators[1].key_by: expected at least one key field");
  EXPECT_EQ(LoadError(head + "    input: a\n    key_by: {f: 1}\n"),
            "t.yaml:8: operators[1].key_by: expected a field name or a list of field names, got "
            "a map");
  EXPECT_EQ(LoadError(head + "    input: a\n    partition: key_by\n"),
            "t.yaml:8: operators[1].partition: key_by needs the key fields: use key_by: [fields] "
            "instead");
  EXPECT_EQ(LoadError(head + "    input: a\n    key_by: k\n    partition: shuffle\n"),
            "t.yaml:9: operators[1].partition: 'shuffle' conflicts with key_by (key_by already "
            "partitions by key)");
  EXPECT_EQ(LoadError(head + "    inputs:\n      - {from: a, partition: key_by}\n"),
            "t.yaml:8: operators[1].inputs[0].partition: key_by needs key: [fields] (or key_by: on "
            "the node)");
  EXPECT_EQ(LoadError(head + "    inputs:\n      - {from: a, partition: shuffle, key: k}\n"),
            "t.yaml:8: operators[1].inputs[0].key: key fields need partition: key_by, not shuffle");
  EXPECT_EQ(LoadError(head + "    inputs:\n      - {from: a, weight: 2}\n"),
            "t.yaml:8: operators[1].inputs[0]: unknown key 'weight'; expected one of: from, "
            "partition, key");
  EXPECT_EQ(LoadError(head + "    inputs:\n      - {partition: shuffle}\n"),
            "t.yaml:8: operators[1].inputs[0].from: required field is missing");
  EXPECT_EQ(LoadError(head + "    inputs: []\n"),
            "t.yaml:7: operators[1].inputs: expected at least one input");
  EXPECT_EQ(LoadError(head + "    inputs: a\n"),
            "t.yaml:7: operators[1].inputs: expected a list of inputs, got a scalar");
  EXPECT_EQ(LoadError(head + "    input: [a]\n"),
            "t.yaml:7: operators[1].input: expected a node id (use inputs: for several), got a "
            "list");
  EXPECT_EQ(LoadError(head + "    input: a\n    inputs: [a]\n"),
            "t.yaml:8: operators[1].inputs: give either input or inputs, not both");
  EXPECT_EQ(LoadError("name: x\noperators:\n  - id: a\n    type: t\n    key_by: k\n"),
            "t.yaml:5: operators[0].key_by: the node has no inputs to partition");
  // key_by on the node fills a per-input `partition: key_by` without `key`.
  ASSERT_OK_AND_ASSIGN(Topology t,
                       LoadTopologyString(head + "    key_by: [k]\n    inputs:\n"
                                                 "      - {from: a, partition: key_by}\n",
                                          "t.yaml"));
  EXPECT_EQ(t.nodes(1).inputs(0).key_fields(0), "k");
}

TEST(YamlLoaderTest, ParallelismErrors) {
  const std::string head = "name: x\nmax_parallelism: 8\noperators:\n  - id: a\n    type: t\n";
  EXPECT_EQ(LoadError(head + "    parallelism: 0\n"),
            "t.yaml:6: operators[0].parallelism: must be at least 1, got 0");
  EXPECT_EQ(LoadError(head + "    parallelism: 9\n"),
            "t.yaml:6: operators[0].parallelism: must be at most max_parallelism (8), got 9");
  EXPECT_EQ(LoadError(head + "    parallelism: lots\n"),
            "t.yaml:6: operators[0].parallelism: expected an integer, got 'lots'");
}

TEST(YamlLoaderTest, EventTimeErrors) {
  const std::string head = "name: x\noperators:\n  - id: a\n    type: t\n";
  EXPECT_EQ(LoadError(head + "    event_time: {field: ts, max_out_of_orderness: soon}\n"),
            "t.yaml:5: operators[0].event_time.max_out_of_orderness: expected a duration like "
            "10s, got 'soon'");
  EXPECT_EQ(LoadError(head + "    event_time:\n      field: ts\n      idle_timeout: -5s\n"),
            "t.yaml:7: operators[0].event_time.idle_timeout: expected a duration like 10s, got "
            "'-5s'");
  EXPECT_EQ(LoadError(head + "    event_time: {max_out_of_orderness: 5s}\n"),
            "t.yaml:5: operators[0].event_time.field: required field is missing");
  EXPECT_EQ(LoadError(head + "    event_time: ts\n"),
            "t.yaml:5: operators[0].event_time: expected a map like {field: ts, "
            "max_out_of_orderness: 5s}, got a scalar");
  EXPECT_EQ(LoadError(head + "    event_time: {field: ts, lateness: 5s}\n"),
            "t.yaml:5: operators[0].event_time: unknown key 'lateness'; expected one of: field, "
            "max_out_of_orderness, idle_timeout");
  // A bare number is milliseconds.
  ASSERT_OK_AND_ASSIGN(Topology t, LoadTopologyString(head + "    event_time: {field: ts, "
                                                             "max_out_of_orderness: 250}\n",
                                                      "t.yaml"));
  EXPECT_EQ(t.nodes(0).event_time().max_out_of_orderness_ms(), 250);
}

TEST(YamlLoaderTest, LoadFile) {
  const std::string path = ::testing::TempDir() + "/topology_loader_test.yaml";
  {
    std::ofstream out(path);
    out << kYsb;
  }
  ASSERT_OK_AND_ASSIGN(Topology t, LoadTopologyFile(path));
  EXPECT_EQ(t.source_file(), path);
  EXPECT_EQ(t.nodes_size(), 4);
  std::remove(path.c_str());
  auto missing = LoadTopologyFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "cannot read topology file '" + path + "': No such file or directory");
}

TEST(YamlLoaderTest, ShippedExamplesLoad) {
  for (const char* rel : {"examples/ysb/ysb.yaml", "examples/nginx_pv_uv/nginx_pv_uv.yaml"}) {
    const std::string path = std::string(SLUICE_SOURCE_DIR) + "/" + rel;
    auto t = LoadTopologyFile(path);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_GT(t->nodes_size(), 1) << rel;
  }
}

// --set

Topology Ysb() {
  auto t = LoadTopologyString(kYsb, "ysb.yaml");
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(ApplyOverrideTest, SetsParams) {
  Topology t = Ysb();
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "events.paths=/data/a.log")));
  Param events = NodeParams(t, t.nodes(0));
  EXPECT_EQ(*events.GetStringList("paths"), std::vector<std::string>{"/data/a.log"});
  EXPECT_EQ(events.Find("paths")->kind(), Param::Kind::kString);
  EXPECT_EQ(events.Find("paths")->line(), 0);

  ASSERT_TRUE(IsOk(ApplyOverride(&t, "events.paths=[a.log,b.log]")));
  events = NodeParams(t, t.nodes(0));
  EXPECT_EQ(*events.GetStringList("paths"), (std::vector<std::string>{"a.log", "b.log"}));

  ASSERT_TRUE(IsOk(ApplyOverride(&t, "counts.window.size=1m")));
  Param counts = NodeParams(t, t.nodes(2));
  EXPECT_EQ(*counts.Find("window")->GetDurationMs("size"), 60000);
  EXPECT_EQ(*counts.Find("window")->GetString("type"), "tumbling");  // siblings kept
  EXPECT_EQ(counts.Find("window")->entries()[1].first, "size");      // order kept

  ASSERT_TRUE(IsOk(ApplyOverride(&t, "counts.allowed_lateness.max=10")));  // maps created
  counts = NodeParams(t, t.nodes(2));
  EXPECT_EQ(counts.Find("allowed_lateness")->Find("max")->kind(), Param::Kind::kNumber);
  EXPECT_EQ(*counts.Find("allowed_lateness")->GetInt("max"), 10);

  ASSERT_TRUE(IsOk(ApplyOverride(&t, "both.verbose=true")));
  EXPECT_EQ(NodeParams(t, t.nodes(3)).Find("verbose")->kind(), Param::Kind::kBool);

  ASSERT_TRUE(IsOk(ApplyOverride(&t, "both.path=*.tsv")));  // not valid YAML: a plain string
  EXPECT_EQ(*NodeParams(t, t.nodes(3)).GetString("path"), "*.tsv");
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "both.sep=a=b")));  // only the first '=' splits
  EXPECT_EQ(*NodeParams(t, t.nodes(3)).GetString("sep"), "a=b");

  ASSERT_TRUE(IsOk(ApplyOverride(&t, "counts.parallelism=2")));
  EXPECT_EQ(t.nodes(2).parallelism(), 2);

  ASSERT_TRUE(IsOk(ApplyOverride(&t, "parse.event_time.max_out_of_orderness=2s")));
  EXPECT_EQ(t.nodes(1).event_time().max_out_of_orderness_ms(), 2000);
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "parse.event_time.idle_timeout=500")));
  EXPECT_EQ(t.nodes(1).event_time().idle_timeout_ms(), 500);
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "parse.event_time.field=ts")));
  EXPECT_EQ(t.nodes(1).event_time().field(), "ts");

  EXPECT_TRUE(IsOk(ValidateTopology(t)));
}

TEST(ApplyOverrideTest, OverriddenValueErrorsHaveNoLine) {
  Topology t = Ysb();
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "counts.window.size=ten")));
  Param counts = NodeParams(t, t.nodes(2));
  EXPECT_EQ(counts.Find("window")->GetDurationMs("size").status().message(),
            "ysb.yaml: operators[2].window.size: expected a duration like 10s, got 'ten'");
}

TEST(ApplyOverrideTest, Errors) {
  Topology t = Ysb();
  auto err = [&](std::string_view a) { return std::string(ApplyOverride(&t, a).message()); };
  EXPECT_EQ(err("counts.window.size"), "--set counts.window.size: expected NODE.PARAM=VALUE or KEY=VALUE");
  EXPECT_EQ(err("counts=1"),
            "--set counts=1: unknown top-level key 'counts'; expected NODE.PARAM=VALUE for a node, or KEY=VALUE "
            "with KEY one of: name, parallelism, max_parallelism, mode, batch_size, dead_letter, checkpoint, "
            "checkpoint.dir, checkpoint.interval, checkpoint.timeout, checkpoint.min_pause, "
            "checkpoint.tolerable_failures, checkpoint.retain, state, state.backend");
  EXPECT_EQ(err(".x=1"), "--set .x=1: expected NODE.PARAM=VALUE");
  EXPECT_EQ(err("counts.=1"), "--set counts.=1: expected NODE.PARAM=VALUE");
  EXPECT_EQ(err("counts.window..size=1"),
            "--set counts.window..size=1: empty name in the parameter path");
  EXPECT_EQ(err("cuonts.window.size=1m"),
            "--set cuonts.window.size=1m: unknown node 'cuonts'; known nodes: events, parse, "
            "counts, both");
  EXPECT_EQ(err("counts.parallelism=two"),
            "--set counts.parallelism=two: parallelism must be an integer");
  EXPECT_EQ(err("counts.parallelism=0"),
            "--set counts.parallelism=0: parallelism must be between 1 and max_parallelism (64), "
            "got 0");
  EXPECT_EQ(err("counts.parallelism=65"),
            "--set counts.parallelism=65: parallelism must be between 1 and max_parallelism (64), "
            "got 65");
  EXPECT_EQ(err("counts.input=events"),
            "--set counts.input=events: 'input' is part of the graph and can't be set; only "
            "parallelism, event_time.* and operator parameters can");
  EXPECT_EQ(err("counts.window.size.unit=s"),
            "--set counts.window.size.unit=s: 'counts.window.size' is not a map, so it has no "
            "field 'unit'");
  EXPECT_EQ(err("events.paths=[a.log"),
            "--set events.paths=[a.log: invalid YAML value: end of sequence flow not found");
  EXPECT_EQ(err("parse.event_time.max_out_of_orderness=soon"),
            "--set parse.event_time.max_out_of_orderness=soon: expected a duration like 10s, got "
            "'soon'");
  EXPECT_EQ(err("parse.event_time.lateness=1s"),
            "--set parse.event_time.lateness=1s: unknown event_time field 'lateness'; expected "
            "one of: field, max_out_of_orderness, idle_timeout");
  EXPECT_EQ(err("parse.event_time=1s"),
            "--set parse.event_time=1s: expected event_time.FIELD with FIELD one of: field, "
            "max_out_of_orderness, idle_timeout");
  EXPECT_EQ(err("counts.window={size: 1m, size: 2m}"),
            "--set counts.window={size: 1m, size: 2m}: size: duplicate key (first at line 1)");
  // Nothing was changed by the failed assignments.
  EXPECT_EQ(t.SerializeAsString(), Ysb().SerializeAsString());
}

// Issue #10: `--set dead_letter=kafka://...` was refused ("expected NODE.PARAM=VALUE").
TEST(ApplyOverrideTest, SetsTopLevelKeys) {
  Topology t = Ysb();
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "dead_letter=kafka://127.0.0.1:9092/dead")));
  EXPECT_EQ(t.dead_letter_path(), "kafka://127.0.0.1:9092/dead");
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "name=ysb_replay")));
  EXPECT_EQ(t.name(), "ysb_replay");
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "parallelism=4")));
  EXPECT_EQ(t.default_parallelism(), 4);
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "max_parallelism=32")));
  EXPECT_EQ(t.max_parallelism(), 32);
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "mode=streaming")));
  EXPECT_EQ(t.mode(), "streaming");
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "batch_size=256")));
  EXPECT_EQ(t.batch_size(), 256);
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "checkpoint.dir=/var/lib/ckpt")));
  EXPECT_EQ(t.checkpoint_dir(), "/var/lib/ckpt");
  EXPECT_EQ(t.checkpoint_interval_ms(), 10000);  // the default interval, as in YAML
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "checkpoint.interval=2s")));
  EXPECT_EQ(t.checkpoint_interval_ms(), 2000);
  EXPECT_EQ(t.checkpoint_dir(), "/var/lib/ckpt");  // kept
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "state.backend=rocksdb")));
  EXPECT_EQ(t.state_backend(), "rocksdb");
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "state={backend: memory}")));
  EXPECT_EQ(t.state_backend(), "memory");
  EXPECT_FALSE(IsOk(ApplyOverride(&t, "state.backend=disk")));
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "checkpoint.retain=5")));
  EXPECT_EQ(t.checkpoint_retain(), 5);
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "checkpoint.tolerable_failures=0")));
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "checkpoint.timeout=1m")));
  EXPECT_EQ(t.checkpoint_timeout_ms(), 60000);
  ASSERT_TRUE(IsOk(ApplyOverride(&t, "checkpoint={dir: ck, interval: 5s}")));
  EXPECT_EQ(t.checkpoint_dir(), "ck");
  EXPECT_EQ(t.checkpoint_interval_ms(), 5000);
  EXPECT_TRUE(IsOk(ValidateTopology(t)));
}

TEST(ApplyOverrideTest, TopLevelErrors) {
  Topology t = Ysb();
  auto err = [&](std::string_view a) { return std::string(ApplyOverride(&t, a).message()); };
  EXPECT_EQ(err("mode=fast"), "--set mode=fast: mode: expected auto, batch or streaming, got 'fast'");
  EXPECT_EQ(err("parallelism=0"), "--set parallelism=0: parallelism: must be at least 1, got 0");
  EXPECT_EQ(err("parallelism=65"),
            "--set parallelism=65: parallelism: must be at most max_parallelism (64), got 65");
  EXPECT_EQ(err("max_parallelism=1"),
            "--set max_parallelism=1: max_parallelism: must be at least the parallelism of node 'events' (2), got 1");
  EXPECT_EQ(err("batch_size=many"), "--set batch_size=many: batch_size: expected an integer, got 'many'");
  EXPECT_EQ(err("name="), "--set name=: name: expected a string, got nothing (null)");
  EXPECT_EQ(err("dead_letter=[a, b]"), "--set dead_letter=[a, b]: dead_letter: expected a string, got a list");
  EXPECT_EQ(err("checkpoint.interval=-1s"),
            "--set checkpoint.interval=-1s: checkpoint.interval: expected a duration like 10s, got '-1s'");
  EXPECT_EQ(err("checkpoint.every=1s"),
            "--set checkpoint.every=1s: checkpoint.every: unknown key; expected dir, interval, timeout, min_pause, "
            "tolerable_failures or retain");
  EXPECT_EQ(err("operators=[]"), "--set operators=[]: the operators can't be set; set a node's parameters with NODE.PARAM=VALUE");
  EXPECT_EQ(err("paralelism=2"),
            "--set paralelism=2: unknown top-level key 'paralelism'; expected NODE.PARAM=VALUE for a node, or "
            "KEY=VALUE with KEY one of: name, parallelism, max_parallelism, mode, batch_size, dead_letter, "
            "checkpoint, checkpoint.dir, checkpoint.interval, checkpoint.timeout, checkpoint.min_pause, "
            "checkpoint.tolerable_failures, checkpoint.retain, state, state.backend");
  // Nothing was changed by the failed assignments.
  EXPECT_EQ(t.SerializeAsString(), Ysb().SerializeAsString());
}

// A node called like a top-level key keeps NODE.PARAM meaning.
TEST(ApplyOverrideTest, NodeNamedCheckpointWins) {
  auto t = LoadTopologyString(
      "name: x\noperators:\n  - id: checkpoint\n    type: generator\n", "x.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(IsOk(ApplyOverride(&*t, "checkpoint.dir=d")));
  EXPECT_EQ(t->checkpoint_dir(), "");
  EXPECT_EQ(*NodeParams(*t, t->nodes(0)).GetString("dir"), "d");
}

// Issue #10: a 1.5 KB "billion laughs" made the loader expand 10^9 values (6 GB, abort).
std::string AliasBomb(int levels, int width) {
  std::string y = "name: bomb\noperators:\n  - id: gen\n    type: generator\n";
  absl::StrAppend(&y, "    l0: &l0 [");
  for (int i = 0; i < width; ++i) absl::StrAppend(&y, i ? "," : "", "\"lol\"");
  y += "]\n";
  for (int l = 1; l < levels; ++l) {
    absl::StrAppend(&y, "    l", l, ": &l", l, " [");
    for (int i = 0; i < width; ++i) absl::StrAppend(&y, i ? "," : "", "*l", l - 1);
    y += "]\n";
  }
  return y;
}

TEST(YamlLoaderTest, AliasBombIsRefusedQuickly) {
  const std::string yaml = AliasBomb(10, 10);
  ASSERT_LT(yaml.size(), 2000u);
  auto start = std::chrono::steady_clock::now();
  auto t = LoadTopologyString(yaml, "bomb.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  const std::string msg(t.status().message());
  EXPECT_EQ(msg.rfind("bomb.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("YAML aliases"), std::string::npos) << msg;
  EXPECT_NE(msg.find("operators[0]"), std::string::npos) << msg;
}

TEST(YamlLoaderTest, ModestAliasUseStillWorks) {
  // An anchor reused a few times (shared rule lists) is fine.
  auto t = LoadTopologyString(AliasBomb(3, 10), "ok.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  std::string big = "name: big\noperators:\n  - id: gen\n    type: generator\n    values: [";
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&big, i ? "," : "", i);
  big += "]\n";
  t = LoadTopologyString(big, "big.yaml");  // a long list written out is not a bomb
  ASSERT_TRUE(t.ok()) << t.status();
}

TEST(ApplyOverrideTest, AliasBombInValueIsRefused) {
  Topology t = Ysb();
  std::string v = "events.x={a: &a [1,1,1,1,1,1,1,1,1,1], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], "
                  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c], "
                  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d], f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e], "
                  "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f], h: [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]}";
  absl::Status st = ApplyOverride(&t, v);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("YAML aliases"), std::string::npos) << st;
}

}  // namespace
}  // namespace sluice::topology
