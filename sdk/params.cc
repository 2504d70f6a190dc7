#include "sluice/params.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"

namespace sluice {

Param Param::Bool(bool v) {
  Param p;
  p.kind_ = Kind::kBool;
  p.bool_ = v;
  p.string_ = v ? "true" : "false";
  return p;
}

Param Param::Number(double v, std::string text) {
  Param p;
  p.kind_ = Kind::kNumber;
  p.number_ = v;
  if (text.empty()) {
    if (std::floor(v) == v && std::fabs(v) < 1e15) {
      text = absl::StrCat(static_cast<int64_t>(v));
    } else {
      text = absl::StrCat(v);
    }
  }
  p.string_ = std::move(text);
  return p;
}

Param Param::String(std::string v) {
  Param p;
  p.kind_ = Kind::kString;
  p.string_ = std::move(v);
  return p;
}

Param Param::List(std::vector<Param> items) {
  Param p;
  p.kind_ = Kind::kList;
  p.items_ = std::move(items);
  return p;
}

Param Param::Map(std::vector<std::pair<std::string, Param>> entries) {
  Param p;
  p.kind_ = Kind::kMap;
  p.entries_ = std::move(entries);
  return p;
}

void Param::SetOwnLocation(std::string file, int line, std::string path) {
  file_ = std::move(file);
  line_ = line;
  path_ = std::move(path);
}

void Param::SetLocation(std::string file, int line, std::string path) {
  for (size_t i = 0; i < items_.size(); ++i) {
    Param& c = items_[i];
    c.SetLocation(file, c.line_ ? c.line_ : line, absl::StrCat(path, "[", i, "]"));
  }
  for (auto& [k, c] : entries_) {
    c.SetLocation(file, c.line_ ? c.line_ : line, path.empty() ? k : absl::StrCat(path, ".", k));
  }
  SetOwnLocation(std::move(file), line, std::move(path));
}

const Param* Param::Find(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Param::Set(std::string key, Param value) {
  if (kind_ == Kind::kNull) kind_ = Kind::kMap;
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

absl::Status Param::CheckKeys(const std::vector<std::string_view>& allowed) const {
  for (const auto& [k, v] : entries_) {
    bool ok = false;
    for (auto a : allowed) ok = ok || a == k;
    if (!ok) {
      return v.Error(absl::StrCat("unknown parameter '", k, "'; expected one of: ",
                                  absl::StrJoin(allowed, ", ", [](std::string* o, std::string_view a) { o->append(a); })));
    }
  }
  return absl::OkStatus();
}

absl::Status Param::Error(std::string_view msg) const {
  std::string loc;
  if (!file_.empty()) absl::StrAppend(&loc, file_, ":");
  if (line_ > 0) absl::StrAppend(&loc, line_, ":");
  if (!loc.empty()) loc.push_back(' ');
  if (!path_.empty()) absl::StrAppend(&loc, path_, ": ");
  return absl::InvalidArgumentError(absl::StrCat(loc, Sv(msg)));
}

absl::Status Param::MissingError(std::string_view key) const {
  std::string loc;
  if (!file_.empty()) absl::StrAppend(&loc, file_, ":");
  if (line_ > 0) absl::StrAppend(&loc, line_, ":");
  if (!loc.empty()) loc.push_back(' ');
  std::string path = path_.empty() ? std::string(key) : absl::StrCat(path_, ".", Sv(key));
  return absl::InvalidArgumentError(absl::StrCat(loc, path, ": required parameter is missing"));
}

namespace {
const char* KindName(Param::Kind k) {
  switch (k) {
    case Param::Kind::kNull: return "null";
    case Param::Kind::kBool: return "a boolean";
    case Param::Kind::kNumber: return "a number";
    case Param::Kind::kString: return "a string";
    case Param::Kind::kList: return "a list";
    case Param::Kind::kMap: return "a map";
  }
  return "?";
}
}  // namespace

absl::StatusOr<std::string> Param::GetString(std::string_view key) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return MissingError(key);
  if (p->kind_ == Kind::kString || p->kind_ == Kind::kNumber || p->kind_ == Kind::kBool) {
    return p->string_;
  }
  return p->Error(absl::StrCat("expected a string, got ", KindName(p->kind_)));
}

absl::StatusOr<std::string> Param::GetStringOr(std::string_view key, std::string def) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return def;
  return GetString(key);
}

absl::StatusOr<int64_t> Param::GetInt(std::string_view key) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return MissingError(key);
  int64_t v;
  if ((p->kind_ == Kind::kNumber || p->kind_ == Kind::kString) &&
      absl::SimpleAtoi(p->string_, &v)) {
    return v;
  }
  return p->Error(absl::StrCat("expected an integer, got '", p->ToString(), "'"));
}

absl::StatusOr<int64_t> Param::GetIntOr(std::string_view key, int64_t def) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return def;
  return GetInt(key);
}

absl::StatusOr<double> Param::GetDoubleOr(std::string_view key, double def) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return def;
  double v;
  if ((p->kind_ == Kind::kNumber || p->kind_ == Kind::kString) &&
      absl::SimpleAtod(p->string_, &v)) {
    return v;
  }
  return p->Error(absl::StrCat("expected a number, got '", p->ToString(), "'"));
}

absl::StatusOr<bool> Param::GetBoolOr(std::string_view key, bool def) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return def;
  if (p->kind_ == Kind::kBool) return p->bool_;
  bool v;
  if (p->kind_ == Kind::kString && absl::SimpleAtob(p->string_, &v)) return v;
  return p->Error(absl::StrCat("expected true or false, got '", p->ToString(), "'"));
}

absl::StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(Sv(text)));
  size_t i = 0;
  while (i < t.size() && (absl::ascii_isdigit(t[i]) || t[i] == '.')) ++i;
  if (i == 0) return absl::InvalidArgumentError("expected a duration like 10s");
  double n;
  if (!absl::SimpleAtod(absl::string_view(t).substr(0, i), &n)) {
    return absl::InvalidArgumentError("expected a duration like 10s");
  }
  std::string unit = t.substr(i);
  double mult;
  if (unit.empty() || unit == "ms") mult = 1;
  else if (unit == "s" || unit == "sec") mult = 1000;
  else if (unit == "m" || unit == "min") mult = 60000;
  else if (unit == "h") mult = 3600000;
  else if (unit == "d") mult = 86400000;
  else return absl::InvalidArgumentError("expected a duration like 10s");
  return static_cast<int64_t>(std::llround(n * mult));
}

absl::StatusOr<int64_t> Param::GetDurationMs(std::string_view key) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return MissingError(key);
  if (p->kind_ == Kind::kNumber || p->kind_ == Kind::kString) {
    auto d = ParseDurationMs(p->string_);
    if (d.ok()) return d;
  }
  return p->Error(absl::StrCat("expected a duration like 10s, got '", p->ToString(), "'"));
}

absl::StatusOr<int64_t> Param::GetDurationMsOr(std::string_view key, int64_t def) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return def;
  return GetDurationMs(key);
}

absl::StatusOr<std::vector<std::string>> Param::GetStringList(std::string_view key) const {
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return MissingError(key);
  return GetStringListOr(key);
}

absl::StatusOr<std::vector<std::string>> Param::GetStringListOr(std::string_view key) const {
  std::vector<std::string> out;
  const Param* p = Find(key);
  if (p == nullptr || p->is_null()) return out;
  if (p->kind_ == Kind::kString || p->kind_ == Kind::kNumber) {
    out.push_back(p->string_);
    return out;
  }
  if (p->kind_ != Kind::kList) {
    return p->Error(absl::StrCat("expected a string or a list of strings, got ", KindName(p->kind_)));
  }
  for (const Param& item : p->items_) {
    if (item.kind_ != Kind::kString && item.kind_ != Kind::kNumber) {
      return item.Error(absl::StrCat("expected a string, got ", KindName(item.kind_)));
    }
    out.push_back(item.string_);
  }
  return out;
}

std::string Param::ToString() const {
  switch (kind_) {
    case Kind::kNull: return "null";
    case Kind::kBool:
    case Kind::kNumber:
    case Kind::kString: return string_;
    case Kind::kList:
      return absl::StrCat("[", absl::StrJoin(items_, ", ", [](std::string* o, const Param& p) {
        o->append(p.ToString());
      }), "]");
    case Kind::kMap:
      return absl::StrCat("{", absl::StrJoin(entries_, ", ", [](std::string* o, const auto& e) {
        absl::StrAppend(o, e.first, ": ", e.second.ToString());
      }), "}");
  }
  return "";
}

}  // namespace sluice
