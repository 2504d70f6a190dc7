// The keyed timer service of sluice/state.h (TimerService), kept in a map state of the
// operator ("sluice.timers"), so timers are checkpointed, rescaled and spilled like any
// keyed state. An entry per timer: the state key (key group, the time as 8 bytes in
// order, no namespace) and, as the map's user key, the timer's key and namespace.
//
// Firing reads only key groups with a due timer: the earliest time of each key group of
// the subtask is kept in memory (read from the state on first use, so after a restore).
//
// Threading: the task's thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sluice/state.h"

namespace sluice::runtime {

inline constexpr std::string_view kTimersStateName = "sluice.timers";

class KeyedTimers final : public TimerService {
 public:
  KeyedTimers(MapState* state, uint32_t first_key_group, uint32_t last_key_group);

  void Register(const StateKey& k, int64_t time) override;
  void Delete(const StateKey& k, int64_t time) override;

  // Deletes and calls `fire` for every timer at or before `watermark`, in time order, then
  // key group; timers `fire` registers at or before it fire too. Stops at an error.
  absl::Status Fire(int64_t watermark, const std::function<absl::Status(const StateKey&, int64_t)>& fire);

 private:
  void LoadEarliest();
  // The earliest time of key group `kg` in the state (INT64_MAX if none).
  int64_t ReadEarliest(uint32_t kg);

  MapState* state_;
  uint32_t first_kg_;
  uint32_t last_kg_;
  bool loaded_ = false;
  std::vector<int64_t> earliest_;  // by key group - first_kg_
  std::string time_buf_;
  std::string user_buf_;
};

}  // namespace sluice::runtime
