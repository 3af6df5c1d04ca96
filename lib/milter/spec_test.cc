// milter/spec_test.cc — smtpd_milters lists with Postfix's per-milter
// "{ name, attr=value }" settings, milter_protocol and milter_default_action.
#include "postern/milter/spec.h"

#include <gtest/gtest.h>

namespace postern::milter {
namespace {

TEST(MilterSpec, ListWithBracedOverrides) {
  Spec d;
  auto l = ParseList(
      "inet:127.0.0.1:8891, { unix:private/rspamd, connect_timeout=5s, default_action=accept, protocol=4 }"
      " {inet:[::1]:11332,command_timeout=1m,content_timeout=10}",
      d, "/var/spool/postern");
  ASSERT_TRUE(l.ok()) << l.error();
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].endpoint, "inet:127.0.0.1:8891");
  EXPECT_EQ((*l)[0].default_action, DefaultAction::kTempfail);
  EXPECT_EQ((*l)[1].name, "unix:private/rspamd");
  EXPECT_EQ((*l)[1].endpoint, "unix:/var/spool/postern/private/rspamd");
  EXPECT_EQ((*l)[1].connect_timeout_ms, 5000u);
  EXPECT_EQ((*l)[1].default_action, DefaultAction::kAccept);
  EXPECT_EQ((*l)[1].version, 4u);
  EXPECT_EQ((*l)[1].events, kV4Events);
  EXPECT_EQ((*l)[2].command_timeout_ms, 60000u);
  EXPECT_EQ((*l)[2].content_timeout_ms, 10000u);
  EXPECT_TRUE(ParseList("", d, "/q")->empty());
}

TEST(MilterSpec, Errors) {
  Spec d;
  EXPECT_FALSE(ParseList("{ inet:a:1, default_action=maybe }", d, "/q").ok());
  EXPECT_FALSE(ParseList("{ inet:a:1", d, "/q").ok());
  EXPECT_FALSE(ParseList("tcp:a:1", d, "/q").ok());
  EXPECT_FALSE(ParseList("{ inet:a:1, colour=red }", d, "/q").ok());
  EXPECT_FALSE(ParseProtocol("5", &d).ok());
  EXPECT_FALSE(ParseProtocol("6 4", &d).ok());
  ASSERT_TRUE(ParseProtocol("2, no_header_reply", &d).ok());
  EXPECT_EQ(d.events, kV2Events | kNrHdr);
  EXPECT_EQ(*ParseDefaultAction("Quarantine"), DefaultAction::kQuarantine);
}

}  // namespace
}  // namespace postern::milter
