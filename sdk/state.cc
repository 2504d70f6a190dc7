// The SDK's part of keyed state (sluice/state.h): kind names and the key hash the
// runtime's key-by exchange and stateful operators share.
#include "sluice/state.h"

#include <xxhash.h>

#include "sluice/record.h"

namespace sluice {

std::string_view StateKindName(StateKind kind) {
  switch (kind) {
    case StateKind::kValue:
      return "value";
    case StateKind::kMap:
      return "map";
    case StateKind::kList:
      return "list";
  }
  return "unknown";
}

uint64_t HashKeyString(std::string_view value, uint64_t seed) {
  return XXH3_64bits_withSeed(value.data(), value.size(), seed);
}
uint64_t HashKeyInt(int64_t value, uint64_t seed) { return XXH3_64bits_withSeed(&value, sizeof(value), seed); }
uint64_t HashKeyDouble(double value, uint64_t seed) { return XXH3_64bits_withSeed(&value, sizeof(value), seed); }
uint64_t HashKeyNull(uint64_t seed) { return seed * 0x9E3779B97F4A7C15ULL + 0x5bd1e995; }

uint64_t HashKeyField(const Column& col, size_t row, uint64_t seed) {
  if (col.IsNull(row)) return HashKeyNull(seed);
  switch (col.type) {
    case Type::kString:
      return HashKeyString(col.strings[row], seed);
    case Type::kDouble:
      return HashKeyDouble(col.doubles[row], seed);
    case Type::kNull:
      return seed;
    default:
      return HashKeyInt(col.ints[row], seed);
  }
}

}  // namespace sluice
