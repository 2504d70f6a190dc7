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
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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
/// RecordBatch::set_num_rows pads a shorter `nulls` with zeros, so a batch handed on
/// always has either no null bytes or one per row.
///
/// Filling columns by hand is the fast path and it is easy to get wrong; BatchBuilder
/// (below) checks every step.
struct Column {
  Type type = Type::kString;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<std::string_view> strings;
  std::vector<uint8_t> nulls;

  /// Whether `row` is null. A row past the end of `nulls` is not null.
  bool IsNull(size_t row) const { return row < nulls.size() && nulls[row] != 0; }
  /// Marks `row` as null (its value slot should hold 0 or ""), materializing `nulls` if
  /// needed. `num_rows` is the number of rows the column holds so far, or will hold: the
  /// bitmap grows to cover both it and `row`, and set_num_rows pads it to the batch's
  /// final count, so the count so far is enough while building row by row.
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
  /// timestamps() must have been filled to `n` by the caller (Validate checks it). A
  /// column's non-empty `nulls` shorter than `n` is padded with zeros (not null).
  void set_num_rows(size_t n);
  /// OK if every column holds exactly num_rows() values of its type (none for kNull), every
  /// `nulls` is empty or has num_rows() bytes, and timestamps() has num_rows() entries.
  /// Otherwise FAILED_PRECONDITION naming the first column that does not. O(columns).
  absl::Status Validate() const;
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

/// Builds a RecordBatch row by row, checking every call against the schema, so that a
/// mistake (a value of the wrong type, a field out of range, set twice or left unset, a
/// row left open) is an error instead of columns of different lengths that later reads
/// run past. For plugin authors; the columns can still be filled by hand where speed
/// matters (see Column).
///
///     sluice::BatchBuilder b(out.NewBatch(schema_));
///     for (...) {
///       b.BeginRow(event_time);        // or BeginRow() for no timestamp
///       b.SetString(0, name);          // copied into the batch's arena
///       b.SetInt64(1, count);
///       b.SetNull(2);
///       if (absl::Status st = b.FinishRow(); !st.ok()) return st;
///     }
///     absl::StatusOr<sluice::BatchPtr> batch = b.Finish();
///     if (!batch.ok()) return batch.status();
///     out.Emit(*std::move(batch));
///
/// Errors are sticky: the first misuse (FAILED_PRECONDITION, or INVALID_ARGUMENT for a
/// field index out of range) is returned by that call and by every later one, so
/// checking FinishRow's or Finish's result is enough. CancelRow drops an open row (say,
/// a record that turns out to be malformed) without error.
///
/// Not thread-safe, like the batch it fills. Owns the batch until Finish.
class BatchBuilder {
 public:
  /// Appends rows to `batch`, which may already hold rows (it must then pass
  /// RecordBatch::Validate). A null `batch` is an error on first use.
  explicit BatchBuilder(BatchPtr batch);
  BatchBuilder(const BatchBuilder&) = delete;
  BatchBuilder& operator=(const BatchBuilder&) = delete;

  /// Opens a row with event time `timestamp`. Error if a row is already open.
  absl::Status BeginRow(int64_t timestamp = kNoTimestamp);
  /// Sets field `field` of the open row. Each field is set exactly once per row; the
  /// setter must match the field's type: SetBool for kBool, SetInt64 for kInt64 and
  /// kTimestamp (ms since the epoch), SetDouble for kDouble, SetString for kString.
  absl::Status SetBool(int field, bool value);
  absl::Status SetInt64(int field, int64_t value);
  absl::Status SetDouble(int field, double value);
  /// Copies `value` into the batch's arena.
  absl::Status SetString(int field, std::string_view value);
  /// Stores the view itself, without copying. REQUIRES: the bytes outlive the batch
  /// (a constant, or memory the batch keeps alive through AddBuffer or AdoptMemory).
  absl::Status SetStringView(int field, std::string_view value);
  /// Sets field `field` of the open row to null (any type).
  absl::Status SetNull(int field);
  /// Closes the open row. Error, naming the field, if a field was not set.
  absl::Status FinishRow();
  /// Drops the open row, if any (values already set are taken back).
  void CancelRow();
  /// Rows finished so far, including those the batch held at the start.
  size_t num_rows() const;
  /// The batch being filled (for AddBuffer, arena()). Null after Finish.
  RecordBatch* batch() { return batch_.get(); }

  /// Hands over the batch. Error if a row is open or a call failed; the builder is
  /// spent afterwards (every call fails).
  absl::StatusOr<BatchPtr> Finish();

 private:
  absl::Status Fail(absl::Status status);
  // Checks that a row is open and `field` is in range, not yet set and of a type in
  // `types`; `what` names the setter in errors.
  absl::Status CheckSet(int field, std::initializer_list<Type> types, std::string_view what);
  // After a value went into column `field`: keeps its null bytes in step.
  void MarkSet(int field, bool null);

  BatchPtr batch_;
  absl::Status error_;
  bool row_open_ = false;
  int64_t row_timestamp_ = kNoTimestamp;
  std::vector<uint8_t> set_;  // per field: set in the open row
};

/// Appends `s` as a quoted JSON string that a strict parser accepts, whatever its bytes:
/// quotes, backslashes and control characters escaped, well-formed UTF-8 copied, and
/// each byte that is not part of well-formed UTF-8 written as \u00XX (lossy: a reader
/// sees U+00XX; keep the bytes elsewhere, e.g. in base64, where they matter).
void AppendJsonString(std::string* out, std::string_view s);
/// True if `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code
/// points above U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace sluice
