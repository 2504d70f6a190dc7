// What json_parse's parameter parsing (json_parse_params.cc) hands the operator
// (json_parse.cc): the tree of wanted keys, and the constructor of the operator.
// Internal to operators/parse; plain data, no threads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "sluice/operator.h"

namespace sluice::operators::parse::internal {

// The wanted keys of one object level. A key leads either to an output slot (a leaf) or
// to the wanted keys of a nested object.
struct Level {
  struct Key {
    std::string key;
    int slot = -1;   // index into fields, for a leaf
    int child = -1;  // index into levels, for a nested object
  };
  std::vector<Key> keys;
  // Key -> index into `keys`; built only when a level has many keys.
  absl::flat_hash_map<std::string, int> index;
};

// The json_parse operator: `keep` input columns first, then one output column of each
// type in `types` (slots of the leaves of `levels`, rooted at levels[0]).
std::unique_ptr<Operator> NewJsonParse(int input_index, std::vector<int> keep,
                                       std::vector<Type> types, std::vector<Level> levels,
                                       bool missing_is_dead_letter, SchemaPtr schema);

}  // namespace sluice::operators::parse::internal
