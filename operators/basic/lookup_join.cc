#include "operators/basic/lookup_join.h"

#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice::operators {

bool SplitCsvLine(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  fields->push_back(std::move(cur));
  return !quoted;
}

namespace {

enum class OnMiss { kDrop, kNull, kDeadLetter };

struct Table {
  std::vector<std::string> header;
  // key → row values for the selected columns
  absl::flat_hash_map<std::string, std::vector<std::string>> rows;
};

absl::StatusOr<std::vector<std::string>> ReadHeader(const std::string& path, const Param& at) {
  std::ifstream in(path);
  if (!in) return at.Error(absl::StrCat("cannot open table '", path, "'"));
  std::string line;
  if (!std::getline(in, line)) return at.Error(absl::StrCat("table '", path, "' is empty"));
  std::vector<std::string> header;
  if (!SplitCsvLine(line, &header)) return at.Error(absl::StrCat("bad CSV header in '", path, "'"));
  return header;
}

// The column of `name` in `header`, or -1.
int ColumnOf(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

class LookupJoin : public Operator {
 public:
  // `key_at` and `fields_at`: the params that name the table key and the fields, so
  // errors found when the table is read still point at the topology's line.
  LookupJoin(std::string path, int key_index, std::string table_key, std::vector<std::string> fields,
             std::vector<int> keep, OnMiss on_miss, SchemaPtr schema, Param key_at, Param fields_at)
      : path_(std::move(path)), key_index_(key_index), table_key_name_(std::move(table_key)),
        field_names_(std::move(fields)), keep_(std::move(keep)), on_miss_(on_miss), schema_(std::move(schema)),
        key_at_(std::move(key_at)), fields_at_(std::move(fields_at)) {}

  SchemaPtr output_schema() const override { return schema_; }

  // The table is read here, on the machine that runs the task: the job may have been
  // planned where it is not. Its columns are found by name in its own header.
  absl::Status Open(Context& ctx) override {
    auto table = std::make_shared<Table>();
    std::ifstream in(path_);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open table '", path_, "'"));
    std::string line;
    std::vector<std::string> fields;
    if (!std::getline(in, line)) return absl::InvalidArgumentError(absl::StrCat("table '", path_, "' is empty"));
    if (!SplitCsvLine(line, &table->header)) {
      return absl::InvalidArgumentError(absl::StrCat("bad CSV header in '", path_, "'"));
    }
    table_key_ = ColumnOf(table->header, table_key_name_);
    table_cols_.clear();
    for (const std::string& f : field_names_) table_cols_.push_back(ColumnOf(table->header, f));
    for (size_t i = 0; i <= field_names_.size(); ++i) {
      const bool key = i == field_names_.size();
      if ((key ? table_key_ : table_cols_[i]) >= 0) continue;
      return (key ? key_at_ : fields_at_)
          .Error(absl::StrCat("table '", path_, "' has no column '", key ? table_key_name_ : field_names_[i],
                              "'; columns are: ", absl::StrJoin(table->header, ", ")));
    }
    int64_t line_no = 1;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      if (!SplitCsvLine(line, &fields) || static_cast<int>(fields.size()) <= table_key_) {
        return absl::InvalidArgumentError(absl::StrCat(path_, ":", line_no, ": bad CSV row"));
      }
      std::vector<std::string> values;
      for (int c : table_cols_) values.push_back(c < static_cast<int>(fields.size()) ? fields[c] : "");
      table->rows.emplace(fields[table_key_], std::move(values));
    }
    table_ = std::move(table);
    ctx.GetCounter("table_rows")->Add(static_cast<int64_t>(table_->rows.size()));
    return absl::OkStatus();
  }

  absl::Status Process(int, BatchPtr in, Collector& out) override {
    const size_t n = in->num_rows();
    const Column& key = in->column(key_index_);
    matches_.resize(n);
    keep_rows_.clear();
    for (size_t r = 0; r < n; ++r) {
      const std::vector<std::string>* m = nullptr;
      if (!key.IsNull(r)) {
        auto it = table_->rows.find(Sv(key.strings[r]));
        if (it != table_->rows.end()) m = &it->second;
      }
      matches_[r] = m;
      if (m != nullptr || on_miss_ == OnMiss::kNull) {
        keep_rows_.push_back(static_cast<uint32_t>(r));
      } else if (on_miss_ == OnMiss::kDeadLetter) {
        out.EmitDeadLetterRow("no_match", *in, r);
      }
    }
    if (on_miss_ == OnMiss::kDrop) out.CountFiltered(static_cast<int64_t>(n - keep_rows_.size()));

    BatchPtr b = out.NewBatch(schema_);
    int c = 0;
    for (int k : keep_) b->column(c++) = std::move(in->column(k));
    for (size_t t = 0; t < table_cols_.size(); ++t, ++c) {
      Column& col = b->column(c);
      col.strings.resize(n);
      for (size_t r = 0; r < n; ++r) {
        if (matches_[r] != nullptr) {
          col.strings[r] = (*matches_[r])[t];
        } else {
          col.SetNull(r, n);
        }
      }
    }
    b->timestamps() = std::move(in->timestamps());
    b->set_num_rows(n);
    b->AdoptMemory(*in);
    b->AddBuffer(table_);
    if (keep_rows_.size() != n) b->Select(keep_rows_);
    if (b->num_rows() > 0) out.Emit(std::move(b));
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int key_index_;
  std::string table_key_name_;
  std::vector<std::string> field_names_;
  int table_key_ = -1;              // in the table's header, found by Open
  std::vector<int> table_cols_;     // of field_names_, found by Open
  const Param key_at_, fields_at_;
  std::vector<int> keep_;
  OnMiss on_miss_;
  SchemaPtr schema_;
  std::shared_ptr<const Table> table_;
  std::vector<const std::vector<std::string>*> matches_;
  std::vector<uint32_t> keep_rows_;
};

class Union : public Operator {
 public:
  explicit Union(SchemaPtr schema) : schema_(std::move(schema)) {}
  SchemaPtr output_schema() const override { return schema_; }
  absl::Status Process(int, BatchPtr batch, Collector& out) override {
    out.Emit(std::move(batch));
    return absl::OkStatus();
  }

 private:
  SchemaPtr schema_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> MakeLookupJoin(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"table", "key", "table_key", "fields", "keep", "on_miss"}));
  if (config.input_schemas.size() != 1) return p.Error("lookup_join takes exactly one input");
  const Schema& in = *config.input_schemas[0];
  ASSIGN_OR_RETURN(std::string path, p.GetString("table"));
  ASSIGN_OR_RETURN(std::string key, p.GetString("key"));
  ASSIGN_OR_RETURN(std::string table_key, p.GetStringOr("table_key", key));
  int key_index = in.IndexOf(key);
  if (key_index < 0) {
    return p.Find("key")->Error(absl::StrCat("no input field '", key, "'; fields are: ", in.ToString()));
  }
  if (in.field(key_index).type != Type::kString) return p.Find("key")->Error("the key field must be a string");
  ASSIGN_OR_RETURN(std::vector<std::string> fields, p.GetStringListOr("fields"));
  if (fields.empty()) {
    // The output schema needs the table's columns: read its header here. A job planned
    // where the table is not (submitted to a cluster) lists them in `fields`.
    absl::StatusOr<std::vector<std::string>> header = ReadHeader(path, *p.Find("table"));
    if (!header.ok()) {
      return absl::Status(header.status().code(),
                          absl::StrCat(header.status().message(),
                                       " (the planner reads the table's header to learn its columns; where the "
                                       "table is only on the workers, list the ones you need in `fields`)"));
    }
    if (ColumnOf(*header, table_key) < 0) {
      const Param* at = p.Find("table_key") ? p.Find("table_key") : p.Find("key");
      return at->Error(absl::StrCat("table '", path, "' has no column '", table_key,
                                    "'; columns are: ", absl::StrJoin(*header, ", ")));
    }
    for (const auto& h : *header) {
      if (h != table_key) fields.push_back(h);
    }
  }
  std::vector<int> keep;
  std::vector<Field> out_fields;
  if (p.Find("keep") != nullptr) {
    ASSIGN_OR_RETURN(std::vector<std::string> keep_names, p.GetStringListOr("keep"));
    for (const auto& k : keep_names) {
      int idx = in.IndexOf(k);
      if (idx < 0) {
        return p.Find("keep")->Error(absl::StrCat("no input field '", k, "'; fields are: ", in.ToString()));
      }
      keep.push_back(idx);
    }
  } else {
    for (int i = 0; i < in.num_fields(); ++i) keep.push_back(i);
  }
  for (int k : keep) out_fields.push_back(in.field(k));
  for (const auto& f : fields) {
    for (const auto& of : out_fields) {
      if (of.name == f) {
        return p.Find("fields")->Error(absl::StrCat("column '", f, "' is already an input field; drop it with keep"));
      }
    }
    out_fields.push_back({f, Type::kString});
  }
  ASSIGN_OR_RETURN(std::string miss, p.GetStringOr("on_miss", "dead_letter"));
  OnMiss on_miss;
  if (miss == "drop") on_miss = OnMiss::kDrop;
  else if (miss == "null") on_miss = OnMiss::kNull;
  else if (miss == "dead_letter") on_miss = OnMiss::kDeadLetter;
  else return p.Find("on_miss")->Error(absl::StrCat("expected drop, null or dead_letter, got '", miss, "'"));
  const Param* key_at = p.Find("table_key") ? p.Find("table_key") : p.Find("key");
  const Param* fields_at = p.Find("fields") ? p.Find("fields") : p.Find("table");
  return std::make_unique<LookupJoin>(path, key_index, table_key, std::move(fields), std::move(keep), on_miss,
                                      std::make_shared<Schema>(std::move(out_fields)), *key_at, *fields_at);
}

absl::StatusOr<std::unique_ptr<Operator>> MakeUnion(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({}));
  if (config.input_schemas.empty()) return p.Error("union needs at least one input");
  for (size_t i = 1; i < config.input_schemas.size(); ++i) {
    if (!config.input_schemas[i]->Equals(*config.input_schemas[0])) {
      return p.Error(absl::StrCat("union inputs must have the same schema: (",
                                  config.input_schemas[0]->ToString(), ") vs (",
                                  config.input_schemas[i]->ToString(), ")"));
    }
  }
  return std::make_unique<Union>(config.input_schemas[0]);
}

}  // namespace sluice::operators
