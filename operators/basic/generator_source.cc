// The generator source: synthetic records, the same after a restore as in an undisturbed run.
#include <algorithm>
#include <optional>
#include <random>
#include <sstream>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/basic/snapshot_state.h"
#include "operators/basic/sources.h"

namespace sluice::operators {

namespace {

// Subtask i of parallelism p generates the records seq in [count*i/p, count*(i+1)/p),
// record seq the next draw of an engine seeded with (seed, i): a stream. A snapshot
// keeps the next sequence number and the engine's state (std::mt19937_64's standard text
// form: its 312 state words and position), so the records after a restore are those of
// an undisturbed run.
//
// Which records a run generates depends on its parallelism (the ranges and the seeds),
// so a job restored at another parallelism cannot switch to the records of a run at the
// new one; it can, and does, finish those of the run it was checkpointed in. Every old
// stream, with its next record and engine, is dealt to a new subtask (round robin in
// order of seq), which generates its streams one after another in that order: the
// output is record for record the undisturbed old run's. (Its streams need not spread
// evenly: 2 subtasks restored at 3 leave one generating nothing.) A subtask that holds
// other streams than its own snapshots them all (format version 2, which also keeps
// `count`), so later restores, at this parallelism or another, carry them on.
class GeneratorSource : public Source {
 public:
  GeneratorSource(int64_t count, int64_t first, int64_t end, int64_t keys, int64_t start_ms, double per_ms,
                  int64_t disorder_ms, size_t batch_size, uint64_t seed)
      : count_(count), first_(first), end_(end), start_ms_(start_ms), per_ms_(per_ms), disorder_ms_(disorder_ms),
        batch_size_(batch_size) {
    streams_.push_back({first, first, end, std::mt19937_64(seed)});
    auto names = std::make_shared<std::vector<std::string>>();
    for (int64_t k = 0; k < keys; ++k) names->push_back(absl::StrCat("key-", k));
    keys_ = names;
    schema_ = std::make_shared<Schema>(std::vector<Field>{{"seq", Type::kInt64},
                                                          {"key", Type::kString},
                                                          {"value", Type::kDouble},
                                                          {"event_time", Type::kTimestamp}});
  }
  SchemaPtr output_schema() const override { return schema_; }
  bool bounded() const override { return true; }

  absl::StatusOr<bool> Poll(Collector& out) override {
    while (current_ < streams_.size() && streams_[current_].next >= streams_[current_].end) ++current_;
    if (current_ >= streams_.size()) return false;
    Stream& stream = streams_[current_];
    size_t n = static_cast<size_t>(std::min<int64_t>(batch_size_, stream.end - stream.next));
    BatchPtr b = out.NewBatch(schema_);
    b->AddBuffer(keys_);
    auto& seq = b->column(0).ints;
    auto& key = b->column(1).strings;
    auto& val = b->column(2).doubles;
    auto& et = b->column(3).ints;
    auto& ts = b->timestamps();
    const auto& names = *keys_;
    for (size_t i = 0; i < n; ++i, ++stream.next) {
      uint64_t r = stream.rng();
      int64_t t = start_ms_ + static_cast<int64_t>(stream.next / per_ms_);
      if (disorder_ms_ > 0) t -= static_cast<int64_t>((r >> 40) % (disorder_ms_ + 1));
      seq.push_back(stream.next);
      key.push_back(names[r % names.size()]);
      val.push_back(static_cast<double>((r >> 20) & 0xFFFF) / 100.0);
      et.push_back(t);
      ts.push_back(t);
    }
    b->set_num_rows(n);
    out.Emit(std::move(b));
    return true;
  }

  // Version 1 (one stream, the subtask's own) while the job has not been rescaled, so
  // such checkpoints stay readable by releases from before rescaling.
  absl::Status Snapshot(SnapshotWriter& writer) override {
    const bool own = streams_.size() == 1 && streams_[0].first == first_ && streams_[0].end == end_;
    StateWriter state(kKind, own ? 1 : 2);
    if (!own) state.Add("count", count_);
    for (const Stream& stream : streams_) {
      std::ostringstream engine;
      engine << stream.rng;
      state.Add("range", absl::StrCat(stream.first, " ", stream.end));
      state.Add("next", stream.next);
      state.Add("rng", engine.str());
    }
    writer.Write(kKind, std::move(state).Finish());
    return absl::OkStatus();
  }

  absl::Status Restore(SnapshotReader& reader) override {
    std::string blob;
    if (!reader.Read(kKind, &blob)) return absl::OkStatus();
    ASSIGN_OR_RETURN(Saved saved, Parse(blob));
    if (!saved.count.has_value()) {
      const Stream& stream = saved.streams.front();
      if (stream.first != first_ || stream.end != end_) {
        return absl::FailedPreconditionError(absl::StrCat(
            "generator: the checkpoint was taken generating seq from/to ", stream.first, " ", stream.end,
            ", this subtask now generates ", first_, " ", end_,
            "; restore with the same count and parallelism, or start without the checkpoint"));
      }
    } else {
      RETURN_IF_ERROR(CheckCount(*saved.count));
    }
    streams_ = std::move(saved.streams);
    current_ = 0;
    return absl::OkStatus();
  }

  absl::Status RestoreRescaled(RescaledSnapshotReader& reader) override {
    const int old_parallelism = reader.old_parallelism();
    std::vector<Stream> all;
    for (int old = 0; old < old_parallelism; ++old) {
      std::string blob;
      if (!reader.Read(old, kKind, &blob)) {
        return absl::DataLossError(absl::StrCat("generator: the checkpoint has no state of subtask ", old, " of ",
                                                old_parallelism, ": the records it had yet to generate are unknown"));
      }
      ASSIGN_OR_RETURN(Saved saved, Parse(blob));
      if (!saved.count.has_value()) {
        const Stream& stream = saved.streams.front();
        const int64_t first = count_ * old / old_parallelism, end = count_ * (old + 1) / old_parallelism;
        if (stream.first != first || stream.end != end) {
          return absl::FailedPreconditionError(absl::StrCat(
              "generator: subtask ", old, " of ", old_parallelism, " generated seq from/to ", stream.first, " ",
              stream.end, " when the checkpoint was taken; with the count the job now has it would generate ", first,
              " ", end, ": restore with the same count, or start without the checkpoint"));
        }
      } else {
        RETURN_IF_ERROR(CheckCount(*saved.count));
      }
      for (Stream& stream : saved.streams) all.push_back(std::move(stream));
    }
    std::sort(all.begin(), all.end(),
              [](const Stream& a, const Stream& b) { return std::tie(a.first, a.end) < std::tie(b.first, b.end); });
    // Each record in exactly one stream: none lost, none generated twice.
    int64_t covered = 0;
    for (const Stream& stream : all) {
      if (stream.first != covered) {
        return BadState(kKind, absl::StrCat("the old subtasks' ranges do not cover seq 0 to ", count_, " once (",
                                            stream.first < covered ? "twice" : "missing", " from ",
                                            std::min(stream.first, covered), ")"));
      }
      covered = stream.end;
    }
    if (covered != count_) return BadState(kKind, absl::StrCat("the old subtasks' ranges end at ", covered));
    streams_.clear();
    for (size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % reader.parallelism()) == reader.subtask_index()) streams_.push_back(std::move(all[i]));
    }
    current_ = 0;
    return absl::OkStatus();
  }

 private:
  static constexpr std::string_view kKind = "generator";
  struct Stream {
    int64_t first = 0, next = 0, end = 0;  // seq
    std::mt19937_64 rng;                   // draws record `next` next
  };
  // What one snapshot kept: version 1 one stream (the subtask's own) and no count.
  struct Saved {
    std::optional<int64_t> count;
    std::vector<Stream> streams;
  };

  static absl::StatusOr<Saved> Parse(const std::string& blob) {
    const int version = absl::StartsWith(blob, absl::StrCat("sluice ", Sv(kKind), " 2\n")) ? 2 : 1;
    ASSIGN_OR_RETURN(std::vector<StateLine> lines, ParseState(blob, kKind, version));
    Saved saved;
    // Each stream is a "range", "next", "rng" triple.
    std::vector<std::tuple<std::optional<std::pair<int64_t, int64_t>>, std::optional<int64_t>,
                           std::optional<std::mt19937_64>>>
        triples;
    for (const StateLine& line : lines) {
      if (line.key == "count" && version == 2 && !saved.count) {
        ASSIGN_OR_RETURN(saved.count, StateCount(kKind, line));
      } else if (line.key == "range") {
        std::pair<int64_t, int64_t> range;
        const size_t space = line.value.find(' ');
        if (space == std::string::npos || !absl::SimpleAtoi(line.value.substr(0, space), &range.first) ||
            !absl::SimpleAtoi(line.value.substr(space + 1), &range.second) || range.first < 0 ||
            range.second < range.first) {
          return BadState(kKind, absl::StrCat("bad range '", line.value.substr(0, 60), "'"));
        }
        triples.emplace_back(range, std::nullopt, std::nullopt);
      } else if (line.key == "next" && !triples.empty() && !std::get<1>(triples.back())) {
        ASSIGN_OR_RETURN(std::get<1>(triples.back()), StateInt(kKind, line));
      } else if (line.key == "rng" && !triples.empty() && !std::get<2>(triples.back())) {
        std::istringstream in(line.value);
        std::mt19937_64 rng;
        in >> rng;
        if (in.fail() || !(in >> std::ws).eof()) return BadState(kKind, "bad random engine state");
        std::get<2>(triples.back()) = rng;
      } else {
        return BadState(kKind, absl::StrCat("unexpected key '", line.key.substr(0, 40), "'"));
      }
    }
    if (version == 1 ? triples.size() != 1 : !saved.count) return BadState(kKind, "range, next, rng or count missing");
    for (auto& [range, next, rng] : triples) {
      if (!range || !next || !rng) return BadState(kKind, "range, next or rng missing");
      if (*next < range->first || *next > range->second) {
        return BadState(kKind, absl::StrCat("next ", *next, " outside the range"));
      }
      saved.streams.push_back({range->first, *next, range->second, *rng});
    }
    return saved;
  }

  absl::Status CheckCount(int64_t count) const {
    if (count == count_) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("generator: the checkpoint was taken generating ", count,
                                                      " records, the job now generates ", count_,
                                                      "; restore with the same count, or start without the "
                                                      "checkpoint"));
  }

  const int64_t count_;         // of the whole node
  const int64_t first_, end_;   // this subtask's own range at its parallelism
  int64_t start_ms_;
  double per_ms_;
  int64_t disorder_ms_;
  size_t batch_size_;
  std::vector<Stream> streams_;  // generated in this order
  size_t current_ = 0;           // the stream being generated
  std::shared_ptr<std::vector<std::string>> keys_;
  SchemaPtr schema_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeGeneratorSource(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"count", "keys", "start_time", "events_per_second",
                               "max_disorder", "batch_size", "seed"}));
  ASSIGN_OR_RETURN(int64_t count, p.GetIntOr("count", 1000000));
  ASSIGN_OR_RETURN(int64_t keys, p.GetIntOr("keys", 1000));
  ASSIGN_OR_RETURN(int64_t start, p.GetIntOr("start_time", 1700000000000));
  ASSIGN_OR_RETURN(double eps, p.GetDoubleOr("events_per_second", 100000));
  ASSIGN_OR_RETURN(int64_t disorder, p.GetDurationMsOr("max_disorder", 0));
  ASSIGN_OR_RETURN(int64_t batch_size, p.GetIntOr("batch_size", config.batch_size));
  ASSIGN_OR_RETURN(int64_t seed, p.GetIntOr("seed", 42));
  if (count < 0) return p.Find("count")->Error("must not be negative");
  if (keys < 1) return p.Find("keys")->Error("must be at least 1");
  if (eps <= 0) return p.Find("events_per_second")->Error("must be positive");
  if (batch_size < 1) return p.Find("batch_size")->Error("must be at least 1");
  int64_t first = count * config.subtask_index / config.parallelism;
  int64_t last = count * (config.subtask_index + 1) / config.parallelism;
  return std::make_unique<GeneratorSource>(count, first, last, keys, start, eps / 1000.0, disorder,
                                           static_cast<size_t>(batch_size),
                                           static_cast<uint64_t>(seed) * 7919 + config.subtask_index);
}

}  // namespace sluice::operators
