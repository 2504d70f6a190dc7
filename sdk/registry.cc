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

std::vector<std::string> OperatorRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : entries_) out.push_back(name);
  return out;
}

}  // namespace sluice
