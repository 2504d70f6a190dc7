// Registers the basic built-ins: file_source, stdin_source, generator, file_sink,
// console_sink, lookup_join, union, throttle.
#pragma once

#include "absl/status/status.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::Status RegisterBasicOperators(OperatorRegistry& registry);

}  // namespace sluice::operators
