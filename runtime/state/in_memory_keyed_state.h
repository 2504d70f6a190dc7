// The in-memory keyed-state backend: an ordered map from (key group, key) to bytes, so a
// range of key groups is a contiguous range of entries, as in the RocksDB backend that
// will slot in behind the same KeyedState interface. Single-threaded (a task's own).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "sluice/operator.h"

namespace sluice::runtime {

class InMemoryKeyedState : public KeyedState {
 public:
  bool Get(uint32_t key_group, std::string_view key, std::string* value) const override;
  void Put(uint32_t key_group, std::string_view key, std::string_view value) override;
  void Delete(uint32_t key_group, std::string_view key) override;
  void ForEach(uint32_t key_group,
               const std::function<void(std::string_view, std::string_view)>& fn) const override;
  size_t size() const override { return map_.size(); }

  // Checkpoints (the runtime snapshots the state it hands out): every entry as one blob,
  // and back. Decode is false on a malformed blob, leaving the state as it was.
  std::string Encode() const;
  bool Decode(std::string_view bytes);

 private:
  std::map<std::pair<uint32_t, std::string>, std::string, std::less<>> map_;
};

}  // namespace sluice::runtime
