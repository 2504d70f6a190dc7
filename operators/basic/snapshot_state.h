// The snapshot blobs of the basic sources and sinks (file_source, generator,
// file_sink): "key value" text lines between a first line naming the operator and the
// format version ("sluice file_sink 1") and a last line "end <checksum>" (FNV-1a 64 of
// the bytes before it, 16 hex digits). A blob cut short or damaged thus fails the
// restore with DATA_LOSS naming the operator instead of resuming at a wrong position.
// Values may contain spaces (a path); keys may repeat (one "pending" line per file); a
// backslash or newline in a value is escaped (written \\ and \n). Plain functions, no
// shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::operators {

struct StateLine {
  std::string key;
  std::string value;
};

// Builds a blob: Add() lines in order, then Finish().
class StateWriter {
 public:
  // `kind` names the operator ("file_sink"); `version` the format.
  StateWriter(std::string_view kind, int version);
  void Add(std::string_view key, std::string_view value);
  void Add(std::string_view key, int64_t value);
  // The blob, with its end line.
  std::string Finish() &&;

 private:
  std::string text_;
};

// Parses a blob StateWriter built for `kind` at `version`. DATA_LOSS naming `kind` when
// the blob is cut short, has a bad line, or is of another operator or version.
absl::StatusOr<std::vector<StateLine>> ParseState(std::string_view blob, std::string_view kind, int version);

// DATA_LOSS "<kind> snapshot: <what>": for a value that does not parse.
absl::Status BadState(std::string_view kind, std::string_view what);

// FNV-1a, 64 bits: stable across builds and machines (unlike std::hash).
uint64_t Fnv1a64(std::string_view bytes);

// Parses a decimal integer value; BadState naming `key` if it is not one.
absl::StatusOr<int64_t> StateInt(std::string_view kind, const StateLine& line);
// As StateInt, for a count or an offset: BadState "negative <key>" below 0.
absl::StatusOr<int64_t> StateCount(std::string_view kind, const StateLine& line);

}  // namespace sluice::operators
