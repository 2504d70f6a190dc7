#include "operators/expr/expression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/str_join.h"
#include "operators/testing/operator_harness.h"

namespace sluice::operators::expr {
namespace {

using ::sluice::testing::BatchOf;
using ::sluice::testing::MakeSchema;
using ::sluice::testing::Value;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Render(const Column& c, size_t row) {
  if (c.type == Type::kNull || c.IsNull(row)) return "null";
  switch (c.type) {
    case Type::kBool:
      return c.ints[row] ? "true" : "false";
    case Type::kInt64:
    case Type::kTimestamp:
      return std::to_string(c.ints[row]);
    case Type::kDouble: {
      std::ostringstream os;
      os << c.doubles[row];
      return os.str();
    }
    case Type::kString:
      return "'" + std::string(c.strings[row]) + "'";
    case Type::kNull:
      break;
  }
  return "?";
}

class ExpressionTest : public ::testing::Test {
 protected:
  ExpressionTest()
      : schema_(MakeSchema({{"s", Type::kString},
                            {"n", Type::kString},
                            {"i", Type::kInt64},
                            {"j", Type::kInt64},
                            {"d", Type::kDouble},
                            {"b", Type::kBool},
                            {"ts", Type::kTimestamp},
                            {"odd name", Type::kString}})) {
    const Value null;
    batch_ = BatchOf(schema_,
                     {{std::string("Hello"), null, int64_t{7}, int64_t{2}, 1.5, true,
                       int64_t{1700000000000}, std::string("x")},
                      {std::string("wörld"), std::string("x"), int64_t{-3}, int64_t{0}, -0.5, false,
                       int64_t{0}, std::string("y")},
                      {std::string(""), std::string(""), int64_t{0}, null, 0.0, null, null,
                       std::string("")}});
  }

  std::unique_ptr<Expression> Compile(std::string_view text) {
    auto e = Expression::Compile(text, *schema_);
    EXPECT_TRUE(e.ok()) << text << ": " << e.status();
    return e.ok() ? std::move(e).value() : nullptr;
  }

  // Evaluates `text` on every row; for a boolean, also checks that EvaluateFilter
  // selects exactly the rows whose value is true.
  std::string All(std::string_view text) {
    auto e = Compile(text);
    if (e == nullptr) return "<error>";
    auto out_schema = MakeSchema({{"v", e->result_type()}});
    RecordBatch out(out_schema);
    e->EvaluateInto(*batch_, out, 0);
    std::vector<std::string> values;
    std::vector<uint32_t> true_rows;
    for (size_t r = 0; r < batch_->num_rows(); ++r) {
      values.push_back(Render(out.column(0), r));
      if (values.back() == "true") true_rows.push_back(static_cast<uint32_t>(r));
    }
    if (e->result_type() == Type::kBool) {
      std::vector<uint32_t> selected = {99};
      e->EvaluateFilter(*batch_, &selected);
      EXPECT_EQ(selected, true_rows) << text;
    }
    return absl::StrJoin(values, ",");
  }

  // The value on row 0.
  std::string Eval(std::string_view text) {
    std::string all = All(text);
    return all.substr(0, all.find(','));
  }

  Type TypeOf(std::string_view text) {
    auto e = Compile(text);
    return e == nullptr ? Type::kNull : e->result_type();
  }

  std::string Error(std::string_view text) {
    auto e = Expression::Compile(text, *schema_);
    EXPECT_FALSE(e.ok()) << text << " compiled";
    if (e.ok()) return "";
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(e.status().message());
  }

  SchemaPtr schema_;
  BatchPtr batch_;
};

TEST_F(ExpressionTest, Literals) {
  EXPECT_EQ(Eval("42"), "42");
  EXPECT_EQ(Eval("1.25"), "1.25");
  EXPECT_EQ(Eval("1e3"), "1000");
  EXPECT_EQ(TypeOf("1e3"), Type::kDouble);
  EXPECT_EQ(Eval("true"), "true");
  EXPECT_EQ(Eval("FALSE"), "false");
  EXPECT_EQ(Eval("null"), "null");
  EXPECT_EQ(TypeOf("null"), Type::kNull);
  EXPECT_EQ(Eval(R"("plain")"), "'plain'");
  EXPECT_EQ(Eval(R"('single')"), "'single'");
}

TEST_F(ExpressionTest, StringEscapes) {
  EXPECT_EQ(Eval(R"("a\"b")"), "'a\"b'");
  EXPECT_EQ(Eval(R"('it\'s')"), "'it's'");
  EXPECT_EQ(Eval(R"("back\\slash")"), "'back\\slash'");
  EXPECT_EQ(Eval(R"("tab\there")"), "'tab\there'");
  EXPECT_EQ(Eval(R"("line\nbreak")"), "'line\nbreak'");
  EXPECT_EQ(Eval(R"('say "hi"')"), "'say \"hi\"'");
  EXPECT_EQ(Eval(R"(length("\n\t\\"))"), "3");
}

TEST_F(ExpressionTest, Precedence) {
  EXPECT_EQ(Eval("1 + 2 * 3"), "7");
  EXPECT_EQ(Eval("(1 + 2) * 3"), "9");
  EXPECT_EQ(Eval("10 - 4 - 3"), "3");
  EXPECT_EQ(Eval("100 / 10 / 5"), "2");
  EXPECT_EQ(Eval("2 * 7 % 4"), "2");
  EXPECT_EQ(Eval("-2 * 3"), "-6");
  EXPECT_EQ(Eval("- -2"), "2");
  EXPECT_EQ(Eval("1 + 2 == 3 && 2 < 3"), "true");
  EXPECT_EQ(Eval("true || false && false"), "true");
  EXPECT_EQ(Eval("(true || false) && false"), "false");
  EXPECT_EQ(Eval("not 1 == 2"), "true");
  EXPECT_EQ(Eval("!false && false"), "false");
  EXPECT_EQ(Eval("i + 1 > 7 and j * 2 == 4 or false"), "true");
  EXPECT_EQ(Eval("i + 1 is not null"), "true");
  EXPECT_EQ(Eval("i * 2 in (14, 15)"), "true");
}

TEST_F(ExpressionTest, Arithmetic) {
  EXPECT_EQ(All("i + j"), "9,-3,null");
  EXPECT_EQ(All("i - j"), "5,-3,null");
  EXPECT_EQ(All("i * j"), "14,0,null");
  EXPECT_EQ(All("i / j"), "3,null,null");  // division by zero is null
  EXPECT_EQ(All("i % j"), "1,null,null");
  EXPECT_EQ(All("i / 2"), "3,-1,0");  // integer division truncates
  EXPECT_EQ(All("i % 4"), "3,-3,0");
  EXPECT_EQ(All("d * 2"), "3,-1,0");
  EXPECT_EQ(All("d / 0"), "null,null,null");
  EXPECT_EQ(All("-i"), "-7,3,0");
  EXPECT_EQ(All("-d"), "-1.5,0.5,-0");
  EXPECT_EQ(Eval("7.0 / 2"), "3.5");
  EXPECT_EQ(Eval("5.5 % 2"), "1.5");
  EXPECT_EQ(Eval("1.0 / 0.0"), "null");
  EXPECT_EQ(Eval("5 % 0"), "null");
  EXPECT_EQ(Eval("+i"), "7");
}

TEST_F(ExpressionTest, IntDoubleMixing) {
  EXPECT_EQ(TypeOf("i + d"), Type::kDouble);
  EXPECT_EQ(All("i + d"), "8.5,-3.5,0");
  EXPECT_EQ(TypeOf("i / 2"), Type::kInt64);
  EXPECT_EQ(TypeOf("i / 2.0"), Type::kDouble);
  EXPECT_EQ(Eval("i / 2.0"), "3.5");
  EXPECT_EQ(Eval("1 == 1.0"), "true");
  EXPECT_EQ(All("i > 1.5"), "true,false,false");
  EXPECT_EQ(All("d < i"), "true,false,false");
  EXPECT_EQ(All("d >= 0"), "true,false,true");
}

TEST_F(ExpressionTest, IntegerOverflowIsNull) {
  EXPECT_EQ(Eval("9223372036854775807 + 1"), "null");
  EXPECT_EQ(Eval("-9223372036854775807 - 2"), "null");
  EXPECT_EQ(Eval("4611686018427387904 * 2"), "null");
  EXPECT_EQ(Eval("(-9223372036854775807 - 1) / -1"), "null");
  EXPECT_EQ(Eval("(-9223372036854775807 - 1) % -1"), "0");
  EXPECT_EQ(Eval("i * 1317624576693539401 * 7"), "null");
}

TEST_F(ExpressionTest, Comparisons) {
  EXPECT_EQ(All("i == 7"), "true,false,false");
  EXPECT_EQ(All("i != 7"), "false,true,true");
  EXPECT_EQ(All("i < 0"), "false,true,false");
  EXPECT_EQ(All("i <= 0"), "false,true,true");
  EXPECT_EQ(All("i > 0"), "true,false,false");
  EXPECT_EQ(All("i >= 0"), "true,false,true");
  EXPECT_EQ(All("0 < i"), "true,false,false");  // literal on the left
  EXPECT_EQ(All("7 = i"), "true,false,false");
  EXPECT_EQ(All("i <> 7"), "false,true,true");
  EXPECT_EQ(All("i > j"), "true,false,null");
  EXPECT_EQ(All("i == j + 5"), "true,false,null");
  EXPECT_EQ(All("s == \"Hello\""), "true,false,false");
  EXPECT_EQ(All("s != \"Hello\""), "false,true,true");
  EXPECT_EQ(All("s < \"Z\""), "true,false,true");
  EXPECT_EQ(All("s >= 'a'"), "false,true,false");
  EXPECT_EQ(All("s == `odd name`"), "false,false,true");
  EXPECT_EQ(All("s > `odd name`"), "false,false,false");
  EXPECT_EQ(All("b == true"), "true,false,null");
  EXPECT_EQ(All("b != b"), "false,false,null");
  EXPECT_EQ(All("false < b"), "true,false,null");
  EXPECT_EQ(Eval("\"abc\" < \"abd\""), "true");
  EXPECT_EQ(Eval("2 >= 2"), "true");
}

TEST_F(ExpressionTest, NullSemantics) {
  EXPECT_EQ(All("n == \"x\""), "null,true,false");
  EXPECT_EQ(All("n != \"x\""), "null,false,true");
  EXPECT_EQ(All("n == s"), "null,false,true");
  EXPECT_EQ(All("n == null"), "null,null,null");  // use `is null`
  EXPECT_EQ(Eval("null + 1"), "null");
  EXPECT_EQ(TypeOf("null + 1"), Type::kInt64);
  EXPECT_EQ(TypeOf("null * 1.5"), Type::kDouble);
  EXPECT_EQ(All("j + 1"), "3,1,null");
  EXPECT_EQ(All("n is null"), "true,false,false");
  EXPECT_EQ(All("n is not null"), "false,true,true");
  EXPECT_EQ(All("n IS NOT NULL"), "false,true,true");
  EXPECT_EQ(All("i is null"), "false,false,false");
  EXPECT_EQ(All("i is not null"), "true,true,true");
  EXPECT_EQ(Eval("null is null"), "true");
  // Three-valued logic.
  EXPECT_EQ(Eval("null && false"), "false");
  EXPECT_EQ(Eval("null && true"), "null");
  EXPECT_EQ(Eval("null || true"), "true");
  EXPECT_EQ(Eval("null || false"), "null");
  EXPECT_EQ(Eval("!null"), "null");
  EXPECT_EQ(All("b && true"), "true,false,null");
  EXPECT_EQ(All("b && false"), "false,false,false");
  EXPECT_EQ(All("b || true"), "true,true,true");
  EXPECT_EQ(All("b || false"), "true,false,null");
  EXPECT_EQ(All("!b"), "false,true,null");
  EXPECT_EQ(All("n == 'x' || i > 0"), "true,true,false");
  EXPECT_EQ(All("n == 'x' && i < 0"), "false,true,false");
  EXPECT_EQ(All("n == 'x' && i > 0"), "null,false,false");
  EXPECT_EQ(All("not (n == 'x')"), "null,false,true");
  // Functions of null are null.
  EXPECT_EQ(All("length(n)"), "null,1,0");
  EXPECT_EQ(All("upper(n)"), "null,'X',''");
  EXPECT_EQ(All("contains(n, 'x')"), "null,true,false");
  EXPECT_EQ(Eval("lower(null)"), "null");
  EXPECT_EQ(TypeOf("lower(null)"), Type::kString);
}

TEST_F(ExpressionTest, In) {
  EXPECT_EQ(All("s in (\"Hello\", \"\")"), "true,false,true");
  EXPECT_EQ(All("s not in (\"Hello\", \"\")"), "false,true,false");
  EXPECT_EQ(All("i in (7, 0)"), "true,false,true");
  EXPECT_EQ(All("i IN (-3)"), "false,true,false");
  EXPECT_EQ(All("d in (1.5, 0)"), "true,false,true");
  EXPECT_EQ(All("n in ('x', 'y')"), "null,true,false");
  EXPECT_EQ(All("b in (true)"), "true,false,null");
  // Items are converted to the value's type.
  EXPECT_EQ(All("`odd name` in (\"a\", \"b\", 3, 'x')"), "true,false,false");
  EXPECT_EQ(All("i in (\"7\", 1)"), "true,false,false");
  EXPECT_EQ(All("d in (1.5, '0')"), "true,false,true");
  EXPECT_EQ(All("ts in ('2023-11-14T22:13:20Z', 5)"), "true,false,null");
  // A null item: a non-match is null (SQL).
  EXPECT_EQ(All("i in (7, null)"), "true,null,null");
  EXPECT_EQ(All("i not in (7, null)"), "false,null,null");
  // Long lists use a hash set.
  EXPECT_EQ(All("i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)"), "true,false,false");
  EXPECT_EQ(All("s in ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'wörld')"), "false,true,false");
  EXPECT_EQ(All("s not in ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'wörld')"), "true,false,true");
  EXPECT_EQ(Eval("3 in (1, 2 + 1)"), "true");
}

TEST_F(ExpressionTest, StringPredicates) {
  EXPECT_EQ(All("contains(s, \"ll\")"), "true,false,false");
  EXPECT_EQ(All("contains(s, \"\")"), "true,true,true");
  EXPECT_EQ(All("starts_with(s, \"He\")"), "true,false,false");
  EXPECT_EQ(All("ends_with(s, \"rld\")"), "false,true,false");
  EXPECT_EQ(All("contains(s, `odd name`)"), "false,false,true");
  EXPECT_EQ(All("starts_with(s, n)"), "null,false,true");
  EXPECT_EQ(All("ends_with(lower(s), 'lo')"), "true,false,false");
  EXPECT_EQ(All("CONTAINS(s, 'ö')"), "false,true,false");
}

TEST_F(ExpressionTest, StringFunctions) {
  EXPECT_EQ(All("lower(s)"), "'hello','wörld',''");
  EXPECT_EQ(All("upper(s)"), "'HELLO','WöRLD',''");  // ASCII letters only
  EXPECT_EQ(All("length(s)"), "5,5,0");             // code points
  EXPECT_EQ(All("substr(s, 1, 3)"), "'ell','örl',''");
  EXPECT_EQ(All("substr(s, 2)"), "'llo','rld',''");
  EXPECT_EQ(All("substr(s, -2)"), "'lo','ld',''");
  EXPECT_EQ(All("substr(s, -9, 2)"), "'He','wö',''");
  EXPECT_EQ(All("substr(s, 4, 10)"), "'o','d',''");
  EXPECT_EQ(All("substr(s, 10, 1)"), "'','',''");
  EXPECT_EQ(All("substr(s, 0, 0)"), "'','',''");
  EXPECT_EQ(All("substr(s, 0, -1)"), "'','',''");
  EXPECT_EQ(All("substr(s, j, 2)"), "'ll','wö',null");
  EXPECT_EQ(All("concat(s, '-', `odd name`)"), "'Hello-x','wörld-y','-'");
  EXPECT_EQ(All("concat(s, n)"), "null,'wörldx',''");
  EXPECT_EQ(Eval("lower('MiXeD') == 'mixed'"), "true");
  EXPECT_EQ(Eval("upper(substr('abc', 1))"), "'BC'");
}

TEST_F(ExpressionTest, RegexMatch) {
  EXPECT_EQ(All("regex_match(s, \"l+o\")"), "true,false,false");  // partial match
  EXPECT_EQ(All("regex_match(s, \"^w.rld$\")"), "false,true,false");  // UTF-8 aware
  EXPECT_EQ(All("regex_match(s, '^$')"), "false,false,true");
  EXPECT_EQ(All("regex_match(n, 'x')"), "null,true,false");
  EXPECT_EQ(All("regex_match(s, '(?i)HELLO')"), "true,false,false");
  EXPECT_EQ(Eval(R"(regex_match("a.b", "a\\.b"))"), "true");
}

TEST_F(ExpressionTest, Casts) {
  EXPECT_EQ(Eval("int64(\"42\")"), "42");
  EXPECT_EQ(Eval("int64(\" -42 \")"), "-42");
  EXPECT_EQ(Eval("int64(\"+7\")"), "7");
  EXPECT_EQ(Eval("int64(\"12.7\")"), "12");
  EXPECT_EQ(Eval("int64(\"abc\")"), "null");
  EXPECT_EQ(Eval("int64(\"\")"), "null");
  EXPECT_EQ(Eval("int64(\"99999999999999999999\")"), "null");
  EXPECT_EQ(Eval("int64(3.9)"), "3");
  EXPECT_EQ(Eval("int64(-3.9)"), "-3");
  EXPECT_EQ(Eval("int64(1e300)"), "null");
  EXPECT_EQ(Eval("int64(true)"), "1");
  EXPECT_EQ(Eval("int(ts)"), "1700000000000");
  EXPECT_EQ(Eval("double(\"1.5\")"), "1.5");
  EXPECT_EQ(Eval("double(\"x\")"), "null");
  EXPECT_EQ(Eval("double(i)"), "7");
  EXPECT_EQ(TypeOf("double(i)"), Type::kDouble);
  EXPECT_EQ(Eval("string(42)"), "'42'");
  EXPECT_EQ(Eval("string(-1.5)"), "'-1.5'");
  EXPECT_EQ(Eval("string(0.1)"), "'0.1'");
  EXPECT_EQ(Eval("string(true)"), "'true'");
  EXPECT_EQ(Eval("string(ts)"), "'2023-11-14T22:13:20.000Z'");
  EXPECT_EQ(Eval("string(timestamp(-1))"), "'1969-12-31T23:59:59.999Z'");
  EXPECT_EQ(Eval("string(timestamp('2024-02-29T23:59:59.999Z'))"), "'2024-02-29T23:59:59.999Z'");
  EXPECT_EQ(Eval("string(timestamp(-62167219200000))"), "'0000-01-01T00:00:00.000Z'");
  EXPECT_EQ(Eval("string(timestamp(253402300800000))"), "'10000-01-01T00:00:00.000Z'");
  EXPECT_EQ(Eval("string(s)"), "'Hello'");
  EXPECT_EQ(Eval("bool(\"true\")"), "true");
  EXPECT_EQ(Eval("bool(\"FALSE\")"), "false");
  EXPECT_EQ(Eval("bool(\"1\")"), "true");
  EXPECT_EQ(Eval("bool(\"yes\")"), "null");
  EXPECT_EQ(Eval("bool(0)"), "false");
  EXPECT_EQ(Eval("bool(2.5)"), "true");
  EXPECT_EQ(Eval("timestamp(\"1700000000000\")"), "1700000000000");
  EXPECT_EQ(Eval("timestamp(\"2023-11-14T22:13:20Z\")"), "1700000000000");
  EXPECT_EQ(Eval("timestamp(\"2023-11-14T22:13:20.5Z\")"), "1700000000500");
  EXPECT_EQ(Eval("timestamp(\"2023-11-14 23:13:20.123+01:00\")"), "1700000000123");
  EXPECT_EQ(Eval("timestamp(\"2023-11-14\")"), "1699920000000");
  EXPECT_EQ(Eval("timestamp(\"2023-02-29\")"), "null");
  EXPECT_EQ(Eval("timestamp(\"yesterday\")"), "null");
  EXPECT_EQ(Eval("timestamp(1000)"), "1000");
  EXPECT_EQ(TypeOf("timestamp(1000)"), Type::kTimestamp);
  EXPECT_EQ(All("int64(n)"), "null,null,null");
  EXPECT_EQ(All("string(j)"), "'2','0',null");
  EXPECT_EQ(All("string(d)"), "'1.5','-0.5','0'");
  EXPECT_EQ(Eval("int64(null)"), "null");
  EXPECT_EQ(TypeOf("int64(null)"), Type::kInt64);
}

TEST_F(ExpressionTest, CoalesceAndIf) {
  EXPECT_EQ(All("coalesce(n, s)"), "'Hello','x',''");
  EXPECT_EQ(All("coalesce(n, 'none')"), "'none','x',''");
  EXPECT_EQ(All("coalesce(j, i, 0)"), "2,0,0");
  EXPECT_EQ(All("coalesce(j, d)"), "2,0,0");
  EXPECT_EQ(TypeOf("coalesce(j, d)"), Type::kDouble);
  EXPECT_EQ(All("coalesce(null, j)"), "2,0,null");
  EXPECT_EQ(All("coalesce(b, false)"), "true,false,false");
  EXPECT_EQ(All("if(i > 0, 'pos', 'non-pos')"), "'pos','non-pos','non-pos'");
  EXPECT_EQ(All("if(b, i, j)"), "7,0,null");  // a null condition takes the else branch
  EXPECT_EQ(All("if(i > 0, d, 0)"), "1.5,0,0");
  EXPECT_EQ(All("if(n is null, s, n)"), "'Hello','x',''");
  EXPECT_EQ(All("if(true, i, 0)"), "7,-3,0");
  EXPECT_EQ(All("if(i > 0, null, i)"), "null,-3,0");
  EXPECT_EQ(All("if(b, true, null)"), "true,null,null");
}

TEST_F(ExpressionTest, Timestamps) {
  EXPECT_EQ(All("ts > \"2023-01-01\""), "true,false,null");
  EXPECT_EQ(All("\"2023-01-01T00:00:00Z\" > ts"), "false,true,null");
  EXPECT_EQ(All("ts >= 1700000000000"), "true,false,null");
  EXPECT_EQ(TypeOf("ts + 1000"), Type::kTimestamp);
  EXPECT_EQ(TypeOf("ts - ts"), Type::kInt64);
  EXPECT_EQ(All("ts + 1000"), "1700000001000,1000,null");
  EXPECT_EQ(All("ts - 60000 < ts"), "true,true,null");
}

TEST_F(ExpressionTest, FieldNamesAndKeywords) {
  EXPECT_EQ(All("`odd name`"), "'x','y',''");
  EXPECT_EQ(All("`odd name` == 'x' AND i > 0 OR FALSE"), "true,false,false");
  EXPECT_EQ(All("NOT b"), "false,true,null");
  auto e = Compile("i");
  int index = -1;
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->IsFieldRef(&index));
  EXPECT_EQ(index, 2);
  e = Compile("string(`odd name`)");  // a no-op cast is removed
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->IsFieldRef(&index));
  EXPECT_EQ(index, 7);
  EXPECT_TRUE(e->ReferencesInput());
  EXPECT_FALSE(Compile("i + 1")->IsFieldRef(&index));
  EXPECT_FALSE(Compile("string(i)")->ReferencesInput());
  EXPECT_TRUE(Compile("substr(s, 1)")->ReferencesInput());
  EXPECT_TRUE(Compile("coalesce(n, 'x')")->ReferencesInput());
  EXPECT_FALSE(Compile("concat(s, 'x')")->ReferencesInput());
}

TEST_F(ExpressionTest, ConstantsAreFolded) {
  // A folded constant evaluates the same on every row, whatever the batch size.
  EXPECT_EQ(All("1 + 2"), "3,3,3");
  EXPECT_EQ(All("lower('AB') == 'ab'"), "true,true,true");
  EXPECT_EQ(All("i > -1 * 2"), "true,false,true");
  EXPECT_EQ(All("if(1 > 2, 'a', 'b')"), "'b','b','b'");
}

// ---------------------------------- errors ---------------------------------------------

TEST(ExpressionErrorTest, UnknownFieldListsFields) {
  auto schema = MakeSchema({{"user_id", Type::kString},
                            {"event_type", Type::kString},
                            {"status", Type::kInt64}});
  auto e = Expression::Compile("evnt_type == \"view\"", *schema);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(e.status().message()),
            "unknown field 'evnt_type' at column 1; fields are: user_id, event_type, status "
            "(did you mean 'event_type'?)\n"
            "  evnt_type == \"view\"\n"
            "  ^");
}

TEST(ExpressionErrorTest, TypeMismatchPointsAtOperator) {
  auto schema = MakeSchema({{"status", Type::kInt64}});
  auto e = Expression::Compile("status == \"x\"", *schema);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()),
              StartsWith("cannot compare status (int64) with \"x\" (string) at column 8"));
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("\n  status == \"x\"\n         ^"));
}

TEST_F(ExpressionTest, SyntaxErrors) {
  EXPECT_THAT(Error("(i == 1 && (j == 2)"), StartsWith("expected ')' at column 20, found end of expression"));
  EXPECT_THAT(Error("i == 1)"), StartsWith("unexpected ')' at column 7 (no matching '(')"));
  EXPECT_THAT(Error("i == 1 j"), StartsWith("unexpected 'j' at column 8; expected an operator"));
  EXPECT_THAT(Error("i =="), StartsWith("expected a value at column 5, found end of expression"));
  EXPECT_THAT(Error(""), StartsWith("empty expression at column 1"));
  EXPECT_THAT(Error("   "), StartsWith("empty expression"));
  EXPECT_THAT(Error("s == \"abc"), StartsWith("unterminated string at column 6"));
  EXPECT_THAT(Error("`odd name"), StartsWith("unterminated `name` at column 1"));
  EXPECT_THAT(Error("s == \"a\\qb\""), StartsWith("unknown escape '\\q' at column 8"));
  EXPECT_THAT(Error("i & j"), StartsWith("unexpected '&' at column 3 (did you mean '&&'?)"));
  EXPECT_THAT(Error("i == #"), StartsWith("unexpected character '#' at column 6"));
  EXPECT_THAT(Error("12abc"), StartsWith("invalid number at column 1"));
  EXPECT_THAT(Error("99999999999999999999"), StartsWith("integer out of range at column 1"));
  EXPECT_THAT(Error("i is 3"), StartsWith("expected 'null' or 'not null' after 'is' at column 6"));
  EXPECT_THAT(Error("i in 3"), StartsWith("expected '(' after 'in' at column 6"));
  EXPECT_THAT(Error("i in (1, j)"), StartsWith("'in' list items must be constants at column 10"));
  EXPECT_THAT(Error("s in (1.5, true)"), StartsWith("cannot compare s (string) with true (bool) at column 12"));
  EXPECT_THAT(Error("i in ('x')"), StartsWith("cannot compare i (int64) with 'x' (string)"));
  EXPECT_THAT(Error("and == 1"), StartsWith("expected a value, found 'and' at column 1"));
}

TEST_F(ExpressionTest, TypeErrors) {
  EXPECT_THAT(Error("s + 1"), StartsWith("cannot apply '+' to s (string) and 1 (int64) at column 3 (use concat()"));
  EXPECT_THAT(Error("b * 2"), StartsWith("cannot apply '*' to b (bool) and 2 (int64) at column 3"));
  EXPECT_THAT(Error("i && b"), StartsWith("'&&' needs boolean operands, got i (int64) at column 1"));
  EXPECT_THAT(Error("b or s"), StartsWith("'or' needs boolean operands, got s (string) at column 6"));
  EXPECT_THAT(Error("!i"), StartsWith("'!' needs a boolean, got i (int64) at column 2"));
  EXPECT_THAT(Error("-s"), StartsWith("unary '-' needs a number, got s (string) at column 1"));
  EXPECT_THAT(Error("b == 1"), StartsWith("cannot compare b (bool) with 1 (int64) at column 3"));
  EXPECT_THAT(Error("ts > 'soon'"), StartsWith("cannot read 'soon' (string) as a timestamp at column 6"));
  EXPECT_THAT(Error("lower(i)"), StartsWith("lower() argument 1 must be string, got i (int64) at column 7 (convert with string())"));
  EXPECT_THAT(Error("substr(s, '1')"), StartsWith("substr() argument 2 must be int64, got '1' (string) at column 11"));
  EXPECT_THAT(Error("contains(s)"), StartsWith("contains() takes 2 arguments (string, string), got 1 argument at column 1"));
  EXPECT_THAT(Error("lowr(s)"), StartsWith("unknown function 'lowr' at column 1; functions are: "));
  EXPECT_THAT(Error("lowr(s)"), HasSubstr("(did you mean 'lower'?)"));
  EXPECT_THAT(Error("regex_match(s, n)"), StartsWith("regex_match() pattern must be a string constant at column 16"));
  EXPECT_THAT(Error("regex_match(s, '(')"), StartsWith("invalid regular expression: missing ): ( at column 16"));
  EXPECT_THAT(Error("if(i, 1, 2)"), StartsWith("if() condition must be bool, got i (int64) at column 4"));
  EXPECT_THAT(Error("if(b, 1, 'x')"), StartsWith("if() arguments must have one type, got int64 and 'x' (string) at column 10"));
  EXPECT_THAT(Error("coalesce(s, 1)"), StartsWith("coalesce() arguments must have one type"));
  EXPECT_THAT(Error("timestamp(b)"), StartsWith("cannot convert b (bool) to timestamp"));
}

TEST_F(ExpressionTest, MultiLineErrorsNameTheLine) {
  EXPECT_THAT(Error("i > 0 &&\n  nope == 1"),
              StartsWith("unknown field 'nope' at line 2, column 3; fields are:"));
  EXPECT_THAT(Error("i > 0 &&\n  nope == 1"), HasSubstr("\n    nope == 1\n    ^"));
}

// Every example of README.md compiles.
TEST(ExpressionDocTest, ReadmeExamplesCompile) {
  auto schema = MakeSchema({{"event_type", Type::kString}, {"status", Type::kInt64},
                            {"path", Type::kString}, {"latency_ms", Type::kInt64},
                            {"user_agent", Type::kString}, {"ts", Type::kTimestamp},
                            {"country", Type::kString}, {"host", Type::kString},
                            {"event_time", Type::kTimestamp}, {"ad_id", Type::kString},
                            {"a", Type::kBool}, {"b", Type::kBool}});
  for (const char* text : {
           "event_type == \"view\"",
           "event_type == \"view\" && ad_id is not null",
           "status >= 500 && !starts_with(path, \"/health\")",
           "int64(status) in (500, 502, 503) or latency_ms > 2000",
           "user_agent is null || regex_match(user_agent, \"(?i)bot|spider|crawl\")",
           "ts >= \"2024-01-31\" and ts < \"2024-02-01\"",
           "ts >= \"2024-01-31T08:00:00Z\"",
           "coalesce(country, \"unknown\") as country",
           "if(latency_ms > 1000, \"slow\", \"ok\") as speed",
           "concat(lower(host), substr(path, 0, 16)) as page",
           "event_time - event_time % 10000 as window_start",
           "lower(substr(path, 0, 4)) as prefix",
           "int64(status) >= 500",
           "string(status) == \"200\"",
           "status in (\"200\", 304)",
           "!a == b",
       }) {
    std::string expr, name;
    ASSERT_TRUE(Expression::SplitAlias(text, &expr, &name).ok()) << text;
    auto e = Expression::Compile(expr, *schema);
    EXPECT_TRUE(e.ok()) << text << ": " << e.status();
  }
}

TEST(SplitAliasTest, Splits) {
  std::string expr, name;
  ASSERT_TRUE(Expression::SplitAlias("int64(status) as status", &expr, &name).ok());
  EXPECT_EQ(expr, "int64(status)");
  EXPECT_EQ(name, "status");
  ASSERT_TRUE(Expression::SplitAlias("old AS `new name`", &expr, &name).ok());
  EXPECT_EQ(expr, "old");
  EXPECT_EQ(name, "new name");
  ASSERT_TRUE(Expression::SplitAlias("concat('a as b', x) as y", &expr, &name).ok());
  EXPECT_EQ(expr, "concat('a as b', x)");
  EXPECT_EQ(name, "y");
  ASSERT_TRUE(Expression::SplitAlias("plain", &expr, &name).ok());
  EXPECT_EQ(expr, "plain");
  EXPECT_EQ(name, "");
  EXPECT_FALSE(Expression::SplitAlias("a as", &expr, &name).ok());
  EXPECT_FALSE(Expression::SplitAlias("a as b c", &expr, &name).ok());
  EXPECT_FALSE(Expression::SplitAlias("as b", &expr, &name).ok());
}

// ------------------------------ vectorized paths ---------------------------------------

// String equality with a constant is branch-free with overlapping loads: check every
// constant length against values of nearby lengths differing at any byte.
TEST(ExpressionVectorTest, StringEqualityAllLengths) {
  auto schema = MakeSchema({{"s", Type::kString}});
  std::vector<std::string> values;
  for (size_t len = 0; len <= 21; ++len) {
    std::string base;
    for (size_t k = 0; k < len; ++k) base.push_back(static_cast<char>('a' + k % 26));
    values.push_back(base);
    for (size_t k = 0; k < len; ++k) {
      std::string v = base;
      v[k] = 'Z';
      values.push_back(v);
    }
  }
  std::vector<std::vector<Value>> rows;
  for (const std::string& v : values) rows.push_back({v});
  auto batch = BatchOf(schema, rows);
  for (size_t len = 0; len <= 20; ++len) {
    std::string lit;
    for (size_t k = 0; k < len; ++k) lit.push_back(static_cast<char>('a' + k % 26));
    for (const char* op : {"==", "!="}) {
      auto e = Expression::Compile("s " + std::string(op) + " '" + lit + "'", *schema);
      ASSERT_TRUE(e.ok()) << e.status();
      std::vector<uint32_t> expected, got;
      for (size_t r = 0; r < values.size(); ++r) {
        if ((values[r] == lit) == (std::string(op) == "==")) expected.push_back(static_cast<uint32_t>(r));
      }
      (*e)->EvaluateFilter(*batch, &got);
      EXPECT_EQ(got, expected) << op << " '" << lit << "'";
      RecordBatch out(MakeSchema({{"v", Type::kBool}}));
      (*e)->EvaluateInto(*batch, out, 0);
      for (size_t r = 0; r < values.size(); ++r) {
        EXPECT_EQ(out.column(0).ints[r] != 0, (values[r] == lit) == (std::string(op) == "=="))
            << values[r] << " " << op << " " << lit;
      }
    }
    // The same constants in an in-list (with a second, never-matching item).
    auto e = Expression::Compile("s in ('" + lit + "', '#')", *schema);
    ASSERT_TRUE(e.ok()) << e.status();
    std::vector<uint32_t> expected, got;
    for (size_t r = 0; r < values.size(); ++r) {
      if (values[r] == lit) expected.push_back(static_cast<uint32_t>(r));
    }
    (*e)->EvaluateFilter(*batch, &got);
    EXPECT_EQ(got, expected) << "in '" << lit << "'";
  }
}

// Random batches with nulls: the selection paths (And/Or narrowing, field-vs-constant
// loops, in-lists) must agree with a row-at-a-time reference, across batch sizes.
TEST(ExpressionVectorTest, FilterMatchesReference) {
  auto schema = MakeSchema({{"event_type", Type::kString},
                            {"status", Type::kInt64},
                            {"latency", Type::kDouble},
                            {"user", Type::kString}});
  std::mt19937 rng(42);
  const std::vector<std::string> types = {"view", "click", "purchase", "views", ""};
  struct Case {
    const char* text;
    std::function<std::optional<bool>(const RecordBatch&, size_t)> ref;
  };
  auto et = [](const RecordBatch& b, size_t r) -> std::optional<std::string_view> {
    if (b.column(0).IsNull(r)) return std::nullopt;
    return b.column(0).strings[r];
  };
  auto st = [](const RecordBatch& b, size_t r) -> std::optional<int64_t> {
    if (b.column(1).IsNull(r)) return std::nullopt;
    return b.column(1).ints[r];
  };
  auto lat = [](const RecordBatch& b, size_t r) -> std::optional<double> {
    if (b.column(2).IsNull(r)) return std::nullopt;
    return b.column(2).doubles[r];
  };
  // Three-valued helpers.
  auto And = [](std::optional<bool> a, std::optional<bool> b) -> std::optional<bool> {
    if (a == false || b == false) return false;
    if (!a || !b) return std::nullopt;
    return true;
  };
  auto Or = [](std::optional<bool> a, std::optional<bool> b) -> std::optional<bool> {
    if (a == true || b == true) return true;
    if (!a || !b) return std::nullopt;
    return false;
  };
  auto IsView = [&](const RecordBatch& b, size_t r) -> std::optional<bool> {
    auto v = et(b, r);
    if (!v) return std::nullopt;
    return *v == "view";
  };
  auto StatusGe = [&](const RecordBatch& b, size_t r, int64_t x) -> std::optional<bool> {
    auto v = st(b, r);
    if (!v) return std::nullopt;
    return *v >= x;
  };
  auto LatLt = [&](const RecordBatch& b, size_t r, double x) -> std::optional<bool> {
    auto v = lat(b, r);
    if (!v) return std::nullopt;
    return *v < x;
  };
  std::vector<Case> cases = {
      {"event_type == \"view\"", [&](auto& b, size_t r) { return IsView(b, r); }},
      {"event_type != \"view\"",
       [&](auto& b, size_t r) -> std::optional<bool> {
         auto v = IsView(b, r);
         if (!v) return std::nullopt;
         return !*v;
       }},
      {"status >= 400", [&](auto& b, size_t r) { return StatusGe(b, r, 400); }},
      {"event_type == 'view' && status >= 400",
       [&](auto& b, size_t r) { return And(IsView(b, r), StatusGe(b, r, 400)); }},
      {"event_type == 'view' || status >= 400",
       [&](auto& b, size_t r) { return Or(IsView(b, r), StatusGe(b, r, 400)); }},
      {"(event_type == 'view' || latency < 0.5) && status >= 200",
       [&](auto& b, size_t r) {
         return And(Or(IsView(b, r), LatLt(b, r, 0.5)), StatusGe(b, r, 200));
       }},
      {"status >= 400 || (latency < 0.5 && event_type == 'view') || status >= 300",
       [&](auto& b, size_t r) {
         return Or(Or(StatusGe(b, r, 400), And(LatLt(b, r, 0.5), IsView(b, r))),
                   StatusGe(b, r, 300));
       }},
      {"event_type in ('view', 'click')",
       [&](auto& b, size_t r) -> std::optional<bool> {
         auto v = et(b, r);
         if (!v) return std::nullopt;
         return *v == "view" || *v == "click";
       }},
      {"not (event_type == 'view')",
       [&](auto& b, size_t r) -> std::optional<bool> {
         auto v = IsView(b, r);
         if (!v) return std::nullopt;
         return !*v;
       }},
      {"event_type is null || status is null",
       [&](auto& b, size_t r) -> std::optional<bool> { return !et(b, r) || !st(b, r); }},
      {"starts_with(event_type, 'vi') && status * 2 >= 800",
       [&](auto& b, size_t r) -> std::optional<bool> {
         auto v = et(b, r);
         std::optional<bool> sw = v ? std::optional<bool>(v->starts_with("vi")) : std::nullopt;
         return And(sw, StatusGe(b, r, 400));
       }},
  };
  std::vector<std::unique_ptr<Expression>> compiled;
  for (const Case& c : cases) {
    auto e = Expression::Compile(c.text, *schema);
    ASSERT_TRUE(e.ok()) << e.status();
    compiled.push_back(std::move(e).value());
  }
  // The same expressions over batches of changing sizes (buffers are reused).
  for (size_t n : {1000u, 17u, 4096u, 0u, 1u, 333u}) {
    auto batch = std::make_unique<RecordBatch>(schema);
    for (size_t r = 0; r < n; ++r) {
      const bool nulls = r % 7 == 3;
      batch->column(0).strings.push_back(
          nulls ? std::string_view() : batch->arena().Copy(types[rng() % types.size()]));
      batch->column(1).ints.push_back(r % 11 == 5 ? 0 : 100 * (1 + static_cast<int64_t>(rng() % 5)));
      batch->column(2).doubles.push_back(static_cast<double>(rng() % 100) / 100);
      batch->timestamps().push_back(static_cast<int64_t>(r));
    }
    batch->set_num_rows(n);
    for (size_t r = 0; r < n; ++r) {
      if (r % 7 == 3) batch->column(0).SetNull(r, n);
      if (r % 11 == 5) batch->column(1).SetNull(r, n);
    }
    for (size_t k = 0; k < cases.size(); ++k) {
      std::vector<uint32_t> expected;
      for (size_t r = 0; r < n; ++r) {
        if (cases[k].ref(*batch, r) == true) expected.push_back(static_cast<uint32_t>(r));
      }
      std::vector<uint32_t> got;
      compiled[k]->EvaluateFilter(*batch, &got);
      EXPECT_EQ(got, expected) << cases[k].text << " n=" << n;
      // Eval path agrees with the Select path.
      RecordBatch out(MakeSchema({{"v", Type::kBool}}));
      compiled[k]->EvaluateInto(*batch, out, 0);
      std::vector<uint32_t> from_eval;
      for (size_t r = 0; r < n; ++r) {
        const std::optional<bool> want = cases[k].ref(*batch, r);
        const Column& c = out.column(0);
        const std::optional<bool> have =
            c.IsNull(r) ? std::nullopt : std::optional<bool>(c.ints[r] != 0);
        ASSERT_EQ(have, want) << cases[k].text << " row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace sluice::operators::expr
