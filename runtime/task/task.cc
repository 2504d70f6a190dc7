#include "runtime/task/task.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice::runtime {

// ---------------------------------------------------------------------------------
// JobShared

JobShared::JobShared(const JobPlan* plan, std::string run_id, std::string job_id, int64_t attempt)
    : plan_(plan), run_id_(std::move(run_id)), job_id_(std::move(job_id)), attempt_(attempt) {
  for (size_t i = 0; i < plan->nodes.size(); ++i) metrics_.push_back(std::make_unique<NodeMetrics>());
}

void JobShared::Fail(absl::Status status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_error_.ok()) first_error_ = std::move(status);
  }
  Cancel();
}

void JobShared::Cancel() {
  if (cancelled_.exchange(true)) return;
  for (Mailbox* m : mailboxes_) m->Close();
  for (auto& hook : cancel_hooks_) hook();
}

absl::Status JobShared::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_error_;
}

// ---------------------------------------------------------------------------------
// ChainLink

ChainLink::ChainLink(Task* task, const PlanNode* node, int subtask)
    : task_(task), node_(node), metrics_(&task->job().metrics(node->index)), subtask_(subtask),
      logger_(Logger::ForOperator(task->job().log_sink(), task->job().job_id(), node->id, subtask)),
      states_([task]() { return task->state_store(); }, node->id, task->job().plan().max_parallelism,
              first_key_group(), last_key_group()) {}

void ChainLink::AssignEventTime(RecordBatch& batch) {
  const Column& col = batch.column(node_->event_time_field);
  auto& ts = batch.timestamps();
  const size_t n = batch.num_rows();
  ts.resize(n);
  bool any_null = !col.nulls.empty();
  int64_t max_ts = max_timestamp_;
  for (size_t r = 0; r < n; ++r) {
    int64_t t = col.ints[r];
    ts[r] = t;
    if (t > max_ts) max_ts = t;
  }
  if (any_null) {
    keep_.clear();
    for (size_t r = 0; r < n; ++r) {
      if (col.nulls[r]) {
        EmitDeadLetterRow("missing_event_time", batch, r);
      } else {
        keep_.push_back(static_cast<uint32_t>(r));
      }
    }
    batch.Select(keep_);
  }
  max_timestamp_ = max_ts;
}

void ChainLink::Emit(BatchPtr batch) {
  if (batch == nullptr || batch->num_rows() == 0 || task_->failed()) return;
  const bool assigns_time = node_->event_time_field >= 0;
  if (assigns_time) AssignEventTime(*batch);
  metrics_->records_out.Add(static_cast<int64_t>(batch->num_rows()));
  if (next != nullptr) {
    next->Deliver(0, std::move(batch));
  } else {
    task_->EmitDownstream(std::move(batch), metrics_);
  }
  if (assigns_time && !task_->job().plan().batch_mode && max_timestamp_ != kNoTimestamp) {
    // Bounded out-of-orderness: no record older than max - disorder is expected.
    int64_t wm = max_timestamp_ - node_->max_out_of_orderness_ms - 1;
    if (wm > last_watermark_) {
      last_watermark_ = wm;
      ForwardWatermark(wm);
    }
  }
}

void ChainLink::EmitWatermark(int64_t watermark) {
  // A node that assigns event time is the watermark authority for what follows it.
  if (node_->event_time_field >= 0 && watermark != kMaxWatermark) return;
  ForwardWatermark(watermark);
}

void ChainLink::ForwardWatermark(int64_t watermark) {
  if (task_->failed()) return;
  if (next != nullptr) {
    next->AdvanceWatermark(watermark);
  } else {
    task_->BroadcastWatermark(watermark);
  }
}

void ChainLink::CountDeadLetter(std::string_view reason) {
  auto it = dead_letter_counters_.find(reason);
  if (it == dead_letter_counters_.end()) {
    it = dead_letter_counters_.emplace(std::string(reason), metrics_->DeadLetterCounter(reason)).first;
  }
  it->second->Add(1);
}

void ChainLink::EmitDeadLetter(std::string_view reason, std::string_view record) {
  CountDeadLetter(reason);
  DeadLetterOutput& out = task_->job().dead_letters();
  if (!out.enabled()) return;
  DeadLetterOutput::FormatLine(node_->id, reason, record, &dead_letter_buffer_);
  if (dead_letter_buffer_.size() >= (256 << 10)) FlushDeadLetters();
}

void ChainLink::EmitDeadLetterRow(std::string_view reason, const RecordBatch& batch, size_t row) {
  CountDeadLetter(reason);
  DeadLetterOutput& out = task_->job().dead_letters();
  if (!out.enabled()) return;
  DeadLetterOutput::FormatRowLine(node_->id, reason, batch, row, &dead_letter_buffer_);
  if (dead_letter_buffer_.size() >= (256 << 10)) FlushDeadLetters();
}

void ChainLink::FlushDeadLetters() {
  task_->job().dead_letters().WriteLines(dead_letter_buffer_);
  dead_letter_buffer_.clear();
}

void ChainLink::CountFiltered(int64_t n) { metrics_->filtered.Add(n); }

BatchPtr ChainLink::NewBatch(const SchemaPtr& schema) {
  auto b = std::make_unique<RecordBatch>(schema);
  return b;
}

const std::string& ChainLink::node_id() const { return node_->id; }
int ChainLink::parallelism() const { return node_->parallelism; }
int ChainLink::max_parallelism() const { return task_->job().plan().max_parallelism; }
int ChainLink::first_key_group() const {
  int maxp = max_parallelism(), p = parallelism();
  return (subtask_ * maxp + p - 1) / p;
}
int ChainLink::last_key_group() const {
  int maxp = max_parallelism(), p = parallelism();
  return ((subtask_ + 1) * maxp - 1) / p;
}
bool ChainLink::batch_mode() const { return task_->job().plan().batch_mode; }
bool ChainLink::checkpointing() const { return task_->job().checkpoint_listener() != nullptr; }
const std::string& ChainLink::run_id() const { return task_->job().run_id(); }
const std::string& ChainLink::job_id() const { return task_->job().job_id(); }
int64_t ChainLink::attempt() const { return task_->job().attempt(); }
Clock& ChainLink::clock() const { return task_->job().clock(); }
Counter* ChainLink::GetCounter(std::string_view name) { return metrics_->GetCounter(name); }

KeyedState* ChainLink::GetKeyedState(std::string_view name) {
  KeyedState* state = states_.Legacy(name);
  if (state == nullptr) {
    task_->Fail(*node_, absl::FailedPreconditionError(absl::StrCat(
                            "GetKeyedState('", Sv(name), "'): the state cannot be opened as a value state (",
                            states_.Value(name).status().message(), ")")));
  }
  return state;
}

std::string Task::StoreName() const { return absl::StrCat(job_->run_id(), "-v", vertex_index_, "-s", subtask_); }

absl::StatusOr<KvStore*> Task::state_store() {
  if (store_ != nullptr) return store_.get();
  const JobPlan& plan = job_->plan();
  if (plan.state_backend == "rocksdb") {
    auto store = OpenRocksDbKvStore(StoreName());
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
  } else {
    store_ = NewInMemoryKvStore();
  }
  return store_.get();
}

void ChainLink::Deliver(int port, BatchPtr batch) {
  if (task_->failed()) return;
  metrics_->records_in.Add(static_cast<int64_t>(batch->num_rows()));
  absl::Status st = op->Process(port, std::move(batch), *this);
  if (!st.ok()) task_->Fail(*node_, st);
  task_->CheckState(*node_);
}

absl::StatusOr<TimerService*> ChainLink::GetTimerService() {
  if (keyed_timers_ == nullptr) {
    auto state = states_.Map(kTimersStateName);
    if (!state.ok()) return state.status();
    keyed_timers_ = std::make_unique<KeyedTimers>(*state, static_cast<uint32_t>(first_key_group()),
                                                  static_cast<uint32_t>(last_key_group()));
  }
  return keyed_timers_.get();
}

void ChainLink::FireTimers(int64_t watermark) {
  while (!timers_.empty() && *timers_.begin() <= watermark && !task_->failed()) {
    int64_t t = *timers_.begin();
    timers_.erase(timers_.begin());
    absl::Status st = op->OnTimer(t, *this);
    if (!st.ok()) task_->Fail(*node_, st);
    task_->CheckState(*node_);
  }
  // Keyed timers: those the operator registered, or that a restored checkpoint holds.
  if (keyed_timers_ == nullptr && states_.Has(kTimersStateName)) {
    absl::StatusOr<TimerService*> restored = GetTimerService();
    if (!restored.ok()) {
      task_->Fail(*node_, restored.status());
      return;
    }
  }
  if (keyed_timers_ == nullptr || task_->failed()) return;
  absl::Status st = keyed_timers_->Fire(watermark, [this](const StateKey& k, int64_t t) {
    absl::Status fired = op->OnKeyedTimer(k, t, *this);
    task_->CheckState(*node_);
    return task_->failed() ? absl::CancelledError("the task failed") : fired;
  });
  if (!st.ok() && !task_->failed()) task_->Fail(*node_, st);
}

void ChainLink::AdvanceWatermark(int64_t watermark) {
  if (task_->failed()) return;
  FireTimers(watermark);
  absl::Status st = op->OnWatermark(watermark, *this);
  if (!st.ok()) task_->Fail(*node_, st);
  task_->CheckState(*node_);
}

void ChainLink::EndOfInput() {
  if (task_->failed() || op == nullptr) return;
  FireTimers(kMaxWatermark);
  absl::Status st = op->OnEndOfInput(*this);
  if (!st.ok()) task_->Fail(*node_, st);
  task_->CheckState(*node_);
}

// ---------------------------------------------------------------------------------
// Task

Task::Task(JobShared* job, int vertex, int subtask)
    : job_(job),
      vertex_(&job->plan().vertices[vertex]),
      vertex_index_(vertex),
      subtask_(subtask),
      checkpoints_(job->checkpoint_listener()) {
  name_ = absl::StrCat(vertex_->name, "#", subtask);
  if (!vertex_->is_source) {
    mailbox_ = std::make_shared<Mailbox>(16);
    job_->RegisterMailbox(mailbox_.get());
  }
}

Task::~Task() = default;

absl::Status Task::Init(const OperatorRegistry& registry) {
  const JobPlan& plan = job_->plan();
  for (int n : vertex_->chain) {
    const PlanNode& node = plan.nodes[n];
    auto link = std::make_unique<ChainLink>(this, &node, subtask_);
    OperatorConfig config = MakeOperatorConfig(node, subtask_);
    config.batch_size = plan.batch_size;
    if (node.kind == OperatorRegistry::Kind::kSource) {
      auto src = (*registry.FindSource(node.type))(config);
      if (!src.ok()) return src.status();
      source_ = std::move(*src);
    } else {
      auto op = (*registry.FindOperator(node.type))(config);
      if (!op.ok()) return op.status();
      link->op = std::move(*op);
    }
    if (!links_.empty()) links_.back()->next = link.get();
    links_.push_back(std::move(link));
  }
  return absl::OkStatus();
}

void Task::SetInputChannels(std::vector<int> channel_ports) { channel_ports_ = std::move(channel_ports); }

void Task::AddOutEdge(const PlanEdge& edge, std::vector<OutTarget> targets) {
  OutEdge e;
  e.partitioning = edge.partitioning;
  e.key_indices = edge.key_indices;
  e.targets = std::move(targets);
  e.target_rows.resize(e.targets.size());
  e.pending.resize(e.targets.size());
  out_edges_.push_back(std::move(e));
}

void Task::Fail(const PlanNode& node, const absl::Status& status) {
  std::string msg = absl::StrCat("task ", name_, " (operator '", node.id, "'): ", status.message());
  job_->Fail(absl::Status(status.code(), msg));
}

absl::Status Task::OpenAll() {
  opened_ = true;
  for (auto& link : links_) {
    absl::Status st = link->op ? link->op->Open(*link) : source_->Open(*link);
    if (!st.ok()) {
      return absl::Status(st.code(), absl::StrCat("opening '", link->node().id, "': ", st.message()));
    }
  }
  return absl::OkStatus();
}

void Task::CloseAll() {
  for (auto& link : links_) link->FlushDeadLetters();
  if (!opened_) return;
  for (auto& link : links_) {
    absl::Status st = link->op ? link->op->Close() : source_->Close();
    if (!st.ok()) Fail(link->node(), st);
  }
}

void Task::Run() {
  if (restore_.has_value()) {
    absl::Status st = RestoreAll();
    if (!st.ok()) {
      job_->Fail(absl::Status(st.code(), absl::StrCat("task ", name_, ": ", st.message())));
      return;
    }
  }
  absl::Status st = OpenAll();
  if (!st.ok()) {
    job_->Fail(absl::Status(st.code(), absl::StrCat("task ", name_, ": ", st.message())));
  } else if (source_ != nullptr) {
    RunSource();
  } else {
    RunMailbox();
  }
  CloseAll();
  if (!failed() && checkpoints_ != nullptr) checkpoints_->Finished(*this);
}

void Task::RunSource() {
  ChainLink* head = links_.front().get();
  if (!data_ended_) {
    while (!failed()) {
      if (checkpoints_ != nullptr) PollCheckpointEvents();
      auto more = source_->Poll(*head);
      if (!more.ok()) {
        Fail(head->node(), more.status());
        return;
      }
      CheckState(head->node());
      if (!*more) break;
    }
  }
  if (failed()) return;
  EndOfData();
  if (checkpoints_ != nullptr && !failed()) {
    // Sinks commit what the end of data flushed when a checkpoint taken after it
    // completes: wait for one before closing the outputs.
    const int64_t ended_at = snapshot_id_;
    checkpoints_->SourceEnded(*this);
    int64_t final_id = 0;
    while (!failed()) {
      PollCheckpointEvents();
      if (final_id == 0 && snapshot_id_ > ended_at) final_id = snapshot_id_;
      if (final_id != 0 && notified_id_ >= final_id) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (failed()) return;
  }
  CloseOutputs();
}

void Task::RunMailbox() {
  const size_t channels = channel_ports_.size();
  std::vector<int64_t> channel_wm(channels, kNoTimestamp);
  std::vector<bool> data_ended(channels, false);
  closed_.assign(channels, false);
  barrier_seen_.assign(channels, false);
  size_t open = channels;
  size_t data_open = channels;
  int64_t current_wm = kNoTimestamp;
  ChainLink* head = links_.front().get();

  auto update_watermark = [&] {
    int64_t min_wm = kMaxWatermark;
    for (size_t c = 0; c < channels; ++c) {
      if (!data_ended[c] && channel_wm[c] < min_wm) min_wm = channel_wm[c];
    }
    if (min_wm != kMaxWatermark && min_wm > current_wm) {
      current_wm = min_wm;
      head->AdvanceWatermark(current_wm);
    }
  };
  auto end_data = [&](int c) {
    if (data_ended[c]) return;
    data_ended[c] = true;
    if (--data_open == 0) {
      EndOfData();
    } else {
      update_watermark();
    }
  };

  MailboxItem item;
  while (open > 0 && !failed() && mailbox_->Pop(&item)) {
    switch (item.kind) {
      case MailboxItem::Kind::kBatch:
        metrics_.records_in.Add(static_cast<int64_t>(item.batch->num_rows()));
        head->Deliver(channel_ports_[item.channel], std::move(item.batch));
        break;
      case MailboxItem::Kind::kWatermark:
        if (item.watermark > channel_wm[item.channel]) {
          channel_wm[item.channel] = item.watermark;
          update_watermark();
        }
        break;
      case MailboxItem::Kind::kEndOfData:
        end_data(item.channel);
        break;
      case MailboxItem::Kind::kBarrier:
        if (checkpoints_ != nullptr) OnBarrier(item.channel, item.checkpoint_id);
        break;
      case MailboxItem::Kind::kEndOfInput:
        if (!closed_[item.channel]) {
          closed_[item.channel] = true;
          --open;
          end_data(item.channel);
          MaybeAligned();  // a closed channel counts as aligned
        }
        break;
      case MailboxItem::Kind::kCheckpointComplete:
        NotifyComplete(item.checkpoint_id);
        break;
    }
  }
  if (open > 0 || failed()) return;
  // The last checkpoint this task took (after its end of data) must complete before
  // the outputs close, so its sinks commit.
  while (checkpoints_ != nullptr && notified_id_ < snapshot_id_ && !failed() && mailbox_->Pop(&item)) {
    if (item.kind == MailboxItem::Kind::kCheckpointComplete) NotifyComplete(item.checkpoint_id);
  }
  if (!failed()) CloseOutputs();
}

void Task::EndOfData() {
  if (!data_ended_) {
    for (auto& link : links_) link->EndOfInput();
    data_ended_ = true;
  }
  if (failed()) return;
  FlushPending(nullptr);
  SendToAll(MailboxItem::Kind::kEndOfData, 0);
}

void Task::CloseOutputs() { SendToAll(MailboxItem::Kind::kEndOfInput, 0); }

void Task::SendToAll(MailboxItem::Kind kind, int64_t checkpoint_id) {
  for (const OutEdge& e : out_edges_) {
    for (const OutTarget& t : e.targets) {
      MailboxItem item;
      item.kind = kind;
      item.channel = t.channel;
      item.checkpoint_id = checkpoint_id;
      Push(t, std::move(item), nullptr);
    }
  }
}

}  // namespace sluice::runtime
