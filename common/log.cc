#include "common/log.h"

#include <mutex>

#include "spdlog/sinks/stdout_color_sinks.h"

namespace sluice {
namespace {
std::mutex& LogMu() {
  static std::mutex mu;
  return mu;
}
spdlog::level::level_enum& DefaultLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
std::string& ProcessName() {
  static std::string name;
  return name;
}
std::string Pattern() {
  if (ProcessName().empty()) return "%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v";
  return "%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + ProcessName() + " %n] %v";
}
}  // namespace

std::shared_ptr<spdlog::logger> GetLogger(std::string_view module) {
  std::lock_guard<std::mutex> lock(LogMu());
  std::string name(module);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern(Pattern());
  logger->set_level(DefaultLevel());
  return logger;
}

void SetLogLevel(std::string_view level) {
  std::lock_guard<std::mutex> lock(LogMu());
  DefaultLevel() = spdlog::level::from_str(std::string(level));
  spdlog::apply_all([](std::shared_ptr<spdlog::logger> l) { l->set_level(DefaultLevel()); });
}

void SetLogProcessName(std::string_view name) {
  std::lock_guard<std::mutex> lock(LogMu());
  ProcessName() = std::string(name);
  spdlog::apply_all([](std::shared_ptr<spdlog::logger> l) { l->set_pattern(Pattern()); });
}

}  // namespace sluice
