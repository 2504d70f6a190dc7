#include "operators/basic/register.h"

#include "common/status_macros.h"
#include "operators/basic/lookup_join.h"
#include "operators/basic/sinks.h"
#include "operators/basic/sources.h"
#include "operators/basic/throttle.h"

namespace sluice::operators {

absl::Status RegisterBasicOperators(OperatorRegistry& r) {
  RETURN_IF_ERROR(r.RegisterSource("file_source", MakeFileSource,
                                   "lines of files (paths, globs, .gz), split across subtasks"));
  RETURN_IF_ERROR(r.RegisterSource("stdin_source", MakeStdinSource, "lines of standard input"));
  RETURN_IF_ERROR(r.RegisterSource("generator", MakeGeneratorSource,
                                   "synthetic keyed records (seq, key, value, event_time)"));
  RETURN_IF_ERROR(r.RegisterSink("file_sink", MakeFileSink, "TSV or JSON-lines file, atomically renamed"));
  RETURN_IF_ERROR(r.RegisterSink("console_sink", MakeConsoleSink, "rows to stdout"));
  RETURN_IF_ERROR(r.RegisterOperator("lookup_join", MakeLookupJoin, "enrich from a static CSV table"));
  RETURN_IF_ERROR(r.RegisterOperator("union", MakeUnion, "merge inputs of one schema"));
  RETURN_IF_ERROR(r.RegisterOperator("throttle", MakeThrottle, "pass records at most at a given rate (slow consumer)"));
  return absl::OkStatus();
}

}  // namespace sluice::operators
