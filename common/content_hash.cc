#include "common/content_hash.h"

#include <xxhash.h>

#include "absl/strings/str_format.h"

namespace sluice {

std::string ContentHash(std::string_view content) {
  XXH128_hash_t h = XXH3_128bits(content.data(), content.size());
  return absl::StrFormat("%016x%016x", h.high64, h.low64);
}

bool IsContentHash(std::string_view hash) {
  if (hash.size() != 32) return false;
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace sluice
