#include "sluice/output_fence.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

std::string FencePath(const std::string& path) {
  std::filesystem::path p(path);
  return (p.parent_path() / absl::StrCat(".", p.filename().string(), ".fence")).string();
}

absl::Status Errno(const char* what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Holds flock(LOCK_EX) on `fd` for a scope.
class Locked {
 public:
  explicit Locked(int fd) : fd_(fd) {
    while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~Locked() { flock(fd_, LOCK_UN); }

 private:
  int fd_;
};

std::string ReadAll(int fd) {
  std::string out;
  char buf[512];
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), off);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

// The fence file: one line "JOB\tATTEMPT" per job that claimed the output, the latest
// claim last. Several jobs may write one output (two agents appending to one Hive
// table); only attempts of the same job fence each other. Damaged lines are skipped.
constexpr size_t kMaxJobs = 64;  // older claims are forgotten

struct Claims {
  std::vector<std::pair<std::string, int64_t>> jobs;  // in claim order

  static Claims Parse(const std::string& text) {
    Claims c;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      size_t tab = line.find('\t');
      int64_t attempt = 0;
      if (tab == std::string::npos || !absl::SimpleAtoi(absl::string_view(line).substr(tab + 1), &attempt)) continue;
      c.Set(line.substr(0, tab), attempt);
    }
    return c;
  }
  // The attempt of `job` that holds its claim, or 0.
  int64_t Of(const std::string& job) const {
    for (const auto& [j, a] : jobs) {
      if (j == job) return a;
    }
    return 0;
  }
  void Set(const std::string& job, int64_t attempt) {
    for (auto it = jobs.begin(); it != jobs.end(); ++it) {
      if (it->first == job) {
        jobs.erase(it);
        break;
      }
    }
    jobs.emplace_back(job, attempt);
    if (jobs.size() > kMaxJobs) jobs.erase(jobs.begin(), jobs.end() - kMaxJobs);
  }
  std::string ToString() const {
    std::string out;
    for (const auto& [j, a] : jobs) absl::StrAppend(&out, j, "\t", a, "\n");
    return out;
  }
};

}  // namespace

std::string OutputFence::InProgressPath(const std::string& path, const Context& ctx) {
  return absl::StrCat(path, ".inprogress.", ctx.run_id());
}

absl::StatusOr<std::unique_ptr<OutputFence>> OutputFence::Claim(const std::string& path, const Context& ctx) {
  const std::string fence = FencePath(path);
  int fd = ::open(fence.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", path, " (its fence file ", fence, "): ", std::strerror(errno)));
  }
  std::unique_ptr<OutputFence> out(new OutputFence(path, ctx.job_id(), ctx.attempt(), fd));
  Locked lock(fd);
  Claims claims = Claims::Parse(ReadAll(fd));
  const int64_t held = claims.Of(ctx.job_id());
  if (held > ctx.attempt()) {
    return absl::AbortedError(absl::StrCat("attempt ", ctx.attempt(), " of job ", ctx.job_id(),
                                           " is stale: attempt ", held, " has claimed ", path));
  }
  claims.Set(ctx.job_id(), ctx.attempt());
  std::string text = claims.ToString();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      fsync(fd) != 0) {
    return Errno("cannot write the fence file", fence);
  }
  // What earlier attempts of this job left in progress (and the pre-fencing name).
  std::filesystem::path p(path);
  const std::string mine = std::filesystem::path(InProgressPath(path, ctx)).filename().string();
  const std::string prefix = absl::StrCat(p.filename().string(), ".inprogress.", ctx.job_id(), "-");
  const std::string legacy = absl::StrCat(p.filename().string(), ".inprogress");
  std::error_code ec;
  std::filesystem::path dir = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name != mine && (name == legacy || name.rfind(prefix, 0) == 0)) std::filesystem::remove(entry.path(), ec);
  }
  return out;
}

OutputFence::~OutputFence() { ::close(fd_); }

absl::Status OutputFence::Publish(const std::function<absl::Status()>& publish) {
  Locked lock(fd_);
  const int64_t held = Claims::Parse(ReadAll(fd_)).Of(job_);
  if (held > attempt_) {
    return absl::AbortedError(absl::StrCat("not publishing ", path_, ": attempt ", attempt_, " of job ", job_,
                                           " is stale, attempt ", held, " has claimed the output since"));
  }
  return publish();
}

}  // namespace sluice
