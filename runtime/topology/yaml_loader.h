/// Loads a topology from YAML (the format is described in runtime/topology/README.md)
/// into a validated sluice.v1.Topology, and applies the CLI's `--set NODE.PARAM=VALUE`
/// overrides to one.
///
/// A document whose aliases expand it past 100000 values plus two per input byte (a
/// "billion laughs") is refused while it is converted, before it takes the memory.
///
/// Every error is INVALID_ARGUMENT (NOT_FOUND for an unreadable file) and names the
/// file, the 1-based line and the field: "ysb.yaml:7: operators[1].input: unknown node
/// 'pasre'; known nodes: events". yaml-cpp exceptions never escape. The loaded topology
/// keeps the file name (source_file) and the line of every node, input and parameter, so
/// an operator that later rejects a parameter can point at it too.
///
/// Stateless; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/v1/topology.pb.h"

namespace sluice::topology {

/// Reads and parses `path`; errors name `path` as given.
absl::StatusOr<sluice::v1::Topology> LoadTopologyFile(const std::string& path);

/// Parses `yaml`; `file_name` ("<string>" if empty) is used in errors and stored as
/// source_file.
absl::StatusOr<sluice::v1::Topology> LoadTopologyString(std::string_view yaml,
                                                        const std::string& file_name);

/// Applies one `--set` assignment "NODE.PARAM=VALUE" or "KEY=VALUE":
///   dead_letter=kafka://h:9092/t   KEY without a dot: a top-level key (name, parallelism,
///                                  max_parallelism, mode, batch_size, dead_letter,
///                                  checkpoint), checked as in the file; also
///                                  checkpoint.dir / checkpoint.interval (unless a node is
///                                  called `checkpoint`)
///   events.paths=/data/a.log       a parameter (a string)
///   events.paths=[a.log,b.log]     VALUE is YAML: a flow list, 10 a number, true a bool
///   counts.window.size=1m          a dotted path into the params; maps are created
///   counts.parallelism=2           the node's parallelism
///   parse.event_time.max_out_of_orderness=2s   a field of the node's event_time
/// VALUE that is not valid YAML (and does not start with '[' or '{') is taken as a plain
/// string, so `sink.path=*.tsv` works. Other node-level keys (id, type, input, ...)
/// can't be set. Set values have no line (0). Errors name the assignment and, for an
/// unknown node, the known node ids. Does not re-run ValidateTopology.
absl::Status ApplyOverride(sluice::v1::Topology* topology, std::string_view assignment);

}  // namespace sluice::topology
