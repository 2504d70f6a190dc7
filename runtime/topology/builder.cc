#include "runtime/topology/builder.h"

#include <utility>

#include "common/status_macros.h"
#include "runtime/topology/topology.h"

namespace sluice::topology {

sluice::v1::Node* NodeHandle::node() const { return builder_->topology_.mutable_nodes(index_); }

NodeHandle& NodeHandle::Input(const NodeHandle& from, sluice::v1::Partitioning partitioning) {
  sluice::v1::Input* in = node()->add_inputs();
  in->set_from(from.id());
  in->set_partitioning(partitioning);
  return *this;
}

NodeHandle& NodeHandle::KeyBy(const NodeHandle& from, std::vector<std::string> key_fields) {
  sluice::v1::Input* in = node()->add_inputs();
  in->set_from(from.id());
  in->set_partitioning(sluice::v1::KEY_BY);
  for (std::string& f : key_fields) in->add_key_fields(std::move(f));
  return *this;
}

NodeHandle& NodeHandle::Parallelism(int parallelism) {
  node()->set_parallelism(parallelism);
  return *this;
}

NodeHandle& NodeHandle::EventTime(std::string field, int64_t max_out_of_orderness_ms,
                                  int64_t idle_timeout_ms) {
  sluice::v1::EventTime* et = node()->mutable_event_time();
  et->set_field(std::move(field));
  et->set_max_out_of_orderness_ms(max_out_of_orderness_ms);
  et->set_idle_timeout_ms(idle_timeout_ms);
  return *this;
}

NodeHandle& NodeHandle::Param(std::string key, ::sluice::Param value) {
  sluice::v1::ParamMap* map = node()->mutable_params()->mutable_map_value();
  for (auto& e : *map->mutable_entries()) {
    if (e.key() == key) {
      *e.mutable_value() = ParamToProto(value);
      return *this;
    }
  }
  sluice::v1::ParamEntry* e = map->add_entries();
  e->set_key(std::move(key));
  *e->mutable_value() = ParamToProto(value);
  return *this;
}

NodeHandle& NodeHandle::Param(std::string key, std::string value) {
  return Param(std::move(key), ::sluice::Param::String(std::move(value)));
}

NodeHandle& NodeHandle::Param(std::string key, int value) {
  return Param(std::move(key), static_cast<int64_t>(value));
}

NodeHandle& NodeHandle::Param(std::string key, int64_t value) {
  return Param(std::move(key),
               ::sluice::Param::Number(static_cast<double>(value), std::to_string(value)));
}

NodeHandle& NodeHandle::Param(std::string key, double value) {
  return Param(std::move(key), ::sluice::Param::Number(value));
}

NodeHandle& NodeHandle::Param(std::string key, std::vector<std::string> value) {
  std::vector<::sluice::Param> items;
  items.reserve(value.size());
  for (std::string& s : value) items.push_back(::sluice::Param::String(std::move(s)));
  return Param(std::move(key), ::sluice::Param::List(std::move(items)));
}

NodeHandle& NodeHandle::Param(std::string key, std::initializer_list<std::string> value) {
  return Param(std::move(key), std::vector<std::string>(value));
}

TopologyBuilder::TopologyBuilder(std::string name) { topology_.set_name(std::move(name)); }

TopologyBuilder& TopologyBuilder::Parallelism(int parallelism) {
  topology_.set_default_parallelism(parallelism);
  return *this;
}

TopologyBuilder& TopologyBuilder::MaxParallelism(int max_parallelism) {
  topology_.set_max_parallelism(max_parallelism);
  return *this;
}

TopologyBuilder& TopologyBuilder::Mode(std::string mode) {
  topology_.set_mode(std::move(mode));
  return *this;
}

TopologyBuilder& TopologyBuilder::BatchSize(int batch_size) {
  topology_.set_batch_size(batch_size);
  return *this;
}

TopologyBuilder& TopologyBuilder::DeadLetter(std::string path) {
  topology_.set_dead_letter_path(std::move(path));
  return *this;
}

NodeHandle TopologyBuilder::Source(std::string id, std::string type) {
  return Node(std::move(id), std::move(type));
}

NodeHandle TopologyBuilder::Node(std::string id, std::string type) {
  const int index = topology_.nodes_size();
  sluice::v1::Node* node = topology_.add_nodes();
  node->set_id(id);
  node->set_type(std::move(type));
  node->set_index(index);
  node->mutable_params()->mutable_map_value();
  return NodeHandle(this, index, std::move(id));
}

absl::StatusOr<sluice::v1::Topology> TopologyBuilder::Build() const {
  RETURN_IF_ERROR(ValidateTopology(topology_));
  return topology_;
}

}  // namespace sluice::topology
