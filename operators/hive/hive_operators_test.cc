// hive_sink and hive_partitions on a real directory: partitions by event time in a time
// zone, hidden in-progress files, _SUCCESS once the watermark passes, DDL, overwrite of
// a re-run, commits tied to checkpoints, compression, and reading partitions back.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "operators/hive/hive_partitions_source.h"
#include "operators/basic/snapshot_state.h"
#include "operators/hive/hive_sink.h"
#include "operators/testing/operator_harness.h"

namespace sluice::hive {
namespace {

namespace fs = std::filesystem;
using ::sluice::testing::BatchOf;
using ::sluice::testing::MakeSchema;
using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;
using ::sluice::testing::Value;

using MapWriter = ::sluice::testing::MapSnapshotWriter;
using MapReader = ::sluice::testing::MapSnapshotReader;

// 2026-11-20 00:00 +08:00 is 2026-11-19 16:00 UTC.
constexpr int64_t kDay20 = 1795104000000;  // 2026-11-20T00:00:00+08:00 in ms
constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;

std::vector<std::string> VisibleFiles(const fs::path& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n[0] != '.' && n[0] != '_') names.push_back(n);
  }
  return names;
}

// Hidden in-progress files anywhere under `dir`.
int InProgressFiles(const fs::path& dir) {
  int n = 0;
  if (!fs::exists(dir)) return n;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.path().filename().string().ends_with(".inprogress");
  return n;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("hive_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    schema_ = MakeSchema({{"user", Type::kString}, {"path", Type::kString}, {"bytes", Type::kInt64}});
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<Operator> Sink(std::vector<std::pair<std::string, Param>> extra = {}) {
    std::vector<std::pair<std::string, Param>> entries = {{"warehouse", Param::String(root_.string())},
                                                          {"table", Param::String("ods.access_log")},
                                                          {"time_zone", Param::String("+08:00")}};
    for (auto& e : extra) entries.push_back(std::move(e));
    sink_params_ = Param::Map(std::move(entries));
    sink_params_.SetLocation("h.yaml", 9, "operators[3]");
    OperatorConfig config;
    config.node_id = "out";
    config.params = &sink_params_;
    config.input_schemas = {schema_};
    auto op = MakeHiveSink(config);
    EXPECT_TRUE(op.ok()) << op.status();
    return op.ok() ? std::move(*op) : nullptr;
  }

  std::unique_ptr<Source> Reader(const std::string& partitions, std::vector<std::pair<std::string, Param>> extra = {}) {
    std::vector<std::pair<std::string, Param>> entries = {{"warehouse", Param::String(root_.string())},
                                                          {"table", Param::String("ods.access_log")},
                                                          {"partitions", Param::String(partitions)}};
    for (auto& e : extra) entries.push_back(std::move(e));
    source_params_ = Param::Map(std::move(entries));
    source_params_.SetLocation("b.yaml", 3, "operators[0]");
    OperatorConfig config;
    config.node_id = "days";
    config.params = &source_params_;
    auto src = MakeHivePartitionsSource(config);
    EXPECT_TRUE(src.ok()) << src.status();
    return src.ok() ? std::move(*src) : nullptr;
  }

  // Reads partitions back as "user|path|bytes|dt" rows (sorted).
  std::vector<std::string> ReadBack(const std::string& partitions, absl::Status* status = nullptr) {
    auto src = Reader(partitions);
    std::vector<std::string> rows;
    if (src == nullptr) return rows;
    TestContext ctx(true);
    TestCollector out;
    absl::Status st = src->Open(ctx);
    while (st.ok()) {
      auto more = src->Poll(out);
      if (!more.ok()) st = more.status();
      if (!more.ok() || !*more) break;
    }
    if (status != nullptr) *status = st;
    EXPECT_TRUE(status != nullptr || st.ok()) << st;
    for (const auto& b : out.batches) {
      EXPECT_EQ(b->schema()->ToString(), "user:string, path:string, bytes:int64, dt:string");
      for (size_t r = 0; r < b->num_rows(); ++r) {
        std::string row;
        for (int c = 0; c < b->num_columns(); ++c) {
          if (c) row += "|";
          const Column& col = b->column(c);
          if (col.IsNull(r)) row += "NULL";
          else if (col.type == Type::kInt64) row += std::to_string(col.ints[r]);
          else row += std::string(col.strings[r]);
        }
        rows.push_back(row);
      }
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  fs::path Table() const { return root_ / "ods.db" / "access_log"; }

  fs::path root_;
  SchemaPtr schema_;
  Param sink_params_;
  Param source_params_;
};

TEST_F(HiveTest, PartitionsByDayInTheTimeZoneAndCompletesThemAsTheWatermarkPasses) {
  auto sink = Sink();
  TestContext ctx(/*batch_mode=*/false);
  TestCollector out;
  ASSERT_TRUE(sink->Open(ctx).ok());
  // 23:30 on the 20th, 00:10 and 01:00 on the 21st (+08:00), and a null path.
  ASSERT_TRUE(sink->Process(0,
                            BatchOf(schema_,
                                    {{std::string("u1"), std::string("/a"), int64_t{10}},
                                     {std::string("u2"), std::string("/b\x01x"), int64_t{20}},
                                     {std::string("u3"), std::monostate{}, int64_t{30}}},
                                    {kDay20 + 23 * kHour + 30 * 60000, kDay20 + kDay + 10 * 60000,
                                     kDay20 + kDay + kHour}),
                            out)
                  .ok());
  const fs::path d20 = Table() / "dt=2026-11-20", d21 = Table() / "dt=2026-11-21";
  // Written, but hidden until finished.
  EXPECT_TRUE(VisibleFiles(d20).empty());
  ASSERT_TRUE(sink->OnWatermark(kDay20 + kDay - 1, out).ok());  // the 20th is over
  ASSERT_EQ(VisibleFiles(d20).size(), 1u);
  EXPECT_TRUE(fs::exists(d20 / "_SUCCESS"));
  EXPECT_EQ(ReadAll(d20 / VisibleFiles(d20)[0]), "u1\x01/a\x01" "10\n");
  EXPECT_TRUE(VisibleFiles(d21).empty());
  EXPECT_FALSE(fs::exists(d21 / "_SUCCESS"));
  ASSERT_TRUE(sink->OnEndOfInput(out).ok());
  ASSERT_TRUE(sink->Close().ok());
  ASSERT_EQ(VisibleFiles(d21).size(), 1u);
  EXPECT_TRUE(fs::exists(d21 / "_SUCCESS"));
  EXPECT_EQ(ReadAll(d21 / VisibleFiles(d21)[0]), "u2\x01/b\\\x01x\x01" "20\nu3\x01\\N\x01" "30\n");

  const std::string ddl = ReadAll(Table() / "_ddl" / "create_table.sql");
  EXPECT_NE(ddl.find("CREATE EXTERNAL TABLE IF NOT EXISTS `ods`.`access_log`"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("`bytes` BIGINT"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("PARTITIONED BY (`dt` STRING)"), std::string::npos) << ddl;
  EXPECT_NE(ddl.find("FIELDS TERMINATED BY '\\001'"), std::string::npos) << ddl;
  const std::string add = ReadAll(Table() / "_ddl" / "partitions" / "dt=2026-11-21.sql");
  EXPECT_NE(add.find("ADD IF NOT EXISTS PARTITION (`dt`='2026-11-21') LOCATION 'file://"), std::string::npos) << add;

  // Read back: every column, the partition column, the escaped separator and the null.
  EXPECT_EQ(ReadBack("dt=2026-11-20..2026-11-21"),
            (std::vector<std::string>{"u1|/a|10|2026-11-20", "u2|/b\x01x|20|2026-11-21", "u3|NULL|30|2026-11-21"}));
  EXPECT_EQ(ReadBack("dt=2026-11-21"),
            (std::vector<std::string>{"u2|/b\x01x|20|2026-11-21", "u3|NULL|30|2026-11-21"}));
}

TEST_F(HiveTest, AReRunInBatchModeReplacesItsPartitionsAndLeavesOthersAlone) {
  auto write = [&](std::vector<std::vector<Value>> rows, std::vector<int64_t> times) {
    auto sink = Sink();
    TestContext ctx(/*batch_mode=*/true);
    TestCollector out;
    ASSERT_TRUE(sink->Open(ctx).ok());
    ASSERT_TRUE(sink->Process(0, BatchOf(schema_, rows, times), out).ok());
    ASSERT_TRUE(sink->OnEndOfInput(out).ok());
    ASSERT_TRUE(sink->Close().ok());
  };
  write({{std::string("old"), std::string("/x"), int64_t{1}}, {std::string("keep"), std::string("/y"), int64_t{2}}},
        {kDay20 + kHour, kDay20 + kDay + kHour});
  write({{std::string("new"), std::string("/x"), int64_t{3}}}, {kDay20 + 2 * kHour});
  EXPECT_EQ(ReadBack("dt=2026-11-20..2026-11-21"),
            (std::vector<std::string>{"keep|/y|2|2026-11-21", "new|/x|3|2026-11-20"}));
  EXPECT_TRUE(fs::exists(Table() / "dt=2026-11-20" / "_SUCCESS"));
  // No staging left behind.
  for (const auto& e : fs::directory_iterator(Table())) {
    EXPECT_FALSE(e.path().filename().string().rfind(".staging", 0) == 0) << e.path();
  }
}

TEST_F(HiveTest, WithCheckpointsFilesBecomeVisibleWhenTheCheckpointCompletes) {
  std::map<std::string, std::string> saved;
  {
    auto sink = Sink({{"compression", Param::String("gzip")}});
    TestContext ctx(false);
    ctx.checkpointing_enabled = true;
    TestCollector out;
    ASSERT_TRUE(sink->Open(ctx).ok());
    ASSERT_TRUE(
        sink->Process(0, BatchOf(schema_, {{std::string("a"), std::string("/1"), int64_t{1}}}, {kDay20 + 1}), out)
            .ok());
    MapWriter w(1);
    ASSERT_TRUE(sink->Snapshot(w).ok());
    saved = w.blobs;
    EXPECT_TRUE(VisibleFiles(Table() / "dt=2026-11-20").empty());  // prepared, not committed
    ASSERT_TRUE(sink->NotifyCheckpointComplete(1).ok());
    ASSERT_EQ(VisibleFiles(Table() / "dt=2026-11-20").size(), 1u);
    EXPECT_TRUE(VisibleFiles(Table() / "dt=2026-11-20")[0].ends_with(".gz"));
    // More rows after the checkpoint, then a crash: they must not show up.
    ASSERT_TRUE(
        sink->Process(0, BatchOf(schema_, {{std::string("b"), std::string("/2"), int64_t{2}}}, {kDay20 + 2}), out)
            .ok());
    MapWriter w2(2);
    ASSERT_TRUE(sink->Snapshot(w2).ok());  // checkpoint 2 prepared but never completed
  }
  auto sink = Sink({{"compression", Param::String("gzip")}});
  MapReader reader(saved);
  ASSERT_TRUE(sink->Restore(reader).ok());
  TestContext ctx(false);
  ctx.checkpointing_enabled = true;
  TestCollector out;
  ASSERT_TRUE(sink->Open(ctx).ok());
  // The uncommitted file of checkpoint 2 was dropped.
  int hidden = 0;
  for (const auto& e : fs::directory_iterator(Table() / "dt=2026-11-20")) {
    if (e.path().filename().string().ends_with(".inprogress")) ++hidden;
  }
  EXPECT_EQ(hidden, 0);
  ASSERT_TRUE(sink->OnEndOfInput(out).ok());
  MapWriter w3(2);
  ASSERT_TRUE(sink->Snapshot(w3).ok());
  ASSERT_TRUE(sink->NotifyCheckpointComplete(2).ok());
  EXPECT_TRUE(fs::exists(Table() / "dt=2026-11-20" / "_SUCCESS"));
  EXPECT_EQ(ReadBack("dt=2026-11-20"), (std::vector<std::string>{"a|/1|1|2026-11-20"}));
}

TEST_F(HiveTest, ZstdFilesReadBack) {
  auto sink = Sink({{"compression", Param::String("zstd")}});
  TestContext ctx(true);
  TestCollector out;
  ASSERT_TRUE(sink->Open(ctx).ok());
  std::vector<std::vector<Value>> rows;
  std::vector<int64_t> times;
  std::vector<std::string> want;
  for (int i = 0; i < 5000; ++i) {
    rows.push_back({std::string("u") + std::to_string(i), std::string("/p\n") + std::to_string(i % 7), int64_t{i}});
    times.push_back(kDay20 + i);
    want.push_back("u" + std::to_string(i) + "|/p\n" + std::to_string(i % 7) + "|" + std::to_string(i) +
                   "|2026-11-20");
  }
  ASSERT_TRUE(sink->Process(0, BatchOf(schema_, rows, times), out).ok());
  ASSERT_TRUE(sink->OnEndOfInput(out).ok());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ReadBack("dt=2026-11-20"), want);
}

TEST_F(HiveTest, ReadingAPartitionWithoutSuccessOrAMissingRangeFailsClearly) {
  fs::create_directories(Table() / "dt=2026-11-20");
  fs::create_directories(Table() / "_ddl");
  std::ofstream(Table() / "_ddl" / "schema.tsv") << "column\tuser\tstring\ncolumn\tpath\tstring\ncolumn\tbytes\tint64\n"
                                                    "partition\tdt\ncompression\tnone\n";
  std::ofstream(Table() / "dt=2026-11-20" / "part-0") << "u\x01/p\x01" "1\n";
  absl::Status st;
  ReadBack("dt=2026-11-20", &st);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("no _SUCCESS"), std::string_view::npos) << st;
  ReadBack("dt=2026-12-01..2026-12-31", &st);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(st.message().find("no partition in dt=2026-12-01..2026-12-31"), std::string_view::npos) << st;
  // An empty partition (only its marker) reads as no rows.
  fs::create_directories(Table() / "dt=2026-11-22");
  std::ofstream(Table() / "dt=2026-11-22" / "_SUCCESS");
  std::ofstream(Table() / "dt=2026-11-22" / "part-empty");
  EXPECT_TRUE(ReadBack("dt=2026-11-22").empty());
}

TEST_F(HiveTest, BadParamsNameTheField) {
  Param p = Param::Map({{"warehouse", Param::String("hdfs://nn:8020/warehouse")}, {"table", Param::String("a.b")}});
  p.SetLocation("h.yaml", 9, "operators[3]");
  OperatorConfig config;
  config.node_id = "out";
  config.params = &p;
  config.input_schemas = {schema_};
  auto op = MakeHiveSink(config);
  ASSERT_FALSE(op.ok());
  EXPECT_NE(op.status().message().find("hdfs:// warehouses are not built yet"), std::string_view::npos)
      << op.status();
  Param q = Param::Map({{"warehouse", Param::String("/tmp/w")}, {"table", Param::String("a.b")},
                        {"time_zone", Param::String("Mars/Olympus")}});
  q.SetLocation("h.yaml", 9, "operators[3]");
  config.params = &q;
  op = MakeHiveSink(config);
  ASSERT_FALSE(op.ok());
  EXPECT_NE(op.status().message().find("time_zone: unknown time zone 'Mars/Olympus'"), std::string_view::npos)
      << op.status();
}

// Issue #10.5: the recovery of one job (at Open) dropped every `.part-<node>-<subtask>-*`
// in-progress file of the table, including those of another job writing the same table
// with the same node id: that job's next checkpoint then lost its rows. Each sink may
// drop only its own in-progress files, also when it restarts from a checkpoint.
TEST_F(HiveTest, TwoJobsWritingOneTableDoNotDropEachOthersInProgressFiles) {
  auto row = [&](const std::string& user, int64_t t) {
    return BatchOf(schema_, {{user, std::string("/p"), int64_t{1}}}, {t});
  };
  TestCollector out;
  // Job A (one ingest agent) writes a row that waits for its next checkpoint.
  auto a = Sink();
  TestContext actx(false);
  actx.checkpointing_enabled = true;
  actx.run = "agent_a-1795104000000-100";
  ASSERT_TRUE(a->Open(actx).ok());
  ASSERT_TRUE(a->Process(0, row("a1", kDay20 + 1), out).ok());
  // Job B (another agent, the same topology on another spool directory) starts on the
  // same table: its recovery must leave A's in-progress file alone.
  auto b = Sink();
  TestContext bctx(false);
  bctx.checkpointing_enabled = true;
  bctx.run = "agent_b-1795104000001-200";
  ASSERT_TRUE(b->Open(bctx).ok());
  ASSERT_TRUE(b->Process(0, row("b1", kDay20 + 2), out).ok());
  std::map<std::string, std::string> a_saved;
  {
    MapWriter w(1);
    ASSERT_TRUE(a->Snapshot(w).ok());
    a_saved = w.blobs;
    absl::Status st = a->NotifyCheckpointComplete(1);
    ASSERT_TRUE(st.ok()) << "job A lost its file to job B's recovery: " << st;
  }
  {
    MapWriter w(1);
    ASSERT_TRUE(b->Snapshot(w).ok());
    ASSERT_TRUE(b->NotifyCheckpointComplete(1).ok());
  }
  // A writes more and crashes before its next checkpoint completes; B has a row in
  // progress. A restarts from checkpoint 1: it drops its own later file, not B's.
  ASSERT_TRUE(a->Process(0, row("a2-lost", kDay20 + 3), out).ok());
  {
    MapWriter w(2);
    ASSERT_TRUE(a->Snapshot(w).ok());  // prepared, never completed
  }
  a.reset();
  ASSERT_TRUE(b->Process(0, row("b2", kDay20 + 4), out).ok());
  auto a2 = Sink();
  MapReader reader(a_saved);
  ASSERT_TRUE(a2->Restore(reader).ok());
  TestContext a2ctx(false);
  a2ctx.checkpointing_enabled = true;
  a2ctx.run = "agent_a-1795104009999-300";
  ASSERT_TRUE(a2->Open(a2ctx).ok());
  ASSERT_TRUE(a2->Process(0, row("a3", kDay20 + 5), out).ok());
  for (auto* sink : {a2.get(), b.get()}) {
    ASSERT_TRUE(sink->OnEndOfInput(out).ok());
    MapWriter w(3);
    ASSERT_TRUE(sink->Snapshot(w).ok());
    absl::Status st = sink->NotifyCheckpointComplete(3);
    ASSERT_TRUE(st.ok()) << st;
  }
  std::vector<std::string> got;
  for (const auto& r : ReadBack("dt=2026-11-20")) got.push_back(r.substr(0, r.find('|')));
  EXPECT_EQ(got, (std::vector<std::string>{"a1", "a3", "b1", "b2"}));
  for (const auto& e : fs::directory_iterator(Table() / "dt=2026-11-20")) {
    EXPECT_FALSE(e.path().filename().string().ends_with(".inprogress")) << e.path();
  }
}


// Issue #10 item 4: a stale attempt (its worker paused, given up for dead, resumed while
// the job's next attempt runs) publishes nothing into the table.
TEST_F(HiveTest, AStaleAttemptPublishesNothingIntoTheTable) {
  auto stale = Sink();
  TestContext ctx1(/*batch_mode=*/false);
  ctx1.job = "ingest-7";
  ctx1.run = "ingest-7-1";
  ctx1.attempt_number = 1;
  TestCollector out;
  ASSERT_TRUE(stale->Open(ctx1).ok());
  ASSERT_TRUE(stale->Process(0, BatchOf(schema_, {{std::string("old"), std::string("/a"), int64_t{1}}},
                                        {kDay20 + kHour}),
                             out)
                  .ok());
  // Attempt 2 takes over the same subtask and writes its own rows.
  auto current = Sink();
  TestContext ctx2(/*batch_mode=*/false);
  ctx2.job = "ingest-7";
  ctx2.run = "ingest-7-2";
  ctx2.attempt_number = 2;
  ASSERT_TRUE(current->Open(ctx2).ok());
  ASSERT_TRUE(current->Process(0, BatchOf(schema_, {{std::string("new"), std::string("/a"), int64_t{2}}},
                                          {kDay20 + kHour}),
                               out)
                  .ok());
  ASSERT_TRUE(current->OnEndOfInput(out).ok());
  ASSERT_TRUE(current->Close().ok());
  // The stale attempt resumes and tries to finish.
  absl::Status st = stale->OnWatermark(kDay20 + kDay, out);
  if (st.ok()) st = stale->OnEndOfInput(out);
  if (st.ok()) st = stale->Close();
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted) << st;
  EXPECT_EQ(ReadBack("dt=2026-11-20"), (std::vector<std::string>{"new|/a|2|2026-11-20"}));
  // And an attempt older than the claim cannot even start.
  auto older = Sink();
  EXPECT_EQ(older->Open(ctx1).code(), absl::StatusCode::kAborted);
}

// A checkpoint whose notify never comes (it timed out, or was declined elsewhere) is
// covered by the next one: each snapshot names every file and finished partition not
// yet committed, also those an earlier checkpoint prepared, and a restore from it
// commits them all, idempotently. A restore from the earlier checkpoint commits only
// what that one named and drops the rest (the source replays it).
TEST_F(HiveTest, ARestoreCommitsWhatEarlierCheckpointsWithoutANotifyPrepared) {
  using Blobs = std::map<std::string, std::string>;
  auto row = [&](const std::string& user, int64_t t) {
    return BatchOf(schema_, {{user, std::string("/p"), int64_t{1}}}, {t});
  };
  const fs::path d20 = Table() / "dt=2026-11-20", d21 = Table() / "dt=2026-11-21";
  // First life: "a" on the 20th, the watermark passes the 20th (its file and _SUCCESS
  // wait for checkpoint 1), checkpoint 1 (no notify), "b" on the 21st, checkpoint 2,
  // then a crash; with `late_notify`, notify(1) comes after checkpoint 2 was taken.
  auto first_life = [&](bool late_notify, Blobs* cp1, Blobs* cp2) {
    fs::remove_all(root_);
    auto sink = Sink();
    TestContext ctx(false);
    ctx.checkpointing_enabled = true;
    TestCollector out;
    ASSERT_TRUE(sink->Open(ctx).ok());
    ASSERT_TRUE(sink->Process(0, row("a", kDay20 + 1), out).ok());
    ASSERT_TRUE(sink->OnWatermark(kDay20 + kDay, out).ok());
    MapWriter w1(1);
    ASSERT_TRUE(sink->Snapshot(w1).ok());
    *cp1 = w1.blobs;
    ASSERT_TRUE(sink->Process(0, row("b", kDay20 + kDay + 1), out).ok());
    MapWriter w2(2);
    ASSERT_TRUE(sink->Snapshot(w2).ok());
    *cp2 = w2.blobs;
    if (late_notify) {
      ASSERT_TRUE(sink->NotifyCheckpointComplete(1).ok());
      EXPECT_EQ(VisibleFiles(d20).size(), 1u);
    } else {
      EXPECT_TRUE(VisibleFiles(d20).empty());
    }
    EXPECT_TRUE(VisibleFiles(d21).empty());
  };
  // Second life: restore from `blobs`, check what Open committed, replay `replay`, end
  // with a final checkpoint, and read the table back.
  auto second_life = [&](const Blobs& blobs, size_t want_d21_files, const std::string& replay) {
    auto sink = Sink();
    MapReader reader(blobs);
    absl::Status st = sink->Restore(reader);
    ASSERT_TRUE(st.ok()) << st;
    TestContext ctx(false);
    ctx.checkpointing_enabled = true;
    TestCollector out;
    st = sink->Open(ctx);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(VisibleFiles(d20).size(), 1u);
    EXPECT_TRUE(fs::exists(d20 / "_SUCCESS"));
    EXPECT_EQ(VisibleFiles(d21).size(), want_d21_files);
    EXPECT_EQ(InProgressFiles(Table()), 0);
    if (!replay.empty()) {
      ASSERT_TRUE(sink->Process(0, row(replay, kDay20 + kDay + 1), out).ok());
    }
    ASSERT_TRUE(sink->OnEndOfInput(out).ok());
    MapWriter w(3);
    ASSERT_TRUE(sink->Snapshot(w).ok());
    ASSERT_TRUE(sink->NotifyCheckpointComplete(3).ok());
    ASSERT_TRUE(sink->Close().ok());
    EXPECT_EQ(ReadBack("dt=2026-11-20..2026-11-21"),
              (std::vector<std::string>{"a|/p|1|2026-11-20", "b|/p|1|2026-11-21"}));
    EXPECT_EQ(InProgressFiles(Table()), 0);
  };
  Blobs cp1, cp2;
  {
    SCOPED_TRACE("restore from checkpoint 2; notify(1) never came");
    first_life(false, &cp1, &cp2);
    second_life(cp2, 1, "");
  }
  {
    SCOPED_TRACE("restore from checkpoint 2; notify(1) came after checkpoint 2");
    first_life(true, &cp1, &cp2);
    second_life(cp2, 1, "");
  }
  {
    SCOPED_TRACE("restore from checkpoint 1: b is dropped, and replayed");
    first_life(false, &cp1, &cp2);
    second_life(cp1, 0, "b");
  }
}

// A checkpoint blob cut short or damaged anywhere fails the restore with DATA_LOSS
// naming the sink, and one whose files were removed behind the job's back fails Open
// the same way; nothing is renamed on the strength of a bad blob.
TEST_F(HiveTest, ADamagedOrTruncatedCheckpointFailsTheRestoreClearly) {
  std::string blob;
  {
    auto sink = Sink();
    TestContext ctx(false);
    ctx.checkpointing_enabled = true;
    TestCollector out;
    ASSERT_TRUE(sink->Open(ctx).ok());
    ASSERT_TRUE(sink->Process(0, BatchOf(schema_, {{std::string("a"), std::string("/p"), int64_t{1}}}, {kDay20 + 1}), out)
                    .ok());
    ASSERT_TRUE(sink->OnWatermark(kDay20 + kDay, out).ok());
    ASSERT_TRUE(sink->Process(0, BatchOf(schema_, {{std::string("b"), std::string("/p"), int64_t{1}}},
                                         {kDay20 + kDay + 1}),
                              out)
                    .ok());
    MapWriter w(1);
    ASSERT_TRUE(sink->Snapshot(w).ok());
    blob = w.blobs.at("hive");
  }
  auto restore = [&](const std::string& bytes) {
    auto sink = Sink();
    MapReader reader({{"hive", bytes}});
    return sink->Restore(reader);
  };
  for (size_t n = 0; n < blob.size(); ++n) {
    absl::Status st = restore(blob.substr(0, n));
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << "cut to " << n << " bytes: " << st;
    EXPECT_NE(st.message().find("hive_sink"), std::string_view::npos) << st;
  }
  for (size_t i = 0; i < blob.size(); ++i) {
    std::string bad = blob;
    bad[i] ^= 0x21;
    absl::Status st = restore(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << "byte " << i << " changed: " << st;
  }
  // Well formed, but naming a file outside the table.
  fs::create_directories(root_ / "outside");
  std::ofstream(root_ / "outside" / ".part-x.inprogress") << "x\n";
  for (const char* rel : {"../../outside/part-x", "/etc/part-x", "dt=2026-11-20/../../../outside/part-x",
                          "dt=2026-11-20/passwd"}) {
    operators::StateWriter w("hive_sink", 1);
    w.Add("table", Table().string());
    w.Add("owner", "o");
    w.Add("seq", 3);
    w.Add("pending", rel);
    absl::Status st = restore(std::move(w).Finish());
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << rel << ": " << st;
  }
  EXPECT_TRUE(fs::exists(root_ / "outside" / ".part-x.inprogress"));
  // Intact, but its in-progress files are gone: Open says the output cannot be completed.
  for (const auto& e : fs::recursive_directory_iterator(Table())) {
    if (e.path().filename().string().ends_with(".inprogress")) fs::remove(e.path());
  }
  auto sink = Sink();
  MapReader reader({{"hive", blob}});
  ASSERT_TRUE(sink->Restore(reader).ok());
  TestContext ctx(false);
  ctx.checkpointing_enabled = true;
  absl::Status st = sink->Open(ctx);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("neither"), std::string_view::npos) << st;
}
}  // namespace
}  // namespace sluice::hive
