// The YAML-to-proto conversion behind yaml_loader.h, shared by its three files:
//   yaml_loader.cc   documents: the top-level keys, nodes, inputs, event time
//   yaml_values.cc   values: scalars, integers, durations, key fields, any value as a ParamValue
//   overrides.cc     `--set` assignments (ApplyOverride), which read their VALUE with a Loader
// Not for use outside runtime/topology.
//
// A Loader is used by one thread at a time (it counts the values it has read); every
// error it returns is INVALID_ARGUMENT located at "<file>:<line>: <path>".
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "sluice/v1/topology.pb.h"

namespace sluice::topology::internal {

// tests/e2e/test_docs_parity.py compares kTopLevelKeys with docs/topology.md.
inline constexpr std::string_view kTopLevelKeys[] = {
    "name", "parallelism", "max_parallelism", "mode", "batch_size", "dead_letter", "checkpoint", "state", "operators"};
inline constexpr std::string_view kInputKeys[] = {"from", "partition", "key"};
inline constexpr std::string_view kEventTimeKeys[] = {"field", "max_out_of_orderness", "idle_timeout"};
inline constexpr std::string_view kPartitionKinds = "forward, shuffle, broadcast, key_by";

template <size_t N>
std::string JoinKeys(const std::string_view (&keys)[N]) {
  return absl::StrJoin(keys, ", ", [](std::string* o, std::string_view k) { o->append(k); });
}

// "a.b"; just `b` when `a` is empty.
std::string JoinPath(std::string_view a, std::string_view b);

// The 1-based line of `n`; 0 means unknown.
int LineOf(const YAML::Node& n);

// "a map", "a list", ...: what `n` is, for errors.
const char* TypeName(const YAML::Node& n);

// YAML 1.2 core-schema numbers in decimal: [-+]?(digits[.digits?]|.digits)([eE][-+]?digits)?
bool LooksLikeNumber(std::string_view s);

// Turns YAML into the proto. One instance per file (or per --set value).
class Loader {
 public:
  // keep_lines=false: every line is 0 (values from the command line). `input_bytes` is
  // the size of the YAML text: it sets the budget of values the document may expand to.
  Loader(std::string file, bool keep_lines, size_t input_bytes)
      : file_(std::move(file)),
        keep_lines_(keep_lines),
        max_values_(kMaxValuesBase + kMaxValuesPerByte * static_cast<int64_t>(input_bytes)) {}

  // --- Documents (yaml_loader.cc) ---

  // The whole document, validated (ValidateTopology).
  absl::StatusOr<sluice::v1::Topology> LoadDocument(const YAML::Node& root) const;
  // One top-level key other than `operators`; an unknown key is an error listing them.
  absl::Status LoadTopLevelKey(const std::string& key, int kline, const YAML::Node& v,
                               sluice::v1::Topology* t) const;
  // One key of `checkpoint:` (dir or interval).
  absl::Status LoadCheckpointKey(const std::string& ck, int ckline, const YAML::Node& cv,
                                 sluice::v1::Topology* t) const;
  // One key of `state:` (backend).
  absl::Status LoadStateKey(const std::string& sk, int skline, const YAML::Node& sv, sluice::v1::Topology* t) const;

  // --- Values (yaml_values.cc) ---

  // Counts one more value read from the document. yaml-cpp shares the node of an anchor
  // among its aliases, so a tiny file can name 10^9 values ("billion laughs"); converting
  // them would take gigabytes. Text written out needs at least two bytes a value, so the
  // budget lets aliases repeat a document a few times over, and no more.
  absl::Status Charge(const YAML::Node& v, const std::string& path) const;

  absl::Status Err(int line, std::string_view path, std::string_view msg) const;

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

  absl::StatusOr<std::string> ScalarString(const YAML::Node& v, const std::string& path) const;
  absl::StatusOr<int> PositiveInt(const YAML::Node& v, const std::string& path) const;
  absl::StatusOr<int> IntAtLeast(const YAML::Node& v, const std::string& path, int min) const;
  absl::StatusOr<int64_t> DurationMs(const YAML::Node& v, const std::string& path) const;
  // A field name or a non-empty list of field names.
  absl::StatusOr<std::vector<std::string>> KeyFields(const YAML::Node& v, const std::string& path) const;
  absl::StatusOr<sluice::v1::Partitioning> PartitionKind(const YAML::Node& v, const std::string& path) const;

  // Any YAML value as a ParamValue. `line` is where it was written (for a map entry, the
  // key's line).
  absl::Status ToParam(const YAML::Node& v, int line, const std::string& path,
                       sluice::v1::ParamValue* out) const;

 private:
  // Per-input state the node-level key_by/partition is applied to after the whole node
  // has been read (keys of a YAML map can come in any order).
  struct PendingInput {
    bool explicit_partition = false;
  };
  // What LoadNode gathers about a node's inputs before it can partition them.
  struct NodeInputs {
    std::vector<PendingInput> pending;  // one per input of the node
    std::string key;                    // "input" or "inputs", once seen
    std::optional<std::vector<std::string>> key_by;
    int key_by_line = 0;
    std::optional<sluice::v1::Partitioning> partition;
    int partition_line = 0;
  };

  static void ResolveScalar(const YAML::Node& v, sluice::v1::ParamValue* out);

  absl::Status LoadNode(const YAML::Node& v, int index, int max_parallelism, sluice::v1::Node* node) const;
  // `input:` or `inputs:` of a node.
  absl::Status LoadInputs(const std::string& key, int kline, const YAML::Node& val, const std::string& kpath,
                          sluice::v1::Node* node, NodeInputs* inputs) const;
  absl::Status LoadInputMap(const YAML::Node& v, const std::string& path, sluice::v1::Input* in,
                            PendingInput* pending) const;
  // Applies the node's key_by/partition to the inputs that did not set their own.
  absl::Status PartitionInputs(const std::string& path, const NodeInputs& inputs, sluice::v1::Node* node) const;
  absl::Status LoadEventTime(const YAML::Node& v, int line, const std::string& path,
                             sluice::v1::EventTime* et) const;

  // The budget of values: a base for small files plus a few per input byte.
  static constexpr int64_t kMaxValuesBase = 100000;
  static constexpr int64_t kMaxValuesPerByte = 2;

  std::string file_;
  bool keep_lines_;
  int64_t max_values_;
  mutable int64_t values_ = 0;  // values read so far (Charge)
};

}  // namespace sluice::topology::internal
