#include "operators/builtins.h"

#include "common/status_macros.h"
#include "operators/basic/register.h"
#include "operators/clean/register.h"
#include "operators/expr/register.h"
#include "operators/kafka/register.h"
#include "operators/parse/register.h"
#include "operators/spool/spooldir_source.h"
#include "operators/hive/register.h"
#include "operators/window/register.h"

namespace sluice::operators {

absl::Status RegisterBuiltinOperators(OperatorRegistry& registry) {
  RETURN_IF_ERROR(RegisterBasicOperators(registry));
  RETURN_IF_ERROR(RegisterParseOperators(registry));
  RETURN_IF_ERROR(RegisterCleanOperators(registry));
  RETURN_IF_ERROR(expr::RegisterExprOperators(registry));
  RETURN_IF_ERROR(RegisterWindowOperators(registry));
  RETURN_IF_ERROR(RegisterKafkaOperators(registry));
  RETURN_IF_ERROR(RegisterSpoolOperators(registry));
  RETURN_IF_ERROR(hive::RegisterHiveOperators(registry));
  return absl::OkStatus();
}

}  // namespace sluice::operators
