// `sluice batch JOB.yaml`: replays Hive partitions through the topology in batch mode;
// --table, --partitions and --warehouse set its one hive_partitions source.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/run_topology.h"
#include "common/status_macros.h"
#include "runtime/topology/yaml_loader.h"

namespace sluice::cli {
namespace {

struct BatchFlags {
  std::string table;
  std::vector<std::string> partitions;
  std::string warehouse;
};

absl::Status AdjustForBatch(const BatchFlags& b, v1::Topology* t) {
  auto sources = NodesOfType(t, "hive_partitions");
  const bool overriding = !b.table.empty() || !b.partitions.empty() || !b.warehouse.empty();
  if (overriding && sources.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--table/--partitions/--warehouse set the topology's hive_partitions source, but it has ", sources.size(),
        " of them"));
  }
  if (sources.empty()) {
    return absl::InvalidArgumentError("sluice batch replays Hive partitions: the topology needs a source of type "
                                      "hive_partitions (or use sluice run)");
  }
  const std::string id = sources[0]->id();
  if (!b.table.empty()) RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".table=", b.table)));
  if (!b.warehouse.empty()) {
    RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".warehouse=", b.warehouse)));
  }
  if (!b.partitions.empty()) {
    std::string list = "[";
    for (size_t i = 0; i < b.partitions.size(); ++i) absl::StrAppend(&list, i ? ", " : "", "\"", b.partitions[i], "\"");
    list += "]";
    RETURN_IF_ERROR(sluice::topology::ApplyOverride(t, absl::StrCat(id, ".partitions=", list)));
  }
  t->set_mode("batch");
  return absl::OkStatus();
}

}  // namespace

void AddBatchCommand(CLI::App& app, int* exit_code) {
  auto run = std::make_shared<RunFlags>();
  auto batch = std::make_shared<BatchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "batch", "Replay Hive partitions (dt=A..B) through a topology in batch mode; re-runs replace output partitions");
  AddTopologyFlags(cmd, run.get());
  cli::AddStateFlags(cmd, &run->state);
  cmd->add_option("--table", batch->table, "Table to read (db.table), for the hive_partitions source");
  cmd->add_option("--partitions", batch->partitions, "Partitions to read: dt=2026-11-20..2026-11-24 or dt=DAY; repeatable");
  cmd->add_option("--warehouse", batch->warehouse, "Warehouse root (path or file:///path) of that table");
  cmd->add_option("--progress-interval", run->progress_interval, "Seconds between progress lines (0: none)");
  cmd->add_flag("-q,--quiet", run->quiet, "No progress and no info logs");
  cmd->callback([run, batch, exit_code] {
    run->adjust = [b = batch.get()](v1::Topology* t) { return AdjustForBatch(*b, t); };
    *exit_code = RunTopology(*run);
  });
}

}  // namespace sluice::cli
