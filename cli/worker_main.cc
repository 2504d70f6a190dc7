// sluice-worker: runs the tasks the coordinator gives it (see runtime/worker/worker.h).
// The program puts the pieces together: the worker engine (runtime/) and the built-in
// operators (operators/), which the runtime itself does not link.
#include <cstdio>
#include <memory>
#include <thread>

#include "CLI/CLI.hpp"
#include "cli/state_flags.h"
#include "common/log.h"
#include "common/signals.h"
#include "operators/builtins.h"
#include "runtime/worker/worker.h"

int main(int argc, char** argv) {
  sluice::BlockTerminationSignals();
  CLI::App app{"sluice-worker: runs tasks for a sluice coordinator and exchanges data with other workers"};
  sluice::runtime::WorkerOptions options;
  std::string log_level = "info";
  app.add_option("--coordinator", options.coordinator, "The coordinator's address (host:port)")
      ->capture_default_str();
  app.add_option("--listen", options.listen, "Address to serve tasks and data on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--slots", options.slots, "How many tasks this worker runs at once")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--id", options.id, "Worker id, unique in the cluster (default: host-port)");
  app.add_option("--work-dir", options.work_dir, "Plugin cache (default /tmp/sluice-worker-<id>)");
  app.add_option("--credit-window", options.credit_window_bytes,
                 "Bytes a sender may have in flight per incoming channel")
      ->capture_default_str();
  sluice::cli::StateFlags state;
  sluice::cli::AddStateFlags(&app, &state);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  // For tests of the version handshake only.
  app.add_option("--protocol-version", options.protocol_version)->group("");
  CLI11_PARSE(app, argc, argv);
  sluice::SetLogLevel(log_level);
  if (absl::Status st = sluice::cli::ApplyStateFlags(state, /*rocksdb_state=*/true); !st.ok()) {
    std::fprintf(stderr, "sluice-worker: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  auto builtins = std::make_shared<sluice::OperatorRegistry>();
  if (absl::Status st = sluice::operators::RegisterBuiltinOperators(*builtins); !st.ok()) {
    std::fprintf(stderr, "sluice-worker: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  options.operators = std::move(builtins);

  sluice::runtime::Worker worker(options);
  std::thread signals([&] {
    int sig = sluice::WaitForTerminationSignal();
    SLUICE_LOG_INFO(sluice::GetLogger("worker"), "signal {}: shutting down", sig);
    worker.Shutdown();
  });
  signals.detach();
  absl::Status st = worker.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "sluice-worker: %s\n", std::string(st.message()).c_str());
    return st.code() == absl::StatusCode::kCancelled ? 0 : 2;
  }
  st = worker.Run();
  if (!st.ok()) {
    std::fprintf(stderr, "sluice-worker: %s\n", std::string(st.message()).c_str());
    return 2;
  }
  return 0;
}
