#include "operators/window/register.h"

#include "operators/window/window_operator.h"

namespace sluice::operators {

absl::Status RegisterWindowOperators(OperatorRegistry& registry) {
  return registry.RegisterOperator(
      "window", window::CreateWindowOperator,
      "Keyed event-time window aggregate: tumbling, sliding or session windows with "
      "count, count_distinct, sum, min, max, avg and top_k.");
}

}  // namespace sluice::operators
