#include "operators/basic/line_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::operators {
struct LineReader::Mapping {
  const char* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr) munmap(const_cast<char*>(data), size);
  }
};

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
    // zlib reads a file without the gzip magic "transparently", as plain bytes: a .gz
    // that is not gzip (random bytes, plain text, an empty file) is damaged, not data.
    // gzdirect() looks at the header before anything is read.
    if (gzdirect(gz_)) {
      return absl::DataLossError(absl::StrCat("reading ", path, ": not gzip data (no gzip header), though named .gz"));
    }
  } else {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return ErrnoError(absl::StrCat("opening ", path));
    own_fd_ = true;
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoError(absl::StrCat("reading ", path));
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
      void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) return ErrnoError(absl::StrCat("mapping ", path));
      madvise(p, static_cast<size_t>(st.st_size), MADV_WILLNEED);
      mapping_ = std::make_shared<Mapping>();
      mapping_->data = static_cast<const char*>(p);
      mapping_->size = static_cast<size_t>(st.st_size);
      size_t s = static_cast<size_t>(std::max<int64_t>(0, start));
      // A range that does not start at 0 begins after the first newline at or after
      // start-1 (the line in progress at `start` belongs to the previous range).
      if (s > 0) {
        const void* nl = std::memchr(mapping_->data + s - 1, '\n', mapping_->size - (s - 1));
        s = nl == nullptr ? mapping_->size : static_cast<const char*>(nl) - mapping_->data + 1;
      }
      map_pos_ = s;
      end_ = end;
      return absl::OkStatus();
    }
    if (S_ISREG(st.st_mode)) {
      eof_ = true;  // empty file
      return absl::OkStatus();
    }
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

int64_t LineReader::position() const {
  if (mapping_ != nullptr) return static_cast<int64_t>(std::min(map_pos_, mapping_->size));
  return line_offset_;
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
    if (r > 0) return static_cast<size_t>(r);
    // gzread() returns -1 on damaged data, but 0 (the end, to a caller that does not
    // look) when the file ends inside the stream: gzerror() then says Z_BUF_ERROR,
    // "unexpected end of file". The bytes before the damage came in earlier calls.
    int errnum = Z_OK;
    std::string msg = gzerror(gz_, &errnum);
    if (r == 0 && errnum == Z_OK) return size_t{0};
    if (absl::StartsWith(msg, name_ + ": ")) msg = msg.substr(name_.size() + 2);  // zlib names the file too
    if (errnum == Z_BUF_ERROR) {
      return absl::DataLossError(absl::StrCat("reading ", name_, ": truncated gzip file (", msg, ")"));
    }
    return absl::DataLossError(absl::StrCat("reading ", name_, ": damaged gzip data (", msg, ")"));
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
    // One read per fill for descriptors: a pipe delivers lines as they arrive instead
    // of waiting for a full chunk (stdin from tail -f).
    if (gz_ == nullptr) break;
  }
  return added;
}

absl::StatusOr<std::shared_ptr<const void>> LineReader::ReadMappedLines(
    size_t max_lines, std::vector<std::string_view>* lines) {
  const char* data = mapping_->data;
  const size_t size = mapping_->size;
  const size_t limit = end_ < 0 ? size : std::min(size, static_cast<size_t>(end_));
  PopulateAhead(limit);
  // Lines ending within kPadding of the end of the file go to a padded copy.
  const size_t safe_end = size > kPadding ? size - kPadding : 0;
  std::shared_ptr<std::string> tail;
  size_t taken = 0;
  while (taken < max_lines && map_pos_ < limit) {
    const char* begin = data + map_pos_;
    const char* nl = static_cast<const char*>(std::memchr(begin, '\n', size - map_pos_));
    size_t len = nl == nullptr ? size - map_pos_ : static_cast<size_t>(nl - begin);
    if (map_pos_ + len < safe_end) {
      lines->emplace_back(begin, len);
    } else {
      if (tail == nullptr) {
        tail = std::make_shared<std::string>();
        // +1: a last line without a newline gets one. No reallocation: views stay valid.
        tail->reserve(size - map_pos_ + 1 + kPadding);
      }
      size_t at = tail->size();
      tail->append(begin, len);
      tail->push_back('\n');
      lines->emplace_back(tail->data() + at, len);
    }
    map_pos_ += len + 1;
    bytes_read_ += static_cast<int64_t>(len + 1);
    ++taken;
  }
  if (taken == 0) return std::shared_ptr<const void>();
  if (tail != nullptr) {
    tail->append(kPadding, '\0');
    // Keep both the mapping and the padded tail alive.
    auto both = std::make_shared<std::pair<std::shared_ptr<Mapping>, std::shared_ptr<std::string>>>(
        mapping_, std::move(tail));
    return std::shared_ptr<const void>(both);
  }
  return std::shared_ptr<const void>(mapping_);
}

void LineReader::PopulateAhead(size_t limit) {
  // Map the next window of the file into our page tables in one call, rather than
  // taking a page fault every few pages while scanning (what MAP_POPULATE does for the
  // whole file, bounded here so a file larger than memory is not prefaulted at once).
  constexpr size_t kWindow = 32 << 20;
  constexpr int kPopulateRead = 22;  // MADV_POPULATE_READ, Linux 5.14; ignored if absent
  if (!populate_supported_ || map_pos_ + kWindow / 2 < populated_until_) return;
  const size_t page = 4096;
  size_t from = std::max(populated_until_, map_pos_) & ~(page - 1);
  size_t to = std::min(limit + page, std::min(mapping_->size, from + kWindow));
  if (to <= from) return;
  if (madvise(const_cast<char*>(mapping_->data) + from, to - from, kPopulateRead) != 0) {
    populate_supported_ = false;
    return;
  }
  populated_until_ = to;
}

absl::StatusOr<std::shared_ptr<const void>> LineReader::ReadLines(
    size_t max_lines, std::vector<std::string_view>* lines) {
  if (mapping_ != nullptr) return ReadMappedLines(max_lines, lines);
  if (past_end_) return std::shared_ptr<const void>();
  if (chunk_ == nullptr || begin_ >= size_) {
    if (eof_) return std::shared_ptr<const void>();
    size_ = begin_ = 0;
    auto n = Fill();
    if (!n.ok()) return n.status();
    if (*n == 0) return std::shared_ptr<const void>();
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
    if (past_end_ || (eof_ && begin_ >= size_)) return std::shared_ptr<const void>();
  }
  return std::shared_ptr<const void>(chunk_, chunk_.get());
}

}  // namespace sluice::operators
