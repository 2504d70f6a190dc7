#include "sluice/params.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

Param Sample() {
  Param window = Param::Map({{"size", Param::String("ten")}, {"slide", Param::String("5s")}});
  window.SetOwnLocation("", 14, "");
  Param p = Param::Map({{"window", window},
                        {"n", Param::Number(3)},
                        {"fields", Param::List({Param::String("a"), Param::String("b")})}});
  p.SetLocation("job.yaml", 10, "operators[2]");
  return p;
}

TEST(ParamTest, DurationErrorNamesFileLineAndPath) {
  Param p = Sample();
  const Param* window = p.Find("window");
  ASSERT_NE(window, nullptr);
  auto size = window->GetDurationMs("size");
  ASSERT_FALSE(size.ok());
  EXPECT_EQ(size.status().message(),
            "job.yaml:14: operators[2].window.size: expected a duration like 10s, got 'ten'");
  auto slide = window->GetDurationMs("slide");
  ASSERT_TRUE(slide.ok());
  EXPECT_EQ(*slide, 5000);
}

TEST(ParamTest, MissingAndUnknownKeys) {
  Param p = Sample();
  auto missing = p.GetString("path");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "job.yaml:10: operators[2].path: required parameter is missing");
  auto st = p.CheckKeys({"window", "n"});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown parameter 'fields'"), std::string::npos);
}

TEST(ParamTest, TypedGetters) {
  Param p = Sample();
  EXPECT_EQ(*p.GetInt("n"), 3);
  EXPECT_EQ(*p.GetIntOr("absent", 7), 7);
  auto list = p.GetStringList("fields");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_FALSE(p.GetInt("fields").ok());
}

TEST(ParamTest, ParseDuration) {
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("1m"), 60000);
  EXPECT_EQ(*ParseDurationMs("1.5s"), 1500);
  EXPECT_EQ(*ParseDurationMs("2h"), 7200000);
  EXPECT_EQ(*ParseDurationMs("1500"), 1500);
  EXPECT_FALSE(ParseDurationMs("soon").ok());
  EXPECT_FALSE(ParseDurationMs("10 parsecs").ok());
}

}  // namespace
}  // namespace sluice
