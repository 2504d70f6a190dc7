// The json_parse operator itself: the per-line simdjson On Demand extraction loop (the
// fast path looks keys up in the previous line's order, the careful path visits every
// field) and the batch bookkeeping (rollback of rejected lines, gathering kept
// columns). The word-at-a-time number and escape helpers it inlines are in
// json_scalars.h; parameters are parsed in json_parse_params.cc.

#include "operators/parse/json_parse.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "operators/parse/json_parse_internal.h"
#include "operators/parse/json_scalars.h"
#include "operators/parse/parse_internal.h"
#include "simdjson.h"

namespace sluice::operators::parse {

namespace {

namespace ondemand = simdjson::ondemand;

using internal::HasBackslash;
using internal::IntegralDouble;
using internal::IsJsonSpace;
using internal::JsonKind;
using internal::KindOf;
using internal::Level;
using internal::SmallInt;
using internal::SmallIntText;
using internal::TextToDouble;
using internal::TextToInt;

// No platform sluice runs on has smaller memory pages.
constexpr uintptr_t kMinPageSize = 4096;
// Under AddressSanitizer, reading past a line is reported: always parse a copy.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAlwaysCopy = true;
#else
constexpr bool kAlwaysCopy = false;
#endif

// The result of parsing one line.
enum class Outcome : uint8_t { kOk, kMalformed, kBadType };


class JsonParse : public Operator {
 public:
  JsonParse(int input_index, std::vector<int> keep, std::vector<Type> types,
            std::vector<Level> levels, bool missing_is_dead_letter, SchemaPtr schema)
      : input_index_(input_index),
        keep_(std::move(keep)),
        types_(std::move(types)),
        levels_(std::move(levels)),
        missing_is_dead_letter_(missing_is_dead_letter),
        schema_(std::move(schema)),
        columns_(types_.size()),
        filled_(types_.size()) {
    for (const Level& level : levels_) {
      order_.emplace_back(level.keys.size());
      for (size_t k = 0; k < level.keys.size(); ++k) order_.back()[k] = static_cast<int>(k);
      found_at_.emplace_back(level.keys.size(), nullptr);
    }
  }

  SchemaPtr output_schema() const override { return schema_; }

  absl::Status Process(int input, BatchPtr in, Collector& out) override {
    const size_t n = in->num_rows();
    BatchPtr batch = out.NewBatch(schema_);
    for (int c = 0; c < batch->num_columns(); ++c) batch->column(c).Reserve(n);
    accepted_.clear();
    accepted_.reserve(n);
    batch_ = batch.get();
    for (size_t f = 0; f < types_.size(); ++f) {
      columns_[f] = &batch->column(static_cast<int>(keep_.size() + f));
    }
    std::fill(filled_.begin(), filled_.end(), 0);
    row_ = 0;
    const Column& lines = in->column(input_index_);
    for (size_t r = 0; r < n; ++r) {
      const std::string_view line = lines.strings[r];
      const Outcome outcome = lines.IsNull(r) ? Outcome::kMalformed : ParseLine(line);
      if (outcome != Outcome::kOk) {
        Rollback();
        out.EmitDeadLetter(outcome == Outcome::kMalformed ? "malformed" : "bad_type", line);
        continue;
      }
      if (AnyMissing()) {
        if (missing_is_dead_letter_) {
          Rollback();
          out.EmitDeadLetter("missing_field", line);
          continue;
        }
        for (size_t f = 0; f < types_.size(); ++f) {
          if (!Filled(f)) PutNull(f);
        }
      }
      accepted_.push_back(static_cast<uint32_t>(r));
      ++row_;
    }
    if (accepted_.empty()) return absl::OkStatus();

    for (size_t k = 0; k < keep_.size(); ++k) {
      Gather(in->column(keep_[k]), batch->column(static_cast<int>(k)));
    }
    std::vector<int64_t>& times = batch->timestamps();
    times.reserve(accepted_.size());
    for (uint32_t r : accepted_) times.push_back(in->timestamps()[r]);
    batch->set_num_rows(accepted_.size());
    internal::FinishNulls(*batch);
    internal::KeepInputAlive(std::move(in), *batch);
    out.Emit(std::move(batch));
    return absl::OkStatus();
  }

 private:
  // Points base_/end_/capacity_ at `line` itself when simdjson may read
  // SIMDJSON_PADDING bytes past its end, else at a padded copy of it.
  //
  // Lines from a file source are followed by that padding, but batches built elsewhere
  // (tests, upstream operators) may not be. What matters is only that the reads cannot
  // fault: simdjson does not let those bytes change the result (stage 1 copies a line's
  // last partial block into its own padded buffer). Reads that stay within the page of
  // the line's last byte cannot fault, so only a line ending less than SIMDJSON_PADDING
  // bytes before a page boundary (about 1.5% of lines) is copied. Parsing in place
  // matters: a line parsed right after being copied stalls simdjson's vector loads on
  // the copy's pending stores (store-to-load forwarding), which costs more than the copy.
  void LocateLine(std::string_view line) {
    const size_t len = line.size();
    const uintptr_t last = reinterpret_cast<uintptr_t>(line.data()) + len - 1;
    const bool same_page =
        len != 0 && (last & (kMinPageSize - 1)) + simdjson::SIMDJSON_PADDING < kMinPageSize;
    if (same_page && !kAlwaysCopy) {
      base_ = line.data();
      capacity_ = len + simdjson::SIMDJSON_PADDING;
    } else {
      if (len + simdjson::SIMDJSON_PADDING > scratch_capacity_) {
        scratch_capacity_ =
            std::max<size_t>(2 * scratch_capacity_, len + simdjson::SIMDJSON_PADDING + 4096);
        scratch_ = std::make_unique<char[]>(scratch_capacity_);
      }
      if (len != 0) std::memcpy(scratch_.get(), line.data(), len);
      std::memset(scratch_.get() + len, 0, simdjson::SIMDJSON_PADDING);
      base_ = scratch_.get();
      capacity_ = scratch_capacity_;
    }
    end_ = base_ + len;
    line_ = line.data();
    // Most lines hold no escape at all: then no string needs looking at.
    line_has_backslash_ = std::memchr(base_, '\\', len) != nullptr;
  }

  // Parses `line` into output row row_ (fields not found are left unfilled).
  Outcome ParseLine(std::string_view line) {
    const size_t len = line.size();
    LocateLine(line);

    ondemand::document doc;
    ondemand::object object;
    if (parser_.iterate(base_, len, capacity_).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(object) != simdjson::SUCCESS) {
      return Outcome::kMalformed;
    }
    Outcome outcome = FindFields(object, 0);
    if (outcome != Outcome::kOk) return outcome;
    if (line_has_backslash_ && AnyMissing()) {
      // find_field compares keys as written, so a wanted key spelled with escapes
      // ("ad\u005fid") was missed: read the line again, unescaping every key.
      Rollback();
      if (parser_.iterate(base_, len, capacity_).get(doc) != simdjson::SUCCESS ||
          doc.get_object().get(object) != simdjson::SUCCESS) {
        return Outcome::kMalformed;
      }
      outcome = IterateFields(object, levels_[0]);
      if (outcome != Outcome::kOk) return outcome;
    } else {
      // Skip the rest of the object; this checks that its brackets balance.
      std::string_view rest;
      if (object.raw_json().get(rest) != simdjson::SUCCESS) return Outcome::kMalformed;
    }
    // Anything after the object (`{...} x`, `{...}}`) makes the line malformed.
    const char* trailing;
    if (doc.current_location().get(trailing) == simdjson::SUCCESS) return Outcome::kMalformed;
    return Outcome::kOk;
  }

  // The fast path: looks each wanted key of level `index` up with find_field_unordered,
  // in the order the keys appeared in the previous line (one pass when lines share a
  // layout, as they usually do).
  //
  // Always inlined, and nested objects go through ReadObject with a copy of the value:
  // simdjson's small iterator structs then stay in registers. Passing them by reference
  // to an outlined function spills them, and the reloads stall on the stores.
  [[gnu::always_inline]] Outcome FindFields(ondemand::object& object, int index) {
    const Level& level = levels_[index];
    std::vector<int>& order = order_[index];
    std::vector<const char*>& found_at = found_at_[index];
    const char* last = nullptr;
    bool in_order = true;
    for (int k : order) {
      const Level::Key& key = level.keys[k];
      ondemand::value value;
      const simdjson::error_code error = object.find_field_unordered(key.key).get(value);
      if (error == simdjson::NO_SUCH_FIELD) {
        found_at[k] = nullptr;
        continue;
      }
      if (error != simdjson::SUCCESS) return Outcome::kMalformed;
      const char* at = value.raw_json_token().data();
      found_at[k] = at;
      in_order = in_order && at > last;
      last = at;
      const Outcome outcome = key.slot >= 0 ? ReadValue(value, key.slot)
                                            : ReadObject(ondemand::value(value), key.child, true);
      if (outcome != Outcome::kOk) return outcome;
    }
    if (!in_order) {
      // Found keys by position in the line, then the missing ones.
      std::stable_sort(order.begin(), order.end(), [&found_at](int a, int b) {
        const char* pa = found_at[a];
        const char* pb = found_at[b];
        return pb == nullptr ? pa != nullptr : (pa != nullptr && pa < pb);
      });
    }
    return Outcome::kOk;
  }

  // Reads the nested object `value` for level `child` with FindFields (`find`) or
  // IterateFields. A null leaves its fields missing.
  [[gnu::noinline]] Outcome ReadObject(ondemand::value value, int child, bool find) {
    ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return Outcome::kMalformed;
    if (type == ondemand::json_type::null) {
      bool is_null;
      if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return Outcome::kMalformed;
      return Outcome::kOk;
    }
    if (type != ondemand::json_type::object) return Outcome::kBadType;
    ondemand::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) return Outcome::kMalformed;
    return find ? FindFields(object, child) : IterateFields(object, levels_[child]);
  }

  // The careful path: visits every field of `object` once, unescaping keys as needed.
  Outcome IterateFields(ondemand::object& object, const Level& level) {
    for (auto item : object) {
      ondemand::field field;
      if (std::move(item).get(field) != simdjson::SUCCESS) return Outcome::kMalformed;
      int k;
      if (!MatchKey(field, level, &k)) return Outcome::kMalformed;
      if (k < 0) continue;  // not wanted: On Demand skips the value
      const Level::Key& key = level.keys[k];
      ondemand::value value = field.value();
      Outcome outcome;
      if (key.slot >= 0) {
        if (Filled(key.slot)) continue;  // first value wins
        outcome = ReadValue(value, key.slot);
      } else {
        outcome = ReadObject(ondemand::value(value), key.child, /*find=*/false);
      }
      if (outcome != Outcome::kOk) return outcome;
    }
    return Outcome::kOk;
  }

  // Looks the key of `field` up in `level`: sets *k to its index, or -1 if not wanted.
  // Returns false if the key is malformed.
  bool MatchKey(ondemand::field& field, const Level& level, int* k) {
    // The raw key starts after its opening quote, in base_; keys without escapes
    // (all of them, in practice) are compared in place.
    const char* start = field.key().raw();
    const char* p = start;
    while (p < end_ && *p != '"' && *p != '\\') ++p;
    if (p >= end_) return false;
    std::string_view key(start, p - start);
    if (*p == '\\') {
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    }
    *k = -1;
    if (level.index.empty()) {
      for (size_t i = 0; i < level.keys.size(); ++i) {
        const std::string& want = level.keys[i].key;
        if (want.size() == key.size() && std::memcmp(want.data(), key.data(), key.size()) == 0) {
          *k = static_cast<int>(i);
          break;
        }
      }
    } else {
      auto it = level.index.find(Sv(key));
      if (it != level.index.end()) *k = it->second;
    }
    return true;
  }

  // Reads the text of the JSON string `token` (value's raw token): in base_ when it has
  // no escapes (*escaped = false), else unescaped in the parser's buffer.
  [[gnu::always_inline]] Outcome StringText(ondemand::value& value, std::string_view token,
                                            std::string_view* text, bool* escaped) {
    if (token.back() != '"') {  // the token ends with the spaces before the next one
      while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
      if (token.size() < 2 || token.back() != '"') return Outcome::kMalformed;
    }
    if (token.size() < 2) return Outcome::kMalformed;
    *text = token.substr(1, token.size() - 2);
    *escaped = line_has_backslash_ && HasBackslash(*text);
    if (*escaped && value.get_string().get(*text) != simdjson::SUCCESS) return Outcome::kMalformed;
    return Outcome::kOk;
  }

  // The same bytes as `text` (in base_) in the input line.
  std::string_view InLine(std::string_view text) const {
    return std::string_view(line_ + (text.data() - base_), text.size());
  }

  // Reads `value` as parsed field `f` into its column.
  [[gnu::always_inline]] Outcome ReadValue(ondemand::value& value, int f) {
    // The first byte of the token tells the JSON type (as value.type() does).
    const std::string_view token = value.raw_json_token();
    const JsonKind kind = KindOf(token.empty() ? '\0' : token[0]);
    if (kind == JsonKind::kInvalid) return Outcome::kMalformed;
    if (kind == JsonKind::kNull) {
      bool is_null;
      if (value.is_null().get(is_null) != simdjson::SUCCESS || !is_null) return Outcome::kMalformed;
      PutNull(f);
      return Outcome::kOk;
    }
    switch (types_[f]) {
      case Type::kString: {
        if (kind != JsonKind::kString) return Outcome::kBadType;
        std::string_view text;
        bool escaped;
        const Outcome outcome = StringText(value, token, &text, &escaped);
        if (outcome != Outcome::kOk) return outcome;
        columns_[f]->strings.push_back(escaped ? batch_->arena().Copy(text) : InLine(text));
        break;
      }
      case Type::kInt64:
      case Type::kTimestamp: {
        int64_t v;
        if (kind == JsonKind::kNumber) {
          if (!SmallInt(token, &v) && value.get_int64().get(v) != simdjson::SUCCESS) {
            // Not a plain int64: 5.0, 1e3, too large, or not a valid number at all.
            double d;
            if (value.get_double().get(d) != simdjson::SUCCESS) return Outcome::kMalformed;
            if (!IntegralDouble(d, &v)) return Outcome::kBadType;
          }
        } else if (kind == JsonKind::kString) {
          std::string_view text;
          bool escaped;
          const Outcome outcome = StringText(value, token, &text, &escaped);
          if (outcome != Outcome::kOk) return outcome;
          // Text in base_ has readable bytes after it; the parser's buffer may not.
          if (!(!escaped && SmallIntText(text, &v)) && !TextToInt(text, &v)) {
            return Outcome::kBadType;
          }
        } else {
          return Outcome::kBadType;
        }
        columns_[f]->ints.push_back(v);
        break;
      }
      case Type::kDouble: {
        double v;
        if (kind == JsonKind::kNumber) {
          if (value.get_double().get(v) != simdjson::SUCCESS) return Outcome::kMalformed;
        } else if (kind == JsonKind::kString) {
          std::string_view text;
          bool escaped;
          const Outcome outcome = StringText(value, token, &text, &escaped);
          if (outcome != Outcome::kOk) return outcome;
          if (!TextToDouble(text, &v)) return Outcome::kBadType;
        } else {
          return Outcome::kBadType;
        }
        columns_[f]->doubles.push_back(v);
        break;
      }
      case Type::kBool: {
        if (kind != JsonKind::kBool) return Outcome::kBadType;
        bool b;
        if (value.get_bool().get(b) != simdjson::SUCCESS) return Outcome::kMalformed;
        columns_[f]->ints.push_back(b);
        break;
      }
      case Type::kNull:
        return Outcome::kBadType;  // rejected when the operator is built
    }
    filled_[f] = row_ + 1;
    return Outcome::kOk;
  }

  // Whether parsed field `f` has a value in row row_.
  bool Filled(size_t f) const { return filled_[f] == row_ + 1; }

  bool AnyMissing() const {
    for (size_t f = 0; f < filled_.size(); ++f) {
      if (!Filled(f)) return true;
    }
    return false;
  }

  // Gives parsed field `f` a null in row row_.
  void PutNull(size_t f) {
    Column& col = *columns_[f];
    switch (col.type) {
      case Type::kString:
        col.strings.emplace_back();
        break;
      case Type::kDouble:
        col.doubles.push_back(0);
        break;
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool:
        col.ints.push_back(0);
        break;
      case Type::kNull:
        break;
    }
    col.SetNull(row_, row_ + 1);
    filled_[f] = row_ + 1;
  }

  // Takes back the values row row_ got (the line is rejected).
  void Rollback() {
    for (size_t f = 0; f < filled_.size(); ++f) {
      if (!Filled(f)) continue;
      Column& col = *columns_[f];
      switch (col.type) {
        case Type::kString:
          col.strings.pop_back();
          break;
        case Type::kDouble:
          col.doubles.pop_back();
          break;
        case Type::kInt64:
        case Type::kTimestamp:
        case Type::kBool:
          col.ints.pop_back();
          break;
        case Type::kNull:
          break;
      }
      if (col.nulls.size() > row_) col.nulls.resize(row_);
      filled_[f] = 0;
    }
  }

  // Appends the accepted rows of `src` to `dst` (same type).
  void Gather(const Column& src, Column& dst) const {
    switch (src.type) {
      case Type::kString:
        for (uint32_t r : accepted_) dst.strings.push_back(src.strings[r]);
        break;
      case Type::kDouble:
        for (uint32_t r : accepted_) dst.doubles.push_back(src.doubles[r]);
        break;
      case Type::kInt64:
      case Type::kTimestamp:
      case Type::kBool:
        for (uint32_t r : accepted_) dst.ints.push_back(src.ints[r]);
        break;
      case Type::kNull:
        break;
    }
    if (!src.nulls.empty()) {
      dst.nulls.reserve(accepted_.size());
      for (uint32_t r : accepted_) dst.nulls.push_back(src.nulls[r]);
    }
  }

  const int input_index_;
  const std::vector<int> keep_;      // input field indices carried through
  const std::vector<Type> types_;    // of the parsed fields, by slot
  const std::vector<Level> levels_;  // levels_[0] is the top-level object
  const bool missing_is_dead_letter_;
  const SchemaPtr schema_;

  ondemand::parser parser_;
  std::unique_ptr<char[]> scratch_;  // a padded copy of the current line, when needed
  size_t scratch_capacity_ = 0;
  const char* base_ = nullptr;  // the current line as parsed: in place or scratch_
  const char* end_ = nullptr;
  size_t capacity_ = 0;         // readable bytes from base_
  const char* line_ = nullptr;  // the current line in the input batch
  bool line_has_backslash_ = false;
  // The batch being filled: the column of each parsed field, and for each the output row
  // it last got a value for, plus one (values go straight into the columns; a rejected
  // line's are taken back).
  RecordBatch* batch_ = nullptr;
  std::vector<Column*> columns_;
  std::vector<uint32_t> filled_;
  uint32_t row_ = 0;
  // Per level: the order to look keys up in, and where each was found in the last line.
  std::vector<std::vector<int>> order_;
  std::vector<std::vector<const char*>> found_at_;
  std::vector<uint32_t> accepted_;  // input rows emitted, for the current batch
};

}  // namespace

namespace internal {

std::unique_ptr<Operator> NewJsonParse(int input_index, std::vector<int> keep,
                                       std::vector<Type> types, std::vector<Level> levels,
                                       bool missing_is_dead_letter, SchemaPtr schema) {
  return std::make_unique<JsonParse>(input_index, std::move(keep), std::move(types),
                                     std::move(levels), missing_is_dead_letter,
                                     std::move(schema));
}

}  // namespace internal

}  // namespace sluice::operators::parse
