#include "runtime/state/in_memory_keyed_state.h"

#include <cstring>

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

namespace {
void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof(v)); }
bool GetU32(std::string_view* in, uint32_t* v) {
  if (in->size() < sizeof(*v)) return false;
  std::memcpy(v, in->data(), sizeof(*v));
  in->remove_prefix(sizeof(*v));
  return true;
}
bool GetBytes(std::string_view* in, std::string_view* out) {
  uint32_t n;
  if (!GetU32(in, &n) || in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}
}  // namespace

std::string InMemoryKeyedState::Encode() const {
  std::string out;
  for (const auto& [k, v] : map_) {
    PutU32(&out, k.first);
    PutU32(&out, static_cast<uint32_t>(k.second.size()));
    out += k.second;
    PutU32(&out, static_cast<uint32_t>(v.size()));
    out += v;
  }
  return out;
}

bool InMemoryKeyedState::Decode(std::string_view in) {
  std::map<std::pair<uint32_t, std::string>, std::string, std::less<>> map;
  while (!in.empty()) {
    uint32_t kg;
    std::string_view key, value;
    if (!GetU32(&in, &kg) || !GetBytes(&in, &key) || !GetBytes(&in, &value)) return false;
    map[std::make_pair(kg, std::string(key))] = std::string(value);
  }
  map_ = std::move(map);
  return true;
}

}  // namespace sluice::runtime
