// cleanup/header_edit_test.cc — the whole-header stage: each header reaches
// the hook whole (continuations included) however the content is cut, the
// body passes untouched, a header may be rewritten or removed.
#include "postern/cleanup/header_edit.h"

#include <gtest/gtest.h>

#include <vector>

namespace postern::cleanup {
namespace {

TEST(HeaderEditor, WholeHeadersAnyChunking) {
  const std::string in = "A: 1\r\nB: 2\r\n\tcont\r\nDrop: x\r\nC: 3\r\n\r\nA: body\r\nmore";
  for (size_t chunk : {1, 2, 5, 7, 64}) {
    std::vector<std::string> seen;
    HeaderEditor e(
        [&](std::string* h) {
          seen.push_back(*h);
          if (h->starts_with("Drop:")) h->clear();
          if (h->starts_with("C:")) *h = "C: three\r\n";
        },
        100);
    std::string out;
    for (size_t i = 0; i < in.size(); i += chunk) {
      size_t from = out.size();
      out += in.substr(i, chunk);
      e.Apply(&out, from);
    }
    e.Finish(&out);
    EXPECT_EQ(out, "A: 1\r\nB: 2\r\n\tcont\r\nC: three\r\n\r\nA: body\r\nmore") << chunk;
    EXPECT_EQ(seen, (std::vector<std::string>{"A: 1\r\n", "B: 2\r\n\tcont\r\n", "Drop: x\r\n", "C: 3\r\n"}))
        << chunk;
  }
}

TEST(HeaderEditor, BodyWithoutHeadersAndEndWithoutNewline) {
  int calls = 0;
  auto count = [&](std::string*) { ++calls; };
  HeaderEditor body(count, 100);
  std::string out = "no header here\r\nX: y\r\n";
  body.Apply(&out, 0);
  EXPECT_EQ(out, "no header here\r\nX: y\r\n");
  EXPECT_EQ(calls, 0);
  HeaderEditor open(count, 100);
  out = "Subject: unterminated";
  open.Apply(&out, 0);
  EXPECT_EQ(out, "");  // withheld until the end
  open.Finish(&out);
  EXPECT_EQ(out, "Subject: unterminated");
  EXPECT_EQ(calls, 1);
  HeaderEditor longline(count, 10);  // a partial line past the limit is body
  out = std::string(50, 'x');
  longline.Apply(&out, 0);
  EXPECT_EQ(out, std::string(50, 'x'));
}

}  // namespace
}  // namespace postern::cleanup
