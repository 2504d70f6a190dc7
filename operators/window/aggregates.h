// Aggregate functions of the `window` operator (count, count_distinct, sum, min, max,
// avg, top_k) and their per-window state.
//
// State is kept column-wise: an Aggregator holds one value (or set, or map) per window
// *slot*, a small integer the WindowOperator assigns to each live (key, window). Rows are
// applied a batch at a time as (row, slot) pairs, so the per-row cost is a tight loop
// with no virtual call and no allocation (except when a count_distinct / top_k value is
// seen for the first time in a window). Field aggregates skip null values; count without
// a field counts rows.
//
// For checkpoints an aggregator writes the state of given slots to a byte string and
// reads it back (SaveSlots / LoadSlots, in the codec of snapshot_codec.h).
//
// Threading: an Aggregator belongs to one operator instance and is used from its task
// thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/record.h"

namespace sluice::operators::window {

class SnapshotDecoder;

enum class AggFn : uint8_t { kCount, kCountDistinct, kSum, kMin, kMax, kAvg, kTopK };

// Names and types (defined in window_params.cc, their user).

/// Parses "count", "count_distinct", "sum", "min", "max", "avg", "top_k".
bool ParseAggFn(std::string_view name, AggFn* fn);
std::string_view AggFnName(AggFn fn);
/// "count, count_distinct, sum, min, max, avg, top_k" (for error messages).
std::string_view AggFnNames();
/// Whether `fn` can aggregate a field of `type`.
bool AggAcceptsType(AggFn fn, Type type);
/// The field types `fn` accepts, as a phrase ("an int64 or double field").
std::string_view AggAcceptedTypes(AggFn fn);
/// The output type of `fn` over a field of `field_type` (ignored for count).
Type AggOutputType(AggFn fn, Type field_type);

/// Per-window state of one aggregate over one input field.
class Aggregator {
 public:
  virtual ~Aggregator() = default;

  /// Makes room for slots [0, n). New slots are empty.
  virtual void Resize(size_t n) = 0;
  /// Returns `slot` to the empty state, releasing what it holds.
  virtual void Reset(uint32_t slot) = 0;
  /// Adds row rows[i] of `batch` to slot slots[i], for i in [0, n).
  virtual void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
                      size_t n) = 0;
  /// Folds the state of `src` into `dst` (session merges). `src` is left unspecified.
  virtual void Merge(uint32_t dst, uint32_t src) = 0;
  /// Appends the result for `slot` as row `row` of `col` (of AggOutputType), copying
  /// strings into `arena`.
  virtual void Append(uint32_t slot, Column& col, Arena& arena, size_t row) const = 0;
  /// Appends the state of slots[i], for i in [0, n), to `out`, in a format only LoadSlots
  /// reads (the aggregator's parameters are not written).
  virtual void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const = 0;
  /// Reads what SaveSlots wrote for n slots into slots[i]. Returns false if `in` is short
  /// or malformed (the slots are then unspecified). REQUIRES: the slots are empty (after
  /// Resize, never updated), and the aggregator has the parameters of the one that saved.
  virtual bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) = 0;
};

/// A new aggregator. `field` is the input column index (-1 for count without a field);
/// `k` is top_k's k. The caller has checked AggAcceptsType(fn, field_type).
std::unique_ptr<Aggregator> NewAggregator(AggFn fn, int field, Type field_type, int64_t k);

// Column append helpers (they keep Column::nulls consistent: empty or one byte a row).
inline void AppendInt(Column& c, int64_t v) {
  c.ints.push_back(v);
  if (!c.nulls.empty()) c.nulls.push_back(0);
}
inline void AppendDouble(Column& c, double v) {
  c.doubles.push_back(v);
  if (!c.nulls.empty()) c.nulls.push_back(0);
}
inline void AppendString(Column& c, Arena& arena, std::string_view v) {
  c.strings.push_back(arena.Copy(v));
  if (!c.nulls.empty()) c.nulls.push_back(0);
}
/// Appends a null as row `row` of `c`.
void AppendNull(Column& c, size_t row);

}  // namespace sluice::operators::window
