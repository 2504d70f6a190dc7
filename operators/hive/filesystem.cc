#include "operators/hive/filesystem.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice::hive {
namespace {

absl::Status Errno(std::string_view what, const std::string& path, int err = errno) {
  std::string msg = absl::StrCat(Sv(what), " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

class LocalFile : public WritableFile {
 public:
  LocalFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~LocalFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("cannot write", path_);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }
  absl::Status Close(bool durable) override {
    if (fd_ < 0) return absl::OkStatus();
    if (durable && ::fdatasync(fd_) != 0) return Errno("cannot sync", path_);
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Errno("cannot close", path_);
    return absl::OkStatus();
  }

 private:
  int fd_;
  std::string path_;
};

std::string Parent(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

class LocalFileSystem : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path) override {
    if (absl::Status st = MakeDirs(Parent(path)); !st.ok()) return st;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot create", path);
    return std::unique_ptr<WritableFile>(new LocalFile(fd, path));
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Errno("cannot read", path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  absl::Status WriteFileAtomic(const std::string& path, std::string_view contents) override {
    // Unique per call: subtasks of one process may write the same file at once.
    static std::atomic<uint64_t> counter{0};
    const std::string tmp = absl::StrCat(Parent(path), "/.", std::filesystem::path(path).filename().string(), ".",
                                         ::getpid(), ".", counter.fetch_add(1), ".tmp");
    auto f = Create(tmp);
    if (!f.ok()) return f.status();
    if (absl::Status st = (*f)->Append(contents); !st.ok()) return st;
    if (absl::Status st = (*f)->Close(true); !st.ok()) return st;
    return Rename(tmp, path);
  }

  absl::StatusOr<bool> CreateExclusive(const std::string& path) override {
    if (absl::Status st = MakeDirs(Parent(path)); !st.ok()) return st;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST) return false;
      return Errno("cannot create", path);
    }
    ::close(fd);
    return true;
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno(absl::StrCat("cannot rename ", from, " to"), to);
    SyncDir(Parent(to));
    return absl::OkStatus();
  }

  absl::Status ReplaceDirectory(const std::string& from, const std::string& to) override {
    struct stat st;
    if (::stat(to.c_str(), &st) != 0) {
      if (absl::Status s = MakeDirs(Parent(to)); !s.ok()) return s;
      return Rename(from, to);
    }
    // Swap both names in one step (Linux renameat2), then drop the old directory, now
    // under `from`.
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE) != 0) {
      return Errno(absl::StrCat("cannot exchange ", from, " with"), to);
    }
    SyncDir(Parent(to));
    return RemoveAll(from);
  }

  absl::Status MakeDirs(const std::string& path) override {
    if (path.empty()) return absl::OkStatus();
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create directory ", path, ": ", ec.message()));
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return Errno("cannot stat", path);
  }

  absl::StatusOr<bool> IsDirectory(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return S_ISDIR(st.st_mode);
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return Errno("cannot stat", path);
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& path) override {
    std::error_code ec;
    std::vector<std::string> names;
    std::filesystem::directory_iterator it(path, ec);
    if (ec) {
      std::string msg = absl::StrCat("cannot list ", path, ": ", ec.message());
      if (ec == std::errc::no_such_file_or_directory) return absl::NotFoundError(msg);
      return absl::InternalError(msg);
    }
    for (const auto& e : it) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot remove ", path, ": ", ec.message()));
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::shared_ptr<FileSystem>> OpenFileSystem(std::string_view uri, std::string* path) {
  static const std::shared_ptr<FileSystem> local = std::make_shared<LocalFileSystem>();
  if (absl::StartsWith(Sv(uri), "file://")) {
    uri.remove_prefix(7);
    if (uri.empty() || uri[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("expected file:///ABSOLUTE/PATH, got 'file://", Sv(uri), "'"));
    }
    *path = std::string(uri);
    return local;
  }
  if (size_t sep = uri.find("://"); sep != std::string_view::npos) {
    std::string scheme(uri.substr(0, sep));
    if (scheme == "hdfs" || scheme == "webhdfs") {
      return absl::UnimplementedError(
          absl::StrCat(scheme, ":// warehouses are not built yet (WebHDFS will plug in behind "
                               "operators/hive/filesystem.h); use file:// or a path, or an HDFS NFS/FUSE mount"));
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown filesystem scheme '", scheme, "://' (file:// or a path)"));
  }
  *path = std::string(uri);
  while (path->size() > 1 && path->back() == '/') path->pop_back();
  return local;
}

}  // namespace sluice::hive
