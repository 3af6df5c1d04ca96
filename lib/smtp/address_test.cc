// smtp/address_test.cc — table tests for path parsing, including the relay
// battery of issue 5 and the SMTPUTF8 gate.
#include "postern/smtp/address.h"

#include <gtest/gtest.h>

namespace postern::smtp {
namespace {

struct Case {
  const char* path;
  bool ok;
  const char* local;
  const char* domain;
  const char* canonical;
};

void Check(const Case& c, const PathOptions& opt) {
  auto r = ParsePath(c.path, opt);
  ASSERT_EQ(r.ok(), c.ok) << c.path << ": " << r.error();
  if (!c.ok) {
    EXPECT_FALSE(r.error().empty()) << c.path;
    return;
  }
  EXPECT_EQ(r->local, c.local) << c.path;
  EXPECT_EQ(r->domain, c.domain) << c.path;
  EXPECT_EQ(r->Canonical(), c.canonical) << c.path;
}

TEST(Address, ValidPaths) {
  const Case cases[] = {
      {"<user@example.org>", true, "user", "example.org", "user@example.org"},
      {"<User.Name+tag@Example.ORG>", true, "User.Name+tag", "Example.ORG", "User.Name+tag@Example.ORG"},
      {"<\"a b\"@example.org>", true, "a b", "example.org", "\"a b\"@example.org"},
      {"<\"a\\\"b\\\\c\"@x.test>", true, "a\"b\\c", "x.test", "\"a\\\"b\\\\c\"@x.test"},
      {"<\"plain\"@x.test>", true, "plain", "x.test", "plain@x.test"},  // needless quotes dropped
      {"<\"\"@x.test>", true, "", "x.test", "\"\"@x.test"},
      {"<u@[192.0.2.1]>", true, "u", "[192.0.2.1]", "u@[192.0.2.1]"},
      {"<u@[IPv6:2001:db8::1]>", true, "u", "[IPv6:2001:db8::1]", "u@[IPv6:2001:db8::1]"},
      {"<u@[ipv6:::1]>", true, "u", "[ipv6:::1]", "u@[ipv6:::1]"},
      {"<@a.test,@b.test:u@c.test>", true, "u", "c.test", "u@c.test"},
      {"<postmaster>", true, "postmaster", "", "postmaster"},
      {"<PostMaster>", true, "PostMaster", "", "PostMaster"},
      {"<u@localhost>", true, "u", "localhost", "u@localhost"},
      {"<u@a-b.c9.test>", true, "u", "a-b.c9.test", "u@a-b.c9.test"},
      {"u@example.org", true, "u", "example.org", "u@example.org"},  // unbracketed (caller allowed it)
  };
  for (const auto& c : cases) Check(c, PathOptions{});
}

TEST(Address, SyntaxErrors) {
  const Case cases[] = {
      {"<user>", false, "", "", ""},               // no domain (bare local not allowed here)
      {"<@example.org>", false, "", "", ""},
      {"<user@>", false, "", "", ""},
      {"<user@@example.org>", false, "", "", ""},  // empty local part... "user@" then "" domain
      {"<.user@x.test>", false, "", "", ""},
      {"<user.@x.test>", false, "", "", ""},
      {"<us..er@x.test>", false, "", "", ""},
      {"<us er@x.test>", false, "", "", ""},
      {"<us\"er@x.test>", false, "", "", ""},
      {"<\"unterminated@x.test>", false, "", "", ""},
      {"<\"a\"b@x.test>", false, "", "", ""},
      {"<\"a\x01\"@x.test>", false, "", "", ""},
      {"<u@-x.test>", false, "", "", ""},
      {"<u@x-.test>", false, "", "", ""},
      {"<u@x..test>", false, "", "", ""},
      {"<u@x.test.>", false, "", "", ""},
      {"<u@x_y.test>", false, "", "", ""},
      {"<u@[192.0.2.256]>", false, "", "", ""},
      {"<u@[192.0.2]>", false, "", "", ""},
      {"<u@[IPv6:2001:db8::g]>", false, "", "", ""},
      {"<u@[2001:db8::1]>", false, "", "", ""},     // IPv6 needs its tag
      {"<u@[x:y]>", false, "", "", ""},             // general literals are not accepted
      {"<u@[]>", false, "", "", ""},
      {"<@a.test:>", false, "", "", ""},
      {"<@a.test,u@c.test>", false, "", "", ""},
      {"<@a.test,:u@c.test>", false, "", "", ""},
      {"<@:u@c.test>", false, "", "", ""},
      {"<u@x.test", false, "", "", ""},
      {"<", false, "", "", ""},
      {"<u@x.test> ", false, "", "", ""},
      {"<u@\xc3\xa9.test>", false, "", "", ""},       // UTF-8 without SMTPUTF8
      {"<\xc3\xa9@x.test>", false, "", "", ""},
  };
  for (const auto& c : cases) Check(c, PathOptions{});
}

TEST(Address, NullPath) {
  auto r = ParsePath("<>", PathOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->null);
  EXPECT_EQ(r->Canonical(), "");
  PathOptions rcpt;
  rcpt.allow_null = false;
  EXPECT_FALSE(ParsePath("<>", rcpt).ok());
}

TEST(Address, LengthLimits) {
  std::string local64(64, 'a'), local65(65, 'a');
  EXPECT_TRUE(ParsePath("<" + local64 + "@x.test>", {}).ok());
  EXPECT_FALSE(ParsePath("<" + local65 + "@x.test>", {}).ok());
  std::string label63(63, 'b'), label64(64, 'b');
  EXPECT_TRUE(ParsePath("<u@" + label63 + ".test>", {}).ok());
  EXPECT_FALSE(ParsePath("<u@" + label64 + ".test>", {}).ok());
  // 4 labels of 63 + 3 dots = 255 octets: a valid domain, but the mailbox
  // would exceed 254, so it is refused as an address.
  std::string d255 = label63 + "." + label63 + "." + label63 + "." + label63;
  EXPECT_TRUE(IsValidDomain(d255, false));
  EXPECT_FALSE(IsValidDomain(d255 + "x", false));
  EXPECT_FALSE(ParsePath("<u@" + d255 + ">", {}).ok());
  std::string d250 = label63 + "." + label63 + "." + label63 + "." + std::string(58, 'c');
  EXPECT_TRUE(ParsePath("<abc@" + d250 + ">", {}).ok());   // 254 octets
  EXPECT_FALSE(ParsePath("<abcd@" + d250 + ">", {}).ok());  // 255 octets
  EXPECT_FALSE(ParsePath("<" + std::string(300, 'a') + ">", {}).ok());
  // Unquoted user@site@relay is quoted canonically; the quoted form must fit too.
  std::string at62 = std::string(30, 'a') + "@" + std::string(31, 'b');
  EXPECT_TRUE(ParsePath("<" + at62 + "@x.test>", {}).ok());
  EXPECT_FALSE(ParsePath("<" + at62 + "b@x.test>", {}).ok());
}

TEST(Address, Smtputf8) {
  PathOptions utf8;
  utf8.smtputf8 = true;
  auto r = ParsePath("<j\xc3\xb6rg@b\xc3\xbc" "cher.test>", utf8);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r->utf8);
  EXPECT_EQ(r->Canonical(), "j\xc3\xb6rg@b\xc3\xbc" "cher.test");
  EXPECT_FALSE(ParsePath("<j\xc3\xb6rg@x.test>", PathOptions{}).ok());
  EXPECT_FALSE(ParsePath("<a\xff@x.test>", utf8).ok());          // not UTF-8
  EXPECT_FALSE(ParsePath("<a\xc0\xaf@x.test>", utf8).ok());      // overlong
  EXPECT_FALSE(ParsePath("<a\xed\xa0\x80@x.test>", utf8).ok());  // surrogate
  EXPECT_TRUE(ParsePath("<\"\xe2\x82\xac x\"@x.test>", utf8).ok());
  auto ascii = ParsePath("<a@x.test>", utf8);
  ASSERT_TRUE(ascii.ok());
  EXPECT_FALSE(ascii->utf8);
}

TEST(Address, BareLocalWhenAllowed) {
  PathOptions opt;
  opt.allow_bare_local = true;
  auto r = ParsePath("<user>", opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->local, "user");
  EXPECT_EQ(r->domain, "");
}

// Issue 5's relay battery: each must parse (a 501 is not how Postfix refuses
// them) and must be recognisable as a relay attempt, either by its domain or
// by routing characters in the local part.
TEST(Address, RelayBatteryIsRecognisable) {
  struct {
    const char* path;
    const char* local;
    const char* domain;
    bool routing;  // HasRoutingChars(local)
    bool source_route;
    const char* canonical;
  } cases[] = {
      {"<user@other.test>", "user", "other.test", false, false, "user@other.test"},
      {"<user%other.test@[127.0.0.1]>", "user%other.test", "[127.0.0.1]", true, false,
       "user%other.test@[127.0.0.1]"},
      {"<\"user@other.test\"@localhost>", "user@other.test", "localhost", true, false,
       "\"user@other.test\"@localhost"},
      {"<@localhost:user@other.test>", "user", "other.test", false, true, "user@other.test"},
      {"<user@other.test@localhost>", "user@other.test", "localhost", true, false,
       "\"user@other.test\"@localhost"},
      {"<other.test!user@localhost>", "other.test!user", "localhost", true, false,
       "other.test!user@localhost"},
      {"<user@[192.0.2.1]>", "user", "[192.0.2.1]", false, false, "user@[192.0.2.1]"},
  };
  for (const auto& c : cases) {
    auto r = ParsePath(c.path, PathOptions{});
    ASSERT_TRUE(r.ok()) << c.path << ": " << r.error();
    EXPECT_EQ(r->local, c.local) << c.path;
    EXPECT_EQ(r->domain, c.domain) << c.path;
    EXPECT_EQ(HasRoutingChars(r->local), c.routing) << c.path;
    EXPECT_EQ(r->source_route, c.source_route) << c.path;
    EXPECT_EQ(r->Canonical(), c.canonical) << c.path;
    // The canonical form parses back to the same address.
    auto again = ParsePath("<" + r->Canonical() + ">", PathOptions{});
    ASSERT_TRUE(again.ok()) << r->Canonical();
    EXPECT_EQ(again->local, r->local);
    EXPECT_EQ(again->domain, r->domain);
  }
}

TEST(Address, QuoteLocalPart) {
  struct { const char* in; const char* out; } cases[] = {
      {"a.b", "a.b"}, {"a b", "\"a b\""}, {"a..b", "\"a..b\""}, {".a", "\".a\""},
      {"a\"b", "\"a\\\"b\""}, {"a\\b", "\"a\\\\b\""}, {"", "\"\""}, {"a@b", "\"a@b\""},
  };
  for (const auto& c : cases) EXPECT_EQ(QuoteLocalPart(c.in), c.out) << c.in;
}

TEST(Address, AddressLiterals) {
  struct { const char* in; bool ok; } cases[] = {
      {"[127.0.0.1]", true}, {"[IPv6:::1]", true}, {"[IPv6:::ffff:192.0.2.1]", true},
      {"[1.2.3]", false}, {"[01.2.3.4]", false}, {"[IPv6:1:2:3:4:5:6:7:8:9]", false},
      {"127.0.0.1", false}, {"[127.0.0.1", false}, {"[IPv6:]", false}, {"[]", false},
  };
  for (const auto& c : cases) EXPECT_EQ(IsValidAddressLiteral(c.in), c.ok) << c.in;
}

}  // namespace
}  // namespace postern::smtp
