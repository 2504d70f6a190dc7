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
      states_(std::make_unique<runtime::OperatorStates>(
          [this] { return store(); }, node_id_, kTestMaxParallelism, 0, kTestMaxParallelism - 1)) {}

TestContext::~TestContext() = default;

int TestContext::first_key_group() const {
  return (subtask_index_ * kTestMaxParallelism + parallelism_ - 1) / parallelism_;
}

int TestContext::last_key_group() const {
  return ((subtask_index_ + 1) * kTestMaxParallelism - 1) / parallelism_;
}

void TestContext::SetSubtask(int subtask_index, int parallelism) {
  subtask_index_ = subtask_index;
  parallelism_ = parallelism;
  states_ = std::make_unique<runtime::OperatorStates>([this] { return store(); }, node_id_,
                                                      kTestMaxParallelism, first_key_group(),
                                                      last_key_group());
}

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

absl::StatusOr<SubtaskSnapshot> SnapshotSubtask(Operator& op, TestContext& ctx,
                                                int64_t checkpoint_id) {
  SubtaskSnapshot snapshot;
  MapSnapshotWriter writer(checkpoint_id);
  absl::Status st = op.Snapshot(writer);
  if (!st.ok()) return st;
  snapshot.blobs = std::move(writer.blobs);
  st = ctx.states().Snapshot([&snapshot](const std::string& name, std::string blob) {
    snapshot.states[name] = std::move(blob);
  });
  if (!st.ok()) return st;
  return snapshot;
}

bool BlobsRescaledReader::Read(int old_subtask, std::string_view name, std::string* bytes) {
  if (old_subtask < 0 || old_subtask >= old_parallelism()) return false;
  auto it = old_[old_subtask].find(std::string(name));
  if (it == old_[old_subtask].end()) return false;
  *bytes = it->second;
  return true;
}

bool MapRescaledSnapshotReader::Read(int old_subtask, std::string_view name, std::string* bytes) {
  if (old_subtask < 0 || old_subtask >= old_parallelism()) return false;
  const auto& blobs = old_[old_subtask].blobs;
  auto it = blobs.find(std::string(name));
  if (it == blobs.end()) return false;
  *bytes = it->second;
  return true;
}

absl::Status RestoreSubtaskRescaled(Operator& op, TestContext& ctx,
                                    const std::vector<SubtaskSnapshot>& old) {
  bool own_blobs = false;
  for (const SubtaskSnapshot& s : old) {
    for (const auto& [name, blob] : s.states) {
      absl::Status st = ctx.states().Restore(name, blob);
      if (!st.ok()) return st;
    }
    own_blobs = own_blobs || !s.blobs.empty();
  }
  // Like the runtime: an operator that wrote nothing of its own starts empty.
  if (!own_blobs) return absl::OkStatus();
  MapRescaledSnapshotReader reader(old, ctx);
  return op.RestoreRescaled(reader);
}

int KeyBySubtask(const RecordBatch& batch, size_t row, const std::vector<int>& key_fields,
                 int parallelism) {
  uint64_t h = 0;
  for (int k : key_fields) h = HashKeyField(batch.column(k), row, h);
  return SubtaskForKeyGroup(KeyGroupOf(h, kTestMaxParallelism), kTestMaxParallelism, parallelism);
}

std::vector<BatchPtr> SplitByKey(const RecordBatch& batch, const std::vector<int>& key_fields,
                                 int parallelism) {
  std::vector<std::vector<uint32_t>> rows(parallelism);
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    rows[KeyBySubtask(batch, r, key_fields, parallelism)].push_back(static_cast<uint32_t>(r));
  }
  std::vector<BatchPtr> out;
  for (int t = 0; t < parallelism; ++t) {
    out.push_back(std::make_unique<RecordBatch>(batch.schema()));
    out.back()->AppendRows(batch, rows[t]);
  }
  return out;
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
