// The RocksDB backend (docs/state.md): one instance per task, a column family per
// table, memory shared by every instance of the process (one block cache, and a
// WriteBufferManager that charges memtables to it), and an ordered write-back cache per
// table in front, so records update state in memory and RocksDB sees one WriteBatch
// when the cache is full or before a checkpoint. Writes skip the write-ahead log: a
// task's instance is working storage, and durability comes from checkpoints.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_buffer_manager.h"
#include "runtime/state/kv_store.h"

namespace sluice::runtime {

namespace {

std::mutex options_mu;
RocksDbStateOptions options_value;
bool options_used = false;

// What every instance of the process shares.
struct SharedResources {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  rocksdb::CompressionType compression = rocksdb::kNoCompression;
};

const SharedResources& Shared() {
  static const SharedResources* shared = [] {
    const RocksDbStateOptions& o = GetRocksDbStateOptions();
    auto* s = new SharedResources;
    s->cache = rocksdb::NewLRUCache(static_cast<size_t>(o.memory_bytes), -1, false, /*high_pri_pool_ratio=*/0.1);
    s->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(static_cast<size_t>(o.memory_bytes / 2), s->cache);
    rocksdb::Env::Default()->SetBackgroundThreads(2, rocksdb::Env::LOW);
    rocksdb::Env::Default()->SetBackgroundThreads(1, rocksdb::Env::HIGH);
    for (auto c : rocksdb::GetSupportedCompressions()) {
      if (c == rocksdb::kLZ4Compression) s->compression = c;
    }
    SLUICE_LOG_INFO(GetLogger("state"), "RocksDB state: {} MiB shared by every task of this process, in {}",
                    o.memory_bytes >> 20, o.local_dir);
    return s;
  }();
  return *shared;
}

absl::Status FromRocks(const rocksdb::Status& st, std::string_view what) {
  if (st.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(Sv(what), ": ", st.ToString()));
}

rocksdb::Slice S(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view V(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// The open database and its directory, shared by the store and the snapshots a checkpoint
// still reads: the last one out closes the database and deletes the directory.
struct Instance {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // appended by the task thread only
  rocksdb::ColumnFamilyHandle* default_handle = nullptr;  // when opened from a checkpoint
  std::string dir;
  bool owns_dir = false;
  ~Instance() {
    if (db != nullptr) {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
      if (default_handle != nullptr) db->DestroyColumnFamilyHandle(default_handle);
      db->Close();
      delete db;
      rocksdb::DestroyDB(dir, rocksdb::Options());
    }
    if (owns_dir) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

// A directory removed when the last holder lets go (a local checkpoint's hard links).
struct DirGuard {
  std::string dir;
  ~DirGuard() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// The shared files of the checkpoints a store took: by local file name, those of the last
// completed checkpoint (referenced by the next one rather than uploaded), and those of
// checkpoints not yet known complete. Shared with producers on the writer's thread.
struct Uploads {
  std::mutex mu;
  std::map<std::string, SharedFile> base;
  std::map<int64_t, std::map<std::string, SharedFile>> pending;
};

class RocksDbSnapshot final : public KvSnapshot {
 public:
  explicit RocksDbSnapshot(std::shared_ptr<Instance> inst)
      : inst_(std::move(inst)), handles_(inst_->handles), snapshot_(inst_->db->GetSnapshot()) {}
  ~RocksDbSnapshot() override { inst_->db->ReleaseSnapshot(snapshot_); }

  absl::Status Scan(int table, std::string_view begin, std::string_view end,
                    const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    if (table < 0 || table >= static_cast<int>(handles_.size())) {
      return absl::InternalError(absl::StrCat("state snapshot: no table ", table));
    }
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    ro.fill_cache = false;  // a checkpoint's one pass must not evict what the task reads
    rocksdb::Slice upper = S(end);
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(inst_->db->NewIterator(ro, handles_[table]));
    for (it->Seek(S(begin)); it->Valid(); it->Next()) {
      if (!fn(V(it->key()), V(it->value()))) break;
    }
    return FromRocks(it->status(), "reading a state snapshot");
  }

 private:
  std::shared_ptr<Instance> inst_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // those that existed when taken
  const rocksdb::Snapshot* snapshot_;
};

class RocksDbKvStore final : public KvStore {
 public:
  explicit RocksDbKvStore(std::string dir) : inst_(std::make_shared<Instance>()), dir_(std::move(dir)) {
    inst_->dir = dir_;
    write_options_.disableWAL = true;
    cache_limit_ = GetRocksDbStateOptions().write_cache_bytes;
    incremental_ = GetRocksDbStateOptions().incremental;
  }

  std::shared_ptr<const KvSnapshot> TakeSnapshot() override {
    if (inst_->db == nullptr) return nullptr;
    return std::make_shared<RocksDbSnapshot>(inst_);
  }

  absl::Status Open(const NativeBase* base) {
    const SharedResources& shared = Shared();
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = shared.cache;
    // Index and filter blocks live in the shared cache (bounded), partitioned so that a
    // lookup reads one small partition rather than a whole table's filter when the cache
    // has dropped it (as Flink's bounded RocksDB memory does); the top levels stay pinned.
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    table.pin_top_level_index_and_filter = true;
    table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    table.partition_filters = true;
    table.metadata_block_size = 4096;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf_options_.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf_options_.compression = shared.compression;
    cf_options_.write_buffer_size = static_cast<size_t>(
        std::clamp<int64_t>(GetRocksDbStateOptions().memory_bytes / 8, int64_t{4} << 20, int64_t{64} << 20));
    rocksdb::Options options(rocksdb::DBOptions(), cf_options_);
    options.create_if_missing = true;
    options.write_buffer_manager = shared.write_buffers;
    options.max_background_jobs = 2;
    options.max_open_files = 512;
    options.info_log_level = rocksdb::WARN_LEVEL;
    options.keep_log_file_num = 2;
    std::error_code ec;
    if (std::filesystem::exists(dir_, ec)) {
      // A leftover of a crashed process, to wipe; unless a live instance holds its LOCK.
      // Checked before DestroyDB, which would first rotate the live instance's LOG file.
      rocksdb::FileLock* lock = nullptr;
      rocksdb::Status locked = rocksdb::Env::Default()->LockFile(dir_ + "/LOCK", &lock);
      if (locked.ok()) {
        locked = rocksdb::Env::Default()->UnlockFile(lock);
        if (locked.ok()) locked = rocksdb::DestroyDB(dir_, options);
      }
      if (!locked.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("state directory ", dir_, " is in use: ", locked.ToString(),
                                                          " (another task or process is using it?)"));
      }
      std::filesystem::remove_all(dir_, ec);
    }
    inst_->owns_dir = true;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot create state directory ", dir_, ": ", ec.message()));
    if (base == nullptr) {
      return FromRocks(rocksdb::DB::Open(options, dir_, &inst_->db), absl::StrCat("opening RocksDB state in ", dir_));
    }
    return OpenFrom(options, *base);
  }

  // Fetches a checkpointed instance into the directory, opens it with its tables, and
  // clips it to the key range this task keeps.
  absl::Status OpenFrom(const rocksdb::Options& options, const NativeBase& base) {
    RETURN_IF_ERROR(DownloadNativeInstance(*base.instance, *base.storage, dir_));
    std::vector<std::string> names;
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::ListColumnFamilies(options, dir_, &names),
                              absl::StrCat("reading the restored RocksDB state in ", dir_)));
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const std::string& n : names) cfs.emplace_back(n, cf_options_);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir_, cfs, &handles, &inst_->db),
                              absl::StrCat("opening the restored RocksDB state in ", dir_)));
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == rocksdb::kDefaultColumnFamilyName) {
        inst_->default_handle = handles[i];
        continue;
      }
      inst_->handles.push_back(handles[i]);
      tables_.push_back(TableCache{names[i], {}});
    }
    {
      std::lock_guard<std::mutex> lock(uploads_->mu);
      for (const NativeFile& f : base.instance->files) {
        if (f.shared) uploads_->base[f.name] = f.file;
      }
    }
    for (auto* h : inst_->handles) {
      if (!base.keep_begin.empty()) {
        RETURN_IF_ERROR(FromRocks(inst_->db->DeleteRange(write_options_, h, "", S(base.keep_begin)),
                                  "clipping restored state to this subtask's key groups"));
      }
      if (!base.keep_end.empty()) {
        RETURN_IF_ERROR(FromRocks(inst_->db->DeleteRange(write_options_, h, S(base.keep_end), "\xff\xff\xff"),
                                  "clipping restored state to this subtask's key groups"));
      }
    }
    return absl::OkStatus();
  }

  bool native_checkpoints() const override { return incremental_; }

  absl::StatusOr<NativeProducer> CheckpointNative(int64_t id, std::string file_prefix,
                                                  const NativeInstance& header) override {
    Flush();
    RETURN_IF_ERROR(status_);
    auto guard = std::make_shared<DirGuard>();
    guard->dir = absl::StrCat(dir_, ".chk-", id);
    std::error_code ec;
    std::filesystem::remove_all(guard->dir, ec);
    rocksdb::Checkpoint* raw = nullptr;
    RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(inst_->db, &raw), "checkpointing RocksDB state"));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    // Flushes the memtables (writes skip the WAL), then hard-links every live file.
    RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(guard->dir, /*log_size_for_flush=*/0),
                              absl::StrCat("checkpointing RocksDB state into ", guard->dir)));
    std::map<std::string, SharedFile> base;
    {
      std::lock_guard<std::mutex> lock(uploads_->mu);
      base = uploads_->base;
    }
    return NativeProducer(
        [guard, base = std::move(base), uploads = uploads_, id, file_prefix = std::move(file_prefix), header](
            CheckpointStorage& storage, std::vector<SharedFile>* shared) -> absl::StatusOr<std::string> {
          NativeInstance inst = header;
          std::map<std::string, SharedFile> now;
          std::vector<std::filesystem::path> files;
          std::error_code ec;
          for (const auto& e : std::filesystem::directory_iterator(guard->dir, ec)) files.push_back(e.path());
          if (ec) return absl::InternalError(absl::StrCat("listing ", guard->dir, ": ", ec.message()));
          std::sort(files.begin(), files.end());
          for (const auto& path : files) {
            NativeFile f;
            f.name = path.filename().string();
            if (path.extension() == ".sst") {
              f.shared = true;
              auto it = base.find(f.name);
              const auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
              if (it != base.end() && !ec && it->second.size == size) {
                f.file = it->second;  // uploaded by an earlier checkpoint: referenced, not copied
              } else {
                ASSIGN_OR_RETURN(f.file, storage.WriteSharedFile(id, file_prefix + f.name, path.string()));
              }
              now[f.name] = f.file;
              shared->push_back(f.file);
            } else {
              std::ifstream in(path, std::ios::binary);
              f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
              if (!in.good() && !in.eof()) return absl::InternalError(absl::StrCat("cannot read ", path.string()));
            }
            inst.files.push_back(std::move(f));
          }
          {
            std::lock_guard<std::mutex> lock(uploads->mu);
            uploads->pending[id] = std::move(now);
          }
          return EncodeNativeInstance(inst);
        });
  }

  void CheckpointComplete(int64_t id) override {
    std::lock_guard<std::mutex> lock(uploads_->mu);
    auto it = uploads_->pending.find(id);
    if (it == uploads_->pending.end()) return;
    uploads_->base = std::move(it->second);
    uploads_->pending.erase(uploads_->pending.begin(), std::next(it));
  }

  std::string_view backend() const override { return "rocksdb"; }

  absl::StatusOr<int> Table(std::string_view name) override {
    for (size_t i = 0; i < tables_.size(); ++i) {
      if (tables_[i].name == name) return static_cast<int>(i);
    }
    rocksdb::ColumnFamilyHandle* h = nullptr;
    absl::Status st = FromRocks(inst_->db->CreateColumnFamily(cf_options_, std::string(name), &h),
                                absl::StrCat("creating state '", Sv(name), "' in ", dir_));
    if (!st.ok()) return st;
    inst_->handles.push_back(h);
    tables_.push_back(TableCache{std::string(name), {}});
    return static_cast<int>(tables_.size() - 1);
  }

  bool Get(int table, std::string_view key, std::string* value) override {
    auto& c = tables_[table].cache;
    auto it = c.find(key);
    if (it != c.end()) {
      if (!it->second.live) return false;
      value->assign(it->second.value);
      return true;
    }
    rocksdb::PinnableSlice v;
    rocksdb::Status st = inst_->db->Get(rocksdb::ReadOptions(), inst_->handles[table], S(key), &v);
    const bool found = st.ok();
    if (!found && !st.IsNotFound()) Record(FromRocks(st, "reading state"));
    if (found) value->assign(v.data(), v.size());
    if (scanning_ == 0) {
      Entry& e = c[std::string(key)];
      e.live = found;
      e.dirty = false;
      if (found) e.value.assign(v.data(), v.size());
      Charge(key.size() + v.size());
    }
    return found;
  }

  // Put and Delete update the entry before charging for it: Charge may evict, which
  // writes the dirty entries and clears the cache (and so invalidates `it`).
  void Put(int table, std::string_view key, std::string_view value) override {
    auto& c = tables_[table].cache;
    auto it = c.find(key);
    size_t charge = 0;
    if (it == c.end()) {
      it = c.emplace(std::string(key), Entry{}).first;
      charge = key.size() + value.size();
    } else if (value.size() > it->second.value.size()) {
      charge = value.size() - it->second.value.size();
    }
    it->second.value.assign(value.data(), value.size());
    it->second.live = true;
    it->second.dirty = true;
    if (charge > 0) Charge(charge);
  }

  void Delete(int table, std::string_view key) override {
    auto& c = tables_[table].cache;
    auto it = c.find(key);
    const bool added = it == c.end();
    if (added) it = c.emplace(std::string(key), Entry{}).first;
    it->second.value.clear();
    it->second.live = false;
    it->second.dirty = true;
    if (added) Charge(key.size());
  }

  void Scan(int table, std::string_view begin, std::string_view end,
            const std::function<bool(std::string_view, std::string_view)>& fn) override {
    auto& c = tables_[table].cache;
    rocksdb::ReadOptions ro;
    rocksdb::Slice upper = S(end);
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(inst_->db->NewIterator(ro, inst_->handles[table]));
    ++scanning_;  // no cache insertions or evictions: they would move `cit`
    auto cit = c.lower_bound(begin);
    it->Seek(S(begin));
    while (true) {
      const bool c_ok = cit != c.end() && (end.empty() || cit->first < end);
      const bool d_ok = it->Valid();
      if (!c_ok && !d_ok) break;
      const int cmp = !c_ok ? 1 : !d_ok ? -1 : std::string_view(cit->first).compare(V(it->key()));
      bool more = true;
      if (cmp <= 0) {
        if (cit->second.live) more = fn(cit->first, cit->second.value);
        if (cmp == 0) it->Next();
        ++cit;
      } else {
        more = fn(V(it->key()), V(it->value()));
        it->Next();
      }
      if (!more) break;
    }
    if (!it->status().ok()) Record(FromRocks(it->status(), "reading state"));
    --scanning_;
    MaybeEvict();
  }

  void DeleteRange(int table, std::string_view begin, std::string_view end) override {
    std::vector<std::string> keys;
    Scan(table, begin, end, [&](std::string_view k, std::string_view) {
      keys.emplace_back(k);
      return true;
    });
    for (const auto& k : keys) Delete(table, k);
  }

  void Flush() override {
    rocksdb::WriteBatch batch;
    for (size_t t = 0; t < tables_.size(); ++t) {
      for (auto& [k, e] : tables_[t].cache) {
        if (!e.dirty) continue;
        if (e.live) {
          batch.Put(inst_->handles[t], S(k), S(e.value));
        } else {
          batch.Delete(inst_->handles[t], S(k));
        }
        e.dirty = false;
      }
    }
    if (batch.Count() > 0) Record(FromRocks(inst_->db->Write(write_options_, &batch), "writing state"));
  }

  absl::Status status() const override { return status_; }

 private:
  struct Entry {
    std::string value;
    bool live = false;   // false: absent (a tombstone if dirty)
    bool dirty = false;  // not yet in RocksDB
  };
  struct TableCache {
    std::string name;
    absl::btree_map<std::string, Entry, std::less<>> cache;
  };

  void Charge(size_t bytes) {
    cache_bytes_ += static_cast<int64_t>(bytes) + 48;
    MaybeEvict();
  }

  // Past the cache's bound: write what is dirty, then start over.
  void MaybeEvict() {
    if (cache_bytes_ <= cache_limit_ || scanning_ > 0) return;
    Flush();
    for (auto& t : tables_) t.cache.clear();
    cache_bytes_ = 0;
  }

  void Record(absl::Status st) {
    if (!st.ok() && status_.ok()) {
      SLUICE_LOG_ERROR(GetLogger("state"), "RocksDB state in {}: {}", dir_, std::string(st.message()));
      status_ = std::move(st);
    }
  }

  std::shared_ptr<Instance> inst_;
  std::shared_ptr<Uploads> uploads_ = std::make_shared<Uploads>();
  std::string dir_;
  rocksdb::ColumnFamilyOptions cf_options_;
  rocksdb::WriteOptions write_options_;
  std::vector<TableCache> tables_;
  int64_t cache_bytes_ = 0;
  int64_t cache_limit_ = 0;
  bool incremental_ = true;  // as the options said when it was opened
  int scanning_ = 0;
  absl::Status status_;
};

}  // namespace

void SetRocksDbStateOptions(const RocksDbStateOptions& options) {
  std::lock_guard<std::mutex> lock(options_mu);
  options_value = options;
}

const RocksDbStateOptions& GetRocksDbStateOptions() {
  std::lock_guard<std::mutex> lock(options_mu);
  if (!options_used) {
    options_used = true;
    if (options_value.local_dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      options_value.local_dir = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/sluice-state");
    }
  }
  return options_value;
}

absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
  std::string_view s = text;
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  int64_t n = 0;
  if (digits == 0 || !absl::SimpleAtoi(Sv(s.substr(0, digits)), &n)) {
    return absl::InvalidArgumentError(absl::StrCat("expected a size like 256MiB or 1GiB, got '", Sv(text), "'"));
  }
  std::string unit(s.substr(digits));
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    shift = 30;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown unit '", Sv(s.substr(digits)), "' in '", Sv(text), "'; expected B, KiB, MiB or GiB"));
  }
  if (n > (int64_t{1} << (62 - shift))) return absl::InvalidArgumentError(absl::StrCat("size too large: ", Sv(text)));
  return n << shift;
}

absl::StatusOr<std::unique_ptr<KvStore>> OpenRocksDbKvStore(std::string_view name) {
  auto store = std::make_unique<RocksDbKvStore>(absl::StrCat(GetRocksDbStateOptions().local_dir, "/", Sv(name)));
  absl::Status st = store->Open(nullptr);
  if (!st.ok()) return st;
  return store;
}

absl::StatusOr<std::unique_ptr<KvStore>> OpenRocksDbKvStore(std::string_view name, const NativeBase& base) {
  auto store = std::make_unique<RocksDbKvStore>(absl::StrCat(GetRocksDbStateOptions().local_dir, "/", Sv(name)));
  absl::Status st = store->Open(&base);
  if (!st.ok()) return st;
  return store;
}

}  // namespace sluice::runtime
