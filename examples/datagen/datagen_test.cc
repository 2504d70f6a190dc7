#include "examples/datagen/datagen.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"

namespace sluice::datagen {
namespace {

std::string TempPath(std::string_view name) {
  return testing::TempDir() + "/datagen_test_" + std::string(name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadGzip(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  EXPECT_NE(gz, nullptr);
  if (gz == nullptr) return "";
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(gz, buf, sizeof(buf))) > 0) out.append(buf, n);
  gzclose(gz);
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  EXPECT_TRUE(!lines.empty() && lines.back().empty()) << "file must end with a newline";
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

NginxLogOptions SmallNginx(const std::string& path, uint64_t seed, int64_t lines) {
  NginxLogOptions o;
  o.output_path = path;
  o.seed = seed;
  o.num_lines = lines;
  return o;
}

// Classification of one nginx line by the nginx_pv_uv rules (written from the rules,
// independently of the generator).
enum class Kind { kMalformed, kBot, kStatic, kKept };

struct Classified {
  Kind kind = Kind::kMalformed;
  int64_t event_ms = 0;
};

Classified Classify(std::string line) {
  static const std::regex kLine(
      R"re(^(\S+) - (\S+) \[(\d{2})/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/)re"
      R"re((\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "([^"]*)" (\d{3}) )re"
      R"re((\d+|-) "([^"]*)" "([^"]*)"$)re");
  static const std::vector<std::string> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  Classified c;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::smatch m;
  if (!std::regex_match(line, m, kLine)) return c;
  auto num = [&](int i) { return std::stoi(m[i].str()); };
  int month =
      static_cast<int>(std::find(kMonths.begin(), kMonths.end(), m[4].str()) - kMonths.begin()) + 1;
  std::chrono::year_month_day ymd{std::chrono::year{num(5)},
                                  std::chrono::month{static_cast<unsigned>(month)},
                                  std::chrono::day{static_cast<unsigned>(num(3))}};
  if (!ymd.ok() || num(6) > 23 || num(7) > 59 || num(8) > 59 || num(10) > 14 || num(11) > 59) {
    return c;
  }
  std::vector<std::string> parts = absl::StrSplit(m[12].str(), ' ');
  if (parts.size() != 3) return c;
  for (const auto& p : parts) {
    if (p.empty()) return c;
  }
  for (char ch : parts[0]) {
    if (ch < 'A' || ch > 'Z') return c;
  }
  if (!absl::StartsWith(parts[2], "HTTP/")) return c;
  int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  int64_t offset = (m[9].str() == "-" ? -1 : 1) * (num(10) * 3600 + num(11) * 60);
  c.event_ms = (days * 86400 + num(6) * 3600 + num(7) * 60 + num(8) - offset) * 1000;
  std::string ua = absl::AsciiStrToLower(m[16].str());
  if (absl::StrContains(ua, "bot") || absl::StrContains(ua, "spider") ||
      absl::StrContains(ua, "crawl")) {
    c.kind = Kind::kBot;
    return c;
  }
  std::string path = parts[1].substr(0, parts[1].find('?'));
  std::string lower = absl::AsciiStrToLower(path);
  bool is_static = absl::StartsWith(path, "/static/");
  for (const char* ext : {".css", ".js", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".svg", ".woff",
                          ".woff2", ".map"}) {
    is_static = is_static || absl::EndsWith(lower, ext);
  }
  c.kind = is_static ? Kind::kStatic : Kind::kKept;
  return c;
}

TEST(NginxLogsTest, SameSeedGivesSameBytes) {
  std::string a = TempPath("nginx_a.log"), b = TempPath("nginx_b.log");
  ASSERT_OK(GenerateNginxLogs(SmallNginx(a, 7, 5000)));
  ASSERT_OK(GenerateNginxLogs(SmallNginx(b, 7, 5000)));
  std::string ca = ReadFile(a);
  EXPECT_GT(ca.size(), 5000u * 80);
  EXPECT_EQ(ca, ReadFile(b));
}

TEST(NginxLogsTest, DifferentSeedGivesDifferentBytes) {
  std::string a = TempPath("nginx_s1.log"), b = TempPath("nginx_s2.log");
  ASSERT_OK(GenerateNginxLogs(SmallNginx(a, 1, 2000)));
  ASSERT_OK(GenerateNginxLogs(SmallNginx(b, 2, 2000)));
  EXPECT_NE(ReadFile(a), ReadFile(b));
}

TEST(NginxLogsTest, GzipHoldsTheSameLines) {
  std::string plain = TempPath("nginx_plain.log"), gz = TempPath("nginx.log.gz");
  ASSERT_OK(GenerateNginxLogs(SmallNginx(plain, 3, 3000)));
  NginxLogOptions o = SmallNginx(gz, 3, 3000);
  o.gzip = true;
  ASSERT_OK(GenerateNginxLogs(o));
  std::string raw = ReadFile(gz);
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(raw[1]), 0x8b);
  EXPECT_EQ(ReadGzip(gz), ReadFile(plain));
}

TEST(NginxLogsTest, ProportionsTimesAndDisorder) {
  constexpr int64_t kLines = 20000;
  std::string path = TempPath("nginx_mix.log");
  NginxLogOptions o = SmallNginx(path, 11, kLines);
  ASSERT_OK(GenerateNginxLogs(o));
  std::vector<std::string> lines = Lines(ReadFile(path));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kLines));

  int64_t counts[4] = {0, 0, 0, 0};
  int64_t max_ms = 0, min_ms = INT64_MAX, worst_lateness = 0, late_30s = 0;
  absl::flat_hash_set<std::string> paths, addrs;
  for (const std::string& line : lines) {
    Classified c = Classify(line);
    ++counts[static_cast<int>(c.kind)];
    if (c.kind == Kind::kMalformed) continue;
    min_ms = std::min(min_ms, c.event_ms);
    if (max_ms > 0 && c.event_ms < max_ms) {
      worst_lateness = std::max(worst_lateness, max_ms - c.event_ms);
      if (max_ms - c.event_ms > 30'000) ++late_30s;
    }
    max_ms = std::max(max_ms, c.event_ms);
    if (c.kind == Kind::kKept) {
      std::string target = line.substr(line.find("\"") + 1);
      target = target.substr(target.find(' ') + 1);
      paths.insert(target.substr(0, std::min(target.find('?'), target.find(' '))));
      addrs.insert(line.substr(0, line.find(' ')));
    }
  }
  double malformed = static_cast<double>(counts[0]) / kLines;
  double bot = static_cast<double>(counts[1]) / kLines;
  double stat = static_cast<double>(counts[2]) / kLines;
  EXPECT_GT(malformed, 0.02);
  EXPECT_LT(malformed, 0.04);
  EXPECT_GT(bot, 0.04);
  EXPECT_LT(bot, 0.06);
  EXPECT_GT(stat, 0.085);
  EXPECT_LT(stat, 0.115);
  EXPECT_GT(paths.size(), 150u);
  EXPECT_GT(addrs.size(), 1000u);

  // Request times cover the day, are never before the start, and are out of order by
  // up to about two minutes.
  EXPECT_GE(min_ms, o.start_time_ms);
  EXPECT_LT(min_ms, o.start_time_ms + 60'000);
  EXPECT_LE(max_ms, o.start_time_ms + o.duration_ms);
  EXPECT_GT(max_ms, o.start_time_ms + o.duration_ms - 600'000);
  EXPECT_LE(worst_lateness, 121'000);
  EXPECT_GT(worst_lateness, 60'000);
  EXPECT_GT(late_30s, 10);

  // The first line's timestamp renders in the configured zone.
  EXPECT_TRUE(absl::StrContains(ReadFile(path).substr(0, 400), "/Nov/2026:00:0"));
  EXPECT_TRUE(absl::StrContains(ReadFile(path).substr(0, 400), " +0800]"));
}

TEST(NginxLogsTest, EachMalformedKindAppears) {
  std::string path = TempPath("nginx_bad.log");
  NginxLogOptions o = SmallNginx(path, 5, 4000);
  o.malformed_fraction = 1.0;
  o.bot_fraction = 0;
  o.static_fraction = 0;
  ASSERT_OK(GenerateNginxLogs(o));
  std::vector<std::string> lines = Lines(ReadFile(path));
  bool tls = false, empty_request = false, bad_time = false;
  for (const std::string& line : lines) {
    EXPECT_EQ(Classify(line).kind, Kind::kMalformed) << line;
    tls = tls || absl::StrContains(line, "\"\\x16\\x03\\x01");
    empty_request = empty_request || absl::StrContains(line, "] \"-\" 400 ");
    bad_time = bad_time || absl::StrContains(line, "[32/Foo/2026:99:00:00 +0800]");
  }
  EXPECT_TRUE(tls);
  EXPECT_TRUE(empty_request);
  EXPECT_TRUE(bad_time);
}

TEST(NginxLogsTest, HonoursTimeZone) {
  std::string path = TempPath("nginx_tz.log");
  NginxLogOptions o = SmallNginx(path, 5, 200);
  o.tz_offset = "-0530";
  o.malformed_fraction = 0;
  ASSERT_OK(GenerateNginxLogs(o));
  std::vector<std::string> lines = Lines(ReadFile(path));
  for (const std::string& line : lines) {
    Classified c = Classify(line);
    ASSERT_NE(c.kind, Kind::kMalformed) << line;
    EXPECT_GE(c.event_ms, o.start_time_ms);
    EXPECT_TRUE(absl::StrContains(line, " -0530] ")) << line;
  }
  // 2026-11-19 16:00 UTC is 10:30 on the 19th at -05:30.
  EXPECT_TRUE(absl::StartsWith(lines[0].substr(lines[0].find('[') + 1), "19/Nov/2026:10:3"))
      << lines[0];
}

TEST(NginxLogsTest, RejectsBadOptions) {
  NginxLogOptions o = SmallNginx(TempPath("nginx_x.log"), 1, 10);
  o.tz_offset = "0800";
  EXPECT_EQ(GenerateNginxLogs(o).code(), absl::StatusCode::kInvalidArgument);
  o.tz_offset = "+0800";
  o.output_path = "";
  EXPECT_EQ(GenerateNginxLogs(o).code(), absl::StatusCode::kInvalidArgument);
  o.output_path = "/nonexistent-dir/x.log";
  EXPECT_FALSE(GenerateNginxLogs(o).ok());
}

YsbOptions SmallYsb(const std::string& prefix, uint64_t seed) {
  YsbOptions o;
  o.events_path = TempPath(prefix + "_events.jsonl");
  o.ads_path = TempPath(prefix + "_ads.csv");
  o.num_events = 20000;
  o.seed = seed;
  o.num_campaigns = 10;
  o.ads_per_campaign = 5;
  return o;
}

TEST(YsbTest, Deterministic) {
  YsbOptions a = SmallYsb("ysb_a", 9), b = SmallYsb("ysb_b", 9), c = SmallYsb("ysb_c", 10);
  ASSERT_OK(GenerateYsb(a));
  ASSERT_OK(GenerateYsb(b));
  ASSERT_OK(GenerateYsb(c));
  EXPECT_EQ(ReadFile(a.events_path), ReadFile(b.events_path));
  EXPECT_EQ(ReadFile(a.ads_path), ReadFile(b.ads_path));
  EXPECT_NE(ReadFile(a.events_path), ReadFile(c.events_path));
  EXPECT_NE(ReadFile(a.ads_path), ReadFile(c.ads_path));
}

bool LooksLikeUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// Returns the JSON string value following `"key":"` at or after `*pos`.
std::string StringField(const std::string& line, std::string_view key, size_t* pos) {
  std::string pat = "\"" + std::string(key) + "\":\"";
  size_t at = line.find(pat, *pos);
  EXPECT_NE(at, std::string::npos) << key << " in " << line;
  if (at == std::string::npos) return "";
  size_t start = at + pat.size();
  size_t end = line.find('"', start);
  *pos = end + 1;
  return line.substr(start, end - start);
}

TEST(YsbTest, AdsCsvAndEventShape) {
  YsbOptions o = SmallYsb("ysb_shape", 3);
  ASSERT_OK(GenerateYsb(o));
  std::vector<std::string> csv = Lines(ReadFile(o.ads_path));
  ASSERT_EQ(csv.size(), static_cast<size_t>(1 + o.num_campaigns * o.ads_per_campaign));
  EXPECT_EQ(csv[0], "ad_id,campaign_id");
  absl::flat_hash_map<std::string, std::string> ad_to_campaign;
  std::set<std::string> campaigns;
  for (size_t i = 1; i < csv.size(); ++i) {
    std::vector<std::string> cols = absl::StrSplit(csv[i], ',');
    ASSERT_EQ(cols.size(), 2u) << csv[i];
    EXPECT_TRUE(LooksLikeUuid(cols[0])) << cols[0];
    EXPECT_TRUE(LooksLikeUuid(cols[1])) << cols[1];
    EXPECT_TRUE(ad_to_campaign.emplace(cols[0], cols[1]).second) << "duplicate ad " << cols[0];
    campaigns.insert(cols[1]);
  }
  EXPECT_EQ(campaigns.size(), static_cast<size_t>(o.num_campaigns));

  std::vector<std::string> events = Lines(ReadFile(o.events_path));
  ASSERT_EQ(events.size(), static_cast<size_t>(o.num_events));
  const std::set<std::string> ad_types = {"banner", "modal", "sponsored-search", "mail", "mobile"};
  absl::flat_hash_map<std::string, int64_t> event_types;
  int64_t max_time = 0;
  int64_t disordered = 0;
  for (const std::string& e : events) {
    ASSERT_TRUE(absl::StartsWith(e, "{\"user_id\":\"")) << e;
    ASSERT_TRUE(absl::EndsWith(e, "\"}")) << e;
    size_t pos = 0;
    EXPECT_TRUE(LooksLikeUuid(StringField(e, "user_id", &pos)));
    EXPECT_TRUE(LooksLikeUuid(StringField(e, "page_id", &pos)));
    std::string ad = StringField(e, "ad_id", &pos);
    EXPECT_TRUE(ad_to_campaign.contains(ad)) << ad;
    EXPECT_TRUE(ad_types.count(StringField(e, "ad_type", &pos))) << e;
    ++event_types[StringField(e, "event_type", &pos)];
    std::string time_key = ",\"event_time\":";
    ASSERT_EQ(e.compare(pos, time_key.size(), time_key), 0) << e;
    size_t t_end = e.find(',', pos + time_key.size());
    int64_t t = 0;
    ASSERT_TRUE(
        absl::SimpleAtoi(e.substr(pos + time_key.size(), t_end - pos - time_key.size()), &t))
        << e;
    pos = t_end;
    std::string ip = StringField(e, "ip_address", &pos);
    EXPECT_EQ(std::count(ip.begin(), ip.end(), '.'), 3) << ip;

    EXPECT_GE(t, o.start_time_ms);
    EXPECT_GE(t, max_time - o.max_disorder_ms) << "beyond the disorder bound: " << e;
    if (t < max_time) ++disordered;
    max_time = std::max(max_time, t);
  }
  // 20000 events at 100000/s span 200 ms of event time.
  EXPECT_GE(max_time, o.start_time_ms + 150);
  EXPECT_LE(max_time, o.start_time_ms + 200);
  EXPECT_GT(disordered, o.num_events / 4);
  ASSERT_EQ(event_types.size(), 3u);
  for (const char* type : {"view", "click", "purchase"}) {
    double share = static_cast<double>(event_types[type]) / o.num_events;
    EXPECT_GT(share, 0.30) << type;
    EXPECT_LT(share, 0.37) << type;
  }
}

TEST(YsbTest, RejectsBadOptions) {
  YsbOptions o = SmallYsb("ysb_bad", 1);
  o.num_campaigns = 0;
  EXPECT_EQ(GenerateYsb(o).code(), absl::StatusCode::kInvalidArgument);
  o = SmallYsb("ysb_bad", 1);
  o.ads_path = "";
  EXPECT_EQ(GenerateYsb(o).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::datagen
