#include "operators/hive/encoded_file.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice::hive {

EncodedFile::EncodedFile(std::unique_ptr<AtomicFile> file, const std::string& compression)
    : file_(std::move(file)), compression_(compression) {
  if (compression_ == "gzip") {
    gz_ = std::make_unique<z_stream>();
    *gz_ = {};
    deflateInit2(gz_.get(), 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  } else if (compression_ == "zstd") {
    zstd_ = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(zstd_, ZSTD_c_compressionLevel, 3);
  }
}

EncodedFile::~EncodedFile() {
  if (gz_ != nullptr) deflateEnd(gz_.get());
  if (zstd_ != nullptr) ZSTD_freeCCtx(zstd_);
}

absl::Status EncodedFile::Write(std::string_view data) { return Encode(data, false); }

absl::Status EncodedFile::Finish() {
  RETURN_IF_ERROR(Encode({}, true));
  return file_->Finish();
}

absl::Status EncodedFile::Encode(std::string_view data, bool finish) {
  if (gz_ == nullptr && zstd_ == nullptr) return data.empty() ? absl::OkStatus() : file_->Append(data);
  out_.resize(std::max<size_t>(1 << 16, data.size() / 2 + 4096));
  if (gz_ != nullptr) {
    gz_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    gz_->avail_in = static_cast<uInt>(data.size());
    int rc;
    do {
      gz_->next_out = reinterpret_cast<Bytef*>(out_.data());
      gz_->avail_out = static_cast<uInt>(out_.size());
      rc = deflate(gz_.get(), finish ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) return absl::InternalError("gzip: deflate failed");
      size_t n = out_.size() - gz_->avail_out;
      if (n > 0) RETURN_IF_ERROR(file_->Append(std::string_view(out_.data(), n)));
    } while (gz_->avail_out == 0 || (finish && rc != Z_STREAM_END));
    return absl::OkStatus();
  }
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t remaining;
  do {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    remaining = ZSTD_compressStream2(zstd_, &out, &in, finish ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(remaining)) return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(remaining)));
    if (out.pos > 0) RETURN_IF_ERROR(file_->Append(std::string_view(out_.data(), out.pos)));
  } while (finish ? remaining != 0 : in.pos < in.size);
  return absl::OkStatus();
}

}  // namespace sluice::hive
