#include "operators/hive/hive_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <system_error>

#include "common/civil_days.h"

namespace sluice::hive {
namespace {

constexpr char kSep = '\x01';
constexpr char kEscape = '\\';
constexpr std::string_view kNullText = "\\N";

// For each byte: 0 if it is written as is, else the byte written after the escape char.
constexpr std::array<char, 256> kEscapeTable = [] {
  std::array<char, 256> t{};
  t[0x01] = '\x01';
  t[0x02] = '\x02';
  t[0x03] = '\x03';
  t['\\'] = '\\';
  t['\n'] = 'n';
  t['\r'] = 'r';
  return t;
}();

void AppendEscaped(std::string_view s, std::string* out) {
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p;  // start of the bytes not yet appended
  for (; p < end; ++p) {
    const char e = kEscapeTable[static_cast<unsigned char>(*p)];
    if (e == 0) continue;
    out->append(run, static_cast<size_t>(p - run));
    const char pair[2] = {kEscape, e};
    out->append(pair, 2);
    run = p + 1;
  }
  out->append(run, static_cast<size_t>(end - run));
}

char* Put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

void AppendTimestamp(int64_t ms, std::string* out) {
  // Floor division, so times before 1970 get a positive millisecond part.
  int64_t secs = ms / 1000;
  int frac = static_cast<int>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  int64_t days = secs / 86400;
  int sod = static_cast<int>(secs % 86400);
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  int64_t year;
  int month, day;
  CivilFromDays(days, &year, &month, &day);

  char buf[48];
  char* p = buf;
  if (year >= 0 && year <= 9999) {
    const int y = static_cast<int>(year);
    p = Put2(p, y / 100);
    p = Put2(p, y % 100);
  } else {
    // Outside Hive's range (0001-9999); written so that AppendLine reads it back.
    if (year < 0) *p++ = '-';
    const uint64_t mag = year < 0 ? 0 - static_cast<uint64_t>(year) : static_cast<uint64_t>(year);
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof(digits), mag);
    for (ptrdiff_t pad = 4 - (r.ptr - digits); pad > 0; --pad) *p++ = '0';
    std::memcpy(p, digits, static_cast<size_t>(r.ptr - digits));
    p += r.ptr - digits;
  }
  *p++ = '-';
  p = Put2(p, month);
  *p++ = '-';
  p = Put2(p, day);
  *p++ = ' ';
  p = Put2(p, sod / 3600);
  *p++ = ':';
  p = Put2(p, sod / 60 % 60);
  *p++ = ':';
  p = Put2(p, sod % 60);
  if (frac != 0) {
    *p++ = '.';
    *p++ = static_cast<char>('0' + frac / 100);
    p = Put2(p, frac % 100);
  }
  out->append(buf, static_cast<size_t>(p - buf));
}

void AppendDouble(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("NaN");
  } else if (std::isinf(d)) {
    out->append(d > 0 ? "Infinity" : "-Infinity");
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof(buf), d);
    out->append(buf, static_cast<size_t>(r.ptr - buf));
  }
}

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// An optionally signed run of decimal digits, the whole of `s`, that fits int64.
bool ParseDecimal(std::string_view s, int64_t* v) {
  const char* p = s.data();
  const char* end = p + s.size();
  if (p < end && *p == '+') {
    ++p;  // from_chars takes '-' but not '+'
    if (p == end || !IsDigit(*p)) return false;
  } else if (p == end || !(IsDigit(*p) || (*p == '-' && p + 1 < end && IsDigit(p[1])))) {
    return false;
  }
  const auto r = std::from_chars(p, end, *v);
  return r.ec == std::errc() && r.ptr == end;
}

// BIGINT as Hive's LazyLong reads it: an optional sign, digits, and an optional '.'
// followed only by digits, which are dropped ("12.7" is 12).
bool ParseBigint(std::string_view s, int64_t* v) {
  const size_t dot = s.find('.');
  if (dot != std::string_view::npos) {
    for (size_t i = dot + 1; i < s.size(); ++i) {
      if (!IsDigit(s[i])) return false;
    }
    s = s.substr(0, dot);
  }
  return ParseDecimal(s, v);
}

// BOOLEAN as Hive's LazyBoolean reads it: true or false, in any case.
bool ParseBool(std::string_view s, int64_t* v) {
  auto equals_lower = [&](std::string_view word) {
    if (s.size() != word.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      if ((s[i] | 0x20) != word[i]) return false;
    }
    return true;
  };
  if (equals_lower("true")) {
    *v = 1;
  } else if (equals_lower("false")) {
    *v = 0;
  } else {
    return false;
  }
  return true;
}

// DOUBLE as Java's Double.parseDouble reads it (Hive's LazyDouble): surrounding
// whitespace and control bytes ignored, an optional sign, then NaN, Infinity, or a
// decimal number with an optional exponent and an optional d/D/f/F suffix. Values too
// large for a double are infinite, too small ones zero. Hex floats are not accepted.
bool ParseDouble(std::string_view s, double* v) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "NaN") {
    *v = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "Infinity") {
    *v = negative ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  if (!s.empty() && (s.back() == 'd' || s.back() == 'D' || s.back() == 'f' || s.back() == 'F')) {
    s.remove_suffix(1);
  }
  // from_chars would also take "inf", "nan" and a second sign; Java does not.
  if (s.empty() || !(IsDigit(s.front()) || s.front() == '.')) return false;
  double d = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ptr != s.data() + s.size()) return false;
  if (r.ec == std::errc::result_out_of_range) {
    // The syntax is valid; strtod rounds to infinity or zero as Java does.
    char buf[512];
    if (s.size() >= sizeof(buf)) return false;
    std::memcpy(buf, s.data(), s.size());
    buf[s.size()] = '\0';
    d = std::strtod(buf, nullptr);
  } else if (r.ec != std::errc()) {
    return false;
  }
  *v = negative ? -d : d;
  return true;
}

// Parses `len` digits at s[*pos] into *v and advances *pos.
bool ParseDigits(std::string_view s, size_t* pos, size_t len, int* v) {
  if (s.size() - *pos < len) return false;
  int x = 0;
  for (size_t i = *pos; i < *pos + len; ++i) {
    if (!IsDigit(s[i])) return false;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  *pos += len;
  return true;
}

// TIMESTAMP: "YYYY-MM-DD[( |T)HH:MM:SS[.f{1,9}]]" in UTC (digits past milliseconds are
// dropped), or an integer of milliseconds since the epoch. Also reads the years outside
// 0000-9999 that AppendTimestamp writes ("-0001-...", "10000-...").
bool ParseTimestamp(std::string_view s, int64_t* ms) {
  if (ParseDecimal(s, ms)) return true;
  size_t pos = 0;
  const bool negative_year = !s.empty() && s[0] == '-';
  if (negative_year) ++pos;
  int64_t year = 0;
  size_t year_digits = 0;
  while (pos < s.size() && IsDigit(s[pos]) && year_digits < 10) {
    year = year * 10 + (s[pos] - '0');
    ++pos;
    ++year_digits;
  }
  if (year_digits < 4 || pos >= s.size() || s[pos] != '-') return false;
  if (negative_year) year = -year;
  ++pos;
  int month, day, hour = 0, minute = 0, second = 0, frac = 0;
  if (!ParseDigits(s, &pos, 2, &month) || month < 1 || month > 12) return false;
  if (pos >= s.size() || s[pos] != '-') return false;
  ++pos;
  if (!ParseDigits(s, &pos, 2, &day) || day < 1 || day > DaysInMonth(year, month)) return false;
  if (pos < s.size()) {
    if (s[pos] != ' ' && s[pos] != 'T') return false;
    ++pos;
    if (!ParseDigits(s, &pos, 2, &hour) || hour > 23) return false;
    if (pos >= s.size() || s[pos] != ':') return false;
    ++pos;
    if (!ParseDigits(s, &pos, 2, &minute) || minute > 59) return false;
    if (pos >= s.size() || s[pos] != ':') return false;
    ++pos;
    if (!ParseDigits(s, &pos, 2, &second) || second > 59) return false;
    if (pos < s.size()) {
      if (s[pos] != '.') return false;
      ++pos;
      const size_t digits = s.size() - pos;
      if (digits < 1 || digits > 9) return false;
      for (size_t i = 0; i < digits; ++i) {
        if (!IsDigit(s[pos + i])) return false;
        if (i < 3) frac = frac * 10 + (s[pos + i] - '0');
      }
      for (size_t i = digits; i < 3; ++i) frac *= 10;
    }
  }
  const int64_t secs = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  // secs * 1000 + frac without overflowing on the way to the earliest representable time.
  const int64_t base = secs < 0 && frac > 0 ? secs + 1 : secs;
  const int64_t rest = secs < 0 && frac > 0 ? frac - 1000 : frac;
  int64_t out;
  if (__builtin_mul_overflow(base, int64_t{1000}, &out) || __builtin_add_overflow(out, rest, &out)) return false;
  *ms = out;
  return true;
}

// The end of the field starting at `p`: the first unescaped separator, or `end`.
// Sets *escaped if the field contains the escape char.
const char* FieldEnd(const char* p, const char* end, bool* escaped) {
  *escaped = false;
  if (p == end) return end;
  const void* sep = std::memchr(p, kSep, static_cast<size_t>(end - p));
  const char* field_end = sep != nullptr ? static_cast<const char*>(sep) : end;
  const void* esc = std::memchr(p, kEscape, static_cast<size_t>(field_end - p));
  if (esc == nullptr) return field_end;
  // Escaped field (rare): walk it, skipping the byte after each escape char.
  *escaped = true;
  for (p = static_cast<const char*>(esc); p < end;) {
    if (*p == kEscape && p + 1 < end) {
      p += 2;
    } else if (*p == kSep) {
      return p;
    } else {
      ++p;
    }
  }
  return end;
}

// Unescapes `field` into arena memory: "\n" and "\r" become newline and carriage return,
// '\' followed by any other byte becomes that byte, and a final lone '\' stays.
std::string_view Unescape(std::string_view field, Arena& arena) {
  char* const out = arena.Allocate(field.size());
  char* o = out;
  const char* p = field.data();
  const char* const end = p + field.size();
  while (p < end) {
    const void* esc = std::memchr(p, kEscape, static_cast<size_t>(end - p));
    const char* stop = esc != nullptr ? static_cast<const char*>(esc) : end;
    std::memcpy(o, p, static_cast<size_t>(stop - p));
    o += stop - p;
    p = stop;
    if (p == end) break;
    if (p + 1 == end) {
      *o++ = kEscape;
      break;
    }
    const char c = p[1];
    *o++ = c == 'n' ? '\n' : c == 'r' ? '\r' : c;
    p += 2;
  }
  return {out, static_cast<size_t>(o - out)};
}

}  // namespace

std::string_view HiveTypeName(Type t) {
  switch (t) {
    case Type::kBool:
      return "BOOLEAN";
    case Type::kInt64:
      return "BIGINT";
    case Type::kDouble:
      return "DOUBLE";
    case Type::kTimestamp:
      return "TIMESTAMP";
    case Type::kString:
    case Type::kNull:
      break;
  }
  return "STRING";
}

void AppendRow(const RecordBatch& batch, size_t row, const std::vector<int>& columns, std::string* out) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out->push_back(kSep);
    const Column& col = batch.column(columns[i]);
    if (col.IsNull(row)) {
      out->append(kNullText);
      continue;
    }
    switch (col.type) {
      case Type::kString:
        AppendEscaped(col.strings[row], out);
        break;
      case Type::kInt64:
        AppendInt(col.ints[row], out);
        break;
      case Type::kBool:
        out->append(col.ints[row] != 0 ? "true" : "false");
        break;
      case Type::kTimestamp:
        AppendTimestamp(col.ints[row], out);
        break;
      case Type::kDouble:
        AppendDouble(col.doubles[row], out);
        break;
      case Type::kNull:
        out->append(kNullText);
        break;
    }
  }
  out->push_back('\n');
}

void HiveTextDecoder::AppendLine(std::string_view line, bool line_is_stable, RecordBatch* batch, bool* bad) const {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  bool any_bad = false;
  const size_t row = batch->num_rows();
  const int num_fields = schema_->num_fields();
  const char* p = line.data();
  const char* const end = p + line.size();
  bool present = true;  // a field starts at p
  for (int c = 0; c < num_fields; ++c) {
    Column& col = batch->column(c);
    std::string_view field;
    bool escaped = false;
    if (present) {
      const char* field_end = FieldEnd(p, end, &escaped);
      field = std::string_view(p, static_cast<size_t>(field_end - p));
      present = field_end < end;  // another field follows the separator
      p = field_end + (present ? 1 : 0);
    } else {
      field = kNullText;  // missing trailing field
    }
    bool is_null = field == kNullText;
    switch (col.type) {
      case Type::kString:
        if (is_null) {
          col.strings.emplace_back();
        } else if (escaped) {
          col.strings.push_back(Unescape(field, batch->arena()));
        } else {
          col.strings.push_back(line_is_stable ? field : batch->arena().Copy(field));
        }
        break;
      case Type::kInt64:
      case Type::kBool:
      case Type::kTimestamp: {
        int64_t v = 0;
        if (!is_null && field.empty()) {
          is_null = true;
        } else if (!is_null) {
          const bool ok = col.type == Type::kInt64  ? ParseBigint(field, &v)
                          : col.type == Type::kBool ? ParseBool(field, &v)
                                                    : ParseTimestamp(field, &v);
          if (!ok) {
            any_bad = true;
            is_null = true;
            v = 0;
          }
        }
        col.ints.push_back(v);
        break;
      }
      case Type::kDouble: {
        double d = 0;
        if (!is_null && field.empty()) {
          is_null = true;
        } else if (!is_null && !ParseDouble(field, &d)) {
          any_bad = true;
          is_null = true;
          d = 0;
        }
        col.doubles.push_back(d);
        break;
      }
      case Type::kNull:
        is_null = true;
        break;
    }
    if (is_null) {
      col.SetNull(row, row + 1);
    } else if (!col.nulls.empty()) {
      col.nulls.resize(row + 1, 0);
    }
  }
  batch->timestamps().push_back(kNoTimestamp);
  batch->set_num_rows(row + 1);
  if (bad != nullptr) *bad = any_bad;
}

}  // namespace sluice::hive
