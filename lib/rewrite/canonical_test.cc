// rewrite/canonical_test.cc — canonical maps (lookup order with
// recipient_delimiter, @domain results, extension propagation, recursion),
// classes, masquerading with exceptions, and the rewriter's order.
#include "postern/rewrite/canonical.h"

#include <gtest/gtest.h>

#include "postern/config/maincf.h"

namespace postern::rewrite {
namespace {

AddressMap Map(const std::string& maps, bool propagate = true) {
  auto t = table::TableList::Open(maps);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error());
  MapSettings s;
  s.recipient_delimiter = "+";
  s.propagate_extension = propagate;
  s.local_domains = {"local.test"};
  return AddressMap("canonical_maps", std::move(s), std::move(*t));
}

TEST(Canonical, LookupOrder) {
  // Postfix's canonical(5): user+ext@domain, user@domain, user+ext, user
  // (local domains only), @domain; a result "@d" keeps the local part.
  auto m = Map(
      "inline:{ { joe+x@a.test = exact@r.test }, { joe@a.test = joe.full@r.test }, { ann+y = ann-y@r.test },"
      " { ann = ann.bare@r.test }, { @b.test = @r.test }, { @c.test = catch@r.test }, { loop@a.test = loop2@a.test },"
      " { loop2@a.test = loop@a.test }, { one@a.test = two@a.test }, { two@a.test = three@a.test } }");
  struct {
    std::string in, want;
  } cases[] = {
      {"joe+x@a.test", "exact@r.test"},
      {"joe+z@a.test", "joe.full+z@r.test"},  // unmatched extension propagated
      {"joe@a.test", "joe.full@r.test"},
      {"JOE@A.TEST", "joe.full@r.test"},
      {"ann+y@local.test", "ann-y@r.test"},
      {"ann+q@local.test", "ann.bare+q@r.test"},
      {"ann@elsewhere.test", "ann@elsewhere.test"},  // bare user: local domains only
      {"who@b.test", "who@r.test"},
      {"who+e@b.test", "who+e@r.test"},
      {"who@c.test", "catch@r.test"},
      {"one@a.test", "three@a.test"},  // again until it no longer changes
      {"nobody@a.test", "nobody@a.test"},
      {"", ""},
  };
  for (const auto& c : cases) {
    auto r = m.Map(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error();
    EXPECT_EQ(*r, c.want) << c.in;
  }
  EXPECT_TRUE(m.Map("loop@a.test").ok());  // a loop ends after Postfix's 10 rounds
}

TEST(Canonical, NoPropagation) {
  auto m = Map("inline:{ { joe@a.test = full@r.test } }", false);
  EXPECT_EQ(*m.Map("joe+z@a.test"), "full@r.test");
}

TEST(Canonical, Classes) {
  EXPECT_EQ(*ParseClasses({"envelope_sender", "header_recipient"}), unsigned(kEnvelopeSender | kHeaderRecipient));
  EXPECT_EQ(*ParseClasses({}), 0u);
  EXPECT_FALSE(ParseClasses({"envelope_sender", "body"}).ok());
}

TEST(Canonical, Masquerade) {
  Masquerade m{{"!secure.example.com", "example.com", "other.test"}, {"root"}};
  struct {
    std::string in, want;
  } cases[] = {
      {"joe@host.example.com", "joe@example.com"},
      {"joe@a.b.example.com", "joe@example.com"},
      {"joe@example.com", "joe@example.com"},
      {"joe@secure.example.com", "joe@secure.example.com"},  // "!" exception
      {"joe@x.secure.example.com", "joe@x.secure.example.com"},
      {"root@host.example.com", "root@host.example.com"},  // masquerade_exceptions
      {"joe@notexample.com", "joe@notexample.com"},
      {"joe@mx.other.test", "joe@other.test"},
      {"joe", "joe"},
  };
  for (const auto& c : cases) EXPECT_EQ(m.Apply(c.in), c.want) << c.in;
}

// The specific map first, then canonical_maps, then masquerading; each only
// for its classes.
TEST(Canonical, RewriterOrderAndClasses) {
  AddressRewriter::Maps m;
  m.sender = Map("inline:{ { s@a.test = s2@a.test } }");
  m.recipient = Map("inline:{ { r@a.test = r2@a.test } }");
  m.canonical = Map("inline:{ { s2@a.test = s3@host.a.test }, { r2@a.test = r3@host.a.test } }");
  m.sender_classes = kEnvelopeSender;
  m.recipient_classes = kEnvelopeRecipient | kHeaderRecipient;
  m.canonical_classes = kEnvelopeSender | kEnvelopeRecipient | kHeaderSender | kHeaderRecipient;
  m.masquerade = Masquerade{{"a.test"}, {}};
  m.masquerade_classes = kEnvelopeSender | kHeaderSender;
  AddressRewriter rw(std::move(m));
  EXPECT_EQ(*rw.Rewrite("s@a.test", kEnvelopeSender), "s3@a.test");
  EXPECT_EQ(*rw.Rewrite("s@a.test", kHeaderSender), "s@a.test");  // sender map not for headers
  EXPECT_EQ(*rw.Rewrite("s2@a.test", kHeaderSender), "s3@a.test");
  EXPECT_EQ(*rw.Rewrite("r@a.test", kEnvelopeRecipient), "r3@host.a.test");  // no masquerading
  EXPECT_EQ(*rw.Rewrite("r@a.test", kHeaderRecipient), "r3@host.a.test");
  EXPECT_TRUE(rw.Rewrites(kHeaderRecipient));
  AddressRewriter none;
  EXPECT_FALSE(none.Rewrites(kEnvelopeSender));
}

TEST(Canonical, FromConfig) {
  auto cfg = config::Config::Parse(
      "myhostname = mx.example\nmydomain = example\nrecipient_delimiter = +\n"
      "canonical_maps = inline:{ { joe = joe.public@example } }\nmasquerade_domains = $mydomain\n"
      "masquerade_exceptions = root\n");
  ASSERT_TRUE(cfg.ok());
  auto rw = AddressRewriter::FromConfig(*cfg);
  ASSERT_TRUE(rw.ok()) << rw.error();
  EXPECT_EQ(*rw->Rewrite("joe+a@mx.example", kEnvelopeSender), "joe.public+a@example");
  EXPECT_EQ(*rw->Rewrite("ann@mx.example", kEnvelopeSender), "ann@example");
  EXPECT_EQ(*rw->Rewrite("ann@mx.example", kEnvelopeRecipient), "ann@mx.example");  // masquerade_classes
  EXPECT_EQ(*rw->Rewrite("root@mx.example", kHeaderSender), "root@mx.example");
  cfg->Override("canonical_classes", "envelope_sender, body");
  EXPECT_FALSE(AddressRewriter::FromConfig(*cfg).ok());
  // A table that does not open defers the mail that needs it.
  cfg->Override("canonical_classes", "envelope_sender");
  cfg->Override("canonical_maps", "lmdb:/nonexistent/postern/canonical");
  auto broken = AddressRewriter::FromConfig(*cfg);
  ASSERT_TRUE(broken.ok()) << broken.error();
  EXPECT_FALSE(broken->Rewrite("a@b", kEnvelopeSender).ok());
}

}  // namespace
}  // namespace postern::rewrite
