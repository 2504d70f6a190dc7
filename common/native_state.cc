#include "common/native_state.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/varint.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace sluice {

namespace {

constexpr std::string_view kInstanceMagic = "SKN1";

bool GetString(std::string_view& in, std::string* out) {
  std::string_view b;
  if (!GetBytes(in, &b)) return false;
  out->assign(b);
  return true;
}

absl::Status FromRocks(const rocksdb::Status& st, std::string_view what) {
  if (st.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(Sv(what), ": ", st.ToString()));
}

// A file name RocksDB wrote in its directory: no separator, not "." or "..".
bool PlainName(std::string_view n) { return !n.empty() && n.find('/') == std::string_view::npos && n != "." && n != ".."; }

}  // namespace

std::string EncodeNativeInstance(const NativeInstance& inst) {
  std::string out(kInstanceMagic);
  PutVarint(out, inst.max_parallelism);
  PutVarint(out, inst.first_key_group);
  PutVarint(out, inst.last_key_group);
  PutVarint(out, inst.files.size());
  for (const NativeFile& f : inst.files) {
    PutBytes(out, f.name);
    out.push_back(f.shared ? 1 : 0);
    if (f.shared) {
      PutBytes(out, f.file.path);
      PutVarint(out, static_cast<uint64_t>(f.file.size));
      PutVarint(out, f.file.hash);
    } else {
      PutBytes(out, f.bytes);
    }
  }
  return out;
}

absl::StatusOr<NativeInstance> DecodeNativeInstance(std::string_view in, std::string_view what) {
  auto damaged = [&](std::string_view why) {
    return absl::DataLossError(absl::StrCat("the RocksDB state of ", Sv(what), " is damaged: ", Sv(why)));
  };
  if (in.substr(0, kInstanceMagic.size()) != kInstanceMagic) return damaged("not in sluice's format");
  in.remove_prefix(kInstanceMagic.size());
  NativeInstance inst;
  uint64_t maxp, first, last, n;
  if (!GetVarint(in, &maxp) || !GetVarint(in, &first) || !GetVarint(in, &last) || !GetVarint(in, &n) ||
      maxp == 0 || maxp > 65536 || first > last || last >= maxp || n > in.size()) {
    return damaged("bad header");
  }
  inst.max_parallelism = static_cast<uint32_t>(maxp);
  inst.first_key_group = static_cast<uint32_t>(first);
  inst.last_key_group = static_cast<uint32_t>(last);
  for (uint64_t i = 0; i < n; ++i) {
    NativeFile f;
    if (!GetString(in, &f.name) || !PlainName(f.name) || in.empty()) return damaged("bad file entry");
    f.shared = in.front() == 1;
    in.remove_prefix(1);
    if (f.shared) {
      uint64_t size, hash;
      if (!GetString(in, &f.file.path) || !GetVarint(in, &size) || !GetVarint(in, &hash)) {
        return damaged("bad shared file entry");
      }
      f.file.size = static_cast<int64_t>(size);
      f.file.hash = hash;
    } else if (!GetString(in, &f.bytes)) {
      return damaged("bad inline file entry");
    }
    inst.files.push_back(std::move(f));
  }
  if (!in.empty()) return damaged("trailing bytes");
  return inst;
}

absl::Status DownloadNativeInstance(const NativeInstance& inst, const CheckpointStorage& storage,
                                    const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create state directory ", dir, ": ", ec.message()));
  for (const NativeFile& f : inst.files) {
    const std::string path = absl::StrCat(dir, "/", f.name);
    if (f.shared) {
      RETURN_IF_ERROR(storage.CopySharedFile(f.file, path));
      continue;
    }
    FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr) return absl::InternalError(absl::StrCat("cannot create ", path));
    const bool ok = std::fwrite(f.bytes.data(), 1, f.bytes.size(), out) == f.bytes.size();
    if (std::fclose(out) != 0 || !ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NativeInstanceReader>> NativeInstanceReader::Open(const NativeInstance& inst,
                                                                                 const CheckpointStorage& storage,
                                                                                 std::string dir) {
  std::unique_ptr<NativeInstanceReader> r(new NativeInstanceReader);
  r->instance_ = inst;
  r->dir_ = std::move(dir);
  std::error_code ec;
  std::filesystem::remove_all(r->dir_, ec);
  RETURN_IF_ERROR(DownloadNativeInstance(inst, storage, r->dir_));
  rocksdb::Options options;
  options.info_log_level = rocksdb::WARN_LEVEL;
  options.max_open_files = 64;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::ListColumnFamilies(options, r->dir_, &r->names_),
                            absl::StrCat("reading the RocksDB state fetched into ", r->dir_)));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& n : r->names_) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly(options, r->dir_, cfs, &r->handles_, &r->db_),
                            absl::StrCat("opening the RocksDB state fetched into ", r->dir_)));
  return r;
}

NativeInstanceReader::~NativeInstanceReader() {
  if (db_ != nullptr) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
    delete db_;
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

absl::Status NativeInstanceReader::Scan(std::string_view table, std::string_view begin, std::string_view end,
                                        const std::function<bool(std::string_view, std::string_view)>& fn) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] != table) continue;
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    rocksdb::Slice upper(end.data(), end.size());
    if (!end.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[i]));
    for (it->Seek(rocksdb::Slice(begin.data(), begin.size())); it->Valid(); it->Next()) {
      if (!fn(std::string_view(it->key().data(), it->key().size()),
              std::string_view(it->value().data(), it->value().size()))) {
        break;
      }
    }
    return FromRocks(it->status(), absl::StrCat("reading the checkpointed RocksDB state in ", dir_));
  }
  return absl::OkStatus();
}

std::string NewLocalInstanceDir(std::string_view base, std::string_view tag) {
  static std::atomic<int64_t> next{0};
  std::string root(base);
  if (root.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    root = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/sluice-restore");
  }
  return absl::StrCat(root, "/", Sv(tag), "-", ::getpid(), "-", next.fetch_add(1));
}

absl::Status CanonicalizeChainCheckpoint(ChainCheckpoint* cp, const CheckpointStorage& storage,
                                         std::string_view local_dir) {
  auto own = cp->blobs.find("");
  if (own == cp->blobs.end()) return absl::OkStatus();
  auto native = own->second.find(kNativeStateBlob);
  if (native == own->second.end()) return absl::OkStatus();
  ASSIGN_OR_RETURN(NativeInstance inst,
                   DecodeNativeInstance(native->second, absl::StrCat("checkpoint ", cp->id)));
  ASSIGN_OR_RETURN(std::unique_ptr<NativeInstanceReader> reader,
                   NativeInstanceReader::Open(inst, storage, NewLocalInstanceDir(local_dir, "savepoint")));
  for (auto& [node, blobs] : cp->blobs) {
    for (auto& [name, blob] : blobs) {
      if (name.compare(0, kKeyedStateBlobPrefix.size(), kKeyedStateBlobPrefix) != 0 ||
          blob.compare(0, kNativeStateMagic.size(), kNativeStateMagic) != 0) {
        continue;
      }
      // Magic, kind (1 byte), max_parallelism (4 bytes), then the entries.
      if (blob.size() != kNativeStateMagic.size() + 5) {
        return absl::DataLossError(absl::StrCat("state '", name, "' of node '", node, "' is damaged"));
      }
      std::string out(kCanonicalStateMagic);
      out.append(blob, kNativeStateMagic.size(), 5);
      RETURN_IF_ERROR(reader->Scan(absl::StrCat(node, "/", name.substr(kKeyedStateBlobPrefix.size())), "", "",
                                   [&](std::string_view k, std::string_view v) {
                                     PutBytes(out, k);
                                     PutBytes(out, v);
                                     return true;
                                   }));
      blob = std::move(out);
    }
  }
  own->second.erase(native);
  return absl::OkStatus();
}

}  // namespace sluice
