// Buffered output of generated data to a plain file or a gzip stream: lines are
// appended to a 4 MiB buffer written out with write(2) or zlib's gzwrite. Not
// thread-safe; one OutputFile per file being written.
#pragma once

#include <zlib.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sluice::datagen {

class OutputFile {
 public:
  OutputFile() = default;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile();

  // Creates or truncates `path`; with `gzip`, writes a gzip stream at zlib `level`.
  // Returns the file error.
  absl::Status Open(const std::string& path, bool gzip, int level);

  // Appends `s`; flushes when the buffer is full. Errors are reported by Close().
  void Append(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kBufferSize) Flush();
  }

  // Flushes and closes; returns the first error of any write, or of the close.
  absl::Status Close();

 private:
  static constexpr size_t kBufferSize = 4 << 20;

  void Flush();

  std::string path_;
  int fd_ = -1;
  gzFile gz_ = nullptr;
  std::string buf_;
  absl::Status status_;
};

// Writes `contents` to `path` (truncated), through an OutputFile.
absl::Status WriteFileContents(const std::string& path, std::string_view contents);

}  // namespace sluice::datagen
