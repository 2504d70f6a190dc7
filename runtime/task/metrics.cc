#include "runtime/task/metrics.h"

namespace sluice::runtime {
namespace {
Counter* FindOrCreate(std::map<std::string, std::unique_ptr<Counter>, std::less<>>& map,
                      std::string_view name) {
  auto it = map.find(name);
  if (it == map.end()) it = map.emplace(std::string(name), std::make_unique<Counter>()).first;
  return it->second.get();
}
std::map<std::string, int64_t> Snapshot(
    const std::map<std::string, std::unique_ptr<Counter>, std::less<>>& map) {
  std::map<std::string, int64_t> out;
  for (const auto& [k, v] : map) out[k] = v->value();
  return out;
}
}  // namespace

Counter* NodeMetrics::GetCounter(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindOrCreate(counters_, name);
}

Counter* NodeMetrics::DeadLetterCounter(std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindOrCreate(dead_letters_, reason);
}

std::map<std::string, int64_t> NodeMetrics::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Snapshot(counters_);
}

std::map<std::string, int64_t> NodeMetrics::DeadLetters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Snapshot(dead_letters_);
}

int64_t NodeMetrics::TotalDeadLetters() const {
  int64_t n = 0;
  for (const auto& [k, v] : DeadLetters()) n += v;
  return n;
}

}  // namespace sluice::runtime
