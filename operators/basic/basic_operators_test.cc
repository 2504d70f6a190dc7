#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "operators/basic/lookup_join.h"
#include "operators/basic/sinks.h"
#include "operators/basic/sources.h"
#include "operators/basic/throttle.h"
#include "operators/testing/operator_harness.h"
#include "sluice/clock.h"
#include "sluice/logger.h"

namespace sluice::operators {
namespace {

using ::sluice::testing::BatchOf;
using ::sluice::testing::MakeSchema;
using ::sluice::testing::MapSnapshotReader;
using ::sluice::testing::MapSnapshotWriter;
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

// ---------------------------------------------------------------------------------
// Checkpoints: sources resume at the snapshotted position, file_sink commits in two
// phases.

using Blobs = std::map<std::string, std::string>;

using RescaledReader = sluice::testing::BlobsRescaledReader;

using SourceMaker = absl::StatusOr<std::unique_ptr<Source>> (*)(const OperatorConfig&);

std::unique_ptr<Source> NewSource(SourceMaker make, const Param& p, int sub, int par) {
  OperatorConfig config;
  config.params = &p;
  config.subtask_index = sub;
  config.parallelism = par;
  auto src = make(config);
  EXPECT_TRUE(src.ok()) << src.status();
  return src.ok() ? std::move(*src) : nullptr;
}

// Polls up to `n` times (to the end if n < 0); false once the source is exhausted.
bool PollTimes(Source& src, TestCollector& out, int n) {
  for (int i = 0; n < 0 || i < n; ++i) {
    auto more = src.Poll(out);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) return false;
  }
  return true;
}

std::vector<size_t> BatchSizes(const TestCollector& out) {
  std::vector<size_t> sizes;
  for (const auto& b : out.batches) sizes.push_back(b->num_rows());
  return sizes;
}

template <typename T>
std::vector<T> Concat(std::vector<T> a, const std::vector<T>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Blobs SnapshotBlobs(Source& src, int64_t id) {
  MapSnapshotWriter w(id);
  absl::Status st = src.Snapshot(w);
  EXPECT_TRUE(st.ok()) << st;
  return w.blobs;
}

// A fresh instance restored from `blobs` and opened (as by a later attempt).
std::unique_ptr<Source> RestoredSource(SourceMaker make, const Param& p, int sub, int par, const Blobs& blobs,
                                       TestContext& ctx) {
  auto src = NewSource(make, p, sub, par);
  MapSnapshotReader reader(blobs);
  absl::Status st = src->Restore(reader);
  EXPECT_TRUE(st.ok()) << st;
  st = src->Open(ctx);
  EXPECT_TRUE(st.ok()) << st;
  return src;
}

// Cuts an undisturbed run of subtask `sub` after every few polls: snapshot, drop the
// instance (a kill), restore a fresh one and read on, cutting once more on the way. The
// rows before the cuts and after the restores must be the undisturbed run's, each once
// and in order, in batches of the same sizes.
void CheckResumesAtEveryCut(SourceMaker make, const Param& p, int sub, int par) {
  SCOPED_TRACE("subtask " + std::to_string(sub) + " of " + std::to_string(par));
  TestContext ctx;
  ctx.checkpointing_enabled = true;
  TestCollector full;
  auto whole = NewSource(make, p, sub, par);
  ASSERT_TRUE(whole->Open(ctx).ok());
  int polls = 0;
  while (PollTimes(*whole, full, 1)) ++polls;
  const std::vector<std::string> expected = full.RowsAsJson();
  ASSERT_GT(polls, 3);
  for (int cut : std::set<int>{0, 1, 2, 3, polls / 3, polls / 2, polls - 1, polls, polls + 1}) {
    SCOPED_TRACE("cut after poll " + std::to_string(cut) + " of " + std::to_string(polls));
    TestCollector before, middle, after;
    auto first = NewSource(make, p, sub, par);
    ASSERT_TRUE(first->Open(ctx).ok());
    PollTimes(*first, before, cut);
    Blobs cp1 = SnapshotBlobs(*first, 1);
    first.reset();
    TestContext ctx2;
    ctx2.checkpointing_enabled = true;
    ctx2.attempt_number = 2;
    auto second = RestoredSource(make, p, sub, par, cp1, ctx2);
    EXPECT_EQ(SnapshotBlobs(*second, 2), cp1);  // restored exactly where it was
    PollTimes(*second, middle, 2);
    Blobs cp2 = SnapshotBlobs(*second, 3);
    second.reset();
    TestContext ctx3;
    ctx3.checkpointing_enabled = true;
    ctx3.attempt_number = 3;
    auto third = RestoredSource(make, p, sub, par, cp2, ctx3);
    EXPECT_FALSE(PollTimes(*third, after, -1));
    EXPECT_EQ(Concat(Concat(before.RowsAsJson(), middle.RowsAsJson()), after.RowsAsJson()), expected);
    EXPECT_EQ(Concat(Concat(BatchSizes(before), BatchSizes(middle)), BatchSizes(after)), BatchSizes(full));
  }
}

void WriteGzip(const std::string& path, const std::string& content) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
  gzclose(gz);
}

// Plain files (one without a final newline, one empty) and a .gz, lines of varied length.
std::string CheckpointSourceFiles() {
  std::string dir = TempPath("ckpt_src");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream a(dir + "/a.log");
  for (int i = 0; i < 500; ++i) a << "a-" << i << "-" << std::string(i % 37, 'x') << "\n";
  a.close();
  std::string gz;
  for (int i = 0; i < 300; ++i) absl::StrAppend(&gz, "b-", i, "-", std::string(i % 11, 'y'), "\n");
  WriteGzip(dir + "/b.log.gz", gz);
  std::ofstream c(dir + "/c.log");
  for (int i = 0; i < 200; ++i) c << (i ? "\n" : "") << "c-" << i;
  c.close();
  std::ofstream(dir + "/d.log").close();
  return dir;
}

TEST(FileSourceCheckpointTest, ResumesAtEveryCut) {
  std::string dir = CheckpointSourceFiles();
  Param p = Params({{"paths", Param::List({Param::String(dir + "/*.log"), Param::String(dir + "/*.gz")})},
                    {"batch_size", Param::Number(7)}});
  CheckResumesAtEveryCut(MakeFileSource, p, 0, 1);
  // Byte ranges of the plain files per subtask, the .gz whole to one of them.
  std::set<std::string> lines;
  size_t total = 0;
  for (int sub = 0; sub < 3; ++sub) {
    CheckResumesAtEveryCut(MakeFileSource, p, sub, 3);
    TestContext ctx;
    TestCollector out;
    auto src = NewSource(MakeFileSource, p, sub, 3);
    ASSERT_TRUE(src->Open(ctx).ok());
    PollTimes(*src, out, -1);
    for (const auto& b : out.batches) {
      for (size_t r = 0; r < b->num_rows(); ++r) lines.insert(std::string(b->column(0).strings[r]));
      total += b->num_rows();
    }
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(lines.size(), 1000u);
  // Whole files dealt round robin (split: false).
  Param whole = Params({{"paths", Param::List({Param::String(dir + "/*.log"), Param::String(dir + "/*.gz")})},
                        {"batch_size", Param::Number(5)},
                        {"split", Param::Bool(false)}});
  for (int sub = 0; sub < 2; ++sub) CheckResumesAtEveryCut(MakeFileSource, whole, sub, 2);
}

TEST(FileSourceCheckpointTest, ChangedFilesOrDamagedSnapshotAreClearErrors) {
  std::string dir = CheckpointSourceFiles();
  Param p = Params({{"paths", Param::String(dir + "/*.log")}, {"batch_size", Param::Number(10)}});
  TestContext ctx;
  ctx.checkpointing_enabled = true;
  TestCollector out;
  auto src = NewSource(MakeFileSource, p, 0, 1);
  ASSERT_TRUE(src->Open(ctx).ok());
  PollTimes(*src, out, 3);
  Blobs cp = SnapshotBlobs(*src, 1);
  ASSERT_EQ(cp.count("file_source"), 1u);
  const std::string blob = cp["file_source"];
  // Every truncation and every flipped byte is refused with DATA_LOSS.
  for (size_t i = 0; i < blob.size(); ++i) {
    for (const std::string& bad : {blob.substr(0, i), blob.substr(0, i) + char(blob[i] ^ 0x21) + blob.substr(i + 1)}) {
      auto fresh = NewSource(MakeFileSource, p, 0, 1);
      MapSnapshotReader reader({{"file_source", bad}});
      absl::Status st = fresh->Restore(reader);
      ASSERT_EQ(st.code(), absl::StatusCode::kDataLoss) << "byte " << i << ": " << st;
      EXPECT_NE(st.message().find("file_source snapshot"), std::string::npos) << st;
    }
  }
  // Another set of files than the checkpoint's: refused at Open, saying why.
  std::ofstream(dir + "/e.log") << "new\n";
  auto later = NewSource(MakeFileSource, p, 0, 1);
  MapSnapshotReader reader(cp);
  ASSERT_TRUE(later->Restore(reader).ok());
  absl::Status st = later->Open(ctx);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("not those the checkpoint was taken on"), std::string::npos) << st;
}

TEST(GeneratorCheckpointTest, ResumesWithTheSameRecords) {
  Param p = Params({{"count", Param::Number(1000)},
                    {"keys", Param::Number(10)},
                    {"max_disorder", Param::String("50ms")},
                    {"events_per_second", Param::Number(500)},
                    {"batch_size", Param::Number(64)}});
  CheckResumesAtEveryCut(MakeGeneratorSource, p, 0, 1);
  for (int sub = 0; sub < 2; ++sub) CheckResumesAtEveryCut(MakeGeneratorSource, p, sub, 2);

  // A snapshot of other parameters, or a damaged one, is refused.
  TestCollector out;
  auto src = NewSource(MakeGeneratorSource, p, 0, 1);
  PollTimes(*src, out, 2);
  Blobs cp = SnapshotBlobs(*src, 1);
  Param other = Params({{"count", Param::Number(2000)}, {"batch_size", Param::Number(64)}});
  auto bigger = NewSource(MakeGeneratorSource, other, 0, 1);
  MapSnapshotReader reader(cp);
  absl::Status st = bigger->Restore(reader);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  const std::string blob = cp["generator"];
  for (size_t i = 0; i < blob.size(); i += 7) {
    for (const std::string& bad : {blob.substr(0, i), blob.substr(0, i) + char(blob[i] ^ 0x04) + blob.substr(i + 1)}) {
      auto fresh = NewSource(MakeGeneratorSource, p, 0, 1);
      MapSnapshotReader damaged({{"generator", bad}});
      ASSERT_EQ(fresh->Restore(damaged).code(), absl::StatusCode::kDataLoss) << "byte " << i;
    }
  }
}

// One run of a source node at `parallelism`, restored from the previous run's snapshots
// `old` (none for a fresh start): through Restore at the same parallelism, through
// RestoreRescaled at another. Subtask s polls polls[s % polls.size()] times (to the end
// if < 0), then takes a snapshot.
struct SourceRun {
  std::vector<Blobs> snapshots;                // by subtask
  std::vector<std::vector<std::string>> rows;  // as JSON, by subtask
};

SourceRun RunSources(SourceMaker make, const Param& p, const std::vector<Blobs>& old, int parallelism,
                     const std::vector<int>& polls) {
  SourceRun run;
  for (int sub = 0; sub < parallelism; ++sub) {
    SCOPED_TRACE(absl::StrCat("subtask ", sub, " of ", parallelism));
    auto src = NewSource(make, p, sub, parallelism);
    if (static_cast<int>(old.size()) == parallelism) {
      MapSnapshotReader reader(old[sub]);
      absl::Status st = src->Restore(reader);
      EXPECT_TRUE(st.ok()) << st;
    } else if (!old.empty()) {
      RescaledReader reader(old, sub, parallelism);
      absl::Status st = src->RestoreRescaled(reader);
      EXPECT_TRUE(st.ok()) << st;
    }
    TestContext ctx;
    ctx.checkpointing_enabled = true;
    absl::Status st = src->Open(ctx);
    EXPECT_TRUE(st.ok()) << st;
    TestCollector out;
    PollTimes(*src, out, polls[sub % polls.size()]);
    run.snapshots.push_back(SnapshotBlobs(*src, 1));
    run.rows.push_back(out.RowsAsJson());
  }
  return run;
}

std::multiset<std::string> AllRows(const std::vector<const SourceRun*>& runs) {
  std::multiset<std::string> all;
  for (const SourceRun* run : runs) {
    for (const auto& rows : run->rows) all.insert(rows.begin(), rows.end());
  }
  return all;
}

// A fresh run to the end: every row an undisturbed job emits.
std::multiset<std::string> UndisturbedRows(SourceMaker make, const Param& p, int parallelism) {
  SourceRun run = RunSources(make, p, {}, parallelism, {-1});
  return AllRows({&run});
}

TEST(GeneratorCheckpointTest, RestoredAtAnotherParallelismFinishesTheOldRunsRecords) {
  Param p = Params({{"count", Param::Number(1000)},
                    {"keys", Param::Number(10)},
                    {"max_disorder", Param::String("50ms")},
                    {"events_per_second", Param::Number(500)},
                    {"batch_size", Param::Number(64)}});
  // Records depend on the parallelism (ranges and seeds per subtask): a job checkpointed
  // at 2 must finish the run at 2's records, whatever it is restored at.
  const std::multiset<std::string> at2 = UndisturbedRows(MakeGeneratorSource, p, 2);
  ASSERT_EQ(at2.size(), 1000u);
  ASSERT_NE(UndisturbedRows(MakeGeneratorSource, p, 3), at2);
  SourceRun a = RunSources(MakeGeneratorSource, p, {}, 2, {3, 5});
  for (int parallelism : {3, 1}) {
    SCOPED_TRACE(absl::StrCat("restored at ", parallelism));
    SourceRun rest = RunSources(MakeGeneratorSource, p, a.snapshots, parallelism, {-1});
    EXPECT_EQ(AllRows({&a, &rest}), at2);
  }
  // Rescaled twice, restored at the same parallelism in between (the rescaled
  // subtasks' snapshots hold the streams they were dealt).
  SourceRun b = RunSources(MakeGeneratorSource, p, a.snapshots, 3, {2});
  SourceRun c = RunSources(MakeGeneratorSource, p, b.snapshots, 3, {1});
  SourceRun d = RunSources(MakeGeneratorSource, p, c.snapshots, 1, {-1});
  EXPECT_EQ(AllRows({&a, &b, &c, &d}), at2);
  // The last subtask generates the old streams one after another, in order of seq.
  int64_t last_seq = -1;
  for (const std::string& row : d.rows[0]) {
    int64_t seq = std::stoll(row.substr(row.find(':') + 1));
    EXPECT_GT(seq, last_seq) << row;
    last_seq = seq;
  }
  // Another count, or an old subtask's state missing, is refused.
  Param more = Params({{"count", Param::Number(2000)}, {"batch_size", Param::Number(64)}});
  auto bigger = NewSource(MakeGeneratorSource, more, 0, 3);
  RescaledReader reader(a.snapshots, 0, 3);
  EXPECT_EQ(bigger->RestoreRescaled(reader).code(), absl::StatusCode::kFailedPrecondition);
  std::vector<Blobs> partial = {a.snapshots[0], {}};
  auto fresh = NewSource(MakeGeneratorSource, p, 0, 3);
  RescaledReader partial_reader(partial, 0, 3);
  EXPECT_EQ(fresh->RestoreRescaled(partial_reader).code(), absl::StatusCode::kDataLoss);
}

TEST(FileSourceCheckpointTest, RestoredAtAnotherParallelismReadsEveryLineOnce) {
  std::string dir = CheckpointSourceFiles();
  for (bool split : {true, false}) {
    SCOPED_TRACE(split ? "byte ranges" : "whole files");
    Param p = Params({{"paths", Param::List({Param::String(dir + "/*.log"), Param::String(dir + "/*.gz")})},
                      {"batch_size", Param::Number(7)},
                      {"split", Param::Bool(split)}});
    const std::multiset<std::string> lines = UndisturbedRows(MakeFileSource, p, 1);
    ASSERT_EQ(lines.size(), 1000u);
    // Both cut in the middle of a split: subtask 0 in the .gz, subtask 1 in a plain
    // file (c.log's second half; without `split`, in the .gz).
    SourceRun a = RunSources(MakeFileSource, p, {}, 2, {60, 40});
    for (const Blobs& blobs : a.snapshots) {
      EXPECT_NE(blobs.at("file_source").find("\nlines "), std::string::npos) << blobs.at("file_source");
    }
    for (int parallelism : {3, 1}) {
      SCOPED_TRACE(absl::StrCat("restored at ", parallelism));
      SourceRun rest = RunSources(MakeFileSource, p, a.snapshots, parallelism, {-1});
      EXPECT_EQ(AllRows({&a, &rest}), lines);
    }
    SourceRun b = RunSources(MakeFileSource, p, a.snapshots, 3, {11, 3, 40});
    SourceRun c = RunSources(MakeFileSource, p, b.snapshots, 3, {2, 9});
    SourceRun d = RunSources(MakeFileSource, p, c.snapshots, 2, {5, 1});
    SourceRun e = RunSources(MakeFileSource, p, d.snapshots, 1, {-1});
    EXPECT_EQ(AllRows({&a, &b, &c, &d, &e}), lines);
  }
  // The files changed since the checkpoint: refused at Open, saying why.
  Param p = Params({{"paths", Param::String(dir + "/*.log")}, {"batch_size", Param::Number(7)}});
  SourceRun a = RunSources(MakeFileSource, p, {}, 2, {3});
  SourceRun b = RunSources(MakeFileSource, p, a.snapshots, 3, {3});
  std::ofstream(dir + "/e.log") << "new\n";
  for (const SourceRun* run : {&a, &b}) {
    auto src = NewSource(MakeFileSource, p, 0, 1);
    RescaledReader reader(run->snapshots, 0, 1);
    ASSERT_TRUE(src->RestoreRescaled(reader).ok());
    TestContext ctx;
    absl::Status st = src->Open(ctx);
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
    EXPECT_NE(st.message().find("not those the checkpoint was taken on"), std::string::npos) << st;
  }
}

// file_sink with checkpoints: a sink of subtask `sub` writing `path`, driven by hand.
class SinkDriver {
 public:
  SinkDriver(const std::string& path, int64_t attempt, int sub = 0, int par = 1, std::string job = "test-job")
      : params_(Params({{"path", Param::String(path)}})), sub_(sub), par_(par) {
    OperatorConfig config;
    config.params = &params_;
    config.subtask_index = sub;
    config.parallelism = par;
    auto sink = MakeFileSink(config);
    EXPECT_TRUE(sink.ok()) << sink.status();
    sink_ = std::move(*sink);
    ctx_.checkpointing_enabled = true;
    ctx_.attempt_number = attempt;
    ctx_.job = std::move(job);
    ctx_.run = absl::StrCat(ctx_.job, "-", attempt);
  }
  absl::Status Restore(const Blobs& blobs) {
    MapSnapshotReader reader(blobs);
    return sink_->Restore(reader);
  }
  // From the blobs of every old subtask, taken at another parallelism.
  absl::Status RestoreRescaled(const std::vector<Blobs>& old) {
    RescaledReader reader(old, sub_, par_);
    return sink_->RestoreRescaled(reader);
  }
  absl::Status Open() { return sink_->Open(ctx_); }
  // Rows n = from .. to-1, s = "row-n".
  void Write(int from, int to) {
    std::vector<std::vector<testing::Value>> rows;
    for (int n = from; n < to; ++n) rows.push_back({int64_t{n}, absl::StrCat("row-", n)});
    ASSERT_TRUE(sink_->Process(0, BatchOf(Schema(), rows), out_).ok());
  }
  Blobs Snapshot(int64_t id) {
    MapSnapshotWriter w(id);
    absl::Status st = sink_->Snapshot(w);
    EXPECT_TRUE(st.ok()) << st;
    return w.blobs;
  }
  absl::Status Notify(int64_t id) { return sink_->NotifyCheckpointComplete(id); }
  absl::Status End() { return sink_->OnEndOfInput(out_); }
  absl::Status Close() { return sink_->Close(); }
  static SchemaPtr Schema() { return MakeSchema({{"n", Type::kInt64}, {"s", Type::kString}}); }

 private:
  Param params_;
  int sub_, par_;
  TestContext ctx_;
  TestCollector out_;
  std::unique_ptr<Operator> sink_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The TSV a sink writes for rows from .. to-1, with the header if `header`.
std::string Rows(int from, int to, bool header = false) {
  std::string out = header ? "n\ts\n" : "";
  for (int n = from; n < to; ++n) absl::StrAppend(&out, n, "\trow-", n, "\n");
  return out;
}

// Names in `dir`, sorted, without the fence files.
std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (!absl::EndsWith(name, ".fence")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The published parts of `base`, concatenated in order.
std::string Published(const std::string& base) {
  std::string all;
  std::filesystem::path p(base);
  for (const std::string& name : Listing(p.parent_path().string())) {
    if (absl::StartsWith(name, p.filename().string() + ".part-")) all += ReadAll(p.parent_path().string() + "/" + name);
  }
  return all;
}

std::string FreshDir(const std::string& name) {
  std::string dir = TempPath(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Checkpoint 1 completes with rows 0..2; checkpoint 2 is taken with rows 3..5 but its
// notify never comes: the process dies. Returns both checkpoints' blobs.
std::pair<Blobs, Blobs> WriteAndDieAfterSecondSnapshot(const std::string& path) {
  SinkDriver sink(path, 1);
  EXPECT_TRUE(sink.Open().ok());
  sink.Write(0, 3);
  Blobs cp1 = sink.Snapshot(1);
  EXPECT_FALSE(std::filesystem::exists(path + ".part-00000"));  // pending until the notify
  EXPECT_TRUE(sink.Notify(1).ok());
  EXPECT_EQ(ReadAll(path + ".part-00000"), Rows(0, 3, true));
  sink.Write(3, 6);
  Blobs cp2 = sink.Snapshot(2);
  sink.Write(6, 7);  // after checkpoint 2, still buffered
  // What a part started after checkpoint 2 leaves on disk (a sink flushes every 1 MiB).
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::ofstream(dir + "/.out.tsv.part-00002.inprogress.test-job-1") << Rows(6, 7);
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{".out.tsv.part-00001.inprogress.test-job-1",
                                                    ".out.tsv.part-00002.inprogress.test-job-1", "out.tsv.part-00000"}));
  return {cp1, cp2};  // the sink is destroyed without Close: killed
}

TEST(FileSinkCheckpointTest, RestoreRollsTheCheckpointForward) {
  std::string dir = FreshDir("ckpt_sink_forward");
  std::string path = dir + "/out.tsv";
  auto [cp1, cp2] = WriteAndDieAfterSecondSnapshot(path);
  // Checkpoint 2 was made durable before the kill: the restart publishes its part.
  SinkDriver sink(path, 2);
  ASSERT_TRUE(sink.Restore(cp2).ok());
  ASSERT_TRUE(sink.Open().ok());
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv.part-00000", "out.tsv.part-00001"}));
  EXPECT_EQ(Published(path), Rows(0, 6, true));
  sink.Write(6, 8);  // the source replays from checkpoint 2
  ASSERT_TRUE(sink.End().ok());
  sink.Snapshot(3);
  ASSERT_TRUE(sink.Notify(3).ok());
  ASSERT_TRUE(sink.Close().ok());
  EXPECT_EQ(Published(path), Rows(0, 8, true));
  EXPECT_EQ(Listing(dir).size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(path));  // no single file with checkpoints
  // Restoring checkpoint 2 again (the roll forward is idempotent) is fine too.
  SinkDriver again(path, 3);
  ASSERT_TRUE(again.Restore(cp2).ok());
  ASSERT_TRUE(again.Open().ok());
  EXPECT_EQ(Published(path), Rows(0, 6, true));  // part 2 came after checkpoint 2
}

TEST(FileSinkCheckpointTest, RestoreRollsBackWhatCameAfterTheCheckpoint) {
  std::string dir = FreshDir("ckpt_sink_back");
  std::string path = dir + "/out.tsv";
  auto [cp1, cp2] = WriteAndDieAfterSecondSnapshot(path);
  // Checkpoint 2 was lost: the restart restores checkpoint 1, and nothing of 2 survives.
  SinkDriver sink(path, 2);
  ASSERT_TRUE(sink.Restore(cp1).ok());
  ASSERT_TRUE(sink.Open().ok());
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv.part-00000"}));
  EXPECT_EQ(Published(path), Rows(0, 3, true));
  sink.Write(3, 8);  // the source replays from checkpoint 1
  ASSERT_TRUE(sink.End().ok());
  sink.Snapshot(2);
  ASSERT_TRUE(sink.Notify(2).ok());
  ASSERT_TRUE(sink.Close().ok());
  EXPECT_EQ(Published(path), Rows(0, 8, true));  // every row once, the header once
}

TEST(FileSinkCheckpointTest, NotifyCommitsItsCheckpointAndTheOnesBefore) {
  std::string dir = FreshDir("ckpt_sink_notify");
  std::string path = dir + "/out.tsv";
  SinkDriver sink(path, 1);
  ASSERT_TRUE(sink.Open().ok());
  sink.Write(0, 2);
  sink.Snapshot(1);
  sink.Write(2, 4);
  sink.Snapshot(2);
  sink.Snapshot(3);  // nothing written since: no part
  ASSERT_TRUE(sink.Notify(1).ok());  // late, after checkpoint 2 was taken
  EXPECT_EQ(Published(path), Rows(0, 2, true));
  sink.Write(4, 6);
  sink.Snapshot(4);
  sink.Write(6, 7);
  sink.Snapshot(5);
  ASSERT_TRUE(sink.Notify(5).ok());  // 2 and 4 never notified: 5 covers them
  EXPECT_EQ(Published(path), Rows(0, 7, true));
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv.part-00000", "out.tsv.part-00001", "out.tsv.part-00002",
                                                    "out.tsv.part-00003"}));
  ASSERT_TRUE(sink.Notify(4).ok());  // an old notify after a newer one: nothing left to do
  ASSERT_TRUE(sink.Close().ok());
}

TEST(FileSinkCheckpointTest, CloseWithoutNotifyPublishesNothing) {
  std::string dir = FreshDir("ckpt_sink_close");
  std::string path = dir + "/out.tsv";
  SinkDriver sink(path, 1);
  ASSERT_TRUE(sink.Open().ok());
  sink.Write(0, 2);
  sink.Snapshot(1);
  sink.Write(2, 4);
  ASSERT_TRUE(sink.End().ok());
  sink.Snapshot(2);  // the final checkpoint, never completed
  ASSERT_TRUE(sink.Close().ok());
  // Pending parts stay hidden for a restart to roll forward; nothing was published.
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{".out.tsv.part-00000.inprogress.test-job-1",
                                                    ".out.tsv.part-00001.inprogress.test-job-1"}));
  // A cancel mid-part drops the part in progress (here more than the 1 MiB a sink buffers).
  std::string dir2 = FreshDir("ckpt_sink_cancel");
  SinkDriver cancelled(dir2 + "/out.tsv", 1);
  ASSERT_TRUE(cancelled.Open().ok());
  cancelled.Write(0, 100000);
  EXPECT_EQ(Listing(dir2), (std::vector<std::string>{".out.tsv.part-00000.inprogress.test-job-1"}));
  ASSERT_TRUE(cancelled.Close().ok());
  EXPECT_TRUE(Listing(dir2).empty());
}

TEST(FileSinkCheckpointTest, EmptyInputPublishesOneEmptyPart) {
  std::string dir = FreshDir("ckpt_sink_empty");
  SinkDriver sink(dir + "/out.tsv", 1);
  ASSERT_TRUE(sink.Open().ok());
  ASSERT_TRUE(sink.End().ok());
  sink.Snapshot(1);
  ASSERT_TRUE(sink.Notify(1).ok());
  ASSERT_TRUE(sink.Close().ok());
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv.part-00000"}));
  EXPECT_EQ(ReadAll(dir + "/out.tsv.part-00000"), "");
}

TEST(FileSinkCheckpointTest, AFreshRunReplacesTheParts) {
  std::string dir = FreshDir("ckpt_sink_fresh");
  for (const char* name : {"out.tsv.part-00000", "out.tsv.part-00001", "out.tsv.part-00007",
                           ".out.tsv.part-00003.inprogress.old-run", "out.tsv", "out.tsv.part-x", "other.tsv.part-00000"}) {
    std::ofstream(dir + "/" + name) << "old\n";
  }
  SinkDriver sink(dir + "/out.tsv", 1, 0, 1, "another-job");
  ASSERT_TRUE(sink.Open().ok());
  // An earlier run's parts and in-progress files are gone; other files are not touched.
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"other.tsv.part-00000", "out.tsv", "out.tsv.part-x"}));
  sink.Write(0, 1);
  ASSERT_TRUE(sink.End().ok());
  sink.Snapshot(1);
  ASSERT_TRUE(sink.Notify(1).ok());
  ASSERT_TRUE(sink.Close().ok());
  EXPECT_EQ(ReadAll(dir + "/out.tsv.part-00000"), Rows(0, 1, true));
  EXPECT_EQ(ReadAll(dir + "/out.tsv"), "old\n");
}

TEST(FileSinkCheckpointTest, SubtasksWriteTheirOwnParts) {
  std::string dir = FreshDir("ckpt_sink_parallel");
  SinkDriver s0(dir + "/out.tsv", 1, 0, 2), s1(dir + "/out.tsv", 1, 1, 2);
  ASSERT_TRUE(s0.Open().ok());
  ASSERT_TRUE(s1.Open().ok());
  s0.Write(0, 2);
  s1.Write(2, 4);
  Blobs cp0 = s0.Snapshot(1), cp1 = s1.Snapshot(1);
  ASSERT_TRUE(s0.Notify(1).ok());
  ASSERT_TRUE(s1.Notify(1).ok());
  EXPECT_EQ(ReadAll(dir + "/out.tsv-0.part-00000"), Rows(0, 2, true));
  EXPECT_EQ(ReadAll(dir + "/out.tsv-1.part-00000"), Rows(2, 4, true));
  // A subtask's checkpoint does not restore another subtask.
  SinkDriver wrong0(dir + "/out.tsv", 2, 0, 2), wrong1(dir + "/out.tsv", 2, 1, 2);
  EXPECT_EQ(wrong0.Restore(cp1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong1.Restore(cp0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(FileSinkCheckpointTest, AStaleAttemptCannotPublish) {
  std::string dir = FreshDir("ckpt_sink_stale");
  std::string path = dir + "/out.tsv";
  SinkDriver stale(path, 1);
  ASSERT_TRUE(stale.Open().ok());
  stale.Write(0, 2);
  Blobs cp1 = stale.Snapshot(1);
  // The job moved on to attempt 2 (from scratch: checkpoint 1 never completed) ...
  SinkDriver current(path, 2);
  ASSERT_TRUE(current.Open().ok());
  // ... when attempt 1 wakes up and hears of its checkpoint.
  absl::Status st = stale.Notify(1);
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted) << st;
  EXPECT_FALSE(std::filesystem::exists(path + ".part-00000"));
  SinkDriver older(path, 1);
  EXPECT_EQ(older.Open().code(), absl::StatusCode::kAborted);
}

TEST(FileSinkCheckpointTest, DamagedOrDanglingSnapshotIsAClearError) {
  std::string dir = FreshDir("ckpt_sink_damaged");
  std::string path = dir + "/out.tsv";
  SinkDriver sink(path, 1);
  ASSERT_TRUE(sink.Open().ok());
  sink.Write(0, 3);
  Blobs cp = sink.Snapshot(1);
  const std::string blob = cp["file_sink"];
  for (size_t i = 0; i < blob.size(); ++i) {
    for (const std::string& bad : {blob.substr(0, i), blob.substr(0, i) + char(blob[i] ^ 0x10) + blob.substr(i + 1)}) {
      SinkDriver fresh(path, 2);
      absl::Status st = fresh.Restore({{"file_sink", bad}});
      ASSERT_EQ(st.code(), absl::StatusCode::kDataLoss) << "byte " << i << ": " << st;
      EXPECT_NE(st.message().find("file_sink snapshot"), std::string::npos) << st;
    }
  }
  SinkDriver garbage(path, 2);
  EXPECT_EQ(garbage.Restore({{"file_sink", std::string("\0\xff\n\n", 4)}}).code(), absl::StatusCode::kDataLoss);
  // The checkpoint names a pending part whose files were removed behind the job's back.
  std::filesystem::remove(dir + "/.out.tsv.part-00000.inprogress.test-job-1");
  SinkDriver restarted(path, 2);
  ASSERT_TRUE(restarted.Restore(cp).ok());
  absl::Status st = restarted.Open();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("out.tsv.part-00000"), std::string::npos) << st;
}

// Two subtasks write rows 100*s + n: checkpoint 1 completes with n = 0..2, checkpoint 2
// is taken with n = 3..5 and never notified, and a part started after it is left in
// progress; then the process dies (but subtask 1 lives on in `*stale`, if given: a
// worker given up for dead). Returns each subtask's blobs of checkpoint 2.
std::vector<Blobs> TwoSubtasksDieAfterSecondSnapshot(const std::string& path,
                                                     std::unique_ptr<SinkDriver>* stale = nullptr) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::vector<Blobs> cp2;
  for (int sub = 0; sub < 2; ++sub) {
    auto sink = std::make_unique<SinkDriver>(path, 1, sub, 2);
    EXPECT_TRUE(sink->Open().ok());
    sink->Write(100 * sub, 100 * sub + 3);
    sink->Snapshot(1);
    EXPECT_TRUE(sink->Notify(1).ok());
    sink->Write(100 * sub + 3, 100 * sub + 6);
    cp2.push_back(sink->Snapshot(2));
    std::ofstream(absl::StrCat(dir, "/.out.tsv-", sub, ".part-00002.inprogress.test-job-1")) << "after checkpoint 2\n";
    if (sub == 1 && stale != nullptr) *stale = std::move(sink);
  }
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{".out.tsv-0.part-00001.inprogress.test-job-1",
                                                    ".out.tsv-0.part-00002.inprogress.test-job-1",
                                                    ".out.tsv-1.part-00001.inprogress.test-job-1",
                                                    ".out.tsv-1.part-00002.inprogress.test-job-1",
                                                    "out.tsv-0.part-00000", "out.tsv-1.part-00000"}));
  return cp2;
}

// Every published data row of the parts in `dir` (headers left out), counted.
std::map<std::string, int> PublishedRows(const std::string& dir) {
  std::map<std::string, int> rows;
  for (const std::string& name : Listing(dir)) {
    EXPECT_FALSE(absl::StartsWith(name, ".")) << name << " left in progress";
    std::istringstream in(ReadAll(dir + "/" + name));
    for (std::string line; std::getline(in, line);) {
      if (line != "n\ts") ++rows[line];
    }
  }
  return rows;
}

std::map<std::string, int> RowsOnce(const std::vector<std::pair<int, int>>& ranges) {
  std::map<std::string, int> rows;
  for (auto [from, to] : ranges) {
    for (int n = from; n < to; ++n) rows[absl::StrCat(n, "\trow-", n)] = 1;
  }
  return rows;
}

TEST(FileSinkCheckpointTest, RestoredAtMoreSubtasksPublishesEachPendingPartOnce) {
  std::string dir = FreshDir("ckpt_sink_rescale_up");
  std::string path = dir + "/out.tsv";
  std::vector<Blobs> cp2 = TwoSubtasksDieAfterSecondSnapshot(path);
  // Restored at 3: subtasks 0 and 1 take over their own files, subtask 2 starts a new one.
  std::vector<std::unique_ptr<SinkDriver>> sinks;
  for (int sub = 0; sub < 3; ++sub) {
    sinks.push_back(std::make_unique<SinkDriver>(path, 2, sub, 3));
    ASSERT_TRUE(sinks.back()->RestoreRescaled(cp2).ok());
    ASSERT_TRUE(sinks.back()->Open().ok());
  }
  // Checkpoint 2's parts are published, what came after it is gone.
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv-0.part-00000", "out.tsv-0.part-00001",
                                                    "out.tsv-1.part-00000", "out.tsv-1.part-00001"}));
  EXPECT_EQ(Published(path + "-0"), Rows(0, 6, true));
  EXPECT_EQ(Published(path + "-1"), Rows(100, 106, true));
  // The sources replay from checkpoint 2, now to three subtasks.
  sinks[0]->Write(6, 8);
  sinks[1]->Write(106, 108);
  sinks[2]->Write(200, 202);
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->End().ok());
    sink->Snapshot(3);
    ASSERT_TRUE(sink->Notify(3).ok());
    ASSERT_TRUE(sink->Close().ok());
  }
  // Parts number on after the checkpoint's, so nothing is overwritten, and each file's
  // parts concatenated are one TSV with one header.
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv-0.part-00000", "out.tsv-0.part-00001",
                                                    "out.tsv-0.part-00002", "out.tsv-1.part-00000",
                                                    "out.tsv-1.part-00001", "out.tsv-1.part-00002",
                                                    "out.tsv-2.part-00000"}));
  EXPECT_EQ(Published(path + "-0"), Rows(0, 8, true));
  EXPECT_EQ(Published(path + "-1"), Rows(100, 108, true));
  EXPECT_EQ(Published(path + "-2"), Rows(200, 202, true));
  EXPECT_EQ(PublishedRows(dir), RowsOnce({{0, 8}, {100, 108}, {200, 202}}));
}

TEST(FileSinkCheckpointTest, RestoredAtOneSubtaskAndBackEveryPartStaysOnce) {
  std::string dir = FreshDir("ckpt_sink_rescale_down");
  std::string path = dir + "/out.tsv";
  std::unique_ptr<SinkDriver> stale;
  std::vector<Blobs> cp2 = TwoSubtasksDieAfterSecondSnapshot(path, &stale);
  // Restored at 1: the one subtask writes out.tsv and answers for both old files.
  std::vector<Blobs> cp3;
  {
    SinkDriver sink(path, 2, 0, 1);
    ASSERT_TRUE(sink.RestoreRescaled(cp2).ok());
    ASSERT_TRUE(sink.Open().ok());
    EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv-0.part-00000", "out.tsv-0.part-00001",
                                                      "out.tsv-1.part-00000", "out.tsv-1.part-00001"}));
    // Its claim on out.tsv-1 fences the stale subtask that wrote it.
    EXPECT_EQ(stale->Notify(2).code(), absl::StatusCode::kAborted);
    sink.Write(6, 8);
    sink.Write(106, 108);
    cp3.push_back(sink.Snapshot(3));
    ASSERT_TRUE(sink.Notify(3).ok());
    // Dies after writing on.
    sink.Write(8, 9);
    sink.Snapshot(4);
  }
  EXPECT_EQ(Published(path), Rows(6, 8, true) + Rows(106, 108));
  EXPECT_NE(cp3[0].at("file_sink").find("retired 2 " + path + "-0\n"), std::string::npos) << cp3[0].at("file_sink");
  EXPECT_NE(cp3[0].at("file_sink").find("retired 2 " + path + "-1\n"), std::string::npos) << cp3[0].at("file_sink");
  // Back at 2 from checkpoint 3: subtasks 0 and 1 get their old files back and number
  // on after the published parts (rather than removing them as an earlier run's);
  // out.tsv, written by nobody now, goes to subtask 0, which drops checkpoint 4's part.
  std::vector<std::unique_ptr<SinkDriver>> sinks;
  for (int sub = 0; sub < 2; ++sub) {
    sinks.push_back(std::make_unique<SinkDriver>(path, 3, sub, 2));
    ASSERT_TRUE(sinks.back()->RestoreRescaled(cp3).ok());
    ASSERT_TRUE(sinks.back()->Open().ok());
  }
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv-0.part-00000", "out.tsv-0.part-00001",
                                                    "out.tsv-1.part-00000", "out.tsv-1.part-00001",
                                                    "out.tsv.part-00000"}));
  sinks[0]->Write(8, 10);
  sinks[1]->Write(108, 110);
  std::vector<Blobs> cp5;
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->End().ok());
    cp5.push_back(sink->Snapshot(5));
    ASSERT_TRUE(sink->Notify(5).ok());
    ASSERT_TRUE(sink->Close().ok());
  }
  EXPECT_EQ(Published(path + "-0"), Rows(0, 6, true) + Rows(8, 10));
  EXPECT_EQ(Published(path + "-1"), Rows(100, 106, true) + Rows(108, 110));
  EXPECT_EQ(PublishedRows(dir), RowsOnce({{0, 10}, {100, 110}}));
  // The same parallelism again restores each subtask's own blob, retired files included.
  SinkDriver again(path, 4, 0, 2);
  ASSERT_TRUE(again.Restore(cp5[0]).ok());
  ASSERT_TRUE(again.Open().ok());
  EXPECT_EQ(PublishedRows(dir), RowsOnce({{0, 10}, {100, 110}}));
}

TEST(FileSinkCheckpointTest, RescaledRestoreRefusesAnotherPathOrAMissingSubtask) {
  std::string dir = FreshDir("ckpt_sink_rescale_refuse");
  std::vector<Blobs> cp2 = TwoSubtasksDieAfterSecondSnapshot(dir + "/out.tsv");
  SinkDriver moved(dir + "/other.tsv", 2, 0, 3);
  absl::Status st = moved.RestoreRescaled(cp2);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("out.tsv-0"), std::string::npos) << st;
  SinkDriver partial(dir + "/out.tsv", 2, 0, 3);
  st = partial.RestoreRescaled({cp2[0], {}});
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("subtask 1 of 2"), std::string::npos) << st;
}

TEST(FileSinkCheckpointTest, WithoutCheckpointsTheLayoutIsUnchanged) {
  std::string dir = FreshDir("ckpt_sink_off");
  Param p = Params({{"path", Param::String(dir + "/out.tsv")}});
  OperatorConfig config;
  config.params = &p;
  auto sink = MakeFileSink(config);
  ASSERT_TRUE(sink.ok());
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE((*sink)->Open(ctx).ok());
  ASSERT_TRUE((*sink)->Process(0, BatchOf(SinkDriver::Schema(), {{int64_t{0}, std::string("row-0")}}), out).ok());
  ASSERT_TRUE((*sink)->OnEndOfInput(out).ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(Listing(dir), (std::vector<std::string>{"out.tsv"}));
  EXPECT_EQ(ReadAll(dir + "/out.tsv"), Rows(0, 1, true));
}

// Keeps the lines logged through it.
class KeepingLogSink : public LogSink {
 public:
  bool Enabled(LogLevel) const override { return true; }
  void Write(LogLevel level, std::string_view line) override {
    if (level == LogLevel::kWarn) warnings.emplace_back(line);
  }
  std::vector<std::string> warnings;
};

class LoggingContext : public TestContext {
 public:
  Logger logger() const override { return Logger(sink, "t"); }
  std::shared_ptr<KeepingLogSink> sink = std::make_shared<KeepingLogSink>();
};

TEST(CheckpointWarningsTest, StdinAndConsoleSayWhatTheyCannotUndo) {
  for (bool checkpointing : {false, true}) {
    Param none = Params({});
    OperatorConfig config;
    config.params = &none;
    LoggingContext ctx;
    ctx.checkpointing_enabled = checkpointing;
    auto in = MakeStdinSource(config);
    ASSERT_TRUE(in.ok()) << in.status();
    ASSERT_TRUE((*in)->Open(ctx).ok());
    auto console = MakeConsoleSink(config);
    ASSERT_TRUE(console.ok()) << console.status();
    ASSERT_TRUE((*console)->Open(ctx).ok());
    ASSERT_TRUE((*console)->Close().ok());
    if (!checkpointing) {
      EXPECT_TRUE(ctx.sink->warnings.empty());
      continue;
    }
    ASSERT_EQ(ctx.sink->warnings.size(), 2u);
    EXPECT_NE(ctx.sink->warnings[0].find(
                  "stdin_source cannot be replayed: records read before a failure are lost on restore"),
              std::string::npos);
    EXPECT_NE(ctx.sink->warnings[1].find(
                  "console_sink prints at least once: lines after the last checkpoint repeat after a restore"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace sluice::operators
