/// sluice records: types, schemas and columnar record batches.
///
/// The unit that flows between operators is a RecordBatch: one vector per field
/// (a Column), plus an event timestamp per row. Strings are std::string_view into
/// memory the batch owns or keeps alive: its Arena, or shared buffers (for example the
/// file chunk a source read the lines from). A batch is owned by exactly one task at a
/// time and is not thread-safe; moving a BatchPtr between tasks moves ownership.
///
/// Fields are addressed by index; names are resolved once, when the plan is built.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// The field types of a record. Timestamps are milliseconds since the Unix epoch (UTC).
enum class Type : uint8_t { kNull = 0, kBool, kInt64, kDouble, kString, kTimestamp };

/// "null", "bool", "int64", "double", "string", "timestamp".
std::string_view TypeName(Type type);
/// Parses a type name (also accepts "int", "long", "float", "str", "boolean").
/// Returns false if `name` is not a type.
bool ParseType(std::string_view name, Type* type);

/// Event time meaning "no timestamp assigned" / "end of time".
inline constexpr int64_t kNoTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxWatermark = std::numeric_limits<int64_t>::max();

struct Field {
  std::string name;
  Type type = Type::kString;
};

/// An ordered list of named, typed fields. Immutable once shared.
class Schema {
 public:
  Schema() = default;
  explicit Schema(std::vector<Field> fields) : fields_(std::move(fields)) {}

  int num_fields() const { return static_cast<int>(fields_.size()); }
  const Field& field(int i) const { return fields_[i]; }
  const std::vector<Field>& fields() const { return fields_; }
  /// Index of the field called `name`, or -1.
  int IndexOf(std::string_view name) const;
  /// "name:type, name:type".
  std::string ToString() const;
  bool Equals(const Schema& other) const;

 private:
  std::vector<Field> fields_;
};
using SchemaPtr = std::shared_ptr<const Schema>;

/// Bump allocator for string bytes. Clear() keeps the first block for reuse.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  char* Allocate(size_t n);
  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = Allocate(s.size());
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }
  void Clear();
  size_t bytes_used() const { return used_; }
  /// Moves every block into `keep_alive` (so views stay valid there); leaves this empty.
  void TransferBlocks(std::vector<std::shared_ptr<const void>>* keep_alive);

 private:
  static constexpr size_t kBlockSize = 64 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cur_ = nullptr;
  size_t left_ = 0;
  size_t used_ = 0;
};

/// One field's values for every row of a batch. Which vector holds the values depends
/// on `type`: ints for kInt64, kTimestamp and kBool (0/1); doubles for kDouble; strings
/// for kString. kNull columns hold nothing. `nulls` is empty when no row is null;
/// otherwise it has one byte per row, 1 meaning null (the value slot is then 0/"").
struct Column {
  Type type = Type::kString;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<std::string_view> strings;
  std::vector<uint8_t> nulls;

  bool IsNull(size_t row) const { return !nulls.empty() && nulls[row] != 0; }
  /// Marks `row` (already appended) as null, materializing `nulls` if needed.
  void SetNull(size_t row, size_t num_rows);
  void Clear();
  void Reserve(size_t n);
};

/// A columnar batch of records with an event timestamp per row.
class RecordBatch {
 public:
  explicit RecordBatch(SchemaPtr schema);
  RecordBatch(const RecordBatch&) = delete;
  RecordBatch& operator=(const RecordBatch&) = delete;

  const SchemaPtr& schema() const { return schema_; }
  size_t num_rows() const { return num_rows_; }
  int num_columns() const { return static_cast<int>(columns_.size()); }
  Column& column(int i) { return columns_[i]; }
  const Column& column(int i) const { return columns_[i]; }
  /// Event time of each row (kNoTimestamp when none was assigned).
  std::vector<int64_t>& timestamps() { return timestamps_; }
  const std::vector<int64_t>& timestamps() const { return timestamps_; }
  Arena& arena() { return arena_; }

  /// Declares that the columns now hold `n` rows. Every column's vector and
  /// timestamps() must have been filled to `n` by the caller.
  void set_num_rows(size_t n) { num_rows_ = n; }
  /// Keeps `buffer` alive as long as this batch: strings may point into it.
  void AddBuffer(std::shared_ptr<const void> buffer) { buffers_.push_back(std::move(buffer)); }
  /// Shares every buffer `other` keeps alive, so views into `other`'s external buffers
  /// remain valid here. Does not share `other`'s arena.
  void ShareBuffers(const RecordBatch& other);
  /// Takes over `other`'s arena blocks and shares its buffers, so every string view of
  /// `other` stays valid for this batch's lifetime. Lets an operator move columns out of
  /// an input batch into a new output batch without copying strings.
  void AdoptMemory(RecordBatch& other);
  /// Appends row `row` of `src` (same schema); see AppendRows for how strings travel.
  void AppendRow(const RecordBatch& src, size_t row);
  /// Appends the listed rows of `src` (same schema). When `src` keeps all its strings in
  /// shared buffers (its arena is empty), this batch shares those buffers and copies only
  /// the views; otherwise strings are copied into this batch's arena.
  void AppendRows(const RecordBatch& src, const std::vector<uint32_t>& rows);
  /// Keeps only the rows whose indices are listed (ascending), in place.
  void Select(const std::vector<uint32_t>& rows);
  /// Removes all rows, keeping capacity.
  void Clear();
  /// A copy that owns or shares everything it points into (see AppendRows); safe to hand
  /// to another thread, since shared buffers are never written.
  std::unique_ptr<RecordBatch> Clone() const;
  /// Renders row `row` as a JSON object (for dead letters, console output).
  std::string RowToJson(size_t row) const;
  /// Appends the JSON rendering of row `row` to `out`.
  void AppendRowJson(size_t row, std::string* out) const;

 private:
  SchemaPtr schema_;
  std::vector<Column> columns_;
  std::vector<int64_t> timestamps_;
  size_t num_rows_ = 0;
  Arena arena_;
  std::vector<std::shared_ptr<const void>> buffers_;
};
using BatchPtr = std::unique_ptr<RecordBatch>;

/// Appends `s` as a quoted JSON string (escaping quotes, backslashes and control bytes).
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace sluice
