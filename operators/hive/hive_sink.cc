// hive_sink: writes rows into a day-partitioned Hive table (see hive_sink.h, README.md).
#include "operators/hive/hive_sink.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/hive/encoded_file.h"
#include "operators/hive/filesystem.h"
#include "operators/hive/hive_sink_state.h"
#include "operators/hive/hive_text.h"
#include "operators/hive/table.h"
#include "sluice/output_fence.h"

namespace sluice::hive {
namespace {

enum class WriteMode { kAppend, kOverwrite };

struct Options {
  std::string root;  // warehouse path on fs
  std::shared_ptr<FileSystem> fs;
  TableName table;
  PartitionScheme scheme;
  std::vector<int> columns;  // input fields written, in order
  TableSchema schema;
  std::string compression = "none";
  int64_t roll_bytes = 128 << 20;
  std::optional<WriteMode> mode;  // unset: overwrite in batch mode, append otherwise
};

// A file being written into one partition.
struct OpenFile {
  Partition partition;
  std::string tmp;    // hidden in-progress path
  std::string final;  // visible path
  std::unique_ptr<EncodedFile> file;
  std::string buffer;  // encoded rows not yet handed to the file
  int64_t bytes = 0;
  int64_t rows = 0;
};

struct Pending {
  std::string tmp;
  std::string final;
};

class HiveSink : public Operator {
 public:
  HiveSink(Options o, SchemaPtr input, int subtask, int parallelism, std::string node)
      : o_(std::move(o)), input_(std::move(input)), subtask_(subtask), parallelism_(parallelism),
        node_(std::move(node)) {
    table_dir_ = TableDir(o_.root, o_.table);
  }

  SchemaPtr output_schema() const override { return nullptr; }

  // The checkpoint names every file and finished partition not committed when it was
  // taken, also those of earlier checkpoints whose notify never came: Open commits them
  // all (Recover). Errors: see DecodeHiveSinkState.
  absl::Status Restore(SnapshotReader& reader) override {
    std::string blob;
    if (!reader.Read("hive", &blob)) return absl::OkStatus();
    ASSIGN_OR_RETURN(HiveSinkState state, DecodeHiveSinkState(blob, table_dir_));
    owner_ = state.owner;
    seq_ = state.seq;
    for (const auto& [path, end_ms] : state.touched) {
      Partition& p = touched_[path];
      p.path = path;
      p.end_ms = end_ms;
    }
    for (const std::string& rel : state.pending) {
      const size_t slash = rel.rfind('/');
      restored_pending_.push_back({absl::StrCat(table_dir_, "/", rel.substr(0, slash), "/.", rel.substr(slash + 1),
                                                ".inprogress"),
                                   absl::StrCat(table_dir_, "/", rel)});
    }
    restored_complete_ = std::move(state.complete);
    return absl::OkStatus();
  }

  absl::Status Open(Context& ctx) override {
    log_ = ctx.logger();
    checkpointing_ = ctx.checkpointing();
    batch_mode_ = ctx.batch_mode();
    mode_ = o_.mode.value_or(batch_mode_ && !checkpointing_ ? WriteMode::kOverwrite : WriteMode::kAppend);
    rows_ = ctx.GetCounter("hive_rows");
    files_ = ctx.GetCounter("hive_files");
    reopened_ = ctx.GetCounter("hive_reopened_partitions");
    if (mode_ == WriteMode::kOverwrite && checkpointing_) {
      return absl::InvalidArgumentError("write_mode: overwrite replaces partitions at the end of a batch job; "
                                        "it does not combine with checkpoints (use append)");
    }
    // In-progress files carry their writer's identity, so that recovery drops only its
    // own: kept across restarts through the checkpoint, new for a writer that starts
    // afresh (another job, or another agent of this job, may write the same table).
    if (owner_.empty()) {
      owner_ = absl::StrFormat("%d-%d-%08x", ctx.clock().NowMs(), ::getpid(), std::random_device{}());
      restored_owner_ = false;
    }
    RETURN_IF_ERROR(o_.fs->MakeDirs(table_dir_));
    // Files become visible only while this attempt's claim stands: a worker paused and
    // resumed after the job moved on must not publish into the table (local paths only,
    // like the file system itself today).
    RETURN_IF_ERROR(o_.fs->MakeDirs(absl::StrCat(table_dir_, "/_sluice")));  // '_': Hive and Spark skip it
    ASSIGN_OR_RETURN(fence_,
                     OutputFence::Claim(absl::StrCat(table_dir_, "/_sluice/writer-", node_, "-", subtask_), ctx));
    RETURN_IF_ERROR(WriteTableDdl());
    if (mode_ == WriteMode::kOverwrite) {
      // Each subtask writes into its own staging directory of this run (the run id tells
      // this run's markers from those a failed run left).
      run_ = ctx.run_id();
      staging_ = StagingDir(subtask_);
      RETURN_IF_ERROR(o_.fs->RemoveAll(staging_));
      RETURN_IF_ERROR(o_.fs->MakeDirs(staging_));
    } else {
      RETURN_IF_ERROR(Recover());
    }
    log_.Info("writing %s under %s (%s, partitions by %s in %s, compression %s)", o_.table.full(), table_dir_,
              mode_ == WriteMode::kOverwrite ? "overwrite" : "append", absl::StrJoin(o_.scheme.keys, "/"),
              o_.scheme.zone_name, o_.compression);
    return absl::OkStatus();
  }

  absl::Status Process(int, BatchPtr batch, Collector& out) override {
    const size_t n = batch->num_rows();
    const auto& ts = batch->timestamps();
    OpenFile* f = nullptr;
    int64_t written = 0;
    for (size_t r = 0; r < n; ++r) {
      const int64_t t = ts[r];
      if (t == kNoTimestamp) {
        out.EmitDeadLetterRow("missing_event_time", *batch, r);
        continue;
      }
      ++written;
      if (f == nullptr || t < f->partition.start_ms || t >= f->partition.end_ms) {
        ASSIGN_OR_RETURN(f, FileFor(t));
      }
      AppendRow(*batch, r, o_.columns, &f->buffer);
      ++f->rows;
      if (f->buffer.size() >= (1 << 20)) {
        RETURN_IF_ERROR(FlushBuffer(*f));
        if (f->bytes >= o_.roll_bytes) {
          RETURN_IF_ERROR(CloseFile(f->partition.path));
          f = nullptr;
        }
      }
    }
    rows_->Add(written);
    return absl::OkStatus();
  }

  absl::Status OnWatermark(int64_t watermark, Collector& out) override {
    // Partitions the watermark has passed are complete: close their files.
    std::vector<std::string> done;
    for (const auto& [path, p] : touched_) {
      if (p.end_ms - 1 <= watermark) done.push_back(path);
    }
    for (const auto& path : done) RETURN_IF_ERROR(FinishPartition(path));
    watermark_ = watermark;
    out.EmitWatermark(watermark);
    return absl::OkStatus();
  }

  absl::Status OnEndOfInput(Collector&) override {
    std::vector<std::string> all;
    for (const auto& [path, p] : touched_) all.push_back(path);
    for (const auto& path : all) RETURN_IF_ERROR(FinishPartition(path));
    if (mode_ == WriteMode::kOverwrite) return CommitOverwrite();
    return absl::OkStatus();
  }

  absl::Status Snapshot(SnapshotWriter& writer) override {
    // Every open file is finished and becomes pending: committed when this checkpoint is.
    std::vector<std::string> all;
    for (const auto& [path, f] : open_) all.push_back(path);
    for (const auto& path : all) RETURN_IF_ERROR(CloseFile(path));
    if (!pending_.empty() || !complete_.empty()) {
      auto& [pending, complete] = by_checkpoint_[writer.checkpoint_id()];
      pending.insert(pending.end(), pending_.begin(), pending_.end());
      complete.insert(complete.end(), complete_.begin(), complete_.end());
      pending_.clear();
      complete_.clear();
    }
    HiveSinkState state;
    state.table_dir = table_dir_;
    state.owner = owner_;
    state.seq = seq_;
    for (const auto& [path, p] : touched_) state.touched[path] = p.end_ms;
    // Everything not committed yet, also what earlier checkpoints prepared: their notify
    // may never come (a checkpoint that failed), and a restore from this one commits it.
    std::set<std::string> complete;
    for (const auto& [id, prepared] : by_checkpoint_) {
      for (const Pending& p : prepared.first) {
        state.pending.push_back(std::string(absl::StripPrefix(p.final, absl::StrCat(table_dir_, "/"))));
      }
      complete.insert(prepared.second.begin(), prepared.second.end());
    }
    state.complete.assign(complete.begin(), complete.end());
    writer.Write("hive", EncodeHiveSinkState(state));
    return absl::OkStatus();
  }

  absl::Status NotifyCheckpointComplete(int64_t id) override {
    while (!by_checkpoint_.empty() && by_checkpoint_.begin()->first <= id) {
      auto& [pending, complete] = by_checkpoint_.begin()->second;
      for (const Pending& p : pending) RETURN_IF_ERROR(Publish(p));
      for (const auto& c : complete) RETURN_IF_ERROR(MarkComplete(c));
      by_checkpoint_.erase(by_checkpoint_.begin());
    }
    return absl::OkStatus();
  }

  absl::Status Close() override {
    // Files not committed (a failed or cancelled job) stay hidden; without checkpoints
    // they would never be committed, so drop them.
    for (auto& [path, f] : open_) {
      if (!checkpointing_) f.file->Discard();  // else left closed; Recover drops it on restart
    }
    open_.clear();
    return absl::OkStatus();
  }

 private:
  // "part-<node>-<subtask>-<owner>-": the names of this writer's files, before the sequence number.
  std::string FilePrefix() const { return absl::StrCat("part-", node_, "-", subtask_, "-", owner_, "-"); }

  absl::Status WriteTableDdl() {
    if (subtask_ != 0) return absl::OkStatus();
    std::string location = table_dir_;
    if (location[0] != '/') location = std::filesystem::absolute(location).string();
    RETURN_IF_ERROR(WriteFileAtomic(*o_.fs, absl::StrCat(table_dir_, "/_ddl/schema.tsv"), EncodeTableSchema(o_.schema)));
    return WriteFileAtomic(*o_.fs, absl::StrCat(table_dir_, "/_ddl/create_table.sql"),
                           CreateTableDdl(o_.table, o_.schema, "file://" + location));
  }

  // Append mode, at Open: commit what the restored checkpoint named (idempotent: a file
  // already renamed is left alone; DATA_LOSS if it is in neither place), drop this
  // writer's other in-progress files (written after it), finish partitions it closed.
  // Files of other writers of the table (another job, another agent) are never touched;
  // a writer that starts without a checkpoint has no files yet (what a run that crashed
  // before its first checkpoint left stays hidden, under that run's identity).
  absl::Status Recover() {
    for (const Pending& p : restored_pending_) {
      ASSIGN_OR_RETURN(bool tmp_exists, o_.fs->Exists(p.tmp));
      if (tmp_exists) {
        RETURN_IF_ERROR(Publish(p));
        continue;
      }
      ASSIGN_OR_RETURN(bool published, o_.fs->Exists(p.final));
      if (!published) {
        return absl::DataLossError(absl::StrCat("hive_sink: the restored checkpoint says ", p.final, " is pending in ",
                                                p.tmp, ", but neither file exists (were they removed?): its rows "
                                                "cannot be committed; remove the job's checkpoint to write them again"));
      }
    }
    const std::string hidden = "." + FilePrefix();
    ASSIGN_OR_RETURN(bool exists, o_.fs->Exists(table_dir_));
    if (exists && restored_owner_) RETURN_IF_ERROR(DropInProgress(table_dir_, hidden, 0));
    for (const auto& c : restored_complete_) RETURN_IF_ERROR(MarkComplete(c));
    restored_pending_.clear();
    restored_complete_.clear();
    return absl::OkStatus();
  }

  absl::Status DropInProgress(const std::string& dir, const std::string& hidden_prefix, int depth) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, o_.fs->List(dir));
    for (const auto& name : names) {
      const std::string path = absl::StrCat(dir, "/", name);
      if (absl::StartsWith(name, hidden_prefix) && absl::EndsWith(name, ".inprogress")) {
        log_.Info("dropping %s (written after the last checkpoint)", path);
        RETURN_IF_ERROR(o_.fs->RemoveAll(path));
      } else if (depth < static_cast<int>(o_.scheme.keys.size()) && name.find('=') != std::string::npos) {
        ASSIGN_OR_RETURN(bool is_dir, o_.fs->IsDirectory(path));
        if (is_dir) RETURN_IF_ERROR(DropInProgress(path, hidden_prefix, depth + 1));
      }
    }
    return absl::OkStatus();
  }

  std::string PartitionDir(const std::string& partition_path) const {
    return absl::StrCat(mode_ == WriteMode::kOverwrite ? staging_ : table_dir_, "/", partition_path);
  }

  absl::StatusOr<OpenFile*> FileFor(int64_t t) {
    // Most rows of a batch fall into the partition of the previous row; otherwise look
    // it up by its path.
    Partition p = PartitionOf(o_.scheme, t);
    auto it = open_.find(p.path);
    if (it != open_.end()) return &it->second;
    // A row for a partition the watermark has already completed (late data upstream let
    // through): it gets a new file next to the ones already there, after its _SUCCESS.
    if (watermark_ != kNoTimestamp && p.end_ms - 1 <= watermark_) reopened_->Add(1);
    OpenFile f;
    f.partition = p;
    const std::string dir = PartitionDir(p.path);
    const std::string ext = o_.compression == "gzip" ? ".gz" : o_.compression == "zstd" ? ".zst" : "";
    const std::string name = absl::StrCat(FilePrefix(), seq_++, ext);
    f.tmp = absl::StrCat(dir, "/.", name, ".inprogress");
    f.final = absl::StrCat(dir, "/", name);
    ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> file, AtomicFile::Create(*o_.fs, f.final, f.tmp));
    f.file = std::make_unique<EncodedFile>(std::move(file), o_.compression);
    if (mode_ == WriteMode::kAppend && !announced_.count(p.path)) RETURN_IF_ERROR(WritePartitionDdl(p));
    touched_.emplace(p.path, p);
    return &open_.emplace(p.path, std::move(f)).first->second;
  }

  absl::Status WritePartitionDdl(const Partition& p) {
    announced_.insert(p.path);
    std::string location = absl::StrCat(table_dir_, "/", p.path);
    if (location[0] != '/') location = std::filesystem::absolute(location).string();
    std::string file = p.path;
    for (char& c : file) {
      if (c == '/') c = ',';
    }
    return WriteFileAtomic(*o_.fs, absl::StrCat(table_dir_, "/_ddl/partitions/", file, ".sql"),
                           AddPartitionDdl(o_.table, o_.scheme.keys, p, "file://" + location));
  }

  absl::Status FlushBuffer(OpenFile& f) {
    f.bytes += static_cast<int64_t>(f.buffer.size());
    RETURN_IF_ERROR(f.file->Write(f.buffer));
    f.buffer.clear();
    return absl::OkStatus();
  }

  // Finishes the partition's open file; commits it now, or with the next checkpoint.
  absl::Status CloseFile(const std::string& partition_path) {
    auto it = open_.find(partition_path);
    if (it == open_.end()) return absl::OkStatus();
    OpenFile& f = it->second;
    RETURN_IF_ERROR(FlushBuffer(f));
    RETURN_IF_ERROR(f.file->Finish());  // durable in its in-progress file
    files_->Add(1);
    Pending p{f.tmp, f.final};
    open_.erase(it);
    if (checkpointing_) {
      pending_.push_back(std::move(p));
      return absl::OkStatus();
    }
    return Publish(p);
  }

  // The commit step of the atomic write (AtomicFile::Finish made the bytes durable; a
  // pending file may come from before a restart, so by name): a durable rename.
  absl::Status Publish(const Pending& p) {
    return fence_->Publish([&] { return o_.fs->Rename(p.tmp, p.final); });
  }

  // This subtask is done with a partition: close its file; in append mode, mark it.
  absl::Status FinishPartition(const std::string& partition_path) {
    RETURN_IF_ERROR(CloseFile(partition_path));
    touched_.erase(partition_path);
    if (mode_ == WriteMode::kAppend) RETURN_IF_ERROR(PartitionComplete(partition_path));
    return absl::OkStatus();
  }

  // This subtask is done with a partition (append mode).
  absl::Status PartitionComplete(const std::string& partition_path) {
    if (checkpointing_) {
      complete_.push_back(partition_path);
      return absl::OkStatus();
    }
    return MarkComplete(partition_path);
  }

  // Leaves this subtask's marker in the partition; the subtask that finds every
  // subtask's marker writes _SUCCESS.
  absl::Status MarkComplete(const std::string& partition_path) {
    const std::string dir = absl::StrCat(table_dir_, "/", partition_path);
    RETURN_IF_ERROR(o_.fs->MakeDirs(dir));
    ASSIGN_OR_RETURN(bool created, o_.fs->CreateExclusive(absl::StrCat(dir, "/.done-", node_, "-", subtask_)));
    (void)created;
    for (int s = 0; s < parallelism_; ++s) {
      ASSIGN_OR_RETURN(bool there, o_.fs->Exists(absl::StrCat(dir, "/.done-", node_, "-", s)));
      if (!there) return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(bool fresh, o_.fs->CreateExclusive(absl::StrCat(dir, "/_SUCCESS")));
    if (fresh) log_.Info("partition %s of %s is complete", partition_path, o_.table.full());
    return absl::OkStatus();
  }

  // Overwrite mode, at the end: the last subtask to finish replaces every partition the
  // job wrote, each one atomically, with what all subtasks staged for it.
  absl::Status CommitOverwrite() {
    RETURN_IF_ERROR(o_.fs->CreateExclusive(absl::StrCat(staging_, "/.done")).status());
    for (int s = 0; s < parallelism_; ++s) {
      ASSIGN_OR_RETURN(bool there, o_.fs->Exists(absl::StrCat(StagingDir(s), "/.done")));
      if (!there) return absl::OkStatus();  // another subtask finishes later and commits
    }
    ASSIGN_OR_RETURN(bool mine, o_.fs->CreateExclusive(absl::StrCat(table_dir_, "/.commit-", node_, "-", run_)));
    if (!mine) return absl::OkStatus();
    // Gather the partitions of every subtask's staging directory into one new directory
    // per partition, then swap each in.
    const std::string gather = absl::StrCat(table_dir_, "/.new-", node_, "-", run_);
    RETURN_IF_ERROR(o_.fs->RemoveAll(gather));
    std::set<std::string> partitions;
    for (int s = 0; s < parallelism_; ++s) {
      const std::string staging = StagingDir(s);
      std::vector<std::string> files;
      RETURN_IF_ERROR(ListFiles(staging, "", 0, &files));
      for (const auto& rel : files) {
        const std::string partition = rel.substr(0, rel.rfind('/'));
        partitions.insert(partition);
        RETURN_IF_ERROR(o_.fs->MakeDirs(absl::StrCat(gather, "/", partition)));
        RETURN_IF_ERROR(o_.fs->Rename(absl::StrCat(staging, "/", rel), absl::StrCat(gather, "/", rel)));
      }
    }
    for (const auto& partition : partitions) {
      const std::string from = absl::StrCat(gather, "/", partition);
      RETURN_IF_ERROR(o_.fs->CreateExclusive(absl::StrCat(from, "/_SUCCESS")).status());
      Partition p;
      p.path = partition;
      for (absl::string_view kv : absl::StrSplit(partition, '/')) {
        p.values.push_back(std::string(kv.substr(kv.find('=') + 1)));
      }
      RETURN_IF_ERROR(WritePartitionDdl(p));
      RETURN_IF_ERROR(
          fence_->Publish([&] { return o_.fs->ReplaceDirectory(from, absl::StrCat(table_dir_, "/", partition)); }));
      log_.Info("replaced partition %s of %s", partition, o_.table.full());
    }
    // Done: drop this run's working directories and whatever runs that failed left.
    ASSIGN_OR_RETURN(std::vector<std::string> names, o_.fs->List(table_dir_));
    for (const auto& name : names) {
      for (const char* kind : {".staging-", ".new-", ".commit-"}) {
        if (absl::StartsWith(name, absl::StrCat(kind, node_, "-"))) {
          RETURN_IF_ERROR(o_.fs->RemoveAll(absl::StrCat(table_dir_, "/", name)));
        }
      }
    }
    return absl::OkStatus();
  }

  std::string StagingDir(int subtask) const {
    return absl::StrCat(table_dir_, "/.staging-", node_, "-", run_, "-", subtask);
  }

  // Visible data files under `dir` (relative paths "dt=.../part-..."), partition depth.
  absl::Status ListFiles(const std::string& dir, const std::string& rel, int depth, std::vector<std::string>* out) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, o_.fs->List(dir));
    for (const auto& name : names) {
      if (name[0] == '.' || name[0] == '_') continue;
      const std::string r = rel.empty() ? name : absl::StrCat(rel, "/", name);
      if (depth < static_cast<int>(o_.scheme.keys.size())) {
        RETURN_IF_ERROR(ListFiles(absl::StrCat(dir, "/", name), r, depth + 1, out));
      } else {
        out->push_back(r);
      }
    }
    return absl::OkStatus();
  }

  Options o_;
  SchemaPtr input_;
  int subtask_;
  int parallelism_;
  std::string node_;
  std::string table_dir_;
  std::string staging_;
  std::string run_;  // Context::run_id (overwrite mode)
  std::unique_ptr<OutputFence> fence_;  // this subtask's claim on the table
  std::string owner_;            // identifies this writer's files (see Open)
  bool restored_owner_ = true;   // owner_ came from a checkpoint
  WriteMode mode_ = WriteMode::kAppend;
  bool checkpointing_ = false;
  bool batch_mode_ = false;
  Logger log_;
  Counter* rows_ = nullptr;
  Counter* files_ = nullptr;
  Counter* reopened_ = nullptr;
  int64_t seq_ = 0;
  int64_t watermark_ = kNoTimestamp;
  std::map<std::string, OpenFile> open_;  // by partition path
  // Partitions this subtask wrote to and has not finished (across restarts).
  std::map<std::string, Partition> touched_;
  std::set<std::string> announced_;       // partitions whose DDL was written
  std::vector<Pending> pending_;          // finished since the last checkpoint
  std::vector<std::string> complete_;     // partitions finished since the last checkpoint
  // What each checkpoint prepared and no notify has committed yet; every snapshot names
  // all of it.
  std::map<int64_t, std::pair<std::vector<Pending>, std::vector<std::string>>> by_checkpoint_;
  std::vector<Pending> restored_pending_;
  std::vector<std::string> restored_complete_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> MakeHiveSink(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"warehouse", "table", "columns", "partition_by", "time_zone", "compression",
                               "roll_size_mb", "write_mode"}));
  Options o;
  ASSIGN_OR_RETURN(TableLocation loc, ReadTableLocation(p));
  o.fs = loc.fs;
  o.root = loc.root;
  o.table = loc.name;
  std::vector<std::string> keys = {"dt"};
  if (p.Find("partition_by") != nullptr) {
    ASSIGN_OR_RETURN(keys, p.GetStringListOr("partition_by"));
  }
  ASSIGN_OR_RETURN(std::string zone, p.GetStringOr("time_zone", "UTC"));
  auto scheme = MakePartitionScheme(keys, zone);
  if (!scheme.ok()) {
    return p.Find(absl::StrContains(scheme.status().message(), "zone") || absl::StrContains(scheme.status().message(), "offset")
                      ? "time_zone"
                      : "partition_by")
        ->Error(StdSv(scheme.status().message()));
  }
  o.scheme = *scheme;
  const Schema& in = *config.input_schemas.at(0);
  std::vector<std::string> columns;
  ASSIGN_OR_RETURN(columns, p.GetStringListOr("columns"));
  if (columns.empty()) {
    for (const Field& f : in.fields()) columns.push_back(f.name);
  }
  for (const auto& c : columns) {
    int idx = in.IndexOf(c);
    if (idx < 0) {
      return p.Find("columns")->Error(absl::StrCat("'", c, "' is not an input field; the input has: ", in.ToString()));
    }
    for (const auto& k : keys) {
      if (c == k) {
        return p.Find(p.Find("columns") ? "columns" : "partition_by")
            ->Error(absl::StrCat("'", c, "' is a partition column, so it cannot also be a data column; rename the "
                                 "field or list columns without it"));
      }
    }
    o.columns.push_back(idx);
    o.schema.columns.push_back(in.field(idx));
  }
  o.schema.partition_keys = keys;
  ASSIGN_OR_RETURN(o.compression, p.GetStringOr("compression", "none"));
  if (o.compression != "none" && o.compression != "gzip" && o.compression != "zstd") {
    return p.Find("compression")->Error(absl::StrCat("expected none, gzip or zstd, got '", o.compression, "'"));
  }
  o.schema.compression = o.compression;
  ASSIGN_OR_RETURN(int64_t roll_mb, p.GetIntOr("roll_size_mb", 128));
  if (roll_mb < 1) return p.Find("roll_size_mb")->Error("must be at least 1 (MiB)");
  o.roll_bytes = roll_mb << 20;
  if (p.Find("write_mode") != nullptr) {
    ASSIGN_OR_RETURN(std::string mode, p.GetStringOr("write_mode", ""));
    if (mode == "append") o.mode = WriteMode::kAppend;
    else if (mode == "overwrite") o.mode = WriteMode::kOverwrite;
    else return p.Find("write_mode")->Error(absl::StrCat("expected append or overwrite, got '", mode, "'"));
  }
  return std::make_unique<HiveSink>(std::move(o), config.input_schemas.at(0), config.subtask_index,
                                    config.parallelism, config.node_id);
}

}  // namespace sluice::hive
