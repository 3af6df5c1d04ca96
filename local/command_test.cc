// local/command_test.cc — command deliveries: input, environment, exit
// statuses mapped like Postfix's sysexits, the time limit.
#include "local/command.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace postern::local {
namespace {

TEST(Command, FeedsInputAndSeesEnvironment) {
  std::string out = (std::filesystem::temp_directory_path() / ("cmd_test." + std::to_string(getpid()))).string();
  CommandSpec spec;
  spec.command = "cat > " + out + "; echo \"$RECIPIENT\" >> " + out;
  spec.env = {"RECIPIENT=a@b.test", "PATH=/usr/bin:/bin"};
  std::string big(300000, 'x');
  Verdict v = RunCommand(spec, big + "\n");
  EXPECT_EQ(v.kind, Verdict::Kind::kSent) << v.text;
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), big + "\na@b.test\n");
  std::filesystem::remove(out);
}

TEST(Command, ExitStatuses) {
  struct Case {
    std::string command;
    Verdict::Kind kind;
    std::string dsn;
    std::string text_part;
  } cases[] = {
      {"exit 0", Verdict::Kind::kSent, "2.0.0", ""},
      {"echo no such user; exit 67", Verdict::Kind::kBounce, "5.1.1", "user unknown. Command output: no such user"},
      {"exit 75", Verdict::Kind::kDefer, "4.3.0", "temporary failure"},
      {"exit 3", Verdict::Kind::kBounce, "5.3.0", "Command died with status 3"},
      {"kill -9 $$", Verdict::Kind::kDefer, "4.3.0", "Command died with signal 9"},
      {"exec 0<&-; exit 0", Verdict::Kind::kSent, "2.0.0", ""},
  };
  for (const auto& c : cases) {
    CommandSpec spec;
    spec.command = c.command;
    Verdict v = RunCommand(spec, std::string(200000, 'y'));
    EXPECT_EQ(v.kind, c.kind) << c.command << ": " << v.text;
    EXPECT_EQ(v.dsn, c.dsn) << c.command;
    EXPECT_NE(v.text.find(c.text_part), std::string::npos) << c.command << ": " << v.text;
  }
}

TEST(Command, TimeLimit) {
  CommandSpec spec;
  spec.command = "sleep 30";
  spec.time_limit_seconds = 1;
  auto t0 = std::chrono::steady_clock::now();
  Verdict v = RunCommand(spec, "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(v.kind, Verdict::Kind::kBounce);
  EXPECT_NE(v.text.find("time limit"), std::string::npos);
}

}  // namespace
}  // namespace postern::local
