// The wire encoding of a record batch between workers: one contiguous buffer per batch,
// columnar, no per-record framing and no protobuf per record. The schema is not sent —
// both ends know it from the plan — only a type signature that Decode checks.
//
// Layout (little-endian, as the host):
//   u32 magic "SLB1" | u32 columns | u64 rows | i64 timestamps[rows]
//   per column: u8 type | u8 has_nulls | [u8 nulls[rows]] | values
//   values: i64[rows] (int64, timestamp, bool), f64[rows] (double),
//           u32 lengths[rows] then the bytes (string), nothing (null).
//
// Decoded strings are views into the received buffer, which the batch keeps alive, so
// decoding copies no string.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sluice/record.h"

namespace sluice::runtime {

// Appends the encoding of `batch` to `*out`.
void EncodeBatch(const RecordBatch& batch, std::string* out);

// Decodes a buffer written by EncodeBatch into a batch of `schema`. DATA_LOSS if the
// buffer is truncated, corrupt, or its column types differ from `schema`.
absl::StatusOr<BatchPtr> DecodeBatch(std::shared_ptr<const std::string> data, const SchemaPtr& schema);

}  // namespace sluice::runtime
