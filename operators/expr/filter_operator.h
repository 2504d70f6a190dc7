// The `filter` operator: keeps the rows of each batch for which a boolean expression
// (operators/expr/README.md) is true, dropping rows where it is false or null.
//
//   - id: views
//     type: filter
//     input: parse
//     where: 'event_type == "view" && ad_id is not null'
//
// Rows are kept in place (RecordBatch::Select) and the same batch is re-emitted, so
// timestamps and string memory are untouched. Dropped rows are counted with
// Collector::CountFiltered; they are not dead letters. A batch left empty is not emitted.
// One instance per subtask, used from its task thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "operators/expr/expression.h"
#include "sluice/operator.h"

namespace sluice::operators::expr {

class FilterOperator : public Operator {
 public:
  /// The factory. INVALID_ARGUMENT (located at the param) if `where` is missing, does not
  /// compile against the input schema, or is not boolean.
  static absl::StatusOr<std::unique_ptr<Operator>> Create(const OperatorConfig& config);

  SchemaPtr output_schema() const override { return schema_; }
  absl::Status Process(int input, BatchPtr batch, Collector& out) override;

 private:
  FilterOperator(SchemaPtr schema, std::unique_ptr<Expression> where)
      : schema_(std::move(schema)), where_(std::move(where)) {}

  SchemaPtr schema_;
  std::unique_ptr<Expression> where_;
  std::vector<uint32_t> rows_;  // reused across batches
};

}  // namespace sluice::operators::expr
