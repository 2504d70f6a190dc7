#include "common/chain_checkpoint.h"

#include <xxhash.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice {
namespace {

constexpr std::string_view kMagic = "SLUICE-TASK-STATE-1\n";

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


}  // namespace

absl::StatusOr<ChainCheckpoint> DecodeChainCheckpoint(std::string_view data, std::string_view name) {
  ChainCheckpoint cp;
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint state ", Sv(name), " is damaged (", Sv(why), ")"));
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
      std::string blob_name, bytes;
      if (!r.Bytes(&blob_name) || !r.Bytes(&bytes)) return damaged("truncated");
      blobs[blob_name] = std::move(bytes);
    }
  }
  if (!r.done()) return damaged("trailing bytes");
  return cp;
}

std::string EncodeChainCheckpoint(const ChainCheckpoint& cp) {
  std::string data(kMagic);
  PutU64(&data, static_cast<uint64_t>(cp.id));
  PutU64(&data, static_cast<uint64_t>(cp.parallelism));
  PutU64(&data, cp.blobs.size());
  for (const auto& [node, blobs] : cp.blobs) {
    PutBytes(&data, node);
    PutU64(&data, blobs.size());
    for (const auto& [name, bytes] : blobs) {
      PutBytes(&data, name);
      PutBytes(&data, bytes);
    }
  }
  PutU64(&data, XXH3_64bits(data.data() + kMagic.size(), data.size() - kMagic.size()));
  return data;
}

bool NodeHasState(const BlobMap& blobs) {
  for (const auto& [name, bytes] : blobs) {
    if (name != kLinkStateBlob) return true;
  }
  return false;
}

}  // namespace sluice
