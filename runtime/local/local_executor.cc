#include "runtime/local/local_executor.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "runtime/local/local_checkpoints.h"
#include "runtime/task/task.h"

namespace sluice::runtime {
namespace {

std::string Human(double v) {
  if (v >= 1e9) return absl::StrFormat("%.2fG", v / 1e9);
  if (v >= 1e6) return absl::StrFormat("%.2fM", v / 1e6);
  if (v >= 1e4) return absl::StrFormat("%.1fk", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

JobSummary Summarize(JobShared& job, double elapsed) {
  const JobPlan& plan = job.plan();
  JobSummary s;
  s.name = plan.name;
  s.batch_mode = plan.batch_mode;
  s.elapsed_s = elapsed;
  for (const PlanNode& n : plan.nodes) {
    NodeMetrics& m = job.metrics(n.index);
    NodeSummary ns;
    ns.id = n.id;
    ns.type = n.type;
    ns.parallelism = n.parallelism;
    ns.records_in = m.records_in.value();
    ns.records_out = m.records_out.value();
    ns.filtered = m.filtered.value();
    ns.backpressure_s = m.backpressure_ns.value() / 1e9;
    ns.dead_letters = m.DeadLetters();
    ns.counters = m.Counters();
    if (n.kind == OperatorRegistry::Kind::kSource) s.source_records += ns.records_out;
    s.nodes.push_back(std::move(ns));
  }
  return s;
}

// Checkpoint files of the chained-only local checkpoints before barrier checkpoints
// (`<node>.<subtask>.ckpt`): refused rather than silently started over.
absl::Status RefuseOldCheckpoints(const std::string& dir) {
  if (dir.find("://") != std::string::npos) return absl::OkStatus();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".ckpt") {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint dir ", dir, " holds ", e.path().filename().string(),
          ", a checkpoint of an older sluice that this one cannot restore; finish that job with the sluice "
          "that wrote it, or move the directory away to start from the beginning"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t JobSummary::TotalDeadLetters() const {
  int64_t n = 0;
  for (const auto& node : nodes) {
    for (const auto& [reason, count] : node.dead_letters) n += count;
  }
  return n;
}

std::string JobSummary::ToString() const {
  std::string out = absl::StrFormat("job '%s' finished in %.3f s (%s mode): %d source records, %s records/s\n",
                                    name, elapsed_s, batch_mode ? "batch" : "streaming",
                                    source_records, Human(elapsed_s > 0 ? source_records / elapsed_s : 0));
  absl::StrAppendFormat(&out, "  %-16s %-18s %4s %12s %12s %10s %10s %8s\n", "operator", "type", "par",
                        "in", "out", "filtered", "dead", "bp(s)");
  for (const auto& n : nodes) {
    int64_t dead = 0;
    for (const auto& [r, c] : n.dead_letters) dead += c;
    absl::StrAppendFormat(&out, "  %-16s %-18s %4d %12d %12d %10d %10d %8.2f\n", n.id, n.type,
                          n.parallelism, n.records_in, n.records_out, n.filtered, dead,
                          n.backpressure_s);
  }
  for (const auto& n : nodes) {
    for (const auto& [name, value] : n.counters) {
      absl::StrAppendFormat(&out, "  counter %s.%s = %d\n", n.id, name, value);
    }
  }
  if (restored_checkpoint != 0) absl::StrAppendFormat(&out, "  restored checkpoint %d\n", restored_checkpoint);
  if (!checkpoints.empty()) {
    int completed = 0, failed = 0;
    int64_t max_ms = 0, max_pause_ns = 0, max_align_ns = 0, last_size = 0;
    for (const CheckpointStats& c : checkpoints) {
      if (c.state == CheckpointStats::State::kCompleted) {
        ++completed;
        max_ms = std::max(max_ms, c.end_ms - c.trigger_ms);
        max_pause_ns = std::max(max_pause_ns, c.max_sync_ns);
        max_align_ns = std::max(max_align_ns, c.max_align_ns);
        last_size = c.size_bytes;
      } else if (c.state == CheckpointStats::State::kFailed) {
        ++failed;
      }
    }
    absl::StrAppendFormat(&out,
                          "  checkpoints (last %d): %d completed, %d failed; longest %d ms, task pause max %.2f ms, "
                          "alignment max %.2f ms, last size %d bytes\n",
                          checkpoints.size(), completed, failed, max_ms, max_pause_ns / 1e6, max_align_ns / 1e6,
                          last_size);
  }
  int64_t total_dead = TotalDeadLetters();
  if (total_dead > 0) {
    absl::StrAppendFormat(&out, "  dead letters: %d\n", total_dead);
    for (const auto& n : nodes) {
      for (const auto& [reason, count] : n.dead_letters) {
        absl::StrAppendFormat(&out, "    %-16s %-20s %d\n", n.id, reason, count);
      }
    }
  }
  return out;
}

LocalExecutor::LocalExecutor(const JobPlan& plan, const OperatorRegistry& registry, RunOptions options)
    : plan_(plan), registry_(registry), options_(options) {}

void LocalExecutor::Cancel() {
  cancel_requested_.store(true);
  if (auto* job = static_cast<JobShared*>(job_.load())) job->Cancel();
}

absl::StatusOr<JobSummary> LocalExecutor::Run() {
  auto log = GetLogger("runtime");
  std::string run_id = absl::StrCat(
      plan_.name, "-",
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count(),
      "-", ::getpid());
  for (char& c : run_id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  // Checkpoints: the newest usable one is restored.
  std::unique_ptr<LocalCheckpoints> checkpoints;
  RestorePoint restore;
  if (!plan_.checkpoint_dir.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<CheckpointStorage> storage, CheckpointStorage::Open(plan_.checkpoint_dir));
    RETURN_IF_ERROR(RefuseOldCheckpoints(plan_.checkpoint_dir));
    const auto read_start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(restore, FindRestorePoint(plan_, *storage, options_.allow_non_restored_state));
    const double read_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - read_start).count();
    // Directories of checkpoints that never completed (the last run was killed).
    ASSIGN_OR_RETURN(std::vector<int64_t> all, storage->ListAll());
    for (int64_t id : all) {
      bool complete = false;
      for (const CheckpointMetadata& m : restore.completed) complete = complete || m.id == id;
      if (!complete) RETURN_IF_ERROR(storage->Discard(id, restore.completed));
    }
    if (restore.id != 0) {
      SLUICE_LOG_INFO(log, "job '{}' restores checkpoint {} from {} (read and checked in {:.0f} ms)", plan_.name,
                      restore.id, plan_.checkpoint_dir, read_ms);
    }
    checkpoints = std::make_unique<LocalCheckpoints>(plan_, std::move(storage), restore.completed);
  }
  JobShared job(&plan_, run_id, /*job_id=*/run_id, /*attempt=*/1);
  job.set_checkpoint_listener(checkpoints.get());
  if (options_.log_sink != nullptr) job.set_log_sink(options_.log_sink);
  if (options_.clock != nullptr) job.set_clock(options_.clock);
  RETURN_IF_ERROR(
      job.dead_letters().Open(plan_.dead_letter_path, registry_, /*append=*/!plan_.checkpoint_dir.empty()));

  // Tasks, by vertex then subtask.
  std::vector<std::vector<std::unique_ptr<Task>>> tasks(plan_.vertices.size());
  for (size_t v = 0; v < plan_.vertices.size(); ++v) {
    for (int s = 0; s < plan_.vertices[v].parallelism; ++s) {
      auto task = std::make_unique<Task>(&job, static_cast<int>(v), s);
      RETURN_IF_ERROR(task->Init(registry_));
      if (restore.id != 0) task->SetRestoreState(std::move(restore.tasks[{static_cast<int>(v), s}]));
      tasks[v].push_back(std::move(task));
    }
  }
  // Channels (see InputChannelPorts / EdgeTargets), all in-process.
  for (size_t v = 0; v < plan_.vertices.size(); ++v) {
    if (!plan_.vertices[v].is_source) {
      for (auto& t : tasks[v]) t->SetInputChannels(InputChannelPorts(plan_, static_cast<int>(v)));
    }
  }
  for (size_t ei = 0; ei < plan_.edges.size(); ++ei) {
    const PlanEdge& e = plan_.edges[ei];
    auto& ups = tasks[e.from_vertex];
    for (size_t i = 0; i < ups.size(); ++i) {
      std::vector<OutTarget> targets;
      for (const ChannelTarget& ct : EdgeTargets(plan_, static_cast<int>(ei), static_cast<int>(i))) {
        targets.push_back({tasks[e.to_vertex][ct.subtask]->mailbox(), ct.channel});
      }
      ups[i]->AddOutEdge(e, std::move(targets));
    }
  }

  SLUICE_LOG_INFO(log, "starting job '{}' in {} mode", plan_.name, plan_.batch_mode ? "batch" : "streaming");
  for (const auto& line : absl::StrSplit(plan_.Describe(), '\n')) {
    if (!line.empty()) SLUICE_LOG_INFO(log, "{}", std::string(line));
  }
  job_.store(&job);
  if (cancel_requested_.load()) job.Cancel();

  if (checkpoints != nullptr) {
    std::vector<Task*> all;
    for (auto& vt : tasks) {
      for (auto& t : vt) all.push_back(t.get());
    }
    checkpoints->Start(&job, std::move(all));
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (auto& vt : tasks) {
    for (auto& t : vt) threads.emplace_back([task = t.get()] { task->Run(); });
  }

  // Progress reporter.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread reporter;
  if (options_.progress_interval_s > 0 && options_.progress_out != nullptr) {
    reporter = std::thread([&] {
      std::vector<int64_t> last_in(plan_.nodes.size(), 0), last_out(plan_.nodes.size(), 0);
      auto last = std::chrono::steady_clock::now();
      std::unique_lock<std::mutex> lock(mu);
      while (!cv.wait_for(lock, std::chrono::duration<double>(options_.progress_interval_s),
                          [&] { return done; })) {
        auto now = std::chrono::steady_clock::now();
        double dt = std::chrono::duration<double>(now - last).count();
        double total = std::chrono::duration<double>(now - start).count();
        last = now;
        std::string line = absl::StrFormat("[progress %6.1fs]", total);
        for (const PlanNode& n : plan_.nodes) {
          NodeMetrics& m = job.metrics(n.index);
          int64_t in = m.records_in.value(), out = m.records_out.value();
          absl::StrAppendFormat(&line, " | %s in %s (%s/s) out %s (%s/s)", n.id, Human(in),
                                Human((in - last_in[n.index]) / dt), Human(out),
                                Human((out - last_out[n.index]) / dt));
          last_in[n.index] = in;
          last_out[n.index] = out;
        }
        std::fprintf(options_.progress_out, "%s\n", line.c_str());
        std::fflush(options_.progress_out);
      }
    });
  }

  for (auto& th : threads) th.join();
  if (checkpoints != nullptr) checkpoints->Stop();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  if (reporter.joinable()) reporter.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  job_.store(nullptr);

  absl::Status dl = job.dead_letters().Close();
  absl::Status st = job.status();
  if (!st.ok()) {
    SLUICE_LOG_ERROR(log, "job '{}' failed: {}", plan_.name, std::string(st.message()));
    return st;
  }
  if (cancel_requested_.load()) return absl::CancelledError("job cancelled");
  RETURN_IF_ERROR(dl);
  JobSummary summary = Summarize(job, elapsed);
  summary.restored_checkpoint = restore.id;
  if (checkpoints != nullptr) summary.checkpoints = checkpoints->history();
  return summary;
}

}  // namespace sluice::runtime
