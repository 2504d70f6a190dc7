// `sluice operators [--plugin X.so]...`: the operator types, built-in and from the
// plugins, with their kind and doc, one a line on stdout.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/run_topology.h"

namespace sluice::cli {
namespace {

int ListOperators(const std::vector<std::string>& plugins) {
  OperatorRegistry registry;
  if (int code = RegisterOperators(plugins, &registry); code != kExitOk) return code;
  for (const auto& t : registry.Types()) {
    auto kind = registry.KindOf(t);
    const char* k = !kind.ok()                                       ? "?"
                    : *kind == OperatorRegistry::Kind::kSource ? "source"
                    : *kind == OperatorRegistry::Kind::kSink   ? "sink"
                                                                     : "operator";
    std::printf("%-18s %-9s %s\n", t.c_str(), k, std::string(registry.Doc(t)).c_str());
  }
  return kExitOk;
}

}  // namespace

void AddOperatorsCommand(CLI::App& app, int* exit_code) {
  auto plugins = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("operators", "List the operator types (built-in and from --plugin) and their docs");
  cmd->add_option("--plugin", *plugins, "Also list the operators of this plugin (.so); repeatable")
      ->check(CLI::ExistingFile);
  cmd->callback([plugins, exit_code] { *exit_code = ListOperators(*plugins); });
}

}  // namespace sluice::cli
