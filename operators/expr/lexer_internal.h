// The lexer of the expression language (internal to operators/expr): Lex() turns the
// text into Tokens (numbers, strings, names, operators), and ErrorReporter formats an
// error at a byte offset of the text as "... at column N" with the line and a caret.
// Both are used by the compiler and by Expression::SplitAlias. Stateless: any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "operators/expr/conversions_internal.h"

namespace sluice::operators::expr {
namespace internal {

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

// Appends the tokens of `text` to *tokens, ending with a kEnd token. INVALID_ARGUMENT
// (located, with a caret) on a bad number, string, escape or character.
absl::Status Lex(std::string_view text, std::vector<Token>* tokens);

}  // namespace internal
}  // namespace sluice::operators::expr
