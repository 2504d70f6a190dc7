#include "runtime/worker/worker_checkpoints.h"

namespace sluice::runtime {

WorkerCheckpoints::WorkerCheckpoints(std::unique_ptr<CheckpointStorage> storage, ReportFn report,
                                     std::string worker_id, std::string job_id, int64_t attempt)
    : storage_(std::move(storage)),
      report_(std::move(report)),
      worker_id_(std::move(worker_id)),
      job_id_(std::move(job_id)),
      attempt_(attempt) {
  writer_ = std::make_unique<AsyncCheckpointWriter>(
      storage_.get(),
      [this](int64_t id, TaskKey task, TaskAck ack) {
        v1::ReportCheckpointRequest r = Report(task, v1::ReportCheckpointRequest::ACK, id);
        auto* h = r.mutable_state();
        h->set_vertex(task.first);
        h->set_subtask(task.second);
        h->set_path(ack.state.path);
        h->set_size(ack.state.size);
        h->set_hash(ack.state.hash);
        for (const SharedFile& f : ack.state.shared) {
          auto* sf = h->add_shared();
          sf->set_path(f.path);
          sf->set_size(f.size);
          sf->set_hash(f.hash);
        }
        r.set_sync_ns(ack.sync_ns);
        r.set_align_ns(ack.align_ns);
        r.set_async_ns(ack.async_ns);
        report_(r);
      },
      [this](int64_t id, TaskKey task, const absl::Status& why) {
        v1::ReportCheckpointRequest r = Report(task, v1::ReportCheckpointRequest::DECLINE, id);
        r.set_reason(std::string(why.message()));
        report_(r);
      });
}

// The writer first: it may still report.
WorkerCheckpoints::~WorkerCheckpoints() { writer_.reset(); }

v1::ReportCheckpointRequest WorkerCheckpoints::Report(TaskKey task, v1::ReportCheckpointRequest::Kind kind,
                                                      int64_t id) const {
  v1::ReportCheckpointRequest r;
  r.set_worker_id(worker_id_);
  r.set_job_id(job_id_);
  r.set_attempt(attempt_);
  r.set_vertex(task.first);
  r.set_subtask(task.second);
  r.set_kind(kind);
  r.set_checkpoint_id(id);
  return r;
}

void WorkerCheckpoints::Snapshotted(Task& task, ChainCheckpoint state, int64_t sync_ns, int64_t align_ns) {
  writer_->Submit({task.vertex(), task.subtask()}, std::move(state), sync_ns, align_ns);
}

void WorkerCheckpoints::Declined(Task& task, int64_t id, const absl::Status& why) {
  v1::ReportCheckpointRequest r = Report({task.vertex(), task.subtask()}, v1::ReportCheckpointRequest::DECLINE, id);
  r.set_reason(std::string(why.message()));
  report_(r);
}

void WorkerCheckpoints::SourceEnded(Task& task) {
  report_(Report({task.vertex(), task.subtask()}, v1::ReportCheckpointRequest::SOURCE_ENDED, 0));
}

void WorkerCheckpoints::Finished(Task& task) {
  report_(Report({task.vertex(), task.subtask()}, v1::ReportCheckpointRequest::FINISHED, 0));
}

}  // namespace sluice::runtime
