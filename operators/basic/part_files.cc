#include "operators/basic/part_files.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/basic/snapshot_state.h"

namespace sluice::operators {
namespace {

constexpr std::string_view kKind = "file_sink";

std::string PartSuffix(int64_t part) { return absl::StrFormat(".part-%05d", part); }

// The part number of a published part name NAME.part-NNNNN, or -1.
int64_t PublishedPart(const std::string& file, const std::string& name) {
  const std::string prefix = absl::StrCat(name, ".part-");
  if (!absl::StartsWith(file, prefix)) return -1;
  const std::string digits = file.substr(prefix.size());
  int64_t part = -1;
  if (digits.empty() || digits.size() > 18) return -1;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return -1;
  }
  return absl::SimpleAtoi(digits, &part) ? part : -1;
}

}  // namespace

PartFiles::PartFiles(FileSystem& fs, std::string base)
    : fs_(fs),
      base_(std::move(base)),
      dir_(std::filesystem::path(base_).parent_path().string()),
      name_(std::filesystem::path(base_).filename().string()) {}

std::string PartFiles::InDir(const std::string& name) const {
  return dir_.empty() ? name : absl::StrCat(dir_, "/", name);
}

std::string PartFiles::PartPath(int64_t part) const { return absl::StrCat(base_, PartSuffix(part)); }

// Version 2 adds "retired" lines (the bases a subtask answers for after a rescale); a
// sink that holds none writes version 1, which releases from before rescaling read too.
absl::StatusOr<PartFiles::State> PartFiles::Parse(std::string_view blob) const {
  const int version = absl::StartsWith(Sv(blob), absl::StrCat("sluice ", Sv(kKind), " 2\n")) ? 2 : 1;
  ASSIGN_OR_RETURN(std::vector<StateLine> lines, ParseState(blob, kKind, version));
  State state;
  bool have_base = false, have_next = false;
  for (const StateLine& line : lines) {
    if (line.key == "base") {
      state.base = line.value;
      have_base = true;
    } else if (line.key == "next_part") {
      ASSIGN_OR_RETURN(state.next_part, StateInt(kKind, line));
      if (state.next_part < 0) return BadState(kKind, "negative next_part");
      have_next = true;
    } else if (line.key == "pending") {
      // "<part> <in-progress file name>"
      size_t space = line.value.find(' ');
      Pending p;
      if (space == std::string::npos || !absl::SimpleAtoi(line.value.substr(0, space), &p.part) || p.part < 0) {
        return BadState(kKind, absl::StrCat("bad pending '", line.value.substr(0, 80), "'"));
      }
      p.temp = line.value.substr(space + 1);
      if (p.temp.empty() || p.temp.find('/') != std::string::npos || p.temp[0] != '.') {
        return BadState(kKind, absl::StrCat("bad pending file name '", p.temp.substr(0, 80), "'"));
      }
      state.pending.push_back(std::move(p));
    } else if (line.key == "retired" && version >= 2) {
      // "<next part> <base>"
      size_t space = line.value.find(' ');
      Retired r;
      if (space == std::string::npos || !absl::SimpleAtoi(line.value.substr(0, space), &r.next_part) ||
          r.next_part < 0 || space + 1 == line.value.size()) {
        return BadState(kKind, absl::StrCat("bad retired '", line.value.substr(0, 80), "'"));
      }
      r.base = line.value.substr(space + 1);
      state.retired.push_back(std::move(r));
    } else {
      return BadState(kKind, absl::StrCat("unknown key '", line.key.substr(0, 40), "'"));
    }
  }
  if (!have_base || !have_next) return BadState(kKind, "base or next_part missing");
  for (const Pending& p : state.pending) {
    if (p.part >= state.next_part) return BadState(kKind, absl::StrCat("pending part ", p.part, " >= next_part"));
  }
  for (const Retired& r : state.retired) {
    if (r.base == state.base) return BadState(kKind, absl::StrCat(r.base, " both written and retired"));
    // Every base of one sink lies in the directory of its path.
    if (std::filesystem::path(r.base).parent_path().string() != dir_) {
      return absl::FailedPreconditionError(absl::StrCat("file_sink: the checkpoint was taken answering also for ",
                                                        r.base, ", the job now writes ", base_,
                                                        "; restore with the same path, or start without the "
                                                        "checkpoint"));
    }
  }
  return state;
}

absl::Status PartFiles::Restore(std::string_view blob) {
  ASSIGN_OR_RETURN(State state, Parse(blob));
  if (state.base != base_) {
    return absl::FailedPreconditionError(
        absl::StrCat("file_sink: the checkpoint was taken writing ", state.base, ", the job now writes ", base_,
                     "; restore with the same path and parallelism, or start without the checkpoint"));
  }
  next_part_ = state.next_part;
  restored_ = std::move(state.pending);
  retired_ = std::move(state.retired);
  std::sort(retired_.begin(), retired_.end(), [](const Retired& a, const Retired& b) { return a.base < b.base; });
  return absl::OkStatus();
}

absl::Status PartFiles::RestoreRescaled(const std::string& path, const std::vector<std::string>& old_states,
                                        int subtask, int parallelism) {
  const int old_parallelism = static_cast<int>(old_states.size());
  std::set<std::string> written;  // the bases of the new subtasks
  for (int s = 0; s < parallelism; ++s) written.insert(SubtaskBase(path, s, parallelism));
  std::set<std::string> seen;
  bool own = false;
  for (int old = 0; old < old_parallelism; ++old) {
    ASSIGN_OR_RETURN(State state, Parse(old_states[old]));
    const std::string expected = SubtaskBase(path, old, old_parallelism);
    if (state.base != expected) {
      return absl::FailedPreconditionError(absl::StrCat(
          "file_sink: subtask ", old, " of ", old_parallelism, " wrote ", state.base,
          " when the checkpoint was taken; with the path the job now has it would have written ", expected,
          ": restore with the same path, or start without the checkpoint"));
    }
    std::vector<Retired> bases = std::move(state.retired);
    bases.push_back({std::move(state.base), state.next_part, std::move(state.pending)});
    for (Retired& b : bases) {
      if (!seen.insert(b.base).second) {
        return BadState(kKind, absl::StrCat("two subtasks answer for ", b.base, " (subtask ", old, " is one)"));
      }
      if (b.base == base_) {
        next_part_ = b.next_part;
        restored_ = std::move(b.pending);
        own = true;
      } else if (written.count(b.base) == 0 && old % parallelism == subtask) {
        retired_.push_back(std::move(b));
      }
    }
  }
  if (!own) next_part_ = 0;  // a new base: Recover removes what an earlier run left under it
  std::sort(retired_.begin(), retired_.end(), [](const Retired& a, const Retired& b) { return a.base < b.base; });
  return absl::OkStatus();
}

std::vector<std::string> PartFiles::retired_bases() const {
  std::vector<std::string> out;
  for (const Retired& r : retired_) out.push_back(r.base);
  return out;
}

absl::Status PartFiles::Recover(const Context& ctx, OutputFence& fence, const Logger& log) {
  run_id_ = ctx.run_id();
  RETURN_IF_ERROR(fence.Publish([&]() -> absl::Status {
    RETURN_IF_ERROR(RollForward(base_, restored_, log));
    return DropLeftovers(base_, next_part_, log);
  }));
  restored_.clear();
  // A base no subtask writes any more: fenced like one's own, so that a stale attempt
  // of its old writer can no longer publish there.
  for (Retired& r : retired_) {
    ASSIGN_OR_RETURN(std::unique_ptr<OutputFence> retired_fence, OutputFence::Claim(r.base, ctx));
    RETURN_IF_ERROR(retired_fence->Publish([&]() -> absl::Status {
      RETURN_IF_ERROR(RollForward(r.base, r.pending, log));
      return DropLeftovers(r.base, r.next_part, log);
    }));
    r.pending.clear();
  }
  return absl::OkStatus();
}

absl::Status PartFiles::RollForward(const std::string& base, const std::vector<Pending>& pending,
                                    const Logger& log) {
  for (const Pending& p : pending) {
    const std::string temp = InDir(p.temp), final_path = absl::StrCat(base, PartSuffix(p.part));
    ASSIGN_OR_RETURN(bool in_progress, fs_.Exists(temp));
    if (in_progress) {
      RETURN_IF_ERROR(fs_.Rename(temp, final_path));
      log.Info("published %s (pending in the restored checkpoint)", final_path);
      continue;
    }
    ASSIGN_OR_RETURN(bool published, fs_.Exists(final_path));
    if (!published) {
      return absl::DataLossError(absl::StrCat(
          "file_sink: the restored checkpoint says ", final_path, " is pending in ", temp,
          ", but neither file exists (were they removed?): the output cannot be completed; remove the job's "
          "checkpoint to write everything again"));
    }
  }
  return absl::OkStatus();
}

absl::Status PartFiles::DropLeftovers(const std::string& base, int64_t next_part, const Logger& log) {
  const std::string name = std::filesystem::path(base).filename().string();
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.List(dir_.empty() ? "." : dir_));
  const std::string hidden = absl::StrCat(".", name, ".part-");
  for (const std::string& file : names) {
    if (absl::StartsWith(file, hidden) && absl::StrContains(file, ".inprogress")) {
      log.Info("dropping %s (written after the last checkpoint)", InDir(file));
      RETURN_IF_ERROR(fs_.RemoveAll(InDir(file)));
      continue;
    }
    const int64_t part = PublishedPart(file, name);
    if (part >= next_part) {
      log.Info("removing %s (left by an earlier run)", InDir(file));
      RETURN_IF_ERROR(fs_.RemoveAll(InDir(file)));
    }
  }
  return absl::OkStatus();
}

absl::Status PartFiles::StartPart() {
  current_temp_ = absl::StrCat(".", name_, PartSuffix(next_part_), ".inprogress.", run_id_);
  ASSIGN_OR_RETURN(current_, AtomicFile::Create(fs_, PartPath(next_part_), InDir(current_temp_)));
  ++next_part_;
  return absl::OkStatus();
}

absl::Status PartFiles::Append(std::string_view bytes) {
  if (current_ == nullptr) RETURN_IF_ERROR(StartPart());
  return current_->Append(bytes);
}

absl::StatusOr<std::string> PartFiles::Snapshot(int64_t checkpoint_id, bool at_end) {
  if (current_ == nullptr && at_end && next_part_ == 0) RETURN_IF_ERROR(StartPart());
  if (current_ != nullptr) {
    RETURN_IF_ERROR(current_->Finish());  // durable in its in-progress file
    pending_[checkpoint_id].push_back({next_part_ - 1, current_temp_});
    current_.reset();
  }
  StateWriter state(kKind, retired_.empty() ? 1 : 2);
  state.Add("base", base_);
  state.Add("next_part", next_part_);
  for (const auto& [id, parts] : pending_) {
    for (const Pending& p : parts) state.Add("pending", absl::StrCat(p.part, " ", p.temp));
  }
  // Recover published their pending parts: only the numbering is left to keep.
  for (const Retired& r : retired_) state.Add("retired", absl::StrCat(r.next_part, " ", r.base));
  return std::move(state).Finish();
}

absl::Status PartFiles::Publish(const Pending& p) {
  return fs_.Rename(InDir(p.temp), PartPath(p.part));
}

absl::Status PartFiles::Commit(int64_t checkpoint_id, OutputFence& fence) {
  while (!pending_.empty() && pending_.begin()->first <= checkpoint_id) {
    std::vector<Pending>& parts = pending_.begin()->second;
    while (!parts.empty()) {
      RETURN_IF_ERROR(fence.Publish([&] { return Publish(parts.front()); }));
      parts.erase(parts.begin());
    }
    pending_.erase(pending_.begin());
  }
  return absl::OkStatus();
}

std::string SubtaskBase(const std::string& path, int subtask, int parallelism) {
  return parallelism > 1 ? absl::StrCat(path, "-", subtask) : path;
}

void PartFiles::Abandon() {
  if (current_ != nullptr) current_->Discard();
  current_.reset();
}

}  // namespace sluice::operators
