// Registration of the parse operators (`json_parse`, `access_log_parse`) with an
// OperatorRegistry. Called once at start-up, before the registry is shared.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators {

// Registers json_parse and access_log_parse. ALREADY_EXISTS if a type name is taken.
absl::Status RegisterParseOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
