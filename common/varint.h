// LEB128 varints and length-prefixed bytes, as the state formats write them
// (runtime/state/keyed_states.h, common/native_state.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Consumes a varint from `in`; false if it is truncated or longer than 64 bits.
inline bool GetVarint(std::string_view& in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

inline void PutBytes(std::string& out, std::string_view b) {
  PutVarint(out, b.size());
  out.append(b.data(), b.size());
}

// Consumes a length-prefixed string; `*out` views `in`.
inline bool GetBytes(std::string_view& in, std::string_view* out) {
  uint64_t n;
  if (!GetVarint(in, &n) || n > in.size()) return false;
  *out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace sluice
