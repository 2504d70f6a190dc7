#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>

#include "operators/basic/lookup_join.h"
#include "operators/basic/sinks.h"
#include "operators/basic/sources.h"
#include "operators/basic/throttle.h"
#include "operators/testing/operator_harness.h"
#include "sluice/clock.h"

namespace sluice::operators {
namespace {

using ::sluice::testing::BatchOf;
using ::sluice::testing::MakeSchema;
using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

Param Params(std::vector<std::pair<std::string, Param>> entries) {
  Param p = Param::Map(std::move(entries));
  p.SetLocation("t.yaml", 3, "operators[1]");
  return p;
}

TEST(LookupJoinTest, JoinsDropsAndDeadLetters) {
  std::string table = TempPath("ads.csv");
  std::ofstream(table) << "ad_id,campaign_id\na1,c1\na2,c2\n\"a,3\",c3\n";
  auto schema = MakeSchema({{"ad_id", Type::kString}, {"n", Type::kInt64}});
  for (std::string mode : {"dead_letter", "drop", "null"}) {
    Param p = Params({{"table", Param::String(table)}, {"key", Param::String("ad_id")},
                      {"on_miss", Param::String(mode)}});
    OperatorConfig config;
    config.params = &p;
    config.input_schemas = {schema};
    auto op = MakeLookupJoin(config);
    ASSERT_TRUE(op.ok()) << op.status();
    EXPECT_EQ((*op)->output_schema()->ToString(), "ad_id:string, n:int64, campaign_id:string");
    TestContext ctx;
    ASSERT_TRUE((*op)->Open(ctx).ok());
    TestCollector out;
    auto in = BatchOf(schema, {{std::string("a2"), int64_t{1}}, {std::string("zz"), int64_t{2}},
                               {std::string("a,3"), int64_t{3}}},
                      {10, 20, 30});
    ASSERT_TRUE((*op)->Process(0, std::move(in), out).ok());
    auto rows = out.RowsAsJson();
    if (mode == "null") {
      ASSERT_EQ(rows.size(), 3u);
      EXPECT_EQ(rows[1], R"({"ad_id":"zz","n":2,"campaign_id":null})");
    } else {
      ASSERT_EQ(rows.size(), 2u);
      EXPECT_EQ(rows[0], R"({"ad_id":"a2","n":1,"campaign_id":"c2"})");
      EXPECT_EQ(rows[1], R"({"ad_id":"a,3","n":3,"campaign_id":"c3"})");
      EXPECT_EQ(out.batches[0]->timestamps()[1], 30);
    }
    EXPECT_EQ(out.DeadLetters("no_match"), mode == "dead_letter" ? 1u : 0u);
    EXPECT_EQ(out.filtered, mode == "drop" ? 1 : 0);
  }
}

TEST(LookupJoinTest, UnknownColumnNamesLocation) {
  std::string table = TempPath("ads2.csv");
  std::ofstream(table) << "ad_id,campaign_id\n";
  Param p = Params({{"table", Param::String(table)}, {"key", Param::String("ad_id")},
                    {"fields", Param::String("campaign")}});
  OperatorConfig config;
  config.params = &p;
  config.input_schemas = {MakeSchema({{"ad_id", Type::kString}})};
  // With the fields declared, planning needs no table (it may be only on the workers);
  // opening the task reads it and names the line of the missing column.
  auto op = MakeLookupJoin(config);
  ASSERT_TRUE(op.ok()) << op.status();
  TestContext ctx;
  absl::Status st = (*op)->Open(ctx);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "t.yaml:3: operators[1].fields: table '" + table +
                              "' has no column 'campaign'; columns are: ad_id, campaign_id");
  // Without them, the planner reads the header for the schema, and fails without a table.
  Param undeclared = Params({{"table", Param::String(table + ".missing")}, {"key", Param::String("ad_id")}});
  config.params = &undeclared;
  auto planned = MakeLookupJoin(config);
  ASSERT_FALSE(planned.ok());
  EXPECT_NE(planned.status().message().find("list the ones you need in `fields`"), std::string::npos)
      << planned.status();
}

TEST(FileSinkTest, WritesTsvAtomically) {
  std::string path = TempPath("out.tsv");
  std::remove(path.c_str());  // TempDir is shared between runs
  Param p = Params({{"path", Param::String(path)}});
  OperatorConfig config;
  config.params = &p;
  auto sink = MakeFileSink(config);
  ASSERT_TRUE(sink.ok());
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  auto schema = MakeSchema({{"s", Type::kString}, {"n", Type::kInt64}, {"x", Type::kDouble}});
  ASSERT_TRUE((*sink)->Process(0, BatchOf(schema, {{std::string("a\tb\\"), int64_t{7}, 0.5},
                                                   {std::monostate{}, int64_t{-1}, 2.0}}),
                               out).ok());
  EXPECT_FALSE(std::ifstream(path).good());  // not visible before the end
  ASSERT_TRUE((*sink)->OnEndOfInput(out).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "s\tn\tx\na\\tb\\\\\t7\t0.5\n\\N\t-1\t2\n");
}

TEST(FileSourceTest, GlobsSplitAcrossSubtasks) {
  std::string dir = TempPath("src");
  std::system(("mkdir -p " + dir).c_str());
  for (int f = 0; f < 3; ++f) {
    std::ofstream out(dir + "/part" + std::to_string(f) + ".log");
    for (int i = 0; i < 1000; ++i) out << "f" << f << "-" << i << "\n";
  }
  Param p = Params({{"paths", Param::String(dir + "/*.log")}, {"batch_size", Param::Number(100)}});
  std::multiset<std::string> seen;
  for (int sub = 0; sub < 2; ++sub) {
    OperatorConfig config;
    config.params = &p;
    config.subtask_index = sub;
    config.parallelism = 2;
    auto src = MakeFileSource(config);
    ASSERT_TRUE(src.ok()) << src.status();
    TestContext ctx;
    TestCollector out;
    ASSERT_TRUE((*src)->Open(ctx).ok());
    while (true) {
      auto more = (*src)->Poll(out);
      ASSERT_TRUE(more.ok());
      if (!*more) break;
    }
    for (auto& b : out.batches) {
      EXPECT_LE(b->num_rows(), 100u);
      for (size_t r = 0; r < b->num_rows(); ++r) seen.insert(std::string(b->column(0).strings[r]));
    }
  }
  EXPECT_EQ(seen.size(), 3000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 3000u);
}

TEST(FileSourceTest, NoMatchingFileIsALocatedError) {
  Param p = Params({{"paths", Param::String(TempPath("missing-*.log"))}});
  OperatorConfig config;
  config.params = &p;
  // The files are found when the task opens (where it runs), not when the job is planned.
  auto src = MakeFileSource(config);
  ASSERT_TRUE(src.ok()) << src.status();
  TestContext ctx;
  absl::Status st = (*src)->Open(ctx);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("t.yaml:3: operators[1].paths: no file matches"), std::string::npos) << st;
}

TEST(ThrottleTest, PassesEverythingAndHoldsTheRate) {
  auto schema = MakeSchema({{"n", Type::kInt64}});
  Param p = Params({{"records_per_second", Param::Number(2000)}});
  OperatorConfig config;
  config.params = &p;
  config.input_schemas = {schema};
  auto op = MakeThrottle(config);
  ASSERT_TRUE(op.ok()) << op.status();
  TestCollector out;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) {
    auto b = std::make_unique<RecordBatch>(schema);
    for (int r = 0; r < 100; ++r) {
      b->column(0).ints.push_back(i * 100 + r);
      b->timestamps().push_back(kNoTimestamp);
    }
    b->set_num_rows(100);
    ASSERT_TRUE((*op)->Process(0, std::move(b), out).ok());
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(out.num_rows(), 400u);
  EXPECT_GE(took, 0.19);  // 400 records at 2000/s: never faster than 0.2 s
}

// The throttle paces by the Context's clock: with a test clock it holds the rate in
// processing time without any real waiting.
TEST(ThrottleTest, PacesByTheContextsClock) {
  auto schema = MakeSchema({{"n", Type::kInt64}});
  Param p = Params({{"records_per_second", Param::Number(100)}});
  OperatorConfig config;
  config.params = &p;
  config.input_schemas = {schema};
  auto op = MakeThrottle(config);
  ASSERT_TRUE(op.ok()) << op.status();
  ManualClock clock;
  TestContext ctx;
  ctx.processing_clock = &clock;
  ASSERT_TRUE((*op)->Open(ctx).ok());
  TestCollector out;
  const int64_t start_ms = clock.NowMs();
  auto real_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    auto b = std::make_unique<RecordBatch>(schema);
    for (int r = 0; r < 100; ++r) {
      b->column(0).ints.push_back(i * 100 + r);
      b->timestamps().push_back(kNoTimestamp);
    }
    b->set_num_rows(100);
    ASSERT_TRUE((*op)->Process(0, std::move(b), out).ok());
    // After batch i, (i + 1) * 100 records at 100/s: (i + 1) seconds of processing time.
    EXPECT_EQ(clock.NowMs() - start_ms, (i + 1) * 1000);
  }
  EXPECT_EQ(out.num_rows(), 1000u);
  EXPECT_LT(std::chrono::steady_clock::now() - real_start, std::chrono::seconds(2));  // 10 s were not waited
}

TEST(ThrottleTest, NeedsAPositiveRate) {
  auto schema = MakeSchema({{"n", Type::kInt64}});
  Param p = Params({{"records_per_second", Param::Number(0)}});
  p.SetLocation("t.yaml", 3, "operators[1]");
  OperatorConfig config;
  config.params = &p;
  config.input_schemas = {schema};
  auto op = MakeThrottle(config);
  ASSERT_FALSE(op.ok());
  EXPECT_NE(op.status().message().find("t.yaml:3"), std::string::npos) << op.status();
}

TEST(CsvTest, Quoting) {
  std::vector<std::string> f;
  ASSERT_TRUE(SplitCsvLine(R"(a,"b,c","d""e",)", &f));
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b,c", "d\"e", ""}));
  EXPECT_FALSE(SplitCsvLine(R"(a,"b)", &f));
}

}  // namespace
}  // namespace sluice::operators
