#include "sluice/output_fence.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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

struct Owner {
  std::string job;
  int64_t attempt = 0;
};

std::string StripNewline(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// "JOB\tATTEMPT" (a trailing newline allowed); anything else (empty, damaged) counts as
// no owner.
Owner ParseOwner(const std::string& text) {
  Owner o;
  std::string line = StripNewline(text);
  size_t tab = line.find('\t');
  if (tab == std::string::npos) return o;
  int64_t attempt = 0;
  if (absl::SimpleAtoi(absl::string_view(line).substr(tab + 1), &attempt)) {
    o.job = line.substr(0, tab);
    o.attempt = attempt;
  }
  return o;
}

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
  std::unique_ptr<OutputFence> out(new OutputFence(path, absl::StrCat(ctx.job_id(), "\t", ctx.attempt()), fd));
  Locked lock(fd);
  Owner held = ParseOwner(ReadAll(fd));
  if (held.job == ctx.job_id() && held.attempt > ctx.attempt()) {
    return absl::AbortedError(absl::StrCat("attempt ", ctx.attempt(), " of job ", ctx.job_id(),
                                           " is stale: attempt ", held.attempt, " has claimed ", path));
  }
  std::string text = absl::StrCat(out->owner_, "\n");
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
  std::string held = StripNewline(ReadAll(fd_));
  if (held != owner_) {
    Owner o = ParseOwner(held);
    Owner me = ParseOwner(owner_);
    return absl::AbortedError(absl::StrCat("not publishing ", path_, ": attempt ", me.attempt, " of job ", me.job,
                                           " is stale, job ", o.job, " attempt ", o.attempt,
                                           " has claimed the output since"));
  }
  return publish();
}

}  // namespace sluice
