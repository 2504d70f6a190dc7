// Clean shutdown on Ctrl-C / SIGTERM for long-running processes: block the signals in
// main() before any thread starts (so no other thread receives them), then wait for one.
#pragma once

#include <signal.h>

namespace sluice {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts later.
inline void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Waits for SIGINT or SIGTERM (blocked first) and returns its number.
inline int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace sluice
