// A hand-written scanner for nginx/Tomcat access-log lines in the "combined" and
// "common" formats, and the calendar arithmetic it needs.
//
// ParseAccessLogLine accepts exactly the lines matched by (combined)
//   ^(\S+) - (\S+) \[(\d{2})/(Jan|...|Dec)/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]
//    "([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$
// ("common" stops after the bytes field), after one trailing '\r' is removed, where \S and
// \d are ASCII classes (whitespace is " \t\n\v\f\r"), the date is a real one (leap years
// included), the clock is 00:00:00..23:59:59, the zone is at most 14:59 either way, and
// the request is exactly `METHOD TARGET PROTOCOL`: three non-empty parts separated by
// single spaces, METHOD made of A-Z only and PROTOCOL starting with "HTTP/". Everything
// else is malformed. The scanner allocates nothing: every string of the result is a view
// into the line. Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/civil_days.h"

namespace sluice::operators::parse {

enum class AccessLogFormat : uint8_t {
  // $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
  //   "$http_referer" "$http_user_agent"
  kCombined,
  // The same without the referer and the user agent.
  kCommon,
};

// One parsed line. Views point into the line given to ParseAccessLogLine.
struct AccessLogEntry {
  std::string_view remote_addr;
  std::string_view remote_user;  // "-" when the log has none (see remote_user_is_null)
  bool remote_user_is_null = false;
  int64_t time_ms = 0;  // UTC, ms since the Unix epoch
  std::string_view method;
  std::string_view target;  // path plus "?query"
  std::string_view path;    // target cut at the first '?'
  std::string_view query;   // after the first '?'; empty when there is none
  bool has_query = false;
  std::string_view protocol;
  int64_t status = 0;
  int64_t bytes = 0;  // "-" reads as 0; saturates at INT64_MAX
  // Combined format only (empty and null for kCommon).
  std::string_view referer;
  bool referer_is_null = true;  // the log's "-"
  std::string_view user_agent;
};

// Parses `line` (a trailing "\r" is ignored). Returns false, leaving `entry` partly
// written, if the line is malformed in any way.
bool ParseAccessLogLine(std::string_view line, AccessLogFormat format, AccessLogEntry* entry);

// Calendar arithmetic (common/civil_days.h).
using ::sluice::DaysFromCivil;
using ::sluice::DaysInMonth;
using ::sluice::IsLeapYear;

}  // namespace sluice::operators::parse
