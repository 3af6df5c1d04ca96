// ctl/match_test.cc — prefix matching of command words.
#include <gtest/gtest.h>

#include "ctl/commands.h"

namespace postern::ctl {
namespace {

int Nop(Context&) { return 0; }

const Command kTable[] = {
    {{"start"}, "", "", Nop},          {{"start-fg"}, "", "", Nop},       {{"stop"}, "", "", Nop},
    {{"status"}, "", "", Nop},         {{"show", "queue"}, "", "", Nop},  {{"show", "stats"}, "", "", Nop},
    {{"show", "status"}, "", "", Nop}, {{"reload"}, "", "", Nop},
};

struct Case {
  std::vector<std::string> words;
  std::string want;  // first word of the match + consumed count, or "" for an error
  size_t consumed;
};

TEST(Match, Prefixes) {
  const Case cases[] = {
      {{"start"}, "start", 1},   {{"start-"}, "start-fg", 1}, {{"sto"}, "stop", 1},    {{"st"}, "", 0},
      {{"re"}, "reload", 1},     {{"sh", "q"}, "queue", 2},   {{"sh", "st"}, "", 0},   {{"sh", "statu"}, "status", 2},
      {{"show"}, "", 0},         {{"bogus"}, "", 0},          {{"stat", "x"}, "status", 1},
  };
  for (const auto& c : cases) {
    size_t consumed = 0;
    std::string err;
    const Command* m = Match(kTable, c.words, &consumed, &err);
    if (c.want.empty()) {
      EXPECT_EQ(m, nullptr) << c.words[0];
      EXPECT_FALSE(err.empty());
      continue;
    }
    ASSERT_NE(m, nullptr) << c.words[0] << ": " << err;
    EXPECT_EQ(std::string(m->words.back()), c.want);
    EXPECT_EQ(consumed, c.consumed);
  }
}

TEST(Match, AmbiguityNamesTheCandidatesSorted) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"sh", "st"}, "ambiguous command: sh st: show stats, show status"},
      {{"st"}, "ambiguous command: st: start, start-fg, status, stop"},
      {{"bogus"}, "unknown command: bogus"},
  };
  for (const auto& [words, want] : cases) {
    size_t consumed = 0;
    std::string err;
    EXPECT_EQ(Match(kTable, words, &consumed, &err), nullptr);
    EXPECT_EQ(err, want);
  }
}

}  // namespace
}  // namespace postern::ctl
