// The `access_log_parse` operator: turns nginx/Tomcat access-log lines (a string field,
// `line` by default) into typed records, one output row per well-formed line. Malformed
// lines go to the dead-letter output with reason "malformed" (see access_log.h for the
// exact grammar).
//
// Params:
//   field: line                 input string field
//   format: combined            or `common` (no referer / user agent)
//   fields: [path, status]      output fields to emit, in this order (default: all)
//   set_event_time: true        set each row's event time to the parsed $time_local
//
// Output fields (in this order by default): remote_addr string, remote_user string
// (null for "-"), time timestamp (UTC ms), method string, path string, query string
// (null without '?'), protocol string, status int64, bytes int64 ("-" is 0), referer
// string (null for "-"), user_agent string; the last two only in `combined`. Output
// strings are views into the input lines (no copy). One instance per subtask; called on
// its task thread only.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators::parse {

// Validates `config` (INVALID_ARGUMENT errors located at the offending parameter) and
// builds one instance.
absl::StatusOr<std::unique_ptr<Operator>> CreateAccessLogParse(const OperatorConfig& config);

}  // namespace sluice::operators::parse
