#include "operators/basic/sources.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>
#include <sstream>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/basic/line_reader.h"
#include "operators/basic/snapshot_state.h"

namespace sluice::operators {
namespace {

SchemaPtr LineSchema() {
  static const SchemaPtr schema =
      std::make_shared<Schema>(std::vector<Field>{{"line", Type::kString}});
  return schema;
}

// The lines of `path` that start in [start, end) (end -1: to the end of the file); a
// .gz file goes whole, less its first `skip` lines.
struct Split {
  std::string path;
  int64_t start = 0;
  int64_t end = -1;
  int64_t size = 0;  // of the file, when the source opened
  bool gzip = false;
  int64_t skip = 0;  // .gz: lines read before a rescale
};

// A file the paths matched, with its size when the source opened.
struct FileInfo {
  std::string path;
  int64_t size = 0;
};

// Emits a batch of lines from a LineReader (`scratch` then holds them); false at the end.
absl::StatusOr<bool> EmitLines(LineReader& reader, size_t batch_size, Collector& out,
                               std::vector<std::string_view>& scratch) {
  scratch.clear();
  ASSIGN_OR_RETURN(auto chunk, reader.ReadLines(batch_size, &scratch));
  if (chunk == nullptr && scratch.empty()) return false;
  BatchPtr batch = out.NewBatch(LineSchema());
  batch->column(0).strings.assign(scratch.begin(), scratch.end());
  batch->timestamps().assign(scratch.size(), kNoTimestamp);
  batch->set_num_rows(scratch.size());
  if (chunk != nullptr) batch->AddBuffer(std::move(chunk));
  out.Emit(std::move(batch));
  return true;
}

// Identifies a subtask's splits (paths, ranges, file sizes): a restart must find the
// same ones.
std::string SplitsFingerprint(const std::vector<Split>& splits) {
  std::string all;
  for (const Split& s : splits) absl::StrAppend(&all, s.path.size(), ":", s.path, ":", s.start, ":", s.end, ":", s.size, ";");
  return absl::StrCat(splits.size(), " ", absl::Hex(Fnv1a64(all), absl::kZeroPad16));
}

// Identifies every file the paths matched (names and sizes): a restart of a rescaled
// source must find the same ones.
std::string FilesFingerprint(const std::vector<FileInfo>& files) {
  std::string all;
  for (const FileInfo& f : files) absl::StrAppend(&all, f.path.size(), ":", f.path, ":", f.size, ";");
  return absl::StrCat(files.size(), " ", absl::Hex(Fnv1a64(all), absl::kZeroPad16));
}

// Subtask `subtask`'s splits of `files` at `parallelism`: plain files in one byte range
// per subtask (with `split`), gzip files (and all files without `split`, or with one
// subtask) whole, round robin.
std::vector<Split> SubtaskSplits(const std::vector<FileInfo>& files, bool split, int parallelism, int subtask) {
  std::vector<Split> splits;
  int whole = 0;
  for (const FileInfo& f : files) {
    const bool gzip = absl::EndsWith(f.path, ".gz");
    if (gzip || !split || parallelism == 1) {
      if (whole++ % parallelism == subtask) splits.push_back({f.path, 0, -1, f.size, gzip});
      continue;
    }
    int64_t start = f.size * subtask / parallelism, end = f.size * (subtask + 1) / parallelism;
    if (start < end) splits.push_back({f.path, start, subtask + 1 == parallelism ? -1 : end, f.size, false});
  }
  return splits;
}

absl::StatusOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& patterns, const Param& at);

// With checkpoints, a snapshot says how far this subtask got: how many of its splits it
// read to the end, and where in the next one it is. A plain file resumes at the byte
// offset of the next line; a .gz file has no offset to seek to, so the restart
// decompresses it again from the start and skips the lines the checkpoint counts. The
// batches after a restore hold the same lines in the same order as an undisturbed run
// (a plain file's batches even break at the same lines: a checkpoint is taken between
// two batches).
//
// Restored at another parallelism (RestoreRescaled), a subtask works out at Open what
// every old subtask had left: the old splits follow from the files and the old
// parallelism (checked against each old snapshot's fingerprint), so what is left is the
// rest of the split each was in (from its byte offset; a .gz from its first unread
// line) and the splits after it. These pieces, in order of old subtask and split, are
// dealt round robin to the new subtasks: every line not read before the checkpoint is
// read once, by one subtask, in file order within its piece. A subtask with such an
// explicit list of splits snapshots the list itself (format version 2, with a
// fingerprint of all the files), so later restores, at this parallelism or another,
// carry it on.
class FileSource : public Source {
 public:
  FileSource(std::vector<std::string> patterns, Param paths, bool split, int parallelism, int subtask,
             size_t batch_size)
      : patterns_(std::move(patterns)), paths_(std::move(paths)), split_(split), parallelism_(parallelism), subtask_(subtask),
        batch_size_(batch_size) {}
  SchemaPtr output_schema() const override { return LineSchema(); }
  bool bounded() const override { return true; }

  absl::Status Restore(SnapshotReader& reader) override {
    std::string blob;
    if (!reader.Read(kKind, &blob)) return absl::OkStatus();
    ASSIGN_OR_RETURN(restored_, ParsePosition(blob));
    return absl::OkStatus();
  }

  absl::Status RestoreRescaled(RescaledSnapshotReader& reader) override {
    rescaled_.emplace();
    for (int old = 0; old < reader.old_parallelism(); ++old) {
      std::string blob;
      if (!reader.Read(old, kKind, &blob)) {
        return absl::DataLossError(absl::StrCat("file_source: the checkpoint has no state of subtask ", old, " of ",
                                                reader.old_parallelism(), ": where it was in its files is unknown"));
      }
      ASSIGN_OR_RETURN(Position pos, ParsePosition(blob));
      rescaled_->push_back(std::move(pos));
    }
    return absl::OkStatus();
  }

  // The files are found here, on the machine that runs the task (the job may have been
  // planned elsewhere).
  absl::Status Open(Context&) override {
    ASSIGN_OR_RETURN(std::vector<std::string> paths, ExpandPaths(patterns_, paths_));
    std::vector<FileInfo> files;
    for (const std::string& f : paths) {
      struct stat st;
      if (stat(f.c_str(), &st) != 0) return paths_.Error(absl::StrCat("cannot read '", f, "'"));
      if (S_ISDIR(st.st_mode)) return paths_.Error(absl::StrCat("'", f, "' is a directory"));
      files.push_back({f, st.st_size});
    }
    if (rescaled_) return TakeOver(files);
    if (restored_ && restored_->splits) {
      RETURN_IF_ERROR(CheckFiles(restored_->files, files));
      files_ = restored_->files;
      splits_ = *restored_->splits;
      return Resume(*restored_);
    }
    splits_ = SubtaskSplits(files, split_, parallelism_, subtask_);
    if (!restored_) return absl::OkStatus();
    const std::string now = SplitsFingerprint(splits_);
    if (restored_->fingerprint != now) return Changed(restored_->fingerprint, now);
    return Resume(*restored_);
  }

  absl::StatusOr<bool> Poll(Collector& out) override {
    while (true) {
      if (reader_ == nullptr) {
        if (next_ >= splits_.size()) return false;
        const Split& s = splits_[next_++];
        RETURN_IF_ERROR(OpenSplit(s, s.start, 0));
      }
      ASSIGN_OR_RETURN(bool more, EmitLines(*reader_, batch_size_, out, scratch_));
      lines_ += static_cast<int64_t>(scratch_.size());
      if (more) return true;
      reader_.reset();
    }
  }

  absl::Status Snapshot(SnapshotWriter& writer) override {
    StateWriter state(kKind, files_.empty() ? 1 : 2);
    if (files_.empty()) {
      state.Add("splits", SplitsFingerprint(splits_));
    } else {
      state.Add("files", files_);
      for (const Split& s : splits_) {
        state.Add("split",
                  absl::StrCat(s.start, " ", s.end, " ", s.size, " ", s.gzip ? 1 : 0, " ", s.skip, " ", s.path));
      }
    }
    state.Add("done", static_cast<int64_t>(next_) - (reader_ != nullptr ? 1 : 0));
    if (reader_ != nullptr) {
      state.Add("offset", splits_[next_ - 1].gzip ? 0 : reader_->position());
      state.Add("lines", lines_);
    }
    writer.Write(kKind, std::move(state).Finish());
    return absl::OkStatus();
  }

 private:
  static constexpr std::string_view kKind = "file_source";
  struct Position {
    std::string fingerprint;                   // version 1: of the subtask's own splits
    std::string files;                         // version 2: of all the files
    std::optional<std::vector<Split>> splits;  // version 2: the splits themselves
    int64_t done = 0;                          // splits read to the end
    int64_t offset = -1;  // in split `done`, if it was being read: where its next line starts
    int64_t lines = -1;   // and how many of its lines were read (after its skip)
  };

  static absl::StatusOr<Position> ParsePosition(const std::string& blob) {
    const int version = absl::StartsWith(blob, absl::StrCat("sluice ", Sv(kKind), " 2\n")) ? 2 : 1;
    ASSIGN_OR_RETURN(std::vector<StateLine> lines, ParseState(blob, kKind, version));
    Position pos;
    bool have_splits = false, have_done = false;
    if (version == 2) pos.splits.emplace();
    for (const StateLine& line : lines) {
      if (line.key == "splits" && version == 1) {
        pos.fingerprint = line.value;
        have_splits = true;
      } else if (line.key == "files" && version == 2) {
        pos.files = line.value;
        have_splits = true;
      } else if (line.key == "split" && version == 2) {
        // "<start> <end> <size> <gzip> <skip> <path>"
        std::vector<std::string> f = absl::StrSplit(line.value, absl::MaxSplits(' ', 5));
        Split s;
        int gzip = 0;
        if (f.size() != 6 || !absl::SimpleAtoi(f[0], &s.start) || !absl::SimpleAtoi(f[1], &s.end) ||
            !absl::SimpleAtoi(f[2], &s.size) || !absl::SimpleAtoi(f[3], &gzip) || !absl::SimpleAtoi(f[4], &s.skip) ||
            s.start < 0 || s.end < -1 || s.size < 0 || (gzip != 0 && gzip != 1) || s.skip < 0 || f[5].empty()) {
          return BadState(kKind, absl::StrCat("bad split '", line.value.substr(0, 80), "'"));
        }
        s.gzip = gzip == 1;
        s.path = std::move(f[5]);
        pos.splits->push_back(std::move(s));
      } else if (line.key == "done") {
        ASSIGN_OR_RETURN(pos.done, StateCount(kKind, line));
        have_done = true;
      } else if (line.key == "offset") {
        ASSIGN_OR_RETURN(pos.offset, StateCount(kKind, line));
      } else if (line.key == "lines") {
        ASSIGN_OR_RETURN(pos.lines, StateCount(kKind, line));
      } else {
        return BadState(kKind, absl::StrCat("unknown key '", line.key.substr(0, 40), "'"));
      }
    }
    if (!have_splits || !have_done) return BadState(kKind, "splits or done missing");
    if ((pos.offset < 0) != (pos.lines < 0)) return BadState(kKind, "offset without lines, or lines without offset");
    return pos;
  }

  absl::Status Changed(const std::string& then, const std::string& now) const {
    return absl::FailedPreconditionError(absl::StrCat(
        "file_source: the files matching ", absl::StrJoin(patterns_, ", "),
        " are not those the checkpoint was taken on (split count and fingerprint then: ", then, ", now: ", now,
        "): a restart must find the same files with the same sizes; restore them, or start without the "
        "checkpoint"));
  }
  absl::Status CheckFiles(const std::string& then, const std::vector<FileInfo>& files) const {
    const std::string now = FilesFingerprint(files);
    return then == now ? absl::OkStatus() : Changed(then, now);
  }

  // DATA_LOSS unless `pos` is a place in `splits` splits.
  static absl::Status CheckPosition(const Position& pos, size_t splits) {
    if (pos.done > static_cast<int64_t>(splits) || (pos.offset >= 0 && pos.done >= static_cast<int64_t>(splits))) {
      return BadState(kKind, absl::StrCat("split ", pos.done, " of ", splits));
    }
    return absl::OkStatus();
  }
  static absl::Status CheckOffset(const Position& pos, const Split& s) {
    if (!s.gzip && (pos.offset < s.start || pos.offset > s.size)) {
      return BadState(kKind,
                      absl::StrCat("offset ", pos.offset, " outside ", s.path, " [", s.start, ", ", s.size, "]"));
    }
    return absl::OkStatus();
  }

  // Opens split `s` at `offset` (a plain file) with `lines` of it read before; a .gz
  // file has no offset to seek to, so it is decompressed from the start, skipping its
  // first s.skip + lines lines. FAILED_PRECONDITION if the .gz has fewer.
  absl::Status OpenSplit(const Split& s, int64_t offset, int64_t lines) {
    reader_ = std::make_unique<LineReader>();
    lines_ = lines;
    if (!s.gzip) return reader_->OpenFile(s.path, offset, s.end);
    RETURN_IF_ERROR(reader_->OpenFile(s.path, 0, -1));
    const int64_t skip = s.skip + lines;
    for (int64_t skipped = 0; skipped < skip;) {
      scratch_.clear();
      const size_t want = static_cast<size_t>(std::min<int64_t>(skip - skipped, 65536));
      ASSIGN_OR_RETURN(auto chunk, reader_->ReadLines(want, &scratch_));
      if (scratch_.empty()) {
        return absl::FailedPreconditionError(absl::StrCat("file_source: ", s.path, " has ", skipped,
                                                          " lines, fewer than the ", skip,
                                                          " the checkpoint says were read"));
      }
      skipped += static_cast<int64_t>(scratch_.size());
    }
    return absl::OkStatus();
  }

  // Continues where the checkpoint left off in splits_.
  absl::Status Resume(const Position& pos) {
    RETURN_IF_ERROR(CheckPosition(pos, splits_.size()));
    next_ = static_cast<size_t>(pos.done);
    if (pos.offset < 0) return absl::OkStatus();
    const Split& s = splits_[next_++];
    RETURN_IF_ERROR(CheckOffset(pos, s));
    return OpenSplit(s, pos.offset, pos.lines);
  }

  // After RestoreRescaled: this subtask's share of what the old subtasks had left.
  // FAILED_PRECONDITION if the files changed.
  absl::Status TakeOver(const std::vector<FileInfo>& files) {
    const int old_parallelism = static_cast<int>(rescaled_->size());
    std::vector<Split> left;
    for (int old = 0; old < old_parallelism; ++old) {
      const Position& pos = (*rescaled_)[old];
      std::vector<Split> splits;
      if (pos.splits) {
        RETURN_IF_ERROR(CheckFiles(pos.files, files));
        splits = *pos.splits;
      } else {
        splits = SubtaskSplits(files, split_, old_parallelism, old);
        const std::string now = SplitsFingerprint(splits);
        if (pos.fingerprint != now) return Changed(pos.fingerprint, now);
      }
      RETURN_IF_ERROR(CheckPosition(pos, splits.size()));
      for (size_t k = static_cast<size_t>(pos.done); k < splits.size(); ++k) {
        Split s = splits[k];
        if (static_cast<int64_t>(k) == pos.done && pos.offset >= 0) {
          RETURN_IF_ERROR(CheckOffset(pos, s));
          if (s.gzip) {
            s.skip += pos.lines;
          } else if (pos.offset >= s.size || (s.end >= 0 && pos.offset >= s.end)) {
            continue;  // read to its end
          } else {
            s.start = pos.offset;  // where a line starts
          }
        }
        left.push_back(std::move(s));
      }
    }
    for (size_t i = 0; i < left.size(); ++i) {
      if (static_cast<int>(i % parallelism_) == subtask_) splits_.push_back(std::move(left[i]));
    }
    files_ = FilesFingerprint(files);
    return absl::OkStatus();
  }

  const std::vector<std::string> patterns_;
  const Param paths_;  // located, for errors
  const bool split_;
  const int parallelism_, subtask_;
  std::vector<Split> splits_;  // this subtask's, found by Open
  std::string files_;          // with splits not its own (after a rescale): FilesFingerprint
  size_t batch_size_;
  size_t next_ = 0;                     // the split to open next
  std::unique_ptr<LineReader> reader_;  // of split next_ - 1
  int64_t lines_ = 0;                   // lines read from it
  std::vector<std::string_view> scratch_;
  std::optional<Position> restored_;
  std::optional<std::vector<Position>> rescaled_;  // by old subtask
};

class StdinSource : public Source {
 public:
  explicit StdinSource(size_t batch_size) : batch_size_(batch_size) {}
  SchemaPtr output_schema() const override { return LineSchema(); }
  // A pipe may never end (tail -f | sluice run): stdin jobs run in streaming mode.
  bool bounded() const override { return false; }
  absl::Status Open(Context& ctx) override {
    // A pipe cannot be read again: nothing to snapshot, and a restart reads on from
    // wherever the new process's stdin is.
    if (ctx.checkpointing()) {
      ctx.logger().Warn("stdin_source cannot be replayed: records read before a failure are lost on restore");
    }
    return reader_.OpenFd(STDIN_FILENO, "stdin");
  }
  absl::StatusOr<bool> Poll(Collector& out) override {
    return EmitLines(reader_, batch_size_, out, scratch_);
  }

 private:
  size_t batch_size_;
  LineReader reader_;
  std::vector<std::string_view> scratch_;
};

absl::StatusOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& patterns,
                                                     const Param& paths) {
  std::vector<std::string> files;
  for (const std::string& pattern : patterns) {
    glob_t g{};
    int rc = glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
    if (rc == GLOB_NOMATCH || g.gl_pathc == 0) {
      globfree(&g);
      return paths.Error(absl::StrCat("no file matches '", pattern, "'"));
    }
    if (rc != 0) {
      globfree(&g);
      return paths.Error(absl::StrCat("cannot expand '", pattern, "'"));
    }
    std::vector<std::string> matched(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    std::sort(matched.begin(), matched.end());
    files.insert(files.end(), matched.begin(), matched.end());
  }
  return files;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeFileSource(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"paths", "batch_size", "split"}));
  ASSIGN_OR_RETURN(std::vector<std::string> patterns, p.GetStringList("paths"));  // checks the shape
  ASSIGN_OR_RETURN(int64_t batch_size, p.GetIntOr("batch_size", config.batch_size));
  ASSIGN_OR_RETURN(bool split, p.GetBoolOr("split", true));
  if (batch_size < 1) return p.Find("batch_size")->Error("must be at least 1");
  return std::make_unique<FileSource>(std::move(patterns), *p.Find("paths"), split, config.parallelism, config.subtask_index,
                                      static_cast<size_t>(batch_size));
}

absl::StatusOr<std::unique_ptr<Source>> MakeStdinSource(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"batch_size"}));
  ASSIGN_OR_RETURN(int64_t batch_size, p.GetIntOr("batch_size", config.batch_size));
  if (batch_size < 1) return p.Find("batch_size")->Error("must be at least 1");
  if (config.parallelism != 1) return p.Error("stdin_source runs with parallelism 1");
  return std::make_unique<StdinSource>(static_cast<size_t>(batch_size));
}

}  // namespace sluice::operators
