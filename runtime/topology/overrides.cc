// `--set` assignments (ApplyOverride in yaml_loader.h): a top-level key, a node's
// parallelism, a field of its event_time, or a dotted path into its params. VALUE is
// read as YAML by a Loader (yaml_loader_internal.h) without lines.
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "runtime/topology/topology.h"
#include "runtime/topology/yaml_loader.h"
#include "runtime/topology/yaml_loader_internal.h"
#include "sluice/params.h"

namespace sluice::topology {
namespace {

using internal::JoinKeys;
using internal::kEventTimeKeys;
using internal::kTopLevelKeys;
using internal::Loader;
using sluice::v1::EventTime;
using sluice::v1::Node;
using sluice::v1::ParamValue;
using sluice::v1::Topology;

// The keys `--set KEY=VALUE` accepts, for errors.
constexpr std::string_view kSettableTopLevelKeys =
    "name, parallelism, max_parallelism, mode, batch_size, dead_letter, checkpoint, checkpoint.dir, "
    "checkpoint.interval, checkpoint.timeout, checkpoint.min_pause, checkpoint.tolerable_failures, "
    "checkpoint.retain, state, state.backend";

absl::Status SetError(std::string_view assignment, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("--set ", Sv(assignment), ": ", Sv(msg)));
}

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

// VALUE of a node assignment as a ParamValue; a plain string when it does not parse
// (unless it is meant as a flow list or map).
absl::StatusOr<ParamValue> ParseParamValue(std::string_view assignment, std::string_view value) {
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
  return parsed;
}

// What the loader checks across keys, on a topology after a top-level assignment.
absl::Status CheckParallelism(const Topology& updated, std::string_view assignment, const std::string& key) {
  const int max_parallelism = MaxParallelism(updated);
  if (max_parallelism > kMaxMaxParallelism) {
    return SetError(assignment, absl::StrCat("max_parallelism: must be at most ", kMaxMaxParallelism,
                                             " (key groups), got ", max_parallelism));
  }
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
  return absl::OkStatus();
}

// `--set KEY=VALUE` for a top-level key (name, dead_letter, ...; `key` may be
// checkpoint.dir or checkpoint.interval), validated like the YAML; `topology` is changed
// only on success.
absl::Status ApplyTopLevelOverride(Topology* topology, std::string_view assignment, const std::string& key,
                                   std::string_view value) {
  if (key == "operators") {
    return SetError(assignment, "the operators can't be set; set a node's parameters with NODE.PARAM=VALUE");
  }
  const bool checkpoint_key = key.rfind("checkpoint.", 0) == 0;
  const bool state_key = key.rfind("state.", 0) == 0;
  bool known = checkpoint_key || state_key;
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
    } else if (state_key) {
      st = loader.LoadStateKey(key.substr(strlen("state.")), 0, v, &updated);
    } else {
      st = loader.LoadTopLevelKey(key, 0, v, &updated);
    }
  } catch (const YAML::Exception& e) {
    st = absl::InvalidArgumentError(absl::StrCat("invalid YAML value: ", e.msg));
  }
  if (!st.ok()) return SetError(assignment, StdSv(st.message()));
  RETURN_IF_ERROR(CheckParallelism(updated, assignment, key));
  *topology = std::move(updated);
  return absl::OkStatus();
}

// NODE.parallelism=VALUE.
absl::Status SetNodeParallelism(const Topology& topology, std::string_view assignment, const ParamValue& parsed,
                                Node* node) {
  int p = 0;
  const int max_parallelism = MaxParallelism(topology);
  if (parsed.kind_case() != ParamValue::kNumberValue || !absl::SimpleAtoi(parsed.text(), &p)) {
    return SetError(assignment, "parallelism must be an integer");
  }
  if (p < 1 || p > max_parallelism) {
    return SetError(assignment, absl::StrCat("parallelism must be between 1 and max_parallelism (",
                                             max_parallelism, "), got ", p));
  }
  node->set_parallelism(p);
  return absl::OkStatus();
}

// NODE.event_time.FIELD=VALUE; the node's event_time is changed only on success.
absl::Status SetEventTimeField(std::string_view assignment, const std::string& field, std::string_view value,
                               const ParamValue& parsed, Node* node) {
  EventTime updated = node->event_time();
  if (field == "field") {
    if (parsed.kind_case() != ParamValue::kStringValue || parsed.string_value().empty()) {
      return SetError(assignment, "event_time.field must be a field name");
    }
    updated.set_field(parsed.string_value());
    *node->mutable_event_time() = std::move(updated);
    return absl::OkStatus();
  }
  if (field == "max_out_of_orderness" || field == "idle_timeout") {
    const std::string text = parsed.kind_case() == ParamValue::kNumberValue ? parsed.text() : parsed.string_value();
    auto ms = ParseDurationMs(text);
    if (parsed.kind_case() != ParamValue::kNumberValue && parsed.kind_case() != ParamValue::kStringValue) {
      ms = absl::InvalidArgumentError("not a scalar");
    }
    if (!ms.ok()) {
      return SetError(assignment, absl::StrCat("expected a duration like 10s, got '", Sv(value), "'"));
    }
    if (field == "idle_timeout") {
      updated.set_idle_timeout_ms(*ms);
    } else {
      updated.set_max_out_of_orderness_ms(*ms);
    }
    *node->mutable_event_time() = std::move(updated);
    return absl::OkStatus();
  }
  return SetError(assignment, absl::StrCat("unknown event_time field '", field,
                                           "'; expected one of: ", JoinKeys(kEventTimeKeys)));
}

// NODE.a.b.c=VALUE: walks the params along `segments`, creating maps on the way.
absl::Status SetParam(std::string_view assignment, const std::string& node_id,
                      const std::vector<std::string>& segments, ParamValue parsed, Node* node) {
  ParamValue* cur = node->mutable_params();
  if (cur->kind_case() == ParamValue::KIND_NOT_SET || cur->kind_case() == ParamValue::kNullValue) {
    cur->mutable_map_value();
  }
  std::string walked = node_id;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (cur->kind_case() != ParamValue::kMapValue) {
      return SetError(assignment,
                      absl::StrCat("'", walked, "' is not a map, so it has no field '", segments[i], "'"));
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
  if (node == nullptr && (node_id == "checkpoint" || node_id == "state")) {
    // checkpoint.dir / checkpoint.interval / state.backend, unless a node has that name.
    return ApplyTopLevelOverride(topology, assignment, std::string(lhs), value);
  }
  if (node == nullptr) {
    std::vector<std::string> ids;
    for (const Node& n : topology->nodes()) ids.push_back(n.id());
    return SetError(assignment, absl::StrCat("unknown node '", node_id,
                                             "'; known nodes: ", ids.empty() ? "(none)" : absl::StrJoin(ids, ", ")));
  }

  ASSIGN_OR_RETURN(ParamValue parsed, ParseParamValue(assignment, value));
  const std::string& first = segments[0];
  if (first == "parallelism") {
    if (segments.size() != 1) return SetError(assignment, "parallelism has no fields");
    return SetNodeParallelism(*topology, assignment, parsed, node);
  }
  if (first == "event_time") {
    if (segments.size() != 2) {
      return SetError(assignment,
                      absl::StrCat("expected event_time.FIELD with FIELD one of: ", JoinKeys(kEventTimeKeys)));
    }
    return SetEventTimeField(assignment, segments[1], value, parsed, node);
  }
  if (IsNodeLevelKey(first)) {
    return SetError(assignment, absl::StrCat("'", first,
                                             "' is part of the graph and can't be set; only "
                                             "parallelism, event_time.* and operator "
                                             "parameters can"));
  }
  return SetParam(assignment, node_id, segments, std::move(parsed), node);
}

}  // namespace sluice::topology
