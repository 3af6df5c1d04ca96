// smtp/body_out_test.cc — the whole outgoing body pipeline: queue bytes in
// arbitrary chunks to the DATA stream.
#include "smtp/body_out.h"

#include <gtest/gtest.h>

#include <string>

#include "postern/table/test_util.h"

namespace postern::smtp_client {
namespace {

struct Sent {
  std::string wire;
  bool ok;
};

Sent Send(std::string_view body, size_t limit, bool downgrade, mime::Limits limits = {}) {
  BodyOut b(limit, downgrade, limits);
  std::string out;
  bool ok = true;
  for (size_t i = 0; i < body.size() && ok; i += 7) ok = b.Feed(body.substr(i, 7), &out);
  if (ok) ok = b.Finish(&out);
  return {out, ok};
}

TEST(BodyOut, Wire) {
  struct Case {
    const char* name;
    size_t limit;
    bool downgrade;
    const char* in;
    const char* wire;
  };
  const Case cases[] = {
      {"stuffed and ended", 990, false, "Subject: x\r\n\r\n.a\r\nlast", "Subject: x\r\n\r\n..a\r\nlast\r\n.\r\n"},
      {"bare LF goes out as CRLF", 990, false, "A: b\n\nc\n", "A: b\r\n\r\nc\r\n.\r\n"},
      {"header folded, body broken", 6, false, "Subj: abcdef\r\n\r\n0123456789\r\n",
       "Subj: \r\n abcde\r\n f\r\n\r\n012345\r\n6789\r\n.\r\n"},
      {"part headers are folded too", 8, false,
       "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Part: 12345\r\n\r\n--b--\r\n",
       "Content-\r\n Type: m\r\n ultipar\r\n t/mixed\r\n ; bound\r\n ary=b\r\n\r\n--b\r\nX-Part: \r\n 12345\r\n"
       "\r\n--b--\r\n.\r\n"},
      {"8bit converted, then broken into lines", 990, true,
       "Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa9\r\n.\r\n",
       "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n..\r\n.\r\n"},
  };
  for (const auto& c : cases) {
    Sent s = Send(c.in, c.limit, c.downgrade);
    EXPECT_TRUE(s.ok) << c.name;
    EXPECT_EQ(s.wire, c.wire) << c.name;
  }
}

TEST(BodyOut, NestingBeyondTheLimitStopsTheConversion) {
  mime::Limits limits;
  limits.nesting = 1;
  std::string body =
      "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\n\r\nx\r\n--b--\r\n--a--\r\n";
  Sent s = Send(body, 990, true, limits);
  EXPECT_FALSE(s.ok);
  EXPECT_TRUE(Send(body, 990, false, limits).ok);
}

TEST(BodyOut, LongLinesOfAnyLengthStayWithinTheLimit) {
  std::string body = "X-Long: " + std::string(100000, 'h') + "\r\n\r\n" + std::string(5000, 'b') + "\r\n";
  Sent s = Send(body, 990, false);
  ASSERT_TRUE(s.ok);
  size_t start = 0;
  for (size_t eol; (eol = s.wire.find("\r\n", start)) != std::string::npos; start = eol + 2)
    ASSERT_LE(eol - start, 990u);
  // Unfolding and joining give the original back.
  std::string joined = s.wire;
  for (size_t p; (p = joined.find("\r\n ")) != std::string::npos;) joined.erase(p, 3);
  EXPECT_EQ(joined.substr(0, 8 + 100000), body.substr(0, 8 + 100000));
}

// smtp_header_checks and smtp_body_checks change what goes on the wire,
// after MIME conversion and before dot-stuffing; actions the client does not
// allow change nothing.
TEST(BodyOut, ChecksRewriteTheWire) {
  table::testing::TempDir dir;
  auto tables = std::make_shared<cleanup::CheckTables>();
  auto open = [&](const std::string& name, const std::string& rules, table::TableList* list) {
    auto l = table::TableList::Open("regexp:" + dir.Write(name, rules), table::Options{.fold_case = false});
    ASSERT_TRUE(l.ok()) << l.error();
    *list = std::move(*l);
  };
  open("h", "/^X-Secret:/ IGNORE\n/^Subject: (.*)/ REPLACE Subject: [ext] $1\n/^X-Hold:/ HOLD\n", &tables->header);
  open("b", "/^\\.hidden/ REPLACE .shown\n/^mark/ PREPEND .before\n", &tables->body);
  tables->header_name = "smtp_header_checks";
  tables->body_limit = 0;
  BodyOut b(990, false, {}, tables, "0000abcd");
  std::string in = "X-Secret: a\r\n b\r\nSubject: hi\r\nX-Hold: 1\r\n\r\n.hidden\r\nmark\r\n";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 5) ASSERT_TRUE(b.Feed(std::string_view(in).substr(i, 5), &out));
  ASSERT_TRUE(b.Finish(&out));
  EXPECT_EQ(out, "Subject: [ext] hi\r\nX-Hold: 1\r\n\r\n..shown\r\n..before\r\nmark\r\n.\r\n");
}

}  // namespace
}  // namespace postern::smtp_client
