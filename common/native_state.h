// A task's RocksDB instance in checkpoint storage: what an incremental checkpoint of
// RocksDB keyed state writes (docs/state.md, "Incremental checkpoints"). The task's
// blobs then hold, per state, a reference ("SKR1": kind and key groups, no entries) and,
// among the task's own blobs, `kNativeStateBlob`: the instance's key-group range and its
// files. SST files are uploaded once to shared/ and referenced by later checkpoints; the
// small files (MANIFEST, CURRENT, OPTIONS) are kept inline.
//
// A savepoint is canonical ("SKS1", entries inside): CanonicalizeChainCheckpoint reads
// the instance and writes its entries into each state's blob, so it restores into either
// backend and needs no shared file.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/chain_checkpoint.h"
#include "common/checkpoint_storage.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace sluice {

// Among a task's "" blobs.
inline constexpr std::string_view kNativeStateBlob = "sluice.rocksdb";
// Keyed states' blobs in a node's blobs: this prefix + the state's name.
inline constexpr std::string_view kKeyedStateBlobPrefix = "sluice.state.";
// The magic of a keyed state's blob: entries inside, or in the task's instance.
inline constexpr std::string_view kCanonicalStateMagic = "SKS1";
inline constexpr std::string_view kNativeStateMagic = "SKR1";

struct NativeFile {
  std::string name;      // in the instance's directory: "000012.sst", "MANIFEST-000005"
  bool shared = false;   // in checkpoint storage (`file`), else inline (`bytes`)
  SharedFile file;
  std::string bytes;
};

struct NativeInstance {
  uint32_t max_parallelism = 0;
  uint32_t first_key_group = 0;  // the key groups its entries may hold
  uint32_t last_key_group = 0;
  std::vector<NativeFile> files;
};

std::string EncodeNativeInstance(const NativeInstance& instance);
// DATA_LOSS naming `what` if malformed.
absl::StatusOr<NativeInstance> DecodeNativeInstance(std::string_view bytes, std::string_view what);

// Writes the instance's files into `dir` (created; it must not hold another instance),
// fetching shared ones from `storage` with their size and hash checked.
absl::Status DownloadNativeInstance(const NativeInstance& instance, const CheckpointStorage& storage,
                                    const std::string& dir);

// A checkpointed instance opened read-only in a local directory of its own, deleted
// when the reader is destroyed. Used on restore (entries of another subtask's instance,
// or into the in-memory backend) and to make a savepoint canonical.
class NativeInstanceReader {
 public:
  static absl::StatusOr<std::unique_ptr<NativeInstanceReader>> Open(const NativeInstance& instance,
                                                                     const CheckpointStorage& storage,
                                                                     std::string dir);
  ~NativeInstanceReader();
  const NativeInstance& instance() const { return instance_; }
  // Entries of table (column family) `table` with begin <= key < end ("": no bound), in
  // key order, until `fn` returns false. A table the instance lacks has none.
  absl::Status Scan(std::string_view table, std::string_view begin, std::string_view end,
                    const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

 private:
  NativeInstanceReader() = default;
  NativeInstance instance_;
  std::string dir_;
  rocksdb::DB* db_ = nullptr;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// A local directory for an instance, unique in this process: $TMPDIR/sluice-restore/<tag>-<pid>-<n>.
std::string NewLocalInstanceDir(std::string_view base, std::string_view tag);

// Rewrites every native state reference of `checkpoint` as a canonical blob with its
// entries (read from its instance, fetched from `storage` into a directory under
// `local_dir`), and drops the instance blob. A checkpoint without one is unchanged.
absl::Status CanonicalizeChainCheckpoint(ChainCheckpoint* checkpoint, const CheckpointStorage& storage,
                                         std::string_view local_dir);

}  // namespace sluice
