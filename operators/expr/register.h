// Registration of the expression operators (`filter`, `project`) with an
// OperatorRegistry. Called once at start-up, before the registry is shared.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators::expr {

/// Registers `filter` and `project`. ALREADY_EXISTS if either type is taken.
absl::Status RegisterExprOperators(OperatorRegistry& registry);

}  // namespace sluice::operators::expr
