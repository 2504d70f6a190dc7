// kafka_source: reads Kafka topics with librdkafka.
//
// Partitions are assigned by sluice, not by a consumer-group rebalance: the (topic,
// partition) pairs are sorted and subtask i owns every pair whose index % parallelism
// == i, so each partition has exactly one owning task, and its next offset goes into
// that task's checkpoints. A job restored at another parallelism deals the partitions
// out anew the same way and seeks each to the offset some old subtask checkpointed
// (RestoreRescaled). New partitions are discovered every `discovery_interval`. Consumed
// offsets are committed to `group_id` for lag monitoring only; they decide where reading
// starts only with `start: committed`.
//
// Output: key, value (strings), topic, partition, offset, timestamp (the Kafka
// timestamp); with `headers: true` also `headers`, a string holding the record's headers
// as a JSON object (kafka_headers.h; `{}` when it has none). With `watermarks`, each
// record's event time is its Kafka timestamp and the source emits per-partition
// watermarks: the minimum over its partitions of the largest timestamp seen minus
// `max_out_of_orderness`, leaving out partitions idle for `idle_timeout`; when all of
// its partitions are idle the subtask follows the wall clock (minus both) so a quiet
// partition does not stall event time.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators::kafka {

absl::StatusOr<std::unique_ptr<Source>> MakeKafkaSource(const OperatorConfig& config);

}  // namespace sluice::operators::kafka
