// The Loader's value readers (yaml_loader_internal.h): scalars, integers, durations,
// key fields, partition kinds, and any YAML value as a ParamValue.
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "runtime/topology/topology.h"
#include "runtime/topology/yaml_loader_internal.h"
#include "sluice/params.h"

namespace sluice::topology::internal {

using sluice::v1::ParamValue;
using sluice::v1::Partitioning;

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  return absl::StrCat(Sv(a), ".", Sv(b));
}

// yaml-cpp marks are 0-based; 0 here means unknown.
int LineOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.line >= 0 ? m.line + 1 : 0;
}

const char* TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "?";
}

bool LooksLikeNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

absl::Status Loader::Charge(const YAML::Node& v, const std::string& path) const {
  if (++values_ <= max_values_) return absl::OkStatus();
  return Err(LineOf(v), path,
             absl::StrCat("the topology expands to more than ", max_values_,
                          " values; YAML aliases (*name) repeat an anchor too many times. "
                          "Refusing it"));
}

absl::Status Loader::Err(int line, std::string_view path, std::string_view msg) const {
  return LocatedError(file_, keep_lines_ ? line : 0, path, msg);
}

absl::StatusOr<std::string> Loader::ScalarString(const YAML::Node& v, const std::string& path) const {
  if (!v.IsScalar()) {
    return Err(LineOf(v), path, absl::StrCat("expected a string, got ", TypeName(v)));
  }
  return v.Scalar();
}

absl::StatusOr<int> Loader::PositiveInt(const YAML::Node& v, const std::string& path) const {
  return IntAtLeast(v, path, 1);
}

absl::StatusOr<int> Loader::IntAtLeast(const YAML::Node& v, const std::string& path, int min) const {
  int n = 0;
  if (!v.IsScalar() || !absl::SimpleAtoi(v.Scalar(), &n)) {
    return Err(LineOf(v), path,
               absl::StrCat("expected an integer, got '", v.IsScalar() ? v.Scalar() : TypeName(v), "'"));
  }
  if (n < min) return Err(LineOf(v), path, absl::StrCat("must be at least ", min, ", got ", n));
  return n;
}

absl::StatusOr<int64_t> Loader::DurationMs(const YAML::Node& v, const std::string& path) const {
  if (v.IsScalar()) {
    auto d = ParseDurationMs(v.Scalar());
    if (d.ok()) return *d;
  }
  return Err(LineOf(v), path,
             absl::StrCat("expected a duration like 10s, got '", v.IsScalar() ? v.Scalar() : TypeName(v), "'"));
}

absl::StatusOr<std::vector<std::string>> Loader::KeyFields(const YAML::Node& v, const std::string& path) const {
  std::vector<std::string> out;
  if (v.IsScalar()) {
    out.push_back(v.Scalar());
  } else if (v.IsSequence()) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].IsScalar()) {
        return Err(LineOf(v[i]), absl::StrCat(path, "[", i, "]"),
                   absl::StrCat("expected a field name, got ", TypeName(v[i])));
      }
      out.push_back(v[i].Scalar());
    }
  } else {
    return Err(LineOf(v), path,
               absl::StrCat("expected a field name or a list of field names, got ", TypeName(v)));
  }
  if (out.empty()) return Err(LineOf(v), path, "expected at least one key field");
  for (const std::string& f : out) {
    if (f.empty()) return Err(LineOf(v), path, "empty key field name");
  }
  return out;
}

absl::StatusOr<Partitioning> Loader::PartitionKind(const YAML::Node& v, const std::string& path) const {
  ASSIGN_OR_RETURN(std::string name, ScalarString(v, path));
  Partitioning p;
  if (!ParsePartitioning(name, &p)) {
    return Err(LineOf(v), path,
               absl::StrCat("unknown partition kind '", name, "'; expected one of: ", Sv(kPartitionKinds)));
  }
  return p;
}

absl::Status Loader::ToParam(const YAML::Node& v, int line, const std::string& path, ParamValue* out) const {
  RETURN_IF_ERROR(Charge(v, path));
  out->set_line(keep_lines_ ? line : 0);
  switch (v.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out->set_null_value(true);
      return absl::OkStatus();
    case YAML::NodeType::Scalar:
      ResolveScalar(v, out);
      return absl::OkStatus();
    case YAML::NodeType::Sequence: {
      auto* list = out->mutable_list_value();
      for (size_t i = 0; i < v.size(); ++i) {
        RETURN_IF_ERROR(ToParam(v[i], LineOf(v[i]), absl::StrCat(path, "[", i, "]"), list->add_items()));
      }
      return absl::OkStatus();
    }
    case YAML::NodeType::Map: {
      auto* map = out->mutable_map_value();
      return ForEachEntry(v, path, [&](const std::string& key, int kline, const YAML::Node& val) {
        auto* e = map->add_entries();
        e->set_key(key);
        return ToParam(val, kline, JoinPath(path, key), e->mutable_value());
      });
    }
  }
  return absl::OkStatus();
}

void Loader::ResolveScalar(const YAML::Node& v, ParamValue* out) {
  const std::string& tag = v.Tag();
  const std::string& s = v.Scalar();
  // "!" marks a quoted or block scalar: always a string. "?" is a plain scalar.
  const bool is_str_tag = tag == "!" || (tag.size() >= 3 && tag.substr(tag.size() - 3) == "str");
  if (!is_str_tag) {
    if (s == "true" || s == "True" || s == "TRUE") {
      out->set_bool_value(true);
      return;
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      out->set_bool_value(false);
      return;
    }
    double d;
    if (LooksLikeNumber(s) && absl::SimpleAtod(s, &d)) {
      out->set_number_value(d);
      out->set_text(s);
      return;
    }
  }
  out->set_string_value(s);
}

}  // namespace sluice::topology::internal
