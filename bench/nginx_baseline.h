// The pieces of nginx_baseline (a hand-written, single-threaded reference for the
// nginx_pv_uv job and the offline pipeline; no sluice runtime), shared by its files:
//   nginx_baseline.cc         main and the PV/UV job
//   nginx_log_parse.cc        the strict combined-format parse and the bot and static rules
//   nginx_hive_baseline.cc    the offline pipeline's two steps: Hive ingest, daily batch
//   baseline_io.cc            the input file (mapped, or gunzipped) and whole-file output
// Everything is single-threaded; string_views point into an Input's data.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nginx_baseline {

// --- Input and output (baseline_io.cc) ---

// The whole input: an mmapped plain file or a decompressed gzip file.
class Input {
 public:
  Input() = default;
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  ~Input();

  // Maps `path`; a file starting with the gzip magic bytes is decompressed (concatenated
  // members too). Returns the file error, or DATA_LOSS for a bad gzip stream.
  absl::Status Open(const std::string& path);

  std::string_view data() const { return data_; }

 private:
  absl::Status Gunzip(const std::string& path, const unsigned char* in, size_t len);

  void* map_ = nullptr;
  size_t map_len_ = 0;
  std::string decompressed_;
  std::string_view data_;
};

// Writes `data` to `path` (truncated).
absl::Status WriteAll(const std::string& path, std::string_view data);

// Appends `s` with \ tab LF CR escaped as \\ \t \n \r.
void AppendTsvString(std::string* out, std::string_view s);

// The next line of `*rest` (without its '\n'), consumed from it.
inline std::string_view NextLine(std::string_view* rest) {
  const char* nl = static_cast<const char*>(memchr(rest->data(), '\n', rest->size()));
  const size_t len = nl == nullptr ? rest->size() : static_cast<size_t>(nl - rest->data());
  const std::string_view line = rest->substr(0, len);
  rest->remove_prefix(nl == nullptr ? len : len + 1);
  return line;
}

// --- Parsing and the cleaning rules (nginx_log_parse.cc) ---

struct Parsed {
  std::string_view addr;
  std::string_view path;
  std::string_view user_agent;
  int64_t event_ms = 0;
  // The other columns, for the Hive ingestion mode.
  std::string_view method;
  std::string_view query;  // empty data() when there is none
  bool has_query = false;
  std::string_view status;
  std::string_view bytes;  // "-" reads as 0
  std::string_view referer;  // "-" is null
};

// Strict combined-format parse; false means malformed.
bool ParseLine(std::string_view line, Parsed* out);
// The user agent contains "bot", "spider" or "crawl" in any case.
bool IsBot(std::string_view ua);
// Under /static/ or ending in a static file extension (any case).
bool IsStaticAsset(std::string_view path);

struct Counters {
  int64_t lines = 0, malformed = 0, bot = 0, static_asset = 0, kept = 0;
};

// Counts `line`, parses it into *parsed and applies the bot rule (verdicts cached per
// user agent). False, with the reason counted, if the line is malformed or a bot's.
bool ParseAndCheckBot(std::string_view line, Parsed* parsed, absl::flat_hash_map<absl::string_view, bool>* bot_cache,
                      Counters* c);

// --- The jobs ---

// nginx_pv_uv: PV and UV per (60 s window, path) into the TSV `out_path`.
absl::StatusOr<Counters> RunPvUv(const std::string& input_path, const std::string& out_path);
// The offline ingest (nginx_hive_baseline.cc): every kept line as a Hive text row into
// OUT/dt=YYYY-MM-DD/part-0.
absl::StatusOr<Counters> RunHiveIngest(const std::string& input_path, const std::string& out_dir);
// The daily batch job over the table RunHiveIngest wrote: PV, UV and the top 3 referers
// per path per dt, into the TSV `out_path`.
absl::StatusOr<Counters> RunHiveDaily(const std::string& table_dir, const std::string& out_path);

}  // namespace nginx_baseline
