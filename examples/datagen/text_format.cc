#include "examples/datagen/text_format.h"

#include <charconv>

#include "common/civil_days.h"

namespace sluice::datagen {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, res.ptr);
}

void Append2(std::string* out, int v) {
  char buf[2] = {static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
  out->append(buf, 2);
}

void AppendHex2(std::string* out, unsigned v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  char buf[4] = {'\\', 'x', kHex[(v >> 4) & 15], kHex[v & 15]};
  out->append(buf, 4);
}

std::string MakeUuid(Rng& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t a = rng.Next(), b = rng.Next();
  std::string s(36, '-');
  int bit = 0;
  for (int i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    uint64_t word = bit < 64 ? a : b;
    s[i] = kHex[(word >> (bit % 64)) & 15];
    bit += 4;
  }
  s[14] = '4';
  s[19] = kHex[8 + ((b >> 60) & 3)];
  return s;
}

std::string MakeIpv4(uint64_t r) {
  // First octet from common public ranges (avoid 0, 10, 127, 169.254, 172.16/12,
  // 192.168, multicast and reserved).
  static constexpr int kFirst[] = {1,   5,   14,  23,  27,  31,  36,  37,  39,  42,  45,  46,  49,
                                   58,  59,  60,  61,  66,  68,  71,  73,  77,  78,  81,  82,  85,
                                   86,  89,  91,  93,  95,  101, 103, 106, 110, 111, 112, 113, 114,
                                   115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 139, 140,
                                   171, 175, 176, 178, 180, 182, 183, 185, 188, 193, 194, 195, 198,
                                   203, 210, 211, 212, 213, 218, 219, 220, 221, 222, 223};
  constexpr size_t kNumFirst = sizeof(kFirst) / sizeof(kFirst[0]);
  std::string s;
  AppendInt(&s, kFirst[(r & 0xffff) % kNumFirst]);
  for (int i = 1; i < 4; ++i) {
    s.push_back('.');
    int octet = static_cast<int>((r >> (16 + 8 * i)) & 0xff);
    if (i == 3 && octet == 0) octet = 1;
    AppendInt(&s, octet);
  }
  return s;
}

std::string MakeIpv6(uint64_t r) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "2001:db8:";
  for (int g = 0; g < 3; ++g) {
    unsigned v = static_cast<unsigned>((r >> (16 * g)) & 0xffff);
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned nib = (v >> shift) & 15;
      if (nib == 0 && !started && shift != 0) continue;
      started = true;
      s.push_back(kHex[nib]);
    }
    s.append(g < 2 ? ":" : "::");
  }
  AppendInt(&s, static_cast<int64_t>((r >> 48) & 0xff) + 1);
  return s;
}

void AppendLocalTime(std::string* out, int64_t utc_ms, int64_t offset_sec) {
  int64_t local = FloorDiv(utc_ms, 1000) + offset_sec;
  int64_t days = FloorDiv(local, 86400);
  int64_t secs = local - days * 86400;
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  Append2(out, d);
  out->push_back('/');
  out->append(kMonths[m - 1], 3);
  out->push_back('/');
  AppendInt(out, y);
  out->push_back(':');
  Append2(out, static_cast<int>(secs / 3600));
  out->push_back(':');
  Append2(out, static_cast<int>(secs / 60 % 60));
  out->push_back(':');
  Append2(out, static_cast<int>(secs % 60));
}

}  // namespace sluice::datagen
