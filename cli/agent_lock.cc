#include "cli/agent_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status.h"

namespace sluice::cli {
namespace {

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return "unknown host";
  return host;
}

// What the holder wrote. It truncates and writes right after locking, so an empty read
// may be a holder that has just taken the lock: look again briefly.
std::string ReadHolder(int fd) {
  std::string text;
  for (int attempt = 0; attempt < 20; ++attempt) {
    text.clear();
    char buf[512];
    ssize_t n;
    off_t off = 0;
    while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
      text.append(buf, static_cast<size_t>(n));
      off += n;
    }
    if (!text.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string holder(absl::StripTrailingAsciiWhitespace(text));
  return holder.empty() ? "a process that has not said who it is" : holder;
}

}  // namespace

AgentLock::~AgentLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock; the file stays (removing it would race)
}

absl::StatusOr<std::unique_ptr<AgentLock>> AgentLock::Acquire(const std::string& dir, const std::string& what) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::string path = absl::StrCat(dir, "/ingest.lock");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("opening the lock file ", path));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) {
      close(fd);
      return ErrnoToStatus(err, absl::StrCat("locking ", path));
    }
    std::string holder = ReadHolder(fd);
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "another agent holds ", path, ": ", holder,
        ". One agent at a time may work on a spool directory and its state; stop that one first "
        "(the lock goes when its process exits)"));
  }
  std::string text = absl::StrCat("pid ", getpid(), " on host ", HostName(), ", started ",
                                  absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()),
                                  ": ", what, "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    const int err = errno;
    close(fd);
    return ErrnoToStatus(err, absl::StrCat("writing ", path));
  }
  return std::unique_ptr<AgentLock>(new AgentLock(path, fd));
}

}  // namespace sluice::cli
