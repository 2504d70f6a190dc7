// The Kafka transactions of one subtask of an exactly-once kafka_sink (`delivery:
// exactly_once`), as Flink's KafkaSink does it with EXACTLY_ONCE: the records between two
// checkpoints go into one Kafka transaction, which the checkpoint prepares (flushes and
// leaves open) and its completion (NotifyCheckpointComplete) commits.
//
// A librdkafka producer has at most one open transaction, but a prepared transaction stays
// open until its checkpoint completes while the records after the barrier need another.
// So a TransactionPool holds `size` transactional producers with the fixed ids
// `<prefix>-<subtask>-<k>`, k in [0, size): at most one transaction is *current* (takes
// records) and others are *pending* (prepared for a checkpoint, not committed yet). A
// producer is used again once its transaction is committed. The ids are fixed so that the
// next attempt (or run) knows them all and fences them at Open: init_transactions bumps
// the id's epoch, which makes the broker refuse the old producer (a zombie of an earlier
// attempt) and abort the transaction it left open.
//
// What librdkafka 2.0.2 cannot do: commit a transaction from another producer instance
// than the one that began it. Its transactional API is init, begin, send offsets, commit
// and abort, and init_transactions always aborts what the id left open (KIP-939 adds
// "keep the prepared transaction" to the protocol and the Java client; Flink's older
// producer resumed one through reflection on the Java client's internals). A restart
// therefore cannot roll forward the transactions that a completed checkpoint named but
// that were not committed before the failure: init_transactions aborts them, and their
// records are lost (the window between the checkpoint becoming durable and
// NotifyCheckpointComplete). TransactionState keeps them so the sink can say so.
//
// Not thread-safe: the task's thread calls everything. librdkafka's callbacks belong to
// the producers the ProducerFactory makes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "operators/kafka/kafka_common.h"
#include "sluice/operator.h"

namespace sluice::operators::kafka {

// One librdkafka producer and its handle on the sink's topic.
struct TopicProducer {
  KafkaHandle rk;
  KafkaTopic topic;  // declared after rk, so destroyed before it
};

// "<prefix>-<subtask>-<k>".
std::string TransactionalId(std::string_view prefix, int subtask, int k);

// What a checkpoint records about a subtask's transactions: the ids in use, and the
// transactions prepared for it and for earlier checkpoints that had not been committed
// when it was taken (those of failed checkpoints are committed with the next complete one).
struct TransactionState {
  std::string prefix;
  int subtask = 0;
  int pool_size = 0;
  std::vector<std::pair<int64_t, int>> pending;  // (checkpoint id, k), oldest first

  std::vector<std::string> ids() const;  // of the whole pool
  std::string Encode() const;
  // DATA_LOSS for a damaged blob.
  static absl::StatusOr<TransactionState> Decode(std::string_view blob);
};

// The status of a librdkafka transaction call (OK for null), naming `what`: UNAVAILABLE
// when retriable, ABORTED when the producer was fenced (another producer initialised its
// transactional.id since), INTERNAL otherwise.
absl::Status TransactionStatus(const rd_kafka_error_t* error, std::string_view what);

// Makes a producer whose transactional.id is `id` (the sink's configuration and callbacks).
using ProducerFactory = std::function<absl::StatusOr<TopicProducer>(const std::string& id)>;

// Fences `id` with a producer made for the purpose and destroyed: init_transactions aborts
// what an earlier producer with this id left open. Used for the ids of a restored
// checkpoint that the current pool does not use (the prefix or pool size changed).
absl::Status FenceTransactionalId(const ProducerFactory& make, const std::string& id, int64_t timeout_ms);

class TransactionPool {
 public:
  struct Counters {
    Counter* committed = nullptr;
    Counter* aborted = nullptr;
  };
  // `timeout_ms` bounds init_transactions and the aborts of AbortAll.
  TransactionPool(std::string prefix, int subtask, int size, int64_t timeout_ms, ProducerFactory make,
                  Counters counters);
  ~TransactionPool();  // purges what the producers still hold; aborts nothing

  // Makes the producers and calls init_transactions on each, in order: this fences the
  // producers that used these ids before and aborts the transactions they left open. An
  // error names the id (e.g. INTERNAL for a broker that refuses the transaction timeout).
  absl::Status Open();

  // The producer of the current transaction; begins one on a free producer when none is
  // current. FAILED_PRECONDITION when every producer holds a pending transaction (Prepare
  // keeps one free while records may follow). REQUIRES: Open succeeded.
  absl::StatusOr<TopicProducer*> Current();
  // The producer of the current transaction, or null.
  TopicProducer* current() { return current_ < 0 ? nullptr : &producers_[current_]; }

  // Makes the current transaction, if any, pending for `checkpoint` after `flush` (which
  // waits for its records' acknowledgements) succeeds; without one the checkpoint has no
  // transaction. UNAVAILABLE, changing nothing, when `more_records` and no producer would
  // stay free for the records after the checkpoint (too many checkpoints not completed:
  // the checkpoint is declined). `flush`'s error is returned as is.
  absl::Status Prepare(int64_t checkpoint, bool more_records, absl::FunctionRef<absl::Status(TopicProducer&)> flush);

  // Commits the pending transactions of checkpoints <= `checkpoint`, oldest first. A
  // failed commit is DATA_LOSS: the checkpoint completed, so its records will not be sent
  // again (an abortable failure is aborted first; a fenced producer has lost it anyway).
  absl::Status Commit(int64_t checkpoint);

  // Aborts the current transaction and the pending ones; `aborted_pending` gets the
  // checkpoints of the latter. Returns the first error, after trying them all.
  absl::Status AbortAll(std::vector<int64_t>* aborted_pending);

  TransactionState state() const;
  const std::string& id(int k) const { return ids_[k]; }
  int size() const { return static_cast<int>(ids_.size()); }
  int pending() const { return static_cast<int>(pending_.size()); }
  TopicProducer& producer(int k) { return producers_[k]; }

 private:
  bool IsPending(int k) const;

  std::string prefix_;
  int subtask_;
  int64_t timeout_ms_;
  ProducerFactory make_;
  Counters counters_;
  std::vector<std::string> ids_;
  std::vector<TopicProducer> producers_;
  int current_ = -1;
  int last_ = -1;                                 // the producer of the latest transaction
  std::vector<std::pair<int64_t, int>> pending_;  // (checkpoint, k), oldest first
};

}  // namespace sluice::operators::kafka
