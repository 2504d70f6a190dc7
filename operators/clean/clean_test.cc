#include "operators/clean/clean.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "operators/clean/register.h"
#include "operators/testing/operator_harness.h"

// Copies the status: common/testing's ASSERT_OK binds a reference to a temporary Status
// (GetStatus returns a reference into it), which dangles when given a call's result.
#define ASSERT_STATUS_OK(expr)                                        \
  do {                                                                \
    const absl::Status _status = ::sluice::internal::GetStatus(expr); \
    ASSERT_TRUE(_status.ok()) << _status;                             \
  } while (0)

namespace sluice::operators::clean {
namespace {

using ::sluice::testing::BatchOf;
using ::sluice::testing::MakeSchema;
using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;
using ::sluice::testing::Value;

Param Str(std::string s) { return Param::String(std::move(s)); }
Param Num(double v) { return Param::Number(v); }
Param List(std::vector<std::string> items) {
  std::vector<Param> out;
  for (auto& s : items) out.push_back(Str(std::move(s)));
  return Param::List(std::move(out));
}
Param Rule(std::string reason, std::string kind, Param body) {
  return Param::Map({{"reason", Str(std::move(reason))}, {std::move(kind), std::move(body)}});
}

const SchemaPtr& LogSchema() {
  static const SchemaPtr schema = MakeSchema({{"ip", Type::kString},
                                              {"method", Type::kString},
                                              {"path", Type::kString},
                                              {"status", Type::kInt64},
                                              {"latency", Type::kDouble},
                                              {"ua", Type::kString}});
  return schema;
}

absl::StatusOr<std::unique_ptr<Operator>> Make(std::vector<Param> rules,
                                               SchemaPtr schema = LogSchema()) {
  static std::vector<std::unique_ptr<Param>> keep_alive;
  Param params = Param::Map({{"rules", Param::List(std::move(rules))}});
  params.SetLocation("job.yaml", 12, "nodes[3].params");
  keep_alive.push_back(std::make_unique<Param>(std::move(params)));
  OperatorConfig config;
  config.node_id = "clean";
  config.params = keep_alive.back().get();
  config.input_schemas = {schema};
  return CreateClean(config);
}

std::vector<Value> Row(Value ip, Value method, Value path, Value status, Value latency, Value ua) {
  return {ip, method, path, status, latency, ua};
}

struct Result {
  std::vector<std::string> kept;     // rows as JSON
  std::vector<std::string> reasons;  // dead letters, in row order
  std::unique_ptr<TestCollector> out;
  TestContext ctx;
};

// Runs `rules` over `rows`.
std::unique_ptr<Result> RunRules(std::vector<Param> rules,
                                 const std::vector<std::vector<Value>>& rows) {
  auto result = std::make_unique<Result>();
  result->out = std::make_unique<TestCollector>();
  auto op = Make(std::move(rules));
  EXPECT_TRUE(op.ok()) << op.status();
  if (!op.ok()) return result;
  EXPECT_TRUE((*op)->Open(result->ctx).ok());
  EXPECT_TRUE((*op)->Process(0, BatchOf(LogSchema(), rows), *result->out).ok());
  result->kept = result->out->RowsAsJson();
  for (const auto& d : result->out->dead_letters) result->reasons.push_back(d.reason);
  return result;
}

const std::string kS = "x";  // a filler string value

TEST(CleanTest, Required) {
  auto r = RunRules({Rule("missing", "required", List({"ip", "ua"}))},
                    {Row(std::string("1.1.1.1"), kS, kS, int64_t{200}, 1.0, std::string("ua")),
                     Row(std::monostate(), kS, kS, int64_t{200}, 1.0, std::string("ua")),
                     Row(std::string("2.2.2.2"), kS, kS, int64_t{200}, 1.0, std::string("")),
                     Row(std::string(""), kS, kS, int64_t{200}, 1.0, std::monostate())});
  EXPECT_EQ(r->reasons, (std::vector<std::string>{"missing", "missing", "missing"}));
  ASSERT_EQ(r->kept.size(), 1u);
  EXPECT_EQ(r->kept[0],
            "{\"ip\":\"1.1.1.1\",\"method\":\"x\",\"path\":\"x\",\"status\":200,\"latency\":1,"
            "\"ua\":\"ua\"}");
  EXPECT_EQ(
      r->out->dead_letters[0].record,
      "{\"ip\":null,\"method\":\"x\",\"path\":\"x\",\"status\":200,\"latency\":1,\"ua\":\"ua\"}");
  EXPECT_EQ(r->ctx.counter("dropped_missing"), 3);

  // A non-string field is only required to be non-null.
  auto r2 =
      RunRules({Rule("missing", "required", List({"status"}))},
               {Row(kS, kS, kS, int64_t{0}, 1.0, kS), Row(kS, kS, kS, std::monostate(), 1.0, kS)});
  EXPECT_EQ(r2->reasons, (std::vector<std::string>{"missing"}));
  EXPECT_EQ(r2->kept.size(), 1u);
}

TEST(CleanTest, MatchAndNotMatch) {
  Param match = Param::Map({{"field", Str("ua")}, {"regex", Str("(?i)bot|spider|crawl")}});
  Param not_match = Param::Map({{"field", Str("path")}, {"regex", Str("^/")}});
  auto r =
      RunRules({Rule("bot", "match", match), Rule("bad_path", "not_match", not_match)},
               {Row(kS, kS, std::string("/a"), int64_t{200}, 1.0, std::string("Googlebot/2.1")),
                Row(kS, kS, std::string("/b"), int64_t{200}, 1.0, std::string("Mozilla/5.0")),
                Row(kS, kS, std::string("c"), int64_t{200}, 1.0, std::string("Mozilla/5.0")),
                Row(kS, kS, std::monostate(), int64_t{200}, 1.0, std::monostate()),
                Row(kS, kS, std::string("/d"), int64_t{200}, 1.0, std::string("WebCRAWLER"))});
  EXPECT_EQ(r->reasons, (std::vector<std::string>{"bot", "bad_path", "bad_path", "bot"}));
  ASSERT_EQ(r->kept.size(), 1u);
  EXPECT_NE(r->kept[0].find("\"path\":\"/b\""), std::string::npos);
}

TEST(CleanTest, Range) {
  auto r =
      RunRules({Rule("status", "range",
                     Param::Map({{"field", Str("status")}, {"min", Num(200)}, {"max", Num(399)}}))},
               {Row(kS, kS, kS, int64_t{199}, 0.0, kS), Row(kS, kS, kS, int64_t{200}, 0.0, kS),
                Row(kS, kS, kS, int64_t{399}, 0.0, kS), Row(kS, kS, kS, int64_t{400}, 0.0, kS),
                Row(kS, kS, kS, std::monostate(), 0.0, kS)});
  EXPECT_EQ(r->reasons, (std::vector<std::string>{"status", "status", "status"}));
  EXPECT_NE(r->out->dead_letters[0].record.find("\"status\":199"), std::string::npos);
  ASSERT_EQ(r->kept.size(), 2u);
  EXPECT_NE(r->kept[0].find("\"status\":200"), std::string::npos);
  EXPECT_NE(r->kept[1].find("\"status\":399"), std::string::npos);

  // One bound only, fractional bounds on an integer field, and a double field.
  auto r2 = RunRules(
      {Rule("slow", "range", Param::Map({{"field", Str("latency")}, {"max", Num(2.5)}})),
       Rule("small", "range", Param::Map({{"field", Str("status")}, {"min", Num(1.5)}}))},
      {Row(kS, kS, kS, int64_t{1}, 2.5, kS), Row(kS, kS, kS, int64_t{2}, 2.5, kS),
       Row(kS, kS, kS, int64_t{2}, 2.51, kS), Row(kS, kS, kS, int64_t{2}, std::monostate(), kS)});
  EXPECT_EQ(r2->reasons, (std::vector<std::string>{"small", "slow", "slow"}));
  EXPECT_EQ(r2->kept.size(), 1u);
}

TEST(CleanTest, In) {
  auto r = RunRules(
      {Rule("method", "in",
            Param::Map({{"field", Str("method")}, {"values", List({"GET", "POST"})}})),
       Rule("status", "in",
            Param::Map({{"field", Str("status")}, {"values", Param::List({Num(200), Num(304)})}}))},
      {Row(kS, std::string("GET"), kS, int64_t{200}, 0.0, kS),
       Row(kS, std::string("get"), kS, int64_t{200}, 0.0, kS),
       Row(kS, std::string("POST"), kS, int64_t{404}, 0.0, kS),
       Row(kS, std::monostate(), kS, int64_t{304}, 0.0, kS),
       Row(kS, std::string("POST"), kS, int64_t{304}, 0.0, kS)});
  EXPECT_EQ(r->reasons, (std::vector<std::string>{"method", "status", "method"}));
  ASSERT_EQ(r->kept.size(), 2u);
  EXPECT_NE(r->kept[0].find("\"method\":\"GET\",\"path\":\"x\",\"status\":200"), std::string::npos);
  EXPECT_NE(r->kept[1].find("\"method\":\"POST\",\"path\":\"x\",\"status\":304"),
            std::string::npos);
}

TEST(CleanTest, StaticAssetDefaults) {
  const std::vector<std::string> statics = {
      "/static/page",     "/static/",         "/favicon.ico", "/assets/app.JS", "/assets/theme.Css",
      "/images/hero.JPG", "/download/app.js", "/a.css.map",   "/img/logo.PNG",  "/f/inter.woff2",
      "/x.jpeg",          "/x.gif",           "/x.svg",       "/x.woff"};
  const std::vector<std::string> pages = {"/",       "/static",   "/item/42", "/css",
                                          "/a.json", "/x.woff3",  "/jsx",     "/STATIC/a",
                                          "/a.cssx", "/.htaccess"};
  std::vector<std::vector<Value>> rows;
  for (const auto& p : statics) rows.push_back(Row(kS, kS, p, int64_t{200}, 0.0, kS));
  for (const auto& p : pages) rows.push_back(Row(kS, kS, p, int64_t{200}, 0.0, kS));
  rows.push_back(Row(kS, kS, std::monostate(), int64_t{200}, 0.0, kS));
  auto r = RunRules({Rule("static", "static_asset", Param::Map({{"field", Str("path")}}))}, rows);
  EXPECT_EQ(r->reasons, std::vector<std::string>(statics.size(), "static"));
  ASSERT_EQ(r->kept.size(), pages.size() + 1);
  for (size_t i = 0; i < pages.size(); ++i) {
    EXPECT_NE(r->kept[i].find("\"path\":\"" + pages[i] + "\""), std::string::npos) << pages[i];
  }
}

TEST(CleanTest, StaticAssetCustomLists) {
  auto r = RunRules({Rule("static", "static_asset",
                          Param::Map({{"field", Str("path")},
                                      {"prefixes", List({"/assets/", "/cdn"})},
                                      {"extensions", List({".PDF", "txt"})}}))},
                    {Row(kS, kS, std::string("/assets/x"), int64_t{200}, 0.0, kS),
                     Row(kS, kS, std::string("/cdnjs/x"), int64_t{200}, 0.0, kS),
                     Row(kS, kS, std::string("/doc.pdf"), int64_t{200}, 0.0, kS),
                     Row(kS, kS, std::string("/robots.TXT"), int64_t{200}, 0.0, kS),
                     Row(kS, kS, std::string("/static/app.js"), int64_t{200}, 0.0, kS)});
  EXPECT_EQ(r->reasons, (std::vector<std::string>{"static", "static", "static", "static"}));
  ASSERT_EQ(r->kept.size(), 1u);
  EXPECT_NE(r->kept[0].find("/static/app.js"), std::string::npos);
}

TEST(CleanTest, BotWords) {
  const std::vector<std::string> bots = {
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      "BINGBOT",
      "Baiduspider",
      "SomeCrawler/1.0",
      "crawl",
      "xSpIdEr"};
  const std::vector<std::string> humans = {
      "Mozilla/5.0 (Windows NT 10.0)", "", "bo", "spide", "cr awl", "robo t"};
  std::vector<std::vector<Value>> rows;
  for (const auto& ua : bots) rows.push_back(Row(kS, kS, kS, int64_t{200}, 0.0, ua));
  for (const auto& ua : humans) rows.push_back(Row(kS, kS, kS, int64_t{200}, 0.0, ua));
  rows.push_back(Row(kS, kS, kS, int64_t{200}, 0.0, std::monostate()));
  auto r = RunRules({Rule("bot", "bot", Param::Map({{"field", Str("ua")}}))}, rows);
  EXPECT_EQ(r->reasons, std::vector<std::string>(bots.size(), "bot"));
  EXPECT_EQ(r->kept.size(), humans.size() + 1);

  auto r2 =
      RunRules({Rule("tool", "bot",
                     Param::Map({{"field", Str("ua")}, {"words", List({"CURL", "wget", "w"})}}))},
               {Row(kS, kS, kS, int64_t{200}, 0.0, std::string("curl/8.1")),
                Row(kS, kS, kS, int64_t{200}, 0.0, std::string("Googlebot")),
                Row(kS, kS, kS, int64_t{200}, 0.0, std::string("W"))});
  EXPECT_EQ(r2->reasons, (std::vector<std::string>{"tool", "tool"}));
  ASSERT_EQ(r2->kept.size(), 1u);
  EXPECT_NE(r2->kept[0].find("Googlebot"), std::string::npos);
}

TEST(CleanTest, FirstRejectingRuleNamesTheReason) {
  // Row 0 fails both rules, row 1 only the second, row 2 only the first.
  const std::vector<std::vector<Value>> rows = {
      Row(kS, std::string("PUT"), std::string("/static/a.css"), int64_t{200}, 0.0, kS),
      Row(kS, std::string("GET"), std::string("/static/a.css"), int64_t{200}, 0.0, kS),
      Row(kS, std::string("PUT"), std::string("/item"), int64_t{200}, 0.0, kS),
      Row(kS, std::string("GET"), std::string("/item"), int64_t{200}, 0.0, kS)};
  Param in = Param::Map({{"field", Str("method")}, {"values", List({"GET"})}});
  Param asset = Param::Map({{"field", Str("path")}});
  auto r = RunRules({Rule("method", "in", in), Rule("static", "static_asset", asset)}, rows);
  EXPECT_EQ(r->reasons, (std::vector<std::string>{"method", "static", "method"}));
  EXPECT_EQ(r->ctx.counter("dropped_method"), 2);
  EXPECT_EQ(r->ctx.counter("dropped_static"), 1);
  auto r2 = RunRules({Rule("static", "static_asset", asset), Rule("method", "in", in)}, rows);
  EXPECT_EQ(r2->reasons, (std::vector<std::string>{"static", "static", "method"}));
  EXPECT_EQ(r2->kept, r->kept);
  ASSERT_EQ(r->kept.size(), 1u);
  EXPECT_NE(r->kept[0].find("\"method\":\"GET\",\"path\":\"/item\""), std::string::npos);

  // Two rules with one reason share a counter.
  auto r3 = RunRules({Rule("junk", "in", in), Rule("junk", "static_asset", asset)}, rows);
  EXPECT_EQ(r3->reasons, (std::vector<std::string>{"junk", "junk", "junk"}));
  EXPECT_EQ(r3->ctx.counter("dropped_junk"), 3);
}

TEST(CleanTest, PassesTheSameBatchThrough) {
  auto op = Make({Rule("bot", "bot", Param::Map({{"field", Str("ua")}}))});
  ASSERT_STATUS_OK(op);
  EXPECT_TRUE((*op)->output_schema()->Equals(*LogSchema()));
  TestContext ctx;
  TestCollector out;
  ASSERT_STATUS_OK((*op)->Open(ctx));
  BatchPtr batch = BatchOf(LogSchema(),
                           {Row(kS, kS, kS, int64_t{1}, 0.0, std::string("human")),
                            Row(kS, kS, kS, int64_t{2}, 0.0, std::string("a bot")),
                            Row(kS, kS, kS, int64_t{3}, 0.0, std::string("human"))},
                           {100, 200, 300});
  const RecordBatch* original = batch.get();
  ASSERT_STATUS_OK((*op)->Process(0, std::move(batch), out));
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0].get(), original);
  EXPECT_EQ(out.batches[0]->num_rows(), 2u);
  EXPECT_EQ(out.batches[0]->column(3).ints, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(out.batches[0]->timestamps(), (std::vector<int64_t>{100, 300}));

  // A batch where every row is dropped emits nothing.
  ASSERT_STATUS_OK((*op)->Process(
      0, BatchOf(LogSchema(), {Row(kS, kS, kS, int64_t{1}, 0.0, std::string("bot"))}), out));
  EXPECT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(ctx.counter("dropped_bot"), 2);
}

TEST(CleanTest, BadRegexErrorNamesItsLocation) {
  Param regex = Str("(unclosed");
  regex.SetOwnLocation("", 17, "");
  auto op = Make({Rule("ok", "required", List({"ip"})),
                  Rule("bot", "match", Param::Map({{"field", Str("ua")}, {"regex", regex}}))});
  ASSERT_FALSE(op.ok());
  EXPECT_EQ(op.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(op.status().message(),
            "job.yaml:17: nodes[3].params.rules[1].match.regex: bad regex '(unclosed': missing ): "
            "(unclosed");
}

TEST(CleanTest, ConfigErrorsAreLocated) {
  auto message = [](std::vector<Param> rules, SchemaPtr schema = LogSchema()) {
    auto op = Make(std::move(rules), std::move(schema));
    return op.ok() ? std::string("OK") : std::string(op.status().message());
  };
  EXPECT_EQ(message({Rule("bot", "bot", Param::Map({{"field", Str("agent")}}))}),
            "job.yaml:12: nodes[3].params.rules[0].bot.field: input has no field 'agent' (input "
            "fields: ip:string, method:string, path:string, status:int64, latency:double, "
            "ua:string)");
  EXPECT_EQ(message({Rule("m", "required", List({"ip", "nope"}))}),
            "job.yaml:12: nodes[3].params.rules[0].required[1]: input has no field 'nope' (input "
            "fields: ip:string, method:string, path:string, status:int64, latency:double, "
            "ua:string)");
  EXPECT_EQ(
      message({Rule("s", "match", Param::Map({{"field", Str("status")}, {"regex", Str("2..")}}))}),
      "job.yaml:12: nodes[3].params.rules[0].match.field: field 'status' is int64; match "
      "needs string");
  EXPECT_EQ(message({Rule("r", "range", Param::Map({{"field", Str("ua")}, {"min", Num(1)}}))}),
            "job.yaml:12: nodes[3].params.rules[0].range.field: field 'ua' is string; range needs "
            "int64 or timestamp or double");
  EXPECT_EQ(message({Rule("r", "range", Param::Map({{"field", Str("status")}}))}),
            "job.yaml:12: nodes[3].params.rules[0].range: range needs min, max or both");
  EXPECT_EQ(
      message({Rule("r", "range", Param::Map({{"field", Str("status")}, {"min", Str("low")}}))}),
      "job.yaml:12: nodes[3].params.rules[0].range.min: expected a number, got 'low'");
  EXPECT_EQ(
      message({Rule("i", "in",
                    Param::Map({{"field", Str("status")}, {"values", List({"200", "OK"})}}))}),
      "job.yaml:12: nodes[3].params.rules[0].in.values[1]: expected an integer, got 'OK'");
  EXPECT_EQ(message({Param::Map({{"reason", Str("x")},
                                 {"bot", Param::Map({{"field", Str("ua")}})},
                                 {"required", List({"ip"})}})}),
            "job.yaml:12: nodes[3].params.rules[0].bot: a rule has exactly one check; this one "
            "has both required and bot");
  EXPECT_EQ(message({Param::Map({{"reason", Str("x")}})}),
            "job.yaml:12: nodes[3].params.rules[0]: a rule needs one check: required, match, "
            "not_match, range, in, static_asset or bot");
  EXPECT_EQ(message({Param::Map({{"bot", Param::Map({{"field", Str("ua")}})}})}),
            "job.yaml:12: nodes[3].params.rules[0].reason: required parameter is missing");
  EXPECT_EQ(message({Rule("b", "bot", Param::Map({{"field", Str("ua")}, {"word", List({"x"})}}))}),
            "job.yaml:12: nodes[3].params.rules[0].bot.word: unknown parameter 'word'; expected "
            "one of: field, words");
  EXPECT_EQ(
      message({Rule("b", "bot", Param::Map({{"field", Str("ua")}, {"words", Param::List()}}))}),
      "job.yaml:12: nodes[3].params.rules[0].bot.words: expected at least one word");
  EXPECT_EQ(message({Rule("b", "match", Param::Map({{"field", Str("ua")}}))}),
            "job.yaml:12: nodes[3].params.rules[0].match.regex: required parameter is missing");
  EXPECT_EQ(message({Param::Map({{"reason", Str("x")}, {"regex", Str("a")}})}).substr(0, 75),
            "job.yaml:12: nodes[3].params.rules[0].regex: unknown parameter 'regex'; exp");
  EXPECT_EQ(message({}), "job.yaml:12: nodes[3].params.rules: expected at least one rule");
}

// The per-value verdict memo must never change a verdict: values repeat across
// batches, and more distinct values arrive than the memo holds (it is cleared).
TEST(CleanTest, MemoizedVerdictsMatchAcrossBatchesAndEvictions) {
  auto op = Make({Rule("bot", "bot", Param::Map({{"field", Str("ua")}})),
                  Rule("regex", "match", Param::Map({{"field", Str("path")}, {"regex", Str("^/adm")}}))});
  ASSERT_TRUE(op.ok()) << op.status();
  TestContext ctx;
  ASSERT_TRUE((*op)->Open(ctx).ok());
  TestCollector out;
  int64_t expected_bots = 0, expected_regex = 0, expected_kept = 0;
  for (int b = 0; b < 40; ++b) {
    std::vector<std::vector<Value>> rows;
    for (int i = 0; i < 2000; ++i) {
      int v = (b * 2000 + i) % 70000;  // > 65536 distinct values overall, each seen twice or more
      bool bot = v % 3 == 0;
      bool admin = v % 5 == 0;
      std::string ua = (bot ? "Some-Crawler/" : "Mozilla/") + std::to_string(v);
      std::string path = (admin ? "/admin/" : "/item/") + std::to_string(v % 7);
      rows.push_back(Row(kS, kS, path, int64_t{200}, 1.0, ua));
      if (bot) ++expected_bots;
      else if (admin) ++expected_regex;
      else ++expected_kept;
    }
    ASSERT_TRUE((*op)->Process(0, BatchOf(LogSchema(), rows), out).ok());
  }
  EXPECT_EQ(static_cast<int64_t>(out.DeadLetters("bot")), expected_bots);
  EXPECT_EQ(static_cast<int64_t>(out.DeadLetters("regex")), expected_regex);
  EXPECT_EQ(static_cast<int64_t>(out.num_rows()), expected_kept);
}

TEST(CleanTest, Registered) {
  OperatorRegistry registry;
  ASSERT_STATUS_OK(RegisterCleanOperators(registry));
  EXPECT_NE(registry.FindOperator("clean"), nullptr);
}

}  // namespace
}  // namespace sluice::operators::clean
