// How a task's output reaches its downstream channels: the tail's batches partitioned
// per out edge (forward, shuffle round robin, broadcast, key-by through key groups into
// per-target pending batches), watermarks and end-of-input sent to every target, and the
// time a full downstream mailbox blocked us counted as backpressure. On the task thread.

#include "absl/strings/str_cat.h"
#include "runtime/task/task.h"

namespace sluice::runtime {

void Task::Push(const OutTarget& target, MailboxItem item, NodeMetrics* metrics) {
  int64_t blocked = 0;
  if (!target.out->Push(std::move(item), &blocked) && !failed()) {
    Fail(links_.back()->node(),
         absl::UnavailableError(absl::StrCat("a downstream channel closed: ", target.out->FailureReason())));
  }
  if (blocked > 0) {
    metrics_.backpressure_ns.Add(blocked);
    if (metrics != nullptr) metrics->backpressure_ns.Add(blocked);
  }
}

void Task::FlushPending(NodeMetrics* metrics) {
  for (OutEdge& e : out_edges_) {
    for (size_t t = 0; t < e.pending.size(); ++t) {
      if (e.pending[t] == nullptr || e.pending[t]->num_rows() == 0) continue;
      MailboxItem item;
      item.channel = e.targets[t].channel;
      item.batch = std::move(e.pending[t]);
      Push(e.targets[t], std::move(item), metrics);
    }
  }
}

void Task::BroadcastWatermark(int64_t watermark) {
  FlushPending(nullptr);  // records before the watermark that covers them
  for (const OutEdge& e : out_edges_) {
    for (const OutTarget& t : e.targets) {
      MailboxItem item;
      item.kind = MailboxItem::Kind::kWatermark;
      item.channel = t.channel;
      item.watermark = watermark;
      Push(t, std::move(item), nullptr);
    }
  }
}

void Task::EmitDownstream(BatchPtr batch, NodeMetrics* metrics) {
  metrics_.records_out.Add(static_cast<int64_t>(batch->num_rows()));
  for (size_t i = 0; i < out_edges_.size(); ++i) {
    OutEdge& e = out_edges_[i];
    BatchPtr b = i + 1 == out_edges_.size() ? std::move(batch) : batch->Clone();
    MailboxItem item;
    item.kind = MailboxItem::Kind::kBatch;
    switch (e.partitioning) {
      case v1::KEY_BY:
        if (e.targets.size() > 1) {
          RouteKeyBy(e, std::move(b), metrics);
          continue;
        }
        [[fallthrough]];
      case v1::FORWARD:
        item.channel = e.targets[0].channel;
        item.batch = std::move(b);
        Push(e.targets[0], std::move(item), metrics);
        break;
      case v1::SHUFFLE: {
        const OutTarget& t = e.targets[e.round_robin++ % e.targets.size()];
        item.channel = t.channel;
        item.batch = std::move(b);
        Push(t, std::move(item), metrics);
        break;
      }
      case v1::BROADCAST:
        for (size_t k = 0; k < e.targets.size(); ++k) {
          MailboxItem copy;
          copy.channel = e.targets[k].channel;
          copy.batch = k + 1 == e.targets.size() ? std::move(b) : b->Clone();
          Push(e.targets[k], std::move(copy), metrics);
        }
        break;
      default:
        Fail(links_.back()->node(), absl::InternalError("unresolved partitioning"));
        return;
    }
  }
}


void Task::RouteKeyBy(OutEdge& e, BatchPtr batch, NodeMetrics* metrics) {
  const size_t n = batch->num_rows();
  const int maxp = job_->plan().max_parallelism;
  const int targets = static_cast<int>(e.targets.size());
  for (auto& rows : e.target_rows) rows.clear();
  for (size_t r = 0; r < n; ++r) {
    uint64_t h = 0;
    for (int k : e.key_indices) h = HashKeyField(batch->column(k), r, h);
    int t = SubtaskForKeyGroup(KeyGroupOf(h, maxp), maxp, targets);
    e.target_rows[t].push_back(static_cast<uint32_t>(r));
  }
  // Gather each target's rows into its pending batch; send it once full.
  const size_t full = static_cast<size_t>(job_->plan().batch_size);
  for (int t = 0; t < targets; ++t) {
    if (e.target_rows[t].empty()) continue;
    BatchPtr& pending = e.pending[t];
    if (pending == nullptr) {
      if (e.target_rows[t].size() >= full) {  // already a full batch: send it as is
        auto out = std::make_unique<RecordBatch>(batch->schema());
        out->AppendRows(*batch, e.target_rows[t]);
        MailboxItem item;
        item.channel = e.targets[t].channel;
        item.batch = std::move(out);
        Push(e.targets[t], std::move(item), metrics);
        continue;
      }
      pending = std::make_unique<RecordBatch>(batch->schema());
    }
    pending->AppendRows(*batch, e.target_rows[t]);
    if (pending->num_rows() >= full) {
      MailboxItem item;
      item.channel = e.targets[t].channel;
      item.batch = std::move(pending);
      Push(e.targets[t], std::move(item), metrics);
    }
  }
}

}  // namespace sluice::runtime
