// Hand-written single-threaded nginx_pv_uv baseline: no sluice runtime.
//
// Reads an nginx "combined" access log (plain, or gzip if the file starts with the gzip
// magic bytes), classifies each line exactly as the nginx_pv_uv rules say (malformed,
// bot, static_asset, kept; see tests/e2e/expected_nginx.py for the independent
// reference) and, for kept lines, counts page views (lines) and unique visitors
// (distinct remote_addr) per (window_start, path) with 60 s tumbling windows on the
// request time converted to UTC. The line scanner is hand-written; paths and addresses
// are interned as string_views into the mapped input.
//
// Output: TSV with header "window_start\tpath\tpv\tuv", rows in no particular order.
// Stderr: "lines=.. malformed=.. bot=.. static_asset=.. kept=..", then
// "events=<N> seconds=<S> events_per_sec=<R>" (N = input lines), timed from after
// argument parsing to after the output file is closed.
//
//   nginx_baseline --input access.log --out out.tsv
//   nginx_baseline --mode hive_ingest --input access.log --out TABLE_DIR   (the offline ingest)
//   nginx_baseline --mode hive_daily --input TABLE_DIR --out daily.tsv     (the daily batch job)
//
// The pieces are in nginx_baseline.h; this file has main and the PV/UV job.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "bench/nginx_baseline.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace nginx_baseline {
namespace {

constexpr int64_t kWindowMs = 60'000;

struct Group {
  int64_t window_start;
  int32_t path_id;
  int64_t pv = 0;
  int64_t uv = 0;
};

}  // namespace

absl::StatusOr<Counters> RunPvUv(const std::string& input_path, const std::string& out_path) {
  Input input;
  RETURN_IF_ERROR(input.Open(input_path));
  std::string_view rest = input.data();

  absl::flat_hash_map<absl::string_view, int32_t> path_ids;
  std::vector<std::string_view> paths;
  std::vector<bool> path_is_static;
  absl::flat_hash_map<absl::string_view, uint32_t> addr_ids;
  absl::flat_hash_map<std::pair<int64_t, int32_t>, uint32_t> group_ids;
  std::vector<Group> groups;
  absl::flat_hash_set<uint64_t> visitors;  // group_id << 32 | addr_id
  // User agents repeat heavily; remember each one's verdict.
  absl::flat_hash_map<absl::string_view, bool> bot_cache;

  Counters c;
  Parsed parsed;
  while (!rest.empty()) {
    if (!ParseAndCheckBot(NextLine(&rest), &parsed, &bot_cache, &c)) continue;
    // Paths are interned before the static check so the verdict is computed once each.
    auto [pit, new_path] =
        path_ids.try_emplace(sluice::Sv(parsed.path), static_cast<int32_t>(paths.size()));
    if (new_path) {
      paths.push_back(parsed.path);
      path_is_static.push_back(IsStaticAsset(parsed.path));
    }
    if (path_is_static[pit->second]) {
      ++c.static_asset;
      continue;
    }
    ++c.kept;
    auto [ait, new_addr] =
        addr_ids.try_emplace(sluice::Sv(parsed.addr), static_cast<uint32_t>(addr_ids.size()));
    int64_t rem = parsed.event_ms % kWindowMs;
    if (rem < 0) rem += kWindowMs;
    int64_t window_start = parsed.event_ms - rem;
    auto [git, new_group] = group_ids.try_emplace(std::make_pair(window_start, pit->second),
                                                  static_cast<uint32_t>(groups.size()));
    if (new_group) groups.push_back(Group{window_start, pit->second});
    Group& g = groups[git->second];
    ++g.pv;
    if (visitors.insert((static_cast<uint64_t>(git->second) << 32) | ait->second).second) {
      ++g.uv;
    }
  }

  std::string out = "window_start\tpath\tpv\tuv\n";
  out.reserve(out.size() + groups.size() * 48);
  for (const Group& g : groups) {
    absl::StrAppend(&out, g.window_start, "\t");
    AppendTsvString(&out, paths[g.path_id]);
    absl::StrAppend(&out, "\t", g.pv, "\t", g.uv, "\n");
  }
  RETURN_IF_ERROR(WriteAll(out_path, out));
  return c;
}

}  // namespace nginx_baseline

int main(int argc, char** argv) {
  CLI::App app(
      "Single-threaded hand-written nginx_pv_uv baseline (PV/UV per path per "
      "60 s window).");
  std::string input_path, out_path, mode = "pvuv";
  app.add_option("--input", input_path, "nginx combined access log (plain or gzip); hive_daily: the table directory")
      ->required();
  app.add_option("--out", out_path, "Output TSV path; hive_ingest: the table directory")->required();
  app.add_option("--mode", mode,
                 "pvuv (nginx_pv_uv), hive_ingest (parse, clean, write Hive text per day: the offline ingest), "
                 "hive_daily (PV, UV, top referers per path per day over that table)")
      ->check(CLI::IsMember({"pvuv", "hive_ingest", "hive_daily"}));
  CLI11_PARSE(app, argc, argv);

  using nginx_baseline::Counters;
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Counters> result = mode == "hive_ingest"  ? nginx_baseline::RunHiveIngest(input_path, out_path)
                                    : mode == "hive_daily" ? nginx_baseline::RunHiveDaily(input_path, out_path)
                                                           : nginx_baseline::RunPvUv(input_path, out_path);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    std::fprintf(stderr, "nginx_baseline: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const Counters& c = *result;
  std::fprintf(stderr, "lines=%lld malformed=%lld bot=%lld static_asset=%lld kept=%lld\n",
               static_cast<long long>(c.lines), static_cast<long long>(c.malformed),
               static_cast<long long>(c.bot), static_cast<long long>(c.static_asset),
               static_cast<long long>(c.kept));
  std::fprintf(stderr, "events=%lld seconds=%.3f events_per_sec=%.0f\n",
               static_cast<long long>(c.lines), seconds,
               seconds > 0 ? static_cast<double>(c.lines) / seconds : 0.0);
  return 0;
}
