/// A fluent C++ builder for topologies, the programmatic twin of the YAML format: what
/// a builder makes is the same sluice.v1.Topology the YAML loader makes (without source
/// lines).
///
///   TopologyBuilder b("ysb");
///   b.Parallelism(2);
///   auto events = b.Source("events", "file_source").Param("paths", {"data/e.jsonl"});
///   auto parse = b.Node("parse", "json_parse").Input(events)
///                    .Param("fields", Param::Map({{"ad_id", Param::String("string")}}))
///                    .EventTime("event_time", 50);
///   b.Node("counts", "window").KeyBy(parse, {"campaign_id"})
///       .Param("window", Param::Map({{"type", Param::String("tumbling")},
///                                    {"size", Param::String("10s")}}));
///   absl::StatusOr<sluice::v1::Topology> t = b.Build();  // runs ValidateTopology
///
/// Builder methods never fail; every mistake (duplicate id, unknown input, a cycle,
/// parallelism out of range) is reported by Build(). A NodeHandle is a small value
/// (builder pointer, node index, id) and stays valid as long as its builder, which can't
/// be copied or moved. Not thread-safe: build on one thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/params.h"
#include "sluice/v1/topology.pb.h"

namespace sluice::topology {

class TopologyBuilder;

/// One node of a TopologyBuilder. Setters return *this for chaining.
class NodeHandle {
 public:
  const std::string& id() const { return id_; }

  /// Adds `from` as an input; PARTITIONING_UNSPECIFIED is the YAML `input: from`.
  NodeHandle& Input(const NodeHandle& from,
                    sluice::v1::Partitioning partitioning = sluice::v1::PARTITIONING_UNSPECIFIED);
  /// Adds `from` as an input partitioned by `key_fields` (YAML `key_by:`).
  NodeHandle& KeyBy(const NodeHandle& from, std::vector<std::string> key_fields);
  NodeHandle& Parallelism(int parallelism);
  /// Node-level event time (YAML `event_time: {field, max_out_of_orderness, idle_timeout}`).
  NodeHandle& EventTime(std::string field, int64_t max_out_of_orderness_ms,
                        int64_t idle_timeout_ms = 0);

  /// Sets (or replaces) an operator parameter.
  NodeHandle& Param(std::string key, ::sluice::Param value);
  NodeHandle& Param(std::string key, std::string value);
  NodeHandle& Param(std::string key, int value);
  NodeHandle& Param(std::string key, int64_t value);
  NodeHandle& Param(std::string key, double value);
  /// Only for a real bool (a string literal must not turn into `true`).
  template <typename T>
  requires std::is_same_v<T, bool> NodeHandle& Param(std::string key, T value) {
    return Param(std::move(key), ::sluice::Param::Bool(value));
  }
  NodeHandle& Param(std::string key, std::vector<std::string> value);
  /// So that Param("paths", {"a.jsonl"}) is a list, not a string.
  NodeHandle& Param(std::string key, std::initializer_list<std::string> value);

 private:
  friend class TopologyBuilder;
  NodeHandle(TopologyBuilder* builder, int index, std::string id)
      : builder_(builder), index_(index), id_(std::move(id)) {}
  sluice::v1::Node* node() const;

  TopologyBuilder* builder_;
  int index_;
  std::string id_;
};

class TopologyBuilder {
 public:
  explicit TopologyBuilder(std::string name);
  TopologyBuilder(const TopologyBuilder&) = delete;
  TopologyBuilder& operator=(const TopologyBuilder&) = delete;

  /// Top-level settings (YAML parallelism, max_parallelism, mode, batch_size, dead_letter).
  TopologyBuilder& Parallelism(int parallelism);
  TopologyBuilder& MaxParallelism(int max_parallelism);
  TopologyBuilder& Mode(std::string mode);
  TopologyBuilder& BatchSize(int batch_size);
  TopologyBuilder& DeadLetter(std::string path);

  /// Adds a node. Source() is Node() under a name that reads better for nodes without
  /// inputs; whether `type` really is a source is checked by the plan.
  NodeHandle Source(std::string id, std::string type);
  NodeHandle Node(std::string id, std::string type);

  /// The topology, after ValidateTopology.
  absl::StatusOr<sluice::v1::Topology> Build() const;

 private:
  friend class NodeHandle;
  sluice::v1::Topology topology_;
};

}  // namespace sluice::topology
