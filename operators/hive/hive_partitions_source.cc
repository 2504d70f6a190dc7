#include "operators/hive/hive_partitions_source.h"

#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/basic/line_reader.h"
#include "operators/basic/snapshot_state.h"
#include "operators/hive/filesystem.h"
#include "operators/hive/hive_text.h"
#include "operators/hive/table.h"

namespace sluice::hive {
namespace {

using operators::BadState;
using operators::StateInt;
using operators::StateLine;

// One chosen partition: its directory and its values.
struct PartitionDir {
  std::string path;  // relative: dt=2026-11-20[/hour=08]
  std::vector<std::string> values;
  std::vector<std::string> files;  // names of its data files (every subtask's), sorted
  std::string fingerprint;         // of their names and sizes; "" until needed (checkpoints)
};

enum class Encoding { kPlain, kGzip, kZstd };

struct DataFile {
  size_t partition = 0;  // index into partitions
  std::string path;
  Encoding encoding = Encoding::kPlain;
};

Encoding EncodingOf(const std::string& name) {
  if (absl::EndsWith(name, ".zst")) return Encoding::kZstd;
  if (absl::EndsWith(name, ".gz")) return Encoding::kGzip;
  return Encoding::kPlain;
}

// -1 if `path` cannot be stat'ed (reading it will say why). The data files are read from
// the local disk (LineReader), as are their sizes; a WebHDFS FileSystem would need a
// size call here.
int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

// "dt=A..B", "dt=A" or "A..B" (dt implied): the inclusive range of the first key.
absl::Status ParseRange(std::string_view spec, const std::string& first_key, std::string* lo, std::string* hi) {
  if (size_t eq = spec.find('='); eq != std::string_view::npos) {
    if (spec.substr(0, eq) != first_key) {
      return absl::InvalidArgumentError(absl::StrCat("partitions: the table's first partition column is '",
                                                     first_key, "', got '", Sv(spec.substr(0, eq)), "'"));
    }
    spec.remove_prefix(eq + 1);
  }
  if (size_t dots = spec.find(".."); dots != std::string_view::npos) {
    *lo = std::string(spec.substr(0, dots));
    *hi = std::string(spec.substr(dots + 2));
  } else {
    *lo = *hi = std::string(spec);
  }
  if (lo->empty() || hi->empty() || *lo > *hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("partitions: expected like dt=2026-11-20..2026-11-24 or dt=2026-11-20, got '", Sv(spec), "'"));
  }
  return absl::OkStatus();
}

struct Options {
  std::shared_ptr<FileSystem> fs;
  std::string table_dir;
  std::string table_name;
  TableSchema schema;
  std::vector<std::string> ranges;  // as given
  bool require_success = true;
  size_t batch_size = 2048;
};

SchemaPtr OutputSchema(const TableSchema& t) {
  std::vector<Field> fields = t.columns;
  for (const auto& k : t.partition_keys) fields.push_back({k, Type::kString});
  return std::make_shared<Schema>(std::move(fields));
}

// With checkpoints, a snapshot (blob "hive_partitions", operators/basic/snapshot_state.h)
// says how far this subtask got: how many of its files it read to the end and, in the
// current one, the byte offset of the next line (plain files) and the lines read. It
// also holds, per chosen partition, the number of data files and a fingerprint of their
// names and sizes (every subtask's, as the round robin depends on all of them), and the
// subtask and parallelism. A restore must find the same partitions with the same files,
// or fails with FAILED_PRECONDITION naming the partitions that changed (an overwrite job
// re-wrote one, the range now takes in another), rather than resume at a wrong place.
// Compressed files cannot seek: a .gz is decompressed again from its start and a .zst
// read whole again, and the lines the checkpoint counts are skipped. The batches after a
// restore are those of an undisturbed run (a checkpoint falls between two batches, and
// skipping lines leaves a .gz reader's chunks where an undisturbed read has them).
class HivePartitionsSource : public Source {
 public:
  HivePartitionsSource(Options o, int subtask, int parallelism, std::string node)
      : o_(std::move(o)), subtask_(subtask), parallelism_(parallelism), node_(std::move(node)),
        columns_(std::make_shared<Schema>(o_.schema.columns)), output_(OutputSchema(o_.schema)),
        decoder_(columns_) {}

  SchemaPtr output_schema() const override { return output_; }
  bool bounded() const override { return true; }

  absl::Status Restore(SnapshotReader& reader) override {
    std::string blob;
    if (!reader.Read(kKind, &blob)) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::vector<StateLine> lines, operators::ParseState(blob, kKind, 1));
    Position pos;
    std::optional<int64_t> subtask, parallelism, done;
    for (const StateLine& line : lines) {
      if (line.key == "subtask") {
        ASSIGN_OR_RETURN(subtask, StateInt(kKind, line));
      } else if (line.key == "parallelism") {
        ASSIGN_OR_RETURN(parallelism, StateInt(kKind, line));
      } else if (line.key == "partition") {
        ASSIGN_OR_RETURN(SavedPartition saved, ParsePartition(line.value));
        pos.partitions.push_back(std::move(saved));
      } else if (line.key == "done") {
        ASSIGN_OR_RETURN(done, StateCount(kKind, line));
      } else if (line.key == "offset") {
        ASSIGN_OR_RETURN(pos.offset, StateCount(kKind, line));
      } else if (line.key == "lines") {
        ASSIGN_OR_RETURN(pos.lines, StateCount(kKind, line));
      } else {
        return BadState(kKind, absl::StrCat("unknown key '", line.key.substr(0, 40), "'"));
      }
    }
    if (!subtask || !parallelism || !done || pos.partitions.empty()) {
      return BadState(kKind, "subtask, parallelism, partition or done missing");
    }
    if ((pos.offset < 0) != (pos.lines < 0)) return BadState(kKind, "offset without lines, or lines without offset");
    pos.subtask = *subtask;
    pos.parallelism = *parallelism;
    pos.done = *done;
    restored_ = std::move(pos);
    return absl::OkStatus();
  }

  absl::Status Open(Context& ctx) override {
    log_ = ctx.logger();
    bad_values_ = ctx.GetCounter("hive_bad_values");
    partitions_done_ = ctx.GetCounter("hive_partitions_read");
    RETURN_IF_ERROR(Choose());
    // The fingerprints describe the files as Open found them, not as a later snapshot would.
    if (ctx.checkpointing() || restored_) Fingerprint();
    if (restored_) RETURN_IF_ERROR(Resume(*restored_));
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Poll(Collector& out) override {
    while (true) {
      if (reader_ == nullptr && zst_.empty()) {
        if (next_ >= files_.size()) return false;
        const DataFile& f = files_[next_++];
        EnterPartition(f.partition);
        RETURN_IF_ERROR(OpenDataFile(f, 0));
      }
      lines_.clear();
      std::shared_ptr<const void> keep;
      if (reader_ != nullptr) {
        ASSIGN_OR_RETURN(keep, reader_->ReadLines(o_.batch_size, &lines_));
        if (keep == nullptr && lines_.empty()) {
          reader_.reset();
          continue;
        }
      } else {
        TakeZstdLines(o_.batch_size, &lines_);
        if (lines_.empty()) continue;  // an empty .zst file
        keep = zst_buffer_;
      }
      file_lines_ += static_cast<int64_t>(lines_.size());
      Emit(std::move(keep), out);
      return true;
    }
  }

  absl::Status Snapshot(SnapshotWriter& writer) override {
    Fingerprint();
    operators::StateWriter state(kKind, 1);
    state.Add("subtask", subtask_);
    state.Add("parallelism", parallelism_);
    for (const PartitionDir& p : partitions_) {
      state.Add("partition", absl::StrCat(p.files.size(), " ", p.fingerprint, " ", p.path));
    }
    const bool in_file = reader_ != nullptr || !zst_.empty();
    state.Add("done", static_cast<int64_t>(next_) - (in_file ? 1 : 0));
    if (in_file) {
      state.Add("offset", files_[next_ - 1].encoding == Encoding::kPlain ? reader_->position() : 0);
      state.Add("lines", file_lines_);
    }
    writer.Write(kKind, std::move(state).Finish());
    return absl::OkStatus();
  }

 private:
  static constexpr std::string_view kKind = "hive_partitions";
  struct SavedPartition {
    std::string path;
    std::string files_and_fingerprint;  // "3 0123456789abcdef"
  };
  struct Position {
    int64_t subtask = 0, parallelism = 0;
    std::vector<SavedPartition> partitions;
    int64_t done = 0;     // files read to the end
    int64_t offset = -1;  // in file `done`, if it was being read: where its next line starts (plain)
    int64_t lines = -1;   // and how many of its lines were read
  };

  // "<files> <fingerprint> <path>".
  static absl::StatusOr<SavedPartition> ParsePartition(std::string_view value) {
    std::vector<absl::string_view> parts = absl::StrSplit(Sv(value), absl::MaxSplits(' ', 2));
    int64_t files = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &files) || files < 0 || parts[1].size() != 16 ||
        parts[2].empty()) {
      return BadState(kKind, absl::StrCat("bad partition '", Sv(value.substr(0, 80)), "'"));
    }
    return SavedPartition{std::string(parts[2]), absl::StrCat(parts[0], " ", parts[1])};
  }

  void Fingerprint() {
    for (PartitionDir& p : partitions_) {
      if (!p.fingerprint.empty()) continue;
      std::string all;
      for (const std::string& name : p.files) {
        const int64_t size = FileSize(absl::StrCat(o_.table_dir, "/", p.path, "/", name));
        absl::StrAppend(&all, name.size(), ":", name, ":", size, ";");
      }
      p.fingerprint = absl::StrCat(absl::Hex(operators::Fnv1a64(all), absl::kZeroPad16));
    }
  }

  // FAILED_PRECONDITION naming the partitions that differ from the checkpoint's.
  absl::Status CheckPartitions(const std::vector<SavedPartition>& saved) const {
    std::map<std::string, std::string> then, now;
    bool same = saved.size() == partitions_.size();
    for (size_t i = 0; i < partitions_.size(); ++i) {
      const PartitionDir& p = partitions_[i];
      now[p.path] = absl::StrCat(p.files.size(), " ", p.fingerprint);
      same = same && saved[i].path == p.path && saved[i].files_and_fingerprint == now[p.path];
    }
    if (same) return absl::OkStatus();
    for (const SavedPartition& p : saved) then[p.path] = p.files_and_fingerprint;
    std::vector<std::string> changes;
    auto files = [](const std::string& f) { return f.substr(0, f.find(' ')); };
    for (const auto& [path, f] : then) {
      auto it = now.find(path);
      if (it == now.end()) {
        changes.push_back(absl::StrCat(path, " is gone"));
      } else if (it->second != f) {
        changes.push_back(absl::StrCat(path, " has ", files(it->second), " data file(s), ", files(f),
                                       " at the checkpoint, with other names or sizes"));
      }
    }
    for (const auto& [path, f] : now) {
      if (then.count(path) == 0) changes.push_back(absl::StrCat(path, " is new"));
    }
    if (changes.empty()) changes.push_back("the partitions come in another order");
    const size_t more = changes.size() > 5 ? changes.size() - 5 : 0;
    changes.resize(changes.size() - more);
    if (more > 0) changes.push_back(absl::StrCat("and ", more, " more"));
    return absl::FailedPreconditionError(absl::StrCat(
        "hive_partitions: the partitions of ", o_.table_name, " in ", absl::StrJoin(o_.ranges, ", "),
        " are not those the checkpoint was taken on: ", absl::StrJoin(changes, "; "),
        " (re-written by an overwrite job, or another `partitions` range?). A restart must find the same "
        "files with the same sizes; restore them, or start without the checkpoint"));
  }

  // Continues where the checkpoint left off.
  absl::Status Resume(const Position& pos) {
    if (pos.subtask != subtask_ || pos.parallelism != parallelism_) {
      return absl::FailedPreconditionError(absl::StrCat(
          "hive_partitions: the checkpoint was taken by subtask ", pos.subtask, " of ", pos.parallelism,
          ", this is subtask ", subtask_, " of ", parallelism_,
          "; restore with the same parallelism, or start without the checkpoint"));
    }
    RETURN_IF_ERROR(CheckPartitions(pos.partitions));
    if (pos.done > static_cast<int64_t>(files_.size()) ||
        (pos.lines >= 0 && pos.done >= static_cast<int64_t>(files_.size()))) {
      return BadState(kKind, absl::StrCat("file ", pos.done, " of ", files_.size()));
    }
    next_ = static_cast<size_t>(pos.done);
    if (pos.lines < 0) return absl::OkStatus();
    const DataFile& f = files_[next_++];
    EnterPartition(f.partition);
    log_.Info("resuming %s after line %d", f.path, pos.lines);
    if (f.encoding == Encoding::kPlain) {
      const int64_t size = FileSize(f.path);
      if (pos.offset > size) {
        return BadState(kKind, absl::StrCat("offset ", pos.offset, " past the end of ", f.path, " (", size, " bytes)"));
      }
      RETURN_IF_ERROR(OpenDataFile(f, pos.offset));
      file_lines_ = pos.lines;
      return absl::OkStatus();
    }
    // No offset to seek to in a compressed stream: read it again and skip the lines.
    RETURN_IF_ERROR(OpenDataFile(f, 0));
    while (file_lines_ < pos.lines) {
      lines_.clear();
      const size_t want = static_cast<size_t>(std::min<int64_t>(pos.lines - file_lines_, 65536));
      if (reader_ != nullptr) {
        ASSIGN_OR_RETURN(auto chunk, reader_->ReadLines(want, &lines_));
      } else {
        TakeZstdLines(want, &lines_);
      }
      if (lines_.empty()) {
        return absl::FailedPreconditionError(absl::StrCat("hive_partitions: ", f.path, " has ", file_lines_,
                                                          " lines, fewer than the ", pos.lines,
                                                          " the checkpoint says were read"));
      }
      file_lines_ += static_cast<int64_t>(lines_.size());
    }
    lines_.clear();
    return absl::OkStatus();
  }

  void EnterPartition(size_t partition) {
    if (current_partition_ == partition) return;
    current_partition_ = partition;
    const PartitionDir& p = partitions_[partition];
    values_ = std::make_shared<std::vector<std::string>>(p.values);
    log_.Info("reading %s of %s", p.path, o_.table_name);
    partitions_done_->Add(1);
  }

  // Opens `f` for reading from byte `start` (a line start; plain files only, else 0).
  absl::Status OpenDataFile(const DataFile& f, int64_t start) {
    file_lines_ = 0;
    if (f.encoding == Encoding::kZstd) return ReadZstd(f.path);
    reader_ = std::make_unique<operators::LineReader>();
    return reader_->OpenFile(f.path, start, -1);
  }

  // Lists the table's partitions in the chosen ranges, in partition order, and this
  // subtask's share of their files (round robin over all files in that order).
  absl::Status Choose() {
    const std::string& first = o_.schema.partition_keys.at(0);
    std::vector<std::pair<std::string, std::string>> ranges;
    for (const auto& r : o_.ranges) {
      std::string lo, hi;
      RETURN_IF_ERROR(ParseRange(r, first, &lo, &hi));
      ranges.emplace_back(lo, hi);
    }
    auto listed = o_.fs->List(o_.table_dir);
    if (!listed.ok()) {
      return absl::NotFoundError(absl::StrCat("table ", o_.table_name, ": no directory ", o_.table_dir));
    }
    std::vector<PartitionDir> dirs;
    for (const auto& name : *listed) {
      if (!absl::StartsWith(name, first + "=")) continue;
      std::string value = name.substr(first.size() + 1);
      bool wanted = false;
      for (const auto& [lo, hi] : ranges) wanted = wanted || (value >= lo && value <= hi);
      if (!wanted) continue;
      if (o_.schema.partition_keys.size() == 1) {
        dirs.push_back({name, {value}, {}, ""});
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<std::string> subs, o_.fs->List(absl::StrCat(o_.table_dir, "/", name)));
      const std::string& second = o_.schema.partition_keys[1];
      for (const auto& sub : subs) {
        if (!absl::StartsWith(sub, second + "=")) continue;
        dirs.push_back({absl::StrCat(name, "/", sub), {value, sub.substr(second.size() + 1)}, {}, ""});
      }
    }
    if (dirs.empty()) {
      return absl::NotFoundError(absl::StrCat("table ", o_.table_name, " has no partition in ",
                                              absl::StrJoin(o_.ranges, ", "), " (under ", o_.table_dir, ")"));
    }
    size_t k = 0;
    for (size_t i = 0; i < dirs.size(); ++i) {
      const std::string dir = absl::StrCat(o_.table_dir, "/", dirs[i].path);
      ASSIGN_OR_RETURN(std::vector<std::string> names, o_.fs->List(dir));
      if (o_.require_success && std::find(names.begin(), names.end(), "_SUCCESS") == names.end()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "partition ", dirs[i].path, " of ", o_.table_name,
            " has no _SUCCESS marker: it is still being written (or was written without one; set "
            "require_success: false to read it anyway)"));
      }
      partitions_.push_back(dirs[i]);
      for (const auto& name : names) {
        if (name.empty() || name[0] == '.' || name[0] == '_') continue;  // hidden, in progress, markers
        partitions_.back().files.push_back(name);
        if (k++ % parallelism_ == static_cast<size_t>(subtask_)) {
          files_.push_back({partitions_.size() - 1, absl::StrCat(dir, "/", name), EncodingOf(name)});
        }
      }
    }
    log_.Info("%d partition(s) of %s in %s; %d file(s) for this subtask", partitions_.size(), o_.table_name,
              absl::StrJoin(o_.ranges, ", "), files_.size());
    return absl::OkStatus();
  }

  absl::Status ReadZstd(const std::string& path) {
    ASSIGN_OR_RETURN(std::string compressed, o_.fs->ReadFile(path));
    auto out = std::make_shared<std::string>();
    ZSTD_DCtx* d = ZSTD_createDCtx();
    ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
    std::string chunk(1 << 20, '\0');
    while (in.pos < in.size) {
      ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
      size_t rc = ZSTD_decompressStream(d, &ob, &in);
      if (ZSTD_isError(rc)) {
        ZSTD_freeDCtx(d);
        return absl::DataLossError(absl::StrCat(path, ": zstd: ", ZSTD_getErrorName(rc)));
      }
      out->append(chunk.data(), ob.pos);
    }
    ZSTD_freeDCtx(d);
    zst_ = std::string_view(*out);
    zst_buffer_ = std::move(out);
    return absl::OkStatus();
  }

  // Appends up to `max_lines` lines of the current .zst file to `lines`.
  void TakeZstdLines(size_t max_lines, std::vector<std::string_view>* lines) {
    for (size_t taken = 0; !zst_.empty() && taken < max_lines; ++taken) {
      size_t nl = zst_.find('\n');
      lines->push_back(zst_.substr(0, nl));
      zst_.remove_prefix(nl == std::string_view::npos ? zst_.size() : nl + 1);
    }
  }

  void Emit(std::shared_ptr<const void> keep, Collector& out) {
    auto decoded = std::make_unique<RecordBatch>(columns_);
    for (std::string_view line : lines_) {
      bool bad = false;
      decoder_.AppendLine(line, /*line_is_stable=*/true, decoded.get(), &bad);
      if (bad) bad_values_->Add(1);
    }
    const size_t n = lines_.size();
    BatchPtr batch = out.NewBatch(output_);
    batch->AdoptMemory(*decoded);
    if (keep != nullptr) batch->AddBuffer(std::move(keep));
    const int ncols = columns_->num_fields();
    for (int c = 0; c < ncols; ++c) batch->column(c) = std::move(decoded->column(c));
    for (size_t k = 0; k < values_->size(); ++k) {
      batch->column(ncols + static_cast<int>(k)).strings.assign(n, std::string_view((*values_)[k]));
    }
    batch->AddBuffer(values_);
    batch->timestamps().assign(n, kNoTimestamp);
    batch->set_num_rows(n);
    out.Emit(std::move(batch));
  }

  Options o_;
  int subtask_;
  int parallelism_;
  std::string node_;
  SchemaPtr columns_;
  SchemaPtr output_;
  HiveTextDecoder decoder_;
  Logger log_;
  Counter* bad_values_ = nullptr;
  Counter* partitions_done_ = nullptr;
  std::vector<PartitionDir> partitions_;
  std::vector<DataFile> files_;  // this subtask's, in reading order
  size_t next_ = 0;              // the file to open next
  size_t current_partition_ = static_cast<size_t>(-1);
  std::shared_ptr<std::vector<std::string>> values_;
  std::unique_ptr<operators::LineReader> reader_;  // of file next_ - 1 (plain, .gz)
  std::string_view zst_;                           // what is left of file next_ - 1 (.zst)
  std::shared_ptr<std::string> zst_buffer_;
  int64_t file_lines_ = 0;  // lines read from file next_ - 1
  std::vector<std::string_view> lines_;
  std::optional<Position> restored_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeHivePartitionsSource(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"warehouse", "table", "partitions", "fields", "partition_by", "require_success",
                               "batch_size"}));
  Options o;
  ASSIGN_OR_RETURN(TableLocation loc, ReadTableLocation(p));
  o.fs = loc.fs;
  o.table_name = loc.name.full();
  o.table_dir = loc.dir;
  ASSIGN_OR_RETURN(o.ranges, p.GetStringListOr("partitions"));
  if (o.ranges.empty()) return p.MissingError("partitions");
  if (const Param* fields = p.Find("fields"); fields != nullptr) {
    // A table sluice did not write: the columns in file order, and its partition keys.
    if (!fields->is_map()) return fields->Error("expected a map of column: type, in the files' column order");
    for (const auto& [fname, ftype] : fields->entries()) {
      if (!ftype.is_string()) return ftype.Error("expected a type name");
      const std::string& tname = ftype.string_value();
      Type t;
      if (!ParseType(tname, &t)) return ftype.Error(absl::StrCat("unknown type '", tname, "'"));
      o.schema.columns.push_back({fname, t});
    }
    o.schema.partition_keys = {"dt"};
    if (p.Find("partition_by") != nullptr) {
      ASSIGN_OR_RETURN(o.schema.partition_keys, p.GetStringListOr("partition_by"));
    }
  } else {
    const std::string schema_path = absl::StrCat(o.table_dir, "/_ddl/schema.tsv");
    auto text = o.fs->ReadFile(schema_path);
    if (!text.ok()) {
      return p.Find("table")->Error(absl::StrCat("table ", o.table_name, ": cannot read ", schema_path,
                                                 " (written by hive_sink) to learn its columns; give `fields` "
                                                 "for a table sluice did not write"));
    }
    auto schema = DecodeTableSchema(*text, schema_path);
    if (!schema.ok()) return p.Find("table")->Error(StdSv(schema.status().message()));
    o.schema = *schema;
  }
  if (o.schema.partition_keys.empty()) return p.Error("the table has no partition columns");
  ASSIGN_OR_RETURN(o.require_success, p.GetBoolOr("require_success", true));
  ASSIGN_OR_RETURN(int64_t batch, p.GetIntOr("batch_size", config.batch_size));
  if (batch < 1) return p.Find("batch_size")->Error("must be at least 1");
  o.batch_size = static_cast<size_t>(batch);
  return std::make_unique<HivePartitionsSource>(std::move(o), config.subtask_index, config.parallelism,
                                                config.node_id);
}

}  // namespace sluice::hive
