// Checkpoints of the window operator: Snapshot writes its whole state as one blob,
// "window", and Restore reads it back into a fresh instance; RestoreRescaled (another
// parallelism) reads the blob of every old subtask and keeps the keys of this subtask's
// key groups. Nothing else is state: the per-batch scratch (pairs, dirty list, output
// batch) is empty between calls, the tumbling window cache is rebuilt on demand, and
// counters are not state.
//
// Format (snapshot_codec.h: fixed-width little-endian numbers, strings as u32 length and
// bytes), version 2 (1 lacks the spilled count):
//   u8 version; i64 x shape fields (ForEachShapeField: window kind and durations, key
//     field types, aggregate functions and field types), compared on Restore;
//   i64 watermark, u64 next window creation number (seq), i64 keys spilled to keyed
//     state (version 2; window_spill.cc: they are in the keyed state's own checkpoint);
//   u32 key ids; per id: u8 0 free / 1 value / 2 null, the value (i64 for one int-like key
//     field, else a string: the value or the multi-field encoding), and for session
//     windows u32 count + u32 slot per session, in the key's order;
//   u32 slots; per slot: u8 0 free / 1 pending / 2 fired, then for a live slot i64 start,
//     i64 end, i64 queued end (pending only), u64 seq, i64 rows, u32 key id;
//   per aggregator (spec order, `count` without a field excluded): Aggregator::SaveSlots
//     of the live slots in slot order.
// Key ids, slots, seq and each key's session order are kept as they were, so the queues
// and the firing order (by end, then seq) come back exactly; only hash sets and maps (of
// count_distinct and top_k) are rebuilt in another iteration order, which no output shows.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/window/snapshot_codec.h"
#include "operators/window/window_operator.h"

namespace sluice::operators::window {

namespace {

constexpr uint8_t kFormatVersion = 2;
constexpr std::string_view kBlobName = "window";

constexpr uint8_t kKeyFree = 0;
constexpr uint8_t kKeyValue = 1;
constexpr uint8_t kKeyNull = 2;
constexpr uint8_t kSlotFree = 0;
constexpr uint8_t kSlotPending = 1;
constexpr uint8_t kSlotFired = 2;

std::string ShapeValue(std::string_view what, int64_t v) {
  if (what == "window type" && v >= 0 && v <= 2) {
    static constexpr const char* kNames[] = {"tumbling", "sliding", "session"};
    return kNames[v];
  }
  if (what == "aggregate function" && v >= 0 && v <= static_cast<int64_t>(AggFn::kTopK)) {
    return std::string(AggFnName(static_cast<AggFn>(v)));
  }
  return absl::StrCat(v);
}

}  // namespace

// What the state depends on in the parameters: a blob is only read by an operator with
// the same values. Not included: field positions (an upstream column added is fine),
// output names and `emit`, top_k's k (the counts are kept whole).
template <typename Fn>
void WindowOperator::ForEachShapeField(Fn&& fn) const {
  fn("window type", -1, static_cast<int64_t>(spec_.kind));
  fn("size_ms", -1, spec_.size_ms);
  fn("slide_ms", -1, spec_.slide_ms);
  fn("offset_ms", -1, spec_.offset_ms);
  fn("gap_ms", -1, spec_.gap_ms);
  fn("allowed_lateness_ms", -1, spec_.allowed_lateness_ms);
  fn("number of key fields", -1, static_cast<int64_t>(spec_.key_fields.size()));
  for (size_t i = 0; i < spec_.key_fields.size(); ++i) {
    fn("key field type", static_cast<int>(i),
       static_cast<int64_t>(spec_.input_schema->field(spec_.key_fields[i]).type));
  }
  fn("number of aggregates", -1, static_cast<int64_t>(spec_.aggregates.size()));
  for (size_t i = 0; i < spec_.aggregates.size(); ++i) {
    const AggregateSpec& a = spec_.aggregates[i];
    fn("aggregate function", static_cast<int>(i), static_cast<int64_t>(a.fn));
    fn("aggregate has a field", static_cast<int>(i), int64_t{a.field >= 0});
    fn("aggregate field type", static_cast<int>(i), static_cast<int64_t>(a.field_type));
  }
}

absl::Status WindowOperator::Snapshot(SnapshotWriter& writer) {
  const bool session = spec_.kind == WindowKind::kSession;
  std::string out;
  out.reserve(256 + keys_.size() * 24 + windows_.size() * 48);
  PutFixed(out, kFormatVersion);
  ForEachShapeField([&out](std::string_view, int, int64_t v) { PutFixed(out, v); });
  PutFixed(out, watermark_);
  PutFixed(out, next_seq_);
  PutFixed(out, spilled_keys_);

  // A key is live while it has windows (it is freed with its last one).
  PutFixed(out, static_cast<uint32_t>(keys_.size()));
  for (const Key& k : keys_) {
    if (k.num_windows == 0) {
      PutFixed(out, kKeyFree);
      continue;
    }
    if (k.is_null) {
      PutFixed(out, kKeyNull);
    } else {
      PutFixed(out, kKeyValue);
      if (key_mode_ == KeyMode::kInt) {
        PutFixed(out, k.int_key);
      } else {
        PutString(out, k.encoded);
      }
    }
    if (session) {
      PutFixed(out, static_cast<uint32_t>(k.sessions.size()));
      for (uint32_t s : k.sessions) PutFixed(out, s);
    }
  }

  std::vector<uint32_t> live;
  live.reserve(num_windows());
  PutFixed(out, static_cast<uint32_t>(windows_.size()));
  for (uint32_t slot = 0; slot < windows_.size(); ++slot) {
    const Window& w = windows_[slot];
    if (w.state == State::kFree) {
      PutFixed(out, kSlotFree);
      continue;
    }
    PutWindow(out, w);
    PutFixed(out, w.key);
    live.push_back(slot);
  }
  for (const auto& agg : aggs_) agg->SaveSlots(live.data(), live.size(), out);
  writer.Write(kBlobName, out);
  return absl::OkStatus();
}

void WindowOperator::PutWindow(std::string& out, const Window& w) {
  const bool pending = w.state == State::kPending;
  PutFixed(out, pending ? kSlotPending : kSlotFired);
  PutFixed(out, w.start);
  PutFixed(out, w.end);
  if (pending) PutFixed(out, w.queued_end);
  PutFixed(out, w.seq);
  PutFixed(out, w.rows);
}

bool WindowOperator::GetWindowFields(SnapshotDecoder& in, uint8_t state, Window* w) {
  if (state != kSlotPending && state != kSlotFired) return false;
  const bool pending = state == kSlotPending;
  w->state = pending ? State::kPending : State::kFired;
  return in.Get(&w->start) && in.Get(&w->end) && (!pending || in.Get(&w->queued_end)) && in.Get(&w->seq) &&
         in.Get(&w->rows);
}

absl::Status WindowOperator::Restore(SnapshotReader& reader) {
  ResetState();
  std::string blob;
  if (!reader.Read(kBlobName, &blob)) return absl::OkStatus();
  absl::Status status = DecodeSnapshot(blob);
  if (!status.ok()) ResetState();
  return status;
}

// Keys are disjoint across the old subtasks (a key is in one key group, which one old
// subtask owned), so their windows move as they were, each with its creation number; ties
// in firing order between keys of different old subtasks are broken by slot. The old
// subtasks' watermarks may differ (one whose input had ended): the lowest is kept, so
// nothing fires early, and a window that fired at a higher one stays fired (re-emitted
// when updated, dropped at its cleanup time). The old subtasks' spill counts cannot be
// split by key group: Open counts what the runtime restored (CountSpilledKeys).
absl::Status WindowOperator::RestoreRescaled(RescaledSnapshotReader& reader) {
  ResetState();
  max_parallelism_ = reader.max_parallelism();
  int64_t watermark = kMaxWatermark;
  bool any = false;
  std::string blob;
  absl::Status status;
  for (int old = 0; old < reader.old_parallelism() && status.ok(); ++old) {
    if (!reader.Read(old, kBlobName, &blob)) continue;  // as Restore: that subtask was empty
    WindowOperator from(spec_, node_id_);
    status = from.DecodeSnapshot(blob);
    if (!status.ok()) {
      status = absl::Status(status.code(), absl::StrCat(status.message(), " (old subtask ", old,
                                                        " of ", reader.old_parallelism(), ")"));
      break;
    }
    any = true;
    watermark = std::min(watermark, from.watermark_);
    next_seq_ = std::max(next_seq_, from.next_seq_);
    count_spilled_ = count_spilled_ || from.spilled_keys_ > 0;
    status = AdoptKeys(from, old, reader);
  }
  if (!status.ok()) {
    ResetState();
    return status;
  }
  if (any && watermark != kNoTimestamp) SetWatermark(watermark);
  return absl::OkStatus();
}

absl::Status WindowOperator::AdoptKeys(const WindowOperator& from, int old_subtask,
                                       const RescaledSnapshotReader& reader) {
  const int maxp = max_parallelism_;
  const uint32_t first_kg = static_cast<uint32_t>(reader.first_key_group());
  const uint32_t last_kg = static_cast<uint32_t>(reader.last_key_group());
  // Each key's windows: sessions in the key's order, others in slot order.
  std::vector<std::vector<uint32_t>> by_key;
  if (spec_.kind != WindowKind::kSession) {
    by_key.resize(from.keys_.size());
    for (uint32_t slot = 0; slot < from.windows_.size(); ++slot) {
      const Window& w = from.windows_[slot];
      if (w.state != State::kFree) by_key[w.key].push_back(slot);
    }
  }
  std::string key, encoded;
  std::vector<uint32_t> slots;
  for (uint32_t id = 0; id < from.keys_.size(); ++id) {
    const Key& k = from.keys_[id];
    if (k.num_windows == 0) continue;
    from.KeyBytes(k, &key);
    const uint32_t kg = KeyGroupOf(from.KeyHashOfBytes(key), maxp);
    if (SubtaskForKeyGroup(kg, maxp, reader.old_parallelism()) != old_subtask) {
      // Its records did not come by the key's group: the same key may have windows at
      // several old subtasks, and no split by key group gives any of them the right ones.
      return absl::UnimplementedError(absl::StrCat(
          "window node '", node_id_, "': old subtask ", old_subtask, " of ",
          reader.old_parallelism(), " held a key of key group ", kg,
          ", which is not one of its groups: ",
          key_mode_ == KeyMode::kGlobal ? "a window without key_by keeps one global window per "
                                          "subtask, which cannot be merged"
                                        : "the window's input was not partitioned by its key_by "
                                          "fields (key_by on the input edge, the same "
                                          "fields in the same order)",
          ", so its state cannot be split by key group"));
    }
    if (kg < first_kg || kg > last_kg) continue;
    from.EncodeKeyWindows(spec_.kind == WindowKind::kSession ? k.sessions : by_key[id], &encoded);
    std::string_view error;
    AddKeyWithWindows(key, encoded, &slots, &error);
    if (!error.empty()) {
      // What `from` just encoded: a bug, not damage.
      return absl::InternalError(absl::StrCat("window node '", node_id_,
                                              "': moving a key of old subtask ", old_subtask, ": ",
                                              Sv(error)));
    }
  }
  return absl::OkStatus();
}

void WindowOperator::ResetState() {
  watermark_ = due_end_max_ = late_end_max_ = kNoTimestamp;
  keys_.clear();
  free_keys_.clear();
  string_keys_.clear();
  int_keys_.clear();
  null_key_ = kNone;
  windows_.clear();
  free_windows_.clear();
  window_index_.clear();
  next_seq_ = 0;
  spilled_keys_ = 0;
  count_spilled_ = false;
  spill_error_ = absl::OkStatus();
  fire_queue_.clear();
  cleanup_queue_.clear();
  num_pairs_ = 0;
  dirty_.clear();
  merge_.clear();
  out_batch_.reset();
  for (size_t j = 0; j < spec_.aggregates.size(); ++j) {
    if (agg_index_[j] < 0) continue;
    const AggregateSpec& a = spec_.aggregates[j];
    aggs_[agg_index_[j]] = NewAggregator(a.fn, a.field, a.field_type, a.k);
  }
}

// The encoding MultiKey writes, as AppendKey reads it: per key field a byte 0 (null) or 1,
// then 8 bytes, or for a string a 4-byte length and the bytes.
bool WindowOperator::ValidMultiKey(std::string_view encoded) const {
  size_t p = 0;
  for (int f : spec_.key_fields) {
    if (p >= encoded.size()) return false;
    const char present = encoded[p++];
    if (present == 0) continue;
    if (present != 1) return false;
    size_t len = 8;
    if (spec_.input_schema->field(f).type == Type::kString) {
      uint32_t n;
      if (encoded.size() - p < sizeof(n)) return false;
      std::memcpy(&n, encoded.data() + p, sizeof(n));
      p += sizeof(n);
      len = n;
    }
    if (encoded.size() - p < len) return false;
    p += len;
  }
  return p == encoded.size();
}

absl::Status WindowOperator::DecodeSnapshot(std::string_view blob) {
  const bool session = spec_.kind == WindowKind::kSession;
  SnapshotDecoder in(blob);
  auto damaged = [&](std::string_view what) {
    return absl::DataLossError(
        absl::StrCat("window node '", node_id_, "': checkpoint blob '", Sv(kBlobName), "' (",
                     blob.size(), " bytes) is damaged: ", in.failed() ? "cannot read " : "",
                     Sv(what), " (at byte ", in.pos(), ")"));
  };

  uint8_t version;
  if (!in.Get(&version)) return damaged("the format version");
  if (version != kFormatVersion && version != 1) {
    return damaged(absl::StrCat("format version ", int{version}, ", but this build reads version ",
                                int{kFormatVersion}));
  }
  absl::Status shape;
  ForEachShapeField([&](std::string_view what, int index, int64_t now) {
    if (!shape.ok()) return;
    const std::string name =
        index < 0 ? std::string(what) : absl::StrCat(Sv(what), " [", index, "]");
    int64_t was;
    if (!in.Get(&was)) {
      shape = damaged(absl::StrCat("the parameter ", name));
    } else if (was != now) {
      shape = absl::InvalidArgumentError(absl::StrCat(
          "window node '", node_id_, "': the checkpoint was taken with other window parameters (",
          name, " was ", ShapeValue(what, was), ", is ", ShapeValue(what, now),
          "); run the job with its parameters of then, or start it without the checkpoint"));
    }
  });
  RETURN_IF_ERROR(shape);

  int64_t watermark;
  uint64_t next_seq;
  if (!in.Get(&watermark) || !in.Get(&next_seq)) return damaged("the watermark");
  if (version >= 2 && (!in.Get(&spilled_keys_) || spilled_keys_ < 0)) return damaged("the number of spilled keys");
  if (watermark != kNoTimestamp) SetWatermark(watermark);
  next_seq_ = next_seq;

  // Keys.
  uint32_t num_keys;
  if (!in.GetCount(&num_keys, 1)) return damaged("the number of keys");
  keys_.resize(num_keys);
  std::vector<uint8_t> key_live(num_keys, 0);
  for (uint32_t id = 0; id < num_keys; ++id) {
    Key& k = keys_[id];
    uint8_t kind;
    if (!in.Get(&kind)) return damaged(absl::StrCat("key ", id));
    if (kind == kKeyFree) continue;
    if (kind == kKeyNull && key_mode_ != KeyMode::kMulti && null_key_ == kNone) {
      k.is_null = true;
      null_key_ = id;
    } else if (kind == kKeyValue && key_mode_ == KeyMode::kInt) {
      if (!in.Get(&k.int_key)) return damaged(absl::StrCat("key ", id));
      if (!int_keys_.emplace(k.int_key, id).second) {
        return damaged(absl::StrCat("key ", id, " repeats key ", k.int_key));
      }
    } else if (kind == kKeyValue && key_mode_ != KeyMode::kGlobal) {
      std::string_view value;
      if (!in.GetString(&value)) return damaged(absl::StrCat("key ", id));
      if (key_mode_ == KeyMode::kMulti && !ValidMultiKey(value)) {
        return damaged(absl::StrCat("key ", id, " is not a valid multi-field key"));
      }
      k.encoded.assign(value.data(), value.size());
      if (!string_keys_.emplace(k.encoded, id).second) {
        return damaged(absl::StrCat("key ", id, " repeats another key"));
      }
    } else {
      return damaged(absl::StrCat("key ", id, " has kind ", int{kind}, ", unexpected here"));
    }
    key_live[id] = 1;
    if (session) {
      uint32_t n;
      if (!in.GetCount(&n, sizeof(uint32_t)))
        return damaged(absl::StrCat("the sessions of key ", id));
      k.sessions.resize(n);
      for (uint32_t& s : k.sessions) {
        if (!in.Get(&s)) return damaged(absl::StrCat("the sessions of key ", id));
      }
    }
  }

  // Windows, back in their queues.
  uint32_t num_slots;
  if (!in.GetCount(&num_slots, 1)) return damaged("the number of windows");
  windows_.resize(num_slots);
  for (auto& agg : aggs_) agg->Resize(num_slots);
  std::vector<uint32_t> live;
  for (uint32_t slot = 0; slot < num_slots; ++slot) {
    Window& w = windows_[slot];
    uint8_t state;
    if (!in.Get(&state)) return damaged(absl::StrCat("window ", slot));
    if (state == kSlotFree) continue;
    if (state != kSlotPending && state != kSlotFired) {
      return damaged(absl::StrCat("window ", slot, " has state ", int{state}));
    }
    const bool pending = state == kSlotPending;
    if (!GetWindowFields(in, state, &w) || !in.Get(&w.key)) return damaged(absl::StrCat("window ", slot));
    const std::string where = absl::StrCat("window ", slot, " [", w.start, ", ", w.end, ")");
    if (w.key >= num_keys || !key_live[w.key]) {
      return damaged(absl::StrCat(where, " belongs to key ", w.key, ", which is not live"));
    }
    if (w.seq >= next_seq_) {
      return damaged(
          absl::StrCat(where, " has creation number ", w.seq, ", not below ", next_seq_));
    }
    const bool bounds_ok = session
                               ? w.start < w.end
                               : static_cast<uint64_t>(w.end) - static_cast<uint64_t>(w.start) ==
                                     static_cast<uint64_t>(spec_.size_ms);
    if (!bounds_ok) return damaged(absl::StrCat(where, " does not fit the window parameters"));
    // As Enqueue and FireUpTo leave them: pending until due, fired until cleaned up. (A
    // fired window may end after the watermark: RestoreRescaled keeps the lowest of the
    // old subtasks', and a window fired at a higher one stays fired.)
    const bool queue_ok = pending ? w.queued_end > due_end_max_ && w.queued_end <= w.end
                                  : CleanupTime(w.end) > watermark_;
    if (!queue_ok) {
      return damaged(absl::StrCat(where, pending ? " is pending" : " has fired",
                                  ", which does not agree with the watermark ", watermark_));
    }
    if (!session && !window_index_.emplace(std::make_pair(w.key, w.start), slot).second) {
      return damaged(absl::StrCat(where, " repeats a window of key ", w.key));
    }
    if (pending) {
      w.state = State::kPending;
      fire_queue_.emplace(w.queued_end, w.seq, slot);
    } else {
      w.state = State::kFired;
      cleanup_queue_.emplace(CleanupTime(w.end), w.seq, slot);
    }
    ++keys_[w.key].num_windows;
    live.push_back(slot);
  }

  // Every live key has windows; a session key lists each of its windows once.
  std::vector<uint8_t> listed(session ? num_slots : 0, 0);
  for (uint32_t id = 0; id < num_keys; ++id) {
    const Key& k = keys_[id];
    if (!key_live[id]) continue;
    if (k.num_windows == 0) return damaged(absl::StrCat("key ", id, " has no window"));
    if (!session) continue;
    bool sessions_ok = k.sessions.size() == k.num_windows;
    for (uint32_t s : k.sessions) {
      sessions_ok = sessions_ok && s < num_slots && windows_[s].state != State::kFree &&
                    windows_[s].key == id && !listed[s];
      if (sessions_ok) listed[s] = 1;
    }
    if (!sessions_ok) {
      return damaged(absl::StrCat("the sessions of key ", id, " do not match its windows"));
    }
  }

  for (size_t j = 0; j < spec_.aggregates.size(); ++j) {
    if (agg_index_[j] < 0) continue;
    if (!aggs_[agg_index_[j]]->LoadSlots(live.data(), live.size(), in)) {
      return damaged(absl::StrCat("the state of aggregate '", spec_.aggregates[j].name, "'"));
    }
  }
  if (!in.done()) return damaged(absl::StrCat(blob.size() - in.pos(), " bytes after the end"));

  // Free ids and slots, the lowest reused first.
  for (uint32_t id = num_keys; id-- > 0;) {
    if (!key_live[id]) free_keys_.push_back(id);
  }
  for (uint32_t slot = num_slots; slot-- > 0;) {
    if (windows_[slot].state == State::kFree) free_windows_.push_back(slot);
  }
  return absl::OkStatus();
}

}  // namespace sluice::operators::window
