// The `clean` operator: drops the records that fail data-cleaning rules and passes the
// rest through unchanged (the same batch, filtered in place). Each dropped record goes
// to the dead-letter output as a JSON rendering of the row, with the reason of the first
// rule (in order) that rejected it, and bumps the counter "dropped_<reason>".
//
// Params: `rules`, a list of maps, each with `reason` and exactly one of:
//   required: [f1, f2]                                 reject a null or empty value
//   match: {field: ua, regex: "(?i)bot|spider"}        reject if the RE2 regex matches
//   not_match: {field: f, regex: "..."}                reject unless it matches (or null)
//   range: {field: status, min: 200, max: 399}         reject unless min <= value <= max
//   in: {field: method, values: [GET, POST]}           reject unless one of the values
//   static_asset: {field: path, prefixes: [/static/], extensions: [css, js, ...]}
//                                                      reject a static-asset path
//   bot: {field: user_agent, words: [bot, spider, crawl]}
//                                                      reject if a word occurs (any case)
// A null value is rejected by required, not_match, range and in, and passes match,
// static_asset and bot. static_asset and bot use no regex. Every field must exist in the
// input; errors name the parameter's file, line and path. One instance per subtask;
// called on its task thread only.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "sluice/operator.h"

namespace sluice::operators::clean {

// Validates `config` (INVALID_ARGUMENT errors located at the offending parameter),
// compiles the regexes and builds one instance.
absl::StatusOr<std::unique_ptr<Operator>> CreateClean(const OperatorConfig& config);

}  // namespace sluice::operators::clean
