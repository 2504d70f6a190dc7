// The input file of the nginx baseline (mapped, or gunzipped into memory) and its
// whole-file TSV output.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "bench/nginx_baseline.h"
#include "common/status.h"
#include "common/status_macros.h"

namespace nginx_baseline {

Input::~Input() {
  if (map_ != nullptr) munmap(map_, map_len_);
}

absl::Status Input::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sluice::ErrnoToStatus(errno, path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return sluice::ErrnoToStatus(err, path);
  }
  map_len_ = static_cast<size_t>(st.st_size);
  if (map_len_ > 0) {
    map_ = mmap(nullptr, map_len_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (map_ == MAP_FAILED) {
      map_ = nullptr;
      int err = errno;
      ::close(fd);
      return sluice::ErrnoToStatus(err, path);
    }
    madvise(map_, map_len_, MADV_SEQUENTIAL);
  }
  ::close(fd);
  const auto* bytes = static_cast<const unsigned char*>(map_);
  if (map_len_ >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    RETURN_IF_ERROR(Gunzip(path, bytes, map_len_));
    data_ = decompressed_;
  } else {
    data_ = std::string_view(static_cast<const char*>(map_), map_len_);
  }
  return absl::OkStatus();
}

absl::Status Input::Gunzip(const std::string& path, const unsigned char* in, size_t len) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return absl::InternalError("inflateInit2");
  zs.next_in = const_cast<unsigned char*>(in);
  zs.avail_in = static_cast<uInt>(len);  // inputs here are < 4 GiB compressed
  decompressed_.resize(std::max<size_t>(len * 4, 1 << 20));
  size_t produced = 0;
  int rc = Z_OK;
  while (true) {
    if (produced == decompressed_.size()) decompressed_.resize(decompressed_.size() * 2);
    zs.next_out = reinterpret_cast<unsigned char*>(decompressed_.data() + produced);
    zs.avail_out = static_cast<uInt>(std::min<size_t>(decompressed_.size() - produced, 1u << 30));
    uInt before = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    produced += before - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // concatenated gzip members
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    return absl::DataLossError(absl::StrCat(path, ": bad or truncated gzip stream"));
  }
  decompressed_.resize(produced);
  return absl::OkStatus();
}

void AppendTsvString(std::string* out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        out->push_back(c);
    }
  }
}

absl::Status WriteAll(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return sluice::ErrnoToStatus(errno, path);
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return sluice::ErrnoToStatus(err, path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) return sluice::ErrnoToStatus(errno, path);
  return absl::OkStatus();
}

}  // namespace nginx_baseline
