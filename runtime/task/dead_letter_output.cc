#include "runtime/task/dead_letter_output.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "absl/strings/escaping.h"
#include "common/status.h"

namespace sluice::runtime {

DeadLetterOutput::~DeadLetterOutput() { (void)Close(); }

absl::Status DeadLetterOutput::Open(const std::string& path, const OperatorRegistry& registry, bool append) {
  path_ = path;
  if (path.empty()) return absl::OkStatus();
  if (path.find("://") != std::string::npos) {
    auto writer = registry.OpenDeadLetterWriter(path);
    if (!writer.ok()) return writer.status();
    std::lock_guard<std::mutex> lock(mu_);
    writer_ = std::move(*writer);
    return absl::OkStatus();
  }
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::lock_guard<std::mutex> lock(mu_);
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (file_ == nullptr) return ErrnoToStatus(errno, "dead-letter output " + path);
  return absl::OkStatus();
}

void DeadLetterOutput::FormatLine(std::string_view node, std::string_view reason,
                                  std::string_view record, std::string* out) {
  out->append("{\"node\":");
  AppendJsonString(out, node);
  out->append(",\"reason\":");
  AppendJsonString(out, reason);
  out->append(",\"record\":");
  AppendJsonString(out, record);  // bytes that are not UTF-8 as \u00XX: valid JSON, but lossy
  if (!IsValidUtf8(record)) {
    out->append(",\"record_base64\":\"");
    out->append(absl::Base64Escape(absl::string_view(record.data(), record.size())));
    out->push_back('"');
  }
  out->append("}\n");
}

void DeadLetterOutput::FormatRowLine(std::string_view node, std::string_view reason,
                                     const RecordBatch& batch, size_t row, std::string* out) {
  out->append("{\"node\":");
  AppendJsonString(out, node);
  out->append(",\"reason\":");
  AppendJsonString(out, reason);
  out->append(",\"row\":");
  batch.AppendRowJson(row, out);
  // The exact bytes of the string fields that are not UTF-8.
  bool any = false;
  for (int c = 0; c < batch.num_columns(); ++c) {
    const Column& col = batch.column(c);
    if (col.type != Type::kString || col.IsNull(row) || IsValidUtf8(col.strings[row])) continue;
    out->append(any ? "," : ",\"row_base64\":{");
    any = true;
    AppendJsonString(out, batch.schema()->field(c).name);
    out->append(":\"");
    out->append(absl::Base64Escape(absl::string_view(col.strings[row].data(), col.strings[row].size())));
    out->push_back('"');
  }
  if (any) out->push_back('}');
  out->append("}\n");
}

void DeadLetterOutput::WriteLines(std::string_view lines) {
  std::lock_guard<std::mutex> lock(mu_);
  if (writer_ != nullptr && !lines.empty()) {
    absl::Status st = writer_->Write(lines);
    if (!st.ok() && write_error_.ok()) write_error_ = st;
    return;
  }
  if (file_ == nullptr || lines.empty()) return;
  std::fwrite(lines.data(), 1, lines.size(), file_);
}

void DeadLetterOutput::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr) std::fflush(file_);
}

absl::Status DeadLetterOutput::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (writer_ != nullptr) {
    absl::Status st = writer_->Close();
    writer_.reset();
    if (!write_error_.ok()) return write_error_;
    return st;
  }
  if (file_ == nullptr) return absl::OkStatus();
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) return ErrnoToStatus(errno, "closing dead-letter output " + path_);
  return absl::OkStatus();
}

}  // namespace sluice::runtime
