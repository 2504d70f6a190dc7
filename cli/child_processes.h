// The processes and files `sluice local` manages on this machine: starting children that
// die with it (even on kill -9), stopping them, probing a port, and a temporary data
// directory that is removed at exit (or, after a kill -9, by the next run). Call these
// from the main thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace sluice::cli {

// The directory of this executable, where sluice-coordinator and sluice-worker live.
std::string SelfDir();

// Starts `args` (args[0] is the path) as a child that dies with this process: it gets
// SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), so even a kill -9 of
// `sluice local` leaves no coordinator or worker behind. Call from the main thread, which
// lives as long as the process. Children get default signal handling and an empty
// signal mask (ours blocks SIGINT/SIGTERM). Returns -1 (and says why) on failure.
pid_t Spawn(const std::vector<std::string>& args);

// Whether nothing listens on (or holds) 127.0.0.1:`port`. Binds without SO_REUSEPORT,
// so a server that shares its port (gRPC servers set SO_REUSEPORT) counts as there.
bool PortFree(int port);

// Removes the temporary directories that earlier `sluice local` runs, now dead (kill -9),
// left behind: ours (same uid), with an owner pid that no longer exists.
void RemoveStaleTempDirs();

// A fresh temporary directory, removed when this goes out of scope.
class TempDir {
 public:
  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  // Creates it, with a file naming this process as its owner (see RemoveStaleTempDirs).
  bool Create();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Stops the children: SIGTERM, then SIGKILL after a grace period; clears `pids`.
void StopAll(std::vector<pid_t>& pids);

}  // namespace sluice::cli
