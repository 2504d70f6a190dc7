// AppendJsonString: every byte string becomes a JSON string that a strict parser
// (simdjson, which validates UTF-8) accepts; valid UTF-8 round-trips exactly, each byte
// that is not part of a valid UTF-8 sequence reads back as U+00XX (issue #10.7).
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "sluice/record.h"

namespace sluice {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

// Parses `json` (a JSON string) strictly; false if rejected.
bool ParseString(const std::string& json, std::string* value) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element e;
  if (parser.parse(padded).get(e) != simdjson::SUCCESS) return false;
  std::string_view v;
  if (e.get(v) != simdjson::SUCCESS) return false;
  *value = std::string(v);
  return true;
}

// What a reader gets for `s`: valid UTF-8 as is, every other byte b as U+00b.
std::string Expected(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = 0;
    for (size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
      if (IsValidUtf8(s.substr(i, len))) {
        n = len;
        break;
      }
    }
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    unsigned char b = static_cast<unsigned char>(s[i++]);
    out.push_back(static_cast<char>(0xC0 | (b >> 6)));
    out.push_back(static_cast<char>(0x80 | (b & 0x3F)));
  }
  return out;
}

TEST(JsonStringTest, ValidUtf8PassesThroughUnchanged) {
  for (std::string s : {"", "plain", "中文 agent", "caf\xc3\xa9", "emoji \xf0\x9f\x98\x80", "\xef\xbf\xbf",
                        "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80"}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
    EXPECT_EQ(Json(s), "\"" + s + "\"");
    std::string back;
    ASSERT_TRUE(ParseString(Json(s), &back)) << Json(s);
    EXPECT_EQ(back, s);
  }
}

TEST(JsonStringTest, ControlCharactersAreEscaped) {
  const char in[] = "a\"b\\c\nd\re\tf\x01g\x7fh\0i";
  EXPECT_EQ(Json(std::string(in, sizeof(in) - 1)),
            R"("a\"b\\c\nd\re\tf\u0001g\u007fh\u0000i")");
}

TEST(JsonStringTest, EachInvalidByteIsEscapedAndTheResultParsesStrictly) {
  struct Case {
    std::string in;
    std::string json;
  };
  const Case cases[] = {
      {"\x80", R"("\u0080")"},                                  // lone continuation byte
      {"a\xbf" "b", R"("a\u00bfb")"},                           // lone continuation byte inside
      {"a\xc3", R"("a\u00c3")"},                                // truncated 2-byte sequence at the end
      {"\xe4\xb8x", R"("\u00e4\u00b8x")"},                      // truncated 3-byte sequence
      {"\xf0\x9f\x98", R"("\u00f0\u009f\u0098")"},              // truncated 4-byte sequence
      {"\xc0\xaf", R"("\u00c0\u00af")"},                        // overlong '/'
      {"\xc1\xbf", R"("\u00c1\u00bf")"},                        // overlong
      {"\xe0\x80\xaf", R"("\u00e0\u0080\u00af")"},              // overlong 3-byte
      {"\xf0\x80\x80\xaf", R"("\u00f0\u0080\u0080\u00af")"},    // overlong 4-byte
      {"\xed\xa0\x80", R"("\u00ed\u00a0\u0080")"},              // surrogate U+D800 in UTF-8
      {"\xed\xbf\xbf", R"("\u00ed\u00bf\u00bf")"},              // surrogate U+DFFF
      {"\xf4\x90\x80\x80", R"("\u00f4\u0090\u0080\u0080")"},    // above U+10FFFF
      {"\xf5\x80\x80\x80", R"("\u00f5\u0080\u0080\u0080")"},    // F5: never valid
      {"\xff", R"("\u00ff")"},
      {"\xfe\xff", R"("\u00fe\u00ff")"},
      {"caf\xe9 \xc3\xa9", "\"caf\\u00e9 \xc3\xa9\""},          // Latin-1 next to UTF-8
      {"broken \xff\xfe utf-8", R"("broken \u00ff\u00fe utf-8")"},
      {"\xc3\xa9\x80\xc3\xa9", "\"\xc3\xa9\\u0080\xc3\xa9\""},  // extra continuation after a valid char
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.in)) << c.json;
    const std::string json = Json(c.in);
    EXPECT_EQ(json, c.json);
    std::string back;
    ASSERT_TRUE(ParseString(json, &back)) << "a strict parser rejects " << json;
    EXPECT_EQ(back, Expected(c.in)) << json;
  }
}

TEST(JsonStringTest, RandomBytesAlwaysGiveValidJson) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& ch : s) {
      // Mostly high bytes and continuation bytes, where UTF-8 goes wrong.
      uint32_t r = rng();
      ch = static_cast<char>(r % 4 == 0 ? r >> 8 : 0x80 + (r >> 8) % 0x80);
    }
    const std::string json = Json(s);
    std::string back;
    ASSERT_TRUE(ParseString(json, &back)) << json;
    EXPECT_EQ(back, Expected(s)) << json;
    if (IsValidUtf8(s)) {
      EXPECT_EQ(back, s);
    }
  }
}

TEST(JsonStringTest, RowsWithInvalidUtf8AndNonFiniteDoublesAreValidJson) {
  auto schema = std::make_shared<Schema>(
      std::vector<Field>{{"s", Type::kString}, {"x", Type::kDouble}, {"y", Type::kDouble}});
  RecordBatch b(schema);
  b.column(0).strings.push_back("bad \xff byte");
  b.column(1).doubles.push_back(std::numeric_limits<double>::quiet_NaN());
  b.column(2).doubles.push_back(-std::numeric_limits<double>::infinity());
  b.timestamps().push_back(0);
  b.set_num_rows(1);
  const std::string json = b.RowToJson(0);
  EXPECT_EQ(json, R"({"s":"bad \u00ff byte","x":null,"y":null})");
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(simdjson::padded_string(json)).get(e), simdjson::SUCCESS) << json;
}

}  // namespace
}  // namespace sluice
