#include "operators/expr/register.h"

#include "common/status_macros.h"
#include "operators/expr/filter_operator.h"
#include "operators/expr/project_operator.h"

namespace sluice::operators::expr {

absl::Status RegisterExprOperators(OperatorRegistry& registry) {
  RETURN_IF_ERROR(registry.RegisterOperator(
      "filter", FilterOperator::Create,
      "Keeps the rows where an expression is true. Params: where."));
  RETURN_IF_ERROR(registry.RegisterOperator(
      "project", ProjectOperator::Create,
      "Keeps, renames, converts and computes fields. Params: fields, keep_all."));
  return absl::OkStatus();
}

}  // namespace sluice::operators::expr
