#include "operators/window/aggregates.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "operators/window/snapshot_codec.h"

namespace sluice::operators::window {

namespace {

// Calls fn(row, slot) for every pair whose row is not null in `c`.
template <typename Fn>
inline void ForEachNonNull(const Column& c, const uint32_t* rows, const uint32_t* slots, size_t n,
                           Fn&& fn) {
  if (c.nulls.empty()) {
    for (size_t i = 0; i < n; ++i) fn(rows[i], slots[i]);
  } else {
    const uint8_t* nulls = c.nulls.data();
    for (size_t i = 0; i < n; ++i) {
      if (nulls[rows[i]] == 0) fn(rows[i], slots[i]);
    }
  }
}

// Checkpoints of per-slot state columns: for each slot, its value in every column.
template <typename... Columns>
void SaveColumns(const uint32_t* slots, size_t n, std::string& out, const Columns&... cols) {
  for (size_t i = 0; i < n; ++i) (PutValue(out, cols[slots[i]]), ...);
}
template <typename... Columns>
bool LoadColumns(const uint32_t* slots, size_t n, SnapshotDecoder& in, Columns&... cols) {
  for (size_t i = 0; i < n; ++i) {
    if (!(GetValue(in, &cols[slots[i]]) && ...)) return false;
  }
  return true;
}

// How min/max read, keep and write values of one column representation.
struct IntTraits {
  using In = int64_t;
  using Stored = int64_t;
  static In Get(const Column& c, uint32_t r) { return c.ints[r]; }
  static bool Skip(In) { return false; }
  static void Store(Stored& s, In v) { s = v; }
  static In View(const Stored& s) { return s; }
  static void Clear(Stored& s) { s = 0; }
  static void Out(Column& col, Arena&, const Stored& v) { AppendInt(col, v); }
};
struct DoubleTraits {
  using In = double;
  using Stored = double;
  static In Get(const Column& c, uint32_t r) { return c.doubles[r]; }
  static bool Skip(In v) { return std::isnan(v); }
  static void Store(Stored& s, In v) { s = v; }
  static In View(const Stored& s) { return s; }
  static void Clear(Stored& s) { s = 0; }
  static void Out(Column& col, Arena&, const Stored& v) { AppendDouble(col, v); }
};
struct StringTraits {
  using In = std::string_view;
  using Stored = std::string;
  static In Get(const Column& c, uint32_t r) { return c.strings[r]; }
  static bool Skip(In) { return false; }
  static void Store(Stored& s, In v) { s.assign(v.data(), v.size()); }
  static In View(const Stored& s) { return s; }
  static void Clear(Stored& s) { std::string().swap(s); }
  static void Out(Column& col, Arena& arena, const Stored& v) { AppendString(col, arena, v); }
};

class CountAgg final : public Aggregator {
 public:
  explicit CountAgg(int field) : field_(field) {}
  void Resize(size_t n) override { counts_.resize(n, 0); }
  void Reset(uint32_t slot) override { counts_[slot] = 0; }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    int64_t* counts = counts_.data();
    if (field_ < 0) {
      for (size_t i = 0; i < n; ++i) ++counts[slots[i]];
      return;
    }
    ForEachNonNull(batch.column(field_), rows, slots, n,
                   [counts](uint32_t, uint32_t s) { ++counts[s]; });
  }
  void Merge(uint32_t dst, uint32_t src) override { counts_[dst] += counts_[src]; }
  void Append(uint32_t slot, Column& col, Arena&, size_t) const override {
    AppendInt(col, counts_[slot]);
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, counts_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, counts_);
  }

 private:
  int field_;
  std::vector<int64_t> counts_;
};

template <typename T>
class SumAgg final : public Aggregator {
 public:
  explicit SumAgg(int field) : field_(field) {}
  void Resize(size_t n) override {
    sums_.resize(n, 0);
    has_.resize(n, 0);
  }
  void Reset(uint32_t slot) override {
    sums_[slot] = 0;
    has_[slot] = 0;
  }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    const Column& c = batch.column(field_);
    T* sums = sums_.data();
    uint8_t* has = has_.data();
    ForEachNonNull(c, rows, slots, n, [&](uint32_t r, uint32_t s) {
      sums[s] = Add(sums[s], Get(c, r));
      has[s] = 1;
    });
  }
  void Merge(uint32_t dst, uint32_t src) override {
    sums_[dst] = Add(sums_[dst], sums_[src]);
    has_[dst] |= has_[src];
  }
  void Append(uint32_t slot, Column& col, Arena&, size_t row) const override {
    if (!has_[slot]) {
      AppendNull(col, row);
    } else if constexpr (std::is_same_v<T, int64_t>) {
      AppendInt(col, sums_[slot]);
    } else {
      AppendDouble(col, sums_[slot]);
    }
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, sums_, has_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, sums_, has_);
  }

 private:
  static T Get(const Column& c, uint32_t r) {
    if constexpr (std::is_same_v<T, int64_t>) {
      return c.ints[r];
    } else {
      return c.doubles[r];
    }
  }
  // int64 sums wrap around on overflow (two's complement) instead of being UB.
  static T Add(T a, T b) {
    if constexpr (std::is_same_v<T, int64_t>) {
      return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    } else {
      return a + b;
    }
  }

  int field_;
  std::vector<T> sums_;
  std::vector<uint8_t> has_;
};

template <typename Traits, bool kMax>
class MinMaxAgg final : public Aggregator {
 public:
  explicit MinMaxAgg(int field) : field_(field) {}
  void Resize(size_t n) override {
    values_.resize(n);
    has_.resize(n, 0);
  }
  void Reset(uint32_t slot) override {
    Traits::Clear(values_[slot]);
    has_[slot] = 0;
  }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    const Column& c = batch.column(field_);
    ForEachNonNull(c, rows, slots, n, [&](uint32_t r, uint32_t s) {
      typename Traits::In v = Traits::Get(c, r);
      if (Traits::Skip(v)) return;
      if (!has_[s] || Better(v, Traits::View(values_[s]))) {
        Traits::Store(values_[s], v);
        has_[s] = 1;
      }
    });
  }
  void Merge(uint32_t dst, uint32_t src) override {
    if (!has_[src]) return;
    if (!has_[dst] || Better(Traits::View(values_[src]), Traits::View(values_[dst]))) {
      Traits::Store(values_[dst], Traits::View(values_[src]));
      has_[dst] = 1;
    }
  }
  void Append(uint32_t slot, Column& col, Arena& arena, size_t row) const override {
    if (has_[slot]) {
      Traits::Out(col, arena, values_[slot]);
    } else {
      AppendNull(col, row);
    }
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, values_, has_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, values_, has_);
  }

 private:
  static bool Better(const typename Traits::In& v, const typename Traits::In& cur) {
    return kMax ? cur < v : v < cur;
  }

  int field_;
  std::vector<typename Traits::Stored> values_;
  std::vector<uint8_t> has_;
};

class AvgAgg final : public Aggregator {
 public:
  AvgAgg(int field, bool is_double) : field_(field), is_double_(is_double) {}
  void Resize(size_t n) override {
    sums_.resize(n, 0);
    counts_.resize(n, 0);
  }
  void Reset(uint32_t slot) override {
    sums_[slot] = 0;
    counts_[slot] = 0;
  }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    const Column& c = batch.column(field_);
    double* sums = sums_.data();
    int64_t* counts = counts_.data();
    if (is_double_) {
      ForEachNonNull(c, rows, slots, n, [&](uint32_t r, uint32_t s) {
        sums[s] += c.doubles[r];
        ++counts[s];
      });
    } else {
      ForEachNonNull(c, rows, slots, n, [&](uint32_t r, uint32_t s) {
        sums[s] += static_cast<double>(c.ints[r]);
        ++counts[s];
      });
    }
  }
  void Merge(uint32_t dst, uint32_t src) override {
    sums_[dst] += sums_[src];
    counts_[dst] += counts_[src];
  }
  void Append(uint32_t slot, Column& col, Arena&, size_t row) const override {
    if (counts_[slot] == 0) {
      AppendNull(col, row);
    } else {
      AppendDouble(col, sums_[slot] / static_cast<double>(counts_[slot]));
    }
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, sums_, counts_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, sums_, counts_);
  }

 private:
  int field_;
  bool is_double_;
  std::vector<double> sums_;
  std::vector<int64_t> counts_;
};

// The bits of a double as a set/map key: equal doubles get equal keys (0.0 == -0.0).
inline int64_t DoubleKey(double v) {
  if (v == 0) v = 0;
  int64_t k;
  std::memcpy(&k, &v, sizeof(k));
  return k;
}

class CountDistinctStringAgg final : public Aggregator {
 public:
  explicit CountDistinctStringAgg(int field) : field_(field) {}
  void Resize(size_t n) override { sets_.resize(n); }
  void Reset(uint32_t slot) override { absl::flat_hash_set<std::string>().swap(sets_[slot]); }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    const Column& c = batch.column(field_);
    ForEachNonNull(c, rows, slots, n, [&](uint32_t r, uint32_t s) {
      std::string_view v = c.strings[r];
      sets_[s].lazy_emplace(Sv(v), [v](const auto& ctor) { ctor(v.data(), v.size()); });
    });
  }
  void Merge(uint32_t dst, uint32_t src) override {
    if (sets_[src].size() > sets_[dst].size()) sets_[dst].swap(sets_[src]);
    for (const std::string& v : sets_[src]) sets_[dst].insert(v);
  }
  void Append(uint32_t slot, Column& col, Arena&, size_t) const override {
    AppendInt(col, static_cast<int64_t>(sets_[slot].size()));
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, sets_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, sets_);
  }

 private:
  int field_;
  std::vector<absl::flat_hash_set<std::string>> sets_;
};

class CountDistinctIntAgg final : public Aggregator {
 public:
  CountDistinctIntAgg(int field, bool is_double) : field_(field), is_double_(is_double) {}
  void Resize(size_t n) override { sets_.resize(n); }
  void Reset(uint32_t slot) override { absl::flat_hash_set<int64_t>().swap(sets_[slot]); }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    const Column& c = batch.column(field_);
    if (is_double_) {
      ForEachNonNull(c, rows, slots, n,
                     [&](uint32_t r, uint32_t s) { sets_[s].insert(DoubleKey(c.doubles[r])); });
    } else {
      ForEachNonNull(c, rows, slots, n,
                     [&](uint32_t r, uint32_t s) { sets_[s].insert(c.ints[r]); });
    }
  }
  void Merge(uint32_t dst, uint32_t src) override {
    if (sets_[src].size() > sets_[dst].size()) sets_[dst].swap(sets_[src]);
    sets_[dst].insert(sets_[src].begin(), sets_[src].end());
  }
  void Append(uint32_t slot, Column& col, Arena&, size_t) const override {
    AppendInt(col, static_cast<int64_t>(sets_[slot].size()));
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, sets_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, sets_);
  }

 private:
  int field_;
  bool is_double_;
  std::vector<absl::flat_hash_set<int64_t>> sets_;
};

// Orders top_k candidates: count descending, then value ascending.
template <typename V>
bool TopKBefore(const std::pair<V, int64_t>& a, const std::pair<V, int64_t>& b) {
  if (a.second != b.second) return a.second > b.second;
  return a.first < b.first;
}

template <typename V>
void SortTopK(std::vector<std::pair<V, int64_t>>& items, int64_t k) {
  size_t n = std::min<size_t>(items.size(), static_cast<size_t>(k));
  std::partial_sort(items.begin(), items.begin() + n, items.end(), TopKBefore<V>);
  items.resize(n);
}

class TopKStringAgg final : public Aggregator {
 public:
  TopKStringAgg(int field, int64_t k) : field_(field), k_(k) {}
  void Resize(size_t n) override { counts_.resize(n); }
  void Reset(uint32_t slot) override {
    absl::flat_hash_map<std::string, int64_t>().swap(counts_[slot]);
  }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    const Column& c = batch.column(field_);
    ForEachNonNull(c, rows, slots, n, [&](uint32_t r, uint32_t s) {
      std::string_view v = c.strings[r];
      auto it = counts_[s].lazy_emplace(Sv(v), [v](const auto& ctor) {
        ctor(std::piecewise_construct, std::forward_as_tuple(v.data(), v.size()),
             std::forward_as_tuple(0));
      });
      ++it->second;
    });
  }
  void Merge(uint32_t dst, uint32_t src) override {
    for (const auto& [v, n] : counts_[src]) counts_[dst][v] += n;
  }
  void Append(uint32_t slot, Column& col, Arena& arena, size_t) const override {
    std::vector<std::pair<std::string_view, int64_t>> items;
    items.reserve(counts_[slot].size());
    for (const auto& [v, n] : counts_[slot]) items.emplace_back(v, n);
    SortTopK(items, k_);
    std::string out;
    for (const auto& [v, n] : items) {
      if (!out.empty()) out.push_back(',');
      absl::StrAppend(&out, Sv(v), ":", n);
    }
    AppendString(col, arena, out);
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, counts_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, counts_);
  }

 private:
  int field_;
  int64_t k_;
  std::vector<absl::flat_hash_map<std::string, int64_t>> counts_;
};

class TopKIntAgg final : public Aggregator {
 public:
  TopKIntAgg(int field, int64_t k, bool is_bool) : field_(field), k_(k), is_bool_(is_bool) {}
  void Resize(size_t n) override { counts_.resize(n); }
  void Reset(uint32_t slot) override {
    absl::flat_hash_map<int64_t, int64_t>().swap(counts_[slot]);
  }
  void Update(const RecordBatch& batch, const uint32_t* rows, const uint32_t* slots,
              size_t n) override {
    const Column& c = batch.column(field_);
    ForEachNonNull(c, rows, slots, n, [&](uint32_t r, uint32_t s) { ++counts_[s][c.ints[r]]; });
  }
  void Merge(uint32_t dst, uint32_t src) override {
    for (const auto& [v, n] : counts_[src]) counts_[dst][v] += n;
  }
  void Append(uint32_t slot, Column& col, Arena& arena, size_t) const override {
    std::vector<std::pair<int64_t, int64_t>> items(counts_[slot].begin(), counts_[slot].end());
    SortTopK(items, k_);
    std::string out;
    for (const auto& [v, n] : items) {
      if (!out.empty()) out.push_back(',');
      if (is_bool_) {
        absl::StrAppend(&out, v ? "true" : "false", ":", n);
      } else {
        absl::StrAppend(&out, v, ":", n);
      }
    }
    AppendString(col, arena, out);
  }
  void SaveSlots(const uint32_t* slots, size_t n, std::string& out) const override {
    SaveColumns(slots, n, out, counts_);
  }
  bool LoadSlots(const uint32_t* slots, size_t n, SnapshotDecoder& in) override {
    return LoadColumns(slots, n, in, counts_);
  }

 private:
  int field_;
  int64_t k_;
  bool is_bool_;
  std::vector<absl::flat_hash_map<int64_t, int64_t>> counts_;
};

}  // namespace

std::unique_ptr<Aggregator> NewAggregator(AggFn fn, int field, Type field_type, int64_t k) {
  const bool is_double = field_type == Type::kDouble;
  switch (fn) {
    case AggFn::kCount:
      return std::make_unique<CountAgg>(field);
    case AggFn::kCountDistinct:
      if (field_type == Type::kString) return std::make_unique<CountDistinctStringAgg>(field);
      return std::make_unique<CountDistinctIntAgg>(field, is_double);
    case AggFn::kSum:
      if (is_double) return std::make_unique<SumAgg<double>>(field);
      return std::make_unique<SumAgg<int64_t>>(field);
    case AggFn::kMin:
      if (field_type == Type::kString)
        return std::make_unique<MinMaxAgg<StringTraits, false>>(field);
      if (is_double) return std::make_unique<MinMaxAgg<DoubleTraits, false>>(field);
      return std::make_unique<MinMaxAgg<IntTraits, false>>(field);
    case AggFn::kMax:
      if (field_type == Type::kString)
        return std::make_unique<MinMaxAgg<StringTraits, true>>(field);
      if (is_double) return std::make_unique<MinMaxAgg<DoubleTraits, true>>(field);
      return std::make_unique<MinMaxAgg<IntTraits, true>>(field);
    case AggFn::kAvg:
      return std::make_unique<AvgAgg>(field, is_double);
    case AggFn::kTopK:
      if (field_type == Type::kString) return std::make_unique<TopKStringAgg>(field, k);
      return std::make_unique<TopKIntAgg>(field, k, field_type == Type::kBool);
  }
  return nullptr;
}

void AppendNull(Column& c, size_t row) {
  switch (c.type) {
    case Type::kInt64:
    case Type::kTimestamp:
    case Type::kBool:
      c.ints.push_back(0);
      break;
    case Type::kDouble:
      c.doubles.push_back(0);
      break;
    case Type::kString:
      c.strings.emplace_back();
      break;
    case Type::kNull:
      break;
  }
  c.SetNull(row, row + 1);
}

}  // namespace sluice::operators::window
