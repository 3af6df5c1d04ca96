// smtp/command_test.cc — table tests for command splitting, MAIL/RCPT
// arguments and BDAT arguments.
#include "postern/smtp/command.h"

#include <gtest/gtest.h>

namespace postern::smtp {
namespace {

TEST(Command, VerbsAreCaseInsensitive) {
  struct { const char* line; Verb verb; const char* arg; } cases[] = {
      {"EHLO client.example", Verb::kEhlo, "client.example"},
      {"ehlo client.example", Verb::kEhlo, "client.example"},
      {"HeLo x", Verb::kHelo, "x"},
      {"LHLO x", Verb::kLhlo, "x"},
      {"MAIL FROM:<a@b>", Verb::kMail, "FROM:<a@b>"},
      {"rcpt to:<a@b> NOTIFY=NEVER", Verb::kRcpt, "to:<a@b> NOTIFY=NEVER"},
      {"DATA", Verb::kData, ""},
      {"BDAT 10 LAST", Verb::kBdat, "10 LAST"},
      {"rset", Verb::kRset, ""},
      {"NOOP  hello ", Verb::kNoop, "hello"},
      {"QUIT", Verb::kQuit, ""},
      {"HELP mail", Verb::kHelp, "mail"},
      {"VRFY root", Verb::kVrfy, "root"},
      {"EXPN list", Verb::kExpn, "list"},
      {"StartTLS", Verb::kStarttls, ""},
      {"AUTH PLAIN dGVzdA==", Verb::kAuth, "PLAIN dGVzdA=="},
      {"ETRN example.org", Verb::kEtrn, "example.org"},
      {"\tQUIT\t", Verb::kQuit, ""},
      {"FOO bar", Verb::kUnknown, "bar"},
      {"MAILFROM:<a@b>", Verb::kUnknown, ""},
      {"", Verb::kUnknown, ""},
      {"   ", Verb::kUnknown, ""},
      {"QUITX", Verb::kUnknown, ""},
  };
  for (const auto& c : cases) {
    Command cmd = ParseCommand(c.line);
    EXPECT_EQ(cmd.verb, c.verb) << c.line;
    EXPECT_EQ(cmd.arg, c.arg) << c.line;
  }
}

TEST(Command, UnknownKeepsTheWordForTheReply) {
  Command cmd = ParseCommand("XYZZY plugh");
  EXPECT_EQ(cmd.verb, Verb::kUnknown);
  EXPECT_EQ(cmd.word, "XYZZY");
  EXPECT_EQ(VerbName(Verb::kMail), "MAIL");
  EXPECT_EQ(VerbName(Verb::kUnknown), "unknown");
}

TEST(Command, NulIsDetectable) {
  EXPECT_TRUE(ContainsNul(std::string_view("MAIL\0FROM", 9)));
  EXPECT_FALSE(ContainsNul("MAIL FROM:<>"));
  EXPECT_FALSE(ContainsNul(""));
  EXPECT_EQ(kMaxCommandLine, 512u);
  EXPECT_EQ(kDefaultLineLengthLimit, 2048u);
}

TEST(Command, PathArgumentSplitting) {
  struct { const char* arg; const char* kw; bool ok; const char* path; const char* params; } cases[] = {
      {"FROM:<a@b>", "FROM", true, "<a@b>", ""},
      {"from:<a@b> SIZE=10 BODY=8BITMIME", "FROM", true, "<a@b>", "SIZE=10 BODY=8BITMIME"},
      {"FROM: <a@b>", "FROM", true, "<a@b>", ""},           // Postfix leniency
      {"FROM:\t <a@b>  SIZE=1 ", "FROM", true, "<a@b>", "SIZE=1"},
      {"FROM:<>", "FROM", true, "<>", ""},
      {"TO:<\"a>b\"@c>", "TO", true, "<\"a>b\"@c>", ""},     // '>' inside quotes
      {"TO:<a\\>b@c>", "TO", true, "<a\\>b@c>", ""},         // escaped '>'
      {"TO:<@r1,@r2:u@d> NOTIFY=NEVER", "TO", true, "<@r1,@r2:u@d>", "NOTIFY=NEVER"},
      {"FROM:a@b", "FROM", false, "", ""},                    // unbracketed refused by default
      {"FROM <a@b>", "FROM", false, "", ""},
      {"FROM:", "FROM", false, "", ""},
      {"FROM:<a@b", "FROM", false, "", ""},
      {"FROM:<a@b>x", "FROM", false, "", ""},
      {"TO:<a@b>", "FROM", false, "", ""},
      {"FR", "FROM", false, "", ""},
      {"", "TO", false, "", ""},
  };
  for (const auto& c : cases) {
    auto r = ParsePathArg(c.arg, c.kw);
    ASSERT_EQ(r.ok(), c.ok) << c.arg << " " << r.error();
    if (!c.ok) {
      EXPECT_FALSE(r.error().empty());
      continue;
    }
    EXPECT_EQ(r->path, c.path) << c.arg;
    EXPECT_EQ(r->params, c.params) << c.arg;
  }
}

TEST(Command, UnbracketedWhenAllowed) {
  auto r = ParsePathArg("FROM:a@b SIZE=5", "FROM", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "a@b");
  EXPECT_EQ(r->params, "SIZE=5");
}

TEST(Command, BdatArguments) {
  struct { const char* arg; bool ok; uint64_t size; bool last; } cases[] = {
      {"100", true, 100, false},
      {"0 LAST", true, 0, true},
      {"  42   last ", true, 42, true},
      {"1000000", true, 1000000, false},
      {"1000001", false, 0, false},  // over the limit given below
      {"", false, 0, false},
      {"-1", false, 0, false},
      {"12x", false, 0, false},
      {"10 LAST more", false, 0, false},
      {"10 FIRST", false, 0, false},
      {"99999999999999999999999999", false, 0, false},
  };
  for (const auto& c : cases) {
    auto r = ParseBdatArg(c.arg, 1000000);
    ASSERT_EQ(r.ok(), c.ok) << c.arg;
    if (!c.ok) continue;
    EXPECT_EQ(r->size, c.size) << c.arg;
    EXPECT_EQ(r->last, c.last) << c.arg;
  }
}

}  // namespace
}  // namespace postern::smtp
