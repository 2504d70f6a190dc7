// The warehouse's filesystem, behind an interface so tables can live on local disk
// (file://, built) or HDFS (hdfs:// through WebHDFS, not built yet: see README.md).
// Paths are the filesystem's own (for file://, absolute local paths).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::hive {

// A file being written. Append buffers; Close flushes and, with `durable`, syncs.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  virtual absl::Status Close(bool durable) = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates (or truncates) `path`, making parent directories.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path) = 0;
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  // Writes `path` whole and atomically (a temporary next to it, then a rename).
  virtual absl::Status WriteFileAtomic(const std::string& path, std::string_view contents) = 0;
  // Creates `path` only if it does not exist; false if it did (an atomic claim).
  virtual absl::StatusOr<bool> CreateExclusive(const std::string& path) = 0;
  // Renames a file or directory; replaces an existing file `to`.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Puts directory `from` in place of directory `to` atomically; the old `to` (if any)
  // is gone afterwards. Readers see the old or the new directory, never a mix or none.
  virtual absl::Status ReplaceDirectory(const std::string& from, const std::string& to) = 0;
  virtual absl::Status MakeDirs(const std::string& path) = 0;
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
  virtual absl::StatusOr<bool> IsDirectory(const std::string& path) = 0;
  // Names (not paths) in directory `path`, sorted. NOT_FOUND if it does not exist.
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& path) = 0;
  virtual absl::Status RemoveAll(const std::string& path) = 0;
};

// The filesystem of a warehouse URI: "file:///abs/path" or a plain path (local), with
// the path on it in *path. hdfs:// and others: UNIMPLEMENTED, naming what to use.
absl::StatusOr<std::shared_ptr<FileSystem>> OpenFileSystem(std::string_view uri, std::string* path);

}  // namespace sluice::hive
