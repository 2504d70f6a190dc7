// Loads operator plugins: shared objects built with SLUICE_PLUGIN (include/sluice/plugin.h)
// that register operator types into an OperatorRegistry.
//
// A plugin is opened with dlopen(RTLD_NOW | RTLD_LOCAL): every undefined symbol must
// resolve at once, from the plugin's own dependencies or from the host executable, and
// the plugin's symbols stay out of the global namespace, so two plugins cannot collide.
// Its references to SDK code resolve to the host's copy, which is why a host executable
// must export the whole SDK (sluice_export_sdk() in cmake/sluice.cmake).
//
// Ownership: a loaded plugin is never unloaded (the registry's factories point into it),
// so its handle is deliberately leaked. Loading the same file again (into another
// registry, say) reuses the mapping and runs its registration again.
//
// Thread-safety: LoadPlugin may be called from any thread, but it writes `registry`, which
// must not be used by another thread meanwhile (registries are filled at start-up).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::runtime {

// Loads the plugin at `path` and registers its operators into `registry`. Every error
// message names the path. Errors:
//   NOT_FOUND           `path` does not exist.
//   INVALID_ARGUMENT    `path` cannot be loaded (dlopen's message: not an ELF shared
//                       object, an undefined symbol, a missing dependency), or it lacks
//                       the sluice_plugin_api_version / sluice_plugin_register symbols.
//   FAILED_PRECONDITION the plugin was built for another SLUICE_PLUGIN_API_VERSION.
//   any other code      the plugin's registration failed with that code (ALREADY_EXISTS
//                       when one of its types is already registered). The types it
//                       registered before failing stay in `registry`.
// REQUIRES: `registry` is not null.
absl::Status LoadPlugin(const std::string& path, OperatorRegistry* registry);

}  // namespace sluice::runtime
