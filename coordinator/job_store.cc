#include "coordinator/job_store.h"

#include "absl/strings/str_cat.h"
#include "common/content_hash.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace sluice::coordinator {
namespace {

absl::Status FromRocks(const rocksdb::Status& st, const std::string& what) {
  if (st.ok()) return absl::OkStatus();
  if (st.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, ": not found"));
  return absl::InternalError(absl::StrCat(what, ": ", st.ToString()));
}

rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions w;
  w.sync = true;
  return w;
}

constexpr char kJobPrefix[] = "job/";
constexpr char kArtifactPrefix[] = "artifact/";
constexpr char kCounterKey[] = "meta/next_job";

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(options, dir, &db);
  if (!st.ok()) return absl::UnavailableError(absl::StrCat("cannot open the job store at ", dir, ": ", st.ToString()));
  return std::unique_ptr<JobStore>(new JobStore(db));
}

JobStore::~JobStore() = default;

void JobStore::DbDeleter::operator()(rocksdb::DB* db) const { delete db; }

absl::Status JobStore::PutJob(const v1::JobRecord& job) {
  std::string value;
  if (!job.SerializeToString(&value)) return absl::InternalError("cannot serialize a job record");
  return FromRocks(db_->Put(Synced(), absl::StrCat(kJobPrefix, job.job_id()), value),
                   absl::StrCat("storing job ", job.job_id()));
}

absl::StatusOr<std::vector<v1::JobRecord>> JobStore::LoadJobs() {
  std::vector<v1::JobRecord> jobs;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kJobPrefix); it->Valid() && it->key().starts_with(kJobPrefix); it->Next()) {
    v1::JobRecord job;
    if (!job.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(absl::StrCat("corrupt job record ", it->key().ToString()));
    }
    jobs.push_back(std::move(job));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading jobs");
  return jobs;
}

absl::StatusOr<std::string> JobStore::PutArtifact(const std::string& content) {
  std::string hash = ContentHash(content);
  absl::Status st = FromRocks(db_->Put(Synced(), absl::StrCat(kArtifactPrefix, hash), content), "storing an artifact");
  if (!st.ok()) return st;
  return hash;
}

absl::StatusOr<std::string> JobStore::GetArtifact(const std::string& hash) {
  std::string value;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), absl::StrCat(kArtifactPrefix, hash), &value);
  if (st.IsNotFound()) return absl::NotFoundError(absl::StrCat("no artifact with hash ", hash));
  if (!st.ok()) return FromRocks(st, "reading an artifact");
  return value;
}

absl::StatusOr<int64_t> JobStore::NextJobNumber() {
  std::lock_guard<std::mutex> lock(counter_mu_);
  std::string value;
  rocksdb::Status st = db_->Get(rocksdb::ReadOptions(), kCounterKey, &value);
  int64_t next = 1;
  if (st.ok()) {
    next = std::stoll(value);
  } else if (!st.IsNotFound()) {
    return FromRocks(st, "reading the job counter");
  }
  absl::Status put = FromRocks(db_->Put(Synced(), kCounterKey, std::to_string(next + 1)), "storing the job counter");
  if (!put.ok()) return put;
  return next;
}

}  // namespace sluice::coordinator
