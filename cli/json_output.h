// Protobuf messages as JSON for `sluice status/list/workers --json`.
//
// protobuf's own printer (MessageToJsonString) follows the proto3 JSON mapping, which
// writes 64-bit integers as strings, so scripts had to convert every counter. This one
// writes them as JSON numbers; otherwise it matches that printer with
// always_print_primitive_fields and preserve_proto_field_names: field names as in the
// .proto, every scalar and repeated field present (unset messages and oneof members are
// left out), enums as names, maps as objects, bytes as base64, NaN and infinities as
// the strings "NaN", "Infinity" and "-Infinity".
#pragma once

#include <string>

#include "google/protobuf/message.h"

namespace sluice::cli {

// `message` as one line of JSON (no trailing newline).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace sluice::cli
