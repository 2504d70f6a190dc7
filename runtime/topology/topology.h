/// The topology spec (sluice.v1.Topology) as the rest of sluice uses it: structural
/// validation, a topological order, conversion of a node's params between the proto
/// (ParamValue, which keeps source lines) and sluice::Param (what operators read), and
/// error messages located at "<file>:<line>: operators[i].field: ...".
///
/// A topology comes from the YAML loader (yaml_loader.h) or the C++ builder (builder.h);
/// both run ValidateTopology. Validation here is structural only: it does not know which
/// types are sources or what params an operator takes (the plan and the operator
/// factories check those, using the locations kept in the proto).
///
/// Everything here is a pure function of its arguments and safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/params.h"
#include "sluice/v1/topology.pb.h"

namespace sluice::topology {

inline constexpr int kDefaultParallelism = 1;
inline constexpr int kDefaultMaxParallelism = 128;
// Key groups are stored in two bytes at the front of every state key (docs/state.md).
inline constexpr int kMaxMaxParallelism = 32768;

/// Keys of a YAML node that describe the node itself; every other key is a parameter.
/// A node's params may not use these names.
inline constexpr std::string_view kNodeLevelKeys[] = {
    "id", "type", "parallelism", "input", "inputs", "key_by", "partition", "event_time"};
bool IsNodeLevelKey(std::string_view key);

/// Valid values of Topology.mode ("" means auto).
inline constexpr std::string_view kModes[] = {"auto", "batch", "streaming"};

/// The topology's default parallelism and key-group count, with 0 meaning the default.
int DefaultParallelism(const sluice::v1::Topology& topology);
int MaxParallelism(const sluice::v1::Topology& topology);
/// A node's parallelism: its own, else the topology's default.
int NodeParallelism(const sluice::v1::Topology& topology, const sluice::v1::Node& node);

/// "operators[<node.index>]": the prefix of every error path about `node`.
std::string NodePath(const sluice::v1::Node& node);

/// An INVALID_ARGUMENT error "<file>:<line>: <path>: <msg>". An empty file, a line <= 0
/// or an empty path is left out ("operators[2].input: ..." for a builder topology).
absl::Status LocatedError(std::string_view file, int line, std::string_view path,
                          std::string_view msg);
/// Shorthand for an error about `node` (or its `field`, if not empty), located at the
/// node's line: "ysb.yaml:12: operators[3].window: ...".
absl::Status NodeError(const sluice::v1::Topology& topology, const sluice::v1::Node& node,
                       std::string_view field, std::string_view msg);

/// Converts a ParamValue tree into a Param. Every Param in the result gets `file`, the
/// line recorded in its ParamValue (0 if none: values from the builder or from --set),
/// and its path: `path` for the root, "path.key" and "path[i]" below it. Numbers keep
/// their source text, so 12345678901234567 stays exact for GetInt.
sluice::Param ParamFromProto(const sluice::v1::ParamValue& value, const std::string& file,
                             const std::string& path);
/// The inverse (file and path are not stored: they are recomputed from the topology).
/// ParamFromProto(ParamToProto(p), p.file(), p.path()) reproduces p.
sluice::v1::ParamValue ParamToProto(const sluice::Param& param);

/// The params of `node` as operators get them: always a map (empty if the node has
/// none), located at the topology's source file and "operators[i]", so an operator's
/// error reads "ysb.yaml:14: operators[2].window.size: expected a duration like 10s".
sluice::Param NodeParams(const sluice::v1::Topology& topology, const sluice::v1::Node& node);

/// Structural checks: a name; sane parallelism, max_parallelism, mode and batch size;
/// at least one node; each node with a unique id of [A-Za-z0-9_-]+, a type, parallelism
/// within [1, max_parallelism] (or 0 = default), params that are a map without
/// node-level keys, inputs naming existing nodes with a known partitioning (KEY_BY iff
/// key fields are given), a well-formed event_time; and no cycle. Errors are
/// INVALID_ARGUMENT and name file, line (when known) and the field.
absl::Status ValidateTopology(const sluice::v1::Topology& topology);

/// Node positions (indexes into topology.nodes()) such that every node comes after all
/// of its inputs; among nodes that are ready at the same time, file order is kept.
/// Fails on an unknown input or a cycle (the error lists the nodes on the cycle).
absl::StatusOr<std::vector<int>> TopologicalOrder(const sluice::v1::Topology& topology);

/// Name of a partitioning as written in YAML ("key_by"), and back. ParsePartitioning
/// returns false for an unknown name.
std::string_view PartitioningName(sluice::v1::Partitioning p);
bool ParsePartitioning(std::string_view name, sluice::v1::Partitioning* out);

}  // namespace sluice::topology
