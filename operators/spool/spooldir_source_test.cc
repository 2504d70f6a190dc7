// spooldir_source on a real directory: pickup rules, renaming done files, checkpointed
// progress across a restart mid-file, unreadable and changing files.
#include "operators/spool/spooldir_source.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "operators/basic/snapshot_state.h"
#include "operators/testing/operator_harness.h"

namespace sluice::operators {
namespace {

namespace fs = std::filesystem;
using ::sluice::testing::TestCollector;
using ::sluice::testing::TestContext;

using MapWriter = ::sluice::testing::MapSnapshotWriter;
using MapReader = ::sluice::testing::MapSnapshotReader;

void WriteLines(const fs::path& path, const std::string& prefix, int n) {
  std::ofstream out(path);
  for (int i = 0; i < n; ++i) out << prefix << i << "\n";
}

std::vector<std::string> Lines(const TestCollector& out) {
  std::vector<std::string> lines;
  for (const auto& b : out.batches) {
    for (size_t r = 0; r < b->num_rows(); ++r) lines.push_back(std::string(b->column(0).strings[r]));
  }
  return lines;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("spool_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Source> Make(bool stop_when_empty, int batch_size = 1000) {
    params_ = Param::Map({{"dir", Param::String(dir_.string())},
                          {"stop_when_empty", Param::Bool(stop_when_empty)},
                          {"poll_interval", Param::String("10ms")},
                          {"batch_size", Param::Number(batch_size)}});
    params_.SetLocation("s.yaml", 3, "operators[0]");
    OperatorConfig config;
    config.node_id = "spool";
    config.params = &params_;
    auto src = MakeSpoolDirSource(config);
    EXPECT_TRUE(src.ok()) << src.status();
    return src.ok() ? std::move(*src) : nullptr;
  }

  // Polls until the source ends (bounded) or `max_polls`.
  absl::Status Drain(Source& src, TestCollector& out, int max_polls = 1000) {
    for (int i = 0; i < max_polls; ++i) {
      auto more = src.Poll(out);
      if (!more.ok()) return more.status();
      if (!*more) return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  fs::path dir_;
  Param params_;
};

TEST_F(SpoolTest, ReadsCompletedFilesOnceIgnoresTmpAndMarksThemDone) {
  WriteLines(dir_ / "a.log", "a", 5);
  WriteLines(dir_ / "b.log.tmp", "b", 5);  // still being written
  {
    std::ofstream gz_plain(dir_ / "c.raw");
  }
  gzFile gz = gzopen((dir_ / "c.log.gz").c_str(), "wb");
  gzputs(gz, "c0\nc1\n");
  gzclose(gz);
  auto src = Make(true);
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE(src->Open(ctx).ok());
  ASSERT_TRUE(Drain(*src, out).ok());
  std::multiset<std::string> got;
  for (const auto& l : Lines(out)) got.insert(l);
  EXPECT_EQ(got, (std::multiset<std::string>{"a0", "a1", "a2", "a3", "a4", "c0", "c1"}));
  EXPECT_TRUE(fs::exists(dir_ / "a.log.COMPLETED"));
  EXPECT_TRUE(fs::exists(dir_ / "c.log.gz.COMPLETED"));
  EXPECT_TRUE(fs::exists(dir_ / "c.raw.COMPLETED"));  // empty: read (no lines) and marked
  EXPECT_TRUE(fs::exists(dir_ / "b.log.tmp"));
  EXPECT_EQ(ctx.counter("spool_files_done"), 3);
  // The file column names the file.
  EXPECT_EQ(out.batches[0]->column(1).strings[0], out.batches[0]->column(0).strings[0][0] == 'a' ? "a.log" : "c.log.gz");

  // The .tmp file is renamed in (its writer finished): a new source picks it up, and
  // nothing marked done is read again.
  fs::rename(dir_ / "b.log.tmp", dir_ / "b.log");
  auto again = Make(true);
  TestContext ctx2;
  TestCollector out2;
  ASSERT_TRUE(again->Open(ctx2).ok());
  ASSERT_TRUE(Drain(*again, out2).ok());
  EXPECT_EQ(Lines(out2), (std::vector<std::string>{"b0", "b1", "b2", "b3", "b4"}));
}

TEST_F(SpoolTest, PicksUpAFileRenamedInWhileRunning) {
  auto src = Make(false);
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE(src->Open(ctx).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(src->Poll(out).ok());
  EXPECT_EQ(out.num_rows(), 0u);
  WriteLines(dir_ / "late.log.tmp", "x", 3);
  fs::rename(dir_ / "late.log.tmp", dir_ / "late.log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (out.num_rows() < 3 && std::chrono::steady_clock::now() < deadline) ASSERT_TRUE(src->Poll(out).ok());
  EXPECT_EQ(Lines(out), (std::vector<std::string>{"x0", "x1", "x2"}));
}

TEST_F(SpoolTest, ARestartFromACheckpointMidFileReadsNoLineTwiceAndLosesNone) {
  WriteLines(dir_ / "day1.log", "d1-", 1000);
  WriteLines(dir_ / "day2.log", "d2-", 1000);
  std::vector<std::string> all;
  std::map<std::string, std::string> saved;
  {
    auto src = Make(true, 100);
    TestContext ctx;
    ctx.checkpointing_enabled = true;
    TestCollector out;
    ASSERT_TRUE(src->Open(ctx).ok());
    // Read 1,300 lines (day1 whole, 300 of day2), checkpoint, read 200 more, "crash".
    while (out.num_rows() < 1300) ASSERT_TRUE(src->Poll(out).ok());
    MapWriter w(1);
    ASSERT_TRUE(src->Snapshot(w).ok());
    saved = w.blobs;
    auto lines = Lines(out);
    all.assign(lines.begin(), lines.end());
    // Before the checkpoint completes, day1 is not marked done.
    EXPECT_TRUE(fs::exists(dir_ / "day1.log"));
    TestCollector lost;
    ASSERT_TRUE(src->Poll(lost).ok());
    ASSERT_TRUE(src->Poll(lost).ok());
    // Crash: NotifyCheckpointComplete never ran, the records in `lost` are gone with the
    // uncommitted output.
  }
  auto src = Make(true, 100);
  MapReader reader(saved);
  ASSERT_TRUE(src->Restore(reader).ok());
  TestContext ctx;
  ctx.checkpointing_enabled = true;
  TestCollector out;
  ASSERT_TRUE(src->Open(ctx).ok());
  EXPECT_TRUE(fs::exists(dir_ / "day1.log.COMPLETED"));  // the checkpoint said it was read
  ASSERT_TRUE(Drain(*src, out).ok());
  for (const auto& l : Lines(out)) all.push_back(l);
  ASSERT_EQ(all.size(), 2000u);
  std::set<std::string> unique(all.begin(), all.end());
  EXPECT_EQ(unique.size(), 2000u);
  // day2 is marked only when a checkpoint covering its end completes.
  EXPECT_TRUE(fs::exists(dir_ / "day2.log"));
  MapWriter w(2);
  ASSERT_TRUE(src->Snapshot(w).ok());
  ASSERT_TRUE(src->NotifyCheckpointComplete(2).ok());
  EXPECT_TRUE(fs::exists(dir_ / "day2.log.COMPLETED"));
}

TEST_F(SpoolTest, AnUnreadableFileIsReportedAndTheOthersGoOn) {
  {
    // A gzip header followed by bytes that are not a deflate stream.
    std::ofstream bad(dir_ / "broken.log.gz", std::ios::binary);
    const char header[] = {'\x1f', '\x8b', '\x08', '\x00', '\x00', '\x00', '\x00', '\x00', '\x00', '\x03'};
    bad.write(header, sizeof(header));
    bad << "\xff\xff\xff\xff this is not deflate data \xff\xff";
  }
  WriteLines(dir_ / "good.log", "g", 3);
  auto src = Make(true);
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE(src->Open(ctx).ok());
  ASSERT_TRUE(Drain(*src, out).ok());
  EXPECT_EQ(ctx.counter("spool_files_unreadable"), 1);
  std::set<std::string> lines;
  for (const auto& l : Lines(out)) lines.insert(l);
  EXPECT_TRUE(lines.count("g0") && lines.count("g1") && lines.count("g2"));
  EXPECT_TRUE(fs::exists(dir_ / "good.log.COMPLETED"));
  EXPECT_TRUE(fs::exists(dir_ / "broken.log.gz"));  // left for a person to look at
}

TEST_F(SpoolTest, AFileThatChangesAfterPickupFailsLoudly) {
  WriteLines(dir_ / "growing.log", "g", 500);
  auto src = Make(true, 100);
  TestContext ctx;
  TestCollector out;
  ASSERT_TRUE(src->Open(ctx).ok());
  ASSERT_TRUE(src->Poll(out).ok());
  {
    std::ofstream more(dir_ / "growing.log", std::ios::app);
    more << "appended after pickup\n";
  }
  absl::Status st = Drain(*src, out);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("growing.log changed while it was read"), std::string_view::npos) << st;
  EXPECT_FALSE(fs::exists(dir_ / "growing.log.COMPLETED"));
}

// Issue #10.6: half a .gz, random bytes named .gz and plain text named .gz were read as
// a success and marked .COMPLETED. Each must be left in place and counted unreadable,
// with or without checkpoints.
TEST_F(SpoolTest, TruncatedOrNonGzipFilesAreLeftInPlaceAndCounted) {
  for (bool checkpointing : {false, true}) {
    SCOPED_TRACE(checkpointing ? "checkpointing" : "no checkpoints");
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string whole;
    {
      const fs::path tmp = fs::temp_directory_path() / ("spool_gz_" + std::to_string(::getpid()) + ".gz");
      gzFile gz = gzopen(tmp.c_str(), "wb");
      for (int i = 0; i < 20000; ++i) gzprintf(gz, "t%d with some padding text\n", i);
      gzclose(gz);
      std::ifstream in(tmp, std::ios::binary);
      whole.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      fs::remove(tmp);
    }
    std::ofstream(dir_ / "half.log.gz", std::ios::binary) << whole.substr(0, whole.size() / 2);
    std::ofstream(dir_ / "plain.log.gz", std::ios::binary) << "p0\np1\n";
    {
      std::ofstream junk(dir_ / "junk.gz", std::ios::binary);
      for (int i = 0; i < 5000; ++i) junk.put(static_cast<char>((i * 7919 + 13) % 251 + 3));
    }
    WriteLines(dir_ / "good.log", "g", 3);
    auto src = Make(true, 100);
    TestContext ctx;
    ctx.checkpointing_enabled = checkpointing;
    TestCollector out;
    ASSERT_TRUE(src->Open(ctx).ok());
    ASSERT_TRUE(Drain(*src, out).ok());
    if (checkpointing) {
      MapWriter w(1);
      ASSERT_TRUE(src->Snapshot(w).ok());
      ASSERT_TRUE(src->NotifyCheckpointComplete(1).ok());
    }
    EXPECT_EQ(ctx.counter("spool_files_unreadable"), 3);
    EXPECT_EQ(ctx.counter("spool_files_done"), 1);
    for (const char* name : {"half.log.gz", "plain.log.gz", "junk.gz"}) {
      EXPECT_TRUE(fs::exists(dir_ / name)) << name;
      EXPECT_FALSE(fs::exists(dir_ / (std::string(name) + ".COMPLETED"))) << name;
    }
    EXPECT_TRUE(fs::exists(dir_ / "good.log.COMPLETED"));
    for (const auto& l : Lines(out)) EXPECT_NE(l.rfind("p", 0), 0u) << "plain text named .gz was read: " << l;
  }
}

// A checkpoint whose notify never comes is covered by the next one: each snapshot names
// every file read to the end and not yet marked done, also those of earlier checkpoints,
// and a restore from it marks them all, so none is read again. A restore from the
// earlier checkpoint marks only what that one named; the rest is read again (its output
// after that checkpoint was never committed).
TEST_F(SpoolTest, ARestoreMarksWhatEarlierCheckpointsWithoutANotifyFinished) {
  using Blobs = std::map<std::string, std::string>;
  // First life: a.log read to its end, checkpoint 1 (no notify), b.log read to its end
  // and 2 lines of c.log, checkpoint 2, then a crash. Returns the lines read up to each
  // checkpoint.
  auto first_life = [&](bool late_notify, Blobs* cp1, Blobs* cp2, std::vector<std::string>* by1,
                        std::vector<std::string>* by2) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const auto t0 = fs::file_time_type::clock::now() - std::chrono::hours(1);
    WriteLines(dir_ / "a.log", "a", 5);
    WriteLines(dir_ / "b.log", "b", 5);
    WriteLines(dir_ / "c.log", "c", 5);
    fs::last_write_time(dir_ / "a.log", t0);
    fs::last_write_time(dir_ / "b.log", t0 + std::chrono::seconds(1));
    fs::last_write_time(dir_ / "c.log", t0 + std::chrono::seconds(2));
    auto src = Make(true, 2);
    TestContext ctx;
    ctx.checkpointing_enabled = true;
    TestCollector out;
    ASSERT_TRUE(src->Open(ctx).ok());
    while (out.num_rows() < 5) ASSERT_TRUE(src->Poll(out).ok());
    ASSERT_TRUE(src->Poll(out).ok());  // the end of a.log
    ASSERT_EQ(out.num_rows(), 5u);
    MapWriter w1(1);
    ASSERT_TRUE(src->Snapshot(w1).ok());
    *cp1 = w1.blobs;
    *by1 = Lines(out);
    while (out.num_rows() < 12) ASSERT_TRUE(src->Poll(out).ok());
    ASSERT_EQ(out.num_rows(), 12u);  // b0..b4, c0, c1
    MapWriter w2(2);
    ASSERT_TRUE(src->Snapshot(w2).ok());
    *cp2 = w2.blobs;
    *by2 = Lines(out);
    if (late_notify) {
      ASSERT_TRUE(src->NotifyCheckpointComplete(1).ok());
    }
    EXPECT_EQ(fs::exists(dir_ / "a.log.COMPLETED"), late_notify);
    EXPECT_TRUE(fs::exists(dir_ / "b.log"));
  };
  // Second life: restore from `blobs`, check what Open marked, read to the end, and check
  // that the lines before the checkpoint and after the restore are each line once.
  auto second_life = [&](const Blobs& blobs, std::vector<std::string> lines, bool want_b_marked) {
    auto src = Make(true, 2);
    MapReader reader(blobs);
    absl::Status st = src->Restore(reader);
    ASSERT_TRUE(st.ok()) << st;
    TestContext ctx;
    ctx.checkpointing_enabled = true;
    TestCollector out;
    st = src->Open(ctx);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_TRUE(fs::exists(dir_ / "a.log.COMPLETED"));
    EXPECT_EQ(fs::exists(dir_ / "b.log.COMPLETED"), want_b_marked);
    ASSERT_TRUE(Drain(*src, out).ok());
    MapWriter w(3);
    ASSERT_TRUE(src->Snapshot(w).ok());
    ASSERT_TRUE(src->NotifyCheckpointComplete(3).ok());
    ASSERT_TRUE(src->Close().ok());
    for (const auto& l : Lines(out)) lines.push_back(l);
    std::sort(lines.begin(), lines.end());
    EXPECT_EQ(lines, (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4", "c0",
                                               "c1", "c2", "c3", "c4"}));
    for (const char* name : {"a.log", "b.log", "c.log"}) {
      EXPECT_TRUE(fs::exists(dir_ / (std::string(name) + ".COMPLETED"))) << name;
      EXPECT_FALSE(fs::exists(dir_ / name)) << name;
    }
  };
  Blobs cp1, cp2;
  std::vector<std::string> by1, by2;
  {
    SCOPED_TRACE("restore from checkpoint 2; notify(1) never came");
    first_life(false, &cp1, &cp2, &by1, &by2);
    second_life(cp2, by2, true);
  }
  {
    SCOPED_TRACE("restore from checkpoint 2; notify(1) came after checkpoint 2");
    first_life(true, &cp1, &cp2, &by1, &by2);
    second_life(cp2, by2, true);
  }
  {
    SCOPED_TRACE("restore from checkpoint 1");
    first_life(false, &cp1, &cp2, &by1, &by2);
    second_life(cp1, by1, false);
  }
}

// A checkpoint blob cut short or damaged anywhere fails the restore with DATA_LOSS
// naming the source; a well-formed one naming a path outside the directory too, and a
// file it names that changed since is not marked done.
TEST_F(SpoolTest, ADamagedOrTruncatedCheckpointFailsTheRestoreClearly) {
  WriteLines(dir_ / "a.log", "a", 3);
  WriteLines(dir_ / "b.log", "b", 5);
  fs::last_write_time(dir_ / "b.log", fs::last_write_time(dir_ / "a.log") + std::chrono::seconds(1));
  std::string blob;
  {
    auto src = Make(true, 2);
    TestContext ctx;
    ctx.checkpointing_enabled = true;
    TestCollector out;
    ASSERT_TRUE(src->Open(ctx).ok());
    while (out.num_rows() < 5) ASSERT_TRUE(src->Poll(out).ok());  // a.log done, b.log at line 2
    MapWriter w(1);
    ASSERT_TRUE(src->Snapshot(w).ok());
    blob = w.blobs.at("spool");
  }
  auto restore = [&](const std::string& bytes) {
    auto src = Make(true, 2);
    MapReader reader({{"spool", bytes}});
    return src->Restore(reader);
  };
  for (size_t n = 0; n < blob.size(); ++n) {
    absl::Status st = restore(blob.substr(0, n));
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << "cut to " << n << " bytes: " << st;
    EXPECT_NE(st.message().find("spooldir_source"), std::string_view::npos) << st;
  }
  for (size_t i = 0; i < blob.size(); ++i) {
    std::string bad = blob;
    bad[i] ^= 0x21;
    absl::Status st = restore(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << "byte " << i << " changed: " << st;
  }
  for (const char* name : {"../a.log", "..", "sub/a.log"}) {
    operators::StateWriter w("spooldir_source", 1);
    w.Add("done", absl::StrCat("1\t3\t4\t", name));
    absl::Status st = restore(std::move(w).Finish());
    EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << name << ": " << st;
  }
  // Intact, but a.log was replaced by another file of that name: not marked done.
  fs::remove(dir_ / "a.log");
  WriteLines(dir_ / "a.log", "other", 7);
  auto src = Make(true, 2);
  MapReader reader({{"spool", blob}});
  ASSERT_TRUE(src->Restore(reader).ok());
  TestContext ctx;
  ctx.checkpointing_enabled = true;
  absl::Status st = src->Open(ctx);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_NE(st.message().find("a.log"), std::string_view::npos) << st;
  EXPECT_FALSE(fs::exists(dir_ / "a.log.COMPLETED"));
}

}  // namespace
}  // namespace sluice::operators
