// mda/pipe_attr_test.cc — pipe(8) attributes (table-driven: what parses, what
// Postfix refuses and with which words), eol escapes and argv= macros.
#include "postern/mda/pipe_attr.h"

#include <gtest/gtest.h>

namespace postern::mda {
namespace {

using Args = std::vector<std::string>;

TEST(PipeAttr, ParsesDebianLines) {
  auto a = ParsePipeAttr({"flags=DRhu", "user=nobody:nogroup", "argv=/usr/lib/dovecot/dovecot-lda", "-f",
                          "${sender}", "-d", "${recipient}"},
                         {});
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->flags.delivered_to && a->flags.return_path && a->flags.fold_host && a->flags.fold_user);
  EXPECT_FALSE(a->flags.from_line || a->flags.final_delivery || a->flags.quote);
  EXPECT_EQ(a->user.name, "nobody");
  EXPECT_EQ(a->user.gid, *GroupByName("nogroup"));
  EXPECT_EQ(a->argv, (Args{"/usr/lib/dovecot/dovecot-lda", "-f", "${sender}", "-d", "${recipient}"}));
  EXPECT_EQ(a->eol, "\n");
  EXPECT_EQ(a->null_sender, "MAILER-DAEMON");

  // -o options before the attributes are master's; after argv= everything is the command's.
  a = ParsePipeAttr({"-o", "x=y", "-oa=b", "FLAGS=FX.>Bqo", "user=daemon", "size=1000", "eol=\\r\\n",
                     "null_sender=", "directory=/tmp", "chroot=/srv", "argv=uux", "-o", "flags=", "$nexthop!rmail"},
                    {});
  ASSERT_FALSE(a) << "unknown flag o";
  EXPECT_EQ(a.error(), "unknown flag: o");
  a = ParsePipeAttr({"-o", "x=y", "-oa=b", "FLAGS=FX.>Bq", "user=daemon", "size=1000", "eol=\\r\\n", "null_sender=",
                     "directory=/tmp", "chroot=/srv", "argv=uux", "-o", "flags=", "($recipient)"},
                    {});
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->flags.from_line && a->flags.final_delivery && a->flags.dot_stuff && a->flags.quote_from &&
              a->flags.blank_line && a->flags.quote);
  EXPECT_EQ(a->size_limit, 1000u);
  EXPECT_EQ(a->eol, "\r\n");
  EXPECT_EQ(a->null_sender, "");
  EXPECT_EQ(a->directory, "/tmp");
  EXPECT_EQ(a->chroot, "/srv");
  EXPECT_EQ(a->argv, (Args{"uux", "-o", "flags=", "($recipient)"}));
}

TEST(PipeAttr, RefusesWhatPostfixRefuses) {
  auto daemon = UserByName("daemon");
  ASSERT_TRUE(daemon);
  ForbiddenIds owner{daemon->uid, daemon->gid, "daemon"};
  struct Case {
    Args args;
    std::string error;
  } cases[] = {
      {{"user=nobody"}, "missing argv= command-line attribute"},
      {{"user=nobody", "argv="}, "missing argv= command-line attribute"},
      {{"argv=/bin/true"}, "missing user= command-line attribute"},
      {{"user=root", "argv=/bin/true"}, "user= command-line attribute specifies root privileges"},
      {{"user=nobody:root", "argv=/bin/true"}, "user= command-line attribute specifies privileged group id 0"},
      {{"user=daemon", "argv=/bin/true"}, "user= command-line attribute specifies mail system owner daemon"},
      {{"user=no-such-user-here", "argv=/bin/true"}, "unknown username: no-such-user-here"},
      {{"user=nobody:no-such-group", "argv=/bin/true"}, "unknown group: no-such-group"},
      {{"user=nobody", "size=12k", "argv=/bin/true"}, "bad size= value: 12k"},
      {{"user=nobody", "bogus=1", "argv=/bin/true"}, "unknown attribute name: bogus=1"},
      {{"user=nobody", "argv=/bin/echo", "${bogus}"}, "unknown macro name: \"bogus\""},
      {{"user=nobody", "argv=/bin/echo", "${sender"}, "missing '}' in \"${sender\""},
  };
  for (const auto& c : cases) {
    auto a = ParsePipeAttr(c.args, owner);
    ASSERT_FALSE(a) << c.error;
    EXPECT_EQ(a.error(), c.error);
  }
}

TEST(PipeAttr, Unescape) {
  EXPECT_EQ(Unescape("\\r\\n"), "\r\n");
  EXPECT_EQ(Unescape("\\101\\\\x\\t\\q"), "A\\x\tq");
  EXPECT_EQ(Unescape("\\0"), std::string(1, '\0'));
  EXPECT_EQ(Unescape("plain\\"), "plain\\");
}

TEST(PipeAttr, Macros) {
  struct Case {
    std::string arg;
    std::string shape;  // L:literal M:name ?/: conditional
  } cases[] = {
      {"plain", "L(plain)"},
      {"${sender}", "M(sender)"},
      {"-f$sender", "L(-f)M(sender)"},
      {"$(nexthop)!rmail", "M(nexthop)L(!rmail)"},
      {"$user@${domain}", "M(user)L(@)M(domain)"},
      {"cost $$5", "L(cost $5)"},
      {"end$", "L(end$)"},
      {"${extension?+}${extension}", "M(extension?+)M(extension)"},
      {"${sasl_username:anonymous}", "M(sasl_username:anonymous)"},
  };
  for (const auto& c : cases) {
    auto p = ParseMacros(c.arg);
    ASSERT_TRUE(p) << c.arg << ": " << p.error();
    std::string shape;
    for (const auto& m : *p)
      shape += m.macro ? "M(" + m.text + (m.cond ? std::string(1, m.cond) + m.cond_text : "") + ")" : "L(" + m.text + ")";
    EXPECT_EQ(shape, c.shape) << c.arg;
  }
  EXPECT_FALSE(ParseMacros("$-x"));
  EXPECT_TRUE(PerRecipientMacro("recipient"));
  EXPECT_TRUE(PerRecipientMacro("original_recipient"));
  EXPECT_FALSE(PerRecipientMacro("sender"));
  EXPECT_FALSE(PerRecipientMacro("nexthop"));
}

}  // namespace
}  // namespace postern::mda
