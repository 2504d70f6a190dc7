#include "operators/parse/json_parse.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
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
using ::sluice::testing::Value;

Param Str(std::string s) { return Param::String(std::move(s)); }
Param Types(std::vector<std::pair<std::string, std::string>> fields) {
  std::vector<std::pair<std::string, Param>> entries;
  for (auto& [name, type] : fields) entries.emplace_back(name, Str(type));
  return Param::Map(std::move(entries));
}

absl::StatusOr<std::unique_ptr<Operator>> Make(Param params, SchemaPtr input = nullptr) {
  static std::vector<std::unique_ptr<Param>> keep_alive;
  params.SetLocation("job.yaml", 9, "nodes[2].params");
  keep_alive.push_back(std::make_unique<Param>(std::move(params)));
  OperatorConfig config;
  config.node_id = "json";
  config.params = keep_alive.back().get();
  config.input_schemas = {input ? input : MakeSchema({{"line", Type::kString}})};
  return CreateJsonParse(config);
}

// Parses `lines` with fields `fields` (and `extra` params); returns the collector.
std::unique_ptr<TestCollector> ParseLines(
    const std::vector<std::pair<std::string, std::string>>& fields,
    const std::vector<std::string>& lines, std::vector<std::pair<std::string, Param>> extra = {}) {
  extra.emplace_back("fields", Types(fields));
  auto op = Make(Param::Map(std::move(extra)));
  EXPECT_TRUE(op.ok()) << op.status();
  auto out = std::make_unique<TestCollector>();
  if (!op.ok()) return out;
  EXPECT_TRUE((*op)->Process(0, LinesBatch(lines), *out).ok());
  return out;
}

std::vector<std::string> Reasons(const TestCollector& out) {
  std::vector<std::string> reasons;
  for (const auto& d : out.dead_letters) reasons.push_back(d.reason);
  return reasons;
}

constexpr char kYsb[] =
    "{\"user_id\":\"3f1a2c4e-0000-4000-8000-00000000a001\",\"page_id\":\"p-1\","
    "\"ad_id\":\"a7f3c3e0-1111-4000-8000-0000000000b2\",\"ad_type\":\"banner\","
    "\"event_type\":\"view\",\"event_time\":\"1469118480000\",\"ip_address\":\"1.2.3.4\"}";

TEST(JsonParseTest, YsbEvent) {
  auto op = Make(Param::Map(
      {{"fields",
        Types({{"ad_id", "string"}, {"event_type", "string"}, {"event_time", "timestamp"}})}}));
  ASSERT_STATUS_OK(op);
  EXPECT_EQ((*op)->output_schema()->ToString(),
            "ad_id:string, event_type:string, event_time:timestamp");
  TestCollector out;
  auto schema = MakeSchema({{"line", Type::kString}});
  std::string numeric_time = kYsb;
  numeric_time.replace(numeric_time.find("\"1469118480000\""), 15, "1469118480123");
  ASSERT_STATUS_OK(
      (*op)->Process(0, BatchOf(schema, {{std::string(kYsb)}, {numeric_time}}, {7, 8}), out));
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.RowsAsJson(),
            (std::vector<std::string>{
                "{\"ad_id\":\"a7f3c3e0-1111-4000-8000-0000000000b2\",\"event_type\":\"view\","
                "\"event_time\":1469118480000}",
                "{\"ad_id\":\"a7f3c3e0-1111-4000-8000-0000000000b2\",\"event_type\":\"view\","
                "\"event_time\":1469118480123}"}));
  EXPECT_EQ(out.batches[0]->timestamps(), (std::vector<int64_t>{7, 8}));
  EXPECT_TRUE(out.dead_letters.empty());
}

TEST(JsonParseTest, AllTypes) {
  auto out = ParseLines(
      {{"s", "string"}, {"i", "int64"}, {"d", "double"}, {"b", "bool"}, {"t", "timestamp"}},
      {R"({"s":"x","i":-42,"d":2.5,"b":true,"t":1700000000000})",
       R"({ "t" : "17" , "b" : false , "d" : "1e3" , "i" : 5.0 , "s" : "" })",
       R"({"i":1e3,"d":-0,"b":false,"t":"2.0e1","s":"\u00e9"})"});
  EXPECT_EQ(
      out->RowsAsJson(),
      (std::vector<std::string>{"{\"s\":\"x\",\"i\":-42,\"d\":2.5,\"b\":true,\"t\":1700000000000}",
                                "{\"s\":\"\",\"i\":5,\"d\":1000,\"b\":false,\"t\":17}",
                                "{\"s\":\"\xc3\xa9\",\"i\":1000,\"d\":-0,\"b\":false,\"t\":20}"}));
  EXPECT_TRUE(out->dead_letters.empty());
}

TEST(JsonParseTest, IntegerLimits) {
  auto out = ParseLines(
      {{"i", "int64"}},
      {R"({"i":9223372036854775807})", R"({"i":-9223372036854775808})",
       R"({"i":"-9223372036854775808"})", R"({"i":9223372036854775808})",
       R"({"i":"9223372036854775808"})", R"({"i":1e30})", R"({"i":18446744073709551615})"});
  EXPECT_EQ(out->RowsAsJson(),
            (std::vector<std::string>{"{\"i\":9223372036854775807}", "{\"i\":-9223372036854775808}",
                                      "{\"i\":-9223372036854775808}"}));
  EXPECT_EQ(Reasons(*out),
            (std::vector<std::string>{"bad_type", "bad_type", "bad_type", "bad_type"}));
}

TEST(JsonParseTest, IntegersOfEveryLength) {
  // Integers up to 16 digits take a fast path; check every length, both signs, and
  // the shapes it must leave to simdjson.
  std::vector<std::string> lines;
  std::vector<std::string> expected;
  std::string digits;
  for (int n = 1; n <= 19; ++n) {
    digits += static_cast<char>('0' + (n * 7) % 10 == '0' ? '1' : '0' + (n * 7) % 10);
    lines.push_back("{\"i\":" + digits + "}");
    lines.push_back("{\"i\": -" + digits + " }");
    expected.push_back("{\"i\":" + digits + "}");
    expected.push_back("{\"i\":-" + digits + "}");
  }
  for (const char* ok :
       {"0", "-0", "10", "100000000", "1000000000000000", "99999999", "9999999999999999"}) {
    lines.push_back(std::string("{\"i\":") + ok + "}");
    expected.push_back(std::string("{\"i\":") + (std::string(ok) == "-0" ? "0" : ok) + "}");
  }
  auto out = ParseLines({{"i", "int64"}}, lines);
  EXPECT_EQ(out->RowsAsJson(), expected);
  EXPECT_TRUE(out->dead_letters.empty());

  auto bad =
      ParseLines({{"i", "int64"}}, {R"({"i":00})", R"({"i":-01})", R"({"i":1-2})", R"({"i":12a})",
                                    R"({"i":123456789x})", R"({"i":--1})", R"({"i":1.5e})",
                                    R"({"i":0x10})", R"({"i":12345678901234567/})"});
  EXPECT_EQ(Reasons(*bad), std::vector<std::string>(9, "malformed"));
}

TEST(JsonParseTest, NestedPathsAndRenames) {
  const std::string line =
      R"({"id":1,"user":{"name":"ann","geo":{"lat":1.5,"lon":-2},"id":"u1"},"tags":[1,{"a":2}]})";
  auto out =
      ParseLines({{"user.id", "string"}, {"user.geo.lat", "double"}, {"id", "int64"}}, {line});
  EXPECT_EQ(out->RowsAsJson(),
            (std::vector<std::string>{"{\"user.id\":\"u1\",\"user.geo.lat\":1.5,\"id\":1}"}));

  Param list = Param::List({
      Param::Map({{"name", Str("uid")}, {"path", Str("user.id")}, {"type", Str("string")}}),
      Param::Map({{"name", Str("lon")}, {"path", Str("user.geo.lon")}, {"type", Str("int64")}}),
      Param::Map({{"name", Str("id")}}),  // path = name, type = string: 1 is a bad type
  });
  auto op = Make(Param::Map({{"fields", list}}));
  ASSERT_STATUS_OK(op);
  EXPECT_EQ((*op)->output_schema()->ToString(), "uid:string, lon:int64, id:string");
  TestCollector out2;
  ASSERT_STATUS_OK((*op)->Process(0, LinesBatch({line, R"({"id":"x","user":{"id":"u2"}})"}), out2));
  EXPECT_EQ(out2.RowsAsJson(),
            (std::vector<std::string>{"{\"uid\":\"u2\",\"lon\":null,\"id\":\"x\"}"}));
  EXPECT_EQ(Reasons(out2), (std::vector<std::string>{"bad_type"}));
}

TEST(JsonParseTest, MissingFieldsBecomeNull) {
  auto out = ParseLines(
      {{"a", "string"}, {"b.c", "int64"}, {"d", "bool"}},
      {R"({})", R"({"a":"x","b":{}})", R"({"b":null,"d":null})", R"({"b":{"c":3},"d":true})"});
  EXPECT_EQ(out->RowsAsJson(),
            (std::vector<std::string>{
                "{\"a\":null,\"b.c\":null,\"d\":null}", "{\"a\":\"x\",\"b.c\":null,\"d\":null}",
                "{\"a\":null,\"b.c\":null,\"d\":null}", "{\"a\":null,\"b.c\":3,\"d\":true}"}));
  EXPECT_TRUE(out->dead_letters.empty());
  EXPECT_EQ(out->batches[0]->column(1).nulls, (std::vector<uint8_t>{1, 1, 1, 0}));
}

TEST(JsonParseTest, MissingFieldsAsDeadLetters) {
  auto out = ParseLines({{"a", "string"}, {"b.c", "int64"}},
                        {R"({"a":"x"})", R"({"a":"x","b":{"c":1}})", R"({"b":{"c":2}})",
                         R"({"a":null,"b":{"c":null}})", R"({"a":"y","b":null})"},
                        {{"on_missing", Str("dead_letter")}});
  // An explicit null is a value, not a missing field; a null parent hides its children.
  EXPECT_EQ(out->RowsAsJson(),
            (std::vector<std::string>{"{\"a\":\"x\",\"b.c\":1}", "{\"a\":null,\"b.c\":null}"}));
  EXPECT_EQ(Reasons(*out),
            (std::vector<std::string>{"missing_field", "missing_field", "missing_field"}));
  EXPECT_EQ(out->dead_letters[0].record, R"({"a":"x"})");
  EXPECT_EQ(out->dead_letters[2].record, R"({"a":"y","b":null})");
}

TEST(JsonParseTest, WrongTypes) {
  auto out = ParseLines(
      {{"s", "string"}, {"i", "int64"}, {"b", "bool"}, {"n.x", "double"}},
      {R"({"s":5})", R"({"s":{"a":1}})", R"({"s":["a"]})", R"({"s":true})", R"({"i":1.5})",
       R"({"i":"abc"})", R"({"i":"12 "})", R"({"i":""})", R"({"i":true})", R"({"i":[1]})",
       R"({"b":"true"})", R"({"b":1})", R"({"n":"str"})", R"({"n":[1]})", R"({"n":{"x":"1.5x"}})",
       R"({"n":{"x":"nan"}})", R"({"n":{"x":"1.5"}})"});
  EXPECT_EQ(out->RowsAsJson(),
            (std::vector<std::string>{"{\"s\":null,\"i\":null,\"b\":null,\"n.x\":1.5}"}));
  EXPECT_EQ(Reasons(*out), std::vector<std::string>(16, "bad_type"));
  EXPECT_EQ(out->dead_letters[4].record, R"({"i":1.5})");
}

TEST(JsonParseTest, EscapedStringsAreUnescapedAndCopied) {
  auto op = Make(Param::Map({{"fields", Types({{"s", "string"}, {"k", "string"}})}}));
  ASSERT_STATUS_OK(op);
  TestCollector out;
  {
    BatchPtr in = LinesBatch({R"({"s":"a\"b\\c\u00e9\n\/\ud83d\ude00","k":"plain é"})",
                              R"({"k":"tab\there","s":"\u0000"})"});
    ASSERT_STATUS_OK((*op)->Process(0, std::move(in), out));
  }
  ASSERT_EQ(out.batches.size(), 1u);
  const Column& s = out.batches[0]->column(0);
  const Column& k = out.batches[0]->column(1);
  EXPECT_EQ(s.strings[0], "a\"b\\c\xc3\xa9\n/\xf0\x9f\x98\x80");
  EXPECT_EQ(k.strings[0], "plain \xc3\xa9");
  EXPECT_EQ(k.strings[1], "tab\there");
  EXPECT_EQ(s.strings[1], std::string_view("\0", 1));
}

TEST(JsonParseTest, EscapedKeysMatch) {
  auto out =
      ParseLines({{"ad_id", "string"}, {"q\"k", "int64"}}, {R"({"ad\u005fid":"x","q\"k":7})"});
  EXPECT_EQ(out->RowsAsJson(), (std::vector<std::string>{"{\"ad_id\":\"x\",\"q\\\"k\":7}"}));
  // Nested; and after the fast path found some fields but not all.
  auto nested = ParseLines({{"user.id", "string"}, {"n", "int64"}},
                           {R"({"n":1,"u\u0073er":{"i\u0064":"a\/b"}})",
                            R"({"us\u0065r":{"id":"x"},"n":2})", R"({"n":3,"user":{"id":"\\"}})"});
  EXPECT_EQ(nested->RowsAsJson(), (std::vector<std::string>{"{\"user.id\":\"a/b\",\"n\":1}",
                                                            "{\"user.id\":\"x\",\"n\":2}",
                                                            "{\"user.id\":\"\\\\\",\"n\":3}"}));
}

TEST(JsonParseTest, RepeatedKeys) {
  // Which of the values of a repeated key is used is unspecified; in document order it
  // is the first, and a repeated object is not merged.
  auto out = ParseLines({{"a", "int64"}, {"o.b", "int64"}, {"o.c", "int64"}},
                        {R"({"a":1,"a":2,"o":{"b":1},"o":{"b":2,"c":3}})", R"({"a":1,"a":"x"})"});
  EXPECT_EQ(out->RowsAsJson(), (std::vector<std::string>{"{\"a\":1,\"o.b\":1,\"o.c\":null}",
                                                         "{\"a\":1,\"o.b\":null,\"o.c\":null}"}));
}

TEST(JsonParseTest, FieldsInAnyOrder) {
  // Keys are looked up in the order of the previous line, whatever the config order.
  auto out =
      ParseLines({{"c", "int64"}, {"a", "int64"}, {"b", "int64"}},
                 {R"({"a":1,"b":2,"c":3})", R"({"a":4,"b":5,"c":6})", R"({"c":7,"b":8,"a":9})",
                  R"({"b":10,"x":0,"a":11})", R"({"a":12,"b":13,"c":14})"});
  EXPECT_EQ(out->RowsAsJson(),
            (std::vector<std::string>{"{\"c\":3,\"a\":1,\"b\":2}", "{\"c\":6,\"a\":4,\"b\":5}",
                                      "{\"c\":7,\"a\":9,\"b\":8}", "{\"c\":null,\"a\":11,\"b\":10}",
                                      "{\"c\":14,\"a\":12,\"b\":13}"}));
}

TEST(JsonParseTest, MalformedAndNonObjectLines) {
  const std::vector<std::string> bad = {
      "",
      "   ",
      "not json",
      R"({"a":1)",
      R"({"a":)",
      R"({"a":})",
      R"({"a" 1})",
      R"({"a":1,,"b":2})",
      R"({"a":1 "b":2})",
      R"({'a':1})",
      R"({"a":1}})",
      R"({"a":1} x)",
      R"({"a":1}{"a":2})",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":-})",
      R"({"b":tru})",
      R"({"s":"x\u12"})",
      R"({"s":"x\q"})",
      R"({"s":"abc)",
      "{\"s\":\"\xff\xfe\"}",
      std::string("{\"s\":\"a\0b\"}", 11),
      std::string("{\"a\":1}\0", 8),
      R"([1,2])",
      R"(42)",
      R"("str")",
      R"(null)",
      R"(true)",
  };
  auto out = ParseLines({{"a", "int64"}, {"b", "bool"}, {"s", "string"}}, bad);
  EXPECT_TRUE(out->batches.empty());
  EXPECT_EQ(Reasons(*out), std::vector<std::string>(bad.size(), "malformed"));
  for (size_t i = 0; i < bad.size(); ++i) EXPECT_EQ(out->dead_letters[i].record, bad[i]) << i;
}

TEST(JsonParseTest, DeepNesting) {
  // A wanted field 40 levels down.
  std::string path = "k";
  std::string line = "1";
  for (int i = 0; i < 40; ++i) line = "{\"k\":" + line + ",\"x\":[[[]]]}";
  for (int i = 1; i < 40; ++i) path += ".k";
  auto out = ParseLines({{path, "int64"}}, {line});
  ASSERT_EQ(out->num_rows(), 1u);
  EXPECT_EQ(out->batches[0]->column(0).ints[0], 1);

  // Unwanted values are skipped without recursion, however deep; unbalanced ones are
  // malformed.
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  auto out2 = ParseLines(
      {{"a", "int64"}}, {"{\"x\":" + deep + ",\"a\":2}", "{\"x\":" + deep + "],\"a\":2}",
                         "{\"x\":" + deep.substr(0, 9000) + ",\"a\":2}", std::string(100000, '{')});
  EXPECT_EQ(out2->RowsAsJson(), (std::vector<std::string>{"{\"a\":2}"}));
  EXPECT_EQ(Reasons(*out2), (std::vector<std::string>{"malformed", "malformed", "malformed"}));
}

TEST(JsonParseTest, LongLinesAndManyFields) {
  std::vector<std::pair<std::string, std::string>> fields;
  std::string line = "{\"big\":\"" + std::string(1 << 20, 'x') + "\"";
  for (int i = 0; i < 12; ++i) {
    fields.emplace_back("f" + std::to_string(i), "int64");
    line += ",\"f" + std::to_string(11 - i) + "\":" + std::to_string(11 - i);
  }
  line += "}";
  fields.emplace_back("big", "string");
  auto out = ParseLines(fields, {line, R"({"f3":3})"});
  ASSERT_EQ(out->num_rows(), 2u);
  const RecordBatch& b = *out->batches[0];
  for (int i = 0; i < 12; ++i) EXPECT_EQ(b.column(i).ints[0], i);
  EXPECT_EQ(b.column(12).strings[0].size(), 1u << 20);
  EXPECT_EQ(out->RowsAsJson()[1],
            "{\"f0\":null,\"f1\":null,\"f2\":null,\"f3\":3,\"f4\":null,\"f5\":null,\"f6\":null,"
            "\"f7\":null,\"f8\":null,\"f9\":null,\"f10\":null,\"f11\":null,\"big\":null}");
}

TEST(JsonParseTest, KeepCarriesInputFieldsFirst) {
  auto schema = MakeSchema({{"n", Type::kInt64}, {"line", Type::kString}, {"src", Type::kString}});
  auto op = Make(Param::Map({{"keep", Param::List({Str("src"), Str("n")})},
                             {"fields", Types({{"a", "int64"}})}}),
                 schema);
  ASSERT_STATUS_OK(op);
  EXPECT_EQ((*op)->output_schema()->ToString(), "src:string, n:int64, a:int64");
  TestCollector out;
  ASSERT_STATUS_OK(
      (*op)->Process(0,
                     BatchOf(schema,
                             {{int64_t{1}, std::string("{\"a\":1}"), std::string("x")},
                              {int64_t{2}, std::string("bad"), std::string("y")},
                              {std::monostate(), std::string("{\"a\":3}"), std::monostate()}},
                             {10, 20, 30}),
                     out));
  EXPECT_EQ(out.RowsAsJson(), (std::vector<std::string>{"{\"src\":\"x\",\"n\":1,\"a\":1}",
                                                        "{\"src\":null,\"n\":null,\"a\":3}"}));
  EXPECT_EQ(out.batches[0]->timestamps(), (std::vector<int64_t>{10, 30}));
  EXPECT_EQ(out.dead_letters.size(), 1u);
}

TEST(JsonParseTest, ParserStateDoesNotLeakBetweenLines) {
  auto out = ParseLines({{"a", "string"}, {"b", "int64"}},
                        {R"({"a":"long string value here","b":1})", R"({"b":2})", R"({"a":"s"})"});
  EXPECT_EQ(out->RowsAsJson(),
            (std::vector<std::string>{"{\"a\":\"long string value here\",\"b\":1}",
                                      "{\"a\":null,\"b\":2}", "{\"a\":\"s\",\"b\":null}"}));
}

TEST(JsonParseTest, LinesEndingAtAPageEnd) {
  // Lines that end right before an unreadable page must be parsed from a padded copy:
  // simdjson reads past the end of what it parses. (Output strings stay views into the
  // lines, so each line gets its own mapping.)
  const size_t page = 4096;
  auto op = Make(Param::Map({{"fields", Types({{"s", "string"}, {"i", "int64"}})}}));
  ASSERT_STATUS_OK(op);
  TestCollector out;
  const std::vector<std::string> lines = {R"({"s":"abc","i":12345})", R"({"i":7,"s":"x\ty"})",
                                          R"({"s":"v"})", "{\"i\":1"};
  std::vector<char*> mappings;
  for (size_t gap : {0, 1, 10, 63, 64, 65}) {
    for (const std::string& line : lines) {
      char* mem = static_cast<char*>(
          mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      ASSERT_NE(mem, MAP_FAILED);
      ASSERT_EQ(mprotect(mem + page, page, PROT_NONE), 0);
      mappings.push_back(mem);
      char* start = mem + page - gap - line.size();
      std::memcpy(start, line.data(), line.size());
      auto batch = std::make_unique<RecordBatch>(MakeSchema({{"line", Type::kString}}));
      batch->column(0).strings.emplace_back(start, line.size());
      batch->timestamps().push_back(kNoTimestamp);
      batch->set_num_rows(1);
      ASSERT_STATUS_OK((*op)->Process(0, std::move(batch), out));
    }
  }
  std::vector<std::string> expected;
  for (int i = 0; i < 6; ++i) {
    expected.push_back("{\"s\":\"abc\",\"i\":12345}");
    expected.push_back("{\"s\":\"x\\ty\",\"i\":7}");
    expected.push_back("{\"s\":\"v\",\"i\":null}");
  }
  EXPECT_EQ(out.RowsAsJson(), expected);
  EXPECT_EQ(Reasons(out), std::vector<std::string>(6, "malformed"));
  out.batches.clear();
  for (char* mem : mappings) munmap(mem, 2 * page);
}

TEST(JsonParseTest, ConfigErrorsAreLocated) {
  auto unknown_type = Make(Param::Map({{"fields", Types({{"a", "string"}, {"b", "integer"}})}}));
  ASSERT_FALSE(unknown_type.ok());
  EXPECT_EQ(unknown_type.status().message(),
            "job.yaml:9: nodes[2].params.fields.b: unknown type 'integer'; expected string, "
            "int64, double, bool or timestamp");

  auto missing = Make(Param::Map());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "job.yaml:9: nodes[2].params.fields: required parameter is missing");

  auto conflict =
      Make(Param::Map({{"fields", Types({{"user", "string"}, {"user.id", "string"}})}}));
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().message(),
            "job.yaml:9: nodes[2].params.fields.user.id: path 'user.id' conflicts with field "
            "'user' (path 'user'): a JSON value can be extracted only once");

  auto parent = Make(Param::Map({{"fields", Types({{"user.id", "string"}, {"user", "string"}})}}));
  ASSERT_FALSE(parent.ok());
  EXPECT_NE(parent.status().message().find("path 'user' is also the parent object"),
            std::string::npos);

  auto empty_key = Make(Param::Map({{"fields", Types({{"a..b", "string"}})}}));
  ASSERT_FALSE(empty_key.ok());
  EXPECT_NE(empty_key.status().message().find("bad path 'a..b': empty key"), std::string::npos);

  Param dup =
      Param::List({Param::Map({{"name", Str("x")}, {"path", Str("a")}}),
                   Param::Map({{"name", Str("x")}, {"path", Str("b")}, {"type", Str("int")}})});
  auto twice = Make(Param::Map({{"fields", dup}}));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message(),
            "job.yaml:9: nodes[2].params.fields[1]: output field 'x' is defined twice");

  Param bad_item = Param::List({Param::Map({{"name", Str("x")}, {"as", Str("y")}})});
  auto unknown_key = Make(Param::Map({{"fields", bad_item}}));
  ASSERT_FALSE(unknown_key.ok());
  EXPECT_NE(unknown_key.status().message().find("fields[0].as: unknown parameter 'as'"),
            std::string::npos);

  auto on_missing =
      Make(Param::Map({{"fields", Types({{"a", "string"}})}, {"on_missing", Str("skip")}}));
  ASSERT_FALSE(on_missing.ok());
  EXPECT_EQ(on_missing.status().message(),
            "job.yaml:9: nodes[2].params.on_missing: unknown value 'skip'; expected null or "
            "dead_letter");

  auto keep =
      Make(Param::Map({{"fields", Types({{"a", "string"}})}, {"keep", Param::List({Str("src")})}}));
  ASSERT_FALSE(keep.ok());
  EXPECT_EQ(
      keep.status().message(),
      "job.yaml:9: nodes[2].params.keep[0]: input has no field 'src' (input fields: line:string)");

  auto clash = Make(
      Param::Map({{"fields", Types({{"line", "string"}})}, {"keep", Param::List({Str("line")})}}));
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("output field 'line' is defined twice"),
            std::string::npos);

  auto no_input = Make(Param::Map({{"fields", Types({{"a", "string"}})}, {"field", Str("msg")}}));
  ASSERT_FALSE(no_input.ok());
  EXPECT_EQ(
      no_input.status().message(),
      "job.yaml:9: nodes[2].params.field: input has no field 'msg' (input fields: line:string)");

  auto null_type = Make(Param::Map({{"fields", Types({{"a", "null"}})}}));
  ASSERT_FALSE(null_type.ok());
}

}  // namespace
}  // namespace sluice::operators::parse
