#include "runtime/exchange/exchange.h"

#include "common/strings.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "runtime/exchange/batch_codec.h"

namespace sluice::runtime {
namespace {

// How long a stream waits for its receiving task to be deployed.
constexpr auto kRegistrationWait = std::chrono::seconds(60);

int64_t FrameBytes(const v1::ExchangeFrame& frame) {
  return static_cast<int64_t>(frame.batch().size()) + 16;
}

}  // namespace

std::string ExchangeService::Key(const std::string& job_id, int64_t attempt, int vertex, int subtask) {
  return absl::StrCat(job_id, "/", attempt, "/", vertex, "/", subtask);
}

std::string ExchangeService::JobKey(const std::string& job_id, int64_t attempt) {
  return absl::StrCat(job_id, "/", attempt, "/");
}

void ExchangeService::Register(const std::string& job_id, int64_t attempt, int vertex, int subtask,
                               Inbox inbox) {
  std::lock_guard<std::mutex> lock(mu_);
  inboxes_[Key(job_id, attempt, vertex, subtask)] = std::move(inbox);
  registered_.notify_all();
}

void ExchangeService::Unregister(const std::string& job_id, int64_t attempt) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string prefix = JobKey(job_id, attempt);
  for (auto it = inboxes_.lower_bound(prefix); it != inboxes_.end() && it->first.starts_with(prefix);) {
    it = inboxes_.erase(it);
  }
  unregistered_[prefix] = 1;
  registered_.notify_all();
}

grpc::Status ExchangeService::Transfer(
    grpc::ServerContext* context, grpc::ServerReaderWriter<v1::ExchangeCredit, v1::ExchangeFrame>* stream) {
  auto log = GetLogger("exchange");
  v1::ExchangeFrame frame;
  if (!stream->Read(&frame)) return grpc::Status(grpc::StatusCode::CANCELLED, "stream closed before its header");
  v1::ExchangeCredit credit;
  auto refuse = [&](grpc::StatusCode code, const std::string& why) {
    SLUICE_LOG_WARN(log, "refusing an exchange stream: {}", why);
    credit.set_error(why);
    stream->Write(credit);
    return grpc::Status(code, why);
  };
  if (frame.kind() != v1::ExchangeFrame::HEADER) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT, "the first exchange frame must be a header");
  }
  const v1::ChannelHeader h = frame.header();
  if (h.protocol_version() != v1::PROTOCOL_VERSION_CURRENT) {
    return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                  absl::StrCat("exchange protocol version ", h.protocol_version(), " is not this worker's ",
                               static_cast<int>(v1::PROTOCOL_VERSION_CURRENT)));
  }
  Inbox inbox;
  {
    std::string key = Key(h.job_id(), h.attempt(), h.vertex(), h.subtask());
    std::string job_key = JobKey(h.job_id(), h.attempt());
    std::unique_lock<std::mutex> lock(mu_);
    // Short waits, so a sender that gives up (its job was cancelled) frees this thread.
    auto deadline = std::chrono::steady_clock::now() + kRegistrationWait;
    auto ready = [&] { return inboxes_.count(key) > 0 || unregistered_.count(job_key) > 0; };
    bool found = ready();
    while (!found && !context->IsCancelled() && std::chrono::steady_clock::now() < deadline) {
      found = registered_.wait_for(lock, std::chrono::milliseconds(100), ready);
    }
    auto it = inboxes_.find(key);
    if (!found || it == inboxes_.end()) {
      lock.unlock();
      return refuse(grpc::StatusCode::NOT_FOUND, absl::StrCat("no task ", key, " on this worker"));
    }
    inbox = it->second;
  }
  if (h.channel() < 0 || h.channel() >= static_cast<int>(inbox.channel_schemas.size())) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("task has no input channel ", h.channel()));
  }
  const SchemaPtr& schema = inbox.channel_schemas[h.channel()];
  credit.set_bytes(window_);
  if (!stream->Write(credit)) return grpc::Status(grpc::StatusCode::CANCELLED, "sender went away");

  while (stream->Read(&frame)) {
    MailboxItem item;
    item.channel = h.channel();
    int64_t bytes = FrameBytes(frame);
    bool end = false;
    switch (frame.kind()) {
      case v1::ExchangeFrame::BATCH: {
        auto data = std::make_shared<std::string>(std::move(*frame.mutable_batch()));
        auto batch = DecodeBatch(std::move(data), schema);
        if (!batch.ok()) {
          return refuse(grpc::StatusCode::DATA_LOSS, std::string(batch.status().message()));
        }
        item.kind = MailboxItem::Kind::kBatch;
        item.batch = std::move(*batch);
        break;
      }
      case v1::ExchangeFrame::WATERMARK:
        item.kind = MailboxItem::Kind::kWatermark;
        item.watermark = frame.watermark();
        break;
      case v1::ExchangeFrame::END_OF_DATA:
        item.kind = MailboxItem::Kind::kEndOfData;
        break;
      case v1::ExchangeFrame::BARRIER:
        if (frame.checkpoint_id() <= 0) {
          return refuse(grpc::StatusCode::INVALID_ARGUMENT, "a barrier frame without a checkpoint id");
        }
        item.kind = MailboxItem::Kind::kBarrier;
        item.checkpoint_id = frame.checkpoint_id();
        break;
      case v1::ExchangeFrame::END_OF_STREAM:
        item.kind = MailboxItem::Kind::kEndOfInput;
        end = true;
        break;
      default:
        return refuse(grpc::StatusCode::INVALID_ARGUMENT, "unexpected exchange frame kind");
    }
    if (inbox.counters) inbox.counters->bytes_in.fetch_add(bytes, std::memory_order_relaxed);
    if (!inbox.mailbox->Push(std::move(item))) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "receiving task stopped");
    }
    if (end) return grpc::Status::OK;
    credit.set_bytes(bytes);
    if (!stream->Write(credit)) break;
  }
  std::string why = absl::StrCat("the exchange stream from upstream subtask of channel ", h.channel(),
                                 " of task ", h.vertex(), "#", h.subtask(), " broke before its end");
  if (inbox.on_broken) inbox.on_broken(absl::UnavailableError(why));
  return grpc::Status(grpc::StatusCode::CANCELLED, why);
}

RemoteChannel::RemoteChannel(std::shared_ptr<grpc::Channel> channel, v1::ChannelHeader header,
                             std::shared_ptr<ExchangeCounters> counters)
    : channel_(std::move(channel)), header_(std::move(header)), counters_(std::move(counters)) {
  header_.set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
}

RemoteChannel::~RemoteChannel() {
  if (reader_.joinable()) {
    if (!ended_) context_.TryCancel();
    reader_.join();
  }
}

bool RemoteChannel::Fail(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_) {
    broken_ = true;
    status_ = std::move(status);
  }
  credit_cv_.notify_all();
  return false;
}

void RemoteChannel::Cancel() {
  Fail(absl::CancelledError("channel cancelled"));
  context_.TryCancel();
}

namespace {
constexpr std::string_view kClosedByReceiver = "exchange stream closed by the receiver";
}  // namespace

bool RemoteChannel::WriteFailed() {
  // The receiver may have said why before it closed the stream (a refused frame): the
  // reader thread gets that reason once the stream ends, so wait for it rather than
  // report a bare broken stream.
  if (reader_.joinable()) reader_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The receiver's reason, or a cancel: keep it. Only a bare end is worth replacing.
    if (broken_ && StdSv(status_.message()) != kClosedByReceiver) return false;
  }
  grpc::Status st = stream_->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  broken_ = true;
  status_ = absl::UnavailableError(absl::StrCat("exchange stream broke while sending",
                                                st.ok() ? "" : absl::StrCat(": ", st.error_message())));
  credit_cv_.notify_all();
  return false;
}

absl::Status RemoteChannel::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

bool RemoteChannel::Connect() {
  connected_ = true;
  stub_ = v1::Exchange::NewStub(channel_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken_) return false;
    stream_ = stub_->Transfer(&context_);
  }
  v1::ExchangeFrame header;
  header.set_kind(v1::ExchangeFrame::HEADER);
  *header.mutable_header() = header_;
  if (!stream_->Write(header)) {
    grpc::Status st = stream_->Finish();
    return Fail(absl::UnavailableError(absl::StrCat("cannot open exchange stream: ", st.error_message())));
  }
  reader_ = std::thread([this] { ReadCredits(); });
  return true;
}

void RemoteChannel::ReadCredits() {
  v1::ExchangeCredit credit;
  while (stream_->Read(&credit)) {
    if (!credit.error().empty()) {
      Fail(absl::FailedPreconditionError(absl::StrCat("receiver refused channel: ", credit.error())));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (window_ < 0) {
      window_ = credit.bytes();
      credit_ = credit.bytes();
    } else {
      credit_ += credit.bytes();
    }
    credit_cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!ended_ && !broken_) {
    broken_ = true;
    status_ = absl::UnavailableError(Sv(kClosedByReceiver));
  }
  credit_cv_.notify_all();
}

bool RemoteChannel::Push(MailboxItem item, int64_t* blocked_ns) {
  if (!connected_ && !Connect()) return false;
  if (ended_) return false;
  frame_.Clear();
  switch (item.kind) {
    case MailboxItem::Kind::kBatch:
      frame_.set_kind(v1::ExchangeFrame::BATCH);
      EncodeBatch(*item.batch, frame_.mutable_batch());
      item.batch.reset();
      break;
    case MailboxItem::Kind::kWatermark:
      frame_.set_kind(v1::ExchangeFrame::WATERMARK);
      frame_.set_watermark(item.watermark);
      break;
    case MailboxItem::Kind::kEndOfData:
      frame_.set_kind(v1::ExchangeFrame::END_OF_DATA);
      break;
    case MailboxItem::Kind::kBarrier:
      frame_.set_kind(v1::ExchangeFrame::BARRIER);
      frame_.set_checkpoint_id(item.checkpoint_id);
      break;
    case MailboxItem::Kind::kEndOfInput:
      frame_.set_kind(v1::ExchangeFrame::END_OF_STREAM);
      break;
    case MailboxItem::Kind::kCheckpointComplete:
      return true;  // control: never crosses the network (the coordinator tells each worker)
  }
  const int64_t bytes = FrameBytes(frame_);
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = [&] { return broken_ || (window_ >= 0 && (credit_ >= bytes || credit_ == window_)); };
    if (!ready()) {
      auto start = std::chrono::steady_clock::now();
      credit_cv_.wait(lock, ready);
      if (blocked_ns != nullptr) {
        *blocked_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      }
    }
    if (broken_) return false;
    credit_ -= bytes;
  }
  if (!stream_->Write(frame_)) return WriteFailed();
  if (counters_) counters_->bytes_out.fetch_add(bytes, std::memory_order_relaxed);
  if (item.kind == MailboxItem::Kind::kEndOfInput) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
    }
    stream_->WritesDone();
    reader_.join();
    grpc::Status st = stream_->Finish();
    if (!st.ok()) return Fail(absl::UnavailableError(absl::StrCat("exchange stream ended with: ", st.error_message())));
  }
  return true;
}

}  // namespace sluice::runtime
