// Registers every built-in operator family into a registry.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::Status RegisterBuiltinOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
