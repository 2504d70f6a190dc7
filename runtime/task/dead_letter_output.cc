#include "runtime/task/dead_letter_output.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "common/status.h"

namespace sluice::runtime {
namespace {
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (ch < 0x20 || ch == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", ch);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(ch));
        }
    }
  }
  out->push_back('"');
}
}  // namespace

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

void DeadLetterOutput::Write(std::string_view node, std::string_view reason,
                             std::string_view record) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) return;
  line_.clear();
  line_.append("{\"node\":");
  AppendJsonString(&line_, node);
  line_.append(",\"reason\":");
  AppendJsonString(&line_, reason);
  line_.append(",\"record\":");
  AppendJsonString(&line_, record);
  line_.append("}\n");
  std::fwrite(line_.data(), 1, line_.size(), file_);
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
