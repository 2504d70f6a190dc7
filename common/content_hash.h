// Content hashes: the name under which a shipped artifact (an operator plugin) is
// stored by the coordinator and cached by workers. 128-bit XXH3 as 32 lowercase hex
// digits. Not a cryptographic hash: it detects damaged or mislabelled files, not
// tampering (that needs authenticated transport, a later step).
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

// The hash of `content`: 32 lowercase hex digits.
std::string ContentHash(std::string_view content);

// True when `hash` has the shape ContentHash produces (so it is safe as a file name:
// no '/', no "..").
bool IsContentHash(std::string_view hash);

}  // namespace sluice
