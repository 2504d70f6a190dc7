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
}  // namespace

std::shared_ptr<spdlog::logger> GetLogger(std::string_view module) {
  std::lock_guard<std::mutex> lock(LogMu());
  std::string name(module);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v");
  logger->set_level(DefaultLevel());
  return logger;
}

void SetLogLevel(std::string_view level) {
  std::lock_guard<std::mutex> lock(LogMu());
  DefaultLevel() = spdlog::level::from_str(std::string(level));
  spdlog::apply_all([](std::shared_ptr<spdlog::logger> l) { l->set_level(DefaultLevel()); });
}

}  // namespace sluice
