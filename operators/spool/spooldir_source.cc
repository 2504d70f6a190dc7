#include "operators/spool/spooldir_source.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/basic/line_reader.h"
#include "operators/basic/snapshot_state.h"

namespace sluice::operators {
namespace {

// The snapshot blob "spool" (operators/basic/snapshot_state.h: versioned, checksummed).
constexpr std::string_view kKind = "spooldir_source";
constexpr int kVersion = 1;

SchemaPtr SpoolSchema() {
  static const SchemaPtr schema =
      std::make_shared<Schema>(std::vector<Field>{{"line", Type::kString}, {"file", Type::kString}});
  return schema;
}

// What identifies the file that was picked up: a file replaced or changed afterwards
// has another inode, size or modification time.
struct FileId {
  std::string name;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;

  std::string Encode() const { return absl::StrCat(inode, "\t", size, "\t", mtime_ns, "\t", name); }
  static bool Decode(absl::string_view text, FileId* id) {
    std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('\t', 3));
    // A name in the spool directory itself, never a path elsewhere.
    return parts.size() == 4 && absl::SimpleAtoi(parts[0], &id->inode) &&
           absl::SimpleAtoi(parts[1], &id->size) && absl::SimpleAtoi(parts[2], &id->mtime_ns) &&
           !(id->name = std::string(parts[3])).empty() && id->name != "." && id->name != ".." &&
           id->name.find('/') == std::string::npos;
  }
  bool SameAs(const FileId& o) const { return inode == o.inode && size == o.size && mtime_ns == o.mtime_ns; }
  std::string Describe() const { return absl::StrCat("inode ", inode, ", ", size, " bytes, mtime ", mtime_ns, " ns"); }
};

absl::StatusOr<FileId> Stat(const std::string& dir, const std::string& name) {
  struct stat st;
  const std::string path = absl::StrCat(dir, "/", name);
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  FileId id;
  id.name = name;
  id.inode = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return id;
}

struct Options {
  std::string dir;
  std::vector<std::string> include;
  std::vector<std::string> ignore;
  std::string completed_suffix = ".COMPLETED";
  std::string done_dir;
  int64_t poll_ms = 1000;
  bool stop_when_empty = false;
  size_t batch_size = 2048;
};

class SpoolDirSource : public Source {
 public:
  SpoolDirSource(Options o, int subtask, int parallelism, std::string node)
      : o_(std::move(o)), subtask_(subtask), parallelism_(parallelism), node_(std::move(node)) {}

  SchemaPtr output_schema() const override { return SpoolSchema(); }
  bool bounded() const override { return o_.stop_when_empty; }

  // The checkpoint names the file being read (and how far) and every file read to its
  // end and not yet marked done, also those of earlier checkpoints whose notify never
  // came: Open marks them all. DATA_LOSS if the blob is damaged or cut short.
  absl::Status Restore(SnapshotReader& reader) override {
    std::string blob;
    if (!reader.Read("spool", &blob)) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::vector<StateLine> lines, ParseState(blob, kKind, kVersion));
    for (const StateLine& line : lines) {
      FileId id;
      if (line.key == "current" && !restored_current_) {  // "<lines read> <file id>"
        std::pair<absl::string_view, absl::string_view> nl = absl::StrSplit(line.value, absl::MaxSplits(' ', 1));
        int64_t lines_read = 0;
        if (!absl::SimpleAtoi(nl.first, &lines_read) || lines_read < 0 || !FileId::Decode(nl.second, &id)) {
          return BadState(kKind, absl::StrCat("bad current '", line.value.substr(0, 80), "'"));
        }
        restored_current_ = id;
        restored_lines_ = lines_read;
      } else if (line.key == "done" && FileId::Decode(line.value, &id)) {
        to_mark_.push_back(id);  // read to the end before the checkpoint, maybe not marked yet
      } else {
        return BadState(kKind, absl::StrCat("bad ", line.key.substr(0, 40), " '", line.value.substr(0, 80), "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Open(Context& ctx) override {
    log_ = ctx.logger();
    clock_ = &ctx.clock();
    checkpointing_ = ctx.checkpointing();
    files_done_ = ctx.GetCounter("spool_files_done");
    files_unreadable_ = ctx.GetCounter("spool_files_unreadable");
    struct stat st;
    if (::stat(o_.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("spool directory ", o_.dir, " does not exist"));
    }
    if (!o_.done_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(o_.done_dir, ec);
      if (ec) return absl::InternalError(absl::StrCat("cannot create done_dir ", o_.done_dir, ": ", ec.message()));
    }
    for (const FileId& id : to_mark_) RETURN_IF_ERROR(MarkDone(id, /*after_restart=*/true));
    to_mark_.clear();
    log_.Info("watching %s (%s%s)", o_.dir,
              o_.done_dir.empty() ? absl::StrCat("done files get ", o_.completed_suffix)
                                  : absl::StrCat("done files move to ", o_.done_dir),
              restored_current_ ? absl::StrCat("; resuming ", restored_current_->name, " after line ", restored_lines_)
                                : "");
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Poll(Collector& out) override {
    if (reader_ == nullptr) {
      ASSIGN_OR_RETURN(bool opened, OpenNext());
      if (!opened) {
        if (o_.stop_when_empty) return false;
        clock_->SleepMs(std::min<int64_t>(o_.poll_ms, 200));
        return true;
      }
    }
    lines_.clear();
    auto chunk = reader_->ReadLines(o_.batch_size, &lines_);
    if (!chunk.ok()) {
      // Unreadable part-way (a damaged .gz): loud, and the other files go on. The lines
      // before the damage were read; the file is left in place for a person to look at.
      log_.Error("%s is unreadable after %d lines: %s; skipping it", current_.name, current_lines_,
                 std::string(chunk.status().message()));
      files_unreadable_->Add(1);
      skip_.insert(current_.name);
      reader_.reset();
      return true;
    }
    if (*chunk == nullptr && lines_.empty()) {
      RETURN_IF_ERROR(FinishFile());
      return true;
    }
    BatchPtr batch = out.NewBatch(SpoolSchema());
    batch->column(0).strings.assign(lines_.begin(), lines_.end());
    batch->column(1).strings.assign(lines_.size(), std::string_view(*current_name_));
    batch->timestamps().assign(lines_.size(), kNoTimestamp);
    batch->set_num_rows(lines_.size());
    if (*chunk != nullptr) batch->AddBuffer(std::move(*chunk));
    batch->AddBuffer(current_name_);
    current_lines_ += static_cast<int64_t>(lines_.size());
    out.Emit(std::move(batch));
    return true;
  }

  absl::Status Snapshot(SnapshotWriter& writer) override {
    if (!finished_.empty()) {
      std::vector<FileId>& pending = pending_[writer.checkpoint_id()];
      pending.insert(pending.end(), finished_.begin(), finished_.end());
      finished_.clear();
    }
    StateWriter state(kKind, kVersion);
    if (reader_ != nullptr) state.Add("current", absl::StrCat(current_lines_, " ", current_.Encode()));
    // Every file not marked done yet, also those of earlier checkpoints: their notify may
    // never come (a checkpoint that failed), and a restore from this one marks them.
    for (const auto& [id, files] : pending_) {
      for (const FileId& f : files) state.Add("done", f.Encode());
    }
    writer.Write("spool", std::move(state).Finish());
    return absl::OkStatus();
  }

  absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) override {
    while (!pending_.empty() && pending_.begin()->first <= checkpoint_id) {
      for (const FileId& id : pending_.begin()->second) RETURN_IF_ERROR(MarkDone(id, false));
      pending_.erase(pending_.begin());
    }
    return absl::OkStatus();
  }

  absl::Status Close() override {
    reader_.reset();
    return absl::OkStatus();
  }

 private:
  bool Eligible(const std::string& name) const {
    if (name.empty() || name[0] == '.') return false;
    if (absl::EndsWith(name, o_.completed_suffix)) return false;
    for (const auto& g : o_.ignore) {
      if (fnmatch(g.c_str(), name.c_str(), 0) == 0) return false;
    }
    bool included = o_.include.empty();
    for (const auto& g : o_.include) included = included || fnmatch(g.c_str(), name.c_str(), 0) == 0;
    if (!included) return false;
    if (skip_.count(name) || in_flight_.count(name)) return false;
    // Deterministic ownership: each file belongs to one subtask.
    return parallelism_ == 1 || std::hash<std::string>{}(name) % parallelism_ == static_cast<size_t>(subtask_);
  }

  // Opens the restored file, or the oldest eligible one. False if there is none.
  absl::StatusOr<bool> OpenNext() {
    if (restored_current_) {
      FileId want = *restored_current_;
      restored_current_.reset();
      auto now = Stat(o_.dir, want.name);
      if (!now.ok() || !now->SameAs(want)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "spool: ", o_.dir, "/", want.name, " was being read when the job stopped (", want.Describe(),
            ") and is now ", now.ok() ? now->Describe() : std::string(now.status().message()),
            ": a file must not change after it appears in the spool directory"));
      }
      ASSIGN_OR_RETURN(bool ok, OpenFile(want));
      if (!ok) return OpenNext();
      // Skip what the checkpoint says was read (for .gz there is no byte offset to seek to).
      int64_t skip = restored_lines_;
      while (skip > 0) {
        lines_.clear();
        ASSIGN_OR_RETURN(auto chunk, reader_->ReadLines(static_cast<size_t>(std::min<int64_t>(skip, 65536)), &lines_));
        if (lines_.empty()) {
          return absl::DataLossError(absl::StrCat("spool: ", want.name, " has fewer lines than the ",
                                                  restored_lines_, " the checkpoint says were read"));
        }
        skip -= static_cast<int64_t>(lines_.size());
      }
      current_lines_ = restored_lines_;
      return true;
    }
    int64_t now_ms = clock_->MonotonicMs();
    // With stop_when_empty, look again before saying the directory is empty.
    if (queue_.empty() && !o_.stop_when_empty && now_ms - last_scan_ms_ < o_.poll_ms) return false;
    if (queue_.empty()) {
      last_scan_ms_ = now_ms;
      RETURN_IF_ERROR(Scan());
    }
    while (!queue_.empty()) {
      FileId id = queue_.front();
      queue_.erase(queue_.begin());
      ASSIGN_OR_RETURN(bool ok, OpenFile(id));
      if (ok) return true;
    }
    return false;
  }

  absl::Status Scan() {
    DIR* d = ::opendir(o_.dir.c_str());
    if (d == nullptr) return absl::UnavailableError(absl::StrCat("spool: cannot list ", o_.dir, ": ", std::strerror(errno)));
    std::vector<FileId> found;
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (!Eligible(name)) continue;
      auto id = Stat(o_.dir, name);
      if (!id.ok()) continue;  // gone since listing
      struct stat st;
      if (::stat(absl::StrCat(o_.dir, "/", name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      found.push_back(*id);
    }
    ::closedir(d);
    // Oldest first, then by name (Flume's default order).
    std::sort(found.begin(), found.end(), [](const FileId& a, const FileId& b) {
      return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.name < b.name;
    });
    queue_ = std::move(found);
    return absl::OkStatus();
  }

  // Opens `id` for reading. False (logged, counted, skipped from now on) if unreadable.
  absl::StatusOr<bool> OpenFile(const FileId& id) {
    auto reader = std::make_unique<LineReader>();
    absl::Status st = reader->OpenFile(absl::StrCat(o_.dir, "/", id.name), 0, -1);
    if (!st.ok()) {
      log_.Error("cannot read %s/%s: %s; skipping it, the other files go on", o_.dir, id.name,
                 std::string(st.message()));
      files_unreadable_->Add(1);
      skip_.insert(id.name);
      return false;
    }
    reader_ = std::move(reader);
    current_ = id;
    current_name_ = std::make_shared<std::string>(id.name);
    current_lines_ = 0;
    in_flight_.insert(id.name);
    log_.Info("reading %s (%d bytes)", id.name, id.size);
    return true;
  }

  // The file was read to its end: check it did not change, then mark it done (now, or
  // once the checkpoint covering its last line completes).
  absl::Status FinishFile() {
    reader_.reset();
    auto now = Stat(o_.dir, current_.name);
    if (!now.ok() || !now->SameAs(current_)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "spool: ", o_.dir, "/", current_.name, " changed while it was read (picked up as ", current_.Describe(),
          ", now ", now.ok() ? now->Describe() : std::string(now.status().message()),
          "); write files elsewhere or under an ignored name (*.tmp) and rename them in when complete"));
    }
    log_.Info("read %s (%d lines)", current_.name, current_lines_);
    if (checkpointing_) {
      finished_.push_back(current_);
      return absl::OkStatus();
    }
    return MarkDone(current_, false);
  }

  // After a restart (`after_restart`), `id` comes from the checkpoint: marked already
  // if it is gone and its done name exists; FAILED_PRECONDITION if the file there now is
  // another one (it is not marked in its place).
  absl::Status MarkDone(const FileId& id, bool after_restart) {
    const std::string from = absl::StrCat(o_.dir, "/", id.name);
    const std::string to = o_.done_dir.empty() ? from + o_.completed_suffix : absl::StrCat(o_.done_dir, "/", id.name);
    in_flight_.erase(id.name);
    struct stat st;
    if (after_restart) {
      auto now = Stat(o_.dir, id.name);
      if ((!now.ok() || !now->SameAs(id)) && ::stat(to.c_str(), &st) == 0) return absl::OkStatus();  // marked before
      if (now.ok() && !now->SameAs(id)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "spool: ", from, " was read to its end before the job stopped (", id.Describe(), ") and is now ",
            now->Describe(), ": a file must not change after it appears in the spool directory"));
      }
    }
    if (::stat(from.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("spool: ", from, " disappeared before it was marked done"));
    }
    if (::stat(to.c_str(), &st) == 0) {
      return absl::AlreadyExistsError(absl::StrCat("spool: cannot mark ", from, " done: ", to,
                                                   " exists (a file of the same name was ingested before); "
                                                   "rename one of them"));
    }
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("spool: cannot rename ", from, " to ", to, ": ", std::strerror(errno)));
    }
    files_done_->Add(1);
    return absl::OkStatus();
  }

  Options o_;
  int subtask_;
  int parallelism_;
  std::string node_;
  Logger log_;
  Clock* clock_ = &SystemClock();  // the Context's, from Open
  bool checkpointing_ = false;
  Counter* files_done_ = nullptr;
  Counter* files_unreadable_ = nullptr;
  std::unique_ptr<LineReader> reader_;
  FileId current_;
  std::shared_ptr<std::string> current_name_;
  int64_t current_lines_ = 0;
  std::vector<std::string_view> lines_;
  std::vector<FileId> queue_;
  int64_t last_scan_ms_ = -1'000'000'000;
  std::set<std::string> skip_;       // unreadable: not retried by this process
  std::set<std::string> in_flight_;  // read or being read, not marked done yet
  std::vector<FileId> finished_;     // read to the end since the last checkpoint
  // By checkpoint id: mark done once it (or a later one) completes. Every snapshot names all of it.
  std::map<int64_t, std::vector<FileId>> pending_;
  std::optional<FileId> restored_current_;
  int64_t restored_lines_ = 0;
  std::vector<FileId> to_mark_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeSpoolDirSource(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"dir", "include", "ignore", "completed_suffix", "done_dir", "poll_interval",
                               "stop_when_empty", "batch_size"}));
  Options o;
  ASSIGN_OR_RETURN(o.dir, p.GetStringOr("dir", ""));
  if (o.dir.empty()) return p.MissingError("dir");
  ASSIGN_OR_RETURN(o.include, p.GetStringListOr("include"));
  if (p.Find("ignore") != nullptr) {
    ASSIGN_OR_RETURN(o.ignore, p.GetStringListOr("ignore"));
  } else {
    o.ignore = {"*.tmp"};
  }
  ASSIGN_OR_RETURN(o.completed_suffix, p.GetStringOr("completed_suffix", ".COMPLETED"));
  if (o.completed_suffix.empty()) return p.Find("completed_suffix")->Error("must not be empty");
  ASSIGN_OR_RETURN(o.done_dir, p.GetStringOr("done_dir", ""));
  ASSIGN_OR_RETURN(o.poll_ms, p.GetDurationMsOr("poll_interval", 1000));
  ASSIGN_OR_RETURN(o.stop_when_empty, p.GetBoolOr("stop_when_empty", false));
  ASSIGN_OR_RETURN(int64_t batch, p.GetIntOr("batch_size", config.batch_size));
  if (batch < 1) return p.Find("batch_size")->Error("must be at least 1");
  o.batch_size = static_cast<size_t>(batch);
  return std::make_unique<SpoolDirSource>(std::move(o), config.subtask_index, config.parallelism, config.node_id);
}

absl::Status RegisterSpoolOperators(OperatorRegistry& registry) {
  return registry.RegisterSource("spooldir_source", MakeSpoolDirSource,
                                 "Flume-style spooling directory: each completed file once, then renamed");
}

}  // namespace sluice::operators
