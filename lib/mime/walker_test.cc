// mime/walker_test.cc — MIME structure, header classification and the
// 8bit to quoted-printable conversion, message by message.
#include "postern/mime/walker.h"

#include <gtest/gtest.h>

#include <string>

#include "postern/mime/lines.h"

namespace postern::mime {
namespace {

// Output lines joined with "\n"; kinds: one letter per line, H for a header line.
struct Collect : LineSink {
  std::string text, kinds;
  bool line_start = true;
  void Line(std::string_view t, bool eol, bool header) override {
    if (line_start) kinds.push_back(header ? 'H' : 'b');
    text.append(t);
    if (eol) text.push_back('\n');
    line_start = eol;
  }
};

struct Walked {
  std::string text, kinds;
  Error error;
};

Walked Walk(std::string_view in, bool downgrade, Limits limits = {}) {
  Collect sink;
  Walker w(limits, downgrade, &sink);
  LineSplitter split(limits.hold());
  Error e = Error::kNone;
  auto fn = [&](std::string_view piece, bool eol) { e = w.Feed(piece, eol); };
  // Three-byte chunks: nothing may depend on where reads end.
  for (size_t i = 0; i < in.size(); i += 3) split.Feed(in.substr(i, 3), fn);
  split.Finish(fn);
  return {sink.text, sink.kinds, e};
}

TEST(Walker, Conversion) {
  struct Case {
    const char* name;
    bool downgrade;
    const char* in;
    const char* out;  // nullptr: the input unchanged
    const char* kinds;
  };
  const Case cases[] = {
      {"plain message passes", false, "Subject: x\nTo: y\n\nbody\n", nullptr, "HHbb"},
      {"no conversion without downgrade", false,
       "Content-Transfer-Encoding: 8bit\n\nh\xc3\xa9\n", nullptr, "Hbb"},
      {"an 8bit text part becomes quoted-printable", true,
       "Subject: x\nContent-Transfer-Encoding: 8bit\nContent-Type: text/plain; charset=utf-8\n\n"
       "h\xc3\xa9llo = x \n.dot\n",
       "Subject: x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
       "h=C3=A9llo =3D x=20\n.dot\n",
       "HHHbbb"},
      {"a folded encoding header is replaced whole", true,
       "Content-Transfer-Encoding:\n 8bit\n\n\xff\n",
       "Content-Transfer-Encoding: quoted-printable\n\n=FF\n", "Hbb"},
      {"7bit, quoted-printable and base64 parts pass", true,
       "Content-Transfer-Encoding: base64\n\naGk=\n", nullptr, "Hbb"},
      {"binary converts like 8bit; CR inside a line is encoded", true,
       "Content-Transfer-Encoding: binary\n\na\rb\tc\t\n",
       "Content-Transfer-Encoding: quoted-printable\n\na=0Db\tc=09\n", "Hbb"},
      {"multipart: the container says 7bit, each 8bit part is converted", true,
       "Content-Type: multipart/mixed;\n boundary=\"b1\"\nContent-Transfer-Encoding: 8bit\n\npre\n"
       "--b1\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n\xc3\xa9\n"
       "--b1\nContent-Type: text/plain\n\nplain\n--b1--\nepi\n",
       "Content-Type: multipart/mixed;\n boundary=\"b1\"\nContent-Transfer-Encoding: 7bit\n\npre\n"
       "--b1\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=C3=A9\n"
       "--b1\nContent-Type: text/plain\n\nplain\n--b1--\nepi\n",
       "HHHbbbHHbbbHbbbb"},
      {"nested multipart and an inner boundary that closes both", true,
       "Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\n"
       "--in\nContent-Transfer-Encoding: 8bit\n\n\xe9\n--out--\n\xe9\n",
       "Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\n"
       "--in\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n--out--\n\xe9\n",
       "HbbHbbHbbbb"},
      {"message/rfc822 is walked as a message", true,
       "Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\nSubject: inner\n"
       "Content-Transfer-Encoding: 8bit\n\n\xe9\n",
       "Content-Type: message/rfc822\nContent-Transfer-Encoding: 7bit\n\nSubject: inner\n"
       "Content-Transfer-Encoding: quoted-printable\n\n=E9\n",
       "HHbHHbb"},
      {"multipart/digest parts default to message/rfc822", false,
       "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in\n\nx\n--d--\n", nullptr, "HbbbHbbb"},
      {"a line that is no header field starts the body", false, "Subject: x\nnot a header\n", nullptr, "Hb"},
      // Found by fuzz_mime_walker: a backslash at the very end of a comment.
      {"a comment cut short in Content-Type", true, "Content-Type: (a\\\n\nx\n", nullptr, "Hbb"},
      {"a long line gets soft breaks", true,
       "Content-Transfer-Encoding: 8bit\n\n"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
       "Content-Transfer-Encoding: quoted-printable\n\n"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=\n"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
       "Hbbb"},
  };
  for (const auto& c : cases) {
    Walked r = Walk(c.in, c.downgrade);
    EXPECT_EQ(r.error, Error::kNone) << c.name;
    EXPECT_EQ(r.text, c.out ? c.out : c.in) << c.name;
    EXPECT_EQ(r.kinds, c.kinds) << c.name;
  }
}

std::string Nested(int depth) {
  std::string head, tail;
  for (int i = 0; i < depth; ++i) {
    head += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
    tail = "--b" + std::to_string(i) + "--\n" + tail;
  }
  return head + "\nx\n" + tail;
}

TEST(Walker, NestingLimit) {
  Limits limits;
  limits.nesting = 3;
  EXPECT_EQ(Walk(Nested(3), true, limits).error, Error::kNone);
  EXPECT_EQ(Walk(Nested(4), true, limits).error, Error::kNesting);
  // Without a conversion to make, deeper levels are only passed on.
  Walked plain = Walk(Nested(4), false, limits);
  EXPECT_EQ(plain.error, Error::kNone);
  EXPECT_EQ(plain.text, Nested(4));
  EXPECT_STREQ(Describe(Error::kNesting).dsn, "5.6.0");
  EXPECT_STREQ(Describe(Error::kNesting).text, "MIME nesting exceeds safety limit");
}

TEST(Walker, BoundariesCompareOnTheLimit) {
  Limits limits;
  limits.boundary = 4;
  // "abcdXYZ" is cut to "abcd": "--abcd" alone already separates parts.
  Walked r = Walk("Content-Type: multipart/mixed; boundary=abcdXYZ\n\n--abcd\nContent-Transfer-Encoding: 8bit\n\n"
               "\xe9\n--abcd--\n",
               true, limits);
  EXPECT_EQ(r.error, Error::kNone);
  EXPECT_NE(r.text.find("=E9"), std::string::npos) << r.text;
}

// Walker::block(): which header block each header line is in (P primary,
// p part, n nested message), for header_checks' classes.
TEST(Walker, BlockOfEachHeaderLine) {
  struct Blocks : LineSink {
    const Walker* w = nullptr;
    std::string seen;
    void Line(std::string_view, bool eol, bool header) override {
      if (header && eol) seen.push_back(w->block() == Block::kPrimary ? 'P' : w->block() == Block::kPart ? 'p' : 'n');
    }
  } sink;
  Walker w(Limits{}, false, &sink);
  sink.w = &w;
  std::string in =
      "A: 1\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nB: 2\r\n\r\nx\r\n"
      "--b\r\nContent-Type: message/rfc822\r\n\r\nC: 3\r\n D: folded\r\n\r\ny\r\n--b--\r\n";
  LineSplitter split;
  auto fn = [&](std::string_view piece, bool eol) { w.Feed(piece, eol); };
  split.Feed(in, fn);
  split.Finish(fn);
  EXPECT_EQ(sink.seen, "PPppnn");
}

}  // namespace
}  // namespace postern::mime
