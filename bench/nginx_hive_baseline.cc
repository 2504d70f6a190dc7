// The offline pipeline's two steps, written by hand: the ingest (parse, clean, one Hive
// text file per day) and the daily batch job over the table it writes.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "bench/nginx_baseline.h"
#include "common/civil_days.h"
#include "common/status.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace nginx_baseline {
namespace {

// Hive text escaping (ESCAPED BY '\\', serialization.escape.crlf).
void AppendHiveString(std::string* out, std::string_view s) {
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '\x01' && c != '\x02' && c != '\x03' && c != '\\' && c != '\n' && c != '\r') continue;
    out->append(s.data() + start, i - start);
    out->push_back('\\');
    out->push_back(c == '\n' ? 'n' : c == '\r' ? 'r' : c);
    start = i + 1;
  }
  out->append(s.data() + start, s.size() - start);
}

// "YYYY-MM-DD" of a day number since the epoch.
void AppendDate(std::string* out, int64_t days) {
  int64_t y;
  int m, d;
  sluice::CivilFromDays(days, &y, &m, &d);
  char buf[64];
  const int n = std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", static_cast<long long>(y), m, d);
  out->append(buf, static_cast<size_t>(n));
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct DailyGroup {
  int64_t pv = 0;
  absl::flat_hash_set<absl::string_view> visitors;
  absl::flat_hash_map<absl::string_view, int64_t> referers;
};

// One kept line as a Hive text row of examples/offline_logs/ingest.yaml's columns (\x01
// between fields, \N for null), time in UTC.
void AppendHiveRow(const Parsed& parsed, std::string* out) {
  AppendHiveString(out, parsed.addr);
  out->push_back('\x01');
  const int64_t secs = FloorDiv(parsed.event_ms, 1000);
  AppendDate(out, FloorDiv(secs, 86400));
  const int64_t tod = secs - FloorDiv(secs, 86400) * 86400;
  const int hh = static_cast<int>(tod / 3600), mm = static_cast<int>(tod / 60 % 60), ss = static_cast<int>(tod % 60);
  const char hms[9] = {' ', static_cast<char>('0' + hh / 10), static_cast<char>('0' + hh % 10), ':',
                       static_cast<char>('0' + mm / 10), static_cast<char>('0' + mm % 10), ':',
                       static_cast<char>('0' + ss / 10), static_cast<char>('0' + ss % 10)};
  out->append(hms, 9);
  out->push_back('\x01');
  AppendHiveString(out, parsed.method);
  out->push_back('\x01');
  AppendHiveString(out, parsed.path);
  out->push_back('\x01');
  if (parsed.has_query) AppendHiveString(out, parsed.query); else out->append("\\N");
  out->push_back('\x01');
  out->append(parsed.status);
  out->push_back('\x01');
  if (parsed.bytes == "-") out->push_back('0'); else out->append(parsed.bytes);
  out->push_back('\x01');
  if (parsed.referer == "-") out->append("\\N"); else AppendHiveString(out, parsed.referer);
  out->push_back('\x01');
  AppendHiveString(out, parsed.user_agent);
  out->push_back('\n');
}

// Adds the rows of one Hive text file (plain, no escapes in the fields read) to
// `groups` by path; a row with fewer than 9 fields counts as malformed.
void CountRows(std::string_view rest, absl::flat_hash_map<absl::string_view, DailyGroup>* groups, Counters* c) {
  std::string_view fields[9];
  while (!rest.empty()) {
    const std::string_view line = NextLine(&rest);
    ++c->lines;
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= line.size() && n < 9; ++i) {
      if (i == line.size() || line[i] == '\x01') {
        fields[n++] = line.substr(start, i - start);
        start = i + 1;
      }
    }
    if (n < 9) {
      ++c->malformed;
      continue;
    }
    DailyGroup& g = (*groups)[sluice::Sv(fields[3])];
    ++g.pv;
    g.visitors.insert(sluice::Sv(fields[0]));
    if (fields[7] != "\\N") ++g.referers[sluice::Sv(fields[7])];
  }
}

// One TSV row per path of day `dt`: pv, uv and the top 3 referers ("r:n,...").
void AppendDailyRows(std::string_view dt, const absl::flat_hash_map<absl::string_view, DailyGroup>& groups,
                     std::string* out) {
  for (auto& [path, g] : groups) {
    std::vector<std::pair<absl::string_view, int64_t>> top(g.referers.begin(), g.referers.end());
    std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (top.size() > 3) top.resize(3);
    absl::StrAppend(out, sluice::Sv(dt), "\t", path, "\t", g.pv, "\t", g.visitors.size(), "\t");
    for (size_t i = 0; i < top.size(); ++i) absl::StrAppend(out, i ? "," : "", top[i].first, ":", top[i].second);
    out->push_back('\n');
  }
}

}  // namespace

// spool -> parse -> clean -> Hive table: every kept line as a Hive text row (the columns
// of examples/offline_logs/ingest.yaml, uncompressed) into OUT/dt=YYYY-MM-DD/part-0, dt
// being the day in +08:00; time written in UTC.
absl::StatusOr<Counters> RunHiveIngest(const std::string& input_path, const std::string& out_dir) {
  Input input;
  RETURN_IF_ERROR(input.Open(input_path));
  std::string_view rest = input.data();
  absl::flat_hash_map<absl::string_view, bool> bot_cache;
  absl::flat_hash_map<absl::string_view, bool> static_cache;
  // Day (in +08:00) -> its file and the rows not yet written (flushed at 1 MiB).
  struct DayFile {
    int fd = -1;
    std::string rows;
  };
  absl::flat_hash_map<int64_t, DayFile> by_day;
  Counters c;
  Parsed parsed;
  int64_t cached_day = INT64_MIN;
  DayFile* file = nullptr;
  auto flush = [](DayFile& f) -> absl::Status {
    std::string_view data = f.rows;
    while (!data.empty()) {
      ssize_t n = ::write(f.fd, data.data(), data.size());
      if (n < 0) return sluice::ErrnoToStatus(errno, "write");
      data.remove_prefix(static_cast<size_t>(n));
    }
    f.rows.clear();
    return absl::OkStatus();
  };
  while (!rest.empty()) {
    if (!ParseAndCheckBot(NextLine(&rest), &parsed, &bot_cache, &c)) continue;
    auto [sit, new_path] = static_cache.try_emplace(sluice::Sv(parsed.path), false);
    if (new_path) sit->second = IsStaticAsset(parsed.path);
    if (sit->second) {
      ++c.static_asset;
      continue;
    }
    ++c.kept;
    const int64_t day = FloorDiv(parsed.event_ms + 8 * 3600 * 1000, 86'400'000);
    if (day != cached_day) {
      cached_day = day;
      file = &by_day[day];
      if (file->fd < 0) {
        std::string dir = out_dir + "/dt=";
        AppendDate(&dir, day);
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        file->fd = ::open((dir + "/part-0").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (file->fd < 0) return sluice::ErrnoToStatus(errno, dir + "/part-0");
      }
    }
    std::string& out = file->rows;
    AppendHiveRow(parsed, &out);
    if (out.size() >= (1 << 20)) RETURN_IF_ERROR(flush(*file));
  }
  for (auto& [day, f] : by_day) {
    RETURN_IF_ERROR(flush(f));
    if (::close(f.fd) != 0) return sluice::ErrnoToStatus(errno, "close");
  }
  return c;
}

// The daily batch job over a Hive table written by RunHiveIngest (plain files, no
// escapes in the fields it reads): PV, UV and the top 3 referers per path per dt.
absl::StatusOr<Counters> RunHiveDaily(const std::string& table_dir, const std::string& out_path) {
  std::vector<std::string> days;
  if (DIR* d = ::opendir(table_dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      if (std::strncmp(e->d_name, "dt=", 3) == 0) days.push_back(e->d_name);
    }
    ::closedir(d);
  }
  std::sort(days.begin(), days.end());
  Counters c;
  std::string out = "dt\tpath\tpv\tuv\ttop_referers\n";
  for (const std::string& day : days) {
    const std::string dir = table_dir + "/" + day;
    std::vector<std::string> files;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.' && e->d_name[0] != '_') files.push_back(dir + "/" + e->d_name);
      }
      ::closedir(d);
    }
    std::vector<Input> inputs(files.size());
    absl::flat_hash_map<absl::string_view, DailyGroup> groups;
    for (size_t f = 0; f < files.size(); ++f) {
      RETURN_IF_ERROR(inputs[f].Open(files[f]));
      CountRows(inputs[f].data(), &groups, &c);
    }
    AppendDailyRows(day.substr(3), groups, &out);
  }
  RETURN_IF_ERROR(WriteAll(out_path, out));
  return c;
}

}  // namespace nginx_baseline
