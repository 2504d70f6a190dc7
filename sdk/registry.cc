#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/strings.h"
#include "sluice/operator.h"

namespace sluice {

absl::Status OperatorRegistry::RegisterSource(std::string type, SourceFactory factory,
                                              std::string doc) {
  if (entries_.count(type)) return absl::AlreadyExistsError(absl::StrCat("operator type '", type, "' is already registered"));
  entries_[type] = Entry{Kind::kSource, std::move(factory), nullptr, std::move(doc)};
  return absl::OkStatus();
}

absl::Status OperatorRegistry::RegisterOperator(std::string type, OperatorFactory factory,
                                                std::string doc) {
  if (entries_.count(type)) return absl::AlreadyExistsError(absl::StrCat("operator type '", type, "' is already registered"));
  entries_[type] = Entry{Kind::kOperator, nullptr, std::move(factory), std::move(doc)};
  return absl::OkStatus();
}

absl::Status OperatorRegistry::RegisterSink(std::string type, OperatorFactory factory,
                                            std::string doc) {
  if (entries_.count(type)) return absl::AlreadyExistsError(absl::StrCat("operator type '", type, "' is already registered"));
  entries_[type] = Entry{Kind::kSink, nullptr, std::move(factory), std::move(doc)};
  return absl::OkStatus();
}

absl::StatusOr<OperatorRegistry::Kind> OperatorRegistry::KindOf(std::string_view type) const {
  auto it = entries_.find(type);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("unknown operator type '", Sv(type),
                                            "'; known types: ", absl::StrJoin(Types(), ", "),
                                            " (an operator from a plugin needs --plugin FILE.so)"));
  }
  return it->second.kind;
}

const SourceFactory* OperatorRegistry::FindSource(std::string_view type) const {
  auto it = entries_.find(type);
  if (it == entries_.end() || it->second.kind != Kind::kSource) return nullptr;
  return &it->second.source;
}

const OperatorFactory* OperatorRegistry::FindOperator(std::string_view type) const {
  auto it = entries_.find(type);
  if (it == entries_.end() || it->second.kind == Kind::kSource) return nullptr;
  return &it->second.op;
}

std::string_view OperatorRegistry::Doc(std::string_view type) const {
  auto it = entries_.find(type);
  return it == entries_.end() ? std::string_view() : std::string_view(it->second.doc);
}

absl::Status OperatorRegistry::RegisterDeadLetterWriter(std::string scheme, DeadLetterWriterFactory factory,
                                                        std::string doc) {
  if (dead_letter_schemes_.count(scheme)) {
    return absl::AlreadyExistsError(absl::StrCat("dead-letter scheme '", scheme, "://' is already registered"));
  }
  dead_letter_schemes_[std::move(scheme)] = DeadLetterScheme{std::move(factory), std::move(doc)};
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DeadLetterWriter>> OperatorRegistry::OpenDeadLetterWriter(std::string_view uri) const {
  const size_t sep = uri.find("://");
  const std::string_view scheme = sep == std::string_view::npos ? std::string_view() : uri.substr(0, sep);
  auto it = dead_letter_schemes_.find(scheme);
  if (it == dead_letter_schemes_.end()) {
    // Each scheme's description shows its form ("kafka://HOST:PORT[,HOST:PORT...]/TOPIC").
    std::vector<std::string> known;
    for (const auto& [name, entry] : dead_letter_schemes_) {
      known.push_back(entry.doc.empty() ? absl::StrCat(name, "://...") : entry.doc);
    }
    return absl::InvalidArgumentError(
        absl::StrCat("dead_letter ", Sv(uri), ": unknown scheme '", Sv(scheme), "' (",
                     known.empty() ? std::string("a file path; no URI scheme is registered")
                                   : absl::StrCat("a file path, or ", absl::StrJoin(known, ", ")),
                     ")"));
  }
  return it->second.factory(uri);
}

std::vector<std::pair<std::string, std::string>> OperatorRegistry::DeadLetterSchemes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, entry] : dead_letter_schemes_) out.emplace_back(name, entry.doc);
  return out;
}

std::vector<std::string> OperatorRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

}  // namespace sluice
