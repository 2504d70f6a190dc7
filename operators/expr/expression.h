// A small expression language over the fields of a record ("event_type == \"view\"",
// "int64(status) >= 500 && contains(url, \"/api/\")"), used by the `filter` and `project`
// operators. The language itself is documented in operators/expr/README.md.
//
// An Expression is compiled once against a Schema: field names are resolved to column
// indices, types are checked, constant sub-expressions are folded and regular
// expressions are compiled, so that every error (a parse error, an unknown field, a type
// mismatch, a bad regex) is reported at plan time with its column and a caret.
//
// Evaluation is vectorized: each node of the compiled tree evaluates a whole batch into
// a result vector (no per-row virtual call or allocation; the buffers are reused from
// one batch to the next). EvaluateFilter works on selections (lists of row indices), so
// `a && b` only tests `b` on the rows that passed `a`, and a comparison of a value with a
// literal runs as one tight loop over the column.
//
// Evaluation never fails: null semantics are SQL's (a comparison or arithmetic with null
// is null; division by zero, integer overflow and failed casts give null).
//
// Threading: an Expression keeps evaluation buffers, so one instance must be used by one
// thread at a time (each operator instance compiles its own).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/record.h"

namespace sluice::operators::expr {

namespace internal {
class Node;
}  // namespace internal

class Expression {
 public:
  /// Compiles `text` against `schema`. On a syntax or type error returns
  /// INVALID_ARGUMENT whose message names the column and shows the text with a caret:
  ///   unknown field 'evnt_type' at column 1; fields are: user_id, event_type
  ///     evnt_type == "view"
  ///     ^
  static absl::StatusOr<std::unique_ptr<Expression>> Compile(std::string_view text,
                                                             const Schema& schema);

  /// Splits "expr as name" (the last top-level `as`, outside strings and parentheses) into
  /// `expr` (a prefix of `text`, so error columns still match) and `name`; `name` is left
  /// empty when there is no `as`. A backquoted name is unquoted. INVALID_ARGUMENT if `as`
  /// is not followed by exactly one name.
  static absl::Status SplitAlias(std::string_view text, std::string* expr, std::string* name);

  ~Expression();
  Expression(const Expression&) = delete;
  Expression& operator=(const Expression&) = delete;

  /// The type of the result. kNull only for an expression that is always null (`null`).
  Type result_type() const { return result_type_; }
  const std::string& text() const { return text_; }

  /// True when the expression is just a reference to input field `*index` (after
  /// removing no-op casts such as string(s) on a string field).
  bool IsFieldRef(int* index) const;

  /// True when string results may be views into the evaluated batch's memory (its arena
  /// or buffers) rather than copies in the output arena: field references, and functions
  /// that pass them through unchanged (substr, if, coalesce, lower of a lower-case value).
  bool ReferencesInput() const;

  /// Stores in `selected_rows` the indices (ascending) of the rows of `batch` for which
  /// the condition is true; rows where it is false or null are left out.
  /// REQUIRES: result_type() == Type::kBool; `batch` has the schema compiled against.
  void EvaluateFilter(const RecordBatch& batch, std::vector<uint32_t>* selected_rows);

  /// Evaluates every row of `in` into column `out_column` of `out`, replacing that
  /// column's values and nulls (`in.num_rows()` of them; the caller sets out's row count).
  /// Strings computed by functions are written into `out.arena()`; if ReferencesInput(),
  /// strings may also view `in`'s memory, which the caller keeps alive as long as `out`.
  /// REQUIRES: `in` has the schema compiled against; the column's type is
  /// result_type() (int64 and timestamp are interchangeable).
  void EvaluateInto(const RecordBatch& in, RecordBatch& out, int out_column);

 private:
  Expression();

  std::string text_;
  Type result_type_ = Type::kNull;
  std::unique_ptr<internal::Node> root_;
  // Strings of intermediate results (lower(s) inside contains()); cleared per batch.
  std::unique_ptr<Arena> scratch_;
};

}  // namespace sluice::operators::expr
