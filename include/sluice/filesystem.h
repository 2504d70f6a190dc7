/// Files for sinks and checkpoints: a small FileSystem interface, the local disk behind
/// it (LocalFileSystem), and the one way sluice makes a file appear whole or not at all
/// (AtomicFile, WriteFileAtomic): write a temporary file beside the target, fsync it,
/// rename it onto the target, fsync the directory. A reader (or a restart after a
/// crash) sees the old content or the new, never a part of the new.
///
/// Every sink that makes files visible (file_sink, hive_sink) and the runtime's
/// checkpoint writer go through AtomicFile; an HDFS client (WebHDFS) will implement
/// FileSystem and get the same protocol. Fencing against stale attempts is separate
/// (sluice/output_fence.h): a sink commits inside OutputFence::Publish.
///
/// Thread-safety: a FileSystem may be used from any thread (LocalFileSystem keeps no
/// state); a WritableFile or AtomicFile belongs to one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

/// A file being written. Append may buffer; Close flushes and, with `durable`, syncs
/// the bytes to stable storage first (fdatasync). Destroying an unclosed file closes it
/// without syncing.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  virtual absl::Status Close(bool durable) = 0;
};

/// Paths are the filesystem's own (for the local disk, plain paths). Errors: NOT_FOUND
/// for a missing path, PERMISSION_DENIED, UNAVAILABLE for other I/O failures (a full
/// disk, an I/O error: another attempt, elsewhere, may succeed); each names the path.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  /// Creates (or truncates) `path`, making its parent directories.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  /// Creates `path` only if it does not exist; false if it did (an atomic claim).
  virtual absl::StatusOr<bool> CreateExclusive(const std::string& path) = 0;
  /// Renames a file or directory atomically, replacing an existing file `to`; durable
  /// when it returns (the directory of `to` is synced).
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  /// Puts directory `from` in place of directory `to` atomically; the old `to` (if any)
  /// is gone afterwards. Readers see the old or the new directory, never a mix or none.
  virtual absl::Status ReplaceDirectory(const std::string& from, const std::string& to) = 0;
  virtual absl::Status MakeDirs(const std::string& path) = 0;
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
  virtual absl::StatusOr<bool> IsDirectory(const std::string& path) = 0;
  /// Names (not paths) in directory `path`, sorted. NOT_FOUND if it does not exist.
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& path) = 0;
  /// Removes a file, or a directory with everything in it. OK if it does not exist.
  virtual absl::Status RemoveAll(const std::string& path) = 0;
};

/// The local disk (POSIX). Shared by the whole process; never null.
std::shared_ptr<FileSystem> LocalFileSystem();

/// A file written in pieces and made visible at once under its final name.
///
///     ASSIGN_OR_RETURN(auto file, AtomicFile::Create(fs, "out/data.tsv"));
///     RETURN_IF_ERROR(file->Append(bytes));   // as often as needed
///     RETURN_IF_ERROR(file->Finish());        // all bytes durable in the temporary file
///     RETURN_IF_ERROR(fence->Publish([&] { return file->Commit(); }));  // rename, sync dir
///
/// A failed Append, Finish or Commit removes the temporary file (what it held can never
/// become the file) and every later call returns that error. Discard removes it on
/// purpose. An AtomicFile destroyed before Commit or Discard leaves its temporary file
/// where it is, closed: a sink whose job failed keeps its in-progress files for recovery
/// or inspection (and OutputFence::Claim clears a stale attempt's).
///
/// REQUIRES: `fs` outlives the AtomicFile.
class AtomicFile {
 public:
  /// Starts writing `path` into `temp_path`, created afresh with its parent directories.
  /// An empty `temp_path` picks a hidden name beside `path`, unique in this process
  /// (".NAME.PID.N.tmp"). The temporary must be on the same filesystem as `path`.
  static absl::StatusOr<std::unique_ptr<AtomicFile>> Create(FileSystem& fs, std::string path,
                                                            std::string temp_path = "");
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  absl::Status Append(std::string_view data);
  /// Closes the temporary file durably: after OK it holds every appended byte on stable
  /// storage, ready for Commit (now, or after a checkpoint completes). Idempotent.
  absl::Status Finish();
  /// Finishes if not yet done, then renames the temporary file onto `path` (replacing
  /// any old file there) and syncs the directory. FAILED_PRECONDITION after Discard.
  absl::Status Commit();
  /// Closes (without syncing) and removes the temporary file. Idempotent.
  void Discard();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  bool committed() const { return state_ == State::kCommitted; }

 private:
  enum class State { kWriting, kFinished, kCommitted, kDiscarded, kFailed };
  AtomicFile(FileSystem& fs, std::string path, std::string temp_path, std::unique_ptr<WritableFile> file);
  // Records `error`, removes the temporary file; returns `error`.
  absl::Status Fail(absl::Status error);

  FileSystem& fs_;
  std::string path_;
  std::string temp_path_;
  std::unique_ptr<WritableFile> file_;  // null once closed
  State state_ = State::kWriting;
  absl::Status error_;
};

/// Replaces `path` with `contents` atomically and durably (AtomicFile with a unique
/// temporary name). On failure `path` is unchanged and no temporary file is left.
absl::Status WriteFileAtomic(FileSystem& fs, const std::string& path, std::string_view contents);

}  // namespace sluice
