// throttle: passes records through unchanged at no more than `records_per_second` per
// subtask, by pausing its task. Models a slow consumer (a rate-limited API, a slow
// database) in tests and demos of backpressure; the pause blocks upstream through the
// bounded queues and the exchange's credits.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::StatusOr<std::unique_ptr<Operator>> MakeThrottle(const OperatorConfig& config);

}  // namespace sluice::operators
