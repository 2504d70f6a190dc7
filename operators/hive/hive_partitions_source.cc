#include "operators/hive/hive_partitions_source.h"

#include <zstd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/basic/line_reader.h"
#include "operators/hive/filesystem.h"
#include "operators/hive/hive_text.h"
#include "operators/hive/table.h"

namespace sluice::hive {
namespace {

// One chosen partition: its directory and its values.
struct PartitionDir {
  std::string path;  // relative: dt=2026-11-20[/hour=08]
  std::vector<std::string> values;
};

struct DataFile {
  size_t partition = 0;  // index into partitions
  std::string path;
};

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

class HivePartitionsSource : public Source {
 public:
  HivePartitionsSource(Options o, int subtask, int parallelism, std::string node)
      : o_(std::move(o)), subtask_(subtask), parallelism_(parallelism), node_(std::move(node)),
        columns_(std::make_shared<Schema>(o_.schema.columns)), output_(OutputSchema(o_.schema)),
        decoder_(columns_) {}

  SchemaPtr output_schema() const override { return output_; }
  bool bounded() const override { return true; }

  absl::Status Open(Context& ctx) override {
    log_ = ctx.logger();
    bad_values_ = ctx.GetCounter("hive_bad_values");
    partitions_done_ = ctx.GetCounter("hive_partitions_read");
    RETURN_IF_ERROR(Choose());
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Poll(Collector& out) override {
    while (true) {
      if (reader_ == nullptr && zst_.empty()) {
        if (next_ >= files_.size()) return false;
        const DataFile& f = files_[next_++];
        if (current_partition_ != f.partition) {
          current_partition_ = f.partition;
          const PartitionDir& p = partitions_[f.partition];
          values_ = std::make_shared<std::vector<std::string>>(p.values);
          log_.Info("reading %s of %s", p.path, o_.table_name);
          partitions_done_->Add(1);
        }
        if (absl::EndsWith(f.path, ".zst")) {
          RETURN_IF_ERROR(ReadZstd(f.path));
        } else {
          reader_ = std::make_unique<operators::LineReader>();
          RETURN_IF_ERROR(reader_->OpenFile(f.path, 0, -1));
        }
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
        NextZstdLines();
        keep = zst_buffer_;
      }
      Emit(std::move(keep), out);
      return true;
    }
  }

 private:
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
        dirs.push_back({name, {value}});
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<std::string> subs, o_.fs->List(absl::StrCat(o_.table_dir, "/", name)));
      const std::string& second = o_.schema.partition_keys[1];
      for (const auto& sub : subs) {
        if (!absl::StartsWith(sub, second + "=")) continue;
        dirs.push_back({absl::StrCat(name, "/", sub), {value, sub.substr(second.size() + 1)}});
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
        if (k++ % parallelism_ == static_cast<size_t>(subtask_)) {
          files_.push_back({partitions_.size() - 1, absl::StrCat(dir, "/", name)});
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

  void NextZstdLines() {
    while (!zst_.empty() && lines_.size() < o_.batch_size) {
      size_t nl = zst_.find('\n');
      std::string_view line = zst_.substr(0, nl);
      lines_.push_back(line);
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
  std::vector<DataFile> files_;
  size_t next_ = 0;
  size_t current_partition_ = static_cast<size_t>(-1);
  std::shared_ptr<std::vector<std::string>> values_;
  std::unique_ptr<operators::LineReader> reader_;
  std::string_view zst_;
  std::shared_ptr<std::string> zst_buffer_;
  std::vector<std::string_view> lines_;
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
