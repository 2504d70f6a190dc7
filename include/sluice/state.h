/// Keyed state (docs/state.md): value, map and list state per key and namespace, kept by
/// the job's state backend (in memory, or in RocksDB when the topology says
/// `state: {backend: rocksdb}`) and checkpointed by the runtime, so an operator that keeps
/// its state here needs no Snapshot or Restore of its own and runs unchanged on either
/// backend. An operator gets its states from Context (GetValueState, GetMapState,
/// GetListState), usually in Open.
///
/// Every entry belongs to a StateKey: the key group of its key (KeyGroupOf of the key's
/// hash, one of the subtask's groups [first_key_group, last_key_group]), the key's bytes,
/// and a namespace (the window, or "" for none). Entries of one key group are stored
/// together, so state moves by key group when a job is restored with another
/// parallelism. Keys and values are bytes; the operator chooses their encoding.
///
/// Threading: like the operator, a state object is used from its task thread only. A
/// string_view handed to a callback is valid during that call only; a callback must not
/// change the state it iterates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct Column;

/// The hash the runtime's key-by exchange gives a key: folded over the key fields in order,
/// from seed 0, each field's value hashed with the previous result as its seed. A key's
/// group is KeyGroupOf(hash, max_parallelism) (sluice/operator.h). An operator that keeps
/// keyed state computes it the same way, so its state moves with its key on a rescale.
uint64_t HashKeyField(const Column& column, size_t row, uint64_t seed);
uint64_t HashKeyString(std::string_view value, uint64_t seed);
uint64_t HashKeyInt(int64_t value, uint64_t seed);  // int64, timestamp and bool fields
uint64_t HashKeyDouble(double value, uint64_t seed);
uint64_t HashKeyNull(uint64_t seed);

enum class StateKind : uint8_t { kValue = 1, kMap = 2, kList = 3 };
/// "value", "map", "list".
std::string_view StateKindName(StateKind kind);

struct StateKey {
  uint32_t key_group = 0;
  std::string_view key;
  std::string_view ns;  // "" when the state has no namespace
};

/// One value per (key, namespace).
class ValueState {
 public:
  virtual ~ValueState() = default;
  /// False if absent.
  virtual bool Get(const StateKey& k, std::string* value) = 0;
  virtual void Put(const StateKey& k, std::string_view value) = 0;
  virtual void Delete(const StateKey& k) = 0;
  /// Every entry of `key_group` as (key, namespace, value), in byte order of the key,
  /// until `fn` returns false.
  virtual void ForEachInKeyGroup(
      uint32_t key_group,
      const std::function<bool(std::string_view key, std::string_view ns, std::string_view value)>& fn) = 0;
  /// As ForEachInKeyGroup, from the first key >= `from_key` (a queue kept in a key group,
  /// its keys big-endian times, resumes where it was without passing what it consumed).
  virtual void ForEachInKeyGroupFrom(
      uint32_t key_group, std::string_view from_key,
      const std::function<bool(std::string_view key, std::string_view ns, std::string_view value)>& fn) = 0;
  /// Every entry with namespace `ns`, over all the subtask's key groups, as (key group,
  /// key, value), until `fn` returns false. Reads the whole state: for rare use (a
  /// window's keys when it fires is better kept in a ListState of its own).
  virtual void ForEachInNamespace(
      std::string_view ns,
      const std::function<bool(uint32_t key_group, std::string_view key, std::string_view value)>& fn) = 0;
};

/// A map from user keys to values per (key, namespace).
class MapState {
 public:
  virtual ~MapState() = default;
  virtual bool Get(const StateKey& k, std::string_view user_key, std::string* value) = 0;
  virtual void Put(const StateKey& k, std::string_view user_key, std::string_view value) = 0;
  virtual void Delete(const StateKey& k, std::string_view user_key) = 0;
  /// Removes the whole map of (key, namespace).
  virtual void Clear(const StateKey& k) = 0;
  /// The map of (key, namespace) in byte order of the user key, until `fn` returns false.
  virtual void ForEach(const StateKey& k,
                       const std::function<bool(std::string_view user_key, std::string_view value)>& fn) = 0;
  /// Every entry of `key_group` as (key, namespace, user key, value), until `fn` returns false.
  virtual void ForEachInKeyGroup(uint32_t key_group,
                                 const std::function<bool(std::string_view key, std::string_view ns,
                                                          std::string_view user_key, std::string_view value)>& fn) = 0;
};

/// A list of values per (key, namespace), in the order they were added.
class ListState {
 public:
  virtual ~ListState() = default;
  virtual void Add(const StateKey& k, std::string_view value) = 0;
  /// Replaces `*values`; false (and empty) if the list is absent.
  virtual bool Get(const StateKey& k, std::vector<std::string>* values) = 0;
  virtual void Clear(const StateKey& k) = 0;
  /// Every list of `key_group` as (key, namespace, its values), until `fn` returns false.
  virtual void ForEachInKeyGroup(
      uint32_t key_group,
      const std::function<bool(std::string_view key, std::string_view ns, const std::vector<std::string_view>& values)>&
          fn) = 0;
};

/// Event-time timers per key and namespace, kept in the job's state backend: checkpointed
/// with the keyed state, moved with their key group when a job is rescaled, and held in
/// RocksDB (not memory) with that backend. A timer is (key group, key, namespace, time);
/// registering one that exists changes nothing. Once the watermark reaches its time, the
/// runtime deletes it and calls Operator::OnKeyedTimer, in time order (then key group),
/// before OnWatermark; at the end of input every timer left fires. Uses the state name
/// "sluice.timers".
class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual void Register(const StateKey& k, int64_t time) = 0;
  virtual void Delete(const StateKey& k, int64_t time) = 0;
};

}  // namespace sluice
