#include "runtime/state/keyed_timers.h"

#include <algorithm>
#include <limits>
#include <tuple>

#include "common/varint.h"

namespace sluice::runtime {

namespace {

constexpr int64_t kNone = std::numeric_limits<int64_t>::max();

// 8 bytes, big-endian, sign bit flipped: byte order is numeric order.
void EncodeTime(int64_t t, std::string* out) {
  const uint64_t u = static_cast<uint64_t>(t) ^ (uint64_t{1} << 63);
  out->resize(8);
  for (int i = 0; i < 8; ++i) (*out)[i] = static_cast<char>((u >> (56 - 8 * i)) & 0xff);
}

bool DecodeTime(std::string_view in, int64_t* t) {
  if (in.size() != 8) return false;
  uint64_t u = 0;
  for (char c : in) u = (u << 8) | static_cast<uint8_t>(c);
  *t = static_cast<int64_t>(u ^ (uint64_t{1} << 63));
  return true;
}

// The map's user key: the timer's key and namespace.
void EncodeUser(const StateKey& k, std::string* out) {
  out->clear();
  PutBytes(*out, k.key);
  PutBytes(*out, k.ns);
}

}  // namespace

KeyedTimers::KeyedTimers(MapState* state, uint32_t first_key_group, uint32_t last_key_group)
    : state_(state), first_kg_(first_key_group), last_kg_(last_key_group) {}

void KeyedTimers::LoadEarliest() {
  if (loaded_) return;
  loaded_ = true;
  earliest_.assign(last_kg_ - first_kg_ + 1, kNone);
  for (uint32_t kg = first_kg_; kg <= last_kg_; ++kg) earliest_[kg - first_kg_] = ReadEarliest(kg);
}

int64_t KeyedTimers::ReadEarliest(uint32_t kg) {
  int64_t earliest = kNone;
  state_->ForEachInKeyGroup(kg, [&](std::string_view time, std::string_view, std::string_view, std::string_view) {
    int64_t t;
    if (!DecodeTime(time, &t)) return true;  // not a timer: skipped
    earliest = t;
    return false;
  });
  return earliest;
}

void KeyedTimers::Register(const StateKey& k, int64_t time) {
  LoadEarliest();
  if (k.key_group < first_kg_ || k.key_group > last_kg_) return;  // not this subtask's key
  EncodeTime(time, &time_buf_);
  EncodeUser(k, &user_buf_);
  state_->Put(StateKey{k.key_group, time_buf_, {}}, user_buf_, {});
  int64_t& e = earliest_[k.key_group - first_kg_];
  e = std::min(e, time);
}

void KeyedTimers::Delete(const StateKey& k, int64_t time) {
  LoadEarliest();
  if (k.key_group < first_kg_ || k.key_group > last_kg_) return;
  EncodeTime(time, &time_buf_);
  EncodeUser(k, &user_buf_);
  state_->Delete(StateKey{k.key_group, time_buf_, {}}, user_buf_);
  // The earliest time stays a lower bound; Fire finds the group empty and moves it on.
}

absl::Status KeyedTimers::Fire(int64_t watermark,
                               const std::function<absl::Status(const StateKey&, int64_t)>& fire) {
  LoadEarliest();
  struct Due {
    int64_t time;
    uint32_t kg;
    std::string time_key;
    std::string user;
  };
  while (true) {
    std::vector<Due> due;
    for (uint32_t kg = first_kg_; kg <= last_kg_; ++kg) {
      int64_t& e = earliest_[kg - first_kg_];
      if (e > watermark) continue;
      e = kNone;
      state_->ForEachInKeyGroup(kg, [&](std::string_view time, std::string_view, std::string_view user,
                                        std::string_view) {
        int64_t t;
        if (!DecodeTime(time, &t)) return true;
        if (t > watermark) {
          e = t;
          return false;
        }
        due.push_back(Due{t, kg, std::string(time), std::string(user)});
        return true;
      });
    }
    if (due.empty()) return absl::OkStatus();
    std::sort(due.begin(), due.end(),
              [](const Due& a, const Due& b) { return std::tie(a.time, a.kg) < std::tie(b.time, b.kg); });
    for (const Due& d : due) state_->Delete(StateKey{d.kg, d.time_key, {}}, d.user);
    for (const Due& d : due) {
      std::string_view in = d.user, key, ns;
      if (!GetBytes(in, &key) || !GetBytes(in, &ns)) {
        return absl::DataLossError("a keyed timer in state is damaged");
      }
      absl::Status st = fire(StateKey{d.kg, key, ns}, d.time);
      if (!st.ok()) return st;
    }
  }
}

}  // namespace sluice::runtime
