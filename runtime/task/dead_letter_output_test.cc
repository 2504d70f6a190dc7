// Dead-letter lines are JSON that a strict parser accepts whatever bytes the rejected
// record held, and a record that is not valid UTF-8 keeps its exact bytes in base64
// (issue #10.7).
#include "runtime/task/dead_letter_output.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "absl/strings/escaping.h"

namespace sluice::runtime {
namespace {

// Parses the line (without its '\n') strictly into `e`; false if a strict parser rejects it.
bool Parse(simdjson::dom::parser& parser, const std::string& line, simdjson::dom::element* e) {
  if (line.empty() || line.back() != '\n') return false;
  return parser.parse(simdjson::padded_string(line.substr(0, line.size() - 1))).get(*e) == simdjson::SUCCESS;
}

std::string Get(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v) != simdjson::SUCCESS) return "<absent>";
  return std::string(v);
}

TEST(DeadLetterOutputTest, InvalidUtf8RecordsGiveValidJsonAndKeepTheirBytes) {
  const std::string records[] = {
      std::string("\x80 lone continuation"),
      std::string("truncated \xe4\xb8"),
      std::string("overlong \xc0\xaf and \xe0\x80\xaf"),
      std::string("surrogate \xed\xa0\x80"),
      std::string("ff \xff fe \xfe"),
      std::string("latin-1 \xe9t\xe9 \"quoted\" \\ \t"),
      std::string("nul \0 inside", 12),
  };
  for (const std::string& record : records) {
    std::string line;
    DeadLetterOutput::FormatLine("parse", "malformed", record, &line);
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    ASSERT_TRUE(Parse(parser, line, &e)) << "a strict JSON parser rejects: " << line;
    EXPECT_EQ(Get(e, "node"), "parse");
    EXPECT_EQ(Get(e, "reason"), "malformed");
    EXPECT_NE(Get(e, "record"), "<absent>");
    std::string raw;
    const std::string b64 = Get(e, "record_base64");
    const bool valid_utf8 = IsValidUtf8(record);
    if (valid_utf8) {
      EXPECT_EQ(b64, "<absent>") << line;
      EXPECT_EQ(Get(e, "record"), record);
    } else {
      ASSERT_TRUE(absl::Base64Unescape(b64, &raw)) << line;
      EXPECT_EQ(raw, record) << line;
    }
  }
}

TEST(DeadLetterOutputTest, ValidRecordsHaveNoBase64) {
  std::string line;
  DeadLetterOutput::FormatLine("parse", "malformed", "中文 \"ok\"", &line);
  EXPECT_EQ(line, "{\"node\":\"parse\",\"reason\":\"malformed\",\"record\":\"中文 \\\"ok\\\"\"}\n");
}

TEST(DeadLetterOutputTest, RowsWithInvalidUtf8KeepTheBytesOfThoseFields) {
  auto schema = std::make_shared<Schema>(
      std::vector<Field>{{"user_agent", Type::kString}, {"path", Type::kString}, {"n", Type::kInt64}});
  RecordBatch b(schema);
  b.column(0).strings.push_back("broken \xff\xfe agent");
  b.column(1).strings.push_back("/ok");
  b.column(2).ints.push_back(7);
  b.timestamps().push_back(0);
  b.set_num_rows(1);
  std::string line;
  DeadLetterOutput::FormatRowLine("clean", "bot", b, 0, &line);
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  ASSERT_TRUE(Parse(parser, line, &e)) << "a strict JSON parser rejects: " << line;
  simdjson::dom::element row;
  ASSERT_EQ(e["row"].get(row), simdjson::SUCCESS) << line;
  EXPECT_EQ(Get(row, "path"), "/ok");
  std::string_view b64;
  ASSERT_EQ(e["row_base64"]["user_agent"].get(b64), simdjson::SUCCESS) << line;
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(std::string(b64), &raw));
  EXPECT_EQ(raw, "broken \xff\xfe agent");
  EXPECT_NE(e["row_base64"]["path"].error(), simdjson::SUCCESS) << "only fields that need it: " << line;
}

}  // namespace
}  // namespace sluice::runtime
