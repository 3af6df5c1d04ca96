// sendmail/addrlist_test.cc — the To/Cc/Bcc parser against the answers of
// Python's email.utils.getaddresses for the same values.
#include "sendmail/addrlist.h"

#include <gtest/gtest.h>

namespace postern::sendmail {
namespace {

TEST(AddressList, MatchesPythonGetaddresses) {
  struct Case {
    const char* value;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"a@example.org", {"a@example.org"}},
      {"a@example.org, b@example.org", {"a@example.org", "b@example.org"}},
      {"Alice <a@example.org>", {"a@example.org"}},
      {"\"Doe, John\" <j@example.org>, b@x.test", {"j@example.org", "b@x.test"}},
      {"j@example.org (John, the one)", {"j@example.org"}},
      {"(lead comment) John Q. Public <jqp@x.test>", {"jqp@x.test"}},
      {"undisclosed-recipients:;", {}},
      {"Team: a@x.test, B <b@x.test>;, c@x.test", {"a@x.test", "b@x.test", "c@x.test"}},
      {"<@relay.test:u@x.test>", {"u@x.test"}},
      {"\"quoted local\"@x.test", {"\"quoted local\"@x.test"}},
      {"u@[192.0.2.1]", {"u@[192.0.2.1]"}},
      {"localuser", {"localuser"}},
      {" , ,a@x.test,, ", {"a@x.test"}},
      {"", {}},
  };
  for (const auto& c : cases) {
    auto r = ParseAddressList(c.value);
    ASSERT_TRUE(r.ok()) << c.value << ": " << r.error();
    EXPECT_EQ(*r, c.want) << c.value;
  }
}

TEST(AddressList, RejectsUnbalancedInput) {
  for (const char* v : {"a@x.test (open", "\"open@x.test", "Name <a@x.test", "u@[1.2.3.4"})
    EXPECT_FALSE(ParseAddressList(v).ok()) << v;
  EXPECT_FALSE(ParseAddressList(std::string(kMaxHeaderValue + 1, 'a')).ok());
}

TEST(AddressList, UnfoldsContinuationLines) {
  EXPECT_EQ(Unfold("a@x.test,\r\n b@x.test,\n\tc@x.test"), "a@x.test, b@x.test,\tc@x.test");
  auto r = ParseAddressList(Unfold("A <a@x.test>,\r\n  B\r\n <b@x.test>"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<std::string>{"a@x.test", "b@x.test"}));
}

}  // namespace
}  // namespace postern::sendmail
