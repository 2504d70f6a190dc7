#include "coordinator/savepoints.h"

#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/chain_checkpoint.h"
#include "common/native_state.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "google/protobuf/text_format.h"

namespace sluice::coordinator {

absl::StatusOr<v1::SavepointDescriptor> WriteSavepoint(const CheckpointStorage& from, const CheckpointMetadata& m,
                                                       const v1::JobRecord& rec, std::string_view dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStorage> to, CheckpointStorage::Open(dir));
  ASSIGN_OR_RETURN(bool empty, to->Empty());
  if (!empty) {
    return absl::AlreadyExistsError(
        absl::StrCat("savepoint directory ", Sv(dir), " is not empty: a savepoint is never overwritten"));
  }
  std::set<std::string> with_state;
  CheckpointMetadata copy;
  copy.id = m.id;
  copy.timestamp_ms = m.timestamp_ms;
  for (const TaskStateHandle& h : m.tasks) {
    ASSIGN_OR_RETURN(std::string bytes, from.ReadTaskState(h));
    ASSIGN_OR_RETURN(ChainCheckpoint state, DecodeChainCheckpoint(bytes, absl::StrCat(from.location(), "/", h.path)));
    for (const auto& [node, blobs] : state.blobs) {
      if (!node.empty() && NodeHasState(blobs)) with_state.insert(node);
    }
    // Canonical and self-contained: keyed state in RocksDB files (an incremental
    // checkpoint) is read and written as entries, so no shared file is needed.
    if (auto own = state.blobs.find(""); own != state.blobs.end() && own->second.count(kNativeStateBlob) > 0) {
      RETURN_IF_ERROR(CanonicalizeChainCheckpoint(&state, from, ""));
      bytes = EncodeChainCheckpoint(state);
    }
    ASSIGN_OR_RETURN(TaskStateHandle written, to->WriteTaskState(m.id, h.vertex, h.subtask, bytes));
    copy.tasks.push_back(std::move(written));
  }
  RETURN_IF_ERROR(to->WriteMetadata(copy));
  v1::SavepointDescriptor d;
  d.set_format(1);
  d.set_job_name(rec.graph().name());
  d.set_job_id(rec.job_id());
  d.set_checkpoint_id(m.id);
  d.set_created_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  d.set_max_parallelism(rec.graph().max_parallelism());
  d.set_state_backend(rec.graph().topology().state_backend());
  for (const auto& n : rec.graph().nodes()) {
    auto* info = d.add_nodes();
    info->set_id(n.id());
    info->set_type(n.type());
    info->set_parallelism(n.parallelism());
    info->set_has_state(with_state.count(n.id()) > 0);
  }
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(d, &text)) return absl::InternalError("cannot print a descriptor");
  // Last: a directory with the descriptor is a whole savepoint.
  RETURN_IF_ERROR(to->WriteRootFile(kSavepointFile, text));
  return d;
}

absl::StatusOr<Savepoint> ReadSavepoint(std::string_view dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStorage> storage, CheckpointStorage::Open(dir));
  auto text = storage->ReadRootFile(kSavepointFile);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(Sv(dir), " is not a savepoint: it has no ", Sv(kSavepointFile),
                                            " file (an incomplete savepoint, or another directory)"));
  }
  RETURN_IF_ERROR(text.status());
  Savepoint sp;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &sp.descriptor) || sp.descriptor.format() != 1 ||
      sp.descriptor.checkpoint_id() <= 0) {
    return absl::DataLossError(absl::StrCat("savepoint ", Sv(dir), ": its ", Sv(kSavepointFile),
                                            " file is damaged or of an unknown format"));
  }
  ASSIGN_OR_RETURN(sp.metadata, storage->ReadMetadata(sp.descriptor.checkpoint_id()));
  for (const TaskStateHandle& h : sp.metadata.tasks) {
    auto bytes = storage->ReadTaskState(h);
    if (!bytes.ok()) {
      return absl::DataLossError(absl::StrCat("savepoint ", Sv(dir), " is damaged: ", bytes.status().message()));
    }
  }
  return sp;
}

absl::Status CheckSavepointFits(const Savepoint& sp, std::string_view dir, const v1::JobGraph& graph,
                                bool allow_non_restored_state) {
  const v1::SavepointDescriptor& d = sp.descriptor;
  if (d.job_name() != graph.name()) {
    return absl::FailedPreconditionError(absl::StrCat("savepoint ", Sv(dir), " is of job '", d.job_name(),
                                                      "' (", d.job_id(), "); this topology is '", graph.name(),
                                                      "': a savepoint restores only into the job it was taken of"));
  }
  if (d.max_parallelism() != graph.max_parallelism()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "savepoint ", Sv(dir), " was taken with max_parallelism ", d.max_parallelism(),
        " (key groups); this topology has ", graph.max_parallelism(),
        ". The number of key groups is fixed for the life of a job's state: set max_parallelism back to ",
        d.max_parallelism()));
  }
  std::set<std::string> ids;
  for (const auto& n : graph.nodes()) ids.insert(n.id());
  std::vector<std::string> dropped;
  for (const auto& n : d.nodes()) {
    if (n.has_state() && ids.count(n.id()) == 0) dropped.push_back(absl::StrCat("'", n.id(), "' (", n.type(), ")"));
  }
  if (!dropped.empty() && !allow_non_restored_state) {
    return absl::FailedPreconditionError(absl::StrCat(
        "savepoint ", Sv(dir), " holds state of node", dropped.size() > 1 ? "s " : " ", absl::StrJoin(dropped, ", "),
        " that this topology does not have; submit with --allow-non-restored-state to drop that state, or keep "
        "the node's id"));
  }
  return absl::OkStatus();
}

}  // namespace sluice::coordinator
