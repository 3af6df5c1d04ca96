// rewrite/virtual_test.cc — virtual_alias_maps expansion: lookup order,
// extension propagation, self-references, loops and limits.
#include "postern/rewrite/virtual.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "postern/config/maincf.h"

namespace postern::rewrite {
namespace {

using List = std::vector<std::string>;

VirtualAliases Make(const std::string& maps, VirtualSettings s = {}) {
  auto t = table::TableList::Open(maps);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error());
  if (s.local_domains.empty()) s.local_domains = {"local.test"};
  if (s.recipient_delimiter.empty()) s.recipient_delimiter = "+";
  return VirtualAliases(std::move(s), std::move(*t));
}

TEST(Virtual, Expansions) {
  const std::string maps =
      "inline:{ { team@v.test = a@x.test, b@y.test }, { nest@v.test = team@v.test, c@z.test },"
      " { self@v.test = self@v.test, copy@x.test }, { loop1@v.test = loop2@v.test },"
      " { loop2@v.test = loop1@v.test }, { dup@v.test = a@x.test, A@X.test, team@v.test },"
      " { @catch.test = box@x.test }, { bare = bare@elsewhere.test }, { ext@v.test = e@x.test } }";
  auto v = Make(maps);
  struct Case {
    std::string in;
    List out;
  } cases[] = {
      {"nobody@v.test", {"nobody@v.test"}},
      {"team@v.test", {"a@x.test", "b@y.test"}},
      {"TEAM@V.TEST", {"a@x.test", "b@y.test"}},
      {"nest@v.test", {"a@x.test", "b@y.test", "c@z.test"}},
      {"self@v.test", {"self@v.test", "copy@x.test"}},
      {"loop1@v.test", {"loop1@v.test"}},
      {"dup@v.test", {"a@x.test", "b@y.test"}},
      {"anyone@catch.test", {"box@x.test"}},
      {"anyone+tag@catch.test", {"box+tag@x.test"}},
      {"bare@local.test", {"bare@elsewhere.test"}},
      {"bare@other.test", {"bare@other.test"}},
      {"ext+foo@v.test", {"e+foo@x.test"}},
      {"team+foo@v.test", {"a+foo@x.test", "b+foo@y.test"}},
  };
  for (const auto& c : cases) {
    auto r = v.Expand(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error();
    EXPECT_EQ(*r, c.out) << c.in;
  }
}

// As Postfix: a pattern table is asked about the whole address only, never
// about user@domain without the extension, the bare user or @domain.
TEST(Virtual, PatternTablesSeeTheWholeAddressOnly) {
  char tmpl[] = "/tmp/virtual_test.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  const std::string rules = "/^@catch\\.test$/ partial-domain@x.test\n/^(bare|base)$/ partial-user@x.test\n"
                            "/^base@v\\.test$/ partial-stripped@x.test\n/^(.+)@whole\\.test$/ $1@x.test\n";
  ASSERT_EQ(write(fd, rules.data(), rules.size()), static_cast<ssize_t>(rules.size()));
  close(fd);
  auto v = Make(std::string("regexp:") + tmpl);
  unlink(tmpl);
  for (const char* unchanged : {"anyone@catch.test", "bare@local.test", "base+ext@v.test"})
    EXPECT_EQ(*v.Expand(unchanged), List{unchanged}) << unchanged;
  EXPECT_EQ(*v.Expand("joe@whole.test"), List{"joe@x.test"});
}

TEST(Virtual, NoPropagation) {
  VirtualSettings s;
  s.propagate_extension = false;
  auto v = Make("inline:{ a@v.test=b@x.test }", s);
  EXPECT_EQ(*v.Expand("a+ext@v.test"), List{"b@x.test"});
}

TEST(Virtual, Limits) {
  VirtualSettings s;
  s.expansion_limit = 2;
  auto wide = Make("inline:{ { w@v.test = 1@x, 2@x, 3@x } }", s);
  EXPECT_FALSE(wide.Expand("w@v.test").ok());
  EXPECT_TRUE(wide.Expand("other@v.test").ok());
  VirtualSettings d;
  d.recursion_limit = 2;
  auto deep = Make("inline:{ a@v=b@v, b@v=c@v, c@v=d@v, x@v=y@v }", d);
  auto r = deep.Expand("a@v");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("nesting for a@v"), std::string::npos) << r.error();
  EXPECT_EQ(*deep.Expand("x@v"), List{"y@v"});
}

TEST(Virtual, FromConfig) {
  auto broken = config::Config::Parse("virtual_alias_maps = lmdb:/nonexistent/postern/virtual\n");
  ASSERT_TRUE(broken.ok());
  // A table that does not open defers the mail that needs it (Postfix's surrogate).
  auto surrogate = VirtualAliases::FromConfig(*broken);
  ASSERT_TRUE(surrogate.ok()) << surrogate.error();
  EXPECT_FALSE(surrogate->Expand("a@b").ok());
  auto cfg = config::Config::Parse(
      "myhostname = mx.example\nmydestination = $myhostname, localhost\nrecipient_delimiter = -\n"
      "virtual_alias_maps = inline:{ { u = local@x }, { a@v = b@w } }\nvirtual_alias_recursion_limit = 0\n");
  ASSERT_TRUE(cfg.ok());
  EXPECT_FALSE(VirtualAliases::FromConfig(*cfg).ok());  // limits must be at least 1
  cfg->Override("virtual_alias_recursion_limit", "5");
  auto v = VirtualAliases::FromConfig(*cfg);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(*v->Expand("u@mx.example"), List{"local@x"});  // bare user: local domains only
  EXPECT_EQ(*v->Expand("u-x@localhost"), List{"local-x@x"});
  EXPECT_EQ(*v->Expand("u@other"), List{"u@other"});
  EXPECT_EQ(*v->Expand("a-1@v"), List{"b-1@w"});
}

TEST(Virtual, EmptyMapsKeepTheAddress) {
  VirtualAliases v;
  EXPECT_EQ(*v.Expand("a@b"), List{"a@b"});
}

TEST(Virtual, SplitAddressList) {
  EXPECT_EQ(SplitAddressList(" a@x, <b@y>\tc ,, \"d e\"@z "), (List{"a@x", "b@y", "c", "\"d e\"@z"}));
  EXPECT_EQ(SplitAddressList(""), List{});
}

TEST(Virtual, SplitExtension) {
  std::string base, ext;
  char d = 0;
  EXPECT_TRUE(SplitExtension("u+e+f@d", "+-", &base, &ext, &d));
  EXPECT_EQ(base, "u@d");
  EXPECT_EQ(ext, "e+f");
  EXPECT_EQ(d, '+');
  EXPECT_TRUE(SplitExtension("u-x", "+-", &base, &ext, &d));
  EXPECT_EQ(base, "u");
  EXPECT_FALSE(SplitExtension("+u@d", "+", &base, &ext, &d));
  EXPECT_FALSE(SplitExtension("u@d", "", &base, &ext, &d));
}

TEST(Virtual, OrcptFor) {
  EXPECT_EQ(OrcptFor("a+b=c@d.test"), "rfc822;a+b=c@d.test");  // decoded: xtext is for the wire
  EXPECT_EQ(OrcptFor("plain@d"), "rfc822;plain@d");
}

}  // namespace
}  // namespace postern::rewrite
