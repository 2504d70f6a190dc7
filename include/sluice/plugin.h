/// Operator plugins: a shared object (.so) that registers operators into a sluice
/// process's OperatorRegistry when the process loads it (runtime/plugin/plugin_loader.h).
///
/// A plugin is one or more operators written against include/sluice/ only, plus exactly
/// one SLUICE_PLUGIN block naming what to register:
///
///     #include "sluice/plugin.h"
///
///     SLUICE_PLUGIN(registry) {
///       return registry.RegisterOperator("ua_device", UaDeviceOperator::Create,
///                                        "Classifies a user agent. Params: field.");
///     }
///
/// The block is the body of a function `absl::Status (sluice::OperatorRegistry&)`. It
/// may register several types; a non-OK status fails the load with its code and message.
///
/// The plugin does not link the SDK: its references to SDK code (Schema, RecordBatch,
/// Param, OperatorRegistry) are resolved from the host process when it is loaded, so it
/// must be built with this sluice's headers, the same compiler and C++ standard library,
/// and the same Abseil. sluice_add_plugin() (the installed CMake package) sets that up.
///
/// Lifetime: a loaded plugin is never unloaded; the registry's factories, the operators
/// they create and any string views into the plugin's constants stay valid until the
/// process exits. The same plugin may be loaded into several registries: the SLUICE_PLUGIN
/// body runs once per registry. The loader calls it from one thread at a time.
#pragma once

#include <cstddef>
#include <cstring>
#include <exception>

#include "absl/status/status.h"
#include "sluice/operator.h"

/// The version of the C++ operator API a plugin is compiled against. It changes whenever
/// a change to include/sluice/ breaks binary compatibility with plugins built earlier (a
/// virtual method added to Operator, a member added to RecordBatch or OperatorConfig, a
/// signature changed). The loader refuses a plugin whose version differs from its own.
/// 2: NotifyCheckpointComplete on Operator and Source, SnapshotWriter::checkpoint_id,
///    Context::checkpointing and Context::run_id.
/// 3: SDK services: Context::logger and Context::clock, OperatorConfig::logger,
///    dead-letter writers registered in OperatorRegistry, sluice/filesystem.h;
///    OperatorConfig::plan_only removed (factories never touch the job's files: Open does).
/// 4: keyed state (sluice/state.h): Context::GetValueState, GetMapState, GetListState.
/// 5: rescaling: Operator::RestoreRescaled and Source::RestoreRescaled.
/// 6: keyed timers in state: Context::GetTimerService, Operator::OnKeyedTimer.
#define SLUICE_PLUGIN_API_VERSION 6

namespace sluice::plugin_internal {

/// Copies `message` into `error[0..error_len)`, truncated and NUL-terminated.
inline void CopyError(const char* message, size_t size, char* error, size_t error_len) {
  if (error == nullptr || error_len == 0) return;
  const size_t n = size < error_len - 1 ? size : error_len - 1;
  std::memcpy(error, message, n);
  error[n] = '\0';
}

/// Flattens `status` for the C boundary: 0 if OK, otherwise its absl::StatusCode (never
/// 0) with its message in `error`.
inline int ToResult(const absl::Status& status, char* error, size_t error_len) {
  if (status.ok()) return 0;
  CopyError(status.message().data(), status.message().size(), error, error_len);
  return static_cast<int>(status.code());
}

/// Runs a plugin's registration body; see SLUICE_PLUGIN. No exception leaves it.
inline int RunRegister(absl::Status (*body)(OperatorRegistry&), OperatorRegistry* registry,
                       char* error, size_t error_len) {
  if (registry == nullptr) {
    return ToResult(absl::InvalidArgumentError("null registry"), error, error_len);
  }
#if defined(__cpp_exceptions)
  try {
    return ToResult(body(*registry), error, error_len);
  } catch (const std::exception& e) {
    return ToResult(absl::InternalError(e.what()), error, error_len);
  } catch (...) {
    return ToResult(absl::InternalError("unknown exception during registration"), error, error_len);
  }
#else
  return ToResult(body(*registry), error, error_len);
#endif
}

}  // namespace sluice::plugin_internal

/// Defines the plugin's two entry points; follow it with the registration body, a block
/// returning absl::Status in which `registry_name` is the `sluice::OperatorRegistry&`.
/// Use it once per plugin, at namespace scope (not inside a namespace). Exports:
///
///   int sluice_plugin_api_version(void)
///       SLUICE_PLUGIN_API_VERSION as compiled into the plugin.
///   int sluice_plugin_register(sluice::OperatorRegistry* registry, char* error,
///                              size_t error_len)
///       Runs the body. Returns 0 on success; otherwise an absl::StatusCode value and a
///       NUL-terminated message (truncated to `error_len`) in `error`.
#define SLUICE_PLUGIN(registry_name)                                                      \
  static ::absl::Status SluicePluginRegister(::sluice::OperatorRegistry& registry_name);  \
  extern "C" __attribute__((visibility("default"))) int sluice_plugin_api_version(void) { \
    return SLUICE_PLUGIN_API_VERSION;                                                     \
  }                                                                                       \
  extern "C" __attribute__((visibility("default"))) int sluice_plugin_register(           \
      ::sluice::OperatorRegistry* registry, char* error, size_t error_len) {              \
    return ::sluice::plugin_internal::RunRegister(&SluicePluginRegister, registry, error, \
                                                  error_len);                             \
  }                                                                                       \
  static ::absl::Status SluicePluginRegister(::sluice::OperatorRegistry& registry_name)
