// Deterministic synthetic input generators for sluice's examples, tests and benchmarks.
//
// GenerateNginxLogs writes realistic nginx "combined" access-log lines (with bot
// traffic, static-asset requests, a few percent of malformed lines of several kinds and
// realistic timestamp disorder) for the nginx_pv_uv example. GenerateYsb writes the
// Yahoo Streaming Benchmark inputs: an ads CSV (ad_id -> campaign_id) and one JSON
// event object per line. Output depends only on the options (including the seed): the
// random source is std::mt19937_64 and every draw is mapped to values by code in
// rng.h (no std:: distributions), so a seed yields the same bytes on every run and
// every platform. Writers use one large buffer and no iostreams; millions of lines take
// seconds. The functions are thread-compatible (no shared state); concurrent calls must
// write different paths. See README.md in this folder for the exact data shapes.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace sluice::datagen {

// 2026-11-20 00:00:00 +0800, in ms since the Unix epoch (UTC).
inline constexpr int64_t kDefaultNginxStartMs = 1795104000000;
inline constexpr int64_t kMsPerDay = 86'400'000;

struct NginxLogOptions {
  // File to write (truncated if it exists). With `gzip`, the bytes are a gzip stream;
  // the name is used as given (callers usually end it in ".gz").
  std::string output_path;
  int64_t num_lines = 200'000;
  uint64_t seed = 1;
  // Request times start here (ms since epoch, UTC) and are spread evenly over
  // `duration_ms`; each line's timestamp is its request time.
  int64_t start_time_ms = kDefaultNginxStartMs;
  int64_t duration_ms = kMsPerDay;
  // Offset printed in $time_local and used to convert times to local time: "[+-]HHMM".
  std::string tz_offset = "+0800";
  bool gzip = false;
  // zlib level 1..9 when `gzip` is set; 1 keeps generation fast.
  int gzip_level = 1;
  // Approximate fractions of lines that are bot traffic, static-asset requests
  // (by non-bots) and malformed; the rest are ordinary page/API requests.
  double bot_fraction = 0.05;
  double static_fraction = 0.10;
  double malformed_fraction = 0.03;
};

// Writes `opts.num_lines` lines (each ending in '\n') to `opts.output_path`.
// Lines are written in completion order (request time + latency), so their timestamps
// are out of order by up to ~90 s, and rarely up to 120 s.
// Returns INVALID_ARGUMENT for bad options, or the file error.
absl::Status GenerateNginxLogs(const NginxLogOptions& opts);

struct YsbOptions {
  // One JSON object per line, fields in the order user_id, page_id, ad_id, ad_type,
  // event_type, event_time, ip_address.
  std::string events_path;
  // "ad_id,campaign_id" header, then one row per ad.
  std::string ads_path;
  int64_t num_events = 1'000'000;
  uint64_t seed = 1;
  int num_campaigns = 100;
  int ads_per_campaign = 10;
  // Event time of the first event, ms since epoch.
  int64_t start_time_ms = 1'700'000'000'000;
  // Event-time rate: event i is nominally at start + i * 1000 / events_per_second.
  int64_t events_per_second = 100'000;
  // Each event time is its nominal time minus a uniform 0..max_disorder_ms (never
  // before start_time_ms), so every event is at most max_disorder_ms older than the
  // largest event time written before it.
  int64_t max_disorder_ms = 50;
};

// Writes the ads CSV and `opts.num_events` events. Every event's ad_id is in the CSV.
// Returns INVALID_ARGUMENT for bad options, or the file error.
absl::Status GenerateYsb(const YsbOptions& opts);

}  // namespace sluice::datagen
