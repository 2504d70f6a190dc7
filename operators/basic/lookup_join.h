// `lookup_join`: enriches each record with columns of a static table loaded from a CSV
// file (header line first), matching an input field against a table column — the YSB
// ad_id → campaign_id join. The table is loaded once per operator instance in Open and
// shared with the output batches that point into it. Misses are dropped and counted
// (`on_miss: drop`), kept with nulls (`null`), or sent to dead letters (`dead_letter`,
// reason `no_match`; the default, so nothing is lost silently).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators {

absl::StatusOr<std::unique_ptr<Operator>> MakeLookupJoin(const OperatorConfig& config);
absl::StatusOr<std::unique_ptr<Operator>> MakeUnion(const OperatorConfig& config);

// Splits one CSV line (RFC 4180 quoting) into fields. False if a quote is unbalanced.
bool SplitCsvLine(std::string_view line, std::vector<std::string>* fields);

}  // namespace sluice::operators
