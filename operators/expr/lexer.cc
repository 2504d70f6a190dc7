// The lexer: expression text to tokens (see lexer_internal.h).
#include <charconv>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "operators/expr/lexer_internal.h"

namespace sluice::operators::expr {
namespace internal {

namespace {

bool IsIdentStart(unsigned char c) { return absl::ascii_isalpha(c) || c == '_' || c >= 0x80; }
bool IsIdentChar(unsigned char c) { return IsIdentStart(c) || absl::ascii_isdigit(c); }

}  // namespace

absl::Status Lex(std::string_view text, std::vector<Token>* tokens) {
  ErrorReporter err(text);
  size_t i = 0;
  const size_t n = text.size();
  auto at = [&](size_t k) -> unsigned char { return k < n ? static_cast<unsigned char>(text[k]) : 0; };
  while (true) {
    while (i < n && absl::ascii_isspace(at(i))) ++i;
    Token t;
    t.pos = i;
    if (i >= n) {
      t.end = n;
      tokens->push_back(std::move(t));
      return absl::OkStatus();
    }
    const unsigned char c = at(i);
    if (absl::ascii_isdigit(c)) {
      size_t j = i;
      while (absl::ascii_isdigit(at(j))) ++j;
      bool is_double = false;
      if (at(j) == '.' && absl::ascii_isdigit(at(j + 1))) {
        is_double = true;
        ++j;
        while (absl::ascii_isdigit(at(j))) ++j;
      }
      if (at(j) == 'e' || at(j) == 'E') {
        size_t k = j + 1;
        if (at(k) == '+' || at(k) == '-') ++k;
        if (absl::ascii_isdigit(at(k))) {
          is_double = true;
          j = k;
          while (absl::ascii_isdigit(at(j))) ++j;
        }
      }
      if (IsIdentChar(at(j))) return err.At(i, "invalid number");
      const char* b = text.data() + i;
      const char* e = text.data() + j;
      if (is_double) {
        t.kind = Tok::kDouble;
        auto [p, ec] = std::from_chars(b, e, t.d);
        if (ec != std::errc() || p != e) return err.At(i, "invalid number");
      } else {
        t.kind = Tok::kInt;
        auto [p, ec] = std::from_chars(b, e, t.i);
        if (ec != std::errc() || p != e) return err.At(i, "integer out of range");
      }
      i = j;
    } else if (c == '"' || c == '\'' || c == '`') {
      t.kind = c == '`' ? Tok::kQuotedIdent : Tok::kString;
      size_t j = i + 1;
      while (true) {
        if (j >= n) {
          return err.At(i, c == '`' ? "unterminated `name`" : "unterminated string");
        }
        const char ch = text[j];
        if (ch == static_cast<char>(c)) break;
        if (ch != '\\') {
          t.text.push_back(ch);
          ++j;
          continue;
        }
        if (j + 1 >= n) return err.At(i, "unterminated string");
        switch (text[j + 1]) {
          case 'n': t.text.push_back('\n'); break;
          case 't': t.text.push_back('\t'); break;
          case 'r': t.text.push_back('\r'); break;
          case '\\': t.text.push_back('\\'); break;
          case '"': t.text.push_back('"'); break;
          case '\'': t.text.push_back('\''); break;
          case '`': t.text.push_back('`'); break;
          default:
            return err.At(j, absl::StrCat("unknown escape '\\", Sv(text.substr(j + 1, 1)), "'"),
                          " (use \\\" \\' \\\\ \\n \\t \\r)");
        }
        j += 2;
      }
      i = j + 1;
    } else if (IsIdentStart(c)) {
      size_t j = i;
      while (IsIdentChar(at(j))) ++j;
      t.kind = Tok::kIdent;
      t.text = std::string(text.substr(i, j - i));
      i = j;
    } else {
      const unsigned char c2 = at(i + 1);
      size_t len = 1;
      switch (c) {
        case '(': t.kind = Tok::kLParen; break;
        case ')': t.kind = Tok::kRParen; break;
        case ',': t.kind = Tok::kComma; break;
        case '+': t.kind = Tok::kPlus; break;
        case '-': t.kind = Tok::kMinus; break;
        case '*': t.kind = Tok::kStar; break;
        case '/': t.kind = Tok::kSlash; break;
        case '%': t.kind = Tok::kPercent; break;
        case '=':
          t.kind = Tok::kEq;
          if (c2 == '=') len = 2;
          break;
        case '!':
          if (c2 == '=') {
            t.kind = Tok::kNe;
            len = 2;
          } else {
            t.kind = Tok::kBang;
          }
          break;
        case '<':
          t.kind = Tok::kLt;
          if (c2 == '=') {
            t.kind = Tok::kLe;
            len = 2;
          } else if (c2 == '>') {
            t.kind = Tok::kNe;
            len = 2;
          }
          break;
        case '>':
          t.kind = Tok::kGt;
          if (c2 == '=') {
            t.kind = Tok::kGe;
            len = 2;
          }
          break;
        case '&':
          if (c2 != '&') return err.At(i, "unexpected '&'", " (did you mean '&&'?)");
          t.kind = Tok::kAndAnd;
          len = 2;
          break;
        case '|':
          if (c2 != '|') return err.At(i, "unexpected '|'", " (did you mean '||'?)");
          t.kind = Tok::kOrOr;
          len = 2;
          break;
        default:
          return err.At(i, absl::StrCat("unexpected character '", Sv(text.substr(i, 1)), "'"));
      }
      i += len;
    }
    t.end = i;
    tokens->push_back(std::move(t));
  }
}

}  // namespace internal
}  // namespace sluice::operators::expr
