#include "cli/child_processes.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace sluice::cli {
namespace {

constexpr const char* kTempPrefix = "sluice-local-";
constexpr const char* kOwnerFile = "sluice-local.pid";

}  // namespace

std::string SelfDir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : p.parent_path().string();
}

// Starts `args` (args[0] is the path) as a child that dies with this process: it gets
// SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so even a kill -9 of
// `sluice local` leaves no coordinator or worker behind. Call from the main thread, which
// lives as long as the process. Children get default signal handling and an empty
// signal mask (ours blocks SIGINT/SIGTERM). Returns -1 (and says why) on failure.
pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The exec's outcome comes back through a close-on-exec pipe: EOF means it worked.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "error: cannot start %s: pipe: %s\n", argv[0], strerror(errno));
    return -1;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "error: cannot start %s: fork: %s\n", argv[0], strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    // The child: async-signal-safe calls only until exec.
    close(fds[0]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);  // parent already gone
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // fails harmlessly for some
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    const int err = errno;
    (void)!write(fds[1], &err, sizeof(err));
    _exit(127);
  }
  close(fds[1]);
  int err = 0;
  ssize_t n;
  do {
    n = read(fds[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == static_cast<ssize_t>(sizeof(err))) {
    waitpid(pid, nullptr, 0);
    std::fprintf(stderr, "error: cannot start %s: %s\n", argv[0], strerror(err));
    return -1;
  }
  return pid;
}

// Whether nothing listens on (or holds) 127.0.0.1:`port`. Binds without SO_REUSEPORT,
// so a server that shares its port (gRPC servers set SO_REUSEPORT) counts as there.
bool PortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell; let the coordinator try
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // TIME_WAIT leftovers do not count
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 || errno != EADDRINUSE;
  close(fd);
  return free;
}

void RemoveStaleTempDirs() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path(ec), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kTempPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    struct stat st;
    if (stat(entry.path().c_str(), &st) != 0 || st.st_uid != getuid()) continue;
    std::ifstream in(entry.path() / kOwnerFile);
    long pid = 0;
    if (!(in >> pid) || pid <= 0) continue;  // not one of ours, or still being set up
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // its owner still runs
    std::filesystem::remove_all(entry.path(), ec);
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

bool TempDir::Create() {
  std::error_code ec;
  std::string tmpl = (std::filesystem::temp_directory_path(ec) / absl::StrCat(kTempPrefix, "XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) return false;
  path_ = tmpl;
  std::ofstream(std::filesystem::path(path_) / kOwnerFile) << getpid() << "\n";
  return true;
}

void StopAll(std::vector<pid_t>& pids) {
  for (auto it = pids.rbegin(); it != pids.rend(); ++it) kill(*it, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (pid_t pid : pids) {
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  pids.clear();
}

}  // namespace sluice::cli
