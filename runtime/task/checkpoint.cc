#include "runtime/task/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

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

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("checkpoint: ", Sv(what), " ", path, ": ", std::strerror(errno)));
}

}  // namespace

CheckpointFile::CheckpointFile(std::string dir, std::string head_node, int subtask)
    : dir_(std::move(dir)), path_(absl::StrCat(dir_, "/", head_node, ".", subtask, ".ckpt")) {}

absl::StatusOr<ChainCheckpoint> CheckpointFile::Load() const {
  ChainCheckpoint cp;
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path_)) return cp;
    return Errno("cannot read", path_);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
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

  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::InternalError(absl::StrCat("checkpoint: cannot create ", dir_, ": ", ec.message()));
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot write", tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = Errno("cannot write", tmp);
      ::close(fd);
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status st = Errno("cannot fsync", tmp);
    ::close(fd);
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return Errno("cannot rename into place", path_);
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace sluice::runtime
