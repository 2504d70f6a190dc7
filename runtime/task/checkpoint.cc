#include "runtime/task/checkpoint.h"

#include <xxhash.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "sluice/filesystem.h"

namespace sluice::runtime {
namespace {

constexpr std::string_view kMagic = "SLUICE-CKPT-1\n";

void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof(v)); }
void PutBytes(std::string* out, std::string_view b) {
  PutU64(out, b.size());
  out->append(b);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U64(uint64_t* v) {
    if (data_.size() < sizeof(*v)) return false;
    std::memcpy(v, data_.data(), sizeof(*v));
    data_.remove_prefix(sizeof(*v));
    return true;
  }
  bool Bytes(std::string* s) {
    uint64_t n;
    if (!U64(&n) || data_.size() < n) return false;
    s->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

// "checkpoint: " before a file system error, keeping its code.
absl::Status Prefixed(const absl::Status& st) {
  return absl::Status(st.code(), absl::StrCat("checkpoint: ", st.message()));
}

}  // namespace

CheckpointFile::CheckpointFile(std::string dir, std::string head_node, int subtask)
    : dir_(std::move(dir)), path_(absl::StrCat(dir_, "/", head_node, ".", subtask, ".ckpt")) {}

absl::StatusOr<ChainCheckpoint> CheckpointFile::Load() const {
  ChainCheckpoint cp;
  absl::StatusOr<std::string> read = LocalFileSystem()->ReadFile(path_);
  if (absl::IsNotFound(read.status())) return cp;
  if (!read.ok()) return Prefixed(read.status());
  const std::string& data = *read;
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint ", path_, " is damaged (", Sv(why),
                                            "); move it away to start this subtask from scratch"));
  };
  if (data.size() < kMagic.size() + 8 || data.compare(0, kMagic.size(), kMagic) != 0) return damaged("bad header");
  uint64_t hash;
  std::memcpy(&hash, data.data() + data.size() - 8, 8);
  std::string_view body(data.data() + kMagic.size(), data.size() - kMagic.size() - 8);
  if (XXH3_64bits(body.data(), body.size()) != hash) return damaged("checksum mismatch");
  Reader r(body);
  uint64_t id, parallelism, nodes;
  if (!r.U64(&id) || !r.U64(&parallelism) || !r.U64(&nodes)) return damaged("truncated");
  cp.id = static_cast<int64_t>(id);
  cp.parallelism = static_cast<int>(parallelism);
  for (uint64_t i = 0; i < nodes; ++i) {
    std::string node;
    uint64_t entries;
    if (!r.Bytes(&node) || !r.U64(&entries)) return damaged("truncated");
    auto& blobs = cp.blobs[node];
    for (uint64_t e = 0; e < entries; ++e) {
      std::string name, bytes;
      if (!r.Bytes(&name) || !r.Bytes(&bytes)) return damaged("truncated");
      blobs[name] = std::move(bytes);
    }
  }
  if (!r.done()) return damaged("trailing bytes");
  return cp;
}

absl::Status CheckpointFile::Save(const ChainCheckpoint& cp) const {
  std::string body;
  PutU64(&body, static_cast<uint64_t>(cp.id));
  PutU64(&body, static_cast<uint64_t>(cp.parallelism));
  PutU64(&body, cp.blobs.size());
  for (const auto& [node, blobs] : cp.blobs) {
    PutBytes(&body, node);
    PutU64(&body, blobs.size());
    for (const auto& [name, bytes] : blobs) {
      PutBytes(&body, name);
      PutBytes(&body, bytes);
    }
  }
  std::string data(kMagic);
  data += body;
  PutU64(&data, XXH3_64bits(body.data(), body.size()));

  // The SDK's atomic write (temporary, fsync, rename, fsync of the directory), with one
  // fixed temporary name per subtask, so a crash mid-write leaves one file to overwrite.
  auto file = AtomicFile::Create(*LocalFileSystem(), path_, path_ + ".tmp");
  if (!file.ok()) return Prefixed(file.status());
  if (absl::Status st = (*file)->Append(data); !st.ok()) return Prefixed(st);
  if (absl::Status st = (*file)->Commit(); !st.ok()) return Prefixed(st);
  return absl::OkStatus();
}

}  // namespace sluice::runtime
