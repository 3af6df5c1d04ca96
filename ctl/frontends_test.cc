// ctl/frontends_test.cc — the Postfix front ends' pure parts, table-driven:
// option parsing, postsuper's arguments and report, postqueue -s's
// destination matching, postcat's records and content split, qshape's table.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "ctl/frontends.h"
#include "ctl/postcat.h"
#include "ctl/postsuper.h"
#include "ctl/qshape.h"

namespace postern::ctl {
namespace {

using showq::QueueName;

TEST(ShortOptions, GroupedValuesAndOperands) {
  struct Case {
    std::vector<std::string> args;
    std::string want;  // letters with values, then "|" operands; or "error"
  } cases[] = {
      {{"-bh", "0a1b2c3d"}, "b h |0a1b2c3d"},
      {{"-c", "/etc/x", "-d", "ALL", "deferred"}, "c=/etc/x d=ALL |deferred"},
      {{"-dALL", "-"}, "d=ALL |-"},
      {{"-d", "-", "hold"}, "d=- |hold"},
      {{"--", "-b"}, "|-b"},
      {{"-x"}, "error"},
      {{"-d"}, "error"},
  };
  for (const auto& c : cases) {
    auto r = ParseShortOptions(c.args, "cd", "bh");
    std::string got;
    if (!r) {
      got = "error";
    } else {
      for (const auto& o : r->opts) got += std::string(1, o.letter) + (o.value.empty() ? "" : "=" + o.value) + " ";
      got += "|";
      for (const auto& s : r->operands) got += s;
    }
    EXPECT_EQ(got, c.want) << c.args[0];
  }
}

TEST(Postsuper, ArgumentsQueuesAndDefaults) {
  auto a = ParseSuperArgs({"-d", "ALL", "deferred"});
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->All(SuperAction::kDelete));
  EXPECT_EQ(SuperQueues(*a, SuperAction::kDelete), std::vector<QueueName>{QueueName::kDeferred});
  EXPECT_FALSE(a->structure);

  auto none = ParseSuperArgs({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->structure && none->purge);  // Postfix's default action

  auto d = ParseSuperArgs({"-h", "0a1b2c3d", "-H", "ALL"});
  ASSERT_TRUE(d);
  EXPECT_EQ(SuperQueues(*d, SuperAction::kHold),
            (std::vector<QueueName>{QueueName::kIncoming, QueueName::kActive, QueueName::kDeferred}));
  EXPECT_EQ(SuperQueues(*d, SuperAction::kRelease), std::vector<QueueName>{QueueName::kHold});
  EXPECT_EQ(SuperQueues(*d, SuperAction::kRequeue),
            (std::vector<QueueName>{QueueName::kIncoming, QueueName::kActive, QueueName::kDeferred, QueueName::kHold}));
  EXPECT_EQ(SuperQueues(*d, SuperAction::kDelete).size(), 5u);  // maildrop too

  auto w = ParseSuperArgs({"-d", "ALL", "-d", "0a1b2c3d"});
  ASSERT_TRUE(w);
  ASSERT_EQ(w->warnings.size(), 1u);
  EXPECT_EQ(w->warnings[0], "option \"-d ALL\" will ignore other command line queue IDs");

  auto bad = ParseSuperArgs({"-d", "ALL", "bounce"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "invalid directory name: bounce");
  EXPECT_FALSE(ParseSuperArgs({"-c", "relative/dir"}));
  EXPECT_FALSE(ParseSuperArgs({"-x"}));
}

TEST(Postsuper, ReportWords) {
  EXPECT_EQ(SuperReport(SuperAction::kDelete, 1), "Deleted: 1 message");
  EXPECT_EQ(SuperReport(SuperAction::kDelete, 3), "Deleted: 3 messages");
  EXPECT_EQ(SuperReport(SuperAction::kHold, 2), "Placed on hold: 2 messages");
  EXPECT_EQ(SuperReport(SuperAction::kRelease, 1), "Released from hold: 1 message");
  EXPECT_EQ(SuperReport(SuperAction::kRequeue, 5), "Requeued: 5 messages");
  EXPECT_EQ(SuperDone(SuperAction::kDelete), "removed");
}

TEST(Postqueue, SitesAndMatching) {
  for (auto s : {"example.com", "[127.0.0.1]", "mx-1.example.com"}) EXPECT_TRUE(ValidSite(s)) << s;
  for (auto s : {"", "a b", ".example", "[", "exa;mple"}) EXPECT_FALSE(ValidSite(s)) << s;
  queue::Envelope e;
  e.recipient = "u@Example.COM";
  EXPECT_TRUE(SiteMatches(e, "example.com"));
  EXPECT_FALSE(SiteMatches(e, "other.com"));
  e.nexthop = "[127.0.0.3]:2525";
  EXPECT_TRUE(SiteMatches(e, "[127.0.0.3]"));
  e.nexthop = "relay.example.net";
  EXPECT_TRUE(SiteMatches(e, "relay.example.net"));
}

class Postcat : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_F(Postcat, EnvelopeRecordsInPostfixNames) {
  queue::MessageRecord m;
  m.sender = "alice@example.org";
  m.arrival = 1795425121;  // Mon Nov 23 09:12:01 2026 UTC
  m.size = 42;
  m.nrcpt = 1;
  m.client_addr = "127.0.0.1";
  m.protocol = "ESMTP";
  queue::Envelope e;
  e.recipient = "bob@example.net";
  e.orig_recipient = "rfc822;Bob@example.net";
  EXPECT_EQ(CatEnvelope(m, {e}),
            "message_size:              42               0               1               0              42               0\n"
            "message_arrival_time: Mon Nov 23 09:12:01 2026\n"
            "create_time: Mon Nov 23 09:12:01 2026\n"
            "sender: alice@example.org\n"
            "named_attribute: log_client_address=127.0.0.1\n"
            "named_attribute: log_protocol_name=ESMTP\n"
            "original_recipient: rfc822;Bob@example.net\n"
            "recipient: bob@example.net\n");
  EXPECT_EQ(CatMarker("MESSAGE FILE END", "deferred/0a1b2c3d"), "*** MESSAGE FILE END deferred/0a1b2c3d ***\n");
}

TEST_F(Postcat, HeaderAndBodySplitAcrossPieces) {
  const std::string msg = "Subject: hi\r\nX-Long: a\r\n\tcontinued\r\n\r\nbody: not a header\r\nlast";
  struct Case {
    CatFlags f;
    std::string want;
  } cases[] = {
      {{false, true, false, false}, "Subject: hi\nX-Long: a\n\tcontinued\n"},
      {{false, false, true, false}, "\nbody: not a header\nlast\n"},
      {{false, true, true, false}, "Subject: hi\nX-Long: a\n\tcontinued\n\nbody: not a header\nlast\n"},
      {{false, false, true, true}, "regular_text: \nregular_text: body: not a header\nregular_text: last\n"},
  };
  for (const auto& c : cases) {
    for (size_t cut : {size_t(1), size_t(7), msg.size()}) {
      CatContent content(c.f);
      std::string out;
      for (size_t i = 0; i < msg.size(); i += cut) content.Feed(std::string_view(msg).substr(i, cut), &out);
      content.Finish(&out);
      EXPECT_EQ(out, c.want) << "pieces of " << cut;
    }
  }
}

TEST(Qshape, BucketsDoubleFromTheFirstLimit) {
  ShapeTable t({});
  const int64_t now = 1'000'000;
  struct Case {
    int64_t age_minutes;
    int bucket;
  } cases[] = {{0, 1}, {4, 1}, {5, 2}, {9, 2}, {10, 3}, {19, 3}, {20, 4}, {1279, 9}, {1280, 10}, {100000, 10}};
  for (const auto& c : cases) EXPECT_EQ(t.Bucket(now - c.age_minutes * 60, now), c.bucket) << c.age_minutes;
  ShapeTable lin({.buckets = 4, .minutes = 10, .linear = true});
  EXPECT_EQ(lin.Bucket(now - 25 * 60, now), 3);
  EXPECT_EQ(lin.Bucket(now - 99 * 60, now), 4);
}

TEST(Qshape, TableOfDomainsAndAges) {
  const int64_t now = 1'000'000;
  ShapeTable t({});
  t.Add("a@Example.COM", now - 60, now);        // 1 minute: bucket 5
  t.Add("b@example.com", now - 7 * 60, now);    // 7 minutes: bucket 10
  t.Add("c@other.test", now - 300 * 60, now);   // 5 hours: bucket 320
  t.Add("", now, now);                          // the null sender
  // The counts end in column 80; the domain column is what they leave (39).
  auto row = [](std::string d, std::string cells) { return std::string(39 - d.size(), ' ') + d + cells + "\n"; };
  std::string want = row("", "  T  5 10 20 40 80 160 320 640 1280 1280+") +
                     row("TOTAL", "  4  2  1  0  0  0   0   1   0    0     0") +
                     row("example.com", "  2  1  1  0  0  0   0   0   0    0     0") +
                     row("other.test", "  1  0  0  0  0  0   0   1   0    0     0") +
                     row("MAILER-DAEMON", "  1  1  0  0  0  0   0   0   0    0     0");
  EXPECT_EQ(want.find('\n'), 80u);
  EXPECT_EQ(t.Render(), want);
}

TEST(Qshape, ParentDomainsNeedEnoughSubdomains) {
  const int64_t now = 1'000'000;
  ShapeTable t({.buckets = 2, .parents = true, .min_subdomains = 2});
  t.Add("u@a.example.com", now, now);
  t.Add("u@b.example.com", now, now);
  t.Add("u@c.lonely.org", now, now);
  std::string out = t.Render();
  EXPECT_NE(out.find(" .example.com  2"), std::string::npos) << out;
  EXPECT_EQ(out.find(" .lonely.org"), std::string::npos) << out;
  EXPECT_NE(out.find(" c.lonely.org  1"), std::string::npos) << out;
  EXPECT_EQ(out.find(" .com "), std::string::npos) << out;  // no top-level domains
}

TEST(Qshape, EmptyQueueShowsTheTotalRow) {
  ShapeTable t({.buckets = 3});
  // Columns of 3, 3, 3 and 4: the domain column is 80 - 13 wide.
  EXPECT_EQ(t.Render(), std::string(67 + 2, ' ') + "T  5 10 10+\n" + std::string(67 - 5, ' ') + "TOTAL  0  0  0   0\n");
}

}  // namespace
}  // namespace postern::ctl
