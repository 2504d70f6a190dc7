// EncodedFile: a hive_sink data file being written, compressed on the way (none, gzip
// or zstd) into a sluice::AtomicFile, so it appears whole under its final name when the
// sink commits it. One task thread at a time.
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "sluice/filesystem.h"

namespace sluice::hive {

class EncodedFile {
 public:
  // `compression`: "none", "gzip" or "zstd".
  EncodedFile(std::unique_ptr<AtomicFile> file, const std::string& compression);
  ~EncodedFile();
  EncodedFile(const EncodedFile&) = delete;
  EncodedFile& operator=(const EncodedFile&) = delete;

  absl::Status Write(std::string_view data);
  // Ends the compressed stream and makes the bytes durable in the in-progress file
  // (AtomicFile::Finish); committing (the rename) is the sink's, under its fence.
  absl::Status Finish();
  // Drops the in-progress file (AtomicFile::Discard).
  void Discard() { file_->Discard(); }

 private:
  absl::Status Encode(std::string_view data, bool finish);

  std::unique_ptr<AtomicFile> file_;
  std::string compression_;
  std::unique_ptr<z_stream> gz_;
  ZSTD_CCtx* zstd_ = nullptr;
  std::string out_;
};

}  // namespace sluice::hive
