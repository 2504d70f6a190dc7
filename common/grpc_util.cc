#include "common/grpc_util.h"

#include "absl/strings/str_cat.h"

namespace sluice {

grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpc(const grpc::Status& status, std::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(std::string(what), ": ", status.error_message()));
}

void ConfigureServer(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
}

absl::Status ListenError(std::string_view what, std::string_view listen) {
  return absl::UnavailableError(absl::StrCat(
      "the ", std::string(what), " cannot listen on ", std::string(listen),
      ": the port is taken (is another sluice process serving there?) or the address is not this machine's; "
      "choose another with --listen / --port, or port 0 for any free one"));
}

bool ListensBeyondLoopback(std::string_view listen) {
  std::string_view host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host == "::1" || host.substr(0, 4) == "127.") return false;
  return true;  // 0.0.0.0, ::, a LAN address or a host name
}

}  // namespace sluice
