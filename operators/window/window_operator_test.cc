#include "operators/window/window_operator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "operators/testing/operator_harness.h"
#include "operators/window/register.h"

namespace sluice::operators::window {
namespace {

namespace st = ::sluice::testing;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Rows = std::vector<std::vector<st::Value>>;

// (Binds the Status to a local: common/testing/status_matchers.h's ASSERT_OK keeps a
// reference to a destroyed temporary.)
#define WINDOW_ASSERT_OK(expr)                  \
  do {                                          \
    const absl::Status _window_st = (expr);     \
    ASSERT_TRUE(_window_st.ok()) << _window_st; \
  } while (0)

Param S(std::string s) { return Param::String(std::move(s)); }
Param N(double v) { return Param::Number(v); }
Param L(std::vector<Param> items) { return Param::List(std::move(items)); }
Param M(std::vector<std::pair<std::string, Param>> entries) {
  return Param::Map(std::move(entries));
}
Param Agg(std::string fn, std::string field, std::string as) {
  std::vector<std::pair<std::string, Param>> e = {{"fn", S(std::move(fn))}};
  if (!field.empty()) e.push_back({"field", S(std::move(field))});
  e.push_back({"as", S(std::move(as))});
  return M(std::move(e));
}
Param Tumbling(std::string size) {
  return M({{"type", S("tumbling")}, {"size", S(std::move(size))}});
}

// Wraps one operator instance, a TestContext and a TestCollector. Also records the
// interleaving of emitted batches and watermarks.
class OpRun {
 public:
  // With `restore`, the instance restores those checkpoint blobs before Open.
  // With `restore_states`, the context's keyed states (backend `backend`) restore those
  // blobs (SnapshotStates) first.
  OpRun(Param params, SchemaPtr schema, bool batch_mode = false,
        const std::map<std::string, std::string>* restore = nullptr, const std::string& backend = "memory",
        const std::map<std::string, std::string>* restore_states = nullptr)
      : params_(std::move(params)), schema_(std::move(schema)), ctx_(batch_mode, "w") {
    ctx_.state_backend = backend;
    if (restore_states != nullptr) {
      for (const auto& [name, blob] : *restore_states) {
        absl::Status st = ctx_.states().Restore(name, blob);
        EXPECT_TRUE(st.ok()) << st;
      }
    }
    if (!Create()) return;
    if (restore != nullptr) {
      st::MapSnapshotReader reader(*restore);
      absl::Status restored = op_->Restore(reader);
      EXPECT_TRUE(restored.ok()) << restored;
    }
    absl::Status open = op_->Open(ctx_);
    EXPECT_TRUE(open.ok()) << open;
  }
  // Subtask `subtask` of `parallelism`; with `rescale_from`, restored from the checkpoints
  // of those old subtasks (st::RestoreSubtaskRescaled) before Open.
  OpRun(Param params, SchemaPtr schema, int subtask, int parallelism,
        const std::vector<st::SubtaskSnapshot>* rescale_from, const std::string& backend = "memory")
      : params_(std::move(params)), schema_(std::move(schema)), ctx_(false, "w") {
    ctx_.state_backend = backend;
    ctx_.SetSubtask(subtask, parallelism);
    if (!Create()) return;
    if (rescale_from != nullptr) {
      absl::Status restored = st::RestoreSubtaskRescaled(*op_, ctx_, *rescale_from);
      EXPECT_TRUE(restored.ok()) << restored;
    }
    absl::Status open = op_->Open(ctx_);
    EXPECT_TRUE(open.ok()) << open;
  }

  bool ok() const { return op_ != nullptr; }
  void Feed(const Rows& rows, const std::vector<int64_t>& ts) {
    WINDOW_ASSERT_OK(op_->Process(0, st::BatchOf(schema_, rows, ts), out_));
    log_.push_back("batch");
  }
  void Watermark(int64_t wm) {
    size_t before = out_.batches.size();
    WINDOW_ASSERT_OK(op_->OnWatermark(wm, out_));
    for (size_t i = before; i < out_.batches.size(); ++i) {
      log_.push_back("rows:" + std::to_string(out_.batches[i]->num_rows()));
    }
    log_.push_back("wm:" + std::to_string(wm));
  }
  void End() { WINDOW_ASSERT_OK(op_->OnEndOfInput(out_)); }
  // Rows emitted since the last call, as JSON.
  std::vector<std::string> Take() {
    std::vector<std::string> rows = out_.RowsAsJson();
    std::vector<std::string> fresh(rows.begin() + taken_, rows.end());
    taken_ = rows.size();
    return fresh;
  }
  std::vector<int64_t> RowTimestamps() const {
    std::vector<int64_t> ts;
    for (const auto& b : out_.batches)
      ts.insert(ts.end(), b->timestamps().begin(), b->timestamps().end());
    return ts;
  }
  // The blobs of a checkpoint taken now.
  std::map<std::string, std::string> Snapshot() {
    st::MapSnapshotWriter writer(1);
    absl::Status st = op_->Snapshot(writer);
    EXPECT_TRUE(st.ok()) << st;
    return writer.blobs;
  }
  // The context's keyed states, as a checkpoint holds them.
  std::map<std::string, std::string> SnapshotStates() {
    std::map<std::string, std::string> blobs;
    absl::Status st =
        ctx_.states().Snapshot([&](const std::string& name, std::string blob) { blobs[name] = std::move(blob); });
    EXPECT_TRUE(st.ok()) << st;
    return blobs;
  }
  // The operator's blobs and keyed states.
  st::SubtaskSnapshot SnapshotSubtask() {
    auto snapshot = st::SnapshotSubtask(*op_, ctx_);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? *std::move(snapshot) : st::SubtaskSnapshot{};
  }
  WindowOperator& op() { return static_cast<WindowOperator&>(*op_); }
  st::TestCollector& out() { return out_; }
  st::TestContext& ctx() { return ctx_; }
  const std::vector<std::string>& log() const { return log_; }

 private:
  bool Create() {
    OperatorConfig config;
    config.node_id = "w";
    config.params = &params_;
    config.input_schemas = {schema_};
    config.subtask_index = ctx_.subtask_index();
    config.parallelism = ctx_.parallelism();
    auto op = CreateWindowOperator(config);
    EXPECT_TRUE(op.ok()) << op.status();
    if (!op.ok()) return false;
    op_ = std::move(op).value();
    return true;
  }

  Param params_;
  SchemaPtr schema_;
  st::TestContext ctx_;
  st::TestCollector out_;
  std::unique_ptr<Operator> op_;
  size_t taken_ = 0;
  std::vector<std::string> log_;
};

SchemaPtr PathSchema() {
  return st::MakeSchema({{"path", Type::kString}, {"remote_addr", Type::kString}});
}

Param PathParams(Param window, std::string lateness = "0s") {
  return M(
      {{"key_by", L({S("path")})},
       {"window", std::move(window)},
       {"allowed_lateness", S(std::move(lateness))},
       {"aggregates", L({Agg("count", "", "pv"), Agg("count_distinct", "remote_addr", "uv")})}});
}

// --- Tumbling ----------------------------------------------------------------------------

TEST(WindowTumblingTest, OutOfOrderRowsFireInWindowEndOrderOnWatermark) {
  OpRun run(PathParams(Tumbling("10s")), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "1.1.1.1"},
            {"/b", "1.1.1.1"},
            {"/a", "2.2.2.2"},
            {"/b", "3.3.3.3"},
            {"/a", "1.1.1.1"}},
           {1000, 12000, 3000, 9999, 0});
  EXPECT_TRUE(run.Take().empty());
  run.Watermark(9998);
  EXPECT_TRUE(run.Take().empty());
  run.Watermark(9999);
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":0,"window_end":10000,"pv":3,"uv":2})",
                          R"({"path":"/b","window_start":0,"window_end":10000,"pv":1,"uv":1})"));
  run.Feed({{"/b", "4.4.4.4"}}, {19999});
  run.Watermark(25000);
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"path":"/b","window_start":10000,"window_end":20000,"pv":2,"uv":2})"));
  // Each row's event time is window_end - 1.
  EXPECT_THAT(run.RowTimestamps(), ElementsAre(9999, 9999, 19999));
  EXPECT_EQ(run.op().num_windows(), 0u);
  EXPECT_EQ(run.op().num_keys(), 0u);
  EXPECT_THAT(run.out().watermarks, ElementsAre(9998, 9999, 25000));
}

TEST(WindowTumblingTest, RowsOfFiredWindowsPrecedeTheWatermark) {
  OpRun run(PathParams(Tumbling("10s")), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}, {"/a", "x"}, {"/a", "x"}}, {5000, 15000, 25000});
  run.Watermark(100);
  run.Watermark(19999);
  run.Watermark(40000);
  EXPECT_THAT(run.log(),
              ElementsAre("batch", "wm:100", "rows:2", "wm:19999", "rows:1", "wm:40000"));
}

TEST(WindowTumblingTest, AnOffsetShiftsTheWindowBoundaries) {
  // Days in UTC+8: windows of 1 day starting at 16:00 UTC.
  OpRun run(PathParams(M({{"type", S("tumbling")}, {"size", S("1d")}, {"offset", S("16h")}})), PathSchema());
  ASSERT_TRUE(run.ok());
  const int64_t h = 3600 * 1000;
  run.Feed({{"/a", "x"}, {"/a", "y"}, {"/a", "z"}}, {15 * h, 16 * h, 39 * h + 59 * 60 * 1000});
  run.Watermark(100 * h);
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":-28800000,"window_end":57600000,"pv":1,"uv":1})",
                          R"({"path":"/a","window_start":57600000,"window_end":144000000,"pv":2,"uv":2})"));
}
TEST(WindowSlidingTest, AnOffsetShiftsTheSlides) {
  OpRun run(PathParams(M({{"type", S("sliding")}, {"size", S("10s")}, {"slide", S("5s")}, {"offset", S("2s")}})),
            PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}}, {6000});
  run.Watermark(100000);
  EXPECT_THAT(run.Take(), ElementsAre(R"({"path":"/a","window_start":-3000,"window_end":7000,"pv":1,"uv":1})",
                                      R"({"path":"/a","window_start":2000,"window_end":12000,"pv":1,"uv":1})"));
}
TEST(WindowTumblingTest, NegativeTimestampsFloor) {
  OpRun run(PathParams(Tumbling("10s")), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}, {"/a", "y"}, {"/a", "z"}}, {-1, -10000, -10001});
  run.End();
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"path":"/a","window_start":-20000,"window_end":-10000,"pv":1,"uv":1})",
                  R"({"path":"/a","window_start":-10000,"window_end":0,"pv":2,"uv":2})"));
}

TEST(WindowTumblingTest, LateRecordsGoToDeadLetters) {
  OpRun run(PathParams(Tumbling("10s")), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}}, {1000});
  run.Watermark(9999);
  EXPECT_EQ(run.Take().size(), 1u);
  // Window [0, 10s) is gone: 9999 + 0 <= 9999. A record of [10s, 20s) is fine.
  run.Feed({{"/a", "late1"}, {"/a", "ok"}, {"/b", "late2"}}, {9999, 10000, 0});
  EXPECT_TRUE(run.Take().empty());
  ASSERT_EQ(run.out().DeadLetters("late"), 2u);
  EXPECT_EQ(run.out().dead_letters[0].record, R"({"path":"/a","remote_addr":"late1"})");
  EXPECT_EQ(run.out().dead_letters[1].record, R"({"path":"/b","remote_addr":"late2"})");
  EXPECT_EQ(run.ctx().counter("late_records"), 2);
  run.End();
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"path":"/a","window_start":10000,"window_end":20000,"pv":1,"uv":1})"));
}

TEST(WindowTumblingTest, AllowedLatenessRefiresUpdatedRowsThenDrops) {
  OpRun run(PathParams(Tumbling("10s"), "5s"), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}}, {1000});
  run.Watermark(9999);
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":0,"window_end":10000,"pv":1,"uv":1})"));
  // Within lateness: the window is updated and its complete row re-emitted at once.
  run.Feed({{"/a", "y"}, {"/a", "y"}}, {5000, 6000});
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":0,"window_end":10000,"pv":3,"uv":2})"));
  run.Watermark(14998);
  run.Feed({{"/a", "z"}}, {9000});
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":0,"window_end":10000,"pv":4,"uv":3})"));
  // 9999 + 5000 <= 14999: the window's state is dropped and its records are late.
  run.Watermark(14999);
  EXPECT_EQ(run.op().num_windows(), 0u);
  run.Feed({{"/a", "w"}}, {2000});
  EXPECT_TRUE(run.Take().empty());
  EXPECT_EQ(run.out().DeadLetters("late"), 1u);
  EXPECT_EQ(run.ctx().counter("late_records"), 1);
  // A window that never had a record, already due but within lateness (19999 <= 22000 <
  // 19999 + 5000): created and emitted at once.
  run.Watermark(22000);
  EXPECT_TRUE(run.Take().empty());
  run.Feed({{"/c", "q"}}, {10500});
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"path":"/c","window_start":10000,"window_end":20000,"pv":1,"uv":1})"));
  run.Watermark(23000);  // fires nothing new: [10s, 20s) already fired
  EXPECT_TRUE(run.Take().empty());
  run.End();
  EXPECT_TRUE(run.Take().empty());
}

TEST(WindowTumblingTest, NoTimestampRowsAreDeadLetters) {
  OpRun run(PathParams(Tumbling("10s")), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}, {"/a", "y"}}, {kNoTimestamp, 5});
  EXPECT_EQ(run.out().DeadLetters("no_timestamp"), 1u);
  run.End();
  EXPECT_EQ(run.Take().size(), 1u);
}

TEST(WindowTumblingTest, OutputBatchesHoldAtMost4096Rows) {
  OpRun run(M({{"key_by", L({S("path")})},
               {"window", Tumbling("1m")},
               {"aggregates", L({Agg("count", "", "n")})}}),
            PathSchema());
  ASSERT_TRUE(run.ok());
  Rows rows;
  std::vector<int64_t> ts;
  for (int i = 0; i < 10000; ++i) {
    rows.push_back({"/p" + std::to_string(i), "x"});
    ts.push_back(i);
  }
  run.Feed(rows, ts);
  run.Watermark(60000);
  ASSERT_EQ(run.out().batches.size(), 3u);
  EXPECT_EQ(run.out().batches[0]->num_rows(), 4096u);
  EXPECT_EQ(run.out().batches[1]->num_rows(), 4096u);
  EXPECT_EQ(run.out().batches[2]->num_rows(), 10000u - 2 * 4096u);
  EXPECT_EQ(run.op().num_keys(), 0u);
}

// --- Sliding -----------------------------------------------------------------------------

TEST(WindowSlidingTest, RecordsBelongToSizeOverSlideWindows) {
  Param window = M({{"type", S("sliding")}, {"size", S("10s")}, {"slide", S("5s")}});
  OpRun run(PathParams(window), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "1"}, {"/a", "2"}, {"/a", "3"}}, {12000, 7000, 4999});
  run.Watermark(9999);
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":-5000,"window_end":5000,"pv":1,"uv":1})",
                          R"({"path":"/a","window_start":0,"window_end":10000,"pv":2,"uv":2})"));
  // [5s, 15s) is due at 14999, so at wm 14999 a record of 13s only counts in [10s, 20s);
  // one of 9s has no window left and is late.
  run.Watermark(14999);
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":5000,"window_end":15000,"pv":2,"uv":2})"));
  run.Feed({{"/a", "4"}, {"/a", "5"}}, {13000, 9000});
  EXPECT_EQ(run.out().DeadLetters("late"), 1u);
  run.End();
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"path":"/a","window_start":10000,"window_end":20000,"pv":2,"uv":2})"));
}

TEST(WindowSlidingTest, LateFiringWithLateness) {
  Param window = M({{"type", S("sliding")}, {"size", S("10s")}, {"slide", S("5s")}});
  OpRun run(PathParams(window, "5s"), PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "1"}}, {7000});
  run.Watermark(14999);  // fires [0,10) and [5,15); [0,10) is dropped at 14999
  EXPECT_EQ(run.Take().size(), 2u);
  run.Feed({{"/a", "2"}}, {8000});  // [0,10) gone, [5,15) re-fires
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"/a","window_start":5000,"window_end":15000,"pv":2,"uv":2})"));
  EXPECT_EQ(run.out().DeadLetters("late"), 0u);
}

// --- Session -----------------------------------------------------------------------------

Param SessionParams(std::string gap, std::string lateness = "0s") {
  return M({{"key_by", L({S("user")})},
            {"window", M({{"type", S("session")}, {"gap", S(std::move(gap))}})},
            {"allowed_lateness", S(std::move(lateness))},
            {"aggregates", L({Agg("count", "", "n"), Agg("top_k", "page", "pages")})}});
}
SchemaPtr SessionSchema() {
  return st::MakeSchema({{"user", Type::kString}, {"page", Type::kString}});
}

TEST(WindowSessionTest, OutOfOrderRecordsMergeSessions) {
  OpRun run(SessionParams("10s"), SessionSchema());
  ASSERT_TRUE(run.ok());
  // u: [0,10s) and [20s,30s); then 9s extends the first to [0,19s); then 15s bridges both.
  run.Feed({{"u", "a"}, {"u", "b"}, {"v", "a"}, {"u", "c"}}, {0, 20000, 100000, 9000});
  EXPECT_EQ(run.op().num_windows(), 3u);
  run.Feed({{"u", "d"}}, {15000});
  EXPECT_EQ(run.op().num_windows(), 2u);
  // Sessions are separated by a gap of exactly `gap`: [0,10s) and [10s,20s) do not merge.
  run.Feed({{"w", "a"}, {"w", "b"}}, {0, 10000});
  run.Watermark(29999);
  EXPECT_THAT(
      run.Take(),
      ElementsAre(
          R"({"user":"w","window_start":0,"window_end":10000,"n":1,"pages":"a:1"})",
          R"({"user":"w","window_start":10000,"window_end":20000,"n":1,"pages":"b:1"})",
          R"({"user":"u","window_start":0,"window_end":30000,"n":4,"pages":"a:1,b:1,c:1,d:1"})"));
  run.End();
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"user":"v","window_start":100000,"window_end":110000,"n":1,"pages":"a:1"})"));
  EXPECT_EQ(run.op().num_windows(), 0u);
}

TEST(WindowSessionTest, LateRecordBridgesTwoFiredSessions) {
  OpRun run(SessionParams("10s", "20s"), SessionSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"u", "a"}, {"u", "b"}}, {0, 15000});
  run.Watermark(25000);  // both fire; [0,10s) is kept until 9999 + 20000
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"user":"u","window_start":0,"window_end":10000,"n":1,"pages":"a:1"})",
                  R"({"user":"u","window_start":15000,"window_end":25000,"n":1,"pages":"b:1"})"));
  // 9s: [9s,19s) overlaps both fired sessions, which merge into [0,25s) and re-fire.
  run.Feed({{"u", "b"}}, {9000});
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"user":"u","window_start":0,"window_end":25000,"n":3,"pages":"b:2,a:1"})"));
  EXPECT_EQ(run.op().num_windows(), 1u);
  EXPECT_EQ(run.out().DeadLetters("late"), 0u);
  // The merged session is kept until 24999 + 20000.
  run.Watermark(44998);
  EXPECT_EQ(run.op().num_windows(), 1u);
  run.Watermark(44999);
  EXPECT_EQ(run.op().num_windows(), 0u);
  // ts + gap - 1 + lateness = 5000 + 9999 + 20000 <= 44999: late.
  run.Feed({{"u", "c"}}, {5000});
  EXPECT_EQ(run.out().DeadLetters("late"), 1u);
  EXPECT_EQ(run.ctx().counter("late_records"), 1);
  EXPECT_TRUE(run.Take().empty());
}

TEST(WindowSessionTest, LateRecordExtendingAFiredSessionPastTheWatermarkWaits) {
  OpRun run(SessionParams("10s", "1m"), SessionSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"u", "a"}}, {0});
  run.Watermark(12000);
  EXPECT_EQ(run.Take().size(), 1u);
  // [5s,15s) merges with the fired [0,10s): [0,15s) is not complete at 12000.
  run.Feed({{"u", "b"}}, {5000});
  EXPECT_TRUE(run.Take().empty());
  run.Watermark(14999);
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"user":"u","window_start":0,"window_end":15000,"n":2,"pages":"a:1,b:1"})"));
}

TEST(WindowSessionTest, RecordInsideALiveSessionIsNotLate) {
  // Like Flink, lateness is judged on the merged session: 1s + 10s - 1 <= 12000, but the
  // record falls into [0,26s), which is still open.
  OpRun run(SessionParams("10s"), SessionSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"u", "a"}, {"u", "a"}, {"u", "a"}}, {0, 8000, 16000});
  run.Watermark(12000);
  run.Feed({{"u", "b"}}, {1000});
  EXPECT_EQ(run.out().DeadLetters("late"), 0u);
  run.Watermark(25999);
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"user":"u","window_start":0,"window_end":26000,"n":4,"pages":"a:3,b:1"})"));
}

TEST(WindowSessionTest, MergeWithinOneBatchCombinesEveryAggregate) {
  SchemaPtr schema = st::MakeSchema(
      {{"user", Type::kString}, {"i", Type::kInt64}, {"d", Type::kDouble}, {"s", Type::kString}});
  Param top = M({{"fn", S("top_k")}, {"field", S("i")}, {"k", N(2)}, {"as", S("top_i")}});
  OpRun run(M({{"key_by", L({S("user")})},
               {"window", M({{"type", S("session")}, {"gap", S("10s")}})},
               {"aggregates", L({Agg("count", "", "n"), Agg("count_distinct", "s", "ds"),
                                 Agg("count_distinct", "i", "di"), Agg("sum", "i", "sum_i"),
                                 Agg("sum", "d", "sum_d"), Agg("min", "s", "min_s"),
                                 Agg("max", "s", "max_s"), Agg("min", "i", "min_i"),
                                 Agg("max", "d", "max_d"), Agg("avg", "d", "avg_d"), top})},
               {"emit", L({S("window_start"), S("window_end"), S("n"), S("ds"), S("di"), S("sum_i"),
                           S("sum_d"), S("min_s"), S("max_s"), S("min_i"), S("max_d"), S("avg_d"),
                           S("top_i")})}}),
            schema);
  ASSERT_TRUE(run.ok());
  st::Value null;
  // [0,10s) and [20s,30s); 9s extends the first to [0,19s); 15s bridges them while the
  // earlier rows of the batch are not yet folded; 16s lands in the merged session.
  run.Feed({{"u", int64_t{1}, 1.0, "m"},
            {"u", int64_t{2}, 2.0, "z"},
            {"u", int64_t{1}, 0.5, "a"},
            {"u", int64_t{3}, null, null},
            {"u", int64_t{2}, 4.0, "m"}},
           {0, 20000, 9000, 15000, 16000});
  run.End();
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"window_start":0,"window_end":30000,"n":5,"ds":3,"di":3,"sum_i":9,)"
                          R"("sum_d":7.5,"min_s":"a","max_s":"z","min_i":1,"max_d":4,)"
                          R"("avg_d":1.875,"top_i":"1:2,2:2"})"));
}

// --- Aggregates ----------------------------------------------------------------------------

SchemaPtr AllTypes() {
  return st::MakeSchema(
      {{"i", Type::kInt64}, {"d", Type::kDouble}, {"s", Type::kString}, {"t", Type::kTimestamp}});
}

TEST(WindowAggregateTest, EveryAggregateIgnoresNulls) {
  Param params =
      M({{"window", Tumbling("10s")},
         {"aggregates",
          L({Agg("count", "", "rows"), Agg("count", "i", "n_i"), Agg("count_distinct", "s", "ds"),
             Agg("count_distinct", "i", "di"), Agg("count_distinct", "d", "dd"),
             Agg("sum", "i", "sum_i"), Agg("sum", "d", "sum_d"), Agg("min", "i", "min_i"),
             Agg("max", "i", "max_i"), Agg("min", "d", "min_d"), Agg("max", "d", "max_d"),
             Agg("min", "s", "min_s"), Agg("max", "s", "max_s"), Agg("min", "t", "min_t"),
             Agg("max", "t", "max_t"), Agg("avg", "i", "avg_i"), Agg("avg", "d", "avg_d")})},
         {"emit", L({S("window_start"), S("rows"), S("n_i"), S("ds"), S("di"), S("dd"), S("sum_i"),
                     S("sum_d"), S("min_i"), S("max_i"), S("min_d"), S("max_d"), S("min_s"),
                     S("max_s"), S("min_t"), S("max_t"), S("avg_i"), S("avg_d")})}});
  OpRun run(params, AllTypes());
  ASSERT_TRUE(run.ok());
  st::Value null;
  run.Feed({{int64_t{3}, 1.5, "b", int64_t{100}},
            {null, null, null, null},
            {int64_t{-2}, -0.0, "a", int64_t{50}},
            {int64_t{3}, 0.0, "b", null},
            // Second window: nothing but nulls.
            {null, null, null, null}},
           {1, 2, 3, 4, 10000});
  run.End();
  EXPECT_THAT(
      run.Take(),
      ElementsAre(
          R"({"window_start":0,"rows":4,"n_i":3,"ds":2,"di":2,"dd":2,"sum_i":4,"sum_d":1.5,)"
          R"("min_i":-2,"max_i":3,"min_d":-0,"max_d":1.5,"min_s":"a","max_s":"b","min_t":50,)"
          R"("max_t":100,"avg_i":1.3333333333333333,"avg_d":0.5})",
          R"({"window_start":10000,"rows":1,"n_i":0,"ds":0,"di":0,"dd":0,"sum_i":null,)"
          R"("sum_d":null,"min_i":null,"max_i":null,"min_d":null,"max_d":null,"min_s":null,)"
          R"("max_s":null,"min_t":null,"max_t":null,"avg_i":null,"avg_d":null})"));
  // Output types follow the fields.
  const Schema& out = *run.op().output_schema();
  EXPECT_EQ(out.ToString(),
            "window_start:timestamp, rows:int64, n_i:int64, ds:int64, di:int64, dd:int64, "
            "sum_i:int64, sum_d:double, min_i:int64, max_i:int64, min_d:double, max_d:double, "
            "min_s:string, max_s:string, min_t:timestamp, max_t:timestamp, avg_i:double, "
            "avg_d:double");
}

TEST(WindowAggregateTest, TopKOrdersByCountThenValue) {
  Param k2 = M({{"fn", S("top_k")}, {"field", S("s")}, {"k", N(3)}, {"as", S("top3")}});
  Param k9 = M({{"fn", S("top_k")}, {"field", S("s")}, {"k", N(9)}, {"as", S("all")}});
  Param ki = M({{"fn", S("top_k")}, {"field", S("i")}, {"k", N(2)}, {"as", S("top_i")}});
  OpRun run(M({{"window", Tumbling("10s")},
               {"aggregates", L({k2, k9, ki})},
               {"emit", L({S("top3"), S("all"), S("top_i")})}}),
            AllTypes());
  ASSERT_TRUE(run.ok());
  st::Value null;
  Rows rows;
  for (const char* s : {"d", "b", "c", "a", "c", "b", "a", "e"})
    rows.push_back({int64_t{10}, 0.0, s, null});
  rows.push_back({int64_t{2}, 0.0, null, null});
  rows.push_back({int64_t{2}, 0.0, null, null});
  rows.push_back({int64_t{-1}, 0.0, null, null});
  rows.push_back({null, 0.0, null, null});
  run.Feed(rows, std::vector<int64_t>(rows.size(), 5));
  run.End();
  EXPECT_THAT(
      run.Take(),
      ElementsAre(R"({"top3":"a:2,b:2,c:2","all":"a:2,b:2,c:2,d:1,e:1","top_i":"10:8,2:2"})"));
}

// --- Keys and emit -------------------------------------------------------------------------

TEST(WindowKeyTest, EmitChoosesColumnsAndOrder) {
  Param params = PathParams(Tumbling("10s"));
  params.Set("emit", L({S("uv"), S("window_end"), S("path")}));
  OpRun run(params, PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}, {"/a", "y"}}, {1, 2});
  run.End();
  EXPECT_THAT(run.Take(), ElementsAre(R"({"uv":2,"window_end":10000,"path":"/a"})"));
  EXPECT_EQ(run.op().output_schema()->ToString(), "uv:int64, window_end:timestamp, path:string");
}

TEST(WindowKeyTest, MultiFieldKeysWithNulls) {
  SchemaPtr schema = st::MakeSchema({{"host", Type::kString},
                                     {"code", Type::kInt64},
                                     {"ratio", Type::kDouble},
                                     {"bytes", Type::kInt64}});
  OpRun run(M({{"key_by", L({S("host"), S("code"), S("ratio")})},
               {"window", Tumbling("10s")},
               {"aggregates", L({Agg("sum", "bytes", "bytes")})},
               {"emit", L({S("host"), S("code"), S("ratio"), S("bytes")})}}),
            schema);
  ASSERT_TRUE(run.ok());
  st::Value null;
  run.Feed({{"a", int64_t{200}, 0.5, int64_t{1}},
            {"a", int64_t{404}, 0.5, int64_t{2}},
            {"a", int64_t{200}, 0.5, int64_t{4}},
            {"a", null, 0.5, int64_t{8}},
            {"", int64_t{200}, 0.5, int64_t{16}},
            {null, int64_t{200}, 0.5, int64_t{32}},
            {"a", null, -0.0, int64_t{64}},
            {"a", null, 0.0, int64_t{128}}},
           {1, 2, 3, 4, 5, 6, 7, 8});
  run.End();
  EXPECT_THAT(run.Take(), ElementsAre(R"({"host":"a","code":200,"ratio":0.5,"bytes":5})",
                                      R"({"host":"a","code":404,"ratio":0.5,"bytes":2})",
                                      R"({"host":"a","code":null,"ratio":0.5,"bytes":8})",
                                      R"({"host":"","code":200,"ratio":0.5,"bytes":16})",
                                      R"({"host":null,"code":200,"ratio":0.5,"bytes":32})",
                                      R"({"host":"a","code":null,"ratio":0,"bytes":192})"));
}

TEST(WindowKeyTest, IntKeysAndNullKeys) {
  SchemaPtr schema = st::MakeSchema({{"user", Type::kInt64}, {"bytes", Type::kDouble}});
  OpRun run(M({{"key_by", S("user")},
               {"window", Tumbling("10s")},
               {"aggregates", L({Agg("sum", "bytes", "total"), Agg("count", "", "n")})},
               {"emit", L({S("user"), S("total"), S("n")})}}),
            schema);
  ASSERT_TRUE(run.ok());
  st::Value null;
  run.Feed({{int64_t{7}, 1.25}, {null, 2.0}, {int64_t{0}, 4.0}, {int64_t{7}, 8.0}, {null, 16.0}},
           {1, 2, 3, 4, 5});
  run.End();
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"user":7,"total":9.25,"n":2})", R"({"user":null,"total":18,"n":2})",
                          R"({"user":0,"total":4,"n":1})"));
}

TEST(WindowKeyTest, StringNullKeyDiffersFromEmptyString) {
  OpRun run(PathParams(Tumbling("10s")), PathSchema());
  ASSERT_TRUE(run.ok());
  st::Value null;
  run.Feed({{"", "x"}, {null, "y"}, {null, "z"}}, {1, 2, 3});
  run.End();
  EXPECT_THAT(run.Take(),
              ElementsAre(R"({"path":"","window_start":0,"window_end":10000,"pv":1,"uv":1})",
                          R"({"path":null,"window_start":0,"window_end":10000,"pv":2,"uv":2})"));
}

TEST(WindowKeyTest, NoKeyByIsOneGlobalKey) {
  OpRun run(M({{"window", Tumbling("10s")}, {"aggregates", L({Agg("count", "", "n")})}}),
            PathSchema());
  ASSERT_TRUE(run.ok());
  run.Feed({{"/a", "x"}, {"/b", "y"}, {"/c", "z"}}, {1, 2, 10001});
  run.End();
  EXPECT_THAT(run.Take(), ElementsAre(R"({"window_start":0,"window_end":10000,"n":2})",
                                      R"({"window_start":10000,"window_end":20000,"n":1})"));
}

// --- Batch mode vs streaming -----------------------------------------------------------------

// Deterministic pseudo-random rows with bounded disorder; streaming watermarks trail the
// largest timestamp by the bound, so nothing is late and both modes see every record.
std::vector<std::string> RunRandom(Param params, bool batch_mode) {
  SchemaPtr schema = st::MakeSchema({{"path", Type::kString}, {"remote_addr", Type::kString}});
  OpRun run(std::move(params), schema, batch_mode);
  EXPECT_TRUE(run.ok());
  uint64_t x = 42;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  const int64_t kDisorder = 3000;
  int64_t max_ts = 0;
  for (int b = 0; b < 50; ++b) {
    Rows rows;
    std::vector<int64_t> ts;
    for (int i = 0; i < 200; ++i) {
      int64_t nominal = (b * 200 + i) * 37;
      int64_t t = std::max<int64_t>(0, nominal - static_cast<int64_t>(next() % kDisorder));
      max_ts = std::max(max_ts, t);
      rows.push_back({"/p" + std::to_string(next() % 7), "ip" + std::to_string(next() % 50)});
      ts.push_back(t);
    }
    run.Feed(rows, ts);
    if (!batch_mode) run.Watermark(max_ts - kDisorder);
  }
  run.End();
  EXPECT_EQ(run.out().DeadLetters("late"), 0u);
  EXPECT_EQ(run.op().num_windows(), 0u);
  std::vector<std::string> rows = run.Take();
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(WindowModeTest, BatchModeAndStreamingGiveTheSameRows) {
  std::vector<Param> windows = {
      Tumbling("1s"),
      M({{"type", S("sliding")}, {"size", S("2s")}, {"slide", S("500ms")}}),
      M({{"type", S("session")}, {"gap", S("40ms")}}),
  };
  for (const Param& w : windows) {
    std::vector<std::string> streaming = RunRandom(PathParams(w), false);
    std::vector<std::string> batch = RunRandom(PathParams(w), true);
    EXPECT_GT(streaming.size(), 10u) << w.ToString();
    EXPECT_EQ(streaming, batch) << w.ToString();
  }
}

TEST(WindowModeTest, BatchModeFiresEverythingAtEndInWindowEndOrder) {
  OpRun run(PathParams(Tumbling("10s")), PathSchema(), /*batch_mode=*/true);
  ASSERT_TRUE(run.ok());
  run.Feed({{"/b", "x"}, {"/a", "x"}, {"/a", "x"}}, {25000, 15000, 1000});
  EXPECT_TRUE(run.Take().empty());
  run.End();
  EXPECT_THAT(run.RowTimestamps(), ElementsAre(9999, 19999, 29999));
  EXPECT_TRUE(run.out().watermarks.empty());
}

// --- Parameters ------------------------------------------------------------------------------

absl::Status CreateError(Param params, SchemaPtr schema = PathSchema()) {
  params.SetLocation("job.yaml", 10, "operators[2]");
  OperatorConfig config;
  config.node_id = "w";
  config.params = &params;
  config.input_schemas = {schema};
  auto op = CreateWindowOperator(config);
  EXPECT_FALSE(op.ok());
  return op.status();
}

TEST(WindowParamsTest, BadDurationIsLocated) {
  Param window = Tumbling("ten");
  window.SetOwnLocation("", 14, "");
  absl::Status st = CreateError(PathParams(window));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "job.yaml:14: operators[2].window.size: expected a duration like 10s, got 'ten'");
}

TEST(WindowParamsTest, SlideMustDivideSize) {
  Param window = M({{"type", S("sliding")}, {"size", S("1m")}, {"slide", S("7s")}});
  window.SetOwnLocation("", 14, "");
  EXPECT_EQ(CreateError(PathParams(window)).message(),
            "job.yaml:14: operators[2].window.slide: the window size (1m = 60000 ms) must be a "
            "multiple of the slide (7s = 7000 ms)");
}

TEST(WindowParamsTest, UnknownFunction) {
  Param params = PathParams(Tumbling("1m"));
  params.Set("aggregates", L({Agg("median", "remote_addr", "m")}));
  EXPECT_EQ(CreateError(params).message(),
            "job.yaml:10: operators[2].aggregates[0].fn: unknown aggregate function 'median'; "
            "expected one of: count, count_distinct, sum, min, max, avg, top_k");
}

TEST(WindowParamsTest, MissingField) {
  Param params = PathParams(Tumbling("1m"));
  params.Set("aggregates", L({Agg("count", "", "n"), Agg("sum", "", "total")}));
  EXPECT_EQ(CreateError(params).message(),
            "job.yaml:10: operators[2].aggregates[1].field: required parameter is missing");
}

TEST(WindowParamsTest, WrongFieldTypeForSum) {
  Param params = PathParams(Tumbling("1m"));
  params.Set("aggregates", L({Agg("sum", "path", "total")}));
  EXPECT_EQ(CreateError(params).message(),
            "job.yaml:10: operators[2].aggregates[0].field: sum needs an int64 or double field, "
            "but 'path' is string");
}

TEST(WindowParamsTest, OtherErrors) {
  Param p = PathParams(Tumbling("1m"));
  p.Set("key_by", L({S("nope")}));
  EXPECT_EQ(CreateError(p).message(),
            "job.yaml:10: operators[2].key_by[0]: unknown field 'nope'; input fields: "
            "path:string, remote_addr:string");

  p = PathParams(Tumbling("1m"));
  p.Set("emit", L({S("path"), S("pvv")}));
  EXPECT_THAT(CreateError(p).message(),
              HasSubstr("operators[2].emit[1]: unknown output column 'pvv'; expected one of: "
                        "path, window_start, window_end, pv, uv"));

  p = PathParams(Tumbling("1m"));
  p.Set("aggregates", L({Agg("count", "", "path")}));
  EXPECT_THAT(CreateError(p).message(),
              HasSubstr("operators[2].aggregates[0].as: output column 'path' is already used"));

  p = PathParams(M({{"type", S("hopping")}, {"size", S("1m")}}));
  EXPECT_THAT(CreateError(p).message(),
              HasSubstr("operators[2].window.type: unknown window type 'hopping'"));

  p = PathParams(M({{"type", S("session")}, {"size", S("1m")}}));
  EXPECT_THAT(CreateError(p).message(),
              HasSubstr("operators[2].window.size: unknown parameter 'size'"));

  p = PathParams(M({{"type", S("sliding")}, {"size", S("1d")}, {"slide", S("1ms")}}));
  EXPECT_THAT(CreateError(p).message(),
              HasSubstr("window.slide: a sliding window may put a record in at most 10000 "
                        "windows, but size / slide is 86400000"));

  p = PathParams(Tumbling("0s"));
  EXPECT_THAT(CreateError(p).message(), HasSubstr("window.size: expected a positive duration"));

  p = PathParams(Tumbling("1m"));
  p.Set("windw", S("x"));
  EXPECT_THAT(CreateError(p).message(), HasSubstr("operators[2].windw: unknown parameter 'windw'"));

  p = M({{"window", Tumbling("1m")}});
  EXPECT_EQ(CreateError(p).message(),
            "job.yaml:10: operators[2].aggregates: required parameter is missing");

  p = PathParams(Tumbling("1m"));
  p.Set("aggregates", L({M({{"fn", S("count")}, {"k", N(3)}})}));
  EXPECT_THAT(CreateError(p).message(),
              HasSubstr("aggregates[0].k: 'k' applies only to fn: top_k"));

  p = PathParams(Tumbling("1m"));
  p.Set("allowed_lateness", S("soon"));
  EXPECT_THAT(CreateError(p).message(),
              HasSubstr("operators[2].allowed_lateness: expected a duration like 10s, got 'soon'"));

  OperatorConfig none;
  Param params = PathParams(Tumbling("1m"));
  none.params = &params;
  EXPECT_FALSE(CreateWindowOperator(none).ok());
}

TEST(WindowParamsTest, DefaultNamesAndColumns) {
  OpRun run(M({{"key_by", L({S("path")})},
               {"window", Tumbling("1m")},
               {"aggregates", L({M({{"fn", S("count")}}),
                                 M({{"fn", S("count_distinct")}, {"field", S("remote_addr")}})})}}),
            PathSchema());
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run.op().output_schema()->ToString(),
            "path:string, window_start:timestamp, window_end:timestamp, count:int64, "
            "count_distinct_remote_addr:int64");
}

TEST(WindowRegisterTest, RegistersWindow) {
  OperatorRegistry registry;
  WINDOW_ASSERT_OK(RegisterWindowOperators(registry));
  EXPECT_NE(registry.FindOperator("window"), nullptr);
  EXPECT_EQ(RegisterWindowOperators(registry).code(), absl::StatusCode::kAlreadyExists);
}

// --- Checkpoints -----------------------------------------------------------------------------

// A test input: batches and watermarks in order.
struct Step {
  Rows rows;
  std::vector<int64_t> ts;
  int64_t watermark = kNoTimestamp;  // set: a watermark, not a batch
};
using Script = std::vector<Step>;
Step Batch(Rows rows, std::vector<int64_t> ts) { return {std::move(rows), std::move(ts)}; }
Step Wm(int64_t watermark) { return {{}, {}, watermark}; }

// Plays steps [from, to) of `script` on `run` (to == script.size() + 1: then the end of
// input). Returns what each step emitted, labelled by step: rows as JSON, dead letters and
// watermarks.
std::vector<std::string> Play(OpRun& run, const Script& script, size_t from, size_t to) {
  std::vector<std::string> got;
  for (size_t i = from; i < to; ++i) {
    const size_t dead = run.out().dead_letters.size();
    const size_t wms = run.out().watermarks.size();
    if (i == script.size()) {
      run.End();
    } else if (script[i].watermark != kNoTimestamp) {
      run.Watermark(script[i].watermark);
    } else {
      run.Feed(script[i].rows, script[i].ts);
    }
    const std::string step = absl::StrCat(i, " ");
    for (const std::string& row : run.Take()) got.push_back(step + row);
    for (size_t d = dead; d < run.out().dead_letters.size(); ++d) {
      const st::DeadLetter& dl = run.out().dead_letters[d];
      got.push_back(absl::StrCat(step, "dead ", dl.reason, " ", dl.record));
    }
    for (size_t w = wms; w < run.out().watermarks.size(); ++w) {
      got.push_back(absl::StrCat(step, "wm ", run.out().watermarks[w]));
    }
  }
  return got;
}

void Append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

// Plays `script` and the end of input on an undisturbed instance A. Then, for every cut:
// the steps before it on B, a checkpoint of B restored into a fresh C, the rest on C. B's
// output then C's must be A's; B continued after the checkpoint also gives A's. Returns
// A's output.
std::vector<std::string> CheckEveryCut(const Param& params, const SchemaPtr& schema,
                                       const Script& script) {
  const size_t n = script.size() + 1;
  OpRun a(params, schema);
  EXPECT_TRUE(a.ok());
  if (!a.ok()) return {};
  const std::vector<std::string> want = Play(a, script, 0, n);
  for (size_t cut = 0; cut < n; ++cut) {
    SCOPED_TRACE(absl::StrCat("checkpoint before step ", cut));
    OpRun b(params, schema);
    std::vector<std::string> got = Play(b, script, 0, cut);
    const std::map<std::string, std::string> blobs = b.Snapshot();
    EXPECT_EQ(blobs.size(), 1u);
    OpRun c(params, schema, /*batch_mode=*/false, &blobs);
    // Restore keeps everything: a checkpoint of C at once has the same size (the same
    // bytes, but for the order of distinct values and top_k counts: hash sets and maps).
    EXPECT_EQ(c.Snapshot().at("window").size(), blobs.at("window").size());
    EXPECT_EQ(c.op().num_windows(), b.op().num_windows());
    EXPECT_EQ(c.op().num_keys(), b.op().num_keys());
    std::vector<std::string> b_rest = got;
    Append(got, Play(c, script, cut, n));
    EXPECT_EQ(got, want);
    Append(b_rest, Play(b, script, cut, n));
    EXPECT_EQ(b_rest, want);
    EXPECT_EQ(c.op().num_windows(), 0u);
  }
  return want;
}

size_t CountContaining(const std::vector<std::string>& lines, std::string_view part) {
  return std::count_if(lines.begin(), lines.end(),
                       [part](const std::string& l) { return l.find(part) != std::string::npos; });
}

// Every aggregate, over string, int64 and double fields.
Param AllAggregates() {
  auto top_k = [](std::string field, std::string as) {
    return M({{"fn", S("top_k")},
              {"field", S(std::move(field))},
              {"k", N(2)},
              {"as", S(std::move(as))}});
  };
  return L({Agg("count", "", "n"), Agg("count", "item", "n_item"),
            Agg("count_distinct", "item", "d_item"), Agg("count_distinct", "uid", "d_uid"),
            Agg("count_distinct", "amount", "d_amount"), Agg("sum", "qty", "sum_qty"),
            Agg("sum", "amount", "sum_amount"), Agg("min", "item", "min_item"),
            Agg("max", "item", "max_item"), Agg("min", "amount", "min_amount"),
            Agg("max", "qty", "max_qty"), Agg("avg", "amount", "avg_amount"),
            top_k("item", "top_item"), top_k("uid", "top_uid")});
}
SchemaPtr ShopSchema() {
  return st::MakeSchema({{"user", Type::kString},
                         {"uid", Type::kInt64},
                         {"amount", Type::kDouble},
                         {"item", Type::kString},
                         {"qty", Type::kInt64}});
}
Param ShopParams(std::vector<Param> key_by, Param window, std::string lateness) {
  std::vector<std::pair<std::string, Param>> e;
  if (!key_by.empty()) e.push_back({"key_by", L(std::move(key_by))});
  e.push_back({"window", std::move(window)});
  e.push_back({"allowed_lateness", S(std::move(lateness))});
  e.push_back({"aggregates", AllAggregates()});
  return M(std::move(e));
}

const st::Value kNull;
int64_t I(int64_t v) { return v; }

TEST(WindowSnapshotTest, TumblingRestoresAtEveryCut) {
  Script script = {
      Batch({{"a", I(1), 1.5, "x", I(3)},
             {"b", I(2), 0.25, "y", kNull},
             {"a", I(1), kNull, "y", I(4)}},
            {1000, 2000, 12000}),
      Batch({{"a", I(3), 2.5, "x", I(5)}, {"c", kNull, -1.0, kNull, I(1)}}, {5000, 15000}),
      Wm(9999),                                      // fires a and b of [0s, 10s)
      Batch({{"a", I(4), 0.1, "z", I(2)}}, {3000}),  // within lateness: a [0s, 10s) again
      Batch({{"b", I(5), 0.3, "y", I(1)}, {"a", I(6), 0.7, "x", I(9)}}, {25000, 11000}),
      Wm(14999),                                     // [0s, 10s) is dropped
      Batch({{"a", I(7), 1.0, "q", I(1)}}, {4000}),  // late
      Wm(19999),
      Batch({{"c", I(8), 2.0, "x", I(2)}}, {19000}),  // within lateness
      Wm(40000),
      Batch({{"d", I(9), 1.0, "x", I(1)}, {"a", I(9), 1.0, "x", I(1)}}, {45000, kNoTimestamp}),
  };
  std::vector<std::string> want =
      CheckEveryCut(ShopParams({S("user")}, Tumbling("10s"), "5s"), ShopSchema(), script);
  EXPECT_EQ(CountContaining(want, R"({"user":"a","window_start":0,)"), 2u);  // re-emitted
  EXPECT_EQ(CountContaining(want, "dead late"), 1u);
  EXPECT_EQ(CountContaining(want, "dead no_timestamp"), 1u);
  EXPECT_THAT(want, ::testing::Contains(HasSubstr(R"("top_item":"x:2,z:1")")));
}

TEST(WindowSnapshotTest, SlidingRestoresAtEveryCut) {
  // Keyed by an int64 field, with a null key.
  Script script = {
      Batch({{"a", I(1), 1.5, "x", I(3)},
             {"b", kNull, 0.25, "y", kNull},
             {"a", I(1), 2.0, "y", I(4)}},
            {1000, 2000, 7000}),
      Batch({{"a", I(2), 2.5, "x", I(5)}, {"c", kNull, -1.0, kNull, I(1)}}, {5000, 12000}),
      Wm(9999),  // fires [-5s, 5s) and [0s, 10s)
      Batch({{"a", I(1), 0.1, "z", I(2)}, {"x", kNull, 0.5, "z", I(2)}}, {8000, 9500}),  // re-emit
      Wm(13000),  // [-5s, 5s) dropped (4999 + 3000 <= 13000)
      Batch({{"a", I(1), 1.0, "q", I(1)}, {"a", I(1), 1.0, "q", I(1)}},
            {3000, 6000}),  // late, partly
      Wm(30000),
      Batch({{"a", I(2), 1.0, "w", I(1)}}, {31000}),
  };
  std::vector<std::string> want = CheckEveryCut(
      ShopParams({S("uid")}, M({{"type", S("sliding")}, {"size", S("10s")}, {"slide", S("5s")}}),
                 "3s"),
      ShopSchema(), script);
  EXPECT_EQ(CountContaining(want, "dead late"), 1u);
  EXPECT_EQ(CountContaining(want, R"({"uid":null,"window_start":0,)"), 2u);  // re-emitted
}

// Keyed by two fields; late records bridge a fired and a pending session, and sessions
// merge within one batch.
Param SessionShopParams() {
  return ShopParams({S("user"), S("uid")}, M({{"type", S("session")}, {"gap", S("5s")}}), "10s");
}
Script SessionScript() {
  return {
      Batch(
          {{"a", I(1), 1.5, "x", I(3)}, {"a", I(1), 0.1, "y", I(1)}, {"b", kNull, 0.2, "y", kNull}},
          {0, 3000, 1000}),
      Batch({{"a", I(1), 2.5, "x", I(5)}}, {20000}),
      Wm(9000),  // fires (a, 1) [0s, 8s) and (b, null) [1s, 6s)
      Batch({{"a", I(1), 0.3, "z", I(2)}}, {12000}),
      Batch({{"a", I(1), 0.7, "x", I(9)}}, {8000}),  // joins [12s, 17s)
      Batch({{"a", I(1), 1.1, "q", I(1)}, {"b", kNull, 0.4, "z", I(1)}}, {7000, 2000}),  // bridge
      Wm(16999),
      // [26s, 31s) and [32s, 37s), bridged by 29s; then 24s joins [20s, 25s) to them.
      Batch({{"a", I(1), 0.5, "x", I(1)},
             {"a", I(1), 0.25, "x", I(1)},
             {"a", I(1), 0.125, "x", I(1)},
             {"a", I(1), 0.0625, "w", I(1)}},
            {26000, 32000, 29000, 24000}),
      Wm(40000),
      Batch({{"a", I(1), 1.0, "x", I(1)}}, {1000}),  // late
      Batch({{"a", I(2), 1.0, "x", I(1)}}, {41000}),
  };
}

TEST(WindowSnapshotTest, SessionRestoresAtEveryCut) {
  std::vector<std::string> want = CheckEveryCut(SessionShopParams(), ShopSchema(), SessionScript());
  EXPECT_EQ(CountContaining(want, "dead late"), 1u);
  EXPECT_EQ(CountContaining(want, R"({"user":"a","uid":1,"window_start":0,"window_end":8000,)"),
            1u);
  EXPECT_EQ(CountContaining(want, R"({"user":"a","uid":1,"window_start":0,"window_end":17000,)"),
            1u);
  EXPECT_EQ(CountContaining(
                want, R"({"user":"a","uid":1,"window_start":20000,"window_end":37000,"n":5,)"),
            1u);
  EXPECT_EQ(CountContaining(want, R"({"user":"b","uid":null,"window_start":1000,)"), 2u);
}

// Pseudo-random rows with more disorder than the watermark allows for: some records are
// within the allowed lateness, some late.
Script RandomScript(uint64_t seed, int batches, int users = 4) {
  uint64_t x = seed;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  Script script;
  int64_t max_ts = 0;
  for (int b = 0; b < batches; ++b) {
    Rows rows;
    std::vector<int64_t> ts;
    for (int i = 0; i < 40; ++i) {
      int64_t t = std::max<int64_t>(0, (b * 40 + i) * 50 - static_cast<int64_t>(next() % 6000));
      max_ts = std::max(max_ts, t);
      st::Value uid = next() % 5 == 0 ? kNull : st::Value(static_cast<int64_t>(next() % 6));
      rows.push_back({"u" + std::to_string(next() % users), uid,
                      static_cast<double>(next() % 1000) / 7.0, "i" + std::to_string(next() % 9),
                      static_cast<int64_t>(next() % 10)});
      ts.push_back(t);
    }
    script.push_back(Batch(std::move(rows), std::move(ts)));
    script.push_back(Wm(max_ts - 1000));
  }
  return script;
}

TEST(WindowSnapshotTest, RandomInputRestoresAtEveryCut) {
  const std::vector<std::pair<std::vector<Param>, Param>> cases = {
      {{S("user")}, Tumbling("1s")},
      {{}, M({{"type", S("sliding")}, {"size", S("2s")}, {"slide", S("500ms")}})},
      {{S("uid")}, M({{"type", S("session")}, {"gap", S("60ms")}})},
      {{S("user"), S("uid")}, M({{"type", S("session")}, {"gap", S("200ms")}})},
  };
  for (const auto& [key_by, window] : cases) {
    SCOPED_TRACE(window.ToString());
    std::vector<std::string> want =
        CheckEveryCut(ShopParams(key_by, window, "1s"), ShopSchema(), RandomScript(7, 12));
    EXPECT_GT(CountContaining(want, "dead late"), 0u);
    EXPECT_GT(want.size(), 50u);
  }
}

TEST(WindowSnapshotTest, RestoringBeforeEveryStepChangesNothing) {
  const Param params =
      ShopParams({S("user")}, M({{"type", S("session")}, {"gap", S("100ms")}}), "1s");
  const Script script = RandomScript(11, 10);
  OpRun a(params, ShopSchema());
  ASSERT_TRUE(a.ok());
  const std::vector<std::string> want = Play(a, script, 0, script.size() + 1);
  std::vector<std::string> got;
  auto run = std::make_unique<OpRun>(params, ShopSchema());
  for (size_t i = 0; i <= script.size(); ++i) {
    const std::map<std::string, std::string> blobs = run->Snapshot();
    run = std::make_unique<OpRun>(params, ShopSchema(), false, &blobs);
    Append(got, Play(*run, script, i, i + 1));
  }
  EXPECT_EQ(got, want);
}

TEST(WindowSnapshotTest, NoBlobLeavesAnEmptyOperator) {
  const Param params = ShopParams({S("user")}, Tumbling("10s"), "0s");
  const std::map<std::string, std::string> none;
  OpRun c(params, ShopSchema(), false, &none);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.op().num_windows(), 0u);
  EXPECT_EQ(c.op().num_keys(), 0u);
  OpRun fresh(params, ShopSchema());
  EXPECT_TRUE(c.Snapshot() == fresh.Snapshot());
  const Script script = RandomScript(3, 4);
  EXPECT_EQ(Play(c, script, 0, script.size() + 1), Play(fresh, script, 0, script.size() + 1));
}

TEST(WindowSnapshotTest, CheckpointAfterTheEndIsEmpty) {
  const Param params = ShopParams({S("user")}, Tumbling("1s"), "1s");
  OpRun b(params, ShopSchema());
  ASSERT_TRUE(b.ok());
  const Script script = RandomScript(5, 3);
  Play(b, script, 0, script.size() + 1);
  const std::map<std::string, std::string> blobs = b.Snapshot();
  OpRun c(params, ShopSchema(), false, &blobs);
  EXPECT_EQ(c.op().num_windows(), 0u);
  EXPECT_EQ(c.op().num_keys(), 0u);
}

// Restores `blob` into a fresh instance of `params`, then checks that the instance works
// whatever the blob was: it plays the session script from step 6 to the end of input.
absl::Status RestoreBlob(const Param& params, std::string blob) {
  OperatorConfig config;
  config.node_id = "w";
  config.params = &params;
  config.input_schemas = {ShopSchema()};
  auto op = CreateWindowOperator(config);
  EXPECT_TRUE(op.ok()) << op.status();
  st::MapSnapshotReader reader({{"window", std::move(blob)}});
  absl::Status restored = (*op)->Restore(reader);
  st::TestContext ctx;
  st::TestCollector out;
  EXPECT_TRUE((*op)->Open(ctx).ok());
  const Script script = SessionScript();
  for (size_t i = 6; i < script.size(); ++i) {
    const Step& step = script[i];
    absl::Status s = step.watermark != kNoTimestamp
                         ? (*op)->OnWatermark(step.watermark, out)
                         : (*op)->Process(0, st::BatchOf(ShopSchema(), step.rows, step.ts), out);
    EXPECT_TRUE(s.ok()) << s;
  }
  EXPECT_TRUE((*op)->OnEndOfInput(out).ok());
  EXPECT_EQ(static_cast<WindowOperator&>(**op).num_windows(), 0u);
  return restored;
}

// The session script's checkpoint before step 6: fired and pending sessions of two keys.
std::string SmallCheckpoint() {
  OpRun b(SessionShopParams(), ShopSchema());
  Play(b, SessionScript(), 0, 6);
  EXPECT_EQ(b.op().num_windows(), 3u);
  return b.Snapshot().at("window");
}

TEST(WindowSnapshotTest, TruncatedBlobIsAnErrorNeverACrash) {
  const Param params = SessionShopParams();
  const std::string blob = SmallCheckpoint();
  EXPECT_TRUE(RestoreBlob(params, blob).ok());
  for (size_t len = 0; len < blob.size(); ++len) {
    absl::Status s = RestoreBlob(params, blob.substr(0, len));
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "prefix of " << len << " bytes: " << s;
    EXPECT_THAT(s.message(), HasSubstr("window node 'w': checkpoint blob 'window'"));
  }
  EXPECT_THAT(RestoreBlob(params, blob + "x").message(), HasSubstr("1 bytes after the end"));
  EXPECT_THAT(RestoreBlob(params, "").message(), HasSubstr("cannot read the format version"));
}

TEST(WindowSnapshotTest, DamagedBytesNeverCrash) {
  const Param params = SessionShopParams();
  const std::string blob = SmallCheckpoint();
  for (size_t pos = 0; pos < blob.size(); ++pos) {
    for (uint8_t flip : {0x01, 0x10, 0x80, 0xff}) {
      std::string damaged = blob;
      damaged[pos] = static_cast<char>(damaged[pos] ^ flip);
      absl::Status s = RestoreBlob(params, damaged);
      EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kDataLoss ||
                  s.code() == absl::StatusCode::kInvalidArgument)
          << s;
    }
  }
}

TEST(WindowSnapshotTest, OtherParametersOrVersionAreClearErrors) {
  const Param params = ShopParams({S("user")}, Tumbling("10s"), "1s");
  OpRun b(params, ShopSchema());
  b.Feed({{"a", I(1), 1.5, "x", I(3)}}, {1000});
  const std::string blob = b.Snapshot().at("window");
  absl::Status s = RestoreBlob(ShopParams({S("user")}, Tumbling("20s"), "1s"), blob);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("window node 'w': the checkpoint was taken with other window "
                                     "parameters (size_ms was 10000, is 20000)"));
  s = RestoreBlob(ShopParams({S("user")}, M({{"type", S("session")}, {"gap", S("10s")}}), "1s"),
                  blob);
  EXPECT_THAT(s.message(), HasSubstr("window type was tumbling, is session"));
  s = RestoreBlob(ShopParams({S("uid")}, Tumbling("10s"), "1s"), blob);
  EXPECT_THAT(s.message(), HasSubstr("key field type [0] was"));
  std::string other_version = blob;
  other_version[0] = 9;
  s = RestoreBlob(params, other_version);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("format version 9, but this build reads version 2"));
}


// --- Keys spilled to keyed state (window_spill.cc) -------------------------------------

Param WithBound(const Param& params, int64_t max_keys) {
  std::vector<std::pair<std::string, Param>> e = params.entries();
  e.push_back({"max_keys_in_memory", N(static_cast<double>(max_keys))});
  return M(std::move(e));
}

// Rows in the order of firing may differ once keys come back from state: compare each
// step's output as a sorted list.
std::vector<std::string> SortedPerStep(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  return lines;
}

class WindowSpillTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    runtime::RocksDbStateOptions o;
    o.local_dir = ::testing::TempDir() + "/window-spill-" + std::to_string(::getpid());
    o.memory_bytes = 32 << 20;
    o.write_cache_bytes = 16 << 10;  // small: state goes to RocksDB itself during the test
    runtime::SetRocksDbStateOptions(o);
  }
};

const std::vector<std::pair<std::vector<Param>, Param>>& SpillCases() {
  static const auto* cases = new std::vector<std::pair<std::vector<Param>, Param>>{
      {{S("user")}, Tumbling("1s")},
      {{S("uid")}, Tumbling("700ms")},
      {{S("user"), S("uid")}, M({{"type", S("sliding")}, {"size", S("2s")}, {"slide", S("500ms")}})},
      {{S("uid")}, M({{"type", S("session")}, {"gap", S("60ms")}})},
      {{S("user"), S("uid")}, M({{"type", S("session")}, {"gap", S("200ms")}})},
      {{}, M({{"type", S("sliding")}, {"size", S("2s")}, {"slide", S("500ms")}})},
  };
  return *cases;
}

TEST_P(WindowSpillTest, SpilledKeysGiveTheSameOutput) {
  for (const auto& [key_by, window] : SpillCases()) {
    const Param params = ShopParams(key_by, window, "1s");
    SCOPED_TRACE(window.ToString());
    const Script script = RandomScript(7, 12);
    OpRun whole(params, ShopSchema());
    const std::vector<std::string> want = SortedPerStep(Play(whole, script, 0, script.size() + 1));
    for (int64_t bound : {1, 2, 3}) {
      SCOPED_TRACE(absl::StrCat("max_keys_in_memory ", bound));
      OpRun spilling(WithBound(params, bound), ShopSchema(), false, nullptr, GetParam());
      ASSERT_TRUE(spilling.ok());
      std::vector<std::string> got;
      int64_t most_spilled = 0;
      for (size_t i = 0; i <= script.size(); ++i) {
        Append(got, Play(spilling, script, i, i + 1));
        most_spilled = std::max(most_spilled, spilling.op().spilled_keys());
        // Between batches at most the bound (and a batch's new keys) stays in memory.
        if (i < script.size()) EXPECT_LE(spilling.op().num_keys(), static_cast<size_t>(bound) + 40);
      }
      EXPECT_EQ(SortedPerStep(got), want);
      if (!key_by.empty()) EXPECT_GT(most_spilled, 0);
      EXPECT_EQ(spilling.op().spilled_keys(), 0);  // the end of input fired everything
    }
  }
}

TEST_P(WindowSpillTest, SpilledKeysSurviveACheckpointAtEveryCut) {
  const Param params = WithBound(ShopParams({S("user"), S("uid")}, M({{"type", S("session")}, {"gap", S("200ms")}}), "1s"), 4);
  const Script script = RandomScript(11, 10);
  OpRun whole(params, ShopSchema());
  const std::vector<std::string> want = SortedPerStep(Play(whole, script, 0, script.size() + 1));
  for (size_t cut = 0; cut <= script.size(); cut += 3) {
    SCOPED_TRACE(absl::StrCat("checkpoint before step ", cut));
    OpRun b(params, ShopSchema(), false, nullptr, GetParam());
    std::vector<std::string> got = Play(b, script, 0, cut);
    const auto blobs = b.Snapshot();
    const auto states = b.SnapshotStates();
    // The other backend restores what this one wrote.
    OpRun c(params, ShopSchema(), false, &blobs, GetParam() == "memory" ? "rocksdb" : "memory", &states);
    EXPECT_EQ(c.op().spilled_keys(), b.op().spilled_keys());
    Append(got, Play(c, script, cut, script.size() + 1));
    EXPECT_EQ(SortedPerStep(got), want);
  }
}

TEST_P(WindowSpillTest, ADamagedSpilledKeyFailsTheOperatorNamingIt) {
  const Param params = WithBound(ShopParams({S("user")}, Tumbling("10s"), "0s"), 1);
  OpRun b(params, ShopSchema(), false, nullptr, GetParam());
  b.Feed({{"a", I(1), 1.5, "x", I(3)}}, {1000});
  b.Feed({{"b", I(1), 1.5, "x", I(3)}}, {1000});
  b.Feed({{"c", I(1), 1.5, "x", I(3)}}, {1000});  // spills a and b
  ASSERT_GT(b.op().spilled_keys(), 0);
  ASSERT_OK_AND_ASSIGN(ValueState * spilled, b.ctx().GetValueState("spilled"));
  int damaged = 0;
  std::vector<std::pair<uint32_t, std::string>> keys;
  for (uint32_t kg = 0; kg < 128; ++kg) {
    spilled->ForEachInKeyGroup(kg, [&](std::string_view key, std::string_view, std::string_view) {
      keys.emplace_back(kg, std::string(key));
      return true;
    });
  }
  for (const auto& [kg, key] : keys) {
    spilled->Put(StateKey{kg, key, {}}, "\x01\x01");
    ++damaged;
  }
  ASSERT_GT(damaged, 0);
  absl::Status st = b.op().OnEndOfInput(b.out());
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_THAT(st.message(), HasSubstr("window node 'w': the state of a spilled key"));
}

INSTANTIATE_TEST_SUITE_P(Backends, WindowSpillTest, ::testing::Values("memory", "rocksdb"));

// --- Restoring at another parallelism (RestoreRescaled) -------------------------------------

// A `window` node at some parallelism behind a key-by exchange on input columns
// `key_fields` (the window's key_by fields, in order): a batch goes to the subtasks its
// keys route to, watermarks and the end of input to every subtask.
class KeyedRuns {
 public:
  // With `rescale_from`, every subtask is restored from those old subtasks' checkpoints.
  KeyedRuns(const Param& params, std::vector<int> key_fields, int parallelism,
            const std::string& backend,
            const std::vector<st::SubtaskSnapshot>* rescale_from = nullptr)
      : key_fields_(std::move(key_fields)) {
    for (int i = 0; i < parallelism; ++i) {
      runs_.push_back(
          std::make_unique<OpRun>(params, ShopSchema(), i, parallelism, rescale_from, backend));
    }
  }

  bool ok() const {
    return std::all_of(runs_.begin(), runs_.end(), [](const auto& r) { return r->ok(); });
  }

  // As Play (of one instance): steps [from, to), each step's rows and dead letters from all
  // subtasks, and its watermark once (every subtask forwards it).
  std::vector<std::string> Play(const Script& script, size_t from, size_t to) {
    std::vector<std::string> got;
    for (size_t i = from; i < to; ++i) {
      const std::string step = absl::StrCat(i, " ");
      std::vector<size_t> dead, wms;
      for (auto& r : runs_) {
        dead.push_back(r->out().dead_letters.size());
        wms.push_back(r->out().watermarks.size());
      }
      if (i == script.size()) {
        for (auto& r : runs_) r->End();
      } else if (script[i].watermark != kNoTimestamp) {
        for (auto& r : runs_) r->Watermark(script[i].watermark);
      } else {
        BatchPtr batch = st::BatchOf(ShopSchema(), script[i].rows, script[i].ts);
        std::vector<BatchPtr> parts =
            st::SplitByKey(*batch, key_fields_, static_cast<int>(runs_.size()));
        for (size_t t = 0; t < runs_.size(); ++t) {
          if (parts[t]->num_rows() == 0) continue;  // the exchange sends no empty batch
          const absl::Status processed =
              runs_[t]->op().Process(0, std::move(parts[t]), runs_[t]->out());
          EXPECT_TRUE(processed.ok()) << processed;
        }
      }
      for (size_t t = 0; t < runs_.size(); ++t) {
        OpRun& r = *runs_[t];
        for (const std::string& row : r.Take()) got.push_back(step + row);
        for (size_t d = dead[t]; d < r.out().dead_letters.size(); ++d) {
          const st::DeadLetter& dl = r.out().dead_letters[d];
          got.push_back(absl::StrCat(step, "dead ", dl.reason, " ", dl.record));
        }
        EXPECT_EQ(r.out().watermarks.size() - wms[t], runs_[0]->out().watermarks.size() - wms[0]);
      }
      for (size_t w = wms[0]; w < runs_[0]->out().watermarks.size(); ++w) {
        got.push_back(absl::StrCat(step, "wm ", runs_[0]->out().watermarks[w]));
      }
    }
    return got;
  }

  std::vector<st::SubtaskSnapshot> Snapshot() {
    std::vector<st::SubtaskSnapshot> out;
    for (auto& r : runs_) out.push_back(r->SnapshotSubtask());
    return out;
  }

  // Summed over the subtasks.
  size_t num_keys() const {
    size_t n = 0;
    for (const auto& r : runs_) n += r->op().num_keys();
    return n;
  }
  size_t num_windows() const {
    size_t n = 0;
    for (const auto& r : runs_) n += r->op().num_windows();
    return n;
  }
  int64_t spilled_keys() const {
    int64_t n = 0;
    for (const auto& r : runs_) n += r->op().spilled_keys();
    return n;
  }

  OpRun& run(size_t i) { return *runs_[i]; }

 private:
  std::vector<int> key_fields_;
  std::vector<std::unique_ptr<OpRun>> runs_;
};

class WindowRescaleTest : public WindowSpillTest {};

// Plays `script` at parallelism `from`, checkpoints before step `cut`, restores at `to`
// and plays the rest: the rows (sorted) are those of one undisturbed instance, and no
// key, window or spilled key is lost or doubled by the move.
void CheckRescale(const Param& params, const std::vector<int>& key_fields, const Script& script,
                  size_t cut, int from, int to, const std::string& backend) {
  SCOPED_TRACE(absl::StrCat("parallelism ", from, " -> ", to, ", checkpoint before step ", cut));
  OpRun whole(params, ShopSchema());
  const std::vector<std::string> want = SortedPerStep(Play(whole, script, 0, script.size() + 1));
  KeyedRuns before(params, key_fields, from, backend);
  ASSERT_TRUE(before.ok());
  std::vector<std::string> got = before.Play(script, 0, cut);
  const std::vector<st::SubtaskSnapshot> snapshot = before.Snapshot();
  KeyedRuns after(params, key_fields, to, backend, &snapshot);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.num_keys(), before.num_keys());
  EXPECT_EQ(after.num_windows(), before.num_windows());
  EXPECT_EQ(after.spilled_keys(), before.spilled_keys());
  Append(got, after.Play(script, cut, script.size() + 1));
  EXPECT_EQ(SortedPerStep(got), want);
  EXPECT_EQ(after.num_windows(), 0u);
  EXPECT_EQ(after.spilled_keys(), 0);
}

Param CountSumParams(std::vector<Param> key_by, Param window, std::string lateness) {
  return M({{"key_by", L(std::move(key_by))},
            {"window", std::move(window)},
            {"allowed_lateness", S(std::move(lateness))},
            {"aggregates", L({Agg("count", "", "n"), Agg("sum", "qty", "sum_qty"),
                              Agg("sum", "amount", "sum_amount")})}});
}

const std::vector<std::pair<int, int>> kRescales = {{2, 3}, {2, 1}, {3, 2}, {1, 2}};

TEST_P(WindowRescaleTest, TumblingCountSumGivesTheRowsOfOneRun) {
  const Param params = CountSumParams({S("user")}, Tumbling("1s"), "1s");
  const Script script = RandomScript(7, 12, 20);
  for (const auto& [from, to] : kRescales) {
    for (size_t cut : {0, 5, 12, 19, 24}) {
      CheckRescale(params, {0}, script, cut, from, to, GetParam());
    }
  }
}

TEST_P(WindowRescaleTest, SpilledKeysMoveWithTheKeyedState) {
  const Script script = RandomScript(7, 12, 20);
  for (const Param& params : {CountSumParams({S("user")}, Tumbling("1s"), "1s"),
                              ShopParams({S("user")}, Tumbling("700ms"), "1s")}) {
    for (int64_t bound : {1, 3}) {
      SCOPED_TRACE(absl::StrCat("max_keys_in_memory ", bound));
      const Param spilling = WithBound(params, bound);
      for (const auto& [from, to] : kRescales) {
        for (size_t cut : {5, 17}) {
          CheckRescale(spilling, {0}, script, cut, from, to, GetParam());
        }
      }
    }
  }
  // Some checkpoint above held spilled keys (else this test tests nothing).
  KeyedRuns runs(WithBound(CountSumParams({S("user")}, Tumbling("1s"), "1s"), 1), {0}, 2,
                 GetParam());
  runs.Play(script, 0, 12);
  EXPECT_GT(runs.spilled_keys(), 0);
}

TEST_P(WindowRescaleTest, SessionsSlidingAndEveryAggregate) {
  const Script script = RandomScript(11, 10, 6);
  const std::vector<std::tuple<std::vector<Param>, std::vector<int>, Param>> cases = {
      {{S("user"), S("uid")}, {0, 1}, M({{"type", S("session")}, {"gap", S("200ms")}})},
      {{S("uid")}, {1}, M({{"type", S("session")}, {"gap", S("60ms")}})},
      {{S("user"), S("uid")},
       {0, 1},
       M({{"type", S("sliding")}, {"size", S("2s")}, {"slide", S("500ms")}})},
  };
  for (const auto& [key_by, key_fields, window] : cases) {
    SCOPED_TRACE(window.ToString());
    for (int64_t bound : {0, 2}) {
      SCOPED_TRACE(absl::StrCat("max_keys_in_memory ", bound));
      const Param params = WithBound(ShopParams(key_by, window, "1s"), bound);
      for (const auto& [from, to] : kRescales) {
        for (size_t cut : {4, 11}) {
          CheckRescale(params, key_fields, script, cut, from, to, GetParam());
        }
      }
    }
  }
}

// The format before spilling (version 1: no spilled-key count) still restores, also at
// another parallelism.
TEST_P(WindowRescaleTest, Version1BlobsRestoreAtAnotherParallelism) {
  const Param params = CountSumParams({S("user")}, Tumbling("1s"), "1s");
  const Script script = RandomScript(7, 12, 20);
  OpRun whole(params, ShopSchema());
  const std::vector<std::string> want = SortedPerStep(Play(whole, script, 0, script.size() + 1));
  OpRun b(params, ShopSchema());
  std::vector<std::string> got = Play(b, script, 0, 9);
  std::string blob = b.Snapshot().at("window");
  // The version byte, 18 shape fields (window type, 5 durations, the number of key fields
  // and the type of the one, the number of aggregates and 3 fields for each of the 3),
  // watermark, seq; then the spilled-key count, which version 1 lacks.
  const size_t spilled_at = 1 + 18 * 8 + 8 + 8;
  ASSERT_EQ(blob.substr(spilled_at, 8), std::string(8, '\0'));
  blob.erase(spilled_at, 8);
  blob[0] = 1;
  const std::map<std::string, std::string> v1 = {{"window", blob}};
  OpRun same(params, ShopSchema(), false, &v1);
  EXPECT_EQ(same.op().num_windows(), b.op().num_windows());
  std::vector<st::SubtaskSnapshot> old(1);
  old[0].blobs["window"] = blob;
  KeyedRuns after(params, {0}, 2, GetParam(), &old);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.num_windows(), b.op().num_windows());
  Append(got, after.Play(script, 9, script.size() + 1));
  EXPECT_EQ(SortedPerStep(got), want);
}

// Old subtasks whose watermarks differ: the lowest is kept, so a window of the lagging
// subtask does not fire early; one that fired at the other keeps its state: updated, it is
// re-emitted at once, and it does not fire again.
TEST_P(WindowRescaleTest, TheLowestWatermarkIsKeptAndFiredWindowsStayFired) {
  const Param params = CountSumParams({S("user")}, Tumbling("10s"), "30s");
  // A key of each old subtask (of 2).
  std::string keys[2];
  for (int i = 0; keys[0].empty() || keys[1].empty(); ++i) {
    const std::string key = "k" + std::to_string(i);
    BatchPtr b = st::BatchOf(ShopSchema(), {{key, I(1), 1.0, "x", I(1)}}, {0});
    std::string& slot = keys[st::KeyBySubtask(*b, 0, {0}, 2)];
    if (slot.empty()) slot = key;
  }
  KeyedRuns before(params, {0}, 2, GetParam());
  ASSERT_TRUE(before.ok());
  before.run(0).Feed({{keys[0], I(1), 1.0, "x", I(2)}}, {1000});
  before.run(0).Watermark(15000);  // fires keys[0] [0s, 10s)
  EXPECT_THAT(before.run(0).Take(), ElementsAre(HasSubstr(R"("n":1,"sum_qty":2)")));
  before.run(1).Feed({{keys[1], I(1), 1.0, "x", I(3)}}, {2000});
  before.run(1).Watermark(5000);
  EXPECT_TRUE(before.run(1).Take().empty());
  const std::vector<st::SubtaskSnapshot> snapshot = before.Snapshot();

  OpRun after(params, ShopSchema(), 0, 1, &snapshot, GetParam());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.op().num_windows(), 2u);
  after.Feed({{keys[0], I(1), 1.0, "x", I(4)}}, {3000});  // within lateness: re-emitted
  EXPECT_THAT(after.Take(),
              ElementsAre(AllOf(HasSubstr(keys[0]), HasSubstr(R"("n":2,"sum_qty":6)"))));
  after.Watermark(5000);
  EXPECT_TRUE(after.Take().empty());

  // Such a state (a fired window ending after the watermark) checkpoints and restores.
  const std::map<std::string, std::string> blobs = after.Snapshot();
  OpRun again(params, ShopSchema(), false, &blobs);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.op().num_windows(), 2u);
  // keys[1]'s window fires (the watermark kept was 5000, not 15000); keys[0]'s not again.
  again.Watermark(9999);
  EXPECT_THAT(again.Take(),
              ElementsAre(AllOf(HasSubstr(keys[1]), HasSubstr(R"("n":1,"sum_qty":3)"))));
  again.Feed({{keys[0], I(1), 1.0, "x", I(1)}}, {4000});
  EXPECT_THAT(again.Take(),
              ElementsAre(AllOf(HasSubstr(keys[0]), HasSubstr(R"("n":3,"sum_qty":7)"))));
  again.Watermark(39999);  // both are dropped
  EXPECT_EQ(again.op().num_windows(), 0u);
  again.End();
  EXPECT_TRUE(again.Take().empty());
  EXPECT_EQ(again.op().num_windows(), 0u);
}

// A window whose input is not partitioned by its keys holds parts of one key's windows in
// several subtasks: no split by key group is right, so RestoreRescaled refuses.
TEST_P(WindowRescaleTest, InputNotPartitionedByTheKeyCannotRescale) {
  for (const Param& params :
       {CountSumParams({S("user")}, Tumbling("1s"), "0s"), ShopParams({}, Tumbling("1s"), "0s")}) {
    SCOPED_TRACE(params.ToString());
    std::vector<st::SubtaskSnapshot> old;
    for (int i = 0; i < 2; ++i) {
      OpRun run(params, ShopSchema(), i, 2, nullptr, GetParam());
      // Both keys at both subtasks.
      run.Feed({{"a", I(1), 1.0, "x", I(1)}, {"b", I(2), 1.0, "x", I(1)}}, {100, 200});
      old.push_back(run.SnapshotSubtask());
    }
    OperatorConfig config;
    config.node_id = "w";
    config.params = &params;
    config.input_schemas = {ShopSchema()};
    auto op = CreateWindowOperator(config);
    ASSERT_TRUE(op.ok()) << op.status();
    st::TestContext ctx(false, "w");
    absl::Status s = st::RestoreSubtaskRescaled(**op, ctx, old);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << s;
    EXPECT_THAT(s.message(), HasSubstr("so its state cannot be split by key group"));
    EXPECT_EQ(static_cast<WindowOperator&>(**op).num_windows(), 0u);
  }
}

TEST_P(WindowRescaleTest, ADamagedOldBlobNamesTheOldSubtask) {
  const Param params = CountSumParams({S("user")}, Tumbling("1s"), "0s");
  KeyedRuns before(params, {0}, 2, GetParam());
  before.Play(RandomScript(7, 3, 20), 0, 4);
  std::vector<st::SubtaskSnapshot> old = before.Snapshot();
  old[1].blobs["window"].pop_back();
  OperatorConfig config;
  config.node_id = "w";
  config.params = &params;
  config.input_schemas = {ShopSchema()};
  auto op = CreateWindowOperator(config);
  ASSERT_TRUE(op.ok()) << op.status();
  st::TestContext ctx(false, "w");
  absl::Status s = st::RestoreSubtaskRescaled(**op, ctx, old);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("(old subtask 1 of 2)"));
  EXPECT_EQ(static_cast<WindowOperator&>(**op).num_windows(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, WindowRescaleTest, ::testing::Values("memory", "rocksdb"));

}  // namespace
}  // namespace sluice::operators::window
