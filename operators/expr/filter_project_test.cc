#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "operators/expr/filter_operator.h"
#include "operators/expr/project_operator.h"
#include "operators/expr/register.h"
#include "operators/testing/operator_harness.h"

namespace sluice::operators::expr {
namespace {

using ::sluice::testing::BatchOf;
using ::sluice::testing::MakeSchema;
using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;
using ::sluice::testing::Value;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

SchemaPtr EventSchema() {
  return MakeSchema({{"user_id", Type::kString},
                     {"event_type", Type::kString},
                     {"status", Type::kString},
                     {"ts", Type::kInt64},
                     {"latency", Type::kDouble}});
}

BatchPtr Events() {
  const Value null;
  return BatchOf(EventSchema(),
                 {{std::string("u1"), std::string("view"), std::string("200"), int64_t{1000}, 0.5},
                  {std::string("u2"), std::string("click"), std::string("503"), int64_t{2000}, 1.5},
                  {std::string("u3"), std::string("view"), std::string("oops"), null, null},
                  {std::string("u4"), null, std::string("404"), int64_t{4000}, 2.5}},
                 {11, 12, 13, 14});
}

// A params map located as if read from job.yaml line 7.
Param Params(std::vector<std::pair<std::string, Param>> entries) {
  Param p = Param::Map(std::move(entries));
  p.SetLocation("job.yaml", 7, "nodes[1].params");
  return p;
}

absl::StatusOr<std::unique_ptr<Operator>> MakeFilter(const Param& params,
                                                     SchemaPtr schema = EventSchema()) {
  OperatorConfig config;
  config.node_id = "f";
  config.params = &params;
  config.input_schemas = {std::move(schema)};
  return FilterOperator::Create(config);
}

absl::StatusOr<std::unique_ptr<Operator>> MakeProject(const Param& params,
                                                      SchemaPtr schema = EventSchema()) {
  OperatorConfig config;
  config.node_id = "p";
  config.params = &params;
  config.input_schemas = {std::move(schema)};
  return ProjectOperator::Create(config);
}

Param List(std::vector<Param> items) { return Param::List(std::move(items)); }
Param Str(std::string s) { return Param::String(std::move(s)); }

// ------------------------------------ filter -------------------------------------------

TEST(FilterOperatorTest, KeepsMatchingRowsAndCountsTheRest) {
  Param params = Params({{"where", Str("event_type == \"view\"")}});
  auto op = MakeFilter(params);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_TRUE((*op)->output_schema()->Equals(*EventSchema()));
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE((*op)->Open(ctx).ok());
  ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_THAT(out.RowsAsJson(),
              ElementsAre(R"({"user_id":"u1","event_type":"view","status":"200","ts":1000,"latency":0.5})",
                          R"({"user_id":"u3","event_type":"view","status":"oops","ts":null,"latency":null})"));
  EXPECT_EQ(out.batches[0]->timestamps(), (std::vector<int64_t>{11, 13}));
  EXPECT_EQ(out.filtered, 2);  // the null event_type row is dropped too
  EXPECT_TRUE(out.dead_letters.empty());
}

TEST(FilterOperatorTest, AllKeptEmitsTheBatchUnchanged) {
  Param params = Params({{"where", Str("user_id is not null")}});
  auto op = MakeFilter(params);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  auto batch = Events();
  const RecordBatch* raw = batch.get();
  ASSERT_TRUE((*op)->Process(0, std::move(batch), out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0].get(), raw);  // the same batch, re-emitted
  EXPECT_EQ(out.num_rows(), 4u);
  EXPECT_EQ(out.filtered, 0);
}

TEST(FilterOperatorTest, EmptyResultIsNotEmitted) {
  Param params = Params({{"where", Str("int64(status) >= 600 or latency > 100")}});
  auto op = MakeFilter(params);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  EXPECT_TRUE(out.batches.empty());
  EXPECT_EQ(out.filtered, 8);
}

TEST(FilterOperatorTest, ComplexCondition) {
  Param params = Params(
      {{"where", Str("(event_type in ('view', 'click') && int64(status) < 500) || latency > 2")}});
  auto op = MakeFilter(params);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0]->column(0).strings, (std::vector<std::string_view>{"u1", "u4"}));
  EXPECT_EQ(out.filtered, 2);
}

TEST(FilterOperatorTest, ErrorsAreLocatedAtTheParam) {
  {
    Param params = Params({{"where", Str("evnt_type == \"view\"")}});
    auto op = MakeFilter(params);
    ASSERT_FALSE(op.ok());
    EXPECT_EQ(op.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(op.status().message()),
                StartsWith("job.yaml:7: nodes[1].params.where: unknown field 'evnt_type' at column 1; "
                           "fields are: user_id, event_type, status, ts, latency"));
  }
  {
    Param params = Params({{"where", Str("ts + 1")}});
    auto op = MakeFilter(params);
    ASSERT_FALSE(op.ok());
    EXPECT_THAT(std::string(op.status().message()),
                HasSubstr("nodes[1].params.where: the condition must be boolean, but 'ts + 1' is int64"));
  }
  {
    Param params = Params({});
    auto op = MakeFilter(params);
    ASSERT_FALSE(op.ok());
    EXPECT_THAT(std::string(op.status().message()), HasSubstr("where: required parameter is missing"));
  }
  {
    Param params = Params({{"where", Str("true")}, {"wehre", Str("x")}});
    auto op = MakeFilter(params);
    ASSERT_FALSE(op.ok());
    EXPECT_THAT(std::string(op.status().message()), HasSubstr("unknown parameter 'wehre'"));
  }
  {
    Param params = Params({{"where", Str("status == 200")}});
    auto op = MakeFilter(params);
    ASSERT_FALSE(op.ok());
    EXPECT_THAT(std::string(op.status().message()),
                HasSubstr("where: cannot compare status (string) with 200 (int64) at column 8"));
  }
}

// ------------------------------------ project ------------------------------------------

TEST(ProjectOperatorTest, KeepRenameCastCompute) {
  Param fields = List({Str("user_id"), Str("event_type as type"), Str("int64(status) as status"),
                       Param::Map({{"name", Str("slow")}, {"expr", Str("latency > 1")}}),
                       Param::Map({{"name", Str("ts")}}),
                       Str("upper(substr(user_id, 1)) as `user number`")});
  Param params = Params({{"fields", fields}});
  auto op = MakeProject(params);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ((*op)->output_schema()->ToString(),
            "user_id:string, type:string, status:int64, slow:bool, ts:int64, user number:string");
  TestCollector out;
  ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  EXPECT_THAT(out.RowsAsJson(),
              ElementsAre(R"({"user_id":"u1","type":"view","status":200,"slow":false,"ts":1000,"user number":"1"})",
                          R"({"user_id":"u2","type":"click","status":503,"slow":true,"ts":2000,"user number":"2"})",
                          R"({"user_id":"u3","type":"view","status":null,"slow":null,"ts":null,"user number":"3"})",
                          R"({"user_id":"u4","type":null,"status":404,"slow":true,"ts":4000,"user number":"4"})"));
  EXPECT_EQ(out.batches[0]->timestamps(), (std::vector<int64_t>{11, 12, 13, 14}));
}

TEST(ProjectOperatorTest, KeepAllReplacesInPlaceAndAppends) {
  Param fields = List({Str("int64(status) as status"), Str("latency * 1000 as latency_ms"),
                       Str("lower(event_type) as event_type")});
  Param params = Params({{"fields", fields}, {"keep_all", Param::Bool(true)}});
  auto op = MakeProject(params);
  ASSERT_TRUE(op.ok()) << op.status();
  EXPECT_EQ((*op)->output_schema()->ToString(),
            "user_id:string, event_type:string, status:int64, ts:int64, latency:double, "
            "latency_ms:double");
  TestCollector out;
  ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  EXPECT_EQ(out.RowsAsJson()[1],
            R"({"user_id":"u2","event_type":"click","status":503,"ts":2000,"latency":1.5,"latency_ms":1500})");
}

TEST(ProjectOperatorTest, KeepAllAloneCopiesEverything) {
  Param params = Params({{"keep_all", Param::Bool(true)}});
  auto op = MakeProject(params);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  auto in = Events();
  std::vector<std::string> expected;
  for (size_t r = 0; r < in->num_rows(); ++r) expected.push_back(in->RowToJson(r));
  ASSERT_TRUE((*op)->Process(0, std::move(in), out).ok());
  EXPECT_EQ(out.RowsAsJson(), expected);
}

TEST(ProjectOperatorTest, SameFieldTwice) {
  Param params = Params({{"fields", List({Str("user_id"), Str("user_id as again"),
                                          Str("concat(user_id, '!') as shout")})}});
  auto op = MakeProject(params);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  EXPECT_EQ(out.RowsAsJson()[3], R"({"user_id":"u4","again":"u4","shout":"u4!"})");
}

TEST(ProjectOperatorTest, Errors) {
  auto error = [](Param params) {
    auto op = MakeProject(params);
    EXPECT_FALSE(op.ok());
    return op.ok() ? std::string() : std::string(op.status().message());
  };
  EXPECT_THAT(error(Params({{"fields", List({Str("user_id"), Str("evnt_type as e")})}})),
              StartsWith("job.yaml:7: nodes[1].params.fields[1]: unknown field 'evnt_type' at column 1"));
  EXPECT_THAT(error(Params({{"fields", List({Str("latency * 2")})}})),
              HasSubstr("fields[0]: a computed field needs a name: write 'latency * 2 as <name>'"));
  EXPECT_THAT(error(Params({{"fields", List({Str("user_id"), Str("ts as user_id")})}})),
              HasSubstr("fields[1]: duplicate output field 'user_id'"));
  EXPECT_THAT(error(Params({{"fields", List({Str("ts as")})}})),
              HasSubstr("fields[0]: expected a name after 'as' at column 6"));
  EXPECT_THAT(error(Params({{"fields", List({Param::Map({{"name", Str("x")}, {"expr", Str("ts +")}})})}})),
              HasSubstr("fields[0].expr: expected a value at column 5"));
  EXPECT_THAT(error(Params({{"fields", List({Param::Map({{"name", Str("nope")}})})}})),
              HasSubstr("fields[0].name: unknown field 'nope'"));
  EXPECT_THAT(error(Params({{"fields", List({Param::Number(3, "3")})}})),
              HasSubstr("fields[0]: expected a field name"));
  EXPECT_THAT(error(Params({})), HasSubstr("fields: required parameter is missing"));
  // Event time is the runtime's node-level `event_time`, not a parameter.
  EXPECT_THAT(error(Params({{"fields", List({Str("user_id")})}, {"event_time", Str("ts")}})),
              HasSubstr("unknown parameter 'event_time'"));
}

// Output strings must stay valid after the input batch is gone: kept fields (views into
// the input arena), computed ones (output arena), pass-through ones (substr, coalesce).
TEST(ProjectOperatorTest, StringsOutliveTheInputBatch) {
  Param params = Params({{"fields", List({Str("user_id"), Str("substr(event_type, 1) as tail"),
                                          Str("lower(upper(user_id)) as lower"),
                                          Str("coalesce(event_type, 'none') as e"),
                                          Str("string(ts) as ts_text")})}});
  auto op = MakeProject(params);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  {
    auto in = Events();
    ASSERT_TRUE((*op)->Process(0, std::move(in), out).ok());
  }
  // Overwrite freed memory with another batch's strings.
  for (int k = 0; k < 10; ++k) {
    auto noise = BatchOf(EventSchema(), {{std::string(40, 'z'), std::string(40, 'y'),
                                          std::string(40, 'x'), int64_t{1}, 1.0}});
  }
  EXPECT_THAT(out.RowsAsJson(),
              ElementsAre(R"({"user_id":"u1","tail":"iew","lower":"u1","e":"view","ts_text":"1000"})",
                          R"({"user_id":"u2","tail":"lick","lower":"u2","e":"click","ts_text":"2000"})",
                          R"({"user_id":"u3","tail":"iew","lower":"u3","e":"view","ts_text":null})",
                          R"({"user_id":"u4","tail":null,"lower":"u4","e":"none","ts_text":"4000"})"));
  // The output batch can also be moved on and the operator destroyed.
  BatchPtr kept = std::move(out.batches[0]);
  out.batches.clear();
  op->reset();
  EXPECT_EQ(kept->RowToJson(3), R"({"user_id":"u4","tail":null,"lower":"u4","e":"none","ts_text":"4000"})");
}

// Strings in an external buffer (a source's file chunk) and an empty arena: the buffer
// is shared with the output instead of keeping the input batch.
TEST(ProjectOperatorTest, SharesExternalBuffers) {
  auto schema = MakeSchema({{"line", Type::kString}});
  auto in = std::make_unique<RecordBatch>(schema);
  auto chunk = std::make_shared<std::string>("alpha\nbeta\n");
  in->AddBuffer(chunk);
  in->column(0).strings = {std::string_view(chunk->data(), 5), std::string_view(chunk->data() + 6, 4)};
  in->timestamps() = {1, 2};
  in->set_num_rows(2);
  const char* data = chunk->data();
  chunk.reset();
  Param params = Params({{"fields", List({Str("line as text"), Str("upper(line) as up")})}});
  auto op = MakeProject(params, schema);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  ASSERT_TRUE((*op)->Process(0, std::move(in), out).ok());
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0]->column(0).strings[0].data(), data);  // zero-copy
  EXPECT_THAT(out.RowsAsJson(), ElementsAre(R"({"text":"alpha","up":"ALPHA"})",
                                            R"({"text":"beta","up":"BETA"})"));
}

TEST(ProjectOperatorTest, ManyBatchesReuseBuffers) {
  Param params = Params({{"fields", List({Str("concat(user_id, ':', coalesce(event_type, '-')) as k"),
                                          Str("int64(status) / 100 as class")})}});
  auto op = MakeProject(params);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  for (int k = 0; k < 50; ++k) ASSERT_TRUE((*op)->Process(0, Events(), out).ok());
  ASSERT_EQ(out.num_rows(), 200u);
  EXPECT_EQ(out.RowsAsJson()[199], R"({"k":"u4:-","class":4})");
  EXPECT_EQ(out.RowsAsJson()[2], R"({"k":"u3:view","class":null})");
}

TEST(RegisterTest, RegistersFilterAndProject) {
  OperatorRegistry registry;
  ASSERT_TRUE(RegisterExprOperators(registry).ok());
  EXPECT_NE(registry.FindOperator("filter"), nullptr);
  EXPECT_NE(registry.FindOperator("project"), nullptr);
  auto kind = registry.KindOf("project");
  ASSERT_TRUE(kind.ok());
  EXPECT_EQ(*kind, OperatorRegistry::Kind::kOperator);
  EXPECT_EQ(RegisterExprOperators(registry).code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace sluice::operators::expr
