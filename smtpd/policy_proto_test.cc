// smtpd/policy_proto_test.cc — check_policy_service arguments, request
// encoding and reply parsing of the policy delegation protocol.
#include "smtpd/policy_proto.h"

#include <gtest/gtest.h>

namespace postern::smtpd::policy {
namespace {

using std::chrono::milliseconds;

TEST(PolicyProto, ParsesEndpointsAndOverrides) {
  ServiceSpec base;
  base.timeout = milliseconds(100000);
  auto s = ParseServiceSpec("inet:127.0.0.1:10023", base, "/var/spool/postern");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->endpoint, "inet:127.0.0.1:10023");
  EXPECT_EQ(s->timeout, milliseconds(100000));
  EXPECT_EQ(ParseServiceSpec("unix:private/policyd-spf", base, "/q")->endpoint, "unix:/q/private/policyd-spf");
  EXPECT_EQ(ParseServiceSpec("unix:/run/p.sock", base, "/q")->endpoint, "unix:/run/p.sock");

  s = ParseServiceSpec("{ inet:localhost:9998, timeout=10s, default_action=DUNNO, max_idle=1m, max_ttl=2m,"
                       " request_limit=5, try_limit=3, retry_delay=2s, policy_context=submission }",
                       base, "/q");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->endpoint, "inet:localhost:9998");
  EXPECT_EQ(s->timeout, milliseconds(10000));
  EXPECT_EQ(s->default_action, "DUNNO");
  EXPECT_EQ(s->max_idle, milliseconds(60000));
  EXPECT_EQ(s->max_ttl, milliseconds(120000));
  EXPECT_EQ(s->request_limit, 5);
  EXPECT_EQ(s->try_limit, 3);
  EXPECT_EQ(s->retry_delay, milliseconds(2000));
  EXPECT_EQ(s->policy_context, "submission");
}

TEST(PolicyProto, RefusesBadArguments) {
  ServiceSpec base;
  for (const char* bad : {"127.0.0.1:10023", "inet:127.0.0.1", "inet::1", "unix:", "{ inet:127.0.0.1:1, timeout=x }",
                          "{ inet:127.0.0.1:1, colour=red }", "{ inet:127.0.0.1:1", "{ }", "{ inet:1.2.3.4:5, try_limit }"})
    EXPECT_FALSE(ParseServiceSpec(bad, base, "/q").ok()) << bad;
}

TEST(PolicyProto, EncodesRequestLinesAndEmptyLine) {
  Attributes a = {{"request", "smtpd_access_policy"}, {"helo_name", "evil\r\nrecipient=x"}, {"queue_id", ""}};
  EXPECT_EQ(EncodeRequest(a), "request=smtpd_access_policy\nhelo_name=evilrecipient=x\nqueue_id=\n\n");
}

TEST(PolicyProto, ParsesReplies) {
  struct Case {
    std::vector<const char*> lines;
    bool done;
    const char* action;
  } cases[] = {
      {{"action=DUNNO", ""}, true, "DUNNO"},
      {{"action=450 4.2.0 Greylisted, see http://x/", ""}, true, "450 4.2.0 Greylisted, see http://x/"},
      {{"action=PREPEND Received-SPF: Pass (a=b)\r", "\r"}, true, "PREPEND Received-SPF: Pass (a=b)"},
      {{"other=1", "action=OK", "action=REJECT", ""}, true, "OK"},  // the first action= counts
      {{"hello world", ""}, true, ""},                              // garbage: no action
      {{"action=OK"}, false, "OK"},                                  // not finished yet
  };
  for (const Case& c : cases) {
    ReplyParser p;
    for (const char* l : c.lines) p.Feed(l);
    EXPECT_EQ(p.done(), c.done) << c.lines[0];
    EXPECT_EQ(p.action(), c.action) << c.lines[0];
  }
}

}  // namespace
}  // namespace postern::smtpd::policy
