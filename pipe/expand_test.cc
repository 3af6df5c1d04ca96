// pipe/expand_test.cc — argv= macro expansion, table-driven: per-recipient
// multiplication, recipient_delimiter parts, h/q/u folding and quoting,
// conditional forms, and shell syntax that stays data.
#include "pipe/expand.h"

#include <gtest/gtest.h>

namespace postern::pipe {
namespace {

using Argv = std::vector<std::string>;

mda::PipeFlags Flags(std::string_view letters) {
  mda::PipeFlags f;
  for (char c : letters) {
    if (c == 'h') f.fold_host = true;
    if (c == 'q') f.quote = true;
    if (c == 'u') f.fold_user = true;
  }
  return f;
}

MacroValues Values() {
  MacroValues v;
  v.sender = "Sender@Example.ORG";
  v.nexthop = "Mail.Example.COM";
  v.size = "1234";
  v.client_address = "127.0.0.1";
  v.client_helo = "client.test";
  v.client_hostname = "localhost";
  v.client_protocol = "ESMTP";
  v.sasl_username = "joe";
  v.recipients = {{"Joe+Tag@Example.COM", "alias@example.net"}, {"ann@example.com", "ann@example.com"}};
  v.recipient_delimiter = "+";
  return v;
}

TEST(PipeExpand, Table) {
  struct Case {
    Argv argv;
    std::string flags;
    Argv want;
  } cases[] = {
      {{"/bin/lda", "-f", "${sender}", "-d", "${recipient}"}, "",
       {"/bin/lda", "-f", "Sender@Example.ORG", "-d", "Joe+Tag@Example.COM", "ann@example.com"}},
      {{"x", "$user", "${extension}", "$(mailbox)", "${domain}"}, "",
       {"x", "Joe", "ann", "Tag", "", "Joe+Tag", "ann", "Example.COM", "example.com"}},
      {{"x", "${user}@${nexthop}"}, "hu", {"x", "joe@mail.example.com", "ann@mail.example.com"}},
      {{"x", "${recipient}"}, "h", {"x", "Joe+Tag@example.com", "ann@example.com"}},
      {{"x", "${recipient}"}, "u", {"x", "joe+tag@Example.COM", "ann@example.com"}},
      {{"x", "$original_recipient", "$size"}, "", {"x", "alias@example.net", "ann@example.com", "1234"}},
      {{"x", "${client_address}/${client_helo}/${client_hostname}/${client_protocol}/${sasl_username}/${client_port}"},
       "",
       {"x", "127.0.0.1/client.test/localhost/ESMTP/joe/"}},
      {{"x", "${extension?+}${extension}", "${sasl_method:none}"}, "", {"x", "+Tag", "", "none"}},
  };
  for (const auto& c : cases) {
    auto got = ExpandArgv(c.argv, Values(), Flags(c.flags));
    ASSERT_TRUE(got) << got.error();
    EXPECT_EQ(*got, c.want) << c.argv[1] << " flags=" << c.flags;
  }
  // "$(" opens a macro; "touch /tmp/x" is no macro name: refused, not run.
  EXPECT_FALSE(ExpandArgv({"x", "$(touch /tmp/x)"}, Values(), {}));
  auto safe = ExpandArgv({"x", ";", "`id`", "$$HOME", "a b"}, Values(), {});
  ASSERT_TRUE(safe);
  EXPECT_EQ(*safe, (Argv{"x", ";", "`id`", "$HOME", "a b"}));
}

TEST(PipeExpand, QuotingAndNullSender) {
  MacroValues v = Values();
  v.sender = "john doe@example.org";
  v.recipients = {{"a b@Example.COM", "a b@Example.COM"}};
  auto q = ExpandArgv({"${sender}", "${recipient}", "${mailbox}"}, v, Flags("q"));
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, (Argv{"\"john doe\"@example.org", "\"a b\"@Example.COM", "a b"}));
  v.sender = "";  // null_sender= (empty): not quoted
  q = ExpandArgv({"-f", "${sender}"}, v, Flags("q"));
  ASSERT_TRUE(q);
  EXPECT_EQ(*q, (Argv{"-f", ""}));
}

TEST(PipeExpand, EmptyUserDropsTheElement) {
  MacroValues v = Values();
  v.recipient_delimiter = "";
  v.recipients = {{"@example.com", "@example.com"}, {"bob@example.com", "bob@example.com"}};
  auto got = ExpandArgv({"x", "user=${user}", "${domain}"}, v, {});
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, (Argv{"x", "user=bob", "example.com", "example.com"}));
}

}  // namespace
}  // namespace postern::pipe
