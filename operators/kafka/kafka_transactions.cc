#include "operators/kafka/kafka_transactions.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace sluice::operators::kafka {

std::string TransactionalId(std::string_view prefix, int subtask, int k) {
  return absl::StrCat(Sv(prefix), "-", subtask, "-", k);
}

std::vector<std::string> TransactionState::ids() const {
  std::vector<std::string> out;
  for (int k = 0; k < pool_size; ++k) out.push_back(TransactionalId(prefix, subtask, k));
  return out;
}

// Lines of tab-separated fields: "prefix P", "subtask S", "pool N", then "pending
// CHECKPOINT K" per pending transaction, oldest first. The prefix may hold anything but
// tabs and newlines (MakeKafkaSink refuses those).
std::string TransactionState::Encode() const {
  std::string out = absl::StrCat("prefix\t", prefix, "\nsubtask\t", subtask, "\npool\t", pool_size, "\n");
  for (const auto& [checkpoint, k] : pending) absl::StrAppend(&out, "pending\t", checkpoint, "\t", k, "\n");
  return out;
}

absl::StatusOr<TransactionState> TransactionState::Decode(std::string_view blob) {
  TransactionState s;
  bool has_prefix = false;
  for (absl::string_view line : absl::StrSplit(Sv(blob), '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
    bool ok = false;
    if (f[0] == "prefix" && f.size() == 2) {
      s.prefix = std::string(f[1]);
      ok = has_prefix = true;
    } else if (f[0] == "subtask" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &s.subtask);
    } else if (f[0] == "pool" && f.size() == 2) {
      ok = absl::SimpleAtoi(f[1], &s.pool_size) && s.pool_size > 0;
    } else if (f[0] == "pending" && f.size() == 3) {
      int64_t checkpoint;
      int k;
      ok = absl::SimpleAtoi(f[1], &checkpoint) && absl::SimpleAtoi(f[2], &k) && k >= 0;
      if (ok) s.pending.emplace_back(checkpoint, k);
    }
    if (!ok) return absl::DataLossError(absl::StrCat("kafka_sink state: bad line '", line, "'"));
  }
  if (!has_prefix || s.pool_size == 0) return absl::DataLossError("kafka_sink state: no prefix or pool size");
  for (const auto& [checkpoint, k] : s.pending) {
    if (k >= s.pool_size) return absl::DataLossError("kafka_sink state: a pending transaction outside the pool");
  }
  return s;
}

absl::Status TransactionStatus(const rd_kafka_error_t* error, std::string_view what) {
  if (error == nullptr) return absl::OkStatus();
  std::string msg = absl::StrCat("kafka ", Sv(what), ": ", rd_kafka_error_string(error), " (",
                                 rd_kafka_error_name(error), ")");
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  if (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
      code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
    return absl::AbortedError(absl::StrCat(msg, ": another producer initialised this transactional.id since (a later "
                                                "attempt of this job, or another job with the same "
                                                "transactional_id_prefix)"));
  }
  if (rd_kafka_error_is_retriable(error)) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

namespace {

absl::StatusOr<TopicProducer> MakeAndInit(const ProducerFactory& make, const std::string& id, int64_t timeout_ms) {
  ASSIGN_OR_RETURN(TopicProducer p, make(id));
  KafkaError e(rd_kafka_init_transactions(p.rk.get(), static_cast<int>(timeout_ms)));
  RETURN_IF_ERROR(TransactionStatus(e.get(), absl::StrCat("init_transactions for transactional.id ", id)));
  return p;
}

}  // namespace

absl::Status FenceTransactionalId(const ProducerFactory& make, const std::string& id, int64_t timeout_ms) {
  return MakeAndInit(make, id, timeout_ms).status();
}

TransactionPool::TransactionPool(std::string prefix, int subtask, int size, int64_t timeout_ms, ProducerFactory make,
                                 Counters counters)
    : prefix_(std::move(prefix)), subtask_(subtask), timeout_ms_(timeout_ms), make_(std::move(make)),
      counters_(counters) {
  for (int k = 0; k < size; ++k) ids_.push_back(TransactionalId(prefix_, subtask_, k));
}

TransactionPool::~TransactionPool() {
  for (TopicProducer& p : producers_) {
    if (p.rk != nullptr) rd_kafka_purge(p.rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }
}

absl::Status TransactionPool::Open() {
  producers_.clear();
  for (const std::string& id : ids_) {
    ASSIGN_OR_RETURN(TopicProducer p, MakeAndInit(make_, id, timeout_ms_));
    producers_.push_back(std::move(p));
  }
  return absl::OkStatus();
}

bool TransactionPool::IsPending(int k) const {
  return std::any_of(pending_.begin(), pending_.end(), [k](const auto& p) { return p.second == k; });
}

absl::StatusOr<TopicProducer*> TransactionPool::Current() {
  if (current_ >= 0) return &producers_[current_];
  for (int i = 1; i <= size(); ++i) {
    const int k = (last_ + i) % size();
    if (IsPending(k)) continue;
    KafkaError e(rd_kafka_begin_transaction(producers_[k].rk.get()));
    RETURN_IF_ERROR(TransactionStatus(e.get(), absl::StrCat("begin_transaction on ", ids_[k])));
    current_ = last_ = k;
    return &producers_[k];
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "kafka: all ", size(), " transactional producers hold transactions of checkpoints not completed yet"));
}

absl::Status TransactionPool::Prepare(int64_t checkpoint, bool more_records,
                                      absl::FunctionRef<absl::Status(TopicProducer&)> flush) {
  if (current_ < 0) return absl::OkStatus();
  if (more_records && pending() + 2 > size()) {
    return absl::UnavailableError(absl::StrCat(
        "kafka: declining checkpoint ", checkpoint, ": the transactions of checkpoint(s) ", pending_.front().first,
        pending_.size() > 1 ? absl::StrCat("..", pending_.back().first) : "",
        " are not committed yet (the checkpoints did not complete), and all ", size(),
        " transactional producers would then be taken; raise producer_pool_size, or let fewer checkpoints fail in a "
        "row"));
  }
  RETURN_IF_ERROR(flush(producers_[current_]));
  pending_.emplace_back(checkpoint, current_);
  current_ = -1;
  return absl::OkStatus();
}

absl::Status TransactionPool::Commit(int64_t checkpoint) {
  while (!pending_.empty() && pending_.front().first <= checkpoint) {
    const auto [id, k] = pending_.front();
    pending_.erase(pending_.begin());
    rd_kafka_t* rk = producers_[k].rk.get();
    // -1: within the transaction's remaining time, as librdkafka recommends. A retriable
    // error (a timeout) leaves the commit going on in the background; calling again resumes it.
    KafkaError e(rd_kafka_commit_transaction(rk, -1));
    if (e != nullptr && rd_kafka_error_is_retriable(e.get())) e.reset(rd_kafka_commit_transaction(rk, -1));
    if (e == nullptr) {
      counters_.committed->Add(1);
      continue;
    }
    absl::Status st =
        TransactionStatus(e.get(), absl::StrCat("commit of transaction ", ids_[k], " for checkpoint ", id));
    if (rd_kafka_error_txn_requires_abort(e.get())) {
      KafkaError ignored(rd_kafka_abort_transaction(rk, static_cast<int>(timeout_ms_)));
      counters_.aborted->Add(1);
    }
    return absl::DataLossError(absl::StrCat(st.message(), "; checkpoint ", id,
                                            " completed, so its records are not sent again: they are lost"));
  }
  return absl::OkStatus();
}

absl::Status TransactionPool::AbortAll(std::vector<int64_t>* aborted_pending) {
  absl::Status first;
  auto abort = [&](int k, std::string_view what) {
    KafkaError e(rd_kafka_abort_transaction(producers_[k].rk.get(), static_cast<int>(timeout_ms_)));
    if (e == nullptr) counters_.aborted->Add(1);
    first.Update(TransactionStatus(e.get(), absl::StrCat("abort of transaction ", ids_[k], " (", Sv(what), ")")));
  };
  if (current_ >= 0) abort(current_, "current");
  current_ = -1;
  for (const auto& [checkpoint, k] : pending_) {
    abort(k, absl::StrCat("pending for checkpoint ", checkpoint));
    aborted_pending->push_back(checkpoint);
  }
  pending_.clear();
  return first;
}

TransactionState TransactionPool::state() const {
  TransactionState s;
  s.prefix = prefix_;
  s.subtask = subtask_;
  s.pool_size = size();
  s.pending = pending_;
  return s;
}

}  // namespace sluice::operators::kafka
