// Keys that do not fit in memory (see window_operator.h): above `max_keys_in_memory`
// keys, the least recently used keys move to the job's keyed state with all their
// windows, and come back on the next record for them or when one of their windows is due.
//
// State (sluice/state.h), both ValueStates of this operator:
//   "spilled": (key group, key bytes) -> u8 version; u32 windows; per window PutWindow's
//     encoding (as in checkpoints: u8 1 pending / 2 fired, i64 start, i64 end, i64 queued
//     end (pending only), u64 seq, i64 rows); then per aggregator Aggregator::SaveSlots of
//     those windows (snapshot_codec.h).
//   "timers": (key group, big-endian biased due time + big-endian seq, namespace: key
//     bytes) -> "" for each spilled window: the last watermark at which it is not due
//     (queued end - 1 while pending; its cleanup time once fired). A key group's timers are
//     in time order, so the due ones (time <= watermark) are a prefix.
// Key bytes: 0x00 for the null (or global) key; 0x01 then the value (8 bytes for an
// int-like key, the string, or the multi-field encoding). The key group is the one the
// key-by exchange gives the key (HashKeyField), so spilled state stays with its key when
// the job rescales; the spilled-key count is then recounted at Open (CountSpilledKeys).
// RestoreRescaled moves in-memory keys between subtasks in the same encoding
// (EncodeKeyWindows, AddKeyWithWindows).
//
// A key is in memory or in state, never both: a miss in memory looks in state before it
// makes a new key (only when something is spilled), and loading deletes the key's state
// and timers.

#include <algorithm>
#include <limits>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "operators/window/snapshot_codec.h"
#include "operators/window/window_operator.h"

namespace sluice::operators::window {

namespace {

constexpr uint8_t kSpillVersion = 1;

// Big-endian with the sign bit flipped: byte order is numeric order.
void PutOrderedI64(std::string& out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
int64_t GetOrderedI64(std::string_view in) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}
void PutBigEndianU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

// The timer of a spilled window: due once the watermark reaches its time.
void WindowOperator::TimerKey(const Window& w, std::string* out) const {
  out->clear();
  PutOrderedI64(*out, w.state == State::kPending ? w.queued_end - 1 : CleanupTime(w.end));
  PutBigEndianU64(*out, w.seq);
}

namespace {

}  // namespace

absl::Status WindowOperator::OpenSpill(Context& ctx) {
  max_parallelism_ = ctx.max_parallelism();
  first_kg_ = static_cast<uint32_t>(ctx.first_key_group());
  last_kg_ = static_cast<uint32_t>(ctx.last_key_group());
  timer_resume_.assign(last_kg_ - first_kg_ + 1, std::string());
  keys_spilled_ = ctx.GetCounter("keys_spilled");
  keys_loaded_ = ctx.GetCounter("keys_loaded");
  if (spec_.max_keys_in_memory <= 0 && spilled_keys_ == 0 && !count_spilled_) {
    return absl::OkStatus();
  }
  auto spilled = ctx.GetValueState("spilled");
  auto timers = ctx.GetValueState("timers");
  if (!spilled.ok() || !timers.ok()) {
    if (spilled_keys_ == 0 && !count_spilled_ && absl::IsUnimplemented(spilled.status())) {
      return absl::OkStatus();  // never spills
    }
    const absl::Status& st = !spilled.ok() ? spilled.status() : timers.status();
    return absl::Status(st.code(), absl::StrCat("window node '", node_id_, "': ", st.message()));
  }
  spilled_ = *spilled;
  timers_ = *timers;
  return count_spilled_ ? CountSpilledKeys() : absl::OkStatus();
}

// The old subtasks' counts cannot be split by key group, and the runtime restored only this
// subtask's groups of their spilled keys: count those. A key stored under another group
// than its own was spilled by a subtask whose input was not partitioned by the key (the
// group was folded into its range, see KeyGroupOfBytes): no subtask would find it now.
absl::Status WindowOperator::CountSpilledKeys() {
  count_spilled_ = false;
  spilled_keys_ = 0;
  uint32_t misplaced_kg = kNone;
  for (uint32_t kg = first_kg_; kg <= last_kg_ && misplaced_kg == kNone; ++kg) {
    spilled_->ForEachInKeyGroup(kg, [&](std::string_view key, std::string_view, std::string_view) {
      // (An int key of another size is damaged: LoadKey says so when it comes up.)
      const bool hashable = !key.empty() && (key_mode_ != KeyMode::kInt || key[0] == '\0' ||
                                             key.size() == 1 + sizeof(int64_t));
      if (hashable && KeyGroupOf(KeyHashOfBytes(key), max_parallelism_) != kg) {
        misplaced_kg = kg;
        return false;
      }
      ++spilled_keys_;
      return true;
    });
  }
  if (misplaced_kg == kNone) return absl::OkStatus();
  spilled_keys_ = 0;
  return absl::UnimplementedError(
      absl::StrCat("window node '", node_id_, "': a spilled key in key group ", misplaced_kg,
                   " is not of that group: the window's input was not partitioned by its key_by "
                   "fields, so its state cannot be split by key group"));
}

void WindowOperator::KeyBytes(const Key& key, std::string* out) const {
  out->clear();
  if (key.is_null) {
    out->push_back('\0');
    return;
  }
  out->push_back('\1');
  if (key_mode_ == KeyMode::kInt) {
    out->append(reinterpret_cast<const char*>(&key.int_key), sizeof(key.int_key));
  } else {
    out->append(key.encoded);
  }
}

uint64_t WindowOperator::KeyHashOfBytes(std::string_view bytes) const {
  uint64_t h = 0;
  if (key_mode_ == KeyMode::kGlobal) {
    h = 0;
  } else if (bytes[0] == '\0') {
    h = HashKeyNull(0);
  } else if (key_mode_ == KeyMode::kInt) {
    int64_t v;
    std::memcpy(&v, bytes.data() + 1, sizeof(v));
    h = HashKeyInt(v, 0);
  } else if (key_mode_ == KeyMode::kString) {
    h = HashKeyString(bytes.substr(1), 0);
  } else {
    // The multi-field encoding (MultiKey), field by field as the exchange hashes them.
    size_t p = 1;
    for (int f : spec_.key_fields) {
      const Type type = spec_.input_schema->field(f).type;
      if (p >= bytes.size() || bytes[p++] == 0) {
        h = HashKeyNull(h);
        continue;
      }
      if (type == Type::kString) {
        uint32_t n = 0;
        if (bytes.size() - p >= sizeof(n)) std::memcpy(&n, bytes.data() + p, sizeof(n));
        p += sizeof(n);
        h = HashKeyString(bytes.substr(std::min(p, bytes.size()), n), h);
        p += n;
      } else if (type == Type::kDouble) {
        double d = 0;
        if (bytes.size() - p >= sizeof(d)) std::memcpy(&d, bytes.data() + p, sizeof(d));
        p += sizeof(d);
        h = HashKeyDouble(d, h);
      } else {
        int64_t v = 0;
        if (bytes.size() - p >= sizeof(v)) std::memcpy(&v, bytes.data() + p, sizeof(v));
        p += sizeof(v);
        h = HashKeyInt(v, h);
      }
    }
  }
  return h;
}

uint32_t WindowOperator::KeyGroupOfBytes(std::string_view bytes) const {
  uint32_t kg = KeyGroupOf(KeyHashOfBytes(bytes), max_parallelism_);
  // Input not partitioned by these keys (no key-by in front): any group of this subtask.
  if (kg < first_kg_ || kg > last_kg_) kg = first_kg_ + kg % (last_kg_ - first_kg_ + 1);
  return kg;
}

void WindowOperator::MaybeSpill() {
  const size_t bound = static_cast<size_t>(spec_.max_keys_in_memory);
  if (bound == 0 || num_keys() <= bound) return;
  const size_t target = bound - bound / 4;
  // The least recently used keys first, until what stays fits the target.
  std::vector<std::pair<uint64_t, uint32_t>> by_age;
  by_age.reserve(num_keys());
  for (uint32_t id = 0; id < keys_.size(); ++id) {
    if (keys_[id].num_windows > 0) by_age.emplace_back(keys_[id].last_used, id);
  }
  std::sort(by_age.begin(), by_age.end());
  std::vector<uint8_t> evict(keys_.size(), 0);
  const size_t to_evict = by_age.size() - std::min(by_age.size(), target);
  for (size_t i = 0; i < to_evict; ++i) evict[by_age[i].second] = 1;
  // Their windows, grouped by key (in slot order; sessions in the key's order).
  std::vector<std::pair<uint32_t, uint32_t>> pairs;
  for (uint32_t slot = 0; slot < windows_.size(); ++slot) {
    const Window& w = windows_[slot];
    if (w.state != State::kFree && evict[w.key]) pairs.emplace_back(w.key, slot);
  }
  std::stable_sort(pairs.begin(), pairs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<uint32_t> slots;
  for (size_t i = 0; i < pairs.size();) {
    const uint32_t key = pairs[i].first;
    slots.clear();
    if (spec_.kind == WindowKind::kSession) {
      slots = keys_[key].sessions;
      while (i < pairs.size() && pairs[i].first == key) ++i;
    } else {
      for (; i < pairs.size() && pairs[i].first == key; ++i) slots.push_back(pairs[i].second);
    }
    SpillKey(key, slots);
  }
}

void WindowOperator::EncodeKeyWindows(const std::vector<uint32_t>& slots, std::string* out) const {
  out->clear();
  PutFixed(*out, kSpillVersion);
  PutFixed(*out, static_cast<uint32_t>(slots.size()));
  for (uint32_t slot : slots) PutWindow(*out, windows_[slot]);
  for (const auto& agg : aggs_) agg->SaveSlots(slots.data(), slots.size(), *out);
}

void WindowOperator::SpillKey(uint32_t key, const std::vector<uint32_t>& slots) {
  KeyBytes(keys_[key], &key_buf_);
  const uint32_t kg = KeyGroupOfBytes(key_buf_);
  EncodeKeyWindows(slots, &spill_buf_);
  std::string timer;
  for (uint32_t slot : slots) {
    TimerKey(windows_[slot], &timer);
    timers_->Put(StateKey{kg, timer, key_buf_}, {});
  }
  spilled_->Put(StateKey{kg, key_buf_, {}}, spill_buf_);
  ++spilled_keys_;
  keys_spilled_->Add(1);
  // FreeWindow frees the key with its last window.
  for (uint32_t slot : slots) {
    Dequeue(slot);
    FreeWindow(slot);
  }
}

uint32_t WindowOperator::LoadKey(std::string_view bytes) {
  if (spilled_ == nullptr || bytes.empty()) return kNone;
  const uint32_t kg = KeyGroupOfBytes(bytes);
  const std::string key(bytes);  // `bytes` may be key_buf_, which the key's lookup reuses
  if (!spilled_->Get(StateKey{kg, key, {}}, &spill_buf_)) return kNone;
  spilled_->Delete(StateKey{kg, key, {}});
  --spilled_keys_;
  keys_loaded_->Add(1);
  std::vector<uint32_t> slots;
  std::string_view error;
  const uint32_t id = AddKeyWithWindows(key, spill_buf_, &slots, &error);
  std::string timer;
  for (uint32_t slot : slots) {
    TimerKey(windows_[slot], &timer);
    timers_->Delete(StateKey{kg, timer, key});
  }
  if (!error.empty() && spill_error_.ok()) {
    spill_error_ = absl::DataLossError(absl::StrCat("window node '", node_id_,
                                                    "': the state of a spilled key (", bytes.size(),
                                                    " bytes) is damaged: ", Sv(error)));
  }
  return id;
}

uint32_t WindowOperator::AddKeyWithWindows(std::string_view bytes, std::string_view encoded,
                                           std::vector<uint32_t>* slots, std::string_view* error) {
  slots->clear();
  const bool session = spec_.kind == WindowKind::kSession;
  SnapshotDecoder in(encoded);
  uint8_t version;
  uint32_t n;
  if (!in.Get(&version) || version != kSpillVersion) {
    *error = "unknown format";
    return kNone;
  }
  if (!in.GetCount(&n, 1) || n == 0) {
    *error = "the number of windows";
    return kNone;
  }
  std::vector<Window> windows(n);
  for (Window& w : windows) {
    uint8_t state;
    if (!in.Get(&state) || !GetWindowFields(in, state, &w)) {
      *error = "a window";
      return kNone;
    }
  }
  if (bytes[0] != '\0' && key_mode_ == KeyMode::kInt && bytes.size() != 1 + sizeof(int64_t)) {
    *error = "an int key of another size";
    return kNone;
  }

  // The key, as the lookups would have made it, and its windows back in their queues.
  const uint32_t id = AllocKey();
  Key& k = keys_[id];
  if (bytes[0] == '\0') {
    k.is_null = true;
    null_key_ = id;
  } else if (key_mode_ == KeyMode::kInt) {
    std::memcpy(&k.int_key, bytes.data() + 1, sizeof(k.int_key));
    int_keys_.emplace(k.int_key, id);
  } else {
    k.encoded.assign(bytes.data() + 1, bytes.size() - 1);
    string_keys_.emplace(k.encoded, id);
  }
  for (Window& w : windows) {
    const uint32_t slot = AllocWindow();
    w.key = id;
    w.dirty = false;
    if (w.state == State::kPending) {
      fire_queue_.emplace(w.queued_end, w.seq, slot);
    } else {
      cleanup_queue_.emplace(CleanupTime(w.end), w.seq, slot);
    }
    windows_[slot] = w;
    ++keys_[id].num_windows;
    if (session) {
      keys_[id].sessions.push_back(slot);
    } else {
      window_index_.emplace(std::make_pair(id, w.start), slot);
    }
    slots->push_back(slot);
  }
  for (auto& agg : aggs_) {
    if (!agg->LoadSlots(slots->data(), slots->size(), in)) {
      *error = "the aggregate state";
      break;
    }
  }
  return id;
}

bool WindowOperator::LoadDueKeys() {
  // A bounded number per round, so the memory a round needs stays near the bound.
  const size_t limit = std::max<size_t>(1024, static_cast<size_t>(spec_.max_keys_in_memory / 2));
  std::vector<std::string> keys;
  for (uint32_t kg = first_kg_; kg <= last_kg_ && keys.size() < limit; ++kg) {
    // Each scan starts after the last timer consumed in the key group: timers added later
    // are later than any consumed (they are not due when added), and the consumed ones are
    // deletions the scan would otherwise walk again.
    std::string& resume = timer_resume_[kg - first_kg_];
    timers_->ForEachInKeyGroupFrom(kg, resume, [&](std::string_view timer, std::string_view key, std::string_view) {
      if (timer.size() != 16) return true;  // not a timer of ours
      if (GetOrderedI64(timer) > watermark_) return false;
      resume.assign(timer.data(), timer.size());
      resume.push_back('\0');  // the next key after it
      keys.emplace_back(key);
      return keys.size() < limit;
    });
  }
  // In the order of the spilled table (a key group's keys in byte order), so that reads
  // go through its blocks in turn rather than jump about. A key with several due windows
  // is listed once per window; the first load takes all.
  std::sort(keys.begin(), keys.end(), [this](const std::string& a, const std::string& b) {
    const uint32_t ga = KeyGroupOfBytes(a), gb = KeyGroupOfBytes(b);
    return ga != gb ? ga < gb : a < b;
  });
  for (const std::string& key : keys) LoadKey(key);
  return !keys.empty();
}

}  // namespace sluice::operators::window
