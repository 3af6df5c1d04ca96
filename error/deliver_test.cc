// error/deliver_test.cc — error(8)'s reasons: the next hop's status and text.
#include "error/deliver.h"

#include <gtest/gtest.h>

namespace postern::error_agent {
namespace {

using mda::Verdict;

TEST(ErrorAgent, ProgramAndServiceNameDecide) {
  EXPECT_EQ(ServiceDefault("error", "error")->kind, Verdict::Kind::kBounce);
  EXPECT_EQ(ServiceDefault("error", "retry")->kind, Verdict::Kind::kDefer);
  EXPECT_FALSE(ServiceDefault("error", "discard"));
  EXPECT_EQ(ServiceDefault("discard", "discard")->kind, Verdict::Kind::kSent);
  EXPECT_EQ(ServiceDefault("discard", "devnull")->dsn, "2.0.0");  // any service name
}

TEST(ErrorAgent, NexthopIsTheReason) {
  struct Case {
    const char* program;
    const char* service;
    const char* nexthop;
    Verdict::Kind kind;
    const char* dsn;
    const char* text;
  } cases[] = {
      {"error", "error", "5.7.1 go away", Verdict::Kind::kBounce, "5.7.1", "go away"},
      {"error", "error", "mailbox closed", Verdict::Kind::kBounce, "5.0.0", "mailbox closed"},
      {"error", "error", "4.2.1 busy", Verdict::Kind::kBounce, "5.0.0", "busy"},  // bounce_append ignores a 4.x.x
      {"error", "retry", "4.3.2 maintenance until 18:00", Verdict::Kind::kDefer, "4.3.2", "maintenance until 18:00"},
      {"error", "retry", "back soon", Verdict::Kind::kDefer, "4.0.0", "back soon"},
      {"error", "error", "5.1.1 User unknown in virtual alias table", Verdict::Kind::kBounce, "5.1.1",
       "User unknown in virtual alias table"},
      {"error", "error", "5.7 not a status", Verdict::Kind::kBounce, "5.0.0", "5.7 not a status"},
      {"discard", "discard", "dropped by policy", Verdict::Kind::kSent, "2.0.0", "dropped by policy"},
      {"discard", "discard", "2.6.0 filtered", Verdict::Kind::kSent, "2.6.0", "filtered"},
      {"discard", "discard", "5.7.1 not a success", Verdict::Kind::kSent, "2.0.0", "not a success"},
  };
  for (const Case& c : cases) {
    Verdict v = VerdictFor(*ServiceDefault(c.program, c.service), c.nexthop);
    EXPECT_EQ(v.kind, c.kind) << c.nexthop;
    EXPECT_EQ(v.dsn, c.dsn) << c.nexthop;
    EXPECT_EQ(v.text, c.text) << c.nexthop;
  }
}

TEST(ErrorAgent, EveryRecipientGetsTheVerdict) {
  ipc::DeliveryRequest req;
  req.nexthop = "5.7.1 go away";
  req.recipients = {{1, "a@x.test", "", 0}, {2, "b@x.test", "", 0}};
  auto out = Deliver(*ServiceDefault("error", "error"), req);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& r : out) {
    EXPECT_EQ(r.status, ipc::DeliveryStatus::kBounced);
    EXPECT_EQ(r.dsn, "5.7.1");
    EXPECT_EQ(r.reason, "go away");
  }
  EXPECT_EQ(out[1].envelope_id, 2u);
}

}  // namespace
}  // namespace postern::error_agent
