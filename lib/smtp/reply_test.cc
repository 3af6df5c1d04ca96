// smtp/reply_test.cc — reply formatting, the streaming reply parser (whole,
// byte by byte, malformed input) and EHLO keyword extraction.
#include "postern/smtp/reply.h"

#include <gtest/gtest.h>

namespace postern::smtp {
namespace {

TEST(Reply, Formatting) {
  std::string out;
  AppendReply(&out, 250, "2.0.0", "Ok");
  AppendReply(&out, Reply{250, "", {"mx.test", "PIPELINING", "SIZE 10240000"}});
  AppendReply(&out, Reply{221, "2.0.0", {}});
  AppendReply(&out, 354, "", "End data with <CR><LF>.<CR><LF>");
  static constexpr char kInjection[] = "<a\r\n250 ok>: bad\0x";
  AppendReply(&out, 550, "5.1.1", std::string_view(kInjection, sizeof kInjection - 1));
  EXPECT_EQ(out,
            "250 2.0.0 Ok\r\n"
            "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n"
            "221 2.0.0\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n"
            "550 5.1.1 <a  250 ok>: bad x\r\n");
  out.clear();
  AppendReply(&out, Reply{451, "4.3.0", {"one", "two"}});
  EXPECT_EQ(out, "451-4.3.0 one\r\n451 4.3.0 two\r\n");
}

TEST(Reply, EnhancedStatusSyntax) {
  struct { const char* s; bool ok; } cases[] = {
      {"2.0.0", true}, {"5.1.10", true}, {"4.123.456", true}, {"3.0.0", false},
      {"2.0", false}, {"2..0", false}, {"2.1234.0", false}, {"2.0.0.", false}, {"x.0.0", false},
  };
  for (const auto& c : cases) EXPECT_EQ(IsEnhancedStatus(c.s), c.ok) << c.s;
}

std::vector<Reply> ParseAll(ReplyParser& p, std::string_view wire, bool bytewise) {
  std::vector<Reply> out;
  auto drain = [&] {
    Reply r;
    while (p.Next(&r) == ReplyParser::Status::kReply) out.push_back(r);
  };
  if (bytewise) {
    for (char c : wire) {
      p.Feed(std::string_view(&c, 1));
      drain();
    }
  } else {
    p.Feed(wire);
    drain();
  }
  return out;
}

TEST(Reply, ParsesPipelinedRepliesInAnySplit) {
  const std::string wire =
      "250-mx.test Hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n"
      "250 2.1.0 Ok\r\n"
      "550-5.1.1 first\r\n550 5.1.1 second\r\n"
      "354 go ahead\n"  // bare LF tolerated
      "250\r\n";
  for (bool bytewise : {false, true}) {
    ReplyParser p;
    auto replies = ParseAll(p, wire, bytewise);
    ASSERT_EQ(replies.size(), 5u);
    EXPECT_EQ(replies[0].code, 250);
    EXPECT_EQ(replies[0].lines, (std::vector<std::string>{"mx.test Hello", "PIPELINING", "SIZE 1000", "8BITMIME"}));
    EXPECT_EQ(replies[0].enhanced, "");
    EXPECT_EQ(replies[1].enhanced, "2.1.0");
    EXPECT_EQ(replies[1].text(), "Ok");
    EXPECT_EQ(replies[2].code, 550);
    EXPECT_EQ(replies[2].enhanced, "5.1.1");
    EXPECT_EQ(replies[2].lines, (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(replies[3].code, 354);
    EXPECT_EQ(replies[3].text(), "go ahead");
    EXPECT_EQ(replies[4].code, 250);
    EXPECT_EQ(p.buffered(), 0u);
  }
}

TEST(Reply, EnhancedCodeMustMatchClass) {
  ReplyParser p;
  auto r = ParseAll(p, "550 2.0.0 odd\r\n", false);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].enhanced, "");
  EXPECT_EQ(r[0].text(), "2.0.0 odd");
}

TEST(Reply, RejectsMalformed) {
  const char* cases[] = {
      "25\r\n", "abc ok\r\n", "650 no\r\n", "260 no\r\n", "150 no\r\n", "250x ok\r\n",
      "250-a\r\n251 b\r\n",  // codes differ inside one reply
      "\r\n",
  };
  for (const char* c : cases) {
    ReplyParser p;
    p.Feed(c);
    Reply r;
    ReplyParser::Status st;
    while ((st = p.Next(&r)) == ReplyParser::Status::kReply) {}
    EXPECT_EQ(st, ReplyParser::Status::kError) << c;
    EXPECT_FALSE(p.error().empty()) << c;
    EXPECT_EQ(p.Next(&r), ReplyParser::Status::kError);  // stays failed
  }
}

TEST(Reply, LineAndLineCountLimits) {
  ReplyParser p(100, 3);
  p.Feed("250 " + std::string(200, 'x'));  // no newline yet: refused early
  Reply r;
  EXPECT_EQ(p.Next(&r), ReplyParser::Status::kError);
  ReplyParser q(100, 3);
  q.Feed("250-a\r\n250-b\r\n250-c\r\n250 d\r\n");
  EXPECT_EQ(q.Next(&r), ReplyParser::Status::kError);
  ReplyParser ok(100, 3);
  ok.Feed("250-a\r\n250-b\r\n250 c\r\n");
  EXPECT_EQ(ok.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(ok.Next(&r), ReplyParser::Status::kNeedMore);
}

TEST(Reply, FormatThenParseRoundTrip) {
  std::string wire;
  Reply in{452, "4.5.3", {"Too many recipients", "try later"}};
  AppendReply(&wire, in);
  ReplyParser p;
  auto out = ParseAll(p, wire, false);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].code, in.code);
  EXPECT_EQ(out[0].enhanced, in.enhanced);
  EXPECT_EQ(out[0].lines, in.lines);
}

TEST(Reply, EhloKeywords) {
  Reply r{250, "", {"mx.test greets you", "PIPELINING", "SIZE 10240000", "8BITMIME",
                    "smtputf8", "DSN", "CHUNKING", "STARTTLS", "ENHANCEDSTATUSCODES",
                    "AUTH PLAIN login", "AUTH=LOGIN", "X-UNKNOWN foo"}};
  EhloInfo e = ParseEhlo(r);
  EXPECT_TRUE(e.pipelining && e.eightbitmime && e.smtputf8 && e.dsn && e.chunking &&
              e.starttls && e.enhancedstatuscodes && e.size_offered);
  EXPECT_FALSE(e.binarymime);
  EXPECT_EQ(e.size_limit, 10240000u);
  EXPECT_EQ(e.auth, (std::vector<std::string>{"PLAIN", "LOGIN", "LOGIN"}));
  EhloInfo none = ParseEhlo(Reply{250, "", {"PIPELINING"}});  // first line is the greeting
  EXPECT_FALSE(none.pipelining);
}

}  // namespace
}  // namespace postern::smtp
