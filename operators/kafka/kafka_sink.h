// kafka_sink: writes each record to a Kafka topic with an idempotent (or transactional)
// librdkafka producer.
//
// The value is the row as a JSON object (`format: json`, default) or one string field
// (`format: raw`, `field`); the key is a field's text (`key`), or none. Keyed records
// are partitioned like the Java producer and kafkajs do (`partitioner`, default
// murmur2_random). Headers come from fields (`headers`, named after the field) and/or a
// field holding a JSON object of them (`headers_field`, as kafka_source outputs it); a
// record whose headers object is not valid is a dead letter `bad_headers`. Records are
// batched by librdkafka (`linger.ms` 5 by default) and compressed only when asked
// (`compression`: none by default, which every client reads; gzip, snappy, lz4, zstd).
// A full producer queue blocks the task (backpressure). A
// record that cannot be delivered (after librdkafka's retries, within
// `message.timeout.ms`) fails the task with the reason: nothing is dropped silently. At
// end of input the sink waits until every record is acknowledged.
//
// `delivery: at_least_once` (default): with checkpoints, Snapshot also waits for every
// acknowledgement, so a completed checkpoint covers all records before its barrier
// (after a restart, those after it are written again: duplicates, never gaps).
// `delivery: exactly_once` (needs checkpoints): one Kafka transaction per checkpoint and
// subtask from a pool of transactional producers (`<transactional_id_prefix>-<subtask>-<k>`),
// prepared by Snapshot and committed by NotifyCheckpointComplete; Close aborts what is not
// committed. A transaction of a completed checkpoint whose commit a failure prevented is
// aborted at the restart (librdkafka cannot commit it from another producer): see
// kafka_transactions.h and README.md for this window and what the tests cannot show.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators::kafka {

absl::StatusOr<std::unique_ptr<Operator>> MakeKafkaSink(const OperatorConfig& config);

}  // namespace sluice::operators::kafka
