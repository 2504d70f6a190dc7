#include "operators/clean/clean.h"

#include <array>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "re2/re2.h"

namespace sluice::operators::clean {

namespace {

enum class RuleKind : uint8_t { kRequired, kMatch, kNotMatch, kRange, kIn, kStaticAsset, kBot };

constexpr std::pair<const char*, RuleKind> kRuleKinds[] = {
    {"required", RuleKind::kRequired},
    {"match", RuleKind::kMatch},
    {"not_match", RuleKind::kNotMatch},
    {"range", RuleKind::kRange},
    {"in", RuleKind::kIn},
    {"static_asset", RuleKind::kStaticAsset},
    {"bot", RuleKind::kBot},
};

inline char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// True if `s` equals `lower` (already lowercase) ignoring ASCII case; n bytes each.
inline bool EqualsLower(const char* s, const char* lower, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

// A range bound from a param: exact for integers, a double otherwise.
struct Bound {
  bool present = false;
  bool is_int = false;
  int64_t i = 0;
  double d = 0;
};

// Finds any of up to 64 words in a text, ignoring ASCII case, in one pass: a table from
// each byte to the words starting with it.
class WordFinder {
 public:
  static constexpr size_t kMaxWords = 64;

  // REQUIRES: 1 <= words.size() <= kMaxWords, no word empty.
  explicit WordFinder(std::vector<std::string> words) : words_(std::move(words)) {
    first_.fill(0);
    for (size_t w = 0; w < words_.size(); ++w) {
      std::string& word = words_[w];
      for (char& c : word) c = Lower(c);
      const unsigned char c = static_cast<unsigned char>(word[0]);
      first_[c] |= uint64_t{1} << w;
      first_[static_cast<unsigned char>(absl::ascii_toupper(c))] |= uint64_t{1} << w;
    }
  }

  bool Contains(std::string_view text) const {
    const size_t n = text.size();
    for (size_t i = 0; i < n; ++i) {
      uint64_t candidates = first_[static_cast<unsigned char>(text[i])];
      while (candidates != 0) {
        const std::string& word = words_[__builtin_ctzll(candidates)];
        candidates &= candidates - 1;
        if (word.size() <= n - i &&
            EqualsLower(text.data() + i + 1, word.data() + 1, word.size() - 1)) {
          return true;
        }
      }
    }
    return false;
  }

 private:
  std::vector<std::string> words_;  // lowercase
  std::array<uint64_t, 256> first_;
};

struct Rule {
  RuleKind kind = RuleKind::kRequired;
  std::string reason;
  int counter = 0;          // index into Clean::counters_
  std::vector<int> fields;  // input field indices: all of `required`, else one
  std::unique_ptr<RE2> regex;
  Bound min, max;
  absl::flat_hash_set<std::string> string_values;
  absl::flat_hash_set<int64_t> int_values;
  std::vector<std::string> prefixes;
  std::vector<std::string> extensions;  // lowercase, with the leading '.'
  std::unique_ptr<WordFinder> words;
  // Verdicts of the string-scanning rules (match, not_match, bot) by value. Log fields
  // such as user agents repeat heavily, so most rows cost one hash lookup instead of a
  // scan; bounded, and cleared when full.
  absl::flat_hash_map<std::string, bool> memo;
};

constexpr size_t kMaxMemoEntries = 1 << 16;
constexpr size_t kMaxMemoValueBytes = 1024;

// Returns compute(s), remembering it per distinct value in rule.memo.
template <typename F>
bool Memoized(Rule& rule, std::string_view s, F&& compute) {
  if (s.size() > kMaxMemoValueBytes) return compute(s);
  auto it = rule.memo.find(Sv(s));
  if (it != rule.memo.end()) return it->second;
  const bool verdict = compute(s);
  if (rule.memo.size() >= kMaxMemoEntries) rule.memo.clear();
  rule.memo.emplace(std::string(s), verdict);
  return verdict;
}

bool IsStaticAsset(const Rule& rule, std::string_view path) {
  for (const std::string& prefix : rule.prefixes) {
    if (path.size() >= prefix.size() && path.compare(0, prefix.size(), prefix) == 0) return true;
  }
  if (path.find('.') == std::string_view::npos) return false;
  for (const std::string& ext : rule.extensions) {
    if (path.size() >= ext.size() &&
        EqualsLower(path.data() + path.size() - ext.size(), ext.data(), ext.size())) {
      return true;
    }
  }
  return false;
}

bool InRange(const Rule& rule, const Column& col, size_t row) {
  if (col.IsNull(row)) return false;
  if (col.type == Type::kDouble) {
    const double v = col.doubles[row];
    return (!rule.min.present || v >= rule.min.d) && (!rule.max.present || v <= rule.max.d);
  }
  const int64_t v = col.ints[row];
  const auto above = [v](const Bound& b) {
    return b.is_int ? v >= b.i : static_cast<double>(v) >= b.d;
  };
  const auto below = [v](const Bound& b) {
    return b.is_int ? v <= b.i : static_cast<double>(v) <= b.d;
  };
  return (!rule.min.present || above(rule.min)) && (!rule.max.present || below(rule.max));
}

class Clean : public Operator {
 public:
  Clean(SchemaPtr schema, std::vector<Rule> rules, std::vector<std::string> reasons)
      : schema_(std::move(schema)), rules_(std::move(rules)), reasons_(std::move(reasons)) {}

  SchemaPtr output_schema() const override { return schema_; }

  absl::Status Open(Context& ctx) override {
    counters_.clear();
    for (const std::string& reason : reasons_)
      counters_.push_back(ctx.GetCounter("dropped_" + reason));
    return absl::OkStatus();
  }

  absl::Status Process(int input, BatchPtr batch, Collector& out) override {
    const size_t n = batch->num_rows();
    verdict_.assign(n, kKept);
    for (size_t i = 0; i < rules_.size(); ++i) Apply(static_cast<int>(i), *batch);

    kept_.clear();
    kept_.reserve(n);
    dropped_.assign(reasons_.size(), 0);
    for (size_t r = 0; r < n; ++r) {
      if (verdict_[r] == kKept) {
        kept_.push_back(static_cast<uint32_t>(r));
        continue;
      }
      const Rule& rule = rules_[verdict_[r]];
      ++dropped_[rule.counter];
      out.EmitDeadLetterRow(rule.reason, *batch, r);
    }
    for (size_t c = 0; c < dropped_.size() && c < counters_.size(); ++c) {
      if (dropped_[c] != 0) counters_[c]->Add(dropped_[c]);
    }
    if (kept_.empty()) return absl::OkStatus();
    batch->Select(kept_);
    out.Emit(std::move(batch));
    return absl::OkStatus();
  }

 private:
  static constexpr int kKept = -1;

  // Marks the rows still kept that rule `index` rejects.
  void Apply(int index, const RecordBatch& batch) {
    Rule& rule = rules_[index];
    const Column& col = batch.column(rule.fields[0]);
    const auto matches = [&rule](std::string_view s) {
      return Memoized(rule, s, [&rule](std::string_view v) {
        return RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *rule.regex);
      });
    };
    const auto mark = [&](auto&& rejects) {
      for (size_t r = 0; r < verdict_.size(); ++r) {
        if (verdict_[r] == kKept && rejects(r)) verdict_[r] = index;
      }
    };
    switch (rule.kind) {
      case RuleKind::kRequired:
        for (int f : rule.fields) {
          const Column& c = batch.column(f);
          const bool is_string = c.type == Type::kString;
          mark([&](size_t r) { return c.IsNull(r) || (is_string && c.strings[r].empty()); });
        }
        break;
      case RuleKind::kMatch:
        mark([&](size_t r) { return !col.IsNull(r) && matches(col.strings[r]); });
        break;
      case RuleKind::kNotMatch:
        mark([&](size_t r) { return col.IsNull(r) || !matches(col.strings[r]); });
        break;
      case RuleKind::kRange:
        mark([&](size_t r) { return !InRange(rule, col, r); });
        break;
      case RuleKind::kIn:
        if (col.type == Type::kString) {
          mark([&](size_t r) {
            return col.IsNull(r) || !rule.string_values.contains(Sv(col.strings[r]));
          });
        } else {
          mark([&](size_t r) { return col.IsNull(r) || !rule.int_values.contains(col.ints[r]); });
        }
        break;
      case RuleKind::kStaticAsset:
        mark([&](size_t r) { return !col.IsNull(r) && IsStaticAsset(rule, col.strings[r]); });
        break;
      case RuleKind::kBot:
        mark([&](size_t r) {
          return !col.IsNull(r) && Memoized(rule, col.strings[r], [&rule](std::string_view v) {
                   return rule.words->Contains(v);
                 });
        });
        break;
    }
  }

  const SchemaPtr schema_;
  std::vector<Rule> rules_;  // fixed after construction but for each rule's memo
  const std::vector<std::string> reasons_;  // distinct, in first-use order
  std::vector<Counter*> counters_;          // by reason, set in Open
  std::vector<int> verdict_;                // per row: kKept or the rejecting rule
  std::vector<uint32_t> kept_;
  std::vector<int64_t> dropped_;  // per reason, for the current batch
};

// ---- Building rules from params.

// Resolves `at` (a string param) to an input field index, optionally of given types.
absl::StatusOr<int> ResolveField(const Param& at, const Schema& schema,
                                 std::initializer_list<Type> types, std::string_view kind) {
  if (!at.is_string() && at.kind() != Param::Kind::kNumber)
    return at.Error("expected a field name");
  const std::string& name = at.string_value();
  const int index = schema.IndexOf(name);
  if (index < 0) {
    return at.Error(
        absl::StrCat("input has no field '", name, "' (input fields: ", schema.ToString(), ")"));
  }
  if (types.size() == 0) return index;
  const Type type = schema.field(index).type;
  for (Type t : types) {
    if (t == type) return index;
  }
  std::vector<std::string> names;
  for (Type t : types) names.emplace_back(TypeName(t));
  return at.Error(absl::StrCat("field '", name, "' is ", Sv(TypeName(type)), "; ", Sv(kind),
                               " needs ", absl::StrJoin(names, " or ")));
}

// The `field` of a rule's map, resolved.
absl::StatusOr<int> RuleField(const Param& body, const Schema& schema,
                              std::initializer_list<Type> types, std::string_view kind) {
  const Param* field = body.Find("field");
  if (field == nullptr || field->is_null()) return body.MissingError("field");
  return ResolveField(*field, schema, types, kind);
}

absl::StatusOr<Bound> ParseBound(const Param& body, std::string_view key) {
  Bound bound;
  const Param* p = body.Find(key);
  if (p == nullptr || p->is_null()) return bound;
  bound.present = true;
  if (p->kind() == Param::Kind::kNumber || p->is_string()) {
    const std::string& text = p->string_value();
    if (absl::SimpleAtoi(text, &bound.i)) {
      bound.is_int = true;
      bound.d = static_cast<double>(bound.i);
      return bound;
    }
    if (absl::SimpleAtod(text, &bound.d) && !std::isnan(bound.d)) return bound;
  }
  return p->Error(absl::StrCat("expected a number, got '", p->ToString(), "'"));
}

absl::Status CompileRegex(const Param& body, Rule& rule) {
  const Param* regex = body.Find("regex");
  if (regex == nullptr || regex->is_null()) return body.MissingError("regex");
  if (!regex->is_string()) return regex->Error("expected a regular expression string");
  RE2::Options options;
  options.set_log_errors(false);
  rule.regex = std::make_unique<RE2>(regex->string_value(), options);
  if (!rule.regex->ok()) {
    return regex->Error(
        absl::StrCat("bad regex '", regex->string_value(), "': ", rule.regex->error()));
  }
  return absl::OkStatus();
}

absl::Status BuildRuleBody(const Param& body, const Schema& schema, std::string_view kind_name,
                           Rule& rule) {
  const std::initializer_list<Type> kStringOnly = {Type::kString};
  if (rule.kind != RuleKind::kRequired && !body.is_map()) {
    return body.Error(absl::StrCat(Sv(kind_name), " expects a map with a `field`"));
  }
  switch (rule.kind) {
    case RuleKind::kRequired: {
      if (body.is_map() || body.is_null()) return body.Error("expected a list of field names");
      if (body.is_list()) {
        if (body.items().empty()) return body.Error("expected at least one field");
        for (const Param& item : body.items()) {
          ASSIGN_OR_RETURN(const int f, ResolveField(item, schema, {}, kind_name));
          rule.fields.push_back(f);
        }
      } else {
        ASSIGN_OR_RETURN(const int f, ResolveField(body, schema, {}, kind_name));
        rule.fields.push_back(f);
      }
      return absl::OkStatus();
    }
    case RuleKind::kMatch:
    case RuleKind::kNotMatch: {
      RETURN_IF_ERROR(body.CheckKeys({"field", "regex"}));
      ASSIGN_OR_RETURN(const int f, RuleField(body, schema, kStringOnly, kind_name));
      rule.fields.push_back(f);
      return CompileRegex(body, rule);
    }
    case RuleKind::kRange: {
      RETURN_IF_ERROR(body.CheckKeys({"field", "min", "max"}));
      ASSIGN_OR_RETURN(
          const int f,
          RuleField(body, schema, {Type::kInt64, Type::kTimestamp, Type::kDouble}, kind_name));
      rule.fields.push_back(f);
      ASSIGN_OR_RETURN(rule.min, ParseBound(body, "min"));
      ASSIGN_OR_RETURN(rule.max, ParseBound(body, "max"));
      if (!rule.min.present && !rule.max.present) return body.Error("range needs min, max or both");
      return absl::OkStatus();
    }
    case RuleKind::kIn: {
      RETURN_IF_ERROR(body.CheckKeys({"field", "values"}));
      ASSIGN_OR_RETURN(
          const int f,
          RuleField(body, schema, {Type::kString, Type::kInt64, Type::kTimestamp}, kind_name));
      rule.fields.push_back(f);
      const Param* values = body.Find("values");
      if (values == nullptr || values->is_null()) return body.MissingError("values");
      ASSIGN_OR_RETURN(const std::vector<std::string> list, body.GetStringList("values"));
      if (list.empty()) return values->Error("expected at least one value");
      const bool is_string = schema.field(f).type == Type::kString;
      for (size_t i = 0; i < list.size(); ++i) {
        if (is_string) {
          rule.string_values.insert(list[i]);
          continue;
        }
        int64_t v;
        if (!absl::SimpleAtoi(list[i], &v)) {
          const Param& at = values->is_list() ? values->items()[i] : *values;
          return at.Error(absl::StrCat("expected an integer, got '", list[i], "'"));
        }
        rule.int_values.insert(v);
      }
      return absl::OkStatus();
    }
    case RuleKind::kStaticAsset: {
      RETURN_IF_ERROR(body.CheckKeys({"field", "prefixes", "extensions"}));
      ASSIGN_OR_RETURN(const int f, RuleField(body, schema, kStringOnly, kind_name));
      rule.fields.push_back(f);
      const Param* prefixes = body.Find("prefixes");
      if (prefixes == nullptr || prefixes->is_null()) {
        rule.prefixes = {"/static/"};
      } else {
        ASSIGN_OR_RETURN(rule.prefixes, body.GetStringList("prefixes"));
        for (size_t i = 0; i < rule.prefixes.size(); ++i) {
          if (rule.prefixes[i].empty()) {
            return (prefixes->is_list() ? prefixes->items()[i] : *prefixes)
                .Error("an empty prefix would match every path");
          }
        }
      }
      const Param* extensions = body.Find("extensions");
      std::vector<std::string> exts;
      if (extensions == nullptr || extensions->is_null()) {
        exts = {"css", "js", "png", "jpg", "jpeg", "gif", "ico", "svg", "woff", "woff2", "map"};
      } else {
        ASSIGN_OR_RETURN(exts, body.GetStringList("extensions"));
      }
      for (size_t i = 0; i < exts.size(); ++i) {
        std::string ext = absl::AsciiStrToLower(exts[i]);
        if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
        if (ext.empty()) {
          return (extensions->is_list() ? extensions->items()[i] : *extensions)
              .Error("empty extension");
        }
        rule.extensions.push_back("." + ext);
      }
      if (rule.prefixes.empty() && rule.extensions.empty()) {
        return body.Error("static_asset needs at least one prefix or extension");
      }
      return absl::OkStatus();
    }
    case RuleKind::kBot: {
      RETURN_IF_ERROR(body.CheckKeys({"field", "words"}));
      ASSIGN_OR_RETURN(const int f, RuleField(body, schema, kStringOnly, kind_name));
      rule.fields.push_back(f);
      const Param* words_at = body.Find("words");
      std::vector<std::string> words;
      if (words_at == nullptr || words_at->is_null()) {
        words = {"bot", "spider", "crawl"};
      } else {
        ASSIGN_OR_RETURN(words, body.GetStringList("words"));
        if (words.empty()) return words_at->Error("expected at least one word");
        if (words.size() > WordFinder::kMaxWords) {
          return words_at->Error(absl::StrCat("at most ", WordFinder::kMaxWords, " words"));
        }
        for (size_t i = 0; i < words.size(); ++i) {
          if (words[i].empty()) {
            return (words_at->is_list() ? words_at->items()[i] : *words_at).Error("empty word");
          }
        }
      }
      rule.words = std::make_unique<WordFinder>(std::move(words));
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Operator>> CreateClean(const OperatorConfig& config) {
  const Param& params = *config.params;
  RETURN_IF_ERROR(params.CheckKeys({"rules"}));
  if (config.input_schemas.size() != 1 || config.input_schemas[0] == nullptr) {
    return params.Error(
        absl::StrCat("expected exactly one input, got ", config.input_schemas.size()));
  }
  const SchemaPtr& schema = config.input_schemas[0];
  const Param* rules_at = params.Find("rules");
  if (rules_at == nullptr || rules_at->is_null()) return params.MissingError("rules");
  if (!rules_at->is_list()) return rules_at->Error("expected a list of rules");
  if (rules_at->items().empty()) return rules_at->Error("expected at least one rule");

  std::vector<std::string_view> allowed_keys = {"reason"};
  for (const auto& [name, kind] : kRuleKinds) allowed_keys.push_back(name);

  std::vector<Rule> rules;
  std::vector<std::string> reasons;
  for (const Param& item : rules_at->items()) {
    if (!item.is_map()) return item.Error("expected a rule: a map with `reason` and one check");
    RETURN_IF_ERROR(item.CheckKeys(allowed_keys));
    Rule rule;
    ASSIGN_OR_RETURN(rule.reason, item.GetString("reason"));
    if (rule.reason.empty()) return item.Find("reason")->Error("reason must not be empty");
    const Param* body = nullptr;
    const char* kind_name = nullptr;
    for (const auto& [name, kind] : kRuleKinds) {
      const Param* p = item.Find(name);
      if (p == nullptr) continue;
      if (body != nullptr) {
        return p->Error(absl::StrCat("a rule has exactly one check; this one has both ", kind_name,
                                     " and ", name));
      }
      body = p;
      kind_name = name;
      rule.kind = kind;
    }
    if (body == nullptr) {
      return item.Error(
          "a rule needs one check: required, match, not_match, range, in, static_asset or bot");
    }
    RETURN_IF_ERROR(BuildRuleBody(*body, *schema, kind_name, rule));
    size_t counter = 0;
    while (counter < reasons.size() && reasons[counter] != rule.reason) ++counter;
    if (counter == reasons.size()) reasons.push_back(rule.reason);
    rule.counter = static_cast<int>(counter);
    rules.push_back(std::move(rule));
  }
  return std::make_unique<Clean>(schema, std::move(rules), std::move(reasons));
}

}  // namespace sluice::operators::clean
