// The word-at-a-time scalar helpers json_parse inlines into its per-line loop: the JSON
// type of a value by its first byte, a backslash scan of 8 bytes at a time, small
// integers parsed 8 digits per step, and numbers written as JSON strings ("2.5").
//
// Several of them read whole 8-byte words past the end of their argument; each says so
// in a REQUIRES. Pure functions; safe from any thread.
#pragma once

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice::operators::parse::internal {

inline bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The JSON type a value starting with byte `c` has, by table.
enum class JsonKind : uint8_t { kInvalid, kString, kNumber, kBool, kNull, kObject, kArray };
struct JsonKindTable {
  JsonKind kinds[256] = {};
  constexpr JsonKindTable() {
    kinds[static_cast<unsigned char>('"')] = JsonKind::kString;
    kinds[static_cast<unsigned char>('-')] = JsonKind::kNumber;
    for (char c = '0'; c <= '9'; ++c) kinds[static_cast<unsigned char>(c)] = JsonKind::kNumber;
    kinds[static_cast<unsigned char>('t')] = JsonKind::kBool;
    kinds[static_cast<unsigned char>('f')] = JsonKind::kBool;
    kinds[static_cast<unsigned char>('n')] = JsonKind::kNull;
    kinds[static_cast<unsigned char>('{')] = JsonKind::kObject;
    kinds[static_cast<unsigned char>('[')] = JsonKind::kArray;
  }
};
constexpr JsonKindTable kJsonKinds;
inline JsonKind KindOf(char c) { return kJsonKinds.kinds[static_cast<unsigned char>(c)]; }

// The word-at-a-time helpers below read 8 bytes as a little-endian integer.
static_assert(std::endian::native == std::endian::little, "json_parse assumes little-endian");
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = kOnes << 7;

inline uint64_t Load8(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;  // little-endian: p[0] is the low byte
}

// True if `s` holds a backslash. Reads whole 8-byte words, up to 7 bytes past the end
// of `s`. REQUIRES: those bytes are readable (s lies in a line with padding after it).
inline bool HasBackslash(std::string_view s) {
  constexpr uint64_t kBackslashes = kOnes * '\\';
  for (size_t i = 0; i < s.size(); i += 8) {
    const uint64_t x = Load8(s.data() + i) ^ kBackslashes;  // zero bytes at backslashes
    uint64_t found = (x - kOnes) & ~x & kHighBits;
    if (s.size() - i < 8) found &= (uint64_t{1} << (8 * (s.size() - i))) - 1;  // in `s` only
    if (found != 0) return true;
  }
  return false;
}

// The value of 8 ASCII digits in a little-endian word, or -1 if one is not a digit.
inline int64_t EightDigits(uint64_t word) {
  const uint64_t digits = word - kOnes * '0';
  // A byte is a digit if it was >= '0' (no borrow into the high bit) and its value <= 9.
  if (((digits | (digits + kOnes * 0x76)) & kHighBits) != 0) return -1;
  uint64_t v = (digits * 10 + (digits >> 8)) & 0x00ff00ff00ff00ffULL;
  v = (v * 100 + (v >> 16)) & 0x0000ffff0000ffffULL;
  v = (v * 10000 + (v >> 32)) & 0xffffffffULL;
  return static_cast<int64_t>(v);
}

// The value of the first `n` (1..8) ASCII digits at `p`, or -1 if one is not a digit.
// Reads 8 bytes. REQUIRES: p[0..7] readable.
inline int64_t LeadingDigits(const char* p, size_t n) {
  const unsigned shift = 8 * static_cast<unsigned>(8 - n);
  // Move the n digits to the top bytes (the last ones, in number order) and fill the
  // bottom with '0's, which add nothing.
  const uint64_t zeros = shift == 0 ? 0 : (kOnes * '0') >> (64 - shift);
  return EightDigits((Load8(p) << shift) | zeros);
}

// Parses `-?(0|[1-9][0-9]*)` of at most 16 digits; false for anything else (fractions,
// exponents, bigger numbers, invalid numbers), left to slower parsers. Branch-light:
// one or two 8-digit steps. REQUIRES: the 8 bytes from text's start are readable.
inline bool SmallIntText(std::string_view text, int64_t* out) {
  const bool negative = !text.empty() && text[0] == '-';
  text.remove_prefix(negative);
  const size_t n = text.size();
  if (n == 0 || n > 16 || (text[0] == '0' && n > 1)) return false;
  int64_t value;
  if (n <= 8) {
    value = LeadingDigits(text.data(), n);
    if (value < 0) return false;
  } else {
    const int64_t high = LeadingDigits(text.data(), n - 8);
    const int64_t low = EightDigits(Load8(text.data() + n - 8));
    if ((high | low) < 0) return false;
    value = high * 100000000 + low;
  }
  *out = negative ? -value : value;
  return true;
}

// SmallIntText for a JSON number token (which may end with whitespace).
inline bool SmallInt(std::string_view token, int64_t* out) {
  if (!token.empty() && static_cast<unsigned char>(token.back() - '0') > 9) {
    while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
  }
  return SmallIntText(token, out);
}

// Converts an integral double within int64 range.
inline bool IntegralDouble(double d, int64_t* out) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || std::trunc(d) != d) {
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

// Text of a JSON string read as a number ("1469118480000", "2.5", "1e3").
inline bool TextToDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && ptr == end && std::isfinite(*out);
}
inline bool TextToInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  if (ec == std::errc() && ptr == end) return true;
  double d;
  return TextToDouble(s, &d) && IntegralDouble(d, out);
}

}  // namespace sluice::operators::parse::internal
