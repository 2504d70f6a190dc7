// The checkpoint side of a task: barriers, alignment, snapshots, restore and the
// completion notifications (see task.h and docs/checkpoints.md).
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/strings.h"
#include "common/status_macros.h"
#include "runtime/task/task.h"
#include "runtime/task/task_restore.h"
#include "runtime/state/keyed_states.h"

namespace sluice::runtime {

namespace {
void PutI64(std::string* out, int64_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof(v)); }
bool GetI64(std::string_view* in, int64_t* v) {
  if (in->size() < sizeof(*v)) return false;
  std::memcpy(v, in->data(), sizeof(*v));
  in->remove_prefix(sizeof(*v));
  return true;
}
}  // namespace

std::string ChainLink::SnapshotRuntimeState() const {
  std::string out;
  PutI64(&out, max_timestamp_);
  PutI64(&out, last_watermark_);
  PutI64(&out, static_cast<int64_t>(timers_.size()));
  for (int64_t t : timers_) PutI64(&out, t);
  return out;
}

namespace {
bool ParseRuntimeState(std::string_view in, int64_t* max_timestamp, int64_t* watermark, std::vector<int64_t>* timers) {
  int64_t n;
  if (!GetI64(&in, max_timestamp) || !GetI64(&in, watermark) || !GetI64(&in, &n) || n < 0 ||
      static_cast<size_t>(n) != in.size() / sizeof(int64_t) || in.size() % sizeof(int64_t) != 0) {
    return false;
  }
  timers->resize(static_cast<size_t>(n));
  for (int64_t& t : *timers) GetI64(&in, &t);
  return true;
}
}  // namespace

bool ChainLink::RestoreRuntimeState(std::string_view in) {
  std::vector<int64_t> timers;
  if (!ParseRuntimeState(in, &max_timestamp_, &last_watermark_, &timers)) return false;
  timers_.clear();
  timers_.insert(timers.begin(), timers.end());
  return true;
}

bool ChainLink::MergeRuntimeState(std::string_view in, bool first) {
  int64_t max_ts, wm;
  std::vector<int64_t> timers;
  if (!ParseRuntimeState(in, &max_ts, &wm, &timers)) return false;
  if (first) {
    max_timestamp_ = max_ts;
    last_watermark_ = wm;
    timers_.clear();
  } else {
    // The least advanced old subtask's: a watermark derived from the most advanced one
    // would make the others' records late (their partitions move here too).
    max_timestamp_ = std::min(max_timestamp_, max_ts);
    last_watermark_ = std::min(last_watermark_, wm);
  }
  for (int64_t t : timers) {
    if (timers_.count(t) == 0) timers_.insert(t);
  }
  return true;
}

namespace {

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class BlobWriter : public SnapshotWriter {
 public:
  BlobWriter(int64_t id, std::map<std::string, std::string, std::less<>>* blobs) : id_(id), blobs_(blobs) {}
  int64_t checkpoint_id() const override { return id_; }
  void Write(std::string_view name, std::string_view bytes) override { (*blobs_)[std::string(name)] = bytes; }

 private:
  int64_t id_;
  std::map<std::string, std::string, std::less<>>* blobs_;
};

class BlobReader : public SnapshotReader {
 public:
  explicit BlobReader(const std::map<std::string, std::string, std::less<>>* blobs) : blobs_(blobs) {}
  bool Read(std::string_view name, std::string* bytes) override {
    if (blobs_ == nullptr) return false;
    auto it = blobs_->find(name);
    if (it == blobs_->end()) return false;
    *bytes = it->second;
    return true;
  }

 private:
  const std::map<std::string, std::string, std::less<>>* blobs_;
};

class RescaledReader : public RescaledSnapshotReader {
 public:
  RescaledReader(const NodeRestore* node, const Context& ctx) : node_(node), ctx_(ctx) {}
  int old_parallelism() const override { return node_->old_parallelism; }
  int subtask_index() const override { return ctx_.subtask_index(); }
  int parallelism() const override { return ctx_.parallelism(); }
  int max_parallelism() const override { return ctx_.max_parallelism(); }
  int first_key_group() const override { return ctx_.first_key_group(); }
  int last_key_group() const override { return ctx_.last_key_group(); }
  bool Read(int old_subtask, std::string_view name, std::string* bytes) override {
    if (old_subtask < 0 || old_subtask >= static_cast<int>(node_->subtasks.size())) return false;
    const BlobMap* blobs = node_->subtasks[old_subtask];
    if (blobs == nullptr) return false;
    auto it = blobs->find(name);
    if (it == blobs->end()) return false;
    *bytes = it->second;
    return true;
  }

 private:
  const NodeRestore* node_;
  const Context& ctx_;
};

constexpr std::string_view kLinkBlob = kLinkStateBlob;
constexpr std::string_view kStateBlobPrefix = kKeyedStateBlobPrefix;  // + the state's name (keyed_states.h)

bool IsStateBlob(std::string_view name) { return name.compare(0, kStateBlobPrefix.size(), kStateBlobPrefix) == 0; }

// The instance blob of the task that ran old subtask `old`, if its keyed state is native.
const std::string* NativeBlobOf(const NodeRestore& node, size_t old) {
  const BlobMap* blobs = node.subtasks[old];
  const BlobMap* own = node.task_blobs.size() > old ? node.task_blobs[old] : nullptr;
  if (blobs == nullptr || own == nullptr) return nullptr;
  auto it = own->find(kNativeStateBlob);
  return it == own->end() ? nullptr : &it->second;
}

}  // namespace

absl::Status Task::RestoreAll() {
  const TaskRestore& cp = *restore_;
  snapshot_id_ = notified_id_ = cp.id;
  data_ended_ = cp.data_ended;
  auto log = GetLogger("task");
  const int64_t start = SteadyNs();
  bool rescaled = false;
  int64_t bytes = 0;
  for (const auto& [node, nr] : cp.nodes) {
    rescaled = rescaled || nr.rescaled(vertex_->parallelism);
    for (const BlobMap* blobs : nr.subtasks) {
      if (blobs == nullptr) continue;
      for (const auto& [name, blob] : *blobs) bytes += static_cast<int64_t>(blob.size());
    }
  }
  SLUICE_LOG_INFO(log, "{}: restoring checkpoint {}{}{}", name_, cp.id, data_ended_ ? " (its input had ended)" : "",
                  rescaled ? " at a new parallelism" : "");
  RETURN_IF_ERROR(OpenNativeState(cp));
  for (auto& link : links_) {
    auto it = cp.nodes.find(link->node().id);
    if (it != cp.nodes.end() && it->second.rescaled(vertex_->parallelism)) {
      RETURN_IF_ERROR(RestoreRescaled(*link, it->second));
      continue;
    }
    const BlobMap* blobs = nullptr;
    const NativeInstanceReader* native = nullptr;
    if (it != cp.nodes.end() && subtask_ < static_cast<int>(it->second.subtasks.size())) {
      blobs = it->second.subtasks[subtask_];
      native = NativeReader(it->second, static_cast<size_t>(subtask_));
    }
    if (blobs != nullptr) {
      auto runtime_state = blobs->find(kLinkBlob);
      if (runtime_state != blobs->end() && !link->RestoreRuntimeState(runtime_state->second)) {
        return absl::DataLossError(
            absl::StrCat("checkpoint ", cp.id, ": the runtime state of '", link->node().id, "' is damaged"));
      }
      for (auto it = blobs->lower_bound(kStateBlobPrefix); it != blobs->end() && IsStateBlob(it->first); ++it) {
        absl::Status st = link->keyed_states().Restore(it->first.substr(kStateBlobPrefix.size()), it->second, native);
        if (!st.ok()) return absl::Status(st.code(), absl::StrCat("checkpoint ", cp.id, ": ", st.message()));
      }
    }
    BlobReader reader(blobs);
    absl::Status st = link->op ? link->op->Restore(reader) : source_->Restore(reader);
    if (!st.ok()) {
      return absl::Status(st.code(),
                          absl::StrCat("restoring '", link->node().id, "' from checkpoint ", cp.id, ": ", st.message()));
    }
  }
  native_readers_.clear();
  SLUICE_LOG_INFO(log, "{}: restored checkpoint {} in {:.1f} ms ({} bytes of state read{})", name_, cp.id,
                  (SteadyNs() - start) / 1e6, bytes, store_ != nullptr && store_->native_checkpoints() ? ", and RocksDB files" : "");
  restore_.reset();
  return absl::OkStatus();
}

absl::Status Task::OpenNativeState(const TaskRestore& cp) {
  std::map<const std::string*, NativeInstance> needed;
  for (auto& link : links_) {
    auto it = cp.nodes.find(link->node().id);
    if (it == cp.nodes.end()) continue;
    const NodeRestore& node = it->second;
    for (size_t old = 0; old < node.subtasks.size(); ++old) {
      const BlobMap* blobs = node.subtasks[old];
      if (blobs == nullptr) continue;
      bool native = false;
      for (auto b = blobs->lower_bound(kStateBlobPrefix); b != blobs->end() && IsStateBlob(b->first); ++b) {
        native = native || b->second.compare(0, kNativeStateMagic.size(), kNativeStateMagic) == 0;
      }
      if (!native) continue;
      const std::string* blob = NativeBlobOf(node, old);
      if (blob == nullptr) {
        return absl::DataLossError(absl::StrCat("checkpoint ", cp.id, ": the keyed state of '", link->node().id,
                                                "' (old subtask ", old, ") is in a RocksDB instance its task's "
                                                "state does not describe"));
      }
      if (needed.count(blob) > 0) continue;
      ASSIGN_OR_RETURN(needed[blob], DecodeNativeInstance(*blob, absl::StrCat("old subtask ", old, " of '",
                                                                              link->node().id, "' in checkpoint ",
                                                                              cp.id)));
    }
  }
  if (needed.empty()) return absl::OkStatus();
  if (cp.storage == nullptr) return absl::InternalError("a RocksDB checkpoint to restore, and no storage to read");
  const auto first = static_cast<uint32_t>(links_.front()->first_key_group());
  const auto last = static_cast<uint32_t>(links_.front()->last_key_group());
  const std::string* base = nullptr;
  if (job_->plan().state_backend == "rocksdb") {
    // The instance holding most of this subtask's key groups becomes its store.
    int64_t best = 0;
    for (const auto& [blob, inst] : needed) {
      const int64_t overlap = static_cast<int64_t>(std::min(last, inst.last_key_group)) -
                              static_cast<int64_t>(std::max(first, inst.first_key_group)) + 1;
      if (overlap > best) {
        best = overlap;
        base = blob;
      }
    }
  }
  if (base != nullptr) {
    const NativeInstance& inst = needed[base];
    NativeBase nb;
    nb.instance = &inst;
    nb.storage = cp.storage.get();
    if (inst.first_key_group < first) nb.keep_begin = KeyGroupRangeBegin(first);
    if (inst.last_key_group > last) nb.keep_end = KeyGroupRangeEnd(last);
    ASSIGN_OR_RETURN(store_, OpenRocksDbKvStore(StoreName(), nb));
  }
  for (const auto& [blob, inst] : needed) {
    if (blob == base) continue;
    ASSIGN_OR_RETURN(native_readers_[blob],
                     NativeInstanceReader::Open(inst, *cp.storage,
                                                NewLocalInstanceDir(GetRocksDbStateOptions().local_dir,
                                                                    absl::StrCat(StoreName(), "-restore"))));
  }
  return absl::OkStatus();
}

const NativeInstanceReader* Task::NativeReader(const NodeRestore& node, size_t old) const {
  const std::string* blob = NativeBlobOf(node, old);
  if (blob == nullptr) return nullptr;
  auto it = native_readers_.find(blob);
  return it == native_readers_.end() ? nullptr : it->second.get();
}

absl::Status Task::RestoreRescaled(ChainLink& link, const NodeRestore& node) {
  const int64_t id = restore_->id;
  bool first = true, own_blobs = false;
  for (size_t old = 0; old < node.subtasks.size(); ++old) {
    const BlobMap* blobs = node.subtasks[old];
    if (blobs == nullptr) continue;
    for (const auto& [name, bytes] : *blobs) {
      if (name == kLinkBlob) {
        if (!link.MergeRuntimeState(bytes, first)) {
          return absl::DataLossError(
              absl::StrCat("checkpoint ", id, ": the runtime state of '", link.node().id, "' is damaged"));
        }
        first = false;
      } else if (IsStateBlob(name)) {
        // Keeps the entries of this subtask's key groups.
        absl::Status st = link.keyed_states().Restore(std::string_view(name).substr(kStateBlobPrefix.size()), bytes,
                                                      NativeReader(node, old));
        if (!st.ok()) return absl::Status(st.code(), absl::StrCat("checkpoint ", id, ": ", st.message()));
      } else {
        own_blobs = true;
      }
    }
  }
  if (!own_blobs) return absl::OkStatus();  // nothing of its own: it starts empty
  RescaledReader reader(&node, link);
  absl::Status st = link.op ? link.op->RestoreRescaled(reader) : source_->RestoreRescaled(reader);
  if (!st.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node '", link.node().id, "' (", link.node().type, ") cannot be restored at parallelism ",
        vertex_->parallelism, " from checkpoint ", id, ", taken at parallelism ", node.old_parallelism, ": ",
        st.message(),
        st.code() == absl::StatusCode::kUnimplemented ? "; restore at the old parallelism, or give the node a new id"
                                                        " to start it empty (with --allow-non-restored-state)"
                                                      : ""));
  }
  return absl::OkStatus();
}

void Task::TriggerCheckpoint(int64_t id) {
  int64_t cur = trigger_id_.load();
  while (id > cur && !trigger_id_.compare_exchange_weak(cur, id)) {
  }
}

void Task::CheckpointComplete(int64_t id) {
  if (source_ != nullptr) {
    int64_t cur = complete_id_.load();
    while (id > cur && !complete_id_.compare_exchange_weak(cur, id)) {
    }
    return;
  }
  MailboxItem item;
  item.kind = MailboxItem::Kind::kCheckpointComplete;
  item.channel = -1;
  item.checkpoint_id = id;
  mailbox_->Push(std::move(item));
}

void Task::TakeSnapshot(int64_t id, int64_t align_ns) {
  const int64_t start = SteadyNs();
  ChainCheckpoint cp;
  cp.id = id;
  cp.parallelism = vertex_->parallelism;
  cp.blobs[""][std::string(kTaskEndedBlob)] = data_ended_ ? "1" : "0";
  cp.blobs[""][std::string(kMaxParallelismBlob)] = std::to_string(job_->plan().max_parallelism);
  absl::Status st;
  for (auto& link : links_) {
    link->FlushDeadLetters();
    auto& blobs = cp.blobs[link->node().id];
    BlobWriter writer(id, &blobs);
    st = link->op ? link->op->Snapshot(writer) : source_->Snapshot(writer);
    if (!st.ok()) {
      st = absl::Status(st.code(), absl::StrCat("task ", name_, ": operator '", link->node().id,
                                                "' could not snapshot: ", st.message()));
      break;
    }
    blobs[std::string(kLinkBlob)] = link->SnapshotRuntimeState();
    // Read off the task thread where the backend can (a RocksDB snapshot).
    st = link->keyed_states().SnapshotDeferred(
        [&cp, &link](const std::string& name, OperatorStates::BlobProducer produce) {
          cp.deferred.push_back({link->node().id, absl::StrCat(Sv(kStateBlobPrefix), name),
                                 [produce = std::move(produce)](CheckpointStorage&, std::vector<SharedFile>*) {
                                   return produce();
                                 }});
        });
    if (!st.ok()) {
      st = absl::Status(st.code(), absl::StrCat("task ", name_, ": the keyed state of '", link->node().id,
                                                "' could not be snapshotted: ", st.message()));
      break;
    }
  }
  if (st.ok() && store_ != nullptr && store_->native_checkpoints()) {
    // The store's own checkpoint, once for the chain: its files, uploaded off this thread.
    NativeInstance header;
    header.max_parallelism = static_cast<uint32_t>(job_->plan().max_parallelism);
    header.first_key_group = static_cast<uint32_t>(links_.front()->first_key_group());
    header.last_key_group = static_cast<uint32_t>(links_.front()->last_key_group());
    auto produce = store_->CheckpointNative(id, absl::StrCat(vertex_index_, "-", subtask_, "-"), header);
    if (produce.ok()) {
      cp.deferred.push_back({"", std::string(kNativeStateBlob), *std::move(produce)});
    } else {
      st = absl::Status(produce.status().code(), absl::StrCat("task ", name_, ": its keyed state could not be "
                                                              "checkpointed: ", produce.status().message()));
    }
  }
  const int64_t sync_ns = SteadyNs() - start;
  // Records before the barrier go first; then the barrier, on every output channel.
  FlushPending(nullptr);
  SendToAll(MailboxItem::Kind::kBarrier, id);
  snapshot_id_ = id;
  if (!st.ok()) {
    checkpoints_->Declined(*this, id, st);
    return;
  }
  job_->dead_letters().Flush();
  metrics_.checkpoints.Add(1);
  checkpoints_->Snapshotted(*this, std::move(cp), sync_ns, align_ns);
}

void Task::NotifyComplete(int64_t id) {
  if (id > snapshot_id_) id = snapshot_id_;  // only what this task took part in
  if (id <= notified_id_ || failed()) return;
  notified_id_ = id;
  if (store_ != nullptr) store_->CheckpointComplete(id);
  for (auto& link : links_) {
    absl::Status st = link->op ? link->op->NotifyCheckpointComplete(id) : source_->NotifyCheckpointComplete(id);
    if (!st.ok()) {
      Fail(link->node(), absl::Status(st.code(), absl::StrCat("committing checkpoint ", id, ": ", st.message())));
      return;
    }
  }
}

void Task::PollCheckpointEvents() {
  int64_t t = trigger_id_.load(std::memory_order_acquire);
  if (t > snapshot_id_) TakeSnapshot(t, 0);
  int64_t c = complete_id_.load(std::memory_order_acquire);
  if (c > notified_id_) NotifyComplete(c);
}

void Task::OnBarrier(int channel, int64_t id) {
  if (id <= snapshot_id_) return;  // a checkpoint already taken
  if (id > aligning_id_) {
    // A newer checkpoint: one still aligning was abandoned (it failed on the way).
    if (aligning_id_ != 0) mailbox_->UnblockAll();
    aligning_id_ = id;
    barrier_seen_.assign(barrier_seen_.size(), false);
    align_start_ns_ = SteadyNs();
  } else if (id < aligning_id_) {
    return;  // an abandoned one
  }
  barrier_seen_[channel] = true;
  mailbox_->Block(channel);
  MaybeAligned();
}

void Task::MaybeAligned() {
  if (aligning_id_ == 0) return;
  for (size_t c = 0; c < barrier_seen_.size(); ++c) {
    if (!barrier_seen_[c] && !closed_[c]) return;
  }
  const int64_t id = aligning_id_;
  aligning_id_ = 0;
  TakeSnapshot(id, SteadyNs() - align_start_ns_);
  mailbox_->UnblockAll();
}

}  // namespace sluice::runtime
