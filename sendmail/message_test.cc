// sendmail/message_test.cc — header fix-up for sendmail: -t recipients, Bcc
// removal, added From/Date/Message-ID, lone-dot end of input.
#include "sendmail/message.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace postern::sendmail {
namespace {

// A LineReader over `text` (through a pipe, as stdin would be).
struct Input {
  explicit Input(std::string_view text) {
    int p[2];
    EXPECT_EQ(pipe(p), 0);
    EXPECT_EQ(write(p[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(p[1]);
    fd = p[0];
  }
  ~Input() { close(fd); }
  int fd;
};

MessageOptions Opts(bool extract) {
  MessageOptions o;
  o.extract_recipients = extract;
  o.from_header = "Me <me@origin.test>";
  o.origin = "origin.test";
  return o;
}

TEST(Header, ExtractsToCcBccAndDropsBcc) {
  Input in("To: A <a@x.test>,\n  b\nCc: c@x.test\nBcc: hidden@x.test\nSubject: hi\n\nbody\n");
  LineReader r(in.fd);
  std::vector<std::string> rcpts{"cmd@x.test"};
  auto h = ReadHeader(r, Opts(true), &rcpts);
  ASSERT_TRUE(h.ok()) << h.error();
  EXPECT_EQ(rcpts, (std::vector<std::string>{"cmd@x.test", "a@x.test", "b@origin.test", "c@x.test", "hidden@x.test"}));
  EXPECT_EQ(h->text.find("Bcc"), std::string::npos);
  // Date: and Message-Id: are cleanup's (smtpd, pickup), with the queue id.
  EXPECT_EQ(h->text, "To: A <a@x.test>,\r\n  b\r\nCc: c@x.test\r\nSubject: hi\r\nFrom: Me <me@origin.test>\r\n\r\n");
  EXPECT_FALSE(h->ended);
  std::string line;
  ASSERT_TRUE(*r.Next(&line));
  EXPECT_EQ(line, "body\n");
}

TEST(Header, KeepsPresentFromDateMessageIdAndIgnoresToWithoutT) {
  Input in("From: x@y.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@y.test>\r\nTo: t@x.test\r\n\r\n");
  LineReader r(in.fd);
  std::vector<std::string> rcpts;
  auto h = ReadHeader(r, Opts(false), &rcpts);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(rcpts.empty());
  EXPECT_EQ(h->text, "From: x@y.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@y.test>\r\nTo: t@x.test\r\n\r\n");
}

TEST(Header, LoneDotEndsInputUnlessDashI) {
  {
    Input in("Subject: a\n.\nmore\n");
    LineReader r(in.fd);
    std::vector<std::string> rcpts;
    auto h = ReadHeader(r, Opts(false), &rcpts);
    ASSERT_TRUE(h.ok());
    EXPECT_TRUE(h->ended);
  }
  {
    Input in("Subject: a\n.\nmore\n");
    LineReader r(in.fd);
    std::vector<std::string> rcpts;
    MessageOptions o = Opts(false);
    o.dot_ends_input = false;
    auto h = ReadHeader(r, o, &rcpts);
    ASSERT_TRUE(h.ok());
    EXPECT_FALSE(h->ended);
    EXPECT_EQ(h->first_body_line, ".\n");  // not a header: the body starts here
  }
}

TEST(Header, SkipsMboxFromLineAndRejectsBadTo) {
  Input in("From someone Mon Jan  1 00:00:00 2024\nTo: \"open@x.test\n\n");
  LineReader r(in.fd);
  std::vector<std::string> rcpts;
  auto h = ReadHeader(r, Opts(true), &rcpts);
  EXPECT_FALSE(h.ok());
}

// Header, then body: every line leaves with CRLF, dots stay unstuffed, the
// lone dot ends the input unless -i, a last line without newline gets one.
TEST(Content, NormalizesLineEndsAndStopsAtTheLoneDot) {
  struct Case {
    const char* in;
    bool dot_ends;
    const char* body;  // after the header block
  } cases[] = {
      {"Subject: a\n\none\r\ntwo\n", true, "one\r\ntwo\r\n"},
      {"Subject: a\n\n..x\n.\nafter\n", true, "..x\r\n"},
      {"Subject: a\n\n..x\n.\nafter\n", false, "..x\r\n.\r\nafter\r\n"},
      {"Subject: a\n\nlast without newline", true, "last without newline\r\n"},
      {"Subject: a\nnot a header line\nsecond\n", true, "not a header line\r\nsecond\r\n"},
      {"Subject: a\n", true, ""},
  };
  for (const Case& c : cases) {
    Input in(c.in);
    LineReader r(in.fd);
    std::vector<std::string> rcpts{"x@y.test"};
    MessageOptions o = Opts(false);
    o.dot_ends_input = c.dot_ends;
    auto h = ReadHeader(r, o, &rcpts);
    ASSERT_TRUE(h.ok()) << c.in;
    std::string out;
    auto copied = CopyContent(r, *h, c.dot_ends, [&](std::string_view p) -> Result<void> {
      out.append(p);
      return {};
    });
    ASSERT_TRUE(copied.ok());
    ASSERT_TRUE(out.starts_with("Subject: a\r\n")) << out;
    EXPECT_EQ(out.substr(out.find("\r\n\r\n") + 4), c.body) << c.in;
  }
}

TEST(Qualify, AppendsOriginToBareNames) {
  EXPECT_EQ(Qualify("joe", "o.test"), "joe@o.test");
  EXPECT_EQ(Qualify("joe@x.test", "o.test"), "joe@x.test");
  EXPECT_EQ(Qualify("", "o.test"), "");
}

}  // namespace
}  // namespace postern::sendmail
