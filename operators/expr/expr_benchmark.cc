// Throughput of compiled expressions against hand-written loops over the same column.
// The headline is the Yahoo Streaming Benchmark filter `event_type == "view"`: rows per
// second of Expression::EvaluateFilter versus a loop doing `sv == "view"` by hand.
//
//   ./expr_benchmark --benchmark_filter=View
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "operators/expr/expression.h"

namespace sluice::operators::expr {
namespace {

SchemaPtr YsbSchema() {
  return std::make_shared<Schema>(std::vector<Field>{{"user_id", Type::kString},
                                                     {"page_id", Type::kString},
                                                     {"ad_id", Type::kString},
                                                     {"ad_type", Type::kString},
                                                     {"event_type", Type::kString},
                                                     {"event_time", Type::kTimestamp},
                                                     {"ip_address", Type::kString}});
}

// A YSB-like batch: event_type is view / click / purchase at random (a third are views).
std::unique_ptr<RecordBatch> YsbBatch(size_t n, uint32_t seed = 7) {
  auto b = std::make_unique<RecordBatch>(YsbSchema());
  std::mt19937 rng(seed);
  const char* kEvents[] = {"view", "click", "purchase"};
  const char* kAdTypes[] = {"banner", "modal", "sponsored-search", "mail", "mobile"};
  for (size_t i = 0; i < n; ++i) {
    const std::string uuid = "6d1b5ed0-6a3d-4b8e-9b8e-" + std::to_string(100000000000 + rng() % 1000);
    b->column(0).strings.push_back(b->arena().Copy(uuid));
    b->column(1).strings.push_back(b->arena().Copy(uuid));
    b->column(2).strings.push_back(b->arena().Copy(uuid));
    b->column(3).strings.push_back(b->arena().Copy(kAdTypes[rng() % 5]));
    b->column(4).strings.push_back(b->arena().Copy(kEvents[rng() % 3]));
    b->column(5).ints.push_back(1700000000000 + static_cast<int64_t>(i));
    b->column(6).strings.push_back(b->arena().Copy("1.2.3.4"));
    b->timestamps().push_back(1700000000000 + static_cast<int64_t>(i));
  }
  b->set_num_rows(n);
  return b;
}

// Distinct batches to cycle through: filtering one batch over and over would let the
// branch predictor learn its rows, which real streams never repeat.
constexpr size_t kNumBatches = 16;
std::vector<std::unique_ptr<RecordBatch>> YsbBatches(size_t n) {
  std::vector<std::unique_ptr<RecordBatch>> batches;
  for (size_t k = 0; k < kNumBatches; ++k) batches.push_back(YsbBatch(n, static_cast<uint32_t>(k + 1)));
  return batches;
}

void BM_View_HandWritten(benchmark::State& state) {
  auto batches = YsbBatches(static_cast<size_t>(state.range(0)));
  std::vector<uint32_t> rows;
  rows.reserve(batches[0]->num_rows());
  size_t k = 0;
  for (auto _ : state) {
    rows.clear();
    const std::vector<std::string_view>& col = batches[k++ % kNumBatches]->column(4).strings;
    for (size_t i = 0; i < col.size(); ++i) {
      if (col[i] == "view") rows.push_back(static_cast<uint32_t>(i));
    }
    benchmark::DoNotOptimize(rows.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_View_HandWritten)->Arg(1024)->Arg(4096);

void BM_View_Expression(benchmark::State& state) {
  auto batches = YsbBatches(static_cast<size_t>(state.range(0)));
  auto expr = Expression::Compile("event_type == \"view\"", *batches[0]->schema()).value();
  std::vector<uint32_t> rows;
  size_t k = 0;
  for (auto _ : state) {
    expr->EvaluateFilter(*batches[k++ % kNumBatches], &rows);
    benchmark::DoNotOptimize(rows.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_View_Expression)->Arg(1024)->Arg(4096);

// The filter plus RecordBatch::Select, as the filter operator does (on a fresh copy of
// the columns each time; the copy is timed too, so this is an upper bound).
void BM_View_ExpressionAndSelect(benchmark::State& state) {
  auto batch = YsbBatch(static_cast<size_t>(state.range(0)));
  auto expr = Expression::Compile("event_type == \"view\"", *batch->schema()).value();
  RecordBatch work(batch->schema());
  std::vector<uint32_t> rows;
  for (auto _ : state) {
    for (int c = 0; c < batch->num_columns(); ++c) work.column(c) = batch->column(c);
    work.timestamps() = batch->timestamps();
    work.set_num_rows(batch->num_rows());
    expr->EvaluateFilter(work, &rows);
    work.Select(rows);
    benchmark::DoNotOptimize(work.num_rows());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_View_ExpressionAndSelect)->Arg(4096);

void BM_Filter(benchmark::State& state, const char* text) {
  auto batches = YsbBatches(4096);
  auto expr = Expression::Compile(text, *batches[0]->schema()).value();
  std::vector<uint32_t> rows;
  size_t k = 0;
  for (auto _ : state) {
    expr->EvaluateFilter(*batches[k++ % kNumBatches], &rows);
    benchmark::DoNotOptimize(rows.data());
  }
  state.SetItemsProcessed(state.iterations() * 4096);
}
BENCHMARK_CAPTURE(BM_Filter, and_view_not_mail, "event_type == 'view' && ad_type != 'mail'");
BENCHMARK_CAPTURE(BM_Filter, or_in, "event_type == 'purchase' || ad_type in ('mail', 'modal')");
BENCHMARK_CAPTURE(BM_Filter, in_only, "ad_type in ('mail', 'modal')");
BENCHMARK_CAPTURE(BM_Filter, or_eq, "event_type == 'purchase' || ad_type == 'mail'");
BENCHMARK_CAPTURE(BM_Filter, ad_type_eq, "ad_type == 'mail'");
BENCHMARK_CAPTURE(BM_Filter, starts_with, "starts_with(ad_type, 'sponsored')");
BENCHMARK_CAPTURE(BM_Filter, time_range, "event_time >= 1700000001000 && event_time < 1700000003000");
BENCHMARK_CAPTURE(BM_Filter, lower_eq, "lower(event_type) == 'view'");

void BM_Project(benchmark::State& state, const char* text) {
  auto batch = YsbBatch(4096);
  auto expr = Expression::Compile(text, *batch->schema()).value();
  auto out_schema = std::make_shared<Schema>(std::vector<Field>{{"v", expr->result_type()}});
  RecordBatch out(out_schema);
  for (auto _ : state) {
    out.Clear();
    expr->EvaluateInto(*batch, out, 0);
    benchmark::DoNotOptimize(out.column(0));
  }
  state.SetItemsProcessed(state.iterations() * 4096);
}
BENCHMARK_CAPTURE(BM_Project, window_start, "event_time - event_time % 10000");
BENCHMARK_CAPTURE(BM_Project, upper, "upper(event_type)");
BENCHMARK_CAPTURE(BM_Project, if_concat, "if(event_type == 'view', concat(ad_id, ':v'), ad_type)");

}  // namespace
}  // namespace sluice::operators::expr

BENCHMARK_MAIN();
