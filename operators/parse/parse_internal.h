// Helpers shared by the parse operators (json_parse, access_log_parse): resolving the
// input text field from the `field` parameter, and handing the memory an input batch's
// strings point into over to an output batch, so output strings can be views into the
// input lines without copying them. Internal to operators/parse; thread-compatible.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "sluice/operator.h"

namespace sluice::operators::parse::internal {

// The index of the input string field named by param `field` (default "line") of a
// single-input operator. INVALID_ARGUMENT, located at the parameter, if the operator has
// not exactly one input, or the field is absent or not a string.
inline absl::StatusOr<int> ResolveInputField(const OperatorConfig& config) {
  const Param& params = *config.params;
  if (config.input_schemas.size() != 1 || config.input_schemas[0] == nullptr) {
    return params.Error(
        absl::StrCat("expected exactly one input, got ", config.input_schemas.size()));
  }
  auto name = params.GetStringOr("field", "line");
  if (!name.ok()) return name.status();
  const Param* at = params.Find("field");
  const Param& where = at != nullptr ? *at : params;
  const Schema& schema = *config.input_schemas[0];
  const int index = schema.IndexOf(*name);
  if (index < 0) {
    return where.Error(
        absl::StrCat("input has no field '", *name, "' (input fields: ", schema.ToString(), ")"));
  }
  if (schema.field(index).type != Type::kString) {
    return where.Error(absl::StrCat("input field '", *name, "' must be a string, it is ",
                                    Sv(TypeName(schema.field(index).type))));
  }
  return index;
}

// Makes `out` keep alive everything the strings of `in` may point into, consuming `in`.
// Lines read by a source are views into buffers the batch shares (ShareBuffers is
// enough); strings a batch copied into its own arena (tests, upstream operators) live as
// long as that batch, so then the whole input batch is kept alive by `out`.
inline void KeepInputAlive(BatchPtr in, RecordBatch& out) {
  if (in->arena().bytes_used() == 0) {
    out.ShareBuffers(*in);
  } else {
    out.AddBuffer(std::shared_ptr<const RecordBatch>(std::move(in)));
  }
}

// Pads `nulls` of every column of `batch` to the row count (columns append a null flag
// only up to the last null row while they are filled).
inline void FinishNulls(RecordBatch& batch) {
  for (int c = 0; c < batch.num_columns(); ++c) {
    Column& col = batch.column(c);
    if (!col.nulls.empty()) col.nulls.resize(batch.num_rows(), 0);
  }
}

}  // namespace sluice::operators::parse::internal
