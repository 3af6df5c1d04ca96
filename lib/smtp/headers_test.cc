// smtp/headers_test.cc — the streaming header filter: Return-Path removal,
// end-of-headers detection, every chunk split giving the same result.
#include "smtp/headers.h"

#include <gtest/gtest.h>

namespace postern::smtp {
namespace {

// Runs the filter the way smtpd will: append a chunk, filter what was added.
std::string Filter(std::string_view in, size_t chunk, HeaderFilter* f) {
  std::string buf;
  for (size_t i = 0; i < in.size(); i += chunk) {
    size_t from = buf.size();
    buf.append(in.substr(i, chunk));
    f->Apply(&buf, from);
  }
  f->Finish(&buf);
  return buf;
}

TEST(HeaderFilter, Table) {
  struct { const char* name; std::string in, out; unsigned removed; uint64_t header_bytes; } cases[] = {
      {"removes Return-Path", "Return-Path: <evil@x>\r\nSubject: hi\r\n\r\nbody\r\n",
       "Subject: hi\r\n\r\nbody\r\n", 1, 15},
      {"case and blank before colon", "From: a\r\nreturn-path : <e@x>\r\n\r\nb\r\n", "From: a\r\n\r\nb\r\n", 1, 11},
      {"continuation lines go too", "Return-Path: <a@x>\r\n  folded\r\n\tmore\r\nTo: b\r\n\r\n",
       "To: b\r\n\r\n", 1, 9},
      {"continuation of kept header stays", "Subject: a\r\n b\r\nReturn-Path: <x>\r\n\r\n",
       "Subject: a\r\n b\r\n\r\n", 1, 18},
      {"several", "Return-Path: <a>\r\nReturn-Path: <b>\r\nX: y\r\n\r\n", "X: y\r\n\r\n", 2, 8},
      {"only in headers", "X: y\r\n\r\nReturn-Path: <a>\r\n", "X: y\r\n\r\nReturn-Path: <a>\r\n", 0, 8},
      {"body without headers", "Hello there\r\nReturn-Path: <a>\r\n", "Hello there\r\nReturn-Path: <a>\r\n", 0, 0},
      {"similar name kept", "Return-Paths: x\r\nX-Return-Path: y\r\n\r\n",
       "Return-Paths: x\r\nX-Return-Path: y\r\n\r\n", 0, 37},
      {"LF lines", "Return-Path: <a>\nX: y\n\nbody\n", "X: y\n\nbody\n", 1, 6},
      {"no empty line at all", "Return-Path: <a>\r\nX: y\r\n", "X: y\r\n", 1, 6},
      {"partial name at end kept", "X: y\r\nReturn-Pa", "X: y\r\nReturn-Pa", 0, 6},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t(1), size_t(2), size_t(5), size_t(4096)}) {
      HeaderFilter f;
      EXPECT_EQ(Filter(c.in, chunk, &f), c.out) << c.name << " chunk " << chunk;
      EXPECT_EQ(f.removed(), c.removed) << c.name;
      EXPECT_EQ(f.header_bytes(), c.header_bytes) << c.name << " chunk " << chunk;
    }
  }
}

TEST(HeaderFilter, FindsEndOfHeaders) {
  HeaderFilter f;
  std::string buf = "Subject: x\r\n";
  f.Apply(&buf, 0);
  EXPECT_FALSE(f.in_body());
  size_t from = buf.size();
  buf += "\r\nbody";
  f.Apply(&buf, from);
  EXPECT_TRUE(f.in_body());
  EXPECT_EQ(f.header_bytes(), 14u);
  EXPECT_EQ(buf, "Subject: x\r\n\r\nbody");
}

TEST(HeaderFilter, OtherNames) {
  HeaderFilter f({"Bcc", "Return-Path"});
  EXPECT_EQ(Filter("To: a\r\nBcc: secret\r\nReturn-Path: <x>\r\n\r\n", 3, &f), "To: a\r\n\r\n");
  EXPECT_EQ(f.removed(), 2u);
}

}  // namespace
}  // namespace postern::smtp
