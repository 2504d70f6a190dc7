// Text pieces of generated lines, appended to a std::string whose capacity is reused:
// integers, two-digit fields, nginx's \xHH escapes, UUID-like ids, IP addresses and
// nginx's $time_local. Pure functions (the Rng is the caller's).
#pragma once

#include <cstdint>
#include <string>

#include "examples/datagen/rng.h"

namespace sluice::datagen {

void AppendInt(std::string* out, int64_t v);
// Two decimal digits of v (0..99).
void Append2(std::string* out, int v);
// "\xHH" with upper-case hex digits, the way nginx escapes a byte in its log.
void AppendHex2(std::string* out, unsigned v);

// 36-char UUID-like string (version 4 layout) from two 64-bit draws.
std::string MakeUuid(Rng& rng);
// A public-looking IPv4 address from one draw.
std::string MakeIpv4(uint64_t r);
// An IPv6 address under 2001:db8: from one draw.
std::string MakeIpv6(uint64_t r);

// Appends "DD/Mon/YYYY:HH:MM:SS" for UTC ms `utc_ms` shifted by `offset_sec`.
void AppendLocalTime(std::string* out, int64_t utc_ms, int64_t offset_sec);

}  // namespace sluice::datagen
