#include "operators/kafka/dev_broker.h"

// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::operators::kafka {
namespace {

// Copies bytes both ways between two sockets until either side closes.
void Relay(int a, int b) {
  char buf[64 * 1024];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (poll(fds, 2, -1) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) goto done;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = write(fds[1 - i].fd, buf + off, n - off);
        if (w <= 0) goto done;
        off += w;
      }
    }
  }
done:
  close(a);
  close(b);
}

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DevBroker>> DevBroker::Start(int brokers) {
  if (brokers < 1) return absl::InvalidArgumentError("a Kafka dev cluster needs at least 1 broker");
  std::unique_ptr<DevBroker> b(new DevBroker());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "client.id", "sluice-kafka-dev", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));  // no warning about its own missing bootstrap
  b->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (b->rk_ == nullptr) return absl::InternalError(absl::StrCat("kafka-dev: ", err));
  b->cluster_ = rd_kafka_mock_cluster_new(b->rk_, brokers);
  if (b->cluster_ == nullptr) return absl::InternalError("kafka-dev: cannot start the mock cluster");
  b->brokers_ = brokers;
  return b;
}

DevBroker::~DevBroker() {
  if (proxy_.joinable()) {
    ssize_t ignored = write(wake_fd_[1], "x", 1);
    (void)ignored;
    proxy_.join();
  }
  for (int fd : {listen_fd_, wake_fd_[0], wake_fd_[1]}) {
    if (fd >= 0) close(fd);
  }
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

absl::Status DevBroker::CreateTopic(const std::string& name, int partitions) {
  if (partitions < 1) return absl::InvalidArgumentError(absl::StrCat("topic ", name, ": needs at least 1 partition"));
  rd_kafka_resp_err_t e =
      rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, std::min(brokers_, 3));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("kafka-dev: creating topic ", name, ": ", rd_kafka_err2str(e)));
  }
  return absl::OkStatus();
}

std::string DevBroker::bootstrap_servers() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

void DevBroker::FailNextRequests(int api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> codes;
  for (int e : errors) codes.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(cluster_, static_cast<int16_t>(api_key), codes.size(), codes.data());
}

absl::Status DevBroker::SetBrokerUp(int broker, bool up) {
  rd_kafka_resp_err_t e = up ? rd_kafka_mock_broker_set_up(cluster_, broker) : rd_kafka_mock_broker_set_down(cluster_, broker);
  if (e) return absl::InternalError(rd_kafka_err2str(e));
  return absl::OkStatus();
}

absl::StatusOr<int> DevBroker::ServeBootstrapPort(int port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listen_fd_, 64) != 0) {
    return absl::UnavailableError(absl::StrCat("kafka-dev: cannot listen on 127.0.0.1:", port, ": ", strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  if (pipe(wake_fd_) != 0) return absl::InternalError("kafka-dev: pipe");
  proxy_ = std::thread([this] { ProxyLoop(); });
  return ntohs(addr.sin_port);
}

void DevBroker::ProxyLoop() {
  std::vector<std::string> servers = absl::StrSplit(bootstrap_servers(), ',');
  int target = std::stoi(servers.front().substr(servers.front().rfind(':') + 1));
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_[0], POLLIN, 0}};
  while (poll(fds, 2, -1) > 0 && !(fds[1].revents & POLLIN)) {
    int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    int upstream = ConnectLoopback(target);
    if (upstream < 0) {
      close(client);
      continue;
    }
    std::thread(Relay, client, upstream).detach();
  }
}

}  // namespace sluice::operators::kafka
