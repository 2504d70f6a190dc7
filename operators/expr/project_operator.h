// The `project` operator: computes the fields of its output from expressions over the
// fields of its input (operators/expr/README.md) — keeping, renaming, converting and
// computing fields.
//
//   - id: clean
//     type: project
//     input: parse
//     fields:
//       - user_id                              # keep
//       - "event_type as type"                 # rename
//       - "int64(status) as status"            # convert
//       - {name: is_error, expr: "int64(status) >= 500"}
//     keep_all: false                          # true: every input field first, listed
//                                              # fields replace same-named ones in place
//     event_time: {field: ts}                  # node level (the runtime, not a param):
//                                              # row time from an output field
//
// The output schema is fixed when the operator is created. Rows keep their timestamps;
// taking them from a field is the runtime's node-level `event_time`, not a parameter.
//
// Memory: a field kept as is moves its column vector from the input batch to the output
// (no per-row work). Its strings still point into memory the input batch owns, so when
// an output string column may reference input memory the input's memory is handed to
// the output batch: its external buffers are shared (ShareBuffers) when the input arena
// holds no strings; otherwise the whole (emptied) input batch is kept alive by the output
// batch through RecordBatch::AddBuffer. Strings computed by functions are written into
// the output batch's arena. One instance per subtask, used from its task thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "operators/expr/expression.h"
#include "sluice/operator.h"

namespace sluice::operators::expr {

class ProjectOperator : public Operator {
 public:
  /// The factory. INVALID_ARGUMENT located at the offending param for an unknown key, a
  /// bad item of `fields`, an expression that does not compile, a computed field
  /// without a name, or a duplicate output name.
  static absl::StatusOr<std::unique_ptr<Operator>> Create(const OperatorConfig& config);

  SchemaPtr output_schema() const override { return schema_; }
  absl::Status Process(int input, BatchPtr batch, Collector& out) override;

 private:
  struct OutputColumn {
    std::string name;
    int source = -1;                   // input field copied as is, or -1
    std::unique_ptr<Expression> expr;  // computed (when source < 0)
    bool move_source = false;          // last use of `source`: move instead of copy
  };

  ProjectOperator() = default;

  SchemaPtr schema_;
  std::vector<OutputColumn> columns_;
  bool keep_input_memory_ = false;
};

}  // namespace sluice::operators::expr
