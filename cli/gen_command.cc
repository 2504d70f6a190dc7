// `sluice gen nginx|ysb|tracking`: deterministic sample data for the examples and
// benchmarks (examples/datagen; tracking events in cli/gen_tracking.cc).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/gen_tracking.h"
#include "cli/run_topology.h"
#include "examples/datagen/datagen.h"

namespace sluice::cli {
namespace {

// Creates the directory that will hold `path`, so `gen --out data/x/y.log` just works.
void EnsureParentDir(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
}

struct NginxFlags {
  datagen::NginxLogOptions options;
  std::string date;
};

int GenNginx(NginxFlags& f) {
  datagen::NginxLogOptions& nginx = f.options;
  if (!f.date.empty()) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(f.date, &day)) {
      std::fprintf(stderr, "error: --date: expected YYYY-MM-DD, got '%s'\n", f.date.c_str());
      return kExitBadInput;
    }
    nginx.start_time_ms = absl::ToUnixMillis(absl::FromCivil(day, absl::FixedTimeZone(8 * 3600)));
  }
  EnsureParentDir(nginx.output_path);
  nginx.gzip = nginx.output_path.ends_with(".gz");  // as --help says (it wrote plain text)
  absl::Status st = datagen::GenerateNginxLogs(nginx);
  if (!st.ok()) {
    PrintError(st);
    return kExitFailed;
  }
  std::fprintf(stderr, "wrote %lld lines to %s\n", static_cast<long long>(nginx.num_lines), nginx.output_path.c_str());
  return kExitOk;
}

int GenYsb(const datagen::YsbOptions& ysb) {
  EnsureParentDir(ysb.events_path);
  EnsureParentDir(ysb.ads_path);
  absl::Status st = datagen::GenerateYsb(ysb);
  if (!st.ok()) {
    PrintError(st);
    return kExitFailed;
  }
  std::fprintf(stderr, "wrote %lld events to %s and the ads table to %s\n", static_cast<long long>(ysb.num_events),
               ysb.events_path.c_str(), ysb.ads_path.c_str());
  return kExitOk;
}

void AddGenNginx(CLI::App* gen, int* exit_code) {
  auto f = std::make_shared<NginxFlags>();
  CLI::App* cmd = gen->add_subcommand("nginx", "nginx combined access log with dirty lines");
  cmd->add_option("--out", f->options.output_path, "Output file (.gz to compress)")->required();
  cmd->add_option("--lines", f->options.num_lines, "Number of lines");
  cmd->add_option("--seed", f->options.seed, "Random seed");
  cmd->add_option("--date", f->date, "Day the requests fall on, YYYY-MM-DD in the logs' +0800 (default 2026-11-20)");
  cmd->callback([f, exit_code] { *exit_code = GenNginx(*f); });
}

void AddGenYsb(CLI::App* gen, int* exit_code) {
  auto ysb = std::make_shared<datagen::YsbOptions>();
  CLI::App* cmd = gen->add_subcommand("ysb", "Yahoo Streaming Benchmark events and ads table");
  cmd->add_option("--events-out", ysb->events_path, "Events file (JSON lines)")->required();
  cmd->add_option("--ads-out", ysb->ads_path, "ad_id,campaign_id CSV")->required();
  cmd->add_option("--events", ysb->num_events, "Number of events");
  cmd->add_option("--seed", ysb->seed, "Random seed");
  cmd->callback([ysb, exit_code] { *exit_code = GenYsb(*ysb); });
}

void AddGenTracking(CLI::App* gen, int* exit_code) {
  auto t = std::make_shared<TrackingFlags>();
  CLI::App* cmd = gen->add_subcommand(
      "tracking", "Shop tracking events (page views, clicks, carts, orders) to a file or a Kafka topic");
  cmd->add_option("--out", t->out, "Write JSON lines to this file");
  cmd->add_option("--bootstrap-servers", t->bootstrap, "Or produce to this Kafka cluster ...");
  cmd->add_option("--topic", t->topic, "... into this topic (keyed by user)");
  cmd->add_option("--events", t->events, "Number of events")->capture_default_str();
  cmd->add_option("--rate", t->rate, "Events per second (0: as fast as possible)")->capture_default_str();
  cmd->add_option("--users", t->users, "Distinct users")->capture_default_str();
  cmd->add_option("--items", t->items, "Catalogue size")->capture_default_str();
  cmd->add_option("--malformed", t->malformed, "Fraction of malformed events")->capture_default_str();
  cmd->add_option("--seed", t->seed, "Random seed")->capture_default_str();
  cmd->callback([t, exit_code] { *exit_code = GenTracking(*t); });
}

}  // namespace

void AddGenCommand(CLI::App& app, int* exit_code) {
  CLI::App* gen = app.add_subcommand("gen", "Generate sample input data");
  gen->require_subcommand(1);
  AddGenNginx(gen, exit_code);
  AddGenYsb(gen, exit_code);
  AddGenTracking(gen, exit_code);
}

}  // namespace sluice::cli
