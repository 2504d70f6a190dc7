#include "operators/basic/snapshot_state.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace sluice::operators {
namespace {
constexpr std::string_view kEnd = "end ";
}  // namespace

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

StateWriter::StateWriter(std::string_view kind, int version) {
  text_ = absl::StrCat("sluice ", Sv(kind), " ", version, "\n");
}

void StateWriter::Add(std::string_view key, std::string_view value) {
  absl::StrAppend(&text_, Sv(key), " ");
  for (char c : value) {
    if (c == '\\') text_.append("\\\\");
    else if (c == '\n') text_.append("\\n");
    else text_.push_back(c);
  }
  text_.push_back('\n');
}

void StateWriter::Add(std::string_view key, int64_t value) { absl::StrAppend(&text_, Sv(key), " ", value, "\n"); }

std::string StateWriter::Finish() && {
  absl::StrAppend(&text_, Sv(kEnd), absl::Hex(Fnv1a64(text_), absl::kZeroPad16), "\n");
  return std::move(text_);
}

absl::Status BadState(std::string_view kind, std::string_view what) {
  return absl::DataLossError(absl::StrCat(Sv(kind), " snapshot: ", Sv(what)));
}

absl::StatusOr<std::vector<StateLine>> ParseState(std::string_view blob, std::string_view kind, int version) {
  const std::string head = absl::StrCat("sluice ", Sv(kind), " ", version);
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < blob.size()) {
    size_t nl = blob.find('\n', pos);
    if (nl == std::string_view::npos) {
      return BadState(kind, absl::StrCat("cut short (", blob.size(), " bytes, no end line)"));
    }
    lines.push_back(blob.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (lines.empty() || lines.front() != head) {
    std::string_view first = lines.empty() ? blob.substr(0, 40) : lines.front().substr(0, 40);
    return BadState(kind, absl::StrCat("expected a blob starting '", head, "', got '", absl::CHexEscape(Sv(first)), "'"));
  }
  if (lines.size() < 2 || !absl::StartsWith(Sv(lines.back()), Sv(kEnd))) {
    return BadState(kind, absl::StrCat("cut short (", blob.size(), " bytes, no end line)"));
  }
  const size_t body = blob.size() - lines.back().size() - 1;
  const std::string sum = absl::StrCat(absl::Hex(Fnv1a64(blob.substr(0, body)), absl::kZeroPad16));
  if (lines.back().substr(kEnd.size()) != sum) {
    return BadState(kind, absl::StrCat("damaged (checksum ", Sv(lines.back().substr(kEnd.size(), 16)),
                                       ", the content gives ", sum, ")"));
  }
  std::vector<StateLine> out;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos) {
      return BadState(kind, absl::StrCat("bad line ", i + 1, " '", Sv(line.substr(0, 80)), "'"));
    }
    StateLine parsed{std::string(line.substr(0, space)), ""};
    std::string_view value = line.substr(space + 1);
    for (size_t c = 0; c < value.size(); ++c) {
      if (value[c] != '\\') {
        parsed.value.push_back(value[c]);
      } else if (c + 1 < value.size() && (value[c + 1] == '\\' || value[c + 1] == 'n')) {
        parsed.value.push_back(value[++c] == 'n' ? '\n' : '\\');
      } else {
        return BadState(kind, absl::StrCat("bad escape in line ", i + 1));
      }
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

absl::StatusOr<int64_t> StateInt(std::string_view kind, const StateLine& line) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Sv(line.value), &v)) {
    return BadState(kind, absl::StrCat("bad ", line.key, " '", line.value.substr(0, 40), "'"));
  }
  return v;
}

absl::StatusOr<int64_t> StateCount(std::string_view kind, const StateLine& line) {
  absl::StatusOr<int64_t> v = StateInt(kind, line);
  if (v.ok() && *v < 0) return BadState(kind, absl::StrCat("negative ", line.key));
  return v;
}

}  // namespace sluice::operators
