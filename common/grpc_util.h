// Helpers for the gRPC edge shared by the coordinator and the worker: status conversion
// (done once, here), and the server options every sluice server uses. A sluice server
// must own its port: gRPC turns on SO_REUSEPORT by default, which lets a second
// coordinator or worker bind the same port and silently split the clients between the
// two; ConfigureServer turns it off so the second one fails to start.
// Thread-safe: stateless functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace sluice {

grpc::Status ToGrpc(const absl::Status& status);
// `what` prefixes the message ("registering with coordinator X").
absl::Status FromGrpc(const grpc::Status& status, std::string_view what);

// Exclusive port, unbounded message sizes (batches and plugins can be large).
void ConfigureServer(grpc::ServerBuilder& builder);

// The error when BuildAndStart could not listen on `listen` (`what`: "coordinator").
absl::Status ListenError(std::string_view what, std::string_view listen);

// True when `listen` (host:port) accepts connections from other machines: a wildcard
// or non-loopback address. Such a server has no authentication yet, so callers warn.
bool ListensBeyondLoopback(std::string_view listen);

}  // namespace sluice
