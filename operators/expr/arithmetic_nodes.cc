// Arithmetic nodes and their kernels: + - * / % on int64, timestamp and double (integer
// overflow and division by zero give null), and unary minus.
#include <cstdint>
#include <utility>
#include <vector>

#include "operators/expr/conversions_internal.h"
#include "operators/expr/eval_internal.h"
#include "operators/expr/nodes_internal.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

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

}  // namespace

NodePtr MakeArithNode(Type result, ArithOp op, NodePtr l, NodePtr r) {
  return std::make_unique<ArithNode>(result, op, std::move(l), std::move(r));
}

NodePtr MakeNegateNode(NodePtr child) { return std::make_unique<NegateNode>(std::move(child)); }

}  // namespace internal
}  // namespace sluice::operators::expr
