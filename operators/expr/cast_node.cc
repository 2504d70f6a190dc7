// The cast node: int64(x), double(x), string(x), bool(x) and timestamp(x), evaluated a
// batch at a time; a value that does not convert becomes null.
#include <cmath>
#include <string_view>
#include <utility>
#include <vector>

#include "operators/expr/conversions_internal.h"
#include "operators/expr/eval_internal.h"
#include "operators/expr/nodes_internal.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

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

}  // namespace

NodePtr MakeCastNode(Type to, NodePtr child) { return std::make_unique<CastNode>(to, std::move(child)); }

}  // namespace internal
}  // namespace sluice::operators::expr
