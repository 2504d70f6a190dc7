/// Logging for operators: every line says which job, operator and subtask speak.
///
/// An operator takes its Logger from Context::logger() in Open (or later), and, in a
/// factory where no job runs yet, from OperatorConfig::logger(). A Logger is a small
/// value (a shared sink and a context prefix): copy it into the operator and use the
/// copy anywhere, also from callbacks on other threads (librdkafka's); every method is
/// thread-safe and the sink lives as long as any copy. Lines go to the process's log
/// (stderr, at the level of `--log-level`), e.g.
///
///     2026-11-20 10:00:00.000 info [worker-1 op] job=ysb-3 op=parse#1: reading 4 partition(s) of events
///
/// The runtime decides where lines go (a LogSink); tests give it a sink that keeps them.
/// Messages are formatted with absl::StrFormat, checked at compile time:
///
///     log_ = ctx.logger();
///     log_.Info("reading %d partition(s) of %s", parts.size(), topic);
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_format.h"

namespace sluice {

enum class LogLevel { kDebug = 1, kInfo = 2, kWarn = 3, kError = 4 };

/// Where log lines go. Implemented by the SDK over the process's log (ProcessLogSink)
/// and by tests. Called from any thread: implementations are thread-safe.
class LogSink {
 public:
  virtual ~LogSink() = default;
  /// False when lines of `level` are dropped (so formatting them can be skipped).
  virtual bool Enabled(LogLevel level) const = 0;
  /// Writes one line: the logger's context prefix, ": ", the message (no newline).
  virtual void Write(LogLevel level, std::string_view line) = 0;
};

/// The process's log (stderr, the level set by --log-level), logger name "op". Shared;
/// never null.
std::shared_ptr<LogSink> ProcessLogSink();

class Logger {
 public:
  /// Writes to the process log without a context prefix.
  Logger();
  /// Writes to `sink` (null: the process log), each line prefixed by `context`.
  Logger(std::shared_ptr<LogSink> sink, std::string context);

  /// The logger of one operator instance: context "job=JOB op=NODE#SUBTASK" ("job=" is
  /// left out when `job` is empty, as in a factory).
  static Logger ForOperator(std::shared_ptr<LogSink> sink, std::string_view job, std::string_view node,
                            int subtask);

  /// The prefix of every line ("job=ysb-3 op=parse#1"); may be empty.
  const std::string& context() const { return context_; }
  bool Enabled(LogLevel level) const;
  /// Writes `message` at `level`, after the context prefix.
  void Log(LogLevel level, std::string_view message) const;

  template <typename... Args>
  void Debug(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    if (Enabled(LogLevel::kDebug)) Log(LogLevel::kDebug, absl::StrFormat(format, args...));
  }
  template <typename... Args>
  void Info(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    if (Enabled(LogLevel::kInfo)) Log(LogLevel::kInfo, absl::StrFormat(format, args...));
  }
  template <typename... Args>
  void Warn(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    if (Enabled(LogLevel::kWarn)) Log(LogLevel::kWarn, absl::StrFormat(format, args...));
  }
  template <typename... Args>
  void Error(const absl::FormatSpec<Args...>& format, const Args&... args) const {
    if (Enabled(LogLevel::kError)) Log(LogLevel::kError, absl::StrFormat(format, args...));
  }

 private:
  std::shared_ptr<LogSink> sink_;
  std::string context_;
};

}  // namespace sluice
