#include "operators/parse/access_log_parse.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "operators/parse/register.h"
#include "operators/testing/operator_harness.h"

// Copies the status: common/testing's ASSERT_OK binds a reference to a temporary Status
// (GetStatus returns a reference into it), which dangles when given a call's result.
#define ASSERT_STATUS_OK(expr)                                        \
  do {                                                                \
    const absl::Status _status = ::sluice::internal::GetStatus(expr); \
    ASSERT_TRUE(_status.ok()) << _status;                             \
  } while (0)

namespace sluice::operators::parse {
namespace {

using ::sluice::testing::BatchOf;
using ::sluice::testing::LinesBatch;
using ::sluice::testing::MakeSchema;
using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;

Param Str(std::string s) { return Param::String(std::move(s)); }
Param List(std::vector<std::string> items) {
  std::vector<Param> out;
  for (auto& s : items) out.push_back(Str(std::move(s)));
  return Param::List(std::move(out));
}

// Builds an operator from `params` (located at job.yaml:7, nodes[1].params).
absl::StatusOr<std::unique_ptr<Operator>> Make(Param params, SchemaPtr input = nullptr) {
  static std::vector<std::unique_ptr<Param>> keep_alive;
  params.SetLocation("job.yaml", 7, "nodes[1].params");
  keep_alive.push_back(std::make_unique<Param>(std::move(params)));
  OperatorConfig config;
  config.node_id = "parse";
  config.params = keep_alive.back().get();
  config.input_schemas = {input ? input : MakeSchema({{"line", Type::kString}})};
  return CreateAccessLogParse(config);
}

const char kLine1[] =
    "203.0.113.9 - alice [20/Nov/2026:08:15:02 +0800] \"GET /item/42?ref=home HTTP/1.1\" 200 "
    "5123 \"https://shop.example.com/\" \"Mozilla/5.0 (X11)\"";
const char kLine2[] =
    "::1 - - [01/Jan/2027:07:00:00 +0800] \"HEAD /static/app.js HTTP/2.0\" 304 - \"-\" \"curl/8\"";

TEST(AccessLogParseTest, EmitsAllFieldsAndDeadLettersMalformedLines) {
  ASSERT_OK_AND_ASSIGN(auto op, Make(Param::Map()));
  EXPECT_EQ(op->output_schema()->ToString(),
            "remote_addr:string, remote_user:string, time:timestamp, method:string, "
            "path:string, query:string, protocol:string, status:int64, bytes:int64, "
            "referer:string, user_agent:string");
  TestContext ctx;
  TestCollector out;
  ASSERT_STATUS_OK(op->Open(ctx));
  ASSERT_STATUS_OK(op->Process(0, LinesBatch({kLine1, "garbage", kLine2, ""}), out));
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.RowsAsJson(),
            (std::vector<std::string>{
                "{\"remote_addr\":\"203.0.113.9\",\"remote_user\":\"alice\",\"time\":1795133702000,"
                "\"method\":\"GET\",\"path\":\"/item/42\",\"query\":\"ref=home\",\"protocol\":"
                "\"HTTP/1.1\",\"status\":200,\"bytes\":5123,\"referer\":"
                "\"https://shop.example.com/\",\"user_agent\":\"Mozilla/5.0 (X11)\"}",
                "{\"remote_addr\":\"::1\",\"remote_user\":null,\"time\":1798758000000,"
                "\"method\":\"HEAD\",\"path\":\"/static/app.js\",\"query\":null,\"protocol\":"
                "\"HTTP/2.0\",\"status\":304,\"bytes\":0,\"referer\":null,\"user_agent\":"
                "\"curl/8\"}"}));
  // The event time is the parsed time.
  EXPECT_EQ(out.batches[0]->timestamps(), (std::vector<int64_t>{1795133702000, 1798758000000}));
  ASSERT_EQ(out.dead_letters.size(), 2u);
  EXPECT_EQ(out.dead_letters[0].reason, "malformed");
  EXPECT_EQ(out.dead_letters[0].record, "garbage");
  EXPECT_EQ(out.dead_letters[1].reason, "malformed");
  EXPECT_EQ(out.dead_letters[1].record, "");
}

TEST(AccessLogParseTest, OutputOutlivesTheInputBatch) {
  ASSERT_OK_AND_ASSIGN(auto op, Make(Param::Map({{"fields", List({"user_agent", "path"})}})));
  TestCollector out;
  {
    // Lines copied into the input batch's arena: the output keeps that batch alive.
    BatchPtr in = LinesBatch({kLine1});
    ASSERT_STATUS_OK(op->Process(0, std::move(in), out));
  }
  // Lines in an external buffer that the batch shares (what file sources produce).
  auto buffer = std::make_shared<std::string>(kLine2);
  auto in = std::make_unique<RecordBatch>(MakeSchema({{"line", Type::kString}}));
  in->AddBuffer(buffer);
  in->column(0).strings.push_back(*buffer);
  in->timestamps().push_back(5);
  in->set_num_rows(1);
  ASSERT_STATUS_OK(op->Process(0, std::move(in), out));
  buffer.reset();  // the output batch holds the last reference now
  EXPECT_EQ(out.RowsAsJson(), (std::vector<std::string>{
                                  "{\"user_agent\":\"Mozilla/5.0 (X11)\",\"path\":\"/item/42\"}",
                                  "{\"user_agent\":\"curl/8\",\"path\":\"/static/app.js\"}"}));
}

TEST(AccessLogParseTest, FieldsSubsetAndKeptEventTime) {
  ASSERT_OK_AND_ASSIGN(auto op, Make(Param::Map({{"fields", List({"status", "time", "method"})},
                                                 {"set_event_time", Param::Bool(false)}})));
  EXPECT_EQ(op->output_schema()->ToString(), "status:int64, time:timestamp, method:string");
  TestCollector out;
  auto schema = MakeSchema({{"source", Type::kString}, {"line", Type::kString}});
  ASSERT_OK_AND_ASSIGN(auto op2, Make(Param::Map({{"fields", List({"status", "time", "method"})},
                                                  {"set_event_time", Param::Bool(false)}}),
                                      schema));
  ASSERT_STATUS_OK(op2->Process(0,
                                BatchOf(schema,
                                        {{std::string("a.log"), std::string(kLine1)},
                                         {std::string("b.log"), std::string(kLine2)}},
                                        {111, 222}),
                                out));
  EXPECT_EQ(out.RowsAsJson(), (std::vector<std::string>{
                                  "{\"status\":200,\"time\":1795133702000,\"method\":\"GET\"}",
                                  "{\"status\":304,\"time\":1798758000000,\"method\":\"HEAD\"}"}));
  EXPECT_EQ(out.batches[0]->timestamps(), (std::vector<int64_t>{111, 222}));
}

TEST(AccessLogParseTest, CommonFormat) {
  ASSERT_OK_AND_ASSIGN(auto op, Make(Param::Map({{"format", Str("common")}})));
  EXPECT_EQ(op->output_schema()->ToString(),
            "remote_addr:string, remote_user:string, time:timestamp, method:string, "
            "path:string, query:string, protocol:string, status:int64, bytes:int64");
  TestCollector out;
  ASSERT_STATUS_OK(op->Process(
      0,
      LinesBatch(
          {"10.1.1.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /a.gif?x HTTP/1.0\" 200 2326", kLine1}),
      out));
  EXPECT_EQ(out.RowsAsJson(),
            (std::vector<std::string>{
                "{\"remote_addr\":\"10.1.1.1\",\"remote_user\":null,\"time\":971211336000,"
                "\"method\":\"GET\",\"path\":\"/a.gif\",\"query\":\"x\",\"protocol\":\"HTTP/1.0\","
                "\"status\":200,\"bytes\":2326}"}));
  EXPECT_EQ(out.DeadLetters("malformed"), 1u);
}

TEST(AccessLogParseTest, NullLinesAreMalformed) {
  ASSERT_OK_AND_ASSIGN(auto op, Make(Param::Map({{"fields", List({"status"})}})));
  TestCollector out;
  ASSERT_STATUS_OK(
      op->Process(0, BatchOf(MakeSchema({{"line", Type::kString}}), {{std::monostate()}}), out));
  EXPECT_TRUE(out.batches.empty());
  ASSERT_EQ(out.dead_letters.size(), 1u);
  EXPECT_EQ(out.dead_letters[0].reason, "malformed");
}

TEST(AccessLogParseTest, ConfigErrorsAreLocated) {
  auto bad_format = Make(Param::Map({{"format", Str("apache")}}));
  ASSERT_FALSE(bad_format.ok());
  EXPECT_EQ(bad_format.status().message(),
            "job.yaml:7: nodes[1].params.format: unknown format 'apache'; expected combined or "
            "common");

  auto unknown_field = Make(Param::Map({{"fields", List({"status", "referrer"})}}));
  ASSERT_FALSE(unknown_field.ok());
  EXPECT_EQ(unknown_field.status().message(),
            "job.yaml:7: nodes[1].params.fields[1]: unknown field 'referrer' for format "
            "combined; expected one of: remote_addr, remote_user, time, method, path, query, "
            "protocol, status, bytes, referer, user_agent");

  auto common_ua = Make(Param::Map({{"format", Str("common")}, {"fields", List({"user_agent"})}}));
  ASSERT_FALSE(common_ua.ok());
  EXPECT_NE(common_ua.status().message().find("unknown field 'user_agent' for format common"),
            std::string::npos);

  auto twice = Make(Param::Map({{"fields", List({"path", "path"})}}));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("fields[1]: field 'path' is listed twice"),
            std::string::npos);

  auto unknown_key = Make(Param::Map({{"formats", Str("common")}}));
  ASSERT_FALSE(unknown_key.ok());
  EXPECT_NE(unknown_key.status().message().find("unknown parameter 'formats'"), std::string::npos);

  auto no_field = Make(Param::Map({{"field", Str("message")}}));
  ASSERT_FALSE(no_field.ok());
  EXPECT_EQ(no_field.status().message(),
            "job.yaml:7: nodes[1].params.field: input has no field 'message' (input fields: "
            "line:string)");

  auto not_string = Make(Param::Map(), MakeSchema({{"line", Type::kInt64}}));
  ASSERT_FALSE(not_string.ok());
  EXPECT_EQ(not_string.status().message(),
            "job.yaml:7: nodes[1].params: input field 'line' must be a string, it is int64");
}

TEST(AccessLogParseTest, Registered) {
  OperatorRegistry registry;
  ASSERT_STATUS_OK(RegisterParseOperators(registry));
  EXPECT_NE(registry.FindOperator("access_log_parse"), nullptr);
  EXPECT_NE(registry.FindOperator("json_parse"), nullptr);
  EXPECT_FALSE(RegisterParseOperators(registry).ok());  // already registered
}

}  // namespace
}  // namespace sluice::operators::parse
