// smtpd/policy_test.cc — relay control, network lists and restriction lists,
// table-driven against Postfix's replies.
#include "smtpd/policy.h"

#include <gtest/gtest.h>

#include <map>

namespace postern::smtpd {
namespace {

std::unique_ptr<Policy> Make(const std::string& maincf) {
  auto cfg = config::Config::Parse("myhostname = mx.example.test\nmydomain = example.test\n"
                                   "mynetworks = 127.0.0.0/8 [::1]/128 10.1.0.0/16\n"
                                   "inet_interfaces = 127.0.0.1\nlocal_recipient_maps =\n" + maincf);
  EXPECT_TRUE(cfg.ok()) << cfg.error();
  auto p = Policy::Load(*cfg);
  EXPECT_TRUE(p.ok()) << p.error();
  return p.ok() ? std::move(*p) : nullptr;
}

smtp::Address Addr(std::string_view path) {
  smtp::PathOptions o;
  o.allow_bare_local = true;
  auto a = smtp::ParsePath(path, o);
  EXPECT_TRUE(a.ok()) << path;
  return a.ok() ? *a : smtp::Address{};
}

// The restrictions' verdict on one RCPT of client (no name) after HELO helo;
// policy services answer with `actions` in turn ("<none>" when they run out).
Facts FactsOf(std::string_view client, std::string_view helo, const smtp::Address& s, const smtp::Address& r) {
  Facts f;
  f.client_name = "unknown";
  f.client_addr = client;
  f.helo = helo;
  f.sender = &s;
  f.recipient = &r;
  return f;
}

Verdict CheckRcpt(Policy& p, std::string_view client, std::string_view helo, std::string_view sender,
                  std::string_view rcpt, std::vector<std::string> actions = {}, Effects* effects = nullptr,
                  std::vector<std::string>* asked = nullptr) {
  smtp::Address s = Addr(sender), r = Addr(rcpt);
  Facts f = FactsOf(client, helo, s, r);
  Policy::Check c;
  Verdict v = p.CheckRecipient(c, f);
  size_t next = 0;
  while (c.pending) {
    if (asked) asked->push_back(c.pending->service->endpoint);
    v = p.Resume(c, next < actions.size() ? actions[next++] : "<none>", f);
  }
  if (effects) *effects = c.effects;
  return v;
}

TEST(NetworkList, MatchesCidrEntries) {
  auto l = NetworkList::Parse({"127.0.0.0/8", "[::1]/128", "192.0.2.0/24", "[2001:db8::]/32"});
  ASSERT_TRUE(l.ok()) << l.error();
  struct { const char* addr; bool in; } cases[] = {
      {"127.0.0.1", true}, {"127.255.0.9", true}, {"192.0.2.200", true}, {"192.0.3.1", false},
      {"::1", true}, {"2001:db8:1::5", true}, {"2001:db9::1", false}, {"10.0.0.1", false},
      {"not-an-address", false},
  };
  for (auto& c : cases) EXPECT_EQ(l->Contains(c.addr), std::optional<bool>(c.in)) << c.addr;
}

TEST(NetworkList, HostNamesAreUndecidedUntilResolved) {
  EXPECT_FALSE(NetworkList::Parse({"not a host!"}).ok());
  auto h = NetworkList::Parse({"192.0.2.0/24", "Mail.Example.com"});
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_TRUE(h->has_hosts());
  EXPECT_TRUE(h->undecided());
  // Another entry still says yes; "no" needs the name's addresses.
  EXPECT_EQ(h->Contains("192.0.2.7"), std::optional<bool>(true));
  EXPECT_EQ(h->Contains("198.51.100.1"), std::nullopt);
}

TEST(NetworkList, AcceptsTables) {
  auto l = NetworkList::Parse({"inline:{ 192.0.2.7=ok }"});
  ASSERT_TRUE(l.ok()) << l.error();
  EXPECT_EQ(l->Contains("192.0.2.7"), std::optional<bool>(true));
  EXPECT_EQ(l->Contains("192.0.2.8"), std::optional<bool>(false));
}

TEST(NetworkList, InterfaceStylesIncludeLoopback) {
  for (const char* style : {"host", "subnet", "class"}) {
    NetworkList l;
    ASSERT_TRUE(l.AddInterfaces(style).ok()) << style;
    EXPECT_EQ(l.Contains("127.0.0.1"), std::optional<bool>(true)) << style;
  }
  NetworkList l;
  EXPECT_FALSE(l.AddInterfaces("galaxy").ok());
}

TEST(Policy, ClassifiesDestinations) {
  auto p = Make("mydestination = $myhostname, localhost\nrelay_domains = relay.test, .sub.test\n");
  ASSERT_TRUE(p);
  struct { const char* path; Destination d; } cases[] = {
      {"<u@mx.example.test>", Destination::kLocal}, {"<u@LOCALHOST>", Destination::kLocal},
      {"<postmaster>", Destination::kLocal}, {"<u@[127.0.0.1]>", Destination::kLocal},
      {"<u@[192.0.2.1]>", Destination::kRemote}, {"<u@relay.test>", Destination::kRelay},
      {"<u@a.relay.test>", Destination::kRelay}, {"<u@xrelay.test>", Destination::kRemote},
      {"<u@sub.test>", Destination::kRemote}, {"<u@a.sub.test>", Destination::kRelay},
      {"<u@other.test>", Destination::kRemote},
  };
  for (auto& c : cases) {
    auto d = p->Classify(Addr(c.path));
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(*d, c.d) << c.path;
  }
}

// The relay battery of the acceptance list: none is an authorized destination.
TEST(Policy, SenderSpecifiedRoutingIsNotAuthorized) {
  auto p = Make("mydestination = localhost\n");
  ASSERT_TRUE(p);
  for (const char* path : {"<user@other.test>", "<user%other.test@[127.0.0.1]>", "<\"user@other.test\"@localhost>",
                           "<@localhost:user@other.test>", "<other.test!user@localhost>", "<user@[192.0.2.1]>",
                           "<user%other.test@localhost>"})
    EXPECT_EQ(p->AuthorizedDestination(Addr(path)).value(), false) << path;
  EXPECT_EQ(p->AuthorizedDestination(Addr("<user@localhost>")).value(), true);
  auto open = Make("mydestination = localhost\nallow_untrusted_routing = yes\n");
  EXPECT_EQ(open->AuthorizedDestination(Addr("<user%other.test@localhost>")).value(), true);
}

struct RcptCase {
  const char* maincf;
  const char* client;
  const char* helo;
  const char* sender;
  const char* rcpt;
  int code;  // 0: accepted
  const char* text;
};

TEST(Policy, RestrictionLists) {
  const RcptCase cases[] = {
      // Default relay restrictions: mynetworks relays, others only to us.
      {"", "127.0.0.1", "h.test", "<a@b.test>", "<x@other.test>", 0, ""},
      {"", "192.0.2.9", "h.test", "<a@b.test>", "<x@other.test>", 454, "<x@other.test>: Relay access denied"},
      {"", "192.0.2.9", "h.test", "<a@b.test>", "<x@localhost>", 0, ""},
      // Literals of our own address (inet_interfaces) are ours; others are not.
      {"", "192.0.2.9", "h.test", "<a@b.test>", "<x@[127.0.0.1]>", 0, ""},
      {"", "192.0.2.9", "h.test", "<a@b.test>", "<x@[IPv6:::ffff:127.0.0.1]>", 0, ""},
      {"", "192.0.2.9", "h.test", "<a@b.test>", "<x@[127.0.0.2]>", 454, "<x@[127.0.0.2]>: Relay access denied"},
      {"", "192.0.2.9", "h.test", "<a@b.test>", "<x@[IPv6:::1]>", 454, "<x@[IPv6:::1]>: Relay access denied"},
      {"proxy_interfaces = 192.0.2.80", "192.0.2.9", "h.test", "<a@b.test>", "<x@[192.0.2.80]>", 0, ""},
      // user@192.0.2.1 is bad syntax unless resolve_numeric_domain = yes.
      {"", "192.0.2.9", "h.test", "<a@b.test>", "<x@127.0.0.1>", 501, "Bad recipient address syntax"},
      {"resolve_numeric_domain = yes", "192.0.2.9", "h.test", "<a@b.test>", "<x@127.0.0.1>", 0, ""},
      {"resolve_numeric_domain = yes", "192.0.2.9", "h.test", "<a@b.test>", "<x@127.0.0.2>", 454,
       "<x@127.0.0.2>: Relay access denied"},
      {"smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination", "192.0.2.9", "h", "<a@b.test>",
       "<x@other.test>", 554, "<x@other.test>: Relay access denied"},
      {"smtpd_recipient_restrictions = reject_non_fqdn_sender", "127.0.0.1", "h", "<a@nodot>", "<x@localhost>", 504,
       "<a@nodot>: Sender address rejected: need fully-qualified address"},
      {"smtpd_recipient_restrictions = reject_non_fqdn_sender", "127.0.0.1", "h", "<>", "<x@localhost>", 0, ""},
      {"smtpd_recipient_restrictions = reject_non_fqdn_recipient", "127.0.0.1", "h", "<a@b.test>", "<x@b.test>",
       0, ""},
      {"smtpd_recipient_restrictions = reject_non_fqdn_recipient", "127.0.0.1", "h", "<a@b.test>", "<x@nodot>", 504,
       "<x@nodot>: Recipient address rejected: need fully-qualified address"},
      {"smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", "127.0.0.1", "nodot", "<a@b.test>",
       "<x@localhost>", 504, "<nodot>: Helo command rejected: need fully-qualified hostname"},
      {"smtpd_helo_restrictions = reject_invalid_helo_hostname", "127.0.0.1", "bad_name!", "<a@b.test>",
       "<x@localhost>", 501, "<bad_name!>: Helo command rejected: Invalid name"},
      {"smtpd_client_restrictions = check_client_access inline:{ {192.0.2.9=REJECT go away} }", "192.0.2.9", "h",
       "<a@b.test>", "<x@localhost>", 554, "<unknown[192.0.2.9]>: Client host rejected: go away"},
      {"smtpd_client_restrictions = check_client_access inline:{ 192.0.2=OK }, reject", "192.0.2.9", "h",
       "<a@b.test>", "<x@localhost>", 0, ""},
      {"smtpd_client_restrictions = reject", "192.0.2.9", "h", "<a@b.test>", "<x@localhost>", 554,
       "<unknown[192.0.2.9]>: Client host rejected: Access denied"},
      {"smtpd_sender_restrictions = check_sender_access inline:{ {b.test=DEFER 4.7.9 later} }", "127.0.0.1", "h",
       "<a@b.test>", "<x@localhost>", 450, "<a@b.test>: Sender address rejected: later"},
      {"smtpd_sender_restrictions = check_sender_access inline:{ {<>=550 no bounces} }", "127.0.0.1", "h", "<>",
       "<x@localhost>", 550, "<>: Sender address rejected: no bounces"},
      {"smtpd_recipient_restrictions = check_recipient_access inline:{ x@localhost=reject_unauth_destination }",
       "127.0.0.1", "h", "<a@b.test>", "<x@localhost>", 0, ""},
      {"smtpd_recipient_restrictions = check_recipient_access inline:{ localhost=defer }", "127.0.0.1", "h",
       "<a@b.test>", "<x@localhost>", 450, "<x@localhost>: Recipient address rejected: Access denied"},
      {"smtpd_helo_restrictions = check_helo_access inline:{ evil.test=REJECT }", "127.0.0.1", "mx.evil.test",
       "<a@b.test>", "<x@localhost>", 554, "<mx.evil.test>: Helo command rejected: Access denied"},
      // A permit ends its own list only: the relay list still runs.
      {"smtpd_client_restrictions = permit", "192.0.2.9", "h", "<a@b.test>", "<x@other.test>", 454,
       "<x@other.test>: Relay access denied"},
  };
  for (const RcptCase& c : cases) {
    auto p = Make(std::string("mydestination = localhost\n") + c.maincf + "\n");
    ASSERT_TRUE(p) << c.maincf;
    Verdict v = CheckRcpt(*p, c.client, c.helo, c.sender, c.rcpt);
    if (c.code == 0) {
      EXPECT_FALSE(v.rejected()) << c.maincf << " " << c.rcpt << ": " << v.text;
    } else {
      EXPECT_EQ(v.code, c.code) << c.maincf;
      EXPECT_EQ(v.text, c.text) << c.maincf;
    }
  }
}

// As Postfix: an entry that cannot run answers 451 4.3.5 where it is reached,
// and only there; the worker keeps serving everything else.
TEST(Policy, EntriesThatCannotRunAnswer451WhereReached) {
  struct Case {
    const char* maincf;
    const char* rcpt;
    int code;
  } cases[] = {
      {"smtpd_recipient_restrictions = check_recipient_access inline:{ ok.test=OK }, check_policy_service "
       "nosuch:127.0.0.1:1, permit", "<x@ok.test>", 0},
      {"smtpd_recipient_restrictions = check_recipient_access inline:{ ok.test=OK }, check_policy_service "
       "nosuch:127.0.0.1:1, permit", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = check_policy_service { inet:127.0.0.1:1, bogus=1 }", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = check_recipient_access inline:{ ok.test=OK }, permit_everyone", "<x@ok.test>", 0},
      {"smtpd_recipient_restrictions = permit_everyone", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = reject_rbl_client zen.example=127.0.0.x, permit", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = reject_rbl_client", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = permit_mx_backup", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = reject_maps_rbl", "<x@localhost>", 451},  // without maps_rbl_domains
      {"smtpd_recipient_restrictions = check_recipient_access", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = check_recipient_access mysql:/etc/postern/x.cf", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = check_recipient_access nosuch:/x", "<x@localhost>", 451},
      {"smtpd_recipient_restrictions = reject_sender_login_mismatch", "<x@localhost>", 451},
      // The relay list rejects first: the broken list is never reached.
      {"smtpd_relay_restrictions = reject\nsmtpd_recipient_restrictions = permit_everyone", "<x@localhost>", 554},
  };
  for (const Case& c : cases) {
    auto p = Make(std::string("mydestination = localhost\n") + c.maincf + "\n");
    ASSERT_TRUE(p) << c.maincf;
    Verdict v = CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", c.rcpt);
    EXPECT_EQ(v.rejected() ? v.code : 0, c.code) << c.maincf << " " << c.rcpt;
    if (c.code == 451) {
      EXPECT_EQ(v.enhanced, "4.3.5") << c.maincf;
      EXPECT_EQ(v.text, "Server configuration error") << c.maincf;
    }
  }
}

// CheckLocalRecipient's answer (0: accepted) for each recipient, and the
// reply text for the last one, which must be unknown.
void ExpectRecipients(const std::string& maincf, std::vector<std::pair<const char*, int>> cases,
                      const std::string& unknown_text) {
  auto p = Make(maincf);
  ASSERT_TRUE(p) << maincf;
  for (auto& [rcpt, code] : cases) {
    Verdict v = p->CheckLocalRecipient(Addr(rcpt));
    EXPECT_EQ(v.rejected() ? v.code : 0, code) << rcpt;
  }
  Verdict v = p->CheckLocalRecipient(Addr(cases.back().first));
  EXPECT_EQ(v.enhanced, "5.1.1");
  EXPECT_EQ(v.text, unknown_text);
}

// A policy service's action is an access(5) action, evaluated where the
// check_policy_service entry stands in its list.
TEST(Policy, PolicyServiceActions) {
  const std::string conf =
      "mydestination = localhost\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
      "smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:10023, "
      "check_recipient_access inline:{ bad@localhost=REJECT }\n";
  struct Case {
    const char* rcpt;
    const char* action;
    int code;
    const char* enhanced;
    const char* text;
  } cases[] = {
      {"<x@localhost>", "DUNNO", 0, "", ""},
      {"<x@localhost>", "OK", 0, "", ""},
      {"<bad@localhost>", "OK", 0, "", ""},  // OK ends the list: the table is not reached
      {"<bad@localhost>", "dunno", 554, "5.7.1", "<bad@localhost>: Recipient address rejected: Access denied"},
      {"<x@localhost>", "REJECT", 554, "5.7.1", "<x@localhost>: Recipient address rejected: Access denied"},
      {"<x@localhost>", "550 5.7.23 SPF fail", 550, "5.7.23", "<x@localhost>: Recipient address rejected: SPF fail"},
      {"<x@localhost>", "450 4.2.0 Greylisted", 450, "4.2.0", "<x@localhost>: Recipient address rejected: Greylisted"},
      {"<x@localhost>", "DEFER_IF_PERMIT Greylisted, see x", 450, "4.7.1",
       "<x@localhost>: Recipient address rejected: Greylisted, see x"},
      // DEFER_IF_REJECT turns the table's later 554 into its 450.
      {"<bad@localhost>", "DEFER_IF_REJECT try later", 450, "4.7.1",
       "<bad@localhost>: Recipient address rejected: try later"},
      {"<x@localhost>", "DEFER_IF_REJECT try later", 0, "", ""},
      {"<x@localhost>", "451 4.3.5 Server configuration problem", 451, "4.3.5",
       "<x@localhost>: Recipient address rejected: Server configuration problem"},
  };
  auto p = Make(conf);
  ASSERT_TRUE(p);
  for (const Case& c : cases) {
    std::vector<std::string> asked;
    Verdict v = CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", c.rcpt, {c.action}, nullptr, &asked);
    EXPECT_EQ(asked, std::vector<std::string>{"inet:127.0.0.1:10023"}) << c.action;
    EXPECT_EQ(v.rejected() ? v.code : 0, c.code) << c.action << " " << c.rcpt;
    if (!c.code) continue;
    EXPECT_EQ(v.enhanced, c.enhanced) << c.action;
    EXPECT_EQ(v.text, c.text) << c.action;
  }
}

TEST(Policy, PolicyServiceEffects) {
  auto p = Make("mydestination = localhost\nsmtpd_recipient_restrictions = check_policy_service unix:private/a, "
                "check_policy_service unix:/run/b, check_policy_service inet:127.0.0.1:3, reject\n");
  ASSERT_TRUE(p);
  Effects e;
  std::vector<std::string> asked;
  Verdict v = CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", "<x@localhost>",
                        {"PREPEND Received-SPF: Pass (x)", "WARN look", "HOLD"}, &e, &asked);
  EXPECT_EQ(v.code, 554);  // HOLD goes on to the final reject
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_EQ(asked[1], "unix:/run/b");
  EXPECT_TRUE(asked[0].ends_with("/private/a")) << asked[0];
  EXPECT_EQ(e.prepend, std::vector<std::string>{"Received-SPF: Pass (x)"});
  EXPECT_TRUE(e.hold);
  ASSERT_EQ(e.notes.size(), 2u);
  EXPECT_EQ(e.notes[0], (std::pair<std::string, std::string>{"warn", "look"}));
  EXPECT_EQ(e.notes[1].second, "<x@localhost>: Recipient address triggers HOLD action");
  // DISCARD is an OK: the list ends there.
  v = CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", "<x@localhost>", {"DISCARD"}, &e);
  EXPECT_FALSE(v.rejected());
  EXPECT_TRUE(e.discard);
  // A PREPEND without a header name is not a header: 451 as any bad action.
  v = CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", "<x@localhost>", {"PREPEND no header"}, &e);
  EXPECT_EQ(v.code, 451);
}

// Every access(5) action, as the value of a check_*_access table, at every
// stage: the verdict and what it asks of the message.
TEST(Policy, AccessTableActions) {
  struct Case {
    const char* list;    // which restriction list
    const char* check;   // which table lookup
    const char* key;     // the key the lookup finds
    const char* action;  // the table's value
    int code;            // 0: not rejected
    const char* text;
    const char* redirect = "";
    const char* bcc = "";
    const char* filter = "";
    bool hold = false, discard = false;
    const char* prepend = "";
  } cases[] = {
      {"client", "check_client_access", "192.0.2.9", "OK", 0, ""},
      {"client", "check_client_access", "192.0.2.9", "REJECT", 554,
       "<unknown[192.0.2.9]>: Client host rejected: Access denied"},
      {"client", "check_client_access", "192.0.2.9", "521 no thanks", 521,
       "<unknown[192.0.2.9]>: Client host rejected: no thanks"},
      {"client", "check_client_access", "192.0.2.9", "DEFER", 450,
       "<unknown[192.0.2.9]>: Client host rejected: Access denied"},
      {"client", "check_client_access", "192.0.2.9", "DEFER_IF_PERMIT busy", 450,
       "<unknown[192.0.2.9]>: Client host rejected: busy"},
      {"client", "check_client_access", "192.0.2.9", "DEFER_IF_REJECT busy", 0, ""},
      {"client", "check_client_access", "192.0.2.9", "DUNNO", 0, ""},
      {"client", "check_client_access", "192.0.2.9", "HOLD", 0, "", "", "", "", true},
      {"client", "check_client_access", "192.0.2.9", "DISCARD", 0, "", "", "", "", false, true},
      {"helo", "check_helo_access", "h.test", "PREPEND X-Helo: seen", 0, "", "", "", "", false, false,
       "X-Helo: seen"},
      {"helo", "check_helo_access", "h.test", "REJECT 5.7.0 bad helo", 554, "<h.test>: Helo command rejected: bad helo"},
      {"sender", "check_sender_access", "a@b.test", "REDIRECT r@elsewhere.test", 0, "", "r@elsewhere.test"},
      {"sender", "check_sender_access", "b.test", "BCC archive@localhost", 0, "", "", "archive@localhost"},
      {"sender", "check_sender_access", "a@", "FILTER smtp:[127.0.0.1]:10025", 0, "", "", "", "smtp:[127.0.0.1]:10025"},
      {"sender", "check_sender_access", "a@b.test", "WARN look at this", 0, ""},
      {"recipient", "check_recipient_access", "x@localhost", "FILTER relay:", 0, "", "", "", "relay:"},
      {"recipient", "check_recipient_access", "x@localhost", "reject_unauth_destination", 0, ""},
      {"recipient", "check_recipient_access", "localhost", "defer", 450,
       "<x@localhost>: Recipient address rejected: Access denied"},
      // Actions without what they need are configuration errors, answered 451.
      {"recipient", "check_recipient_access", "x@localhost", "REDIRECT", 451, "Server configuration error"},
      {"recipient", "check_recipient_access", "x@localhost", "REDIRECT not an address", 451,
       "Server configuration error"},
      {"recipient", "check_recipient_access", "x@localhost", "FILTER nocolon", 451, "Server configuration error"},
      {"recipient", "check_recipient_access", "x@localhost", "BCC", 451, "Server configuration error"},
  };
  for (const Case& c : cases) {
    std::string conf = std::string("mydestination = localhost\nsmtpd_") + c.list + "_restrictions = " + c.check +
                       " inline:{ {" + c.key + "=" + c.action + "} }\n";
    auto p = Make(conf);
    ASSERT_TRUE(p) << conf;
    Effects e;
    Verdict v = CheckRcpt(*p, "192.0.2.9", "h.test", "<a@b.test>", "<x@localhost>", {}, &e);
    EXPECT_EQ(v.rejected() ? v.code : 0, c.code) << conf;
    if (c.code) {
      EXPECT_EQ(v.text, c.text) << conf;
    }
    EXPECT_EQ(e.redirect, c.redirect) << conf;
    EXPECT_EQ(e.bcc, c.bcc) << conf;
    EXPECT_EQ(e.filter, c.filter) << conf;
    EXPECT_EQ(e.hold, c.hold) << conf;
    EXPECT_EQ(e.discard, c.discard) << conf;
    EXPECT_EQ(e.prepend.empty() ? "" : e.prepend[0], c.prepend) << conf;
  }
}

// REDIRECT and FILTER: the last action wins; BCC: the first, as Postfix.
TEST(Policy, EnvelopeActionsLastOrFirstWins) {
  auto p = Make("mydestination = localhost\nsmtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:3, "
                "check_policy_service inet:127.0.0.1:4\n");
  ASSERT_TRUE(p);
  Effects e;
  CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", "<x@localhost>", {"REDIRECT one@b.test", "REDIRECT two@b.test"}, &e);
  EXPECT_EQ(e.redirect, "two@b.test");
  CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", "<x@localhost>", {"BCC one@b.test", "BCC two@b.test"}, &e);
  EXPECT_EQ(e.bcc, "one@b.test");
  CheckRcpt(*p, "127.0.0.1", "h", "<a@b.test>", "<x@localhost>", {"FILTER a:b", "FILTER c:d"}, &e);
  EXPECT_EQ(e.filter, "c:d");
  ASSERT_EQ(e.notes.size(), 2u);
  EXPECT_EQ(e.notes[1], (std::pair<std::string, std::string>{"filter", "<x@localhost>: Recipient address triggers FILTER c:d"}));
}

// One RCPT whose restrictions ask verify(8): `answers` are given in turn to
// each verification (`asked` gets "S:addr" or "R:addr" per question).
Verdict CheckVerified(Policy& p, std::string_view sender, std::string_view rcpt,
                      std::vector<ipc::VerifyAnswer> answers, std::vector<std::string>* asked = nullptr) {
  smtp::Address s = Addr(sender), r = Addr(rcpt);
  Facts f = FactsOf("127.0.0.1", "h", s, r);
  Policy::Check c;
  Verdict v = p.CheckRecipient(c, f);
  size_t next = 0;
  while (c.verify) {
    if (asked) asked->push_back(std::string(c.verify->kind == ipc::VerifyKind::kSender ? "S:" : "R:") + c.verify->address);
    if (next == answers.size()) return p.ResumeVerify(c, Err("no answer"), f);
    v = p.ResumeVerify(c, answers[next++], f);
  }
  return v;
}

TEST(Policy, UnverifiedAddressVerdicts) {
  using S = ipc::VerifyStatus;
  struct Case {
    const char* maincf;
    ipc::VerifyAnswer answer;
    int code;  // 0: not rejected
    const char* enhanced;
    const char* text;
  } cases[] = {
      {"", {S::kDeliverable, "250 ok"}, 0, "", ""},
      {"", {S::kUndeliverable, "host mx said: 550 no"}, 450, "4.1.1",
       "<x@remote.test>: Recipient address rejected: undeliverable address: host mx said: 550 no"},
      {"unverified_recipient_reject_code = 550\nunverified_recipient_reject_reason = Address lookup failed",
       {S::kUndeliverable, "x"}, 550, "5.1.1", "<x@remote.test>: Recipient address rejected: Address lookup failed"},
      {"", {S::kInProgress, "Address verification in progress"}, 450, "4.1.1",
       "<x@remote.test>: Recipient address rejected: unverified address: Address verification in progress"},
      // A temporary failure: defer_if_permit, so the final permit turns into 450.
      {"", {S::kUnknown, "connect refused"}, 450, "4.1.1",
       "<x@remote.test>: Recipient address rejected: unverified address: connect refused"},
      {"unverified_recipient_tempfail_action = dunno", {S::kUnknown, "connect refused"}, 0, "", ""},
  };
  for (const Case& c : cases) {
    auto p = Make(std::string("smtpd_recipient_restrictions = reject_unverified_recipient, permit\n") + c.maincf + "\n");
    ASSERT_TRUE(p) << c.maincf;
    std::vector<std::string> asked;
    Verdict v = CheckVerified(*p, "<a@b.test>", "<x@remote.test>", {c.answer}, &asked);
    EXPECT_EQ(asked, std::vector<std::string>{"R:x@remote.test"});
    EXPECT_EQ(v.rejected() ? v.code : 0, c.code) << c.maincf << " " << c.answer.reason;
    if (!c.code) continue;
    EXPECT_EQ(v.enhanced, c.enhanced) << c.answer.reason;
    EXPECT_EQ(v.text, c.text) << c.answer.reason;
  }
  // The service could not answer: 451, as a table that cannot be read.
  auto p = Make("smtpd_recipient_restrictions = reject_unverified_recipient, permit\n");
  Verdict v = CheckVerified(*p, "<a@b.test>", "<x@remote.test>", {});
  EXPECT_EQ(v.code, 451);
  EXPECT_EQ(v.text, "<x@remote.test>: Temporary lookup failure");
}

TEST(Policy, UnverifiedSenderAndTheNullSender) {
  auto p = Make("smtpd_sender_restrictions = reject_unverified_sender\n"
                "smtpd_recipient_restrictions = permit\n");
  std::vector<std::string> asked;
  Verdict v = CheckVerified(*p, "<s@b.test>", "<x@remote.test>", {{ipc::VerifyStatus::kUndeliverable, "550 no"}}, &asked);
  EXPECT_EQ(asked, std::vector<std::string>{"S:s@b.test"});
  EXPECT_EQ(v.code, 450);
  EXPECT_EQ(v.enhanced, "4.1.7");
  EXPECT_EQ(v.text, "<s@b.test>: Sender address rejected: undeliverable address: 550 no");
  asked.clear();
  v = CheckVerified(*p, "<>", "<x@remote.test>", {}, &asked);
  EXPECT_TRUE(asked.empty());  // the null sender is not verified
  EXPECT_FALSE(v.rejected());
}

// smtpd_restriction_classes: a class stands for its list, by name in a list
// or as an access table's result, and may wait for verify(8) midway.
TEST(Policy, RestrictionClasses) {
  auto p = Make("mydestination = localhost\nsmtpd_restriction_classes = verify_some, Strict\n"
                "verify_some = reject_unverified_recipient, check_recipient_access inline:{ {late@localhost=REJECT late} }, permit\n"
                "Strict = reject\n"
                "smtpd_recipient_restrictions = check_recipient_access inline:{ {a@localhost=verify_some}, "
                "{late@localhost=verify_some}, {b@localhost=strict} }, reject_unauth_destination, permit\n");
  ASSERT_TRUE(p);
  using S = ipc::VerifyStatus;
  std::vector<std::string> asked;
  EXPECT_FALSE(CheckVerified(*p, "<s@b.test>", "<a@localhost>", {{S::kDeliverable, ""}}, &asked).rejected());
  EXPECT_EQ(asked, std::vector<std::string>{"R:a@localhost"});
  EXPECT_EQ(CheckVerified(*p, "<s@b.test>", "<a@localhost>", {{S::kUndeliverable, "no"}}).code, 450);
  // After the verification the rest of the class runs.
  Verdict late = CheckVerified(*p, "<s@b.test>", "<late@localhost>", {{S::kDeliverable, ""}});
  EXPECT_EQ(late.code, 554);
  EXPECT_EQ(late.text, "<late@localhost>: Recipient address rejected: late");
  Verdict strict = CheckVerified(*p, "<s@b.test>", "<b@localhost>", {});
  EXPECT_EQ(strict.code, 554);
  asked.clear();
  EXPECT_FALSE(CheckVerified(*p, "<s@b.test>", "<c@localhost>", {}, &asked).rejected());
  EXPECT_TRUE(asked.empty());
  // A class by name in a list.
  auto q = Make("smtpd_restriction_classes = no_way\nno_way = reject\nsmtpd_client_restrictions = no_way\n");
  ASSERT_TRUE(q);
  EXPECT_EQ(CheckRcpt(*q, "127.0.0.1", "h", "<a@b.test>", "<x@localhost>").code, 554);
}

TEST(Policy, LocalRecipientMaps) {
  ExpectRecipients("mydestination = localhost\nlocal_recipient_maps = inline:{ alice=x, bob@localhost=y }\n"
                   "recipient_delimiter = +\n",
                   {{"<alice@localhost>", 0}, {"<ALICE@localhost>", 0}, {"<alice+tag@localhost>", 0},
                    {"<bob@localhost>", 0}, {"<bob+tag@localhost>", 0}, {"<carol@other.test>", 0},
                    {"<carol@localhost>", 550}},
                   "<carol@localhost>: Recipient address rejected: User unknown in local recipient table");
  // Empty maps: every local recipient is accepted (Postfix's meaning).
  auto open = Make("mydestination = localhost\n");
  EXPECT_FALSE(open->CheckLocalRecipient(Addr("<carol@localhost>")).rejected());
}

TEST(Policy, RelayRecipientMaps) {
  ExpectRecipients("mydestination = localhost\nrelay_domains = example.com, catchall.test\n"
                   "relay_recipient_maps = inline:{ alice@example.com=x, @catchall.test=y }\n"
                   "recipient_delimiter = +\n",
                   {{"<alice@example.com>", 0}, {"<Alice+list@EXAMPLE.com>", 0}, {"<anyone@catchall.test>", 0},
                    {"<alice@other.test>", 0}, {"<bob@localhost>", 0}, {"<bob@example.com>", 550}},
                   "<bob@example.com>: Recipient address rejected: User unknown in relay recipient table");
  // Unset: a backup MX that accepts every recipient of its relay domains.
  auto open = Make("relay_domains = example.com\n");
  EXPECT_FALSE(open->CheckLocalRecipient(Addr("<bob@example.com>")).rejected());
}

// virtual(8) delivers them: the domains are ours, taken from anyone.
TEST(Policy, VirtualMailboxDomainsAreOursNotRelayDenied) {
  auto p = Make("mydestination = localhost\nvirtual_mailbox_domains = Example.com, inline:{ example.net=1 }\n");
  ASSERT_TRUE(p);
  for (const char* rcpt : {"<info@example.com>", "<info@EXAMPLE.NET>"})
    EXPECT_FALSE(CheckRcpt(*p, "192.0.2.9", "h", "<a@b.test>", rcpt).rejected()) << rcpt;
  EXPECT_TRUE(CheckRcpt(*p, "192.0.2.9", "h", "<a@b.test>", "<info@other.test>").rejected());
}

TEST(Policy, BrokenLocalRecipientMapsDefer) {
  auto p = Make("mydestination = localhost\nlocal_recipient_maps = texthash:/nonexistent/postern/users\n");
  ASSERT_TRUE(p);
  Verdict v = p->CheckLocalRecipient(Addr("<carol@localhost>"));
  EXPECT_EQ(v.code, 451);
  EXPECT_EQ(v.enhanced, "4.3.0");
}

// smtpd_data_restrictions and smtpd_end_of_data_restrictions: Postfix's reply
// names, the restrictions specific to them, and no recipient among several.
TEST(Policy, DataAndEndOfDataRestrictions) {
  auto p = Make("mydestination = localhost\n"
                "smtpd_data_restrictions = reject_unauth_pipelining, reject_multi_recipient_bounce, "
                "check_recipient_access inline:{ bob@localhost=REJECT }\n"
                "smtpd_end_of_data_restrictions = check_sender_access inline:{ spam@x.test=REJECT }, reject\n");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->has_restrictions(Policy::Stage::kData));
  EXPECT_TRUE(p->has_restrictions(Policy::Stage::kEod));
  EXPECT_FALSE(p->wants_content_md5());
  smtp::Address nul = Addr("<>"), a = Addr("<a@x.test>"), bob = Addr("<bob@localhost>"), spam = Addr("<spam@x.test>");
  auto at = [&](Policy::Stage stage, Facts f) {
    Policy::Check c;
    c.at = stage;
    return p->CheckRecipient(c, f);
  };
  Facts f = FactsOf("192.0.2.1", "h.test", a, bob);
  f.recipient_count = 1;
  Verdict v = at(Policy::Stage::kData, f);  // the one recipient is seen
  EXPECT_EQ(v.code, 554);
  EXPECT_EQ(v.text, "<bob@localhost>: Recipient address rejected: Access denied");
  f.recipient = nullptr;  // several: none is
  f.recipient_count = 2;
  EXPECT_FALSE(at(Policy::Stage::kData, f).rejected());
  f.ill_pipelining = true;
  v = at(Policy::Stage::kData, f);
  EXPECT_EQ(v.code, 503);
  EXPECT_EQ(v.enhanced, "5.5.0");
  EXPECT_EQ(v.text, "<DATA>: Data command rejected: Improper use of SMTP command pipelining");
  f.ill_pipelining = false;
  f.sender = &nul;
  v = at(Policy::Stage::kData, f);
  EXPECT_EQ(v.code, 550);
  EXPECT_EQ(v.enhanced, "5.5.3");
  EXPECT_EQ(v.text, "<DATA>: Data command rejected: Multi-recipient bounce");
  f.recipient_count = 1;
  EXPECT_FALSE(at(Policy::Stage::kData, f).rejected());
  v = at(Policy::Stage::kEod, f);  // the list's own reject
  EXPECT_EQ(v.code, 554);
  EXPECT_EQ(v.text, "<END-OF-MESSAGE>: End-of-data rejected: Access denied");
  f.sender = &spam;
  EXPECT_EQ(at(Policy::Stage::kEod, f).text, "<spam@x.test>: Sender address rejected: Access denied");
  // RCPT's lists are not the data lists.
  EXPECT_FALSE(at(Policy::Stage::kRecipient, FactsOf("127.0.0.1", "h.test", a, bob)).rejected());
}

TEST(Policy, MultiRecipientBounceAtRcptRefusesTheSecond) {
  auto p = Make("mydestination = localhost\nsmtpd_recipient_restrictions = reject_multi_recipient_bounce\n");
  ASSERT_TRUE(p);
  smtp::Address nul = Addr("<>"), r = Addr("<x@localhost>");
  Facts f = FactsOf("192.0.2.1", "h.test", nul, r);
  Policy::Check first;
  EXPECT_FALSE(p->CheckRecipient(first, f).rejected());
  f.recipient_count = 1;
  Policy::Check second;
  Verdict v = p->CheckRecipient(second, f);
  EXPECT_EQ(v.code, 550);
  EXPECT_EQ(v.text, "<x@localhost>: Recipient address rejected: Multi-recipient bounce");
}

TEST(Policy, ContentGreylistKeyOnlyAtEndOfData) {
  auto p = Make("mydestination = localhost\ngreylist_key = client_network, sender, content\n"
                "smtpd_recipient_restrictions = check_greylist\n"
                "smtpd_end_of_data_restrictions = check_greylist\n");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->wants_content_md5());
  smtp::Address a = Addr("<a@x.test>"), r = Addr("<x@localhost>");
  Facts f = FactsOf("192.0.2.1", "h.test", a, r);
  Policy::Check rcpt;
  Verdict v = p->CheckRecipient(rcpt, f);
  EXPECT_EQ(v.code, 451);
  EXPECT_EQ(v.enhanced, "4.3.5");
  Policy::Check eod;
  eod.at = Policy::Stage::kEod;
  f.content_md5 = "00112233445566778899aabbccddeeff";
  EXPECT_FALSE(p->CheckRecipient(eod, f).rejected());
  EXPECT_EQ(eod.cache, std::optional<std::string>("check_greylist"));  // waits for the cache
}

}  // namespace
}  // namespace postern::smtpd

namespace postern::smtpd {
namespace {

// DNS restrictions against a fake DNS: each lookup a step asks for (Check::dns)
// is answered from `zone` (by DnsQuery::Key; missing: NXDOMAIN) and the check
// goes on, as Session::OnCheckAnswer does. Returns the verdict and the lookups.
Verdict CheckWithDns(Policy& p, const Facts& f, const std::map<std::string, DnsFact>& zone,
                     std::vector<std::string>* asked) {
  Policy::Check c;
  Verdict v = p.CheckRecipient(c, f);
  while (c.dns) {
    asked->push_back(c.dns->Key());
    auto it = zone.find(c.dns->Key());
    p.AddDnsAnswer(c, it == zone.end() ? DnsFact{} : it->second, 0);
    v = p.CheckRecipient(c, f);
  }
  return v;
}

// One sender through the restrictions of maincf against a fake DNS zone: the
// reply code (0: accepted), its text, and how many lookups were asked for.
struct DnsCase {
  const char* maincf;
  const char* sender;
  int code;
  const char* text;
  size_t lookups;
};

template <size_t N>
void RunDnsCases(const std::map<std::string, DnsFact>& zone, const DnsCase (&cases)[N], const char* reverse_name) {
  for (const DnsCase& c : cases) {
    auto p = Make(std::string("mydestination = localhost\n") + c.maincf + "\n");
    ASSERT_TRUE(p) << c.maincf;
    smtp::Address s = Addr(c.sender), r = Addr("<x@localhost>");
    Facts f;
    f.client_name = "unknown";
    f.reverse_client_name = reverse_name;
    f.client_name_status = NameStatus::kTempFail;
    f.client_addr = "192.0.2.9";
    f.helo = "nx.test";
    f.sender = &s;
    f.recipient = &r;
    std::vector<std::string> asked;
    Verdict v = CheckWithDns(*p, f, zone, &asked);
    EXPECT_EQ(v.rejected() ? v.code : 0, c.code) << c.maincf << " " << c.sender;
    if (c.code) {
      EXPECT_EQ(v.text, c.text) << c.maincf;
    }
    EXPECT_EQ(asked.size(), c.lookups) << c.maincf << " " << c.sender;
  }
}

TEST(PolicyDns, RestrictionsWaitForTheirLookupsAndReplyAsPostfix) {
  using R = DnsFact::Result;
  const std::map<std::string, DnsFact> zone = {
      {DnsQuery{DnsQuery::Kind::kAddress, "9.2.0.192.bl.test"}.Key(), {R::kFound, {"127.0.0.2"}, ""}},
      {DnsQuery{DnsQuery::Kind::kTxt, "9.2.0.192.bl.test"}.Key(), {R::kFound, {"see\x01 http://bl.test"}, ""}},
      {DnsQuery{DnsQuery::Kind::kMailDomain, "ok.test"}.Key(), {R::kFound, {}, ""}},
      {DnsQuery{DnsQuery::Kind::kMailDomain, "null.test"}.Key(), {R::kNullMx, {}, ""}},
      {DnsQuery{DnsQuery::Kind::kMailDomain, "flaky.test"}.Key(), {R::kTempFail, {}, ""}},
  };
  const DnsCase cases[] = {
      {"smtpd_client_restrictions = reject_rbl_client bl.test", "<a@ok.test>", 554,
       "Service unavailable; Client host [192.0.2.9] blocked using bl.test; see? http://bl.test", 2},
      {"smtpd_client_restrictions = reject_rbl_client bl.test=127.0.0.[3..9]", "<a@ok.test>", 0, "", 1},
      {"smtpd_client_restrictions = permit_dnswl_client bl.test, reject", "<a@ok.test>", 0, "", 1},
      {"smtpd_client_restrictions = warn_if_reject, reject_rbl_client bl.test", "<a@ok.test>", 0, "", 2},
      {"maps_rbl_reject_code = 521\nsmtpd_client_restrictions = reject_rbl_client bl.test\n"
       "default_rbl_reply = $rbl_code ${rbl_class} $rbl_what at $rbl_domain",
       "<a@ok.test>", 521, "Client host 192.0.2.9 at bl.test", 2},
      {"smtpd_sender_restrictions = reject_unknown_sender_domain", "<a@ok.test>", 0, "", 1},
      {"smtpd_sender_restrictions = reject_unknown_sender_domain", "<a@nx.test>", 450,
       "<a@nx.test>: Sender address rejected: Domain not found", 1},
      {"smtpd_sender_restrictions = reject_unknown_sender_domain", "<a@null.test>", 550,
       "<a@null.test>: Sender address rejected: Domain null.test does not accept mail (nullMX)", 1},
      {"smtpd_sender_restrictions = reject_unknown_sender_domain", "<a@flaky.test>", 450,
       "<a@flaky.test>: Sender address rejected: Domain not found", 1},
      // A temporary failure defers only what would be accepted.
      {"smtpd_sender_restrictions = reject_unknown_sender_domain, reject", "<a@flaky.test>", 554,
       "<a@flaky.test>: Sender address rejected: Access denied", 1},
      {"smtpd_sender_restrictions = reject_unknown_sender_domain", "<a@localhost>", 0, "", 0},
      {"smtpd_helo_restrictions = reject_unknown_helo_hostname", "<a@ok.test>", 450,
       "<nx.test>: Helo command rejected: Host not found", 1},
      {"smtpd_client_restrictions = reject_unknown_client_hostname", "<a@ok.test>", 450,
       "Client host rejected: cannot find your hostname, [192.0.2.9]", 0},
  };
  RunDnsCases(zone, cases, "unknown");
}

// check_*_{mx,ns,a}_access: names first, then addresses; the domain itself
// without MX, parent domains without NS; OK is refused (451 4.3.5).
TEST(PolicyDns, ServerAccessLooksAtMxNsAndAddresses) {
  using R = DnsFact::Result;
  using K = DnsQuery::Kind;
  auto key = [](K k, const char* n) { return DnsQuery{k, n}.Key(); };
  const std::map<std::string, DnsFact> zone = {
      {key(K::kMxHosts, "mx.test"), {R::kFound, {"mx1.bad.test", "mx2.ok.test"}, ""}},
      {key(K::kAddress, "mx1.bad.test"), {R::kFound, {"198.51.100.1"}, ""}},
      {key(K::kAddress, "mx2.ok.test"), {R::kFound, {"203.0.113.5"}, ""}},
      {key(K::kAddress, "nomx.test"), {R::kFound, {"203.0.113.7"}, ""}},
      {key(K::kMxHosts, "null.test"), {R::kNullMx, {}, ""}},
      {key(K::kMxHosts, "flaky.test"), {R::kTempFail, {}, "SERVFAIL"}},
      {key(K::kNsHosts, "zone.test"), {R::kFound, {"ns1.dns.test"}, ""}},
      {key(K::kAddress, "ns1.dns.test"), {R::kFound, {"192.0.2.53"}, ""}},
      {key(K::kAddress, "9.2.0.192.bl.test"), {R::kFound, {"127.0.0.2"}, ""}},
  };
  const DnsCase cases[] = {
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ {bad.test=REJECT bad mx} }", "<a@mx.test>", 554,
       "<a@mx.test>: Sender address rejected: bad mx", 1},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ 203.0.113.5=REJECT }", "<a@mx.test>", 554,
       "<a@mx.test>: Sender address rejected: Access denied", 3},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ 203.0.113=REJECT }", "<a@nomx.test>", 554,
       "<a@nomx.test>: Sender address rejected: Access denied", 2},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ null.test=REJECT }", "<a@null.test>", 0, "", 1},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ x.test=REJECT }", "<a@flaky.test>", 450,
       "<a@flaky.test>: Sender address rejected: Temporary DNS lookup failure", 1},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ x.test=REJECT }, reject", "<a@flaky.test>", 554,
       "<a@flaky.test>: Sender address rejected: Access denied", 1},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ bad.test=OK }", "<a@mx.test>", 451,
       "Server configuration error", 1},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ bad.test=DUNNO }", "<a@mx.test>", 0, "", 1},
      {"smtpd_sender_restrictions = check_sender_mx_access inline:{ 192.0.2.1=REJECT }", "<a@[192.0.2.1]>", 554,
       "<a@[192.0.2.1]>: Sender address rejected: Access denied", 0},
      {"smtpd_sender_restrictions = check_sender_ns_access inline:{ dns.test=REJECT }", "<a@sub.zone.test>", 554,
       "<a@sub.zone.test>: Sender address rejected: Access denied", 2},
      {"smtpd_sender_restrictions = check_sender_ns_access inline:{ 192.0.2=REJECT }", "<a@sub.zone.test>", 554,
       "<a@sub.zone.test>: Sender address rejected: Access denied", 3},
      {"smtpd_sender_restrictions = check_sender_ns_access inline:{ 192.0.2.1=REJECT }", "<a@[192.0.2.1]>", 0, "", 0},
      {"smtpd_sender_restrictions = check_sender_a_access inline:{ nomx.test=REJECT }", "<a@nomx.test>", 0, "", 1},
      {"smtpd_sender_restrictions = check_sender_a_access inline:{ 203.0.113.7=REJECT }", "<a@nomx.test>", 554,
       "<a@nomx.test>: Sender address rejected: Access denied", 1},
      {"smtpd_helo_restrictions = check_helo_mx_access inline:{ nx.test=REJECT }", "<a@mx.test>", 554,
       "<nx.test>: Helo command rejected: Access denied", 1},
      {"smtpd_client_restrictions = check_client_mx_access inline:{ unknown=REJECT }", "<a@mx.test>", 0, "", 0},
      {"smtpd_client_restrictions = reject_unknown_forward_client_hostname", "<a@mx.test>", 450,
       "Client host rejected: cannot find your hostname, [192.0.2.9]", 0},
      {"smtpd_client_restrictions = reject_rbl bl.test", "<a@mx.test>", 554,
       "Service unavailable; Client host [192.0.2.9] blocked using bl.test", 2},
      {"maps_rbl_domains = nothing.test, bl.test\nsmtpd_client_restrictions = reject_maps_rbl", "<a@mx.test>", 554,
       "Service unavailable; Client host [192.0.2.9] blocked using bl.test", 3},
  };
  RunDnsCases(zone, cases, "ptr.test");
}

TEST(PolicyDns, CacheKeepsAnswersForTheirTtlOnly) {
  using R = DnsFact::Result;
  DnsCache cache;
  auto now = DnsCache::Clock::now();
  cache.Put("0:listed", {R::kFound, {"127.0.0.2"}, ""}, 60, now);
  cache.Put("0:no-ttl", {R::kFound, {"127.0.0.2"}, ""}, 0, now);
  cache.Put("0:flaky", {R::kTempFail, {}, "timeout"}, 60, now);
  ASSERT_NE(cache.Find("0:listed", now + std::chrono::seconds(59)), nullptr);
  EXPECT_EQ(cache.Find("0:listed", now + std::chrono::seconds(59))->values.at(0), "127.0.0.2");
  EXPECT_EQ(cache.Find("0:listed", now + std::chrono::seconds(60)), nullptr);
  EXPECT_EQ(cache.Find("0:no-ttl", now), nullptr);
  EXPECT_EQ(cache.Find("0:flaky", now), nullptr);  // a failure is asked again
  for (size_t i = 0; i < DnsCache::kMaxEntries + 5; ++i) cache.Put("0:n" + std::to_string(i), {}, 60, now);
  EXPECT_LE(cache.size(), DnsCache::kMaxEntries);
}

}  // namespace
}  // namespace postern::smtpd
