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
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
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
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/civil_days.h"
#include "common/status.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace {

constexpr int64_t kWindowMs = 60'000;

// The whole input: an mmapped plain file or a decompressed gzip file.
class Input {
 public:
  Input() = default;
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  ~Input() {
    if (map_ != nullptr) munmap(map_, map_len_);
  }

  absl::Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sluice::ErrnoToStatus(errno, path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return sluice::ErrnoToStatus(err, path);
    }
    map_len_ = static_cast<size_t>(st.st_size);
    if (map_len_ > 0) {
      map_ = mmap(nullptr, map_len_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (map_ == MAP_FAILED) {
        map_ = nullptr;
        int err = errno;
        ::close(fd);
        return sluice::ErrnoToStatus(err, path);
      }
      madvise(map_, map_len_, MADV_SEQUENTIAL);
    }
    ::close(fd);
    const auto* bytes = static_cast<const unsigned char*>(map_);
    if (map_len_ >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
      RETURN_IF_ERROR(Gunzip(path, bytes, map_len_));
      data_ = decompressed_;
    } else {
      data_ = std::string_view(static_cast<const char*>(map_), map_len_);
    }
    return absl::OkStatus();
  }

  std::string_view data() const { return data_; }

 private:
  absl::Status Gunzip(const std::string& path, const unsigned char* in, size_t len) {
    z_stream zs;
    std::memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return absl::InternalError("inflateInit2");
    zs.next_in = const_cast<unsigned char*>(in);
    zs.avail_in = static_cast<uInt>(len);  // inputs here are < 4 GiB compressed
    decompressed_.resize(std::max<size_t>(len * 4, 1 << 20));
    size_t produced = 0;
    int rc = Z_OK;
    while (true) {
      if (produced == decompressed_.size()) decompressed_.resize(decompressed_.size() * 2);
      zs.next_out = reinterpret_cast<unsigned char*>(decompressed_.data() + produced);
      zs.avail_out = static_cast<uInt>(std::min<size_t>(decompressed_.size() - produced, 1u << 30));
      uInt before = zs.avail_out;
      rc = inflate(&zs, Z_NO_FLUSH);
      produced += before - zs.avail_out;
      if (rc == Z_STREAM_END) {
        if (zs.avail_in == 0) break;
        inflateReset(&zs);  // concatenated gzip members
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) break;
      if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) {
      return absl::DataLossError(absl::StrCat(path, ": bad or truncated gzip stream"));
    }
    decompressed_.resize(produced);
    return absl::OkStatus();
  }

  void* map_ = nullptr;
  size_t map_len_ = 0;
  std::string decompressed_;
  std::string_view data_;
};

inline bool IsSpace(char c) {  // the regex \S complement: [ \t\n\r\f\v]
  return c == ' ' || (c >= '\t' && c <= '\r');
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline int Digits2(const char* p) { return (p[0] - '0') * 10 + (p[1] - '0'); }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

int MonthFromName(const char* p) {
  static constexpr char kNames[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int i = 0; i < 12; ++i) {
    if (p[0] == kNames[3 * i] && p[1] == kNames[3 * i + 1] && p[2] == kNames[3 * i + 2]) {
      return i + 1;
    }
  }
  return 0;
}

// Parses "DD/Mon/YYYY:HH:MM:SS +HHMM" (exactly 26 bytes at p) to UTC ms.
bool ParseTime(const char* p, int64_t* utc_ms) {
  // Positions:  0123456789012345678901234 5
  //             DD/Mon/YYYY:HH:MM:SS +HHMM
  static constexpr int kDigitPos[] = {0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25};
  for (int i : kDigitPos) {
    if (!IsDigit(p[i])) return false;
  }
  if (p[2] != '/' || p[6] != '/' || p[11] != ':' || p[14] != ':' || p[17] != ':' || p[20] != ' ' ||
      (p[21] != '+' && p[21] != '-')) {
    return false;
  }
  int month = MonthFromName(p + 3);
  if (month == 0) return false;
  int day = Digits2(p);
  int64_t year = Digits2(p + 7) * 100 + Digits2(p + 9);
  int hour = Digits2(p + 12), minute = Digits2(p + 15), second = Digits2(p + 18);
  int zh = Digits2(p + 22), zm = Digits2(p + 24);
  if (day < 1 || day > sluice::DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 ||
      zh > 14 || zm > 59) {
    return false;
  }
  int64_t local = sluice::DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  int64_t offset = (p[21] == '-' ? -1 : 1) * (zh * 3600 + zm * 60);
  *utc_ms = (local - offset) * 1000;
  return true;
}

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
bool ParseLine(std::string_view line, Parsed* out) {
  const char* p = line.data();
  const char* const e = p + line.size();
  // $remote_addr: \S+
  const char* s = p;
  while (p < e && !IsSpace(*p)) ++p;
  if (p == s) return false;
  out->addr = std::string_view(s, static_cast<size_t>(p - s));
  if (e - p < 3 || p[0] != ' ' || p[1] != '-' || p[2] != ' ') return false;
  p += 3;
  // $remote_user: \S+
  s = p;
  while (p < e && !IsSpace(*p)) ++p;
  if (p == s) return false;
  // " [" time "] \""
  if (e - p < 2 + 26 + 3 || p[0] != ' ' || p[1] != '[') return false;
  p += 2;
  if (!ParseTime(p, &out->event_ms)) return false;
  p += 26;
  if (p[0] != ']' || p[1] != ' ' || p[2] != '"') return false;
  p += 3;
  // "$request"
  s = p;
  const char* q = static_cast<const char*>(memchr(p, '"', static_cast<size_t>(e - p)));
  if (q == nullptr) return false;
  std::string_view request(s, static_cast<size_t>(q - s));
  p = q + 1;
  // " $status "
  if (e - p < 5 || p[0] != ' ' || !IsDigit(p[1]) || !IsDigit(p[2]) || !IsDigit(p[3]) ||
      p[4] != ' ') {
    return false;
  }
  p += 5;
  out->status = std::string_view(p - 4, 3);
  // $body_bytes_sent: \d+ or -
  if (p < e && *p == '-') {
    out->bytes = std::string_view(p, 1);
    ++p;
  } else {
    s = p;
    while (p < e && IsDigit(*p)) ++p;
    if (p == s) return false;
    out->bytes = std::string_view(s, static_cast<size_t>(p - s));
  }
  // ' "$http_referer" "'
  if (e - p < 2 || p[0] != ' ' || p[1] != '"') return false;
  p += 2;
  q = static_cast<const char*>(memchr(p, '"', static_cast<size_t>(e - p)));
  if (q == nullptr) return false;
  out->referer = std::string_view(p, static_cast<size_t>(q - p));
  p = q + 1;
  if (e - p < 2 || p[0] != ' ' || p[1] != '"') return false;
  p += 2;
  // "$http_user_agent" must end the line.
  q = static_cast<const char*>(memchr(p, '"', static_cast<size_t>(e - p)));
  if (q == nullptr || q + 1 != e) return false;
  out->user_agent = std::string_view(p, static_cast<size_t>(q - p));

  // Request: METHOD TARGET PROTOCOL, single spaces, three non-empty parts.
  size_t sp1 = request.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  for (size_t i = 0; i < sp1; ++i) {
    if (request[i] < 'A' || request[i] > 'Z') return false;
  }
  size_t sp2 = request.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  std::string_view protocol = request.substr(sp2 + 1);
  if (protocol.find(' ') != std::string_view::npos || protocol.substr(0, 5) != "HTTP/") {
    return false;
  }
  std::string_view target = request.substr(sp1 + 1, sp2 - sp1 - 1);
  const size_t qm = target.find('?');
  out->path = target.substr(0, qm);
  out->has_query = qm != std::string_view::npos;
  out->query = out->has_query ? target.substr(qm + 1) : std::string_view();
  out->method = request.substr(0, sp1);
  return true;
}

bool IsBot(std::string_view ua) {
  // (c | 0x20) == 'x' holds exactly for the two cases of the letter x.
  const size_t n = ua.size();
  for (size_t i = 0; i < n; ++i) {
    char c = static_cast<char>(ua[i] | 0x20);
    size_t left = n - i;
    if (c == 'b') {
      if (left >= 3 && (ua[i + 1] | 0x20) == 'o' && (ua[i + 2] | 0x20) == 't') return true;
    } else if (c == 's') {
      if (left >= 6 && (ua[i + 1] | 0x20) == 'p' && (ua[i + 2] | 0x20) == 'i' &&
          (ua[i + 3] | 0x20) == 'd' && (ua[i + 4] | 0x20) == 'e' && (ua[i + 5] | 0x20) == 'r') {
        return true;
      }
    } else if (c == 'c') {
      if (left >= 5 && (ua[i + 1] | 0x20) == 'r' && (ua[i + 2] | 0x20) == 'a' &&
          (ua[i + 3] | 0x20) == 'w' && (ua[i + 4] | 0x20) == 'l') {
        return true;
      }
    }
  }
  return false;
}

bool IsStaticAsset(std::string_view path) {
  if (path.substr(0, 8) == "/static/") return true;
  static constexpr std::string_view kExts[] = {".css", ".js",  ".png",  ".jpg",   ".jpeg", ".gif",
                                               ".ico", ".svg", ".woff", ".woff2", ".map"};
  char tail[6];
  size_t n = std::min<size_t>(path.size(), sizeof(tail));
  for (size_t i = 0; i < n; ++i) tail[i] = Lower(path[path.size() - n + i]);
  std::string_view lower_tail(tail, n);
  for (std::string_view ext : kExts) {
    if (lower_tail.size() >= ext.size() &&
        lower_tail.substr(lower_tail.size() - ext.size()) == ext) {
      return true;
    }
  }
  return false;
}

void AppendTsvString(std::string* out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        out->push_back(c);
    }
  }
}

absl::Status WriteAll(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return sluice::ErrnoToStatus(errno, path);
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return sluice::ErrnoToStatus(err, path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) return sluice::ErrnoToStatus(errno, path);
  return absl::OkStatus();
}

struct Counters {
  int64_t lines = 0, malformed = 0, bot = 0, static_asset = 0, kept = 0;
};

// The next line of `*rest` (without its '\n'), consumed from it.
std::string_view NextLine(std::string_view* rest) {
  const char* nl = static_cast<const char*>(memchr(rest->data(), '\n', rest->size()));
  const size_t len = nl == nullptr ? rest->size() : static_cast<size_t>(nl - rest->data());
  const std::string_view line = rest->substr(0, len);
  rest->remove_prefix(nl == nullptr ? len : len + 1);
  return line;
}

// Counts `line`, parses it into *parsed and applies the bot rule (verdicts cached per
// user agent). False, with the reason counted, if the line is malformed or a bot's.
bool ParseAndCheckBot(std::string_view line, Parsed* parsed, absl::flat_hash_map<absl::string_view, bool>* bot_cache,
                      Counters* c) {
  ++c->lines;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!ParseLine(line, parsed)) {
    ++c->malformed;
    return false;
  }
  auto [it, new_agent] = bot_cache->try_emplace(sluice::Sv(parsed->user_agent), false);
  if (new_agent) it->second = IsBot(parsed->user_agent);
  if (it->second) {
    ++c->bot;
    return false;
  }
  return true;
}

struct Group {
  int64_t window_start;
  int32_t path_id;
  int64_t pv = 0;
  int64_t uv = 0;
};

absl::StatusOr<Counters> Run(const std::string& input_path, const std::string& out_path) {
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

// --- The offline pipeline's two steps, written by hand ----------------------------------

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
    AppendHiveString(&out, parsed.addr);
    out.push_back('\x01');
    const int64_t secs = FloorDiv(parsed.event_ms, 1000);
    AppendDate(&out, FloorDiv(secs, 86400));
    const int64_t tod = secs - FloorDiv(secs, 86400) * 86400;
    const int hh = static_cast<int>(tod / 3600), mm = static_cast<int>(tod / 60 % 60), ss = static_cast<int>(tod % 60);
    const char hms[9] = {' ', static_cast<char>('0' + hh / 10), static_cast<char>('0' + hh % 10), ':',
                         static_cast<char>('0' + mm / 10), static_cast<char>('0' + mm % 10), ':',
                         static_cast<char>('0' + ss / 10), static_cast<char>('0' + ss % 10)};
    out.append(hms, 9);
    out.push_back('\x01');
    AppendHiveString(&out, parsed.method);
    out.push_back('\x01');
    AppendHiveString(&out, parsed.path);
    out.push_back('\x01');
    if (parsed.has_query) AppendHiveString(&out, parsed.query); else out.append("\\N");
    out.push_back('\x01');
    out.append(parsed.status);
    out.push_back('\x01');
    if (parsed.bytes == "-") out.push_back('0'); else out.append(parsed.bytes);
    out.push_back('\x01');
    if (parsed.referer == "-") out.append("\\N"); else AppendHiveString(&out, parsed.referer);
    out.push_back('\x01');
    AppendHiveString(&out, parsed.user_agent);
    out.push_back('\n');
    if (out.size() >= (1 << 20)) RETURN_IF_ERROR(flush(*file));
  }
  for (auto& [day, f] : by_day) {
    RETURN_IF_ERROR(flush(f));
    if (::close(f.fd) != 0) return sluice::ErrnoToStatus(errno, "close");
  }
  return c;
}

struct DailyGroup {
  int64_t pv = 0;
  absl::flat_hash_set<absl::string_view> visitors;
  absl::flat_hash_map<absl::string_view, int64_t> referers;
};

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
      std::string_view rest = inputs[f].data();
      std::string_view fields[9];
      while (!rest.empty()) {
        const std::string_view line = NextLine(&rest);
        ++c.lines;
        int n = 0;
        size_t start = 0;
        for (size_t i = 0; i <= line.size() && n < 9; ++i) {
          if (i == line.size() || line[i] == '\x01') {
            fields[n++] = line.substr(start, i - start);
            start = i + 1;
          }
        }
        if (n < 9) {
          ++c.malformed;
          continue;
        }
        DailyGroup& g = groups[sluice::Sv(fields[3])];
        ++g.pv;
        g.visitors.insert(sluice::Sv(fields[0]));
        if (fields[7] != "\\N") ++g.referers[sluice::Sv(fields[7])];
      }
    }
    for (auto& [path, g] : groups) {
      std::vector<std::pair<absl::string_view, int64_t>> top(g.referers.begin(), g.referers.end());
      std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      if (top.size() > 3) top.resize(3);
      absl::StrAppend(&out, day.substr(3), "\t", path, "\t", g.pv, "\t", g.visitors.size(), "\t");
      for (size_t i = 0; i < top.size(); ++i) absl::StrAppend(&out, i ? "," : "", top[i].first, ":", top[i].second);
      out.push_back('\n');
    }
  }
  RETURN_IF_ERROR(WriteAll(out_path, out));
  return c;
}

}  // namespace

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

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Counters> result = mode == "hive_ingest"  ? RunHiveIngest(input_path, out_path)
                                    : mode == "hive_daily" ? RunHiveDaily(input_path, out_path)
                                                           : Run(input_path, out_path);
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
