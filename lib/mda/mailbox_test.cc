// mda/mailbox_test.cc — locked mbox appends and Maildir files.
#include "postern/mda/mailbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace postern::mda {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "local_test.XXXXXX").string();
    path_ = mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string path() const { return path_; }

 private:
  std::string path_;
};

TEST(Mailbox, AppendMbox) {
  TempDir d;
  std::string path = d.path() + "/user";
  MboxOptions o;
  EXPECT_EQ(AppendMbox(path, "one\n\n", o).kind, Verdict::Kind::kSent);
  EXPECT_EQ(AppendMbox(path, "two\n\n", o).kind, Verdict::Kind::kSent);
  EXPECT_EQ(Slurp(path), "one\n\ntwo\n\n");
  EXPECT_FALSE(fs::exists(path + ".lock"));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  o.size_limit = 12;
  o.limit_param = "virtual_mailbox_limit";
  Verdict full = AppendMbox(path, "three\n\n", o);
  EXPECT_EQ(full.kind, Verdict::Kind::kBounce);
  EXPECT_EQ(full.dsn, "5.2.2");
  EXPECT_EQ(full.text, "cannot update mailbox " + path + ": mailbox full (virtual_mailbox_limit)");
  EXPECT_EQ(Slurp(path), "one\n\ntwo\n\n");
}

// Local bounces what it cannot open (5.2.0); virtual, whose mailboxes the
// administrator lays out, defers (4.2.0).
TEST(Mailbox, FailureStatusIsTheCallersDefault) {
  TempDir d;
  std::string path = d.path() + "/missing/user";
  MboxOptions o;
  o.locks = {true, false, false};  // a dot lock there would fail first (4.2.0)
  EXPECT_EQ(AppendMbox(path, "x\n", o).dsn, "5.2.0");
  o.fail_dsn = "4.2.0";
  Verdict v = AppendMbox(path, "x\n", o);
  EXPECT_EQ(v.kind, Verdict::Kind::kDefer);
  EXPECT_EQ(v.dsn, "4.2.0");
  std::ofstream(d.path() + "/file") << "";
  EXPECT_EQ(WriteMaildir(d.path() + "/file/Maildir/", "x\n", "h", "4.2.0").kind, Verdict::Kind::kDefer);
  EXPECT_EQ(WriteMaildir(d.path() + "/file/Maildir/", "x\n", "h").kind, Verdict::Kind::kBounce);
}

TEST(Mailbox, AppendRefusesSymlinkAndWaitsForLock) {
  TempDir d;
  std::string target = d.path() + "/target", link = d.path() + "/link";
  std::ofstream(target) << "";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(AppendMbox(link, "x\n", {}).kind, Verdict::Kind::kBounce);
  // A fresh dot lock held by someone else makes the delivery wait, then defer.
  std::string box = d.path() + "/locked";
  std::ofstream(box + ".lock") << "";
  MboxOptions only_dot;
  only_dot.locks = {false, false, true};
  Verdict v = AppendMbox(box, "x\n", only_dot);
  EXPECT_EQ(v.kind, Verdict::Kind::kDefer);
  EXPECT_EQ(v.dsn, "4.2.0");
  EXPECT_FALSE(fs::exists(box));
}

// A spool mailbox made here is given to its recipient; an existing one that
// another user owns defers (strict_mailbox_ownership), or takes the mail
// when that is off, and is never given away.
TEST(Mailbox, SpoolOwnership) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give files away";
  TempDir d;
  MboxOptions o;
  o.owner = std::pair<uid_t, gid_t>{4242, 4243};
  o.strict_owner = true;
  std::string made = d.path() + "/made";
  ASSERT_EQ(AppendMbox(made, "x\n", o).kind, Verdict::Kind::kSent);
  struct stat st {};
  ASSERT_EQ(stat(made.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_gid, 4243u);
  EXPECT_EQ(AppendMbox(made, "y\n", o).kind, Verdict::Kind::kSent);  // owned by the recipient
  std::string theirs = d.path() + "/theirs";
  std::ofstream(theirs) << "";
  ASSERT_EQ(chown(theirs.c_str(), 4244, 4244), 0);
  Verdict v = AppendMbox(theirs, "z\n", o);
  EXPECT_EQ(v.kind, Verdict::Kind::kDefer);
  EXPECT_EQ(v.dsn, "4.2.0");
  EXPECT_EQ(v.text, "destination " + theirs + " is not owned by recipient");
  EXPECT_EQ(Slurp(theirs), "");
  o.strict_owner = false;
  EXPECT_EQ(AppendMbox(theirs, "z\n", o).kind, Verdict::Kind::kSent);
  ASSERT_EQ(stat(theirs.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4244u);  // an empty file of someone else's is not given away either
  EXPECT_EQ(Slurp(theirs), "z\n");
}

TEST(Mailbox, Maildir) {
  TempDir d;
  std::string dir = d.path() + "/a/b/Maildir/";
  ASSERT_EQ(WriteMaildir(dir, "hello\n", "host.test").kind, Verdict::Kind::kSent);
  ASSERT_EQ(WriteMaildir(dir, "again\n", "host.test").kind, Verdict::Kind::kSent);
  std::vector<std::string> got;
  for (const auto& e : fs::directory_iterator(dir + "new")) got.push_back(Slurp(e.path()));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"again\n", "hello\n"}));
  EXPECT_TRUE(fs::is_empty(dir + "tmp"));
  EXPECT_TRUE(fs::is_directory(dir + "cur"));
}

}  // namespace
}  // namespace postern::mda
