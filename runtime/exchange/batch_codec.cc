#include "runtime/exchange/batch_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice::runtime {
namespace {

constexpr uint32_t kMagic = 0x31424c53;  // "SLB1"

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

template <typename T>
void PutArray(std::string* out, const std::vector<T>& v, size_t n) {
  out->append(reinterpret_cast<const char*>(v.data()), n * sizeof(T));
}

class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), end_(p + n) {}
  template <typename T>
  bool Get(T* v) {
    if (static_cast<size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  // Points at `n` bytes and skips them.
  const char* Take(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return nullptr;
    const char* at = p_;
    p_ += n;
    return at;
  }
  template <typename T>
  bool GetArray(std::vector<T>* v, size_t n) {
    if (n > static_cast<size_t>(end_ - p_) / sizeof(T)) return false;
    v->resize(n);
    std::memcpy(v->data(), p_, n * sizeof(T));
    p_ += n * sizeof(T);
    return true;
  }
  bool done() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

absl::Status Corrupt(std::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt record batch on the wire: ", Sv(what)));
}

}  // namespace

void EncodeBatch(const RecordBatch& batch, std::string* out) {
  const size_t n = batch.num_rows();
  size_t estimate = 16 + n * 8;
  for (int c = 0; c < batch.num_columns(); ++c) estimate += 2 + n * 9;
  out->reserve(out->size() + estimate);
  Put<uint32_t>(out, kMagic);
  Put<uint32_t>(out, static_cast<uint32_t>(batch.num_columns()));
  Put<uint64_t>(out, n);
  PutArray(out, batch.timestamps(), n);
  for (int c = 0; c < batch.num_columns(); ++c) {
    const Column& col = batch.column(c);
    Put<uint8_t>(out, static_cast<uint8_t>(col.type));
    const bool has_nulls = !col.nulls.empty();
    Put<uint8_t>(out, has_nulls ? 1 : 0);
    if (has_nulls) {
      size_t have = std::min(col.nulls.size(), n);
      PutArray(out, col.nulls, have);
      out->append(n - have, '\0');
    }
    switch (col.type) {
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool:
        PutArray(out, col.ints, n);
        break;
      case Type::kDouble:
        PutArray(out, col.doubles, n);
        break;
      case Type::kString: {
        size_t base = out->size();
        out->resize(base + n * sizeof(uint32_t));
        char* lens = out->data() + base;
        for (size_t r = 0; r < n; ++r) {
          uint32_t len = static_cast<uint32_t>(col.strings[r].size());
          std::memcpy(lens + r * sizeof(uint32_t), &len, sizeof(len));
        }
        for (size_t r = 0; r < n; ++r) out->append(col.strings[r].data(), col.strings[r].size());
        break;
      }
      case Type::kNull:
        break;
    }
  }
}

absl::StatusOr<BatchPtr> DecodeBatch(std::shared_ptr<const std::string> data, const SchemaPtr& schema) {
  Reader in(data->data(), data->size());
  uint32_t magic = 0, columns = 0;
  uint64_t rows = 0;
  if (!in.Get(&magic) || magic != kMagic) return Corrupt("bad magic");
  if (!in.Get(&columns) || !in.Get(&rows)) return Corrupt("truncated header");
  if (static_cast<int>(columns) != schema->num_fields()) {
    return Corrupt(absl::StrCat(columns, " columns, the plan expects ", schema->num_fields()));
  }
  auto batch = std::make_unique<RecordBatch>(schema);
  if (!in.GetArray(&batch->timestamps(), rows)) return Corrupt("truncated timestamps");
  for (uint32_t c = 0; c < columns; ++c) {
    Column& col = batch->column(static_cast<int>(c));
    uint8_t type = 0, has_nulls = 0;
    if (!in.Get(&type) || !in.Get(&has_nulls)) return Corrupt("truncated column header");
    if (type != static_cast<uint8_t>(col.type)) {
      return Corrupt(absl::StrCat("column ", c, " has type ", type, ", the plan expects ",
                                  Sv(TypeName(col.type))));
    }
    if (has_nulls && !in.GetArray(&col.nulls, rows)) return Corrupt("truncated nulls");
    switch (col.type) {
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool:
        if (!in.GetArray(&col.ints, rows)) return Corrupt("truncated integers");
        break;
      case Type::kDouble:
        if (!in.GetArray(&col.doubles, rows)) return Corrupt("truncated doubles");
        break;
      case Type::kString: {
        std::vector<uint32_t> lens;
        if (!in.GetArray(&lens, rows)) return Corrupt("truncated string lengths");
        col.strings.resize(rows);
        for (uint64_t r = 0; r < rows; ++r) {
          const char* p = in.Take(lens[r]);
          if (p == nullptr) return Corrupt("truncated string bytes");
          col.strings[r] = std::string_view(p, lens[r]);
        }
        break;
      }
      case Type::kNull:
        break;
    }
  }
  if (!in.done()) return Corrupt("trailing bytes");
  batch->set_num_rows(rows);
  batch->AddBuffer(std::move(data));
  return batch;
}

}  // namespace sluice::runtime
