// verify/cache_entry_test.cc — verify(8)'s cache keys, values and refresh
// rule, table-driven.
#include "verify/cache_entry.h"

#include <gtest/gtest.h>

namespace postern::verify {
namespace {

using ipc::VerifyKind;
using ipc::VerifyStatus;

TEST(CacheEntry, KeysAreSmtpfs) {
  EXPECT_EQ(AddressKey(VerifyKind::kRecipient, "User@Example.COM"), "rcpt:user@example.com");
  EXPECT_EQ(AddressKey(VerifyKind::kSender, "a@b.test"), "sav:a@b.test");
  EXPECT_EQ(DomainKey("a@B.test"), "sav:b.test");
  EXPECT_EQ(DomainKey("nodomain"), "");
  EXPECT_EQ(DomainKey("a@"), "");
}

TEST(CacheEntry, ValuesRoundTripAndRefuseGarbage) {
  const ipc::VerifyAnswer answers[] = {
      {VerifyStatus::kDeliverable, "host x[127.0.0.1] said: 250 2.1.5 Ok (in reply to RCPT TO command)"},
      {VerifyStatus::kUndeliverable, "host x said: 550 5.1.1 no"},
      {VerifyStatus::kUnknown, ""},
  };
  for (const auto& a : answers) EXPECT_EQ(ParseValue(FormatValue(a)), a);
  EXPECT_EQ(ParseValue("5"), (ipc::VerifyAnswer{VerifyStatus::kUndeliverable, ""}));  // smtpf's bare digit
  for (const char* bad : {"", "3 x", "0 in progress", "25 x", "x"}) EXPECT_FALSE(ParseValue(bad)) << bad;
}

TEST(CacheEntry, ExpiryAndRefresh) {
  Lifetimes l;
  l.positive_expire = 1000, l.positive_refresh = 100, l.negative_expire = 50, l.negative_refresh = 10;
  EXPECT_EQ(ExpireTime(VerifyStatus::kDeliverable, l), 1000u);
  EXPECT_EQ(ExpireTime(VerifyStatus::kUndeliverable, l), 50u);
  EXPECT_EQ(ExpireTime(VerifyStatus::kUnknown, l), 50u);
  struct Case {
    VerifyStatus s;
    std::time_t written, now;
    bool refresh;
  } cases[] = {
      {VerifyStatus::kDeliverable, 5000, 5099, false},
      {VerifyStatus::kDeliverable, 5000, 5100, true},
      {VerifyStatus::kUndeliverable, 5000, 5009, false},
      {VerifyStatus::kUndeliverable, 5000, 5010, true},
  };
  for (const Case& c : cases) {
    std::time_t expires = c.written + std::time_t(ExpireTime(c.s, l));
    EXPECT_EQ(NeedsRefresh(c.s, expires, c.now, l), c.refresh) << c.now;
  }
  l.negative_cache = false;  // failures are not kept: every query probes
  EXPECT_EQ(ExpireTime(VerifyStatus::kUndeliverable, l), 0u);
  EXPECT_EQ(ExpireTime(VerifyStatus::kDeliverable, l), 1000u);
}

TEST(CacheEntry, DomainResultOfASenderProbe) {
  // The domain's server answered RCPT: the domain works, whatever it said of the user.
  auto said = DomainResult({VerifyStatus::kUndeliverable, "host x said: 550 5.1.1 no (in reply to RCPT TO command)"});
  EXPECT_EQ(said.status, VerifyStatus::kDeliverable);
  // No server at all: the domain's own failure.
  auto none = DomainResult({VerifyStatus::kUndeliverable, "Host or domain name not found"});
  EXPECT_EQ(none.status, VerifyStatus::kUndeliverable);
}

}  // namespace
}  // namespace postern::verify
