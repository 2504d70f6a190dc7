#include "operators/basic/line_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sluice::operators {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::vector<std::string> ReadAll(const std::string& path, int64_t start, int64_t end, size_t batch) {
  LineReader reader;
  EXPECT_TRUE(reader.OpenFile(path, start, end).ok());
  std::vector<std::string> out;
  while (true) {
    std::vector<std::string_view> lines;
    auto chunk = reader.ReadLines(batch, &lines);
    EXPECT_TRUE(chunk.ok());
    if (*chunk == nullptr && lines.empty()) break;
    for (auto l : lines) out.emplace_back(l);
  }
  return out;
}

TEST(LineReaderTest, ReadsLinesWithAndWithoutFinalNewline) {
  std::string p = TempPath("a.txt");
  WriteFile(p, "one\ntwo\n\nfour");
  EXPECT_EQ(ReadAll(p, 0, -1, 2), (std::vector<std::string>{"one", "two", "", "four"}));
}

TEST(LineReaderTest, SplitsCoverEveryLineExactlyOnce) {
  std::string content;
  for (int i = 0; i < 5000; ++i) content += "line-" + std::to_string(i) + std::string(i % 37, 'x') + "\n";
  std::string p = TempPath("b.txt");
  WriteFile(p, content);
  std::vector<std::string> all = ReadAll(p, 0, -1, 100);
  ASSERT_EQ(all.size(), 5000u);
  for (int parts : {2, 3, 7, 64}) {
    std::vector<std::string> joined;
    int64_t size = static_cast<int64_t>(content.size());
    for (int i = 0; i < parts; ++i) {
      int64_t s = size * i / parts, e = size * (i + 1) / parts;
      auto lines = ReadAll(p, s, i + 1 == parts ? -1 : e, 33);
      joined.insert(joined.end(), lines.begin(), lines.end());
    }
    EXPECT_EQ(joined, all) << parts << " parts";
  }
}

TEST(LineReaderTest, LongLinesLargerThanAChunk) {
  std::string big(9 << 20, 'z');
  std::string p = TempPath("c.txt");
  WriteFile(p, "a\n" + big + "\nb\n");
  auto lines = ReadAll(p, 0, -1, 10);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].size(), big.size());
  EXPECT_EQ(lines[2], "b");
}

// Every file size around the padded tail: lines near the end are copied to a padded
// buffer, the rest are views into the mapping; both must read back exactly.
TEST(LineReaderTest, EveryTailSize) {
  std::string p = TempPath("tail.txt");
  for (int size = 0; size < 300; ++size) {
    std::string content;
    std::vector<std::string> want;
    std::string cur;
    for (int i = 0; i < size; ++i) {
      char c = (i * 7 + size) % 11 == 0 ? '\n' : static_cast<char>('a' + i % 26);
      content.push_back(c);
      if (c == '\n') {
        want.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    if (!cur.empty()) want.push_back(cur);
    WriteFile(p, content);
    EXPECT_EQ(ReadAll(p, 0, -1, 3), want) << "size " << size;
    EXPECT_EQ(ReadAll(p, 0, -1, 1000), want) << "size " << size;
  }
}

TEST(LineReaderTest, Gzip) {
  std::string p = TempPath("d.txt.gz");
  gzFile gz = gzopen(p.c_str(), "wb");
  std::string content;
  for (int i = 0; i < 100000; ++i) content += "row " + std::to_string(i) + "\n";
  gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
  gzclose(gz);
  auto lines = ReadAll(p, 0, -1, 1000);
  ASSERT_EQ(lines.size(), 100000u);
  EXPECT_EQ(lines[99999], "row 99999");
}

// Reads `path` to its end or its first error; returns the error (OK at a clean end).
absl::Status ReadToError(const std::string& path, size_t* lines_read) {
  LineReader reader;
  *lines_read = 0;
  absl::Status st = reader.OpenFile(path, 0, -1);
  if (!st.ok()) return st;
  while (true) {
    std::vector<std::string_view> lines;
    auto chunk = reader.ReadLines(1000, &lines);
    if (!chunk.ok()) return chunk.status();
    *lines_read += lines.size();
    if (*chunk == nullptr && lines.empty()) return absl::OkStatus();
  }
}

std::string GzipOf(const std::string& content) {
  std::string p = TempPath("gzip_of.tmp.gz");
  gzFile gz = gzopen(p.c_str(), "wb");
  gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
  gzclose(gz);
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Issue #10.6: half a gzip file was read as a success (gzread() returned 0 and the
// "unexpected end of file" in gzerror() was never looked at).
TEST(LineReaderTest, TruncatedGzipIsAnErrorNamingTheFile) {
  std::string content;
  for (int i = 0; i < 200000; ++i) content += "row " + std::to_string(i) + " some text to compress\n";
  std::string gz = GzipOf(content);
  for (size_t cut : {gz.size() / 2, gz.size() - 4, gz.size() - 1, size_t{10}, size_t{1}}) {
    std::string p = TempPath("truncated.log.gz");
    WriteFile(p, gz.substr(0, cut));
    size_t n = 0;
    absl::Status st = ReadToError(p, &n);
    EXPECT_FALSE(st.ok()) << "cut at " << cut << " of " << gz.size() << ": read " << n << " lines as a success";
    EXPECT_NE(st.message().find("truncated.log.gz"), std::string::npos) << st;
    EXPECT_LT(n, 200000u);
  }
}

TEST(LineReaderTest, RandomBytesNamedGzIsAnError) {
  std::string junk;
  uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1103515245 + 12345;
    junk.push_back(static_cast<char>(x >> 24));
  }
  junk[0] = 'x';  // not the gzip magic by chance
  std::string p = TempPath("random.gz");
  WriteFile(p, junk);
  size_t n = 0;
  absl::Status st = ReadToError(p, &n);
  EXPECT_FALSE(st.ok()) << "read " << n << " lines as a success";
  EXPECT_NE(st.message().find("random.gz"), std::string::npos) << st;
}

TEST(LineReaderTest, PlainTextNamedGzIsAnError) {
  std::string p = TempPath("plain.log.gz");
  WriteFile(p, "one\ntwo\nthree\n");
  size_t n = 0;
  absl::Status st = ReadToError(p, &n);
  EXPECT_FALSE(st.ok()) << "read " << n << " lines as a success";
  EXPECT_EQ(n, 0u);
  EXPECT_NE(st.message().find("plain.log.gz"), std::string::npos) << st;
  EXPECT_NE(st.message().find("not gzip"), std::string::npos) << st;
}

TEST(LineReaderTest, EmptyFileNamedGzIsAnError) {
  std::string p = TempPath("empty.log.gz");
  WriteFile(p, "");
  size_t n = 0;
  absl::Status st = ReadToError(p, &n);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("empty.log.gz"), std::string::npos) << st;
}

TEST(LineReaderTest, CorruptGzipIsAnErrorNamingTheFile) {
  std::string content;
  for (int i = 0; i < 50000; ++i) content += "row " + std::to_string(i) + "\n";
  std::string gz = GzipOf(content);
  gz[gz.size() / 2] ^= 0x55;
  std::string p = TempPath("corrupt.log.gz");
  WriteFile(p, gz);
  size_t n = 0;
  absl::Status st = ReadToError(p, &n);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("corrupt.log.gz"), std::string::npos) << st;
}

TEST(LineReaderTest, ConcatenatedGzipMembersAreOneFile) {
  std::string p = TempPath("two_members.gz");
  WriteFile(p, GzipOf("a\nb\n") + GzipOf("c\n"));
  EXPECT_EQ(ReadAll(p, 0, -1, 10), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(LineReaderTest, MissingFileIsAnError) {
  LineReader reader;
  auto st = reader.OpenFile(TempPath("nope.txt"), 0, -1);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nope.txt"), std::string::npos);
}

}  // namespace
}  // namespace sluice::operators
