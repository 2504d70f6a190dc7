// The one logging seam: thin wrappers over spdlog, so a later move to absl/log touches
// only this file and log.cc. Loggers are per module and carry a context prefix
// ("[runtime] job=... task=ysb.window#1"). Thread-safe: spdlog loggers may be shared.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "spdlog/spdlog.h"

namespace sluice {

// Returns the shared logger for `module` (created on first use, writing to stderr).
std::shared_ptr<spdlog::logger> GetLogger(std::string_view module);

// Sets the level of every sluice logger: "trace", "debug", "info", "warn", "error", "off".
void SetLogLevel(std::string_view level);

// Names this process in every log line ("[worker-2 worker] ..."), so the interleaved
// logs of a cluster on one machine say which worker spoke.
void SetLogProcessName(std::string_view name);

}  // namespace sluice

#define SLUICE_LOG_INFO(logger, ...) (logger)->info(__VA_ARGS__)
#define SLUICE_LOG_WARN(logger, ...) (logger)->warn(__VA_ARGS__)
#define SLUICE_LOG_ERROR(logger, ...) (logger)->error(__VA_ARGS__)
#define SLUICE_LOG_DEBUG(logger, ...) (logger)->debug(__VA_ARGS__)
