// sluice::Logger over the process's log (common/log.h), so operators log with their
// job, operator and subtask without seeing spdlog.
#include "sluice/logger.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace sluice {
namespace {

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

class ProcessLog : public LogSink {
 public:
  ProcessLog() : logger_(GetLogger("op")) {}
  bool Enabled(LogLevel level) const override { return logger_->should_log(ToSpdlog(level)); }
  void Write(LogLevel level, std::string_view line) override {
    logger_->log(ToSpdlog(level), "{}", line);
  }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

std::shared_ptr<LogSink> ProcessLogSink() {
  static const std::shared_ptr<LogSink> sink = std::make_shared<ProcessLog>();
  return sink;
}

Logger::Logger() : sink_(ProcessLogSink()) {}

Logger::Logger(std::shared_ptr<LogSink> sink, std::string context)
    : sink_(sink != nullptr ? std::move(sink) : ProcessLogSink()), context_(std::move(context)) {}

Logger Logger::ForOperator(std::shared_ptr<LogSink> sink, std::string_view job, std::string_view node, int subtask) {
  std::string context;
  if (!job.empty()) absl::StrAppend(&context, "job=", absl::string_view(job.data(), job.size()), " ");
  absl::StrAppend(&context, "op=", absl::string_view(node.data(), node.size()), "#", subtask);
  return Logger(std::move(sink), std::move(context));
}

bool Logger::Enabled(LogLevel level) const { return sink_->Enabled(level); }

void Logger::Log(LogLevel level, std::string_view message) const {
  if (context_.empty()) {
    sink_->Write(level, message);
    return;
  }
  std::string line;
  line.reserve(context_.size() + 2 + message.size());
  line.append(context_).append(": ").append(message);
  sink_->Write(level, line);
}

}  // namespace sluice
