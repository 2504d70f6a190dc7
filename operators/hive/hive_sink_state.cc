#include "operators/hive/hive_sink_state.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "operators/basic/snapshot_state.h"

namespace sluice::hive {
namespace {

using operators::BadState;

constexpr std::string_view kKind = "hive_sink";
constexpr int kVersion = 1;

// A relative path that stays under the table: "dt=2026-11-20/hour=08" (no "..", ".", "//").
bool UnderTable(absl::string_view rel) {
  if (rel.empty() || rel.front() == '/') return false;
  for (absl::string_view part : absl::StrSplit(rel, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace

std::string EncodeHiveSinkState(const HiveSinkState& state) {
  operators::StateWriter w(kKind, kVersion);
  w.Add("table", state.table_dir);
  w.Add("owner", state.owner);
  w.Add("seq", state.seq);
  for (const auto& [path, end_ms] : state.touched) w.Add("touched", absl::StrCat(end_ms, " ", path));
  for (const auto& p : state.pending) w.Add("pending", p);
  for (const auto& c : state.complete) w.Add("complete", c);
  return std::move(w).Finish();
}

absl::StatusOr<HiveSinkState> DecodeHiveSinkState(std::string_view blob, const std::string& table_dir) {
  ASSIGN_OR_RETURN(std::vector<operators::StateLine> lines, operators::ParseState(blob, kKind, kVersion));
  HiveSinkState state;
  bool have_seq = false;
  for (const operators::StateLine& line : lines) {
    const std::string& v = line.value;
    if (line.key == "table") {
      state.table_dir = v;
    } else if (line.key == "owner" && !v.empty() && v.find('/') == std::string::npos) {
      state.owner = v;
    } else if (line.key == "seq") {
      ASSIGN_OR_RETURN(state.seq, operators::StateInt(kKind, line));
      have_seq = state.seq >= 0;
    } else if (line.key == "touched") {  // "<end ms> <partition>"
      const size_t space = v.find(' ');
      int64_t end_ms = 0;
      if (space == std::string::npos || !absl::SimpleAtoi(v.substr(0, space), &end_ms) ||
          !UnderTable(v.substr(space + 1))) {
        return BadState(kKind, absl::StrCat("bad touched '", v.substr(0, 80), "'"));
      }
      state.touched[v.substr(space + 1)] = end_ms;
    } else if (line.key == "pending") {
      const size_t slash = v.rfind('/');
      if (slash == std::string::npos || !UnderTable(v) || !absl::StartsWith(v.substr(slash + 1), "part-")) {
        return BadState(kKind, absl::StrCat("bad pending '", v.substr(0, 80), "'"));
      }
      state.pending.push_back(v);
    } else if (line.key == "complete" && UnderTable(v)) {
      state.complete.push_back(v);
    } else {
      return BadState(kKind, absl::StrCat("bad ", line.key.substr(0, 40), " '", v.substr(0, 80), "'"));
    }
  }
  if (state.table_dir.empty() || state.owner.empty() || !have_seq) {
    return BadState(kKind, "table, owner or seq missing");
  }
  if (state.table_dir != table_dir) {
    return absl::FailedPreconditionError(absl::StrCat("hive_sink: the checkpoint was taken writing ", state.table_dir,
                                                      ", the job now writes ", table_dir,
                                                      "; restore with the same table, or start without the checkpoint"));
  }
  return state;
}

}  // namespace sluice::hive
