// cleanup/checks_test.cc — header/body checks: action parsing, each action's
// effect on content and verdict, folded headers, MIME classes, the body size
// limit, and the same result for any chunking.
#include "postern/cleanup/checks.h"

#include <gtest/gtest.h>

#include "postern/cleanup/content.h"
#include "postern/smtp/filter_test_util.h"
#include "postern/table/test_util.h"

namespace postern::cleanup {
namespace {

using K = Action::Kind;

TEST(Checks, ParseAction) {
  struct {
    std::string value;
    Where where;
    Scope scope;
    K kind;
    std::string text;
    bool warns;
  } cases[] = {
      {"REJECT", Where::kHeader, Scope::kCleanup, K::kReject, "", false},
      {"reject  go away ", Where::kHeader, Scope::kCleanup, K::kReject, "go away", false},
      {"WARN spam?", Where::kBody, Scope::kCleanup, K::kWarn, "spam?", false},
      {"INFO", Where::kHeader, Scope::kCleanup, K::kInfo, "", false},
      {"IGNORE whatever", Where::kHeader, Scope::kCleanup, K::kIgnore, "whatever", false},
      {"HOLD", Where::kHeader, Scope::kCleanup, K::kHold, "", false},
      {"DISCARD bye", Where::kHeader, Scope::kCleanup, K::kDiscard, "bye", false},
      {"PREPEND X-A: 1", Where::kHeader, Scope::kCleanup, K::kPrepend, "X-A: 1", false},
      {"PREPEND not a header", Where::kHeader, Scope::kCleanup, K::kDunno, "", true},
      {"PREPEND any text", Where::kBody, Scope::kCleanup, K::kPrepend, "any text", false},
      {"PREPEND", Where::kBody, Scope::kCleanup, K::kDunno, "", true},
      {"REPLACE X-B: 2", Where::kHeader, Scope::kCleanup, K::kReplace, "X-B: 2", false},
      {"REDIRECT a@b.test", Where::kHeader, Scope::kCleanup, K::kRedirect, "a@b.test", false},
      {"REDIRECT nobody", Where::kHeader, Scope::kCleanup, K::kDunno, "", true},
      {"BCC c@d.test", Where::kBody, Scope::kCleanup, K::kBcc, "c@d.test", false},
      {"FILTER smtp:[127.0.0.1]:10025", Where::kHeader, Scope::kCleanup, K::kFilter, "smtp:[127.0.0.1]:10025", false},
      {"FILTER smtp", Where::kHeader, Scope::kCleanup, K::kDunno, "", true},
      {"DUNNO", Where::kHeader, Scope::kCleanup, K::kDunno, "", false},
      {"OK", Where::kHeader, Scope::kCleanup, K::kDunno, "", false},
      {"FROBNICATE", Where::kHeader, Scope::kCleanup, K::kDunno, "", true},
      {"550 no", Where::kHeader, Scope::kCleanup, K::kDunno, "", true},
      {"REPLACE X-C: 3", Where::kHeader, Scope::kSmtp, K::kReplace, "X-C: 3", false},
      {"HOLD", Where::kHeader, Scope::kSmtp, K::kDunno, "", true},
      {"REJECT", Where::kBody, Scope::kSmtp, K::kDunno, "", true},
  };
  for (const auto& c : cases) {
    std::string warning;
    Action a = ParseAction(c.value, c.where, c.scope, "header_checks", &warning);
    EXPECT_EQ(a.kind, c.kind) << c.value;
    EXPECT_EQ(a.text, c.text) << c.value;
    EXPECT_EQ(!warning.empty(), c.warns) << c.value << ": " << warning;
  }
}

TEST(Checks, HeaderClasses) {
  EXPECT_EQ(ClassOf(mime::Block::kPrimary, "Subject: x"), HeaderClass::kPrimary);
  EXPECT_EQ(ClassOf(mime::Block::kPrimary, "content-type : text/plain"), HeaderClass::kMime);
  EXPECT_EQ(ClassOf(mime::Block::kPrimary, "MIME-Version: 1.0"), HeaderClass::kMime);
  EXPECT_EQ(ClassOf(mime::Block::kPrimary, "Content-Length: 5"), HeaderClass::kPrimary);
  EXPECT_EQ(ClassOf(mime::Block::kPart, "X-Anything: 1"), HeaderClass::kMime);
  EXPECT_EQ(ClassOf(mime::Block::kNested, "Subject: y"), HeaderClass::kNested);
  EXPECT_EQ(ClassOf(mime::Block::kNested, "Content-Type: text/plain"), HeaderClass::kMime);
}

// A cleanup content filter with regexp tables written from the given rules.
class ChecksContent : public ::testing::Test {
 protected:
  std::shared_ptr<CheckTables> Tables(const std::string& header, const std::string& body = "",
                                      const std::string& mime = "", const std::string& nested = "") {
    auto t = std::make_shared<CheckTables>();
    auto open = [&](const std::string& name, const std::string& rules, table::TableList* list, std::string* pname) {
      *pname = name;
      if (rules.empty()) return;
      auto l = table::TableList::Open("regexp:" + dir_.Write(name, rules), table::Options{.fold_case = false});
      ASSERT_TRUE(l.ok()) << l.error();
      *list = std::move(*l);
    };
    open("header_checks", header, &t->header, &t->header_name);
    open("body_checks", body, &t->body, &t->body_name);
    open("mime_header_checks", mime, &t->mime, &t->mime_name);
    open("nested_header_checks", nested, &t->nested, &t->nested_name);
    return t;
  }
  // The content as stored, the same for every chunking; the verdict.
  std::string Run(std::shared_ptr<CheckTables> t, const std::string& in, Verdict* v = nullptr) {
    Options o;
    o.checks = t;
    std::string first;
    for (size_t chunk : {size_t(4096), size_t(1), size_t(7)}) {
      Content c(o);
      std::string out = smtp::testing::Chunked(in, chunk, &c);
      if (chunk == 4096) {
        first = out;
        if (v) *v = c.verdict();
      } else {
        EXPECT_EQ(out, first) << "chunk " << chunk;
      }
    }
    return first;
  }
  table::testing::TempDir dir_;
};

TEST_F(ChecksContent, HeaderActionsRewriteContent) {
  auto t = Tables(
      "/^X-Drop:/ IGNORE\n"
      "/^X-Old: (.*)/ REPLACE X-New: $1\n"
      "/^X-Mark:/ PREPEND X-Marked: yes\n"
      "/^Subject: first.*second/ PREPEND X-Folded: matched\n");
  std::string in =
      "X-Drop: a\r\n\tcontinued\r\nX-Old: keep Case\r\nX-Mark: m\r\nSubject: first\r\n second\r\n"
      "\r\nX-Drop: body lines are not headers\r\n";
  Verdict v;
  EXPECT_EQ(Run(t, in, &v),
            "X-New: keep Case\r\nX-Marked: yes\r\nX-Mark: m\r\nX-Folded: matched\r\nSubject: first\r\n second\r\n"
            "\r\nX-Drop: body lines are not headers\r\n");
  EXPECT_FALSE(v.reject || v.hold || v.discard);
}

TEST_F(ChecksContent, EnvelopeActionsAreCollected) {
  struct {
    std::string rule;
    bool reject, hold, discard;
    int code;
    std::string reason, redirect, filter, bcc;
  } cases[] = {
      {"REJECT", true, false, false, 550, "5.7.1 message content rejected", "", "", ""},
      {"REJECT no spam here", true, false, false, 550, "5.7.1 no spam here", "", "", ""},
      {"REJECT 4.7.0 try later", true, false, false, 451, "4.7.0 try later", "", "", ""},
      {"REJECT 2.0.0 odd", true, false, false, 451, "4.0.0 odd", "", "", ""},
      {"HOLD", false, true, false, 0, "", "", "", ""},
      {"DISCARD", false, false, true, 0, "", "", "", ""},
      {"REDIRECT r@x.test", false, false, false, 0, "", "r@x.test", "", ""},
      {"FILTER relay:[127.0.0.1]:10025", false, false, false, 0, "", "", "relay:[127.0.0.1]:10025", ""},
      {"BCC b@x.test", false, false, false, 0, "", "", "", "b@x.test"},
      {"WARN just looking", false, false, false, 0, "", "", "", ""},
  };
  for (const auto& c : cases) {
    Verdict v;
    std::string in = "Subject: trigger\r\n\r\nbody\r\n";
    EXPECT_EQ(Run(Tables("/^Subject: trigger/ " + c.rule + "\n"), in, &v), in) << c.rule;
    EXPECT_EQ(v.reject, c.reject) << c.rule;
    EXPECT_EQ(v.hold, c.hold) << c.rule;
    EXPECT_EQ(v.discard, c.discard) << c.rule;
    EXPECT_EQ(v.code, c.code) << c.rule;
    EXPECT_EQ(v.reason, c.reason) << c.rule;
    EXPECT_EQ(v.redirect, c.redirect) << c.rule;
    EXPECT_EQ(v.filter, c.filter) << c.rule;
    EXPECT_EQ(v.bcc.empty() ? "" : v.bcc[0], c.bcc) << c.rule;
  }
}

TEST_F(ChecksContent, RejectEndsInspection) {
  Verdict v;
  auto t = Tables("/^Subject:/ REJECT first\n/^X-Later:/ HOLD\n");
  Run(t, "Subject: a\r\nX-Later: b\r\n\r\n", &v);
  EXPECT_TRUE(v.reject);
  EXPECT_EQ(v.reason, "5.7.1 first");
  EXPECT_FALSE(v.hold);
}

// Postfix: only REJECT and DISCARD end inspection; REDIRECT, FILTER and BCC
// let later lines act too, and the last REDIRECT and FILTER win.
TEST_F(ChecksContent, OnlyRejectAndDiscardEndInspection) {
  struct {
    std::string first;
    std::string later;  // what the X-Later: header and the body line then do
    bool reject, hold, discard;
    std::string redirect, filter;
    size_t bccs;
  } cases[] = {
      {"REDIRECT r1@x.test", "HOLD", false, true, false, "r1@x.test", "", 0},
      {"REDIRECT r1@x.test", "REDIRECT r2@x.test", false, false, false, "r2@x.test", "", 0},
      {"REDIRECT r1@x.test", "REJECT", true, false, false, "r1@x.test", "", 0},
      {"FILTER a:one", "FILTER b:two", false, false, false, "", "b:two", 0},
      {"FILTER a:one", "DISCARD", false, false, true, "", "a:one", 0},
      {"BCC b1@x.test", "BCC b2@x.test", false, false, false, "", "", 3},
      {"DISCARD", "HOLD", false, false, true, "", "", 0},
  };
  for (const auto& c : cases) {
    Verdict v;
    auto t = Tables("/^Subject:/ " + c.first + "\n/^X-Later:/ " + c.later + "\n", "/^late body/ " + c.later + "\n");
    Run(t, "Subject: a\r\nX-Later: b\r\n\r\nlate body\r\n", &v);
    std::string what = c.first + " then " + c.later;
    EXPECT_EQ(v.reject, c.reject) << what;
    EXPECT_EQ(v.hold, c.hold) << what;
    EXPECT_EQ(v.discard, c.discard) << what;
    EXPECT_EQ(v.redirect, c.redirect) << what;
    EXPECT_EQ(v.filter, c.filter) << what;
    EXPECT_EQ(v.bcc.size(), c.bccs) << what;
  }
}

TEST_F(ChecksContent, BodyActionsAndSizeLimit) {
  auto t = Tables("", "/^drop me/ IGNORE\n/^old (.*)/ REPLACE new $1\n/^mark/ PREPEND >> marked\n/^stop/ REJECT body\n");
  EXPECT_EQ(Run(t, "S: x\r\n\r\ndrop me\r\nold line\r\nmark\r\nkeep\r\n"), "S: x\r\n\r\nnew line\r\n>> marked\r\nmark\r\nkeep\r\n");
  t->body_limit = 20;
  Verdict v;
  std::string late = "S: x\r\n\r\n" + std::string(30, 'a') + "\r\nstop\r\n";
  Run(t, late, &v);
  EXPECT_FALSE(v.reject);  // "stop" begins past 20 bytes of the body
  Run(t, "S: x\r\n\r\nstop\r\n", &v);
  EXPECT_TRUE(v.reject);
}

const char kMultipart[] =
    "Subject: top\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
    "preamble\r\n--b\r\nContent-Type: text/plain\r\nX-Part: p\r\n\r\nstop\r\n"
    "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nX-Inner: i\r\n\r\ninner body\r\n--b--\r\n";

TEST_F(ChecksContent, MimeAndNestedHeadersUseTheirTables) {
  auto t = Tables("/^(Subject|X-Part|X-Inner|Content-Type):/ PREPEND X-H: $1\n", "",
                  "/^(MIME-Version|Content-Type|X-Part):/ PREPEND X-M: $1\n", "/^(Subject|X-Inner):/ PREPEND X-N: $1\n");
  std::string out = Run(t, kMultipart);
  EXPECT_EQ(out,
            "X-H: Subject\r\nSubject: top\r\nX-M: MIME-Version\r\nMIME-Version: 1.0\r\n"
            "X-M: Content-Type\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            "preamble\r\n--b\r\nX-M: Content-Type\r\nContent-Type: text/plain\r\nX-M: X-Part\r\nX-Part: p\r\n\r\nstop\r\n"
            "--b\r\nX-M: Content-Type\r\nContent-Type: message/rfc822\r\n\r\nX-N: Subject\r\nSubject: inner\r\n"
            "X-N: X-Inner\r\nX-Inner: i\r\n\r\ninner body\r\n--b--\r\n");
}

TEST_F(ChecksContent, BodySizeLimitCountsPerMimeSegment) {
  auto t = Tables("", "/^stop/ REJECT\n");
  t->body_limit = 12;  // "preamble\r\n--b\r\n" is 15 bytes: the first part's body starts anew
  Verdict v;
  Run(t, kMultipart, &v);
  EXPECT_TRUE(v.reject);
}

TEST(FinalRecipients, RedirectAndBcc) {
  std::vector<queue::Recipient> in = {{"a@x", "rfc822;a@x", queue::kNotifyFailure}, {"b@x", "", 0}};
  EXPECT_EQ(FinalRecipients(Verdict{}, in).size(), 2u);
  Verdict v;
  v.redirect = "r@y";
  v.bcc = {"c@z", "r@y"};
  auto out = FinalRecipients(v, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].address, "r@y");
  EXPECT_EQ(out[0].orig_recipient, "rfc822;a@x");
  EXPECT_EQ(out[1].address, "c@z");
  EXPECT_EQ(out[1].notify, queue::kNotifyNever);
}

}  // namespace
}  // namespace postern::cleanup
