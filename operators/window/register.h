// Registers the window operator family with an OperatorRegistry: `window`, the keyed
// event-time window aggregate (tumbling, sliding and session windows).
//
// Threading: call at start-up, before the registry is shared (registries are filled
// once and read-only afterwards).
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators {

/// Registers `window`. Fails with ALREADY_EXISTS if the name is taken.
absl::Status RegisterWindowOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
