// Hive text encoding pinned byte for byte, and round trips through the decoder.
#include "operators/hive/hive_text.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::hive {
namespace {

using std::string_literals::operator""s;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

SchemaPtr AllTypes() {
  return std::make_shared<Schema>(std::vector<Field>{{"s", Type::kString},
                                                     {"i", Type::kInt64},
                                                     {"d", Type::kDouble},
                                                     {"b", Type::kBool},
                                                     {"t", Type::kTimestamp}});
}

SchemaPtr OneColumn(Type type) { return std::make_shared<Schema>(std::vector<Field>{{"x", type}}); }

// One row of AllTypes; s and t may be null.
struct Row {
  std::string s;
  bool s_null = false;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  int64_t t = 0;
  bool t_null = false;
};

std::unique_ptr<RecordBatch> Batch(const std::vector<Row>& rows) {
  auto b = std::make_unique<RecordBatch>(AllTypes());
  for (size_t r = 0; r < rows.size(); ++r) {
    b->column(0).strings.push_back(b->arena().Copy(rows[r].s));
    b->column(1).ints.push_back(rows[r].i);
    b->column(2).doubles.push_back(rows[r].d);
    b->column(3).ints.push_back(rows[r].b);
    b->column(4).ints.push_back(rows[r].t);
    b->timestamps().push_back(kNoTimestamp);
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].s_null) b->column(0).SetNull(r, rows.size());
    if (rows[r].t_null) b->column(4).SetNull(r, rows.size());
  }
  b->set_num_rows(rows.size());
  return b;
}

std::string Encode(const RecordBatch& b, const std::vector<int>& columns = {0, 1, 2, 3, 4}) {
  std::string out;
  for (size_t r = 0; r < b.num_rows(); ++r) AppendRow(b, r, columns, &out);
  return out;
}

// A one-column batch of strings; std::nullopt-free: `nulls` lists the null rows.
std::unique_ptr<RecordBatch> Strings(const std::vector<std::string>& values, const std::vector<size_t>& nulls = {}) {
  auto b = std::make_unique<RecordBatch>(OneColumn(Type::kString));
  for (const std::string& v : values) {
    b->column(0).strings.push_back(b->arena().Copy(v));
    b->timestamps().push_back(kNoTimestamp);
  }
  for (size_t r : nulls) b->column(0).SetNull(r, values.size());
  b->set_num_rows(values.size());
  return b;
}

// Decodes every '\n'-terminated line of `text`; counts lines with a bad value.
int DecodeAll(const HiveTextDecoder& dec, const std::string& text, RecordBatch* out) {
  int bad_lines = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    EXPECT_NE(nl, std::string::npos) << "text does not end with a newline";
    if (nl == std::string::npos) break;
    bool bad = true;
    dec.AppendLine(std::string_view(text).substr(start, nl - start), /*line_is_stable=*/true, out, &bad);
    bad_lines += bad ? 1 : 0;
    start = nl + 1;
  }
  return bad_lines;
}

// Decodes one field `text` into a one-column batch of `type`; *bad as AppendLine sets it.
struct Decoded {
  bool null = false;
  bool bad = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
};

Decoded DecodeOne(Type type, std::string_view text) {
  HiveTextDecoder dec(OneColumn(type));
  RecordBatch out(OneColumn(type));
  Decoded r;
  dec.AppendLine(text, /*line_is_stable=*/false, &out, &r.bad);
  EXPECT_EQ(out.num_rows(), 1u);
  const Column& col = out.column(0);
  r.null = col.IsNull(0);
  if (type == Type::kDouble) {
    r.d = col.doubles[0];
  } else if (type == Type::kString) {
    r.s = std::string(col.strings[0]);
  } else {
    r.i = col.ints[0];
  }
  return r;
}

TEST(HiveText, EncodesEveryTypeAsHiveDoes) {
  auto b = Batch({{"plain", false, -42, 0.1, true, 1795104000000, false},
                  {"", true, 0, 1e300, false, 1795104000123, true},
                  {"a\x01" "b\\c\nd\re\x02" "f\x03", false, 9, -2.5, false, -1, false},
                  {"\\N", false, 1, std::nan(""), true, 0, false},
                  {"", false, 2, HUGE_VAL, true, 1795104000100, false}});
  EXPECT_EQ(Encode(*b),
            "plain\x01-42\x01" "0.1\x01true\x01" "2026-11-19 16:00:00\n"
            "\\N\x01" "0\x01" "1e+300\x01" "false\x01\\N\n"
            "a\\\x01" "b\\\\c\\nd\\re\\\x02" "f\\\x03\x01" "9\x01-2.5\x01" "false\x01" "1969-12-31 23:59:59.999\n"
            "\\\\N\x01" "1\x01NaN\x01true\x01" "1970-01-01 00:00:00\n"
            "\x01" "2\x01Infinity\x01true\x01" "2026-11-19 16:00:00.100\n");
}

TEST(HiveText, EncodesTheChosenColumnsInTheirOrder) {
  auto b = Batch({{"x", false, 7, -HUGE_VAL, false, 1795161600000, false}});
  EXPECT_EQ(Encode(*b, {4, 0, 2}), "2026-11-20 08:00:00\x01x\x01-Infinity\n");
  EXPECT_EQ(Encode(*b, {1, 1}), "7\x01" "7\n");
  EXPECT_EQ(Encode(*b, {}), "\n");
}

TEST(HiveText, EncodesNumbers) {
  std::vector<Row> rows;
  for (int64_t i : {int64_t{0}, int64_t{-1}, kInt64Min, kInt64Max}) rows.push_back({"", false, i});
  EXPECT_EQ(Encode(*Batch(rows), {1}), "0\n-1\n-9223372036854775808\n9223372036854775807\n");
  rows.clear();
  for (double d : {0.0, -0.0, 1.0, -1.5, 0.1 + 0.2, 1e-7, 1e21, 123456.789, 5e-324, -1.7976931348623157e308}) {
    rows.push_back({"", false, 0, d});
  }
  EXPECT_EQ(Encode(*Batch(rows), {2}),
            "0\n-0\n1\n-1.5\n0.30000000000000004\n1e-07\n1e+21\n123456.789\n5e-324\n-1.7976931348623157e+308\n");
}

TEST(HiveText, EncodesTimestampsBeforeAndAfter1970) {
  std::vector<Row> rows;
  for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{-14182940000}, int64_t{-2208988800000},
                    int64_t{-62135596800000}, int64_t{253402300799999}, int64_t{1709208000010}}) {
    rows.push_back({"", false, 0, 0, false, t});
  }
  EXPECT_EQ(Encode(*Batch(rows), {4}),
            "1970-01-01 00:00:00\n"
            "1970-01-01 00:00:00.001\n"
            "1969-12-31 23:59:59.999\n"
            "1969-07-20 20:17:40\n"
            "1900-01-01 00:00:00\n"
            "0001-01-01 00:00:00\n"
            "9999-12-31 23:59:59.999\n"
            "2024-02-29 12:00:00.010\n");
}

TEST(HiveText, NullIsNotTheTextBackslashN) {
  auto b = Strings({"\\N", "N", "\\", "", "", "\\\\N"}, {4});
  const std::string text = Encode(*b, {0});
  EXPECT_EQ(text, "\\\\N\nN\n\\\\\n\n\\N\n\\\\\\\\N\n");
  HiveTextDecoder dec(OneColumn(Type::kString));
  RecordBatch out(OneColumn(Type::kString));
  EXPECT_EQ(DecodeAll(dec, text, &out), 0);
  ASSERT_EQ(out.num_rows(), 6u);
  const Column& col = out.column(0);
  EXPECT_EQ(col.strings[0], "\\N");
  EXPECT_EQ(col.strings[1], "N");
  EXPECT_EQ(col.strings[2], "\\");
  EXPECT_EQ(col.strings[3], "");
  EXPECT_EQ(col.strings[5], "\\\\N");
  for (size_t r = 0; r < 6; ++r) EXPECT_EQ(col.IsNull(r), r == 4) << r;
}

TEST(HiveText, StringsKeepEveryByte) {
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
  auto b = Strings({all_bytes, "\xff\xfe non-utf8 \xe9", "\x00\x01\x00"s, "\r\n", "\\n"});
  const std::string text = Encode(*b, {0});
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 9), "\\r\\n\n\\\\n\n");
  HiveTextDecoder dec(OneColumn(Type::kString));
  RecordBatch out(OneColumn(Type::kString));
  EXPECT_EQ(DecodeAll(dec, text, &out), 0);
  ASSERT_EQ(out.num_rows(), 5u);
  for (size_t r = 0; r < 5; ++r) EXPECT_EQ(out.column(0).strings[r], b->column(0).strings[r]) << r;
  EXPECT_TRUE(out.column(0).nulls.empty());
}

TEST(HiveText, RoundTripsThroughTheDecoder) {
  std::vector<Row> rows = {{"plain", false, -42, 0.1, true, 1795104000000, false},
                           {"", true, 0, 1e300, false, 1795104000123, true},
                           {"a\x01" "b\\c\nd\re\x02" "f\x03", false, 9, -2.5, false, -1, false},
                           {"\\N", false, 1, -0.0, true, -86400000LL * 365 * 80, false},
                           {"", false, 2, 123456.789, true, 1795104000100, false},
                           {"\xff\xfe non-utf8 \xe9", false, kInt64Min, 5e-324, false, 1, false},
                           {"x", false, kInt64Max, -1e-300, true, kInt64Min, false},
                           {"y", false, -1, 1.7976931348623157e308, false, kInt64Max, false},
                           {"z", false, 3, -HUGE_VAL, false, -62135596800001, false}};
  auto in = Batch(rows);
  HiveTextDecoder dec(AllTypes());
  RecordBatch out(AllTypes());
  const std::string text = Encode(*in);  // outlives `out`, whose strings may view it
  EXPECT_EQ(DecodeAll(dec, text, &out), 0);
  ASSERT_EQ(out.num_rows(), rows.size());
  ASSERT_EQ(out.timestamps().size(), rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    EXPECT_EQ(out.column(0).IsNull(r), rows[r].s_null) << r;
    if (!rows[r].s_null) {
      EXPECT_EQ(out.column(0).strings[r], rows[r].s) << r;
    }
    EXPECT_EQ(out.column(1).ints[r], rows[r].i) << r;
    EXPECT_EQ(out.column(2).doubles[r], rows[r].d) << r;
    EXPECT_EQ(std::signbit(out.column(2).doubles[r]), std::signbit(rows[r].d)) << r;
    EXPECT_EQ(out.column(3).ints[r], rows[r].b ? 1 : 0) << r;
    EXPECT_EQ(out.column(4).IsNull(r), rows[r].t_null) << r;
    if (!rows[r].t_null) {
      EXPECT_EQ(out.column(4).ints[r], rows[r].t) << r;
    }
    EXPECT_EQ(out.timestamps()[r], kNoTimestamp);
  }
  for (int c = 1; c < 4; ++c) EXPECT_TRUE(out.column(c).nulls.empty()) << c;
  EXPECT_EQ(out.column(0).nulls.size(), rows.size());
}

TEST(HiveText, RoundTripsNaN) {
  auto b = Batch({{"", false, 0, std::nan("")}});
  HiveTextDecoder dec(AllTypes());
  RecordBatch out(AllTypes());
  const std::string text = Encode(*b);
  EXPECT_EQ(DecodeAll(dec, text, &out), 0);
  ASSERT_EQ(out.num_rows(), 1u);
  EXPECT_TRUE(std::isnan(out.column(2).doubles[0]));
  EXPECT_FALSE(out.column(2).IsNull(0));
}

TEST(HiveText, RoundTripsRandomRows) {
  std::mt19937_64 rng(20261127);
  const char alphabet[] = {'\x01', '\x02', '\x03', '\\', '\n', '\r', 'N', 'a', '\xff', '\0', ' ', '\t', '.', '\xc3'};
  std::vector<Row> rows;
  for (int r = 0; r < 2000; ++r) {
    Row row;
    const size_t len = rng() % 12;
    for (size_t k = 0; k < len; ++k) row.s.push_back(alphabet[rng() % sizeof(alphabet)]);
    row.s_null = rng() % 10 == 0;
    row.i = static_cast<int64_t>(rng());
    do {
      const uint64_t bits = rng();
      std::memcpy(&row.d, &bits, sizeof(row.d));
    } while (std::isnan(row.d));
    row.b = rng() % 2 == 0;
    // Any int64, or a time within about 6000 years of 1970.
    row.t = rng() % 2 == 0 ? static_cast<int64_t>(rng())
                           : static_cast<int64_t>(rng() % 400'000'000'000'000) - 200'000'000'000'000;
    row.t_null = rng() % 10 == 0;
    rows.push_back(std::move(row));
  }
  auto in = Batch(rows);
  const std::string text = Encode(*in);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), static_cast<ptrdiff_t>(rows.size()));
  HiveTextDecoder dec(AllTypes());
  RecordBatch out(AllTypes());
  EXPECT_EQ(DecodeAll(dec, text, &out), 0);
  ASSERT_EQ(out.num_rows(), rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    ASSERT_EQ(out.column(0).IsNull(r), rows[r].s_null) << r;
    if (!rows[r].s_null) {
      ASSERT_EQ(out.column(0).strings[r], rows[r].s) << r;
    }
    ASSERT_EQ(out.column(1).ints[r], rows[r].i) << r;
    ASSERT_EQ(out.column(2).doubles[r], rows[r].d) << r;
    ASSERT_EQ(out.column(3).ints[r], rows[r].b ? 1 : 0) << r;
    ASSERT_EQ(out.column(4).IsNull(r), rows[r].t_null) << r;
    if (!rows[r].t_null) {
      ASSERT_EQ(out.column(4).ints[r], rows[r].t) << r;
    }
  }
}

TEST(HiveText, MissingFieldsAreNullExtraFieldsIgnoredBadValuesNull) {
  HiveTextDecoder dec(AllTypes());
  RecordBatch out(AllTypes());
  bool bad = true;
  dec.AppendLine("only", true, &out, &bad);
  EXPECT_FALSE(bad);
  dec.AppendLine("x\x01" "12\x01" "1.5\x01true\x01" "2026-11-20 00:00:00\x01" "extra\x01more", true, &out, &bad);
  EXPECT_FALSE(bad);
  dec.AppendLine("y\x01twelve\x01" "1.5x\x01maybe\x01" "2026-02-30 00:00:00", true, &out, &bad);
  EXPECT_TRUE(bad);
  dec.AppendLine("", true, &out, &bad);  // an empty line: one empty string, the rest null
  EXPECT_FALSE(bad);
  dec.AppendLine("z\x01" "5", true, &out, &bad);
  EXPECT_FALSE(bad);
  ASSERT_EQ(out.num_rows(), 5u);
  EXPECT_EQ(out.column(0).strings[0], "only");
  for (int c = 1; c < 5; ++c) EXPECT_TRUE(out.column(c).IsNull(0)) << c;
  EXPECT_EQ(out.column(0).strings[1], "x");
  EXPECT_EQ(out.column(1).ints[1], 12);
  EXPECT_EQ(out.column(2).doubles[1], 1.5);
  EXPECT_EQ(out.column(3).ints[1], 1);
  EXPECT_EQ(out.column(4).ints[1], 1795132800000);
  for (int c = 1; c < 5; ++c) EXPECT_FALSE(out.column(c).IsNull(1)) << c;
  EXPECT_EQ(out.column(0).strings[2], "y");
  for (int c = 1; c < 5; ++c) EXPECT_TRUE(out.column(c).IsNull(2)) << c;
  EXPECT_FALSE(out.column(0).IsNull(3));
  EXPECT_EQ(out.column(0).strings[3], "");
  for (int c = 1; c < 5; ++c) EXPECT_TRUE(out.column(c).IsNull(3)) << c;
  EXPECT_EQ(out.column(1).ints[4], 5);
  EXPECT_FALSE(out.column(1).IsNull(4));
  EXPECT_TRUE(out.column(2).IsNull(4));
  // Null flags stay one per row, and null slots hold zero values.
  EXPECT_TRUE(out.column(0).nulls.empty());
  for (int c = 1; c < 5; ++c) EXPECT_EQ(out.column(c).nulls.size(), 5u) << c;
  EXPECT_EQ(out.column(1).ints[2], 0);
  EXPECT_EQ(out.column(2).doubles[2], 0.0);
  EXPECT_EQ(out.timestamps().size(), 5u);
}

TEST(HiveText, EmptyNonStringFieldsAreNullButNotBad) {
  HiveTextDecoder dec(AllTypes());
  RecordBatch out(AllTypes());
  bool bad = true;
  dec.AppendLine("\x01\x01\x01\x01", true, &out, &bad);
  EXPECT_FALSE(bad);
  ASSERT_EQ(out.num_rows(), 1u);
  EXPECT_FALSE(out.column(0).IsNull(0));
  for (int c = 1; c < 5; ++c) EXPECT_TRUE(out.column(c).IsNull(0)) << c;
}

TEST(HiveText, DecodesBigintAsHiveDoes) {
  EXPECT_EQ(DecodeOne(Type::kInt64, "-42").i, -42);
  EXPECT_EQ(DecodeOne(Type::kInt64, "+7").i, 7);
  EXPECT_EQ(DecodeOne(Type::kInt64, "12.9").i, 12);  // LazyLong drops a decimal part
  EXPECT_EQ(DecodeOne(Type::kInt64, "12.").i, 12);
  EXPECT_EQ(DecodeOne(Type::kInt64, "-9223372036854775808").i, kInt64Min);
  EXPECT_EQ(DecodeOne(Type::kInt64, "9223372036854775807").i, kInt64Max);
  for (const char* bad : {"9223372036854775808", "-9223372036854775809", " 1", "1 ", "1e3", "0x10", "+-1", "--1", "-",
                          "+", "12.5x", ".5", "1,000", "\\N1"}) {
    const Decoded d = DecodeOne(Type::kInt64, bad);
    EXPECT_TRUE(d.null) << bad;
    EXPECT_TRUE(d.bad) << bad;
    EXPECT_EQ(d.i, 0) << bad;
  }
  const Decoded null = DecodeOne(Type::kInt64, "\\N");
  EXPECT_TRUE(null.null);
  EXPECT_FALSE(null.bad);
}

TEST(HiveText, DecodesBooleansInAnyCase) {
  for (const char* t : {"true", "TRUE", "True"}) EXPECT_EQ(DecodeOne(Type::kBool, t).i, 1) << t;
  for (const char* f : {"false", "FALSE", "fAlSe"}) {
    const Decoded d = DecodeOne(Type::kBool, f);
    EXPECT_EQ(d.i, 0) << f;
    EXPECT_FALSE(d.null) << f;
  }
  for (const char* bad : {"1", "0", "yes", "t", "truex", " true"}) {
    const Decoded d = DecodeOne(Type::kBool, bad);
    EXPECT_TRUE(d.null && d.bad) << bad;
  }
}

TEST(HiveText, DecodesDoublesAsJavaDoes) {
  EXPECT_EQ(DecodeOne(Type::kDouble, "0.1").d, 0.1);
  EXPECT_EQ(DecodeOne(Type::kDouble, "1e300").d, 1e300);
  EXPECT_EQ(DecodeOne(Type::kDouble, "1.0E300").d, 1e300);  // as Java prints it
  EXPECT_EQ(DecodeOne(Type::kDouble, "-2.5").d, -2.5);
  EXPECT_EQ(DecodeOne(Type::kDouble, "+2.5").d, 2.5);
  EXPECT_EQ(DecodeOne(Type::kDouble, ".5").d, 0.5);
  EXPECT_EQ(DecodeOne(Type::kDouble, "5.").d, 5.0);
  EXPECT_EQ(DecodeOne(Type::kDouble, " 2.5 ").d, 2.5);
  EXPECT_EQ(DecodeOne(Type::kDouble, "1.5d").d, 1.5);
  EXPECT_EQ(DecodeOne(Type::kDouble, "7").d, 7.0);
  EXPECT_EQ(DecodeOne(Type::kDouble, "Infinity").d, HUGE_VAL);
  EXPECT_EQ(DecodeOne(Type::kDouble, "-Infinity").d, -HUGE_VAL);
  EXPECT_EQ(DecodeOne(Type::kDouble, "1e400").d, HUGE_VAL);
  EXPECT_EQ(DecodeOne(Type::kDouble, "-1e400").d, -HUGE_VAL);
  EXPECT_EQ(DecodeOne(Type::kDouble, "1e-400").d, 0.0);
  EXPECT_TRUE(std::isnan(DecodeOne(Type::kDouble, "NaN").d));
  EXPECT_FALSE(DecodeOne(Type::kDouble, "NaN").null);
  for (const char* bad : {"inf", "nan", "infinity", "1.5x", "1e", "--1", "+-1", "-", "", "d", "0x1p3", "1,5", "1 5"}) {
    const Decoded d = DecodeOne(Type::kDouble, bad);
    EXPECT_TRUE(d.null) << bad;
    EXPECT_EQ(d.bad, *bad != '\0') << bad;  // an empty field is a plain null
  }
}

TEST(HiveText, DecodesTimestamps) {
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "2026-11-20 08:00:00").i, 1795161600000);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "2026-11-20T08:00:00").i, 1795161600000);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "2026-11-20").i, 1795132800000);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "2026-11-20 08:00:00.1").i, 1795161600100);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "2026-11-20 08:00:00.12").i, 1795161600120);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "2026-11-20 08:00:00.123456789").i, 1795161600123);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "1969-12-31 23:59:59.999").i, -1);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "1900-01-01 00:00:00").i, -2208988800000);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "0001-01-01 00:00:00").i, -62135596800000);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "2024-02-29 12:00:00").i, 1709208000000);
  // An integer is milliseconds since the epoch.
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "1795161600000").i, 1795161600000);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "-1").i, -1);
  EXPECT_EQ(DecodeOne(Type::kTimestamp, "0").i, 0);
  for (const char* bad : {"2023-02-29 00:00:00", "2026-13-01 00:00:00", "2026-00-01", "2026-11-31",
                          "2026-11-20 24:00:00",
                          "2026-11-20 08:60:00", "2026-11-20 08:00:60", "2026-11-20 08:00", "2026-11-20 08:00:00.",
                          "2026-11-20 08:00:00.1234567890", "2026-11-20 08:00:00Z", "2026-11-20 8:00:00", "26-11-20",
                          "2026/11/20", "now", "1.5", "99999999999999999999", "2026-11-20  08:00:00"}) {
    const Decoded d = DecodeOne(Type::kTimestamp, bad);
    EXPECT_TRUE(d.null) << bad;
    EXPECT_TRUE(d.bad) << bad;
  }
}

TEST(HiveText, StringsViewStableLinesAndCopyOtherwise) {
  const std::string line = "abc\x01" "a\\\\b\x01" "def";
  const auto schema = std::make_shared<Schema>(
      std::vector<Field>{{"a", Type::kString}, {"b", Type::kString}, {"c", Type::kString}});
  HiveTextDecoder dec(schema);
  auto inside = [&](std::string_view s) { return s.data() >= line.data() && s.data() < line.data() + line.size(); };

  RecordBatch stable(schema);
  dec.AppendLine(line, /*line_is_stable=*/true, &stable, nullptr);
  EXPECT_EQ(stable.column(0).strings[0], "abc");
  EXPECT_EQ(stable.column(1).strings[0], "a\\b");
  EXPECT_EQ(stable.column(2).strings[0], "def");
  EXPECT_TRUE(inside(stable.column(0).strings[0]));
  EXPECT_FALSE(inside(stable.column(1).strings[0]));  // unescaped into the arena
  EXPECT_TRUE(inside(stable.column(2).strings[0]));

  RecordBatch copied(schema);
  dec.AppendLine(line, /*line_is_stable=*/false, &copied, nullptr);
  for (int c = 0; c < 3; ++c) {
    EXPECT_FALSE(inside(copied.column(c).strings[0])) << c;
    EXPECT_EQ(copied.column(c).strings[0], stable.column(c).strings[0]) << c;
  }
}

TEST(HiveText, SplitsOnlyAtUnescapedSeparators) {
  const auto schema = std::make_shared<Schema>(std::vector<Field>{{"a", Type::kString}, {"b", Type::kString}});
  HiveTextDecoder dec(schema);
  RecordBatch out(schema);
  dec.AppendLine("a\\\x01" "b\x01" "c", true, &out, nullptr);  // escaped separator
  dec.AppendLine("a\\\\\x01" "b", true, &out, nullptr);        // escaped backslash, then a separator
  dec.AppendLine("a\\", true, &out, nullptr);                  // a lone trailing escape stays
  dec.AppendLine("\\x\\\x02" "\x01\\n\\r\\", true, &out, nullptr);
  dec.AppendLine("crlf\x01" "file\r", true, &out, nullptr);    // Hadoop drops the '\r' of CRLF
  ASSERT_EQ(out.num_rows(), 5u);
  EXPECT_EQ(out.column(0).strings[0], "a\x01" "b");
  EXPECT_EQ(out.column(1).strings[0], "c");
  EXPECT_EQ(out.column(0).strings[1], "a\\");
  EXPECT_EQ(out.column(1).strings[1], "b");
  EXPECT_EQ(out.column(0).strings[2], "a\\");
  EXPECT_TRUE(out.column(1).IsNull(2));
  EXPECT_EQ(out.column(0).strings[3], "x\x02");
  EXPECT_EQ(out.column(1).strings[3], "\n\r\\");
  EXPECT_EQ(out.column(0).strings[4], "crlf");
  EXPECT_EQ(out.column(1).strings[4], "file");
}

TEST(HiveText, NullColumnsAreAlwaysNull) {
  const auto schema = std::make_shared<Schema>(std::vector<Field>{{"n", Type::kNull}, {"s", Type::kString}});
  HiveTextDecoder dec(schema);
  RecordBatch out(schema);
  bool bad = true;
  dec.AppendLine("whatever\x01s", true, &out, &bad);
  EXPECT_FALSE(bad);
  ASSERT_EQ(out.num_rows(), 1u);
  EXPECT_TRUE(out.column(0).IsNull(0));
  EXPECT_EQ(out.column(1).strings[0], "s");
  std::string text;
  AppendRow(out, 0, {0, 1}, &text);
  EXPECT_EQ(text, "\\N\x01s\n");
}

TEST(HiveText, TypeNames) {
  EXPECT_EQ(HiveTypeName(Type::kString), "STRING");
  EXPECT_EQ(HiveTypeName(Type::kInt64), "BIGINT");
  EXPECT_EQ(HiveTypeName(Type::kDouble), "DOUBLE");
  EXPECT_EQ(HiveTypeName(Type::kBool), "BOOLEAN");
  EXPECT_EQ(HiveTypeName(Type::kTimestamp), "TIMESTAMP");
  EXPECT_EQ(HiveTypeName(Type::kNull), "STRING");
}

}  // namespace
}  // namespace sluice::hive
