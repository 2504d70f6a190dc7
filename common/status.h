// What each absl::StatusCode means in sluice. One table, used by every module.
//
// | Code                | Meaning                                      |
// | ------------------- | -------------------------------------------- |
// | UNAVAILABLE         | transient; retry                             |
// | ABORTED             | checkpoint or attempt abandoned              |
// | FAILED_PRECONDITION | wrong lifecycle state                        |
// | DATA_LOSS           | corruption                                   |
// | INVALID_ARGUMENT    | bad job or configuration                     |
// | NOT_FOUND           | a named file, operator type or field is absent |
// | INTERNAL            | a bug in sluice                              |
//
// Foreign errors are converted once, at the edge of the module that talks to them.
#pragma once

#include "absl/status/status.h"
#include "common/status_macros.h"

namespace sluice {

// Converts errno from a failed system call into a Status naming `context` (e.g. a path).
absl::Status ErrnoToStatus(int err, std::string_view context);

}  // namespace sluice
