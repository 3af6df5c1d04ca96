// bounce/notice_test.cc — who gets which notice (Plan) and what it says
// (Compose): each composed notice is split back into its MIME parts and the
// fields that RFC 3464 readers rely on are checked.
#include "bounce/notice.h"

#include <gtest/gtest.h>

#include <map>

#include "postern/queue/schema.h"
#include "postern/util/strings.h"

namespace postern::bounce {
namespace {

using ipc::BounceRecipient;
using ipc::NoticeKind;

Addresses Addrs(unsigned classes) {
  return {"double-bounce@mx.test", "postmaster@mx.test", "postmaster@mx.test", "delay-pm@mx.test", classes};
}

BounceRecipient Rcpt(std::string addr, uint8_t notify, std::string action = "failed") {
  return {std::move(addr), "", notify, std::move(action), "5.1.1", "host mx[192.0.2.7] said: 550 5.1.1 nope", "mx[192.0.2.7]:25"};
}

TEST(NotifyClasses, ParsesPostfixNames) {
  auto m = ParseNotifyClasses({"bounce", "2BOUNCE", "delay", "resource", "software", "policy", "protocol", "data"});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, 0xffu);
  EXPECT_FALSE(ParseNotifyClasses({"bounce", "nonsense"}));
}

TEST(Plan, TableOfCases) {
  const uint8_t kNone = 0, kNever = queue::kNotifyNever, kSuccess = queue::kNotifySuccess,
                kFailure = queue::kNotifyFailure, kDelay = queue::kNotifyDelay;
  const unsigned kDefault = kClassResource | kClassSoftware;
  struct Case {
    const char* name;
    NoticeKind kind;
    std::string sender;
    std::vector<uint8_t> notify;  // one recipient per entry
    unsigned classes;
    // to:envelope_sender:recipients:headers_only, per notice
    std::vector<std::string> want;
    bool discarded;
  } cases[] = {
      {"failure to sender", NoticeKind::kFailed, "a@x.test", {kNone, kFailure}, kDefault,
       {"a@x.test::2:0"}, false},
      {"NOTIFY=NEVER and SUCCESS-only are left out", NoticeKind::kFailed, "a@x.test", {kNever, kSuccess, kNone},
       kDefault, {"a@x.test::1:0"}, false},
      {"NOTIFY=NEVER only: nothing", NoticeKind::kFailed, "a@x.test", {kNever}, kDefault, {}, true},
      {"bounce class: postmaster copy, headers only, all recipients", NoticeKind::kFailed, "a@x.test",
       {kNever, kNone}, kClassBounce, {"a@x.test::1:0", "postmaster@mx.test:double-bounce@mx.test:2:1"}, false},
      {"null sender: 2bounce to postmaster from double-bounce", NoticeKind::kFailed, "", {kNone}, kClass2Bounce,
       {"postmaster@mx.test:double-bounce@mx.test:1:0"}, false},
      {"null sender without bounce classes: discarded", NoticeKind::kFailed, "", {kNone}, kDefault, {}, true},
      {"double-bounce sender: never a triple bounce", NoticeKind::kFailed, "Double-Bounce@mx.test", {kNone},
       kClass2Bounce | kClassBounce, {}, true},
      {"delay to sender, headers only", NoticeKind::kDelayed, "a@x.test", {kNone, kDelay, kFailure}, kDefault,
       {"a@x.test::2:1"}, false},
      {"delay class copies to delay_notice_recipient", NoticeKind::kDelayed, "a@x.test", {kFailure}, kClassDelay,
       {"delay-pm@mx.test:double-bounce@mx.test:1:1"}, false},
      {"delay of a bounce only with 2bounce", NoticeKind::kDelayed, "", {kNone}, kClassDelay, {}, true},
      {"success only for NOTIFY=SUCCESS", NoticeKind::kSuccess, "a@x.test", {kNone, kSuccess | kFailure}, kDefault,
       {"a@x.test::1:1"}, false},
      {"no success notice without NOTIFY=SUCCESS", NoticeKind::kSuccess, "a@x.test", {kNone}, kClassBounce, {}, true},
      {"no success notice for the null sender", NoticeKind::kSuccess, "", {kSuccess}, kDefault, {}, true},
  };
  for (const Case& c : cases) {
    std::vector<BounceRecipient> rcpts;
    for (size_t i = 0; i < c.notify.size(); ++i) rcpts.push_back(Rcpt("r" + std::to_string(i) + "@y.test", c.notify[i]));
    PlanResult p = Plan(c.kind, c.sender, 0, rcpts, Addrs(c.classes));
    std::vector<std::string> got;
    for (const Notice& n : p.notices)
      got.push_back(n.to + ":" + n.envelope_sender + ":" + std::to_string(n.recipients.size()) + ":" +
                    (n.headers_only ? "1" : "0"));
    EXPECT_EQ(got, c.want) << c.name;
    EXPECT_EQ(!p.discarded.empty(), c.discarded) << c.name << ": " << p.discarded;
  }
}

TEST(Plan, RetHdrsGivesHeadersOnlyToTheSender) {
  PlanResult p = Plan(NoticeKind::kFailed, "a@x.test", uint8_t(queue::DsnRet::kHdrs), {Rcpt("r@y.test", 0)},
                      Addrs(0));
  ASSERT_EQ(p.notices.size(), 1u);
  EXPECT_TRUE(p.notices[0].headers_only);
  p = Plan(NoticeKind::kSuccess, "a@x.test", uint8_t(queue::DsnRet::kFull), {Rcpt("r@y.test", queue::kNotifySuccess)},
           Addrs(0));
  ASSERT_EQ(p.notices.size(), 1u);
  EXPECT_FALSE(p.notices[0].headers_only);
}

// A composed notice split into its top headers and MIME parts.
struct Parsed {
  std::map<std::string, std::string> top;
  std::vector<std::pair<std::map<std::string, std::string>, std::string>> parts;  // headers, body
};

std::map<std::string, std::string> Headers(std::string_view block) {
  std::map<std::string, std::string> h;
  std::string last;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find("\r\n", pos);
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol == std::string_view::npos ? block.size() : eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      h[last] += std::string(line);
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    last = std::string(line.substr(0, colon));
    h[last] = std::string(Trim(line.substr(colon + 1)));
  }
  return h;
}

Parsed Parse(const std::string& msg) {
  Parsed p;
  size_t end = msg.find("\r\n\r\n");
  p.top = Headers(std::string_view(msg).substr(0, end + 2));
  std::string ct = p.top["Content-Type"];
  size_t b = ct.find("boundary=\"");
  std::string boundary = ct.substr(b + 10, ct.find('"', b + 10) - b - 10);
  std::string delim = "\r\n--" + boundary;
  size_t pos = msg.find(delim, end);
  while (pos != std::string::npos) {
    size_t start = pos + delim.size();
    if (msg.compare(start, 2, "--") == 0) break;
    start += 2;
    size_t next = msg.find(delim, start);
    std::string part = msg.substr(start, next - start);
    size_t hend = part.find("\r\n\r\n");
    p.parts.push_back({Headers(std::string_view(part).substr(0, hend + 2)), part.substr(hend + 4)});
    pos = next;
  }
  return p;
}

const std::string kOriginal =
    "Received: from a\r\nSubject: hello\r\nFrom: a@x.test\r\n\r\nbody line 1\r\nbody line 2\r\n";

std::string Make(NoticeKind kind, const Notice& n, std::string_view original, bool truncated = false) {
  ComposeInput in;
  in.kind = kind;
  in.notice = &n;
  in.hostname = "mx.test";
  in.mail_name = "postern";
  in.queue_id = "9f3a01c2";
  in.notice_id = "0badf00d";
  in.sender = "a@x.test";
  in.envid = "ENV-1";
  in.arrival = 1700000000;
  in.now = 1700003600;
  in.delay_warning = 4 * 3600;
  in.lifetime = 5 * 86400;
  in.original = original;
  in.original_truncated = truncated;
  return Compose(in);
}

TEST(Compose, ComposesRfc3464Reports) {
  BounceRecipient failed = Rcpt("r@y.test", 0);
  failed.orig_recipient = "rfc822;alias@y.test";
  BounceRecipient expired{"s@z.test", "", 0, "failed", "4.4.1",
                          "connect to z.test[192.0.2.9]:25: Connection refused", "none"};
  BounceRecipient delayed{"s@z.test", "", 0, "delayed", "4.4.1", "connect to z.test[192.0.2.9]:25: Connection refused",
                          "none"};
  BounceRecipient relayed{"t@w.test", "", queue::kNotifySuccess, "relayed", "2.0.0",
                          "250 2.0.0 Ok: queued as X", "mx.w.test[192.0.2.3]:25"};
  struct Case {
    const char* name;
    NoticeKind kind;
    Notice notice;
    bool truncated;
    std::string subject, action, status, diagnostic, remote_mta, third_type, human_has;
  } cases[] = {
      {"5xx bounce, whole message", NoticeKind::kFailed, {"a@x.test", "", false, false, {failed}, ""}, false,
       "Undelivered Mail Returned to Sender", "failed", "5.1.1", "smtp; 550 5.1.1 nope", "dns; mx",
       "message/rfc822", "<r@y.test> (expanded from <alias@y.test>): host mx[192.0.2.7] said"},
      {"expired, RET=HDRS", NoticeKind::kFailed, {"a@x.test", "", false, true, {expired}, ""}, false,
       "Undelivered Mail Returned to Sender", "failed", "4.4.1",
       "X-Postfix; connect to z.test[192.0.2.9]:25: Connection refused", "", "text/rfc822-headers",
       "I'm sorry to have to inform you"},
      {"too big: headers only", NoticeKind::kFailed, {"a@x.test", "", false, false, {failed}, ""}, true,
       "Undelivered Mail Returned to Sender", "failed", "5.1.1", "smtp; 550 5.1.1 nope", "dns; mx",
       "text/rfc822-headers", "larger than bounce_size_limit"},
      {"postmaster copy", NoticeKind::kFailed, {"postmaster@mx.test", "double-bounce@mx.test", true, true, {failed}, ""},
       false, "Postmaster Copy: Undelivered Mail", "failed", "5.1.1", "smtp; 550 5.1.1 nope", "dns; mx",
       "text/rfc822-headers", "Postmaster copy of a notice about message 9f3a01c2"},
      {"delay warning", NoticeKind::kDelayed, {"a@x.test", "", false, true, {delayed}, ""}, false,
       "Delayed Mail (still being retried)", "delayed", "4.4.1",
       "X-Postfix; connect to z.test[192.0.2.9]:25: Connection refused", "", "text/rfc822-headers",
       "for more than 4 hour(s)"},
      {"relayed success", NoticeKind::kSuccess, {"a@x.test", "", false, true, {relayed}, ""}, false,
       "Successful Mail Delivery Report", "relayed", "2.0.0", "X-Postfix; 250 2.0.0 Ok: queued as X", "dns; mx.w.test",
       "text/rfc822-headers", "successfully delivered"},
  };
  for (const Case& c : cases) {
    bool hdrs = c.notice.headers_only || c.truncated;
    std::string original = hdrs ? std::string(HeaderBlock(kOriginal)) : kOriginal;
    Parsed p = Parse(Make(c.kind, c.notice, original, c.truncated));
    EXPECT_EQ(p.top["Subject"], c.subject) << c.name;
    EXPECT_EQ(p.top["To"], c.notice.to) << c.name;
    EXPECT_EQ(p.top["From"], "MAILER-DAEMON@mx.test (Mail Delivery System)") << c.name;
    EXPECT_EQ(p.top["Message-Id"], "<20231114231320.0badf00d@mx.test>") << c.name;
    EXPECT_NE(p.top["Content-Type"].find("multipart/report; report-type=delivery-status;"), std::string::npos);
    ASSERT_EQ(p.parts.size(), 3u) << c.name;
    EXPECT_EQ(p.parts[0].first["Content-Type"], "text/plain; charset=us-ascii") << c.name;
    EXPECT_NE(p.parts[0].second.find(c.human_has), std::string::npos) << c.name << "\n" << p.parts[0].second;
    EXPECT_EQ(p.parts[1].first["Content-Type"], "message/delivery-status") << c.name;
    // The delivery-status body: per-message fields, then one block per recipient.
    const std::string& ds = p.parts[1].second;
    size_t split = ds.find("\r\n\r\n");
    auto msg_fields = Headers(std::string_view(ds).substr(0, split + 2));
    auto rcpt_fields = Headers(std::string_view(ds).substr(split + 4));
    EXPECT_EQ(msg_fields["Reporting-MTA"], "dns; mx.test") << c.name;
    EXPECT_EQ(msg_fields["Original-Envelope-Id"], "ENV-1") << c.name;
    EXPECT_EQ(msg_fields["X-Postern-Queue-ID"], "9f3a01c2") << c.name;
    EXPECT_FALSE(msg_fields["Arrival-Date"].empty()) << c.name;
    const BounceRecipient& r = c.notice.recipients[0];
    EXPECT_EQ(rcpt_fields["Final-Recipient"], "rfc822; " + r.address) << c.name;
    EXPECT_EQ(rcpt_fields["Action"], c.action) << c.name;
    EXPECT_EQ(rcpt_fields["Status"], c.status) << c.name;
    EXPECT_EQ(rcpt_fields["Diagnostic-Code"], c.diagnostic) << c.name;
    EXPECT_EQ(rcpt_fields.count("Remote-MTA") ? rcpt_fields["Remote-MTA"] : "", c.remote_mta) << c.name;
    if (!r.orig_recipient.empty()) {
      EXPECT_EQ(rcpt_fields["Original-Recipient"], r.orig_recipient) << c.name;
    }
    EXPECT_EQ(rcpt_fields.count("Will-Retry-Until") == 1, c.kind == NoticeKind::kDelayed) << c.name;
    EXPECT_EQ(p.parts[2].first["Content-Type"], c.third_type) << c.name;
    // The original comes back byte for byte (its header block when headers only).
    EXPECT_EQ(p.parts[2].second, hdrs ? "Received: from a\r\nSubject: hello\r\nFrom: a@x.test\r\n" : kOriginal)
        << c.name;
  }
}

TEST(Compose, LongReasonsAreFoldedAndCannotInjectFields) {
  BounceRecipient r{"r@y.test", "", 0, "failed", "5.0.0", std::string(300, 'x') + "\r\nX-Evil: 1 " +
                    std::string(100, 'y'), "none"};
  Notice n{"a@x.test", "", false, false, {r}, ""};
  std::string msg = Make(NoticeKind::kFailed, n, kOriginal);
  EXPECT_EQ(msg.find("\r\nX-Evil:"), std::string::npos);
  size_t pos = 0, longest = 0;
  std::string_view body(msg);
  body = body.substr(0, body.find("Content-Description: Delivery report"));
  while (pos < body.size()) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    longest = std::max(longest, eol - pos);
    pos = eol + 2;
  }
  EXPECT_LE(longest, 80u);
}

TEST(Helpers, HeaderBlockRemoteMtaDiagnostic) {
  EXPECT_EQ(HeaderBlock("A: 1\r\nB: 2\r\n\r\nbody\r\n"), "A: 1\r\nB: 2\r\n");
  EXPECT_EQ(HeaderBlock("A: 1\nB: 2\n\nbody\n"), "A: 1\nB: 2\n");
  EXPECT_EQ(HeaderBlock("\r\nbody"), "");
  EXPECT_EQ(HeaderBlock("A: 1\r\nB: 2\r\n"), "A: 1\r\nB: 2\r\n");
  EXPECT_EQ(RemoteMta("mx.example[192.0.2.7]:25"), "dns; mx.example");
  EXPECT_EQ(RemoteMta("none"), "");
  EXPECT_EQ(RemoteMta("local"), "");
  EXPECT_EQ(RemoteMta("[192.0.2.1]"), "");
  EXPECT_EQ(DiagnosticCode("host h[1.2.3.4] said: 550 5.1.1 <u@h>: unknown (in reply to RCPT TO command)"),
            "smtp; 550 5.1.1 <u@h>: unknown");
  EXPECT_EQ(DiagnosticCode("mail for x loops back to myself"), "X-Postfix; mail for x loops back to myself");
  EXPECT_EQ(DiagnosticCode("host h said: nonsense"), "X-Postfix; host h said: nonsense");
}

}  // namespace
}  // namespace postern::bounce
