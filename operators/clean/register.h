// Registration of the `clean` operator with an OperatorRegistry. Called once at
// start-up, before the registry is shared.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators {

// Registers clean. ALREADY_EXISTS if the type name is taken.
absl::Status RegisterCleanOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
