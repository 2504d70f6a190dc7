// The Compiler (internal to operators/expr): turns the text of an expression into a tree
// of typed nodes for one Schema, reporting any error at plan time with its column. Its
// methods live in two files: parser.cc (the grammar, Parse*) and type_checker.cc (typed
// node building, constant folding and the functions, Make*). One Compiler compiles one
// expression, on one thread; it borrows `text` and `schema` for its lifetime.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "operators/expr/eval_internal.h"
#include "operators/expr/lexer_internal.h"
#include "operators/expr/nodes_internal.h"
#include "sluice/record.h"

namespace sluice::operators::expr {
namespace internal {

// " (did you mean 'x'?)" for the closest candidate, or "" (parser.cc).
std::string Suggest(std::string_view name, const std::vector<std::string>& candidates);

class Compiler {
 public:
  Compiler(std::string_view text, const Schema& schema)
      : text_(text), schema_(schema), err_(text), one_row_(std::make_shared<Schema>()) {
    one_row_.timestamps().push_back(kNoTimestamp);
    one_row_.set_num_rows(1);
  }

  absl::StatusOr<NodePtr> Compile();

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
  NodePtr Fold(NodePtr node);

  NodePtr Finish(NodePtr node, std::initializer_list<const Node*> operands, size_t begin, size_t end);

  NodePtr TypedNull(Type t, size_t begin, size_t end) {
    return Spanned(LiteralNode::Null(t), begin, end);
  }

  // Converts an int-like operand to double (folding a constant).
  NodePtr ToDouble(NodePtr n);

  // ------------------------------- grammar -------------------------------------------
  // or   := and (("||" | "or") and)*
  // and  := not (("&&" | "and") not)*
  // not  := ("!" | "not") not | pred
  // pred := sum [cmp sum | "is" ["not"] "null" | ["not"] "in" "(" expr ("," expr)* ")"]
  // sum  := prod (("+" | "-") prod)*
  // prod := unary (("*" | "/" | "%") unary)*
  // unary:= ("-" | "+") unary | primary
  // primary := literal | name | name "(" args ")" | `name` | "(" or ")"

  absl::StatusOr<NodePtr> ParseOr();

  absl::StatusOr<NodePtr> ParseAnd();

  absl::StatusOr<NodePtr> ParseNot();

  absl::StatusOr<NodePtr> ParsePredicate();

  absl::StatusOr<NodePtr> ParseSum();

  absl::StatusOr<NodePtr> ParseProduct();

  absl::StatusOr<NodePtr> ParseUnary();

  absl::StatusOr<NodePtr> ParsePrimary();

  absl::StatusOr<NodePtr> FieldRef(const Token& t);

  absl::StatusOr<NodePtr> ParseInList(NodePtr l, bool negate);

  // An `in` item converted to the type of the tested value: numbers to strings for a
  // string value, numeric strings to numbers for a numeric one.
  absl::StatusOr<NodePtr> CoerceConstant(const LiteralNode& lit, Type t, const Node& value);

  absl::StatusOr<NodePtr> MakeLogic(bool is_and, NodePtr l, NodePtr r, const Token& op);

  absl::StatusOr<NodePtr> MakeArith(ArithOp op, NodePtr l, NodePtr r, const Token& op_tok);

  absl::StatusOr<NodePtr> MakeCompare(CmpOp op, NodePtr l, NodePtr r, const Token& op_tok);

  // --------------------------------- functions ---------------------------------------

  absl::StatusOr<NodePtr> ParseCall();

  absl::Status ArgCount(const std::string& name, const Token& tok, const std::vector<NodePtr>& args,
                        size_t min, size_t max, std::string_view signature);

  // Checks that args[k] has type `want` (a null constant is accepted). Sets *has_null.
  absl::Status ArgType(const std::string& name, const std::vector<NodePtr>& args, size_t k, Type want,
                       bool* has_null);

  absl::StatusOr<NodePtr> MakeCall(const std::string& name, const Token& tok, std::vector<NodePtr> args,
                                   size_t end);

  // Gives args[first..] one type: numbers widen to double, int64 joins timestamp, null
  // constants take the common type. Returns it (kNull if every argument is null).
  absl::StatusOr<Type> Unify(const std::string& name, std::vector<NodePtr>* args, size_t first);

  std::string_view text_;
  const Schema& schema_;
  ErrorReporter err_;
  RecordBatch one_row_;  // the batch constants are folded against
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace internal
}  // namespace sluice::operators::expr
