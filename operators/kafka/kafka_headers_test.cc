// Headers as JSON: always valid JSON whatever the bytes, duplicates and null values kept,
// and read back into librdkafka headers.
#include "operators/kafka/kafka_headers.h"

#include <optional>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "operators/kafka/kafka_common.h"
#include "simdjson.h"

namespace sluice::operators::kafka {
namespace {

// The headers JSON of one header "h" with value `bytes`.
std::string Json(std::string_view bytes) {
  KafkaHeaders hdrs(rd_kafka_headers_new(1));
  rd_kafka_header_add(hdrs.get(), "h", -1, bytes.data(), static_cast<ssize_t>(bytes.size()));
  std::string out;
  AppendHeadersJson(hdrs.get(), &out);
  EXPECT_EQ(out.substr(0, 5), "{\"h\":") << out;
  EXPECT_EQ(out.back(), '}') << out;
  return out.substr(5, out.size() - 6);
}

// Parses `json` (a JSON string) back with simdjson; fails the test when it is not valid.
std::string Unquote(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::string_view s;
  EXPECT_EQ(doc.get_string().get(s), simdjson::SUCCESS) << json;
  return std::string(s);
}

std::vector<std::pair<std::string, std::optional<std::string>>> All(const rd_kafka_headers_t* hdrs) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    out.emplace_back(name, value == nullptr ? std::nullopt
                                            : std::optional<std::string>(std::string(static_cast<const char*>(value), size)));
  }
  return out;
}

TEST(KafkaHeadersTest, ValuesAreJsonStringsWithValidUtf8KeptAndControlBytesEscaped) {
  EXPECT_EQ(Json("abc"), "\"abc\"");
  EXPECT_EQ(Json("a\"b\\c\nd\te\x01\x7f"), "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\"");
  EXPECT_EQ(Json("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Unquote(Json("caf\xc3\xa9 \xe4\xb8\xad")), "caf\xc3\xa9 \xe4\xb8\xad");
  EXPECT_EQ(Json(std::string_view("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(KafkaHeadersTest, ValueBytesThatAreNotUtf8BecomeEscapesAndTheResultIsValidJson) {
  // A lone continuation byte, a truncated sequence, an overlong form, a surrogate, a byte
  // that never occurs in UTF-8, and a sequence cut at the end of the value.
  const std::string bytes = std::string("\x80x\xc3") + "y" + "\xc0\xaf" + "\xed\xa0\x80" + "\xff" + "\xe4\xb8";
  const std::string json = Json(bytes);
  EXPECT_EQ(json, "\"\\u0080x\\u00c3y\\u00c0\\u00af\\u00ed\\u00a0\\u0080\\u00ff\\u00e4\\u00b8\"");
  EXPECT_EQ(Unquote(json), "\xc2\x80x\xc3\x83y\xc3\x80\xc2\xaf\xc3\xad\xc2\xa0\xc2\x80\xc3\xbf\xc3\xa4\xc2\xb8");
  // Every single byte value, and every pair, gives valid JSON.
  simdjson::dom::parser parser;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 7) {
      std::string two{static_cast<char>(a), static_cast<char>(b)};
      std::string j = Json(two);
      simdjson::dom::element doc;
      ASSERT_EQ(parser.parse(j).get(doc), simdjson::SUCCESS) << a << " " << b << " " << j;
    }
  }
}

TEST(KafkaHeadersTest, HeadersBecomeAnObjectWithRepeatedNamesAsArrays) {
  KafkaHeaders hdrs(rd_kafka_headers_new(8));
  rd_kafka_header_add(hdrs.get(), "trace", -1, "ab12", -1);
  rd_kafka_header_add(hdrs.get(), "hop", -1, "a", -1);
  rd_kafka_header_add(hdrs.get(), "flag", -1, nullptr, 0);
  rd_kafka_header_add(hdrs.get(), "hop", -1, "b", -1);
  rd_kafka_header_add(hdrs.get(), "bin", -1, "\xff\x00", 2);
  std::string out;
  AppendHeadersJson(hdrs.get(), &out);
  EXPECT_EQ(out, R"({"trace":"ab12","hop":["a","b"],"flag":null,"bin":"\u00ff\u0000"})");
  out.clear();
  AppendHeadersJson(nullptr, &out);
  EXPECT_EQ(out, "{}");
}

TEST(KafkaHeadersTest, AJsonObjectBecomesHeadersInOrder) {
  HeadersJsonReader reader;
  KafkaHeaders hdrs(rd_kafka_headers_new(8));
  ASSERT_TRUE(reader.Add(R"({"trace":"ab12","hop":["a","b"],"flag":null,"n":42,"ok":true,"u":"caf\u00e9"})",
                         hdrs.get())
                  .ok());
  using H = std::vector<std::pair<std::string, std::optional<std::string>>>;
  EXPECT_EQ(All(hdrs.get()), (H{{"trace", "ab12"},
                                {"hop", "a"},
                                {"hop", "b"},
                                {"flag", std::nullopt},
                                {"n", "42"},
                                {"ok", "true"},
                                {"u", "caf\xc3\xa9"}}));
  // What AppendHeadersJson writes reads back to the same headers.
  std::string json;
  AppendHeadersJson(hdrs.get(), &json);
  KafkaHeaders again(rd_kafka_headers_new(8));
  ASSERT_TRUE(reader.Add(json, again.get()).ok());
  EXPECT_EQ(All(again.get()), All(hdrs.get()));
}

TEST(KafkaHeadersTest, TextThatIsNotAnObjectOfValuesIsRefused) {
  HeadersJsonReader reader;
  for (const char* bad : {"not json", "[1,2]", "\"x\"", R"({"a":{"b":1}})", R"({"a":[["x"]]})", R"({"a":)"}) {
    KafkaHeaders hdrs(rd_kafka_headers_new(4));
    absl::Status st = reader.Add(bad, hdrs.get());
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad << ": " << st;
  }
  KafkaHeaders hdrs(rd_kafka_headers_new(4));
  EXPECT_TRUE(reader.Add("", hdrs.get()).ok());
  EXPECT_TRUE(reader.Add("{}", hdrs.get()).ok());
  EXPECT_EQ(rd_kafka_header_cnt(hdrs.get()), 0u);
}

}  // namespace
}  // namespace sluice::operators::kafka
