// dns/hosts_test.cc — reading the hosts file: lines, comments, names, changes.
#include "postern/dns/hosts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace postern::dns {
namespace {

TEST(Hosts, ParseLines) {
  struct Case {
    const char* text;
    std::vector<std::pair<std::string, std::vector<std::string>>> want;
  } cases[] = {
      {"127.0.0.1 localhost\n", {{"127.0.0.1", {"localhost"}}}},
      {"127.0.1.1\tMail.Example.COM.  mail # the host\n", {{"127.0.1.1", {"mail.example.com", "mail"}}}},
      {"::1 localhost ip6-localhost\r\n", {{"::1", {"localhost", "ip6-localhost"}}}},
      {"# only a comment\n\n   \n", {}},
      {"not-an-address name\n10.0.0.1\n", {}},             // no address; no name
      {"10.0.0.2 bad/name good\n", {{"10.0.0.2", {"good"}}}},  // an implausible name is skipped
      {"10.0.0.3 a\n10.0.0.4 b", {{"10.0.0.3", {"a"}}, {"10.0.0.4", {"b"}}}},  // no final newline
  };
  for (const Case& c : cases) {
    auto got = ParseHosts(c.text);
    ASSERT_EQ(got.size(), c.want.size()) << c.text;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].addr.ToString(), c.want[i].first) << c.text;
      EXPECT_EQ(got[i].names, c.want[i].second) << c.text;
    }
  }
}

TEST(Hosts, NamesOfAnAddressAcrossLinesAndAChangedFile) {
  char path[] = "/tmp/hosts_test.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "127.0.0.1 localhost\n10.1.1.1 one.test one\n10.1.1.1 uno.test one\n";
  HostsFile h(path);
  EXPECT_EQ(h.ConfirmedNamesOf(*IpAddress::Parse("10.1.1.1")),
            (std::vector<std::string>{"one.test", "one", "uno.test"}));
  EXPECT_TRUE(h.ConfirmedNamesOf(*IpAddress::Parse("10.1.1.2")).empty());
  std::ofstream(path) << "10.1.1.2 two.test\n";  // rewritten: a different size
  EXPECT_EQ(h.ConfirmedNamesOf(*IpAddress::Parse("10.1.1.2")), std::vector<std::string>{"two.test"});
  EXPECT_TRUE(h.ConfirmedNamesOf(*IpAddress::Parse("10.1.1.1")).empty());
  unlink(path);
  EXPECT_TRUE(h.ConfirmedNamesOf(*IpAddress::Parse("10.1.1.2")).empty());  // gone: no entries
  EXPECT_TRUE(HostsFile("").ConfirmedNamesOf(*IpAddress::Parse("127.0.0.1")).empty());
}

}  // namespace
}  // namespace postern::dns
