// Output of the window operator: the complete row of a fired window (keys decoded,
// window bounds, aggregate values), late re-emission of fired windows that records of a
// batch updated, and output batches of at most kMaxOutputRows rows.

#include "operators/window/window_operator.h"

#include <algorithm>
#include <cstring>

namespace sluice::operators::window {

// Late firings: every fired window a record of this batch updated emits its complete
// row once, in window-end order.
void WindowOperator::EmitDirty(Collector& out) {
  if (dirty_.empty()) return;
  std::sort(dirty_.begin(), dirty_.end(), [this](uint32_t a, uint32_t b) {
    const Window& x = windows_[a];
    const Window& y = windows_[b];
    return x.end != y.end ? x.end < y.end : x.seq < y.seq;
  });
  for (uint32_t slot : dirty_) {
    Window& w = windows_[slot];
    if (!w.dirty) continue;  // freed by a merge, or listed twice
    w.dirty = false;
    if (w.state != State::kFired) continue;  // a later record extended it past the watermark
    EmitRow(slot, out);
  }
  dirty_.clear();
}

void WindowOperator::EmitRow(uint32_t slot, Collector& out) {
  if (out_batch_ == nullptr) out_batch_ = out.NewBatch(spec_.output_schema);
  RecordBatch& b = *out_batch_;
  const size_t row = b.num_rows();
  const Window& w = windows_[slot];
  const Key& key = keys_[w.key];
  for (size_t i = 0; i < spec_.output.size(); ++i) {
    const OutputColumnSpec& c = spec_.output[i];
    Column& col = b.column(static_cast<int>(i));
    switch (c.source) {
      case OutputColumnSpec::Source::kKey:
        AppendKey(key, c.index, col, b.arena(), row);
        break;
      case OutputColumnSpec::Source::kWindowStart:
        AppendInt(col, w.start);
        break;
      case OutputColumnSpec::Source::kWindowEnd:
        AppendInt(col, w.end);
        break;
      case OutputColumnSpec::Source::kAggregate:
        if (agg_index_[c.index] < 0) {
          AppendInt(col, w.rows);
        } else {
          aggs_[agg_index_[c.index]]->Append(slot, col, b.arena(), row);
        }
        break;
    }
  }
  b.timestamps().push_back(w.end - 1);
  b.set_num_rows(row + 1);
  if (b.num_rows() >= kMaxOutputRows) FlushOutput(out);
}

void WindowOperator::AppendKey(const Key& key, int key_index, Column& col, Arena& arena,
                               size_t row) const {
  switch (key_mode_) {
    case KeyMode::kGlobal:
      AppendNull(col, row);
      return;
    case KeyMode::kString:
      if (key.is_null) {
        AppendNull(col, row);
      } else {
        AppendString(col, arena, key.encoded);
      }
      return;
    case KeyMode::kInt:
      if (key.is_null) {
        AppendNull(col, row);
      } else {
        AppendInt(col, key.int_key);
      }
      return;
    case KeyMode::kMulti:
      break;
  }
  const char* p = key.encoded.data();
  for (int i = 0;; ++i) {
    const Type type = spec_.input_schema->field(spec_.key_fields[i]).type;
    const bool present = *p++ != 0;
    size_t len = 0;
    if (present) {
      if (type == Type::kString) {
        uint32_t n;
        std::memcpy(&n, p, sizeof(n));
        p += sizeof(n);
        len = n;
      } else {
        len = 8;
      }
    }
    if (i == key_index) {
      if (!present) {
        AppendNull(col, row);
      } else if (type == Type::kString) {
        AppendString(col, arena, std::string_view(p, len));
      } else if (type == Type::kDouble) {
        double v;
        std::memcpy(&v, p, sizeof(v));
        AppendDouble(col, v);
      } else {
        int64_t v;
        std::memcpy(&v, p, sizeof(v));
        AppendInt(col, v);
      }
      return;
    }
    p += len;
  }
}

void WindowOperator::FlushOutput(Collector& out) {
  if (out_batch_ != nullptr && out_batch_->num_rows() > 0) out.Emit(std::move(out_batch_));
}

}  // namespace sluice::operators::window
