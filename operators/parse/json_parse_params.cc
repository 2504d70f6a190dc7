// json_parse's parameters: the `fields` map or list (names, dotted paths, types), the
// tree of wanted keys they make (conflicting paths rejected), `keep` and `on_missing`,
// and the factory CreateJsonParse. Every error is located at its parameter.

#include "operators/parse/json_parse.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/parse/json_parse_internal.h"
#include "operators/parse/parse_internal.h"

namespace sluice::operators::parse {

namespace {

using internal::Level;

// One extracted output field.
struct JsonField {
  std::string name;
  std::vector<std::string> path;  // keys from the top-level object down
  Type type = Type::kString;
  const Param* at = nullptr;  // where it was declared, for errors (config time only)
};

constexpr size_t kLinearKeyLimit = 8;

// Adds `fields[slot]` to the key tree rooted at levels[0]. A JSON value is read once,
// so a path may not repeat, nor end where another path goes on into an object.
absl::Status AddPath(const std::vector<JsonField>& fields, int slot, std::vector<Level>& levels) {
  const JsonField& field = fields[slot];
  int level = 0;
  for (size_t depth = 0; depth < field.path.size(); ++depth) {
    const bool leaf = depth + 1 == field.path.size();
    const std::string& key = field.path[depth];
    const Level::Key* existing = nullptr;
    for (const Level::Key& k : levels[level].keys) {
      if (k.key == key) existing = &k;
    }
    if (existing == nullptr) {
      Level::Key entry;
      entry.key = key;
      if (leaf) {
        entry.slot = slot;
      } else {
        entry.child = static_cast<int>(levels.size());
        levels.emplace_back();
      }
      levels[level].keys.push_back(std::move(entry));
      level = levels[level].keys.back().child;
      continue;
    }
    const std::string path = absl::StrJoin(field.path, ".");
    if (existing->slot >= 0) {
      const JsonField& other = fields[existing->slot];
      return field.at->Error(absl::StrCat("path '", path, "' conflicts with field '", other.name,
                                          "' (path '", absl::StrJoin(other.path, "."),
                                          "'): a JSON value can be extracted only once"));
    }
    if (leaf) {
      return field.at->Error(absl::StrCat("path '", path,
                                          "' is also the parent object of other extracted "
                                          "fields: a JSON value can be extracted only once"));
    }
    level = existing->child;
  }
  return absl::OkStatus();
}

absl::StatusOr<JsonField> MakeField(std::string name, const std::string& path,
                                    const std::string& type_name, const Param& at,
                                    const Param& type_at) {
  JsonField field;
  field.name = std::move(name);
  field.at = &at;
  if (field.name.empty()) return at.Error("field name must not be empty");
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (part.empty()) return at.Error(absl::StrCat("bad path '", path, "': empty key"));
    field.path.emplace_back(part);
  }
  if (!ParseType(type_name, &field.type) || field.type == Type::kNull) {
    return type_at.Error(absl::StrCat("unknown type '", type_name,
                                      "'; expected string, int64, double, bool or timestamp"));
  }
  return field;
}

absl::StatusOr<std::vector<JsonField>> ParseFields(const Param& params) {
  const Param* list = params.Find("fields");
  if (list == nullptr || list->is_null()) return params.MissingError("fields");
  std::vector<JsonField> fields;
  if (list->is_map()) {
    for (const auto& [name, type] : list->entries()) {
      if (type.is_list() || type.is_map() || type.is_null()) {
        return type.Error("expected a type name (string, int64, double, bool, timestamp)");
      }
      ASSIGN_OR_RETURN(JsonField f, MakeField(name, name, type.string_value(), type, type));
      fields.push_back(std::move(f));
    }
  } else if (list->is_list()) {
    for (const Param& item : list->items()) {
      if (!item.is_map()) {
        return item.Error("expected a map like {name: uid, path: user.id, type: string}");
      }
      RETURN_IF_ERROR(item.CheckKeys({"name", "path", "type"}));
      ASSIGN_OR_RETURN(std::string name, item.GetString("name"));
      ASSIGN_OR_RETURN(std::string path, item.GetStringOr("path", name));
      ASSIGN_OR_RETURN(std::string type, item.GetStringOr("type", "string"));
      const Param* type_at = item.Find("type");
      ASSIGN_OR_RETURN(JsonField f, MakeField(std::move(name), path, type, item,
                                              type_at != nullptr ? *type_at : item));
      fields.push_back(std::move(f));
    }
  } else {
    return list->Error("expected a map of name: type, or a list of {name, path, type}");
  }
  if (fields.empty()) return list->Error("expected at least one field");
  return fields;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> CreateJsonParse(const OperatorConfig& config) {
  const Param& params = *config.params;
  RETURN_IF_ERROR(params.CheckKeys({"field", "fields", "keep", "on_missing"}));
  ASSIGN_OR_RETURN(const int input_index, internal::ResolveInputField(config));
  const Schema& input = *config.input_schemas[0];

  std::vector<Field> schema_fields;
  std::vector<int> keep;
  ASSIGN_OR_RETURN(const std::vector<std::string> keep_names, params.GetStringListOr("keep"));
  for (size_t i = 0; i < keep_names.size(); ++i) {
    const Param* list = params.Find("keep");
    const Param& at = list->is_list() ? list->items()[i] : *list;
    const int index = input.IndexOf(keep_names[i]);
    if (index < 0) {
      return at.Error(absl::StrCat("input has no field '", keep_names[i],
                                   "' (input fields: ", input.ToString(), ")"));
    }
    for (const Field& f : schema_fields) {
      if (f.name == keep_names[i])
        return at.Error(absl::StrCat("field '", f.name, "' is kept twice"));
    }
    keep.push_back(index);
    schema_fields.push_back(input.field(index));
  }

  ASSIGN_OR_RETURN(std::vector<JsonField> fields, ParseFields(params));
  std::vector<Level> levels(1);
  for (size_t i = 0; i < fields.size(); ++i) {
    for (const Field& f : schema_fields) {
      if (f.name == fields[i].name) {
        return fields[i].at->Error(absl::StrCat("output field '", f.name, "' is defined twice"));
      }
    }
    RETURN_IF_ERROR(AddPath(fields, static_cast<int>(i), levels));
    schema_fields.push_back({fields[i].name, fields[i].type});
  }
  for (Level& level : levels) {
    if (level.keys.size() <= kLinearKeyLimit) continue;
    for (size_t i = 0; i < level.keys.size(); ++i)
      level.index[level.keys[i].key] = static_cast<int>(i);
  }

  ASSIGN_OR_RETURN(const std::string on_missing, params.GetStringOr("on_missing", "null"));
  if (on_missing != "null" && on_missing != "dead_letter") {
    return params.Find("on_missing")
        ->Error(absl::StrCat("unknown value '", on_missing, "'; expected null or dead_letter"));
  }
  std::vector<Type> types;
  for (const JsonField& f : fields) types.push_back(f.type);
  return internal::NewJsonParse(input_index, std::move(keep), std::move(types),
                                std::move(levels), on_missing == "dead_letter",
                                std::make_shared<Schema>(std::move(schema_fields)));
}

}  // namespace sluice::operators::parse
