// Dead-letter writers are found by the scheme of the job's dead_letter URI.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sluice/operator.h"

namespace sluice {
namespace {

class KeepWriter : public DeadLetterWriter {
 public:
  explicit KeepWriter(std::string uri) : uri(std::move(uri)) {}
  absl::Status Write(std::string_view lines) override {
    written.append(lines);
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }
  std::string uri;
  std::string written;
};

DeadLetterWriterFactory KeepFactory() {
  return [](std::string_view uri) -> absl::StatusOr<std::unique_ptr<DeadLetterWriter>> {
    return std::make_unique<KeepWriter>(std::string(uri));
  };
}

TEST(DeadLetterRegistryTest, ARegisteredSchemeOpensItsWriterWithTheWholeUri) {
  OperatorRegistry registry;
  ASSERT_TRUE(registry.RegisterDeadLetterWriter("mem", KeepFactory(), "mem://NAME").ok());
  auto writer = registry.OpenDeadLetterWriter("mem://rejects");
  ASSERT_TRUE(writer.ok()) << writer.status();
  auto* keep = static_cast<KeepWriter*>(writer->get());
  EXPECT_EQ(keep->uri, "mem://rejects");
  ASSERT_TRUE((*writer)->Write("{\"node\":\"p\"}\n").ok());
  EXPECT_EQ(keep->written, "{\"node\":\"p\"}\n");
  ASSERT_EQ(registry.DeadLetterSchemes().size(), 1u);
  EXPECT_EQ(registry.DeadLetterSchemes()[0].first, "mem");
}

TEST(DeadLetterRegistryTest, AnUnknownSchemeIsRefusedNamingItAndTheKnownOnes) {
  OperatorRegistry registry;
  ASSERT_TRUE(registry.RegisterDeadLetterWriter("kafka", KeepFactory(), "kafka://HOST:PORT/TOPIC").ok());
  auto writer = registry.OpenDeadLetterWriter("s3://bucket/dead");
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(writer.status().message());
  EXPECT_NE(message.find("unknown scheme 's3'"), std::string::npos) << message;
  EXPECT_NE(message.find("s3://bucket/dead"), std::string::npos) << message;
  EXPECT_NE(message.find("kafka://HOST:PORT/TOPIC"), std::string::npos) << message;
}

TEST(DeadLetterRegistryTest, AnEmptyRegistryRefusesEveryScheme) {
  OperatorRegistry registry;
  auto writer = registry.OpenDeadLetterWriter("kafka://h:9092/t");
  ASSERT_FALSE(writer.ok());
  EXPECT_NE(writer.status().message().find("unknown scheme 'kafka'"), std::string::npos) << writer.status();
}

TEST(DeadLetterRegistryTest, ASchemeIsRegisteredOnce) {
  OperatorRegistry registry;
  ASSERT_TRUE(registry.RegisterDeadLetterWriter("mem", KeepFactory()).ok());
  EXPECT_EQ(registry.RegisterDeadLetterWriter("mem", KeepFactory()).code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace sluice
