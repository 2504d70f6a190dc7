#include "runtime/state/keyed_states.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/varint.h"
#include "common/strings.h"


namespace sluice::runtime {

namespace {

void PutKeyGroup(std::string& out, uint32_t kg) {
  out.push_back(static_cast<char>((kg >> 8) & 0xff));
  out.push_back(static_cast<char>(kg & 0xff));
}

uint32_t KeyGroupOfStoreKey(std::string_view k) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(k[0])) << 8) | static_cast<uint8_t>(k[1]);
}

// A key in a store key: its bytes with each 0x00 written as 0x00 0xff, then 0x00 0x01.
// Unlike a length prefix, this keeps the keys of a key group in byte order of the key
// (as ForEachInKeyGroup promises), and no encoded key is a prefix of another.
void PutOrderedBytes(std::string& out, std::string_view b) {
  for (char c : b) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  out.push_back('\0');
  out.push_back('\x01');
}

// Reads what PutOrderedBytes wrote. `*out` views `in` when the key holds no 0x00 byte,
// else `*buf`.
bool GetOrderedBytes(std::string_view& in, std::string_view* out, std::string* buf) {
  bool copied = false;
  size_t i = 0;
  while (true) {
    const size_t pos = in.find('\0', i);
    if (pos == std::string_view::npos || pos + 1 >= in.size()) return false;
    const char next = in[pos + 1];
    if (next != '\x01' && next != '\xff') return false;
    if (!copied && next == '\x01') {
      *out = in.substr(0, pos);
      in.remove_prefix(pos + 2);
      return true;
    }
    if (!copied) buf->clear();
    copied = true;
    buf->append(in.data() + i, pos - i);
    if (next == '\x01') {
      *out = *buf;
      in.remove_prefix(pos + 2);
      return true;
    }
    buf->push_back('\0');
    i = pos + 2;
  }
}

// The store key of (key group, key, namespace): a prefix of a map's entries.
void EncodePrefix(std::string& out, const StateKey& k) {
  out.clear();
  PutKeyGroup(out, k.key_group);
  PutOrderedBytes(out, k.key);
  PutBytes(out, k.ns);
}

// Splits a store key into key group, key, namespace and what follows (a map's user key).
// `*key` may point into `*key_buf`.
bool DecodeStoreKey(std::string_view k, uint32_t* kg, std::string_view* key, std::string* key_buf,
                    std::string_view* ns, std::string_view* rest) {
  if (k.size() < 2) return false;
  *kg = KeyGroupOfStoreKey(k);
  k.remove_prefix(2);
  if (!GetOrderedBytes(k, key, key_buf) || !GetBytes(k, ns)) return false;
  *rest = k;
  return true;
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

// The smallest key greater than every key starting with `prefix` ("" if none is).
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c != 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return end;
}

std::string KeyGroupBegin(uint32_t kg) {
  std::string s;
  PutKeyGroup(s, kg);
  return s;
}
// kg + 1 may be 65536 (past the largest group): "" ends at the last key.
std::string KeyGroupEnd(uint32_t kg) { return kg + 1 > 0xffff ? std::string() : KeyGroupBegin(kg + 1); }

bool DecodeList(std::string_view in, std::vector<std::string_view>* items) {
  items->clear();
  while (!in.empty()) {
    std::string_view item;
    if (!GetBytes(in, &item)) return false;
    items->push_back(item);
  }
  return true;
}

class StateBase {
 public:
  StateBase(KvStore* store, int table, uint32_t first_kg, uint32_t last_kg)
      : store_(store), table_(table), first_kg_(first_kg), last_kg_(last_kg) {}

 protected:
  // Entries of `kg` as decoded store keys.
  // From the first key >= `from` (byte order of keys).
  void ScanKeyGroup(uint32_t kg,
                    const std::function<bool(std::string_view key, std::string_view ns, std::string_view rest,
                                             std::string_view value)>& fn,
                    std::string_view from = {}) {
    std::string key_buf;
    std::string begin = KeyGroupBegin(kg);
    if (!from.empty()) {
      // The encoded key without its terminator sorts before every encoded key >= `from`.
      PutOrderedBytes(begin, from);
      begin.resize(begin.size() - 2);
    }
    store_->Scan(table_, begin, KeyGroupEnd(kg), [&](std::string_view k, std::string_view v) {
      uint32_t g;
      std::string_view key, ns, rest;
      if (!DecodeStoreKey(k, &g, &key, &key_buf, &ns, &rest)) return true;  // not written by us: skip
      return fn(key, ns, rest, v);
    });
  }

  KvStore* store_;
  int table_;
  uint32_t first_kg_;
  uint32_t last_kg_;
  std::string scratch_;
};

class ValueStateImpl final : public ValueState, public StateBase {
 public:
  using StateBase::StateBase;
  bool Get(const StateKey& k, std::string* value) override {
    EncodePrefix(scratch_, k);
    return store_->Get(table_, scratch_, value);
  }
  void Put(const StateKey& k, std::string_view value) override {
    EncodePrefix(scratch_, k);
    store_->Put(table_, scratch_, value);
  }
  void Delete(const StateKey& k) override {
    EncodePrefix(scratch_, k);
    store_->Delete(table_, scratch_);
  }
  void ForEachInKeyGroup(
      uint32_t kg,
      const std::function<bool(std::string_view, std::string_view, std::string_view)>& fn) override {
    ScanKeyGroup(kg, [&](std::string_view key, std::string_view ns, std::string_view, std::string_view v) {
      return fn(key, ns, v);
    });
  }
  void ForEachInKeyGroupFrom(
      uint32_t kg, std::string_view from_key,
      const std::function<bool(std::string_view, std::string_view, std::string_view)>& fn) override {
    ScanKeyGroup(
        kg,
        [&](std::string_view key, std::string_view ns, std::string_view, std::string_view v) { return fn(key, ns, v); },
        from_key);
  }
  void ForEachInNamespace(
      std::string_view ns,
      const std::function<bool(uint32_t, std::string_view, std::string_view)>& fn) override {
    std::string key_buf;
    store_->Scan(table_, KeyGroupBegin(first_kg_), KeyGroupEnd(last_kg_), [&](std::string_view k, std::string_view v) {
      uint32_t kg;
      std::string_view key, entry_ns, rest;
      if (!DecodeStoreKey(k, &kg, &key, &key_buf, &entry_ns, &rest) || entry_ns != ns) return true;
      return fn(kg, key, v);
    });
  }
};

class MapStateImpl final : public MapState, public StateBase {
 public:
  using StateBase::StateBase;
  bool Get(const StateKey& k, std::string_view user_key, std::string* value) override {
    EntryKey(k, user_key);
    return store_->Get(table_, scratch_, value);
  }
  void Put(const StateKey& k, std::string_view user_key, std::string_view value) override {
    EntryKey(k, user_key);
    store_->Put(table_, scratch_, value);
  }
  void Delete(const StateKey& k, std::string_view user_key) override {
    EntryKey(k, user_key);
    store_->Delete(table_, scratch_);
  }
  void Clear(const StateKey& k) override {
    EncodePrefix(scratch_, k);
    store_->DeleteRange(table_, scratch_, PrefixEnd(scratch_));
  }
  void ForEach(const StateKey& k, const std::function<bool(std::string_view, std::string_view)>& fn) override {
    std::string prefix;
    EncodePrefix(prefix, k);
    const size_t n = prefix.size();
    store_->Scan(table_, prefix, PrefixEnd(prefix),
                 [&](std::string_view key, std::string_view v) { return fn(key.substr(n), v); });
  }
  void ForEachInKeyGroup(uint32_t kg, const std::function<bool(std::string_view, std::string_view, std::string_view,
                                                                std::string_view)>& fn) override {
    ScanKeyGroup(kg, fn);
  }

 private:
  void EntryKey(const StateKey& k, std::string_view user_key) {
    EncodePrefix(scratch_, k);
    scratch_.append(user_key.data(), user_key.size());
  }
};

class ListStateImpl final : public ListState, public StateBase {
 public:
  using StateBase::StateBase;
  void Add(const StateKey& k, std::string_view value) override {
    EncodePrefix(scratch_, k);
    if (!store_->Get(table_, scratch_, &list_)) list_.clear();
    PutBytes(list_, value);
    store_->Put(table_, scratch_, list_);
  }
  bool Get(const StateKey& k, std::vector<std::string>* values) override {
    values->clear();
    EncodePrefix(scratch_, k);
    if (!store_->Get(table_, scratch_, &list_)) return false;
    std::vector<std::string_view> items;
    DecodeList(list_, &items);
    values->assign(items.begin(), items.end());
    return true;
  }
  void Clear(const StateKey& k) override {
    EncodePrefix(scratch_, k);
    store_->Delete(table_, scratch_);
  }
  void ForEachInKeyGroup(uint32_t kg,
                         const std::function<bool(std::string_view, std::string_view,
                                                  const std::vector<std::string_view>&)>& fn) override {
    std::vector<std::string_view> items;
    ScanKeyGroup(kg, [&](std::string_view key, std::string_view ns, std::string_view, std::string_view v) {
      DecodeList(v, &items);
      return fn(key, ns, items);
    });
  }

 private:
  std::string list_;
};

// KeyedState (the older interface) over a value state without namespaces.
class LegacyState final : public KeyedState {
 public:
  LegacyState(ValueStateImpl* state, uint32_t first_kg, uint32_t last_kg)
      : state_(state), first_kg_(first_kg), last_kg_(last_kg) {}
  bool Get(uint32_t kg, std::string_view key, std::string* value) const override {
    return state_->Get(StateKey{kg, key, {}}, value);
  }
  void Put(uint32_t kg, std::string_view key, std::string_view value) override {
    state_->Put(StateKey{kg, key, {}}, value);
  }
  void Delete(uint32_t kg, std::string_view key) override { state_->Delete(StateKey{kg, key, {}}); }
  void ForEach(uint32_t kg, const std::function<void(std::string_view, std::string_view)>& fn) const override {
    state_->ForEachInKeyGroup(kg, [&](std::string_view key, std::string_view, std::string_view v) {
      fn(key, v);
      return true;
    });
  }
  // Counts by reading the subtask's key groups.
  size_t size() const override {
    size_t n = 0;
    for (uint32_t kg = first_kg_; kg <= last_kg_; ++kg) {
      state_->ForEachInKeyGroup(kg, [&](std::string_view, std::string_view, std::string_view) {
        ++n;
        return true;
      });
    }
    return n;
  }

 private:
  ValueStateImpl* state_;
  uint32_t first_kg_;
  uint32_t last_kg_;
};

constexpr std::string_view kMagic = kCanonicalStateMagic;

}  // namespace

std::string KeyGroupRangeBegin(uint32_t first_key_group) { return KeyGroupBegin(first_key_group); }
std::string KeyGroupRangeEnd(uint32_t last_key_group) { return KeyGroupEnd(last_key_group); }

struct OperatorStates::Entry {
  StateKind kind;
  int table = 0;
  std::unique_ptr<ValueStateImpl> value;
  std::unique_ptr<MapStateImpl> map;
  std::unique_ptr<ListStateImpl> list;
  std::unique_ptr<LegacyState> legacy;
};

OperatorStates::OperatorStates(std::function<absl::StatusOr<KvStore*>()> store, std::string node_id,
                               int max_parallelism, int first_key_group, int last_key_group)
    : open_store_(std::move(store)),
      node_id_(std::move(node_id)),
      max_parallelism_(max_parallelism),
      first_kg_(static_cast<uint32_t>(first_key_group)),
      last_kg_(static_cast<uint32_t>(last_key_group)) {}

OperatorStates::~OperatorStates() = default;

absl::StatusOr<OperatorStates::Entry*> OperatorStates::Find(std::string_view name, StateKind kind) {
  if (auto it = states_.find(name); it != states_.end()) {
    if (it->second->kind != kind) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state '", Sv(name), "' of node '", node_id_, "' is a ", Sv(StateKindName(it->second->kind)),
          " state (in this job or in the checkpoint it restored); the operator asks for a ", Sv(StateKindName(kind)),
          " state: a state's type cannot change"));
    }
    return it->second.get();
  }
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("node '", node_id_, "': a state needs a name"));
  auto store = open_store_();
  if (!store.ok()) return store.status();
  auto table = (*store)->Table(absl::StrCat(node_id_, "/", Sv(name)));
  if (!table.ok()) return table.status();
  auto e = std::make_unique<Entry>();
  e->kind = kind;
  e->table = *table;
  KvStore* s = *store;
  switch (kind) {
    case StateKind::kValue:
      e->value = std::make_unique<ValueStateImpl>(s, e->table, first_kg_, last_kg_);
      break;
    case StateKind::kMap:
      e->map = std::make_unique<MapStateImpl>(s, e->table, first_kg_, last_kg_);
      break;
    case StateKind::kList:
      e->list = std::make_unique<ListStateImpl>(s, e->table, first_kg_, last_kg_);
      break;
  }
  return states_.emplace(std::string(name), std::move(e)).first->second.get();
}

absl::StatusOr<ValueState*> OperatorStates::Value(std::string_view name) {
  auto e = Find(name, StateKind::kValue);
  if (!e.ok()) return e.status();
  return (*e)->value.get();
}

absl::StatusOr<MapState*> OperatorStates::Map(std::string_view name) {
  auto e = Find(name, StateKind::kMap);
  if (!e.ok()) return e.status();
  return (*e)->map.get();
}

absl::StatusOr<ListState*> OperatorStates::List(std::string_view name) {
  auto e = Find(name, StateKind::kList);
  if (!e.ok()) return e.status();
  return (*e)->list.get();
}

KeyedState* OperatorStates::Legacy(std::string_view name) {
  auto e = Find(name, StateKind::kValue);
  if (!e.ok()) return nullptr;
  Entry& entry = **e;
  if (!entry.legacy) entry.legacy = std::make_unique<LegacyState>(entry.value.get(), first_kg_, last_kg_);
  return entry.legacy.get();
}

absl::Status OperatorStates::Snapshot(const std::function<void(const std::string&, std::string)>& out) {
  absl::Status st;
  RETURN_IF_ERROR(SnapshotBlobs(/*native=*/false, [&](const std::string& name, BlobProducer produce) {
    if (!st.ok()) return;
    absl::StatusOr<std::string> blob = produce();
    if (!blob.ok()) {
      st = blob.status();
      return;
    }
    out(name, *std::move(blob));
  }));
  return st;
}

absl::Status OperatorStates::SnapshotDeferred(
    const std::function<void(const std::string& name, BlobProducer produce)>& out) {
  return SnapshotBlobs(/*native=*/true, out);
}

absl::Status OperatorStates::SnapshotBlobs(
    bool native, const std::function<void(const std::string& name, BlobProducer produce)>& out) {
  if (states_.empty()) return absl::OkStatus();
  auto store = open_store_();
  if (!store.ok()) return store.status();
  if (native && (*store)->native_checkpoints()) {
    // The entries go with the store's own checkpoint; each blob says which kind it holds.
    for (const auto& [name, e] : states_) {
      std::string head(kNativeStateMagic);
      head.push_back(static_cast<char>(e->kind));
      PutU32(head, static_cast<uint32_t>(max_parallelism_));
      out(name, [head = std::move(head)]() mutable -> absl::StatusOr<std::string> { return std::move(head); });
    }
    return absl::OkStatus();
  }
  (*store)->Flush();
  RETURN_IF_ERROR((*store)->status());
  std::shared_ptr<const KvSnapshot> snapshot = (*store)->TakeSnapshot();
  const std::string begin = KeyGroupBegin(first_kg_), end = KeyGroupEnd(last_kg_);
  for (const auto& [name, e] : states_) {
    std::string head(kMagic);
    head.push_back(static_cast<char>(e->kind));
    PutU32(head, static_cast<uint32_t>(max_parallelism_));
    if (snapshot != nullptr) {
      out(name, [snapshot, table = e->table, head, begin, end]() -> absl::StatusOr<std::string> {
        std::string blob = head;
        RETURN_IF_ERROR(snapshot->Scan(table, begin, end, [&](std::string_view k, std::string_view v) {
          PutBytes(blob, k);
          PutBytes(blob, v);
          return true;
        }));
        return blob;
      });
      continue;
    }
    std::string blob = std::move(head);
    (*store)->Scan(e->table, begin, end, [&](std::string_view k, std::string_view v) {
      PutBytes(blob, k);
      PutBytes(blob, v);
      return true;
    });
    RETURN_IF_ERROR((*store)->status());
    out(name, [blob = std::move(blob)]() mutable -> absl::StatusOr<std::string> { return std::move(blob); });
  }
  return absl::OkStatus();
}

absl::Status OperatorStates::Restore(std::string_view name, std::string_view blob,
                                     const NativeInstanceReader* native) {
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("state '", Sv(name), "' of node '", node_id_, "' is damaged: ", Sv(why)));
  };
  const bool is_native = blob.substr(0, kNativeStateMagic.size()) == kNativeStateMagic;
  if (blob.size() < kMagic.size() + 5 || (blob.substr(0, kMagic.size()) != kMagic && !is_native)) {
    return damaged("not in sluice's state format");
  }
  blob.remove_prefix(kMagic.size());
  const auto kind = static_cast<StateKind>(blob[0]);
  if (kind != StateKind::kValue && kind != StateKind::kMap && kind != StateKind::kList) {
    return damaged(absl::StrCat("unknown state kind ", static_cast<int>(blob[0])));
  }
  const uint32_t maxp = GetU32(blob.substr(1));
  blob.remove_prefix(5);
  if (static_cast<int64_t>(maxp) != max_parallelism_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state '", Sv(name), "' of node '", node_id_, "' was checkpointed with max_parallelism ", maxp,
        " (key groups); the job has ", max_parallelism_,
        ". The number of key groups is fixed for the life of a job's state: set max_parallelism back to ", maxp));
  }
  if (is_native) {
    if (!blob.empty()) return damaged("entries after a reference to the task's RocksDB state");
    auto e = Find(name, kind);
    if (!e.ok()) return e.status();
    if (native == nullptr) return absl::OkStatus();  // the store was opened from its instance
    auto store = open_store_();
    if (!store.ok()) return store.status();
    const int table = (*e)->table;
    absl::Status st = native->Scan(absl::StrCat(node_id_, "/", Sv(name)), KeyGroupBegin(first_kg_),
                                   KeyGroupEnd(last_kg_), [&](std::string_view k, std::string_view v) {
                                     (*store)->Put(table, k, v);
                                     return true;
                                   });
    if (!st.ok()) return st;
    return (*store)->status();
  }
  // The whole blob is checked before any entry is loaded: a damaged blob loads nothing.
  std::string key_buf;
  for (std::string_view in = blob; !in.empty();) {
    std::string_view k, v;
    if (!GetBytes(in, &k) || !GetBytes(in, &v)) return damaged("truncated entry");
    uint32_t kg;
    std::string_view key, ns, rest;
    if (!DecodeStoreKey(k, &kg, &key, &key_buf, &ns, &rest)) return damaged("an entry with a malformed key");
    if (kg >= maxp) return damaged(absl::StrCat("key group ", kg, " of ", maxp));
  }
  auto e = Find(name, kind);
  if (!e.ok()) return e.status();
  auto store = open_store_();
  if (!store.ok()) return store.status();
  while (!blob.empty()) {
    std::string_view k, v;
    GetBytes(blob, &k);
    GetBytes(blob, &v);
    const uint32_t kg = KeyGroupOfStoreKey(k);
    if (kg < first_kg_ || kg > last_kg_) continue;  // another subtask's, after rescaling
    (*store)->Put((*e)->table, k, v);
  }
  return (*store)->status();
}

}  // namespace sluice::runtime
