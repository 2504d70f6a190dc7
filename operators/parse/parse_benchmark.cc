// Throughput of the parse operators on realistic lines (records/s, shown as items/s):
// json_parse on Yahoo Streaming Benchmark events, next to a hand-written single-thread
// simdjson loop extracting the same fields (the engine's yardstick), and
// access_log_parse on nginx combined lines, next to the bare scanner.
//
// Lines live in one padded buffer shared by every batch, as a file source provides them.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "operators/parse/access_log.h"
#include "operators/parse/access_log_parse.h"
#include "operators/parse/json_parse.h"
#include "simdjson.h"
#include "sluice/operator.h"

namespace sluice::operators::parse {
namespace {

constexpr size_t kBatchRows = 1024;
constexpr size_t kLines = 16 * kBatchRows;

// Drops what it is given; recycles one output batch like a runtime pool would.
class DiscardCollector : public Collector {
 public:
  void Emit(BatchPtr batch) override {
    rows += static_cast<int64_t>(batch->num_rows());
    spare_ = std::move(batch);
  }
  void EmitWatermark(int64_t) override {}
  void EmitDeadLetter(std::string_view, std::string_view) override { ++dead_letters; }
  void CountFiltered(int64_t) override {}
  BatchPtr NewBatch(const SchemaPtr& schema) override {
    if (spare_ != nullptr && spare_->schema() == schema) {
      spare_->Clear();
      return std::move(spare_);
    }
    return std::make_unique<RecordBatch>(schema);
  }

  int64_t rows = 0;
  int64_t dead_letters = 0;

 private:
  BatchPtr spare_;
};

// Lines joined by '\n' in one buffer followed by SIMDJSON_PADDING bytes.
struct LineBuffer {
  std::shared_ptr<std::string> bytes;
  std::vector<std::string_view> lines;
};

LineBuffer MakeBuffer(const std::vector<std::string>& lines) {
  LineBuffer b;
  b.bytes = std::make_shared<std::string>();
  for (const auto& l : lines) *b.bytes += l + "\n";
  const size_t size = b.bytes->size();
  b.bytes->append(simdjson::SIMDJSON_PADDING, '\0');
  size_t pos = 0;
  while (pos < size) {
    const size_t end = b.bytes->find('\n', pos);
    b.lines.emplace_back(b.bytes->data() + pos, end - pos);
    pos = end + 1;
  }
  return b;
}

std::string Uuid(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 36; ++i) {
    s.push_back(i == 8 || i == 13 || i == 18 || i == 23 ? '-' : kHex[rng() % 16]);
  }
  return s;
}

// YSB events shaped like examples/datagen's (event_time a number) or, with
// `string_times`, like the original generator's (event_time a string).
std::vector<std::string> YsbLines(bool string_times) {
  std::mt19937_64 rng(42);
  std::vector<std::string> users, pages, ads;
  for (int i = 0; i < 100; ++i) users.push_back(Uuid(rng));
  for (int i = 0; i < 100; ++i) pages.push_back(Uuid(rng));
  for (int i = 0; i < 1000; ++i) ads.push_back(Uuid(rng));
  static constexpr const char* kAdTypes[] = {"banner", "modal", "sponsored-search", "mail",
                                             "mobile"};
  static constexpr const char* kEventTypes[] = {"view", "click", "purchase"};
  std::vector<std::string> lines;
  for (size_t i = 0; i < kLines; ++i) {
    lines.push_back("{\"user_id\":\"" + users[rng() % users.size()] + "\",\"page_id\":\"" +
                    pages[rng() % pages.size()] + "\",\"ad_id\":\"" + ads[rng() % ads.size()] +
                    "\",\"ad_type\":\"" + kAdTypes[rng() % 5] + "\",\"event_type\":\"" +
                    kEventTypes[rng() % 3] + "\",\"event_time\":" + (string_times ? "\"" : "") +
                    std::to_string(1469118480000 + static_cast<int64_t>(i)) +
                    (string_times ? "\"" : "") + ",\"ip_address\":\"1.2.3.4\"}");
  }
  return lines;
}

std::vector<std::string> AccessLogLines() {
  static constexpr const char* kTargets[] = {
      "/",     "/item/42",    "/search?q=shoes&page=2", "/static/js/app.js?v=123",
      "/cart", "/category/12"};
  static constexpr const char* kAgents[] = {
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36",
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
      "like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"};
  std::mt19937_64 rng(7);
  std::vector<std::string> lines;
  for (size_t i = 0; i < kLines; ++i) {
    const int second = static_cast<int>(i % 60);
    lines.push_back("10." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) +
                    ".7 - - [20/Nov/2026:08:15:" + (second < 10 ? "0" : "") +
                    std::to_string(second) + " +0800] \"GET " + kTargets[rng() % 6] +
                    " HTTP/1.1\" 200 " + std::to_string(rng() % 50000) +
                    " \"https://shop.example.com/\" \"" + kAgents[rng() % 3] + "\"");
  }
  return lines;
}

// Batches of kBatchRows lines viewing `buffer`, as a file source emits them.
BatchPtr LinesBatch(const LineBuffer& buffer, const SchemaPtr& schema, size_t first) {
  auto batch = std::make_unique<RecordBatch>(schema);
  batch->AddBuffer(buffer.bytes);
  Column& col = batch->column(0);
  col.strings.assign(buffer.lines.begin() + first, buffer.lines.begin() + first + kBatchRows);
  batch->timestamps().assign(kBatchRows, kNoTimestamp);
  batch->set_num_rows(kBatchRows);
  return batch;
}

void RunOperator(benchmark::State& state, Operator& op, const LineBuffer& buffer) {
  auto schema = std::make_shared<Schema>(std::vector<Field>{{"line", Type::kString}});
  DiscardCollector out;
  size_t first = 0;
  for (auto _ : state) {
    BatchPtr batch = LinesBatch(buffer, schema, first);
    first = (first + kBatchRows) % kLines;
    if (!op.Process(0, std::move(batch), out).ok()) state.SkipWithError("Process failed");
  }
  if (out.dead_letters != 0) state.SkipWithError("unexpected dead letters");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatchRows));
}

Param YsbParams() {
  Param params = Param::Map({{"fields", Param::Map({{"ad_id", Param::String("string")},
                                                    {"event_type", Param::String("string")},
                                                    {"event_time", Param::String("timestamp")}})}});
  return params;
}

// state.range(0): 1 if event_time is a JSON string.
void BM_JsonParseYsb(benchmark::State& state) {
  static const LineBuffer numbers = MakeBuffer(YsbLines(false));
  static const LineBuffer strings = MakeBuffer(YsbLines(true));
  const LineBuffer& buffer = state.range(0) ? strings : numbers;
  static const Param params = YsbParams();
  OperatorConfig config;
  config.params = &params;
  config.input_schemas = {std::make_shared<Schema>(std::vector<Field>{{"line", Type::kString}})};
  auto op = CreateJsonParse(config);
  if (!op.ok()) return state.SkipWithError(std::string(op.status().message()).c_str());
  RunOperator(state, **op, buffer);
}
BENCHMARK(BM_JsonParseYsb)->Arg(0)->Arg(1);

// The yardstick, as bench/ysb_baseline.cc parses: each line in place (padding
// guaranteed), doc["ad_id"], doc["event_type"], doc["event_time"], into three columns.
void BM_HandWrittenSimdjsonYsb(benchmark::State& state) {
  static const LineBuffer buffer = MakeBuffer(YsbLines(false));
  simdjson::ondemand::parser parser;
  std::vector<std::string_view> ad_ids, event_types;
  std::vector<int64_t> event_times;
  size_t first = 0;
  for (auto _ : state) {
    ad_ids.clear();
    event_types.clear();
    event_times.clear();
    for (size_t i = first; i < first + kBatchRows; ++i) {
      const std::string_view line = buffer.lines[i];
      simdjson::ondemand::document doc;
      if (parser.iterate(line.data(), line.size(), line.size() + simdjson::SIMDJSON_PADDING)
              .get(doc)) {
        continue;
      }
      std::string_view ad_id, event_type;
      int64_t t = 0;
      if (doc["ad_id"].get_string().get(ad_id) || doc["event_type"].get_string().get(event_type) ||
          doc["event_time"].get_int64().get(t)) {
        continue;
      }
      ad_ids.push_back(ad_id);
      event_types.push_back(event_type);
      event_times.push_back(t);
    }
    benchmark::DoNotOptimize(ad_ids.data());
    benchmark::DoNotOptimize(event_times.data());
    first = (first + kBatchRows) % kLines;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatchRows));
}
BENCHMARK(BM_HandWrittenSimdjsonYsb);

void BM_AccessLogParse(benchmark::State& state) {
  static const LineBuffer buffer = MakeBuffer(AccessLogLines());
  static const Param params = Param::Map();
  OperatorConfig config;
  config.params = &params;
  config.input_schemas = {std::make_shared<Schema>(std::vector<Field>{{"line", Type::kString}})};
  auto op = CreateAccessLogParse(config);
  if (!op.ok()) return state.SkipWithError(std::string(op.status().message()).c_str());
  RunOperator(state, **op, buffer);
}
BENCHMARK(BM_AccessLogParse);

void BM_AccessLogScanner(benchmark::State& state) {
  static const LineBuffer buffer = MakeBuffer(AccessLogLines());
  size_t i = 0;
  AccessLogEntry entry;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ParseAccessLogLine(buffer.lines[i], AccessLogFormat::kCombined, &entry));
    benchmark::DoNotOptimize(entry.time_ms);
    if (++i == kLines) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_AccessLogScanner);

}  // namespace
}  // namespace sluice::operators::parse

BENCHMARK_MAIN();
