// Hand-written single-threaded Yahoo Streaming Benchmark baseline: no sluice runtime.
//
// Reads the ads CSV (ad_id,campaign_id) and the events file (one JSON object per line),
// keeps events whose event_type is "view", joins ad_id -> campaign_id (events whose ad
// is not in the CSV are dropped), and counts events per (campaign_id, window_start) with
// window_start = event_time - (event_time mod 10000) (floor modulo). The events file is
// mmapped with zeroed padding after it so simdjson's ondemand parser can read
// SIMDJSON_PADDING bytes past the end; each line is parsed on this thread (iterate_many
// is avoided because the packaged simdjson enables its lookahead thread). A line that is
// not a JSON object with string ad_id/event_type and integer event_time is a fatal error.
//
// Output: TSV with header "campaign_id\twindow_start\tcount", rows in no particular order.
// Stderr: "events=<N> seconds=<S> events_per_sec=<R>", timed from after argument parsing
// to after the output file is closed.
//
//   ysb_baseline --events events.jsonl --ads ads.csv --out out.tsv
#include <fcntl.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace {

constexpr int64_t kWindowMs = 10'000;

// A read-only file mapping followed by at least `padding` zero bytes.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (base_ != nullptr) munmap(base_, map_len_);
  }

  absl::Status Open(const std::string& path, size_t padding) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sluice::ErrnoToStatus(errno, path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return sluice::ErrnoToStatus(err, path);
    }
    size_ = static_cast<size_t>(st.st_size);
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    map_len_ = (size_ + padding + page - 1) / page * page;
    // Reserve zeroed anonymous memory, then map the file over its start. Bytes after the
    // end of the file (rest of its last page, then the anonymous pages) read as zero.
    base_ = mmap(nullptr, map_len_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      int err = errno;
      ::close(fd);
      return sluice::ErrnoToStatus(err, path);
    }
    if (size_ > 0) {
      void* p = mmap(base_, size_, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return sluice::ErrnoToStatus(err, path);
      }
      madvise(base_, size_, MADV_SEQUENTIAL);
    }
    ::close(fd);
    return absl::OkStatus();
  }

  const char* data() const { return static_cast<const char*>(base_); }
  size_t size() const { return size_; }
  size_t capacity() const { return map_len_; }

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
  size_t map_len_ = 0;
};

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

struct Ads {
  absl::flat_hash_map<std::string, int32_t> ad_to_campaign;
  std::vector<std::string> campaigns;
};

absl::StatusOr<Ads> LoadAds(const std::string& path) {
  MappedFile file;
  RETURN_IF_ERROR(file.Open(path, 0));
  std::string_view rest(file.data(), file.size());
  Ads ads;
  absl::flat_hash_map<std::string, int32_t> campaign_ids;
  bool header = true;
  int64_t line_no = 0;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (header) {
      if (line != "ad_id,campaign_id") {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": header must be 'ad_id,campaign_id'"));
      }
      header = false;
      continue;
    }
    if (line.empty()) continue;
    size_t comma = line.find(',');
    if (comma == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": no comma"));
    }
    std::string campaign(line.substr(comma + 1));
    auto [it, inserted] =
        campaign_ids.try_emplace(campaign, static_cast<int32_t>(ads.campaigns.size()));
    if (inserted) ads.campaigns.push_back(campaign);
    ads.ad_to_campaign[std::string(line.substr(0, comma))] = it->second;
  }
  if (header) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file"));
  return ads;
}

struct Result {
  int64_t events = 0;
};

absl::StatusOr<Result> Run(const std::string& events_path, const std::string& ads_path,
                           const std::string& out_path) {
  ASSIGN_OR_RETURN(Ads ads, LoadAds(ads_path));
  MappedFile file;
  RETURN_IF_ERROR(file.Open(events_path, simdjson::SIMDJSON_PADDING));

  absl::flat_hash_map<std::pair<int32_t, int64_t>, int64_t> counts;
  simdjson::ondemand::parser parser;
  Result result;
  const char* p = file.data();
  const char* const end = p + file.size();
  int64_t line_no = 0;
  while (p < end) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl == nullptr ? end : nl;
    const char* line = p;
    size_t len = static_cast<size_t>(line_end - line);
    p = nl == nullptr ? end : nl + 1;
    ++line_no;
    // Skip blank lines.
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) ++k;
    if (k == len) continue;
    ++result.events;

    size_t capacity = static_cast<size_t>(file.data() + file.capacity() - line);
    simdjson::ondemand::document doc;
    std::string_view ad_id, event_type;
    int64_t event_time = 0;
    auto error = parser.iterate(line, len, capacity).get(doc);
    if (!error) error = doc["ad_id"].get_string().get(ad_id);
    auto it = ads.ad_to_campaign.end();
    if (!error) {
      it = ads.ad_to_campaign.find(sluice::Sv(ad_id));
      error = doc["event_type"].get_string().get(event_type);
    }
    if (!error) error = doc["event_time"].get_int64().get(event_time);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat(events_path, ":", line_no, ": ", simdjson::error_message(error)));
    }
    if (event_type != "view" || it == ads.ad_to_campaign.end()) continue;
    int64_t rem = event_time % kWindowMs;
    if (rem < 0) rem += kWindowMs;
    ++counts[{it->second, event_time - rem}];
  }

  std::string out = "campaign_id\twindow_start\tcount\n";
  out.reserve(out.size() + counts.size() * 72);
  for (const auto& [key, count] : counts) {
    AppendTsvString(&out, ads.campaigns[key.first]);
    absl::StrAppend(&out, "\t", key.second, "\t", count, "\n");
  }
  RETURN_IF_ERROR(WriteAll(out_path, out));
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(
      "Single-threaded hand-written YSB baseline (view count per campaign per "
      "10 s window).");
  std::string events_path, ads_path, out_path;
  app.add_option("--events", events_path, "Events file, one JSON object per line")->required();
  app.add_option("--ads", ads_path, "Ads CSV: ad_id,campaign_id")->required();
  app.add_option("--out", out_path, "Output TSV path")->required();
  CLI11_PARSE(app, argc, argv);

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Result> result = Run(events_path, ads_path, out_path);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    std::fprintf(stderr, "ysb_baseline: %s\n", result.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "events=%lld seconds=%.3f events_per_sec=%.0f\n",
               static_cast<long long>(result->events), seconds,
               seconds > 0 ? static_cast<double>(result->events) / seconds : 0.0);
  return 0;
}
