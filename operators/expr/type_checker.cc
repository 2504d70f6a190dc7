// The type checker: builds the typed node for each construct the parser finds, checking
// operand types (with located errors), converting int64 to double where needed, and
// folding constant sub-expressions; MakeCall() knows every function of the language.
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/expr/compiler_internal.h"
#include "operators/expr/conversions_internal.h"
#include "re2/re2.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

const std::vector<std::string>& FunctionNames() {
  static const auto* names = new std::vector<std::string>{
      "bool",      "coalesce", "concat",      "contains", "double", "ends_with", "if",
      "int64",     "length",   "lower",       "regex_match", "starts_with", "string",
      "substr",    "timestamp", "upper"};
  return *names;
}

}  // namespace

// Replaces a node whose operands are all constants by its value.
NodePtr Compiler::Fold(NodePtr node) {
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

NodePtr Compiler::Finish(NodePtr node, std::initializer_list<const Node*> operands, size_t begin, size_t end) {
  node->begin = begin;
  node->end = end;
  for (const Node* o : operands) {
    if (!IsLiteral(o)) return node;
  }
  return Fold(std::move(node));
}

// Converts an int-like operand to double (folding a constant).
NodePtr Compiler::ToDouble(NodePtr n) {
  if (n->type() == Type::kDouble) return n;
  const size_t b = n->begin, e = n->end;
  if (IsNullLiteral(n.get())) return TypedNull(Type::kDouble, b, e);
  const bool lit = IsLiteral(n.get());
  NodePtr cast = MakeCastNode(Type::kDouble, std::move(n));
  cast->begin = b;
  cast->end = e;
  return lit ? Fold(std::move(cast)) : std::move(cast);
}

// An `in` item converted to the type of the tested value: numbers to strings for a
// string value, numeric strings to numbers for a numeric one.
absl::StatusOr<NodePtr> Compiler::CoerceConstant(const LiteralNode& lit, Type t, const Node& value) {
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

absl::StatusOr<NodePtr> Compiler::MakeLogic(bool is_and, NodePtr l, NodePtr r, const Token& op) {
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
  return Finish(MakeLogicNode(is_and, std::move(l), std::move(r)), {a, b}, begin, end);
}

absl::StatusOr<NodePtr> Compiler::MakeArith(ArithOp op, NodePtr l, NodePtr r, const Token& op_tok) {
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
  return Finish(MakeArithNode(result, op, std::move(l), std::move(r)), {a, b},
                begin, end);
}

absl::StatusOr<NodePtr> Compiler::MakeCompare(CmpOp op, NodePtr l, NodePtr r, const Token& op_tok) {
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
    node = MakeCompareScalarNode(op, std::move(l), scalar);
    return Spanned(std::move(node), begin, end);
  }
  return Finish(MakeCompareNode(op, std::move(l), std::move(r)), {a, b}, begin, end);
}

absl::Status Compiler::ArgCount(const std::string& name, const Token& tok, const std::vector<NodePtr>& args,
                                size_t min, size_t max, std::string_view signature) {
  if (args.size() >= min && args.size() <= max) return absl::OkStatus();
  return err_.At(tok.pos, absl::StrCat(name, "() takes ", Sv(signature), ", got ", args.size(),
                                       args.size() == 1 ? " argument" : " arguments"));
}

// Checks that args[k] has type `want` (a null constant is accepted). Sets *has_null.
absl::Status Compiler::ArgType(const std::string& name, const std::vector<NodePtr>& args, size_t k, Type want,
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

absl::StatusOr<NodePtr> Compiler::MakeCall(const std::string& name, const Token& tok, std::vector<NodePtr> args,
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
    return finish(MakeStrPredicateNode(fn, std::move(args[0]), std::move(args[1])));
  }
  if (name == "lower" || name == "upper" || name == "length") {
    RETURN_IF_ERROR(ArgCount(name, tok, args, 1, 1, "1 argument (string)"));
    RETURN_IF_ERROR(ArgType(name, args, 0, Type::kString, &has_null));
    if (name == "length") {
      if (has_null) return TypedNull(Type::kInt64, begin, end);
      return finish(MakeLengthNode(std::move(args[0])));
    }
    if (has_null) return TypedNull(Type::kString, begin, end);
    return finish(MakeCaseNode(name == "upper", std::move(args[0])));
  }
  if (name == "substr") {
    RETURN_IF_ERROR(ArgCount(name, tok, args, 2, 3, "2 or 3 arguments (string, start[, length])"));
    RETURN_IF_ERROR(ArgType(name, args, 0, Type::kString, &has_null));
    for (size_t k = 1; k < args.size(); ++k) {
      RETURN_IF_ERROR(ArgType(name, args, k, Type::kInt64, &has_null));
    }
    if (has_null) return TypedNull(Type::kString, begin, end);
    NodePtr len = args.size() == 3 ? std::move(args[2]) : nullptr;
    return finish(MakeSubstrNode(std::move(args[0]), std::move(args[1]), std::move(len)));
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
    return finish(MakeRegexNode(std::move(args[0]), std::move(re)));
  }
  if (name == "concat") {
    RETURN_IF_ERROR(ArgCount(name, tok, args, 1, 1000, "at least 1 argument"));
    for (size_t k = 0; k < args.size(); ++k) {
      RETURN_IF_ERROR(ArgType(name, args, k, Type::kString, &has_null));
    }
    if (has_null) return TypedNull(Type::kString, begin, end);
    return finish(MakeConcatNode(std::move(args)));
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
    return Spanned(MakeCoalesceNode(t, std::move(kept)), begin, end);
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
    return finish(MakeIfNode(t, std::move(args[0]), std::move(args[1]), std::move(args[2])));
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
    return finish(MakeCastNode(to, std::move(a)));
  }
  return err_.At(tok.pos, absl::StrCat("unknown function '", tok.text, "'"),
                 absl::StrCat("; functions are: ", absl::StrJoin(FunctionNames(), ", "),
                              Suggest(name, FunctionNames())));
}

// Gives args[first..] one type: numbers widen to double, int64 joins timestamp, null
// constants take the common type. Returns it (kNull if every argument is null).
absl::StatusOr<Type> Compiler::Unify(const std::string& name, std::vector<NodePtr>* args, size_t first) {
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

}  // namespace internal
}  // namespace sluice::operators::expr
