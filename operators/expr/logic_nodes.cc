// Logic nodes: SQL three-valued and / or (narrowing selections in Select), not,
// is [not] null, and the conditional functions coalesce(...) and if(cond, a, b).
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "operators/expr/conversions_internal.h"
#include "operators/expr/eval_internal.h"
#include "operators/expr/nodes_internal.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

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

}  // namespace

NodePtr MakeLogicNode(bool is_and, NodePtr l, NodePtr r) {
  return std::make_unique<LogicNode>(is_and, std::move(l), std::move(r));
}

NodePtr MakeNotNode(NodePtr child) { return std::make_unique<NotNode>(std::move(child)); }

NodePtr MakeIsNullNode(NodePtr child, bool negate) {
  return std::make_unique<IsNullNode>(std::move(child), negate);
}

NodePtr MakeCoalesceNode(Type type, std::vector<NodePtr> args) {
  return std::make_unique<CoalesceNode>(type, std::move(args));
}

NodePtr MakeIfNode(Type type, NodePtr cond, NodePtr a, NodePtr b) {
  return std::make_unique<IfNode>(type, std::move(cond), std::move(a), std::move(b));
}

}  // namespace internal
}  // namespace sluice::operators::expr
