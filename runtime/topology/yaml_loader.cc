#include "runtime/topology/yaml_loader.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "runtime/topology/topology.h"
#include "sluice/params.h"

namespace sluice::topology {
namespace {

using sluice::v1::EventTime;
using sluice::v1::Input;
using sluice::v1::Node;
using sluice::v1::ParamValue;
using sluice::v1::Partitioning;
using sluice::v1::Topology;

constexpr std::string_view kTopLevelKeys[] = {
    "name", "parallelism", "max_parallelism", "mode", "batch_size", "dead_letter", "checkpoint", "operators"};
constexpr std::string_view kInputKeys[] = {"from", "partition", "key"};
constexpr std::string_view kEventTimeKeys[] = {"field", "max_out_of_orderness", "idle_timeout"};
constexpr std::string_view kPartitionKinds = "forward, shuffle, broadcast, key_by";

template <size_t N>
std::string JoinKeys(const std::string_view (&keys)[N]) {
  return absl::StrJoin(keys, ", ", [](std::string* o, std::string_view k) { o->append(k); });
}

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

// YAML 1.2 core-schema numbers in decimal: [-+]?(digits[.digits?]|.digits)([eE][-+]?digits)?
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

// Per-input state the node-level key_by/partition is applied to after the whole node
// has been read (keys of a YAML map can come in any order).
struct PendingInput {
  bool explicit_partition = false;
};

// Turns YAML into the proto. One instance per file (or per --set value).
class Loader {
 public:
  // keep_lines=false: every line is 0 (values from the command line). `input_bytes` is
  // the size of the YAML text: it sets the budget of values the document may expand to.
  Loader(std::string file, bool keep_lines, size_t input_bytes)
      : file_(std::move(file)),
        keep_lines_(keep_lines),
        max_values_(kMaxValuesBase + kMaxValuesPerByte * static_cast<int64_t>(input_bytes)) {}

  // Counts one more value read from the document. yaml-cpp shares the node of an anchor
  // among its aliases, so a tiny file can name 10^9 values ("billion laughs"); converting
  // them would take gigabytes. Text written out needs at least two bytes a value, so the
  // budget lets aliases repeat a document a few times over, and no more.
  absl::Status Charge(const YAML::Node& v, const std::string& path) const {
    if (++values_ <= max_values_) return absl::OkStatus();
    return Err(LineOf(v), path,
               absl::StrCat("the topology expands to more than ", max_values_,
                            " values; YAML aliases (*name) repeat an anchor too many times. "
                            "Refusing it"));
  }

  absl::Status Err(int line, std::string_view path, std::string_view msg) const {
    return LocatedError(file_, keep_lines_ ? line : 0, path, msg);
  }

  // Calls fn(key, key_line, value) for each entry of a map, in file order. Rejects
  // non-scalar and duplicate keys.
  template <typename Fn>
  absl::Status ForEachEntry(const YAML::Node& map, const std::string& path, Fn fn) const {
    absl::flat_hash_map<std::string, int> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node k = it->first;  // a copy: it-> points into a temporary proxy
      const int kline = LineOf(k);
      if (!k.IsScalar()) {
        return Err(kline, path, absl::StrCat("map keys must be strings, got ", TypeName(k)));
      }
      const std::string key = k.Scalar();
      auto [prev, inserted] = seen.emplace(key, kline);
      if (!inserted) {
        return Err(kline, JoinPath(path, key),
                   absl::StrCat("duplicate key (first at line ", prev->second, ")"));
      }
      RETURN_IF_ERROR(fn(key, kline, it->second));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ScalarString(const YAML::Node& v, const std::string& path) const {
    if (!v.IsScalar()) {
      return Err(LineOf(v), path, absl::StrCat("expected a string, got ", TypeName(v)));
    }
    return v.Scalar();
  }

  absl::StatusOr<int> PositiveInt(const YAML::Node& v, const std::string& path) const {
    int n = 0;
    if (!v.IsScalar() || !absl::SimpleAtoi(v.Scalar(), &n)) {
      return Err(
          LineOf(v), path,
          absl::StrCat("expected an integer, got '", v.IsScalar() ? v.Scalar() : TypeName(v), "'"));
    }
    if (n < 1) return Err(LineOf(v), path, absl::StrCat("must be at least 1, got ", n));
    return n;
  }

  absl::StatusOr<int64_t> DurationMs(const YAML::Node& v, const std::string& path) const {
    if (v.IsScalar()) {
      auto d = ParseDurationMs(v.Scalar());
      if (d.ok()) return *d;
    }
    return Err(LineOf(v), path,
               absl::StrCat("expected a duration like 10s, got '",
                            v.IsScalar() ? v.Scalar() : TypeName(v), "'"));
  }

  // A field name or a non-empty list of field names.
  absl::StatusOr<std::vector<std::string>> KeyFields(const YAML::Node& v,
                                                     const std::string& path) const {
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

  absl::StatusOr<Partitioning> PartitionKind(const YAML::Node& v, const std::string& path) const {
    ASSIGN_OR_RETURN(std::string name, ScalarString(v, path));
    Partitioning p;
    if (!ParsePartitioning(name, &p)) {
      return Err(LineOf(v), path,
                 absl::StrCat("unknown partition kind '", name,
                              "'; expected one of: ", Sv(kPartitionKinds)));
    }
    return p;
  }

  // Any YAML value as a ParamValue. `line` is where it was written (for a map entry, the
  // key's line).
  absl::Status ToParam(const YAML::Node& v, int line, const std::string& path,
                       ParamValue* out) const {
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
          RETURN_IF_ERROR(
              ToParam(v[i], LineOf(v[i]), absl::StrCat(path, "[", i, "]"), list->add_items()));
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

  // One top-level key other than `operators`; an unknown key is an error listing them.
  absl::Status LoadTopLevelKey(const std::string& key, int kline, const YAML::Node& v, Topology* t) const {
    if (key == "name") {
      ASSIGN_OR_RETURN(std::string name, ScalarString(v, key));
      if (name.empty()) return Err(kline, key, "must not be empty");
      t->set_name(name);
    } else if (key == "parallelism") {
      ASSIGN_OR_RETURN(int p, PositiveInt(v, key));
      t->set_default_parallelism(p);
    } else if (key == "max_parallelism") {
      ASSIGN_OR_RETURN(int p, PositiveInt(v, key));
      t->set_max_parallelism(p);
    } else if (key == "mode") {
      ASSIGN_OR_RETURN(std::string mode, ScalarString(v, key));
      bool ok = false;
      for (std::string_view m : kModes) ok = ok || m == mode;
      if (!ok) {
        return Err(LineOf(v), key, absl::StrCat("expected auto, batch or streaming, got '", mode, "'"));
      }
      t->set_mode(mode);
    } else if (key == "batch_size") {
      ASSIGN_OR_RETURN(int n, PositiveInt(v, key));
      t->set_batch_size(n);
    } else if (key == "dead_letter") {
      ASSIGN_OR_RETURN(std::string path, ScalarString(v, key));
      t->set_dead_letter_path(path);
    } else if (key == "checkpoint") {
      if (!v.IsMap()) {
        return Err(LineOf(v), key,
                   absl::StrCat("expected a map like {dir: /var/lib/sluice/ckpt, interval: 10s}, got ",
                                TypeName(v)));
      }
      t->set_checkpoint_dir("");
      t->set_checkpoint_interval_ms(10000);
      RETURN_IF_ERROR(ForEachEntry(v, key, [&](const std::string& ck, int ckline, const YAML::Node& cv) {
        return LoadCheckpointKey(ck, ckline, cv, t);
      }));
      if (t->checkpoint_dir().empty()) return Err(LineOf(v), "checkpoint.dir", "required field is missing");
    } else {
      return Err(kline, "",
                 absl::StrCat("unknown top-level key '", key, "'; expected one of: ", JoinKeys(kTopLevelKeys)));
    }
    return absl::OkStatus();
  }

  // One key of `checkpoint:` (dir or interval).
  absl::Status LoadCheckpointKey(const std::string& ck, int ckline, const YAML::Node& cv, Topology* t) const {
    const std::string cpath = absl::StrCat("checkpoint.", ck);
    if (ck == "dir") {
      ASSIGN_OR_RETURN(std::string dir, ScalarString(cv, cpath));
      if (dir.empty()) return Err(LineOf(cv), cpath, "must not be empty");
      t->set_checkpoint_dir(dir);
    } else if (ck == "interval") {
      ASSIGN_OR_RETURN(int64_t ms, DurationMs(cv, cpath));
      if (ms <= 0) return Err(LineOf(cv), cpath, "must be positive");
      t->set_checkpoint_interval_ms(ms);
    } else {
      return Err(ckline, cpath, "unknown key; expected dir or interval");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Topology> LoadDocument(const YAML::Node& root) const {
    if (!root.IsDefined() || root.IsNull()) {
      return Err(0, "", "empty topology; expected a map with name and operators");
    }
    if (!root.IsMap()) {
      return Err(LineOf(root), "",
                 absl::StrCat("expected a map with name and operators at the top level, got ",
                              TypeName(root)));
    }
    Topology t;
    t.set_source_file(file_);
    bool has_name = false;
    int parallelism_line = 0;
    YAML::Node operators;
    int operators_line = 0;
    RETURN_IF_ERROR(ForEachEntry(
        root, "", [&](const std::string& key, int kline, const YAML::Node& v) -> absl::Status {
          if (key == "operators") {
            operators = v;
            operators_line = kline;
            return absl::OkStatus();
          }
          if (key == "name") has_name = true;
          if (key == "parallelism") parallelism_line = kline;
          return LoadTopLevelKey(key, kline, v, &t);
        }));
    if (!has_name) return Err(LineOf(root), "name", "required field is missing");
    if (operators_line == 0) return Err(LineOf(root), "operators", "required field is missing");
    const int max_parallelism = MaxParallelism(t);
    if (t.default_parallelism() > max_parallelism) {
      return Err(parallelism_line, "parallelism",
                 absl::StrCat("must be at most max_parallelism (", max_parallelism, "), got ",
                              t.default_parallelism()));
    }
    if (!operators.IsSequence()) {
      return Err(operators_line, "operators",
                 absl::StrCat("expected a list of nodes, got ", TypeName(operators)));
    }
    if (operators.size() == 0) {
      return Err(operators_line, "operators", "expected at least one node");
    }
    for (size_t i = 0; i < operators.size(); ++i) {
      RETURN_IF_ERROR(LoadNode(operators[i], static_cast<int>(i), max_parallelism, t.add_nodes()));
    }
    RETURN_IF_ERROR(ValidateTopology(t));
    return t;
  }

 private:
  static void ResolveScalar(const YAML::Node& v, ParamValue* out) {
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

  absl::Status LoadInputMap(const YAML::Node& v, const std::string& path, Input* in,
                            PendingInput* pending) const {
    bool has_from = false, has_partition = false, has_key = false;
    int key_line = 0;
    RETURN_IF_ERROR(ForEachEntry(
        v, path, [&](const std::string& key, int kline, const YAML::Node& val) -> absl::Status {
          const std::string kpath = JoinPath(path, key);
          if (key == "from") {
            ASSIGN_OR_RETURN(std::string from, ScalarString(val, kpath));
            in->set_from(from);
            has_from = true;
          } else if (key == "partition") {
            ASSIGN_OR_RETURN(Partitioning p, PartitionKind(val, kpath));
            in->set_partitioning(p);
            has_partition = true;
          } else if (key == "key") {
            ASSIGN_OR_RETURN(std::vector<std::string> keys, KeyFields(val, kpath));
            for (auto& k : keys) in->add_key_fields(std::move(k));
            has_key = true;
            key_line = kline;
          } else {
            return Err(
                kline, path,
                absl::StrCat("unknown key '", key, "'; expected one of: ", JoinKeys(kInputKeys)));
          }
          return absl::OkStatus();
        }));
    if (!has_from || in->from().empty()) {
      return Err(LineOf(v), JoinPath(path, "from"), "required field is missing");
    }
    if (has_key) {
      if (!has_partition) {
        in->set_partitioning(sluice::v1::KEY_BY);
      } else if (in->partitioning() != sluice::v1::KEY_BY) {
        return Err(key_line, JoinPath(path, "key"),
                   absl::StrCat("key fields need partition: key_by, not ",
                                Sv(PartitioningName(in->partitioning()))));
      }
    }
    pending->explicit_partition = has_partition || has_key;
    return absl::OkStatus();
  }

  absl::Status LoadEventTime(const YAML::Node& v, int line, const std::string& path,
                             EventTime* et) const {
    if (!v.IsMap()) {
      return Err(LineOf(v), path,
                 absl::StrCat("expected a map like {field: ts, max_out_of_orderness: 5s}, got ",
                              TypeName(v)));
    }
    et->set_line(line);
    RETURN_IF_ERROR(ForEachEntry(
        v, path, [&](const std::string& key, int kline, const YAML::Node& val) -> absl::Status {
          const std::string kpath = JoinPath(path, key);
          if (key == "field") {
            ASSIGN_OR_RETURN(std::string field, ScalarString(val, kpath));
            et->set_field(field);
          } else if (key == "max_out_of_orderness") {
            ASSIGN_OR_RETURN(int64_t ms, DurationMs(val, kpath));
            et->set_max_out_of_orderness_ms(ms);
          } else if (key == "idle_timeout") {
            ASSIGN_OR_RETURN(int64_t ms, DurationMs(val, kpath));
            et->set_idle_timeout_ms(ms);
          } else {
            return Err(kline, path,
                       absl::StrCat("unknown key '", key,
                                    "'; expected one of: ", JoinKeys(kEventTimeKeys)));
          }
          return absl::OkStatus();
        }));
    if (et->field().empty()) return Err(line, JoinPath(path, "field"), "required field is missing");
    return absl::OkStatus();
  }

  absl::Status LoadNode(const YAML::Node& v, int index, int max_parallelism, Node* node) const {
    const std::string path = absl::StrCat("operators[", index, "]");
    RETURN_IF_ERROR(Charge(v, path));
    if (!v.IsMap()) {
      return Err(LineOf(v), path,
                 absl::StrCat("expected a map with id and type, got ", TypeName(v)));
    }
    const int line = LineOf(v);
    node->set_index(index);
    node->set_line(line);
    ParamValue* params = node->mutable_params();
    params->set_line(line);
    params->mutable_map_value();

    std::vector<PendingInput> pending;
    int inputs_key_line = 0;  // line of `input:` or `inputs:`
    std::string inputs_key;
    std::optional<std::vector<std::string>> node_keys;
    int key_by_line = 0;
    std::optional<Partitioning> node_partition;
    int partition_line = 0;

    RETURN_IF_ERROR(ForEachEntry(
        v, path, [&](const std::string& key, int kline, const YAML::Node& val) -> absl::Status {
          const std::string kpath = JoinPath(path, key);
          if (key == "id") {
            ASSIGN_OR_RETURN(std::string id, ScalarString(val, kpath));
            node->set_id(id);
          } else if (key == "type") {
            ASSIGN_OR_RETURN(std::string type, ScalarString(val, kpath));
            node->set_type(type);
          } else if (key == "parallelism") {
            ASSIGN_OR_RETURN(int p, PositiveInt(val, kpath));
            if (p > max_parallelism) {
              return Err(
                  LineOf(val), kpath,
                  absl::StrCat("must be at most max_parallelism (", max_parallelism, "), got ", p));
            }
            node->set_parallelism(p);
          } else if (key == "input" || key == "inputs") {
            if (!inputs_key.empty()) {
              return Err(kline, kpath, "give either input or inputs, not both");
            }
            inputs_key = key;
            inputs_key_line = kline;
            if (key == "input") {
              if (!val.IsScalar() || val.Scalar().empty()) {
                return Err(LineOf(val), kpath,
                           absl::StrCat("expected a node id (use inputs: for several), got ",
                                        TypeName(val)));
              }
              Input* in = node->add_inputs();
              in->set_from(val.Scalar());
              in->set_line(LineOf(val));
              pending.emplace_back();
            } else {
              if (!val.IsSequence()) {
                return Err(LineOf(val), kpath,
                           absl::StrCat("expected a list of inputs, got ", TypeName(val)));
              }
              if (val.size() == 0) return Err(kline, kpath, "expected at least one input");
              for (size_t k = 0; k < val.size(); ++k) {
                const YAML::Node item = val[k];
                const std::string ipath = absl::StrCat(kpath, "[", k, "]");
                Input* in = node->add_inputs();
                in->set_line(LineOf(item));
                pending.emplace_back();
                if (item.IsScalar()) {
                  in->set_from(item.Scalar());
                } else if (item.IsMap()) {
                  RETURN_IF_ERROR(LoadInputMap(item, ipath, in, &pending.back()));
                } else {
                  return Err(LineOf(item), ipath,
                             absl::StrCat("expected a node id or a map like {from: a, partition: "
                                          "shuffle}, got ",
                                          TypeName(item)));
                }
              }
            }
          } else if (key == "key_by") {
            ASSIGN_OR_RETURN(node_keys, KeyFields(val, kpath));
            key_by_line = kline;
          } else if (key == "partition") {
            ASSIGN_OR_RETURN(node_partition, PartitionKind(val, kpath));
            partition_line = kline;
          } else if (key == "event_time") {
            RETURN_IF_ERROR(LoadEventTime(val, kline, kpath, node->mutable_event_time()));
          } else {
            auto* e = params->mutable_map_value()->add_entries();
            e->set_key(key);
            RETURN_IF_ERROR(ToParam(val, kline, kpath, e->mutable_value()));
          }
          return absl::OkStatus();
        }));

    if (node->id().empty()) return Err(line, JoinPath(path, "id"), "required field is missing");
    if (node->type().empty()) {
      return Err(line, JoinPath(path, "type"), "required field is missing");
    }
    if (node_keys && node_partition && *node_partition != sluice::v1::KEY_BY) {
      return Err(partition_line, JoinPath(path, "partition"),
                 absl::StrCat("'", Sv(PartitioningName(*node_partition)),
                              "' conflicts with key_by (key_by already partitions by key)"));
    }
    if ((node_keys || node_partition) && node->inputs_size() == 0) {
      const bool kb = node_keys.has_value();
      return Err(kb ? key_by_line : partition_line, JoinPath(path, kb ? "key_by" : "partition"),
                 "the node has no inputs to partition");
    }
    for (int k = 0; k < node->inputs_size(); ++k) {
      Input* in = node->mutable_inputs(k);
      if (!pending[k].explicit_partition) {
        if (node_keys) {
          in->set_partitioning(sluice::v1::KEY_BY);
        } else if (node_partition) {
          in->set_partitioning(*node_partition);
        }
      }
      if (in->partitioning() == sluice::v1::KEY_BY && in->key_fields_size() == 0) {
        if (node_keys) {
          for (const auto& f : *node_keys) in->add_key_fields(f);
        } else if (pending[k].explicit_partition) {
          return Err(in->line(), absl::StrCat(path, ".inputs[", k, "].partition"),
                     "key_by needs key: [fields] (or key_by: on the node)");
        } else {
          return Err(partition_line, JoinPath(path, "partition"),
                     "key_by needs the key fields: use key_by: [fields] instead");
        }
      }
    }
    return absl::OkStatus();
  }

  // The budget of values: a base for small files plus a few per input byte.
  static constexpr int64_t kMaxValuesBase = 100000;
  static constexpr int64_t kMaxValuesPerByte = 2;

  std::string file_;
  bool keep_lines_;
  int64_t max_values_;
  mutable int64_t values_ = 0;  // values read so far (Charge)
};

absl::Status SetError(std::string_view assignment, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("--set ", Sv(assignment), ": ", Sv(msg)));
}

}  // namespace

absl::StatusOr<Topology> LoadTopologyString(std::string_view yaml, const std::string& file_name) {
  const std::string file = file_name.empty() ? "<string>" : file_name;
  Loader loader(file, /*keep_lines=*/true, yaml.size());
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return loader.LoadDocument(root);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    return loader.Err(line, "", absl::StrCat("invalid YAML: ", e.msg));
  }
}

absl::StatusOr<Topology> LoadTopologyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read topology file '", path,
                                            "': ", std::generic_category().message(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::NotFoundError(absl::StrCat("cannot read topology file '", path, "'"));
  }
  return LoadTopologyString(text.str(), path);
}

namespace {

// The keys `--set KEY=VALUE` accepts, for errors.
constexpr std::string_view kSettableTopLevelKeys =
    "name, parallelism, max_parallelism, mode, batch_size, dead_letter, checkpoint, checkpoint.dir, "
    "checkpoint.interval";

// VALUE of an assignment as YAML; a plain string when it does not parse, unless it is
// meant as a flow list or map.
absl::StatusOr<YAML::Node> ParseSetValue(std::string_view assignment, std::string_view value) {
  try {
    return YAML::Load(std::string(value));
  } catch (const YAML::Exception& e) {
    if (!value.empty() && (value.front() == '[' || value.front() == '{')) {
      return SetError(assignment, absl::StrCat("invalid YAML value: ", e.msg));
    }
    return YAML::Node(std::string(value));
  }
}

// `--set KEY=VALUE` for a top-level key (name, dead_letter, ...; `key` may be
// checkpoint.dir or checkpoint.interval), validated like the YAML; `topology` is changed
// only on success.
absl::Status ApplyTopLevelOverride(Topology* topology, std::string_view assignment, const std::string& key,
                                   std::string_view value) {
  if (key == "operators") {
    return SetError(assignment, "the operators can't be set; set a node's parameters with NODE.PARAM=VALUE");
  }
  const bool checkpoint_key = key == "checkpoint.dir" || key == "checkpoint.interval";
  if (key.rfind("checkpoint.", 0) == 0 && !checkpoint_key) {
    return SetError(assignment, absl::StrCat(key, ": unknown key; expected dir or interval"));
  }
  bool known = checkpoint_key;
  for (std::string_view k : kTopLevelKeys) known = known || k == key;
  if (!known) {
    return SetError(assignment, absl::StrCat("unknown top-level key '", key,
                                             "'; expected NODE.PARAM=VALUE for a node, or KEY=VALUE with KEY one "
                                             "of: ",
                                             Sv(kSettableTopLevelKeys)));
  }
  ASSIGN_OR_RETURN(YAML::Node v, ParseSetValue(assignment, value));
  Loader loader("", /*keep_lines=*/false, value.size());
  Topology updated = *topology;
  absl::Status st;
  try {
    if (checkpoint_key) {
      st = loader.LoadCheckpointKey(key.substr(strlen("checkpoint.")), 0, v, &updated);
      if (st.ok() && updated.checkpoint_interval_ms() <= 0) updated.set_checkpoint_interval_ms(10000);
      if (st.ok() && updated.checkpoint_dir().empty()) {
        st = absl::InvalidArgumentError(
            "the topology has no checkpoint dir: set checkpoint.dir first, or checkpoint={dir: D, interval: I}");
      }
    } else {
      st = loader.LoadTopLevelKey(key, 0, v, &updated);
    }
  } catch (const YAML::Exception& e) {
    st = absl::InvalidArgumentError(absl::StrCat("invalid YAML value: ", e.msg));
  }
  if (!st.ok()) return SetError(assignment, StdSv(st.message()));
  // What the loader checks across keys.
  const int max_parallelism = MaxParallelism(updated);
  if (updated.default_parallelism() > max_parallelism) {
    return SetError(assignment, absl::StrCat(key == "parallelism" ? "parallelism" : "max_parallelism",
                                             ": must be at most max_parallelism (", max_parallelism, "), got ",
                                             updated.default_parallelism()));
  }
  for (const Node& n : updated.nodes()) {
    if (n.parallelism() > max_parallelism) {
      return SetError(assignment, absl::StrCat("max_parallelism: must be at least the parallelism of node '",
                                               n.id(), "' (", n.parallelism(), "), got ", max_parallelism));
    }
  }
  *topology = std::move(updated);
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyOverride(Topology* topology, std::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) return SetError(assignment, "expected NODE.PARAM=VALUE or KEY=VALUE");
  const std::string_view lhs = assignment.substr(0, eq);
  const std::string_view value = assignment.substr(eq + 1);
  const size_t dot = lhs.find('.');
  if (dot == std::string_view::npos && !lhs.empty()) {
    return ApplyTopLevelOverride(topology, assignment, std::string(lhs), value);
  }
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == lhs.size()) {
    return SetError(assignment, "expected NODE.PARAM=VALUE");
  }
  const std::string node_id(lhs.substr(0, dot));
  std::vector<std::string> segments = absl::StrSplit(Sv(lhs.substr(dot + 1)), '.');
  for (const std::string& s : segments) {
    if (s.empty()) return SetError(assignment, "empty name in the parameter path");
  }

  Node* node = nullptr;
  for (Node& n : *topology->mutable_nodes()) {
    if (n.id() == node_id) node = &n;
  }
  if (node == nullptr && node_id == "checkpoint") {
    // checkpoint.dir / checkpoint.interval, unless a node is called `checkpoint`.
    return ApplyTopLevelOverride(topology, assignment, std::string(lhs), value);
  }
  if (node == nullptr) {
    std::vector<std::string> ids;
    for (const Node& n : topology->nodes()) ids.push_back(n.id());
    return SetError(assignment, absl::StrCat("unknown node '", node_id, "'; known nodes: ",
                                             ids.empty() ? "(none)" : absl::StrJoin(ids, ", ")));
  }

  // VALUE as YAML; a plain string when it does not parse (unless it is meant as a flow
  // list or map).
  ParamValue parsed;
  Loader loader("", /*keep_lines=*/false, value.size());
  try {
    YAML::Node v = YAML::Load(std::string(value));
    absl::Status st = loader.ToParam(v, 0, "", &parsed);
    if (!st.ok()) return SetError(assignment, StdSv(st.message()));
  } catch (const YAML::Exception& e) {
    if (!value.empty() && (value.front() == '[' || value.front() == '{')) {
      return SetError(assignment, absl::StrCat("invalid YAML value: ", e.msg));
    }
    parsed.Clear();
    parsed.set_string_value(std::string(value));
  }
  const std::string& first = segments[0];

  if (first == "parallelism") {
    if (segments.size() != 1) return SetError(assignment, "parallelism has no fields");
    int p = 0;
    const int max_parallelism = MaxParallelism(*topology);
    if (parsed.kind_case() != ParamValue::kNumberValue || !absl::SimpleAtoi(parsed.text(), &p)) {
      return SetError(assignment, "parallelism must be an integer");
    }
    if (p < 1 || p > max_parallelism) {
      return SetError(assignment,
                      absl::StrCat("parallelism must be between 1 and max_parallelism (",
                                   max_parallelism, "), got ", p));
    }
    node->set_parallelism(p);
    return absl::OkStatus();
  }

  if (first == "event_time") {
    if (segments.size() != 2) {
      return SetError(assignment, absl::StrCat("expected event_time.FIELD with FIELD one of: ",
                                               JoinKeys(kEventTimeKeys)));
    }
    const std::string& field = segments[1];
    EventTime updated = node->event_time();  // committed only on success
    EventTime* et = &updated;
    if (field == "field") {
      if (parsed.kind_case() != ParamValue::kStringValue || parsed.string_value().empty()) {
        return SetError(assignment, "event_time.field must be a field name");
      }
      et->set_field(parsed.string_value());
      *node->mutable_event_time() = std::move(updated);
      return absl::OkStatus();
    }
    if (field == "max_out_of_orderness" || field == "idle_timeout") {
      const std::string text =
          parsed.kind_case() == ParamValue::kNumberValue ? parsed.text() : parsed.string_value();
      auto ms = ParseDurationMs(text);
      if (parsed.kind_case() != ParamValue::kNumberValue &&
          parsed.kind_case() != ParamValue::kStringValue) {
        ms = absl::InvalidArgumentError("not a scalar");
      }
      if (!ms.ok()) {
        return SetError(assignment,
                        absl::StrCat("expected a duration like 10s, got '", Sv(value), "'"));
      }
      if (field == "idle_timeout") {
        et->set_idle_timeout_ms(*ms);
      } else {
        et->set_max_out_of_orderness_ms(*ms);
      }
      *node->mutable_event_time() = std::move(updated);
      return absl::OkStatus();
    }
    return SetError(assignment, absl::StrCat("unknown event_time field '", field,
                                             "'; expected one of: ", JoinKeys(kEventTimeKeys)));
  }

  if (IsNodeLevelKey(first)) {
    return SetError(assignment, absl::StrCat("'", first,
                                             "' is part of the graph and can't be set; only "
                                             "parallelism, event_time.* and operator "
                                             "parameters can"));
  }

  // Walk the params, creating maps on the way.
  ParamValue* cur = node->mutable_params();
  if (cur->kind_case() == ParamValue::KIND_NOT_SET || cur->kind_case() == ParamValue::kNullValue) {
    cur->mutable_map_value();
  }
  std::string walked = node_id;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (cur->kind_case() != ParamValue::kMapValue) {
      return SetError(assignment, absl::StrCat("'", walked, "' is not a map, so it has no field '",
                                               segments[i], "'"));
    }
    auto* entries = cur->mutable_map_value()->mutable_entries();
    ParamValue* next = nullptr;
    for (auto& e : *entries) {
      if (e.key() == segments[i]) next = e.mutable_value();
    }
    if (next == nullptr) {
      auto* e = entries->Add();
      e->set_key(segments[i]);
      next = e->mutable_value();
      if (i + 1 < segments.size()) next->mutable_map_value();
    }
    absl::StrAppend(&walked, ".", segments[i]);
    cur = next;
  }
  *cur = std::move(parsed);
  return absl::OkStatus();
}

}  // namespace sluice::topology
