// Keyed state: the KvStore backends (in memory, RocksDB with its write-back cache), the
// typed states of sluice/state.h over them, and their canonical checkpoint blobs.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "common/checkpoint_storage.h"
#include "common/native_state.h"
#include "runtime/state/keyed_states.h"
#include "runtime/state/keyed_timers.h"
#include "runtime/state/kv_store.h"
#include "sluice/operator.h"
#include "sluice/state.h"

namespace sluice::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kWriteCacheBytes = int64_t{64} << 10;

// RocksDB instances go under a fresh directory, with a small write-back cache so that
// tests evict it.
class StateTestEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    base_ = std::filesystem::path(::testing::TempDir()) /
            ("sluice-state-test-" + std::to_string(getpid()) + "-" + std::to_string(now));
    RocksDbStateOptions o;
    o.local_dir = base_.string();
    o.memory_bytes = int64_t{64} << 20;
    o.write_cache_bytes = kWriteCacheBytes;
    // Canonical blobs unless a test turns incremental checkpoints on (Incremental).
    o.incremental = false;
    SetRocksDbStateOptions(o);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(base_, ec);
  }

 private:
  std::filesystem::path base_;
};
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new StateTestEnvironment);

std::string UniqueName() {
  static int next = 0;
  return "store-" + std::to_string(next++);
}

std::unique_ptr<KvStore> NewStore(const std::string& backend) {
  if (backend == "memory") return NewInMemoryKvStore();
  auto store = OpenRocksDbKvStore(UniqueName());
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    std::abort();
  }
  return std::move(*store);
}

// A Put larger than the write-back cache: the RocksDB store writes its dirty entries
// and empties its cache (every table's), so what follows starts from RocksDB.
void ForceEviction(KvStore& store) {
  auto t = store.Table("filler");
  ASSERT_TRUE(t.ok()) << t.status();
  store.Put(*t, "filler", std::string(static_cast<size_t>(2 * kWriteCacheBytes), 'f'));
}

std::string Key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key-%07d", i);
  return buf;
}

std::map<std::string, std::string> ScanAll(KvStore& store, int table, std::string_view begin = "",
                                           std::string_view end = "") {
  std::map<std::string, std::string> out;
  std::string last;
  bool first = true;
  store.Scan(table, begin, end, [&](std::string_view k, std::string_view v) {
    EXPECT_TRUE(first || std::string(k) > last) << "scan out of order at " << k;
    first = false;
    last = std::string(k);
    out.emplace(k, v);
    return true;
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// KvStore, on both backends.

class KvStoreTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KvStoreTest, PutGetDeleteOverwrite) {
  auto store = NewStore(GetParam());
  EXPECT_EQ(store->backend(), GetParam());
  auto a = store->Table("a");
  auto b = store->Table("b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*store->Table("a"), *a);  // stable ids

  std::string v;
  EXPECT_FALSE(store->Get(*a, "k", &v));
  store->Put(*a, "k", "1");
  store->Put(*b, "k", "other");
  ASSERT_TRUE(store->Get(*a, "k", &v));
  EXPECT_EQ(v, "1");
  store->Put(*a, "k", "a longer value");
  ASSERT_TRUE(store->Get(*a, "k", &v));
  EXPECT_EQ(v, "a longer value");
  store->Put(*a, "k", "");
  ASSERT_TRUE(store->Get(*a, "k", &v));
  EXPECT_EQ(v, "");
  store->Delete(*a, "k");
  EXPECT_FALSE(store->Get(*a, "k", &v));
  ASSERT_TRUE(store->Get(*b, "k", &v));  // tables are apart
  EXPECT_EQ(v, "other");
  store->Delete(*a, "never there");
  EXPECT_FALSE(store->Get(*a, "never there", &v));
  EXPECT_TRUE(store->status().ok()) << store->status();
}

TEST_P(KvStoreTest, ScanBoundsOrderAndStop) {
  auto store = NewStore(GetParam());
  const int t = *store->Table("t");
  for (const std::string& k : std::vector<std::string>{"d", "a", "c", "b", "e", std::string("b\0", 2), "\xff"}) store->Put(t, k, "v" + k);
  auto all = ScanAll(*store, t);
  EXPECT_EQ(all.size(), 7u);
  auto range = ScanAll(*store, t, "b", "d");
  std::vector<std::string> keys;
  for (auto& [k, v] : range) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("b", std::string("b\0", 2), "c"));
  int calls = 0;
  store->Scan(t, "", "", [&](std::string_view, std::string_view) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);

  store->DeleteRange(t, "b", "d");
  keys.clear();
  for (auto& [k, v] : ScanAll(*store, t)) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("a", "d", "e", "\xff"));
  store->DeleteRange(t, "d", "");
  keys.clear();
  for (auto& [k, v] : ScanAll(*store, t)) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("a"));
}

// 200k keys through a 64 KiB write-back cache: RocksDB's cache is evicted many times
// (also from inside Put and Delete), and every write survives it.
TEST_P(KvStoreTest, ManyKeysThroughASmallCache) {
  auto store = NewStore(GetParam());
  const int t = *store->Table("t");
  const int n = 200000;
  std::map<std::string, std::string> model;
  for (int i = 0; i < n; ++i) {
    store->Put(t, Key(i), "value-" + std::to_string(i));
    model[Key(i)] = "value-" + std::to_string(i);
  }
  for (int i = 0; i < n; i += 3) {  // overwrites, some growing the value
    std::string v = "new-" + std::to_string(i) + std::string(static_cast<size_t>(i % 40), 'x');
    store->Put(t, Key(i), v);
    model[Key(i)] = v;
  }
  for (int i = 0; i < n; i += 7) {
    store->Delete(t, Key(i));
    model.erase(Key(i));
  }
  for (int i = 0; i < n; i += 21) {  // deleted, then written again
    store->Put(t, Key(i), "again");
    model[Key(i)] = "again";
  }

  auto check = [&](const char* when) {
    int wrong = 0;
    std::string v;
    for (int i = 0; i < n; ++i) {
      auto it = model.find(Key(i));
      const bool found = store->Get(t, Key(i), &v);
      if (found != (it != model.end()) || (found && v != it->second)) {
        if (++wrong <= 5) ADD_FAILURE() << when << ": " << Key(i) << " found=" << found << " value=" << v;
      }
    }
    EXPECT_EQ(wrong, 0) << when;
    EXPECT_TRUE(ScanAll(*store, t) == model) << when << ": the scan differs from what was written";
  };
  check("before flush");
  store->Flush();
  ForceEviction(*store);
  check("after flush and eviction");
  EXPECT_TRUE(store->status().ok()) << store->status();
}

// Deleted entries do not come back from RocksDB once the tombstone leaves the cache.
TEST_P(KvStoreTest, DeletesStickAfterEviction) {
  auto store = NewStore(GetParam());
  const int t = *store->Table("t");
  store->Put(t, "gone", "1");
  store->Put(t, "kept", "2");
  ForceEviction(*store);  // both in RocksDB now
  store->Delete(t, "gone");
  ForceEviction(*store);  // the tombstone too
  std::string v;
  EXPECT_FALSE(store->Get(t, "gone", &v));
  ASSERT_TRUE(store->Get(t, "kept", &v));
  EXPECT_EQ(v, "2");
  EXPECT_EQ(ScanAll(*store, t), (std::map<std::string, std::string>{{"kept", "2"}}));
  store->Put(t, "kept", "3");
  ForceEviction(*store);
  ASSERT_TRUE(store->Get(t, "kept", &v));
  EXPECT_EQ(v, "3");
}

// A scan merges what RocksDB holds with the cache: entries only in RocksDB, only in the
// cache, overwritten in the cache, deleted in the cache but still in RocksDB, and read
// back into the cache unchanged.
TEST_P(KvStoreTest, ScanMergesCacheAndDb) {
  auto store = NewStore(GetParam());
  const int t = *store->Table("t");
  std::map<std::string, std::string> model;
  for (int i = 0; i < 100; i += 2) {  // even keys: in RocksDB
    store->Put(t, Key(i), "db-" + std::to_string(i));
    model[Key(i)] = "db-" + std::to_string(i);
  }
  ForceEviction(*store);
  // Now the cache is empty and small changes stay in it.
  for (int i = 1; i < 100; i += 4) {  // some odd keys: only in the cache
    store->Put(t, Key(i), "cache-" + std::to_string(i));
    model[Key(i)] = "cache-" + std::to_string(i);
  }
  for (int i = 0; i < 100; i += 6) {  // overwritten in the cache
    store->Put(t, Key(i), "over-" + std::to_string(i));
    model[Key(i)] = "over-" + std::to_string(i);
  }
  for (int i = 4; i < 100; i += 10) {  // deleted in the cache, present in RocksDB
    store->Delete(t, Key(i));
    model.erase(Key(i));
  }
  std::string v;
  for (int i = 2; i < 100; i += 16) {  // read into the cache, clean
    if (model.count(Key(i)) != 0) {
      ASSERT_TRUE(store->Get(t, Key(i), &v));
      EXPECT_EQ(v, model[Key(i)]);
    }
  }
  store->Delete(t, Key(1));  // only ever in the cache
  model.erase(Key(1));
  EXPECT_FALSE(store->Get(t, Key(3), &v));  // a miss, cached as absent
  EXPECT_EQ(ScanAll(*store, t), model);
  // A sub-range starting and ending inside the mix.
  std::map<std::string, std::string> sub(model.lower_bound(Key(13)), model.lower_bound(Key(57)));
  EXPECT_EQ(ScanAll(*store, t, Key(13), Key(57)), sub);
  // The first entries, stopping early.
  std::vector<std::string> first;
  store->Scan(t, "", "", [&](std::string_view k, std::string_view) {
    first.emplace_back(k);
    return first.size() < 5;
  });
  std::vector<std::string> want;
  for (auto it = model.begin(); want.size() < 5; ++it) want.push_back(it->first);
  EXPECT_EQ(first, want);
  // And all of it after the cache is written out.
  store->Flush();
  ForceEviction(*store);
  EXPECT_EQ(ScanAll(*store, t), model);
  EXPECT_TRUE(store->status().ok()) << store->status();
}

INSTANTIATE_TEST_SUITE_P(Backends, KvStoreTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------------------
// The typed states, on both backends.

constexpr int kMaxParallelism = 128;

struct States {
  explicit States(const std::string& backend, int first = 0, int last = kMaxParallelism - 1,
                  int max_parallelism = kMaxParallelism, std::string node = "node-1")
      : store(NewStore(backend)),
        states([this]() -> absl::StatusOr<KvStore*> { return store.get(); }, std::move(node), max_parallelism,
               first, last) {}
  ValueState* Value(std::string_view name) {
    auto s = states.Value(name);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }
  MapState* Map(std::string_view name) {
    auto s = states.Map(name);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }
  ListState* List(std::string_view name) {
    auto s = states.List(name);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }
  std::map<std::string, std::string> Snapshot() {
    std::map<std::string, std::string> blobs;
    absl::Status st = states.Snapshot([&](const std::string& name, std::string blob) {
      EXPECT_TRUE(blobs.emplace(name, std::move(blob)).second) << "two blobs for " << name;
    });
    EXPECT_TRUE(st.ok()) << st;
    return blobs;
  }
  std::unique_ptr<KvStore> store;
  OperatorStates states;
};

using Triple = std::tuple<std::string, std::string, std::string>;

std::vector<Triple> ValuesOfGroup(ValueState* s, uint32_t kg) {
  std::vector<Triple> out;
  s->ForEachInKeyGroup(kg, [&](std::string_view k, std::string_view ns, std::string_view v) {
    out.emplace_back(k, ns, v);
    return true;
  });
  return out;
}

class StatesTest : public ::testing::TestWithParam<std::string> {};

TEST_P(StatesTest, ValuePutGetDeleteAndNamespaces) {
  States st(GetParam());
  ValueState* s = st.Value("counts");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*st.states.Value("counts"), s);  // the same name gives the same object
  std::string v;
  EXPECT_FALSE(s->Get({3, "k", ""}, &v));
  s->Put({3, "k", ""}, "none");
  s->Put({3, "k", "w1"}, "one");
  s->Put({3, "k", "w2"}, "two");
  s->Put({4, "k", ""}, "group 4");
  ASSERT_TRUE(s->Get({3, "k", ""}, &v));
  EXPECT_EQ(v, "none");
  ASSERT_TRUE(s->Get({3, "k", "w1"}, &v));
  EXPECT_EQ(v, "one");
  ASSERT_TRUE(s->Get({3, "k", "w2"}, &v));
  EXPECT_EQ(v, "two");
  ASSERT_TRUE(s->Get({4, "k", ""}, &v));
  EXPECT_EQ(v, "group 4");
  EXPECT_FALSE(s->Get({3, "k", "w3"}, &v));
  EXPECT_FALSE(s->Get({3, "kk", ""}, &v));
  // A key and namespace that concatenate alike stay apart.
  s->Put({3, "ab", "c"}, "ab|c");
  s->Put({3, "a", "bc"}, "a|bc");
  ASSERT_TRUE(s->Get({3, "ab", "c"}, &v));
  EXPECT_EQ(v, "ab|c");
  ASSERT_TRUE(s->Get({3, "a", "bc"}, &v));
  EXPECT_EQ(v, "a|bc");

  s->Delete({3, "k", "w1"});
  EXPECT_FALSE(s->Get({3, "k", "w1"}, &v));
  ASSERT_TRUE(s->Get({3, "k", "w2"}, &v));
  ASSERT_TRUE(s->Get({3, "k", ""}, &v));
  // Another state of the same operator is apart.
  ValueState* other = st.Value("other");
  EXPECT_FALSE(other->Get({3, "k", ""}, &v));
}

TEST_P(StatesTest, ValueForEachInKeyGroupIsInKeyOrderAndOnlyThatGroup) {
  States st(GetParam());
  ValueState* s = st.Value("v");
  // Keys of different lengths and with 0x00 and 0xff bytes: byte order, not length order.
  const std::vector<std::string> keys = {"b", "aa", "a", std::string("a\0", 2), std::string("a\0b", 3),
                                         "\xff", "", "ab", std::string(300, 'z'), "\x7f\x80"};
  for (const auto& k : keys) {
    s->Put({5, k, ""}, "v5-" + k);
    s->Put({4, k, ""}, "v4-" + k);
    s->Put({6, k, ""}, "v6-" + k);
  }
  std::string ns2 = "ns";
  s->Put({5, "aa", ns2}, "aa-ns");
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  std::vector<Triple> want;
  for (const auto& k : sorted) {
    want.emplace_back(k, "", "v5-" + k);
    if (k == "aa") want.emplace_back("aa", "ns", "aa-ns");
  }
  EXPECT_EQ(ValuesOfGroup(s, 5), want);
  EXPECT_THAT(ValuesOfGroup(s, 7), IsEmpty());
  int calls = 0;
  s->ForEachInKeyGroup(5, [&](std::string_view, std::string_view, std::string_view) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);
  // The last key group of the range (its end is the next group's start).
  s->Put({127, "last", ""}, "x");
  EXPECT_EQ(ValuesOfGroup(s, 127), (std::vector<Triple>{{"last", "", "x"}}));
}

TEST_P(StatesTest, ValueForEachInNamespace) {
  States st(GetParam(), 10, 20);  // a subtask owning groups [10, 20]
  ValueState* s = st.Value("v");
  s->Put({10, "a", "w1"}, "10a");
  s->Put({15, "b", "w1"}, "15b");
  s->Put({20, "c", "w1"}, "20c");
  s->Put({15, "b", "w2"}, "other window");
  s->Put({15, "b", ""}, "no window");
  s->Put({15, "w1", ""}, "a key that looks like the namespace");
  s->Put({12, "d", "w11"}, "a longer namespace");
  s->Put({12, "d", "w"}, "a shorter namespace");
  std::vector<std::tuple<uint32_t, std::string, std::string>> got;
  s->ForEachInNamespace("w1", [&](uint32_t kg, std::string_view k, std::string_view v) {
    got.emplace_back(kg, k, v);
    return true;
  });
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::tuple<uint32_t, std::string, std::string>>{
                     {10, "a", "10a"}, {15, "b", "15b"}, {20, "c", "20c"}}));
  got.clear();
  s->ForEachInNamespace("", [&](uint32_t kg, std::string_view k, std::string_view v) {
    got.emplace_back(kg, k, v);
    return true;
  });
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::tuple<uint32_t, std::string, std::string>>{
                     {15, "b", "no window"}, {15, "w1", "a key that looks like the namespace"}}));
  int calls = 0;
  s->ForEachInNamespace("w1", [&](uint32_t, std::string_view, std::string_view) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);
}

TEST_P(StatesTest, MapState) {
  States st(GetParam());
  MapState* m = st.Map("m");
  ASSERT_NE(m, nullptr);
  const std::string k0 = std::string("k\0", 2);  // "k" followed by a 0x00 byte
  // The map of (7, "k", "w") and its neighbours.
  for (const std::string& uk : std::vector<std::string>{"b", "a", "c", std::string("a\0", 2), ""}) m->Put({7, "k", "w"}, uk, "v-" + uk);
  m->Put({7, "k", ""}, "a", "no namespace");
  m->Put({7, "k", "w2"}, "a", "other namespace");
  m->Put({7, "kk", "w"}, "a", "other key");
  m->Put({7, k0, "w"}, "a", "key with a zero byte");
  m->Put({7, "", "w"}, "a", "empty key");
  m->Put({8, "k", "w"}, "a", "other group");

  std::string v;
  ASSERT_TRUE(m->Get({7, "k", "w"}, "b", &v));
  EXPECT_EQ(v, "v-b");
  ASSERT_TRUE(m->Get({7, "k", "w"}, "", &v));
  EXPECT_EQ(v, "v-");
  EXPECT_FALSE(m->Get({7, "k", "w"}, "d", &v));
  ASSERT_TRUE(m->Get({7, k0, "w"}, "a", &v));
  EXPECT_EQ(v, "key with a zero byte");
  m->Put({7, "k", "w"}, "b", "v-b2");
  ASSERT_TRUE(m->Get({7, "k", "w"}, "b", &v));
  EXPECT_EQ(v, "v-b2");

  std::vector<std::pair<std::string, std::string>> entries;
  m->ForEach({7, "k", "w"}, [&](std::string_view uk, std::string_view val) {
    entries.emplace_back(uk, val);
    return true;
  });
  EXPECT_EQ(entries, (std::vector<std::pair<std::string, std::string>>{
                         {"", "v-"}, {"a", "v-a"}, {std::string("a\0", 2), std::string("v-a\0", 4)},
                         {"b", "v-b2"}, {"c", "v-c"}}));

  m->Delete({7, "k", "w"}, "a");
  EXPECT_FALSE(m->Get({7, "k", "w"}, "a", &v));
  ASSERT_TRUE(m->Get({7, "k", "w"}, std::string("a\0", 2), &v));

  // ForEachInKeyGroup: every (key, namespace, user key) of the group, that group only.
  std::set<std::tuple<std::string, std::string, std::string, std::string>> group;
  m->ForEachInKeyGroup(7, [&](std::string_view k, std::string_view ns, std::string_view uk, std::string_view val) {
    EXPECT_TRUE(group.emplace(k, ns, uk, val).second);
    return true;
  });
  EXPECT_EQ(group.size(), 4u + 5u);
  EXPECT_EQ(group.count({k0, "w", "a", "key with a zero byte"}), 1u);
  EXPECT_EQ(group.count({"k", "w2", "a", "other namespace"}), 1u);
  EXPECT_EQ(group.count({"k", "w", "c", "v-c"}), 1u);

  // Clear touches only its (key, namespace).
  m->Clear({7, "k", "w"});
  entries.clear();
  m->ForEach({7, "k", "w"}, [&](std::string_view uk, std::string_view val) {
    entries.emplace_back(uk, val);
    return true;
  });
  EXPECT_THAT(entries, IsEmpty());
  for (auto [key, ns, want] : std::vector<Triple>{{"k", "", "no namespace"},
                                                  {"k", "w2", "other namespace"},
                                                  {"kk", "w", "other key"},
                                                  {k0, "w", "key with a zero byte"},
                                                  {"", "w", "empty key"}}) {
    ASSERT_TRUE(m->Get({7, key, ns}, "a", &v)) << key << "/" << ns;
    EXPECT_EQ(v, want);
  }
  ASSERT_TRUE(m->Get({8, "k", "w"}, "a", &v));
  EXPECT_EQ(v, "other group");
}

TEST_P(StatesTest, ListState) {
  States st(GetParam());
  ListState* l = st.List("l");
  ASSERT_NE(l, nullptr);
  std::vector<std::string> values = {"stale"};
  EXPECT_FALSE(l->Get({1, "k", "w"}, &values));
  EXPECT_THAT(values, IsEmpty());
  const std::vector<std::string> items = {"third?", "", "first", std::string("\0\x80\xff", 3),
                                          std::string(1000, 'x')};
  for (const auto& item : items) l->Add({1, "k", "w"}, item);
  l->Add({1, "k", "w2"}, "other window");
  l->Add({1, "j", "w"}, "other key");
  ASSERT_TRUE(l->Get({1, "k", "w"}, &values));
  EXPECT_EQ(values, items);  // in the order added
  ASSERT_TRUE(l->Get({1, "k", "w2"}, &values));
  EXPECT_THAT(values, ElementsAre("other window"));

  std::map<std::pair<std::string, std::string>, std::vector<std::string>> group;
  l->ForEachInKeyGroup(1, [&](std::string_view k, std::string_view ns, const std::vector<std::string_view>& vs) {
    group[{std::string(k), std::string(ns)}] = std::vector<std::string>(vs.begin(), vs.end());
    return true;
  });
  EXPECT_EQ(group.size(), 3u);
  EXPECT_EQ((group[{"k", "w"}]), items);
  EXPECT_THAT((group[{"j", "w"}]), ElementsAre("other key"));

  l->Clear({1, "k", "w"});
  EXPECT_FALSE(l->Get({1, "k", "w"}, &values));
  EXPECT_THAT(values, IsEmpty());
  ASSERT_TRUE(l->Get({1, "k", "w2"}, &values));
  l->Add({1, "k", "w"}, "fresh");
  ASSERT_TRUE(l->Get({1, "k", "w"}, &values));
  EXPECT_THAT(values, ElementsAre("fresh"));
}

TEST_P(StatesTest, LegacyKeyedState) {
  States st(GetParam(), 0, 63);  // groups [0, 63]
  KeyedState* s = st.states.Legacy("legacy");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(st.states.Legacy("legacy"), s);
  EXPECT_EQ(s->size(), 0u);
  std::string v;
  EXPECT_FALSE(s->Get(3, "a", &v));
  s->Put(3, "b", "2");
  s->Put(3, "a", "1");
  s->Put(3, "c", "3");
  s->Put(9, "a", "9");
  ASSERT_TRUE(s->Get(3, "a", &v));
  EXPECT_EQ(v, "1");
  ASSERT_TRUE(s->Get(9, "a", &v));
  EXPECT_EQ(v, "9");
  EXPECT_EQ(s->size(), 4u);
  s->Put(3, "a", "1b");  // an overwrite does not count twice
  EXPECT_EQ(s->size(), 4u);
  std::vector<std::pair<std::string, std::string>> seen;
  s->ForEach(3, [&](std::string_view k, std::string_view val) { seen.emplace_back(k, val); });
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{{"a", "1b"}, {"b", "2"}, {"c", "3"}}));
  s->Delete(3, "b");
  EXPECT_FALSE(s->Get(3, "b", &v));
  EXPECT_EQ(s->size(), 3u);
  // It is the value state of that name, without namespaces.
  ValueState* value = st.Value("legacy");
  ASSERT_TRUE(value->Get({9, "a", ""}, &v));
  EXPECT_EQ(v, "9");
  // A name that holds another kind gives no legacy state.
  ASSERT_NE(st.Map("a map"), nullptr);
  EXPECT_EQ(st.states.Legacy("a map"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Backends, StatesTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------------------
// Snapshots and restores.

std::string KeyOf(int i) { return "user-" + std::to_string(i); }
uint32_t GroupOf(int i) { return static_cast<uint32_t>((i * 37 + i / 5) % kMaxParallelism); }

// The same content on any backend: values (some in windows, some overwritten or
// deleted), maps and lists.
void Fill(States& st, int n) {
  ValueState* v = st.Value("counts");
  MapState* m = st.Map("by-page");
  ListState* l = st.List("events");
  for (int i = 0; i < n; ++i) {
    const std::string k = KeyOf(i);
    const uint32_t kg = GroupOf(i);
    v->Put({kg, k, ""}, "count-" + std::to_string(i));
    if (i % 3 == 0) v->Put({kg, k, "window-" + std::to_string(i % 4)}, "w" + std::to_string(i));
    m->Put({kg, k, ""}, "page-" + std::to_string(i % 11), std::to_string(i));
    m->Put({kg, k, ""}, "page-" + std::to_string(i % 13), std::to_string(i * 2));
    if (i % 2 == 0) l->Add({kg, k, "w"}, "e" + std::to_string(i));
    if (i % 4 == 0) l->Add({kg, k, "w"}, "f" + std::to_string(i));
  }
  for (int i = 0; i < n; i += 5) v->Put({GroupOf(i), KeyOf(i), ""}, "overwritten");
  for (int i = 0; i < n; i += 9) v->Delete({GroupOf(i), KeyOf(i), ""});
  for (int i = 0; i < n; i += 8) m->Clear({GroupOf(i), KeyOf(i), ""});
}

// Reads back what Fill wrote through the typed states.
void CheckFilled(States& st, int n) {
  ValueState* v = st.Value("counts");
  MapState* m = st.Map("by-page");
  ListState* l = st.List("events");
  std::string got;
  std::vector<std::string> list;
  for (int i = 0; i < n; ++i) {
    const std::string k = KeyOf(i);
    const uint32_t kg = GroupOf(i);
    const bool present = v->Get({kg, k, ""}, &got);
    ASSERT_EQ(present, i % 9 != 0) << k;
    if (present) { EXPECT_EQ(got, i % 5 == 0 ? "overwritten" : "count-" + std::to_string(i)) << k; }
    const bool in_map = m->Get({kg, k, ""}, "page-" + std::to_string(i % 11), &got);
    ASSERT_EQ(in_map, i % 8 != 0) << k;
    ASSERT_EQ(l->Get({kg, k, "w"}, &list), i % 2 == 0) << k;
    if (i % 4 == 0) { EXPECT_THAT(list, ElementsAre("e" + std::to_string(i), "f" + std::to_string(i))) << k; }
  }
}

class SnapshotTest : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// A snapshot restores into either backend; a second snapshot gives the same bytes.
TEST_P(SnapshotTest, RestoresIntoTheOtherBackendCanonically) {
  const auto& [from, to] = GetParam();
  const int n = 5000;
  States src(from);
  Fill(src, n);
  auto blobs = src.Snapshot();
  ASSERT_EQ(blobs.size(), 3u);
  EXPECT_EQ(blobs.count("counts") + blobs.count("by-page") + blobs.count("events"), 3u);

  States dst(to);
  for (const auto& [name, blob] : blobs) {
    absl::Status s = dst.states.Restore(name, blob);
    ASSERT_TRUE(s.ok()) << s;
  }
  CheckFilled(dst, n);
  auto again = dst.Snapshot();
  ASSERT_EQ(again.size(), blobs.size());
  for (const auto& [name, blob] : blobs) EXPECT_TRUE(again[name] == blob) << name << " differs after a restore";
}

INSTANTIATE_TEST_SUITE_P(Backends, SnapshotTest,
                         ::testing::Values(std::make_tuple("rocksdb", "memory"), std::make_tuple("memory", "rocksdb"),
                                           std::make_tuple("rocksdb", "rocksdb"), std::make_tuple("memory", "memory")),
                         [](const auto& info) { return std::get<0>(info.param) + "_to_" + std::get<1>(info.param); });

// The same content gives the same blobs on either backend.
TEST(Snapshot, SameBytesFromEitherBackend) {
  States memory("memory");
  States rocks("rocksdb");
  Fill(memory, 3000);
  Fill(rocks, 3000);
  auto a = memory.Snapshot();
  auto b = rocks.Snapshot();
  ASSERT_EQ(a.size(), 3u);
  for (const auto& [name, blob] : a) EXPECT_TRUE(b[name] == blob) << name;
  // An empty state still has a blob, and restores.
  States empty("rocksdb");
  ASSERT_NE(empty.Value("nothing"), nullptr);
  auto e = empty.Snapshot();
  ASSERT_EQ(e.size(), 1u);
  States into("memory");
  EXPECT_TRUE(into.states.Restore("nothing", e["nothing"]).ok());
}

// A deferred snapshot (what a checkpoint reads off the task thread) holds the state as
// it was when taken: writes after it, and the store's end (the task finished), change
// nothing in what it produces. The in-memory backend makes its blobs at once.
TEST(Snapshot, DeferredBlobsAreThoseOfTheMomentTheyWereTaken) {
  for (const std::string backend : {"rocksdb", "memory"}) {
    SCOPED_TRACE(backend);
    auto st = std::make_unique<States>(backend);
    Fill(*st, 3000);
    const std::map<std::string, std::string> want = st->Snapshot();
    std::map<std::string, OperatorStates::BlobProducer> later;
    ASSERT_TRUE(st->states
                    .SnapshotDeferred([&](const std::string& name, OperatorStates::BlobProducer produce) {
                      later.emplace(name, std::move(produce));
                    })
                    .ok());
    ValueState* v = st->Value("counts");
    for (int i = 0; i < 3000; i += 3) v->Delete(StateKey{GroupOf(i), KeyOf(i), ""});
    for (int i = 3000; i < 4000; ++i) v->Put(StateKey{GroupOf(i), KeyOf(i), ""}, "new");
    st->store->Flush();
    st.reset();  // the task ended: its store is gone
    ASSERT_EQ(later.size(), want.size());
    for (auto& [name, produce] : later) {
      absl::StatusOr<std::string> blob = produce();
      ASSERT_TRUE(blob.ok()) << blob.status();
      EXPECT_TRUE(*blob == want.at(name)) << name;
    }
  }
}

// Three subtasks over 128 key groups each restore from one blob written by a single
// subtask; each keeps its own groups. Then one subtask takes the three back.
TEST(Snapshot, RestoresAtAnotherParallelism) {
  const int n = 4000;
  States one("rocksdb");
  Fill(one, n);
  auto blobs = one.Snapshot();
  std::set<Triple> original;
  for (uint32_t kg = 0; kg < kMaxParallelism; ++kg) {
    for (auto& e : ValuesOfGroup(one.Value("counts"), kg)) original.insert(e);
  }
  ASSERT_GT(original.size(), 1000u);

  const int parallelism = 3;
  std::set<Triple> all;
  size_t total = 0;
  std::map<std::string, std::string> merged_blobs;
  States merged("memory");
  for (int sub = 0; sub < parallelism; ++sub) {
    int first = -1, last = -1;
    for (uint32_t kg = 0; kg < kMaxParallelism; ++kg) {
      if (SubtaskForKeyGroup(kg, kMaxParallelism, parallelism) != sub) continue;
      if (first < 0) first = static_cast<int>(kg);
      last = static_cast<int>(kg);
    }
    ASSERT_GE(first, 0);
    States part(sub % 2 == 0 ? "memory" : "rocksdb", first, last);
    for (const auto& [name, blob] : blobs) {
      absl::Status s = part.states.Restore(name, blob);
      ASSERT_TRUE(s.ok()) << s;
    }
    ValueState* v = part.Value("counts");
    for (uint32_t kg = 0; kg < kMaxParallelism; ++kg) {
      auto entries = ValuesOfGroup(v, kg);
      if (static_cast<int>(kg) < first || static_cast<int>(kg) > last) {
        EXPECT_THAT(entries, IsEmpty()) << "subtask " << sub << " kept group " << kg;
      }
      for (auto& e : entries) {
        ++total;
        all.insert(e);
      }
    }
    // The maps and lists were split too.
    size_t map_entries = 0;
    MapState* m = part.Map("by-page");
    for (uint32_t kg = 0; kg < kMaxParallelism; ++kg) {
      m->ForEachInKeyGroup(kg, [&](std::string_view, std::string_view, std::string_view, std::string_view) {
        EXPECT_TRUE(static_cast<int>(kg) >= first && static_cast<int>(kg) <= last);
        ++map_entries;
        return true;
      });
    }
    EXPECT_GT(map_entries, 0u);
    // Scale back in: the parts restore into one subtask owning every group.
    for (const auto& [name, blob] : part.Snapshot()) {
      absl::Status s = merged.states.Restore(name, blob);
      ASSERT_TRUE(s.ok()) << s;
    }
  }
  EXPECT_EQ(total, original.size()) << "an entry was kept by two subtasks";
  EXPECT_EQ(all, original);
  auto back = merged.Snapshot();
  for (const auto& [name, blob] : blobs) EXPECT_TRUE(back[name] == blob) << name << " differs after 1 -> 3 -> 1";
  CheckFilled(merged, n);
}

TEST(Restore, DamagedBlobIsDataLoss) {
  States src("memory");
  ValueState* v = src.Value("counts");
  for (int i = 0; i < 50; ++i) v->Put({GroupOf(i), KeyOf(i), ""}, "value-" + std::to_string(i));
  const std::string blob = src.Snapshot()["counts"];
  ASSERT_GT(blob.size(), 100u);

  for (const std::string& bad : {blob.substr(0, blob.size() - 1), blob.substr(0, 7), std::string("nonsense"),
                                 std::string("SKS1\x09") + blob.substr(5), std::string()}) {
    States dst("rocksdb", 0, kMaxParallelism - 1, kMaxParallelism, "sum-node");
    absl::Status s = dst.states.Restore("counts", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("sum-node"));
    EXPECT_THAT(std::string(s.message()), HasSubstr("counts"));
    // Nothing of it was loaded, and the name is still free for any kind.
    ASSERT_NE(dst.Map("counts"), nullptr);
  }
  // A length that runs past the end.
  std::string overlong = blob.substr(0, 9) + std::string("\x7f", 1) + "short";
  States dst("memory", 0, kMaxParallelism - 1, kMaxParallelism, "sum-node");
  absl::Status s = dst.states.Restore("counts", overlong);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  // The whole blob restores.
  EXPECT_TRUE(dst.states.Restore("counts", blob).ok());
}

TEST(Restore, AnotherMaxParallelismIsRefused) {
  States src("memory");
  src.Value("counts")->Put({3, "k", ""}, "v");
  const std::string blob = src.Snapshot()["counts"];
  States dst("memory", 0, 255, 256, "sum-node");
  absl::Status s = dst.states.Restore("counts", blob);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("max_parallelism"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("128"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("256"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("sum-node"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("counts"));
}

TEST(Restore, ChangedStateKindIsRefused) {
  States src("rocksdb");
  src.Map("sessions")->Put({3, "k", ""}, "a", "1");
  const std::string blob = src.Snapshot()["sessions"];

  States dst("memory", 0, kMaxParallelism - 1, kMaxParallelism, "sess-node");
  ASSERT_TRUE(dst.states.Restore("sessions", blob).ok());
  auto value = dst.states.Value("sessions");
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(value.status().message()), HasSubstr("sessions"));
  EXPECT_THAT(std::string(value.status().message()), HasSubstr("type"));
  EXPECT_THAT(std::string(value.status().message()), HasSubstr("sess-node"));
  EXPECT_EQ(dst.states.List("sessions").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(dst.states.Legacy("sessions"), nullptr);
  // Asked as what it is, it holds the restored entries.
  MapState* m = dst.Map("sessions");
  std::string v;
  ASSERT_TRUE(m->Get({3, "k", ""}, "a", &v));
  EXPECT_EQ(v, "1");

  // A blob of one kind for a name the operator already uses as another.
  States used("memory");
  ASSERT_NE(used.Value("sessions"), nullptr);
  EXPECT_EQ(used.states.Restore("sessions", blob).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(StatesTest, AnotherKindForANameIsRefused) {
  States st(GetParam());
  ValueState* v = st.Value("x");
  ASSERT_NE(v, nullptr);
  auto m = st.states.Map("x");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("'x'"));
  EXPECT_FALSE(st.states.List("x").ok());
  EXPECT_EQ(*st.states.Value("x"), v);  // still the value state
  EXPECT_FALSE(st.states.Value("").ok());
}

// ---------------------------------------------------------------------------------------
// RocksDB instances.

TEST(RocksDb, SameNameTwiceIsRefusedAndTheFirstKeepsWorking) {
  const std::string name = UniqueName();
  const std::string dir = GetRocksDbStateOptions().local_dir + "/" + name;
  auto first = OpenRocksDbKvStore(name);
  ASSERT_TRUE(first.ok()) << first.status();
  KvStore& store = **first;
  const int t = *store.Table("t");
  store.Put(t, "a", "1");
  store.Flush();
  ForceEviction(store);
  ASSERT_TRUE(std::filesystem::exists(dir));

  auto second = OpenRocksDbKvStore(name);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(dir));
  second = absl::StatusOr<std::unique_ptr<KvStore>>(absl::UnknownError("gone"));  // the failed one is destroyed

  EXPECT_TRUE(std::filesystem::exists(dir));
  EXPECT_TRUE(std::filesystem::exists(dir + "/CURRENT"));
  std::string v;
  ASSERT_TRUE(store.Get(t, "a", &v));  // from RocksDB: the cache was evicted
  EXPECT_EQ(v, "1");
  store.Put(t, "b", "2");
  store.Flush();
  ForceEviction(store);
  ASSERT_TRUE(store.Get(t, "b", &v));
  EXPECT_EQ(v, "2");
  EXPECT_TRUE(store.status().ok()) << store.status();

  first = absl::StatusOr<std::unique_ptr<KvStore>>(absl::UnknownError("closed"));
  EXPECT_FALSE(std::filesystem::exists(dir)) << "the store's directory outlives it";
  // The name is free again, and a fresh instance there is empty.
  auto third = OpenRocksDbKvStore(name);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_FALSE((*third)->Get(*(*third)->Table("t"), "a", &v));
}

TEST(RocksDb, LeftoverDirectoryIsWiped) {
  const std::string name = UniqueName();
  const std::string dir = GetRocksDbStateOptions().local_dir + "/" + name;
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/junk") << "left by a crash"; }
  auto store = OpenRocksDbKvStore(name);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE(std::filesystem::exists(dir + "/junk"));
  std::string v;
  const int t = *(*store)->Table("t");
  EXPECT_FALSE((*store)->Get(t, "a", &v));
}

// ---------------------------------------------------------------------------------------
// Incremental checkpoints: the store checkpoints its own files; each checkpoint uploads
// only the SST files the last completed one lacks.

// Stores opened while it lives checkpoint incrementally.
class IncrementalOn {
 public:
  IncrementalOn() : saved_(GetRocksDbStateOptions()) {
    RocksDbStateOptions o = saved_;
    o.incremental = true;
    SetRocksDbStateOptions(o);
  }
  ~IncrementalOn() { SetRocksDbStateOptions(saved_); }

 private:
  RocksDbStateOptions saved_;
};

class IncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) /
            ("sluice-incremental-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    auto s = CheckpointStorage::Open(root_.string());
    ASSERT_TRUE(s.ok()) << s.status();
    storage_ = std::move(*s);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // Checkpoint `id` of `st`: its state blobs, and its instance uploaded.
  struct Taken {
    std::map<std::string, std::string> blobs;
    std::string instance;
    std::vector<SharedFile> shared;
    int64_t uploaded = 0;  // bytes of the shared files this checkpoint wrote
  };
  Taken Checkpoint(States& st, int64_t id, int first = 0, int last = kMaxParallelism - 1) {
    Taken t;
    EXPECT_TRUE(st.states
                    .SnapshotDeferred([&](const std::string& name, OperatorStates::BlobProducer produce) {
                      auto blob = produce();
                      EXPECT_TRUE(blob.ok()) << blob.status();
                      if (blob.ok()) t.blobs[name] = *blob;
                    })
                    .ok());
    NativeInstance header;
    header.max_parallelism = kMaxParallelism;
    header.first_key_group = first;
    header.last_key_group = last;
    auto produce = st.store->CheckpointNative(id, "0-0-", header);
    EXPECT_TRUE(produce.ok()) << produce.status();
    if (!produce.ok()) return t;
    auto blob = (*produce)(*storage_, &t.shared);
    EXPECT_TRUE(blob.ok()) << blob.status();
    if (blob.ok()) t.instance = *blob;
    for (const SharedFile& f : t.shared) {
      if (f.path.rfind("shared/" + std::to_string(id) + "-", 0) == 0) t.uploaded += f.size;
    }
    return t;
  }
  NativeInstance Decode(const Taken& t) {
    auto inst = DecodeNativeInstance(t.instance, "test");
    EXPECT_TRUE(inst.ok()) << inst.status();
    return inst.ok() ? *inst : NativeInstance{};
  }
  // A States whose RocksDB store starts from `inst`, clipped to first..last.
  std::unique_ptr<States> OpenFrom(const NativeInstance& inst, int first = 0, int last = kMaxParallelism - 1) {
    auto st = std::make_unique<States>("memory", first, last);
    NativeBase base;
    base.instance = &inst;
    base.storage = storage_.get();
    if (static_cast<uint32_t>(first) > inst.first_key_group) base.keep_begin = KeyGroupRangeBegin(first);
    if (static_cast<uint32_t>(last) < inst.last_key_group) base.keep_end = KeyGroupRangeEnd(last);
    auto store = OpenRocksDbKvStore(UniqueName(), base);
    EXPECT_TRUE(store.ok()) << store.status();
    if (store.ok()) st->store = std::move(*store);
    return st;
  }

  std::filesystem::path root_;
  std::unique_ptr<CheckpointStorage> storage_;
};

// 1% of the keys change between two checkpoints: the second uploads a small fraction of
// what the first did, and references the rest. What was restored is referenced too.
TEST_F(IncrementalTest, TheNextCheckpointUploadsOnlyWhatChanged) {
  IncrementalOn on;
  const int n = 40000;
  States src("rocksdb");
  Fill(src, n);
  Taken one = Checkpoint(src, 1);
  EXPECT_THAT(one.blobs, ::testing::SizeIs(3));
  for (const auto& [name, blob] : one.blobs) EXPECT_EQ(blob.substr(0, 4), "SKR1") << name;
  ASSERT_GT(one.uploaded, 100000);
  src.store->CheckpointComplete(1);
  ValueState* v = src.Value("counts");
  for (int i = n; i < n + n / 100; ++i) v->Put({GroupOf(i), KeyOf(i), ""}, "late-" + std::to_string(i));
  Taken two = Checkpoint(src, 2);
  EXPECT_LT(two.uploaded * 10, one.uploaded) << "1% changed, and checkpoint 2 uploaded " << two.uploaded
                                             << " bytes against " << one.uploaded;
  std::set<std::string> paths_one;
  for (const SharedFile& f : one.shared) paths_one.insert(f.path);
  int reused = 0;
  for (const SharedFile& f : two.shared) reused += paths_one.count(f.path);
  EXPECT_GT(reused, 0);

  // Restored from checkpoint 2, it has both; its own next checkpoint references the files
  // it was restored from.
  NativeInstance inst = Decode(two);
  auto dst = OpenFrom(inst);
  for (const auto& [name, blob] : two.blobs) ASSERT_TRUE(dst->states.Restore(name, blob).ok()) << name;
  CheckFilled(*dst, n);
  std::string got;
  for (int i = n; i < n + n / 100; ++i) {
    ASSERT_TRUE(dst->Value("counts")->Get({GroupOf(i), KeyOf(i), ""}, &got)) << i;
    EXPECT_EQ(got, "late-" + std::to_string(i));
  }
  dst->Value("counts")->Put({GroupOf(1), KeyOf(1), ""}, "after restore");
  Taken three = Checkpoint(*dst, 3);
  EXPECT_LT(three.uploaded * 10, one.uploaded);
}

// An instance restores into the in-memory backend, and a subtask with fewer key groups
// keeps only its own: clipped (the store) or filtered (read into another store).
TEST_F(IncrementalTest, RestoresIntoMemoryAndAtAnotherParallelism) {
  IncrementalOn on;
  const int n = 5000;
  States src("rocksdb");
  Fill(src, n);
  Taken one = Checkpoint(src, 1);
  NativeInstance inst = Decode(one);
  auto reader = NativeInstanceReader::Open(inst, *storage_, (root_ / "reader").string());
  ASSERT_TRUE(reader.ok()) << reader.status();

  States mem("memory");
  for (const auto& [name, blob] : one.blobs) ASSERT_TRUE(mem.states.Restore(name, blob, reader->get()).ok()) << name;
  CheckFilled(mem, n);

  std::set<Triple> all, original;
  for (uint32_t kg = 0; kg < kMaxParallelism; ++kg) {
    for (auto& e : ValuesOfGroup(src.Value("counts"), kg)) original.insert(e);
  }
  for (int sub = 0; sub < 2; ++sub) {
    const int first = sub * 64, last = first + 63;
    // Subtask 0 clips the instance as its store; subtask 1 reads it into memory.
    std::unique_ptr<States> part = sub == 0 ? OpenFrom(inst, first, last)
                                            : std::make_unique<States>("memory", first, last);
    for (const auto& [name, blob] : one.blobs) {
      ASSERT_TRUE(part->states.Restore(name, blob, sub == 0 ? nullptr : reader->get()).ok()) << name;
    }
    for (uint32_t kg = 0; kg < kMaxParallelism; ++kg) {
      auto values = ValuesOfGroup(part->Value("counts"), kg);
      if (kg < static_cast<uint32_t>(first) || kg > static_cast<uint32_t>(last)) {
        EXPECT_THAT(values, IsEmpty()) << "subtask " << sub << " holds key group " << kg;
      }
      all.insert(values.begin(), values.end());
    }
  }
  EXPECT_EQ(all, original);
}

// A savepoint is canonical: the instance's entries are written into each state's blob,
// which restores into either backend without any shared file.
TEST_F(IncrementalTest, CanonicalizedCheckpointNeedsNoSharedFile) {
  IncrementalOn on;
  const int n = 3000;
  States src("rocksdb");
  Fill(src, n);
  Taken one = Checkpoint(src, 1);
  ChainCheckpoint cp;
  cp.id = 1;
  cp.parallelism = 1;
  cp.blobs[""][std::string(kNativeStateBlob)] = one.instance;
  for (const auto& [name, blob] : one.blobs) cp.blobs["node-1"][std::string(kKeyedStateBlobPrefix) + name] = blob;
  ASSERT_TRUE(CanonicalizeChainCheckpoint(&cp, *storage_, (root_ / "tmp").string()).ok());
  EXPECT_EQ(cp.blobs[""].count(std::string(kNativeStateBlob)), 0u);
  std::filesystem::remove_all(root_ / "shared");
  for (const std::string backend : {"memory", "rocksdb"}) {
    States dst(backend);
    for (const auto& [name, blob] : cp.blobs["node-1"]) {
      EXPECT_EQ(blob.substr(0, 4), "SKS1");
      ASSERT_TRUE(dst.states.Restore(name.substr(kKeyedStateBlobPrefix.size()), blob).ok()) << name;
    }
    CheckFilled(dst, n);
  }
}

// A shared file that was truncated or is missing is named, and nothing is opened.
TEST_F(IncrementalTest, ADamagedOrMissingSharedFileIsNamed) {
  IncrementalOn on;
  States src("rocksdb");
  Fill(src, 3000);
  Taken one = Checkpoint(src, 1);
  NativeInstance inst = Decode(one);
  ASSERT_FALSE(one.shared.empty());
  const std::string victim = (root_ / one.shared[0].path).string();
  std::filesystem::resize_file(victim, one.shared[0].size / 2);
  auto reader = NativeInstanceReader::Open(inst, *storage_, (root_ / "reader").string());
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(reader.status().message()), HasSubstr(one.shared[0].path));
  std::filesystem::remove(victim);
  NativeBase base;
  base.instance = &inst;
  base.storage = storage_.get();
  auto store = OpenRocksDbKvStore(UniqueName(), base);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("missing"));
  // A damaged instance blob is named too.
  std::string bad = one.instance;
  bad.resize(bad.size() / 2);
  EXPECT_EQ(DecodeNativeInstance(bad, "task 2-0").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(DecodeNativeInstance(bad, "task 2-0").status().message()), HasSubstr("task 2-0"));
}

// ---------------------------------------------------------------------------------------
// Keyed timers (TimerService) in state.

class TimersTest : public ::testing::TestWithParam<std::string> {};

using Fired = std::vector<std::tuple<int64_t, uint32_t, std::string, std::string>>;

Fired FireUpTo(KeyedTimers& timers, int64_t watermark,
               const std::function<void(const StateKey&, int64_t)>& also = nullptr) {
  Fired out;
  absl::Status st = timers.Fire(watermark, [&](const StateKey& k, int64_t t) {
    out.emplace_back(t, k.key_group, std::string(k.key), std::string(k.ns));
    if (also) also(k, t);
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  return out;
}

// Timers fire once, in time order across key groups, at the watermark that reaches them;
// a duplicate is one timer, a deleted one never fires, one registered while firing and
// already due fires in the same call, and negative times order right.
TEST_P(TimersTest, FireInTimeOrderOnceAndOnlyWhenDue) {
  States st(GetParam(), 0, kMaxParallelism - 1);
  auto map = st.Map(kTimersStateName);
  KeyedTimers timers(map, 0, kMaxParallelism - 1);
  timers.Register({5, "a", ""}, 30);
  timers.Register({1, "b", "w1"}, 10);
  timers.Register({1, "b", "w1"}, 10);  // the same timer
  timers.Register({9, "c", ""}, -5);
  timers.Register({9, std::string("z\0z", 3), "n"}, 20);
  timers.Register({2, "gone", ""}, 15);
  timers.Delete({2, "gone", ""}, 15);
  timers.Register({200 % kMaxParallelism, "other", ""}, 1000);
  EXPECT_THAT(FireUpTo(timers, -10), IsEmpty());
  EXPECT_EQ(FireUpTo(timers, 20), (Fired{{-5, 9, "c", ""}, {10, 1, "b", "w1"}, {20, 9, std::string("z\0z", 3), "n"}}));
  EXPECT_THAT(FireUpTo(timers, 20), IsEmpty());
  // Firing "a" at 30 registers another timer of its key at 25 (due) and 40 (not yet).
  Fired got = FireUpTo(timers, 35, [&](const StateKey& k, int64_t t) {
    if (t == 30) {
      timers.Register({k.key_group, k.key, "again"}, 25);
      timers.Register({k.key_group, k.key, "later"}, 40);
    }
  });
  EXPECT_EQ(got, (Fired{{30, 5, "a", ""}, {25, 5, "a", "again"}}));
  // A new service over the same state (a restore) finds what is left.
  KeyedTimers restored(map, 0, kMaxParallelism - 1);
  EXPECT_EQ(FireUpTo(restored, std::numeric_limits<int64_t>::max()),
            (Fired{{40, 5, "a", "later"}, {1000, 200 % kMaxParallelism, "other", ""}}));
}

// Timers are keyed state: a canonical snapshot moves them with their key group.
TEST_P(TimersTest, MoveWithTheirKeyGroup) {
  States st(GetParam());
  KeyedTimers timers(st.Map(kTimersStateName), 0, kMaxParallelism - 1);
  for (uint32_t kg = 0; kg < kMaxParallelism; ++kg) timers.Register({kg, "k" + std::to_string(kg), ""}, kg * 10);
  auto blobs = st.Snapshot();
  Fired all;
  for (int sub = 0; sub < 2; ++sub) {
    States part(GetParam(), sub * 64, sub * 64 + 63);
    for (const auto& [name, blob] : blobs) ASSERT_TRUE(part.states.Restore(name, blob).ok());
    KeyedTimers mine(part.Map(kTimersStateName), sub * 64, sub * 64 + 63);
    Fired got = FireUpTo(mine, std::numeric_limits<int64_t>::max());
    ASSERT_EQ(got.size(), 64u);
    for (const auto& f : got) EXPECT_EQ(std::get<1>(f) / 64, static_cast<uint32_t>(sub));
    all.insert(all.end(), got.begin(), got.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kMaxParallelism));
}

INSTANTIATE_TEST_SUITE_P(Backends, TimersTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------------------

TEST(ParseByteSize, Sizes) {
  EXPECT_EQ(*ParseByteSize("256MiB"), int64_t{256} << 20);
  EXPECT_EQ(*ParseByteSize("1g"), int64_t{1} << 30);
  EXPECT_EQ(*ParseByteSize("1GiB"), int64_t{1} << 30);
  EXPECT_EQ(*ParseByteSize("2GB"), int64_t{2} << 30);
  EXPECT_EQ(*ParseByteSize("64k"), int64_t{64} << 10);
  EXPECT_EQ(*ParseByteSize("100"), 100);
  EXPECT_EQ(*ParseByteSize("100b"), 100);
  EXPECT_EQ(*ParseByteSize("300000000"), 300000000);
  for (const char* bad : {"", "MiB", "10xb", "1.5g", "-1", "12 MiB", "5t", "0x10", "99999999999g",
                          "99999999999999999999999"}) {
    auto r = ParseByteSize(bad);
    EXPECT_FALSE(r.ok()) << "'" << bad << "' gave " << (r.ok() ? *r : 0);
    if (!r.ok()) { EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad; }
  }
  EXPECT_THAT(std::string(ParseByteSize("10xb").status().message()), HasSubstr("xb"));
}

}  // namespace
}  // namespace sluice::runtime
