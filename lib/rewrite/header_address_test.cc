// rewrite/header_address_test.cc — finding and rewriting the addresses of
// one header: display names, comments, groups, quoting, folding.
#include "postern/rewrite/header_address.h"

#include <gtest/gtest.h>

namespace postern::rewrite {
namespace {

// Rewrites a@x to new@y, and "a b"@x to c d@y.
Result<std::string> Fn(std::string_view a) {
  if (a == "a@x") return std::string("new@y");
  if (a == "a b@x") return std::string("c d@y");
  if (a == "fail@x") return Err("table failed");
  return std::string(a);
}

TEST(HeaderAddress, Rewrites) {
  struct {
    std::string in;
    std::optional<std::string> want;
  } cases[] = {
      {" a@x", " new@y"},
      {" <a@x>", " <new@y>"},
      {" Joe <a@x>", " Joe <new@y>"},
      {" \"Doe, Joe\" <a@x>, other@x", " \"Doe, Joe\" <new@y>, other@x"},
      {" a@x (Joe)", " new@y (Joe)"},
      {" b@x,\r\n\ta@x", " b@x,\r\n\tnew@y"},
      {" team: a@x, b@x;", " team: new@y, b@x;"},
      {" undisclosed-recipients:;", std::nullopt},
      {" \"a b\"@x", " \"c d\"@y"},
      {" <@relay:a@x>", " <@relay:new@y>"},
      {" b@x", std::nullopt},
      {" Joe <>", std::nullopt},
      {" \"a@x\" <b@x>", std::nullopt},  // an address in a display name is no address
      {" (a@x) b@x", std::nullopt},
      {" unterminated <a@x", std::nullopt},
  };
  for (const auto& c : cases) {
    auto r = RewriteHeaderAddresses(c.in, Fn);
    ASSERT_TRUE(r.ok()) << c.in;
    EXPECT_EQ(*r, c.want) << c.in;
  }
  EXPECT_FALSE(RewriteHeaderAddresses(" fail@x", Fn).ok());
}

TEST(HeaderAddress, Classes) {
  EXPECT_EQ(HeaderAddressClass("From"), kHeaderSender);
  EXPECT_EQ(HeaderAddressClass("reply-to"), kHeaderSender);
  EXPECT_EQ(HeaderAddressClass("Resent-Sender"), kHeaderSender);
  EXPECT_EQ(HeaderAddressClass("To"), kHeaderRecipient);
  EXPECT_EQ(HeaderAddressClass("CC"), kHeaderRecipient);
  EXPECT_EQ(HeaderAddressClass("Subject"), std::nullopt);
  EXPECT_EQ(HeaderAddressClass("Received"), std::nullopt);
}

TEST(HeaderAddress, WholeHeader) {
  auto fn = [](std::string_view a, AddressClass c) -> Result<std::string> {
    return c == kHeaderSender ? Fn(a) : Result<std::string>(std::string(a));
  };
  auto all = [](AddressClass) { return true; };
  struct {
    std::string in, want;
  } cases[] = {
      {"From: a@x\r\n", "From: new@y\r\n"},
      {"from :\r\n\t<a@x>\r\n", "from :\r\n\t<new@y>\r\n"},
      {"To: a@x\r\n", "To: a@x\r\n"},  // fn leaves recipients alone
      {"Subject: a@x\r\n", "Subject: a@x\r\n"},
      {"Reply-To: a@x", "Reply-To: new@y"},  // no line end at the end of content
  };
  for (const auto& c : cases) {
    std::string h = c.in;
    ASSERT_TRUE(RewriteAddressHeader(&h, all, fn).ok()) << c.in;
    EXPECT_EQ(h, c.want) << c.in;
  }
  std::string h = "From: a@x\r\n";
  ASSERT_TRUE(RewriteAddressHeader(&h, [](AddressClass) { return false; }, fn).ok());
  EXPECT_EQ(h, "From: a@x\r\n");
  h = "From: fail@x\r\n";
  EXPECT_FALSE(RewriteAddressHeader(&h, all, fn).ok());
  EXPECT_EQ(h, "From: fail@x\r\n");
}

}  // namespace
}  // namespace postern::rewrite
