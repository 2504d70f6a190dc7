#include "runtime/state/in_memory_keyed_state.h"

namespace sluice::runtime {

bool InMemoryKeyedState::Get(uint32_t kg, std::string_view key, std::string* value) const {
  auto it = map_.find(std::make_pair(kg, std::string(key)));
  if (it == map_.end()) return false;
  *value = it->second;
  return true;
}

void InMemoryKeyedState::Put(uint32_t kg, std::string_view key, std::string_view value) {
  map_[std::make_pair(kg, std::string(key))] = std::string(value);
}

void InMemoryKeyedState::Delete(uint32_t kg, std::string_view key) {
  map_.erase(std::make_pair(kg, std::string(key)));
}

void InMemoryKeyedState::ForEach(
    uint32_t kg, const std::function<void(std::string_view, std::string_view)>& fn) const {
  for (auto it = map_.lower_bound(std::make_pair(kg, std::string()));
       it != map_.end() && it->first.first == kg; ++it) {
    fn(it->first.second, it->second);
  }
}

}  // namespace sluice::runtime
