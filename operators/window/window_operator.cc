// The window operator's state and event-time path: construction, Process (the first pass
// maps rows to keys and to the slots of their tumbling, sliding or session windows; the
// aggregates fold the pairs), key ids, window slots, the fire/cleanup queues, and firing
// on watermarks. Kept in one file so the per-row loops inline what they call.

#include "operators/window/window_operator.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice::operators::window {

namespace {

int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

// The start of the window of length `step` (aligned to the epoch) holding `t`; floors
// for negative `t`.
inline int64_t FloorStart(int64_t t, int64_t step) {
  int64_t r = t % step;
  if (r < 0) r += step;
  return t - r;
}

bool IsIntLike(Type t) { return t == Type::kInt64 || t == Type::kTimestamp || t == Type::kBool; }

}  // namespace

WindowOperator::WindowOperator(WindowSpec spec, std::string node_id)
    : spec_(std::move(spec)), node_id_(std::move(node_id)) {
  if (spec_.key_fields.empty()) {
    key_mode_ = KeyMode::kGlobal;
  } else if (spec_.key_fields.size() == 1) {
    Type t = spec_.input_schema->field(spec_.key_fields[0]).type;
    key_mode_ = t == Type::kString ? KeyMode::kString
                : IsIntLike(t)     ? KeyMode::kInt
                                   : KeyMode::kMulti;
  } else {
    key_mode_ = KeyMode::kMulti;
  }
  for (const AggregateSpec& a : spec_.aggregates) {
    if (a.fn == AggFn::kCount && a.field < 0) {
      agg_index_.push_back(-1);
      continue;
    }
    agg_index_.push_back(static_cast<int>(aggs_.size()));
    aggs_.push_back(NewAggregator(a.fn, a.field, a.field_type, a.k));
  }
  record_pairs_ = !aggs_.empty();
}

// Batch mode needs no special case: no watermark arrives before OnEndOfInput, so
// nothing is late and everything fires there.
absl::Status WindowOperator::Open(Context& ctx) {
  late_records_ = ctx.GetCounter("late_records");
  return OpenSpill(ctx);
}

absl::Status WindowOperator::Process(int input, BatchPtr batch, Collector& out) {
  const RecordBatch& b = *batch;
  if (b.num_rows() == 0) return absl::OkStatus();
  if (b.num_columns() != spec_.input_schema->num_fields()) {
    return absl::InternalError(absl::StrCat("window: got a batch of ", b.schema()->ToString(),
                                            "; expected ", spec_.input_schema->ToString()));
  }
  ++batch_seq_;
  if (spilled_ != nullptr) MaybeSpill();
  const size_t per_row =
      spec_.kind == WindowKind::kSliding ? static_cast<size_t>(spec_.size_ms / spec_.slide_ms) : 1;
  num_pairs_ = 0;
  if (pair_rows_.size() < b.num_rows() * per_row) {
    pair_rows_.resize(b.num_rows() * per_row);
    pair_slots_.resize(b.num_rows() * per_row);
  }

  switch (key_mode_) {
    case KeyMode::kGlobal:
      Dispatch(
          b, [this](size_t) { return GlobalKey(); }, out);
      break;
    case KeyMode::kString: {
      const Column& c = b.column(spec_.key_fields[0]);
      if (c.nulls.empty()) {
        Dispatch(
            b, [this, &c](size_t r) { return StringKey(c.strings[r]); }, out);
      } else {
        Dispatch(
            b, [this, &c](size_t r) { return c.nulls[r] ? NullKey() : StringKey(c.strings[r]); },
            out);
      }
      break;
    }
    case KeyMode::kInt: {
      const Column& c = b.column(spec_.key_fields[0]);
      if (c.nulls.empty()) {
        Dispatch(
            b, [this, &c](size_t r) { return IntKey(c.ints[r]); }, out);
      } else {
        Dispatch(
            b, [this, &c](size_t r) { return c.nulls[r] ? NullKey() : IntKey(c.ints[r]); }, out);
      }
      break;
    }
    case KeyMode::kMulti:
      Dispatch(
          b, [this, &b](size_t r) { return MultiKey(b, r); }, out);
      break;
  }
  ApplyPairs(b);
  EmitDirty(out);
  FlushOutput(out);
  return spill_error_;
}

absl::Status WindowOperator::OnWatermark(int64_t watermark, Collector& out) {
  if (watermark > watermark_) FireUpTo(watermark, out);
  FlushOutput(out);
  out.EmitWatermark(watermark);
  return spill_error_;
}

absl::Status WindowOperator::OnEndOfInput(Collector& out) {
  // End of input is a watermark at +infinity: every window fires, all state goes.
  FireUpTo(kMaxWatermark, out);
  FlushOutput(out);
  return spill_error_;
}

// --- Keys --------------------------------------------------------------------------------

uint32_t WindowOperator::AllocKey() {
  uint32_t id;
  if (!free_keys_.empty()) {
    id = free_keys_.back();
    free_keys_.pop_back();
  } else {
    id = static_cast<uint32_t>(keys_.size());
    keys_.emplace_back();
  }
  Key& k = keys_[id];
  k.is_null = false;
  k.num_windows = 0;
  k.cached_slot = kNone;
  k.sessions.clear();
  k.last_used = batch_seq_;
  return id;
}

void WindowOperator::FreeKey(uint32_t id) {
  Key& k = keys_[id];
  if (k.is_null) {
    null_key_ = kNone;
  } else if (key_mode_ == KeyMode::kInt) {
    int_keys_.erase(k.int_key);
  } else {
    auto it = string_keys_.find(Sv(k.encoded));
    if (it != string_keys_.end()) string_keys_.erase(it);
  }
  free_keys_.push_back(id);
}

uint32_t WindowOperator::NullKey() {
  if (null_key_ == kNone && spilled_keys_ > 0) LoadKey(std::string_view("\0", 1));
  if (null_key_ == kNone) {
    null_key_ = AllocKey();
    keys_[null_key_].is_null = true;
  }
  return null_key_;
}

uint32_t WindowOperator::GlobalKey() { return NullKey(); }

uint32_t WindowOperator::AddStringKey(std::string_view value) {
  if (spilled_keys_ > 0) {
    key_buf_.assign("\1");
    key_buf_.append(value.data(), value.size());
    if (uint32_t id = LoadKey(key_buf_); id != kNone) return id;
  }
  uint32_t id = AllocKey();
  keys_[id].encoded.assign(value.data(), value.size());
  string_keys_.emplace(keys_[id].encoded, id);
  return id;
}

uint32_t WindowOperator::AddIntKey(int64_t value) {
  if (spilled_keys_ > 0) {
    key_buf_.assign("\1");
    key_buf_.append(reinterpret_cast<const char*>(&value), sizeof(value));
    if (uint32_t id = LoadKey(key_buf_); id != kNone) return id;
  }
  uint32_t id = AllocKey();
  keys_[id].int_key = value;
  int_keys_.emplace(value, id);
  return id;
}

// Encoding of a multi-field key: per field, a byte 0 (null) or 1 followed by the value:
// 8 bytes for int-like and double fields, a 4-byte length and the bytes for strings.
uint32_t WindowOperator::MultiKey(const RecordBatch& batch, size_t row) {
  scratch_.clear();
  for (int f : spec_.key_fields) {
    const Column& c = batch.column(f);
    if (c.IsNull(row)) {
      scratch_.push_back('\0');
      continue;
    }
    scratch_.push_back('\1');
    switch (c.type) {
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool: {
        int64_t v = c.ints[row];
        scratch_.append(reinterpret_cast<const char*>(&v), sizeof(v));
        break;
      }
      case Type::kDouble: {
        double v = c.doubles[row];
        if (v == 0) v = 0;  // -0.0 and 0.0 are one key
        scratch_.append(reinterpret_cast<const char*>(&v), sizeof(v));
        break;
      }
      case Type::kString: {
        std::string_view s = c.strings[row];
        uint32_t n = static_cast<uint32_t>(s.size());
        scratch_.append(reinterpret_cast<const char*>(&n), sizeof(n));
        scratch_.append(s.data(), s.size());
        break;
      }
      case Type::kNull:
        break;
    }
  }
  return StringKey(scratch_);
}

// --- Assigning rows to windows --------------------------------------------------------

template <typename KeyOf>
void WindowOperator::Dispatch(const RecordBatch& batch, KeyOf&& key_of, Collector& out) {
  switch (spec_.kind) {
    case WindowKind::kTumbling:
      AssignTumbling(batch, key_of, out);
      break;
    case WindowKind::kSliding:
      AssignSliding(batch, key_of, out);
      break;
    case WindowKind::kSession:
      AssignSession(batch, key_of, out);
      break;
  }
}

template <typename KeyOf>
void WindowOperator::AssignTumbling(const RecordBatch& batch, KeyOf& key_of, Collector& out) {
  const int64_t size = spec_.size_ms;
  const int64_t offset = spec_.offset_ms;
  const int64_t* ts = batch.timestamps().data();
  const size_t n = batch.num_rows();
  // The window of the previous row: most rows fall in it, which saves a division.
  int64_t start = 0;
  bool have_start = false;
  for (size_t row = 0; row < n; ++row) {
    const int64_t t = ts[row];
    if (t == kNoTimestamp) {
      NoTimestamp(batch, row, out);
      continue;
    }
    if (!have_start ||
        static_cast<uint64_t>(t) - static_cast<uint64_t>(start) >= static_cast<uint64_t>(size)) {
      start = FloorStart(t - offset, size) + offset;
      have_start = true;
    }
    const int64_t end = start + size;
    if (end <= late_end_max_) {
      Late(batch, row, out);
      continue;
    }
    const uint32_t key = key_of(row);
    Key& k = keys_[key];
    k.last_used = batch_seq_;
    uint32_t slot = k.cached_slot;
    if (slot == kNone || k.cached_start != start) {
      slot = FindOrAddWindow(key, start, end);
      k.cached_start = start;
      k.cached_slot = slot;
    }
    AddPair(static_cast<uint32_t>(row), slot);
  }
}

template <typename KeyOf>
void WindowOperator::AssignSliding(const RecordBatch& batch, KeyOf& key_of, Collector& out) {
  const int64_t size = spec_.size_ms;
  const int64_t slide = spec_.slide_ms;
  const int64_t offset = spec_.offset_ms;
  const int64_t* ts = batch.timestamps().data();
  const size_t n = batch.num_rows();
  for (size_t row = 0; row < n; ++row) {
    const int64_t t = ts[row];
    if (t == kNoTimestamp) {
      NoTimestamp(batch, row, out);
      continue;
    }
    // The windows holding t start at last, last - slide, ... (> t - size).
    const int64_t last = FloorStart(t - offset, slide) + offset;
    if (last + size <= late_end_max_) {
      Late(batch, row, out);
      continue;
    }
    const uint32_t key = key_of(row);
    keys_[key].last_used = batch_seq_;
    for (int64_t start = last - size + slide; start <= last; start += slide) {
      const int64_t end = start + size;
      if (end <= late_end_max_) continue;  // that window is gone; the later ones take it
      AddPair(static_cast<uint32_t>(row), FindOrAddWindow(key, start, end));
    }
  }
}

template <typename KeyOf>
void WindowOperator::AssignSession(const RecordBatch& batch, KeyOf& key_of, Collector& out) {
  const int64_t gap = spec_.gap_ms;
  const int64_t* ts = batch.timestamps().data();
  const size_t n = batch.num_rows();
  for (size_t row = 0; row < n; ++row) {
    const int64_t t = ts[row];
    if (t == kNoTimestamp) {
      NoTimestamp(batch, row, out);
      continue;
    }
    const int64_t t_end = t + gap;
    const uint32_t key = key_of(row);
    keys_[key].last_used = batch_seq_;
    merge_.clear();
    for (uint32_t s : keys_[key].sessions) {
      const Window& w = windows_[s];
      if (w.start < t_end && t < w.end) merge_.push_back(s);
    }
    if (merge_.empty()) {
      // Late only if no session still held covers or touches the record (Flink checks
      // the merged window).
      if (t_end <= late_end_max_) {
        if (keys_[key].num_windows == 0) FreeKey(key);
        Late(batch, row, out);
        continue;
      }
      AddPair(static_cast<uint32_t>(row), NewWindow(key, t, t_end));
      continue;
    }
    uint32_t target = merge_[0];
    int64_t start = std::min(t, windows_[target].start);
    int64_t end = std::max(t_end, windows_[target].end);
    if (merge_.size() > 1) {
      // The record bridges sessions: fold them into the oldest. Pending pairs may name
      // the sessions that disappear, so apply them first.
      ApplyPairs(batch);
      for (uint32_t s : merge_) {
        if (windows_[s].seq < windows_[target].seq) target = s;
      }
      for (uint32_t s : merge_) {
        start = std::min(start, windows_[s].start);
        end = std::max(end, windows_[s].end);
        if (s == target) continue;
        windows_[target].rows += windows_[s].rows;
        for (auto& agg : aggs_) agg->Merge(target, s);
        Dequeue(s);
        FreeWindow(s);
      }
    }
    windows_[target].start = start;
    SetEnd(target, end);
    AddPair(static_cast<uint32_t>(row), target);
  }
}

void WindowOperator::ApplyPairs(const RecordBatch& batch) {
  if (num_pairs_ == 0) return;
  for (auto& agg : aggs_) agg->Update(batch, pair_rows_.data(), pair_slots_.data(), num_pairs_);
  num_pairs_ = 0;
}

void WindowOperator::Late(const RecordBatch& batch, size_t row, Collector& out) {
  if (late_records_ != nullptr) late_records_->Add(1);
  out.EmitDeadLetterRow("late", batch, row);
}

void WindowOperator::NoTimestamp(const RecordBatch& batch, size_t row, Collector& out) {
  out.EmitDeadLetterRow("no_timestamp", batch, row);
}

// --- Window slots and queues ---------------------------------------------------------

uint32_t WindowOperator::FindOrAddWindow(uint32_t key, int64_t start, int64_t end) {
  auto [it, inserted] = window_index_.try_emplace(std::make_pair(key, start), kNone);
  if (inserted) it->second = NewWindow(key, start, end);
  return it->second;
}

uint32_t WindowOperator::AllocWindow() {
  if (!free_windows_.empty()) {
    const uint32_t slot = free_windows_.back();
    free_windows_.pop_back();
    return slot;
  }
  windows_.emplace_back();
  for (auto& agg : aggs_) agg->Resize(windows_.size());
  return static_cast<uint32_t>(windows_.size() - 1);
}

uint32_t WindowOperator::NewWindow(uint32_t key, int64_t start, int64_t end) {
  const uint32_t slot = AllocWindow();
  Window& w = windows_[slot];
  w.start = start;
  w.end = end;
  w.seq = next_seq_++;
  w.rows = 0;
  w.key = key;
  w.dirty = false;
  Key& k = keys_[key];
  ++k.num_windows;
  if (spec_.kind == WindowKind::kSession) k.sessions.push_back(slot);
  Enqueue(slot);
  return slot;
}

void WindowOperator::FreeWindow(uint32_t slot) {
  Window& w = windows_[slot];
  Key& k = keys_[w.key];
  if (spec_.kind == WindowKind::kSession) {
    auto it = std::find(k.sessions.begin(), k.sessions.end(), slot);
    if (it != k.sessions.end()) {
      *it = k.sessions.back();
      k.sessions.pop_back();
    }
  } else {
    window_index_.erase(std::make_pair(w.key, w.start));
    if (k.cached_slot == slot) k.cached_slot = kNone;
  }
  for (auto& agg : aggs_) agg->Reset(slot);
  w.state = State::kFree;
  w.dirty = false;
  free_windows_.push_back(slot);
  if (--k.num_windows == 0) FreeKey(w.key);
}

int64_t WindowOperator::CleanupTime(int64_t end) const {
  return SatAdd(end - 1, spec_.allowed_lateness_ms);
}

// A window not yet due waits in fire_queue_; a due one (fired, or created or extended by
// a record within the allowed lateness) waits in cleanup_queue_.
void WindowOperator::Enqueue(uint32_t slot) {
  Window& w = windows_[slot];
  if (w.end <= due_end_max_) {
    w.state = State::kFired;
    cleanup_queue_.emplace(CleanupTime(w.end), w.seq, slot);
  } else {
    w.state = State::kPending;
    w.queued_end = w.end;
    fire_queue_.emplace(w.end, w.seq, slot);
  }
}

void WindowOperator::Dequeue(uint32_t slot) {
  const Window& w = windows_[slot];
  if (w.state == State::kPending) {
    fire_queue_.erase(QueueEntry(w.queued_end, w.seq, slot));
  } else if (w.state == State::kFired) {
    cleanup_queue_.erase(QueueEntry(CleanupTime(w.end), w.seq, slot));
  }
}

void WindowOperator::SetEnd(uint32_t slot, int64_t end) {
  Window& w = windows_[slot];
  if (w.end == end) return;
  if (w.state == State::kPending && end > due_end_max_) {
    w.end = end;  // still pending: FireUpTo re-queues it when its old entry comes up
    return;
  }
  Dequeue(slot);
  w.end = end;
  Enqueue(slot);
}

void WindowOperator::MarkDirty(uint32_t slot) {
  windows_[slot].dirty = true;
  dirty_.push_back(slot);
}

// --- Firing ----------------------------------------------------------------------------

void WindowOperator::SetWatermark(int64_t watermark) {
  watermark_ = std::max(watermark_, watermark);
  due_end_max_ = SatAdd(watermark_, 1);
  late_end_max_ = SatAdd(SatAdd(watermark_, -spec_.allowed_lateness_ms), 1);
}

void WindowOperator::FireUpTo(int64_t watermark, Collector& out) {
  SetWatermark(watermark);
  // Windows in memory fire; then spilled keys with due windows come back, a bounded number
  // at a time, and theirs fire; until none is left.
  do {
    FireInMemory(out);
    if (spilled_ != nullptr) MaybeSpill();
  } while (spilled_keys_ > 0 && LoadDueKeys());
}

void WindowOperator::FireInMemory(Collector& out) {
  while (!fire_queue_.empty()) {
    auto it = fire_queue_.begin();
    const auto [end, seq, slot] = *it;
    if (end > due_end_max_) break;
    if (windows_[slot].end != end) {
      // A session that grew since it was queued: move its entry (reusing the node).
      auto node = fire_queue_.extract(it);
      windows_[slot].queued_end = windows_[slot].end;
      node.value() = QueueEntry(windows_[slot].end, seq, slot);
      fire_queue_.insert(std::move(node));
      continue;
    }
    fire_queue_.erase(it);
    EmitRow(slot, out);
    const int64_t cleanup = CleanupTime(end);
    if (cleanup <= watermark_) {
      FreeWindow(slot);
    } else {
      windows_[slot].state = State::kFired;
      cleanup_queue_.emplace(cleanup, seq, slot);
    }
  }
  while (!cleanup_queue_.empty() && std::get<0>(*cleanup_queue_.begin()) <= watermark_) {
    const uint32_t slot = std::get<2>(*cleanup_queue_.begin());
    cleanup_queue_.erase(cleanup_queue_.begin());
    FreeWindow(slot);
  }
}

}  // namespace sluice::operators::window
