// The generators' randomness: a seeded std::mt19937_64 and the code that maps its raw
// 64-bit draws to values (uniform ranges, weighted and Zipf-like picks). No std::
// distributions, so a seed gives the same bytes on every standard library.
//
// An Rng belongs to one generator run; Table and WeightedPicker are immutable after
// construction and may be shared between threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <vector>

namespace sluice::datagen {

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}

  uint64_t Next() { return gen_(); }
  // Uniform in [0, n); n > 0. Multiply-shift (bias < n / 2^64, irrelevant here).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(gen_()) * n) >> 64);
  }
  // Uniform in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Uniform() < p; }

 private:
  std::mt19937_64 gen_;
};

// One element of `items`, uniformly.
template <typename T, size_t N>
const T& PickUniform(Rng& rng, const T (&items)[N]) {
  return items[rng.Below(N)];
}

// Picks an index with probability proportional to integer weights.
class WeightedPicker {
 public:
  void Add(uint64_t weight) {
    total_ += weight;
    cumulative_.push_back(total_);
  }
  size_t Pick(Rng& rng) const {
    uint64_t r = rng.Below(total_);
    return static_cast<size_t>(std::upper_bound(cumulative_.begin(), cumulative_.end(), r) -
                               cumulative_.begin());
  }
  size_t size() const { return cumulative_.size(); }

 private:
  std::vector<uint64_t> cumulative_;
  uint64_t total_ = 0;
};

// Zipf-like popularity (exponent 1, rank shifted by `shift` to flatten the head) over n
// ranks, using integer weights only.
inline WeightedPicker ZipfPicker(size_t n, size_t shift) {
  WeightedPicker p;
  for (size_t k = 0; k < n; ++k) p.Add(100'000'000 / (k + 1 + shift));
  return p;
}

template <typename T>
struct Weighted {
  uint64_t weight;
  T value;
};

// Values picked with probability proportional to their weights.
template <typename T>
class Table {
 public:
  Table(std::initializer_list<Weighted<T>> items) {
    for (const auto& it : items) {
      picker_.Add(it.weight);
      values_.push_back(it.value);
    }
  }
  const T& Pick(Rng& rng) const { return values_[picker_.Pick(rng)]; }

 private:
  WeightedPicker picker_;
  std::vector<T> values_;
};

}  // namespace sluice::datagen
