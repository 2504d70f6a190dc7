// The in-memory backend: an ordered map per table.
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/state/kv_store.h"

namespace sluice::runtime {

namespace {

class InMemoryKvStore final : public KvStore {
 public:
  std::string_view backend() const override { return "memory"; }
  absl::StatusOr<int> Table(std::string_view name) override {
    for (size_t i = 0; i < names_.size(); ++i) {
      if (names_[i] == name) return static_cast<int>(i);
    }
    names_.emplace_back(name);
    tables_.emplace_back();
    return static_cast<int>(tables_.size() - 1);
  }
  bool Get(int table, std::string_view key, std::string* value) override {
    const auto& t = tables_[table];
    auto it = t.find(key);
    if (it == t.end()) return false;
    value->assign(it->second);
    return true;
  }
  void Put(int table, std::string_view key, std::string_view value) override {
    auto& t = tables_[table];
    auto it = t.find(key);
    if (it != t.end()) {
      it->second.assign(value.data(), value.size());
    } else {
      t.emplace(std::string(key), std::string(value));
    }
  }
  void Delete(int table, std::string_view key) override {
    auto& t = tables_[table];
    auto it = t.find(key);
    if (it != t.end()) t.erase(it);
  }
  void Scan(int table, std::string_view begin, std::string_view end,
            const std::function<bool(std::string_view, std::string_view)>& fn) override {
    const auto& t = tables_[table];
    for (auto it = t.lower_bound(begin); it != t.end() && (end.empty() || it->first < end); ++it) {
      if (!fn(it->first, it->second)) return;
    }
  }
  void DeleteRange(int table, std::string_view begin, std::string_view end) override {
    auto& t = tables_[table];
    t.erase(t.lower_bound(begin), end.empty() ? t.end() : t.lower_bound(end));
  }
  void Flush() override {}
  absl::Status status() const override { return absl::OkStatus(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::map<std::string, std::string, std::less<>>> tables_;
};

}  // namespace

std::unique_ptr<KvStore> NewInMemoryKvStore() { return std::make_unique<InMemoryKvStore>(); }

}  // namespace sluice::runtime
