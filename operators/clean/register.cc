#include "operators/clean/register.h"

#include "operators/clean/clean.h"

namespace sluice::operators {

absl::Status RegisterCleanOperators(OperatorRegistry& registry) {
  return registry.RegisterOperator(
      "clean", clean::CreateClean,
      "Drops records failing cleaning rules (required, match, range, in, static_asset, bot) "
      "to the dead-letter output, with the first failing rule's reason.");
}

}  // namespace sluice::operators
