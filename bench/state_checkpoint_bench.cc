// Checkpoints of RocksDB keyed state, incremental against full, and restore and rescale
// from an incremental checkpoint (issue #13's figures; bench/README.md).
//
// One task's value state of --keys keys (128 key groups) is filled, then checkpointed
// --rounds times with --change of the keys updated between two checkpoints. Each round
// prints the task-thread pause (cache written, memtables flushed, files hard-linked), the
// upload on the writer's thread, and the bytes written to checkpoint storage; a full
// (canonical) checkpoint of the same state is measured at the start and the end. Then the
// last checkpoint is restored at parallelism 1, rescaled to 2 (each subtask clips the old
// instance with range deletions), and the two halves merged back into one subtask.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/checkpoint_storage.h"
#include "common/native_state.h"
#include "runtime/state/keyed_states.h"
#include "runtime/state/kv_store.h"

namespace sluice::runtime {
namespace {

constexpr int kMaxParallelism = 128;

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

[[noreturn]] void Die(const absl::Status& st, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, std::string(st.message()).c_str());
  std::exit(1);
}

uint32_t GroupOf(uint64_t i) { return static_cast<uint32_t>((i * 0x9E3779B97F4A7C15ull) >> 57); }  // 0..127
std::string KeyOf(uint64_t i) { return absl::StrCat("user-", i); }

// One subtask's states over its own store.
struct Subtask {
  Subtask(std::unique_ptr<KvStore> s, int first, int last)
      : store(std::move(s)),
        states([this]() -> absl::StatusOr<KvStore*> { return store.get(); }, "counts", kMaxParallelism, first,
               last),
        first_kg(first),
        last_kg(last) {}
  std::unique_ptr<KvStore> store;
  OperatorStates states;
  int first_kg, last_kg;
};

struct Taken {
  std::string head;      // the state's reference blob
  std::string instance;  // the instance's blob
  double pause_s = 0, upload_s = 0;
  int64_t written = 0;   // shared files uploaded by this checkpoint, plus the inline files
  int64_t total = 0;     // every file it references
};

Taken Checkpoint(Subtask& t, CheckpointStorage& storage, int64_t id) {
  Taken out;
  auto start = std::chrono::steady_clock::now();
  absl::Status st = t.states.SnapshotDeferred([&](const std::string&, OperatorStates::BlobProducer p) {
    out.head = *p();
  });
  if (!st.ok()) Die(st, "snapshot");
  NativeInstance header;
  header.max_parallelism = kMaxParallelism;
  header.first_key_group = t.first_kg;
  header.last_key_group = t.last_kg;
  auto produce = t.store->CheckpointNative(id, absl::StrCat(t.first_kg, "-"), header);
  if (!produce.ok()) Die(produce.status(), "checkpoint");
  out.pause_s = Since(start);
  start = std::chrono::steady_clock::now();
  std::vector<SharedFile> shared;
  auto blob = (*produce)(storage, &shared);
  if (!blob.ok()) Die(blob.status(), "upload");
  out.upload_s = Since(start);
  out.instance = *blob;
  out.written = static_cast<int64_t>(blob->size());
  out.total = out.written;
  const std::string mine = absl::StrCat("shared/", id, "-");
  for (const SharedFile& f : shared) {
    out.total += f.size;
    if (f.path.compare(0, mine.size(), mine) == 0) out.written += f.size;
  }
  return out;
}

void Full(Subtask& t, const char* when) {
  auto start = std::chrono::steady_clock::now();
  int64_t bytes = 0;
  absl::Status st = t.states.Snapshot([&](const std::string&, std::string blob) { bytes += blob.size(); });
  if (!st.ok()) Die(st, "full snapshot");
  std::printf("full checkpoint (%s): %.1f MiB in %.2f s (every entry, read from a snapshot)\n", when,
              bytes / 1048576.0, Since(start));
}

std::unique_ptr<Subtask> Restore(const NativeInstance& inst, const Taken& from, CheckpointStorage& storage,
                                 int first, int last, const std::string& name,
                                 const NativeInstanceReader* other = nullptr, const std::string& other_head = "") {
  NativeBase base;
  base.instance = &inst;
  base.storage = &storage;
  if (static_cast<uint32_t>(first) > inst.first_key_group) base.keep_begin = KeyGroupRangeBegin(first);
  if (static_cast<uint32_t>(last) < inst.last_key_group) base.keep_end = KeyGroupRangeEnd(last);
  auto store = OpenRocksDbKvStore(name, base);
  if (!store.ok()) Die(store.status(), "restore");
  auto t = std::make_unique<Subtask>(std::move(*store), first, last);
  absl::Status st = t->states.Restore("n", from.head);
  if (st.ok() && other != nullptr) st = t->states.Restore("n", other_head, other);
  if (!st.ok()) Die(st, "restore state");
  return t;
}

int64_t Count(Subtask& t) {
  auto v = t.states.Value("n");
  int64_t n = 0;
  for (int kg = t.first_kg; kg <= t.last_kg; ++kg) {
    (*v)->ForEachInKeyGroup(kg, [&](std::string_view, std::string_view, std::string_view) {
      ++n;
      return true;
    });
  }
  return n;
}

int Main(int argc, char** argv) {
  CLI::App app("Incremental RocksDB checkpoints: pause, upload and bytes per checkpoint; restore and rescale");
  int64_t keys = 1000000;
  int rounds = 5;
  double change = 0.01;
  std::string dir = "out/bench_state_checkpoint";
  std::string memory = "256MiB";
  app.add_option("--keys", keys, "keys in the state")->capture_default_str();
  app.add_option("--rounds", rounds, "checkpoints after the first")->capture_default_str();
  app.add_option("--change", change, "fraction of the keys updated between two checkpoints")->capture_default_str();
  app.add_option("--dir", dir, "work directory (deleted first)")->capture_default_str();
  app.add_option("--state-memory", memory, "RocksDB memory")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::filesystem::remove_all(dir);
  RocksDbStateOptions o;
  o.local_dir = dir + "/state";
  o.memory_bytes = *ParseByteSize(memory);
  o.incremental = true;
  SetRocksDbStateOptions(o);
  auto storage_or = CheckpointStorage::Open(dir + "/ckpt");
  if (!storage_or.ok()) Die(storage_or.status(), "storage");
  CheckpointStorage& storage = **storage_or;

  auto store = OpenRocksDbKvStore("src");
  if (!store.ok()) Die(store.status(), "open");
  Subtask src(std::move(*store), 0, kMaxParallelism - 1);
  ValueState* v = *src.states.Value("n");
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < keys; ++i) v->Put({GroupOf(i), KeyOf(i), ""}, absl::StrCat("count=", i, ";round=0"));
  std::printf("%lld keys, %.0f%% changed between checkpoints; filled in %.1f s\n", static_cast<long long>(keys),
              change * 100, Since(start));
  Full(src, "at the start");
  std::mt19937_64 rng(42);
  Taken last;
  std::vector<double> pauses, uploads;
  std::vector<int64_t> written;
  for (int r = 1; r <= rounds + 1; ++r) {
    if (r > 1) {
      const auto n = static_cast<int64_t>(keys * change);
      for (int64_t j = 0; j < n; ++j) {
        const uint64_t i = rng() % keys;
        v->Put({GroupOf(i), KeyOf(i), ""}, absl::StrCat("count=", i, ";round=", r));
      }
    }
    last = Checkpoint(src, storage, r);
    src.store->CheckpointComplete(r);
    std::printf("checkpoint %d: task pause %.3f s, upload %.2f s, written %.2f MiB of %.2f MiB referenced\n", r,
                last.pause_s, last.upload_s, last.written / 1048576.0, last.total / 1048576.0);
    if (r > 1) {
      pauses.push_back(last.pause_s);
      uploads.push_back(last.upload_s);
      written.push_back(last.written);
    }
  }
  std::sort(written.begin(), written.end());
  std::sort(pauses.begin(), pauses.end());
  if (!written.empty()) {
    std::printf("incremental, %d checkpoints after the first: written median %.2f MiB (max %.2f), task pause median "
                "%.3f s (max %.3f)\n",
                rounds, written[written.size() / 2] / 1048576.0, written.back() / 1048576.0,
                pauses[pauses.size() / 2], pauses.back());
  }
  Full(src, "at the end");

  auto inst_or = DecodeNativeInstance(last.instance, "bench");
  if (!inst_or.ok()) Die(inst_or.status(), "decode");
  const NativeInstance inst = *inst_or;
  start = std::chrono::steady_clock::now();
  auto one = Restore(inst, last, storage, 0, kMaxParallelism - 1, "restore-1");
  const double restore_s = Since(start);
  const int64_t n1 = Count(*one);
  std::printf("restore at parallelism 1: %.2f s (fetch %.1f MiB and open); %lld keys\n", restore_s,
              last.total / 1048576.0, static_cast<long long>(n1));
  one.reset();

  // 1 -> 2: each subtask fetches the instance and clips it to its half.
  std::vector<Taken> halves;
  int64_t n2 = 0, copied = 0;
  for (int sub = 0; sub < 2; ++sub) {
    start = std::chrono::steady_clock::now();
    auto t = Restore(inst, last, storage, sub * 64, sub * 64 + 63, absl::StrCat("rescale-2-", sub));
    const double s = Since(start);
    const int64_t n = Count(*t);
    n2 += n;
    if (sub == 1) copied = n;
    std::printf("rescale 1 -> 2, subtask %d: %.2f s (fetch, open, clip); %lld keys\n", sub, s,
                static_cast<long long>(n));
    halves.push_back(Checkpoint(*t, storage, 100 + sub));
  }
  // 2 -> 1: one half's instance is the store, the other's entries are copied in.
  auto base_inst = DecodeNativeInstance(halves[0].instance, "half 0");
  auto other_inst = DecodeNativeInstance(halves[1].instance, "half 1");
  if (!base_inst.ok() || !other_inst.ok()) Die(absl::DataLossError("halves"), "decode");
  start = std::chrono::steady_clock::now();
  auto reader = NativeInstanceReader::Open(*other_inst, storage, dir + "/reader");
  if (!reader.ok()) Die(reader.status(), "reader");
  auto merged = Restore(*base_inst, halves[0], storage, 0, kMaxParallelism - 1, "rescale-1", reader->get(),
                        halves[1].head);
  merged->store->Flush();
  const double merge_s = Since(start);
  const int64_t n3 = Count(*merged);
  std::printf("rescale 2 -> 1: %.2f s (fetch both, open one, copy the other's %lld keys); %lld keys\n", merge_s,
              static_cast<long long>(copied), static_cast<long long>(n3));
  const bool ok = n1 == keys && n2 == keys && n3 == keys;
  std::printf("%s: every restore holds the %lld keys\n", ok ? "ok" : "WRONG", static_cast<long long>(keys));
  reader->reset();
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace sluice::runtime

int main(int argc, char** argv) { return sluice::runtime::Main(argc, argv); }
