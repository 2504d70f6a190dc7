// The parser: the grammar of the expression language, by recursive descent over the
// tokens (Compiler::Parse*). Each rule hands its operands to the type checker
// (type_checker.cc) to build a typed node. Also the "did you mean" suggestions.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/expr/compiler_internal.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

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

}  // namespace

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

absl::StatusOr<NodePtr> Compiler::Compile() {
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

// ------------------------------- grammar -------------------------------------------
// or   := and (("||" | "or") and)*
// and  := not (("&&" | "and") not)*
// not  := ("!" | "not") not | pred
// pred := sum [cmp sum | "is" ["not"] "null" | ["not"] "in" "(" expr ("," expr)* ")"]
// sum  := prod (("+" | "-") prod)*
// prod := unary (("*" | "/" | "%") unary)*
// unary:= ("-" | "+") unary | primary
// primary := literal | name | name "(" args ")" | `name` | "(" or ")"

absl::StatusOr<NodePtr> Compiler::ParseOr() {
  ASSIGN_OR_RETURN(NodePtr l, ParseAnd());
  while (Peek().kind == Tok::kOrOr || IsKeyword(Peek(), "or")) {
    const Token& op = Next();
    ASSIGN_OR_RETURN(NodePtr r, ParseAnd());
    ASSIGN_OR_RETURN(l, MakeLogic(false, std::move(l), std::move(r), op));
  }
  return l;
}

absl::StatusOr<NodePtr> Compiler::ParseAnd() {
  ASSIGN_OR_RETURN(NodePtr l, ParseNot());
  while (Peek().kind == Tok::kAndAnd || IsKeyword(Peek(), "and")) {
    const Token& op = Next();
    ASSIGN_OR_RETURN(NodePtr r, ParseNot());
    ASSIGN_OR_RETURN(l, MakeLogic(true, std::move(l), std::move(r), op));
  }
  return l;
}

absl::StatusOr<NodePtr> Compiler::ParseNot() {
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
    return Finish(MakeNotNode(std::move(c)), {operand}, begin, end);
  }
  return ParsePredicate();
}

absl::StatusOr<NodePtr> Compiler::ParsePredicate() {
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
    return Finish(MakeIsNullNode(std::move(l), negate), {operand}, begin, end);
  }
  if (IsKeyword(t, "in") || (IsKeyword(t, "not") && IsKeyword(Peek(1), "in"))) {
    const bool negate = IsKeyword(t, "not");
    Next();
    if (negate) Next();
    return ParseInList(std::move(l), negate);
  }
  return l;
}

absl::StatusOr<NodePtr> Compiler::ParseSum() {
  ASSIGN_OR_RETURN(NodePtr l, ParseProduct());
  while (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus) {
    const Token& op = Next();
    ASSIGN_OR_RETURN(NodePtr r, ParseProduct());
    ASSIGN_OR_RETURN(l, MakeArith(op.kind == Tok::kPlus ? ArithOp::kAdd : ArithOp::kSub,
                                  std::move(l), std::move(r), op));
  }
  return l;
}

absl::StatusOr<NodePtr> Compiler::ParseProduct() {
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

absl::StatusOr<NodePtr> Compiler::ParseUnary() {
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
    return Finish(MakeNegateNode(std::move(c)), {operand}, begin, end);
  }
  return ParsePrimary();
}

absl::StatusOr<NodePtr> Compiler::ParsePrimary() {
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

absl::StatusOr<NodePtr> Compiler::FieldRef(const Token& t) {
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

absl::StatusOr<NodePtr> Compiler::ParseInList(NodePtr l, bool negate) {
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
  NodePtr node = MakeInNode(std::move(l), lits, negate);
  node->begin = begin;
  node->end = end;
  return constant ? Fold(std::move(node)) : std::move(node);
}

// --------------------------------- functions ---------------------------------------

absl::StatusOr<NodePtr> Compiler::ParseCall() {
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

}  // namespace internal
}  // namespace sluice::operators::expr
