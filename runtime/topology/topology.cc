#include "runtime/topology/topology.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice::topology {
namespace {

using sluice::v1::Input;
using sluice::v1::Node;
using sluice::v1::ParamValue;
using sluice::v1::Topology;

bool ValidIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Ids of all nodes except `skip` (-1: none), in file order, for "known nodes: ..." lists.
std::string KnownNodes(const Topology& topology, int skip) {
  std::vector<std::string> ids;
  for (int i = 0; i < topology.nodes_size(); ++i) {
    if (i != skip) ids.push_back(topology.nodes(i).id());
  }
  if (ids.empty()) return "(none)";
  return absl::StrJoin(ids, ", ");
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return absl::StrCat(Sv(a), ".", Sv(b));
}

// The path of input `k` of `node`: "input" when the node has one, else "inputs[k]".
std::string InputPath(const Node& node, int k) {
  if (node.inputs_size() == 1) return absl::StrCat(NodePath(node), ".input");
  return absl::StrCat(NodePath(node), ".inputs[", k, "]");
}

int InputLine(const Node& node, const Input& in) { return in.line() > 0 ? in.line() : node.line(); }

absl::Status ValidateNode(const Topology& topology, const Node& node, int max_parallelism) {
  const std::string& file = topology.source_file();
  if (node.id().empty()) return NodeError(topology, node, "id", "required field is missing");
  for (char c : node.id()) {
    if (!ValidIdChar(c)) {
      return NodeError(
          topology, node, "id",
          absl::StrCat("invalid id '", node.id(), "': use only letters, digits, '_' and '-'"));
    }
  }
  if (node.type().empty()) return NodeError(topology, node, "type", "required field is missing");
  if (node.parallelism() < 0 || node.parallelism() > max_parallelism) {
    return NodeError(topology, node, "parallelism",
                     absl::StrCat("must be between 1 and max_parallelism (", max_parallelism,
                                  "), got ", node.parallelism()));
  }
  if (node.params().kind_case() != ParamValue::KIND_NOT_SET &&
      node.params().kind_case() != ParamValue::kMapValue) {
    return NodeError(topology, node, "params", "must be a map");
  }
  for (const auto& entry : node.params().map_value().entries()) {
    if (IsNodeLevelKey(entry.key())) {
      int line = entry.value().line() > 0 ? entry.value().line() : node.line();
      return LocatedError(file, line, JoinPath(NodePath(node), entry.key()),
                          absl::StrCat("'", entry.key(),
                                       "' is a node-level key and can't be an operator "
                                       "parameter"));
    }
  }
  for (int k = 0; k < node.inputs_size(); ++k) {
    const Input& in = node.inputs(k);
    const int line = InputLine(node, in);
    const std::string path = InputPath(node, k);
    if (in.from().empty()) return LocatedError(file, line, path, "input node id is missing");
    if (!sluice::v1::Partitioning_IsValid(in.partitioning())) {
      return LocatedError(
          file, line, path,
          absl::StrCat("unknown partition kind ", static_cast<int>(in.partitioning()),
                       "; expected one of: forward, shuffle, broadcast, key_by"));
    }
    if (in.partitioning() == sluice::v1::KEY_BY && in.key_fields().empty()) {
      return LocatedError(file, line, path, "key_by needs at least one key field");
    }
    if (in.partitioning() != sluice::v1::KEY_BY && !in.key_fields().empty()) {
      return LocatedError(file, line, path,
                          absl::StrCat("key fields are only allowed with key_by partitioning, "
                                       "not ",
                                       Sv(PartitioningName(in.partitioning()))));
    }
    for (const std::string& f : in.key_fields()) {
      if (f.empty()) return LocatedError(file, line, path, "empty key field name");
    }
  }
  if (node.has_event_time()) {
    const auto& et = node.event_time();
    const int line = et.line() > 0 ? et.line() : node.line();
    const std::string path = absl::StrCat(NodePath(node), ".event_time");
    if (et.field().empty()) {
      return LocatedError(file, line, path + ".field", "required field is missing");
    }
    if (et.max_out_of_orderness_ms() < 0) {
      return LocatedError(file, line, path + ".max_out_of_orderness", "must not be negative");
    }
    if (et.idle_timeout_ms() < 0) {
      return LocatedError(file, line, path + ".idle_timeout", "must not be negative");
    }
  }
  return absl::OkStatus();
}

// Finds a cycle among the nodes not in `done` (those Kahn's algorithm could not order)
// and describes it in data-flow order: "a -> b -> c -> a".
absl::Status CycleError(const Topology& topology,
                        const absl::flat_hash_map<std::string, int>& by_id,
                        const std::vector<bool>& done) {
  const int n = topology.nodes_size();
  // Every unordered node has an unordered input; follow inputs until one repeats.
  int start = -1;
  for (int i = 0; i < n; ++i) {
    if (!done[i]) {
      start = i;
      break;
    }
  }
  std::vector<int> seen_at(n, -1);
  std::vector<int> walk;
  int cur = start;
  while (cur >= 0 && seen_at[cur] < 0) {
    seen_at[cur] = static_cast<int>(walk.size());
    walk.push_back(cur);
    int next = -1;
    for (const Input& in : topology.nodes(cur).inputs()) {
      auto it = by_id.find(in.from());
      if (it != by_id.end() && !done[it->second]) {
        next = it->second;
        break;
      }
    }
    cur = next;
  }
  if (cur < 0) {  // Cannot happen for a real cycle; keep a sane message anyway.
    return absl::InvalidArgumentError("the topology has a cycle");
  }
  // walk[seen_at[cur]..] follows inputs backwards; reverse it into data-flow order and
  // start it at the node that comes first in the file (the one the error points at).
  std::vector<int> cycle(walk.rbegin(), walk.rend() - seen_at[cur]);
  size_t first = 0;
  for (size_t k = 1; k < cycle.size(); ++k) {
    if (cycle[k] < cycle[first]) first = k;
  }
  std::rotate(cycle.begin(), cycle.begin() + first, cycle.end());
  std::vector<std::string> ids;
  for (int i : cycle) ids.push_back(topology.nodes(i).id());
  ids.push_back(ids.front());
  return NodeError(topology, topology.nodes(cycle.front()), "",
                   absl::StrCat("cycle in the topology: ", absl::StrJoin(ids, " -> ")));
}

}  // namespace

bool IsNodeLevelKey(std::string_view key) {
  for (std::string_view k : kNodeLevelKeys) {
    if (k == key) return true;
  }
  return false;
}

int DefaultParallelism(const Topology& topology) {
  return topology.default_parallelism() > 0 ? topology.default_parallelism() : kDefaultParallelism;
}

int MaxParallelism(const Topology& topology) {
  return topology.max_parallelism() > 0 ? topology.max_parallelism() : kDefaultMaxParallelism;
}

int NodeParallelism(const Topology& topology, const Node& node) {
  return node.parallelism() > 0 ? node.parallelism() : DefaultParallelism(topology);
}

std::string NodePath(const Node& node) { return absl::StrCat("operators[", node.index(), "]"); }

absl::Status LocatedError(std::string_view file, int line, std::string_view path,
                          std::string_view msg) {
  std::string out;
  if (!file.empty()) {
    absl::StrAppend(&out, Sv(file), ":");
    if (line > 0) absl::StrAppend(&out, line, ":");
    out.push_back(' ');
  } else if (line > 0) {
    absl::StrAppend(&out, "line ", line, ": ");
  }
  if (!path.empty()) absl::StrAppend(&out, Sv(path), ": ");
  absl::StrAppend(&out, Sv(msg));
  return absl::InvalidArgumentError(out);
}

absl::Status NodeError(const Topology& topology, const Node& node, std::string_view field,
                       std::string_view msg) {
  return LocatedError(topology.source_file(), node.line(), JoinPath(NodePath(node), field), msg);
}

sluice::Param ParamFromProto(const ParamValue& value, const std::string& file,
                             const std::string& path) {
  sluice::Param p;
  switch (value.kind_case()) {
    case ParamValue::KIND_NOT_SET:
    case ParamValue::kNullValue:
      break;
    case ParamValue::kBoolValue:
      p = sluice::Param::Bool(value.bool_value());
      break;
    case ParamValue::kNumberValue:
      p = sluice::Param::Number(value.number_value(), value.text());
      break;
    case ParamValue::kStringValue:
      p = sluice::Param::String(value.string_value());
      break;
    case ParamValue::kListValue: {
      std::vector<sluice::Param> items;
      items.reserve(value.list_value().items_size());
      for (int i = 0; i < value.list_value().items_size(); ++i) {
        items.push_back(
            ParamFromProto(value.list_value().items(i), file, absl::StrCat(path, "[", i, "]")));
      }
      p = sluice::Param::List(std::move(items));
      break;
    }
    case ParamValue::kMapValue: {
      std::vector<std::pair<std::string, sluice::Param>> entries;
      entries.reserve(value.map_value().entries_size());
      for (const auto& e : value.map_value().entries()) {
        entries.emplace_back(e.key(), ParamFromProto(e.value(), file, JoinPath(path, e.key())));
      }
      p = sluice::Param::Map(std::move(entries));
      break;
    }
  }
  p.SetOwnLocation(file, value.line(), path);
  return p;
}

ParamValue ParamToProto(const sluice::Param& param) {
  ParamValue out;
  switch (param.kind()) {
    case sluice::Param::Kind::kNull:
      out.set_null_value(true);
      break;
    case sluice::Param::Kind::kBool:
      out.set_bool_value(param.bool_value());
      break;
    case sluice::Param::Kind::kNumber:
      out.set_number_value(param.number_value());
      out.set_text(param.string_value());
      break;
    case sluice::Param::Kind::kString:
      out.set_string_value(param.string_value());
      break;
    case sluice::Param::Kind::kList: {
      auto* list = out.mutable_list_value();
      for (const sluice::Param& item : param.items()) *list->add_items() = ParamToProto(item);
      break;
    }
    case sluice::Param::Kind::kMap: {
      auto* map = out.mutable_map_value();
      for (const auto& [k, v] : param.entries()) {
        auto* e = map->add_entries();
        e->set_key(k);
        *e->mutable_value() = ParamToProto(v);
      }
      break;
    }
  }
  out.set_line(param.line());
  return out;
}

sluice::Param NodeParams(const Topology& topology, const Node& node) {
  sluice::Param p = ParamFromProto(node.params(), topology.source_file(), NodePath(node));
  if (p.is_null()) {
    p = sluice::Param::Map();
    p.SetOwnLocation(topology.source_file(), node.line(), NodePath(node));
  }
  return p;
}

absl::Status ValidateTopology(const Topology& topology) {
  const std::string& file = topology.source_file();
  if (topology.name().empty()) return LocatedError(file, 0, "name", "required field is missing");
  if (topology.max_parallelism() < 0 || topology.max_parallelism() > kMaxMaxParallelism) {
    return LocatedError(file, 0, "max_parallelism",
                        absl::StrCat("must be between 1 and ", kMaxMaxParallelism, " (key groups), got ",
                                     topology.max_parallelism()));
  }
  const int max_parallelism = MaxParallelism(topology);
  if (topology.default_parallelism() < 0 || topology.default_parallelism() > max_parallelism) {
    return LocatedError(file, 0, "parallelism",
                        absl::StrCat("must be between 1 and max_parallelism (", max_parallelism,
                                     "), got ", topology.default_parallelism()));
  }
  if (topology.batch_size() < 0) {
    return LocatedError(file, 0, "batch_size",
                        absl::StrCat("must be at least 1, got ", topology.batch_size()));
  }
  if (!topology.mode().empty()) {
    bool ok = false;
    for (std::string_view m : kModes) ok = ok || m == topology.mode();
    if (!ok) {
      return LocatedError(
          file, 0, "mode",
          absl::StrCat("expected auto, batch or streaming, got '", topology.mode(), "'"));
    }
  }
  if (topology.nodes_size() == 0) {
    return LocatedError(file, 0, "operators", "expected at least one node");
  }
  absl::flat_hash_map<std::string, int> by_id;
  for (int i = 0; i < topology.nodes_size(); ++i) {
    const Node& node = topology.nodes(i);
    RETURN_IF_ERROR(ValidateNode(topology, node, max_parallelism));
    auto [it, inserted] = by_id.emplace(node.id(), i);
    if (!inserted) {
      const Node& first = topology.nodes(it->second);
      std::string where = first.line() > 0 ? absl::StrCat("first at line ", first.line())
                                           : absl::StrCat("first at ", NodePath(first));
      return NodeError(topology, node, "id",
                       absl::StrCat("duplicate id '", node.id(), "' (", where, ")"));
    }
  }
  return TopologicalOrder(topology).status();
}

absl::StatusOr<std::vector<int>> TopologicalOrder(const Topology& topology) {
  const int n = topology.nodes_size();
  absl::flat_hash_map<std::string, int> by_id;
  for (int i = 0; i < n; ++i) by_id.emplace(topology.nodes(i).id(), i);

  std::vector<int> pending(n, 0);              // inputs not yet ordered
  std::vector<std::vector<int>> consumers(n);  // node -> nodes reading it (per edge)
  for (int i = 0; i < n; ++i) {
    const Node& node = topology.nodes(i);
    for (int k = 0; k < node.inputs_size(); ++k) {
      const Input& in = node.inputs(k);
      auto it = by_id.find(in.from());
      if (it == by_id.end()) {
        return LocatedError(
            topology.source_file(), InputLine(node, in), InputPath(node, k),
            absl::StrCat("unknown node '", in.from(), "'; known nodes: ", KnownNodes(topology, i)));
      }
      ++pending[i];
      consumers[it->second].push_back(i);
    }
  }
  std::set<int> ready;
  for (int i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.insert(i);
  }
  std::vector<int> order;
  std::vector<bool> done(n, false);
  while (!ready.empty()) {
    const int i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    done[i] = true;
    for (int c : consumers[i]) {
      if (--pending[c] == 0) ready.insert(c);
    }
  }
  if (static_cast<int>(order.size()) != n) return CycleError(topology, by_id, done);
  return order;
}

std::string_view PartitioningName(sluice::v1::Partitioning p) {
  switch (p) {
    case sluice::v1::FORWARD:
      return "forward";
    case sluice::v1::SHUFFLE:
      return "shuffle";
    case sluice::v1::KEY_BY:
      return "key_by";
    case sluice::v1::BROADCAST:
      return "broadcast";
    default:
      return "default";
  }
}

bool ParsePartitioning(std::string_view name, sluice::v1::Partitioning* out) {
  if (name == "forward")
    *out = sluice::v1::FORWARD;
  else if (name == "shuffle")
    *out = sluice::v1::SHUFFLE;
  else if (name == "key_by")
    *out = sluice::v1::KEY_BY;
  else if (name == "broadcast")
    *out = sluice::v1::BROADCAST;
  else
    return false;
  return true;
}

}  // namespace sluice::topology
