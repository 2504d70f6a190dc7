// sluice-coordinator: the cluster's job manager (see coordinator.h).
#include <cstdio>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/log.h"
#include "common/signals.h"
#include "coordinator/coordinator.h"

int main(int argc, char** argv) {
  sluice::BlockTerminationSignals();
  CLI::App app{"sluice-coordinator: accepts jobs, schedules their tasks onto workers, fails them over"};
  sluice::coordinator::CoordinatorOptions options;
  std::string log_level = "info";
  double timeout_s = 10, interval_s = 1, restart_delay_s = 1, slot_timeout_s = 300;
  int restart_attempts = 3;
  app.add_option("--listen", options.listen, "Address to serve on (host:port)")->capture_default_str();
  app.add_option("--data-dir", options.data_dir, "Where the job store (RocksDB) and plugins live")
      ->capture_default_str();
  app.add_option("--heartbeat-timeout", timeout_s, "Seconds without a heartbeat before a worker is lost")
      ->capture_default_str();
  app.add_option("--heartbeat-interval", interval_s, "Seconds between worker heartbeats")->capture_default_str();
  app.add_option("--slot-timeout", slot_timeout_s,
                 "Seconds a job may wait for free slots before it fails with the reason")
      ->capture_default_str();
  app.add_option("--restart-attempts", restart_attempts, "Default restarts per job after a failure")
      ->capture_default_str();
  app.add_option("--restart-delay", restart_delay_s, "Default seconds before a restart")->capture_default_str();
  std::string address_file;
  app.add_option("--address-file", address_file, "Write the address served on to this file once listening");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  sluice::SetLogLevel(log_level);
  options.heartbeat_timeout_ms = static_cast<int64_t>(timeout_s * 1000);
  options.heartbeat_interval_ms = static_cast<int64_t>(interval_s * 1000);
  options.slot_timeout_ms = static_cast<int64_t>(slot_timeout_s * 1000);
  options.default_restart.set_max_attempts(restart_attempts);
  options.default_restart.set_delay_ms(static_cast<int64_t>(restart_delay_s * 1000));
  if (restart_attempts == 0 && restart_delay_s == 0) options.default_restart.set_delay_ms(1);

  sluice::coordinator::Coordinator coordinator(options);
  absl::Status st = coordinator.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "sluice-coordinator: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (!address_file.empty()) {
    std::string tmp = address_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr || std::fprintf(f, "%s\n", coordinator.address().c_str()) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), address_file.c_str()) != 0) {
      std::fprintf(stderr, "sluice-coordinator: cannot write %s\n", address_file.c_str());
      return 1;
    }
  }
  std::thread signals([&] {
    int sig = sluice::WaitForTerminationSignal();
    SLUICE_LOG_INFO(sluice::GetLogger("coordinator"), "signal {}: shutting down", sig);
    coordinator.Shutdown();
  });
  coordinator.Wait();
  signals.detach();
  return 0;
}
