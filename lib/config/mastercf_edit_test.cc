// config/mastercf_edit_test.cc — postconf -M/-F/-P requests and master.cf
// edits, table-driven: what each edit changes and that nothing else moves.
#include "postern/config/mastercf_edit.h"

#include <gtest/gtest.h>

namespace postern::config {
namespace {

constexpr const char* kFile =
    "# master.cf of a test\n"
    "smtp      inet  n       -       n       -       -       smtpd\n"
    "submission inet n       -       n       -       -       smtpd\n"
    "  -o syslog_name=postern/submission\n"
    "  -o smtpd_tls_security_level=encrypt\n"
    "# qmgr wakes up every 300s\n"
    "qmgr      unix  n       -       n       300?    1       qmgr\n";

struct Case {
  const char* what;
  std::vector<std::pair<MasterEditOp, const char*>> edits;
  const char* want;
};

std::string Apply(const Case& c, std::vector<std::string>* warnings = nullptr) {
  std::vector<MasterEdit> edits;
  for (auto& [op, arg] : c.edits) {
    auto e = ParseMasterEdit(arg, op);
    EXPECT_TRUE(e.ok()) << c.what << ": " << e.error();
    if (e) edits.push_back(*e);
  }
  auto r = EditMasterCf(kFile, edits);
  EXPECT_TRUE(r.ok()) << c.what << ": " << r.error();
  if (!r) return {};
  if (warnings) *warnings = r->warnings;
  return r->text;
}

TEST(MasterCfEdit, Cases) {
  using O = MasterEditOp;
  Case cases[] = {
      {"-MX deletes the entry with its continuation lines",
       {{O::kDeleteEntry, "submission/inet"}},
       "# master.cf of a test\n"
       "smtp      inet  n       -       n       -       -       smtpd\n"
       "# qmgr wakes up every 300s\n"
       "qmgr      unix  n       -       n       300?    1       qmgr\n"},
      {"-M# comments out every line of the entry",
       {{O::kCommentEntry, "submission/inet"}},
       "# master.cf of a test\n"
       "smtp      inet  n       -       n       -       -       smtpd\n"
       "#submission inet n       -       n       -       -       smtpd\n"
       "#  -o syslog_name=postern/submission\n"
       "#  -o smtpd_tls_security_level=encrypt\n"
       "# qmgr wakes up every 300s\n"
       "qmgr      unix  n       -       n       300?    1       qmgr\n"},
      {"-M replaces an entry in place, aligned",
       {{O::kSetEntry, "smtp/inet=smtp inet n - y - 10 smtpd -v"}},
       "# master.cf of a test\n"
       "smtp       inet  n       -       y       -       10      smtpd\n  -v\n"
       "submission inet n       -       n       -       -       smtpd\n"
       "  -o syslog_name=postern/submission\n"
       "  -o smtpd_tls_security_level=encrypt\n"
       "# qmgr wakes up every 300s\n"
       "qmgr      unix  n       -       n       300?    1       qmgr\n"},
      {"-M appends a new entry",
       {{O::kSetEntry, "127.0.0.1:2525/inet=127.0.0.1:2525 inet n - n - - smtpd"}},
       "# master.cf of a test\n"
       "smtp      inet  n       -       n       -       -       smtpd\n"
       "submission inet n       -       n       -       -       smtpd\n"
       "  -o syslog_name=postern/submission\n"
       "  -o smtpd_tls_security_level=encrypt\n"
       "# qmgr wakes up every 300s\n"
       "qmgr      unix  n       -       n       300?    1       qmgr\n"
       "127.0.0.1:2525 inet  n       -       n       -       -       smtpd\n"},
      {"-F sets one column",
       {{O::kSetField, "qmgr/unix/process_limit=2"}, {O::kSetField, "qmgr/unix/wakeup=60"}},
       "# master.cf of a test\n"
       "smtp      inet  n       -       n       -       -       smtpd\n"
       "submission inet n       -       n       -       -       smtpd\n"
       "  -o syslog_name=postern/submission\n"
       "  -o smtpd_tls_security_level=encrypt\n"
       "# qmgr wakes up every 300s\n"
       "qmgr       unix  n       -       n       60      2       qmgr\n"},
      {"-F command replaces the command and its arguments",
       {{O::kSetField, "smtp/inet/command=smtpd -o smtpd_banner=hi"}},
       "# master.cf of a test\n"
       "smtp       inet  n       -       n       -       -       smtpd\n  -o smtpd_banner=hi\n"
       "submission inet n       -       n       -       -       smtpd\n"
       "  -o syslog_name=postern/submission\n"
       "  -o smtpd_tls_security_level=encrypt\n"
       "# qmgr wakes up every 300s\n"
       "qmgr      unix  n       -       n       300?    1       qmgr\n"},
      {"-P replaces an -o value where it stands and adds new ones at the end",
       {{O::kSetParam, "submission/inet/syslog_name=sub"},
        {O::kSetParam, "submission/inet/smtpd_banner=hello world"}},
       "# master.cf of a test\n"
       "smtp      inet  n       -       n       -       -       smtpd\n"
       "submission inet  n       -       n       -       -       smtpd\n"
       "  -o syslog_name=sub\n"
       "  -o smtpd_tls_security_level=encrypt\n"
       "  -o { smtpd_banner=hello world }\n"
       "# qmgr wakes up every 300s\n"
       "qmgr      unix  n       -       n       300?    1       qmgr\n"},
      {"-PX removes one -o",
       {{O::kDeleteParam, "submission/inet/syslog_name"}},
       "# master.cf of a test\n"
       "smtp      inet  n       -       n       -       -       smtpd\n"
       "submission inet  n       -       n       -       -       smtpd\n"
       "  -o smtpd_tls_security_level=encrypt\n"
       "# qmgr wakes up every 300s\n"
       "qmgr      unix  n       -       n       300?    1       qmgr\n"},
  };
  for (const Case& c : cases) EXPECT_EQ(Apply(c), c.want) << c.what;
}

TEST(MasterCfEdit, UnmatchedRequestsWarnAndChangeNothing) {
  using O = MasterEditOp;
  Case cases[] = {
      {"-MX of an absent service", {{O::kDeleteEntry, "nope/unix"}}, kFile},
      {"-M# of an absent service", {{O::kCommentEntry, "smtp/unix"}}, kFile},
      {"-F of an absent service", {{O::kSetField, "nope/unix/chroot=y"}}, kFile},
      {"-PX of an absent parameter", {{O::kDeleteParam, "smtp/inet/smtpd_banner"}}, kFile},
  };
  for (const Case& c : cases) {
    std::vector<std::string> warnings;
    EXPECT_EQ(Apply(c, &warnings), c.want) << c.what;
    ASSERT_EQ(warnings.size(), 1u) << c.what;
    EXPECT_EQ(warnings[0], std::string("unmatched request: \"") + c.edits[0].second + "\"");
  }
}

TEST(MasterCfEdit, BadRequests) {
  using O = MasterEditOp;
  struct Bad {
    O op;
    const char* arg;
    const char* error;  // a part of the message
  } cases[] = {
      {O::kSetEntry, "smtp/inet", "expected service/type=value"},
      {O::kSetEntry, "smtp=smtp inet n - n - - smtpd", "expected service/type=value"},
      {O::kDeleteEntry, "smtp/inet=x", "without a value"},
      {O::kSetField, "smtp/inet/color=red", "unknown field \"color\""},
      {O::kSetField, "smtp/inet=red", "expected service/type/name=value"},
      {O::kSetParam, "smtp/inet/bad-name=1", "bad parameter name"},
      {O::kDeleteParam, "*/inet/x", "expected service/type/name"},
  };
  for (const Bad& b : cases) {
    auto e = ParseMasterEdit(b.arg, b.op);
    ASSERT_FALSE(e.ok()) << b.arg;
    EXPECT_NE(e.error().find(b.error), std::string::npos) << e.error();
  }
}

TEST(MasterCfEdit, EditsThatWouldBreakTheFileAreRefused) {
  using O = MasterEditOp;
  struct Bad {
    O op;
    const char* arg;
    const char* error;
  } cases[] = {
      {O::kSetField, "smtp/inet/chroot=maybe", "bad chroot field"},
      {O::kSetField, "smtp/inet/wakeup=a b", "one word"},
      {O::kSetField, "smtp/inet/service=submission", "duplicate service: submission/inet"},
      {O::kSetField, "smtp/inet/type=bogus", "bad transport type"},
      {O::kSetEntry, "smtp/inet=smtp unix n - n - - smtpd", "the entry is for smtp/unix"},
      {O::kSetEntry, "smtp/inet=smtp inet n - n", "expected 8 fields"},
  };
  for (const Bad& b : cases) {
    auto e = ParseMasterEdit(b.arg, b.op);
    ASSERT_TRUE(e.ok()) << e.error();
    auto r = EditMasterCf(kFile, {*e});
    ASSERT_FALSE(r.ok()) << b.arg;
    EXPECT_NE(r.error().find(b.error), std::string::npos) << r.error();
  }
}

TEST(MasterCfEdit, PatternsAndFieldValues) {
  auto services = ParseMasterCf(kFile);
  ASSERT_TRUE(services.ok()) << services.error();
  const MasterService& sub = (*services)[1];
  struct Case {
    const char* pattern;
    int parts;
    bool matches_submission;
  } cases[] = {
      {"submission", 2, true}, {"submission/inet", 2, true}, {"*/inet", 2, true},
      {"smtp", 2, false},      {"*/unix", 2, false},         {"submission/inet/chroot", 3, true},
  };
  for (const Case& c : cases) {
    auto p = ParseMasterPattern(c.pattern, c.parts);
    ASSERT_TRUE(p.ok()) << p.error();
    EXPECT_EQ(p->Matches(sub), c.matches_submission) << c.pattern;
  }
  EXPECT_FALSE(ParseMasterPattern("a/b/c", 2).ok());
  EXPECT_FALSE(ParseMasterPattern("a//c", 3).ok());
  EXPECT_EQ(MasterFieldValue(sub, 0), "submission");
  EXPECT_EQ(MasterFieldValue(sub, 6), "-");
  EXPECT_EQ(MasterFieldValue(sub, 7),
            "smtpd -o syslog_name=postern/submission -o smtpd_tls_security_level=encrypt");
  EXPECT_EQ(MasterFieldValue((*services)[2], 5), "300?");
}

}  // namespace
}  // namespace postern::config
