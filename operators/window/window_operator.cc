#include "operators/window/window_operator.h"

#include <algorithm>
#include <cstring>
#include <limits>

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

int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

// The start of the window of length `step` (aligned to the epoch) holding `t`; floors
// for negative `t`.
inline int64_t FloorStart(int64_t t, int64_t step) {
  int64_t r = t % step;
  if (r < 0) r += step;
  return t - r;
}

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

absl::StatusOr<WindowSpec> ParseWindowSpec(const Param& params, const SchemaPtr& input) {
  RETURN_IF_ERROR(params.CheckKeys({"key_by", "window", "allowed_lateness", "aggregates", "emit"}));
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
    return std::unique_ptr<Operator>(std::make_unique<WindowOperator>(std::move(spec)));
  }
  ASSIGN_OR_RETURN(WindowSpec spec, ParseWindowSpec(params, config.input_schemas[0]));
  return std::unique_ptr<Operator>(std::make_unique<WindowOperator>(std::move(spec)));
}

// ---------------------------------------------------------------------------------------

WindowOperator::WindowOperator(WindowSpec spec) : spec_(std::move(spec)) {
  if (spec_.key_fields.empty()) {
    key_mode_ = KeyMode::kGlobal;
  } else if (spec_.key_fields.size() == 1) {
    Type t = spec_.input_schema->field(spec_.key_fields[0]).type;
    key_mode_ = t == Type::kString ? KeyMode::kString
                : IsIntLike(t)     ? KeyMode::kInt
                                   : KeyMode::kMulti;
  } else {
    key_mode_ = KeyMode::kMulti;
  }
  for (const AggregateSpec& a : spec_.aggregates) {
    if (a.fn == AggFn::kCount && a.field < 0) {
      agg_index_.push_back(-1);
      continue;
    }
    agg_index_.push_back(static_cast<int>(aggs_.size()));
    aggs_.push_back(NewAggregator(a.fn, a.field, a.field_type, a.k));
  }
  record_pairs_ = !aggs_.empty();
}

// Batch mode needs no special case: no watermark arrives before OnEndOfInput, so
// nothing is late and everything fires there.
absl::Status WindowOperator::Open(Context& ctx) {
  late_records_ = ctx.GetCounter("late_records");
  return absl::OkStatus();
}

absl::Status WindowOperator::Process(int input, BatchPtr batch, Collector& out) {
  const RecordBatch& b = *batch;
  if (b.num_rows() == 0) return absl::OkStatus();
  if (b.num_columns() != spec_.input_schema->num_fields()) {
    return absl::InternalError(absl::StrCat("window: got a batch of ", b.schema()->ToString(),
                                            "; expected ", spec_.input_schema->ToString()));
  }
  const size_t per_row =
      spec_.kind == WindowKind::kSliding ? static_cast<size_t>(spec_.size_ms / spec_.slide_ms) : 1;
  num_pairs_ = 0;
  if (pair_rows_.size() < b.num_rows() * per_row) {
    pair_rows_.resize(b.num_rows() * per_row);
    pair_slots_.resize(b.num_rows() * per_row);
  }

  switch (key_mode_) {
    case KeyMode::kGlobal:
      Dispatch(
          b, [this](size_t) { return GlobalKey(); }, out);
      break;
    case KeyMode::kString: {
      const Column& c = b.column(spec_.key_fields[0]);
      if (c.nulls.empty()) {
        Dispatch(
            b, [this, &c](size_t r) { return StringKey(c.strings[r]); }, out);
      } else {
        Dispatch(
            b, [this, &c](size_t r) { return c.nulls[r] ? NullKey() : StringKey(c.strings[r]); },
            out);
      }
      break;
    }
    case KeyMode::kInt: {
      const Column& c = b.column(spec_.key_fields[0]);
      if (c.nulls.empty()) {
        Dispatch(
            b, [this, &c](size_t r) { return IntKey(c.ints[r]); }, out);
      } else {
        Dispatch(
            b, [this, &c](size_t r) { return c.nulls[r] ? NullKey() : IntKey(c.ints[r]); }, out);
      }
      break;
    }
    case KeyMode::kMulti:
      Dispatch(
          b, [this, &b](size_t r) { return MultiKey(b, r); }, out);
      break;
  }
  ApplyPairs(b);
  EmitDirty(out);
  FlushOutput(out);
  return absl::OkStatus();
}

absl::Status WindowOperator::OnWatermark(int64_t watermark, Collector& out) {
  if (watermark > watermark_) FireUpTo(watermark, out);
  FlushOutput(out);
  out.EmitWatermark(watermark);
  return absl::OkStatus();
}

absl::Status WindowOperator::OnEndOfInput(Collector& out) {
  // End of input is a watermark at +infinity: every window fires, all state goes.
  FireUpTo(kMaxWatermark, out);
  FlushOutput(out);
  return absl::OkStatus();
}

// --- Keys --------------------------------------------------------------------------------

uint32_t WindowOperator::AllocKey() {
  uint32_t id;
  if (!free_keys_.empty()) {
    id = free_keys_.back();
    free_keys_.pop_back();
  } else {
    id = static_cast<uint32_t>(keys_.size());
    keys_.emplace_back();
  }
  Key& k = keys_[id];
  k.is_null = false;
  k.num_windows = 0;
  k.cached_slot = kNone;
  k.sessions.clear();
  return id;
}

void WindowOperator::FreeKey(uint32_t id) {
  Key& k = keys_[id];
  if (k.is_null) {
    null_key_ = kNone;
  } else if (key_mode_ == KeyMode::kInt) {
    int_keys_.erase(k.int_key);
  } else {
    auto it = string_keys_.find(Sv(k.encoded));
    if (it != string_keys_.end()) string_keys_.erase(it);
  }
  free_keys_.push_back(id);
}

uint32_t WindowOperator::NullKey() {
  if (null_key_ == kNone) {
    null_key_ = AllocKey();
    keys_[null_key_].is_null = true;
  }
  return null_key_;
}

uint32_t WindowOperator::GlobalKey() { return NullKey(); }

uint32_t WindowOperator::AddStringKey(std::string_view value) {
  uint32_t id = AllocKey();
  keys_[id].encoded.assign(value.data(), value.size());
  string_keys_.emplace(keys_[id].encoded, id);
  return id;
}

uint32_t WindowOperator::AddIntKey(int64_t value) {
  uint32_t id = AllocKey();
  keys_[id].int_key = value;
  int_keys_.emplace(value, id);
  return id;
}

// Encoding of a multi-field key: per field, a byte 0 (null) or 1 followed by the value:
// 8 bytes for int-like and double fields, a 4-byte length and the bytes for strings.
uint32_t WindowOperator::MultiKey(const RecordBatch& batch, size_t row) {
  scratch_.clear();
  for (int f : spec_.key_fields) {
    const Column& c = batch.column(f);
    if (c.IsNull(row)) {
      scratch_.push_back('\0');
      continue;
    }
    scratch_.push_back('\1');
    switch (c.type) {
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool: {
        int64_t v = c.ints[row];
        scratch_.append(reinterpret_cast<const char*>(&v), sizeof(v));
        break;
      }
      case Type::kDouble: {
        double v = c.doubles[row];
        if (v == 0) v = 0;  // -0.0 and 0.0 are one key
        scratch_.append(reinterpret_cast<const char*>(&v), sizeof(v));
        break;
      }
      case Type::kString: {
        std::string_view s = c.strings[row];
        uint32_t n = static_cast<uint32_t>(s.size());
        scratch_.append(reinterpret_cast<const char*>(&n), sizeof(n));
        scratch_.append(s.data(), s.size());
        break;
      }
      case Type::kNull:
        break;
    }
  }
  return StringKey(scratch_);
}

void WindowOperator::AppendKey(const Key& key, int key_index, Column& col, Arena& arena,
                               size_t row) const {
  switch (key_mode_) {
    case KeyMode::kGlobal:
      AppendNull(col, row);
      return;
    case KeyMode::kString:
      if (key.is_null) {
        AppendNull(col, row);
      } else {
        AppendString(col, arena, key.encoded);
      }
      return;
    case KeyMode::kInt:
      if (key.is_null) {
        AppendNull(col, row);
      } else {
        AppendInt(col, key.int_key);
      }
      return;
    case KeyMode::kMulti:
      break;
  }
  const char* p = key.encoded.data();
  for (int i = 0;; ++i) {
    const Type type = spec_.input_schema->field(spec_.key_fields[i]).type;
    const bool present = *p++ != 0;
    size_t len = 0;
    if (present) {
      if (type == Type::kString) {
        uint32_t n;
        std::memcpy(&n, p, sizeof(n));
        p += sizeof(n);
        len = n;
      } else {
        len = 8;
      }
    }
    if (i == key_index) {
      if (!present) {
        AppendNull(col, row);
      } else if (type == Type::kString) {
        AppendString(col, arena, std::string_view(p, len));
      } else if (type == Type::kDouble) {
        double v;
        std::memcpy(&v, p, sizeof(v));
        AppendDouble(col, v);
      } else {
        int64_t v;
        std::memcpy(&v, p, sizeof(v));
        AppendInt(col, v);
      }
      return;
    }
    p += len;
  }
}

// --- Assigning rows to windows --------------------------------------------------------

template <typename KeyOf>
void WindowOperator::Dispatch(const RecordBatch& batch, KeyOf&& key_of, Collector& out) {
  switch (spec_.kind) {
    case WindowKind::kTumbling:
      AssignTumbling(batch, key_of, out);
      break;
    case WindowKind::kSliding:
      AssignSliding(batch, key_of, out);
      break;
    case WindowKind::kSession:
      AssignSession(batch, key_of, out);
      break;
  }
}

template <typename KeyOf>
void WindowOperator::AssignTumbling(const RecordBatch& batch, KeyOf& key_of, Collector& out) {
  const int64_t size = spec_.size_ms;
  const int64_t offset = spec_.offset_ms;
  const int64_t* ts = batch.timestamps().data();
  const size_t n = batch.num_rows();
  // The window of the previous row: most rows fall in it, which saves a division.
  int64_t start = 0;
  bool have_start = false;
  for (size_t row = 0; row < n; ++row) {
    const int64_t t = ts[row];
    if (t == kNoTimestamp) {
      NoTimestamp(batch, row, out);
      continue;
    }
    if (!have_start ||
        static_cast<uint64_t>(t) - static_cast<uint64_t>(start) >= static_cast<uint64_t>(size)) {
      start = FloorStart(t - offset, size) + offset;
      have_start = true;
    }
    const int64_t end = start + size;
    if (end <= late_end_max_) {
      Late(batch, row, out);
      continue;
    }
    const uint32_t key = key_of(row);
    Key& k = keys_[key];
    uint32_t slot = k.cached_slot;
    if (slot == kNone || k.cached_start != start) {
      slot = FindOrAddWindow(key, start, end);
      k.cached_start = start;
      k.cached_slot = slot;
    }
    AddPair(static_cast<uint32_t>(row), slot, end);
  }
}

template <typename KeyOf>
void WindowOperator::AssignSliding(const RecordBatch& batch, KeyOf& key_of, Collector& out) {
  const int64_t size = spec_.size_ms;
  const int64_t slide = spec_.slide_ms;
  const int64_t offset = spec_.offset_ms;
  const int64_t* ts = batch.timestamps().data();
  const size_t n = batch.num_rows();
  for (size_t row = 0; row < n; ++row) {
    const int64_t t = ts[row];
    if (t == kNoTimestamp) {
      NoTimestamp(batch, row, out);
      continue;
    }
    // The windows holding t start at last, last - slide, ... (> t - size).
    const int64_t last = FloorStart(t - offset, slide) + offset;
    if (last + size <= late_end_max_) {
      Late(batch, row, out);
      continue;
    }
    const uint32_t key = key_of(row);
    for (int64_t start = last - size + slide; start <= last; start += slide) {
      const int64_t end = start + size;
      if (end <= late_end_max_) continue;  // that window is gone; the later ones take it
      AddPair(static_cast<uint32_t>(row), FindOrAddWindow(key, start, end), end);
    }
  }
}

template <typename KeyOf>
void WindowOperator::AssignSession(const RecordBatch& batch, KeyOf& key_of, Collector& out) {
  const int64_t gap = spec_.gap_ms;
  const int64_t* ts = batch.timestamps().data();
  const size_t n = batch.num_rows();
  for (size_t row = 0; row < n; ++row) {
    const int64_t t = ts[row];
    if (t == kNoTimestamp) {
      NoTimestamp(batch, row, out);
      continue;
    }
    const int64_t t_end = t + gap;
    const uint32_t key = key_of(row);
    merge_.clear();
    for (uint32_t s : keys_[key].sessions) {
      const Window& w = windows_[s];
      if (w.start < t_end && t < w.end) merge_.push_back(s);
    }
    if (merge_.empty()) {
      // Late only if no session still held covers or touches the record (Flink checks
      // the merged window).
      if (t_end <= late_end_max_) {
        if (keys_[key].num_windows == 0) FreeKey(key);
        Late(batch, row, out);
        continue;
      }
      AddPair(static_cast<uint32_t>(row), NewWindow(key, t, t_end), t_end);
      continue;
    }
    uint32_t target = merge_[0];
    int64_t start = std::min(t, windows_[target].start);
    int64_t end = std::max(t_end, windows_[target].end);
    if (merge_.size() > 1) {
      // The record bridges sessions: fold them into the oldest. Pending pairs may name
      // the sessions that disappear, so apply them first.
      ApplyPairs(batch);
      for (uint32_t s : merge_) {
        if (windows_[s].seq < windows_[target].seq) target = s;
      }
      for (uint32_t s : merge_) {
        start = std::min(start, windows_[s].start);
        end = std::max(end, windows_[s].end);
        if (s == target) continue;
        windows_[target].rows += windows_[s].rows;
        for (auto& agg : aggs_) agg->Merge(target, s);
        Dequeue(s);
        FreeWindow(s);
      }
    }
    windows_[target].start = start;
    SetEnd(target, end);
    AddPair(static_cast<uint32_t>(row), target, end);
  }
}

void WindowOperator::ApplyPairs(const RecordBatch& batch) {
  if (num_pairs_ == 0) return;
  for (auto& agg : aggs_) agg->Update(batch, pair_rows_.data(), pair_slots_.data(), num_pairs_);
  num_pairs_ = 0;
}

void WindowOperator::Late(const RecordBatch& batch, size_t row, Collector& out) {
  if (late_records_ != nullptr) late_records_->Add(1);
  out.EmitDeadLetterRow("late", batch, row);
}

void WindowOperator::NoTimestamp(const RecordBatch& batch, size_t row, Collector& out) {
  out.EmitDeadLetterRow("no_timestamp", batch, row);
}

// --- Window slots and queues ---------------------------------------------------------

uint32_t WindowOperator::FindOrAddWindow(uint32_t key, int64_t start, int64_t end) {
  auto [it, inserted] = window_index_.try_emplace(std::make_pair(key, start), kNone);
  if (inserted) it->second = NewWindow(key, start, end);
  return it->second;
}

uint32_t WindowOperator::NewWindow(uint32_t key, int64_t start, int64_t end) {
  uint32_t slot;
  if (!free_windows_.empty()) {
    slot = free_windows_.back();
    free_windows_.pop_back();
  } else {
    slot = static_cast<uint32_t>(windows_.size());
    windows_.emplace_back();
    for (auto& agg : aggs_) agg->Resize(windows_.size());
  }
  Window& w = windows_[slot];
  w.start = start;
  w.end = end;
  w.seq = next_seq_++;
  w.rows = 0;
  w.key = key;
  w.dirty = false;
  Key& k = keys_[key];
  ++k.num_windows;
  if (spec_.kind == WindowKind::kSession) k.sessions.push_back(slot);
  Enqueue(slot);
  return slot;
}

void WindowOperator::FreeWindow(uint32_t slot) {
  Window& w = windows_[slot];
  Key& k = keys_[w.key];
  if (spec_.kind == WindowKind::kSession) {
    auto it = std::find(k.sessions.begin(), k.sessions.end(), slot);
    if (it != k.sessions.end()) {
      *it = k.sessions.back();
      k.sessions.pop_back();
    }
  } else {
    window_index_.erase(std::make_pair(w.key, w.start));
    if (k.cached_slot == slot) k.cached_slot = kNone;
  }
  for (auto& agg : aggs_) agg->Reset(slot);
  w.state = State::kFree;
  w.dirty = false;
  free_windows_.push_back(slot);
  if (--k.num_windows == 0) FreeKey(w.key);
}

int64_t WindowOperator::CleanupTime(int64_t end) const {
  return SatAdd(end - 1, spec_.allowed_lateness_ms);
}

// A window not yet due waits in fire_queue_; a due one (fired, or created or extended by
// a record within the allowed lateness) waits in cleanup_queue_.
void WindowOperator::Enqueue(uint32_t slot) {
  Window& w = windows_[slot];
  if (w.end <= due_end_max_) {
    w.state = State::kFired;
    cleanup_queue_.emplace(CleanupTime(w.end), w.seq, slot);
  } else {
    w.state = State::kPending;
    w.queued_end = w.end;
    fire_queue_.emplace(w.end, w.seq, slot);
  }
}

void WindowOperator::Dequeue(uint32_t slot) {
  const Window& w = windows_[slot];
  if (w.state == State::kPending) {
    fire_queue_.erase(QueueEntry(w.queued_end, w.seq, slot));
  } else if (w.state == State::kFired) {
    cleanup_queue_.erase(QueueEntry(CleanupTime(w.end), w.seq, slot));
  }
}

void WindowOperator::SetEnd(uint32_t slot, int64_t end) {
  Window& w = windows_[slot];
  if (w.end == end) return;
  if (w.state == State::kPending && end > due_end_max_) {
    w.end = end;  // still pending: FireUpTo re-queues it when its old entry comes up
    return;
  }
  Dequeue(slot);
  w.end = end;
  Enqueue(slot);
}

void WindowOperator::MarkDirty(uint32_t slot) {
  windows_[slot].dirty = true;
  dirty_.push_back(slot);
}

// --- Firing ----------------------------------------------------------------------------

void WindowOperator::SetWatermark(int64_t watermark) {
  watermark_ = std::max(watermark_, watermark);
  due_end_max_ = SatAdd(watermark_, 1);
  late_end_max_ = SatAdd(SatAdd(watermark_, -spec_.allowed_lateness_ms), 1);
}

void WindowOperator::FireUpTo(int64_t watermark, Collector& out) {
  SetWatermark(watermark);
  while (!fire_queue_.empty()) {
    auto it = fire_queue_.begin();
    const auto [end, seq, slot] = *it;
    if (end > due_end_max_) break;
    if (windows_[slot].end != end) {
      // A session that grew since it was queued: move its entry (reusing the node).
      auto node = fire_queue_.extract(it);
      windows_[slot].queued_end = windows_[slot].end;
      node.value() = QueueEntry(windows_[slot].end, seq, slot);
      fire_queue_.insert(std::move(node));
      continue;
    }
    fire_queue_.erase(it);
    EmitRow(slot, out);
    const int64_t cleanup = CleanupTime(end);
    if (cleanup <= watermark_) {
      FreeWindow(slot);
    } else {
      windows_[slot].state = State::kFired;
      cleanup_queue_.emplace(cleanup, seq, slot);
    }
  }
  while (!cleanup_queue_.empty() && std::get<0>(*cleanup_queue_.begin()) <= watermark_) {
    const uint32_t slot = std::get<2>(*cleanup_queue_.begin());
    cleanup_queue_.erase(cleanup_queue_.begin());
    FreeWindow(slot);
  }
}

// Late firings: every fired window a record of this batch updated emits its complete
// row once, in window-end order.
void WindowOperator::EmitDirty(Collector& out) {
  if (dirty_.empty()) return;
  std::sort(dirty_.begin(), dirty_.end(), [this](uint32_t a, uint32_t b) {
    const Window& x = windows_[a];
    const Window& y = windows_[b];
    return x.end != y.end ? x.end < y.end : x.seq < y.seq;
  });
  for (uint32_t slot : dirty_) {
    Window& w = windows_[slot];
    if (!w.dirty) continue;  // freed by a merge, or listed twice
    w.dirty = false;
    if (w.end > due_end_max_) continue;  // a later record of the batch extended it
    EmitRow(slot, out);
  }
  dirty_.clear();
}

void WindowOperator::EmitRow(uint32_t slot, Collector& out) {
  if (out_batch_ == nullptr) out_batch_ = out.NewBatch(spec_.output_schema);
  RecordBatch& b = *out_batch_;
  const size_t row = b.num_rows();
  const Window& w = windows_[slot];
  const Key& key = keys_[w.key];
  for (size_t i = 0; i < spec_.output.size(); ++i) {
    const OutputColumnSpec& c = spec_.output[i];
    Column& col = b.column(static_cast<int>(i));
    switch (c.source) {
      case OutputColumnSpec::Source::kKey:
        AppendKey(key, c.index, col, b.arena(), row);
        break;
      case OutputColumnSpec::Source::kWindowStart:
        AppendInt(col, w.start);
        break;
      case OutputColumnSpec::Source::kWindowEnd:
        AppendInt(col, w.end);
        break;
      case OutputColumnSpec::Source::kAggregate:
        if (agg_index_[c.index] < 0) {
          AppendInt(col, w.rows);
        } else {
          aggs_[agg_index_[c.index]]->Append(slot, col, b.arena(), row);
        }
        break;
    }
  }
  b.timestamps().push_back(w.end - 1);
  b.set_num_rows(row + 1);
  if (b.num_rows() >= kMaxOutputRows) FlushOutput(out);
}

void WindowOperator::FlushOutput(Collector& out) {
  if (out_batch_ != nullptr && out_batch_->num_rows() > 0) out.Emit(std::move(out_batch_));
}

}  // namespace sluice::operators::window
