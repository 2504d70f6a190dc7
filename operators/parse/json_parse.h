// The `json_parse` operator: extracts chosen fields from one JSON object per input
// string (a line) into typed columns, with simdjson's On Demand API: one parser per
// instance, the wanted keys looked up in the order the previous line had them (one pass
// over a line when lines share a layout), and strings without escapes emitted as views
// into the input line (no copy). Lines that are not a JSON object go to the
// dead-letter output ("malformed"), as do values of the wrong type ("bad_type") and, with
// `on_missing: dead_letter`, objects lacking a field ("missing_field").
//
// Params:
//   field: line                          input string field
//   fields: {ad_id: string, user.id: int64, event_time: timestamp}
//       output name -> type (string, int64, double, bool, timestamp), in output order; a
//       dotted name is a path into nested objects. Or the list form, which renames:
//       [{name: uid, path: user.id, type: string}]  (path defaults to name, type to string)
//   keep: [source]                       input fields carried through, before the parsed ones
//   on_missing: null                     or dead_letter
//
// Conversions: int64 and timestamp (ms since epoch) take integral JSON numbers (5, 5.0,
// 5e3); double takes any number; int64, timestamp and double also take a JSON string
// holding such a number ("1469118480000"). bool takes true/false only, string only JSON
// strings. A JSON null gives a null value (an explicit null is never "missing"); a nested
// field under an absent or null object is missing, under any other non-object it is a
// "bad_type". When a key repeats, which of its values is used is unspecified. Values of
// fields not extracted are skipped without being validated, as On Demand does (only the
// balance of their brackets is checked); keys spelled with escapes ("ad\u005fid") match.
// One instance per subtask; called on its task thread only.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators::parse {

// Validates `config` (INVALID_ARGUMENT errors located at the offending parameter) and
// builds one instance.
absl::StatusOr<std::unique_ptr<Operator>> CreateJsonParse(const OperatorConfig& config);

}  // namespace sluice::operators::parse
