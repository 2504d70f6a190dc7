// The local disk behind sluice::FileSystem, and the one atomic-write protocol
// (AtomicFile): temporary file, fsync, rename, fsync of the directory.
#include "sluice/filesystem.h"

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
#include <system_error>

#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

absl::Status Errno(const std::string& what, const std::string& path, int err = errno) {
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

std::string Parent(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

class LocalFile : public WritableFile {
 public:
  LocalFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~LocalFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Append(std::string_view data) override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("append to closed file ", path_));
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
    if (durable && ::fdatasync(fd_) != 0) {
      absl::Status st = Errno("cannot sync", path_);
      ::close(fd_);
      fd_ = -1;
      return st;
    }
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return Errno("cannot close", path_);
    return absl::OkStatus();
  }

 private:
  int fd_;
  std::string path_;
};

class LocalDisk : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path) override {
    if (absl::Status st = MakeDirs(Parent(path)); !st.ok()) return st;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("cannot create", path);
    return std::unique_ptr<WritableFile>(new LocalFile(fd, path));
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("cannot read", path);
    std::string out;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        absl::Status st = Errno("cannot read", path);
        ::close(fd);
        return st;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
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
    if (ec) return Errno("cannot create directory", path, ec.value());
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
    if (ec) return Errno("cannot list", path, ec.value());
    for (const auto& e : it) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return Errno("cannot remove", path, ec.value());
    return absl::OkStatus();
  }
};

}  // namespace

std::shared_ptr<FileSystem> LocalFileSystem() {
  static const std::shared_ptr<FileSystem> local = std::make_shared<LocalDisk>();
  return local;
}

absl::StatusOr<std::unique_ptr<AtomicFile>> AtomicFile::Create(FileSystem& fs, std::string path,
                                                               std::string temp_path) {
  if (temp_path.empty()) {
    // Unique per call: subtasks of one process may write the same file at once.
    static std::atomic<uint64_t> counter{0};
    const std::string parent = Parent(path);
    temp_path = absl::StrCat(parent.empty() ? "" : parent + "/", ".", std::filesystem::path(path).filename().string(),
                             ".", ::getpid(), ".", counter.fetch_add(1), ".tmp");
  }
  auto file = fs.Create(temp_path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<AtomicFile>(new AtomicFile(fs, std::move(path), std::move(temp_path), std::move(*file)));
}

AtomicFile::AtomicFile(FileSystem& fs, std::string path, std::string temp_path, std::unique_ptr<WritableFile> file)
    : fs_(fs), path_(std::move(path)), temp_path_(std::move(temp_path)), file_(std::move(file)) {}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) (void)file_->Close(/*durable=*/false);  // left for recovery: see the header
}

absl::Status AtomicFile::Fail(absl::Status error) {
  if (file_ != nullptr) (void)file_->Close(/*durable=*/false);
  file_.reset();
  (void)fs_.RemoveAll(temp_path_);
  state_ = State::kFailed;
  error_ = error;
  return error;
}

absl::Status AtomicFile::Append(std::string_view data) {
  if (state_ == State::kFailed) return error_;
  if (state_ != State::kWriting) {
    return absl::FailedPreconditionError(absl::StrCat("append to ", path_, " after it was finished"));
  }
  if (absl::Status st = file_->Append(data); !st.ok()) return Fail(st);
  return absl::OkStatus();
}

absl::Status AtomicFile::Finish() {
  if (state_ == State::kFailed) return error_;
  if (state_ == State::kDiscarded) return absl::FailedPreconditionError(absl::StrCat(path_, " was discarded"));
  if (state_ != State::kWriting) return absl::OkStatus();
  absl::Status st = file_->Close(/*durable=*/true);
  file_.reset();
  if (!st.ok()) return Fail(st);
  state_ = State::kFinished;
  return absl::OkStatus();
}

absl::Status AtomicFile::Commit() {
  if (state_ == State::kCommitted) return absl::OkStatus();
  if (absl::Status st = Finish(); !st.ok()) return st;
  if (absl::Status st = fs_.Rename(temp_path_, path_); !st.ok()) return Fail(st);
  state_ = State::kCommitted;
  return absl::OkStatus();
}

void AtomicFile::Discard() {
  if (state_ == State::kCommitted || state_ == State::kDiscarded) return;
  if (file_ != nullptr) (void)file_->Close(/*durable=*/false);
  file_.reset();
  if (state_ != State::kFailed) (void)fs_.RemoveAll(temp_path_);
  state_ = State::kDiscarded;
}

absl::Status WriteFileAtomic(FileSystem& fs, const std::string& path, std::string_view contents) {
  auto file = AtomicFile::Create(fs, path);
  if (!file.ok()) return file.status();
  if (absl::Status st = (*file)->Append(contents); !st.ok()) return st;
  return (*file)->Commit();
}

}  // namespace sluice
