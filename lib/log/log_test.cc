// log/log_test.cc — maillog_file lines have Postfix's shape.
#include "postern/log/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "postern/config/maincf.h"

namespace postern::log {
namespace {

TEST(Log, MaillogFileLinesHavePostfixShape) {
  char path[] = "/tmp/postern-log-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  auto cfg = config::Config::Parse(std::string("maillog_file = ") + path + "\n");
  ASSERT_TRUE(cfg.ok());
  InitDaemon("smtpd", *cfg);
  Info("connect from {}[{}]", "client.example", "192.0.2.1");
  Warning("something odd");
  Verbose("hidden");
  SetLevel(Level::kVerbose);
  Verbose("shown");
  SetLevel(Level::kBrief);
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  unlink(path);
  std::string text = all.str();
  std::regex shape(R"(^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ postern/smtpd\[\d+\]: connect from client\.example\[192\.0\.2\.1\]\n)");
  EXPECT_TRUE(std::regex_search(text, shape)) << text;
  EXPECT_NE(text.find("postern/smtpd[" + std::to_string(getpid()) + "]: warning: something odd\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  EXPECT_NE(text.find("]: shown\n"), std::string::npos);
}

// Postfix's format_tv(sec, usec, 2, 2): what its log lines show for these.
TEST(Log, FormatDelay) {
  const std::pair<double, const char*> cases[] = {
      {0, "0"},         {0.004, "0"},     {0.0049, "0"},   {0.005, "0.01"}, {0.01, "0.01"},
      {0.05, "0.05"},   {0.2, "0.2"},     {0.19, "0.19"},  {0.4049, "0.4"}, {0.995, "1"},
      {1, "1"},         {1.25, "1.3"},    {1.96, "2"},     {3.0, "3"},      {3.04, "3"},
      {9.94, "9.9"},    {9.96, "10"},     {12.4, "12"},    {12.5, "13"},    {99.5, "100"},
      {3600.2, "3600"}, {-1, "0"},
  };
  for (auto [v, want] : cases) EXPECT_EQ(FormatDelay(v), want) << v;
}

TEST(Log, FormatDelaysIsLogAdhocsShape) {
  EXPECT_EQ(FormatDelays(3.0, 0.12, 0, 0.5, 2.38), "delay=3, delays=0.12/0/0.5/2.4");
  EXPECT_EQ(FormatDelays(0, 0, 0, 0, 0), "delay=0, delays=0/0/0/0");
}

}  // namespace
}  // namespace postern::log
