// AgentLock: the exclusive lock a `sluice ingest` agent holds on a directory whose state
// it owns (the spool directory's `.sluice/`, the checkpoint directory) for as long as the
// process lives, so that a second agent started on the same directory refuses to start
// instead of restoring the first one's checkpoint and deleting its in-progress files.
//
// The lock is flock(2) on DIR/ingest.lock: the kernel drops it when the holder exits,
// however it exits (kill -9 included), so a stale lock file never blocks a restart. The
// file holds the holder's pid, host and start time, which the refusal quotes. On NFS,
// Linux maps flock to NFS byte-range locks (lockd), which lock across hosts.
// Not thread-safe; one object per lock.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace sluice::cli {

class AgentLock {
 public:
  ~AgentLock();
  AgentLock(const AgentLock&) = delete;
  AgentLock& operator=(const AgentLock&) = delete;

  // Takes the lock on DIR/ingest.lock, creating DIR if needed; `what` says what the
  // holder is (written into the file, e.g. "sluice ingest ingest.yaml (job x)").
  // FAILED_PRECONDITION naming the lock file and its holder (pid, host, start time) if
  // another process holds it; UNAVAILABLE if the file cannot be created or locked.
  static absl::StatusOr<std::unique_ptr<AgentLock>> Acquire(const std::string& dir, const std::string& what);

  const std::string& path() const { return path_; }

 private:
  AgentLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace sluice::cli
