// mime/lines_test.cc — line pieces from arbitrary chunks.
#include "postern/mime/lines.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace postern::mime {
namespace {

// "text|" for a piece that ends its line, "text+" for one that does not.
std::string Split(size_t hold, const std::vector<std::string>& chunks) {
  LineSplitter s(hold);
  std::string out;
  auto fn = [&out](std::string_view t, bool eol) {
    out.append(t);
    out.push_back(eol ? '|' : '+');
  };
  for (const auto& c : chunks) s.Feed(c, fn);
  s.Finish(fn);
  return out;
}

TEST(LineSplitter, Pieces) {
  struct Case {
    const char* name;
    size_t hold;
    std::vector<std::string> chunks;
    const char* out;
  };
  const Case cases[] = {
      {"CRLF and bare LF end lines", 16, {"a\r\nb\nc\r\n"}, "a|b|c|"},
      {"short lines across chunks come whole", 16, {"ab", "cd\r", "\nef\r\n"}, "abcd|ef|"},
      {"a CR not before LF is content", 16, {"a\rb\r\n"}, "a\rb|"},
      {"a long line comes in pieces, the first at least hold", 4, {"abcdef", "gh", "ij\r\n"},
       "abcdef+gh+ij|"},
      {"a CR at a chunk end waits for its LF", 2, {"abc\r", "\nd\r\n"}, "abc+|d|"},
      {"an unterminated last line ends at Finish", 16, {"x\r\nlast"}, "x|last|"},
      {"empty lines", 16, {"\r\n\r\n"}, "||"},
      {"no input, no line", 16, {}, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(Split(c.hold, c.chunks), c.out) << c.name;
}

}  // namespace
}  // namespace postern::mime
