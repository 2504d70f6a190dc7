// Hive's default text SerDe (LazySimpleSerDe) over sluice's columnar batches, as the
// DDL hive_sink writes declares it: FIELDS TERMINATED BY '\001', ESCAPED BY '\\',
// LINES TERMINATED BY '\n', NULL DEFINED AS '\N', 'serialization.escape.crlf'='true'.
//
// A row is one line: its fields separated by byte 0x01, ended by '\n'. Null is the two
// bytes \N. Strings are bytes (non-UTF-8 is kept as is); 0x01, 0x02, 0x03 (Hive's field,
// collection and map-key delimiters) and '\' are written as '\' followed by the byte,
// newline and carriage return as the two-byte sequences \n and \r (so no row contains a
// raw line break); every other byte as is. An empty string is an empty field, and a
// string "\N" is written \\N, so it never reads back as null. bool is true/false; int64
// decimal; double the shortest form that reads back exactly, with NaN, Infinity and
// -Infinity spelled as Java prints them; timestamp "YYYY-MM-DD HH:MM:SS" in UTC, with
// ".fff" appended when the millisecond part is not zero.
//
// Reading follows Hive: fields are split at unescaped 0x01, missing trailing fields are
// null, extra fields are ignored, and a value that does not parse as its column's type is
// null (reported so callers can count it).
//
// All functions are thread-compatible: HiveTextDecoder keeps no state beyond its schema,
// and may be shared by threads that decode into different batches.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/record.h"

namespace sluice::hive {

// The Hive column type for a sluice type: STRING, BIGINT, DOUBLE, BOOLEAN or TIMESTAMP.
// kNull maps to STRING (Hive tables cannot declare VOID columns; every value is \N).
std::string_view HiveTypeName(Type t);

// Appends row `row` of `batch` as one Hive text line ending in '\n': the values of
// `columns` (indices into the batch, in that order) separated by 0x01.
// REQUIRES: row < batch.num_rows(); every index in `columns` is a column of `batch`.
void AppendRow(const RecordBatch& batch, size_t row, const std::vector<int>& columns, std::string* out);

// Decodes Hive text lines into rows of a fixed schema.
class HiveTextDecoder {
 public:
  explicit HiveTextDecoder(SchemaPtr schema) : schema_(std::move(schema)) {}

  // Appends one row, decoded from `line` (without its '\n'), to `batch`: one value per
  // column, a kNoTimestamp event time, and a row count one higher. A raw '\r' ending the
  // line is dropped (a CRLF file; Hadoop's line reader drops it too). Extra fields are
  // ignored and missing trailing fields are null. A field that is empty in a non-string
  // column is null. A value that does not parse as its column's type becomes null and
  // sets *bad to true; otherwise *bad is set to false (`bad` may be null).
  // Strings that contained escapes are unescaped into batch->arena(); the others are
  // views into `line` when `line_is_stable` (the caller keeps that memory alive as long
  // as the batch, e.g. with RecordBatch::AddBuffer), and copied into the arena otherwise.
  // Each column's null flags stay either empty or one per row.
  // REQUIRES: batch's columns have the types of the decoder's schema.
  void AppendLine(std::string_view line, bool line_is_stable, RecordBatch* batch, bool* bad) const;

  const SchemaPtr& schema() const { return schema_; }

 private:
  SchemaPtr schema_;
};

}  // namespace sluice::hive
