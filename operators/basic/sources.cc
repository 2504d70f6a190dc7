#include "operators/basic/sources.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "operators/basic/line_reader.h"
#include "operators/basic/snapshot_state.h"

namespace sluice::operators {
namespace {

SchemaPtr LineSchema() {
  static const SchemaPtr schema =
      std::make_shared<Schema>(std::vector<Field>{{"line", Type::kString}});
  return schema;
}

struct Split {
  std::string path;
  int64_t start = 0;
  int64_t end = -1;
  int64_t size = 0;  // of the file, when the source opened
  bool gzip = false;
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

absl::StatusOr<std::vector<std::string>> ExpandPaths(const std::vector<std::string>& patterns, const Param& at);

// With checkpoints, a snapshot says how far this subtask got: how many of its splits it
// read to the end, and where in the next one it is. A plain file resumes at the byte
// offset of the next line; a .gz file has no offset to seek to, so the restart
// decompresses it again from the start and skips the lines the checkpoint counts. The
// batches after a restore hold the same lines in the same order as an undisturbed run
// (a plain file's batches even break at the same lines: a checkpoint is taken between
// two batches).
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
    ASSIGN_OR_RETURN(std::vector<StateLine> lines, ParseState(blob, kKind, 1));
    Position pos;
    bool have_splits = false, have_done = false;
    for (const StateLine& line : lines) {
      if (line.key == "splits") {
        pos.fingerprint = line.value;
        have_splits = true;
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
    restored_ = pos;
    return absl::OkStatus();
  }

  // The files are found here, on the machine that runs the task (the job may have been
  // planned elsewhere). Plain files split into one byte range per subtask; gzip files go
  // whole, round robin.
  absl::Status Open(Context&) override {
    ASSIGN_OR_RETURN(std::vector<std::string> files, ExpandPaths(patterns_, paths_));
    int whole = 0;
    for (const std::string& f : files) {
      struct stat st;
      if (stat(f.c_str(), &st) != 0) return paths_.Error(absl::StrCat("cannot read '", f, "'"));
      if (S_ISDIR(st.st_mode)) return paths_.Error(absl::StrCat("'", f, "' is a directory"));
      const bool gzip = absl::EndsWith(f, ".gz");
      if (gzip || !split_ || parallelism_ == 1) {
        if (whole++ % parallelism_ == subtask_) splits_.push_back({f, 0, -1, st.st_size, gzip});
        continue;
      }
      int64_t size = st.st_size;
      int64_t start = size * subtask_ / parallelism_, end = size * (subtask_ + 1) / parallelism_;
      if (start < end) splits_.push_back({f, start, subtask_ + 1 == parallelism_ ? -1 : end, size, false});
    }
    if (restored_) return Resume(*restored_);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Poll(Collector& out) override {
    while (true) {
      if (reader_ == nullptr) {
        if (next_ >= splits_.size()) return false;
        const Split& s = splits_[next_++];
        reader_ = std::make_unique<LineReader>();
        RETURN_IF_ERROR(reader_->OpenFile(s.path, s.start, s.end));
        lines_ = 0;
      }
      ASSIGN_OR_RETURN(bool more, EmitLines(*reader_, batch_size_, out, scratch_));
      lines_ += static_cast<int64_t>(scratch_.size());
      if (more) return true;
      reader_.reset();
    }
  }

  absl::Status Snapshot(SnapshotWriter& writer) override {
    StateWriter state(kKind, 1);
    state.Add("splits", SplitsFingerprint(splits_));
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
    std::string fingerprint;
    int64_t done = 0;     // splits read to the end
    int64_t offset = -1;  // in split `done`, if it was being read: where its next line starts
    int64_t lines = -1;   // and how many of its lines were read
  };

  // Continues where the checkpoint left off. FAILED_PRECONDITION if the files changed.
  absl::Status Resume(const Position& pos) {
    const std::string now = SplitsFingerprint(splits_);
    if (pos.fingerprint != now) {
      return absl::FailedPreconditionError(absl::StrCat(
          "file_source: the files matching ", absl::StrJoin(patterns_, ", "),
          " are not those the checkpoint was taken on (split count and fingerprint then: ", pos.fingerprint,
          ", now: ", now, "): a restart must find the same files with the same sizes; restore them, or start "
          "without the checkpoint"));
    }
    if (pos.done > static_cast<int64_t>(splits_.size()) ||
        (pos.offset >= 0 && pos.done >= static_cast<int64_t>(splits_.size()))) {
      return BadState(kKind, absl::StrCat("split ", pos.done, " of ", splits_.size()));
    }
    next_ = static_cast<size_t>(pos.done);
    if (pos.offset < 0) return absl::OkStatus();
    const Split& s = splits_[next_++];
    reader_ = std::make_unique<LineReader>();
    if (!s.gzip) {
      if (pos.offset < s.start || pos.offset > s.size) {
        return BadState(kKind, absl::StrCat("offset ", pos.offset, " outside ", s.path, " [", s.start, ", ", s.size, "]"));
      }
      RETURN_IF_ERROR(reader_->OpenFile(s.path, pos.offset, s.end));
      lines_ = pos.lines;
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(reader_->OpenFile(s.path, s.start, s.end));
    for (lines_ = 0; lines_ < pos.lines;) {
      scratch_.clear();
      const size_t want = static_cast<size_t>(std::min<int64_t>(pos.lines - lines_, 65536));
      ASSIGN_OR_RETURN(auto chunk, reader_->ReadLines(want, &scratch_));
      if (scratch_.empty()) {
        return absl::FailedPreconditionError(absl::StrCat("file_source: ", s.path, " has ", lines_,
                                                          " lines, fewer than the ", pos.lines,
                                                          " the checkpoint says were read"));
      }
      lines_ += static_cast<int64_t>(scratch_.size());
    }
    return absl::OkStatus();
  }

  const std::vector<std::string> patterns_;
  const Param paths_;  // located, for errors
  const bool split_;
  const int parallelism_, subtask_;
  std::vector<Split> splits_;  // this subtask's, found by Open
  size_t batch_size_;
  size_t next_ = 0;                     // the split to open next
  std::unique_ptr<LineReader> reader_;  // of split next_ - 1
  int64_t lines_ = 0;                   // lines read from it
  std::vector<std::string_view> scratch_;
  std::optional<Position> restored_;
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

// ---------------------------------------------------------------------------------

namespace {

// Record i is the i-th draw of the subtask's seeded engine. A snapshot keeps the next
// sequence number and the engine's state (std::mt19937_64's standard text form: its 312
// state words and position), so the records after a restore are those of an undisturbed
// run.
class GeneratorSource : public Source {
 public:
  GeneratorSource(int64_t first, int64_t count, int64_t keys, int64_t start_ms, double per_ms,
                  int64_t disorder_ms, size_t batch_size, uint64_t seed)
      : first_(first), next_(first), end_(first + count), start_ms_(start_ms), per_ms_(per_ms),
        disorder_ms_(disorder_ms), batch_size_(batch_size), rng_(seed) {
    auto names = std::make_shared<std::vector<std::string>>();
    for (int64_t k = 0; k < keys; ++k) names->push_back(absl::StrCat("key-", k));
    keys_ = names;
    schema_ = std::make_shared<Schema>(std::vector<Field>{{"seq", Type::kInt64},
                                                          {"key", Type::kString},
                                                          {"value", Type::kDouble},
                                                          {"event_time", Type::kTimestamp}});
  }
  SchemaPtr output_schema() const override { return schema_; }
  bool bounded() const override { return true; }

  absl::StatusOr<bool> Poll(Collector& out) override {
    if (next_ >= end_) return false;
    size_t n = static_cast<size_t>(std::min<int64_t>(batch_size_, end_ - next_));
    BatchPtr b = out.NewBatch(schema_);
    b->AddBuffer(keys_);
    auto& seq = b->column(0).ints;
    auto& key = b->column(1).strings;
    auto& val = b->column(2).doubles;
    auto& et = b->column(3).ints;
    auto& ts = b->timestamps();
    const auto& names = *keys_;
    for (size_t i = 0; i < n; ++i, ++next_) {
      uint64_t r = rng_();
      int64_t t = start_ms_ + static_cast<int64_t>(next_ / per_ms_);
      if (disorder_ms_ > 0) t -= static_cast<int64_t>((r >> 40) % (disorder_ms_ + 1));
      seq.push_back(next_);
      key.push_back(names[r % names.size()]);
      val.push_back(static_cast<double>((r >> 20) & 0xFFFF) / 100.0);
      et.push_back(t);
      ts.push_back(t);
    }
    b->set_num_rows(n);
    out.Emit(std::move(b));
    return true;
  }

  absl::Status Snapshot(SnapshotWriter& writer) override {
    std::ostringstream engine;
    engine << rng_;
    StateWriter state(kKind, 1);
    state.Add("range", absl::StrCat(first_, " ", end_));
    state.Add("next", next_);
    state.Add("rng", engine.str());
    writer.Write(kKind, std::move(state).Finish());
    return absl::OkStatus();
  }

  absl::Status Restore(SnapshotReader& reader) override {
    std::string blob;
    if (!reader.Read(kKind, &blob)) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::vector<StateLine> lines, ParseState(blob, kKind, 1));
    std::optional<int64_t> next;
    std::optional<std::mt19937_64> rng;
    bool have_range = false;
    for (const StateLine& line : lines) {
      if (line.key == "range") {
        if (line.value != absl::StrCat(first_, " ", end_)) {
          return absl::FailedPreconditionError(absl::StrCat(
              "generator: the checkpoint was taken generating seq from/to ", line.value.substr(0, 60),
              ", this subtask now generates ", first_, " ", end_,
              "; restore with the same count and parallelism, or start without the checkpoint"));
        }
        have_range = true;
      } else if (line.key == "next") {
        ASSIGN_OR_RETURN(next, StateInt(kKind, line));
        if (*next < first_ || *next > end_) return BadState(kKind, absl::StrCat("next ", *next, " outside the range"));
      } else if (line.key == "rng") {
        std::istringstream in(line.value);
        rng.emplace();
        in >> *rng;
        if (in.fail() || !(in >> std::ws).eof()) return BadState(kKind, "bad random engine state");
      } else {
        return BadState(kKind, absl::StrCat("unknown key '", line.key.substr(0, 40), "'"));
      }
    }
    if (!have_range || !next || !rng) return BadState(kKind, "range, next or rng missing");
    next_ = *next;
    rng_ = *rng;
    return absl::OkStatus();
  }

 private:
  static constexpr std::string_view kKind = "generator";
  int64_t first_, next_, end_, start_ms_;
  double per_ms_;
  int64_t disorder_ms_;
  size_t batch_size_;
  std::mt19937_64 rng_;
  std::shared_ptr<std::vector<std::string>> keys_;
  SchemaPtr schema_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeGeneratorSource(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"count", "keys", "start_time", "events_per_second",
                               "max_disorder", "batch_size", "seed"}));
  ASSIGN_OR_RETURN(int64_t count, p.GetIntOr("count", 1000000));
  ASSIGN_OR_RETURN(int64_t keys, p.GetIntOr("keys", 1000));
  ASSIGN_OR_RETURN(int64_t start, p.GetIntOr("start_time", 1700000000000));
  ASSIGN_OR_RETURN(double eps, p.GetDoubleOr("events_per_second", 100000));
  ASSIGN_OR_RETURN(int64_t disorder, p.GetDurationMsOr("max_disorder", 0));
  ASSIGN_OR_RETURN(int64_t batch_size, p.GetIntOr("batch_size", config.batch_size));
  ASSIGN_OR_RETURN(int64_t seed, p.GetIntOr("seed", 42));
  if (count < 0) return p.Find("count")->Error("must not be negative");
  if (keys < 1) return p.Find("keys")->Error("must be at least 1");
  if (eps <= 0) return p.Find("events_per_second")->Error("must be positive");
  if (batch_size < 1) return p.Find("batch_size")->Error("must be at least 1");
  int64_t first = count * config.subtask_index / config.parallelism;
  int64_t last = count * (config.subtask_index + 1) / config.parallelism;
  return std::make_unique<GeneratorSource>(first, last - first, keys, start, eps / 1000.0, disorder,
                                           static_cast<size_t>(batch_size),
                                           static_cast<uint64_t>(seed) * 7919 + config.subtask_index);
}

}  // namespace sluice::operators
