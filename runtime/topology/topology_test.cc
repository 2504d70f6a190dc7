#include "runtime/topology/topology.h"

#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace sluice::topology {
namespace {

// ASSERT_OK/EXPECT_OK from status_matchers.h bind a reference to a temporary Status
// (g++ warns about the dangling pointer), so these tests use IsOk instead.
::testing::AssertionResult IsOk(const absl::Status& st) {
  if (st.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << st.ToString();
}

using sluice::v1::Node;
using sluice::v1::ParamValue;
using sluice::v1::Topology;

// A hand-made topology a -> b -> c with lines, as the loader would make it.
Topology Chain() {
  Topology t;
  t.set_name("chain");
  t.set_source_file("chain.yaml");
  const char* ids[] = {"a", "b", "c"};
  for (int i = 0; i < 3; ++i) {
    Node* n = t.add_nodes();
    n->set_id(ids[i]);
    n->set_type("t");
    n->set_index(i);
    n->set_line(3 + 4 * i);
    if (i > 0) {
      auto* in = n->add_inputs();
      in->set_from(ids[i - 1]);
      in->set_line(5 + 4 * i);
    }
  }
  return t;
}

std::string Message(const absl::Status& st) { return std::string(st.message()); }

TEST(ValidateTopologyTest, AcceptsChain) {
  Topology t = Chain();
  EXPECT_TRUE(IsOk(ValidateTopology(t)));
  ASSERT_OK_AND_ASSIGN(std::vector<int> order, TopologicalOrder(t));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(ValidateTopologyTest, TopologicalOrderKeepsFileOrderAmongReadyNodes) {
  // Declared out of order: c reads b, b reads a; d is independent.
  Topology t;
  t.set_name("x");
  auto add = [&](const char* id, const char* from) {
    Node* n = t.add_nodes();
    n->set_id(id);
    n->set_type("t");
    n->set_index(t.nodes_size() - 1);
    if (from != nullptr) n->add_inputs()->set_from(from);
  };
  add("c", "b");
  add("d", nullptr);
  add("b", "a");
  add("a", nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<int> order, TopologicalOrder(t));
  EXPECT_EQ(order, (std::vector<int>{1, 3, 2, 0}));  // d, a, b, c
}

TEST(ValidateTopologyTest, UnknownInput) {
  Topology t = Chain();
  t.mutable_nodes(2)->mutable_inputs(0)->set_from("bb");
  EXPECT_EQ(Message(ValidateTopology(t)),
            "chain.yaml:13: operators[2].input: unknown node 'bb'; known nodes: a, b");
  // Several inputs: the path names the position.
  t.mutable_nodes(2)->mutable_inputs(0)->set_from("a");
  auto* in = t.mutable_nodes(2)->add_inputs();
  in->set_from("zz");
  EXPECT_EQ(Message(ValidateTopology(t)),
            "chain.yaml:11: operators[2].inputs[1]: unknown node 'zz'; known nodes: a, b");
}

TEST(ValidateTopologyTest, CycleNamesItsNodes) {
  Topology t = Chain();
  t.mutable_nodes(0)->add_inputs()->set_from("c");  // a <- c
  EXPECT_EQ(Message(ValidateTopology(t)),
            "chain.yaml:3: operators[0]: cycle in the topology: a -> b -> c -> a");
  // A self loop.
  Topology s = Chain();
  s.mutable_nodes(1)->add_inputs()->set_from("b");
  EXPECT_EQ(Message(ValidateTopology(s)),
            "chain.yaml:7: operators[1]: cycle in the topology: b -> b");
  // A node downstream of a cycle is not reported as on it.
  Topology d = Chain();
  d.mutable_nodes(1)->add_inputs()->set_from("b");
  Node* e = d.add_nodes();
  e->set_id("e");
  e->set_type("t");
  e->set_index(3);
  e->add_inputs()->set_from("c");
  EXPECT_EQ(Message(ValidateTopology(d)),
            "chain.yaml:7: operators[1]: cycle in the topology: b -> b");
}

TEST(ValidateTopologyTest, DuplicateId) {
  Topology t = Chain();
  t.mutable_nodes(2)->set_id("a");
  t.mutable_nodes(2)->clear_inputs();
  EXPECT_EQ(Message(ValidateTopology(t)),
            "chain.yaml:11: operators[2].id: duplicate id 'a' (first at line 3)");
}

TEST(ValidateTopologyTest, NodeFieldErrors) {
  {
    Topology t = Chain();
    t.mutable_nodes(1)->clear_id();
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:7: operators[1].id: required field is missing");
  }
  {
    Topology t = Chain();
    t.mutable_nodes(1)->set_id("b c");
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:7: operators[1].id: invalid id 'b c': use only letters, digits, '_' "
              "and '-'");
  }
  {
    Topology t = Chain();
    t.mutable_nodes(1)->clear_type();
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:7: operators[1].type: required field is missing");
  }
  {
    Topology t = Chain();
    t.set_max_parallelism(4);
    t.mutable_nodes(1)->set_parallelism(5);
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:7: operators[1].parallelism: must be between 1 and max_parallelism "
              "(4), got 5");
    t.mutable_nodes(1)->set_parallelism(-1);
    EXPECT_FALSE(ValidateTopology(t).ok());
  }
  {
    Topology t = Chain();
    auto* in = t.mutable_nodes(1)->mutable_inputs(0);
    in->set_partitioning(static_cast<sluice::v1::Partitioning>(9));
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:9: operators[1].input: unknown partition kind 9; expected one of: "
              "forward, shuffle, broadcast, key_by");
    in->set_partitioning(sluice::v1::KEY_BY);
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:9: operators[1].input: key_by needs at least one key field");
    in->set_partitioning(sluice::v1::SHUFFLE);
    in->add_key_fields("k");
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:9: operators[1].input: key fields are only allowed with key_by "
              "partitioning, not shuffle");
  }
  {
    Topology t = Chain();
    auto* e = t.mutable_nodes(1)->mutable_params()->mutable_map_value()->add_entries();
    e->set_key("key_by");
    e->mutable_value()->set_string_value("k");
    e->mutable_value()->set_line(8);
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:8: operators[1].key_by: 'key_by' is a node-level key and can't be an "
              "operator parameter");
  }
  {
    Topology t = Chain();
    t.mutable_nodes(1)->mutable_params()->set_string_value("x");
    EXPECT_EQ(Message(ValidateTopology(t)), "chain.yaml:7: operators[1].params: must be a map");
  }
  {
    Topology t = Chain();
    t.mutable_nodes(1)->mutable_event_time()->set_line(10);
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml:10: operators[1].event_time.field: required field is missing");
  }
}

TEST(ValidateTopologyTest, TopLevelErrors) {
  {
    Topology t = Chain();
    t.clear_name();
    EXPECT_EQ(Message(ValidateTopology(t)), "chain.yaml: name: required field is missing");
  }
  {
    Topology t = Chain();
    t.set_mode("fast");
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml: mode: expected auto, batch or streaming, got 'fast'");
  }
  {
    Topology t = Chain();
    t.set_max_parallelism(2);
    t.set_default_parallelism(3);
    EXPECT_EQ(Message(ValidateTopology(t)),
              "chain.yaml: parallelism: must be between 1 and max_parallelism (2), got 3");
  }
  {
    Topology t;
    t.set_name("empty");
    EXPECT_EQ(Message(ValidateTopology(t)), "operators: expected at least one node");
  }
}

TEST(ValidateTopologyTest, ErrorsWithoutFileOrLine) {
  Topology t = Chain();
  t.clear_source_file();
  for (auto& n : *t.mutable_nodes()) {
    n.set_line(0);
    for (auto& in : *n.mutable_inputs()) in.set_line(0);
  }
  t.mutable_nodes(2)->mutable_inputs(0)->set_from("x");
  EXPECT_EQ(Message(ValidateTopology(t)),
            "operators[2].input: unknown node 'x'; known nodes: a, b");
}

TEST(ParamConversionTest, RoundTripKeepsTextAndLines) {
  Param leaf = Param::Number(12345678901234567.0, "12345678901234567");
  leaf.SetOwnLocation("f.yaml", 9, "x");
  Param item = Param::Map({{"n", leaf}, {"s", Param::String("10s")}});
  item.SetOwnLocation("f.yaml", 8, "x");
  Param list = Param::List({item, Param::Bool(true), Param::Null(), Param::Number(0.25)});
  list.SetOwnLocation("f.yaml", 7, "x");
  Param root = Param::Map({{"list", list}, {"e", Param::Number(1e3, "1e3")}});
  root.SetOwnLocation("f.yaml", 6, "x");

  ParamValue pv = ParamToProto(root);
  EXPECT_EQ(pv.line(), 6);
  ASSERT_EQ(pv.map_value().entries_size(), 2);
  const ParamValue& n =
      pv.map_value().entries(0).value().list_value().items(0).map_value().entries(0).value();
  EXPECT_EQ(n.text(), "12345678901234567");
  EXPECT_EQ(n.line(), 9);
  EXPECT_EQ(pv.map_value().entries(0).value().list_value().items(2).kind_case(),
            ParamValue::kNullValue);

  Param back = ParamFromProto(pv, "f.yaml", "operators[1]");
  EXPECT_EQ(back.ToString(), root.ToString());
  EXPECT_EQ(back.line(), 6);
  EXPECT_EQ(back.path(), "operators[1]");
  const Param& b_list = *back.Find("list");
  EXPECT_EQ(b_list.path(), "operators[1].list");
  EXPECT_EQ(b_list.line(), 7);
  const Param& b_item = b_list.items()[0];
  EXPECT_EQ(b_item.path(), "operators[1].list[0]");
  EXPECT_EQ(b_item.line(), 8);
  ASSERT_OK_AND_ASSIGN(int64_t big, b_item.GetInt("n"));
  EXPECT_EQ(big, 12345678901234567);
  EXPECT_EQ(b_item.Find("n")->line(), 9);
  EXPECT_EQ(b_item.Find("n")->file(), "f.yaml");
  EXPECT_EQ(b_list.items()[1].kind(), Param::Kind::kBool);
  EXPECT_TRUE(b_list.items()[2].is_null());
  EXPECT_EQ(b_list.items()[3].string_value(), "0.25");
  EXPECT_EQ(back.Find("e")->string_value(), "1e3");
  EXPECT_EQ(back.Find("e")->number_value(), 1000);

  // And back again: identical protos.
  EXPECT_EQ(ParamToProto(back).SerializeAsString(), pv.SerializeAsString());
}

TEST(ParamConversionTest, NodeParamsIsAlwaysAMap) {
  Topology t = Chain();
  Param p = NodeParams(t, t.nodes(1));
  EXPECT_TRUE(p.is_map());
  EXPECT_EQ(p.path(), "operators[1]");
  EXPECT_EQ(p.line(), 7);
  EXPECT_EQ(p.MissingError("path").message(),
            "chain.yaml:7: operators[1].path: required parameter is missing");
}

TEST(PartitioningTest, Names) {
  sluice::v1::Partitioning p;
  for (std::string_view name : {"forward", "shuffle", "broadcast", "key_by"}) {
    ASSERT_TRUE(ParsePartitioning(name, &p));
    EXPECT_EQ(PartitioningName(p), name);
  }
  EXPECT_FALSE(ParsePartitioning("hash", &p));
}

}  // namespace
}  // namespace sluice::topology
