#include "operators/basic/part_files.h"

#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "operators/basic/snapshot_state.h"

namespace sluice::operators {
namespace {

constexpr std::string_view kKind = "file_sink";
constexpr int kVersion = 1;

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

absl::Status PartFiles::Restore(std::string_view state) {
  ASSIGN_OR_RETURN(std::vector<StateLine> lines, ParseState(state, kKind, kVersion));
  bool have_base = false, have_next = false;
  std::vector<Pending> pending;
  for (const StateLine& line : lines) {
    if (line.key == "base") {
      if (line.value != base_) {
        return absl::FailedPreconditionError(
            absl::StrCat("file_sink: the checkpoint was taken writing ", line.value, ", the job now writes ", base_,
                         "; restore with the same path and parallelism, or start without the checkpoint"));
      }
      have_base = true;
    } else if (line.key == "next_part") {
      ASSIGN_OR_RETURN(next_part_, StateInt(kKind, line));
      if (next_part_ < 0) return BadState(kKind, "negative next_part");
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
      pending.push_back(std::move(p));
    } else {
      return BadState(kKind, absl::StrCat("unknown key '", line.key.substr(0, 40), "'"));
    }
  }
  if (!have_base || !have_next) return BadState(kKind, "base or next_part missing");
  for (const Pending& p : pending) {
    if (p.part >= next_part_) return BadState(kKind, absl::StrCat("pending part ", p.part, " >= next_part"));
  }
  restored_ = std::move(pending);
  return absl::OkStatus();
}

absl::Status PartFiles::Recover(const Context& ctx, OutputFence& fence, const Logger& log) {
  run_id_ = ctx.run_id();
  return fence.Publish([&]() -> absl::Status {
    RETURN_IF_ERROR(RollForward(log));
    return DropLeftovers(log);
  });
}

absl::Status PartFiles::RollForward(const Logger& log) {
  for (const Pending& p : restored_) {
    const std::string temp = InDir(p.temp), final_path = PartPath(p.part);
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
  restored_.clear();
  return absl::OkStatus();
}

absl::Status PartFiles::DropLeftovers(const Logger& log) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.List(dir_.empty() ? "." : dir_));
  const std::string hidden = absl::StrCat(".", name_, ".part-");
  for (const std::string& file : names) {
    if (absl::StartsWith(file, hidden) && absl::StrContains(file, ".inprogress")) {
      log.Info("dropping %s (written after the last checkpoint)", InDir(file));
      RETURN_IF_ERROR(fs_.RemoveAll(InDir(file)));
      continue;
    }
    const int64_t part = PublishedPart(file, name_);
    if (part >= next_part_) {
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
  StateWriter state(kKind, kVersion);
  state.Add("base", base_);
  state.Add("next_part", next_part_);
  for (const auto& [id, parts] : pending_) {
    for (const Pending& p : parts) state.Add("pending", absl::StrCat(p.part, " ", p.temp));
  }
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

void PartFiles::Abandon() {
  if (current_ != nullptr) current_->Discard();
  current_.reset();
}

}  // namespace sluice::operators
