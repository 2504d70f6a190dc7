#include "sluice/record.h"

#include <algorithm>
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
  if (nulls.size() < num_rows) nulls.resize(num_rows, 0);
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
        GatherVec(dst.nulls, s.nulls, rows);
      }
    }
  }
  GatherVec(timestamps_, src.timestamps_, rows);
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

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (ch) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
        out->append(buf);
      }
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
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
