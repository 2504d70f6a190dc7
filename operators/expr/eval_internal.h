// The evaluation model shared by every node (internal to operators/expr): a Vec is one
// value per row of the batch being evaluated, a RowSet the rows a filter looks at, an
// EvalContext what a node needs to evaluate one batch, and Node the base class of the
// compiled tree. Also the small branch-free helpers the kernels use (SelectWhere,
// OrNulls, StartNulls). Everything here is inline so that the kernels in the *_nodes.cc
// files inline it as before. Nodes own their buffers: one tree is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sluice/record.h"

namespace sluice::operators::expr {
namespace internal {

// ---------------------------------------------------------------------------------------
// Vectors, row sets and evaluation context.

// Where a type's values live in a Column / Vec.
enum class Storage { kNone, kInts, kDoubles, kStrings };

inline Storage StorageOf(Type t) {
  switch (t) {
    case Type::kBool:
    case Type::kInt64:
    case Type::kTimestamp:
      return Storage::kInts;
    case Type::kDouble:
      return Storage::kDoubles;
    case Type::kString:
      return Storage::kStrings;
    case Type::kNull:
      break;
  }
  return Storage::kNone;
}

inline bool IsIntLike(Type t) { return t == Type::kInt64 || t == Type::kTimestamp; }
inline bool IsNumeric(Type t) { return IsIntLike(t) || t == Type::kDouble; }

// A read-only view of one value per row of the batch being evaluated: a batch column
// (field references) or a buffer owned by a node. Valid until that node is evaluated
// again. `nulls` is null when no row is null; otherwise one byte per row (1 = null).
// Bools are ints holding 0/1. The value slot of a null row is 0 or a valid (empty) view.
struct Vec {
  const int64_t* ints = nullptr;
  const double* doubles = nullptr;
  const std::string_view* strings = nullptr;
  const uint8_t* nulls = nullptr;
};

template <typename T>
inline const T* Values(const Vec& v);
template <>
inline const int64_t* Values<int64_t>(const Vec& v) { return v.ints; }
template <>
inline const double* Values<double>(const Vec& v) { return v.doubles; }
template <>
inline const std::string_view* Values<std::string_view>(const Vec& v) { return v.strings; }

template <typename T>
inline std::vector<T>& ValuesOf(Column& c);
template <>
inline std::vector<int64_t>& ValuesOf<int64_t>(Column& c) { return c.ints; }
template <>
inline std::vector<double>& ValuesOf<double>(Column& c) { return c.doubles; }
template <>
inline std::vector<std::string_view>& ValuesOf<std::string_view>(Column& c) { return c.strings; }

template <typename T>
Vec MakeVec(const T* values, const uint8_t* nulls) {
  Vec v;
  if constexpr (std::is_same_v<T, int64_t>) v.ints = values;
  if constexpr (std::is_same_v<T, double>) v.doubles = values;
  if constexpr (std::is_same_v<T, std::string_view>) v.strings = values;
  v.nulls = nulls;
  return v;
}

// Calls f(T{}) with T the C++ type holding values of `t` (int64_t for kNone).
template <typename F>
void WithStorage(Type t, F&& f) {
  switch (StorageOf(t)) {
    case Storage::kDoubles:
      f(double{});
      return;
    case Storage::kStrings:
      f(std::string_view{});
      return;
    case Storage::kInts:
    case Storage::kNone:
      f(int64_t{});
      return;
  }
}

// The rows an evaluation looks at: all rows [0, size) when `rows` is null, else the
// `size` ascending indices in `rows`.
struct RowSet {
  const uint32_t* rows = nullptr;
  size_t size = 0;
};

inline RowSet RowsOf(const std::vector<uint32_t>& v) { return RowSet{v.data(), v.size()}; }

// Stores in *out the rows of `in` for which pred(row) is true. Branch-free.
template <typename Pred>
void SelectWhere(RowSet in, std::vector<uint32_t>* out, Pred pred) {
  out->resize(in.size);
  uint32_t* o = out->data();
  size_t k = 0;
  if (in.rows == nullptr) {
    const uint32_t n = static_cast<uint32_t>(in.size);
    for (uint32_t i = 0; i < n; ++i) {
      o[k] = i;
      k += static_cast<bool>(pred(i));
    }
  } else {
    for (size_t j = 0; j < in.size; ++j) {
      const uint32_t i = in.rows[j];
      o[k] = i;
      k += static_cast<bool>(pred(i));
    }
  }
  out->resize(k);
}

inline void SelectAll(RowSet in, std::vector<uint32_t>* out) {
  if (in.rows == nullptr) {
    out->resize(in.size);
    for (uint32_t i = 0; i < in.size; ++i) (*out)[i] = i;
  } else {
    out->assign(in.rows, in.rows + in.size);
  }
}

// a | b. Returns null when neither has nulls, the one that has when only one does,
// else ORs them into *buf.
inline const uint8_t* OrNulls(const uint8_t* a, const uint8_t* b, size_t n, std::vector<uint8_t>* buf) {
  if (a == nullptr) return b;
  if (b == nullptr) return a;
  buf->resize(n);
  uint8_t* o = buf->data();
  for (size_t i = 0; i < n; ++i) o[i] = a[i] | b[i];
  return o;
}

// A writable a | b in *buf (zeros when neither has nulls), for kernels that add nulls.
inline uint8_t* StartNulls(const uint8_t* a, const uint8_t* b, size_t n, std::vector<uint8_t>* buf) {
  buf->resize(n);
  uint8_t* o = buf->data();
  if (n == 0) return o;
  if (a != nullptr && b != nullptr) {
    for (size_t i = 0; i < n; ++i) o[i] = a[i] | b[i];
  } else if (a != nullptr || b != nullptr) {
    std::memcpy(o, a != nullptr ? a : b, n);
  } else {
    std::memset(o, 0, n);
  }
  return o;
}

inline bool AnySet(const uint8_t* nulls, size_t n) {
  if (nulls == nullptr) return false;
  uint8_t any = 0;
  for (size_t i = 0; i < n; ++i) any |= nulls[i];
  return any != 0;
}

// What a node needs to evaluate one batch.
struct EvalContext {
  const RecordBatch* batch = nullptr;
  size_t n = 0;
  // Where strings a node creates go. When `to_output`, the strings of the result must
  // outlive the evaluation (they go into the output batch); otherwise `arena` is the
  // scratch arena, cleared before the next batch.
  Arena* arena = nullptr;
  bool to_output = false;
  Arena* scratch = nullptr;

  // The context for children whose results are consumed (not passed through).
  EvalContext Consuming() const { return EvalContext{batch, n, scratch, false, scratch}; }
};

// Applies `f(in, &out) -> ok` to every non-null row; a false result makes the row null.
template <typename In, typename Out, typename F>
Vec ConvertLoop(const In* a, const uint8_t* an, size_t n, Column* buf, F f) {
  std::vector<Out>& values = ValuesOf<Out>(*buf);
  values.resize(n);
  Out* o = values.data();
  uint8_t* nl = StartNulls(an, nullptr, n, &buf->nulls);
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    if (nl[i] == 0 && f(a[i], &o[i])) continue;
    o[i] = Out();
    nl[i] = 1;
    any = true;
  }
  return MakeVec<Out>(o, any ? nl : nullptr);
}

// One node of a compiled expression. Eval() computes the value for every row of the
// batch; Select() (boolean nodes only) the rows of a row set where the value is true.
class Node {
 public:
  explicit Node(Type type) : type_(type) {}
  virtual ~Node() = default;

  Type type() const { return type_; }
  virtual Vec Eval(const EvalContext& ctx) = 0;
  // Default: evaluates the whole batch and keeps the rows whose value is true.
  virtual void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) {
    Vec v = Eval(ctx);
    const int64_t* b = v.ints;
    if (v.nulls != nullptr) {
      const uint8_t* nl = v.nulls;
      SelectWhere(in, out, [&](uint32_t i) { return (b[i] != 0) & (nl[i] == 0); });
    } else {
      SelectWhere(in, out, [&](uint32_t i) { return b[i] != 0; });
    }
  }
  virtual bool ReferencesInput() const { return false; }

  // Source span [begin, end) in bytes, for error messages.
  size_t begin = 0;
  size_t end = 0;

 private:
  Type type_;
};

using NodePtr = std::unique_ptr<Node>;

}  // namespace internal
}  // namespace sluice::operators::expr
