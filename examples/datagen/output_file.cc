#include "examples/datagen/output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace sluice::datagen {

OutputFile::~OutputFile() {
  if (gz_ != nullptr) gzclose(gz_);
  if (fd_ >= 0) ::close(fd_);
}

absl::Status OutputFile::Open(const std::string& path, bool gzip, int level) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return ErrnoToStatus(errno, path);
  if (gzip) {
    std::string mode = absl::StrCat("wb", level);
    gz_ = gzdopen(fd_, mode.c_str());
    if (gz_ == nullptr) return absl::InternalError(absl::StrCat(path, ": gzdopen failed"));
    fd_ = -1;  // owned by gz_ now
    gzbuffer(gz_, 1 << 20);
  }
  buf_.reserve(kBufferSize + 4096);
  return absl::OkStatus();
}

absl::Status OutputFile::Close() {
  Flush();
  if (gz_ != nullptr) {
    int rc = gzclose(gz_);
    gz_ = nullptr;
    if (rc != Z_OK && status_.ok()) {
      status_ = absl::UnknownError(absl::StrCat(path_, ": gzclose failed (", rc, ")"));
    }
  }
  if (fd_ >= 0) {
    if (::close(fd_) != 0 && status_.ok()) status_ = ErrnoToStatus(errno, path_);
    fd_ = -1;
  }
  return status_;
}

void OutputFile::Flush() {
  if (buf_.empty() || !status_.ok()) {
    buf_.clear();
    return;
  }
  if (gz_ != nullptr) {
    if (gzwrite(gz_, buf_.data(), static_cast<unsigned>(buf_.size())) != static_cast<int>(buf_.size())) {
      int errnum = 0;
      const char* msg = gzerror(gz_, &errnum);
      status_ = errnum == Z_ERRNO ? ErrnoToStatus(errno, path_) : absl::UnknownError(absl::StrCat(path_, ": ", msg));
    }
  } else {
    const char* p = buf_.data();
    size_t left = buf_.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        status_ = ErrnoToStatus(errno, path_);
        break;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  buf_.clear();
}

absl::Status WriteFileContents(const std::string& path, std::string_view contents) {
  OutputFile out;
  RETURN_IF_ERROR(out.Open(path, /*gzip=*/false, 0));
  out.Append(contents);
  return out.Close();
}

}  // namespace sluice::datagen
