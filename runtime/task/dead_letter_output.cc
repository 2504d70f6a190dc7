#include "runtime/task/dead_letter_output.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "common/status.h"

namespace sluice::runtime {

DeadLetterOutput::~DeadLetterOutput() { (void)Close(); }

absl::Status DeadLetterOutput::Open(const std::string& path) {
  path_ = path;
  if (path.empty()) return absl::OkStatus();
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::lock_guard<std::mutex> lock(mu_);
  file_ = std::fopen(path.c_str(), "w");
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
  AppendJsonString(out, record);
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
  out->append("}\n");
}

void DeadLetterOutput::WriteLines(std::string_view lines) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr || lines.empty()) return;
  std::fwrite(lines.data(), 1, lines.size(), file_);
}

absl::Status DeadLetterOutput::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) return absl::OkStatus();
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) return ErrnoToStatus(errno, "closing dead-letter output " + path_);
  return absl::OkStatus();
}

}  // namespace sluice::runtime
