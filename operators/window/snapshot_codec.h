// The byte codec of the window operator's checkpoint blob (window_snapshot.cc) and of the
// aggregates' per-slot state (aggregates.cc): fixed-width little-endian numbers, strings
// as a 4-byte length and the bytes, and hash sets / maps as a 4-byte count and the
// entries. Writing appends to one std::string; SnapshotDecoder bounds-checks every read,
// never reads past its input, and once a read fails stays failed.
//
// Threading: plain values, used from the task thread only.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace sluice::operators::window {

static_assert(std::endian::native == std::endian::little,
              "the window snapshot format is little-endian; add byte swapping for this target");

template <typename T>
requires std::is_arithmetic_v<T>
inline void PutFixed(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

inline void PutString(std::string& out, std::string_view s) {
  PutFixed(out, static_cast<uint32_t>(s.size()));
  out.append(s.data(), s.size());
}

/// Reads what the Put functions wrote, checking every length against the input.
class SnapshotDecoder {
 public:
  explicit SnapshotDecoder(std::string_view in) : in_(in) {}

  template <typename T>
  requires std::is_arithmetic_v<T>
  bool Get(T* v) {
    if (failed_ || in_.size() - pos_ < sizeof(T)) return Fail();
    std::memcpy(v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  /// `s` points into the input.
  bool GetString(std::string_view* s) {
    uint32_t n;
    if (!Get(&n)) return false;
    if (in_.size() - pos_ < n) return Fail();
    *s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  /// A count of entries that take at least `min_entry_bytes` each: fails if the rest of
  /// the input cannot hold that many, so a damaged count never makes the caller allocate.
  bool GetCount(uint32_t* n, size_t min_entry_bytes) {
    if (!Get(n)) return false;
    if (min_entry_bytes > 0 && *n > (in_.size() - pos_) / min_entry_bytes) return Fail();
    return true;
  }

  /// Marks the input malformed; returns false.
  bool Fail() {
    failed_ = true;
    return false;
  }
  bool failed() const { return failed_; }
  /// Bytes read so far.
  size_t pos() const { return pos_; }
  /// True if every byte was read and nothing failed.
  bool done() const { return !failed_ && pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Values of aggregate state columns. Sets and maps hold no duplicates: a blob with one
// is damaged.

template <typename T>
constexpr size_t kMinValueBytes = std::is_arithmetic_v<T> ? sizeof(T) : sizeof(uint32_t);

template <typename T>
requires std::is_arithmetic_v<T>
inline void PutValue(std::string& out, T v) { PutFixed(out, v); }
inline void PutValue(std::string& out, const std::string& v) { PutString(out, v); }
template <typename K>
void PutValue(std::string& out, const absl::flat_hash_set<K>& set) {
  PutFixed(out, static_cast<uint32_t>(set.size()));
  for (const K& k : set) PutValue(out, k);
}
template <typename K, typename V>
void PutValue(std::string& out, const absl::flat_hash_map<K, V>& map) {
  PutFixed(out, static_cast<uint32_t>(map.size()));
  for (const auto& [k, v] : map) {
    PutValue(out, k);
    PutValue(out, v);
  }
}

template <typename T>
requires std::is_arithmetic_v<T>
inline bool GetValue(SnapshotDecoder& in, T* v) { return in.Get(v); }
inline bool GetValue(SnapshotDecoder& in, std::string* v) {
  std::string_view s;
  if (!in.GetString(&s)) return false;
  v->assign(s.data(), s.size());
  return true;
}
/// REQUIRES: `set` is empty.
template <typename K>
bool GetValue(SnapshotDecoder& in, absl::flat_hash_set<K>* set) {
  uint32_t n;
  if (!in.GetCount(&n, kMinValueBytes<K>)) return false;
  set->reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    K k{};
    if (!GetValue(in, &k) || !set->insert(std::move(k)).second) return in.Fail();
  }
  return true;
}
/// REQUIRES: `map` is empty.
template <typename K, typename V>
bool GetValue(SnapshotDecoder& in, absl::flat_hash_map<K, V>* map) {
  uint32_t n;
  if (!in.GetCount(&n, kMinValueBytes<K> + kMinValueBytes<V>)) return false;
  map->reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    K k{};
    V v{};
    if (!GetValue(in, &k) || !GetValue(in, &v)) return false;
    if (!map->emplace(std::move(k), std::move(v)).second) return in.Fail();
  }
  return true;
}

}  // namespace sluice::operators::window
