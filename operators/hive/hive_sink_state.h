// The checkpoint blob of one hive_sink subtask: which writer it is, the partitions it has
// open, and everything it prepared that no notify has committed yet. Stored in the
// versioned, checksummed text format of operators/basic/snapshot_state.h ("sluice
// hive_sink 1" ... "end <checksum>"), so a blob cut short or damaged fails the restore
// with DATA_LOSS instead of committing the wrong files. Paths in the blob are relative
// to the table directory and must stay under it: even a well-formed blob cannot name a
// file elsewhere. Plain data and functions; no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::hive {

struct HiveSinkState {
  std::string table_dir;                  // the table written
  std::string owner;                      // names the writer's files (no '/')
  int64_t seq = 0;                        // sequence number of its next file
  std::map<std::string, int64_t> touched;  // partitions written, not finished: path -> end ms
  // Files finished and not committed, "<partition>/<file name>" (the name starts with
  // "part-"; its in-progress file is "<partition>/.<file name>.inprogress").
  std::vector<std::string> pending;
  std::vector<std::string> complete;  // partitions finished, not yet marked complete
};

std::string EncodeHiveSinkState(const HiveSinkState& state);

// Parses a blob EncodeHiveSinkState made. DATA_LOSS naming hive_sink when it is damaged,
// cut short, or names a path outside the table; FAILED_PRECONDITION when it was taken
// writing a table other than `table_dir`.
absl::StatusOr<HiveSinkState> DecodeHiveSinkState(std::string_view blob, const std::string& table_dir);

}  // namespace sluice::hive
