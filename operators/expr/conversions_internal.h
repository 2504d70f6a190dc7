// Values to and from text (internal to operators/expr): parsing of numbers, bools and
// ISO 8601 timestamps, formatting of numbers and timestamps, and UTF-8 character
// counting. Used by the cast and string nodes (per row) and by the compiler (for
// constants), so the helpers are inline here, as they were when all lived in one file.
// Pure functions: safe from any thread.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/civil_days.h"
#include "common/strings.h"
#include "sluice/record.h"

namespace sluice::operators::expr {
namespace internal {

inline std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

inline bool ParseInt64(std::string_view s, int64_t* v) {
  s = TrimAscii(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

inline bool ParseDouble(std::string_view s, double* v) {
  s = TrimAscii(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

// Doubles in [-2^63, 2^63) truncate toward zero; others (and NaN) fail.
inline bool DoubleToInt64(double d, int64_t* v) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  *v = static_cast<int64_t>(d);
  return true;
}

// "123" → 123; "12.7" → 12.
inline bool ParseInt64Lenient(std::string_view s, int64_t* v) {
  if (ParseInt64(s, v)) return true;
  double d;
  return ParseDouble(s, &d) && DoubleToInt64(d, v);
}

inline bool ParseBool(std::string_view s, int64_t* v) {
  s = TrimAscii(s);
  if (s == "1" || absl::EqualsIgnoreCase(Sv(s), "true")) {
    *v = 1;
  } else if (s == "0" || absl::EqualsIgnoreCase(Sv(s), "false")) {
    *v = 0;
  } else {
    return false;
  }
  return true;
}

// Reads exactly `digits` decimal digits at s[*i].
inline bool ReadDigits(std::string_view s, size_t* i, int digits, int* out) {
  int v = 0;
  for (int k = 0; k < digits; ++k) {
    if (*i >= s.size() || !absl::ascii_isdigit(static_cast<unsigned char>(s[*i]))) return false;
    v = v * 10 + (s[(*i)++] - '0');
  }
  *out = v;
  return true;
}

// ISO 8601: YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|±HH[:]MM|±HH]; no zone means UTC.
inline bool ParseIsoTimestamp(std::string_view s, int64_t* ms) {
  size_t i = 0;
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(s, &i, 4, &year) || i >= s.size() || s[i++] != '-' ||
      !ReadDigits(s, &i, 2, &month) || i >= s.size() || s[i++] != '-' ||
      !ReadDigits(s, &i, 2, &day)) {
    return false;
  }
  static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > kDaysIn[month - 1] + (month == 2 && IsLeapYear(year) ? 1 : 0)) return false;
  int64_t frac_ms = 0;
  int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    ++i;
    if (!ReadDigits(s, &i, 2, &hour) || i >= s.size() || s[i++] != ':' ||
        !ReadDigits(s, &i, 2, &minute)) {
      return false;
    }
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!ReadDigits(s, &i, 2, &second)) return false;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        ++i;
        int digits = 0;
        while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
          if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
          ++digits;
          ++i;
        }
        if (digits == 0) return false;
        for (int k = digits; k < 3; ++k) frac_ms *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return false;
    if (i < s.size()) {
      if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        const int sign = s[i++] == '-' ? -1 : 1;
        int oh, om = 0;
        if (!ReadDigits(s, &i, 2, &oh)) return false;
        if (i < s.size() && s[i] == ':') ++i;
        if (i < s.size() && !ReadDigits(s, &i, 2, &om)) return false;
        if (oh > 23 || om > 59) return false;
        offset_min = sign * (oh * 60 + om);
      }
    }
  }
  if (i != s.size()) return false;
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  *ms = secs * 1000 + frac_ms;
  return true;
}

// Integer milliseconds since the epoch, or ISO 8601.
inline bool ParseTimestamp(std::string_view s, int64_t* ms) {
  s = TrimAscii(s);
  return ParseInt64(s, ms) || ParseIsoTimestamp(s, ms);
}

// Writes `v` as `width` decimal digits (zero-padded) at p.
inline char* PutDigits(char* p, unsigned v, int width) {
  for (int k = width - 1; k >= 0; --k) {
    p[k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// "2024-01-02T03:04:05.678Z" (UTC).
inline std::string_view FormatTimestamp(int64_t ms, Arena* arena) {
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    --days;
  }
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  const unsigned msec = static_cast<unsigned>(rem);
  char buf[64];
  char* p = buf;
  if (y >= 0 && y <= 9999) {
    p = PutDigits(p, static_cast<unsigned>(y), 4);
  } else {
    p += std::snprintf(p, 24, "%lld", static_cast<long long>(y));
  }
  *p++ = '-';
  p = PutDigits(p, m, 2);
  *p++ = '-';
  p = PutDigits(p, d, 2);
  *p++ = 'T';
  p = PutDigits(p, msec / 3600000, 2);
  *p++ = ':';
  p = PutDigits(p, msec / 60000 % 60, 2);
  *p++ = ':';
  p = PutDigits(p, msec / 1000 % 60, 2);
  *p++ = '.';
  p = PutDigits(p, msec % 1000, 3);
  *p++ = 'Z';
  return arena->Copy(std::string_view(buf, static_cast<size_t>(p - buf)));
}

template <typename T>
std::string_view FormatNumber(T v, Arena* arena) {
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return arena->Copy(std::string_view(buf, static_cast<size_t>(p - buf)));
}

inline size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The byte offset `count` code points after byte offset `from` (at most s.size()).
inline size_t Utf8Skip(std::string_view s, size_t from, int64_t count) {
  size_t i = from;
  while (count > 0 && i < s.size()) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    --count;
  }
  return i;
}

}  // namespace internal
}  // namespace sluice::operators::expr
