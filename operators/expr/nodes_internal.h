// The node kinds of a compiled expression, as the compiler sees them (internal to
// operators/expr): the literal and field nodes in full (the compiler inspects and folds
// into literals), the operator enums, and one factory per other node kind. Those nodes
// are defined, with their kernels, in cast_node.cc, arithmetic_nodes.cc,
// compare_nodes.cc, logic_nodes.cc and string_nodes.cc. A factory takes ownership of
// the child nodes it is given; the operand types must already be checked (compiler).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "operators/expr/eval_internal.h"
#include "re2/re2.h"
#include "sluice/record.h"

namespace sluice::operators::expr {
namespace internal {

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

inline const LiteralNode* AsLiteral(const Node* n) { return dynamic_cast<const LiteralNode*>(n); }
inline bool IsLiteral(const Node* n) { return AsLiteral(n) != nullptr; }
inline bool IsNullLiteral(const Node* n) {
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

// ------------------------------- operators --------------------------------------------

enum class ArithOp { kAdd, kSub, kMul, kDiv, kMod };

enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe };

// The operator with its operands swapped: a < b is b > a.
inline CmpOp Flip(CmpOp op) {
  switch (op) {
    case CmpOp::kLt: return CmpOp::kGt;
    case CmpOp::kLe: return CmpOp::kGe;
    case CmpOp::kGt: return CmpOp::kLt;
    case CmpOp::kGe: return CmpOp::kLe;
    default: return op;
  }
}

enum class StrFn { kContains, kStartsWith, kEndsWith };

// ------------------------------- factories --------------------------------------------

// cast_node.cc: int64(x), double(x), string(x), bool(x), timestamp(x) of `child` to `to`.
NodePtr MakeCastNode(Type to, NodePtr child);

// arithmetic_nodes.cc: `l op r` (both of the storage of `result`: ints or doubles); -x.
NodePtr MakeArithNode(Type result, ArithOp op, NodePtr l, NodePtr r);
NodePtr MakeNegateNode(NodePtr child);

// compare_nodes.cc: two computed operands of one storage; a computed operand against
// a constant (the fast path); `child [not] in (items)`, items of the type of `child`.
NodePtr MakeCompareNode(CmpOp op, NodePtr l, NodePtr r);
NodePtr MakeCompareScalarNode(CmpOp op, NodePtr child, const LiteralNode& scalar);
NodePtr MakeInNode(NodePtr child, const std::vector<const LiteralNode*>& items, bool negate);

// logic_nodes.cc: and / or, not, is [not] null, coalesce(...), if(cond, a, b).
NodePtr MakeLogicNode(bool is_and, NodePtr l, NodePtr r);
NodePtr MakeNotNode(NodePtr child);
NodePtr MakeIsNullNode(NodePtr child, bool negate);
NodePtr MakeCoalesceNode(Type type, std::vector<NodePtr> args);
NodePtr MakeIfNode(Type type, NodePtr cond, NodePtr a, NodePtr b);

// string_nodes.cc: contains / starts_with / ends_with, regex_match, lower / upper,
// length, substr (`len` may be null), concat.
NodePtr MakeStrPredicateNode(StrFn fn, NodePtr s, NodePtr needle);
NodePtr MakeRegexNode(NodePtr s, std::unique_ptr<RE2> re);
NodePtr MakeCaseNode(bool upper, NodePtr s);
NodePtr MakeLengthNode(NodePtr s);
NodePtr MakeSubstrNode(NodePtr s, NodePtr start, NodePtr len);
NodePtr MakeConcatNode(std::vector<NodePtr> args);

}  // namespace internal
}  // namespace sluice::operators::expr
