#include "operators/expr/project_operator.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice::operators::expr {

namespace {

std::string FieldList(const Schema& schema) {
  if (schema.num_fields() == 0) return "(none)";
  return absl::StrJoin(schema.fields(), ", ",
                       [](std::string* out, const Field& f) { out->append(f.name); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> ProjectOperator::Create(const OperatorConfig& config) {
  const Param& params = *config.params;
  RETURN_IF_ERROR(params.CheckKeys({"fields", "keep_all"}));
  if (config.input_schemas.size() != 1) {
    return params.Error(absl::StrCat("project takes exactly one input, got ",
                                     config.input_schemas.size()));
  }
  const Schema& input = *config.input_schemas[0];
  ASSIGN_OR_RETURN(const bool keep_all, params.GetBoolOr("keep_all", false));
  const Param* fields = params.Find("fields");
  if ((fields == nullptr || fields->is_null()) && !keep_all) return params.MissingError("fields");

  // The listed fields, in order.
  std::vector<OutputColumn> listed;
  auto compile = [&](const Param& where, const std::string& text,
                     OutputColumn* col) -> absl::Status {
    auto e = Expression::Compile(text, input);
    if (!e.ok()) return where.Error(StdSv(e.status().message()));
    col->expr = std::move(e).value();
    int index;
    if (col->expr->IsFieldRef(&index)) {
      col->source = index;
      col->expr.reset();
    }
    return absl::OkStatus();
  };
  std::vector<const Param*> items;
  if (fields != nullptr && fields->is_list()) {
    for (const Param& item : fields->items()) items.push_back(&item);
  } else if (fields != nullptr && !fields->is_null()) {
    return fields->Error("expected a list of fields");
  }
  for (const Param* item : items) {
    OutputColumn col;
    if (item->is_string()) {
      std::string text;
      absl::Status st = Expression::SplitAlias(item->string_value(), &text, &col.name);
      if (!st.ok()) return item->Error(StdSv(st.message()));
      RETURN_IF_ERROR(compile(*item, text, &col));
      if (col.name.empty()) {
        if (col.source < 0) {
          return item->Error(absl::StrCat("a computed field needs a name: write '",
                                          item->string_value(), " as <name>'"));
        }
        col.name = input.field(col.source).name;
      }
    } else if (item->is_map()) {
      RETURN_IF_ERROR(item->CheckKeys({"name", "expr"}));
      ASSIGN_OR_RETURN(col.name, item->GetString("name"));
      const Param* expr = item->Find("expr");
      if (expr != nullptr && !expr->is_null()) {
        ASSIGN_OR_RETURN(std::string text, item->GetString("expr"));
        RETURN_IF_ERROR(compile(*expr, text, &col));
      } else {
        col.source = input.IndexOf(col.name);
        if (col.source < 0) {
          return item->Find("name")->Error(absl::StrCat("unknown field '", col.name,
                                                        "'; fields are: ", FieldList(input)));
        }
      }
    } else {
      return item->Error("expected a field name, \"<expr> as <name>\", or {name: ..., expr: ...}");
    }
    for (const OutputColumn& other : listed) {
      if (other.name == col.name) {
        return item->Error(absl::StrCat("duplicate output field '", col.name, "'"));
      }
    }
    listed.push_back(std::move(col));
  }

  // keep_all: every input field in place (replaced by a listed field of the same name),
  // then the other listed fields.
  auto op = std::unique_ptr<ProjectOperator>(new ProjectOperator());
  if (keep_all) {
    std::vector<bool> used(listed.size(), false);
    for (int i = 0; i < input.num_fields(); ++i) {
      OutputColumn col;
      col.name = input.field(i).name;
      col.source = i;
      for (size_t k = 0; k < listed.size(); ++k) {
        if (listed[k].name == col.name) {
          col = std::move(listed[k]);
          used[k] = true;
          break;
        }
      }
      op->columns_.push_back(std::move(col));
    }
    for (size_t k = 0; k < listed.size(); ++k) {
      if (!used[k]) op->columns_.push_back(std::move(listed[k]));
    }
  } else {
    op->columns_ = std::move(listed);
  }

  std::vector<Field> out_fields;
  for (OutputColumn& col : op->columns_) {
    const Type type = col.source >= 0 ? input.field(col.source).type : col.expr->result_type();
    out_fields.push_back({col.name, type});
    if (type == Type::kString && (col.source >= 0 || col.expr->ReferencesInput())) {
      op->keep_input_memory_ = true;
    }
  }
  // The last copy of an input field takes its column.
  for (size_t j = op->columns_.size(); j-- > 0;) {
    OutputColumn& col = op->columns_[j];
    if (col.source < 0) continue;
    bool later = false;
    for (size_t k = j + 1; k < op->columns_.size(); ++k) later |= op->columns_[k].source == col.source;
    col.move_source = !later;
  }
  op->schema_ = std::make_shared<Schema>(std::move(out_fields));
  return std::unique_ptr<Operator>(std::move(op));
}

absl::Status ProjectOperator::Process(int input, BatchPtr in, Collector& out) {
  const size_t n = in->num_rows();
  if (n == 0) return absl::OkStatus();
  BatchPtr batch = out.NewBatch(schema_);
  RecordBatch& o = *batch;
  // Computed columns first: they read input columns that kept ones may move away.
  for (size_t j = 0; j < columns_.size(); ++j) {
    if (columns_[j].expr != nullptr) columns_[j].expr->EvaluateInto(*in, o, static_cast<int>(j));
  }
  for (size_t j = 0; j < columns_.size(); ++j) {
    const OutputColumn& col = columns_[j];
    if (col.source < 0) continue;
    if (col.move_source) {
      std::swap(o.column(static_cast<int>(j)), in->column(col.source));
    } else {
      o.column(static_cast<int>(j)) = in->column(col.source);
    }
  }
  o.timestamps().swap(in->timestamps());
  o.set_num_rows(n);

  if (keep_input_memory_) {
    if (in->arena().bytes_used() == 0) {
      o.ShareBuffers(*in);  // strings are views into external buffers only
    } else {
      // Keep the input's arena (and buffers) alive with the output; free its columns.
      for (int c = 0; c < in->num_columns(); ++c) {
        Column& col = in->column(c);
        Column empty;
        empty.type = col.type;
        col = std::move(empty);
      }
      std::vector<int64_t>().swap(in->timestamps());
      o.AddBuffer(std::shared_ptr<const void>(std::move(in)));
    }
  }
  out.Emit(std::move(batch));
  return absl::OkStatus();
}

}  // namespace sluice::operators::expr
