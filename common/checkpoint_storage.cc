#include "common/checkpoint_storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice {

const TaskStateHandle* CheckpointMetadata::Find(int vertex, int subtask) const {
  for (const TaskStateHandle& t : tasks) {
    if (t.vertex == vertex && t.subtask == subtask) return &t;
  }
  return nullptr;
}

int64_t CheckpointMetadata::TotalSize() const {
  int64_t n = 0;
  std::set<std::string_view> seen;
  for (const TaskStateHandle& t : tasks) {
    n += t.size;
    for (const SharedFile& f : t.shared) {
      if (seen.insert(f.path).second) n += f.size;
    }
  }
  return n;
}

int64_t CheckpointMetadata::WrittenSize() const {
  const std::string own = absl::StrCat("chk-", id, "/"), uploaded = absl::StrCat("shared/", id, "-");
  int64_t n = 0;
  std::set<std::string_view> seen;
  for (const TaskStateHandle& t : tasks) {
    if (t.path.compare(0, own.size(), own) == 0) n += t.size;
    for (const SharedFile& f : t.shared) {
      if (f.path.compare(0, uploaded.size(), uploaded) == 0 && seen.insert(f.path).second) n += f.size;
    }
  }
  return n;
}

std::string JoinStorageLocation(std::string_view location, std::string_view child) {
  std::string out(location);
  while (!out.empty() && out.back() == '/' && out != "/" && out != "file:///") out.pop_back();
  if (!out.empty() && out.back() != '/') out += '/';
  out += child;
  return out;
}

namespace {

constexpr std::string_view kMetadataMagic = "SLUICE-CHECKPOINT 1";

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

absl::Status Errno(std::string_view what, const std::string& path) {
  int e = errno;
  std::string msg = absl::StrCat("checkpoint storage: ", Sv(what), " ", path, ": ", std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  return absl::UnavailableError(msg);
}

// Relative paths written by this code: "chk-<id>/<name>", never "..", never absolute.
bool SafeRelative(absl::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  for (absl::string_view part : absl::StrSplit(p, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

absl::Status MakeDirs(const std::string& dir) {
  std::string cur;
  for (absl::string_view part : absl::StrSplit(dir, '/')) {
    cur.append(part.data(), part.size());
    cur += '/';
    if (part.empty() || part == ".") continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return Errno("cannot create", cur);
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("cannot open", dir);
  ::fsync(fd);
  ::close(fd);
  return absl::OkStatus();
}

// A temporary file, fsync, rename, fsync of the directory.
absl::Status WriteAtomically(const std::string& dir, const std::string& name, std::string_view bytes) {
  RETURN_IF_ERROR(MakeDirs(dir));
  std::string path = absl::StrCat(dir, "/", name);
  std::string tmp = absl::StrCat(path, ".tmp-", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status st = Errno("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    absl::Status st = Errno("cannot sync", tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = Errno("cannot rename to", path);
    ::unlink(tmp.c_str());
    return st;
  }
  return SyncDir(dir);
}

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status st = Errno("cannot read", path);
      ::close(fd);
      return st;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Checkpoint ids of the "chk-<id>" entries of `root` (those with `file` inside when given).
absl::StatusOr<std::vector<int64_t>> ListIds(const std::string& root, const char* file) {
  std::vector<int64_t> ids;
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return ids;
    return Errno("cannot list", root);
  }
  while (dirent* e = ::readdir(d)) {
    absl::string_view name(e->d_name);
    int64_t id;
    if (name.substr(0, 4) != "chk-" || !absl::SimpleAtoi(name.substr(4), &id) || id <= 0) continue;
    if (file != nullptr) {
      struct stat st;
      if (::stat(absl::StrCat(root, "/", name, "/", file).c_str(), &st) != 0) continue;
    }
    ids.push_back(id);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The entries of `dir` (none if it does not exist).
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return names;
    return Errno("cannot list", dir);
  }
  while (dirent* e = ::readdir(d)) {
    std::string_view name(e->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  return names;
}

// Copies `from` to `to` (created or truncated), with its size and XXH3-64 hash; NOT_FOUND
// if `from` does not exist.
absl::Status CopyHashing(const std::string& from, const std::string& to, bool sync, int64_t* size, uint64_t* hash) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Errno("cannot open", from);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    absl::Status st = Errno("cannot create", to);
    ::close(in);
    return st;
  }
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  absl::Status st;
  *size = 0;
  std::string buf(size_t{1} << 20, '\0');
  while (st.ok()) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Errno("cannot read", from);
      break;
    }
    if (n == 0) break;
    XXH3_64bits_update(state, buf.data(), static_cast<size_t>(n));
    *size += n;
    for (ssize_t off = 0; off < n && st.ok();) {
      ssize_t w = ::write(out, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        st = Errno("cannot write", to);
      } else {
        off += w;
      }
    }
  }
  *hash = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  ::close(in);
  if (st.ok() && sync && ::fsync(out) != 0) st = Errno("cannot sync", to);
  if (::close(out) != 0 && st.ok()) st = Errno("cannot write", to);
  return st;
}

class FileCheckpointStorage final : public CheckpointStorage {
 public:
  FileCheckpointStorage(std::string location, std::string root)
      : location_(std::move(location)), root_(std::move(root)) {}

  const std::string& location() const override { return location_; }

  absl::StatusOr<TaskStateHandle> WriteTaskState(int64_t id, int vertex, int subtask,
                                                 std::string_view bytes) override {
    TaskStateHandle h;
    h.vertex = vertex;
    h.subtask = subtask;
    h.path = absl::StrCat("chk-", id, "/", vertex, "-", subtask, ".state");
    h.size = static_cast<int64_t>(bytes.size());
    h.hash = XXH3_64bits(bytes.data(), bytes.size());
    RETURN_IF_ERROR(WriteAtomically(absl::StrCat(root_, "/chk-", id), absl::StrCat(vertex, "-", subtask, ".state"),
                                    bytes));
    return h;
  }

  absl::StatusOr<std::string> ReadTaskState(const TaskStateHandle& h) const override {
    if (!SafeRelative(h.path)) {
      return absl::DataLossError(absl::StrCat("checkpoint state path '", h.path, "' is not a storage path"));
    }
    std::string path = absl::StrCat(root_, "/", h.path);
    auto data = ReadWhole(path);
    if (absl::IsNotFound(data.status())) {
      return absl::DataLossError(absl::StrCat("checkpoint state file ", path, " is missing"));
    }
    RETURN_IF_ERROR(data.status());
    if (static_cast<int64_t>(data->size()) != h.size) {
      return absl::DataLossError(absl::StrCat("checkpoint state file ", path, " is damaged: ", data->size(),
                                              " bytes, the checkpoint recorded ", h.size));
    }
    if (XXH3_64bits(data->data(), data->size()) != h.hash) {
      return absl::DataLossError(absl::StrCat("checkpoint state file ", path, " is damaged: checksum mismatch"));
    }
    return data;
  }

  absl::Status WriteMetadata(const CheckpointMetadata& m) override {
    return WriteAtomically(absl::StrCat(root_, "/chk-", m.id), "_metadata", EncodeCheckpointMetadata(m));
  }

  absl::StatusOr<CheckpointMetadata> ReadMetadata(int64_t id) const override {
    std::string path = absl::StrCat(root_, "/chk-", id, "/_metadata");
    ASSIGN_OR_RETURN(std::string data, ReadWhole(path));
    ASSIGN_OR_RETURN(CheckpointMetadata m, DecodeCheckpointMetadata(data, path));
    if (m.id != id) {
      return absl::DataLossError(absl::StrCat("checkpoint metadata ", path, " is damaged: it names checkpoint ", m.id));
    }
    return m;
  }

  absl::StatusOr<std::vector<int64_t>> ListCompleted() const override { return ListIds(root_, "_metadata"); }
  absl::StatusOr<std::vector<int64_t>> ListAll() const override { return ListIds(root_, nullptr); }

  absl::Status Discard(int64_t id, const std::vector<CheckpointMetadata>& keep) override {
    std::set<std::string> referenced;
    for (const CheckpointMetadata& m : keep) {
      for (const TaskStateHandle& t : m.tasks) {
        referenced.insert(t.path);
        for (const SharedFile& f : t.shared) referenced.insert(f.path);
      }
    }
    // The shared files it used: those its metadata names, and those it uploaded (a
    // checkpoint that never completed has no metadata, but may have uploaded some).
    std::set<std::string> shared;
    if (auto m = ReadMetadata(id); m.ok()) {
      for (const TaskStateHandle& t : m->tasks) {
        for (const SharedFile& f : t.shared) shared.insert(f.path);
      }
    }
    const std::string prefix = absl::StrCat(id, "-");
    ASSIGN_OR_RETURN(std::vector<std::string> uploaded, ListDir(absl::StrCat(root_, "/shared")));
    for (const std::string& name : uploaded) {
      if (name.compare(0, prefix.size(), prefix) == 0) shared.insert(absl::StrCat("shared/", name));
    }
    const std::string dir_name = absl::StrCat("chk-", id);
    const std::string dir = absl::StrCat(root_, "/", dir_name);
    // The metadata first: a half-discarded checkpoint must not look complete.
    if (::unlink(absl::StrCat(dir, "/_metadata").c_str()) != 0 && errno != ENOENT) {
      return Errno("cannot delete", dir + "/_metadata");
    }
    for (const std::string& path : shared) {
      if (referenced.count(path) > 0 || !SafeRelative(path) || path.compare(0, 7, "shared/") != 0) continue;
      const std::string full = absl::StrCat(root_, "/", path);
      if (::unlink(full.c_str()) != 0 && errno != ENOENT) return Errno("cannot delete", full);
    }
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
    bool kept = false;
    for (const std::string& name : names) {
      if (referenced.count(absl::StrCat(dir_name, "/", name)) > 0) {
        kept = true;
        continue;
      }
      if (::unlink(absl::StrCat(dir, "/", name).c_str()) != 0 && errno != ENOENT) {
        return Errno("cannot delete", absl::StrCat(dir, "/", name));
      }
    }
    if (!kept && ::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
      return Errno("cannot delete", dir);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<SharedFile> WriteSharedFile(int64_t id, std::string_view name, const std::string& local_path) override {
    if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..") {
      return absl::InvalidArgumentError(absl::StrCat("'", Sv(name), "' is not a file name"));
    }
    SharedFile f;
    f.path = absl::StrCat("shared/", id, "-", Sv(name));
    RETURN_IF_ERROR(MakeDirs(absl::StrCat(root_, "/shared")));
    const std::string path = absl::StrCat(root_, "/", f.path);
    const std::string tmp = absl::StrCat(path, ".tmp-", ::getpid());
    absl::Status st = CopyHashing(local_path, tmp, /*sync=*/true, &f.size, &f.hash);
    if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = Errno("cannot rename to", path);
    if (!st.ok()) {
      ::unlink(tmp.c_str());
      return st;
    }
    return f;
  }

  absl::Status CopySharedFile(const SharedFile& f, const std::string& dest) const override {
    if (!SafeRelative(f.path) || f.path.compare(0, 7, "shared/") != 0) {
      return absl::DataLossError(absl::StrCat("shared state path '", f.path, "' is not a storage path"));
    }
    const std::string path = absl::StrCat(root_, "/", f.path);
    int64_t size = 0;
    uint64_t hash = 0;
    absl::Status st = CopyHashing(path, dest, /*sync=*/false, &size, &hash);
    if (absl::IsNotFound(st)) return absl::DataLossError(absl::StrCat("checkpoint state file ", path, " is missing"));
    RETURN_IF_ERROR(st);
    if (size != f.size) {
      return absl::DataLossError(absl::StrCat("checkpoint state file ", path, " is damaged: ", size,
                                              " bytes, the checkpoint recorded ", f.size));
    }
    if (hash != f.hash) {
      return absl::DataLossError(absl::StrCat("checkpoint state file ", path, " is damaged: checksum mismatch"));
    }
    return absl::OkStatus();
  }

  absl::Status WriteRootFile(std::string_view name, std::string_view bytes) override {
    if (!SafeRelative(Sv(name)) || name.find('/') != std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", Sv(name), "' is not a file name"));
    }
    return WriteAtomically(root_, std::string(name), bytes);
  }

  absl::StatusOr<std::string> ReadRootFile(std::string_view name) const override {
    if (!SafeRelative(Sv(name)) || name.find('/') != std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("'", Sv(name), "' is not a file name"));
    }
    return ReadWhole(absl::StrCat(root_, "/", Sv(name)));
  }

  absl::StatusOr<bool> Empty() const override {
    DIR* d = ::opendir(root_.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return true;
      return Errno("cannot list", root_);
    }
    bool empty = true;
    while (dirent* e = ::readdir(d)) {
      std::string_view n(e->d_name);
      if (n != "." && n != "..") empty = false;
    }
    ::closedir(d);
    return empty;
  }

 private:
  std::string location_;
  std::string root_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStorage>> CheckpointStorage::Open(std::string_view location) {
  std::string loc(location);
  std::string root;
  size_t scheme_end = loc.find("://");
  if (scheme_end == std::string::npos) {
    root = loc;
  } else {
    std::string scheme = loc.substr(0, scheme_end);
    if (scheme != "file") {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint storage '", loc, "': unknown scheme '", scheme,
                                                     "'; supported: file:///path (a directory every worker can "
                                                     "reach) or a plain path"));
    }
    root = loc.substr(scheme_end + 3);
    if (root.empty() || root.front() != '/') {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint storage '", loc,
                                                     "': a file URI needs an absolute path (file:///dir)"));
    }
  }
  if (root.empty()) return absl::InvalidArgumentError("checkpoint storage: empty location");
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return std::unique_ptr<CheckpointStorage>(new FileCheckpointStorage(std::move(loc), std::move(root)));
}

std::string EncodeCheckpointMetadata(const CheckpointMetadata& m) {
  std::string body = absl::StrCat(Sv(kMetadataMagic), "\nid ", m.id, "\ntimestamp_ms ", m.timestamp_ms, "\n");
  for (const TaskStateHandle& t : m.tasks) {
    absl::StrAppend(&body, "task ", t.vertex, " ", t.subtask, " ", t.size, " ", Hex(t.hash), " ", t.path, "\n");
    for (const SharedFile& f : t.shared) absl::StrAppend(&body, "shared ", f.size, " ", Hex(f.hash), " ", f.path, "\n");
  }
  absl::StrAppend(&body, "checksum ", Hex(XXH3_64bits(body.data(), body.size())), "\n");
  return body;
}

absl::StatusOr<CheckpointMetadata> DecodeCheckpointMetadata(std::string_view data_in, std::string_view name) {
  const absl::string_view data = Sv(data_in);
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint metadata ", Sv(name), " is damaged (", Sv(why), ")"));
  };
  size_t sum_at = data.rfind("checksum ");
  if (sum_at == absl::string_view::npos || data.empty() || data.back() != '\n') return damaged("truncated");
  absl::string_view body = data.substr(0, sum_at);
  absl::string_view sum = data.substr(sum_at + 9, data.size() - sum_at - 10);
  if (sum != Hex(XXH3_64bits(body.data(), body.size()))) return damaged("checksum mismatch");
  CheckpointMetadata m;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    if (first) {
      if (line != Sv(kMetadataMagic)) return damaged("unknown format");
      first = false;
      continue;
    }
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f[0] == "id" && f.size() == 2) {
      if (!absl::SimpleAtoi(f[1], &m.id)) return damaged("bad id");
    } else if (f[0] == "timestamp_ms" && f.size() == 2) {
      if (!absl::SimpleAtoi(f[1], &m.timestamp_ms)) return damaged("bad timestamp");
    } else if (f[0] == "task" && f.size() == 6) {
      TaskStateHandle t;
      uint64_t hash;
      if (!absl::SimpleAtoi(f[1], &t.vertex) || !absl::SimpleAtoi(f[2], &t.subtask) ||
          !absl::SimpleAtoi(f[3], &t.size) || !absl::SimpleHexAtoi(f[4], &hash) || !SafeRelative(f[5])) {
        return damaged(absl::StrCat("bad task line '", line, "'"));
      }
      t.hash = hash;
      t.path = std::string(f[5]);
      m.tasks.push_back(std::move(t));
    } else if (f[0] == "shared" && f.size() == 4 && !m.tasks.empty()) {
      SharedFile sf;
      uint64_t hash;
      if (!absl::SimpleAtoi(f[1], &sf.size) || !absl::SimpleHexAtoi(f[2], &hash) || !SafeRelative(f[3]) ||
          f[3].substr(0, 7) != "shared/") {
        return damaged(absl::StrCat("bad shared line '", line, "'"));
      }
      sf.hash = hash;
      sf.path = std::string(f[3]);
      m.tasks.back().shared.push_back(std::move(sf));
    } else {
      return damaged(absl::StrCat("unknown line '", line, "'"));
    }
  }
  if (first || m.id <= 0) return damaged("no checkpoint id");
  return m;
}

}  // namespace sluice
