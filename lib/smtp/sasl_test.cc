// smtp/sasl_test.cc — base64, AUTH command and PLAIN parsing: table-driven,
// with the limits and the malformed inputs a hostile client would send.
#include "postern/smtp/sasl.h"

#include <gtest/gtest.h>

namespace postern::smtp {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string s;
  for (int i = 0; i < 70; ++i) {
    auto back = Base64Decode(Base64Encode(s), 1000);
    ASSERT_TRUE(back) << i;
    EXPECT_EQ(*back, s);
    s.push_back(char(i * 37));
  }
}

TEST(Base64, KnownValues) {
  struct Case {
    std::string_view plain, encoded;
  } cases[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"},
               {"Username:", "VXNlcm5hbWU6"}, {"Password:", "UGFzc3dvcmQ6"}};
  for (const auto& c : cases) {
    EXPECT_EQ(Base64Encode(c.plain), c.encoded);
    EXPECT_EQ(Base64Decode(c.encoded, 100), std::optional<std::string>(std::string(c.plain)));
  }
}

TEST(Base64, RejectsMalformed) {
  for (std::string_view bad : {"Zg", "Zg=", "Z===", "=Zg=", "Zg==Zg==", "Zm9v YmFy", "Zm9\n", "Zh==",
                               "Zm9=", "Zm!v", "Zm=v"}) {
    EXPECT_FALSE(Base64Decode(bad, 100)) << bad;
  }
}

TEST(Base64, HonoursTheOutputLimit) {
  EXPECT_TRUE(Base64Decode("Zm9vYmFy", 6));
  EXPECT_FALSE(Base64Decode("Zm9vYmFy", 5));
  EXPECT_TRUE(Base64Decode("Zm8=", 2));
  EXPECT_FALSE(Base64Decode("Zm8=", 1));
  EXPECT_FALSE(Base64Decode(std::string(4000, 'A'), 767));
}

TEST(AuthCommand, Parses) {
  struct Case {
    std::string_view arg;
    bool ok;
    std::string_view mech;
    std::optional<std::string> initial;
  } cases[] = {
      {"PLAIN", true, "PLAIN", std::nullopt},
      {"plain AGEAYg==", true, "PLAIN", "AGEAYg=="},
      {"LOGIN =", true, "LOGIN", "="},
      {"  login  ", true, "LOGIN", std::nullopt},
      {"CRAM-MD5", true, "CRAM-MD5", std::nullopt},
      {"", false, "", std::nullopt},
      {"PL@IN", false, "", std::nullopt},
      {"ABCDEFGHIJKLMNOPQRSTU", false, "", std::nullopt},  // 21 characters
      {"PLAIN a b", false, "", std::nullopt},
      {"PLAIN " + std::string(kSaslResponseMax + 1, 'A'), false, "", std::nullopt},
  };
  for (const auto& c : cases) {
    auto r = ParseAuthCommand(c.arg);
    ASSERT_EQ(bool(r), c.ok) << c.arg;
    if (!r) continue;
    EXPECT_EQ(r->mechanism, c.mech);
    EXPECT_EQ(r->initial, c.initial);
  }
}

TEST(Plain, ParsesFieldsAndRejectsMalformed) {
  using namespace std::string_literals;
  auto p = ParsePlain("\0alice\0secret"s);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authzid, "");
  EXPECT_EQ(p->authcid, "alice");
  EXPECT_EQ(p->passwd, "secret");
  p = ParsePlain("boss\0alice\0pw\xc3\xa9"s);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->authzid, "boss");
  EXPECT_EQ(p->passwd, "pw\xc3\xa9");
  for (std::string bad : {"alice"s, "\0alice"s, "\0\0pw"s, "\0alice\0"s, "\0alice\0pw\0x"s,
                          "\0"s + std::string(256, 'u') + "\0pw"s, "\0u\0"s + std::string(256, 'p')}) {
    EXPECT_FALSE(ParsePlain(bad)) << bad.size();
  }
}

TEST(Plain, EncodeMatchesRfc4616Example) {
  // RFC 4616 §4: "\0tim\0tanstaaftanstaaf".
  EXPECT_EQ(EncodePlain("", "tim", "tanstaaftanstaaf"), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  auto back = ParsePlain(*Base64Decode(EncodePlain("z", "u", "p"), 1000));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->authzid + "|" + back->authcid + "|" + back->passwd, "z|u|p");
}

TEST(Sasl, CancelAndFields) {
  EXPECT_TRUE(IsSaslCancel("*"));
  EXPECT_FALSE(IsSaslCancel("**"));
  EXPECT_TRUE(IsValidSaslField("alice"));
  EXPECT_FALSE(IsValidSaslField(std::string(256, 'a')));
  EXPECT_FALSE(IsValidSaslField(std::string("a\0b", 3)));
  EXPECT_TRUE(IsValidSaslUsername("alice@example.org"));
  EXPECT_TRUE(IsValidSaslUsername("j\xc3\xb6rg"));
  for (std::string_view bad : {"", "a\r\nb", "a\tb", "a\x7f"}) EXPECT_FALSE(IsValidSaslUsername(bad)) << bad;
}

}  // namespace
}  // namespace postern::smtp
