#include "runtime/exchange/batch_codec.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace sluice::runtime {
namespace {

SchemaPtr TestSchema() {
  return std::make_shared<Schema>(std::vector<Field>{{"id", Type::kInt64},
                                                     {"name", Type::kString},
                                                     {"score", Type::kDouble},
                                                     {"ok", Type::kBool},
                                                     {"at", Type::kTimestamp}});
}

BatchPtr MakeBatch(const SchemaPtr& schema, size_t n) {
  auto b = std::make_unique<RecordBatch>(schema);
  for (size_t r = 0; r < n; ++r) {
    b->column(0).ints.push_back(static_cast<int64_t>(r) - 5);
    b->column(1).strings.push_back(b->arena().Copy(std::string(r % 7, static_cast<char>('a' + r % 26))));
    b->column(2).doubles.push_back(r * 0.5);
    b->column(3).ints.push_back(r % 2);
    b->column(4).ints.push_back(1700000000000 + static_cast<int64_t>(r));
    b->timestamps().push_back(r % 3 == 0 ? kNoTimestamp : 1000 + static_cast<int64_t>(r));
  }
  b->set_num_rows(n);
  if (n > 3) b->column(1).SetNull(3, n);
  return b;
}

TEST(BatchCodec, RoundTripsEveryTypeNullsAndTimestamps) {
  SchemaPtr schema = TestSchema();
  BatchPtr in = MakeBatch(schema, 100);
  auto buf = std::make_shared<std::string>();
  EncodeBatch(*in, buf.get());
  ASSERT_OK_AND_ASSIGN(BatchPtr out, DecodeBatch(buf, schema));
  ASSERT_EQ(out->num_rows(), 100u);
  for (size_t r = 0; r < 100; ++r) {
    EXPECT_EQ(out->RowToJson(r), in->RowToJson(r)) << r;
    EXPECT_EQ(out->timestamps()[r], in->timestamps()[r]);
  }
  EXPECT_TRUE(out->column(1).IsNull(3));
  EXPECT_FALSE(out->column(1).IsNull(4));
  // Strings point into the received buffer: nothing was copied.
  const std::string_view s = out->column(1).strings[5];
  EXPECT_GE(s.data(), buf->data());
  EXPECT_LE(s.data() + s.size(), buf->data() + buf->size());
}

TEST(BatchCodec, EmptyBatch) {
  SchemaPtr schema = TestSchema();
  BatchPtr in = MakeBatch(schema, 0);
  auto buf = std::make_shared<std::string>();
  EncodeBatch(*in, buf.get());
  ASSERT_OK_AND_ASSIGN(BatchPtr out, DecodeBatch(buf, schema));
  EXPECT_EQ(out->num_rows(), 0u);
}

TEST(BatchCodec, RefusesEveryTruncationAndAWrongSchema) {
  SchemaPtr schema = TestSchema();
  BatchPtr in = MakeBatch(schema, 20);
  std::string full;
  EncodeBatch(*in, &full);
  for (size_t len = 0; len < full.size(); ++len) {
    auto cut = std::make_shared<std::string>(full.substr(0, len));
    auto out = DecodeBatch(cut, schema);
    ASSERT_FALSE(out.ok()) << len;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss);
  }
  auto other = std::make_shared<Schema>(std::vector<Field>{{"id", Type::kString}, {"name", Type::kString},
                                                           {"score", Type::kDouble}, {"ok", Type::kBool},
                                                           {"at", Type::kTimestamp}});
  auto wrong = DecodeBatch(std::make_shared<std::string>(full), other);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("column 0"), std::string::npos);
  auto extra = std::make_shared<std::string>(full + "x");
  EXPECT_FALSE(DecodeBatch(extra, schema).ok());
}

}  // namespace
}  // namespace sluice::runtime
