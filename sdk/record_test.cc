#include "sluice/record.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

SchemaPtr TestSchema() {
  return std::make_shared<Schema>(std::vector<Field>{
      {"name", Type::kString}, {"n", Type::kInt64}, {"x", Type::kDouble}});
}

void AddRow(RecordBatch& b, std::string_view name, int64_t n, double x, int64_t ts) {
  b.column(0).strings.push_back(b.arena().Copy(name));
  b.column(1).ints.push_back(n);
  b.column(2).doubles.push_back(x);
  b.timestamps().push_back(ts);
  b.set_num_rows(b.num_rows() + 1);
}

TEST(SchemaTest, IndexOfAndToString) {
  auto s = TestSchema();
  EXPECT_EQ(s->IndexOf("n"), 1);
  EXPECT_EQ(s->IndexOf("missing"), -1);
  EXPECT_EQ(s->ToString(), "name:string, n:int64, x:double");
}

TEST(TypeTest, ParseType) {
  Type t;
  ASSERT_TRUE(ParseType("Timestamp", &t));
  EXPECT_EQ(t, Type::kTimestamp);
  ASSERT_TRUE(ParseType("long", &t));
  EXPECT_EQ(t, Type::kInt64);
  EXPECT_FALSE(ParseType("decimal", &t));
}

TEST(RecordBatchTest, SelectKeepsListedRowsInOrder) {
  RecordBatch b(TestSchema());
  for (int i = 0; i < 10; ++i) AddRow(b, "row" + std::to_string(i), i, i * 1.5, 1000 + i);
  b.Select({1, 4, 9});
  ASSERT_EQ(b.num_rows(), 3u);
  EXPECT_EQ(b.column(0).strings[1], "row4");
  EXPECT_EQ(b.column(1).ints[2], 9);
  EXPECT_EQ(b.timestamps()[0], 1001);
}

TEST(RecordBatchTest, AppendRowCopiesStringsAndNulls) {
  RecordBatch a(TestSchema());
  AddRow(a, "alpha", 1, 0.5, 7);
  AddRow(a, "beta", 2, 1.5, 8);
  a.column(1).SetNull(1, a.num_rows());
  RecordBatch b(TestSchema());
  b.AppendRow(a, 1);
  b.AppendRow(a, 0);
  a.Clear();
  ASSERT_EQ(b.num_rows(), 2u);
  EXPECT_EQ(b.column(0).strings[0], "beta");
  EXPECT_TRUE(b.column(1).IsNull(0));
  EXPECT_FALSE(b.column(1).IsNull(1));
  EXPECT_EQ(b.RowToJson(0), R"({"name":"beta","n":null,"x":1.5})");
}

TEST(RecordBatchTest, RowToJsonEscapes) {
  RecordBatch b(TestSchema());
  AddRow(b, "a\"b\\c\nd\x01", 3, 2, 0);
  EXPECT_EQ(b.RowToJson(0), R"({"name":"a\"b\\c\nd\u0001","n":3,"x":2})");
}

TEST(RecordBatchTest, AdoptMemoryKeepsViewsAlive) {
  auto a = std::make_unique<RecordBatch>(TestSchema());
  AddRow(*a, std::string(100, 'q'), 1, 1, 1);
  RecordBatch b(TestSchema());
  b.AdoptMemory(*a);
  std::string_view v = a->column(0).strings[0];
  a.reset();
  EXPECT_EQ(v, std::string(100, 'q'));
}

TEST(RecordBatchTest, AppendRowsSharesBuffersOrCopies) {
  auto schema = TestSchema();
  // Strings in a shared buffer: views are copied, the buffer is shared.
  auto buffer = std::make_shared<std::string>("alphabetagamma");
  auto src = std::make_unique<RecordBatch>(schema);
  std::string_view all(*buffer);
  for (auto [off, len] : {std::pair{0, 5}, {5, 4}, {9, 5}}) {
    src->column(0).strings.push_back(all.substr(off, len));
    src->column(1).ints.push_back(off);
    src->column(2).doubles.push_back(len);
    src->timestamps().push_back(off);
  }
  src->set_num_rows(3);
  src->column(1).SetNull(1, 3);
  src->AddBuffer(buffer);
  RecordBatch shared(schema);
  shared.AppendRows(*src, {0, 2});
  shared.AppendRows(*src, {1});
  buffer.reset();
  src.reset();
  ASSERT_EQ(shared.num_rows(), 3u);
  EXPECT_EQ(shared.RowToJson(0), R"({"name":"alpha","n":0,"x":5})");
  EXPECT_EQ(shared.RowToJson(1), R"({"name":"gamma","n":9,"x":5})");
  EXPECT_EQ(shared.RowToJson(2), R"({"name":"beta","n":null,"x":4})");
  EXPECT_EQ(shared.arena().bytes_used(), 0u);
  // Strings in the source's arena: copied.
  RecordBatch a(schema);
  AddRow(a, "delta", 1, 1, 1);
  RecordBatch copy(schema);
  copy.AppendRows(a, {0});
  a.Clear();
  EXPECT_EQ(copy.column(0).strings[0], "delta");
  EXPECT_EQ(copy.arena().bytes_used(), 5u);
}

TEST(ArenaTest, LargeAllocationsAndClear) {
  Arena arena;
  std::string big(200000, 'x');
  auto v = arena.Copy(big);
  EXPECT_EQ(v, big);
  auto w = arena.Copy("small");
  EXPECT_EQ(w, "small");
  arena.Clear();
  EXPECT_EQ(arena.bytes_used(), 0u);
  EXPECT_EQ(arena.Copy("again"), "again");
}

}  // namespace
}  // namespace sluice
