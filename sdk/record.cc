#include "sluice/record.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace sluice {

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kNull: return "null";
    case Type::kBool: return "bool";
    case Type::kInt64: return "int64";
    case Type::kDouble: return "double";
    case Type::kString: return "string";
    case Type::kTimestamp: return "timestamp";
  }
  return "?";
}

bool ParseType(std::string_view name, Type* type) {
  std::string n = absl::AsciiStrToLower(Sv(name));
  if (n == "null") *type = Type::kNull;
  else if (n == "bool" || n == "boolean") *type = Type::kBool;
  else if (n == "int64" || n == "int" || n == "long" || n == "bigint") *type = Type::kInt64;
  else if (n == "double" || n == "float") *type = Type::kDouble;
  else if (n == "string" || n == "str") *type = Type::kString;
  else if (n == "timestamp") *type = Type::kTimestamp;
  else return false;
  return true;
}

int Schema::IndexOf(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string Schema::ToString() const {
  return absl::StrJoin(fields_, ", ", [](std::string* out, const Field& f) {
    absl::StrAppend(out, f.name, ":", Sv(TypeName(f.type)));
  });
}

bool Schema::Equals(const Schema& other) const {
  if (fields_.size() != other.fields_.size()) return false;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name != other.fields_[i].name || fields_[i].type != other.fields_[i].type) {
      return false;
    }
  }
  return true;
}

char* Arena::Allocate(size_t n) {
  if (n > left_) {
    size_t size = std::max(n, kBlockSize);
    // Reuse the retained first block after Clear() when it fits.
    blocks_.push_back(std::make_unique<char[]>(size));
    cur_ = blocks_.back().get();
    left_ = size;
  }
  char* p = cur_;
  cur_ += n;
  left_ -= n;
  used_ += n;
  return p;
}

void Arena::Clear() {
  if (blocks_.size() > 1) blocks_.resize(1);
  if (!blocks_.empty()) {
    cur_ = blocks_[0].get();
    left_ = kBlockSize;
  }
  used_ = 0;
}

void Arena::TransferBlocks(std::vector<std::shared_ptr<const void>>* keep_alive) {
  for (auto& b : blocks_) keep_alive->push_back(std::shared_ptr<const char[]>(b.release()));
  blocks_.clear();
  cur_ = nullptr;
  left_ = 0;
  used_ = 0;
}

void Column::SetNull(size_t row, size_t num_rows) {
  const size_t need = std::max(num_rows, row + 1);
  if (nulls.size() < need) nulls.resize(need, 0);
  nulls[row] = 1;
}

void Column::Clear() {
  ints.clear();
  doubles.clear();
  strings.clear();
  nulls.clear();
}

void Column::Reserve(size_t n) {
  switch (type) {
    case Type::kInt64:
    case Type::kTimestamp:
    case Type::kBool:
      ints.reserve(n);
      break;
    case Type::kDouble:
      doubles.reserve(n);
      break;
    case Type::kString:
      strings.reserve(n);
      break;
    case Type::kNull:
      break;
  }
}

RecordBatch::RecordBatch(SchemaPtr schema) : schema_(std::move(schema)) {
  columns_.resize(schema_->num_fields());
  for (int i = 0; i < schema_->num_fields(); ++i) columns_[i].type = schema_->field(i).type;
}

void RecordBatch::set_num_rows(size_t n) {
  num_rows_ = n;
  for (Column& c : columns_) {
    if (!c.nulls.empty() && c.nulls.size() < n) c.nulls.resize(n, 0);
  }
}

namespace {
size_t ValueCount(const Column& c) {
  switch (c.type) {
    case Type::kInt64:
    case Type::kTimestamp:
    case Type::kBool:
      return c.ints.size();
    case Type::kDouble:
      return c.doubles.size();
    case Type::kString:
      return c.strings.size();
    case Type::kNull:
      return 0;
  }
  return 0;
}
}  // namespace

absl::Status RecordBatch::Validate() const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    const Column& c = columns_[i];
    const Field& f = schema_->field(static_cast<int>(i));
    const size_t want = c.type == Type::kNull ? 0 : num_rows_;
    if (c.type != f.type) {
      return absl::FailedPreconditionError(absl::StrCat("column ", i, " (", f.name, ") has type ",
                                                        Sv(TypeName(c.type)), ", the schema says ",
                                                        Sv(TypeName(f.type))));
    }
    if (ValueCount(c) != want) {
      return absl::FailedPreconditionError(absl::StrCat("column ", i, " (", f.name, ":", Sv(TypeName(f.type)),
                                                        ") has ", ValueCount(c), " values for ", num_rows_,
                                                        " rows"));
    }
    if (!c.nulls.empty() && c.nulls.size() != num_rows_) {
      return absl::FailedPreconditionError(absl::StrCat("column ", i, " (", f.name, ") has ", c.nulls.size(),
                                                        " null flags for ", num_rows_, " rows"));
    }
  }
  if (timestamps_.size() != num_rows_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the batch has ", timestamps_.size(), " timestamps for ", num_rows_, " rows"));
  }
  return absl::OkStatus();
}

void RecordBatch::ShareBuffers(const RecordBatch& other) {
  buffers_.insert(buffers_.end(), other.buffers_.begin(), other.buffers_.end());
}

void RecordBatch::AdoptMemory(RecordBatch& other) {
  ShareBuffers(other);
  other.arena_.TransferBlocks(&buffers_);
}

void RecordBatch::AppendRow(const RecordBatch& src, size_t row) {
  AppendRows(src, {static_cast<uint32_t>(row)});
}

namespace {
template <typename T>
void GatherVec(std::vector<T>& dst, const std::vector<T>& src, const std::vector<uint32_t>& rows) {
  size_t base = dst.size();
  dst.resize(base + rows.size());
  T* out = dst.data() + base;
  for (uint32_t r : rows) *out++ = src[r];
}
}  // namespace

void RecordBatch::AppendRows(const RecordBatch& src, const std::vector<uint32_t>& rows) {
  const bool share = src.arena_.bytes_used() == 0;
  if (share) ShareBuffers(src);
  for (size_t c = 0; c < columns_.size(); ++c) {
    Column& dst = columns_[c];
    const Column& s = src.columns_[c];
    switch (dst.type) {
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool:
        GatherVec(dst.ints, s.ints, rows);
        break;
      case Type::kDouble:
        GatherVec(dst.doubles, s.doubles, rows);
        break;
      case Type::kString:
        if (share) {
          GatherVec(dst.strings, s.strings, rows);
        } else {
          for (uint32_t r : rows) dst.strings.push_back(arena_.Copy(s.strings[r]));
        }
        break;
      case Type::kNull:
        break;
    }
    if (!s.nulls.empty() || !dst.nulls.empty()) {
      dst.nulls.resize(num_rows_, 0);
      if (s.nulls.empty()) {
        dst.nulls.resize(num_rows_ + rows.size(), 0);
      } else {
        for (uint32_t r : rows) dst.nulls.push_back(s.IsNull(r) ? 1 : 0);  // s.nulls may be short
      }
    }
  }
  // Timestamps are optional (a source without event time sets none): rows without one
  // get kNoTimestamp when the other side has them, and nothing is read past the end.
  if (!src.timestamps_.empty()) {
    timestamps_.resize(num_rows_, kNoTimestamp);
    timestamps_.reserve(num_rows_ + rows.size());
    const size_t have = src.timestamps_.size();
    for (uint32_t r : rows) timestamps_.push_back(r < have ? src.timestamps_[r] : kNoTimestamp);
  } else if (!timestamps_.empty()) {
    timestamps_.resize(num_rows_ + rows.size(), kNoTimestamp);
  }
  num_rows_ += rows.size();
}

namespace {
template <typename T>
void SelectVec(std::vector<T>& v, const std::vector<uint32_t>& rows) {
  if (v.empty()) return;
  size_t out = 0;
  for (uint32_t r : rows) v[out++] = v[r];
  v.resize(out);
}
}  // namespace

void RecordBatch::Select(const std::vector<uint32_t>& rows) {
  if (rows.size() == num_rows_) return;
  for (Column& c : columns_) {
    if (!c.nulls.empty() && c.nulls.size() < num_rows_) c.nulls.resize(num_rows_, 0);
    SelectVec(c.ints, rows);
    SelectVec(c.doubles, rows);
    SelectVec(c.strings, rows);
    SelectVec(c.nulls, rows);
  }
  SelectVec(timestamps_, rows);
  num_rows_ = rows.size();
}

void RecordBatch::Clear() {
  for (Column& c : columns_) c.Clear();
  timestamps_.clear();
  num_rows_ = 0;
  arena_.Clear();
  buffers_.clear();
}

std::unique_ptr<RecordBatch> RecordBatch::Clone() const {
  auto copy = std::make_unique<RecordBatch>(schema_);
  std::vector<uint32_t> all(num_rows_);
  for (size_t r = 0; r < num_rows_; ++r) all[r] = static_cast<uint32_t>(r);
  copy->AppendRows(*this, all);
  return copy;
}

// BatchBuilder

BatchBuilder::BatchBuilder(BatchPtr batch) : batch_(std::move(batch)) {
  if (batch_ == nullptr) {
    error_ = absl::FailedPreconditionError("BatchBuilder: no batch (a null BatchPtr)");
    return;
  }
  batch_->set_num_rows(batch_->num_rows());  // pads short null bitmaps
  if (absl::Status st = batch_->Validate(); !st.ok()) {
    error_ = absl::FailedPreconditionError(absl::StrCat("BatchBuilder: the batch is inconsistent: ", st.message()));
    return;
  }
  set_.assign(batch_->num_columns(), 0);
}

absl::Status BatchBuilder::Fail(absl::Status status) {
  if (error_.ok()) error_ = std::move(status);
  return error_;
}

size_t BatchBuilder::num_rows() const { return batch_ == nullptr ? 0 : batch_->num_rows(); }

absl::Status BatchBuilder::BeginRow(int64_t timestamp) {
  if (!error_.ok()) return error_;
  if (row_open_) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("BatchBuilder: BeginRow while row ", batch_->num_rows(), " is open (call FinishRow first)")));
  }
  row_open_ = true;
  row_timestamp_ = timestamp;
  std::fill(set_.begin(), set_.end(), 0);
  return absl::OkStatus();
}

absl::Status BatchBuilder::CheckSet(int field, std::initializer_list<Type> types, std::string_view what) {
  if (!error_.ok()) return error_;
  if (!row_open_) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("BatchBuilder: ", Sv(what), "(", field, ") outside a row (call BeginRow first)")));
  }
  if (field < 0 || field >= batch_->num_columns()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("BatchBuilder: ", Sv(what), "(", field,
                                                        "): no such field; the schema has ",
                                                        batch_->num_columns(), ": ",
                                                        batch_->schema()->ToString())));
  }
  const Field& f = batch_->schema()->field(field);
  if (set_[field]) {
    return Fail(absl::FailedPreconditionError(absl::StrCat("BatchBuilder: field ", field, " (", f.name,
                                                           ") set twice in row ", batch_->num_rows())));
  }
  bool ok = false;
  for (Type t : types) ok = ok || t == f.type;
  if (!ok) {
    return Fail(absl::FailedPreconditionError(absl::StrCat("BatchBuilder: ", Sv(what), "(", field,
                                                           ") on field '", f.name, "' of type ",
                                                           Sv(TypeName(f.type)))));
  }
  return absl::OkStatus();
}

void BatchBuilder::MarkSet(int field, bool null) {
  set_[field] = 1;
  Column& c = batch_->column(field);
  if (null) {
    if (c.type == Type::kNull) return;  // every row of a null column is null
    if (c.nulls.empty()) c.nulls.resize(batch_->num_rows(), 0);
    c.nulls.push_back(1);
  } else if (!c.nulls.empty()) {
    c.nulls.push_back(0);
  }
}

absl::Status BatchBuilder::SetBool(int field, bool value) {
  if (absl::Status st = CheckSet(field, {Type::kBool}, "SetBool"); !st.ok()) return st;
  batch_->column(field).ints.push_back(value ? 1 : 0);
  MarkSet(field, false);
  return absl::OkStatus();
}

absl::Status BatchBuilder::SetInt64(int field, int64_t value) {
  if (absl::Status st = CheckSet(field, {Type::kInt64, Type::kTimestamp}, "SetInt64"); !st.ok()) return st;
  batch_->column(field).ints.push_back(value);
  MarkSet(field, false);
  return absl::OkStatus();
}

absl::Status BatchBuilder::SetDouble(int field, double value) {
  if (absl::Status st = CheckSet(field, {Type::kDouble}, "SetDouble"); !st.ok()) return st;
  batch_->column(field).doubles.push_back(value);
  MarkSet(field, false);
  return absl::OkStatus();
}

absl::Status BatchBuilder::SetString(int field, std::string_view value) {
  if (absl::Status st = CheckSet(field, {Type::kString}, "SetString"); !st.ok()) return st;
  batch_->column(field).strings.push_back(batch_->arena().Copy(value));
  MarkSet(field, false);
  return absl::OkStatus();
}

absl::Status BatchBuilder::SetStringView(int field, std::string_view value) {
  if (absl::Status st = CheckSet(field, {Type::kString}, "SetStringView"); !st.ok()) return st;
  batch_->column(field).strings.push_back(value);
  MarkSet(field, false);
  return absl::OkStatus();
}

absl::Status BatchBuilder::SetNull(int field) {
  if (absl::Status st = CheckSet(field,
                                 {Type::kNull, Type::kBool, Type::kInt64, Type::kDouble, Type::kString,
                                  Type::kTimestamp},
                                 "SetNull");
      !st.ok()) {
    return st;
  }
  Column& c = batch_->column(field);
  switch (c.type) {
    case Type::kInt64:
    case Type::kTimestamp:
    case Type::kBool:
      c.ints.push_back(0);
      break;
    case Type::kDouble:
      c.doubles.push_back(0);
      break;
    case Type::kString:
      c.strings.emplace_back();
      break;
    case Type::kNull:
      break;
  }
  MarkSet(field, true);
  return absl::OkStatus();
}

absl::Status BatchBuilder::FinishRow() {
  if (!error_.ok()) return error_;
  if (!row_open_) return Fail(absl::FailedPreconditionError("BatchBuilder: FinishRow without BeginRow"));
  for (size_t i = 0; i < set_.size(); ++i) {
    if (!set_[i]) {
      return Fail(absl::FailedPreconditionError(
          absl::StrCat("BatchBuilder: row ", batch_->num_rows(), " has no value for field ", i, " (",
                       batch_->schema()->field(static_cast<int>(i)).name, "); set it, or SetNull")));
    }
  }
  batch_->timestamps().push_back(row_timestamp_);
  batch_->set_num_rows(batch_->num_rows() + 1);
  row_open_ = false;
  return absl::OkStatus();
}

void BatchBuilder::CancelRow() {
  if (!row_open_ || batch_ == nullptr) return;
  const size_t n = batch_->num_rows();
  for (size_t i = 0; i < set_.size(); ++i) {
    if (!set_[i]) continue;
    Column& c = batch_->column(static_cast<int>(i));
    switch (c.type) {
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool:
        c.ints.resize(n);
        break;
      case Type::kDouble:
        c.doubles.resize(n);
        break;
      case Type::kString:
        c.strings.resize(n);
        break;
      case Type::kNull:
        break;
    }
    if (c.nulls.size() > n) c.nulls.resize(n);
  }
  row_open_ = false;
}

absl::StatusOr<BatchPtr> BatchBuilder::Finish() {
  if (!error_.ok()) return error_;
  if (row_open_) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("BatchBuilder: Finish while row ", batch_->num_rows(), " is open (FinishRow or CancelRow it)")));
  }
  error_ = absl::FailedPreconditionError("BatchBuilder: used after Finish");
  return std::move(batch_);
}

std::string RecordBatch::RowToJson(size_t row) const {
  std::string out;
  AppendRowJson(row, &out);
  return out;
}

void RecordBatch::AppendRowJson(size_t row, std::string* out_ptr) const {
  std::string& out = *out_ptr;
  out.push_back('{');
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (c) out.push_back(',');
    AppendJsonString(&out, schema_->field(static_cast<int>(c)).name);
    out.push_back(':');
    const Column& col = columns_[c];
    if (col.IsNull(row) || col.type == Type::kNull) {
      out.append("null");
      continue;
    }
    switch (col.type) {
      case Type::kInt64:
      case Type::kTimestamp:
        absl::StrAppend(&out, col.ints[row]);
        break;
      case Type::kBool:
        out.append(col.ints[row] ? "true" : "false");
        break;
      case Type::kDouble: {
        if (!std::isfinite(col.doubles[row])) {  // JSON has no NaN or Infinity
          out.append("null");
          break;
        }
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.17g", col.doubles[row]);
        out.append(buf);
        break;
      }
      case Type::kString:
        AppendJsonString(&out, col.strings[row]);
        break;
      case Type::kNull:
        break;
    }
  }
  out.push_back('}');
}

}  // namespace sluice
