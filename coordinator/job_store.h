// The coordinator's durable state in RocksDB: job records (spec + state), plugin
// artifacts by content hash, and the job id counter. Every write is synced, so a
// coordinator killed at any point restarts knowing every job it acknowledged.
// Thread-safe: RocksDB serializes writes, and NextJobNumber's read-modify-write holds
// its own lock, so concurrent submits never share a number.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/v1/cluster.pb.h"

namespace rocksdb {
class DB;
}

namespace sluice::coordinator {

class JobStore {
 public:
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& dir);
  ~JobStore();

  absl::Status PutJob(const v1::JobRecord& job);
  absl::StatusOr<std::vector<v1::JobRecord>> LoadJobs();
  // Stores `content` under its hash (hex xxh3-128), which it returns.
  absl::StatusOr<std::string> PutArtifact(const std::string& content);
  // NOT_FOUND if no artifact has `hash`.
  absl::StatusOr<std::string> GetArtifact(const std::string& hash);
  // 1, 2, 3, ... across restarts; each number once, also to concurrent callers.
  absl::StatusOr<int64_t> NextJobNumber();

 private:
  struct DbDeleter {
    void operator()(rocksdb::DB* db) const;
  };
  explicit JobStore(rocksdb::DB* db) : db_(db) {}
  std::unique_ptr<rocksdb::DB, DbDeleter> db_;
  std::mutex counter_mu_;  // serializes NextJobNumber's read-modify-write
};

}  // namespace sluice::coordinator
