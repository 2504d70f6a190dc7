// The atomic-write protocol (AtomicFile, WriteFileAtomic): a reader sees the old content
// or the new, never part of the new; a failure at any step leaves the old content and no
// temporary file; committing under an OutputFence keeps a stale attempt out.
#include "sluice/filesystem.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"
#include "sluice/output_fence.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The local disk, with faults on request: a write that fails after `append_budget`
// bytes, a sync that fails, a rename that fails.
class FaultyFileSystem : public FileSystem {
 public:
  int64_t append_budget = -1;  // -1: unlimited
  bool fail_sync = false;
  bool fail_rename = false;

  absl::StatusOr<std::unique_ptr<WritableFile>> Create(const std::string& path) override {
    auto file = local_->Create(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(new FaultyFile(this, std::move(*file)));
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) override { return local_->ReadFile(path); }
  absl::StatusOr<bool> CreateExclusive(const std::string& path) override { return local_->CreateExclusive(path); }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (fail_rename) return absl::UnavailableError("injected: rename fails");
    return local_->Rename(from, to);
  }
  absl::Status ReplaceDirectory(const std::string& from, const std::string& to) override {
    return local_->ReplaceDirectory(from, to);
  }
  absl::Status MakeDirs(const std::string& path) override { return local_->MakeDirs(path); }
  absl::StatusOr<bool> Exists(const std::string& path) override { return local_->Exists(path); }
  absl::StatusOr<bool> IsDirectory(const std::string& path) override { return local_->IsDirectory(path); }
  absl::StatusOr<std::vector<std::string>> List(const std::string& path) override { return local_->List(path); }
  absl::Status RemoveAll(const std::string& path) override { return local_->RemoveAll(path); }

 private:
  class FaultyFile : public WritableFile {
   public:
    FaultyFile(FaultyFileSystem* fs, std::unique_ptr<WritableFile> file) : fs_(fs), file_(std::move(file)) {}
    absl::Status Append(std::string_view data) override {
      if (fs_->append_budget >= 0 && static_cast<int64_t>(data.size()) > fs_->append_budget) {
        // Part of the data reaches the disk, as with a full disk.
        (void)file_->Append(data.substr(0, static_cast<size_t>(fs_->append_budget)));
        fs_->append_budget = 0;
        return absl::UnavailableError("injected: no space left on device");
      }
      if (fs_->append_budget >= 0) fs_->append_budget -= static_cast<int64_t>(data.size());
      return file_->Append(data);
    }
    absl::Status Close(bool durable) override {
      absl::Status st = file_->Close(durable);
      if (durable && fs_->fail_sync) return absl::UnavailableError("injected: fdatasync fails");
      return st;
    }

   private:
    FaultyFileSystem* fs_;
    std::unique_ptr<WritableFile> file_;
  };
  std::shared_ptr<FileSystem> local_ = LocalFileSystem();
};

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("atomic_file_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "out.txt").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Names in the directory other than the target.
  std::vector<std::string> Others() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) {
      if (e.path().string() != path_) out.push_back(e.path().filename().string());
    }
    return out;
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(AtomicFileTest, WriteFileAtomicReplacesTheFileAndLeavesNoTemporary) {
  FileSystem& local = *LocalFileSystem();
  ASSERT_TRUE(WriteFileAtomic(local, path_, "old").ok());
  ASSERT_TRUE(WriteFileAtomic(local, path_, "new content").ok());
  EXPECT_EQ(Slurp(path_), "new content");
  EXPECT_TRUE(Others().empty());
}

TEST_F(AtomicFileTest, MakesParentDirectories) {
  const std::string deep = (dir_ / "a" / "b" / "c.txt").string();
  ASSERT_TRUE(WriteFileAtomic(*LocalFileSystem(), deep, "x").ok());
  EXPECT_EQ(Slurp(deep), "x");
}

TEST_F(AtomicFileTest, AFailedWriteKeepsTheOldContentAndRemovesTheTemporary) {
  ASSERT_TRUE(WriteFileAtomic(*LocalFileSystem(), path_, "old").ok());
  FaultyFileSystem faulty;
  faulty.append_budget = 5;
  absl::Status st = WriteFileAtomic(faulty, path_, "a much longer new content");
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(Slurp(path_), "old");
  EXPECT_TRUE(Others().empty()) << Others()[0];
}

TEST_F(AtomicFileTest, AFailedSyncKeepsTheOldContentAndRemovesTheTemporary) {
  ASSERT_TRUE(WriteFileAtomic(*LocalFileSystem(), path_, "old").ok());
  FaultyFileSystem faulty;
  faulty.fail_sync = true;
  EXPECT_FALSE(WriteFileAtomic(faulty, path_, "new").ok());
  EXPECT_EQ(Slurp(path_), "old");
  EXPECT_TRUE(Others().empty());
}

TEST_F(AtomicFileTest, AFailedRenameKeepsTheOldContentAndRemovesTheTemporary) {
  ASSERT_TRUE(WriteFileAtomic(*LocalFileSystem(), path_, "old").ok());
  FaultyFileSystem faulty;
  faulty.fail_rename = true;
  EXPECT_FALSE(WriteFileAtomic(faulty, path_, "new").ok());
  EXPECT_EQ(Slurp(path_), "old");
  EXPECT_TRUE(Others().empty());
}

TEST_F(AtomicFileTest, AFailedAppendFailsEveryLaterCall) {
  FaultyFileSystem faulty;
  faulty.append_budget = 3;
  auto file = AtomicFile::Create(faulty, path_);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_FALSE((*file)->Append("12345").ok());
  faulty.append_budget = -1;
  EXPECT_FALSE((*file)->Append("more").ok());
  EXPECT_FALSE((*file)->Commit().ok());
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_TRUE(Others().empty());
}

TEST_F(AtomicFileTest, NothingIsVisibleUntilCommit) {
  ASSERT_TRUE(WriteFileAtomic(*LocalFileSystem(), path_, "old").ok());
  auto file = AtomicFile::Create(*LocalFileSystem(), path_, (dir_ / ".out.txt.inprogress").string());
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE((*file)->Append("new ").ok());
  ASSERT_TRUE((*file)->Append("content").ok());
  EXPECT_EQ(Slurp(path_), "old");
  ASSERT_TRUE((*file)->Finish().ok());
  EXPECT_EQ(Slurp(path_), "old");
  EXPECT_EQ(Slurp((dir_ / ".out.txt.inprogress").string()), "new content");  // durable, not yet visible
  ASSERT_TRUE((*file)->Commit().ok());
  EXPECT_TRUE((*file)->committed());
  EXPECT_EQ(Slurp(path_), "new content");
  EXPECT_TRUE(Others().empty());
}

TEST_F(AtomicFileTest, DiscardRemovesTheTemporaryAndDestructionLeavesIt) {
  {
    auto file = AtomicFile::Create(*LocalFileSystem(), path_);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("x").ok());
    (*file)->Discard();
    EXPECT_FALSE((*file)->Commit().ok());
  }
  EXPECT_TRUE(Others().empty());
  std::string temp;
  {
    auto file = AtomicFile::Create(*LocalFileSystem(), path_);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("kept for recovery").ok());
    temp = (*file)->temp_path();
  }
  EXPECT_EQ(Slurp(temp), "kept for recovery");
  EXPECT_FALSE(fs::exists(path_));
}

// A reader polling the file while it is replaced again and again sees only whole
// versions: all 'a' or all 'b', at full length.
TEST_F(AtomicFileTest, AReaderNeverSeesAPartialFile) {
  const size_t size = 1 << 20;
  ASSERT_TRUE(WriteFileAtomic(*LocalFileSystem(), path_, std::string(size, 'a')).ok());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0};
  std::thread reader([&] {
    while (!done.load()) {
      std::string s = Slurp(path_);
      ++reads;
      if (s.size() != size || s.find_first_not_of(s[0]) != std::string::npos) ++torn;
    }
  });
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(WriteFileAtomic(*LocalFileSystem(), path_, std::string(size, i % 2 ? 'a' : 'b')).ok());
  }
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(torn.load(), 0);
  EXPECT_TRUE(Others().empty());
}

// Just what OutputFence asks of a Context.
class AttemptContext : public Context {
 public:
  explicit AttemptContext(int64_t attempt) : attempt_(attempt), run_("job-" + std::to_string(attempt)) {}
  const std::string& node_id() const override { return node_; }
  int subtask_index() const override { return 0; }
  int parallelism() const override { return 1; }
  int max_parallelism() const override { return 128; }
  int first_key_group() const override { return 0; }
  int last_key_group() const override { return 127; }
  bool batch_mode() const override { return true; }
  Counter* GetCounter(std::string_view) override { return nullptr; }
  KeyedState* GetKeyedState(std::string_view) override { return nullptr; }
  void RegisterEventTimeTimer(int64_t) override {}
  bool checkpointing() const override { return false; }
  const std::string& run_id() const override { return run_; }
  const std::string& job_id() const override { return job_; }
  int64_t attempt() const override { return attempt_; }

 private:
  std::string node_ = "sink", job_ = "job";
  int64_t attempt_;
  std::string run_;
};

// How sinks use it: each attempt writes its own in-progress file and commits under its
// fence; a stale attempt's commit does not run, and it discards its file.
TEST_F(AtomicFileTest, ACommitUnderAFenceKeepsAStaleAttemptOut) {
  AttemptContext a1(1), a2(2);
  auto f1 = OutputFence::Claim(path_, a1);
  ASSERT_TRUE(f1.ok()) << f1.status();
  auto w1 = AtomicFile::Create(*LocalFileSystem(), path_, OutputFence::InProgressPath(path_, a1));
  ASSERT_TRUE(w1.ok());
  ASSERT_TRUE((*w1)->Append("attempt 1").ok());
  auto f2 = OutputFence::Claim(path_, a2);  // the job moved on
  ASSERT_TRUE(f2.ok()) << f2.status();
  auto w2 = AtomicFile::Create(*LocalFileSystem(), path_, OutputFence::InProgressPath(path_, a2));
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE((*w2)->Append("attempt 2").ok());
  ASSERT_TRUE((*f2)->Publish([&] { return (*w2)->Commit(); }).ok());
  absl::Status st = (*f1)->Publish([&] { return (*w1)->Commit(); });
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted) << st;
  (*w1)->Discard();
  EXPECT_EQ(Slurp(path_), "attempt 2");
  EXPECT_FALSE(fs::exists((*w1)->temp_path()));
}

}  // namespace
}  // namespace sluice
