// mda/command_test.cc — command deliveries: input, environment, exit
// statuses mapped like Postfix's sysexits, status codes in the output, the
// time limit, argument vectors run without a shell.
#include "postern/mda/command.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace postern::mda {
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
      {"exit 3", Verdict::Kind::kBounce, "5.3.0", "Command died with status 3: \"exit 3\""},
      {"kill -9 $$", Verdict::Kind::kDefer, "4.3.0", "Command died with signal 9"},
      {"echo '4.2.2 mailbox full'; exit 1", Verdict::Kind::kDefer, "4.2.2", "mailbox full"},
      {"echo '5.1.1 no such mailbox'; exit 75", Verdict::Kind::kBounce, "5.1.1", "no such mailbox"},
      {"echo '5.1 no status'; exit 67", Verdict::Kind::kBounce, "5.1.1", "user unknown. Command output: 5.1 no status"},
      {"printf 'a\\tb\\001c'; exit 64", Verdict::Kind::kBounce, "5.3.0", "command line usage error. Command output: a b_c"},
      {"exit 71", Verdict::Kind::kDefer, "4.3.0", "system resource problem"},
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
  // Closing its output does not let a command outlive the limit.
  spec.command = "exec >&- 2>&- <&-; sleep 30";
  t0 = std::chrono::steady_clock::now();
  v = RunCommand(spec, "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(v.kind, Verdict::Kind::kBounce) << v.text;
  EXPECT_EQ(v.text, "Command time limit exceeded: \"exec >&- 2>&- <&-; sleep 30\"");
}

TEST(Command, ArgvRunsWithoutShell) {
  std::string out = (std::filesystem::temp_directory_path() / ("argv_test." + std::to_string(getpid()))).string();
  CommandSpec spec;
  // Shell syntax in an argument stays data: printf sees it verbatim.
  spec.argv = {"sh", "-c", "printf '%s|' \"$@\" > " + out, "x", "$(touch /tmp/never)", "a b", ";"};
  spec.command = spec.argv[0];
  spec.env = {"PATH=/nonexistent:/usr/bin:/bin"};
  Verdict v = RunCommand(spec, "");
  ASSERT_EQ(v.kind, Verdict::Kind::kSent) << v.text;
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), "$(touch /tmp/never)|a b|;|");
  std::filesystem::remove(out);
}

TEST(Command, StartFailuresDefer) {
  CommandSpec missing;
  missing.argv = {"/nonexistent/program"};
  missing.command = missing.argv[0];
  Verdict v = RunCommand(missing, "x");
  EXPECT_EQ(v.kind, Verdict::Kind::kDefer) << v.text;
  EXPECT_EQ(v.dsn, "4.3.0");
  EXPECT_NE(v.text.find("execvp /nonexistent/program: No such file or directory"), std::string::npos) << v.text;

  CommandSpec nodir;
  nodir.argv = {"true"};
  nodir.command = "true";
  nodir.cwd = "/nonexistent/dir";
  nodir.cwd_required = true;
  v = RunCommand(nodir, "");
  EXPECT_EQ(v.kind, Verdict::Kind::kDefer) << v.text;
  EXPECT_NE(v.text.find("cannot change directory to /nonexistent/dir"), std::string::npos) << v.text;
  nodir.cwd_required = false;  // local: "/" instead
  EXPECT_EQ(RunCommand(nodir, "").kind, Verdict::Kind::kSent);
}

TEST(Command, Environment) {
  setenv("POSTERN_CMD_TEST", "yes", 1);
  Creds pw{1000, 1000, "joe", "/home/joe", "/bin/zsh"};
  EXPECT_EQ(CommandEnvironment({"POSTERN_CMD_TEST", "NOT_SET_ANYWHERE", "TZ=UTC"}, &pw),
            (std::vector<std::string>{"POSTERN_CMD_TEST=yes", "TZ=UTC", "PATH=/usr/bin:/bin", "HOME=/home/joe",
                                      "LOGNAME=joe", "USER=joe", "SHELL=/bin/zsh"}));
  EXPECT_EQ(CommandEnvironment({}, nullptr), (std::vector<std::string>{"PATH=/usr/bin:/bin"}));
}

}  // namespace
}  // namespace postern::mda
