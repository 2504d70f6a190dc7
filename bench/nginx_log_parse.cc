// The nginx baseline's hand-written line scanner: the strict combined-format parse
// (request time converted to UTC) and the nginx_pv_uv cleaning rules (bot, static
// asset), the same rules as tests/e2e/expected_nginx.py.
#include <algorithm>
#include <cstring>

#include "bench/nginx_baseline.h"
#include "common/civil_days.h"
#include "common/strings.h"

namespace nginx_baseline {
namespace {

inline bool IsSpace(char c) {  // the regex \S complement: [ \t\n\r\f\v]
  return c == ' ' || (c >= '\t' && c <= '\r');
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline int Digits2(const char* p) { return (p[0] - '0') * 10 + (p[1] - '0'); }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

int MonthFromName(const char* p) {
  static constexpr char kNames[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int i = 0; i < 12; ++i) {
    if (p[0] == kNames[3 * i] && p[1] == kNames[3 * i + 1] && p[2] == kNames[3 * i + 2]) {
      return i + 1;
    }
  }
  return 0;
}

// Parses "DD/Mon/YYYY:HH:MM:SS +HHMM" (exactly 26 bytes at p) to UTC ms.
bool ParseTime(const char* p, int64_t* utc_ms) {
  // Positions:  0123456789012345678901234 5
  //             DD/Mon/YYYY:HH:MM:SS +HHMM
  static constexpr int kDigitPos[] = {0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25};
  for (int i : kDigitPos) {
    if (!IsDigit(p[i])) return false;
  }
  if (p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':' || p[20] != ' ' ||
      (p[21] != '+' && p[21] != '-')) {
    return false;
  }
  int month = MonthFromName(p + 3);
  if (month == 0) return false;
  int day = Digits2(p);
  int64_t year = Digits2(p + 7) * 100 + Digits2(p + 9);
  int hour = Digits2(p + 12), minute = Digits2(p + 15), second = Digits2(p + 18);
  int zh = Digits2(p + 22), zm = Digits2(p + 24);
  if (day < 1 || day > sluice::DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 ||
      zh > 14 || zm > 59) {
    return false;
  }
  int64_t local = sluice::DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  int64_t offset = (p[21] == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  *utc_ms = (local - offset) * 1000;
  return true;
}

}  // namespace

bool ParseLine(std::string_view line, Parsed* out) {
  const char* p = line.data();
  const char* const e = p + line.size();
  // $remote_addr: \S+
  const char* s = p;
  while (p < e && !IsSpace(*p)) ++p;
  if (p == s) return false;
  out->addr = std::string_view(s, static_cast<size_t>(p - s));
  if (e - p < 3 || p[0] != ' ' || p[1] != '-' || p[2] != ' ') return false;
  p += 3;
  // $remote_user: \S+
  s = p;
  while (p < e && !IsSpace(*p)) ++p;
  if (p == s) return false;
  // " [" time "] \""
  if (e - p < 2 + 26 + 3 || p[0] != ' ' || p[1] != '[') return false;
  p += 2;
  if (!ParseTime(p, &out->event_ms)) return false;
  p += 26;
  if (p[0] != ']' || p[1] != ' ' || p[2] != '"') return false;
  p += 3;
  // "$request"
  s = p;
  const char* q = static_cast<const char*>(memchr(p, '"', static_cast<size_t>(e - p)));
  if (q == nullptr) return false;
  std::string_view request(s, static_cast<size_t>(q - s));
  p = q + 1;
  // " $status "
  if (e - p < 5 || p[0] != ' ' || !IsDigit(p[1]) || !IsDigit(p[2]) || !IsDigit(p[3]) ||
      p[4] != ' ') {
    return false;
  }
  p += 5;
  out->status = std::string_view(p - 4, 3);
  // $body_bytes_sent: \d+ or -
  if (p < e && *p == '-') {
    out->bytes = std::string_view(p, 1);
    ++p;
  } else {
    s = p;
    while (p < e && IsDigit(*p)) ++p;
    if (p == s) return false;
    out->bytes = std::string_view(s, static_cast<size_t>(p - s));
  }
  // ' "$http_referer" "'
  if (e - p < 2 || p[0] != ' ' || p[1] != '"') return false;
  p += 2;
  q = static_cast<const char*>(memchr(p, '"', static_cast<size_t>(e - p)));
  if (q == nullptr) return false;
  out->referer = std::string_view(p, static_cast<size_t>(q - p));
  p = q + 1;
  if (e - p < 2 || p[0] != ' ' || p[1] != '"') return false;
  p += 2;
  // "$http_user_agent" must end the line.
  q = static_cast<const char*>(memchr(p, '"', static_cast<size_t>(e - p)));
  if (q == nullptr || q + 1 != e) return false;
  out->user_agent = std::string_view(p, static_cast<size_t>(q - p));

  // Request: METHOD TARGET PROTOCOL, single spaces, three non-empty parts.
  size_t sp1 = request.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  for (size_t i = 0; i < sp1; ++i) {
    if (request[i] < 'A' || request[i] > 'Z') return false;
  }
  size_t sp2 = request.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  std::string_view protocol = request.substr(sp2 + 1);
  if (protocol.find(' ') != std::string_view::npos || protocol.substr(0, 5) != "HTTP/") {
    return false;
  }
  std::string_view target = request.substr(sp1 + 1, sp2 - sp1 - 1);
  const size_t qm = target.find('?');
  out->path = target.substr(0, qm);
  out->has_query = qm != std::string_view::npos;
  out->query = out->has_query ? target.substr(qm + 1) : std::string_view();
  out->method = request.substr(0, sp1);
  return true;
}

bool IsBot(std::string_view ua) {
  // (c | 0x20) == 'x' holds exactly for the two cases of the letter x.
  const size_t n = ua.size();
  for (size_t i = 0; i < n; ++i) {
    char c = static_cast<char>(ua[i] | 0x20);
    size_t left = n - i;
    if (c == 'b') {
      if (left >= 3 && (ua[i + 1] | 0x20) == 'o' && (ua[i + 2] | 0x20) == 't') return true;
    } else if (c == 's') {
      if (left >= 6 && (ua[i + 1] | 0x20) == 'p' && (ua[i + 2] | 0x20) == 'i' &&
          (ua[i + 3] | 0x20) == 'd' && (ua[i + 4] | 0x20) == 'e' && (ua[i + 5] | 0x20) == 'r') {
        return true;
      }
    } else if (c == 'c') {
      if (left >= 5 && (ua[i + 1] | 0x20) == 'r' && (ua[i + 2] | 0x20) == 'a' &&
          (ua[i + 3] | 0x20) == 'w' && (ua[i + 4] | 0x20) == 'l') {
        return true;
      }
    }
  }
  return false;
}

bool IsStaticAsset(std::string_view path) {
  if (path.substr(0, 8) == "/static/") return true;
  static constexpr std::string_view kExts[] = {".css", ".js",  ".png",  ".jpg",   ".jpeg", ".gif",
                                               ".ico", ".svg", ".woff", ".woff2", ".map"};
  char tail[6];
  size_t n = std::min<size_t>(path.size(), sizeof(tail));
  for (size_t i = 0; i < n; ++i) tail[i] = Lower(path[path.size() - n + i]);
  std::string_view lower_tail(tail, n);
  for (std::string_view ext : kExts) {
    if (lower_tail.size() >= ext.size() &&
        lower_tail.substr(lower_tail.size() - ext.size()) == ext) {
      return true;
    }
  }
  return false;
}

bool ParseAndCheckBot(std::string_view line, Parsed* parsed, absl::flat_hash_map<absl::string_view, bool>* bot_cache,
                      Counters* c) {
  ++c->lines;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!ParseLine(line, parsed)) {
    ++c->malformed;
    return false;
  }
  auto [it, new_agent] = bot_cache->try_emplace(sluice::Sv(parsed->user_agent), false);
  if (new_agent) it->second = IsBot(parsed->user_agent);
  if (it->second) {
    ++c->bot;
    return false;
  }
  return true;
}

}  // namespace nginx_baseline
