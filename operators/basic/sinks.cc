#include "operators/basic/sinks.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "operators/basic/part_files.h"
#include "sluice/filesystem.h"
#include "sluice/output_fence.h"

namespace sluice::operators {

std::string TsvHeader(const Schema& schema) {
  std::string out;
  for (int i = 0; i < schema.num_fields(); ++i) {
    if (i) out.push_back('\t');
    out.append(schema.field(i).name);
  }
  return out;
}

void AppendTsvRow(const RecordBatch& batch, size_t row, std::string* out) {
  char buf[32];
  for (int c = 0; c < batch.num_columns(); ++c) {
    if (c) out->push_back('\t');
    const Column& col = batch.column(c);
    if (col.IsNull(row) || col.type == Type::kNull) {
      out->append("\\N");
      continue;
    }
    switch (col.type) {
      case Type::kInt64:
      case Type::kTimestamp: {
        auto* end = std::to_chars(buf, buf + sizeof(buf), col.ints[row]).ptr;
        out->append(buf, end);
        break;
      }
      case Type::kBool:
        out->append(col.ints[row] ? "true" : "false");
        break;
      case Type::kDouble: {
        int n = std::snprintf(buf, sizeof(buf), "%.17g", col.doubles[row]);
        out->append(buf, n);
        break;
      }
      case Type::kString:
        for (char ch : col.strings[row]) {
          switch (ch) {
            case '\\': out->append("\\\\"); break;
            case '\t': out->append("\\t"); break;
            case '\n': out->append("\\n"); break;
            case '\r': out->append("\\r"); break;
            default: out->push_back(ch);
          }
        }
        break;
      case Type::kNull:
        break;
    }
  }
}

namespace {

enum class Format { kTsv, kJsonl };

class FileSink : public Operator {
 public:
  // `path` is the node's; this subtask writes SubtaskBase(path, ...).
  FileSink(const std::string& path, int subtask, int parallelism, Format format, bool header)
      : node_path_(path),
        path_(SubtaskBase(path, subtask, parallelism)),
        format_(format),
        header_(header),
        parts_(*LocalFileSystem(), path_) {}
  SchemaPtr output_schema() const override { return nullptr; }

  absl::Status Restore(SnapshotReader& reader) override {
    std::string state;
    if (!reader.Read("file_sink", &state)) return absl::OkStatus();
    return parts_.Restore(state);
  }

  // At another parallelism: every old subtask's pending parts are still published once,
  // and what each wrote after the checkpoint is dropped, by whichever new subtask now
  // answers for its files; part names stay unique (part_files.h, "Rescaling").
  absl::Status RestoreRescaled(RescaledSnapshotReader& reader) override {
    std::vector<std::string> states(reader.old_parallelism());
    for (int old = 0; old < reader.old_parallelism(); ++old) {
      // Without an old subtask's state its pending parts would be neither published
      // nor dropped.
      if (!reader.Read(old, "file_sink", &states[old])) {
        return absl::DataLossError(absl::StrCat("file_sink: the checkpoint has no state of subtask ", old, " of ",
                                                reader.old_parallelism(), " (writing ",
                                                SubtaskBase(node_path_, old, reader.old_parallelism()), ")"));
      }
    }
    return parts_.RestoreRescaled(node_path_, states, reader.subtask_index(), reader.parallelism());
  }

  absl::Status Open(Context& ctx) override {
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("file_sink: path ", path_, " is a directory; give the file to write, e.g. ", path_, "/out.tsv"));
    }
    FileSystem& fs = *LocalFileSystem();
    RETURN_IF_ERROR(fs.MakeDirs(std::filesystem::path(path_).parent_path().string()));
    // Each attempt writes its own file and publishes it only while no later attempt of
    // the job has claimed the path (a worker paused and resumed must not splice or
    // overwrite the output of the attempt that replaced it). The file appears whole
    // (sluice::AtomicFile: fsync, rename, fsync of the directory).
    ASSIGN_OR_RETURN(fence_, OutputFence::Claim(path_, ctx));
    checkpointing_ = ctx.checkpointing();
    if (checkpointing_) {
      // Part files, each published when the checkpoint covering it completes (part_files.h).
      Logger log = ctx.logger();
      RETURN_IF_ERROR(parts_.Recover(ctx, *fence_, log));
      wrote_header_ = parts_.next_part() > 0;  // the header went into part 0
      log.Info("writing %s.part-NNNNN: each part is published when the checkpoint that closes it completes%s", path_,
               parts_.next_part() > 0 ? absl::StrCat(" (resuming at part ", parts_.next_part(), ")") : "");
      if (std::vector<std::string> retired = parts_.retired_bases(); !retired.empty()) {
        log.Info("answering also for the parts of %s, which no subtask writes at this parallelism",
                 absl::StrJoin(retired, ", "));
      }
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(file_, AtomicFile::Create(fs, path_, OutputFence::InProgressPath(path_, ctx)));
    return absl::OkStatus();
  }

  absl::Status Process(int, BatchPtr batch, Collector&) override {
    if (header_ && !wrote_header_ && format_ == Format::kTsv) {
      buf_.append(TsvHeader(*batch->schema()));
      buf_.push_back('\n');
    }
    wrote_header_ = true;
    for (size_t r = 0; r < batch->num_rows(); ++r) {
      if (format_ == Format::kTsv) AppendTsvRow(*batch, r, &buf_);
      else buf_.append(batch->RowToJson(r));
      buf_.push_back('\n');
    }
    if (buf_.size() >= (1 << 20)) return Flush();
    return absl::OkStatus();
  }

  absl::Status OnEndOfInput(Collector&) override {
    finished_ = true;
    return absl::OkStatus();
  }

  // With checkpoints: the part being written becomes pending for this checkpoint.
  absl::Status Snapshot(SnapshotWriter& writer) override {
    if (!checkpointing_) return absl::OkStatus();
    RETURN_IF_ERROR(Flush());
    ASSIGN_OR_RETURN(std::string state, parts_.Snapshot(writer.checkpoint_id(), finished_));
    writer.Write("file_sink", state);
    return absl::OkStatus();
  }

  absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) override {
    if (!checkpointing_ || fence_ == nullptr) return absl::OkStatus();
    return parts_.Commit(checkpoint_id, *fence_);
  }

  absl::Status Close() override {
    if (checkpointing_) {
      // Only completed checkpoints publish: rows after the last one are written again
      // after a restart, and pending parts wait for it to roll them forward.
      parts_.Abandon();
      return absl::OkStatus();
    }
    if (file_ == nullptr) return absl::OkStatus();
    std::unique_ptr<AtomicFile> file = std::move(file_);
    // Failed or cancelled: the in-progress file stays (closed) for a look; the next
    // attempt's Claim removes it.
    if (!finished_) return absl::OkStatus();
    RETURN_IF_ERROR(Flush(*file));
    RETURN_IF_ERROR(file->Finish());
    absl::Status st = fence_->Publish([&] { return file->Commit(); });
    if (!st.ok()) file->Discard();  // stale: what it wrote is not wanted
    return st;
  }

 private:
  absl::Status Flush() {
    if (checkpointing_) {
      if (!buf_.empty()) RETURN_IF_ERROR(parts_.Append(buf_));
      buf_.clear();
      return absl::OkStatus();
    }
    return Flush(*file_);
  }
  absl::Status Flush(AtomicFile& file) {
    if (!buf_.empty()) RETURN_IF_ERROR(file.Append(buf_));
    buf_.clear();
    return absl::OkStatus();
  }

  const std::string node_path_;  // the `path` param
  const std::string path_;       // this subtask's: node_path_, or node_path_-i
  Format format_;
  bool header_;
  bool wrote_header_ = false;
  bool finished_ = false;
  bool checkpointing_ = false;
  std::unique_ptr<AtomicFile> file_;  // without checkpoints: from Open until Close
  PartFiles parts_;                   // with checkpoints
  std::unique_ptr<OutputFence> fence_;
  std::string buf_;
};

class ConsoleSink : public Operator {
 public:
  ConsoleSink(int64_t limit, Format format) : limit_(limit), format_(format) {}
  SchemaPtr output_schema() const override { return nullptr; }
  absl::Status Open(Context& ctx) override {
    // Nothing printed can be taken back: a restart from a checkpoint prints again what
    // came after it.
    if (ctx.checkpointing()) {
      ctx.logger().Warn("console_sink prints at least once: lines after the last checkpoint repeat after a restore");
    }
    return absl::OkStatus();
  }
  absl::Status Process(int, BatchPtr batch, Collector&) override {
    static std::mutex mu;  // subtasks share stdout
    std::string buf;
    if (format_ == Format::kTsv && !wrote_header_) {
      buf = TsvHeader(*batch->schema()) + "\n";
      wrote_header_ = true;
    }
    for (size_t r = 0; r < batch->num_rows(); ++r) {
      if (limit_ >= 0 && printed_ >= limit_) break;
      if (format_ == Format::kTsv) AppendTsvRow(*batch, r, &buf);
      else buf.append(batch->RowToJson(r));
      buf.push_back('\n');
      ++printed_;
    }
    std::lock_guard<std::mutex> lock(mu);
    std::fwrite(buf.data(), 1, buf.size(), stdout);
    std::fflush(stdout);  // a console is watched live, even through a pipe
    return absl::OkStatus();
  }
  absl::Status Close() override {
    std::fflush(stdout);
    return absl::OkStatus();
  }

 private:
  int64_t limit_;
  Format format_;
  int64_t printed_ = 0;
  bool wrote_header_ = false;
};

absl::StatusOr<Format> ParseFormat(const Param& p, const std::string& path) {
  std::string def = absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json") ? "jsonl" : "tsv";
  ASSIGN_OR_RETURN(std::string f, p.GetStringOr("format", def));
  if (f == "tsv") return Format::kTsv;
  if (f == "jsonl" || f == "json") return Format::kJsonl;
  return p.Find("format")->Error(absl::StrCat("expected tsv or jsonl, got '", f, "'"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> MakeFileSink(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"path", "format", "header"}));
  ASSIGN_OR_RETURN(std::string path, p.GetString("path"));
  ASSIGN_OR_RETURN(Format format, ParseFormat(p, path));
  ASSIGN_OR_RETURN(bool header, p.GetBoolOr("header", true));
  return std::make_unique<FileSink>(path, config.subtask_index, config.parallelism, format, header);
}

absl::StatusOr<std::unique_ptr<Operator>> MakeConsoleSink(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"limit", "format"}));
  ASSIGN_OR_RETURN(int64_t limit, p.GetIntOr("limit", -1));
  ASSIGN_OR_RETURN(Format format, ParseFormat(p, ""));
  return std::make_unique<ConsoleSink>(limit, format);
}

}  // namespace sluice::operators
