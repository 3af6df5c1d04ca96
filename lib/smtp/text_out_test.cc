// smtp/text_out_test.cc — line breaking, header folding and dot-stuffing of
// outgoing message text.
#include "postern/smtp/text_out.h"

#include <gtest/gtest.h>

#include <vector>

namespace postern::smtp {
namespace {

struct Piece {
  const char* text;
  bool eol;
  bool header;
};

TEST(TextOut, BreaksFoldsAndStuffs) {
  struct Case {
    const char* name;
    size_t limit;
    std::vector<Piece> in;
    const char* out;
  };
  const Case cases[] = {
      {"short lines pass", 10, {{"Subject: x", true, true}, {"", true, false}, {"body", true, false}},
       "Subject: x\r\n\r\nbody\r\n.\r\n"},
      {"leading dot stuffed", 10, {{".hidden", true, false}, {".", true, false}}, "..hidden\r\n..\r\n.\r\n"},
      {"body broken with CRLF", 4, {{"abcdefghij", true, false}}, "abcd\r\nefgh\r\nij\r\n.\r\n"},
      {"header folded with CRLF SPACE", 4, {{"X: abcdefg", true, true}}, "X: a\r\n bcd\r\n efg\r\n.\r\n"},
      {"a continuation starting with a dot is stuffed", 3, {{"abc.de", true, false}}, "abc\r\n..de\r\n.\r\n"},
      {"exactly the limit makes no empty line", 3, {{"abc", true, false}, {"d", true, false}},
       "abc\r\nd\r\n.\r\n"},
      {"pieces of one line share the limit", 4, {{"ab", false, false}, {"cdef", true, false}},
       "abcd\r\nef\r\n.\r\n"},
      {"a line filled by one piece is broken only when more follows", 2,
       {{"ab", false, false}, {"", true, false}}, "ab\r\n.\r\n"},
      {"zero turns the limit off", 0, {{"abcdefghij", true, true}}, "abcdefghij\r\n.\r\n"},
      {"an unfinished last line is ended", 0, {{"tail", false, false}}, "tail\r\n.\r\n"},
      {"the stuffed dot is not counted", 3, {{".abcd", true, false}}, "..ab\r\ncd\r\n.\r\n"},
  };
  for (const auto& c : cases) {
    TextOut t(c.limit);
    std::string out;
    for (const auto& p : c.in) t.Line(p.text, p.eol, p.header, &out);
    t.Finish(&out);
    EXPECT_EQ(out, c.out) << c.name;
  }
}

}  // namespace
}  // namespace postern::smtp
