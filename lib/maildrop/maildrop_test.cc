// maildrop/maildrop_test.cc — envelope format round trips and refusals, and a
// written file read back whole; an abandoned writer leaves nothing behind.
#include "postern/maildrop/maildrop.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace postern::maildrop {
namespace {

namespace fs = std::filesystem;

Envelope Sample() {
  Envelope e;
  e.uid = 1000;
  e.time = 1795425121;
  e.sender = "alice@example.org";
  e.recipients = {"bob@example.net", "carol@example.net"};
  e.notify = queue::kNotifySuccess | queue::kNotifyFailure;
  e.ret = queue::DsnRet::kHdrs;
  e.envid = "id-1";
  e.flags = queue::kFlag8BitMime;
  return e;
}

bool Same(const Envelope& a, const Envelope& b) {
  return a.uid == b.uid && a.time == b.time && a.sender == b.sender && a.recipients == b.recipients &&
         a.notify == b.notify && a.ret == b.ret && a.envid == b.envid && a.flags == b.flags;
}

TEST(Envelope, RoundTrips) {
  for (Envelope e : {Sample(), Envelope{0, 1, "", {"postmaster"}, 0, queue::DsnRet::kUnset, "", 0}}) {
    auto text = FormatEnvelope(e);
    ASSERT_TRUE(text.ok()) << text.error();
    ASSERT_TRUE(text->ends_with("\n\n"));
    auto back = ParseEnvelope(std::string_view(*text).substr(0, text->size() - 1));
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_TRUE(Same(e, *back)) << *text;
  }
}

TEST(Envelope, RefusesWhatWouldBreakTheFormat) {
  struct Case {
    const char* what;
    void (*change)(Envelope&);
  } cases[] = {
      {"newline in sender", [](Envelope& e) { e.sender = "a\nrcpt evil@x"; }},
      {"no recipients", [](Envelope& e) { e.recipients.clear(); }},
      {"empty recipient", [](Envelope& e) { e.recipients = {""}; }},
      {"control character", [](Envelope& e) { e.recipients = {"a\x01@x"}; }},
      {"long envid", [](Envelope& e) { e.envid.assign(queue::kMaxAttr + 1, 'x'); }},
  };
  for (const Case& c : cases) {
    Envelope e = Sample();
    c.change(e);
    EXPECT_FALSE(FormatEnvelope(e).ok()) << c.what;
  }
}

TEST(Envelope, ParseRejectsBadText) {
  const char* bad[] = {
      "",
      "postern-maildrop 2\nuid 1\ntime 1\nsender a\nrcpt b\n",
      "postern-maildrop 1\nuid 1\ntime 1\nsender a\n",                // no recipient
      "postern-maildrop 1\ntime 1\nsender a\nrcpt b\n",               // no uid
      "postern-maildrop 1\nuid x\ntime 1\nsender a\nrcpt b\n",        // bad number
      "postern-maildrop 1\nuid 1\ntime 1\nsender a\nrcpt b\nfoo 1\n", // unknown key
      "postern-maildrop 1\nuid 1\ntime 1\nsender a\nsender c\nrcpt b\n",
      "postern-maildrop 1\nuid 1\ntime 1\nsender a\nrcpt b\nnotify 16\n",
      "postern-maildrop 1\nuid 1\ntime 1\nsender a\nrcpt b\nret 3\n",
  };
  for (const char* t : bad) EXPECT_FALSE(ParseEnvelope(t).ok()) << t;
}

class Dir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = fs::temp_directory_path() / "maildrop_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl + "/maildrop";
    ASSERT_TRUE(EnsureDir(dir_, std::nullopt).ok());
  }
  void TearDown() override { fs::remove_all(fs::path(dir_).parent_path()); }
  std::vector<std::string> Names() {
    std::vector<std::string> n;
    for (const auto& e : fs::directory_iterator(dir_)) n.push_back(e.path().filename());
    return n;
  }
  std::string dir_;
};

TEST_F(Dir, DirectoryIsPrivate) {
  EXPECT_EQ(fs::status(dir_).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_TRUE(EnsureDir(dir_, std::nullopt).ok());  // exists: fine
}

TEST_F(Dir, WrittenFileReadsBackWhole) {
  std::string content = "Subject: x\r\n\r\n";
  while (content.size() < 700 * 1024) content += "a line of the body that goes on for a while\r\n";
  {
    auto w = Writer::Create(dir_, Sample(), std::nullopt);
    ASSERT_TRUE(w.ok()) << w.error();
    // While it is being written only a tmp. file exists.
    ASSERT_EQ(Names().size(), 1u);
    EXPECT_TRUE(Names()[0].starts_with(kTempPrefix));
    for (size_t i = 0; i < content.size(); i += 1000) ASSERT_TRUE(w->Append(std::string_view(content).substr(i, 1000)).ok());
    EXPECT_EQ(w->content_size(), content.size());
    auto path = w->Commit();
    ASSERT_TRUE(path.ok()) << path.error();
  }
  auto names = Names();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_FALSE(names[0].starts_with(kTempPrefix));
  auto r = Reader::Open(dir_ + "/" + names[0]);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(Same(r->envelope(), Sample()));
  std::string got, piece;
  for (;;) {
    auto more = r->Next(&piece);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    got += piece;
  }
  EXPECT_EQ(got, content);
}

TEST_F(Dir, AbandonedWriterLeavesNothing) {
  {
    auto w = Writer::Create(dir_, Sample(), std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->Append("Subject: x\r\n").ok());
  }
  EXPECT_TRUE(Names().empty());
}

TEST_F(Dir, TruncatedFileIsRefused) {
  std::string path = dir_ + "/broken";
  FILE* f = fopen(path.c_str(), "w");
  fputs("postern-maildrop 1\nuid 1\n", f);
  fclose(f);
  EXPECT_FALSE(Reader::Open(path).ok());
}

}  // namespace
}  // namespace postern::maildrop
