// Documents: LoadTopologyFile / LoadTopologyString and the Loader's reading of the
// top-level keys, the nodes, their inputs and their event time. Values are read in
// yaml_values.cc, `--set` assignments in overrides.cc.
#include "runtime/topology/yaml_loader.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "runtime/topology/topology.h"
#include "runtime/topology/yaml_loader_internal.h"

namespace sluice::topology {
namespace internal {

using sluice::v1::EventTime;
using sluice::v1::Input;
using sluice::v1::Node;
using sluice::v1::ParamValue;
using sluice::v1::Partitioning;
using sluice::v1::Topology;

absl::Status Loader::LoadTopLevelKey(const std::string& key, int kline, const YAML::Node& v, Topology* t) const {
  if (key == "name") {
    ASSIGN_OR_RETURN(std::string name, ScalarString(v, key));
    if (name.empty()) return Err(kline, key, "must not be empty");
    t->set_name(name);
  } else if (key == "parallelism") {
    ASSIGN_OR_RETURN(int p, PositiveInt(v, key));
    t->set_default_parallelism(p);
  } else if (key == "max_parallelism") {
    ASSIGN_OR_RETURN(int p, PositiveInt(v, key));
    if (p > kMaxMaxParallelism) {
      return Err(LineOf(v), key, absl::StrCat("must be at most ", kMaxMaxParallelism, " (key groups), got ", p));
    }
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
  } else if (key == "state") {
    if (!v.IsMap()) {
      return Err(LineOf(v), key, absl::StrCat("expected a map like {backend: rocksdb}, got ", TypeName(v)));
    }
    RETURN_IF_ERROR(ForEachEntry(v, key, [&](const std::string& sk, int skline, const YAML::Node& sv) {
      return LoadStateKey(sk, skline, sv, t);
    }));
  } else {
    return Err(kline, "",
               absl::StrCat("unknown top-level key '", key, "'; expected one of: ", JoinKeys(kTopLevelKeys)));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadCheckpointKey(const std::string& ck, int ckline, const YAML::Node& cv, Topology* t) const {
  const std::string cpath = absl::StrCat("checkpoint.", ck);
  if (ck == "dir") {
    ASSIGN_OR_RETURN(std::string dir, ScalarString(cv, cpath));
    if (dir.empty()) return Err(LineOf(cv), cpath, "must not be empty");
    t->set_checkpoint_dir(dir);
  } else if (ck == "interval") {
    ASSIGN_OR_RETURN(int64_t ms, DurationMs(cv, cpath));
    if (ms <= 0) return Err(LineOf(cv), cpath, "must be positive");
    t->set_checkpoint_interval_ms(ms);
  } else if (ck == "timeout") {
    ASSIGN_OR_RETURN(int64_t ms, DurationMs(cv, cpath));
    if (ms <= 0) return Err(LineOf(cv), cpath, "must be positive");
    t->set_checkpoint_timeout_ms(ms);
  } else if (ck == "min_pause") {
    ASSIGN_OR_RETURN(int64_t ms, DurationMs(cv, cpath));
    if (ms < 0) return Err(LineOf(cv), cpath, "must not be negative");
    t->set_checkpoint_min_pause_ms(ms);
  } else if (ck == "tolerable_failures") {
    ASSIGN_OR_RETURN(int n, IntAtLeast(cv, cpath, 0));
    t->set_checkpoint_tolerable_failures(n);
  } else if (ck == "retain") {
    ASSIGN_OR_RETURN(int n, PositiveInt(cv, cpath));
    t->set_checkpoint_retain(n);
  } else {
    return Err(ckline, cpath, "unknown key; expected dir, interval, timeout, min_pause, tolerable_failures or retain");
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadStateKey(const std::string& sk, int skline, const YAML::Node& sv, Topology* t) const {
  const std::string spath = absl::StrCat("state.", sk);
  if (sk == "backend") {
    ASSIGN_OR_RETURN(std::string backend, ScalarString(sv, spath));
    if (backend != "memory" && backend != "rocksdb") {
      return Err(LineOf(sv), spath, absl::StrCat("expected memory or rocksdb, got '", backend, "'"));
    }
    t->set_state_backend(backend);
  } else {
    return Err(skline, spath, "unknown key; expected backend");
  }
  return absl::OkStatus();
}

absl::StatusOr<Topology> Loader::LoadDocument(const YAML::Node& root) const {
  if (!root.IsDefined() || root.IsNull()) {
    return Err(0, "", "empty topology; expected a map with name and operators");
  }
  if (!root.IsMap()) {
    return Err(LineOf(root), "",
               absl::StrCat("expected a map with name and operators at the top level, got ", TypeName(root)));
  }
  Topology t;
  t.set_source_file(file_);
  bool has_name = false;
  int parallelism_line = 0;
  YAML::Node operators;
  int operators_line = 0;
  RETURN_IF_ERROR(ForEachEntry(root, "", [&](const std::string& key, int kline, const YAML::Node& v) -> absl::Status {
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
    return Err(operators_line, "operators", absl::StrCat("expected a list of nodes, got ", TypeName(operators)));
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

absl::Status Loader::LoadInputMap(const YAML::Node& v, const std::string& path, Input* in,
                                  PendingInput* pending) const {
  bool has_from = false, has_partition = false, has_key = false;
  int key_line = 0;
  RETURN_IF_ERROR(ForEachEntry(v, path, [&](const std::string& key, int kline, const YAML::Node& val) -> absl::Status {
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
      return Err(kline, path, absl::StrCat("unknown key '", key, "'; expected one of: ", JoinKeys(kInputKeys)));
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

absl::Status Loader::LoadEventTime(const YAML::Node& v, int line, const std::string& path, EventTime* et) const {
  if (!v.IsMap()) {
    return Err(LineOf(v), path,
               absl::StrCat("expected a map like {field: ts, max_out_of_orderness: 5s}, got ", TypeName(v)));
  }
  et->set_line(line);
  RETURN_IF_ERROR(ForEachEntry(v, path, [&](const std::string& key, int kline, const YAML::Node& val) -> absl::Status {
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
                 absl::StrCat("unknown key '", key, "'; expected one of: ", JoinKeys(kEventTimeKeys)));
    }
    return absl::OkStatus();
  }));
  if (et->field().empty()) return Err(line, JoinPath(path, "field"), "required field is missing");
  return absl::OkStatus();
}

absl::Status Loader::LoadInputs(const std::string& key, int kline, const YAML::Node& val, const std::string& kpath,
                                Node* node, NodeInputs* inputs) const {
  if (!inputs->key.empty()) {
    return Err(kline, kpath, "give either input or inputs, not both");
  }
  inputs->key = key;
  if (key == "input") {
    if (!val.IsScalar() || val.Scalar().empty()) {
      return Err(LineOf(val), kpath,
                 absl::StrCat("expected a node id (use inputs: for several), got ", TypeName(val)));
    }
    Input* in = node->add_inputs();
    in->set_from(val.Scalar());
    in->set_line(LineOf(val));
    inputs->pending.emplace_back();
    return absl::OkStatus();
  }
  if (!val.IsSequence()) {
    return Err(LineOf(val), kpath, absl::StrCat("expected a list of inputs, got ", TypeName(val)));
  }
  if (val.size() == 0) return Err(kline, kpath, "expected at least one input");
  for (size_t k = 0; k < val.size(); ++k) {
    const YAML::Node item = val[k];
    const std::string ipath = absl::StrCat(kpath, "[", k, "]");
    Input* in = node->add_inputs();
    in->set_line(LineOf(item));
    inputs->pending.emplace_back();
    if (item.IsScalar()) {
      in->set_from(item.Scalar());
    } else if (item.IsMap()) {
      RETURN_IF_ERROR(LoadInputMap(item, ipath, in, &inputs->pending.back()));
    } else {
      return Err(LineOf(item), ipath,
                 absl::StrCat("expected a node id or a map like {from: a, partition: shuffle}, got ",
                              TypeName(item)));
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::PartitionInputs(const std::string& path, const NodeInputs& inputs, Node* node) const {
  const auto& node_keys = inputs.key_by;
  const auto& node_partition = inputs.partition;
  if (node_keys && node_partition && *node_partition != sluice::v1::KEY_BY) {
    return Err(inputs.partition_line, JoinPath(path, "partition"),
               absl::StrCat("'", Sv(PartitioningName(*node_partition)),
                            "' conflicts with key_by (key_by already partitions by key)"));
  }
  if ((node_keys || node_partition) && node->inputs_size() == 0) {
    const bool kb = node_keys.has_value();
    return Err(kb ? inputs.key_by_line : inputs.partition_line, JoinPath(path, kb ? "key_by" : "partition"),
               "the node has no inputs to partition");
  }
  for (int k = 0; k < node->inputs_size(); ++k) {
    Input* in = node->mutable_inputs(k);
    const bool explicit_partition = inputs.pending[k].explicit_partition;
    if (!explicit_partition) {
      if (node_keys) {
        in->set_partitioning(sluice::v1::KEY_BY);
      } else if (node_partition) {
        in->set_partitioning(*node_partition);
      }
    }
    if (in->partitioning() == sluice::v1::KEY_BY && in->key_fields_size() == 0) {
      if (node_keys) {
        for (const auto& f : *node_keys) in->add_key_fields(f);
      } else if (explicit_partition) {
        return Err(in->line(), absl::StrCat(path, ".inputs[", k, "].partition"),
                   "key_by needs key: [fields] (or key_by: on the node)");
      } else {
        return Err(inputs.partition_line, JoinPath(path, "partition"),
                   "key_by needs the key fields: use key_by: [fields] instead");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadNode(const YAML::Node& v, int index, int max_parallelism, Node* node) const {
  const std::string path = absl::StrCat("operators[", index, "]");
  RETURN_IF_ERROR(Charge(v, path));
  if (!v.IsMap()) {
    return Err(LineOf(v), path, absl::StrCat("expected a map with id and type, got ", TypeName(v)));
  }
  const int line = LineOf(v);
  node->set_index(index);
  node->set_line(line);
  ParamValue* params = node->mutable_params();
  params->set_line(line);
  params->mutable_map_value();

  NodeInputs inputs;
  RETURN_IF_ERROR(ForEachEntry(v, path, [&](const std::string& key, int kline, const YAML::Node& val) -> absl::Status {
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
        return Err(LineOf(val), kpath,
                   absl::StrCat("must be at most max_parallelism (", max_parallelism, "), got ", p));
      }
      node->set_parallelism(p);
    } else if (key == "input" || key == "inputs") {
      RETURN_IF_ERROR(LoadInputs(key, kline, val, kpath, node, &inputs));
    } else if (key == "key_by") {
      ASSIGN_OR_RETURN(inputs.key_by, KeyFields(val, kpath));
      inputs.key_by_line = kline;
    } else if (key == "partition") {
      ASSIGN_OR_RETURN(inputs.partition, PartitionKind(val, kpath));
      inputs.partition_line = kline;
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
  return PartitionInputs(path, inputs, node);
}

}  // namespace internal

absl::StatusOr<sluice::v1::Topology> LoadTopologyString(std::string_view yaml, const std::string& file_name) {
  const std::string file = file_name.empty() ? "<string>" : file_name;
  internal::Loader loader(file, /*keep_lines=*/true, yaml.size());
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return loader.LoadDocument(root);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    return loader.Err(line, "", absl::StrCat("invalid YAML: ", e.msg));
  }
}

absl::StatusOr<sluice::v1::Topology> LoadTopologyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read topology file '", path, "': ", std::generic_category().message(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::NotFoundError(absl::StrCat("cannot read topology file '", path, "'"));
  }
  return LoadTopologyString(text.str(), path);
}

}  // namespace sluice::topology
