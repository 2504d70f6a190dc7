#include "operators/kafka/kafka_source.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <regex>
#include <set>

#include "absl/strings/numbers.h"
#include "simdjson.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "operators/kafka/kafka_common.h"
#include "operators/kafka/kafka_headers.h"

namespace sluice::operators::kafka {
namespace {

// key, value, topic, partition, offset, timestamp; then, with `headers: true`, the
// record's headers as a JSON object (kafka_headers.h).
SchemaPtr KafkaSchema(bool with_headers) {
  static const SchemaPtr plain = std::make_shared<Schema>(std::vector<Field>{{"key", Type::kString},
                                                                             {"value", Type::kString},
                                                                             {"topic", Type::kString},
                                                                             {"partition", Type::kInt64},
                                                                             {"offset", Type::kInt64},
                                                                             {"timestamp", Type::kTimestamp}});
  static const SchemaPtr headers = [] {
    std::vector<Field> fields = plain->fields();
    fields.push_back({"headers", Type::kString});
    return std::make_shared<Schema>(std::move(fields));
  }();
  return with_headers ? headers : plain;
}
constexpr int kHeadersColumn = 6;

// Reads one top-level field of a JSON object as milliseconds since the epoch: an
// integral number or a string of digits. Copies the value into a padded buffer
// (librdkafka's payloads carry no simdjson padding).
class JsonTimeField {
 public:
  explicit JsonTimeField(std::string field) : field_(std::move(field)) {}

  bool Read(std::string_view json, int64_t* ms) {
    if (scratch_.size() < json.size() + simdjson::SIMDJSON_PADDING) {
      scratch_.resize(json.size() + simdjson::SIMDJSON_PADDING + 1024);
    }
    std::memcpy(scratch_.data(), json.data(), json.size());
    std::memset(scratch_.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::document doc;
    if (parser_.iterate(scratch_.data(), json.size(), scratch_.size()).get(doc) != simdjson::SUCCESS) return false;
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
    simdjson::ondemand::value v;
    if (obj.find_field_unordered(field_).get(v) != simdjson::SUCCESS) return false;
    simdjson::ondemand::json_type type;
    if (v.type().get(type) != simdjson::SUCCESS) return false;
    if (type == simdjson::ondemand::json_type::number) {
      if (v.get_int64().get(*ms) == simdjson::SUCCESS) return true;
      double d;
      if (v.get_double().get(d) != simdjson::SUCCESS || d != static_cast<double>(static_cast<int64_t>(d))) return false;
      *ms = static_cast<int64_t>(d);
      return true;
    }
    if (type == simdjson::ondemand::json_type::string) {
      std::string_view text;
      if (v.get_string().get(text) != simdjson::SUCCESS) return false;
      return absl::SimpleAtoi(Sv(text), ms);
    }
    return false;
  }

 private:
  std::string field_;
  simdjson::ondemand::parser parser_;
  std::vector<char> scratch_;
};

enum class Start { kEarliest, kLatest, kCommitted, kTimestamp };

struct Options {
  std::map<std::string, std::string> props;
  std::vector<std::string> topics;
  std::string pattern;
  Start start = Start::kCommitted;
  int64_t start_ms = 0;
  bool bounded = false;
  bool watermarks = false;
  bool headers = false;  // output the records' headers as a JSON object
  int64_t out_of_orderness_ms = 0;
  int64_t idle_timeout_ms = 10000;
  std::string time_field;  // event time from this field of the JSON value, else the Kafka timestamp
  int64_t discovery_ms = 10000;
  int64_t stop_when_idle_ms = 0;  // 0: never
  size_t batch_size = 2048;
  const Param* params = nullptr;
};

struct PartitionState {
  std::string topic;
  int32_t partition = 0;
  int64_t next_offset = -1;  // unknown until the first record
  int64_t end_offset = -1;   // bounded: stop here
  int64_t max_ts = kNoTimestamp;
  int64_t last_active_ms = 0;
  bool at_end = false;       // bounded: the fetcher reported the end offset
};

class KafkaSource : public Source {
 public:
  KafkaSource(Options o, int subtask, int parallelism, std::string node)
      : o_(std::move(o)), subtask_(subtask), parallelism_(parallelism), node_(std::move(node)) {}
  ~KafkaSource() override { CloseConsumer(); }

  SchemaPtr output_schema() const override { return KafkaSchema(o_.headers); }
  bool bounded() const override { return o_.bounded; }

  absl::Status Open(Context& ctx) override {
    log_ = ctx.logger();  // a copy: the error callback below uses it too
    clock_ = &ctx.clock();
    last_record_ms_ = clock_->NowMs();
    if (!o_.time_field.empty()) time_field_ = std::make_unique<JsonTimeField>(o_.time_field);
    errors_ = ctx.GetCounter("kafka_errors");
    ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(o_.props, *o_.params));
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t*, int err, const char* reason, void* opaque) {
      auto* self = static_cast<KafkaSource*>(opaque);
      self->errors_->Add(1);
      self->log_.Warn("kafka: %s (%s)", reason, rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)));
    });
    char err[512];
    rk_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), err, sizeof(err)));
    if (rk_ == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
    rd_kafka_poll_set_consumer(rk_.get());
    queue_.reset(rd_kafka_queue_get_consumer(rk_.get()));
    RETURN_IF_ERROR(Discover(/*initial=*/true));
    log_.Info("reading %d partition(s) of %s", parts_.size(),
              o_.pattern.empty() ? absl::StrJoin(o_.topics, ",") : o_.pattern);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> Poll(Collector& out) override {
    int64_t now = clock_->NowMs();
    if (now - last_discovery_ms_ >= o_.discovery_ms && !o_.bounded) RETURN_IF_ERROR(Discover(false));
    if (o_.bounded && Exhausted()) return false;
    if (parts_.empty()) {
      if (!idle_announced_ && !o_.bounded) {
        out.EmitWatermark(kMaxWatermark - 1);  // owns nothing: never hold event time back
        idle_announced_ = true;
      }
      if (o_.bounded) return false;
      if (o_.stop_when_idle_ms > 0 && now - last_record_ms_ > o_.stop_when_idle_ms) return false;
      clock_->SleepMs(100);
      return true;
    }
    if (o_.stop_when_idle_ms > 0 && now - last_record_ms_ > o_.stop_when_idle_ms) {
      log_.Info("no record for %d ms: ending the stream", o_.stop_when_idle_ms);
      return false;
    }
    msgs_.resize(o_.batch_size);
    ssize_t n = rd_kafka_consume_batch_queue(queue_.get(), 100, msgs_.data(), msgs_.size());
    if (n < 0) return absl::UnavailableError(absl::StrCat("kafka consume: ", rd_kafka_err2str(rd_kafka_last_error())));
    BatchPtr batch;
    for (ssize_t i = 0; i < n; ++i) {
      rd_kafka_message_t* m = msgs_[i];
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          errors_->Add(1);
          absl::Status st = absl::UnavailableError(absl::StrCat("kafka: ", rd_kafka_message_errstr(m)));
          bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
          rd_kafka_message_destroy(m);
          if (fatal) {
            for (ssize_t j = i + 1; j < n; ++j) rd_kafka_message_destroy(msgs_[j]);
            return st;
          }
          log_.Warn("%s", std::string(st.message()));
          continue;
        }
        // End of a partition (bounded mode enables these events).
        if (PartitionState* ps = Find(rd_kafka_topic_name(m->rkt), m->partition);
            ps != nullptr && m->offset >= ps->end_offset) {
          ps->at_end = true;
        }
        rd_kafka_message_destroy(m);
        continue;
      }
      if (batch == nullptr) batch = out.NewBatch(KafkaSchema(o_.headers));
      PartitionState* ps = Find(rd_kafka_topic_name(m->rkt), m->partition);
      if (ps == nullptr || (ps->next_offset >= 0 && m->offset < ps->next_offset)) {
        rd_kafka_message_destroy(m);  // not ours any more, or a replay after re-assignment
        continue;
      }
      if (o_.bounded && ps->end_offset >= 0 && m->offset >= ps->end_offset) {
        rd_kafka_message_destroy(m);
        continue;
      }
      rd_kafka_timestamp_type_t tstype;
      int64_t ts = rd_kafka_message_timestamp(m, &tstype);
      const std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      int64_t event_ts = ts;
      if (time_field_ != nullptr && !time_field_->Read(value, &event_ts)) {
        // No usable event time: a dead letter, and the offset counts as read.
        out.EmitDeadLetter("missing_event_time", value);
        ps->next_offset = m->offset + 1;
        ps->last_active_ms = now;
        last_record_ms_ = now;
        rd_kafka_message_destroy(m);
        continue;
      }
      Arena& arena = batch->arena();
      batch->column(0).strings.push_back(
          arena.Copy(std::string_view(static_cast<const char*>(m->key), m->key ? m->key_len : 0)));
      if (m->key == nullptr) batch->column(0).SetNull(batch->column(0).strings.size() - 1, batch->column(0).strings.size());
      batch->column(1).strings.push_back(arena.Copy(value));
      batch->column(2).strings.push_back(arena.Copy(ps->topic));
      batch->column(3).ints.push_back(m->partition);
      batch->column(4).ints.push_back(m->offset);
      batch->column(5).ints.push_back(ts);
      if (o_.headers) {
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) hdrs = nullptr;
        headers_scratch_.clear();
        AppendHeadersJson(hdrs, &headers_scratch_);
        batch->column(kHeadersColumn).strings.push_back(arena.Copy(headers_scratch_));
      }
      batch->timestamps().push_back(o_.watermarks && event_ts >= 0 ? event_ts : kNoTimestamp);
      ps->next_offset = m->offset + 1;
      ps->last_active_ms = now;
      last_record_ms_ = now;
      if (event_ts > ps->max_ts) ps->max_ts = event_ts;
      rd_kafka_message_destroy(m);
    }
    if (batch != nullptr && batch->timestamps().size() > 0) {
      batch->set_num_rows(batch->timestamps().size());
      out.Emit(std::move(batch));
    }
    if (o_.watermarks) EmitWatermark(out, now);
    return !(o_.bounded && Exhausted());
  }

  absl::Status Close() override {
    CloseConsumer();
    return absl::OkStatus();
  }

  // Checkpoints: the next offset of every partition read so far. A restored job starts
  // each of them there, whatever `start` says; partitions the checkpoint does not know
  // start as configured.
  absl::Status Snapshot(SnapshotWriter& writer) override {
    std::string state;
    for (const auto& p : parts_) {
      if (p.next_offset >= 0) absl::StrAppend(&state, p.topic, "\t", p.partition, "\t", p.next_offset, "\n");
    }
    writer.Write("offsets", state);
    pending_commits_[writer.checkpoint_id()] = state;
    return absl::OkStatus();
  }

  absl::Status Restore(SnapshotReader& reader) override {
    std::string state;
    if (!reader.Read("offsets", &state)) return absl::OkStatus();
    return MergeOffsets(state);
  }

  // At another parallelism: the offsets of every old subtask. Partitions are dealt out
  // at Open from the partition list, so all of them are kept, and Discover seeks each
  // partition this subtask gets to its offset, as after a restore at the same
  // parallelism (a partition no old subtask had read starts as configured; one that
  // appears in a later discovery still finds its offset here). Offsets are all a
  // snapshot holds, at any parallelism: each partition's event time (with `watermarks`)
  // starts again from its first record after the restore. Commits need nothing: each
  // subtask commits the partitions it owns, from its own snapshots.
  absl::Status RestoreRescaled(RescaledSnapshotReader& reader) override {
    for (int old = 0; old < reader.old_parallelism(); ++old) {
      std::string state;
      // An old subtask without a blob is treated as one that had read nothing, as a
      // restore at the same parallelism treats it.
      if (reader.Read(old, "offsets", &state)) RETURN_IF_ERROR(MergeOffsets(state));
    }
    return absl::OkStatus();
  }

  // The checkpoint is durable: its offsets become the group's committed offsets (for lag
  // monitoring; the job itself restores from the checkpoint, not from the group).
  absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) override {
    auto it = pending_commits_.find(checkpoint_id);
    if (it == pending_commits_.end() || rk_ == nullptr) return absl::OkStatus();
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(parts_.size())));
    for (absl::string_view line : absl::StrSplit(it->second, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      int32_t partition = 0;
      int64_t offset = 0;
      if (f.size() == 3 && absl::SimpleAtoi(f[1], &partition) && absl::SimpleAtoi(f[2], &offset)) {
        rd_kafka_topic_partition_list_add(list.get(), f[0].c_str(), partition)->offset = offset;
      }
    }
    pending_commits_.erase(pending_commits_.begin(), std::next(it));
    if (list->cnt > 0) rd_kafka_commit(rk_.get(), list.get(), /*async=*/1);
    return absl::OkStatus();
  }

 private:
  // Adds the offsets of one snapshot to restored_. A partition has one owner, so it is in
  // at most one old subtask's snapshot, unless partition discovery dealt it to two (a
  // partition added to one topic shifts the sorted list of those after it): both then
  // read it, and resuming at the larger offset repeats nothing either of them emitted.
  absl::Status MergeOffsets(const std::string& state) {
    for (absl::string_view line : absl::StrSplit(state, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> f = absl::StrSplit(line, '\t');
      int32_t partition;
      int64_t offset;
      if (f.size() != 3 || !absl::SimpleAtoi(f[1], &partition) || !absl::SimpleAtoi(f[2], &offset)) {
        return absl::DataLossError(absl::StrCat("kafka_source state: bad line '", line, "'"));
      }
      auto [it, added] = restored_.try_emplace({std::string(f[0]), partition}, offset);
      if (!added) it->second = std::max(it->second, offset);
    }
    return absl::OkStatus();
  }

  PartitionState* Find(std::string_view topic, int32_t partition) {
    auto it = index_.find({std::string(topic), partition});
    return it == index_.end() ? nullptr : &parts_[it->second];
  }

  bool Exhausted() const {
    for (const auto& p : parts_) {
      if (!p.at_end && p.next_offset < p.end_offset) return false;
    }
    return true;
  }

  void EmitWatermark(Collector& out, int64_t now) {
    int64_t wm = kMaxWatermark;
    bool any_active = false;
    for (const auto& p : parts_) {
      if (now - p.last_active_ms > o_.idle_timeout_ms) continue;  // idle: left out
      // Active but nothing read yet (just assigned): its first records may be old, so
      // event time waits for it (until it counts as idle).
      if (p.max_ts == kNoTimestamp) return;
      any_active = true;
      wm = std::min(wm, p.max_ts - o_.out_of_orderness_ms);
    }
    if (!any_active) wm = now - o_.idle_timeout_ms - o_.out_of_orderness_ms;  // all idle: follow the clock
    if (wm > last_wm_) {
      last_wm_ = wm;
      out.EmitWatermark(wm);
    }
  }

  // Lists the partitions of the configured topics, keeps this subtask's share, assigns
  // the new ones with their start offsets.
  absl::Status Discover(bool initial) {
    last_discovery_ms_ = clock_->NowMs();
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 1, nullptr, &md, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!initial) {
        log_.Warn("partition discovery failed: %s", rd_kafka_err2str(err));
        return absl::OkStatus();
      }
      return absl::UnavailableError(absl::StrCat("kafka: cannot read metadata from ",
                                                 o_.props.at("bootstrap.servers"), ": ", rd_kafka_err2str(err)));
    }
    std::vector<std::pair<std::string, int32_t>> all;
    std::regex re;
    if (!o_.pattern.empty()) re = std::regex(o_.pattern);
    std::set<std::string> found;
    for (int t = 0; t < md->topic_cnt; ++t) {
      const auto& mt = md->topics[t];
      std::string name = mt.topic;
      bool wanted = o_.pattern.empty() ? std::find(o_.topics.begin(), o_.topics.end(), name) != o_.topics.end()
                                       : std::regex_match(name, re);
      if (!wanted || mt.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      found.insert(name);
      for (int p = 0; p < mt.partition_cnt; ++p) all.emplace_back(name, mt.partitions[p].id);
    }
    rd_kafka_metadata_destroy(md);
    if (initial && o_.pattern.empty()) {
      for (const auto& t : o_.topics) {
        if (!found.count(t)) {
          return o_.params->Find("topics")->Error(absl::StrCat("topic '", t, "' does not exist on ",
                                                               o_.props.at("bootstrap.servers")));
        }
      }
    }
    std::sort(all.begin(), all.end());
    std::vector<PartitionState> added;
    for (size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % parallelism_) != subtask_) continue;
      if (index_.count(all[i])) continue;
      PartitionState ps;
      ps.topic = all[i].first;
      ps.partition = all[i].second;
      ps.last_active_ms = clock_->NowMs();
      added.push_back(ps);
    }
    if (added.empty()) return absl::OkStatus();
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(added.size())));
    int restored = 0;
    for (auto& ps : added) {
      if (auto r = restored_.find({ps.topic, ps.partition}); r != restored_.end()) {
        // From the checkpoint: the offset is known, so this partition is positioned
        // exactly, and it does not take part in the start-time lookup below.
        ps.next_offset = r->second;
        ++restored;
      }
    }
    if (restored > 0) {
      log_.Info("%d partition(s) resume at the offsets of the checkpoint", restored);
    }
    for (auto& ps : added) {
      int64_t offset = RD_KAFKA_OFFSET_STORED;
      if (ps.next_offset >= 0) continue;
      if (!initial) offset = RD_KAFKA_OFFSET_BEGINNING;  // a new partition: all of it
      else if (o_.start == Start::kEarliest) offset = RD_KAFKA_OFFSET_BEGINNING;
      else if (o_.start == Start::kLatest) offset = RD_KAFKA_OFFSET_END;
      else if (o_.start == Start::kTimestamp) offset = o_.start_ms;
      rd_kafka_topic_partition_list_add(list.get(), ps.topic.c_str(), ps.partition)->offset = offset;
    }
    if (initial && o_.start == Start::kTimestamp && list->cnt > 0) {
      err = rd_kafka_offsets_for_times(rk_.get(), list.get(), 10000);
      if (err) return absl::UnavailableError(absl::StrCat("kafka: offsets for start time: ", rd_kafka_err2str(err)));
    }
    if (o_.bounded) {
      // End offsets of all new partitions in one ListOffsets round per broker
      // (timestamp -1 asks for the latest offset).
      PartitionList ends(rd_kafka_topic_partition_list_new(static_cast<int>(added.size())));
      for (const auto& ps : added) {
        rd_kafka_topic_partition_list_add(ends.get(), ps.topic.c_str(), ps.partition)->offset = -1;
      }
      err = rd_kafka_offsets_for_times(rk_.get(), ends.get(), 10000);
      if (err) return absl::UnavailableError(absl::StrCat("kafka: end offsets: ", rd_kafka_err2str(err)));
      for (auto& ps : added) {
        rd_kafka_topic_partition_t* e = rd_kafka_topic_partition_list_find(ends.get(), ps.topic.c_str(), ps.partition);
        if (e == nullptr || e->err) {
          return absl::UnavailableError(absl::StrCat("kafka: no end offset for ", ps.topic, "[", ps.partition, "]",
                                                     e ? absl::StrCat(": ", rd_kafka_err2str(e->err)) : ""));
        }
        ps.end_offset = e->offset;
        // An empty partition (or one whose records all expired) ends at once; otherwise
        // the fetcher's end-of-partition event or the records themselves tell.
        ps.at_end = e->offset <= 0;
      }
    }
    for (auto& ps : added) {
      index_[{ps.topic, ps.partition}] = parts_.size();
      parts_.push_back(ps);
    }
    // Re-assign everything: known partitions continue where they are.
    PartitionList assign(rd_kafka_topic_partition_list_new(static_cast<int>(parts_.size())));
    for (const auto& ps : parts_) {
      rd_kafka_topic_partition_t* tp = rd_kafka_topic_partition_list_add(assign.get(), ps.topic.c_str(), ps.partition);
      tp->offset = ps.next_offset;
      if (ps.next_offset < 0) {
        rd_kafka_topic_partition_t* fresh = rd_kafka_topic_partition_list_find(list.get(), ps.topic.c_str(), ps.partition);
        tp->offset = fresh != nullptr ? fresh->offset : RD_KAFKA_OFFSET_STORED;
      }
    }
    err = rd_kafka_assign(rk_.get(), assign.get());
    if (err) return absl::UnavailableError(absl::StrCat("kafka: assign: ", rd_kafka_err2str(err)));
    if (!initial) log_.Info("%d new partition(s)", added.size());
    return absl::OkStatus();
  }

  void CloseConsumer() {
    if (rk_ == nullptr) return;
    queue_.reset();
    rd_kafka_commit(rk_.get(), nullptr, 0);  // consumed offsets, for lag monitoring
    rd_kafka_consumer_close(rk_.get());
    rk_.reset();
  }

  Options o_;
  int subtask_;
  int parallelism_;
  std::string node_;
  Logger log_;
  Clock* clock_ = &SystemClock();  // the Context's, from Open
  std::unique_ptr<JsonTimeField> time_field_;
  Counter* errors_ = nullptr;
  KafkaHandle rk_;
  KafkaQueue queue_;
  std::vector<PartitionState> parts_;
  std::map<std::pair<std::string, int32_t>, size_t> index_;
  std::vector<rd_kafka_message_t*> msgs_;
  std::string headers_scratch_;
  std::map<std::pair<std::string, int32_t>, int64_t> restored_;  // from a checkpoint
  std::map<int64_t, std::string> pending_commits_;              // by checkpoint id
  int64_t last_discovery_ms_ = 0;
  int64_t last_record_ms_ = 0;  // set in Open
  int64_t last_wm_ = kNoTimestamp;
  bool idle_announced_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Source>> MakeKafkaSource(const OperatorConfig& config) {
  const Param& p = *config.params;
  RETURN_IF_ERROR(p.CheckKeys({"bootstrap_servers", "topics", "topic_pattern", "group_id", "start", "bounded",
                               "watermarks", "discovery_interval", "batch_size", "properties",
                               "stop_when_idle", "headers"}));
  Options o;
  o.params = &p;
  ASSIGN_OR_RETURN(std::string group, p.GetStringOr("group_id", absl::StrCat("sluice-", config.node_id)));
  ASSIGN_OR_RETURN(o.props, ReadProperties(p, {{"group.id", group},
                                               {"enable.auto.commit", "true"},
                                               {"auto.offset.reset", "earliest"},
                                               // librdkafka 2.0.2's default (100000) makes the
                                               // fetcher pause about 1 s whenever processing lags
                                               // the fetches (measured: 2x slower bursts); the
                                               // prefetch stays bounded by
                                               // queued.max.messages.kbytes (64 MB).
                                               {"queued.min.messages", "10000000"},

                                               {"client.id", "sluice"}}));
  ASSIGN_OR_RETURN(o.topics, p.GetStringListOr("topics"));
  ASSIGN_OR_RETURN(o.pattern, p.GetStringOr("topic_pattern", ""));
  if (o.topics.empty() == o.pattern.empty()) return p.Error("give either topics or topic_pattern");
  if (!o.pattern.empty()) {
    try {
      std::regex check(o.pattern);
    } catch (const std::regex_error& e) {
      return p.Find("topic_pattern")->Error(absl::StrCat("not a regular expression: ", e.what()));
    }
  }
  ASSIGN_OR_RETURN(std::string start, p.GetStringOr("start", "committed"));
  if (start == "earliest") o.start = Start::kEarliest;
  else if (start == "latest") o.start = Start::kLatest;
  else if (start == "committed") o.start = Start::kCommitted;
  else {
    int64_t ms = 0;
    if (!absl::SimpleAtoi(Sv(start), &ms) || ms < 0) {
      return p.Find("start")->Error(absl::StrCat(
          "expected earliest, latest, committed or a timestamp in ms since the epoch, got '", start, "'"));
    }
    o.start = Start::kTimestamp;
    o.start_ms = ms;
  }
  ASSIGN_OR_RETURN(o.bounded, p.GetBoolOr("bounded", false));
  ASSIGN_OR_RETURN(o.headers, p.GetBoolOr("headers", false));
  // Bounded: the fetcher's end-of-partition events tell when a partition is read up to
  // the end offset taken at start (also when reading starts there).
  o.props.try_emplace("enable.partition.eof", o.bounded ? "true" : "false");
  if (const Param* wm = p.Find("watermarks"); wm != nullptr && !wm->is_null()) {
    if (!wm->is_map()) {
      return wm->Error("expected {field: NAME, max_out_of_orderness: DURATION, idle_timeout: DURATION}");
    }
    RETURN_IF_ERROR(wm->CheckKeys({"field", "max_out_of_orderness", "idle_timeout"}));
    ASSIGN_OR_RETURN(o.time_field, wm->GetStringOr("field", ""));
    o.watermarks = true;
    ASSIGN_OR_RETURN(o.out_of_orderness_ms, wm->GetDurationMsOr("max_out_of_orderness", 0));
    ASSIGN_OR_RETURN(o.idle_timeout_ms, wm->GetDurationMsOr("idle_timeout", 10000));
  }
  ASSIGN_OR_RETURN(o.discovery_ms, p.GetDurationMsOr("discovery_interval", 10000));
  ASSIGN_OR_RETURN(o.stop_when_idle_ms, p.GetDurationMsOr("stop_when_idle", 0));
  ASSIGN_OR_RETURN(int64_t batch, p.GetIntOr("batch_size", config.batch_size));
  if (batch < 1) return p.Find("batch_size")->Error("must be at least 1");
  o.batch_size = static_cast<size_t>(batch);
  // Catch bad librdkafka properties when the job is planned (MakeConf names the property).
  ASSIGN_OR_RETURN(KafkaConf conf, MakeConf(o.props, p));
  return std::make_unique<KafkaSource>(std::move(o), config.subtask_index, config.parallelism, config.node_id);
}

}  // namespace sluice::operators::kafka
