#include "operators/testing/operator_harness.h"

#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"

#include <map>

namespace sluice::testing {


Counter* TestContext::GetCounter(std::string_view name) {
  auto it = counters_.find(name);
  if (it == counters_.end()) {
    it = counters_.emplace(std::string(name), std::make_unique<Counter>()).first;
  }
  return it->second.get();
}

TestContext::TestContext(bool batch_mode, std::string node_id)
    : node_id_(std::move(node_id)),
      batch_mode_(batch_mode),
      states_(std::make_unique<runtime::OperatorStates>([this] { return store(); }, node_id_, 128, 0, 127)) {}

TestContext::~TestContext() = default;

absl::StatusOr<runtime::KvStore*> TestContext::store() {
  if (store_ == nullptr) {
    if (state_backend == "rocksdb") {
      static std::atomic<int> next{0};
      auto s = runtime::OpenRocksDbKvStore(absl::StrCat("test-", getpid(), "-", next++));
      if (!s.ok()) return s.status();
      store_ = std::move(*s);
    } else {
      store_ = runtime::NewInMemoryKvStore();
    }
  }
  return store_.get();
}

KeyedState* TestContext::GetKeyedState(std::string_view name) { return states_->Legacy(name); }

std::vector<std::string> TestCollector::RowsAsJson() const {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (size_t r = 0; r < b->num_rows(); ++r) out.push_back(b->RowToJson(r));
  }
  return out;
}

size_t TestCollector::num_rows() const {
  size_t n = 0;
  for (const auto& b : batches) n += b->num_rows();
  return n;
}

size_t TestCollector::DeadLetters(std::string_view reason) const {
  size_t n = 0;
  for (const auto& d : dead_letters) n += d.reason == reason;
  return n;
}

SchemaPtr MakeSchema(const std::vector<std::pair<std::string, Type>>& fields) {
  std::vector<Field> f;
  for (const auto& [name, type] : fields) f.push_back({name, type});
  return std::make_shared<Schema>(std::move(f));
}

BatchPtr BatchOf(const SchemaPtr& schema, const std::vector<std::vector<Value>>& rows,
                 const std::vector<int64_t>& timestamps) {
  auto b = std::make_unique<RecordBatch>(schema);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int c = 0; c < schema->num_fields(); ++c) {
      Column& col = b->column(c);
      const Value& v = rows[r][c];
      bool is_null = std::holds_alternative<std::monostate>(v);
      switch (col.type) {
        case Type::kInt64:
        case Type::kTimestamp:
        case Type::kBool:
          col.ints.push_back(is_null ? 0
                             : std::holds_alternative<bool>(v) ? std::get<bool>(v)
                                                               : std::get<int64_t>(v));
          break;
        case Type::kDouble:
          col.doubles.push_back(is_null ? 0
                                : std::holds_alternative<int64_t>(v)
                                    ? static_cast<double>(std::get<int64_t>(v))
                                    : std::get<double>(v));
          break;
        case Type::kString:
          col.strings.push_back(is_null ? std::string_view()
                                        : b->arena().Copy(std::get<std::string>(v)));
          break;
        case Type::kNull:
          break;
      }
      if (is_null) col.SetNull(r, r + 1);
      else if (!col.nulls.empty()) col.nulls.push_back(0);
    }
    b->timestamps().push_back(r < timestamps.size() ? timestamps[r] : kNoTimestamp);
    b->set_num_rows(r + 1);
  }
  return b;
}

BatchPtr LinesBatch(const std::vector<std::string>& lines) {
  auto schema = MakeSchema({{"line", Type::kString}});
  std::vector<std::vector<Value>> rows;
  for (const auto& l : lines) rows.push_back({l});
  return BatchOf(schema, rows);
}

}  // namespace sluice::testing
