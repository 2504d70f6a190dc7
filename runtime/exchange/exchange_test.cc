// The exchange over real gRPC on loopback: ordering of data and control frames, credit
// flow control against a slow receiver, refusal of unknown channels, and a sender that
// goes away mid-stream.
#include "runtime/exchange/exchange.h"

#include <thread>

#include "gtest/gtest.h"

namespace sluice::runtime {
namespace {

SchemaPtr IntSchema() { return std::make_shared<Schema>(std::vector<Field>{{"v", Type::kInt64}}); }

BatchPtr IntBatch(int64_t first, size_t n) {
  auto b = std::make_unique<RecordBatch>(IntSchema());
  for (size_t i = 0; i < n; ++i) {
    b->column(0).ints.push_back(first + static_cast<int64_t>(i));
    b->timestamps().push_back(kNoTimestamp);
  }
  b->set_num_rows(n);
  return b;
}

class ExchangeTest : public ::testing::Test {
 protected:
  void StartServer(int64_t window) {
    service_ = std::make_unique<ExchangeService>(window);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  v1::ChannelHeader Header(int channel = 0) {
    v1::ChannelHeader h;
    h.set_job_id("job");
    h.set_attempt(1);
    h.set_vertex(1);
    h.set_subtask(0);
    h.set_channel(channel);
    return h;
  }

  int port_ = 0;
  std::unique_ptr<ExchangeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ExchangeTest, DeliversBatchesAndControlInOrder) {
  StartServer(1 << 20);
  auto mailbox = std::make_shared<Mailbox>(64);
  auto counters = std::make_shared<ExchangeCounters>();
  service_->Register("job", 1, 1, 0, Inbox{mailbox, {IntSchema()}, counters, nullptr});
  RemoteChannel ch(channel_, Header(), counters);
  for (int i = 0; i < 10; ++i) {
    MailboxItem b;
    b.batch = IntBatch(i * 100, 100);
    ASSERT_TRUE(ch.Push(std::move(b)));
    MailboxItem w;
    w.kind = MailboxItem::Kind::kWatermark;
    w.watermark = i;
    ASSERT_TRUE(ch.Push(std::move(w)));
  }
  MailboxItem barrier;
  barrier.kind = MailboxItem::Kind::kBarrier;
  barrier.checkpoint_id = 7;
  ASSERT_TRUE(ch.Push(std::move(barrier)));
  MailboxItem end_of_data;
  end_of_data.kind = MailboxItem::Kind::kEndOfData;
  ASSERT_TRUE(ch.Push(std::move(end_of_data)));
  MailboxItem end;
  end.kind = MailboxItem::Kind::kEndOfInput;
  ASSERT_TRUE(ch.Push(std::move(end)));
  EXPECT_TRUE(ch.status().ok()) << ch.status();
  for (int i = 0; i < 10; ++i) {
    MailboxItem item;
    ASSERT_TRUE(mailbox->Pop(&item));
    ASSERT_EQ(item.kind, MailboxItem::Kind::kBatch);
    ASSERT_EQ(item.batch->num_rows(), 100u);
    EXPECT_EQ(item.batch->column(0).ints[0], i * 100);
    EXPECT_EQ(item.batch->column(0).ints[99], i * 100 + 99);
    ASSERT_TRUE(mailbox->Pop(&item));
    ASSERT_EQ(item.kind, MailboxItem::Kind::kWatermark);
    EXPECT_EQ(item.watermark, i);
  }
  MailboxItem item;
  ASSERT_TRUE(mailbox->Pop(&item));
  EXPECT_EQ(item.kind, MailboxItem::Kind::kBarrier);
  EXPECT_EQ(item.checkpoint_id, 7);
  ASSERT_TRUE(mailbox->Pop(&item));
  EXPECT_EQ(item.kind, MailboxItem::Kind::kEndOfData);
  ASSERT_TRUE(mailbox->Pop(&item));
  EXPECT_EQ(item.kind, MailboxItem::Kind::kEndOfInput);
  EXPECT_GT(counters->bytes_out.load(), 10 * 800);
  EXPECT_EQ(counters->bytes_out.load(), counters->bytes_in.load());
}

TEST_F(ExchangeTest, CreditsBoundWhatASenderHasInFlight) {
  // Each batch encodes to ~8 KiB; the window holds 4 of them and the mailbox 2.
  const size_t rows = 1000;
  StartServer(4 * (rows * 16 + 64));
  auto mailbox = std::make_shared<Mailbox>(2);
  auto counters = std::make_shared<ExchangeCounters>();
  service_->Register("job", 1, 1, 0, Inbox{mailbox, {IntSchema()}, counters, nullptr});
  RemoteChannel ch(channel_, Header(), counters);
  std::atomic<int> sent{0};
  int64_t blocked_ns = 0;
  std::thread sender([&] {
    for (int i = 0; i < 40; ++i) {
      MailboxItem b;
      b.batch = IntBatch(i, rows);
      ASSERT_TRUE(ch.Push(std::move(b), &blocked_ns));
      sent.fetch_add(1);
    }
    MailboxItem end;
    end.kind = MailboxItem::Kind::kEndOfInput;
    ASSERT_TRUE(ch.Push(std::move(end), &blocked_ns));
  });
  // Nobody pops: the sender must stall after the window plus the mailbox fill up.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int stalled_at = sent.load();
  EXPECT_LE(stalled_at, 4 + 2 + 1) << "sender ran past its credit window";
  EXPECT_GE(stalled_at, 2);
  // Draining lets everything through, in order.
  int64_t expect = 0;
  MailboxItem item;
  while (mailbox->Pop(&item) && item.kind == MailboxItem::Kind::kBatch) {
    EXPECT_EQ(item.batch->column(0).ints[0], expect++);
  }
  EXPECT_EQ(item.kind, MailboxItem::Kind::kEndOfInput);
  EXPECT_EQ(expect, 40);
  sender.join();
  EXPECT_GT(blocked_ns, 100'000'000) << "the sender should have waited for credit";
}

TEST_F(ExchangeTest, RefusesAChannelForAnUnknownJob) {
  StartServer(1 << 20);
  service_->Unregister("job", 1);  // known gone: refuse at once instead of waiting
  RemoteChannel ch(channel_, Header(), nullptr);
  MailboxItem b;
  b.batch = IntBatch(0, 10);
  EXPECT_FALSE(ch.Push(std::move(b)));
  EXPECT_NE(ch.status().message().find("no task job/1/1/0"), std::string::npos) << ch.status();
}

TEST_F(ExchangeTest, ABarrierWithoutACheckpointIdIsRefused) {
  StartServer(1 << 20);
  auto mailbox = std::make_shared<Mailbox>(64);
  service_->Register("job", 1, 1, 0, Inbox{mailbox, {IntSchema()}, nullptr, nullptr});
  RemoteChannel ch(channel_, Header(), nullptr);
  MailboxItem barrier;
  barrier.kind = MailboxItem::Kind::kBarrier;  // checkpoint_id 0: malformed
  ch.Push(std::move(barrier));
  // The refusal reaches the sender with the next frame (or the one after: it is async).
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    MailboxItem b;
    b.batch = IntBatch(0, 10);
    refused = !ch.Push(std::move(b));
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(refused);
  EXPECT_NE(ch.status().message().find("barrier frame without a checkpoint id"), std::string::npos) << ch.status();
  EXPECT_EQ(mailbox->size(), 0u);  // nothing of it reached the task
}

TEST_F(ExchangeTest, ReceiverLearnsWhenASenderBreaksOff) {
  StartServer(1 << 20);
  auto mailbox = std::make_shared<Mailbox>(64);
  std::atomic<bool> broken{false};
  service_->Register("job", 1, 1, 0,
                     Inbox{mailbox, {IntSchema()}, nullptr, [&](absl::Status) { broken.store(true); }});
  {
    RemoteChannel ch(channel_, Header(), nullptr);
    MailboxItem b;
    b.batch = IntBatch(0, 10);
    ASSERT_TRUE(ch.Push(std::move(b)));
    ch.Cancel();  // gone before its end-of-stream
  }
  for (int i = 0; i < 100 && !broken.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(broken.load());
}

}  // namespace
}  // namespace sluice::runtime
