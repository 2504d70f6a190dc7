#include "operators/parse/register.h"

#include "common/status_macros.h"
#include "operators/parse/access_log_parse.h"
#include "operators/parse/json_parse.h"

namespace sluice::operators {

absl::Status RegisterParseOperators(OperatorRegistry& registry) {
  RETURN_IF_ERROR(registry.RegisterOperator(
      "json_parse", parse::CreateJsonParse,
      "Extracts typed fields (nested paths too) from one JSON object per line (simdjson)."));
  RETURN_IF_ERROR(registry.RegisterOperator(
      "access_log_parse", parse::CreateAccessLogParse,
      "Parses nginx/Tomcat combined or common access-log lines into typed fields."));
  return absl::OkStatus();
}

}  // namespace sluice::operators
