#include "operators/parse/access_log_parse.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/parse/access_log.h"
#include "operators/parse/parse_internal.h"

namespace sluice::operators::parse {

namespace {

enum class LogField : uint8_t {
  kRemoteAddr,
  kRemoteUser,
  kTime,
  kMethod,
  kPath,
  kQuery,
  kProtocol,
  kStatus,
  kBytes,
  kReferer,
  kUserAgent,
};

struct LogFieldInfo {
  const char* name;
  LogField id;
  Type type;
  bool combined_only;
};

constexpr LogFieldInfo kLogFields[] = {
    {"remote_addr", LogField::kRemoteAddr, Type::kString, false},
    {"remote_user", LogField::kRemoteUser, Type::kString, false},
    {"time", LogField::kTime, Type::kTimestamp, false},
    {"method", LogField::kMethod, Type::kString, false},
    {"path", LogField::kPath, Type::kString, false},
    {"query", LogField::kQuery, Type::kString, false},
    {"protocol", LogField::kProtocol, Type::kString, false},
    {"status", LogField::kStatus, Type::kInt64, false},
    {"bytes", LogField::kBytes, Type::kInt64, false},
    {"referer", LogField::kReferer, Type::kString, true},
    {"user_agent", LogField::kUserAgent, Type::kString, true},
};

class AccessLogParse : public Operator {
 public:
  AccessLogParse(int input_index, AccessLogFormat format, std::vector<LogField> fields,
                 bool set_event_time, SchemaPtr schema)
      : input_index_(input_index),
        format_(format),
        fields_(std::move(fields)),
        set_event_time_(set_event_time),
        schema_(std::move(schema)) {}

  SchemaPtr output_schema() const override { return schema_; }

  absl::Status Process(int input, BatchPtr in, Collector& out) override {
    const size_t n = in->num_rows();
    BatchPtr batch = out.NewBatch(schema_);
    for (int c = 0; c < batch->num_columns(); ++c) batch->column(c).Reserve(n);
    std::vector<int64_t>& times = batch->timestamps();
    times.reserve(n);
    const Column& lines = in->column(input_index_);
    const std::vector<int64_t>& in_times = in->timestamps();
    AccessLogEntry e;
    size_t rows = 0;
    for (size_t r = 0; r < n; ++r) {
      if (lines.IsNull(r) || !ParseAccessLogLine(lines.strings[r], format_, &e)) {
        out.EmitDeadLetter("malformed", lines.strings[r]);
        continue;
      }
      for (size_t i = 0; i < fields_.size(); ++i) {
        Column& col = batch->column(static_cast<int>(i));
        switch (fields_[i]) {
          case LogField::kRemoteAddr:
            col.strings.push_back(e.remote_addr);
            break;
          case LogField::kRemoteUser:
            PushString(col, rows, e.remote_user, e.remote_user_is_null);
            break;
          case LogField::kTime:
            col.ints.push_back(e.time_ms);
            break;
          case LogField::kMethod:
            col.strings.push_back(e.method);
            break;
          case LogField::kPath:
            col.strings.push_back(e.path);
            break;
          case LogField::kQuery:
            PushString(col, rows, e.query, !e.has_query);
            break;
          case LogField::kProtocol:
            col.strings.push_back(e.protocol);
            break;
          case LogField::kStatus:
            col.ints.push_back(e.status);
            break;
          case LogField::kBytes:
            col.ints.push_back(e.bytes);
            break;
          case LogField::kReferer:
            PushString(col, rows, e.referer, e.referer_is_null);
            break;
          case LogField::kUserAgent:
            col.strings.push_back(e.user_agent);
            break;
        }
      }
      times.push_back(set_event_time_ ? e.time_ms : in_times[r]);
      ++rows;
    }
    if (rows == 0) return absl::OkStatus();
    batch->set_num_rows(rows);
    internal::FinishNulls(*batch);
    internal::KeepInputAlive(std::move(in), *batch);
    out.Emit(std::move(batch));
    return absl::OkStatus();
  }

 private:
  static void PushString(Column& col, size_t row, std::string_view value, bool is_null) {
    if (is_null) {
      col.strings.emplace_back();
      col.SetNull(row, row + 1);
    } else {
      col.strings.push_back(value);
    }
  }

  const int input_index_;
  const AccessLogFormat format_;
  const std::vector<LogField> fields_;
  const bool set_event_time_;
  const SchemaPtr schema_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> CreateAccessLogParse(const OperatorConfig& config) {
  const Param& params = *config.params;
  RETURN_IF_ERROR(params.CheckKeys({"field", "format", "fields", "set_event_time"}));
  ASSIGN_OR_RETURN(const int input_index, internal::ResolveInputField(config));

  ASSIGN_OR_RETURN(const std::string format_name, params.GetStringOr("format", "combined"));
  AccessLogFormat format;
  if (format_name == "combined") {
    format = AccessLogFormat::kCombined;
  } else if (format_name == "common") {
    format = AccessLogFormat::kCommon;
  } else {
    return params.Find("format")->Error(
        absl::StrCat("unknown format '", format_name, "'; expected combined or common"));
  }
  const bool combined = format == AccessLogFormat::kCombined;

  std::vector<const LogFieldInfo*> chosen;
  if (const Param* list = params.Find("fields"); list != nullptr && !list->is_null()) {
    ASSIGN_OR_RETURN(const std::vector<std::string> names, params.GetStringList("fields"));
    if (names.empty()) return list->Error("expected at least one field");
    for (size_t i = 0; i < names.size(); ++i) {
      const Param& at = list->is_list() ? list->items()[i] : *list;
      const LogFieldInfo* info = nullptr;
      for (const LogFieldInfo& f : kLogFields) {
        if (names[i] == f.name && (combined || !f.combined_only)) info = &f;
      }
      if (info == nullptr) {
        std::vector<std::string> known;
        for (const LogFieldInfo& f : kLogFields) {
          if (combined || !f.combined_only) known.push_back(f.name);
        }
        return at.Error(absl::StrCat("unknown field '", names[i], "' for format ", format_name,
                                     "; expected one of: ", absl::StrJoin(known, ", ")));
      }
      for (const LogFieldInfo* c : chosen) {
        if (c == info) return at.Error(absl::StrCat("field '", names[i], "' is listed twice"));
      }
      chosen.push_back(info);
    }
  } else {
    for (const LogFieldInfo& f : kLogFields) {
      if (combined || !f.combined_only) chosen.push_back(&f);
    }
  }
  ASSIGN_OR_RETURN(const bool set_event_time, params.GetBoolOr("set_event_time", true));

  std::vector<Field> schema_fields;
  std::vector<LogField> ids;
  for (const LogFieldInfo* f : chosen) {
    schema_fields.push_back({f->name, f->type});
    ids.push_back(f->id);
  }
  return std::make_unique<AccessLogParse>(input_index, format, std::move(ids), set_event_time,
                                          std::make_shared<Schema>(std::move(schema_fields)));
}

}  // namespace sluice::operators::parse
