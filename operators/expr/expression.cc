// Expression: the public face of the expression language (expression.h). Compile()
// runs the Compiler (parser.cc, type_checker.cc); evaluation hands a batch to the root
// node of the compiled tree (the *_nodes.cc files).
#include "operators/expr/expression.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/expr/compiler_internal.h"
#include "operators/expr/eval_internal.h"
#include "operators/expr/lexer_internal.h"
#include "operators/expr/nodes_internal.h"

namespace sluice::operators::expr {

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
