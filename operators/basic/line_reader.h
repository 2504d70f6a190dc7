// LineReader: reads a byte range of a plain file, a whole gzip file, or a file
// descriptor (stdin) as lines that batches can point into without a copy. A plain file
// is memory-mapped (lines are views into the mapping); gzip and stdin are read in large
// chunks. Every line is followed by at least kPadding readable bytes, so it can be
// handed to simdjson in place (the few lines within kPadding of a mapped file's end are
// copied to a padded buffer). A line that starts before the range end belongs to the
// range (the usual split rule: a range that does not start at 0 skips its first partial
// line). Single-threaded.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::operators {

class LineReader {
 public:
  static constexpr size_t kPadding = 64;

  ~LineReader();
  // Opens `path` (gzip if it ends in .gz: then [start, end) must be [0, -1)).
  // end < 0 means to the end of the file. DATA_LOSS naming the file if a .gz is not
  // gzip (no gzip header: random bytes, plain text, an empty file).
  absl::Status OpenFile(const std::string& path, int64_t start, int64_t end);
  // Reads `fd` (not owned) to its end.
  absl::Status OpenFd(int fd, std::string name);

  // Appends up to `max_lines` lines to `lines` (without the '\n'); each view stays valid
  // while the returned keep-alive handle is. Returns a null handle and no lines at end
  // of input. DATA_LOSS naming the file if a .gz is damaged or ends inside its stream
  // (truncated), after the lines before the damage.
  absl::StatusOr<std::shared_ptr<const void>> ReadLines(size_t max_lines,
                                                        std::vector<std::string_view>* lines);
  int64_t bytes_read() const { return bytes_read_; }
  // Plain files: the offset where the next line starts (past the end once all is read),
  // so a restart can OpenFile(path, position(), end) and read on from the same line. Not
  // an offset for gzip files or descriptors (decompressed or piped bytes).
  int64_t position() const;

 private:
  // Fills the chunk after any carried-over partial line. Returns bytes added (0 at EOF).
  absl::StatusOr<size_t> Fill();
  absl::StatusOr<size_t> RawRead(char* dst, size_t n);
  absl::StatusOr<std::shared_ptr<const void>> ReadMappedLines(size_t max_lines,
                                                              std::vector<std::string_view>* lines);
  void PopulateAhead(size_t limit);
  struct Mapping;

  std::string name_;
  int fd_ = -1;
  bool own_fd_ = false;
  gzFile gz_ = nullptr;
  int64_t pos_ = 0;          // file offset of the next byte to read (plain files)
  int64_t end_ = -1;         // lines starting at or after this offset belong elsewhere
  int64_t line_offset_ = 0;  // file offset of chunk_[begin_]
  bool eof_ = false;
  bool past_end_ = false;
  std::shared_ptr<char[]> chunk_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first unconsumed byte in chunk_
  size_t size_ = 0;   // bytes of data in chunk_
  int64_t bytes_read_ = 0;
  // Memory-mapped plain file.
  std::shared_ptr<Mapping> mapping_;
  size_t map_pos_ = 0;  // next byte to scan
  size_t populated_until_ = 0;
  bool populate_supported_ = true;
};

}  // namespace sluice::operators
