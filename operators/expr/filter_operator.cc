#include "operators/expr/filter_operator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice::operators::expr {

absl::StatusOr<std::unique_ptr<Operator>> FilterOperator::Create(const OperatorConfig& config) {
  const Param& params = *config.params;
  RETURN_IF_ERROR(params.CheckKeys({"where"}));
  if (config.input_schemas.size() != 1) {
    return params.Error(absl::StrCat("filter takes exactly one input, got ",
                                     config.input_schemas.size()));
  }
  ASSIGN_OR_RETURN(std::string text, params.GetString("where"));
  const Param& where = *params.Find("where");
  const SchemaPtr& schema = config.input_schemas[0];
  auto compiled = Expression::Compile(text, *schema);
  if (!compiled.ok()) return where.Error(StdSv(compiled.status().message()));
  if ((*compiled)->result_type() != Type::kBool) {
    return where.Error(absl::StrCat("the condition must be boolean, but '", text, "' is ",
                                    Sv(TypeName((*compiled)->result_type()))));
  }
  return std::unique_ptr<Operator>(new FilterOperator(schema, std::move(compiled).value()));
}

absl::Status FilterOperator::Process(int input, BatchPtr batch, Collector& out) {
  const size_t n = batch->num_rows();
  if (n == 0) return absl::OkStatus();
  where_->EvaluateFilter(*batch, &rows_);
  if (rows_.size() < n) out.CountFiltered(static_cast<int64_t>(n - rows_.size()));
  if (rows_.empty()) return absl::OkStatus();
  batch->Select(rows_);
  out.Emit(std::move(batch));
  return absl::OkStatus();
}

}  // namespace sluice::operators::expr
