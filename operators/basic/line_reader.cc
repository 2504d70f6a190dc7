#include "operators/basic/line_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::operators {
namespace {
constexpr size_t kChunkSize = 4 << 20;

absl::Status ErrnoError(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}
}  // namespace

LineReader::~LineReader() {
  if (gz_ != nullptr) gzclose(gz_);
  if (own_fd_ && fd_ >= 0) close(fd_);
}

absl::Status LineReader::OpenFile(const std::string& path, int64_t start, int64_t end) {
  name_ = path;
  if (absl::EndsWith(path, ".gz")) {
    gz_ = gzopen(path.c_str(), "rb");
    if (gz_ == nullptr) return ErrnoError(absl::StrCat("opening ", path));
    gzbuffer(gz_, 1 << 20);
  } else {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return ErrnoError(absl::StrCat("opening ", path));
    own_fd_ = true;
    posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  end_ = end;
  if (start > 0 && gz_ == nullptr) {
    // Start at the first line that begins at or after `start`: look at byte start-1.
    pos_ = start - 1;
    line_offset_ = pos_;
    char c;
    ssize_t n = pread(fd_, &c, 1, pos_);
    if (n < 0) return ErrnoError(absl::StrCat("reading ", path));
    if (n == 1 && c == '\n') {
      pos_ = start;
      line_offset_ = start;
    } else {
      // Skip the rest of the partial line.
      std::vector<std::string_view> skip;
      size_t saved_end = end_;
      end_ = -1;
      auto chunk = ReadLines(1, &skip);
      if (!chunk.ok()) return chunk.status();
      end_ = static_cast<int64_t>(saved_end);
    }
  }
  return absl::OkStatus();
}

absl::Status LineReader::OpenFd(int fd, std::string name) {
  name_ = std::move(name);
  fd_ = fd;
  own_fd_ = false;
  return absl::OkStatus();
}

absl::StatusOr<size_t> LineReader::RawRead(char* dst, size_t n) {
  if (gz_ != nullptr) {
    int r = gzread(gz_, dst, static_cast<unsigned>(n));
    if (r < 0) {
      int errnum;
      const char* msg = gzerror(gz_, &errnum);
      return absl::DataLossError(absl::StrCat("reading ", name_, ": ", msg));
    }
    return static_cast<size_t>(r);
  }
  while (true) {
    ssize_t r = own_fd_ ? pread(fd_, dst, n, pos_) : read(fd_, dst, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError(absl::StrCat("reading ", name_));
    pos_ += r;
    return static_cast<size_t>(r);
  }
}

absl::StatusOr<size_t> LineReader::Fill() {
  // Move the carried-over partial line to the front of a fresh chunk (batches may still
  // point into the old one), growing it if one line is larger than a chunk.
  size_t carry = size_ - begin_;
  size_t capacity = std::max(kChunkSize, carry * 2);
  auto fresh = std::shared_ptr<char[]>(new char[capacity + kPadding]);
  std::memset(fresh.get() + capacity, 0, kPadding);
  if (carry > 0) std::memcpy(fresh.get(), chunk_.get() + begin_, carry);
  chunk_ = std::move(fresh);
  capacity_ = capacity;
  begin_ = 0;
  size_ = carry;
  size_t added = 0;
  while (size_ < capacity_) {
    auto n = RawRead(chunk_.get() + size_, capacity_ - size_);
    if (!n.ok()) return n.status();
    if (*n == 0) {
      eof_ = true;
      break;
    }
    size_ += *n;
    added += *n;
    bytes_read_ += *n;
    if (gz_ == nullptr && own_fd_) break;  // one pread per fill is plenty
  }
  return added;
}

absl::StatusOr<std::shared_ptr<const char[]>> LineReader::ReadLines(
    size_t max_lines, std::vector<std::string_view>* lines) {
  if (past_end_) return std::shared_ptr<const char[]>();
  if (chunk_ == nullptr || begin_ >= size_) {
    if (eof_) return std::shared_ptr<const char[]>();
    size_ = begin_ = 0;
    auto n = Fill();
    if (!n.ok()) return n.status();
    if (*n == 0) return std::shared_ptr<const char[]>();
  }
  size_t taken = 0;
  while (taken < max_lines) {
    if (end_ >= 0 && line_offset_ >= end_) {
      past_end_ = true;
      break;
    }
    const char* base = chunk_.get();
    const char* nl = static_cast<const char*>(std::memchr(base + begin_, '\n', size_ - begin_));
    if (nl == nullptr) {
      if (!eof_) {
        if (taken > 0) break;  // hand out what we have; the partial line moves on Fill
        auto n = Fill();
        if (!n.ok()) return n.status();
        continue;
      }
      if (begin_ < size_) {  // last line without a newline
        lines->emplace_back(base + begin_, size_ - begin_);
        line_offset_ += size_ - begin_;
        begin_ = size_;
        ++taken;
      }
      break;
    }
    size_t len = static_cast<size_t>(nl - (base + begin_));
    lines->emplace_back(base + begin_, len);
    begin_ += len + 1;
    line_offset_ += len + 1;
    ++taken;
    if (begin_ >= size_) {
      if (eof_) break;
      break;  // next call refills
    }
  }
  if (taken == 0) {
    if (past_end_ || (eof_ && begin_ >= size_)) return std::shared_ptr<const char[]>();
  }
  return std::shared_ptr<const char[]>(chunk_);
}

}  // namespace sluice::operators
