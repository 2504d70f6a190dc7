// hive_sink and hive_partitions on a real directory: partitions by event time in a time
// zone, hidden in-progress files, _SUCCESS once the watermark passes, DDL, overwrite of
// a re-run, commits tied to checkpoints, compression, and reading partitions back.
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

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

// ---------------------------------------------------------------------------------
// hive_partitions with checkpoints.

std::string Gzip(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// `n` rows "u<tag><i>\x01/p<i>\x01<i>\n"; without the last newline if `last_newline` is false.
std::string Rows(const std::string& tag, int n, bool last_newline = true) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += "u" + tag + std::to_string(i) + "\x01/p" + std::string(i % 13, 'x') + "\x01" + std::to_string(i) + "\n";
  }
  if (!last_newline && !text.empty()) text.pop_back();
  return text;
}

class HivePartitionsCheckpointTest : public HiveTest {
 protected:
  // Per batch, its rows as "user|path|bytes|dt".
  using Batches = std::vector<std::vector<std::string>>;

  void WriteFile(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
  }
  void Partition(const std::string& dt, std::vector<std::pair<std::string, std::string>> files) {
    const fs::path dir = Table() / ("dt=" + dt);
    fs::create_directories(dir);
    for (const auto& [name, bytes] : files) WriteFile(dir / name, bytes);
    WriteFile(dir / "_SUCCESS", "");
  }
  // Plain, gzip and zstd files, empty ones of each, a last line without a newline, an
  // empty partition, and one outside the range.
  void WriteTable() {
    fs::remove_all(root_);
    WriteFile(Table() / "_ddl" / "schema.tsv",
              "column\tuser\tstring\ncolumn\tpath\tstring\ncolumn\tbytes\tint64\npartition\tdt\ncompression\tnone\n");
    Partition("2026-11-20", {{"part-0", Rows("a", 7)}, {"part-1.gz", Gzip(Rows("b", 5))}, {"part-2.zst", Zstd(Rows("c", 6))}});
    Partition("2026-11-21", {{"part-0", ""}, {"part-1", Rows("d", 4, false)}, {"part-2.gz", Gzip("")},
                             {"part-3.zst", Zstd("")}, {".part-4.inprogress", Rows("hidden", 3)}});
    Partition("2026-11-22", {{"part-0.gz", Gzip(Rows("e", 9, false))}, {"part-1", Rows("f", 3)}, {"part-2.zst", Zstd(Rows("g", 5, false))}});
    Partition("2026-11-23", {});
    Partition("2026-11-24", {{"part-0", Rows("outside", 2)}});
  }

  std::unique_ptr<Source> Subtask(const std::string& partitions, int subtask, int parallelism, int64_t batch) {
    params_.push_back(std::make_unique<Param>(Param::Map({{"warehouse", Param::String(root_.string())},
                                                          {"table", Param::String("ods.access_log")},
                                                          {"partitions", Param::String(partitions)},
                                                          {"batch_size", Param::Number(static_cast<double>(batch))}})));
    OperatorConfig config;
    config.node_id = "days";
    config.params = params_.back().get();
    config.subtask_index = subtask;
    config.parallelism = parallelism;
    auto src = MakeHivePartitionsSource(config);
    EXPECT_TRUE(src.ok()) << src.status();
    return src.ok() ? std::move(*src) : nullptr;
  }

  static void Append(const TestCollector& out, Batches* batches) {
    for (const auto& b : out.batches) {
      std::vector<std::string> rows;
      for (size_t r = 0; r < b->num_rows(); ++r) {
        std::string row;
        for (int c = 0; c < b->num_columns(); ++c) {
          const Column& col = b->column(c);
          row += c ? "|" : "";
          row += col.type == Type::kInt64 ? std::to_string(col.ints[r]) : std::string(col.strings[r]);
        }
        rows.push_back(row);
      }
      batches->push_back(std::move(rows));
    }
  }

  // Opens `src` (after restoring `blob`, if not empty), polls it up to `polls` times (-1:
  // to the end) into `batches`, and returns its snapshot then.
  std::string Run(Source& src, const std::string& blob, int polls, Batches* batches, absl::Status* status = nullptr) {
    if (!blob.empty()) {
      MapReader reader({{"hive_partitions", blob}});
      absl::Status st = src.Restore(reader);
      EXPECT_TRUE(st.ok()) << st;
    }
    TestContext ctx(true);
    ctx.checkpointing_enabled = true;
    TestCollector out;
    absl::Status st = src.Open(ctx);
    for (int i = 0; st.ok() && (polls < 0 || i < polls); ++i) {
      auto more = src.Poll(out);
      if (!more.ok()) st = more.status();
      if (!more.ok() || !*more) break;
    }
    if (status != nullptr) *status = st;
    EXPECT_TRUE(status != nullptr || st.ok()) << st;
    Append(out, batches);
    MapWriter w(1);
    if (st.ok()) {
      EXPECT_TRUE(src.Snapshot(w).ok());
    }
    return w.blobs["hive_partitions"];
  }

  // Cuts every subtask's undisturbed run after each batch: snapshot, restore a fresh
  // instance, read one more batch, snapshot again, restore another and read on. The
  // three together must emit the undisturbed run's batches exactly, rows and boundaries.
  void CheckEveryCut(const std::string& partitions, int parallelism, int64_t batch, size_t* total_rows = nullptr) {
    for (int subtask = 0; subtask < parallelism; ++subtask) {
      Batches whole;
      auto src = Subtask(partitions, subtask, parallelism, batch);
      Run(*src, "", -1, &whole);
      for (const auto& b : whole) {
        if (total_rows != nullptr) *total_rows += b.size();
      }
      for (size_t cut = 0; cut <= whole.size(); ++cut) {
        SCOPED_TRACE(::testing::Message() << "subtask " << subtask << " of " << parallelism << ", batch_size "
                                          << batch << ", cut after batch " << cut);
        Batches got;
        auto first = Subtask(partitions, subtask, parallelism, batch);
        const std::string blob1 = Run(*first, "", static_cast<int>(cut), &got);
        ASSERT_EQ(got.size(), cut);
        auto second = Subtask(partitions, subtask, parallelism, batch);
        const std::string blob2 = Run(*second, blob1, 1, &got);
        auto third = Subtask(partitions, subtask, parallelism, batch);
        Run(*third, blob2, -1, &got);
        ASSERT_EQ(got, whole);
      }
    }
  }

  std::vector<std::unique_ptr<Param>> params_;
};

TEST_F(HivePartitionsCheckpointTest, AfterARestoreEveryRecordComesOnceInOrderInTheSameBatches) {
  WriteTable();
  const std::string range = "dt=2026-11-20..2026-11-23";
  size_t rows = 0;
  CheckEveryCut(range, 1, 2, &rows);
  EXPECT_EQ(rows, 7u + 5 + 6 + 4 + 9 + 3 + 5);
  for (int64_t batch : {1, 3, 100}) CheckEveryCut(range, 1, batch);
  for (int parallelism : {2, 3, 5}) {
    rows = 0;
    CheckEveryCut(range, parallelism, 2, &rows);
    EXPECT_EQ(rows, 7u + 5 + 6 + 4 + 9 + 3 + 5) << "parallelism " << parallelism;
  }
  // No blob for this operator: a fresh start.
  Batches whole, fresh;
  auto src = Subtask(range, 0, 1, 2);
  Run(*src, "", -1, &whole);
  auto other = Subtask(range, 0, 1, 2);
  MapReader none(std::map<std::string, std::string>{{"another_operator", "x"}});
  ASSERT_TRUE(other->Restore(none).ok());
  Run(*other, "", -1, &fresh);
  EXPECT_EQ(fresh, whole);
}

// A .gz file decompresses in 4 MiB chunks, and a batch also ends where a chunk does: a
// restore that skips lines must leave the chunks where they were.
TEST_F(HivePartitionsCheckpointTest, ALargeGzipFileResumesAtTheSameLinesAndChunks) {
  fs::remove_all(root_);
  WriteFile(Table() / "_ddl" / "schema.tsv",
            "column\tuser\tstring\ncolumn\tpath\tstring\ncolumn\tbytes\tint64\npartition\tdt\ncompression\tnone\n");
  std::string big;
  for (int i = 0; i < 220000; ++i) big += "user" + std::to_string(i) + "\x01/" + std::string(i % 57, 'p') + "\x01" + std::to_string(i) + "\n";
  ASSERT_GT(big.size(), 8u << 20);
  Partition("2026-11-20", {{"part-0.gz", Gzip(big)}, {"part-1.zst", Zstd(big.substr(0, 1 << 20))}});
  Batches whole;
  auto src = Subtask("dt=2026-11-20", 0, 1, 20011);
  Run(*src, "", -1, &whole);
  size_t short_batches = 0;
  for (size_t i = 0; i + 1 < whole.size(); ++i) short_batches += whole[i].size() < 20011;
  EXPECT_GE(short_batches, 2u);  // chunk ends inside the file
  CheckEveryCut("dt=2026-11-20", 1, 20011);
}

TEST_F(HivePartitionsCheckpointTest, ARestoreFindingOtherPartitionsOrFilesFailsNamingThem) {
  const std::string range = "dt=2026-11-20..2026-11-23";
  auto restore = [&](const std::string& blob, const std::string& partitions, int subtask, int parallelism) {
    Batches ignored;
    absl::Status st;
    auto src = Subtask(partitions, subtask, parallelism, 2);
    Run(*src, blob, -1, &ignored, &st);
    return st;
  };
  auto snapshot = [&] {
    WriteTable();
    Batches ignored;
    auto src = Subtask(range, 0, 1, 2);
    return Run(*src, "", 3, &ignored);
  };
  struct Case {
    std::string what;
    std::function<void()> change;
    std::string message;
  };
  const fs::path t = Table();
  std::vector<Case> cases = {
      {"a file added", [&] { WriteFile(t / "dt=2026-11-21" / "part-9", Rows("z", 1)); },
       "dt=2026-11-21 has 5 data file(s), 4 at the checkpoint"},
      {"a file re-written", [&] { WriteFile(t / "dt=2026-11-22" / "part-1", Rows("f", 4)); },
       "dt=2026-11-22 has 3 data file(s), 3 at the checkpoint, with other names or sizes"},
      {"a partition overwritten", [&] {
         fs::remove_all(t / "dt=2026-11-20");
         Partition("2026-11-20", {{"part-7", Rows("a", 7)}, {"part-8", Rows("b", 5)}, {"part-9", Rows("c", 6)}});
       }, "dt=2026-11-20 has 3 data file(s), 3 at the checkpoint, with other names or sizes"},
      {"a partition removed", [&] { fs::remove_all(t / "dt=2026-11-23"); }, "dt=2026-11-23 is gone"},
      {"a hidden file, a marker and a partition outside the range: no change",
       [&] {
         WriteFile(t / "dt=2026-11-21" / ".part-5.inprogress", "x\n");
         WriteFile(t / "dt=2026-11-21" / "_SUCCESS.subtask-0", "");
         WriteFile(t / "dt=2026-11-25" / "part-0", "x\n");
       },
       ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string blob = snapshot();
    c.change();
    absl::Status st = restore(blob, range, 0, 1);
    if (c.message.empty()) {
      EXPECT_TRUE(st.ok()) << st;
      continue;
    }
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
    EXPECT_NE(st.message().find(c.message), std::string_view::npos) << st;
    EXPECT_NE(st.message().find("hive_partitions"), std::string_view::npos) << st;
  }
  // Another range, another parallelism.
  const std::string blob = snapshot();
  absl::Status st = restore(blob, "dt=2026-11-20..2026-11-24", 0, 1);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("dt=2026-11-24 is new"), std::string_view::npos) << st;
  st = restore(blob, range, 0, 2);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("taken by subtask 0 of 1, this is subtask 0 of 2"), std::string_view::npos) << st;
}

TEST_F(HivePartitionsCheckpointTest, ADamagedOrTruncatedBlobFailsWithDataLoss) {
  WriteTable();
  const std::string range = "dt=2026-11-20..2026-11-23";
  Batches ignored;
  auto src = Subtask(range, 0, 1, 2);
  const std::string blob = Run(*src, "", 5, &ignored);  // inside part-1.gz
  ASSERT_NE(blob.find("\nlines 2\n"), std::string::npos) << blob;
  auto restore = [&](const std::string& bytes) {
    auto fresh = Subtask(range, 0, 1, 2);
    MapReader reader({{"hive_partitions", bytes}});
    return fresh->Restore(reader);
  };
  for (size_t n = 0; n < blob.size(); ++n) {
    absl::Status st = restore(blob.substr(0, n));
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << "cut to " << n << " bytes: " << st;
    EXPECT_NE(st.message().find("hive_partitions"), std::string_view::npos) << st;
  }
  for (size_t i = 0; i < blob.size(); ++i) {
    std::string bad = blob;
    bad[i] ^= 0x21;
    absl::Status st = restore(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << "byte " << i << " changed: " << st;
  }
  // Well formed, checksummed, but pointing past the files: DATA_LOSS at Open, or (a
  // compressed file with fewer lines) FAILED_PRECONDITION; never a crash.
  auto with = [&](const std::string& key, const std::string& value) {
    auto lines = operators::ParseState(blob, "hive_partitions", 1);
    EXPECT_TRUE(lines.ok()) << lines.status();
    operators::StateWriter w("hive_partitions", 1);
    for (const auto& line : *lines) w.Add(line.key, line.key == key ? value : line.value);
    return std::move(w).Finish();
  };
  const std::vector<std::tuple<std::string, std::string, absl::StatusCode>> cases = {
      {"done", "99", absl::StatusCode::kDataLoss},
      {"done", "0", absl::StatusCode::kOk},  // part-0, plain: offset 0 is its first line
      {"lines", "6", absl::StatusCode::kFailedPrecondition},
      {"partition", "x y dt=2026-11-20", absl::StatusCode::kDataLoss},
      {"subtask", "one", absl::StatusCode::kDataLoss},
      {"offset", "-3", absl::StatusCode::kDataLoss},
  };
  for (const auto& [key, value, code] : cases) {
    SCOPED_TRACE(key + " " + value);
    auto fresh = Subtask(range, 0, 1, 2);
    MapReader reader({{"hive_partitions", with(key, value)}});
    absl::Status st = fresh->Restore(reader);
    if (st.ok()) {
      TestContext ctx(true);
      st = fresh->Open(ctx);
    }
    EXPECT_EQ(st.code(), code) << st;
    if (!st.ok()) {
      EXPECT_NE(st.message().find("hive_partitions"), std::string_view::npos) << st;
    }
  }
  // A plain file's offset past its end.
  {
    auto fresh = Subtask(range, 0, 1, 2);
    Batches got;
    const std::string in_plain = Run(*fresh, "", 2, &got);  // inside part-0
    auto lines = operators::ParseState(in_plain, "hive_partitions", 1);
    ASSERT_TRUE(lines.ok());
    operators::StateWriter w("hive_partitions", 1);
    for (const auto& line : *lines) w.Add(line.key, line.key == "offset" ? std::string("100000") : line.value);
    auto again = Subtask(range, 0, 1, 2);
    MapReader reader({{"hive_partitions", std::move(w).Finish()}});
    ASSERT_TRUE(again->Restore(reader).ok());
    TestContext ctx(true);
    absl::Status st = again->Open(ctx);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
    EXPECT_NE(st.message().find("past the end of"), std::string_view::npos) << st;
  }
}
}  // namespace
}  // namespace sluice::hive
