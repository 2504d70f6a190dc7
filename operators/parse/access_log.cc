#include "operators/parse/access_log.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sluice::operators::parse {

namespace {

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
inline bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }
inline int Digit(char c) { return c - '0'; }

// Reads exactly two ASCII digits at `p`; returns -1 if either is not a digit.
inline int TwoDigits(const char* p) {
  if (!IsDigit(p[0]) || !IsDigit(p[1])) return -1;
  return Digit(p[0]) * 10 + Digit(p[1]);
}

// 1..12 for the English abbreviations "Jan".."Dec" (case-sensitive), 0 otherwise.
int MonthFromName(const char* p) {
  switch (p[0]) {
    case 'J':
      if (p[1] == 'a' && p[2] == 'n') return 1;
      if (p[1] == 'u' && p[2] == 'n') return 6;
      if (p[1] == 'u' && p[2] == 'l') return 7;
      return 0;
    case 'F':
      return p[1] == 'e' && p[2] == 'b' ? 2 : 0;
    case 'M':
      if (p[1] != 'a') return 0;
      if (p[2] == 'r') return 3;
      if (p[2] == 'y') return 5;
      return 0;
    case 'A':
      if (p[1] == 'p' && p[2] == 'r') return 4;
      if (p[1] == 'u' && p[2] == 'g') return 8;
      return 0;
    case 'S':
      return p[1] == 'e' && p[2] == 'p' ? 9 : 0;
    case 'O':
      return p[1] == 'c' && p[2] == 't' ? 10 : 0;
    case 'N':
      return p[1] == 'o' && p[2] == 'v' ? 11 : 0;
    case 'D':
      return p[1] == 'e' && p[2] == 'c' ? 12 : 0;
    default:
      return 0;
  }
}

// Parses the 31 bytes ` [DD/Mon/YYYY:HH:MM:SS +HHMM] "` at `p` into UTC ms.
bool ParseTimeBlock(const char* p, int64_t* time_ms) {
  if (p[0] != ' ' || p[1] != '[' || p[4] != '/' || p[8] != '/' || p[13] != ':' || p[16] != ':' ||
      p[19] != ':' || p[22] != ' ' || p[28] != ']' || p[29] != ' ' || p[30] != '"') {
    return false;
  }
  const int day = TwoDigits(p + 2);
  const int month = MonthFromName(p + 5);
  const int year_hi = TwoDigits(p + 9);
  const int year_lo = TwoDigits(p + 11);
  const int hour = TwoDigits(p + 14);
  const int minute = TwoDigits(p + 17);
  const int second = TwoDigits(p + 20);
  const char sign = p[23];
  const int zone_hours = TwoDigits(p + 24);
  const int zone_minutes = TwoDigits(p + 26);
  if (day < 1 || month == 0 || year_hi < 0 || year_lo < 0 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 59 || (sign != '+' && sign != '-') || zone_hours < 0 ||
      zone_hours > 14 || zone_minutes < 0 || zone_minutes > 59) {
    return false;
  }
  const int year = year_hi * 100 + year_lo;
  if (day > DaysInMonth(year, month)) return false;
  const int64_t offset_sec = (zone_hours * 3600 + zone_minutes * 60) * (sign == '-' ? -1 : 1);
  const int64_t local_sec =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  *time_ms = (local_sec - offset_sec) * 1000;
  return true;
}

// Splits `METHOD TARGET PROTOCOL` (see the header for the rules).
bool ParseRequest(const char* p, const char* end, AccessLogEntry* e) {
  const char* start = p;
  while (p < end && *p >= 'A' && *p <= 'Z') ++p;
  if (p == start || p == end || *p != ' ') return false;
  e->method = std::string_view(start, p - start);
  start = ++p;
  while (p < end && *p != ' ') ++p;
  if (p == start || p == end) return false;
  e->target = std::string_view(start, p - start);
  start = ++p;
  const size_t protocol_len = end - start;
  if (protocol_len < 5 || std::memcmp(start, "HTTP/", 5) != 0 ||
      std::memchr(start, ' ', protocol_len) != nullptr) {
    return false;
  }
  e->protocol = std::string_view(start, protocol_len);
  const size_t q = e->target.find('?');
  e->has_query = q != std::string_view::npos;
  if (e->has_query) {
    e->path = e->target.substr(0, q);
    e->query = e->target.substr(q + 1);
  } else {
    e->path = e->target;
    e->query = {};
  }
  return true;
}

// Reads a quoted field `"..."` (no '"' inside) starting at the opening quote `*p`.
// On success `*p` points past the closing quote.
bool QuotedField(const char** p, const char* end, std::string_view* out) {
  const char* s = *p;
  if (s >= end || *s != '"') return false;
  ++s;
  const char* q = static_cast<const char*>(std::memchr(s, '"', end - s));
  if (q == nullptr) return false;
  *out = std::string_view(s, q - s);
  *p = q + 1;
  return true;
}

}  // namespace

bool ParseAccessLogLine(std::string_view line, AccessLogFormat format, AccessLogEntry* e) {
  size_t n = line.size();
  if (n > 0 && line[n - 1] == '\r') --n;  // one, as a CRLF line ending leaves
  const char* p = line.data();
  const char* const end = p + n;

  // $remote_addr - $remote_user
  const char* start = p;
  while (p < end && !IsSpace(*p)) ++p;
  if (p == start) return false;
  e->remote_addr = std::string_view(start, p - start);
  if (end - p < 3 || p[0] != ' ' || p[1] != '-' || p[2] != ' ') return false;
  p += 3;
  start = p;
  while (p < end && !IsSpace(*p)) ++p;
  if (p == start) return false;
  e->remote_user = std::string_view(start, p - start);
  e->remote_user_is_null = e->remote_user == "-";

  // ` [$time_local] "`
  constexpr std::ptrdiff_t kTimeBlockSize = 31;
  if (end - p < kTimeBlockSize || !ParseTimeBlock(p, &e->time_ms)) return false;
  p += kTimeBlockSize - 1;  // at the request's opening quote

  // "$request"
  std::string_view request;
  if (!QuotedField(&p, end, &request)) return false;
  if (!ParseRequest(request.data(), request.data() + request.size(), e)) return false;

  // ` $status $body_bytes_sent`
  if (end - p < 6 || p[0] != ' ' || !IsDigit(p[1]) || !IsDigit(p[2]) || !IsDigit(p[3]) ||
      p[4] != ' ') {
    return false;
  }
  e->status = Digit(p[1]) * 100 + Digit(p[2]) * 10 + Digit(p[3]);
  p += 5;
  if (*p == '-') {
    e->bytes = 0;
    ++p;
  } else {
    start = p;
    int64_t bytes = 0;
    bool overflow = false;
    while (p < end && IsDigit(*p)) {
      overflow = overflow || __builtin_mul_overflow(bytes, 10, &bytes) ||
                 __builtin_add_overflow(bytes, Digit(*p), &bytes);
      ++p;
    }
    if (p == start) return false;
    e->bytes = overflow ? INT64_MAX : bytes;  // any \d+ is well formed
  }

  if (format == AccessLogFormat::kCommon) {
    e->referer = {};
    e->referer_is_null = true;
    e->user_agent = {};
    return p == end;
  }

  // ` "$http_referer" "$http_user_agent"` and the end of the line.
  if (p >= end || *p != ' ') return false;
  ++p;
  if (!QuotedField(&p, end, &e->referer)) return false;
  e->referer_is_null = e->referer == "-";
  if (p >= end || *p != ' ') return false;
  ++p;
  if (!QuotedField(&p, end, &e->user_agent)) return false;
  return p == end;
}

}  // namespace sluice::operators::parse
