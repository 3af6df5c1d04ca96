// master/listen_test.cc — master.cf service names to listen addresses.
#include "master/listen.h"

#include <gtest/gtest.h>

namespace postern::master {
namespace {

struct Case {
  std::string line;     // master.cf line
  std::string maincf;   // extra main.cf text
  std::vector<std::string> keys;  // empty: an error is expected
};

TEST(ResolveListen, Services) {
  const Case cases[] = {
      {"2525 inet n - n - - smtpd", "inet_interfaces = 127.0.0.1\n", {"inet:127.0.0.1:2525"}},
      {"2525 inet n - n - - smtpd", "inet_interfaces = 127.0.0.1, [::1]\n", {"inet:127.0.0.1:2525", "inet:[::1]:2525"}},
      {"2525 inet n - n - - smtpd", "inet_interfaces = loopback-only\ninet_protocols = ipv4\n", {"inet:127.0.0.1:2525"}},
      {"2525 inet n - n - - smtpd", "inet_interfaces = all\ninet_protocols = all\n", {"inet:0.0.0.0:2525", "inet:[::]:2525"}},
      {"2525 inet n - n - - smtpd", "inet_interfaces = all\ninet_protocols = ipv6\n", {"inet:[::]:2525"}},
      {"127.0.0.2:smtp inet n - n - - smtpd", "", {"inet:127.0.0.2:25"}},
      {"[::1]:587 inet n - n - - smtpd", "", {"inet:[::1]:587"}},
      {"qmgr unix n - n 300 1 qmgr", "queue_directory = /q\n", {"unix:/q/public/qmgr"}},
      {"smtp unix - - n - - smtp", "queue_directory = /q\n", {"unix:/q/private/smtp"}},
      {"0 inet n - n - - smtpd", "", {}},
      {"70000 inet n - n - - smtpd", "", {}},
      {"nosuchservicename inet n - n - - smtpd", "", {}},
      {"[::1 inet n - n - - smtpd", "", {}},
      {"2525 inet n - n - - smtpd", "inet_protocols = ipx\n", {}},
      {"x unix - - n - - smtp", "queue_directory = /" + std::string(120, 'q') + "\n", {}},
      {"x fifo - - n - - pickup", "", {}},
  };
  for (const auto& c : cases) {
    auto cfg = config::Config::Parse(c.maincf);
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    auto defs = config::ParseMasterCf(c.line);
    ASSERT_TRUE(defs.ok()) << defs.error();
    auto got = ResolveListen(defs->at(0), *cfg);
    if (c.keys.empty()) {
      EXPECT_FALSE(got.ok()) << c.line;
      continue;
    }
    ASSERT_TRUE(got.ok()) << c.line << ": " << got.error();
    std::vector<std::string> keys;
    for (const auto& a : *got) keys.push_back(a.key);
    EXPECT_EQ(keys, c.keys) << c.line;
  }
}

TEST(ListenBacklog, SystemMaximumByDefaultOrWhatIsSet) {
  struct BacklogCase {
    std::string line, maincf;
    int somaxconn, want;
  };
  const BacklogCase cases[] = {
      {"2525 inet n - n - - smtpd", "", 4096, 4096},                         // the system's maximum
      {"2525 inet n - n - - smtpd", "default_process_limit = 5000\n", 4096, 5000},  // never below Postfix's
      {"2525 inet n - n - 8000 smtpd", "", 128, 8000},                       // nor below maxproc
      {"2525 inet n - n - - smtpd", "listen_backlog = 50\n", 4096, 50},       // as set
      {"2525 inet n - n - - smtpd -o listen_backlog=7", "listen_backlog = 50\n", 4096, 7},  // per service
  };
  for (const auto& c : cases) {
    auto cfg = config::Config::Parse(c.maincf);
    ASSERT_TRUE(cfg.ok()) << cfg.error();
    auto defs = config::ParseMasterCf(c.line);
    ASSERT_TRUE(defs.ok()) << defs.error();
    EXPECT_EQ(ListenBacklog(defs->at(0), *cfg, c.somaxconn), c.want) << c.line << " / " << c.maincf;
  }
  EXPECT_GT(SystemMaxBacklog(), 0);
}

}  // namespace
}  // namespace postern::master
