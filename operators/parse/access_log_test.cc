#include "operators/parse/access_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::operators::parse {
namespace {

using std::string_literals::operator""s;

constexpr char kLine[] =
    "203.0.113.9 - alice [20/Nov/2026:08:15:02 +0800] "
    "\"GET /item/42?ref=home&x=1 HTTP/1.1\" 200 5123 "
    "\"https://shop.example.com/\" \"Mozilla/5.0 (X11; Linux x86_64)\"";

// A valid combined line with the given time block and request.
std::string Line(const std::string& time = "20/Nov/2026:08:15:02 +0800",
                 const std::string& request = "GET /item/42 HTTP/1.1",
                 const std::string& status_bytes = "200 5123") {
  return "10.0.0.1 - - [" + time + "] \"" + request + "\" " + status_bytes +
         " \"-\" \"Mozilla/5.0\"";
}

bool Parses(std::string_view line, AccessLogFormat format = AccessLogFormat::kCombined) {
  AccessLogEntry e;
  return ParseAccessLogLine(line, format, &e);
}

int64_t TimeOf(const std::string& time) {
  AccessLogEntry e;
  EXPECT_TRUE(ParseAccessLogLine(Line(time), AccessLogFormat::kCombined, &e)) << time;
  return e.time_ms;
}

TEST(AccessLogTest, ParsesEveryFieldOfACombinedLine) {
  AccessLogEntry e;
  ASSERT_TRUE(ParseAccessLogLine(kLine, AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.remote_addr, "203.0.113.9");
  EXPECT_EQ(e.remote_user, "alice");
  EXPECT_FALSE(e.remote_user_is_null);
  EXPECT_EQ(e.time_ms, 1795133702000);  // 2026-11-20T00:15:02Z
  EXPECT_EQ(e.method, "GET");
  EXPECT_EQ(e.target, "/item/42?ref=home&x=1");
  EXPECT_EQ(e.path, "/item/42");
  EXPECT_TRUE(e.has_query);
  EXPECT_EQ(e.query, "ref=home&x=1");
  EXPECT_EQ(e.protocol, "HTTP/1.1");
  EXPECT_EQ(e.status, 200);
  EXPECT_EQ(e.bytes, 5123);
  EXPECT_EQ(e.referer, "https://shop.example.com/");
  EXPECT_FALSE(e.referer_is_null);
  EXPECT_EQ(e.user_agent, "Mozilla/5.0 (X11; Linux x86_64)");
  // Views point into the line.
  EXPECT_EQ(e.remote_addr.data(), kLine);
}

TEST(AccessLogTest, DashesAndQueries) {
  AccessLogEntry e;
  ASSERT_TRUE(ParseAccessLogLine(
      "::1 - - [01/Jan/2027:00:00:00 +0000] \"POST /a?b?c HTTP/2.0\" 302 - \"-\" \"-\"",
      AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.remote_addr, "::1");
  EXPECT_TRUE(e.remote_user_is_null);
  EXPECT_EQ(e.path, "/a");
  EXPECT_TRUE(e.has_query);
  EXPECT_EQ(e.query, "b?c");
  EXPECT_EQ(e.status, 302);
  EXPECT_EQ(e.bytes, 0);
  EXPECT_TRUE(e.referer_is_null);
  EXPECT_EQ(e.user_agent, "-");  // only remote_user and referer read "-" as null

  const std::string line1 = Line("01/Jan/2027:00:00:00 +0000", "GET /a? HTTP/1.1");
  ASSERT_TRUE(ParseAccessLogLine(line1, AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.path, "/a");
  EXPECT_TRUE(e.has_query);
  EXPECT_EQ(e.query, "");

  const std::string line2 = Line("01/Jan/2027:00:00:00 +0000", "OPTIONS * HTTP/1.1");
  ASSERT_TRUE(ParseAccessLogLine(line2, AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.method, "OPTIONS");
  EXPECT_EQ(e.path, "*");
  EXPECT_FALSE(e.has_query);
  EXPECT_EQ(e.query, "");

  const std::string line3 = Line("01/Jan/2027:00:00:00 +0000", "GET / HTTP/1.1", "000 0");
  ASSERT_TRUE(ParseAccessLogLine(line3, AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.status, 0);
  EXPECT_EQ(e.bytes, 0);
  ASSERT_TRUE(ParseAccessLogLine(
      Line("01/Jan/2027:00:00:00 +0000", "GET / HTTP/1.1", "599 9223372036854775807"),
      AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.status, 599);
  EXPECT_EQ(e.bytes, 9223372036854775807);
  // Any \d+ is well formed; a count beyond int64 saturates.
  for (const char* big : {"9223372036854775808", "99999999999999999999999999"}) {
    const std::string line =
        Line("01/Jan/2027:00:00:00 +0000", "GET / HTTP/1.1", std::string("200 ") + big);
    ASSERT_TRUE(ParseAccessLogLine(line, AccessLogFormat::kCombined, &e)) << big;
    EXPECT_EQ(e.bytes, INT64_MAX);
  }
}

TEST(AccessLogTest, TimeZones) {
  EXPECT_EQ(TimeOf("20/Nov/2026:08:15:02 +0000"), 1795162502000);
  EXPECT_EQ(TimeOf("20/Nov/2026:08:15:02 +0800"), 1795133702000);
  EXPECT_EQ(TimeOf("01/Jan/2027:00:10:00 -0530"), 1798782000000);  // 05:40Z
  // Across midnight and the year end, both ways.
  EXPECT_EQ(TimeOf("31/Dec/2026:23:30:00 -0100"), 1798763400000);  // 2027-01-01T00:30Z
  EXPECT_EQ(TimeOf("01/Jan/2027:07:00:00 +0800"), 1798758000000);  // 2026-12-31T23:00Z
  EXPECT_EQ(TimeOf("29/Feb/2028:12:00:00 +1400"), 1835388000000);
  EXPECT_EQ(TimeOf("01/Mar/2000:00:00:00 -1200"), 951912000000);
  EXPECT_EQ(TimeOf("29/Feb/2000:23:59:59 +0000"), 951868799000);
  EXPECT_EQ(TimeOf("31/Dec/1969:23:59:59 +0000"), -1000);
  EXPECT_EQ(TimeOf("01/Jan/1970:00:00:00 +0000"), 0);
  EXPECT_EQ(TimeOf("05/Mar/1600:01:02:03 +0000"), -11670562677000);
  EXPECT_EQ(TimeOf("01/Jan/9999:00:00:00 +0000"), 253370764800000);
  EXPECT_EQ(TimeOf("01/Jan/1970:00:00:00 -1459"), (14 * 3600 + 59 * 60) * 1000);
}

TEST(AccessLogTest, DaysFromCivil) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(2026, 11, 20), 20777);
  EXPECT_EQ(DaysFromCivil(1, 1, 1), -719162);
  EXPECT_EQ(DaysFromCivil(9999, 12, 31), 2932896);
  EXPECT_EQ(DaysInMonth(2028, 2), 29);
  EXPECT_EQ(DaysInMonth(2026, 2), 28);
  EXPECT_EQ(DaysInMonth(1900, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2026, 11), 30);
}

TEST(AccessLogTest, ValidCalendarEdges) {
  EXPECT_TRUE(Parses(Line("29/Feb/2028:08:15:02 +0800")));
  EXPECT_TRUE(Parses(Line("29/Feb/2000:08:15:02 +0800")));
  EXPECT_TRUE(Parses(Line("31/Dec/2026:23:59:59 -1459")));
  EXPECT_TRUE(Parses(Line("30/Nov/2026:00:00:00 +1400")));
  for (const char* month :
       {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}) {
    EXPECT_TRUE(Parses(Line(std::string("01/") + month + "/2026:00:00:00 +0000"))) << month;
  }
  for (const char* method : {"GET", "HEAD", "POST", "PUT", "DELETE", "PROPFIND", "X"}) {
    EXPECT_TRUE(Parses(Line("01/Jan/2027:00:00:00 +0000", std::string(method) + " / HTTP/1.1")));
  }
}

TEST(AccessLogTest, MalformedTimes) {
  for (const char* time :
       {"32/Foo/2026:99:00:00 +0800", "32/Nov/2026:08:15:02 +0800",  "20/Foo/2026:08:15:02 +0800",
        "20/nov/2026:08:15:02 +0800", "20/NOV/2026:08:15:02 +0800",  "20/Nov/2026:24:15:02 +0800",
        "20/Nov/2026:08:60:02 +0800", "20/Nov/2026:08:15:60 +0800",  "31/Nov/2026:08:15:02 +0800",
        "29/Feb/2026:08:15:02 +0800", "29/Feb/1900:08:15:02 +0800",  "30/Feb/2028:08:15:02 +0800",
        "00/Nov/2026:08:15:02 +0800", "20/Nov/2026:08:15:02 +1500",  "20/Nov/2026:08:15:02 +0860",
        "20/Nov/2026:08:15:02",       "2026-11-20T08:15:02+08:00",   "20/Nov/26:08:15:02 +0800",
        "20/Nov/2026 08:15:02 +0800", "20/Nov/2026:8:15:02 +0800",   "20/Nov/2026:08:15:02 0800",
        "20/Nov/2026:08:15:02 *0800", "20/Nov/2026:08:15:02 +08:00", "2a/Nov/2026:08:15:02 +0800",
        "20/Nov/2O26:08:15:02 +0800", "20/Nov/2026:08:15:02  +0800", "20/Nov/2026:08:15:02 +080"}) {
    EXPECT_FALSE(Parses(Line(time))) << time;
  }
}

TEST(AccessLogTest, MalformedRequests) {
  for (const char* request :
       {"get /item/1 HTTP/1.1", "GET /item/1", "GET /item/1 HTTP/1.1 extra",
        "GET  /item/1 HTTP/1.1", "GET /item/1 FTP/1.0", "GET /item/1 http/1.1",
        "G3T /item/1 HTTP/1.1", "GET /item/1 HTTP/1.1 ", " GET /item/1 HTTP/1.1",
        "Get /cart HTTP/1.1", "GET", "/item/1 HTTP/1.1", "-", "", "GET\t/ HTTP/1.1", "GET / HTTP",
        "GÉT / HTTP/1.1", "\\x16\\x03\\x01\\x00\\xA5\\x01\\x00\\x00\\xA1\\x03\\x03"}) {
    EXPECT_FALSE(Parses(Line("20/Nov/2026:08:15:02 +0800", request))) << request;
  }
  // The target may hold anything but a space.
  EXPECT_TRUE(Parses(Line("20/Nov/2026:08:15:02 +0800", "GET /a\tb\\x16 HTTP/1.1")));
}

TEST(AccessLogTest, MalformedStatusAndBytes) {
  for (const char* sb : {"OK 12", "2OO 12", "20 12", "2000 12", "- 12", "abc 12", "2 0 12", "200",
                         "200 ", "200 -5", "200 12a", "200 --", " 200 12", "200  12"}) {
    EXPECT_FALSE(Parses(Line("20/Nov/2026:08:15:02 +0800", "GET / HTTP/1.1", sb))) << sb;
  }
}

TEST(AccessLogTest, EveryStrictPrefixIsMalformed) {
  const std::string line = kLine;
  for (size_t n = 0; n < line.size(); ++n) {
    EXPECT_FALSE(Parses(line.substr(0, n))) << n;
  }
  EXPECT_TRUE(Parses(line));
}

TEST(AccessLogTest, MissingQuotes) {
  const std::string line = kLine;
  int quotes = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '"') continue;
    ++quotes;
    EXPECT_FALSE(Parses(line.substr(0, i) + line.substr(i + 1))) << i;
  }
  EXPECT_EQ(quotes, 6);
}

TEST(AccessLogTest, MalformedLines) {
  const std::string line = kLine;
  for (const std::string& bad : std::vector<std::string>{
           "",
           " ",
           "\r",
           "-",
           "hello world",
           "GET / HTTP/1.1",
           "<html>\x16\x03\x01 garbage",
           line + " ",
           line + "x",
           line + " \"extra\"",
           line + "\n\"",
           " " + line,  // empty remote_addr
           "1.2.3.4  - - [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
           "1.2.3.4 x - [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
           "1.2.3.4 - a b [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
           "1.2.3.4 - a\tb [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
           "1.2.3.4\t- - [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
           "1.2.3.4 - - [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\"",
           "1.2.3.4 - - [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\"  \"-\"",
           "1.2.3.4 - - [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"a\"b\" \"-\"",
           "1.2.3.4 - - [20/Nov/2026:08:15:02 +0800] \"GET / HTTP/1.1\" 200 1 \"-\" \"a\"b\"",
           "1.2.3.4 - - [20/Nov/2026:08:15:02 +0800]\"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
           "1.2.3.4 - - 20/Nov/2026:08:15:02 +0800 \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
       }) {
    EXPECT_FALSE(Parses(bad)) << bad;
  }
}

TEST(AccessLogTest, CarriageReturnsAreIgnored) {
  AccessLogEntry e;
  const std::string crlf = std::string(kLine) + "\r";
  ASSERT_TRUE(ParseAccessLogLine(crlf, AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.user_agent, "Mozilla/5.0 (X11; Linux x86_64)");
  EXPECT_FALSE(Parses(std::string(kLine) + "\r\r"));  // only one is a line ending
  EXPECT_FALSE(Parses(std::string(kLine) + "\r "));
}

TEST(AccessLogTest, EmbeddedNulBytes) {
  // \S and [^"] both match NUL, so NULs are fine in those fields...
  const std::string addr("1.2\0.3.4", 8);
  const std::string ua("Moz\0illa", 8);
  const std::string line =
      addr + " - - [20/Nov/2026:08:15:02 +0800] \"GET /a\0b HTTP/1.1\" 200 1 \"-\" \""s + ua + "\"";
  AccessLogEntry e;
  ASSERT_TRUE(ParseAccessLogLine(line, AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.remote_addr, addr);
  EXPECT_EQ(e.path, std::string("/a\0b", 4));
  EXPECT_EQ(e.user_agent, ua);
  // ...but not in fixed parts, the method, or after the end.
  EXPECT_FALSE(Parses(Line(std::string("20/Nov/2026:08:15:0\0 +0800", 26))));
  EXPECT_FALSE(Parses(Line("20/Nov/2026:08:15:02 +0800", std::string("G\0T / HTTP/1.1", 14))));
  EXPECT_FALSE(Parses(std::string(kLine) + std::string(1, '\0')));
  EXPECT_FALSE(Parses(std::string("\0", 1)));
}

TEST(AccessLogTest, VeryLongLines) {
  const std::string big_ua(1 << 20, 'A');
  std::string line = Line();
  line.resize(line.size() - std::string("\"Mozilla/5.0\"").size());
  line += "\"" + big_ua + "\"";
  AccessLogEntry e;
  ASSERT_TRUE(ParseAccessLogLine(line, AccessLogFormat::kCombined, &e));
  EXPECT_EQ(e.user_agent.size(), big_ua.size());
  EXPECT_EQ(e.path, "/item/42");
  EXPECT_FALSE(Parses(std::string(1 << 20, 'x')));
  EXPECT_FALSE(Parses(std::string(1 << 20, '"')));
  EXPECT_FALSE(Parses(line.substr(0, line.size() - 1)));
}

TEST(AccessLogTest, CommonFormat) {
  AccessLogEntry e;
  const std::string common =
      "192.168.1.20 - bob [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326";
  ASSERT_TRUE(ParseAccessLogLine(common, AccessLogFormat::kCommon, &e));
  EXPECT_EQ(e.remote_addr, "192.168.1.20");
  EXPECT_EQ(e.remote_user, "bob");
  EXPECT_EQ(e.time_ms, 971211336000);  // 2000-10-10T20:55:36Z
  EXPECT_EQ(e.method, "GET");
  EXPECT_EQ(e.path, "/apache_pb.gif");
  EXPECT_EQ(e.protocol, "HTTP/1.0");
  EXPECT_EQ(e.status, 200);
  EXPECT_EQ(e.bytes, 2326);
  EXPECT_TRUE(e.referer_is_null);
  EXPECT_EQ(e.user_agent, "");
  EXPECT_TRUE(Parses(common + "\r", AccessLogFormat::kCommon));
  EXPECT_TRUE(Parses(common.substr(0, common.size() - 2), AccessLogFormat::kCommon));  // bytes 23
  EXPECT_FALSE(Parses(common, AccessLogFormat::kCombined));
  EXPECT_FALSE(Parses(kLine, AccessLogFormat::kCommon));
  EXPECT_FALSE(Parses(common + " ", AccessLogFormat::kCommon));
  EXPECT_FALSE(Parses(common + " \"-\"", AccessLogFormat::kCommon));
  EXPECT_TRUE(Parses("h - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 304 -",
                     AccessLogFormat::kCommon));
}

}  // namespace
}  // namespace sluice::operators::parse
