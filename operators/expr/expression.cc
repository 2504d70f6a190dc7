#include "operators/expr/expression.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/civil_days.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "re2/re2.h"

namespace sluice::operators::expr {
namespace internal {
namespace {

// ---------------------------------------------------------------------------------------
// Vectors, row sets and evaluation context.

// Where a type's values live in a Column / Vec.
enum class Storage { kNone, kInts, kDoubles, kStrings };

Storage StorageOf(Type t) {
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

bool IsIntLike(Type t) { return t == Type::kInt64 || t == Type::kTimestamp; }
bool IsNumeric(Type t) { return IsIntLike(t) || t == Type::kDouble; }

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
const T* Values(const Vec& v);
template <>
const int64_t* Values<int64_t>(const Vec& v) { return v.ints; }
template <>
const double* Values<double>(const Vec& v) { return v.doubles; }
template <>
const std::string_view* Values<std::string_view>(const Vec& v) { return v.strings; }

template <typename T>
std::vector<T>& ValuesOf(Column& c);
template <>
std::vector<int64_t>& ValuesOf<int64_t>(Column& c) { return c.ints; }
template <>
std::vector<double>& ValuesOf<double>(Column& c) { return c.doubles; }
template <>
std::vector<std::string_view>& ValuesOf<std::string_view>(Column& c) { return c.strings; }

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

RowSet RowsOf(const std::vector<uint32_t>& v) { return RowSet{v.data(), v.size()}; }

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

void SelectAll(RowSet in, std::vector<uint32_t>* out) {
  if (in.rows == nullptr) {
    out->resize(in.size);
    for (uint32_t i = 0; i < in.size; ++i) (*out)[i] = i;
  } else {
    out->assign(in.rows, in.rows + in.size);
  }
}

// a | b. Returns null when neither has nulls, the one that has when only one does,
// else ORs them into *buf.
const uint8_t* OrNulls(const uint8_t* a, const uint8_t* b, size_t n, std::vector<uint8_t>* buf) {
  if (a == nullptr) return b;
  if (b == nullptr) return a;
  buf->resize(n);
  uint8_t* o = buf->data();
  for (size_t i = 0; i < n; ++i) o[i] = a[i] | b[i];
  return o;
}

// A writable a | b in *buf (zeros when neither has nulls), for kernels that add nulls.
uint8_t* StartNulls(const uint8_t* a, const uint8_t* b, size_t n, std::vector<uint8_t>* buf) {
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

bool AnySet(const uint8_t* nulls, size_t n) {
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

}  // namespace

// ---------------------------------------------------------------------------------------
// Nodes.

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

namespace {

using NodePtr = std::unique_ptr<Node>;

// ------------------------------- literals and fields -----------------------------------

class LiteralNode final : public Node {
 public:
  static std::unique_ptr<LiteralNode> Null(Type t) {
    auto n = std::make_unique<LiteralNode>(t);
    n->null_ = true;
    return n;
  }
  static std::unique_ptr<LiteralNode> Int(int64_t v, Type t = Type::kInt64) {
    auto n = std::make_unique<LiteralNode>(t);
    n->i_ = v;
    return n;
  }
  static std::unique_ptr<LiteralNode> Bool(bool v) { return Int(v ? 1 : 0, Type::kBool); }
  static std::unique_ptr<LiteralNode> Double(double v) {
    auto n = std::make_unique<LiteralNode>(Type::kDouble);
    n->d_ = v;
    return n;
  }
  static std::unique_ptr<LiteralNode> String(std::string v) {
    auto n = std::make_unique<LiteralNode>(Type::kString);
    n->s_ = std::move(v);
    return n;
  }

  explicit LiteralNode(Type t) : Node(t) {}

  bool is_null() const { return null_ || type() == Type::kNull; }
  int64_t int_value() const { return i_; }
  double double_value() const { return d_; }
  const std::string& string_value() const { return s_; }
  template <typename T>
  T value() const {
    if constexpr (std::is_same_v<T, int64_t>) {
      return i_;
    } else if constexpr (std::is_same_v<T, double>) {
      return d_;
    } else {
      return std::string_view(s_);
    }
  }

  Vec Eval(const EvalContext& ctx) override {
    const size_t n = ctx.n;
    if (is_null()) {
      if (buf_.nulls.size() < n) {
        buf_.nulls.assign(n, 1);
        buf_.ints.assign(n, 0);
        buf_.doubles.assign(n, 0);
        buf_.strings.assign(n, std::string_view());
      }
      return Vec{buf_.ints.data(), buf_.doubles.data(), buf_.strings.data(), buf_.nulls.data()};
    }
    // The repeated value is kept across batches: it only grows.
    switch (StorageOf(type())) {
      case Storage::kInts:
        if (buf_.ints.size() < n) buf_.ints.assign(n, i_);
        return MakeVec(buf_.ints.data(), nullptr);
      case Storage::kDoubles:
        if (buf_.doubles.size() < n) buf_.doubles.assign(n, d_);
        return MakeVec(buf_.doubles.data(), nullptr);
      case Storage::kStrings:
        if (ctx.to_output && !s_.empty()) {
          // The output must not point into this node: one copy per batch.
          output_strings_.assign(n, ctx.arena->Copy(s_));
          return MakeVec(output_strings_.data(), nullptr);
        }
        if (buf_.strings.size() < n) buf_.strings.assign(n, std::string_view(s_));
        return MakeVec(buf_.strings.data(), nullptr);
      case Storage::kNone:
        break;
    }
    return Vec{};
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    if (!is_null() && i_ != 0) {
      SelectAll(in, out);
    } else {
      out->clear();
    }
  }

 private:
  bool null_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  Column buf_;
  std::vector<std::string_view> output_strings_;
};

const LiteralNode* AsLiteral(const Node* n) { return dynamic_cast<const LiteralNode*>(n); }
bool IsLiteral(const Node* n) { return AsLiteral(n) != nullptr; }
bool IsNullLiteral(const Node* n) {
  const LiteralNode* l = AsLiteral(n);
  return l != nullptr && l->is_null();
}

class FieldNode final : public Node {
 public:
  FieldNode(int index, Type type) : Node(type), index_(index) {}
  int index() const { return index_; }

  Vec Eval(const EvalContext& ctx) override {
    const Column& c = ctx.batch->column(index_);
    Vec v{c.ints.data(), c.doubles.data(), c.strings.data(), nullptr};
    if (!c.nulls.empty()) {
      if (c.nulls.size() >= ctx.n) {
        v.nulls = c.nulls.data();
      } else {  // Tolerate a short null vector: missing entries are not null.
        padded_nulls_.assign(c.nulls.begin(), c.nulls.end());
        padded_nulls_.resize(ctx.n, 0);
        v.nulls = padded_nulls_.data();
      }
    }
    return v;
  }
  bool ReferencesInput() const override { return type() == Type::kString; }

 private:
  int index_;
  std::vector<uint8_t> padded_nulls_;
};

// ------------------------------------- casts -------------------------------------------

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool ParseInt64(std::string_view s, int64_t* v) {
  s = TrimAscii(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double* v) {
  s = TrimAscii(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

// Doubles in [-2^63, 2^63) truncate toward zero; others (and NaN) fail.
bool DoubleToInt64(double d, int64_t* v) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  *v = static_cast<int64_t>(d);
  return true;
}

// "123" → 123; "12.7" → 12.
bool ParseInt64Lenient(std::string_view s, int64_t* v) {
  if (ParseInt64(s, v)) return true;
  double d;
  return ParseDouble(s, &d) && DoubleToInt64(d, v);
}

bool ParseBool(std::string_view s, int64_t* v) {
  s = TrimAscii(s);
  if (s == "1" || absl::EqualsIgnoreCase(Sv(s), "true")) {
    *v = 1;
  } else if (s == "0" || absl::EqualsIgnoreCase(Sv(s), "false")) {
    *v = 0;
  } else {
    return false;
  }
  return true;
}


// Reads exactly `digits` decimal digits at s[*i].
bool ReadDigits(std::string_view s, size_t* i, int digits, int* out) {
  int v = 0;
  for (int k = 0; k < digits; ++k) {
    if (*i >= s.size() || !absl::ascii_isdigit(static_cast<unsigned char>(s[*i]))) return false;
    v = v * 10 + (s[(*i)++] - '0');
  }
  *out = v;
  return true;
}

// ISO 8601: YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH[:]MM|±HH]; no zone means UTC.
bool ParseIsoTimestamp(std::string_view s, int64_t* ms) {
  size_t i = 0;
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(s, &i, 4, &year) || i >= s.size() || s[i++] != '-' ||
      !ReadDigits(s, &i, 2, &month) || i >= s.size() || s[i++] != '-' ||
      !ReadDigits(s, &i, 2, &day)) {
    return false;
  }
  static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > kDaysIn[month - 1] + (month == 2 && IsLeapYear(year) ? 1 : 0)) return false;
  int64_t frac_ms = 0;
  int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    ++i;
    if (!ReadDigits(s, &i, 2, &hour) || i >= s.size() || s[i++] != ':' ||
        !ReadDigits(s, &i, 2, &minute)) {
      return false;
    }
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!ReadDigits(s, &i, 2, &second)) return false;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        int digits = 0;
        while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
          if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
          ++digits;
          ++i;
        }
        if (digits == 0) return false;
        for (int k = digits; k < 3; ++k) frac_ms *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return false;
    if (i < s.size()) {
      if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        const int sign = s[i++] == '-' ? -1 : 1;
        int oh, om = 0;
        if (!ReadDigits(s, &i, 2, &oh)) return false;
        if (i < s.size() && s[i] == ':') ++i;
        if (i < s.size() && !ReadDigits(s, &i, 2, &om)) return false;
        if (oh > 23 || om > 59) return false;
        offset_min = sign * (oh * 60 + om);
      }
    }
  }
  if (i != s.size()) return false;
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  *ms = secs * 1000 + frac_ms;
  return true;
}

// Integer milliseconds since the epoch, or ISO 8601.
bool ParseTimestamp(std::string_view s, int64_t* ms) {
  s = TrimAscii(s);
  return ParseInt64(s, ms) || ParseIsoTimestamp(s, ms);
}

// Writes `v` as `width` decimal digits (zero-padded) at p.
char* PutDigits(char* p, unsigned v, int width) {
  for (int k = width - 1; k >= 0; --k) {
    p[k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// "2024-01-02T03:04:05.678Z" (UTC).
std::string_view FormatTimestamp(int64_t ms, Arena* arena) {
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    --days;
  }
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  const unsigned msec = static_cast<unsigned>(rem);
  char buf[64];
  char* p = buf;
  if (y >= 0 && y <= 9999) {
    p = PutDigits(p, static_cast<unsigned>(y), 4);
  } else {
    p += std::snprintf(p, 24, "%lld", static_cast<long long>(y));
  }
  *p++ = '-';
  p = PutDigits(p, m, 2);
  *p++ = '-';
  p = PutDigits(p, d, 2);
  *p++ = 'T';
  p = PutDigits(p, msec / 3600000, 2);
  *p++ = ':';
  p = PutDigits(p, msec / 60000 % 60, 2);
  *p++ = ':';
  p = PutDigits(p, msec / 1000 % 60, 2);
  *p++ = '.';
  p = PutDigits(p, msec % 1000, 3);
  *p++ = 'Z';
  return arena->Copy(std::string_view(buf, static_cast<size_t>(p - buf)));
}

template <typename T>
std::string_view FormatNumber(T v, Arena* arena) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return arena->Copy(std::string_view(buf, static_cast<size_t>(p - buf)));
}

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

// int64(x), double(x), string(x), bool(x), timestamp(x). Identity casts are removed at
// compile time; int64 ↔ timestamp and bool → int64 only relabel the values.
class CastNode final : public Node {
 public:
  CastNode(Type to, NodePtr child) : Node(to), child_(std::move(child)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Type from = child_->type();
    const Type to = type();
    const size_t n = ctx.n;
    Vec a = child_->Eval(ctx.Consuming());
    if (IsIntLike(to)) {
      if (StorageOf(from) == Storage::kInts) return a;  // relabel
      if (from == Type::kDouble) {
        return ConvertLoop<double, int64_t>(a.doubles, a.nulls, n, &buf_, DoubleToInt64);
      }
      if (to == Type::kTimestamp) {
        return ConvertLoop<std::string_view, int64_t>(a.strings, a.nulls, n, &buf_, ParseTimestamp);
      }
      return ConvertLoop<std::string_view, int64_t>(a.strings, a.nulls, n, &buf_, ParseInt64Lenient);
    }
    if (to == Type::kDouble) {
      if (StorageOf(from) == Storage::kInts) {
        return ConvertLoop<int64_t, double>(a.ints, a.nulls, n, &buf_, [](int64_t v, double* o) {
          *o = static_cast<double>(v);
          return true;
        });
      }
      return ConvertLoop<std::string_view, double>(a.strings, a.nulls, n, &buf_, ParseDouble);
    }
    if (to == Type::kBool) {
      if (StorageOf(from) == Storage::kInts) {
        return ConvertLoop<int64_t, int64_t>(a.ints, a.nulls, n, &buf_, [](int64_t v, int64_t* o) {
          *o = v != 0;
          return true;
        });
      }
      if (from == Type::kDouble) {
        return ConvertLoop<double, int64_t>(a.doubles, a.nulls, n, &buf_, [](double v, int64_t* o) {
          *o = v != 0;
          return !std::isnan(v);
        });
      }
      return ConvertLoop<std::string_view, int64_t>(a.strings, a.nulls, n, &buf_, ParseBool);
    }
    // to string: written into the result arena.
    Arena* arena = ctx.arena;
    switch (from) {
      case Type::kBool:
        return ConvertLoop<int64_t, std::string_view>(
            a.ints, a.nulls, n, &buf_, [](int64_t v, std::string_view* o) {
              *o = v ? "true" : "false";  // static storage
              return true;
            });
      case Type::kInt64:
        return ConvertLoop<int64_t, std::string_view>(
            a.ints, a.nulls, n, &buf_, [arena](int64_t v, std::string_view* o) {
              *o = FormatNumber(v, arena);
              return true;
            });
      case Type::kTimestamp:
        return ConvertLoop<int64_t, std::string_view>(
            a.ints, a.nulls, n, &buf_, [arena](int64_t v, std::string_view* o) {
              *o = FormatTimestamp(v, arena);
              return true;
            });
      case Type::kDouble:
        return ConvertLoop<double, std::string_view>(
            a.doubles, a.nulls, n, &buf_, [arena](double v, std::string_view* o) {
              *o = FormatNumber(v, arena);
              return true;
            });
      default:
        break;
    }
    return a;
  }

 private:
  NodePtr child_;
  Column buf_;
};

// ---------------------------------- arithmetic -----------------------------------------

enum class ArithOp { kAdd, kSub, kMul, kDiv, kMod };

// f(a, b, &out) returns true when the row becomes null (overflow, division by zero).
template <typename F>
Vec IntKernel(const Vec& a, const Vec& b, size_t n, Column* buf, F f) {
  buf->ints.resize(n);
  int64_t* o = buf->ints.data();
  uint8_t* nl = StartNulls(a.nulls, b.nulls, n, &buf->nulls);
  const int64_t* x = a.ints;
  const int64_t* y = b.ints;
  uint8_t any = 0;
  for (size_t i = 0; i < n; ++i) {
    nl[i] |= static_cast<uint8_t>(f(x[i], y[i], &o[i]));
    any |= nl[i];
  }
  return MakeVec<int64_t>(o, any ? nl : nullptr);
}

template <typename F>
Vec DoubleKernel(const Vec& a, const Vec& b, size_t n, Column* buf, F f) {
  buf->doubles.resize(n);
  double* o = buf->doubles.data();
  const double* x = a.doubles;
  const double* y = b.doubles;
  for (size_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
  return MakeVec<double>(o, OrNulls(a.nulls, b.nulls, n, &buf->nulls));
}

// Division and modulo: a zero divisor makes the row null.
template <typename F>
Vec DoubleDivKernel(const Vec& a, const Vec& b, size_t n, Column* buf, F f) {
  buf->doubles.resize(n);
  double* o = buf->doubles.data();
  uint8_t* nl = StartNulls(a.nulls, b.nulls, n, &buf->nulls);
  const double* x = a.doubles;
  const double* y = b.doubles;
  uint8_t any = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool zero = y[i] == 0;
    o[i] = zero ? 0 : f(x[i], y[i]);
    nl[i] |= static_cast<uint8_t>(zero);
    any |= nl[i];
  }
  return MakeVec<double>(o, any ? nl : nullptr);
}

// Both operands have the same storage (ints or doubles); integer overflow gives null.
class ArithNode final : public Node {
 public:
  ArithNode(Type result, ArithOp op, NodePtr l, NodePtr r)
      : Node(result), op_(op), l_(std::move(l)), r_(std::move(r)) {}

  Vec Eval(const EvalContext& ctx) override {
    const EvalContext c = ctx.Consuming();
    const Vec a = l_->Eval(c);
    const Vec b = r_->Eval(c);
    const size_t n = ctx.n;
    if (l_->type() == Type::kDouble) {
      switch (op_) {
        case ArithOp::kAdd: return DoubleKernel(a, b, n, &buf_, std::plus<>());
        case ArithOp::kSub: return DoubleKernel(a, b, n, &buf_, std::minus<>());
        case ArithOp::kMul: return DoubleKernel(a, b, n, &buf_, std::multiplies<>());
        case ArithOp::kDiv: return DoubleDivKernel(a, b, n, &buf_, std::divides<>());
        case ArithOp::kMod:
          return DoubleDivKernel(a, b, n, &buf_, [](double x, double y) { return std::fmod(x, y); });
      }
    }
    switch (op_) {
      case ArithOp::kAdd:
        return IntKernel(a, b, n, &buf_, [](int64_t x, int64_t y, int64_t* o) {
          return __builtin_add_overflow(x, y, o);
        });
      case ArithOp::kSub:
        return IntKernel(a, b, n, &buf_, [](int64_t x, int64_t y, int64_t* o) {
          return __builtin_sub_overflow(x, y, o);
        });
      case ArithOp::kMul:
        return IntKernel(a, b, n, &buf_, [](int64_t x, int64_t y, int64_t* o) {
          return __builtin_mul_overflow(x, y, o);
        });
      case ArithOp::kDiv:
        return IntKernel(a, b, n, &buf_, [](int64_t x, int64_t y, int64_t* o) {
          const bool bad = (y == 0) | ((x == std::numeric_limits<int64_t>::min()) & (y == -1));
          *o = bad ? 0 : x / y;
          return bad;
        });
      case ArithOp::kMod:
        return IntKernel(a, b, n, &buf_, [](int64_t x, int64_t y, int64_t* o) {
          *o = (y == 0 || y == -1) ? 0 : x % y;
          return y == 0;
        });
    }
    return Vec{};
  }

 private:
  ArithOp op_;
  NodePtr l_;
  NodePtr r_;
  Column buf_;
};

class NegateNode final : public Node {
 public:
  explicit NegateNode(NodePtr child) : Node(child->type()), child_(std::move(child)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = child_->Eval(ctx.Consuming());
    const size_t n = ctx.n;
    if (type() == Type::kDouble) {
      buf_.doubles.resize(n);
      for (size_t i = 0; i < n; ++i) buf_.doubles[i] = -a.doubles[i];
      return MakeVec<double>(buf_.doubles.data(), a.nulls);
    }
    return ConvertLoop<int64_t, int64_t>(a.ints, a.nulls, n, &buf_, [](int64_t v, int64_t* o) {
      return !__builtin_sub_overflow(int64_t{0}, v, o);
    });
  }

 private:
  NodePtr child_;
  Column buf_;
};

// ---------------------------------- comparisons ----------------------------------------

template <typename W>
W Load(const char* p) {
  W w;
  std::memcpy(&w, p, sizeof(W));
  return w;
}

// A string constant compared for equality without data-dependent branches (for
// constants of up to 16 bytes): two overlapping fixed-size loads, taken from the constant
// itself when the lengths differ so that they never read past the value.
class ConstantString {
 public:
  enum class Kind { kEmpty, kBytes, kWords4, kWords8, kLong };

  // The test for one kind, holding copies of what it needs (so that a loop keeps them
  // in registers instead of reloading them around its stores).
  template <Kind K>
  struct Matcher {
    const char* s;
    size_t n;
    uint64_t a, b;

    bool operator()(std::string_view x) const {
      const bool same = x.size() == n;
      if constexpr (K == Kind::kEmpty) {
        return same;
      } else {
        // p = same ? x.data() : s, without a branch.
        const uintptr_t mask = 0 - static_cast<uintptr_t>(same);
        const char* p = reinterpret_cast<const char*>(
            (reinterpret_cast<uintptr_t>(x.data()) & mask) | (reinterpret_cast<uintptr_t>(s) & ~mask));
        if constexpr (K == Kind::kBytes) {
          return same & (p[0] == s[0]) & (p[n / 2] == s[n / 2]) & (p[n - 1] == s[n - 1]);
        } else if constexpr (K == Kind::kWords4) {
          return same & (Load<uint32_t>(p) == a) & (Load<uint32_t>(p + n - 4) == b);
        } else if constexpr (K == Kind::kWords8) {
          return same & (Load<uint64_t>(p) == a) & (Load<uint64_t>(p + n - 8) == b);
        } else {
          return same && std::memcmp(p, s, n) == 0;
        }
      }
    }
  };

  explicit ConstantString(std::string s = "") : s_(std::move(s)) {
    const size_t n = s_.size();
    if (n == 0) {
      kind_ = Kind::kEmpty;
    } else if (n < 4) {
      kind_ = Kind::kBytes;
    } else if (n <= 8) {
      kind_ = Kind::kWords4;
      a_ = Load<uint32_t>(s_.data());
      b_ = Load<uint32_t>(s_.data() + n - 4);
    } else if (n <= 16) {
      kind_ = Kind::kWords8;
      a_ = Load<uint64_t>(s_.data());
      b_ = Load<uint64_t>(s_.data() + n - 8);
    } else {
      kind_ = Kind::kLong;
    }
  }

  std::string_view view() const { return s_; }

  bool Equals(std::string_view x) const {
    bool result = false;
    WithEquals([&](auto eq) { result = eq(x); });
    return result;
  }

  // Calls f with the Matcher (a `bool(std::string_view)` functor) for this constant.
  template <typename F>
  void WithEquals(F&& f) const {
    switch (kind_) {
      case Kind::kEmpty: f(Make<Kind::kEmpty>()); return;
      case Kind::kBytes: f(Make<Kind::kBytes>()); return;
      case Kind::kWords4: f(Make<Kind::kWords4>()); return;
      case Kind::kWords8: f(Make<Kind::kWords8>()); return;
      case Kind::kLong: f(Make<Kind::kLong>()); return;
    }
  }

 private:
  template <Kind K>
  Matcher<K> Make() const {
    return Matcher<K>{s_.data(), s_.size(), a_, b_};
  }

  std::string s_;
  Kind kind_ = Kind::kEmpty;
  uint64_t a_ = 0, b_ = 0;
};

enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe };

CmpOp Flip(CmpOp op) {
  switch (op) {
    case CmpOp::kLt: return CmpOp::kGt;
    case CmpOp::kLe: return CmpOp::kGe;
    case CmpOp::kGt: return CmpOp::kLt;
    case CmpOp::kGe: return CmpOp::kLe;
    default: return op;
  }
}

// Calls f with the comparison functor of `op`, so the loop inside f is specialized.
template <typename F>
void WithCmp(CmpOp op, F&& f) {
  switch (op) {
    case CmpOp::kEq: f(std::equal_to<>()); return;
    case CmpOp::kNe: f(std::not_equal_to<>()); return;
    case CmpOp::kLt: f(std::less<>()); return;
    case CmpOp::kLe: f(std::less_equal<>()); return;
    case CmpOp::kGt: f(std::greater<>()); return;
    case CmpOp::kGe: f(std::greater_equal<>()); return;
  }
}

// Two computed operands of the same storage.
class CompareNode final : public Node {
 public:
  CompareNode(CmpOp op, NodePtr l, NodePtr r)
      : Node(Type::kBool), op_(op), l_(std::move(l)), r_(std::move(r)) {}

  Vec Eval(const EvalContext& ctx) override {
    const EvalContext c = ctx.Consuming();
    const Vec a = l_->Eval(c);
    const Vec b = r_->Eval(c);
    const size_t n = ctx.n;
    buf_.ints.resize(n);
    int64_t* o = buf_.ints.data();
    WithStorage(l_->type(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = Values<T>(a);
      const T* y = Values<T>(b);
      WithCmp(op_, [&](auto cmp) {
        for (size_t i = 0; i < n; ++i) o[i] = cmp(x[i], y[i]);
      });
    });
    return MakeVec<int64_t>(o, OrNulls(a.nulls, b.nulls, n, &buf_.nulls));
  }

 private:
  CmpOp op_;
  NodePtr l_;
  NodePtr r_;
  Column buf_;
};

// A computed operand against a constant: the fast path (`event_type == "view"`,
// `status >= 500`) — one tight loop over the column, with no materialized constant.
template <typename T>
class CompareScalarNode final : public Node {
 public:
  CompareScalarNode(CmpOp op, NodePtr child, const LiteralNode& scalar)
      : Node(Type::kBool), op_(op), child_(std::move(child)) {
    if constexpr (std::is_same_v<T, std::string_view>) {
      constant_ = ConstantString(scalar.string_value());
      scalar_ = constant_.view();
    } else {
      scalar_ = scalar.value<T>();
    }
  }

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = child_->Eval(ctx.Consuming());
    const size_t n = ctx.n;
    buf_.resize(n);
    int64_t* o = buf_.data();
    const T* x = Values<T>(a);
    const T s = scalar_;
    if constexpr (std::is_same_v<T, std::string_view>) {
      if (op_ == CmpOp::kEq || op_ == CmpOp::kNe) {
        const bool ne = op_ == CmpOp::kNe;
        constant_.WithEquals([&](auto eq) {
          for (size_t i = 0; i < n; ++i) o[i] = eq(x[i]) != ne;
        });
        return MakeVec<int64_t>(o, a.nulls);
      }
    }
    WithCmp(op_, [&](auto cmp) {
      for (size_t i = 0; i < n; ++i) o[i] = cmp(x[i], s);
    });
    return MakeVec<int64_t>(o, a.nulls);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    const Vec a = child_->Eval(ctx.Consuming());
    const T* x = Values<T>(a);
    const T s = scalar_;
    if constexpr (std::is_same_v<T, std::string_view>) {
      if (op_ == CmpOp::kEq || op_ == CmpOp::kNe) {
        const bool ne = op_ == CmpOp::kNe;
        constant_.WithEquals([&](auto eq) {
          if (a.nulls != nullptr) {
            const uint8_t* nl = a.nulls;
            SelectWhere(in, out, [&, eq](uint32_t i) { return (nl[i] == 0) & (eq(x[i]) != ne); });
          } else {
            SelectWhere(in, out, [&, eq](uint32_t i) { return eq(x[i]) != ne; });
          }
        });
        return;
      }
    }
    WithCmp(op_, [&](auto cmp) {
      if (a.nulls != nullptr) {
        const uint8_t* nl = a.nulls;
        SelectWhere(in, out, [&](uint32_t i) { return (nl[i] == 0) & cmp(x[i], s); });
      } else {
        SelectWhere(in, out, [&](uint32_t i) { return cmp(x[i], s); });
      }
    });
  }

 private:
  CmpOp op_;
  NodePtr child_;
  ConstantString constant_;  // strings only
  T scalar_{};
  std::vector<int64_t> buf_;
};

// ------------------------------------- logic -------------------------------------------

// SQL's three-valued AND / OR. Select() narrows selections: for AND the right side only
// sees the rows that passed the left; for OR only the rows that did not.
class LogicNode final : public Node {
 public:
  LogicNode(bool is_and, NodePtr l, NodePtr r)
      : Node(Type::kBool), is_and_(is_and), l_(std::move(l)), r_(std::move(r)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = l_->Eval(ctx);
    const Vec b = r_->Eval(ctx);
    const size_t n = ctx.n;
    buf_.ints.resize(n);
    int64_t* o = buf_.ints.data();
    const int64_t* x = a.ints;
    const int64_t* y = b.ints;
    if (a.nulls == nullptr && b.nulls == nullptr) {
      if (is_and_) {
        for (size_t i = 0; i < n; ++i) o[i] = (x[i] != 0) & (y[i] != 0);
      } else {
        for (size_t i = 0; i < n; ++i) o[i] = (x[i] != 0) | (y[i] != 0);
      }
      return MakeVec<int64_t>(o, nullptr);
    }
    if (zeros_.size() < n) zeros_.assign(n, 0);
    const uint8_t* xn = a.nulls != nullptr ? a.nulls : zeros_.data();
    const uint8_t* yn = b.nulls != nullptr ? b.nulls : zeros_.data();
    buf_.nulls.resize(n);
    uint8_t* nl = buf_.nulls.data();
    uint8_t any = 0;
    for (size_t i = 0; i < n; ++i) {
      const bool xv = x[i] != 0, yv = y[i] != 0, xnull = xn[i] != 0, ynull = yn[i] != 0;
      bool value, null;
      if (is_and_) {
        const bool some_false = (!xnull & !xv) | (!ynull & !yv);
        null = (xnull | ynull) & !some_false;
        value = !xnull & !ynull & xv & yv;
      } else {
        value = (!xnull & xv) | (!ynull & yv);
        null = (xnull | ynull) & !value;
      }
      o[i] = value;
      nl[i] = null;
      any |= nl[i];
    }
    return MakeVec<int64_t>(o, any ? nl : nullptr);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    l_->Select(ctx, in, &left_);
    if (is_and_) {
      if (left_.empty()) {
        out->clear();
        return;
      }
      r_->Select(ctx, RowsOf(left_), out);
      return;
    }
    // OR: test the right side on the rows the left side did not select. A byte per row
    // of the batch marks the selected rows (branch-free, unlike a merge).
    if (left_.size() == in.size) {
      out->swap(left_);
      return;
    }
    mask_.assign(ctx.n, 0);
    uint8_t* mask = mask_.data();
    for (uint32_t row : left_) mask[row] = 1;
    SelectWhere(in, &rest_, [mask](uint32_t i) { return mask[i] == 0; });
    r_->Select(ctx, RowsOf(rest_), &right_);
    if (right_.empty()) {
      out->swap(left_);
      return;
    }
    for (uint32_t row : right_) mask[row] = 1;
    SelectWhere(in, out, [mask](uint32_t i) { return mask[i] != 0; });
  }

 private:
  bool is_and_;
  NodePtr l_;
  NodePtr r_;
  Column buf_;
  std::vector<uint8_t> zeros_;
  std::vector<uint8_t> mask_;
  std::vector<uint32_t> left_, rest_, right_;
};

class NotNode final : public Node {
 public:
  explicit NotNode(NodePtr child) : Node(Type::kBool), child_(std::move(child)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = child_->Eval(ctx);
    buf_.resize(ctx.n);
    for (size_t i = 0; i < ctx.n; ++i) buf_[i] = a.ints[i] == 0;
    return MakeVec<int64_t>(buf_.data(), a.nulls);
  }

 private:
  NodePtr child_;
  std::vector<int64_t> buf_;
};

class IsNullNode final : public Node {
 public:
  IsNullNode(NodePtr child, bool negate)
      : Node(Type::kBool), child_(std::move(child)), negate_(negate) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = child_->Eval(ctx.Consuming());
    buf_.resize(ctx.n);
    for (size_t i = 0; i < ctx.n; ++i) {
      buf_[i] = (a.nulls != nullptr && a.nulls[i] != 0) != negate_;
    }
    return MakeVec<int64_t>(buf_.data(), nullptr);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    const Vec a = child_->Eval(ctx.Consuming());
    if (a.nulls == nullptr) {
      if (negate_) {
        SelectAll(in, out);
      } else {
        out->clear();
      }
      return;
    }
    const uint8_t* nl = a.nulls;
    const bool negate = negate_;
    SelectWhere(in, out, [&](uint32_t i) { return (nl[i] != 0) != negate; });
  }

 private:
  NodePtr child_;
  bool negate_;
  std::vector<int64_t> buf_;
};

// x [not] in (constants...). A null item makes a non-match null (SQL).
template <typename T>
class InNode final : public Node {
 public:
  using Key = std::conditional_t<std::is_same_v<T, std::string_view>, absl::string_view, T>;
  static constexpr size_t kLinearMax = 8;

  InNode(NodePtr child, const std::vector<const LiteralNode*>& items, bool negate)
      : Node(Type::kBool), child_(std::move(child)), negate_(negate) {
    constants_.reserve(items.size());  // items_ views into them: no reallocation
    for (const LiteralNode* item : items) {
      if (item->is_null()) {
        has_null_ = true;
      } else if constexpr (std::is_same_v<T, std::string_view>) {
        constants_.emplace_back(item->string_value());
      } else {
        items_.push_back(item->value<T>());
      }
    }
    if constexpr (std::is_same_v<T, std::string_view>) {
      for (const ConstantString& c : constants_) items_.push_back(c.view());
    }
    if (items_.size() > kLinearMax) {
      for (const T& v : items_) set_.insert(ToKey(v));
    }
  }

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = child_->Eval(ctx.Consuming());
    const size_t n = ctx.n;
    const T* x = Values<T>(a);
    buf_.ints.resize(n);
    int64_t* o = buf_.ints.data();
    WithContains([&](auto contains) {
      for (size_t i = 0; i < n; ++i) o[i] = contains(x[i]);
    });
    if (!has_null_) {
      if (negate_) {
        for (size_t i = 0; i < n; ++i) o[i] ^= 1;
      }
      return MakeVec<int64_t>(o, a.nulls);
    }
    // A non-match is null; a match is true for `in`, false for `not in`.
    uint8_t* nl = StartNulls(a.nulls, nullptr, n, &buf_.nulls);
    for (size_t i = 0; i < n; ++i) {
      nl[i] |= o[i] == 0;
      o[i] = nl[i] ? 0 : !negate_;
    }
    return MakeVec<int64_t>(o, nl);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    if (has_null_ && negate_) {  // never true
      out->clear();
      return;
    }
    const Vec a = child_->Eval(ctx.Consuming());
    const T* x = Values<T>(a);
    const bool want = !negate_;
    WithContains([&](auto contains) {
      if (a.nulls != nullptr) {
        const uint8_t* nl = a.nulls;
        SelectWhere(in, out, [&](uint32_t i) { return (nl[i] == 0) & (contains(x[i]) == want); });
      } else {
        SelectWhere(in, out, [&](uint32_t i) { return contains(x[i]) == want; });
      }
    });
  }

 private:
  static Key ToKey(T v) {
    if constexpr (std::is_same_v<T, std::string_view>) {
      return Sv(v);
    } else {
      return v;
    }
  }
  // Calls f with the membership test: a hash set for long lists, else a linear scan
  // without early exit (no data-dependent branch).
  template <typename F>
  void WithContains(F&& f) const {
    if (items_.size() > kLinearMax) {
      f([this](T v) { return set_.contains(ToKey(v)); });
    } else if constexpr (std::is_same_v<T, std::string_view>) {
      f([this](T v) {
        bool found = false;
        for (const ConstantString& c : constants_) found |= c.Equals(v);
        return found;
      });
    } else {
      f([this](T v) {
        bool found = false;
        for (const T& item : items_) found |= item == v;
        return found;
      });
    }
  }

  NodePtr child_;
  bool negate_;
  bool has_null_ = false;
  std::vector<ConstantString> constants_;  // strings only
  std::vector<T> items_;
  absl::flat_hash_set<Key> set_;
  Column buf_;
};

// ------------------------------------ strings ------------------------------------------

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The byte offset `count` code points after byte offset `from` (at most s.size()).
size_t Utf8Skip(std::string_view s, size_t from, int64_t count) {
  size_t i = from;
  while (count > 0 && i < s.size()) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    --count;
  }
  return i;
}

enum class StrFn { kContains, kStartsWith, kEndsWith };

template <typename F>
void WithStrFn(StrFn fn, F&& f) {
  switch (fn) {
    case StrFn::kContains:
      f([](std::string_view s, std::string_view x) { return s.find(x) != std::string_view::npos; });
      return;
    case StrFn::kStartsWith:
      f([](std::string_view s, std::string_view x) { return s.starts_with(x); });
      return;
    case StrFn::kEndsWith:
      f([](std::string_view s, std::string_view x) { return s.ends_with(x); });
      return;
  }
}

// contains / starts_with / ends_with; with a constant needle, a tight loop.
class StrPredicateNode final : public Node {
 public:
  StrPredicateNode(StrFn fn, NodePtr s, NodePtr needle)
      : Node(Type::kBool), fn_(fn), s_(std::move(s)), needle_(std::move(needle)) {
    if (const LiteralNode* lit = AsLiteral(needle_.get())) {
      constant_ = true;
      owned_ = lit->string_value();
    }
  }

  Vec Eval(const EvalContext& ctx) override {
    const EvalContext c = ctx.Consuming();
    const Vec a = s_->Eval(c);
    const size_t n = ctx.n;
    buf_.ints.resize(n);
    int64_t* o = buf_.ints.data();
    const std::string_view* x = a.strings;
    if (constant_) {
      const std::string_view needle = owned_;
      WithStrFn(fn_, [&](auto test) {
        for (size_t i = 0; i < n; ++i) o[i] = test(x[i], needle);
      });
      return MakeVec<int64_t>(o, a.nulls);
    }
    const Vec b = needle_->Eval(c);
    const std::string_view* y = b.strings;
    WithStrFn(fn_, [&](auto test) {
      for (size_t i = 0; i < n; ++i) o[i] = test(x[i], y[i]);
    });
    return MakeVec<int64_t>(o, OrNulls(a.nulls, b.nulls, n, &buf_.nulls));
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    if (!constant_) {
      Node::Select(ctx, in, out);
      return;
    }
    const Vec a = s_->Eval(ctx.Consuming());
    const std::string_view* x = a.strings;
    const std::string_view needle = owned_;
    WithStrFn(fn_, [&](auto test) {
      if (a.nulls != nullptr) {
        const uint8_t* nl = a.nulls;
        SelectWhere(in, out, [&](uint32_t i) { return (nl[i] == 0) & test(x[i], needle); });
      } else {
        SelectWhere(in, out, [&](uint32_t i) { return test(x[i], needle); });
      }
    });
  }

 private:
  StrFn fn_;
  NodePtr s_;
  NodePtr needle_;
  bool constant_ = false;
  std::string owned_;
  Column buf_;
};

// regex_match(s, "re"): RE2 partial match (anchor with ^ and $ for a full match).
class RegexNode final : public Node {
 public:
  RegexNode(NodePtr s, std::unique_ptr<RE2> re)
      : Node(Type::kBool), s_(std::move(s)), re_(std::move(re)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = s_->Eval(ctx.Consuming());
    buf_.resize(ctx.n);
    for (size_t i = 0; i < ctx.n; ++i) buf_[i] = Match(a.strings[i]);
    return MakeVec<int64_t>(buf_.data(), a.nulls);
  }

  void Select(const EvalContext& ctx, RowSet in, std::vector<uint32_t>* out) override {
    const Vec a = s_->Eval(ctx.Consuming());
    const uint8_t* nl = a.nulls;
    SelectWhere(in, out, [&](uint32_t i) {
      return (nl == nullptr || nl[i] == 0) && Match(a.strings[i]);
    });
  }

 private:
  bool Match(std::string_view s) const {
    return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re_);
  }

  NodePtr s_;
  std::unique_ptr<RE2> re_;
  std::vector<int64_t> buf_;
};

// lower(s) / upper(s), ASCII letters only. A value with nothing to change is passed
// through as a view of its input instead of being copied.
class CaseNode final : public Node {
 public:
  CaseNode(bool upper, NodePtr s) : Node(Type::kString), upper_(upper), s_(std::move(s)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = s_->Eval(ctx);
    buf_.resize(ctx.n);
    const char lo = upper_ ? 'a' : 'A';
    const char hi = upper_ ? 'z' : 'Z';
    for (size_t i = 0; i < ctx.n; ++i) {
      const std::string_view s = a.strings[i];
      size_t k = 0;
      while (k < s.size() && (s[k] < lo || s[k] > hi)) ++k;
      if (k == s.size()) {
        buf_[i] = s;
        continue;
      }
      char* p = ctx.arena->Allocate(s.size());
      std::memcpy(p, s.data(), k);
      for (; k < s.size(); ++k) {
        const char ch = s[k];
        p[k] = (ch >= lo && ch <= hi) ? static_cast<char>(ch ^ 0x20) : ch;
      }
      buf_[i] = std::string_view(p, s.size());
    }
    return MakeVec<std::string_view>(buf_.data(), a.nulls);
  }
  bool ReferencesInput() const override { return s_->ReferencesInput(); }

 private:
  bool upper_;
  NodePtr s_;
  std::vector<std::string_view> buf_;
};

// length(s): UTF-8 code points.
class LengthNode final : public Node {
 public:
  explicit LengthNode(NodePtr s) : Node(Type::kInt64), s_(std::move(s)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec a = s_->Eval(ctx.Consuming());
    buf_.resize(ctx.n);
    for (size_t i = 0; i < ctx.n; ++i) buf_[i] = static_cast<int64_t>(Utf8Length(a.strings[i]));
    return MakeVec<int64_t>(buf_.data(), a.nulls);
  }

 private:
  NodePtr s_;
  std::vector<int64_t> buf_;
};

// substr(s, start[, len]) in code points; start is 0-based, negative counts from the
// end. The result is a view of the input value.
class SubstrNode final : public Node {
 public:
  SubstrNode(NodePtr s, NodePtr start, NodePtr len)
      : Node(Type::kString), s_(std::move(s)), start_(std::move(start)), len_(std::move(len)) {}

  Vec Eval(const EvalContext& ctx) override {
    const size_t n = ctx.n;
    const Vec a = s_->Eval(ctx);
    const Vec st = start_->Eval(ctx.Consuming());
    Vec ln;
    if (len_ != nullptr) ln = len_->Eval(ctx.Consuming());
    const uint8_t* nulls = OrNulls(a.nulls, st.nulls, n, &nulls1_);
    nulls = OrNulls(nulls, ln.nulls, n, &nulls2_);
    buf_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (nulls != nullptr && nulls[i]) {
        buf_[i] = std::string_view();
        continue;
      }
      const std::string_view s = a.strings[i];
      int64_t start = st.ints[i];
      if (start < 0) start = std::max<int64_t>(0, start + static_cast<int64_t>(Utf8Length(s)));
      const size_t b = Utf8Skip(s, 0, start);
      size_t e = s.size();
      if (len_ != nullptr) e = ln.ints[i] <= 0 ? b : Utf8Skip(s, b, ln.ints[i]);
      buf_[i] = s.substr(b, e - b);
    }
    return MakeVec<std::string_view>(buf_.data(), nulls);
  }
  bool ReferencesInput() const override { return s_->ReferencesInput(); }

 private:
  NodePtr s_, start_, len_;
  std::vector<std::string_view> buf_;
  std::vector<uint8_t> nulls1_, nulls2_;
};

// concat(a, b, ...): null if any argument is null.
class ConcatNode final : public Node {
 public:
  explicit ConcatNode(std::vector<NodePtr> args) : Node(Type::kString), args_(std::move(args)) {}

  Vec Eval(const EvalContext& ctx) override {
    const size_t n = ctx.n;
    vecs_.clear();
    const uint8_t* nulls = nullptr;
    for (size_t k = 0; k < args_.size(); ++k) {
      vecs_.push_back(args_[k]->Eval(ctx.Consuming()));
      nulls = OrNulls(nulls, vecs_.back().nulls, n, &nulls_[k % 2]);
    }
    buf_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      size_t len = 0;
      for (const Vec& v : vecs_) len += v.strings[i].size();
      if ((nulls != nullptr && nulls[i]) || len == 0) {
        buf_[i] = std::string_view();
        continue;
      }
      char* p = ctx.arena->Allocate(len);
      size_t off = 0;
      for (const Vec& v : vecs_) {
        const std::string_view part = v.strings[i];
        if (part.empty()) continue;
        std::memcpy(p + off, part.data(), part.size());
        off += part.size();
      }
      buf_[i] = std::string_view(p, len);
    }
    return MakeVec<std::string_view>(buf_.data(), nulls);
  }

 private:
  std::vector<NodePtr> args_;
  std::vector<Vec> vecs_;
  std::vector<uint8_t> nulls_[2];
  std::vector<std::string_view> buf_;
};

// coalesce(a, b, ...): the first non-null argument. Later arguments are evaluated only
// while some row is still null.
class CoalesceNode final : public Node {
 public:
  CoalesceNode(Type type, std::vector<NodePtr> args) : Node(type), args_(std::move(args)) {}

  Vec Eval(const EvalContext& ctx) override {
    const Vec first = args_[0]->Eval(ctx);
    if (first.nulls == nullptr) return first;
    Vec result;
    WithStorage(type(), [&](auto tag) {
      using T = decltype(tag);
      const size_t n = ctx.n;
      std::vector<T>& values = ValuesOf<T>(buf_);
      values.assign(Values<T>(first), Values<T>(first) + n);
      buf_.nulls.assign(first.nulls, first.nulls + n);
      T* o = values.data();
      uint8_t* nl = buf_.nulls.data();
      bool any = true;
      for (size_t k = 1; k < args_.size() && any; ++k) {
        const Vec v = args_[k]->Eval(ctx);
        const T* x = Values<T>(v);
        any = false;
        for (size_t i = 0; i < n; ++i) {
          if (nl[i] && (v.nulls == nullptr || !v.nulls[i])) {
            o[i] = x[i];
            nl[i] = 0;
          }
          any |= nl[i] != 0;
        }
      }
      result = MakeVec<T>(o, any ? nl : nullptr);
    });
    return result;
  }
  bool ReferencesInput() const override {
    for (const NodePtr& a : args_) {
      if (a->ReferencesInput()) return true;
    }
    return false;
  }

 private:
  std::vector<NodePtr> args_;
  Column buf_;
};

// if(cond, a, b): a where cond is true, else b (a null condition takes b).
class IfNode final : public Node {
 public:
  IfNode(Type type, NodePtr cond, NodePtr a, NodePtr b)
      : Node(type), cond_(std::move(cond)), a_(std::move(a)), b_(std::move(b)) {}

  Vec Eval(const EvalContext& ctx) override {
    const size_t n = ctx.n;
    const Vec c = cond_->Eval(ctx.Consuming());
    const Vec a = a_->Eval(ctx);
    const Vec b = b_->Eval(ctx);
    Vec result;
    WithStorage(type(), [&](auto tag) {
      using T = decltype(tag);
      std::vector<T>& values = ValuesOf<T>(buf_);
      values.resize(n);
      T* o = values.data();
      const T* x = Values<T>(a);
      const T* y = Values<T>(b);
      const uint8_t* nulls = nullptr;
      if (a.nulls != nullptr || b.nulls != nullptr) {
        buf_.nulls.resize(n);
        nulls = buf_.nulls.data();
      }
      uint8_t any = 0;
      for (size_t i = 0; i < n; ++i) {
        const bool take_a = c.ints[i] != 0 && (c.nulls == nullptr || !c.nulls[i]);
        o[i] = take_a ? x[i] : y[i];
        if (nulls != nullptr) {
          const uint8_t nl = take_a ? (a.nulls != nullptr && a.nulls[i])
                                    : (b.nulls != nullptr && b.nulls[i]);
          buf_.nulls[i] = nl;
          any |= nl;
        }
      }
      result = MakeVec<T>(o, any ? nulls : nullptr);
    });
    return result;
  }
  bool ReferencesInput() const override {
    return a_->ReferencesInput() || b_->ReferencesInput();
  }

 private:
  NodePtr cond_, a_, b_;
  Column buf_;
};

// ---------------------------------------------------------------------------------------
// Lexer.

enum class Tok {
  kEnd, kInt, kDouble, kString, kIdent, kQuotedIdent,
  kLParen, kRParen, kComma,
  kPlus, kMinus, kStar, kSlash, kPercent,
  kEq, kNe, kLt, kLe, kGt, kGe,
  kAndAnd, kOrOr, kBang,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;  // byte offsets of the token's text
  size_t end = 0;
  std::string text;  // decoded string or identifier
  int64_t i = 0;
  double d = 0;
};

bool IsIdentStart(unsigned char c) { return absl::ascii_isalpha(c) || c == '_' || c >= 0x80; }
bool IsIdentChar(unsigned char c) { return IsIdentStart(c) || absl::ascii_isdigit(c); }

// Formats errors located in the expression text.
class ErrorReporter {
 public:
  explicit ErrorReporter(std::string_view text) : text_(text) {}

  // "<head> at column N<tail>" followed by the line of text and a caret under `pos`.
  absl::Status At(size_t pos, std::string_view head, std::string_view tail = "") const {
    pos = std::min(pos, text_.size());
    const size_t line_start = pos == 0 ? 0 : text_.rfind('\n', pos - 1) + 1;  // npos+1 == 0
    size_t line_end = text_.find('\n', pos);
    if (line_end == std::string_view::npos) line_end = text_.size();
    const size_t column = Utf8Length(text_.substr(line_start, pos - line_start)) + 1;
    std::string where = absl::StrCat("column ", column);
    if (text_.find('\n') != std::string_view::npos) {
      const size_t line = std::count(text_.begin(), text_.begin() + pos, '\n') + 1;
      where = absl::StrCat("line ", line, ", column ", column);
    }
    std::string shown(text_.substr(line_start, line_end - line_start));
    std::replace(shown.begin(), shown.end(), '\t', ' ');
    std::replace(shown.begin(), shown.end(), '\r', ' ');
    return absl::InvalidArgumentError(absl::StrCat(Sv(head), " at ", where, Sv(tail), "\n  ", shown,
                                                   "\n  ", std::string(column - 1, ' '), "^"));
  }

 private:
  std::string_view text_;
};

absl::Status Lex(std::string_view text, std::vector<Token>* tokens) {
  ErrorReporter err(text);
  size_t i = 0;
  const size_t n = text.size();
  auto at = [&](size_t k) -> unsigned char { return k < n ? static_cast<unsigned char>(text[k]) : 0; };
  while (true) {
    while (i < n && absl::ascii_isspace(at(i))) ++i;
    Token t;
    t.pos = i;
    if (i >= n) {
      t.end = n;
      tokens->push_back(std::move(t));
      return absl::OkStatus();
    }
    const unsigned char c = at(i);
    if (absl::ascii_isdigit(c)) {
      size_t j = i;
      while (absl::ascii_isdigit(at(j))) ++j;
      bool is_double = false;
      if (at(j) == '.' && absl::ascii_isdigit(at(j + 1))) {
        is_double = true;
        ++j;
        while (absl::ascii_isdigit(at(j))) ++j;
      }
      if (at(j) == 'e' || at(j) == 'E') {
        size_t k = j + 1;
        if (at(k) == '+' || at(k) == '-') ++k;
        if (absl::ascii_isdigit(at(k))) {
          is_double = true;
          j = k;
          while (absl::ascii_isdigit(at(j))) ++j;
        }
      }
      if (IsIdentChar(at(j))) return err.At(i, "invalid number");
      const char* b = text.data() + i;
      const char* e = text.data() + j;
      if (is_double) {
        t.kind = Tok::kDouble;
        auto [p, ec] = std::from_chars(b, e, t.d);
        if (ec != std::errc() || p != e) return err.At(i, "invalid number");
      } else {
        t.kind = Tok::kInt;
        auto [p, ec] = std::from_chars(b, e, t.i);
        if (ec != std::errc() || p != e) return err.At(i, "integer out of range");
      }
      i = j;
    } else if (c == '"' || c == '\'' || c == '`') {
      t.kind = c == '`' ? Tok::kQuotedIdent : Tok::kString;
      size_t j = i + 1;
      while (true) {
        if (j >= n) {
          return err.At(i, c == '`' ? "unterminated `name`" : "unterminated string");
        }
        const char ch = text[j];
        if (ch == static_cast<char>(c)) break;
        if (ch != '\\') {
          t.text.push_back(ch);
          ++j;
          continue;
        }
        if (j + 1 >= n) return err.At(i, "unterminated string");
        switch (text[j + 1]) {
          case 'n': t.text.push_back('\n'); break;
          case 't': t.text.push_back('\t'); break;
          case 'r': t.text.push_back('\r'); break;
          case '\\': t.text.push_back('\\'); break;
          case '"': t.text.push_back('"'); break;
          case '\'': t.text.push_back('\''); break;
          case '`': t.text.push_back('`'); break;
          default:
            return err.At(j, absl::StrCat("unknown escape '\\", Sv(text.substr(j + 1, 1)), "'"),
                          " (use \\\" \\' \\\\ \\n \\t \\r)");
        }
        j += 2;
      }
      i = j + 1;
    } else if (IsIdentStart(c)) {
      size_t j = i;
      while (IsIdentChar(at(j))) ++j;
      t.kind = Tok::kIdent;
      t.text = std::string(text.substr(i, j - i));
      i = j;
    } else {
      const unsigned char c2 = at(i + 1);
      size_t len = 1;
      switch (c) {
        case '(': t.kind = Tok::kLParen; break;
        case ')': t.kind = Tok::kRParen; break;
        case ',': t.kind = Tok::kComma; break;
        case '+': t.kind = Tok::kPlus; break;
        case '-': t.kind = Tok::kMinus; break;
        case '*': t.kind = Tok::kStar; break;
        case '/': t.kind = Tok::kSlash; break;
        case '%': t.kind = Tok::kPercent; break;
        case '=':
          t.kind = Tok::kEq;
          if (c2 == '=') len = 2;
          break;
        case '!':
          if (c2 == '=') {
            t.kind = Tok::kNe;
            len = 2;
          } else {
            t.kind = Tok::kBang;
          }
          break;
        case '<':
          t.kind = Tok::kLt;
          if (c2 == '=') {
            t.kind = Tok::kLe;
            len = 2;
          } else if (c2 == '>') {
            t.kind = Tok::kNe;
            len = 2;
          }
          break;
        case '>':
          t.kind = Tok::kGt;
          if (c2 == '=') {
            t.kind = Tok::kGe;
            len = 2;
          }
          break;
        case '&':
          if (c2 != '&') return err.At(i, "unexpected '&'", " (did you mean '&&'?)");
          t.kind = Tok::kAndAnd;
          len = 2;
          break;
        case '|':
          if (c2 != '|') return err.At(i, "unexpected '|'", " (did you mean '||'?)");
          t.kind = Tok::kOrOr;
          len = 2;
          break;
        default:
          return err.At(i, absl::StrCat("unexpected character '", Sv(text.substr(i, 1)), "'"));
      }
      i += len;
    }
    t.end = i;
    tokens->push_back(std::move(t));
  }
}

// ---------------------------------------------------------------------------------------
// Parser and type checker.

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const bool same = absl::ascii_tolower(static_cast<unsigned char>(a[i - 1])) ==
                        absl::ascii_tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate, or "".
std::string Suggest(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean '", best, "'?)");
}

const std::vector<std::string>& FunctionNames() {
  static const auto* names = new std::vector<std::string>{
      "bool",      "coalesce", "concat",      "contains", "double", "ends_with", "if",
      "int64",     "length",   "lower",       "regex_match", "starts_with", "string",
      "substr",    "timestamp", "upper"};
  return *names;
}

class Compiler {
 public:
  Compiler(std::string_view text, const Schema& schema)
      : text_(text), schema_(schema), err_(text), one_row_(std::make_shared<Schema>()) {
    one_row_.timestamps().push_back(kNoTimestamp);
    one_row_.set_num_rows(1);
  }

  absl::StatusOr<NodePtr> Compile() {
    RETURN_IF_ERROR(Lex(text_, &tokens_));
    if (Peek().kind == Tok::kEnd) return err_.At(0, "empty expression");
    ASSIGN_OR_RETURN(NodePtr node, ParseOr());
    if (Peek().kind != Tok::kEnd) {
      if (Peek().kind == Tok::kRParen) {
        return err_.At(Peek().pos, "unexpected ')'", " (no matching '(')");
      }
      return err_.At(Peek().pos, absl::StrCat("unexpected ", Describe(Peek())),
                     "; expected an operator or the end of the expression");
    }
    return node;
  }

 private:
  // ------------------------------- token helpers -------------------------------------
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  static bool IsKeyword(const Token& t, std::string_view kw) {
    return t.kind == Tok::kIdent && absl::EqualsIgnoreCase(Sv(t.text), Sv(kw));
  }
  bool AcceptKeyword(std::string_view kw) {
    if (!IsKeyword(Peek(), kw)) return false;
    Next();
    return true;
  }
  std::string Describe(const Token& t) const {
    if (t.kind == Tok::kEnd) return "end of expression";
    return absl::StrCat("'", Sv(text_.substr(t.pos, t.end - t.pos)), "'");
  }
  absl::Status Expect(Tok kind, std::string_view what) {
    if (Peek().kind != kind) {
      return err_.At(Peek().pos, absl::StrCat("expected ", Sv(what)),
                     absl::StrCat(", found ", Describe(Peek())));
    }
    Next();
    return absl::OkStatus();
  }
  // "status (int64)": a node's source text and type, for type errors.
  std::string Describe(const Node& n) const {
    std::string_view src = text_.substr(n.begin, n.end - n.begin);
    std::string shown(src.size() > 40 ? absl::StrCat(Sv(src.substr(0, 37)), "...") : std::string(src));
    return absl::StrCat(shown, " (", Sv(TypeName(n.type())), ")");
  }

  static NodePtr Spanned(NodePtr n, size_t begin, size_t end) {
    n->begin = begin;
    n->end = end;
    return n;
  }

  // Replaces a node whose operands are all constants by its value.
  NodePtr Fold(NodePtr node) {
    Arena arena;
    EvalContext ctx{&one_row_, 1, &arena, false, &arena};
    const Vec v = node->Eval(ctx);
    std::unique_ptr<LiteralNode> lit;
    const Type t = node->type();
    if (t == Type::kNull || (v.nulls != nullptr && v.nulls[0])) {
      lit = LiteralNode::Null(t);
    } else if (StorageOf(t) == Storage::kInts) {
      lit = LiteralNode::Int(v.ints[0], t);
    } else if (t == Type::kDouble) {
      lit = LiteralNode::Double(v.doubles[0]);
    } else {
      lit = LiteralNode::String(std::string(v.strings[0]));
    }
    return Spanned(std::move(lit), node->begin, node->end);
  }

  NodePtr Finish(NodePtr node, std::initializer_list<const Node*> operands, size_t begin, size_t end) {
    node->begin = begin;
    node->end = end;
    for (const Node* o : operands) {
      if (!IsLiteral(o)) return node;
    }
    return Fold(std::move(node));
  }

  NodePtr TypedNull(Type t, size_t begin, size_t end) {
    return Spanned(LiteralNode::Null(t), begin, end);
  }

  // Converts an int-like operand to double (folding a constant).
  NodePtr ToDouble(NodePtr n) {
    if (n->type() == Type::kDouble) return n;
    const size_t b = n->begin, e = n->end;
    if (IsNullLiteral(n.get())) return TypedNull(Type::kDouble, b, e);
    const bool lit = IsLiteral(n.get());
    NodePtr cast = std::make_unique<CastNode>(Type::kDouble, std::move(n));
    cast->begin = b;
    cast->end = e;
    return lit ? Fold(std::move(cast)) : std::move(cast);
  }

  // ------------------------------- grammar -------------------------------------------
  // or   := and (("||" | "or") and)*
  // and  := not (("&&" | "and") not)*
  // not  := ("!" | "not") not | pred
  // pred := sum [cmp sum | "is" ["not"] "null" | ["not"] "in" "(" expr ("," expr)* ")"]
  // sum  := prod (("+" | "-") prod)*
  // prod := unary (("*" | "/" | "%") unary)*
  // unary:= ("-" | "+") unary | primary
  // primary := literal | name | name "(" args ")" | `name` | "(" or ")"

  absl::StatusOr<NodePtr> ParseOr() {
    ASSIGN_OR_RETURN(NodePtr l, ParseAnd());
    while (Peek().kind == Tok::kOrOr || IsKeyword(Peek(), "or")) {
      const Token& op = Next();
      ASSIGN_OR_RETURN(NodePtr r, ParseAnd());
      ASSIGN_OR_RETURN(l, MakeLogic(false, std::move(l), std::move(r), op));
    }
    return l;
  }

  absl::StatusOr<NodePtr> ParseAnd() {
    ASSIGN_OR_RETURN(NodePtr l, ParseNot());
    while (Peek().kind == Tok::kAndAnd || IsKeyword(Peek(), "and")) {
      const Token& op = Next();
      ASSIGN_OR_RETURN(NodePtr r, ParseNot());
      ASSIGN_OR_RETURN(l, MakeLogic(true, std::move(l), std::move(r), op));
    }
    return l;
  }

  absl::StatusOr<NodePtr> ParseNot() {
    if (Peek().kind == Tok::kBang || IsKeyword(Peek(), "not")) {
      const Token& op = Next();
      ASSIGN_OR_RETURN(NodePtr c, ParseNot());
      const size_t begin = op.pos, end = c->end;
      if (IsNullLiteral(c.get())) return TypedNull(Type::kBool, begin, end);
      if (c->type() != Type::kBool) {
        return err_.At(c->begin, absl::StrCat("'", Sv(text_.substr(op.pos, op.end - op.pos)),
                                              "' needs a boolean, got ", Describe(*c)));
      }
      const Node* operand = c.get();
      return Finish(std::make_unique<NotNode>(std::move(c)), {operand}, begin, end);
    }
    return ParsePredicate();
  }

  absl::StatusOr<NodePtr> ParsePredicate() {
    ASSIGN_OR_RETURN(NodePtr l, ParseSum());
    const Token& t = Peek();
    CmpOp op;
    bool is_cmp = true;
    switch (t.kind) {
      case Tok::kEq: op = CmpOp::kEq; break;
      case Tok::kNe: op = CmpOp::kNe; break;
      case Tok::kLt: op = CmpOp::kLt; break;
      case Tok::kLe: op = CmpOp::kLe; break;
      case Tok::kGt: op = CmpOp::kGt; break;
      case Tok::kGe: op = CmpOp::kGe; break;
      default: is_cmp = false; op = CmpOp::kEq; break;
    }
    if (is_cmp) {
      const Token& op_tok = Next();
      ASSIGN_OR_RETURN(NodePtr r, ParseSum());
      return MakeCompare(op, std::move(l), std::move(r), op_tok);
    }
    if (IsKeyword(t, "is")) {
      Next();
      const bool negate = AcceptKeyword("not");
      if (!IsKeyword(Peek(), "null")) {
        return err_.At(Peek().pos, negate ? "expected 'null' after 'is not'" : "expected 'null' or 'not null' after 'is'",
                       absl::StrCat(", found ", Describe(Peek())));
      }
      const size_t end = Next().end;
      const size_t begin = l->begin;
      const Node* operand = l.get();
      return Finish(std::make_unique<IsNullNode>(std::move(l), negate), {operand}, begin, end);
    }
    if (IsKeyword(t, "in") || (IsKeyword(t, "not") && IsKeyword(Peek(1), "in"))) {
      const bool negate = IsKeyword(t, "not");
      Next();
      if (negate) Next();
      return ParseInList(std::move(l), negate);
    }
    return l;
  }

  absl::StatusOr<NodePtr> ParseSum() {
    ASSIGN_OR_RETURN(NodePtr l, ParseProduct());
    while (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus) {
      const Token& op = Next();
      ASSIGN_OR_RETURN(NodePtr r, ParseProduct());
      ASSIGN_OR_RETURN(l, MakeArith(op.kind == Tok::kPlus ? ArithOp::kAdd : ArithOp::kSub,
                                    std::move(l), std::move(r), op));
    }
    return l;
  }

  absl::StatusOr<NodePtr> ParseProduct() {
    ASSIGN_OR_RETURN(NodePtr l, ParseUnary());
    while (Peek().kind == Tok::kStar || Peek().kind == Tok::kSlash ||
           Peek().kind == Tok::kPercent) {
      const Token& op = Next();
      const ArithOp a = op.kind == Tok::kStar    ? ArithOp::kMul
                        : op.kind == Tok::kSlash ? ArithOp::kDiv
                                                 : ArithOp::kMod;
      ASSIGN_OR_RETURN(NodePtr r, ParseUnary());
      ASSIGN_OR_RETURN(l, MakeArith(a, std::move(l), std::move(r), op));
    }
    return l;
  }

  absl::StatusOr<NodePtr> ParseUnary() {
    if (Peek().kind == Tok::kMinus || Peek().kind == Tok::kPlus) {
      const Token& op = Next();
      const bool minus = op.kind == Tok::kMinus;
      const size_t begin = op.pos;
      ASSIGN_OR_RETURN(NodePtr c, ParseUnary());
      const size_t end = c->end;
      if (IsNullLiteral(c.get())) return TypedNull(Type::kInt64, begin, end);
      if (!IsNumeric(c->type())) {
        return err_.At(begin, absl::StrCat("unary '", minus ? "-" : "+", "' needs a number, got ",
                                           Describe(*c)));
      }
      if (!minus) return Spanned(std::move(c), begin, end);
      const Node* operand = c.get();
      return Finish(std::make_unique<NegateNode>(std::move(c)), {operand}, begin, end);
    }
    return ParsePrimary();
  }

  absl::StatusOr<NodePtr> ParsePrimary() {
    const Token& t = Peek();
    switch (t.kind) {
      case Tok::kInt:
        Next();
        return Spanned(LiteralNode::Int(t.i), t.pos, t.end);
      case Tok::kDouble:
        Next();
        return Spanned(LiteralNode::Double(t.d), t.pos, t.end);
      case Tok::kString:
        Next();
        return Spanned(LiteralNode::String(t.text), t.pos, t.end);
      case Tok::kQuotedIdent:
        Next();
        return FieldRef(t);
      case Tok::kLParen: {
        const size_t begin = Next().pos;
        ASSIGN_OR_RETURN(NodePtr e, ParseOr());
        const size_t end = Peek().end;
        RETURN_IF_ERROR(Expect(Tok::kRParen, "')'"));
        return Spanned(std::move(e), begin, end);
      }
      case Tok::kIdent: {
        if (IsKeyword(t, "true") || IsKeyword(t, "false")) {
          Next();
          return Spanned(LiteralNode::Bool(IsKeyword(t, "true")), t.pos, t.end);
        }
        if (IsKeyword(t, "null")) {
          Next();
          return Spanned(LiteralNode::Null(Type::kNull), t.pos, t.end);
        }
        if (Peek(1).kind == Tok::kLParen) return ParseCall();
        for (std::string_view kw : {"and", "or", "not", "is", "in"}) {
          if (IsKeyword(t, kw)) {
            return err_.At(t.pos, absl::StrCat("expected a value, found ", Describe(t)),
                           " (write `name` for a field with this name)");
          }
        }
        Next();
        return FieldRef(t);
      }
      default:
        return err_.At(t.pos, "expected a value", absl::StrCat(", found ", Describe(t)));
    }
  }

  absl::StatusOr<NodePtr> FieldRef(const Token& t) {
    const int index = schema_.IndexOf(t.text);
    if (index < 0) {
      std::vector<std::string> names;
      for (const Field& f : schema_.fields()) names.push_back(f.name);
      return err_.At(t.pos, absl::StrCat("unknown field '", t.text, "'"),
                     absl::StrCat("; fields are: ", names.empty() ? "(none)" : absl::StrJoin(names, ", "),
                                  Suggest(t.text, names)));
    }
    const Type type = schema_.field(index).type;
    if (type == Type::kNull) return TypedNull(Type::kNull, t.pos, t.end);
    return Spanned(std::make_unique<FieldNode>(index, type), t.pos, t.end);
  }

  absl::StatusOr<NodePtr> ParseInList(NodePtr l, bool negate) {
    RETURN_IF_ERROR(Expect(Tok::kLParen, "'(' after 'in'"));
    std::vector<NodePtr> items;
    while (true) {
      ASSIGN_OR_RETURN(NodePtr item, ParseOr());
      if (!IsLiteral(item.get())) {
        return err_.At(item->begin, "'in' list items must be constants");
      }
      items.push_back(std::move(item));
      if (Peek().kind != Tok::kComma) break;
      Next();
    }
    const size_t end = Peek().end;
    RETURN_IF_ERROR(Expect(Tok::kRParen, "')' or ','"));
    const size_t begin = l->begin;
    if (IsNullLiteral(l.get())) return TypedNull(Type::kBool, begin, end);
    // Coerce the items to the value's type.
    const Type t = l->type();
    std::vector<NodePtr> coerced;
    for (NodePtr& item : items) {
      const LiteralNode* lit = AsLiteral(item.get());
      ASSIGN_OR_RETURN(NodePtr c, CoerceConstant(*lit, t, *l));
      coerced.push_back(std::move(c));
    }
    std::vector<const LiteralNode*> lits;
    for (const NodePtr& c : coerced) lits.push_back(AsLiteral(c.get()));
    const bool constant = IsLiteral(l.get());
    NodePtr node;
    WithStorage(t, [&](auto tag) {
      using T = decltype(tag);
      node = std::make_unique<InNode<T>>(std::move(l), lits, negate);
    });
    node->begin = begin;
    node->end = end;
    return constant ? Fold(std::move(node)) : std::move(node);
  }

  // An `in` item converted to the type of the tested value: numbers to strings for a
  // string value, numeric strings to numbers for a numeric one.
  absl::StatusOr<NodePtr> CoerceConstant(const LiteralNode& lit, Type t, const Node& value) {
    const size_t b = lit.begin, e = lit.end;
    if (lit.is_null()) return TypedNull(t, b, e);
    const Type from = lit.type();
    auto mismatch = [&]() {
      return err_.At(b, absl::StrCat("cannot compare ", Describe(value), " with ", Describe(lit)));
    };
    if (from == t || (IsIntLike(from) && IsIntLike(t))) {
      if (StorageOf(t) == Storage::kInts) return Spanned(LiteralNode::Int(lit.int_value(), t), b, e);
      if (t == Type::kDouble) return Spanned(LiteralNode::Double(lit.double_value()), b, e);
      return Spanned(LiteralNode::String(lit.string_value()), b, e);
    }
    if (t == Type::kString) {
      if (IsIntLike(from)) return Spanned(LiteralNode::String(absl::StrCat(lit.int_value())), b, e);
      if (from == Type::kDouble) {
        char buf[64];
        auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), lit.double_value());
        return Spanned(LiteralNode::String(std::string(buf, p)), b, e);
      }
      return mismatch();
    }
    if (t == Type::kDouble) {
      double d;
      if (IsIntLike(from)) return Spanned(LiteralNode::Double(static_cast<double>(lit.int_value())), b, e);
      if (from == Type::kString && ParseDouble(lit.string_value(), &d)) {
        return Spanned(LiteralNode::Double(d), b, e);
      }
      return mismatch();
    }
    if (IsIntLike(t)) {
      int64_t v;
      if (from == Type::kDouble && DoubleToInt64(lit.double_value(), &v) &&
          static_cast<double>(v) == lit.double_value()) {
        return Spanned(LiteralNode::Int(v, t), b, e);
      }
      if (from == Type::kString &&
          (t == Type::kTimestamp ? ParseTimestamp(lit.string_value(), &v)
                                 : ParseInt64(lit.string_value(), &v))) {
        return Spanned(LiteralNode::Int(v, t), b, e);
      }
      return mismatch();
    }
    return mismatch();
  }

  absl::StatusOr<NodePtr> MakeLogic(bool is_and, NodePtr l, NodePtr r, const Token& op) {
    const size_t begin = l->begin, end = r->end;
    for (NodePtr* p : {&l, &r}) {
      if (IsNullLiteral(p->get())) {
        *p = TypedNull(Type::kBool, (*p)->begin, (*p)->end);
      } else if ((*p)->type() != Type::kBool) {
        return err_.At((*p)->begin,
                       absl::StrCat("'", Sv(text_.substr(op.pos, op.end - op.pos)),
                                    "' needs boolean operands, got ", Describe(**p)));
      }
    }
    const Node* a = l.get();
    const Node* b = r.get();
    return Finish(std::make_unique<LogicNode>(is_and, std::move(l), std::move(r)), {a, b}, begin, end);
  }

  absl::StatusOr<NodePtr> MakeArith(ArithOp op, NodePtr l, NodePtr r, const Token& op_tok) {
    const size_t begin = l->begin, end = r->end;
    const bool lnull = IsNullLiteral(l.get()), rnull = IsNullLiteral(r.get());
    for (const NodePtr* p : {&l, &r}) {
      if (!IsNullLiteral(p->get()) && !IsNumeric((*p)->type())) {
        return err_.At(op_tok.pos,
                       absl::StrCat("cannot apply '", Sv(text_.substr(op_tok.pos, op_tok.end - op_tok.pos)),
                                    "' to ", Describe(*l), " and ", Describe(*r)),
                       (*p)->type() == Type::kString ? " (use concat() to join strings)" : "");
      }
    }
    Type lt = lnull ? (rnull ? Type::kInt64 : r->type()) : l->type();
    Type rt = rnull ? lt : r->type();
    if (lnull || rnull) {
      Type t = (lt == Type::kDouble || rt == Type::kDouble) ? Type::kDouble : Type::kInt64;
      return TypedNull(t, begin, end);
    }
    Type result;
    if (lt == Type::kDouble || rt == Type::kDouble) {
      l = ToDouble(std::move(l));
      r = ToDouble(std::move(r));
      result = Type::kDouble;
    } else if ((op == ArithOp::kAdd || op == ArithOp::kSub) && lt == Type::kTimestamp &&
               rt == Type::kInt64) {
      result = Type::kTimestamp;  // ts ± duration
    } else if (op == ArithOp::kAdd && lt == Type::kInt64 && rt == Type::kTimestamp) {
      result = Type::kTimestamp;
    } else {
      result = Type::kInt64;
    }
    const Node* a = l.get();
    const Node* b = r.get();
    return Finish(std::make_unique<ArithNode>(result, op, std::move(l), std::move(r)), {a, b},
                  begin, end);
  }

  absl::StatusOr<NodePtr> MakeCompare(CmpOp op, NodePtr l, NodePtr r, const Token& op_tok) {
    const size_t begin = l->begin, end = r->end;
    if (IsNullLiteral(l.get()) || IsNullLiteral(r.get())) return TypedNull(Type::kBool, begin, end);
    // A timestamp compares with a constant date string: ts >= "2024-01-01".
    for (auto [ts, other] : {std::pair{&l, &r}, std::pair{&r, &l}}) {
      if ((*ts)->type() == Type::kTimestamp && (*other)->type() == Type::kString &&
          IsLiteral(other->get())) {
        int64_t ms;
        const LiteralNode* lit = AsLiteral(other->get());
        if (!ParseTimestamp(lit->string_value(), &ms)) {
          return err_.At(lit->begin, absl::StrCat("cannot read ", Describe(*lit), " as a timestamp"),
                         " (expected milliseconds or ISO 8601 like 2024-01-31T12:00:00Z)");
        }
        *other = Spanned(LiteralNode::Int(ms, Type::kTimestamp), lit->begin, lit->end);
      }
    }
    const Type lt = l->type(), rt = r->type();
    if (IsNumeric(lt) && IsNumeric(rt)) {
      if (lt == Type::kDouble || rt == Type::kDouble) {
        l = ToDouble(std::move(l));
        r = ToDouble(std::move(r));
      }
    } else if (!(lt == rt && (lt == Type::kString || lt == Type::kBool))) {
      return err_.At(op_tok.pos, absl::StrCat("cannot compare ", Describe(*l), " with ", Describe(*r)),
                     lt == Type::kString || rt == Type::kString
                         ? " (convert with int64(), double() or string())"
                         : "");
    }
    if (IsLiteral(l.get()) && !IsLiteral(r.get())) {
      std::swap(l, r);
      op = Flip(op);
    }
    const Node* a = l.get();
    const Node* b = r.get();
    NodePtr node;
    if (IsLiteral(r.get()) && !IsLiteral(l.get())) {
      const LiteralNode& scalar = *AsLiteral(r.get());
      WithStorage(l->type(), [&](auto tag) {
        using T = decltype(tag);
        node = std::make_unique<CompareScalarNode<T>>(op, std::move(l), scalar);
      });
      return Spanned(std::move(node), begin, end);
    }
    return Finish(std::make_unique<CompareNode>(op, std::move(l), std::move(r)), {a, b}, begin, end);
  }

  // --------------------------------- functions ---------------------------------------

  absl::StatusOr<NodePtr> ParseCall() {
    const Token& name_tok = Next();
    const std::string name = absl::AsciiStrToLower(name_tok.text);
    Next();  // '('
    std::vector<NodePtr> args;
    if (Peek().kind != Tok::kRParen) {
      while (true) {
        ASSIGN_OR_RETURN(NodePtr a, ParseOr());
        args.push_back(std::move(a));
        if (Peek().kind != Tok::kComma) break;
        Next();
      }
    }
    const size_t end = Peek().end;
    RETURN_IF_ERROR(Expect(Tok::kRParen, "')' or ','"));
    return MakeCall(name, name_tok, std::move(args), end);
  }

  absl::Status ArgCount(const std::string& name, const Token& tok, const std::vector<NodePtr>& args,
                        size_t min, size_t max, std::string_view signature) {
    if (args.size() >= min && args.size() <= max) return absl::OkStatus();
    return err_.At(tok.pos, absl::StrCat(name, "() takes ", Sv(signature), ", got ", args.size(),
                                         args.size() == 1 ? " argument" : " arguments"));
  }

  // Checks that args[k] has type `want` (a null constant is accepted). Sets *has_null.
  absl::Status ArgType(const std::string& name, const std::vector<NodePtr>& args, size_t k, Type want,
                       bool* has_null) {
    const Node& a = *args[k];
    if (IsNullLiteral(&a)) {
      *has_null = true;
      return absl::OkStatus();
    }
    const bool ok = a.type() == want || (want == Type::kInt64 && IsIntLike(a.type()));
    if (ok) return absl::OkStatus();
    return err_.At(a.begin, absl::StrCat(name, "() argument ", k + 1, " must be ", Sv(TypeName(want)),
                                         ", got ", Describe(a)),
                   want == Type::kString ? " (convert with string())" : "");
  }

  absl::StatusOr<NodePtr> MakeCall(const std::string& name, const Token& tok, std::vector<NodePtr> args,
                                   size_t end) {
    const size_t begin = tok.pos;
    std::vector<const Node*> operands;
    for (const NodePtr& a : args) operands.push_back(a.get());
    auto finish = [&](NodePtr node) {
      node->begin = begin;
      node->end = end;
      for (const Node* o : operands) {
        if (!IsLiteral(o)) return node;
      }
      return Fold(std::move(node));
    };
    bool has_null = false;

    if (name == "contains" || name == "starts_with" || name == "ends_with") {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 2, 2, "2 arguments (string, string)"));
      RETURN_IF_ERROR(ArgType(name, args, 0, Type::kString, &has_null));
      RETURN_IF_ERROR(ArgType(name, args, 1, Type::kString, &has_null));
      if (has_null) return TypedNull(Type::kBool, begin, end);
      const StrFn fn = name == "contains"      ? StrFn::kContains
                       : name == "starts_with" ? StrFn::kStartsWith
                                               : StrFn::kEndsWith;
      return finish(std::make_unique<StrPredicateNode>(fn, std::move(args[0]), std::move(args[1])));
    }
    if (name == "lower" || name == "upper" || name == "length") {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 1, 1, "1 argument (string)"));
      RETURN_IF_ERROR(ArgType(name, args, 0, Type::kString, &has_null));
      if (name == "length") {
        if (has_null) return TypedNull(Type::kInt64, begin, end);
        return finish(std::make_unique<LengthNode>(std::move(args[0])));
      }
      if (has_null) return TypedNull(Type::kString, begin, end);
      return finish(std::make_unique<CaseNode>(name == "upper", std::move(args[0])));
    }
    if (name == "substr") {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 2, 3, "2 or 3 arguments (string, start[, length])"));
      RETURN_IF_ERROR(ArgType(name, args, 0, Type::kString, &has_null));
      for (size_t k = 1; k < args.size(); ++k) {
        RETURN_IF_ERROR(ArgType(name, args, k, Type::kInt64, &has_null));
      }
      if (has_null) return TypedNull(Type::kString, begin, end);
      NodePtr len = args.size() == 3 ? std::move(args[2]) : nullptr;
      return finish(std::make_unique<SubstrNode>(std::move(args[0]), std::move(args[1]), std::move(len)));
    }
    if (name == "regex_match") {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 2, 2, "2 arguments (string, \"pattern\")"));
      RETURN_IF_ERROR(ArgType(name, args, 0, Type::kString, &has_null));
      const LiteralNode* pattern = AsLiteral(args[1].get());
      if (pattern == nullptr || pattern->type() != Type::kString) {
        return err_.At(args[1]->begin, "regex_match() pattern must be a string constant");
      }
      RE2::Options options;
      options.set_log_errors(false);
      auto re = std::make_unique<RE2>(pattern->string_value(), options);
      if (!re->ok()) {
        return err_.At(args[1]->begin, absl::StrCat("invalid regular expression: ", re->error()));
      }
      if (has_null) return TypedNull(Type::kBool, begin, end);
      return finish(std::make_unique<RegexNode>(std::move(args[0]), std::move(re)));
    }
    if (name == "concat") {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 1, 1000, "at least 1 argument"));
      for (size_t k = 0; k < args.size(); ++k) {
        RETURN_IF_ERROR(ArgType(name, args, k, Type::kString, &has_null));
      }
      if (has_null) return TypedNull(Type::kString, begin, end);
      return finish(std::make_unique<ConcatNode>(std::move(args)));
    }
    if (name == "coalesce") {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 1, 1000, "at least 1 argument"));
      ASSIGN_OR_RETURN(Type t, Unify(name, &args, 0));
      // Drop null constants; nothing after a non-null constant can be reached.
      std::vector<NodePtr> kept;
      for (NodePtr& a : args) {
        if (IsNullLiteral(a.get())) continue;
        const bool constant = IsLiteral(a.get());
        kept.push_back(std::move(a));
        if (constant) break;
      }
      if (kept.empty()) return TypedNull(t, begin, end);
      if (kept.size() == 1) return Spanned(std::move(kept[0]), begin, end);
      return Spanned(std::make_unique<CoalesceNode>(t, std::move(kept)), begin, end);
    }
    if (name == "if") {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 3, 3, "3 arguments (condition, then, else)"));
      if (IsNullLiteral(args[0].get())) return Spanned(std::move(args[2]), begin, end);
      if (args[0]->type() != Type::kBool) {
        return err_.At(args[0]->begin, absl::StrCat("if() condition must be bool, got ", Describe(*args[0])));
      }
      ASSIGN_OR_RETURN(Type t, Unify(name, &args, 1));
      if (t == Type::kNull) return TypedNull(Type::kNull, begin, end);
      if (const LiteralNode* c = AsLiteral(args[0].get())) {
        return Spanned(std::move(args[c->int_value() != 0 ? 1 : 2]), begin, end);
      }
      return finish(std::make_unique<IfNode>(t, std::move(args[0]), std::move(args[1]), std::move(args[2])));
    }
    Type to;
    if (name != "null" && ParseType(name, &to)) {
      RETURN_IF_ERROR(ArgCount(name, tok, args, 1, 1, "1 argument"));
      NodePtr& a = args[0];
      if (IsNullLiteral(a.get())) return TypedNull(to, begin, end);
      const Type from = a->type();
      if (from == to) return Spanned(std::move(a), begin, end);
      if (from == Type::kBool && to == Type::kTimestamp) {
        return err_.At(a->begin, absl::StrCat("cannot convert ", Describe(*a), " to timestamp"));
      }
      return finish(std::make_unique<CastNode>(to, std::move(a)));
    }
    return err_.At(tok.pos, absl::StrCat("unknown function '", tok.text, "'"),
                   absl::StrCat("; functions are: ", absl::StrJoin(FunctionNames(), ", "),
                                Suggest(name, FunctionNames())));
  }

  // Gives args[first..] one type: numbers widen to double, int64 joins timestamp, null
  // constants take the common type. Returns it (kNull if every argument is null).
  absl::StatusOr<Type> Unify(const std::string& name, std::vector<NodePtr>* args, size_t first) {
    Type t = Type::kNull;
    for (size_t k = first; k < args->size(); ++k) {
      const Node& a = *(*args)[k];
      if (IsNullLiteral(&a)) continue;
      const Type at = a.type();
      if (t == Type::kNull || t == at) {
        t = at;
      } else if (IsNumeric(t) && IsNumeric(at)) {
        t = (t == Type::kDouble || at == Type::kDouble) ? Type::kDouble : Type::kTimestamp;
      } else {
        return err_.At(a.begin, absl::StrCat(name, "() arguments must have one type, got ",
                                             Sv(TypeName(t)), " and ", Describe(a)));
      }
    }
    for (size_t k = first; k < args->size(); ++k) {
      NodePtr& a = (*args)[k];
      if (IsNullLiteral(a.get())) {
        a = TypedNull(t, a->begin, a->end);
      } else if (t == Type::kDouble) {
        a = ToDouble(std::move(a));
      }
    }
    return t;
  }

  std::string_view text_;
  const Schema& schema_;
  ErrorReporter err_;
  RecordBatch one_row_;  // the batch constants are folded against
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace
}  // namespace internal

// ---------------------------------------------------------------------------------------
// Expression.

Expression::Expression() : scratch_(std::make_unique<Arena>()) {}
Expression::~Expression() = default;

absl::StatusOr<std::unique_ptr<Expression>> Expression::Compile(std::string_view text,
                                                                const Schema& schema) {
  internal::Compiler compiler(text, schema);
  ASSIGN_OR_RETURN(std::unique_ptr<internal::Node> root, compiler.Compile());
  std::unique_ptr<Expression> e(new Expression());
  e->text_ = std::string(text);
  e->result_type_ = root->type();
  e->root_ = std::move(root);
  return e;
}

absl::Status Expression::SplitAlias(std::string_view text, std::string* expr, std::string* name) {
  std::vector<internal::Token> tokens;
  RETURN_IF_ERROR(internal::Lex(text, &tokens));
  internal::ErrorReporter err(text);
  int depth = 0;
  size_t as = tokens.size();
  for (size_t k = 0; k < tokens.size(); ++k) {
    const internal::Token& t = tokens[k];
    if (t.kind == internal::Tok::kLParen) ++depth;
    if (t.kind == internal::Tok::kRParen) --depth;
    if (depth == 0 && t.kind == internal::Tok::kIdent && absl::EqualsIgnoreCase(Sv(t.text), "as")) {
      as = k;
    }
  }
  name->clear();
  if (as == tokens.size()) {
    *expr = std::string(text);
    return absl::OkStatus();
  }
  const internal::Token& alias = tokens[as + 1];
  if (alias.kind != internal::Tok::kIdent && alias.kind != internal::Tok::kQuotedIdent) {
    return err.At(alias.pos, "expected a name after 'as'");
  }
  if (tokens[as + 2].kind != internal::Tok::kEnd) {
    return err.At(tokens[as + 2].pos, "unexpected text after the name", " (write `name` for names with spaces)");
  }
  if (as == 0) return err.At(tokens[0].pos, "expected an expression before 'as'");
  std::string_view e = text.substr(0, tokens[as].pos);
  while (!e.empty() && absl::ascii_isspace(static_cast<unsigned char>(e.back()))) e.remove_suffix(1);
  *expr = std::string(e);
  *name = alias.text;
  return absl::OkStatus();
}

bool Expression::IsFieldRef(int* index) const {
  const auto* f = dynamic_cast<const internal::FieldNode*>(root_.get());
  if (f == nullptr) return false;
  *index = f->index();
  return true;
}

bool Expression::ReferencesInput() const { return root_->ReferencesInput(); }

void Expression::EvaluateFilter(const RecordBatch& batch, std::vector<uint32_t>* selected_rows) {
  if (result_type_ != Type::kBool) {
    selected_rows->clear();
    return;
  }
  scratch_->Clear();
  const internal::EvalContext ctx{&batch, batch.num_rows(), scratch_.get(), false, scratch_.get()};
  root_->Select(ctx, internal::RowSet{nullptr, batch.num_rows()}, selected_rows);
}

void Expression::EvaluateInto(const RecordBatch& in, RecordBatch& out, int out_column) {
  scratch_->Clear();
  const size_t n = in.num_rows();
  Column& col = out.column(out_column);
  col.Clear();
  if (result_type_ == Type::kNull) return;
  const internal::EvalContext ctx{&in, n, &out.arena(), true, scratch_.get()};
  const internal::Vec v = root_->Eval(ctx);
  const bool has_nulls = internal::AnySet(v.nulls, n);
  switch (internal::StorageOf(result_type_)) {
    case internal::Storage::kInts:
      col.ints.assign(v.ints, v.ints + n);
      break;
    case internal::Storage::kDoubles:
      col.doubles.assign(v.doubles, v.doubles + n);
      break;
    case internal::Storage::kStrings:
      col.strings.assign(v.strings, v.strings + n);
      break;
    case internal::Storage::kNone:
      break;
  }
  if (!has_nulls) return;
  col.nulls.assign(v.nulls, v.nulls + n);
  // The value slot of a null row is 0 / "".
  for (size_t i = 0; i < n; ++i) {
    if (!v.nulls[i]) continue;
    if (!col.ints.empty()) col.ints[i] = 0;
    if (!col.doubles.empty()) col.doubles[i] = 0;
    if (!col.strings.empty()) col.strings[i] = std::string_view();
  }
}

}  // namespace sluice::operators::expr
