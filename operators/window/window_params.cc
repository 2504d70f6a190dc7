// The `window` node's parameters: ParseWindowSpec validates them against the input
// schema (window shape, aggregates, key fields, output columns; every error located),
// and CreateWindowOperator, the factory registered as `window`, builds the operator. Also
// the aggregate functions' names and accepted types (declared in aggregates.h).

#include "operators/window/window_operator.h"

#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice::operators::window {

namespace {

constexpr std::string_view kWindowStartName = "window_start";
constexpr std::string_view kWindowEndName = "window_end";
constexpr int64_t kDefaultTopK = 10;
constexpr int64_t kMaxWindowsPerRecord = 10000;  // sliding size / slide

bool IsIntLike(Type t) { return t == Type::kInt64 || t == Type::kTimestamp || t == Type::kBool; }

absl::Status UnknownField(const Param& at, std::string_view name, const Schema& schema) {
  return at.Error(
      absl::StrCat("unknown field '", Sv(name), "'; input fields: ", schema.ToString()));
}

// The node of item `i` of the list under `key`, or the node of `key` itself (a string
// given where a list is allowed).
const Param& ItemOrSelf(const Param& parent, std::string_view key, size_t i) {
  const Param* p = parent.Find(key);
  if (p->is_list() && i < p->items().size()) return p->items()[i];
  return *p;
}

absl::StatusOr<int64_t> PositiveDurationMs(const Param& map, std::string_view key) {
  ASSIGN_OR_RETURN(int64_t ms, map.GetDurationMs(key));
  if (ms <= 0) {
    const Param* p = map.Find(key);
    return p->Error(
        absl::StrCat("expected a positive duration like 10s, got '", p->ToString(), "'"));
  }
  return ms;
}

absl::Status ParseWindowShape(const Param& params, WindowSpec& spec) {
  const Param* w = params.Find("window");
  if (w == nullptr || w->is_null()) return params.MissingError("window");
  if (!w->is_map()) {
    return w->Error(
        absl::StrCat("expected a map like {type: tumbling, size: 1m}, got '", w->ToString(), "'"));
  }
  ASSIGN_OR_RETURN(std::string type, w->GetString("type"));
  if (type == "tumbling") {
    spec.kind = WindowKind::kTumbling;
    RETURN_IF_ERROR(w->CheckKeys({"type", "size", "offset"}));
    ASSIGN_OR_RETURN(spec.size_ms, PositiveDurationMs(*w, "size"));
    spec.slide_ms = spec.size_ms;
  } else if (type == "sliding") {
    spec.kind = WindowKind::kSliding;
    RETURN_IF_ERROR(w->CheckKeys({"type", "size", "slide", "offset"}));
    ASSIGN_OR_RETURN(spec.size_ms, PositiveDurationMs(*w, "size"));
    ASSIGN_OR_RETURN(spec.slide_ms, PositiveDurationMs(*w, "slide"));
    if (spec.size_ms % spec.slide_ms != 0) {
      return w->Find("slide")->Error(
          absl::StrCat("the window size (", w->Find("size")->ToString(), " = ", spec.size_ms,
                       " ms) must be a multiple of the slide (", w->Find("slide")->ToString(),
                       " = ", spec.slide_ms, " ms)"));
    }
    if (spec.size_ms / spec.slide_ms > kMaxWindowsPerRecord) {
      return w->Find("slide")->Error(
          absl::StrCat("a sliding window may put a record in at most ", kMaxWindowsPerRecord,
                       " windows, but size / slide is ", spec.size_ms / spec.slide_ms));
    }
  }
  if ((type == "tumbling" || type == "sliding") && w->Find("offset") != nullptr) {
    // Windows start at offset + k * slide: days in UTC+8 start at 16:00 UTC (offset 16h).
    ASSIGN_OR_RETURN(int64_t offset, w->GetDurationMs("offset"));
    spec.offset_ms = offset % spec.slide_ms;
  }
  if (type == "tumbling" || type == "sliding") {
  } else if (type == "session") {
    spec.kind = WindowKind::kSession;
    RETURN_IF_ERROR(w->CheckKeys({"type", "gap"}));
    ASSIGN_OR_RETURN(spec.gap_ms, PositiveDurationMs(*w, "gap"));
  } else {
    return w->Find("type")->Error(
        absl::StrCat("unknown window type '", type, "'; expected tumbling, sliding or session"));
  }
  return absl::OkStatus();
}

absl::Status ParseAggregate(const Param& a, const Schema& schema, AggregateSpec& agg) {
  if (!a.is_map()) {
    return a.Error(
        absl::StrCat("expected a map like {fn: count, as: n}, got '", a.ToString(), "'"));
  }
  RETURN_IF_ERROR(a.CheckKeys({"fn", "field", "as", "k"}));
  ASSIGN_OR_RETURN(std::string fn_name, a.GetString("fn"));
  if (!ParseAggFn(fn_name, &agg.fn)) {
    return a.Find("fn")->Error(absl::StrCat("unknown aggregate function '", fn_name,
                                            "'; expected one of: ", Sv(AggFnNames())));
  }
  const Param* field = a.Find("field");
  std::string field_name;
  if (field == nullptr || field->is_null()) {
    if (agg.fn != AggFn::kCount) return a.MissingError("field");
  } else {
    ASSIGN_OR_RETURN(field_name, a.GetString("field"));
    agg.field = schema.IndexOf(field_name);
    if (agg.field < 0) return UnknownField(*field, field_name, schema);
    agg.field_type = schema.field(agg.field).type;
    if (!AggAcceptsType(agg.fn, agg.field_type)) {
      return field->Error(absl::StrCat(Sv(AggFnName(agg.fn)), " needs ",
                                       Sv(AggAcceptedTypes(agg.fn)), ", but '", field_name, "' is ",
                                       Sv(TypeName(agg.field_type))));
    }
  }
  if (agg.fn == AggFn::kTopK) {
    ASSIGN_OR_RETURN(agg.k, a.GetIntOr("k", kDefaultTopK));
    if (agg.k < 1) return a.Find("k")->Error(absl::StrCat("expected k >= 1, got ", agg.k));
  } else if (const Param* k = a.Find("k"); k != nullptr && !k->is_null()) {
    return k->Error("'k' applies only to fn: top_k");
  }
  std::string default_name(AggFnName(agg.fn));
  if (!field_name.empty()) absl::StrAppend(&default_name, "_", field_name);
  ASSIGN_OR_RETURN(agg.name, a.GetStringOr("as", default_name));
  if (agg.name.empty()) return a.Find("as")->Error("expected a non-empty column name");
  return absl::OkStatus();
}

Type OutputTypeOf(const WindowSpec& spec, const OutputColumnSpec& c) {
  switch (c.source) {
    case OutputColumnSpec::Source::kKey:
      return spec.input_schema->field(spec.key_fields[c.index]).type;
    case OutputColumnSpec::Source::kWindowStart:
    case OutputColumnSpec::Source::kWindowEnd:
      return Type::kTimestamp;
    case OutputColumnSpec::Source::kAggregate: {
      const AggregateSpec& a = spec.aggregates[c.index];
      return AggOutputType(a.fn, a.field_type);
    }
  }
  return Type::kNull;
}

}  // namespace

// --- Aggregate functions: names and accepted types (declared in aggregates.h) ----------

bool ParseAggFn(std::string_view name, AggFn* fn) {
  static constexpr std::pair<std::string_view, AggFn> kFns[] = {
      {"count", AggFn::kCount}, {"count_distinct", AggFn::kCountDistinct},
      {"sum", AggFn::kSum},     {"min", AggFn::kMin},
      {"max", AggFn::kMax},     {"avg", AggFn::kAvg},
      {"top_k", AggFn::kTopK},
  };
  for (const auto& [n, f] : kFns) {
    if (n == name) {
      *fn = f;
      return true;
    }
  }
  return false;
}

std::string_view AggFnName(AggFn fn) {
  switch (fn) {
    case AggFn::kCount:
      return "count";
    case AggFn::kCountDistinct:
      return "count_distinct";
    case AggFn::kSum:
      return "sum";
    case AggFn::kMin:
      return "min";
    case AggFn::kMax:
      return "max";
    case AggFn::kAvg:
      return "avg";
    case AggFn::kTopK:
      return "top_k";
  }
  return "?";
}

std::string_view AggFnNames() { return "count, count_distinct, sum, min, max, avg, top_k"; }

bool AggAcceptsType(AggFn fn, Type type) {
  switch (fn) {
    case AggFn::kCount:
    case AggFn::kCountDistinct:
    case AggFn::kMin:
    case AggFn::kMax:
      return type != Type::kNull;
    case AggFn::kSum:
    case AggFn::kAvg:
      return type == Type::kInt64 || type == Type::kDouble;
    case AggFn::kTopK:
      return type == Type::kString || IsIntLike(type);
  }
  return false;
}

std::string_view AggAcceptedTypes(AggFn fn) {
  switch (fn) {
    case AggFn::kSum:
    case AggFn::kAvg:
      return "an int64 or double field";
    case AggFn::kTopK:
      return "a string, int64, timestamp or bool field";
    default:
      return "a field of a non-null type";
  }
}

Type AggOutputType(AggFn fn, Type field_type) {
  switch (fn) {
    case AggFn::kCount:
    case AggFn::kCountDistinct:
      return Type::kInt64;
    case AggFn::kSum:
    case AggFn::kMin:
    case AggFn::kMax:
      return field_type;
    case AggFn::kAvg:
      return Type::kDouble;
    case AggFn::kTopK:
      return Type::kString;
  }
  return Type::kNull;
}

absl::StatusOr<WindowSpec> ParseWindowSpec(const Param& params, const SchemaPtr& input) {
  RETURN_IF_ERROR(
      params.CheckKeys({"key_by", "window", "allowed_lateness", "aggregates", "emit", "max_keys_in_memory"}));
  WindowSpec spec;
  spec.input_schema = input;
  const Schema& schema = *input;

  // Output column name -> where it comes from; filled in default emit order.
  std::vector<std::pair<std::string, OutputColumnSpec>> columns;
  auto find_column = [&columns](std::string_view name) -> const OutputColumnSpec* {
    for (const auto& [n, c] : columns) {
      if (n == name) return &c;
    }
    return nullptr;
  };

  ASSIGN_OR_RETURN(std::vector<std::string> key_names, params.GetStringListOr("key_by"));
  for (size_t i = 0; i < key_names.size(); ++i) {
    const std::string& name = key_names[i];
    const Param& at = ItemOrSelf(params, "key_by", i);
    int index = schema.IndexOf(name);
    if (index < 0) return UnknownField(at, name, schema);
    if (schema.field(index).type == Type::kNull) {
      return at.Error(absl::StrCat("cannot key by '", name, "': its type is null"));
    }
    if (find_column(name) != nullptr) {
      return at.Error(absl::StrCat("field '", name, "' is listed twice"));
    }
    columns.push_back({name, {OutputColumnSpec::Source::kKey, static_cast<int>(i)}});
    spec.key_fields.push_back(index);
  }
  columns.push_back({std::string(kWindowStartName), {OutputColumnSpec::Source::kWindowStart, 0}});
  columns.push_back({std::string(kWindowEndName), {OutputColumnSpec::Source::kWindowEnd, 0}});

  RETURN_IF_ERROR(ParseWindowShape(params, spec));
  ASSIGN_OR_RETURN(spec.allowed_lateness_ms, params.GetDurationMsOr("allowed_lateness", 0));
  ASSIGN_OR_RETURN(int64_t max_keys, params.GetIntOr("max_keys_in_memory", kDefaultMaxKeysInMemory));
  if (max_keys < 0) {
    return params.Find("max_keys_in_memory")->Error("must be 0 (never spill) or positive");
  }
  spec.max_keys_in_memory = max_keys;

  const Param* aggs = params.Find("aggregates");
  if (aggs == nullptr || aggs->is_null()) return params.MissingError("aggregates");
  if (!aggs->is_list() || aggs->items().empty()) {
    return aggs->Error("expected a non-empty list of aggregates like [{fn: count, as: n}]");
  }
  for (size_t i = 0; i < aggs->items().size(); ++i) {
    const Param& a = aggs->items()[i];
    AggregateSpec agg;
    RETURN_IF_ERROR(ParseAggregate(a, schema, agg));
    if (find_column(agg.name) != nullptr) {
      const Param* as = a.Find("as");
      return (as != nullptr ? *as : a)
          .Error(absl::StrCat("output column '", agg.name,
                              "' is already used (by a key field, window_start, window_end or "
                              "another aggregate); name this aggregate with 'as'"));
    }
    columns.push_back({agg.name, {OutputColumnSpec::Source::kAggregate, static_cast<int>(i)}});
    spec.aggregates.push_back(std::move(agg));
  }

  std::vector<std::string> emit_names;
  const Param* emit = params.Find("emit");
  if (emit == nullptr || emit->is_null()) {
    for (const auto& [name, c] : columns) emit_names.push_back(name);
  } else {
    ASSIGN_OR_RETURN(emit_names, params.GetStringListOr("emit"));
    if (emit_names.empty()) return emit->Error("expected at least one output column");
  }
  std::vector<Field> fields;
  for (size_t i = 0; i < emit_names.size(); ++i) {
    const std::string& name = emit_names[i];
    const OutputColumnSpec* c = find_column(name);
    if (c == nullptr) {
      return ItemOrSelf(params, "emit", i)
          .Error(absl::StrCat("unknown output column '", name, "'; expected one of: ",
                              absl::StrJoin(columns, ", ", [](std::string* out, const auto& col) {
                                out->append(col.first);
                              })));
    }
    for (size_t j = 0; j < i; ++j) {
      if (emit_names[j] == name) {
        return ItemOrSelf(params, "emit", i)
            .Error(absl::StrCat("output column '", name, "' is listed twice"));
      }
    }
    spec.output.push_back(*c);
    fields.push_back({name, OutputTypeOf(spec, *c)});
  }
  spec.output_schema = std::make_shared<Schema>(std::move(fields));
  return spec;
}

absl::StatusOr<std::unique_ptr<Operator>> CreateWindowOperator(const OperatorConfig& config) {
  static const Param* const kEmpty = new Param(Param::Map());
  const Param& params = config.params != nullptr ? *config.params : *kEmpty;
  if (config.input_schemas.size() != 1 || config.input_schemas[0] == nullptr) {
    return params.Error(
        absl::StrCat("window takes exactly one input, got ", config.input_schemas.size()));
  }
  if (params.Find("key_by") == nullptr && !config.key_fields.empty()) {
    // Keyed by the node's key-by edge: the same fields key the window.
    Param keyed = params;
    std::vector<Param> keys;
    for (const auto& k : config.key_fields) keys.push_back(Param::String(k));
    Param list = Param::List(std::move(keys));
    list.SetLocation(params.file(), params.line(),
                     params.path().empty() ? "key_by" : params.path() + ".key_by");
    keyed.Set("key_by", std::move(list));
    ASSIGN_OR_RETURN(WindowSpec spec, ParseWindowSpec(keyed, config.input_schemas[0]));
    return std::unique_ptr<Operator>(
        std::make_unique<WindowOperator>(std::move(spec), config.node_id));
  }
  ASSIGN_OR_RETURN(WindowSpec spec, ParseWindowSpec(params, config.input_schemas[0]));
  return std::unique_ptr<Operator>(
      std::make_unique<WindowOperator>(std::move(spec), config.node_id));
}

}  // namespace sluice::operators::window
