// Throughput of the `window` operator on the YSB shape (one string key, campaign_id, of
// 100 UUIDs; tumbling 10 s windows; count), against a hand-written loop over
// absl::flat_hash_map doing the same work. Also a wider shape (1000 keys, count +
// count_distinct) and sliding / session windows. Batches of 4096 rows, event time at
// 100k rows/s with up to 50 ms of disorder, a watermark after every batch.
//
// Prints rows/s per benchmark, then the operator/baseline ratio for the YSB shape.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"
#include "operators/testing/operator_harness.h"
#include "operators/window/window_operator.h"

namespace sluice::operators::window {
namespace {

namespace st = ::sluice::testing;

constexpr size_t kBatchRows = 4096;
constexpr size_t kNumRows = size_t{1} << 21;
constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kDisorderMs = 50;

struct Dataset {
  SchemaPtr schema;
  std::vector<BatchPtr> batches;
  std::vector<int64_t> watermarks;  // after each batch
};

// Rows of (key, user): key one of `num_keys` UUID-like strings.
const Dataset& MakeDataset(int num_keys) {
  static std::map<int, Dataset> cache;
  auto it = cache.find(num_keys);
  if (it != cache.end()) return it->second;
  Dataset& d = cache[num_keys];
  d.schema = st::MakeSchema({{"campaign_id", Type::kString}, {"user_id", Type::kString}});
  std::vector<std::string> keys;
  uint64_t x = 7;
  auto next = [&x] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 17;
  };
  for (int i = 0; i < num_keys; ++i) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                  static_cast<unsigned long long>(next() & 0xffffffff),
                  static_cast<unsigned long long>(next() & 0xffff),
                  static_cast<unsigned long long>(next() & 0xfff),
                  static_cast<unsigned long long>(next() & 0xfff),
                  static_cast<unsigned long long>(next() & 0xffffffffffff));
    keys.push_back(buf);
  }
  std::vector<std::string> users;
  for (int i = 0; i < 5000; ++i) users.push_back("user-" + std::to_string(next() % 1000000));
  int64_t max_ts = 0;
  for (size_t row = 0; row < kNumRows; row += kBatchRows) {
    auto b = std::make_unique<RecordBatch>(d.schema);
    for (size_t i = 0; i < kBatchRows; ++i) {
      int64_t nominal = kStartMs + static_cast<int64_t>((row + i) / 100);  // 100k rows/s
      int64_t ts = nominal - static_cast<int64_t>(next() % kDisorderMs);
      max_ts = std::max(max_ts, ts);
      b->column(0).strings.push_back(b->arena().Copy(keys[next() % keys.size()]));
      b->column(1).strings.push_back(b->arena().Copy(users[next() % users.size()]));
      b->timestamps().push_back(ts);
    }
    b->set_num_rows(kBatchRows);
    d.batches.push_back(std::move(b));
    d.watermarks.push_back(max_ts - kDisorderMs);
  }
  return d;
}

std::vector<BatchPtr> CloneAll(const Dataset& d) {
  std::vector<BatchPtr> out;
  for (const auto& b : d.batches) out.push_back(b->Clone());
  return out;
}

// Discards output, counting rows.
class CountingCollector : public Collector {
 public:
  void Emit(BatchPtr batch) override { rows += static_cast<int64_t>(batch->num_rows()); }
  void EmitWatermark(int64_t) override {}
  void EmitDeadLetter(std::string_view, std::string_view) override { ++dead; }
  void CountFiltered(int64_t) override {}
  BatchPtr NewBatch(const SchemaPtr& schema) override {
    return std::make_unique<RecordBatch>(schema);
  }
  int64_t rows = 0;
  int64_t dead = 0;
};

Param Aggs(bool distinct) {
  std::vector<Param> aggs = {
      Param::Map({{"fn", Param::String("count")}, {"as", Param::String("n")}})};
  if (distinct) {
    aggs.push_back(Param::Map({{"fn", Param::String("count_distinct")},
                               {"field", Param::String("user_id")},
                               {"as", Param::String("uv")}}));
  }
  return Param::List(std::move(aggs));
}

void RunOperator(benchmark::State& state, const Param& window, int num_keys, bool distinct) {
  const Dataset& d = MakeDataset(num_keys);
  Param params = Param::Map({{"key_by", Param::List({Param::String("campaign_id")})},
                             {"window", window},
                             {"aggregates", Aggs(distinct)}});
  OperatorConfig config;
  config.node_id = "bench";
  config.params = &params;
  config.input_schemas = {d.schema};
  int64_t out_rows = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<BatchPtr> batches = CloneAll(d);
    auto op = CreateWindowOperator(config);
    if (!op.ok()) {
      state.SkipWithError(std::string(op.status().message()).c_str());
      return;
    }
    st::TestContext ctx;
    CountingCollector out;
    (void)(*op)->Open(ctx);
    state.ResumeTiming();
    for (size_t i = 0; i < batches.size(); ++i) {
      (void)(*op)->Process(0, std::move(batches[i]), out);
      (void)(*op)->OnWatermark(d.watermarks[i], out);
    }
    (void)(*op)->OnEndOfInput(out);
    out_rows = out.rows;
    if (out.dead != 0) state.SkipWithError("late rows");
  }
  state.counters["rows_per_sec"] = benchmark::Counter(
      static_cast<double>(kNumRows) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["out_rows"] = static_cast<double>(out_rows);
}

Param TumblingWindow(const char* size) {
  return Param::Map({{"type", Param::String("tumbling")}, {"size", Param::String(size)}});
}

void BM_WindowYsb(benchmark::State& state) {
  RunOperator(state, TumblingWindow("10s"), 100, false);
}

// The hand-written reference: per window start, a flat_hash_map from campaign_id to a
// count (heterogeneous lookup, no allocation per row); windows fire on the watermark.
void BM_BaselineYsb(benchmark::State& state) {
  const Dataset& d = MakeDataset(100);
  const int64_t size = 10'000;
  int64_t out_rows = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<BatchPtr> batches = CloneAll(d);
    state.ResumeTiming();
    std::map<int64_t, absl::flat_hash_map<std::string, int64_t>> windows;
    int64_t emitted = 0;
    int64_t cached_start = 0;
    absl::flat_hash_map<std::string, int64_t>* cached = nullptr;
    for (size_t i = 0; i < batches.size(); ++i) {
      BatchPtr b = std::move(batches[i]);
      const Column& key = b->column(0);
      const std::vector<int64_t>& ts = b->timestamps();
      for (size_t r = 0; r < b->num_rows(); ++r) {
        int64_t t = ts[r];
        int64_t m = t % size;
        if (m < 0) m += size;
        int64_t start = t - m;
        if (cached == nullptr || start != cached_start) {
          cached = &windows[start];
          cached_start = start;
        }
        std::string_view k = key.strings[r];
        auto it = cached->find(Sv(k));
        if (it == cached->end()) {
          cached->emplace(std::string(k), 1);
        } else {
          ++it->second;
        }
      }
      const int64_t wm = d.watermarks[i];
      while (!windows.empty() && windows.begin()->first + size - 1 <= wm) {
        if (cached == &windows.begin()->second) cached = nullptr;
        for (const auto& [k, n] : windows.begin()->second) {
          benchmark::DoNotOptimize(n);
          ++emitted;
        }
        windows.erase(windows.begin());
      }
    }
    for (const auto& [start, counts] : windows) emitted += static_cast<int64_t>(counts.size());
    out_rows = emitted;
  }
  state.counters["rows_per_sec"] = benchmark::Counter(
      static_cast<double>(kNumRows) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["out_rows"] = static_cast<double>(out_rows);
}

void BM_WindowWide(benchmark::State& state) {
  RunOperator(state, TumblingWindow("1m"), 1000, true);
}

void BM_WindowSliding(benchmark::State& state) {
  RunOperator(state,
              Param::Map({{"type", Param::String("sliding")},
                          {"size", Param::String("10s")},
                          {"slide", Param::String("2s")}}),
              100, false);
}

void BM_WindowSession(benchmark::State& state) {
  RunOperator(state, Param::Map({{"type", Param::String("session")}, {"gap", Param::String("1s")}}),
              1000, false);
}

BENCHMARK(BM_BaselineYsb)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_WindowYsb)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_WindowWide)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WindowSliding)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WindowSession)->Unit(benchmark::kMillisecond);

// Remembers the YSB rates (CPU-time based; the median when repeated) to print their
// ratio at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      auto it = run.counters.find("rows_per_sec");
      if (it == run.counters.end()) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      const std::string name = run.run_name.function_name;
      std::vector<double>* rates = name == "BM_WindowYsb"     ? &operator_rates_
                                   : name == "BM_BaselineYsb" ? &baseline_rates_
                                                              : nullptr;
      if (rates == nullptr) continue;
      if (median) rates->clear();          // the median replaces its repetitions
      rates->push_back(it->second.value);  // already rows per CPU second
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void PrintRatio() const {
    const double op = Median(operator_rates_);
    const double base = Median(baseline_rates_);
    if (op <= 0 || base <= 0) return;
    std::printf(
        "YSB shape: window operator %.2fM rows/s, hand-written loop %.2fM rows/s, ratio %.2f\n",
        op / 1e6, base / 1e6, op / base);
  }

 private:
  static double Median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }

  std::vector<double> operator_rates_;
  std::vector<double> baseline_rates_;
};

}  // namespace
}  // namespace sluice::operators::window

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  sluice::operators::window::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatio();
  return 0;
}
