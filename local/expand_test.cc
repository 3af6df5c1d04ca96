// local/expand_test.cc — destination lists of aliases/.forward/:include:,
// forward_path expansion and the command environment filter.
#include "local/expand.h"

#include <gtest/gtest.h>

#include <map>

namespace postern::local {
namespace {

using K = Destination::Kind;

TEST(Expand, Destinations) {
  struct Case {
    std::string text;
    std::vector<Destination> want;
  } cases[] = {
      {"bob, carol", {{K::kAddress, "bob"}, {K::kAddress, "carol"}}},
      {"bob carol@x.test\n<dave@y.test>", {{K::kAddress, "bob"}, {K::kAddress, "carol@x.test"}, {K::kAddress, "dave@y.test"}}},
      {"|/usr/bin/cat > /tmp/x, bob", {{K::kCommand, "/usr/bin/cat > /tmp/x"}, {K::kAddress, "bob"}}},
      {"\"|/bin/cmd a, b\", /var/mail/file, /srv/Maildir/",
       {{K::kCommand, "/bin/cmd a, b"}, {K::kFile, "/var/mail/file"}, {K::kFile, "/srv/Maildir/"}}},
      {":include:/etc/list, \\bob", {{K::kInclude, "/etc/list"}, {K::kMailbox, "bob"}}},
      {"# a comment\nbob\n  # indented comment\n\ncarol # not a comment start", {{K::kAddress, "bob"}, {K::kAddress, "carol"}, {K::kAddress, "#"}, {K::kAddress, "not"}, {K::kAddress, "a"}, {K::kAddress, "comment"}, {K::kAddress, "start"}}},
      {"\"/path with blank/file\"", {{K::kFile, "/path with blank/file"}}},
      {"", {}},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseDestinations(c.text, 100), c.want) << c.text;
}

TEST(Expand, DestinationLimit) {
  bool truncated = false;
  auto list = ParseDestinations("a, b, c, d", 2, &truncated);
  EXPECT_EQ(list.size(), 2u);
  EXPECT_TRUE(truncated);
  ParseDestinations("a, b", 2, &truncated);
  EXPECT_FALSE(truncated);
}

TEST(Expand, Attributes) {
  std::map<std::string, std::string> attrs{{"home", "/home/u"}, {"user", "u"}, {"recipient_delimiter", "+"}};
  AttrLookup lookup = [&](std::string_view n) -> std::optional<std::string> {
    auto it = attrs.find(std::string(n));
    if (it == attrs.end()) return std::nullopt;
    return it->second;
  };
  struct Case {
    std::string in;
    std::optional<std::string> out;
  } cases[] = {
      {"$home/.forward", "/home/u/.forward"},
      {"${home}/.forward${recipient_delimiter}${extension}", std::nullopt},
      {"$home/.forward${extension?+}${extension}", std::nullopt},
      {"$home/x${extension?.ext}", "/home/u/x"},
      {"$home/x${extension:.none}", "/home/u/x.none"},
      {"$home/x${user?.has}", "/home/u/x.has"},
      {"cost $$5", "cost $5"},
      {"${home", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(ExpandAttributes(c.in, lookup), c.out) << c.in;
  attrs["extension"] = "list";
  EXPECT_EQ(ExpandAttributes("${home}/.forward${recipient_delimiter}${extension}", lookup), "/home/u/.forward+list");
}

TEST(Expand, EnvFilter) {
  EXPECT_EQ(FilterEnvValue("user+ext@example.com"), "user+ext@example.com");
  EXPECT_EQ(FilterEnvValue("a;rm -rf /`x`$(y)"), "a_rm_-rf_/_x___y_");
  EXPECT_EQ(FilterEnvValue(std::string(5000, 'a')).size(), 4096u);
}

TEST(Expand, Unquote) {
  EXPECT_EQ(Unquote("\"a \\\"b\\\" c\""), "a \"b\" c");
  EXPECT_EQ(Unquote(" plain "), "plain");
}

}  // namespace
}  // namespace postern::local
