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

TEST(RecordBatchTest, AppendRowsWithAndWithoutTimestampsNeverReadsPastThem) {
  // A source that assigns no event time sets no timestamps; batches with and without
  // them meet in key-by routing.
  auto schema = TestSchema();
  RecordBatch none(schema);
  AddRow(none, "a", 1, 1, 1);
  AddRow(none, "b", 2, 2, 2);
  none.timestamps().clear();
  RecordBatch with(schema);
  AddRow(with, "c", 3, 3, 3);
  with.timestamps() = {30};
  RecordBatch out(schema);
  out.AppendRows(none, {1, 0});
  EXPECT_TRUE(out.timestamps().empty());
  out.AppendRows(with, {0});
  EXPECT_EQ(out.timestamps(), (std::vector<int64_t>{kNoTimestamp, kNoTimestamp, 30}));
  out.AppendRows(none, {0});
  EXPECT_EQ(out.timestamps().size(), 4u);
  EXPECT_EQ(out.timestamps()[3], kNoTimestamp);
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

// Issue #10: SetNull needed the batch's final row count. Given the count so far (as a
// plugin building row by row naturally does), `nulls` stayed short and every later read
// of a row past it (IsNull, Select, the exchange codec, expressions) went out of bounds.
TEST(ColumnTest, SetNullWithTheRowCountSoFarCoversLaterRows) {
  RecordBatch b(TestSchema());
  for (int i = 0; i < 5; ++i) {
    AddRow(b, "r" + std::to_string(i), i, i, i);
    if (i == 1) b.column(1).SetNull(1, b.num_rows());  // 2 rows so far
  }
  EXPECT_EQ(b.column(1).nulls.size(), 5u);  // padded by set_num_rows
  EXPECT_TRUE(b.column(1).IsNull(1));
  for (size_t r : {0u, 2u, 3u, 4u}) EXPECT_FALSE(b.column(1).IsNull(r)) << r;
  EXPECT_EQ(b.RowToJson(4), R"({"name":"r4","n":4,"x":4})");
  b.Select({1, 3, 4});
  ASSERT_EQ(b.column(1).nulls.size(), 3u);
  EXPECT_TRUE(b.column(1).IsNull(0));
  EXPECT_FALSE(b.column(1).IsNull(2));
}

TEST(ColumnTest, SetNullPastTheGivenCountGrowsInsteadOfWritingOutOfBounds) {
  Column c;
  c.type = Type::kInt64;
  c.ints = {1, 2, 3, 4, 5, 6};
  c.SetNull(5, 3);  // a wrong count: the row wins
  ASSERT_EQ(c.nulls.size(), 6u);
  EXPECT_TRUE(c.IsNull(5));
  EXPECT_FALSE(c.IsNull(2));
  EXPECT_FALSE(c.IsNull(100));  // past the bitmap: not null, and no read out of bounds
}

// BatchBuilder: the row-oriented way for plugins to fill a batch (issue #10).
SchemaPtr AllTypes() {
  return std::make_shared<Schema>(std::vector<Field>{{"s", Type::kString},
                                                     {"i", Type::kInt64},
                                                     {"d", Type::kDouble},
                                                     {"b", Type::kBool},
                                                     {"t", Type::kTimestamp},
                                                     {"z", Type::kNull}});
}

TEST(BatchBuilderTest, BuildsRowsWithNulls) {
  BatchBuilder b(std::make_unique<RecordBatch>(AllTypes()));
  std::string scratch = "copied";
  ASSERT_TRUE(b.BeginRow(1000).ok());
  ASSERT_TRUE(b.SetString(0, scratch).ok());
  ASSERT_TRUE(b.SetInt64(1, 42).ok());
  ASSERT_TRUE(b.SetDouble(2, 0.5).ok());
  ASSERT_TRUE(b.SetBool(3, true).ok());
  ASSERT_TRUE(b.SetInt64(4, 1700000000000).ok());
  ASSERT_TRUE(b.SetNull(5).ok());
  ASSERT_TRUE(b.FinishRow().ok());
  scratch = "clobber";  // SetString copied it
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(b.BeginRow().ok());
    // Fields in any order; row 1 has a null int, so `nulls` appears mid-batch.
    ASSERT_TRUE(b.SetStringView(0, "const").ok());
    ASSERT_TRUE(b.SetNull(5).ok());
    ASSERT_TRUE((r == 0 ? b.SetNull(1) : b.SetInt64(1, r)).ok());
    ASSERT_TRUE(b.SetDouble(2, r).ok());
    ASSERT_TRUE(b.SetNull(3).ok());
    ASSERT_TRUE(b.SetInt64(4, r).ok());
    ASSERT_TRUE(b.FinishRow().ok());
  }
  EXPECT_EQ(b.num_rows(), 4u);
  auto batch = b.Finish();
  ASSERT_TRUE(batch.ok()) << batch.status();
  RecordBatch& out = **batch;
  ASSERT_TRUE(out.Validate().ok()) << out.Validate();
  EXPECT_EQ(out.num_rows(), 4u);
  EXPECT_EQ(out.timestamps()[0], 1000);
  EXPECT_EQ(out.timestamps()[1], kNoTimestamp);
  EXPECT_EQ(out.RowToJson(0), R"({"s":"copied","i":42,"d":0.5,"b":true,"t":1700000000000,"z":null})");
  EXPECT_EQ(out.RowToJson(1), R"({"s":"const","i":null,"d":0,"b":null,"t":0,"z":null})");
  EXPECT_EQ(out.RowToJson(3), R"({"s":"const","i":2,"d":2,"b":null,"t":2,"z":null})");
  EXPECT_EQ(out.column(1).nulls, (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_TRUE(out.column(5).nulls.empty());  // a null column holds nothing
}

TEST(BatchBuilderTest, MisuseIsAnErrorNotACorruptBatch) {
  auto fresh = [] { return std::make_unique<RecordBatch>(AllTypes()); };
  auto message = [](const absl::Status& st) { return std::string(st.message()); };
  {
    BatchBuilder b(fresh());
    absl::Status st = b.SetInt64(1, 1);
    EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(message(st), "BatchBuilder: SetInt64(1) outside a row (call BeginRow first)");
    EXPECT_EQ(b.BeginRow().code(), absl::StatusCode::kFailedPrecondition);  // sticky
    EXPECT_FALSE(b.Finish().ok());
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.BeginRow().ok());
    absl::Status st = b.SetInt64(6, 1);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(message(st),
              "BatchBuilder: SetInt64(6): no such field; the schema has 6: s:string, i:int64, d:double, "
              "b:bool, t:timestamp, z:null");
    EXPECT_EQ(message(b.SetInt64(-1, 1)), message(st));  // the first error stays
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.BeginRow().ok());
    EXPECT_EQ(message(b.SetInt64(0, 1)), "BatchBuilder: SetInt64(0) on field 's' of type string");
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.BeginRow().ok());
    EXPECT_EQ(message(b.SetDouble(5, 1)), "BatchBuilder: SetDouble(5) on field 'z' of type null");
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.BeginRow().ok());
    ASSERT_TRUE(b.SetInt64(1, 1).ok());
    EXPECT_EQ(message(b.SetNull(1)), "BatchBuilder: field 1 (i) set twice in row 0");
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.BeginRow().ok());
    ASSERT_TRUE(b.SetString(0, "x").ok());
    EXPECT_EQ(message(b.FinishRow()), "BatchBuilder: row 0 has no value for field 1 (i); set it, or SetNull");
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.BeginRow().ok());
    EXPECT_EQ(message(b.BeginRow()), "BatchBuilder: BeginRow while row 0 is open (call FinishRow first)");
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.BeginRow().ok());
    auto r = b.Finish();
    EXPECT_EQ(message(r.status()), "BatchBuilder: Finish while row 0 is open (FinishRow or CancelRow it)");
  }
  {
    BatchBuilder b(fresh());
    ASSERT_TRUE(b.Finish().ok());
    EXPECT_EQ(message(b.BeginRow()), "BatchBuilder: used after Finish");
    EXPECT_FALSE(b.Finish().ok());
  }
  {
    BatchBuilder b(nullptr);
    EXPECT_EQ(message(b.BeginRow()), "BatchBuilder: no batch (a null BatchPtr)");
  }
  {
    auto bad = fresh();
    bad->column(1).ints.push_back(1);  // one value, zero rows
    BatchBuilder b(std::move(bad));
    EXPECT_EQ(message(b.BeginRow()),
              "BatchBuilder: the batch is inconsistent: column 1 (i:int64) has 1 values for 0 rows");
  }
}

TEST(BatchBuilderTest, CancelRowTakesBackItsValues) {
  BatchBuilder b(std::make_unique<RecordBatch>(TestSchema()));
  ASSERT_TRUE(b.BeginRow(5).ok());
  ASSERT_TRUE(b.SetString(0, "kept").ok());
  ASSERT_TRUE(b.SetInt64(1, 1).ok());
  ASSERT_TRUE(b.SetDouble(2, 1).ok());
  ASSERT_TRUE(b.FinishRow().ok());
  ASSERT_TRUE(b.BeginRow(6).ok());
  ASSERT_TRUE(b.SetString(0, "dropped").ok());
  ASSERT_TRUE(b.SetNull(1).ok());
  b.CancelRow();
  ASSERT_TRUE(b.BeginRow(7).ok());
  ASSERT_TRUE(b.SetString(0, "second").ok());
  ASSERT_TRUE(b.SetInt64(1, 2).ok());
  ASSERT_TRUE(b.SetDouble(2, 2).ok());
  ASSERT_TRUE(b.FinishRow().ok());
  auto batch = b.Finish();
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_TRUE((*batch)->Validate().ok()) << (*batch)->Validate();
  EXPECT_EQ((*batch)->num_rows(), 2u);
  EXPECT_EQ((*batch)->RowToJson(1), R"({"name":"second","n":2,"x":2})");
  EXPECT_EQ((*batch)->timestamps(), (std::vector<int64_t>{5, 7}));
}

TEST(BatchBuilderTest, AppendsToABatchThatHasRows) {
  auto batch = std::make_unique<RecordBatch>(TestSchema());
  AddRow(*batch, "first", 1, 1, 1);
  batch->column(1).SetNull(0, 1);
  BatchBuilder b(std::move(batch));
  ASSERT_TRUE(b.BeginRow(2).ok());
  ASSERT_TRUE(b.SetString(0, "second").ok());
  ASSERT_TRUE(b.SetInt64(1, 2).ok());
  ASSERT_TRUE(b.SetDouble(2, 2).ok());
  ASSERT_TRUE(b.FinishRow().ok());
  auto out = b.Finish();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)->RowToJson(0), R"({"name":"first","n":null,"x":1})");
  EXPECT_EQ((*out)->RowToJson(1), R"({"name":"second","n":2,"x":2})");
  EXPECT_TRUE((*out)->Validate().ok());
}

TEST(RecordBatchTest, ValidateNamesTheShortColumn) {
  RecordBatch b(TestSchema());
  AddRow(b, "a", 1, 1, 1);
  b.column(2).doubles.clear();
  EXPECT_EQ(b.Validate().message(), "column 2 (x:double) has 0 values for 1 rows");
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
