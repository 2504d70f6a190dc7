#include "cli/state_flags.h"

#include <malloc.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "runtime/state/kv_store.h"

namespace sluice::cli {

void AddStateFlags(CLI::App* cmd, StateFlags* flags) {
  cmd->add_option("--state-dir", flags->dir,
                  "Local directory for RocksDB keyed state (state: {backend: rocksdb}); default $TMPDIR/sluice-state");
  cmd->add_option("--state-memory", flags->memory,
                  "Memory for RocksDB keyed state, shared by all tasks of this process (block cache and memtables)")
      ->capture_default_str();
  cmd->add_option("--state-incremental", flags->incremental,
                  "RocksDB keyed state: each checkpoint uploads only the SST files the last one lacks (false: every "
                  "checkpoint writes every entry)")
      ->capture_default_str();
}

absl::Status ApplyStateFlags(const StateFlags& flags, bool rocksdb_state) {
  auto bytes = runtime::ParseByteSize(flags.memory);
  if (!bytes.ok()) return absl::InvalidArgumentError(absl::StrCat("--state-memory: ", bytes.status().message()));
  if (*bytes < (int64_t{16} << 20)) return absl::InvalidArgumentError("--state-memory: at least 16MiB");
  runtime::RocksDbStateOptions options;
  options.local_dir = flags.dir;
  options.memory_bytes = *bytes;
  options.incremental = flags.incremental;
  options.write_cache_bytes = std::min<int64_t>(options.write_cache_bytes, *bytes / 8);
  runtime::SetRocksDbStateOptions(options);
  // glibc gives threads up to 8 arenas per core, and memory freed in one (RocksDB's
  // compactions, the write-back caches) is not reused by another: 20M window keys in
  // RocksDB peaked at 531 MiB with the default and 469 MiB with 2 arenas (bench/README.md).
  // Not for every job: YSB in memory spent about 5% more CPU with 2.
  if (rocksdb_state && std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  return absl::OkStatus();
}

}  // namespace sluice::cli
