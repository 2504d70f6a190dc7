// GenerateYsb: the Yahoo Streaming Benchmark's ads CSV and JSON events.
#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "examples/datagen/datagen.h"
#include "examples/datagen/output_file.h"
#include "examples/datagen/rng.h"
#include "examples/datagen/text_format.h"

namespace sluice::datagen {
namespace {

absl::Status CheckOptions(const YsbOptions& opts) {
  if (opts.events_path.empty() || opts.ads_path.empty()) {
    return absl::InvalidArgumentError("events_path and ads_path are required");
  }
  if (opts.num_events < 0) return absl::InvalidArgumentError("num_events is negative");
  if (opts.num_campaigns <= 0 || opts.ads_per_campaign <= 0) {
    return absl::InvalidArgumentError("num_campaigns and ads_per_campaign must be > 0");
  }
  if (opts.events_per_second <= 0) {
    return absl::InvalidArgumentError("events_per_second must be > 0");
  }
  if (opts.max_disorder_ms < 0) return absl::InvalidArgumentError("max_disorder_ms < 0");
  return absl::OkStatus();
}

}  // namespace

absl::Status GenerateYsb(const YsbOptions& opts) {
  RETURN_IF_ERROR(CheckOptions(opts));
  Rng rng(opts.seed);
  const int num_ads = opts.num_campaigns * opts.ads_per_campaign;
  std::vector<std::string> ads;
  ads.reserve(num_ads);
  std::string csv = "ad_id,campaign_id\n";
  for (int c = 0; c < opts.num_campaigns; ++c) {
    std::string campaign = MakeUuid(rng);
    for (int a = 0; a < opts.ads_per_campaign; ++a) {
      ads.push_back(MakeUuid(rng));
      absl::StrAppend(&csv, ads.back(), ",", campaign, "\n");
    }
  }
  RETURN_IF_ERROR(WriteFileContents(opts.ads_path, csv));

  constexpr int kUsers = 10000;
  constexpr int kPages = 1000;
  std::vector<std::string> users, pages;
  users.reserve(kUsers);
  pages.reserve(kPages);
  for (int i = 0; i < kUsers; ++i) users.push_back(MakeUuid(rng));
  for (int i = 0; i < kPages; ++i) pages.push_back(MakeUuid(rng));
  static constexpr const char* kAdTypes[] = {"banner", "modal", "sponsored-search", "mail",
                                             "mobile"};
  static constexpr const char* kEventTypes[] = {"view", "click", "purchase"};

  OutputFile out;
  RETURN_IF_ERROR(out.Open(opts.events_path, /*gzip=*/false, 0));
  std::string line;
  line.reserve(512);
  for (int64_t i = 0; i < opts.num_events; ++i) {
    int64_t nominal = opts.start_time_ms + i * 1000 / opts.events_per_second;
    int64_t t = std::max(
        opts.start_time_ms,
        nominal - static_cast<int64_t>(rng.Below(static_cast<uint64_t>(opts.max_disorder_ms) + 1)));
    line.assign("{\"user_id\":\"");
    line.append(users[rng.Below(kUsers)]);
    line.append("\",\"page_id\":\"");
    line.append(pages[rng.Below(kPages)]);
    line.append("\",\"ad_id\":\"");
    line.append(ads[rng.Below(static_cast<uint64_t>(num_ads))]);
    line.append("\",\"ad_type\":\"");
    line.append(kAdTypes[rng.Below(std::size(kAdTypes))]);
    line.append("\",\"event_type\":\"");
    line.append(kEventTypes[rng.Below(std::size(kEventTypes))]);
    line.append("\",\"event_time\":");
    AppendInt(&line, t);
    line.append(",\"ip_address\":\"");
    uint64_t ip = rng.Next();
    AppendInt(&line, static_cast<int64_t>(ip & 0xff) % 223 + 1);
    for (int k = 1; k < 4; ++k) {
      line.push_back('.');
      AppendInt(&line, static_cast<int64_t>((ip >> (8 * k)) & 0xff));
    }
    line.append("\"}\n");
    out.Append(line);
  }
  return out.Close();
}

}  // namespace sluice::datagen
